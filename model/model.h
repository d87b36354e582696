/*
 * model: a dense autoencoder that scores how unusual a row of floats is.
 *
 * The caller trains a model on a baseline of normal rows, then scores new
 * rows: the score is the mean squared reconstruction error over the
 * normalised features, and a row whose score is above model_threshold()
 * is anomalous.  The module sees only rows of `dim` floats; what they mean
 * is the caller's business.  It never logs, prints or exits, keeps no
 * global state and starts no threads: training may run in any thread, and
 * any number of threads may score with one model at once.  Scoring never
 * allocates: it works in about 56 KB of the caller's stack (70 KB for a
 * split score).  Scores are
 * the same bits on every x86-64 build (no libm in the hot path, no fused
 * multiply-adds, no reordered sums), so a saved model scores identically
 * wherever it is loaded.
 */
#ifndef ANOMD_MODEL_H
#define ANOMD_MODEL_H

#include <stddef.h>
#include <stdint.h>

#define MODEL_MAX_DIM 1024 /* features per row */
#define MODEL_MAX_HIDDEN 8 /* hidden layers */
#define MODEL_MAX_WIDTH 1024 /* units in one hidden layer */
#define MODEL_MIN_ROWS 50 /* smallest baseline model_train accepts */
#define MODEL_ID_LEN 16 /* hex characters in a model id */
#define MODEL_NOTE_MAX 320 /* bytes in model_info.note, with the NUL */
#define MODEL_MAX_FOLDS 10 /* most folds of the out-of-sample errors */

/* Per-feature transform applied before standardising. */
enum model_xform {
	MODEL_XFORM_LINEAR = 0, /* use the value as is */
	MODEL_XFORM_LOG1P = 1, /* log(1 + max(x, 0)), for heavy tails */
};

/* Activation of the hidden layers; the output layer is always linear. */
enum model_act {
	MODEL_ACT_RELU,
	MODEL_ACT_TANH,
	MODEL_ACT_ELU,
};

/* How the threshold is chosen from the held-out baseline errors. */
enum model_rule {
	MODEL_RULE_QUANTILE, /* empirical (1 - rate) quantile */
	MODEL_RULE_POT, /* generalised Pareto fit to the tail */
};

/*
 * Instruction sets of the matrix kernels.  Every one gives the same bits;
 * AUTO (the default) takes the widest the CPU runs.  Tests force the others.
 */
enum model_isa {
	MODEL_ISA_AUTO,
	MODEL_ISA_BASE, /* the build's own: SSE2 on x86-64 */
	MODEL_ISA_AVX2,
	MODEL_ISA_AVX512,
};

/* Training parameters; start from model_params_default(). */
struct model_params {
	uint32_t layers[MODEL_MAX_HIDDEN]; /* hidden widths, in order */
	size_t nlayers; /* hidden layers used, >= 1 */
	enum model_act activation;
	uint32_t max_epochs; /* per fit, 1..10000 */
	uint32_t batch; /* rows per minibatch, 1..65536 */
	float learning_rate; /* Adam step size, (0, 1] */
	uint32_t patience; /* epochs without holdout gain before stop */
	uint32_t folds; /* k of the k-fold out-of-sample errors, 2..10 */
	uint64_t seed; /* weight init and shuffling */
	enum model_rule rule;
	double target_rate; /* wanted false-alert rate, (0, 0.5) */
	double robust_drop; /* most dropped before the refit, [0, 0.2] */
	double pot_quantile; /* POT initial quantile, [0.5, 0.9999] */
	double quantile_margin; /* factor on the max error, >= 1 (see below) */
	double confidence; /* quantile rule's confidence, [0.5, 0.999] */
	uint32_t threads; /* 1 or 2; the model is the same either way */
	enum model_isa isa; /* kernels to train with; AUTO, or one the CPU
			       runs (model_isa_best()); same model either way */
	float clip; /* clip standardised values to +-clip, > 0 */
	/*
	 * Per feature (dim entries): MODEL_GROUP_OWN for evidence about the
	 * row itself, MODEL_GROUP_CTX for context about someone else (the
	 * flow's responder).  NULL: every feature is OWN.  Copied into the
	 * model; the pointer need not outlive model_train().
	 */
	const uint8_t *groups;
	/*
	 * Training-time augmentation along the transfer size (see
	 * model/train.c), or NULL for none.  Per feature (dim entries): the
	 * power of k with which the raw value moves when the responder sends
	 * k times more in a flow of the same kind (1 for counts, bytes and
	 * duration that grow with it, -1 for a mean over packets that grow
	 * while its total does not, 0 for the rest).  Not stored in the
	 * model; the pointer need not outlive model_train().
	 */
	const float *transfer;
	/*
	 * With transfer: the feature that must be above 0 for a row to be
	 * grown (the responder sent payload), or -1 for every row.
	 */
	int32_t transfer_gate;
	/*
	 * Per row (n entries): non-zero keeps the row from the robust drop
	 * (an operator said it is normal).  NULL: any row may be dropped.
	 * Only read during model_train().
	 */
	const uint8_t *keep;
};

