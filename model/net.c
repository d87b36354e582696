/*
 * The autoencoder network: dense layers dim -> h1 -> ... -> hk -> dim, the
 * hidden ones with an activation, the last one linear.
 *
 * Rows go through the layers in blocks: a block of r rows is an r x in
 * matrix A, and a layer computes A W + b with W stored in x out, row-major.
 * model_gemm_isa() (gemm.c) sums every element's products in order,
 * whatever the block or vector width, so model_score() and
 * model_score_batch() agree to the bit, and so do the instruction sets.
 *
 * Training minimises the mean squared error between output and input with
 * Adam.  Backpropagation reuses the same kernel: the weight gradient is
 * A^T D (A read down its columns) and the input gradient is D W^T (W
 * transposed once per step), where D is the gradient at a layer's output.
 * The activation derivatives are written in terms of the activation's
 * output, so only the outputs are kept.  exp() is our own polynomial for
 * the same reason as the log in norm.c: vectorised and identical everywhere.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/model-int.h"

/*
 * The element-wise loops (activations, Adam, transposes) are built for
 * AVX-512 and AVX2 as well and the widest the CPU runs is picked at load
 * time.  They compute each element alone, with no sum to reorder, and no
 * multiply is fused (-ffp-contract=off), so every build gives the same
 * bits.
 */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define NET_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define NET_CLONES
#endif

#define ADAM_BETA1 0.9f
#define ADAM_BETA2 0.999f
#define ADAM_EPS 1e-8f
#define BLOCK_MAX_ROWS 64

struct net_train {
	size_t maxrows;
	float *act[NET_MAX_LAYERS + 1]; /* act[l] rows x width[l], l >= 1 */
	float *delta[2]; /* gradient at a layer's output */
	float *wt; /* transposed weights */
	float *grad;
	float *m;
	float *v;
	float b1t, b2t; /* beta1^t and beta2^t */
};

/* Lay out the parameters of dim -> hidden... -> dim. */
int
model_net_init(struct net *n, size_t dim, const uint32_t *hidden,
    size_t nhidden, enum model_act act)
{
	size_t l, off = 0;

	memset(n, 0, sizeof(*n));
	if (nhidden == 0 || nhidden > MODEL_MAX_HIDDEN)
		return -EINVAL;
	n->nlayers = nhidden + 1;
	n->act = act;
	n->width[0] = dim;
	for (l = 0; l < nhidden; l++)
		n->width[l + 1] = hidden[l];
	n->width[n->nlayers] = dim;
	for (l = 0; l < n->nlayers; l++) {
		n->woff[l] = off;
		off += n->width[l] * n->width[l + 1];
		n->boff[l] = off;
		off += n->width[l + 1];
	}
	for (l = 0; l <= n->nlayers; l++)
		if (n->width[l] > n->maxwidth)
			n->maxwidth = n->width[l];
	n->nparams = off;
	n->isa = model_isa_best();
	n->params = calloc(off, sizeof(*n->params));
	return n->params == NULL ? -ENOMEM : 0;
}

/* Free the parameters of n. */
void
model_net_release(struct net *n)
{
	free(n->params);
	memset(n, 0, sizeof(*n));
}

/*
 * Uniform init: Glorot bounds for tanh, He bounds for the ReLU family,
 * whose units are off half the time.  Biases start at zero.
 */
void
model_net_randomize(struct net *n, uint64_t seed)
{
	struct model_rng r;
	size_t l, i, cnt;
	float a, *w;
	double fin, fout;

	model_rng_seed(&r, seed);
	memset(n->params, 0, n->nparams * sizeof(*n->params));
	for (l = 0; l < n->nlayers; l++) {
		fin = (double)n->width[l];
		fout = (double)n->width[l + 1];
		if (n->act == MODEL_ACT_TANH || l == n->nlayers - 1)
			a = (float)sqrt(6.0 / (fin + fout));
		else
			a = (float)sqrt(6.0 / fin);
		w = n->params + n->woff[l];
		cnt = n->width[l] * n->width[l + 1];
		for (i = 0; i < cnt; i++)
			w[i] = (2.0f * model_rng_float(&r) - 1.0f) * a;
	}
}

/* How many rows fit a block of NET_SCRATCH_FLOATS per buffer. */
size_t
model_net_block_rows(const struct net *n)
{
	size_t r = NET_SCRATCH_FLOATS / n->maxwidth;

	if (r > BLOCK_MAX_ROWS)
		r = BLOCK_MAX_ROWS;
	return r > 0 ? r : 1;
}

