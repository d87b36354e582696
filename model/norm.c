/*
 * Normalisation learnt from the baseline.
 *
 * Each feature is first transformed (as is, or log1p for heavy-tailed
 * counts and byte totals), then standardised with the baseline mean and
 * standard deviation of the transformed value and clipped to +-clip, so
 * one absurd value cannot dominate the squared error without bound.  The
 * log is a Cephes-style polynomial of our own rather than libm's: it
 * vectorises, and it gives the same bits on every machine, which keeps
 * saved models scoring identically wherever they are loaded.
 *
 * The raw baseline median and 99th percentile are kept per feature so
 * that an explanation can say "seen 9000, usually 40, rarely above 800".
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/model-int.h"

/* Allocate the per-feature arrays of nm. */
int
model_norm_init(struct model_norm *nm, size_t dim, float clip)
{
	memset(nm, 0, sizeof(*nm));
	nm->dim = dim;
	nm->clip = clip;
	nm->xform = calloc(dim, sizeof(*nm->xform));
	nm->is_log = calloc(dim, sizeof(*nm->is_log));
	nm->mean = calloc(dim, sizeof(*nm->mean));
	nm->std = calloc(dim, sizeof(*nm->std));
	nm->inv_std = calloc(dim, sizeof(*nm->inv_std));
	nm->p50 = calloc(dim, sizeof(*nm->p50));
	nm->p99 = calloc(dim, sizeof(*nm->p99));
	if (nm->xform == NULL || nm->is_log == NULL || nm->mean == NULL ||
	    nm->std == NULL || nm->inv_std == NULL || nm->p50 == NULL ||
	    nm->p99 == NULL) {
		model_norm_release(nm);
		return -ENOMEM;
	}
	return 0;
}

/* Free the arrays of nm. */
void
model_norm_release(struct model_norm *nm)
{
	free(nm->xform);
	free(nm->is_log);
	free(nm->mean);
	free(nm->std);
	free(nm->inv_std);
	free(nm->p50);
	free(nm->p99);
	memset(nm, 0, sizeof(*nm));
}

/* Recompute the derived arrays; train and load both end here. */
void
model_norm_derive(struct model_norm *nm)
{
	size_t j;

	for (j = 0; j < nm->dim; j++) {
		nm->is_log[j] = nm->xform[j] == MODEL_XFORM_LOG1P ? -1 : 0;
		nm->inv_std[j] = 1.0f / nm->std[j];
	}
}

/* Natural log for x >= 1; inlined so the row loops vectorise. */
static inline float
logf_fast(float x)
{
	union {
		float f;
		uint32_t u;
	} v;
	float m, e, z, y, lt;

	v.f = x;
	/* x = m * 2^e with m in [0.5, 1). */
	e = (float)((int32_t)(v.u >> 23) - 126);
	v.u = (v.u & 0x007fffffU) | 0x3f000000U;
	m = v.f;
	/* Move m to [sqrt(0.5), sqrt(2)) so the polynomial stays accurate. */
	lt = m < 0.70710678f ? 1.0f : 0.0f;
	e = e - lt;
	m = m + m * lt - 1.0f;
	z = m * m;
	y = 7.0376836292e-2f;
	y = y * m - 1.1514610310e-1f;
	y = y * m + 1.1676998740e-1f;
	y = y * m - 1.2420140846e-1f;
	y = y * m + 1.4249322787e-1f;
	y = y * m - 1.6668057665e-1f;
	y = y * m + 2.0000714765e-1f;
	y = y * m - 2.4999993993e-1f;
	y = y * m + 3.3333331174e-1f;
	y = y * m * z;
	y = y + -2.12194440e-4f * e;
	y = y - 0.5f * z;
	return m + y + 0.693359375f * e;
}

/* Exported for tests. */
float
model_logf(float x)
{
	return logf_fast(x);
}

/* The transformed value of one raw input, as model_norm_apply does it. */
static inline float
xform_value(float v, int32_t is_log)
{
	float c, l;

	c = v > 0.0f ? v : 0.0f;
	l = logf_fast(1.0f + c);
	return is_log ? l : v;
}

static inline void
swapf(float *a, float *b)
{
	float t = *a;

	*a = *b;
	*b = t;
}