#define MODEL_GROUP_OWN 0
#define MODEL_GROUP_CTX 1

/*
 * A row's error split by whom it is about (see model_score_split()).
 * total is model_score(); own and ctx are each compared with their own
 * threshold (model_info.threshold_own, .threshold_ctx).
 */
struct model_split {
	float total; /* model_score() of the row */
	float own; /* error of the OWN features, context held at baseline */
	float ctx; /* error carried by the CTX features */
};

/* Caller-given facts stored with the model, for determinism. */
struct model_meta {
	uint64_t created_us; /* creation time, microseconds since the epoch */
	uint64_t first_us; /* first flow of the training range */
	uint64_t last_us; /* last flow of the training range */
};

/* What a trained or loaded model knows about itself. */
struct model_info {
	enum model_rule rule;
	const char *rule_name; /* static string, model_rule_name(rule) */
	float threshold;
	float threshold_own; /* for model_split.own; threshold without groups */
	float threshold_ctx; /* for model_split.ctx; FLT_MAX without groups */
	double target_rate;
	uint64_t baseline_rows; /* train + holdout, after the robust drop */
	uint64_t train_rows; /* rows the final network was fitted on */
	uint64_t holdout_rows; /* its early-stopping holdout (fold 0) */
	uint64_t oos_rows; /* rows with an out-of-sample error: all kept */
	uint32_t folds; /* k of the k-fold out-of-sample errors */
	uint32_t epochs_fold; /* epochs each other fold's network ran */
	uint64_t dropped_rows; /* removed by the robust drop */
	uint32_t epochs_first; /* epochs run by the first fit */
	uint32_t epochs_refit; /* epochs run by the refit, 0 if none */
	float train_loss; /* mean training loss of the kept epoch */
	float holdout_loss; /* mean holdout score of the kept epoch */
	uint32_t dim;
	uint32_t nhidden;
	uint32_t hidden[MODEL_MAX_HIDDEN];
	enum model_act activation;
	uint64_t seed;
	char id[MODEL_ID_LEN + 1]; /* hash of the learnt parameters, hex */
	uint64_t created_us;
	uint64_t first_us;
	uint64_t last_us;
	char note[MODEL_NOTE_MAX]; /* how the thresholds were found, as a
				      sentence for a person */
};

/* One feature's part in a row's reconstruction error. */
struct model_expl {
	uint32_t feature; /* index in the row */
	float share; /* share of the row's squared error, 0..1 */
	float value; /* observed raw value */
	float p50; /* baseline raw median */
	float p99; /* baseline raw 99th percentile */
};

/*
 * The baseline's error histogram: MODEL_HIST_BINS bins, MODEL_HIST_PER_DECADE
 * to a decade, from MODEL_HIST_LO up; the first bin also holds every smaller
 * error, the last every larger one.  See model_hist_bin().
 */
#define MODEL_HIST_BINS 56
#define MODEL_HIST_PER_DECADE 8
#define MODEL_HIST_LO 1e-4
#define MODEL_HULL_MAX 48 /* corners of a baseline region outline */

/*
 * What the baseline looked like, kept with the model for reports: its
 * out-of-sample errors (model_info.note's threshold came from them) and
 * its picture in two 2-D maps (see model_project()).
 */
struct model_baseline {
	int known; /* 0: a model file made before these were kept */
	uint64_t nerr; /* out-of-sample errors counted */
	uint64_t hist[MODEL_HIST_BINS]; /* of the total errors */
	float err_p50, err_p99, err_max; /* of the total errors */
	float var_latent, var_input; /* variance share the 2 axes keep */
	/* the region of 99 % of the baseline rows, a convex polygon */
	size_t nhull_latent, nhull_input;
	float hull_latent[MODEL_HULL_MAX][2];
	float hull_input[MODEL_HULL_MAX][2];
};

struct model;