/* exp(x), clamped to the float range; NaN gives exp(-87). */
static inline float
expf_fast(float x)
{
	union {
		float f;
		uint32_t u;
	} p;
	float fx, z, y;
	int32_t e;

	x = x < 88.0f ? x : 88.0f;
	x = x > -87.0f ? x : -87.0f;
	/* Round x / ln 2 to nearest by the 1.5 * 2^23 trick. */
	fx = x * 1.44269504088896341f + 12582912.0f;
	fx = fx - 12582912.0f;
	x = x - fx * 0.693359375f;
	x = x - fx * -2.12194440e-4f;
	z = x * x;
	y = 1.9875691500e-4f;
	y = y * x + 1.3981999507e-3f;
	y = y * x + 8.3334519073e-3f;
	y = y * x + 4.1665795894e-2f;
	y = y * x + 1.6666665459e-1f;
	y = y * x + 5.0000001201e-1f;
	y = y * z + x + 1.0f;
	e = (int32_t)fx;
	p.u = (uint32_t)(e + 127) << 23;
	return y * p.f;
}

/* Apply the hidden activation to y[cnt] in place. */
static NET_CLONES void
activate(enum model_act act, float *restrict y, size_t cnt)
{
	size_t i;
	float v, e;

	switch (act) {
	case MODEL_ACT_RELU:
		for (i = 0; i < cnt; i++)
			y[i] = y[i] > 0.0f ? y[i] : 0.0f;
		break;
	case MODEL_ACT_TANH:
		for (i = 0; i < cnt; i++) {
			/* tanh(9) is 1 in float; this keeps exp finite. */
			v = y[i] < 9.0f ? y[i] : 9.0f;
			v = v > -9.0f ? v : -9.0f;
			e = expf_fast(2.0f * v);
			y[i] = 1.0f - 2.0f / (e + 1.0f);
		}
		break;
	case MODEL_ACT_ELU:
		for (i = 0; i < cnt; i++) {
			e = expf_fast(y[i]) - 1.0f;
			y[i] = y[i] > 0.0f ? y[i] : e;
		}
		break;
	}
}

/* Multiply d[cnt] by the activation's derivative, given its output y. */
static NET_CLONES void
activate_back(
    enum model_act act, const float *restrict y, float *restrict d, size_t cnt)
{
	size_t i;

	switch (act) {
	case MODEL_ACT_RELU:
		for (i = 0; i < cnt; i++)
			d[i] = y[i] > 0.0f ? d[i] : 0.0f;
		break;
	case MODEL_ACT_TANH:
		for (i = 0; i < cnt; i++)
			d[i] = d[i] * (1.0f - y[i] * y[i]);
		break;
	case MODEL_ACT_ELU:
		for (i = 0; i < cnt; i++)
			d[i] = y[i] > 0.0f ? d[i] : d[i] * (y[i] + 1.0f);
		break;
	}
}

/* out[rows x width[l+1]] = act(in W_l + b_l). */
static void
layer_forward(
    const struct net *n, size_t l, const float *in, size_t rows, float *out)
{
	size_t i, fin = n->width[l], fout = n->width[l + 1];
	const float *b = n->params + n->boff[l];

	for (i = 0; i < rows; i++)
		memcpy(out + i * fout, b, fout * sizeof(*out));
	model_gemm_isa(n->isa, rows, fout, fin, in, fin, n->params + n->woff[l],
	    fout, out, fout);
	if (l + 1 < n->nlayers)
		activate(n->act, out, rows * fout);
}

/*
 * Mean of d[dim] with eight running sums combined in a fixed tree, so the
 * row loop vectorises without reordering anything between builds.
 */
static float
row_mean(const float *restrict d, size_t dim)
{
	float acc[8] = {0}, s;
	size_t j = 0, q;

	for (; j + 8 <= dim; j += 8)
#pragma GCC unroll 8
		for (q = 0; q < 8; q++)
			acc[q] += d[j + q];
	for (; j < dim; j++)
		acc[0] += d[j];
	s = ((acc[0] + acc[1]) + (acc[2] + acc[3])) +
	    ((acc[4] + acc[5]) + (acc[6] + acc[7]));
	return s / (float)dim;
}

/*
 * Mean of d[j] * mask[j] over dim, in row_mean()'s order: a mask of ones
 * gives row_mean() to the bit, and a zero drops a feature exactly.
 */
