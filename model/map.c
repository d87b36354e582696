/*
 * The baseline's picture, kept with the model so that a report made later
 * (anomd -m ... --report) can draw the baseline beside new traffic.
 *
 * Errors: a histogram of the out-of-sample total errors (the ones the
 * threshold came from) on a log scale, and their median, 99th percentile
 * and maximum.
 *
 * Maps: principal component analysis of the baseline rows, twice: of the
 * bottleneck codes (the latent map) and of the normalised features (the
 * input map).  Each keeps the mean and the first two principal axes, found
 * by power iteration on the covariance in double precision from a fixed
 * start, with the sign fixed so the largest component of an axis is
 * positive: the same rows give the same axes.  The region each map
 * outlines is the convex hull of the 99 % of the rows nearest the centre
 * (in standard deviations along the axes), thinned to MODEL_HULL_MAX
 * corners.  At most MAP_FIT_ROWS rows, taken at an even stride, are used.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/model-int.h"

#define MAP_FIT_ROWS 20000
#define MAP_POWER_ITERS 300
#define MAP_HULL_SHARE 0.99

/* The narrowest hidden layer (the first of equals). */
size_t
model_map_layer(const struct net *n)
{
	size_t l, best = 1;

	for (l = 2; l < n->nlayers; l++)
		if (n->width[l] < n->width[best])
			best = l;
	return best;
}

/* Allocate the map arrays; see model-int.h. */
int
model_map_alloc(struct model *m)
{
	struct model_mapdata *md = &m->map;

	model_map_release(md);
	md->layer = model_map_layer(&m->net);
	md->kdim = m->net.width[md->layer];
	md->lat_mean = calloc(md->kdim, sizeof(float));
	md->lat_axis = calloc(2 * md->kdim, sizeof(float));
	md->in_mean = calloc(m->dim, sizeof(float));
	md->in_axis = calloc(2 * m->dim, sizeof(float));
	if (md->lat_mean == NULL || md->lat_axis == NULL ||
	    md->in_mean == NULL || md->in_axis == NULL) {
		model_map_release(md);
		return -ENOMEM;
	}
	return 0;
}

/* Free the map arrays and forget the maps. */
void
model_map_release(struct model_mapdata *md)
{
	free(md->lat_mean);
	free(md->lat_axis);
	free(md->in_mean);
	free(md->in_axis);
	memset(md, 0, sizeof(*md));
}

/* The bin of an error; see model.h. */
size_t
model_hist_bin(double err)
{
	double b;

	if (!(err > MODEL_HIST_LO))
		return 0;
	b = floor(log10(err / MODEL_HIST_LO) * MODEL_HIST_PER_DECADE);
	if (b >= MODEL_HIST_BINS - 1)
		return MODEL_HIST_BINS - 1;
	return (size_t)b;
}

/* The lower edge of bin i. */
double
model_hist_edge(size_t i)
{
	return MODEL_HIST_LO * pow(10.0, (double)i / MODEL_HIST_PER_DECADE);
}

/* Histogram and quantiles of the out-of-sample total errors. */
static int
fit_errors(struct model_baseline *b, const struct model_split *oos, size_t n)
{
	float *v;
	size_t i;

	if (n == 0)
		return 0;
	if ((v = malloc(n * sizeof(*v))) == NULL)
		return -ENOMEM;
	b->err_max = 0.0f;
	for (i = 0; i < n; i++) {
		v[i] = oos[i].total;
		b->hist[model_hist_bin(v[i])]++;
		if (v[i] > b->err_max)
			b->err_max = v[i];
	}
	b->nerr = n;
	b->err_p50 = model_quantile(v, n, 0.5);
	b->err_p99 = model_quantile(v, n, 0.99);
	free(v);
	return 0;
}

/* The dominant eigenvector of the symmetric c[k][k] into v[k]. */
static double
power_iter(const double *c, size_t k, double *v, double *w)
{
	double norm = 0.0, lambda = 0.0;
	size_t it, i, j;

	for (i = 0; i < k; i++)
		v[i] = 1.0 + (double)i / (double)k;
	for (it = 0; it < MAP_POWER_ITERS; it++) {
		for (i = 0; i < k; i++) {
			w[i] = 0.0;
			for (j = 0; j < k; j++)
				w[i] += c[i * k + j] * v[j];
		}
		norm = 0.0;
		for (i = 0; i < k; i++)
			norm += w[i] * w[i];
		norm = sqrt(norm);
		if (!(norm > 0.0))
			return 0.0;
		for (i = 0; i < k; i++)
			v[i] = w[i] / norm;
	}
	lambda = norm;
	return lambda;
}