/*
 * Fill *p with the defaults the daemon uses: hidden layers 48-12-48, tanh,
 * at most 30 epochs of minibatches of 128 with Adam at 3e-3, patience 3,
 * 4 folds, seed 1, quantile rule at rate 0.001, at most 1 % robust
 * drop, POT initial quantile 0.98, margin 1.5, confidence 0.9, 1 thread,
 * clip 6 (one
 * feature adds at most 36 / dim to a score).  On 64 flow-like
 * features from 6 latent factors, 48-12-48 caught 2-3 times the subtle
 * anomalies 32-8-32 did, and tanh beat elu and relu, at 1.5 times the
 * cost; 64-16-64 was better still but would put scoring near 1 M rows/s.
 *
 * The quantile rule takes the k-th largest out-of-sample error that lies at
 * or above the (1 - target_rate) quantile with probability `confidence'
 * (see model/thresh.c).  With too few rows for even the largest to qualify,
 * it uses the largest error times quantile_margin and says so in
 * model_info.note.  The pot rule fits a generalised Pareto distribution to
 * the errors above the pot_quantile quantile when there are at least 20 of
 * them, and falls back to the quantile rule otherwise.
 *
 * Four folds: the final network is fitted on three quarters of the
 * baseline, and three more networks, each fitted on three quarters, give
 * the other rows their out-of-sample errors.  Training costs about four
 * first fits; two folds would cost two, but the final network would then
 * see only half of the baseline.
 */
void model_params_default(struct model_params *p);
/* The widest instruction set of the kernels that this CPU runs. */
enum model_isa model_isa_best(void);

/*
 * Train a model on n baseline rows x[n * dim] (row-major).
 *
 * xform[dim] gives each feature's enum model_xform.  feat_hash identifies
 * the caller's feature table and is stored in the model.  meta may be NULL
 * (all zero).  p->groups (may be NULL) is copied into the model.  The
 * baseline is dealt by the seed into p->folds folds; the network is fitted
 * on all folds but fold 0 with early stopping on fold 0, up to the share
 * robust_drop of highest-error rows is removed (only rows beyond the error
 * tail the other rows predict, so a clean baseline loses next to none;
 * rows p->keep marks are never removed), and the network is fitted again
 * to the rest.  Then every kept row gets
 * an out-of-sample error (k-fold cross-fitting): fold 0 from the final
 * network, every other fold from a network fitted without that fold for as
 * many epochs as the first fit took to its best.  The thresholds (total,
 * own and ctx) all come from these errors by p->rule.  Same rows,
 * parameters and seed give a bit-identical model, with 1 or 2 threads and
 * on every instruction set.
 *
 * Returns 0 and sets *mp (caller frees with model_free), or -EINVAL for bad
 * parameters, n < MODEL_MIN_ROWS or non-finite input, or -ENOMEM; on error
 * *mp is left alone and *cause (if cause is not NULL) gets a malloc'd
 * message the caller frees.
 */
int model_train(struct model **mp, const float *x, size_t n, size_t dim,
    const uint8_t *xform, uint64_t feat_hash, const struct model_params *p,
    const struct model_meta *meta, char **cause);

/* Free a model; NULL does nothing. */
void model_free(struct model *m);

/*
 * Score one row x[dim]: the mean squared reconstruction error of the
 * normalised features.  Non-finite inputs are clipped, so the score is
 * finite.  Equal to what model_score_batch gives for the same row.
 */
float model_score(const struct model *m, const float *x);

/*
 * Split the score of row x[dim] by whom the error is about.
 *
 * total is model_score(x), to the bit.  ctx is the part of total the CTX
 * features carry: their squared errors summed and divided by dim, so
 * ctx + (the OWN features' part of the same pass) = total.  own comes from
 * a second forward pass in which every CTX feature is replaced by its
 * baseline median (in normalised space): the OWN features' squared errors
 * summed and divided by dim, the same scale as total.  So an odd context (a
 * flooded responder) neither counts in own nor, through the bottleneck,
 * makes the row's ordinary own features reconstruct badly.  A model
 * trained without CTX features gives own = total and ctx = 0.  Costs two
 * forward passes; like model_score() it never allocates (about 70 KB of
 * stack) and gives the same bits on every instruction set.
 */
void model_score_split(
    const struct model *m, const float *x, struct model_split *out);

/*
 * Split n rows x[n * dim] into out[n]; the fast path for many rows, equal
 * to model_score_split() row by row.
 */
void model_score_split_batch(
    const struct model *m, const float *x, size_t n, struct model_split *out);

/* Score n rows x[n * dim] into out[n]; the fast path for many rows. */
void model_score_batch(
    const struct model *m, const float *x, size_t n, float *out);

/* The learnt threshold: a score above it is an anomaly. */
float model_threshold(const struct model *m);

/* The number of features per row the model takes. */
size_t model_dim(const struct model *m);

/*
 * The baseline median of feature i as a raw value (before any transform),
 * as model_explain() reports it; 0 when i >= model_dim(m).
 */
