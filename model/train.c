/*
 * Training: split, normalise, fit, drop the worst rows, fit again, and set
 * the threshold.
 *
 * The seed gives three independent streams (through splitmix64): the
 * holdout split, the weight init and the epoch shuffles.  The refit reuses
 * the same init and shuffle seeds, so it differs from the first fit only
 * in the rows it sees.  Everything else is plain sequential arithmetic
 * with a fixed order, hence the same rows and seed give the same bits.
 *
 * Every minibatch is taken as two halves whose gradients are computed
 * apart and then added, weighted by their rows, in a fixed order; Adam
 * then updates the parameters in two halves.  With threads = 2 a helper
 * thread does the second half of each (gathering its own rows, so that
 * only parameters and gradients cross between the cores) while the caller
 * does the first; with 1 the caller does both.  Errors over many rows and
 * the normalisation's statistics split the same way.  The arithmetic is
 * the same either way, so the model does not depend on the number of
 * threads.
 *
 * The robust drop exists because a baseline is rarely clean: a scan or a
 * misbehaving host in the training window would otherwise be learnt as
 * normal, and, worse, its rows in the holdout would push the threshold up
 * to where that very behaviour no longer alerts.  It removes at most the
 * configured share, and only rows whose error is beyond what the bulk's
 * tail predicts (drop_cut()), because on a clean baseline the top 1 % is
 * just the normal tail: removing it would make the threshold the 99.9th
 * percentile of a sample missing its top 1 %, an alert rate near 1.1 %
 * for a 0.1 % target.  When nothing is dropped, the first fit is kept.
 *
 * Context dropout.  A split score's own part comes from a second forward
 * pass with the CTX inputs (the responder's host context) at their
 * baseline medians (model_net_split()).  A network trained only on real
 * rows never sees such an input, so normal rows reconstruct worse in that
 * pass and the own threshold came out far above the total one (2.02 vs
 * 0.36 on the synthetic test of check_model), which dulled flow alerts.
 * So CTX_DROP_PCT % of the rows of every minibatch are trained as the
 * second pass scores them: their CTX inputs set to the medians, and only
 * their OWN features counted in the loss (still divided by all the
 * features, as own is).  Which rows: those at positions p of the epoch's
 * shuffled order where floor(p * pct / 100) steps, an exact share of every
 * minibatch that moves between rows with the seeded shuffle, needs no
 * random stream of its own and does not depend on how a minibatch is
 * split between threads.
 *
 * The target of a dropped row could have been the original row, CTX part
 * included (a denoising autoencoder).  Its CTX outputs would then have to
 * guess the context from the flow's own features, and since a real
 * context at its medians looks the same as a filled one, that pull would
 * also blur the reconstruction of real contexts near the median and
 * spend hidden units on a guess that no score reads: the ctx error would
 * grow on normal rows and its threshold with it.  Counting only the OWN
 * part trains exactly what own measures and leaves the CTX outputs to the
 * real rows, so ctx keeps its meaning and its sensitivity.
 *
 * Transfer augmentation.  A baseline of a few minutes rarely holds the
 * largest transfer of each kind: the lab's ten-minute baseline had HTTP
 * downloads of 4 to 225 packets, the later capture 52 KB pages and 6 MB
 * downloads, whose own errors were 1.4 to 3.4 times the own threshold,
 * carried by the request's mean payload (falling as acknowledgements
 * grow), the packet counts and the bytes.  A per-feature Huber loss or a
 * wider spread only shrinks the baseline's own tail in proportion.  So the
 * caller may describe (model_params.transfer) how each raw feature moves
 * when the responder sends k times more in a flow of the same kind, as a
 * power of k, and GROW_PCT % of the rows of every minibatch (those where
 * the gate feature is above 0) are trained as that flow grown by a k with
 * ln k uniform in [0, ln GROW_MAX): raw value times k^e, normalised with
 * the baseline's statistics.  The network then learns the size direction
 * of every kind of transfer in the baseline rather than its sizes, while
 * the shape of a flow (which side's bytes grow, how far apart its packets
 * are, what its payloads look like) stays what it learnt: an upload, whose
 * initiator's bytes outgrow the responder's, is not on any grown row.
 * Only the training rows are grown: the normalisation, the early-stopping
 * holdout and the out-of-sample errors are real rows, so the thresholds
 * still mean a rate of real baseline flows.  Which rows and which k come
 * from splitmix64 of a fourth seed stream, the epoch and the position in
 * the epoch's order, so, like the dropout, they do not depend on the
 * threads; exp() is the only libm call and runs in training only.  On the
 * lab protocol the benign flow alerts went from 31 of 12 019 to 1, all
 * attacks keeping an AUC of 1.0; the thresholds rose (own 0.26 -> 0.48),
 * the 13 MiB upload fell from 19 to 8 times its own threshold.
 *
 * Early stopping watches the same mixture on the holdout (total for the
 * share of rows kept whole, own for the dropped share), and the
 * out-of-sample errors of every fold come from networks trained the same
 * way, scored with model_net_split() as anomd scores flows, so the three
 * thresholds are calibrated on what they are compared with.
 */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model/model-int.h"

/* Holdout gains smaller than this share do not reset the patience. */
#define MIN_REL_GAIN 1e-3

/*
 * Percentage of every minibatch's rows trained with their context at the
 * medians (see the top of the file); 0 turns context dropout off.
 */
#ifndef CTX_DROP_PCT
#define CTX_DROP_PCT 40
#endif

/*
 * Transfer augmentation (see the top of the file): the percentage of
 * minibatch rows grown, and the largest factor k they are grown by.
 */