/* Flip v[k] so its largest component is positive. */
static void
fix_sign(double *v, size_t k)
{
	size_t i, big = 0;

	for (i = 1; i < k; i++)
		if (fabs(v[i]) > fabs(v[big]))
			big = i;
	if (v[big] < 0.0)
		for (i = 0; i < k; i++)
			v[i] = -v[i];
}

/*
 * PCA of rows p[n * k]: mean[k], two axes axis[2][k] and the share of the
 * variance they keep.  Returns 0 or -ENOMEM.
 */
static int
pca2(const float *p, size_t n, size_t k, float *mean, float *axis, float *share)
{
	double *c, *mu, *v, *w, trace = 0.0, l1, l2;
	size_t i, a, b;

	c = calloc(k * k, sizeof(*c));
	mu = calloc(k, sizeof(*mu));
	v = calloc(k, sizeof(*v));
	w = calloc(k, sizeof(*w));
	if (c == NULL || mu == NULL || v == NULL || w == NULL) {
		free(c), free(mu), free(v), free(w);
		return -ENOMEM;
	}
	for (i = 0; i < n; i++)
		for (a = 0; a < k; a++)
			mu[a] += p[i * k + a];
	for (a = 0; a < k; a++)
		mu[a] /= (double)n;
	for (i = 0; i < n; i++)
		for (a = 0; a < k; a++)
			for (b = 0; b <= a; b++)
				c[a * k + b] += (p[i * k + a] - mu[a]) *
				    (p[i * k + b] - mu[b]);
	for (a = 0; a < k; a++) {
		for (b = 0; b <= a; b++) {
			c[a * k + b] /= (double)n;
			c[b * k + a] = c[a * k + b];
		}
		trace += c[a * k + a];
		mean[a] = (float)mu[a];
	}
	l1 = power_iter(c, k, v, w);
	fix_sign(v, k);
	for (a = 0; a < k; a++) {
		axis[a] = (float)v[a];
		for (b = 0; b < k; b++) /* deflate */
			c[a * k + b] -= l1 * v[a] * (double)axis[b];
	}
	l2 = power_iter(c, k, v, w);
	fix_sign(v, k);
	for (a = 0; a < k; a++)
		axis[k + a] = (float)v[a];
	/*
	 * Two power iterations can overshoot the trace by rounding when the
	 * rows span two dimensions or fewer: a share is at most 1.
	 */
	*share = trace > 0.0 ? (float)((l1 + l2) / trace) : 0.0f;
	if (!(*share <= 1.0f))
		*share = *share > 1.0f ? 1.0f : 0.0f;
	free(c), free(mu), free(v), free(w);
	return 0;
}

struct pt {
	float x, y, r;
};

static int
pt_cmp_r(const void *a, const void *b)
{
	const struct pt *p = a, *q = b;

	if (p->r != q->r)
		return p->r < q->r ? -1 : 1;
	if (p->x != q->x)
		return p->x < q->x ? -1 : 1;
	return (p->y > q->y) - (p->y < q->y);
}

static int
pt_cmp_xy(const void *a, const void *b)
{
	const struct pt *p = a, *q = b;

	if (p->x != q->x)
		return p->x < q->x ? -1 : 1;
	return (p->y > q->y) - (p->y < q->y);
}

static double
cross(const struct pt *o, const struct pt *a, const struct pt *b)
{
	return ((double)a->x - o->x) * ((double)b->y - o->y) -
	    ((double)a->y - o->y) * ((double)b->x - o->x);
}

/*
 * Outline the 99 % of pts[n] nearest the centre (distance in standard
 * deviations of each coordinate): Andrew's monotone chain, then every
 * h / MODEL_HULL_MAX-th corner.  Reorders pts; hull[] gets *nh corners.
 */
static int
outline(struct pt *pts, size_t n, float hull[][2], size_t *nh)
{
	struct pt *h;
	double sx = 0.0, sy = 0.0;
	size_t i, k = 0, lo, keep;

	*nh = 0;
	if (n < 3)
		return 0;
	for (i = 0; i < n; i++) {
		sx += (double)pts[i].x * pts[i].x;
		sy += (double)pts[i].y * pts[i].y;
	}
	sx = sqrt(sx / (double)n) + 1e-12;
	sy = sqrt(sy / (double)n) + 1e-12;
	for (i = 0; i < n; i++)
		pts[i].r = (float)(pts[i].x * pts[i].x / (sx * sx) +
		    pts[i].y * pts[i].y / (sy * sy));
	qsort(pts, n, sizeof(*pts), pt_cmp_r);
	keep = (size_t)ceil((double)n * MAP_HULL_SHARE);
	qsort(pts, keep, sizeof(*pts), pt_cmp_xy);
	if ((h = calloc(2 * keep + 1, sizeof(*h))) == NULL)
		return -ENOMEM;
	for (i = 0; i < keep; i++) {
		while (k >= 2 && cross(&h[k - 2], &h[k - 1], &pts[i]) <= 0)
			k--;
		h[k++] = pts[i];
	}
	for (i = keep - 1, lo = k + 1; i-- > 0;) {
		while (k >= lo && cross(&h[k - 2], &h[k - 1], &pts[i]) <= 0)
			k--;
		h[k++] = pts[i];
	}
	if (k > 1)
		k--; /* the last repeats the first */
	for (i = 0; i < MODEL_HULL_MAX && i < k; i++) {
		lo = k <= MODEL_HULL_MAX ? i : i * k / MODEL_HULL_MAX;
		hull[i][0] = h[lo].x;
		hull[i][1] = h[lo].y;
	}
	*nh = i;
	free(h);
	return 0;
}