float model_median(const struct model *m, size_t i);

/*
 * Explain the score of row x[dim]: write to out[] the features carrying
 * most of the squared error, largest first (ties by index).
 *
 * Returns the number written, min(k, dim).
 */
size_t model_explain(
    const struct model *m, const float *x, size_t k, struct model_expl *out);

/* The model's info; valid until model_free(m). */
const struct model_info *model_info(const struct model *m);

/*
 * Write the model to path atomically: a temporary file in the same folder
 * is written and synced, renamed over path, then the folder is synced.
 * The file is mode 0644.
 *
 * Returns 0, or -errno (-ENOMEM or from the system calls) with *cause set.
 */
int model_save(const struct model *m, const char *path, char **cause);

/*
 * Load a model from path, refusing it unless it was made for feature table
 * feat_hash and rows of dim features.
 *
 * Returns 0 and sets *mp (caller frees with model_free); -errno from
 * open/read; -EPROTO for a file that is not a model, has another format
 * version, is truncated, fails its checksum or is inconsistent; -EINVAL
 * for a good file made for other features; -EFBIG for a file over the
 * size limit; -ENOMEM.  On error *mp is left alone and *cause says why
 * ("model file PATH: checksum mismatch").
 */
int model_load(struct model **mp, const char *path, uint64_t feat_hash,
    size_t dim, char **cause);

/*
 * Extras: opaque blobs that a caller saves with the model and reads back
 * after model_load() (for example the daemon's set of baseline
 * destinations).  Each has a nonzero tag; the model file keeps at most
 * MODEL_EXTRA_MAX of them, MODEL_EXTRA_MAX_BYTES each, in an optional
 * section outside the model id, so a file without one still loads.  The
 * file's checksum covers them; their contents are the caller's to check.
 */
#define MODEL_EXTRA_MAX 4
#define MODEL_EXTRA_MAX_BYTES (4u << 20)

/*
 * Attach a copy of p[len] under tag (not 0), replacing a blob of that tag.
 * Returns 0; -EINVAL for tag 0 or len over MODEL_EXTRA_MAX_BYTES; -ENOSPC
 * when MODEL_EXTRA_MAX other tags are held; -ENOMEM.
 */
int model_extra_set(struct model *m, uint32_t tag, const void *p, size_t len);

/*
 * The blob of tag and its length in *len, or NULL (and *len 0) when the
 * model has none.  Valid until the next model_extra_set() or model_free().
 */
const void *model_extra(const struct model *m, uint32_t tag, size_t *len);

/*
 * Numbers in the bottleneck code: the width of the narrowest hidden layer
 * (12 with the default layers).
 */
size_t model_latent_dim(const struct model *m);

/*
 * The bottleneck code of row x[dim] into out[model_latent_dim(m)]: the
 * narrowest hidden layer's activations.  Like scoring, it never allocates
 * and gives the same bits on every instruction set and in every batch.
 */
void model_latent(const struct model *m, const float *x, float *out);

/* Codes of n rows x[n * dim] into out[n * model_latent_dim(m)]. */
void model_latent_batch(
    const struct model *m, const float *x, size_t n, float *out);

/*
 * The normalised features of row x[dim] into z[dim]: transformed,
 * standardised and clipped as the network sees them.
 */
void model_normalise(const struct model *m, const float *x, float *z);

/*
 * The baseline's errors and maps; baseline->known is 0 for a model file
 * made before they were kept.  Valid until model_free(m).
 */
const struct model_baseline *model_baseline(const struct model *m);

/*
 * Project row x[dim] onto the two baseline maps: lat[2] from its bottleneck
 * code, in[2] from its normalised features, each by the first two principal
 * axes of the baseline's rows (fitted at training).  Returns 0, or -ENOENT
 * (outputs untouched) when the model has no maps.  Never allocates.
 */
int model_project(
    const struct model *m, const float *x, float lat[2], float in[2]);

/* The histogram bin (0 .. MODEL_HIST_BINS - 1) of an error. */
size_t model_hist_bin(double err);

/* The lower edge of bin i (i = MODEL_HIST_BINS gives the top edge). */
double model_hist_edge(size_t i);

/* The name of a rule ("quantile", "pot"), or "unknown". */
const char *model_rule_name(enum model_rule rule);

/* Parse a rule name into *rule; returns 0 or -EINVAL (*rule unchanged). */
int model_rule_parse(const char *name, enum model_rule *rule);

/* The name of an activation ("relu", "tanh", "elu"), or "unknown". */
const char *model_act_name(enum model_act act);

/* Parse an activation name into *act; returns 0 or -EINVAL. */
int model_act_parse(const char *name, enum model_act *act);

#endif