#ifndef GROW_PCT
#define GROW_PCT 20
#endif
#define GROW_MAX 1024.0

/*
 * The helper thread runs the second half of every job that splits in two:
 * the gradient of a minibatch, errors over many rows, the normalisation's
 * statistics.  The caller sets fn and arg and bumps go; the helper answers
 * by setting done to the same value.  Both spin briefly before sleeping.
 */
struct helper {
	pthread_t thr;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	_Atomic uint64_t go, done;
	_Atomic int sleeping, stop;
	void (*fn)(void *);
	void *arg;
};

#define HELPER_SPIN 20000

static struct helper *helper_start(void);
static void helper_stop(struct helper *h);
static int cpus_usable(void);

struct trainer {
	const float *x;
	struct net_train *t2; /* buffers of the second half */
	struct helper *h; /* or NULL: the caller does both halves */
	size_t n, dim;
	const struct model_params *p;
	const struct model_groups *g; /* NULL: no CTX features, no dropout */
	uint8_t *masked; /* per minibatch row: trained with its context out */
	uint64_t seed_split, seed_init, seed_epoch, seed_grow;
	const struct model_norm *nm; /* for rows grown in a minibatch */
	uint64_t epoch; /* epochs run so far, in every fit: grows differ */
	uint32_t *perm; /* rows in split order: train, then holdout */
	uint8_t *fold; /* per row: its fold, 0 the final fit's holdout */
	size_t nkept; /* rows of perm in use */
	size_t ntrain, nhold;
	uint32_t best_epoch; /* epochs to the first fit's best holdout loss */
	struct model_split *oos; /* out-of-sample errors of the kept rows */
	size_t noos;
	float *z; /* all rows normalised */
	float *hold; /* holdout rows normalised, contiguous */
	float *batch; /* one minibatch */
	float *err; /* n scores */
	float *best; /* best parameters so far */
	uint32_t *order;
};

struct fit_result {
	uint32_t epochs;
	uint32_t best_epoch;
	float train_loss;
	float holdout_loss;
};

/* Check one parameter range; fills cause and returns -EINVAL when out. */
static int
check_range(const char *name, double v, double lo, double hi, char **cause)
{
	if (v >= lo && v <= hi)
		return 0;
	model_cause(
	    cause, "model: %s %g out of range (%g..%g)", name, v, lo, hi);
	return -EINVAL;
}

/* Refuse parameters the trainer cannot honour. */
static int
check_params(const struct model_params *p, char **cause)
{
	size_t l;

	if (p->nlayers < 1 || p->nlayers > MODEL_MAX_HIDDEN) {
		model_cause(cause,
		    "model: %zu hidden layers out of range "
		    "(1..%d)",
		    p->nlayers, MODEL_MAX_HIDDEN);
		return -EINVAL;
	}
	for (l = 0; l < p->nlayers; l++) {
		if (p->layers[l] < 1 || p->layers[l] > MODEL_MAX_WIDTH) {
			model_cause(cause,
			    "model: hidden layer %zu width %u "
			    "out of range (1..%d)",
			    l + 1, p->layers[l], MODEL_MAX_WIDTH);
			return -EINVAL;
		}
	}
	if ((size_t)p->activation > MODEL_ACT_ELU) {
		model_cause(
		    cause, "model: unknown activation %d", (int)p->activation);
		return -EINVAL;
	}
	if ((size_t)p->rule > MODEL_RULE_POT) {
		model_cause(cause, "model: unknown rule %d", (int)p->rule);
		return -EINVAL;
	}
	if (check_range("max_epochs", p->max_epochs, 1, 10000, cause) ||
	    check_range("batch", p->batch, 1, 65536, cause) ||
	    check_range("patience", p->patience, 1, 10000, cause) ||
	    check_range("folds", p->folds, 2, MODEL_MAX_FOLDS, cause) ||
	    check_range("robust_drop", p->robust_drop, 0, 0.2, cause) ||
	    check_range("pot_quantile", p->pot_quantile, 0.5, 0.9999, cause) ||
	    check_range("quantile_margin", p->quantile_margin, 1, 1e6, cause) ||
	    check_range("confidence", p->confidence, 0.5, 0.999, cause) ||
	    check_range("threads", p->threads, 1, 2, cause) ||
	    check_range("isa", p->isa, MODEL_ISA_AUTO, MODEL_ISA_AVX512, cause))
		return -EINVAL;
	if (!(p->learning_rate > 0.0f && p->learning_rate <= 1.0f) ||
	    !(p->target_rate > 0.0 && p->target_rate < 0.5) ||
	    !(p->clip > 0.0f && p->clip <= 1e6f)) {
		model_cause(cause,
		    "model: learning_rate %g, target_rate %g or "
		    "clip %g out of range ((0, 1], (0, 0.5), (0, 1e6])",
		    (double)p->learning_rate, p->target_rate, (double)p->clip);
		return -EINVAL;
	}
	return 0;
}

/* Refuse data the trainer cannot use. */
static int
check_data(const float *x, size_t n, size_t dim, const uint8_t *xform,
    const uint8_t *groups, char **cause)
{
	size_t i, j;

	if (dim < 1 || dim > MODEL_MAX_DIM) {
		model_cause(cause, "model: dim %zu out of range (1..%d)", dim,
		    MODEL_MAX_DIM);
		return -EINVAL;
	}
	if (n < MODEL_MIN_ROWS || n > UINT32_MAX) {
		model_cause(cause, "model: %zu baseline rows, need %d..%u", n,
		    MODEL_MIN_ROWS, UINT32_MAX);
		return -EINVAL;
	}
	for (j = 0; j < dim; j++) {
		if (xform[j] > MODEL_XFORM_LOG1P) {
			model_cause(cause,
			    "model: feature %zu has unknown "
			    "transform %u",
			    j, xform[j]);
			return -EINVAL;
		}
	}
	for (j = 0; groups != NULL && j < dim; j++) {
		if (groups[j] > MODEL_GROUP_CTX) {
			model_cause(cause,
			    "model: feature %zu has unknown group %u", j,
			    groups[j]);
			return -EINVAL;
		}
	}
	for (i = 0; i < n * dim; i++) {
		if (!isfinite(x[i])) {
			model_cause(cause,
			    "model: row %zu feature %zu is not "
			    "finite",
			    i / dim, i % dim);
			return -EINVAL;
		}
	}
	return 0;
}

