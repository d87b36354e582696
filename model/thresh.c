/*
 * Threshold rules.  Both look only at out-of-sample errors of baseline
 * rows (train.c gives every row one by k-fold cross-fitting): training
 * errors are biased low, since the network has fitted those rows.  The
 * note each writes is a sentence for the operator, for example "flagged
 * above 0.0123: a generalised Pareto fit to the 680 largest of 34 000
 * out-of-sample baseline errors puts 1 in 1 000 normal flows above it".
 *
 * quantile: an upper confidence bound on the (1 - rate) quantile.  The
 * plain empirical quantile of n held-out errors is itself an estimate: with
 * n * rate = 2.5 expected exceedances it lands below the true quantile
 * about half the time, and normal traffic then alerts at well over the
 * target rate.  Instead we take the k-th largest error, with k the largest
 * order such that, with probability `confidence' (0.9 by default), it lies
 * at or above the true quantile.  Distribution-free: the share of the
 * error distribution above the k-th largest of n errors is
 * Beta(k, n - k + 1), so P(it is <= rate) = P(Binomial(n, rate) >= k).
 * With confidence 0.5 this is about the plain quantile.  When even the
 * largest error does not qualify (1 - (1 - rate)^n < confidence, for
 * rate 0.001 and confidence 0.9 fewer than 2302 errors) the bound lies
 * beyond the data, and any estimate is a guess; we take the largest error
 * times a margin (1.5 by default) and record that in the note, so a small
 * baseline gives a conservative threshold rather than one that fires on a
 * share of normal traffic.
 *
 * pot (peaks over threshold): the excesses over a high initial quantile u
 * of a continuous distribution are close to a generalised Pareto
 * distribution (Pickands-Balkema-de Haan), which lets the threshold for a
 * small rate be extrapolated beyond the data:
 *
 *	z = u + sigma / xi * ((rate * n / Nt)^-xi - 1)
 *
 * where Nt is the number of peaks.  xi and sigma are the maximum likelihood
 * estimates, found with Grimshaw's reduction to one equation in
 * theta = xi / sigma (as in Siffer et al., "Anomaly detection in streams
 * with extreme value theory", KDD 2017), with the exponential tail
 * (xi = 0) always among the candidates.  When there are too few peaks, the
 * rate is not beyond u, or no fit gives a finite z >= u, the rule falls
 * back to the quantile rule and the note says why.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/model-int.h"

#define POT_MIN_PEAKS 20
#define GRID_POINTS 128
#define BISECT_STEPS 80

/* Grimshaw's function w(theta) = u(theta) v(theta) - 1. */
static double
grimshaw_w(const double *y, size_t n, double theta)
{
	double u = 0.0, v = 0.0, s;
	size_t i;

	for (i = 0; i < n; i++) {
		s = 1.0 + theta * y[i];
		u += 1.0 / s;
		v += log(s);
	}
	u /= (double)n;
	v = 1.0 + v / (double)n;
	return u * v - 1.0;
}

/* GPD log-likelihood, or -inf outside the support. */
static double
gpd_loglik(const double *y, size_t n, double xi, double sigma)
{
	double s = 0.0, t;
	size_t i;

	if (!(sigma > 0.0) || !isfinite(xi))
		return -INFINITY;
	if (fabs(xi) < 1e-12) {
		for (i = 0; i < n; i++)
			s += y[i];
		return -(double)n * log(sigma) - s / sigma;
	}
	for (i = 0; i < n; i++) {
		t = 1.0 + xi * y[i] / sigma;
		if (!(t > 0.0))
			return -INFINITY;
		s += log(t);
	}
	return -(double)n * log(sigma) - (1.0 + 1.0 / xi) * s;
}

/* Keep the candidate from root theta if it beats *best. */
static void
try_theta(const double *y, size_t n, double theta, double *best, double *xi,
    double *sigma)
{
	double v = 0.0, x, s, ll;
	size_t i;

	for (i = 0; i < n; i++)
		v += log(1.0 + theta * y[i]);
	x = v / (double)n;
	s = x / theta;
	ll = gpd_loglik(y, n, x, s);
	if (ll > *best) {
		*best = ll;
		*xi = x;
		*sigma = s;
	}
}