static float
masked_mean(const float *restrict d, const float *restrict mask, size_t dim)
{
	float acc[8] = {0}, s;
	size_t j = 0, q;

	for (; j + 8 <= dim; j += 8)
#pragma GCC unroll 8
		for (q = 0; q < 8; q++)
			acc[q] += d[j + q] * mask[j + q];
	for (; j < dim; j++)
		acc[0] += d[j] * mask[j];
	s = ((acc[0] + acc[1]) + (acc[2] + acc[3])) +
	    ((acc[4] + acc[5]) + (acc[6] + acc[7]));
	return s / (float)dim;
}

/* Score a block of normalised rows; see model-int.h. */
NET_CLONES void
model_net_errors(
    const struct net *n, const float *z, size_t rows, float *err, float *feat)
{
	float buf[2][NET_SCRATCH_FLOATS], sq[MODEL_MAX_DIM];
	const float *in = z, *zr, *o;
	float *out = NULL, *f;
	size_t l, i, j, dim = n->width[0];

	for (l = 0; l < n->nlayers; l++) {
		out = buf[l & 1];
		layer_forward(n, l, in, rows, out);
		in = out;
	}
	for (i = 0; i < rows; i++) {
		zr = z + i * dim;
		o = out + i * dim;
		f = feat != NULL ? feat + i * dim : sq;
		for (j = 0; j < dim; j++)
			f[j] = (o[j] - zr[j]) * (o[j] - zr[j]);
		err[i] = row_mean(f, dim);
	}
}

/* Training buffers for up to maxrows rows per step. */
struct net_train *
model_net_train_create(const struct net *n, size_t maxrows)
{
	struct net_train *t;
	size_t l, mw = n->maxwidth;

	t = calloc(1, sizeof(*t));
	if (t == NULL)
		return NULL;
	t->maxrows = maxrows;
	t->b1t = 1.0f;
	t->b2t = 1.0f;
	for (l = 1; l <= n->nlayers; l++)
		if ((t->act[l] = calloc(maxrows * n->width[l], 4)) == NULL)
			goto fail;
	t->delta[0] = calloc(maxrows * mw, sizeof(float));
	t->delta[1] = calloc(maxrows * mw, sizeof(float));
	t->wt = calloc(mw * mw, sizeof(float));
	t->grad = calloc(n->nparams, sizeof(float));
	t->m = calloc(n->nparams, sizeof(float));
	t->v = calloc(n->nparams, sizeof(float));
	if (t->delta[0] == NULL || t->delta[1] == NULL || t->wt == NULL ||
	    t->grad == NULL || t->m == NULL || t->v == NULL)
		goto fail;
	return t;
fail:
	model_net_train_free(t);
	return NULL;
}

/* Free training buffers; NULL does nothing. */
void
model_net_train_free(struct net_train *t)
{
	size_t l;

	if (t == NULL)
		return;
	for (l = 0; l <= NET_MAX_LAYERS; l++)
		free(t->act[l]);
	free(t->delta[0]);
	free(t->delta[1]);
	free(t->wt);
	free(t->grad);
	free(t->m);
	free(t->v);
	free(t);
}

/* The gradient filled by the last model_net_loss_grad(). */
float *
model_net_train_grad(struct net_train *t)
{
	return t->grad;
}

/* dst[cols x rows] = src[rows x cols] transposed. */
static NET_CLONES void
transpose(
    const float *restrict src, size_t rows, size_t cols, float *restrict dst)
{
	size_t i, j;

	for (i = 0; i < rows; i++)
		for (j = 0; j < cols; j++)
			dst[j * rows + i] = src[i * cols + j];
}

/* Gradients of layer l from delta (rows x width[l+1]); see the top. */
static void
layer_backward(const struct net *n, struct net_train *t, size_t l,
    const float *in, size_t rows, const float *delta, float *dprev)
{
	size_t i, j, fin = n->width[l], fout = n->width[l + 1];
	float *gw = t->grad + n->woff[l], *gb = t->grad + n->boff[l];
	const float *d;

	model_gemm_tn_isa(
	    n->isa, fin, fout, rows, in, fin, delta, fout, gw, fout);
	for (i = 0; i < rows; i++) {
		d = delta + i * fout;
		for (j = 0; j < fout; j++)
			gb[j] += d[j];
	}
	if (l == 0)
		return;
	transpose(n->params + n->woff[l], fin, fout, t->wt);
	memset(dprev, 0, rows * fin * sizeof(*dprev));
	model_gemm_isa(
	    n->isa, rows, fin, fout, delta, fout, t->wt, fin, dprev, fin);
	activate_back(n->act, in, dprev, rows * fin);
}

/*
 * Forward, loss and backward over one minibatch.  A masked row's features
 * where mask is 0 get no error: their difference is multiplied by 0, the
 * others' by 1, so an unmasked row computes exactly what it did before.
 */
