/*
 * Speed of the model module: training time on 100 k synthetic rows of 64
 * features with the daemon's default parameters, and scoring throughput of
 * model_score_batch() beside two baselines run in the same process (a
 * plain pass summing the same rows, and the single-row model_score()
 * loop).  Prints its figures and exits 0 whatever they are.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "model/model.h"
#include "model/model-int.h"

#define DIM 64
#define LATENT 6
#define TRAIN_ROWS 100000
#define SCORE_ROWS 2000000
#define TARGET_ROWS_PER_S 1e6
#define TARGET_TRAIN_S 15.0

static double
now(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/*
 * Flow-like rows: heavy-tailed counts and durations, flags and shares, all
 * driven by a few latent factors plus noise.
 */
static void
synth(
    struct model_rng *r, const float *load, float *x, size_t n, uint8_t *xform)
{
	double f[LATENT], s;
	size_t i, j, k;

	for (i = 0; i < n; i++) {
		for (k = 0; k < LATENT; k++)
			f[k] = model_rng_normal(r);
		for (j = 0; j < DIM; j++) {
			s = 0.1 * model_rng_normal(r);
			for (k = 0; k < LATENT; k++)
				s += load[j * LATENT + k] * f[k];
			switch (j % 4) {
			case 0:
				x[i * DIM + j] = (float)exp(2 + s);
				xform[j] = MODEL_XFORM_LOG1P;
				break;
			case 1:
				x[i * DIM + j] = s > 0.5 ? 1.0f : 0.0f;
				xform[j] = MODEL_XFORM_LINEAR;
				break;
			case 2:
				x[i * DIM + j] = (float)(1 / (1 + exp(-s)));
				xform[j] = MODEL_XFORM_LINEAR;
				break;
			default:
				x[i * DIM + j] = (float)exp(3 * s);
				xform[j] = MODEL_XFORM_LOG1P;
				break;
			}
		}
	}
}

static const char *
met(int ok)
{
	return ok ? "met" : "NOT met";
}

static const char *const isa_names[] = {"widest", "base", "avx2", "avx512"};

/*
 * Train on the first TRAIN_ROWS rows with the given number of threads and
 * kernels, and print the figures.
 */
static struct model *
bench_train(
    const float *x, const uint8_t *xform, uint32_t threads, enum model_isa isa)
{
	struct model_params p;
	struct model *m = NULL;
	const struct model_info *in;
	uint8_t groups[DIM];
	char *cause = NULL;
	double t0, t1, c0, c1;
	size_t i;

	model_params_default(&p);
	/* Six context features, as the daemon's resp_flows_* and
	 * resp_src_hosts_*: split thresholds and context dropout. */
	memset(groups, MODEL_GROUP_OWN, sizeof(groups));
	memset(groups + DIM - 6, MODEL_GROUP_CTX, 6);
	p.groups = groups;
	p.threads = threads;
	p.isa = isa;
	t0 = now(CLOCK_MONOTONIC);
	c0 = now(CLOCK_PROCESS_CPUTIME_ID);
	if (model_train(&m, x, TRAIN_ROWS, DIM, xform, 1, &p, NULL, &cause) !=
	    0) {
		printf("model train: failed: %s\n", cause);
		free(cause);
		return NULL;
	}
	t1 = now(CLOCK_MONOTONIC);
	c1 = now(CLOCK_PROCESS_CPUTIME_ID);
	in = model_info(m);
	printf("model train: %d rows x %d, layers", TRAIN_ROWS, DIM);
	for (i = 0; i < in->nhidden; i++)
		printf("%s%u", i ? "-" : " ", in->hidden[i]);
	printf(" %s, batch %u, max epochs %u, epochs %u + %u, dropped %llu\n",
	    model_act_name(in->activation), p.batch, p.max_epochs,
	    in->epochs_first, in->epochs_refit,
	    (unsigned long long)in->dropped_rows);
	printf("model train: %u thread%s, %s kernels: %.2f s wall, %.2f s cpu "
	       "(target <= %.0f s on one core: %s), model %s\n",
	    threads, threads > 1 ? "s" : "", isa_names[isa], t1 - t0, c1 - c0,
	    TARGET_TRAIN_S, threads > 1 ? "-" : met(c1 - c0 <= TARGET_TRAIN_S),
	    in->id);
	printf("model train: loss %.4f, holdout %.4f, threshold %.4f, own "
	       "%.4f, ctx %.4f (%s)\n",
	    in->train_loss, in->holdout_loss, in->threshold, in->threshold_own,
	    in->threshold_ctx, in->note);
	return m;
}

/* Score SCORE_ROWS rows three ways and print the rates. */
static void
bench_score(const struct model *m, const float *x, float *out)
{
	double t0, t1, sum = 0.0, rate_batch, rate_one, rate_sum;
	size_t i, j;

	t0 = now(CLOCK_PROCESS_CPUTIME_ID);
	for (i = 0; i < (size_t)SCORE_ROWS * DIM; i += DIM)
		for (j = 0; j < DIM; j++)
			sum += x[i + j];
	t1 = now(CLOCK_PROCESS_CPUTIME_ID);
	rate_sum = SCORE_ROWS / (t1 - t0);

	t0 = now(CLOCK_PROCESS_CPUTIME_ID);
	model_score_batch(m, x, SCORE_ROWS, out);
	t1 = now(CLOCK_PROCESS_CPUTIME_ID);
	rate_batch = SCORE_ROWS / (t1 - t0);

	t0 = now(CLOCK_PROCESS_CPUTIME_ID);
	for (i = 0; i < SCORE_ROWS / 4; i++)
		out[i] = model_score(m, x + i * DIM);
	t1 = now(CLOCK_PROCESS_CPUTIME_ID);
	rate_one = (SCORE_ROWS / 4) / (t1 - t0);

	printf("model score: batch %.2f M rows/s over %d rows "
	       "(target >= %.0f M rows/s: %s)\n",
	    rate_batch / 1e6, SCORE_ROWS, TARGET_ROWS_PER_S / 1e6,
	    met(rate_batch >= TARGET_ROWS_PER_S));
	printf("model score: baseline single-row model_score %.2f M rows/s, "
	       "plain sum pass %.1f M rows/s (checksum %g)\n",
	    rate_one / 1e6, rate_sum / 1e6, sum);
}

int
main(void)
{
	struct model_rng r;
	struct model *m;
	float load[DIM * LATENT], *x, *out;
	uint8_t xform[DIM];
	size_t i;

	x = malloc((size_t)SCORE_ROWS * DIM * sizeof(*x));
	out = malloc((size_t)SCORE_ROWS * sizeof(*out));
	if (x == NULL || out == NULL) {
		printf("model bench: out of memory\n");
		return 0;
	}
	model_rng_seed(&r, 42);
	for (i = 0; i < DIM * LATENT; i++)
		load[i] = (float)(model_rng_normal(&r) / 2.0);
	synth(&r, load, x, SCORE_ROWS, xform);
	printf("model bench: widest kernels this CPU runs: %s\n",
	    isa_names[model_isa_best()]);
	model_free(bench_train(x, xform, 2, MODEL_ISA_AUTO));
	/* The same training on the base kernels (SSE2 on x86-64): the
	 * baseline, and the same model id. */
	if (model_isa_best() != MODEL_ISA_BASE)
		model_free(bench_train(x, xform, 1, MODEL_ISA_BASE));
	if ((m = bench_train(x, xform, 1, MODEL_ISA_AUTO)) != NULL)
		bench_score(m, x, out);
	model_free(m);
	free(x);
	free(out);
	return 0;
}