/* Bisect every sign change of w on a grid over [a, b]; log grid if asked. */
static void
scan_roots(const double *y, size_t n, double a, double b, int logscale,
    double *best, double *xi, double *sigma)
{
	double t0, t1, w0, w1, lo, hi, mid, wlo, wm;
	int g, k;

	t0 = a;
	w0 = grimshaw_w(y, n, t0);
	for (g = 1; g <= GRID_POINTS; g++) {
		t1 = logscale ? a * pow(b / a, (double)g / GRID_POINTS)
			      : a + (b - a) * g / GRID_POINTS;
		w1 = grimshaw_w(y, n, t1);
		if (isfinite(w0) && isfinite(w1) && (w0 < 0) != (w1 < 0)) {
			lo = t0;
			hi = t1;
			wlo = w0;
			for (k = 0; k < BISECT_STEPS; k++) {
				mid = 0.5 * (lo + hi);
				wm = grimshaw_w(y, n, mid);
				if ((wm < 0) == (wlo < 0)) {
					lo = mid;
					wlo = wm;
				} else {
					hi = mid;
				}
			}
			try_theta(y, n, 0.5 * (lo + hi), best, xi, sigma);
		}
		t0 = t1;
		w0 = w1;
	}
}

/* Maximum likelihood GPD fit to peaks y[n]; see the top of the file. */
int
model_gpd_fit(const double *y, size_t n, double *xi, double *sigma)
{
	double ymin, ymax, mean = 0.0, best, a, b, c;
	size_t i;

	if (n < 2)
		return -EDOM;
	ymin = ymax = y[0];
	for (i = 0; i < n; i++) {
		if (!(y[i] > 0.0) || !isfinite(y[i]))
			return -EDOM;
		ymin = y[i] < ymin ? y[i] : ymin;
		ymax = y[i] > ymax ? y[i] : ymax;
		mean += y[i];
	}
	mean /= (double)n;
	*xi = 0.0;
	*sigma = mean;
	best = gpd_loglik(y, n, 0.0, mean);
	if (ymax > ymin) {
		/* Negative roots lie in (-1/ymax, 0). */
		a = -1.0 / ymax;
		scan_roots(
		    y, n, a * (1.0 - 1e-9), a * 1e-6, 0, &best, xi, sigma);
		/*
		 * Positive roots lie below 2 (mean - ymin) / ymin^2; the
		 * lower bound some use, 2 (mean - ymin) / (mean ymin), misses
		 * the root whenever ymin is tiny, so scan from near 0 on a
		 * log grid instead.
		 */
		c = 2.0 * (mean - ymin) / (ymin * ymin);
		b = 1e-6 / ymax;
		if (c > b && isfinite(c))
			scan_roots(y, n, b, c, 1, &best, xi, sigma);
	}
	return isfinite(best) ? 0 : -EDOM;
}

/*
 * The largest k in 1..n with P(Binomial(n, rate) >= k) >= conf, or 0 when
 * there is none.  The pmf is summed in log space, so a large n * rate does
 * not underflow the first terms into a wrong sum.
 */
size_t
model_thresh_order(size_t n, double rate, double conf)
{
	double lf, cdf = 0.0, lr = log(rate), lq = log1p(-rate);
	size_t j;

	lf = lgamma((double)n + 1.0);
	for (j = 0; j < n; j++) {
		cdf += exp(lf - lgamma((double)j + 1.0) -
		    lgamma((double)(n - j) + 1.0) + (double)j * lr +
		    (double)(n - j) * lq);
		/* P(X >= j + 1) = 1 - cdf */
		if (1.0 - cdf < conf)
			return j;
	}
	return n;
}

/* v with a space between thousands ("34 000"), into buf[16 at least]. */
static const char *
group3(uint64_t v, char *buf, size_t sz)
{
	char tmp[32];
	size_t len, i, o = 0;

	len = (size_t)snprintf(tmp, sizeof(tmp), "%llu", (unsigned long long)v);
	for (i = 0; i < len && o + 2 < sz; i++) {
		if (i > 0 && (len - i) % 3 == 0)
			buf[o++] = ' ';
		buf[o++] = tmp[i];
	}
	buf[o] = '\0';
	return buf;
}

/* "1 000" for a rate of 0.001: one in how many. */
static const char *
one_in(double rate, char *buf, size_t sz)
{
	return group3((uint64_t)(1.0 / rate + 0.5), buf, sz);
}

static const char *
ordinal(size_t k)
{
	if (k % 10 == 1 && k % 100 != 11)
		return "st";
	if (k % 10 == 2 && k % 100 != 12)
		return "nd";
	if (k % 10 == 3 && k % 100 != 13)
		return "rd";
	return "th";
}