float
model_net_loss_grad(const struct net *n, struct net_train *t, const float *z,
    const uint8_t *masked, const float *mask, size_t rows)
{
	size_t l, i, j, dim = n->width[0], cnt = rows * dim;
	const float *in = z;
	float *out, *d, scale;
	double loss = 0.0;

	for (l = 0; l < n->nlayers; l++) {
		layer_forward(n, l, in, rows, t->act[l + 1]);
		in = t->act[l + 1];
	}
	out = t->act[n->nlayers];
	d = t->delta[0];
	scale = 2.0f / (float)cnt;
	for (i = 0; i < cnt; i++)
		d[i] = out[i] - z[i];
	for (i = 0; masked != NULL && i < rows; i++)
		if (masked[i])
			for (j = 0; j < dim; j++)
				d[i * dim + j] *= mask[j];
	for (i = 0; i < cnt; i++) {
		loss += (double)d[i] * d[i];
		d[i] *= scale;
	}
	memset(t->grad, 0, n->nparams * sizeof(*t->grad));
	for (l = n->nlayers; l-- > 0;) {
		in = l == 0 ? z : t->act[l];
		layer_backward(n, t, l, in, rows,
		    t->delta[(n->nlayers - 1 - l) & 1],
		    t->delta[(n->nlayers - l) & 1]);
	}
	return (float)(loss / (double)cnt);
}

/* Count one Adam step; returns its size, bias correction folded in. */
float
model_net_adam_begin(struct net_train *t, float lr)
{
	t->b1t *= ADAM_BETA1;
	t->b2t *= ADAM_BETA2;
	return (float)((double)lr * sqrt(1.0 - (double)t->b2t) /
	    (1.0 - (double)t->b1t));
}

/*
 * Adam on parameters [lo, hi) with the gradient wa * grad(t) + wb * g2,
 * or grad(t) alone when g2 is NULL.
 */
NET_CLONES void
model_net_adam_range(struct net *n, struct net_train *t, float step,
    const float *g2, float wa, float wb, size_t lo, size_t hi)
{
	float *restrict p = n->params, *restrict g = t->grad;
	float *restrict m = t->m, *restrict v = t->v;
	const float *restrict h = g2;
	float gi;
	size_t i;

	for (i = lo; i < hi; i++) {
		gi = h != NULL ? wa * g[i] + wb * h[i] : g[i];
		m[i] = ADAM_BETA1 * m[i] + (1.0f - ADAM_BETA1) * gi;
		v[i] = ADAM_BETA2 * v[i] + (1.0f - ADAM_BETA2) * gi * gi;
		p[i] -= step * m[i] / (sqrtf(v[i]) + ADAM_EPS);
	}
}

/*
 * Split errors of a block; see model-int.h.  The first pass gives total
 * and ctx, then the CTX inputs are set to their baseline medians and the
 * second pass gives own.  Both passes are plain forward passes, so own,
 * like total, is the same on every instruction set.
 */
NET_CLONES void
model_net_split(const struct net *n, const struct model_groups *g, float *z,
    size_t rows, struct model_split *out)
{
	float feat[NET_SCRATCH_FLOATS], err[BLOCK_MAX_ROWS];
	size_t i, j, dim = n->width[0];

	model_net_errors(n, z, rows, err, feat);
	for (i = 0; i < rows; i++) {
		out[i].total = err[i];
		out[i].own = err[i];
		out[i].ctx = 0.0f;
		if (g->nctx > 0)
			out[i].ctx =
			    masked_mean(feat + i * dim, g->ctx_mask, dim);
	}
	if (g->nctx == 0)
		return;
	for (i = 0; i < rows; i++)
		for (j = 0; j < dim; j++)
			if (g->group[j] == MODEL_GROUP_CTX)
				z[i * dim + j] = g->fill[j];
	model_net_errors(n, z, rows, err, feat);
	for (i = 0; i < rows; i++)
		out[i].own = masked_mean(feat + i * dim, g->own_mask, dim);
}

/* Activations of one hidden layer; see model-int.h. */
void
model_net_hidden(
    const struct net *n, const float *z, size_t rows, size_t layer, float *out)
{
	float buf[2][NET_SCRATCH_FLOATS];
	const float *in = z;
	float *o = buf[0];
	size_t l;

	for (l = 0; l < layer && l + 1 < n->nlayers; l++) {
		o = buf[l & 1];
		layer_forward(n, l, in, rows, o);
		in = o;
	}
	memcpy(out, in, rows * n->width[l] * sizeof(*out));
}
