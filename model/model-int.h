/* Private interface of the model module, shared by its files and tests. */
#ifndef ANOMD_MODEL_INT_H
#define ANOMD_MODEL_INT_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "model/model.h"

/* Weight layers: the hidden layers plus the output layer. */
#define NET_MAX_LAYERS (MODEL_MAX_HIDDEN + 1)

/*
 * Floats of stack scratch per buffer when scoring; the row block shrinks
 * for wide models so scoring never allocates.
 */
#define NET_SCRATCH_FLOATS 4096

/*
 * Smallest standard deviation of a transformed feature.  A feature nearly
 * constant in the baseline would otherwise turn any small change (a flag
 * seen once, a count one higher) into a huge standardised value that alerts
 * on its own.  0.25 makes a flip of a 0/1 feature 4 deviations and, for
 * log1p features, a change by a factor of e 4 deviations.  Chosen against
 * 0.01, 0.1 and 0.5 (with clips of 4, 6 and 10) on the bundled sample: it
 * gave the fewest false alerts with every scan flow still alerted.
 */
#define MODEL_STD_FLOOR 0.25f

/*
 * Smallest threshold training sets and the loader accepts.  A baseline of
 * identical rows reconstructs exactly and would give a threshold of 0, so
 * that every flow differing in anything alerts.  A score of 1e-6 is one
 * feature of 64 off by under 0.01 deviations: float noise, not evidence.
 */
#define MODEL_THRESHOLD_MIN 1e-6f

/*
 * Largest weight or bias the loader accepts.  Trained ones are of order 1
 * (inputs are standardised and clipped); 1e6 leaves room for any fit while
 * keeping the hidden layers' sums far from overflowing to a NaN score.
 */
#define MODEL_PARAM_MAX 1e6f

/* ---- rng.c: xoshiro256** seeded through splitmix64 -------------------- */

struct model_rng {
	uint64_t s[4];
};

uint64_t model_splitmix64(uint64_t *state);
void model_rng_seed(struct model_rng *r, uint64_t seed);
uint64_t model_rng_next(struct model_rng *r);
/* Uniform in [0, 1) with 24 random bits. */
float model_rng_float(struct model_rng *r);
/* Uniform in [0, bound), bound > 0, without modulo bias. */
uint64_t model_rng_below(struct model_rng *r, uint64_t bound);
/* Fisher-Yates shuffle of idx[n]. */
void model_rng_shuffle(struct model_rng *r, uint32_t *idx, size_t n);
/* Standard normal by Box-Muller; for tests and synthetic data. */
double model_rng_normal(struct model_rng *r);

/* ---- norm.c: per-feature transform, standardisation, quantiles -------- */

struct model_norm {
	size_t dim;
	float clip;
	uint8_t *xform; /* enum model_xform per feature */
	int32_t *is_log; /* -1 where xform is log1p, for branchless select */
	float *mean; /* of the transformed values */
	float *std; /* floored at MODEL_STD_FLOOR */
	float *inv_std; /* 1 / std, derived */
	float *p50; /* raw baseline median */
	float *p99; /* raw baseline 99th percentile */
};

int model_norm_init(struct model_norm *nm, size_t dim, float clip);
void model_norm_release(struct model_norm *nm);
/* Derive is_log and inv_std after xform and std are set. */
void model_norm_derive(struct model_norm *nm);
/*
 * Learn mean, std, p50 and p99 of features [j0, j1) from the rows
 * x[idx[i] * dim] for i < n; scratch holds n floats.  Features are
 * independent, so two threads may fit disjoint ranges; model_norm_derive()
 * follows once all are fitted.
 */
void model_norm_fit(struct model_norm *nm, const float *x, const uint32_t *idx,
    size_t n, float *scratch, size_t j0, size_t j1);
/* Normalise rows x[n * dim] into z[n * dim]. */
void model_norm_apply(
    const struct model_norm *nm, const float *x, size_t n, float *z);
/* log(x) for x >= 1 (or +inf), the same on every build. */
float model_logf(float x);
/* The q-quantile (0..1) of v[n] by linear interpolation; reorders v. */
float model_quantile(float *v, size_t n, double q);