/* Refuse transfer exponents or a gate the trainer cannot use. */
static int
check_transfer(const struct model_params *p, size_t dim, char **cause)
{
	size_t j;

	if (p->transfer == NULL)
		return 0;
	if (p->transfer_gate < -1 || p->transfer_gate >= (int32_t)dim) {
		model_cause(cause, "model: transfer gate %d out of range",
		    (int)p->transfer_gate);
		return -EINVAL;
	}
	for (j = 0; j < dim; j++) {
		if (!(p->transfer[j] >= -4.0f && p->transfer[j] <= 4.0f)) {
			model_cause(cause,
			    "model: feature %zu has transfer exponent %g "
			    "out of range (-4..4)",
			    j, (double)p->transfer[j]);
			return -EINVAL;
		}
	}
	return 0;
}

/*
 * Split the kept rows of perm into training and holdout: the holdout is
 * fold 0, which stays at the end of perm when rows are dropped.
 */
static void
split(struct trainer *tr)
{
	size_t i;

	tr->nhold = 0;
	for (i = 0; i < tr->nkept; i++)
		tr->nhold += tr->fold[tr->perm[i]] == 0;
	tr->ntrain = tr->nkept - tr->nhold;
}

/*
 * Deal the shuffled rows into folds: the last n / k (rounded) are fold 0,
 * the final fit's holdout; the others are dealt in k - 1 runs of about the
 * same size.  Every fold has at most n / 2 + 1 rows.
 */
static void
assign_folds(struct trainer *tr)
{
	size_t i, k = tr->p->folds, n = tr->n, nhold, nrest;

	nhold = (n + k / 2) / k;
	nhold = nhold > 0 ? nhold : 1;
	nrest = n - nhold;
	for (i = 0; i < n; i++)
		tr->fold[tr->perm[i]] =
		    i >= nrest ? 0 : (uint8_t)(1 + i * (k - 1) / nrest);
}

/* Allocate the trainer's buffers; -ENOMEM on failure. */
static int
trainer_init(struct trainer *tr, const struct net *net)
{
	size_t i, n = tr->n, dim = tr->dim;
	struct model_rng r;
	uint64_t st = tr->p->seed;

	tr->seed_split = model_splitmix64(&st);
	tr->seed_init = model_splitmix64(&st);
	tr->seed_epoch = model_splitmix64(&st);
	tr->seed_grow = model_splitmix64(&st);
	tr->perm = calloc(n, sizeof(*tr->perm));
	tr->fold = calloc(n, sizeof(*tr->fold));
	tr->oos = calloc(n, sizeof(*tr->oos));
	tr->order = calloc(n, sizeof(*tr->order));
	tr->z = calloc(n * dim, sizeof(*tr->z));
	/* hold also serves as n floats of scratch in drop_worst(). */
	tr->hold = calloc((n / 2 + 1) * dim + n, sizeof(*tr->hold));
	tr->batch = calloc((size_t)tr->p->batch * dim, sizeof(*tr->batch));
	tr->masked = calloc(tr->p->batch, sizeof(*tr->masked));
	tr->err = calloc(n, sizeof(*tr->err));
	tr->best = calloc(net->nparams, sizeof(*tr->best));
	tr->t2 = model_net_train_create(net, tr->p->batch);
	if (tr->perm == NULL || tr->fold == NULL || tr->oos == NULL ||
	    tr->order == NULL || tr->z == NULL || tr->hold == NULL ||
	    tr->batch == NULL || tr->masked == NULL || tr->err == NULL ||
	    tr->best == NULL || tr->t2 == NULL)
		return -ENOMEM;
	/* A helper only helps with a core of its own. */
	if (tr->p->threads > 1 && cpus_usable() > 1)
		tr->h = helper_start(); /* alone if it fails */
	for (i = 0; i < n; i++)
		tr->perm[i] = (uint32_t)i;
	model_rng_seed(&r, tr->seed_split);
	model_rng_shuffle(&r, tr->perm, n);
	assign_folds(tr);
	tr->nkept = n;
	split(tr);
	return 0;
}

/* Free the trainer's buffers. */
static void
trainer_release(struct trainer *tr)
{
	free(tr->perm);
	free(tr->fold);
	free(tr->oos);
	free(tr->order);
	free(tr->z);
	free(tr->hold);
	free(tr->batch);
	free(tr->masked);
	free(tr->err);
	free(tr->best);
	helper_stop(tr->h);
	model_net_train_free(tr->t2);
}

/* Copy rows z[idx[i]] for i < cnt into dst. */
static void
gather(const struct trainer *tr, const uint32_t *idx, size_t cnt, float *dst)
{
	size_t i, dim = tr->dim;

	for (i = 0; i < cnt; i++)
		memcpy(dst + i * dim, tr->z + (size_t)idx[i] * dim,
		    dim * sizeof(*dst));
}