/* Put the k-th smallest of v[n] at v[k], smaller before, larger after. */
static void
select_nth(float *v, size_t n, size_t k)
{
	ptrdiff_t lo = 0, hi = (ptrdiff_t)n - 1, i, j, mid;
	float pivot;

	while (hi > lo) {
		mid = lo + (hi - lo) / 2;
		if (v[mid] < v[lo])
			swapf(&v[mid], &v[lo]);
		if (v[hi] < v[lo])
			swapf(&v[hi], &v[lo]);
		if (v[hi] < v[mid])
			swapf(&v[hi], &v[mid]);
		pivot = v[mid];
		i = lo;
		j = hi;
		while (i <= j) {
			while (v[i] < pivot)
				i++;
			while (v[j] > pivot)
				j--;
			if (i <= j)
				swapf(&v[i++], &v[j--]);
		}
		if ((ptrdiff_t)k <= j)
			hi = j;
		else if ((ptrdiff_t)k >= i)
			lo = i;
		else
			return;
	}
}

/* Quantile with linear interpolation between order statistics. */
float
model_quantile(float *v, size_t n, double q)
{
	double h;
	size_t lo, i;
	float a, b;

	if (n == 0)
		return 0.0f;
	h = q * (double)(n - 1);
	lo = (size_t)h;
	if (lo >= n - 1)
		lo = n - 1;
	select_nth(v, n, lo);
	a = v[lo];
	if (lo + 1 >= n)
		return a;
	b = v[lo + 1];
	for (i = lo + 2; i < n; i++)
		b = v[i] < b ? v[i] : b;
	return (float)((double)a + (h - (double)lo) * ((double)b - a));
}

/* Learn one feature's statistics from the gathered raw values s[n]. */
static void
fit_feature(struct model_norm *nm, size_t j, float *s, size_t n)
{
	int32_t lg = nm->xform[j] == MODEL_XFORM_LOG1P ? -1 : 0;
	double sum = 0.0, sq = 0.0, mean, var, d;
	size_t i;
	float sd;

	for (i = 0; i < n; i++)
		sum += xform_value(s[i], lg);
	mean = sum / (double)n;
	for (i = 0; i < n; i++) {
		d = xform_value(s[i], lg) - mean;
		sq += d * d;
	}
	var = sq / (double)n;
	sd = (float)sqrt(var);
	nm->mean[j] = (float)mean;
	nm->std[j] = sd > MODEL_STD_FLOOR ? sd : MODEL_STD_FLOOR;
	/* Order statistics last: model_quantile reorders s. */
	nm->p50[j] = model_quantile(s, n, 0.50);
	nm->p99[j] = model_quantile(s, n, 0.99);
}

/*
 * Learn the statistics of features [j0, j1) from the chosen rows; the
 * caller runs model_norm_derive() once every feature is fitted.
 */
void
model_norm_fit(struct model_norm *nm, const float *x, const uint32_t *idx,
    size_t n, float *scratch, size_t j0, size_t j1)
{
	size_t i, j, dim = nm->dim;

	for (j = j0; j < j1; j++) {
		for (i = 0; i < n; i++)
			scratch[i] = x[(size_t)idx[i] * dim + j];
		fit_feature(nm, j, scratch, n);
	}
}

/*
 * Normalise rows; NaN ends at -clip and infinities at +-clip.  Built for
 * AVX2 too: the same operations in the same order, eight lanes at once.
 */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((target_clones("avx2", "default")))
#endif
void
model_norm_apply(
    const struct model_norm *nm, const float *x, size_t n, float *z)
{
	const int32_t *restrict lg = nm->is_log;
	const float *restrict mean = nm->mean, *restrict inv = nm->inv_std;
	const float *restrict xr;
	float *restrict zr;
	float c = nm->clip, t;
	size_t i, j, dim = nm->dim;

	for (i = 0; i < n; i++) {
		xr = x + i * dim;
		zr = z + i * dim;
		for (j = 0; j < dim; j++) {
			t = (xform_value(xr[j], lg[j]) - mean[j]) * inv[j];
			t = t > -c ? t : -c;
			zr[j] = t < c ? t : c;
		}
	}
}