/* ---- net.c: dense layers, backpropagation, Adam ----------------------- */

struct net {
	size_t nlayers; /* weight layers */
	size_t width[NET_MAX_LAYERS + 1]; /* width[0] in, width[nlayers] out */
	enum model_act act;
	size_t nparams;
	float *params; /* per layer: W[in][out], b[out] */
	size_t woff[NET_MAX_LAYERS];
	size_t boff[NET_MAX_LAYERS];
	size_t maxwidth;
	enum model_isa isa; /* kernels; model_isa_best() unless forced */
};

/* Training state: activations, gradients and Adam moments. */
struct net_train;

/* Set up shapes for dim -> hidden... -> dim and allocate params. */
int model_net_init(struct net *n, size_t dim, const uint32_t *hidden,
    size_t nhidden, enum model_act act);
void model_net_release(struct net *n);
/* Glorot/He uniform weights and zero biases from the seed. */
void model_net_randomize(struct net *n, uint64_t seed);
/* Rows scored per block with NET_SCRATCH_FLOATS of scratch. */
size_t model_net_block_rows(const struct net *n);
/*
 * Squared reconstruction error of normalised rows z[rows * width[0]]:
 * per row into err[rows] (mean over features) and, when feat is not NULL,
 * per feature into feat[rows * width[0]].  rows <= model_net_block_rows().
 */
void model_net_errors(
    const struct net *n, const float *z, size_t rows, float *err, float *feat);
/*
 * Which features are whose (model_params.groups), and what the second
 * pass of a split score puts in place of the CTX features.
 */
struct model_groups {
	uint8_t *group; /* MODEL_GROUP_* per feature */
	float *own_mask; /* 1 for an OWN feature, 0 for a CTX one */
	float *ctx_mask; /* 1 - own_mask */
	float *fill; /* normalised baseline median, for CTX features */
	size_t nctx; /* CTX features; 0: no split */
};

/*
 * Split errors of normalised rows z[rows * width[0]] (see
 * model_score_split()), rows <= model_net_block_rows().  The CTX features
 * of z are overwritten by g->fill for the second pass.
 */
void model_net_split(const struct net *n, const struct model_groups *g,
    float *z, size_t rows, struct model_split *out);

/*
 * ---- gemm.c: C[m][n] += A[m][k] B[k][n], row-major with leading
 * dimensions; every element sums its k products in order.  isa is AUTO or
 * one that model_isa_best() allows; all give the same bits.
 */
void model_gemm_isa(enum model_isa isa, size_t m, size_t n, size_t k,
    const float *a, size_t lda, const float *b, size_t ldb, float *c,
    size_t ldc);
/* C[m][n] += A^T B for A stored k x m (leading dimension lda), likewise. */
void model_gemm_tn_isa(enum model_isa isa, size_t m, size_t n, size_t k,
    const float *a, size_t lda, const float *b, size_t ldb, float *c,
    size_t ldc);

struct net_train *model_net_train_create(const struct net *n, size_t maxrows);
void model_net_train_free(struct net_train *t);
/*
 * Forward and backward pass over z[rows * width[0]], target = input,
 * rows <= maxrows: returns the loss (mean over rows and features) and
 * leaves its gradient in model_net_train_grad(t).  When masked (rows
 * flags) is not NULL, a row with its flag set counts only the features
 * where mask[width[0]] is 1 (those where it is 0 add no loss and no
 * gradient), still divided by all the features, as own in a split score.
 */
float model_net_loss_grad(const struct net *n, struct net_train *t,
    const float *z, const uint8_t *masked, const float *mask, size_t rows);
/*
 * One Adam step in two calls: model_net_adam_begin() counts the step and
 * returns its size (lr with the bias correction folded in) ...
 */
float model_net_adam_begin(struct net_train *t, float lr);
/*
 * ... and model_net_adam_range() updates parameters [lo, hi) with the gradient
 * wa * grad(t) + wb * g2 (grad(t) alone when g2 is NULL): disjoint ranges
 * may be updated by two threads at once.
 */
void model_net_adam_range(struct net *n, struct net_train *t, float step,
    const float *g2, float wa, float wb, size_t lo, size_t hi);