static inline void
spin_pause(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

static void *
helper_main(void *arg)
{
	struct helper *h = arg;
	uint64_t seen = 0, g;
	int i;

	for (;;) {
		for (i = 0; (g = atomic_load(&h->go)) == seen &&
		     !atomic_load(&h->stop) && i < HELPER_SPIN;
		     i++)
			spin_pause();
		if (g == seen && !atomic_load(&h->stop)) {
			pthread_mutex_lock(&h->mu);
			atomic_store(&h->sleeping, 1);
			while ((g = atomic_load(&h->go)) == seen &&
			    !atomic_load(&h->stop))
				pthread_cond_wait(&h->cv, &h->mu);
			atomic_store(&h->sleeping, 0);
			pthread_mutex_unlock(&h->mu);
		}
		if (atomic_load(&h->stop))
			return NULL;
		h->fn(h->arg);
		seen = g;
		atomic_store(&h->done, g);
	}
}

/* CPUs this thread may run on (its affinity mask, as taskset sets it). */
static int
cpus_usable(void)
{
	cpu_set_t set;

	if (sched_getaffinity(0, sizeof(set), &set) == 0)
		return CPU_COUNT(&set);
	return (int)sysconf(_SC_NPROCESSORS_ONLN);
}

/* Start the helper; NULL when it cannot be (the caller works alone). */
static struct helper *
helper_start(void)
{
	struct helper *h = calloc(1, sizeof(*h));

	if (h == NULL)
		return NULL;
	pthread_mutex_init(&h->mu, NULL);
	pthread_cond_init(&h->cv, NULL);
	if (pthread_create(&h->thr, NULL, helper_main, h) != 0) {
		pthread_mutex_destroy(&h->mu);
		pthread_cond_destroy(&h->cv);
		free(h);
		return NULL;
	}
	return h;
}

static void
helper_stop(struct helper *h)
{
	if (h == NULL)
		return;
	pthread_mutex_lock(&h->mu);
	atomic_store(&h->stop, 1);
	pthread_cond_signal(&h->cv);
	pthread_mutex_unlock(&h->mu);
	pthread_join(h->thr, NULL);
	pthread_mutex_destroy(&h->mu);
	pthread_cond_destroy(&h->cv);
	free(h);
}

/*
 * Run fn(a) and fn(b): b on the helper while the caller runs a, or both in
 * turn without one.  Each job writes only its own outputs.
 */
static void
run_split(struct trainer *tr, void (*fn)(void *), void *a, void *b)
{
	struct helper *h = tr->h;
	uint64_t g;
	size_t i;

	if (h == NULL) {
		fn(a);
		fn(b);
		return;
	}
	h->fn = fn;
	h->arg = b;
	g = atomic_load(&h->go) + 1;
	atomic_store(&h->go, g);
	if (atomic_load(&h->sleeping)) {
		pthread_mutex_lock(&h->mu);
		pthread_cond_signal(&h->cv);
		pthread_mutex_unlock(&h->mu);
	}
	fn(a);
	for (i = 0; atomic_load(&h->done) != g; i++) {
		if (i < HELPER_SPIN)
			spin_pause();
		else
			sched_yield(); /* the helper lost its core */
	}
}

struct grad_job {
	struct trainer *tr;
	const struct net *net;
	struct net_train *t;
	const uint32_t *idx;
	float *z;
	uint8_t *masked;
	size_t pos; /* of the first row in the epoch's order */
	size_t rows;
	float loss;
};

/* Whether the row at position pos of an epoch's order drops its context. */
static int
ctx_dropped(size_t pos)
{
	return (pos + 1) * CTX_DROP_PCT / 100 != pos * CTX_DROP_PCT / 100;
}

/*
 * Replace the normalised rows of a minibatch chosen for transfer
 * augmentation by their raw row grown by a factor k (see the top of the
 * file).  Which positions and which k come from a hash of the seed, the
 * epoch and the position only, so the choice does not depend on threads.
 */
static void
grow_rows(const struct trainer *tr, const uint32_t *idx, size_t pos,
    size_t rows, float *z)
{
	const float *e = tr->p->transfer, *x;
	float raw[MODEL_MAX_DIM];
	int32_t gate = tr->p->transfer_gate;
	uint64_t st, h;
	size_t i, j, dim = tr->dim;
	double lk;

	for (i = 0; i < rows; i++) {
		st = tr->seed_grow ^ (tr->epoch << 32) ^ (uint64_t)(pos + i);
		h = model_splitmix64(&st);
		if (h % 100 >= GROW_PCT)
			continue;
		x = tr->x + (size_t)idx[i] * dim;
		if (gate >= 0 && !(x[gate] > 0.0f))
			continue;
		/* ln k uniform in [0, ln GROW_MAX), from the top 53 bits. */
		lk = (double)(h >> 11) * (1.0 / 9007199254740992.0) *
		    log(GROW_MAX);
		for (j = 0; j < dim; j++)
			raw[j] = e[j] == 0.0f
			    ? x[j]
			    : (float)((double)x[j] * exp((double)e[j] * lk));
		model_norm_apply(tr->nm, raw, 1, z + i * dim);
	}
}

static void
grad_job(void *arg)
{
	struct grad_job *j = arg;
	const struct model_groups *g = j->tr->g;
	size_t i, k, dim = j->tr->dim;

	gather(j->tr, j->idx, j->rows, j->z);
	if (j->tr->p->transfer != NULL && GROW_PCT > 0)
		grow_rows(j->tr, j->idx, j->pos, j->rows, j->z);
	if (g == NULL) {
		j->loss = model_net_loss_grad(
		    j->net, j->t, j->z, NULL, NULL, j->rows);
		return;
	}
	for (i = 0; i < j->rows; i++) {
		j->masked[i] = (uint8_t)ctx_dropped(j->pos + i);
		for (k = 0; j->masked[i] && k < dim; k++)
			if (g->group[k] == MODEL_GROUP_CTX)
				j->z[i * dim + k] = g->fill[k];
	}
	j->loss = model_net_loss_grad(
	    j->net, j->t, j->z, j->masked, g->own_mask, j->rows);
}

struct adam_job {
	struct net *net;
	struct net_train *t;
	const float *g2;
	float step, wa, wb;
	size_t lo, hi;
};

static void
adam_job(void *arg)
{
	struct adam_job *j = arg;

	model_net_adam_range(
	    j->net, j->t, j->step, j->g2, j->wa, j->wb, j->lo, j->hi);
}

/*
 * One step on the rows idx[rows], at position pos of the epoch's order:
 * the loss and gradient of two halves, then Adam with their gradients
 * added by weight, each thread updating half of the parameters; see the
 * top of the file.  Returns the loss.
 */
static float
train_step(struct trainer *tr, struct net *net, struct net_train *t,
    const uint32_t *idx, size_t pos, size_t rows)
{
	size_t ha = rows - rows / 2, hb = rows / 2, np = net->nparams;
	struct grad_job ga = {
	    tr, net, t, idx, tr->batch, tr->masked, pos, ha, 0.0f};
	struct grad_job gb = {tr, net, tr->t2, idx + ha,
	    tr->batch + ha * tr->dim, tr->masked + ha, pos + ha, hb, 0.0f};
	struct adam_job aa = {net, t, NULL, 0.0f, 1.0f, 0.0f, 0, np / 2};
	struct adam_job ab = {net, t, NULL, 0.0f, 1.0f, 0.0f, np / 2, np};
	float loss;

	if (hb == 0) {
		grad_job(&ga);
		loss = ga.loss;
	} else {
		run_split(tr, grad_job, &ga, &gb);
		aa.g2 = ab.g2 = model_net_train_grad(tr->t2);
		aa.wa = ab.wa = (float)ha / (float)rows;
		aa.wb = ab.wb = (float)hb / (float)rows;
		loss = aa.wa * ga.loss + aa.wb * gb.loss;
	}
	aa.step = ab.step = model_net_adam_begin(t, tr->p->learning_rate);
	run_split(tr, adam_job, &aa, &ab);
	return loss;
}

/* Rows whose split errors err_job() takes at a time. */
#define ERR_MIX_ROWS 64

struct err_job {
	const struct net *net;
	const struct model_groups *g; /* or NULL: the total errors */
	const float *z;
	size_t rows;
	float *err;
	double sum;
};

/*
 * Errors of rows z into err, and their sum in row order: the total error,
 * or with g the training objective's mixture of total and own (see the
 * top of the file), from a copy of each block since model_net_split()
 * overwrites its rows.
 */
static void
err_job(void *arg)
{
	struct err_job *j = arg;
	struct model_split sp[ERR_MIX_ROWS];
	float zc[NET_SCRATCH_FLOATS];
	const double wo = CTX_DROP_PCT / 100.0, wt = 1.0 - wo;
	size_t i, q, r, blk = model_net_block_rows(j->net),
			dim = j->net->width[0];

	blk = blk < ERR_MIX_ROWS ? blk : ERR_MIX_ROWS;
	j->sum = 0.0;
	for (i = 0; i < j->rows; i += r) {
		r = j->rows - i < blk ? j->rows - i : blk;
		if (j->g == NULL) {
			model_net_errors(
			    j->net, j->z + i * dim, r, j->err + i, NULL);
		} else {
			memcpy(zc, j->z + i * dim, r * dim * sizeof(*zc));
			model_net_split(j->net, j->g, zc, r, sp);
			for (q = 0; q < r; q++)
				j->err[i + q] =
				    (float)(wt * sp[q].total + wo * sp[q].own);
		}
		for (q = 0; q < r; q++)
			j->sum += j->err[i + q];
	}
}

/*
 * Errors of rows z[rows] into err[rows], in two halves; returns their mean
 * (the two halves' sums added, whatever the number of threads).  With g,
 * the errors are the training objective's (see err_job()).
 */
static double
split_errors(struct trainer *tr, const struct net *net,
    const struct model_groups *g, const float *z, size_t rows, float *err)
{
	size_t ha = rows - rows / 2;
	struct err_job a = {net, g, z, ha, err, 0.0};
	struct err_job b = {net, g, z + ha * tr->dim, rows - ha, err + ha, 0.0};

	run_split(tr, err_job, &a, &b);
	return rows > 0 ? (a.sum + b.sum) / (double)rows : 0.0;
}

/* One pass over the nt rows of tr->order, shuffled; returns the mean loss. */
static double
run_epoch(struct trainer *tr, struct net *net, struct net_train *t,
    struct model_rng *r, size_t nt)
{
	size_t i, rows, b = tr->p->batch;
	double sum = 0.0;

	model_rng_shuffle(r, tr->order, nt);
	tr->epoch++;
	for (i = 0; i < nt; i += rows) {
		rows = nt - i < b ? nt - i : b;
		sum += (double)train_step(tr, net, t, tr->order + i, i, rows) *
		    (double)rows;
	}
	return sum / (double)nt;
}

struct norm_job {
	struct trainer *tr;
	struct model_norm *nm;
	float *scratch;
	size_t lo, hi; /* features to fit, or rows to normalise */
};

static void
norm_fit_job(void *arg)
{
	struct norm_job *j = arg;

	model_norm_fit(j->nm, j->tr->x, j->tr->perm, j->tr->ntrain, j->scratch,
	    j->lo, j->hi);
}

static void
norm_apply_job(void *arg)
{
	struct norm_job *j = arg;
	size_t dim = j->tr->dim;

	model_norm_apply(j->nm, j->tr->x + j->lo * dim, j->hi - j->lo,
	    j->tr->z + j->lo * dim);
}

/*
 * Normalise with statistics of the current training rows: the features
 * fitted in two halves, then the rows normalised in two halves.  err and
 * hold (n floats each at least) are the two halves' scratch.
 */
static void
prepare(struct trainer *tr, struct model *m)
{
	size_t hd = tr->dim / 2, hn = tr->n / 2;
	struct norm_job a = {tr, &m->norm, tr->err, 0, hd};
	struct norm_job b = {tr, &m->norm, tr->hold, hd, tr->dim};

	run_split(tr, norm_fit_job, &a, &b);
	model_norm_derive(&m->norm);
	a.lo = 0;
	a.hi = hn;
	b.lo = hn;
	b.hi = tr->n;
	run_split(tr, norm_apply_job, &a, &b);
	gather(tr, tr->perm + tr->ntrain, tr->nhold, tr->hold);
}

/*
 * Fit the network with early stopping on the holdout: from fresh weights,
 * or, for the refit (warm), on from the first fit's weights for at most a
 * third of the epochs.  The refit starts from a network that already
 * models the bulk and only has to settle without the dropped rows, which
 * takes a few epochs rather than a whole fit.
 */
static int
fit(struct trainer *tr, struct model *m, struct fit_result *res, int warm)
{
	struct net *net = &m->net;
	struct net_train *t;
	struct model_rng r;
	double loss, hloss, best = INFINITY;
	uint32_t ep, bad = 0, max = tr->p->max_epochs;

	prepare(tr, m);
	model_groups_derive(m);
	tr->g = m->groups.nctx > 0 && CTX_DROP_PCT > 0 ? &m->groups : NULL;
	if ((t = model_net_train_create(net, tr->p->batch)) == NULL)
		return -ENOMEM;
	if (warm)
		max = max / 3 > tr->p->patience + 1 ? max / 3
						    : tr->p->patience + 1;
	else
		model_net_randomize(net, tr->seed_init);
	model_rng_seed(&r, tr->seed_epoch);
	memcpy(tr->order, tr->perm, tr->ntrain * sizeof(*tr->order));
	memcpy(tr->best, net->params, net->nparams * sizeof(*tr->best));
	for (ep = 0; ep < max && bad < tr->p->patience; ep++) {
		loss = run_epoch(tr, net, t, &r, tr->ntrain);
		hloss =
		    split_errors(tr, net, tr->g, tr->hold, tr->nhold, tr->err);
		if (hloss < best) {
			bad = hloss < best * (1.0 - MIN_REL_GAIN) ? 0 : bad + 1;
			best = hloss;
			res->best_epoch = ep + 1;
			res->train_loss = (float)loss;
			res->holdout_loss = (float)hloss;
			memcpy(tr->best, net->params,
			    net->nparams * sizeof(*tr->best));
		} else {
			bad++;
		}
	}
	memcpy(net->params, tr->best, net->nparams * sizeof(*tr->best));
	model_net_train_free(t);
	res->epochs = ep;
	return 0;
}

struct ranked {
	float err;
	uint32_t row;
};

/* Highest error first; row order breaks ties so the drop is stable. */
static int
ranked_cmp(const void *a, const void *b)
{
	const struct ranked *x = a, *y = b;

	if (x->err != y->err)
		return x->err > y->err ? -1 : 1;
	return x->row < y->row ? -1 : x->row > y->row;
}

/*
 * The error above which fewer than one clean row is expected: a
 * generalised Pareto tail through the quantiles at survivals 4s, 2s and s,
 * with s = 2 * share (at most 0.05), extrapolated to a survival of 1 / n.
 * All three lie below the share that may be contaminated, so outliers
 * cannot stretch the tail they are tested against.  The shape comes from
 * Pickands' estimator, xi = log2((q(s) - q(2s)) / (q(2s) - q(4s))),
 * clamped to [0, 0.25] (no heavier than a Pareto tail of index 4; the
 * estimate is noisy, and outliers the first fit half-learnt sit in the
 * top quantiles and inflate it, so a larger xi let a 1 % contamination
 * escape the drop in the tests): reconstruction errors of real traffic are
 * often heavy-tailed (rare but normal kinds of flow, such as one large
 * download among many page loads), and an exponential tail (xi = 0) put the cut
 * inside that normal tail and dropped it, from the holdout too, which
 * lowered the threshold below the errors of normal traffic.  A light tail
 * keeps the exponential cut.  Then, from the GPD quantile function,
 *
 *	cut = q(s) + (q(s) - q(2s)) ((s n)^xi - 1) / (1 - 2^-xi)
 *
 * (log2(s n) in place of the fraction when xi = 0).
 */
static float
drop_cut(const float *err, size_t n, double share, float *scratch)
{
	double s = 2.0 * share, q1, q2, q4, d1, d2, xi, f;

	s = s < 0.05 ? s : 0.05;
	memcpy(scratch, err, n * sizeof(*scratch));
	q4 = model_quantile(scratch, n, 1.0 - 4.0 * s);
	q2 = model_quantile(scratch, n, 1.0 - 2.0 * s);
	q1 = model_quantile(scratch, n, 1.0 - s);
	d1 = q1 - q2;
	d2 = q2 - q4;
	xi = d1 > 0.0 && d2 > 0.0 ? log2(d1 / d2) : 0.0;
	xi = xi > 0.0 ? (xi < 0.25 ? xi : 0.25) : 0.0;
	f = s * (double)n;
	f = f > 1.0 ? f : 1.0;
	if (xi < 1e-6)
		return (float)(q1 + d1 * log2(f));
	return (float)(q1 + d1 * (pow(f, xi) - 1.0) / (1.0 - pow(2.0, -xi)));
}

/*
 * Score every row with the first fit and drop at most ndrop of the highest
 * errors, and only those beyond drop_cut(): on a clean baseline the top
 * share is just the normal tail, and dropping it would cut the threshold's
 * sample short and raise the false-alert rate by up to the share itself.
 */
static int
drop_worst(
    struct trainer *tr, const struct model *m, size_t ndrop, size_t *dropped)
{
	struct ranked *rk;
	uint8_t *gone;
	size_t i, k;
	float cut;

	rk = calloc(tr->n, sizeof(*rk));
	gone = calloc(tr->n, 1);
	if (rk == NULL || gone == NULL) {
		free(rk);
		free(gone);
		return -ENOMEM;
	}
	split_errors(tr, &m->net, NULL, tr->z, tr->n, tr->err);
	for (i = 0; i < tr->n; i++) {
		rk[i].err = tr->err[i];
		rk[i].row = (uint32_t)i;
	}
	/* tr->hold is free until the refit gathers it again. */
	cut = drop_cut(tr->err, tr->n, tr->p->robust_drop, tr->hold);
	qsort(rk, tr->n, sizeof(*rk), ranked_cmp);
	/* Rows the caller keeps are skipped; the next worst ones may go. */
	for (i = 0, k = 0; i < tr->n && k < ndrop && rk[i].err > cut; i++)
		if (tr->p->keep == NULL || !tr->p->keep[rk[i].row]) {
			gone[rk[i].row] = 1;
			k++;
		}
	*dropped = k;
	for (i = 0, k = 0; i < tr->nkept; i++)
		if (!gone[tr->perm[i]])
			tr->perm[k++] = tr->perm[i];
	tr->nkept = k;
	split(tr);
	free(rk);
	free(gone);
	return 0;
}

struct split_job {
	const struct net *net;
	const struct model_groups *g;
	float *z;
	size_t rows;
	struct model_split *out;
};

/* Split errors of rows z into out, a block at a time. */
static void
split_job(void *arg)
{
	struct split_job *j = arg;
	size_t i, r, blk = model_net_block_rows(j->net), dim = j->net->width[0];

	for (i = 0; i < j->rows; i += r) {
		r = j->rows - i < blk ? j->rows - i : blk;
		model_net_split(j->net, j->g, j->z + i * dim, r, j->out + i);
	}
}

/*
 * Append the split errors of normalised rows z[rows] (overwritten) to the
 * out-of-sample errors, in two halves.
 */
static void
add_oos(struct trainer *tr, const struct net *net, const struct model *m,
    float *z, size_t rows)
{
	size_t ha = rows - rows / 2;
	struct model_split *o = tr->oos + tr->noos;
	struct split_job a = {net, &m->groups, z, ha, o};
	struct split_job b = {
	    net, &m->groups, z + ha * tr->dim, rows - ha, o + ha};

	run_split(tr, split_job, &a, &b);
	tr->noos += rows;
}

/*
 * Fold f's out-of-sample errors: a network fitted from the same initial
 * weights on the other folds' kept rows, for as many epochs as the first
 * fit took to its best holdout loss (no early stopping, which would need
 * a holdout of its own), scores fold f.  net is the fold's network.
 */
static int
oos_fold(struct trainer *tr, const struct model *m, struct net *net, uint32_t f)
{
	struct net_train *t;
	struct model_rng r;
	size_t i, nt = 0, nf = 0;
	uint32_t ep;

	for (i = 0; i < tr->nkept; i++)
		if (tr->fold[tr->perm[i]] != f)
			tr->order[nt++] = tr->perm[i];
	if (nt == tr->nkept || nt == 0)
		return 0; /* every row of the fold was dropped */
	if ((t = model_net_train_create(net, tr->p->batch)) == NULL)
		return -ENOMEM;
	model_net_randomize(net, tr->seed_init);
	model_rng_seed(&r, tr->seed_epoch + f);
	for (ep = 0; ep < tr->best_epoch; ep++)
		run_epoch(tr, net, t, &r, nt);
	model_net_train_free(t);
	for (i = 0; i < tr->nkept; i++)
		if (tr->fold[tr->perm[i]] == f)
			tr->order[nf++] = tr->perm[i];
	gather(tr, tr->order, nf, tr->hold);
	add_oos(tr, net, m, tr->hold, nf);
	return 0;
}

/*
 * Give every kept row an out-of-sample error: fold 0 from the final
 * network, which held it out, and each other fold from a network fitted
 * without it.  The normalisation stays the final model's: two numbers per
 * feature learnt from most of the rows, next to which what a fold's rows
 * teach it is negligible.
 */
static int
oos_errors(struct trainer *tr, const struct model *m)
{
	struct net net = m->net;
	uint32_t f;
	int error = 0;

	tr->noos = 0;
	if ((net.params = calloc(net.nparams, sizeof(*net.params))) == NULL)
		return -ENOMEM;
	for (f = 1; f < tr->p->folds && error == 0; f++)
		error = oos_fold(tr, m, &net, f);
	free(net.params);
	if (error != 0)
		return error;
	gather(tr, tr->perm + tr->ntrain, tr->nhold, tr->hold);
	add_oos(tr, &m->net, m, tr->hold, tr->nhold);
	return 0;
}

/* The threshold of one part of the out-of-sample errors (0, 1, 2). */
static float
part_threshold(struct trainer *tr, int part, char *note, size_t notesz)
{
	struct model_thresh th = {
	    .rule = tr->p->rule,
	    .rate = tr->p->target_rate,
	    .pot_quantile = tr->p->pot_quantile,
	    .margin = tr->p->quantile_margin,
	    .confidence = tr->p->confidence,
	};
	const struct model_split *o = tr->oos;
	size_t i, len;
	float t;

	for (i = 0; i < tr->noos; i++)
		tr->err[i] = part == 0 ? o[i].total
		    : part == 1	       ? o[i].own
				       : o[i].ctx;
	t = model_thresh_fit(&th, tr->err, tr->noos, note, notesz);
	if (!(t >= MODEL_THRESHOLD_MIN)) {
		len = strnlen(note, notesz);
		snprintf(note + len, notesz - len, "; raised to the minimum %g",
		    (double)MODEL_THRESHOLD_MIN);
		t = MODEL_THRESHOLD_MIN;
	}
	return t;
}

/*
 * The three thresholds, from the out-of-sample errors by the same rule;
 * the note tells the total's story and names the other two.
 */
static void
set_thresholds(struct trainer *tr, struct model *m)
{
	char scratch[MODEL_NOTE_MAX];
	size_t len;

	m->threshold = part_threshold(tr, 0, m->info.note, MODEL_NOTE_MAX);
	m->threshold_own = m->threshold;
	m->threshold_ctx = FLT_MAX;
	if (m->groups.nctx == 0)
		return;
	m->threshold_own = part_threshold(tr, 1, scratch, sizeof(scratch));
	m->threshold_ctx = part_threshold(tr, 2, scratch, sizeof(scratch));
	len = strlen(m->info.note);
	snprintf(m->info.note + len, MODEL_NOTE_MAX - len,
	    "; by the same rule, the flow's own evidence above %.4g and the "
	    "responder's context above %.4g",
	    (double)m->threshold_own, (double)m->threshold_ctx);
}

/*
 * Fit, robust drop, refit, out-of-sample errors, thresholds; fills m.  The
 * refit starts from the first fit's weights: the holdout (fold 0) is the
 * same, less any dropped rows.
 */
static int
train_model(struct trainer *tr, struct model *m)
{
	struct fit_result res = {0};
	size_t ndrop, dropped = 0;
	int error;

	if ((error = fit(tr, m, &res, 0)) != 0)
		return error;
	m->info.epochs_first = res.epochs;
	tr->best_epoch = res.best_epoch > 0 ? res.best_epoch : 1;
	ndrop = (size_t)(tr->p->robust_drop * (double)tr->n);
	if (ndrop > 0 && tr->n - ndrop >= MODEL_MIN_ROWS) {
		if ((error = drop_worst(tr, m, ndrop, &dropped)) != 0)
			return error;
	}
	if (dropped > 0) {
		if ((error = fit(tr, m, &res, 1)) != 0)
			return error;
		m->info.epochs_refit = res.epochs;
		m->info.dropped_rows = dropped;
	}
	m->info.train_loss = res.train_loss;
	m->info.holdout_loss = res.holdout_loss;
	m->info.train_rows = tr->ntrain;
	m->info.holdout_rows = tr->nhold;
	m->info.folds = tr->p->folds;
	m->info.epochs_fold = tr->best_epoch;
	/* fit() derived the groups' fill from the final normalisation. */
	if ((error = oos_errors(tr, m)) != 0)
		return error;
	m->info.oos_rows = tr->noos;
	set_thresholds(tr, m);
	/* The baseline picture is for the report: without it the model works.
	 */
	error = model_map_fit(m, tr->x, tr->n, tr->oos, tr->noos);
	return error == -ENOMEM ? error : 0;
}

/* Train a model; see model.h. */
int
model_train(struct model **mp, const float *x, size_t n, size_t dim,
    const uint8_t *xform, uint64_t feat_hash, const struct model_params *p,
    const struct model_meta *meta, char **cause)
{
	struct trainer tr = {.x = x, .n = n, .dim = dim, .p = p};
	struct model *m = NULL;
	int error;

	if ((error = check_params(p, cause)) != 0 ||
	    (error = check_data(x, n, dim, xform, p->groups, cause)) != 0 ||
	    (error = check_transfer(p, dim, cause)) != 0)
		return error;
	error = -ENOMEM;
	if ((m = model_alloc(dim, p->clip)) == NULL ||
	    model_net_init(
		&m->net, dim, p->layers, p->nlayers, p->activation) != 0 ||
	    trainer_init(&tr, &m->net) != 0)
		goto fail;
	if (p->isa != MODEL_ISA_AUTO && p->isa < m->net.isa)
		m->net.isa = p->isa;
	memcpy(m->norm.xform, xform, dim);
	if (p->groups != NULL)
		memcpy(m->groups.group, p->groups, dim);
	tr.nm = &m->norm;
	m->feat_hash = feat_hash;
	m->info.rule = p->rule;
	m->info.target_rate = p->target_rate;
	m->info.seed = p->seed;
	if (meta != NULL) {
		m->info.created_us = meta->created_us;
		m->info.first_us = meta->first_us;
		m->info.last_us = meta->last_us;
	}
	if ((error = train_model(&tr, m)) != 0)
		goto fail;
	model_info_sync(m);
	if ((error = model_compute_id(m, m->info.id)) != 0)
		goto fail;
	trainer_release(&tr);
	*mp = m;
	return 0;
fail:
	model_cause(cause, "model: training: %s", strerror(-error));
	trainer_release(&tr);
	model_free(m);
	return error;
}