static int
cmp_desc(const void *a, const void *b)
{
	float x = *(const float *)a, y = *(const float *)b;

	return (x < y) - (x > y);
}

/* The quantile rule; see the top of the file. */
static float
quantile_threshold(const struct model_thresh *t, float *err, size_t n,
    char *note, size_t notesz)
{
	char sn[32], sr[32];
	float mx;
	size_t i, k;

	group3(n, sn, sizeof(sn));
	one_in(t->rate, sr, sizeof(sr));
	k = n > 0 ? model_thresh_order(n, t->rate, t->confidence) : 0;
	if (k > 0) {
		qsort(err, n, sizeof(*err), cmp_desc);
		snprintf(note, notesz,
		    "flagged above %.4g: the %zu%s largest of %s out-of-sample "
		    "baseline errors, at or above the quantile that leaves 1 "
		    "in %s normal flows above it with %g %% confidence",
		    (double)err[k - 1], k, ordinal(k), sn, sr,
		    100.0 * t->confidence);
		return err[k - 1];
	}
	mx = 0.0f;
	for (i = 0; i < n; i++)
		mx = err[i] > mx ? err[i] : mx;
	snprintf(note, notesz,
	    "flagged above %.4g: %s out-of-sample baseline errors are too few "
	    "to place 1 in %s normal flows, so the largest (%.4g) times %g",
	    (double)mx * t->margin, sn, sr, (double)mx, t->margin);
	return (float)((double)mx * t->margin);
}

/* The POT rule; returns -EDOM with the reason in note when it cannot. */
static int
pot_threshold(const struct model_thresh *t, float *err, size_t n, float *thr,
    char *note, size_t notesz)
{
	double *y, xi, sigma, r, z;
	char sn[32], sr[32], sp[32];
	size_t i, np = 0;
	float u;

	if (t->rate >= 1.0 - t->pot_quantile) {
		snprintf(note, notesz,
		    "the target rate %g is not beyond the %g quantile a "
		    "Pareto tail starts at",
		    t->rate, t->pot_quantile);
		return -EDOM;
	}
	u = model_quantile(err, n, t->pot_quantile);
	for (i = 0; i < n; i++)
		np += err[i] > u;
	if (np < POT_MIN_PEAKS) {
		snprintf(note, notesz,
		    "%zu errors above the %g quantile are too few for a "
		    "Pareto fit (need %d)",
		    np, t->pot_quantile, POT_MIN_PEAKS);
		return -EDOM;
	}
	if ((y = malloc(np * sizeof(*y))) == NULL) {
		snprintf(note, notesz, "no memory for a Pareto fit");
		return -EDOM;
	}
	for (i = 0, np = 0; i < n; i++)
		if (err[i] > u)
			y[np++] = (double)err[i] - u;
	if (model_gpd_fit(y, np, &xi, &sigma) != 0) {
		free(y);
		snprintf(note, notesz,
		    "no Pareto fit to the %zu largest errors", np);
		return -EDOM;
	}
	free(y);
	r = t->rate * (double)n / (double)np;
	if (fabs(xi) < 1e-9)
		z = u - sigma * log(r);
	else
		z = u + sigma / xi * (pow(r, -xi) - 1.0);
	if (!isfinite(z) || z < u || z > 3.0e38) {
		snprintf(note, notesz,
		    "the Pareto fit (shape %.3g, scale %.4g) gives no usable "
		    "threshold",
		    xi, sigma);
		return -EDOM;
	}
	snprintf(note, notesz,
	    "flagged above %.4g: a generalised Pareto fit (shape %.2f) to the "
	    "%s largest of %s out-of-sample baseline errors puts 1 in %s "
	    "normal flows above it",
	    z, xi, group3(np, sp, sizeof(sp)), group3(n, sn, sizeof(sn)),
	    one_in(t->rate, sr, sizeof(sr)));
	*thr = (float)z;
	return 0;
}

/* Pick the threshold by the configured rule; see the top of the file. */
float
model_thresh_fit(const struct model_thresh *t, float *err, size_t n, char *note,
    size_t notesz)
{
	float thr;
	size_t len;

	note[0] = '\0';
	if (t->rule == MODEL_RULE_POT) {
		if (pot_threshold(t, err, n, &thr, note, notesz) == 0)
			return thr;
		len = strlen(note);
		if (len + 2 < notesz) {
			memcpy(note + len, "; ", 3);
			len += 2;
		}
		return quantile_threshold(t, err, n, note + len, notesz - len);
	}
	return quantile_threshold(t, err, n, note, notesz);
}