/* The gradient buffer inside t. */
float *model_net_train_grad(struct net_train *t);

/* ---- thresh.c: threshold rules ---------------------------------------- */

struct model_thresh {
	enum model_rule rule;
	double rate;
	double pot_quantile;
	double margin;
	double confidence;
};

/* The order k of the k-th largest error the quantile rule takes; 0: none. */
size_t model_thresh_order(size_t n, double rate, double conf);

/*
 * Threshold from errors err[n] (reordered); note gets a short account of
 * how it was found.  Returns the threshold.
 */
float model_thresh_fit(const struct model_thresh *t, float *err, size_t n,
    char *note, size_t notesz);
/*
 * Fit a generalised Pareto distribution to peaks y[n] > 0 by maximum
 * likelihood (Grimshaw's reduction).  Returns 0 with *xi and *sigma, or
 * -EDOM when no valid fit exists.
 */
int model_gpd_fit(const double *y, size_t n, double *xi, double *sigma);

/* ---- map.c: the baseline's errors and 2-D maps, for reports ---------- */

struct model_mapdata {
	int have; /* the axes below are set */
	size_t layer; /* the bottleneck: activations after weight layer-1 */
	size_t kdim; /* its width */
	float *lat_mean, *lat_axis; /* kdim, 2 x kdim */
	float *in_mean, *in_axis; /* dim, 2 x dim */
	struct model_baseline pub;
};

/* The index l (1 .. nlayers - 1) of the narrowest hidden layer width[l]. */
size_t model_map_layer(const struct net *n);
/* Allocate the map arrays for m's shape; 0 or -ENOMEM. */
int model_map_alloc(struct model *m);
void model_map_release(struct model_mapdata *md);
/*
 * Fit the maps to the baseline rows x[n * dim] and count the out-of-sample
 * errors oos[noos]; 0 or -ENOMEM.
 */
int model_map_fit(struct model *m, const float *x, size_t n,
    const struct model_split *oos, size_t noos);
/*
 * Activations of hidden layer `layer` (1 .. nlayers - 1) for normalised rows
 * z[rows * width[0]] into out[rows * width[layer]], rows <=
 * model_net_block_rows(); the same bits as inside model_net_errors().
 */
void model_net_hidden(
    const struct net *n, const float *z, size_t rows, size_t layer, float *out);

/* ---- model.c ---------------------------------------------------------- */

struct model {
	size_t dim;
	uint64_t feat_hash;
	struct model_norm norm;
	struct model_groups groups;
	struct net net;
	float threshold;
	float threshold_own;
	float threshold_ctx; /* FLT_MAX without CTX features */
	struct model_info info;
	struct model_mapdata map; /* for reports; map.have may be 0 */
	struct model_extra {
		uint32_t tag;
		uint32_t len;
		uint8_t *p;
	} extra[MODEL_EXTRA_MAX]; /* model_extra_set(); nextra used */
	size_t nextra;
};

/* An empty model for dim features; NULL on allocation failure. */
struct model *model_alloc(size_t dim, float clip);
/* Set *cause (when not NULL) to a malloc'd message. */
void model_cause(char **cause, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Fill info fields that follow from the network and rule. */
void model_info_sync(struct model *m);
/*
 * Derive the masks, the CTX count and the fill values from the group map
 * and the normalisation; run after model_norm_derive().
 */
void model_groups_derive(struct model *m);
/* 64-bit FNV-1a over buf[len], continuing from h. */
uint64_t model_fnv1a(uint64_t h, const void *buf, size_t len);
#define MODEL_FNV_INIT 0xcbf29ce484222325ULL

/* ---- file.c ----------------------------------------------------------- */

/* Serialise m into a malloc'd buffer *bufp of *lenp bytes. */
int model_encode(const struct model *m, uint8_t **bufp, size_t *lenp);
/* The model id: FNV-1a of the learnt part of the encoding, as hex. */
int model_compute_id(const struct model *m, char id[MODEL_ID_LEN + 1]);
/* Parse a file image; name is used in messages. */
int model_decode(struct model **mp, const uint8_t *buf, size_t len,
    const char *name, uint64_t feat_hash, size_t dim, char **cause);

#endif