/* Project rows p[n * k] onto mean/axis into pts[n]. */
static void
project_all(const float *p, size_t n, size_t k, const float *mean,
    const float *axis, struct pt *pts)
{
	double a, b, d;
	size_t i, j;

	for (i = 0; i < n; i++) {
		a = b = 0.0;
		for (j = 0; j < k; j++) {
			d = (double)p[i * k + j] - (double)mean[j];
			a += d * (double)axis[j];
			b += d * (double)axis[k + j];
		}
		pts[i].x = (float)a;
		pts[i].y = (float)b;
	}
}

/* Fit one map to rows p[n * k]; the outline goes to hull/nh. */
static int
fit_map(const float *p, size_t n, size_t k, float *mean, float *axis,
    float *share, float hull[][2], size_t *nh)
{
	struct pt *pts;
	int error;

	if ((error = pca2(p, n, k, mean, axis, share)) != 0)
		return error;
	if ((pts = calloc(n, sizeof(*pts))) == NULL)
		return -ENOMEM;
	project_all(p, n, k, mean, axis, pts);
	error = outline(pts, n, hull, nh);
	free(pts);
	return error;
}

/* Whether every number of the picture is finite, as the loader demands. */
static int
map_finite(const struct model_mapdata *md, size_t dim)
{
	const struct model_baseline *b = &md->pub;
	size_t i;

	for (i = 0; i < md->kdim; i++)
		if (!isfinite(md->lat_mean[i]) || !isfinite(md->lat_axis[i]) ||
		    !isfinite(md->lat_axis[md->kdim + i]))
			return 0;
	for (i = 0; i < dim; i++)
		if (!isfinite(md->in_mean[i]) || !isfinite(md->in_axis[i]) ||
		    !isfinite(md->in_axis[dim + i]))
			return 0;
	for (i = 0; i < b->nhull_latent; i++)
		if (!isfinite(b->hull_latent[i][0]) ||
		    !isfinite(b->hull_latent[i][1]))
			return 0;
	for (i = 0; i < b->nhull_input; i++)
		if (!isfinite(b->hull_input[i][0]) ||
		    !isfinite(b->hull_input[i][1]))
			return 0;
	return isfinite(b->err_p50) && isfinite(b->err_p99) &&
	    isfinite(b->err_max);
}

/* Fit the maps and count the errors; see model-int.h. */
int
model_map_fit(struct model *m, const float *x, size_t n,
    const struct model_split *oos, size_t noos)
{
	struct model_mapdata *md = &m->map;
	struct model_baseline *b = &md->pub;
	size_t s = n < MAP_FIT_ROWS ? n : MAP_FIT_ROWS, i, dim = m->dim;
	float *rows = NULL, *z = NULL, *code = NULL;
	int error;

	if ((error = model_map_alloc(m)) != 0)
		return error;
	if ((error = fit_errors(b, oos, noos)) != 0)
		goto out;
	error = -ENOMEM;
	rows = malloc(s * dim * sizeof(*rows));
	z = malloc(s * dim * sizeof(*z));
	code = malloc(s * md->kdim * sizeof(*code));
	if (rows == NULL || z == NULL || code == NULL || s == 0)
		goto out;
	for (i = 0; i < s; i++)
		memcpy(
		    rows + i * dim, x + (i * n / s) * dim, dim * sizeof(*rows));
	model_latent_batch(m, rows, s, code);
	model_norm_apply(&m->norm, rows, s, z);
	if ((error = fit_map(code, s, md->kdim, md->lat_mean, md->lat_axis,
		 &b->var_latent, b->hull_latent, &b->nhull_latent)) != 0 ||
	    (error = fit_map(z, s, dim, md->in_mean, md->in_axis, &b->var_input,
		 b->hull_input, &b->nhull_input)) != 0)
		goto out;
	/* What the loader refuses is never written: no picture instead. */
	error = -EDOM;
	if (!map_finite(md, dim))
		goto out;
	error = 0;
	md->have = 1;
	b->known = 1;
out:
	free(rows);
	free(z);
	free(code);
	if (error != 0)
		model_map_release(md);
	return error;
}
