/*
 * Check tests for the model module: one suite per source file.
 *
 * All data is synthetic and seeded: rows of `dim` features driven by a few
 * latent factors plus small noise (in distribution), or with the same
 * per-feature spread but no shared structure (out of distribution).  Sizes
 * are kept small so the whole program runs in seconds under sanitizers.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "model/model.h"
#include "model/model-int.h"

#define FEAT_HASH 0x0123456789abcdefULL
#define MAX_LATENT 8

/* ---- synthetic data ---------------------------------------------------- */

struct synth {
	size_t dim, latent;
	double load[MODEL_MAX_DIM * MAX_LATENT];
	double noise;
	struct model_rng rng;
};

/* Random loadings for dim features from latent factors. */
static void
synth_init(
    struct synth *s, uint64_t seed, size_t dim, size_t latent, double noise)
{
	size_t i;

	s->dim = dim;
	s->latent = latent;
	s->noise = noise;
	model_rng_seed(&s->rng, seed);
	for (i = 0; i < dim * latent; i++)
		s->load[i] = model_rng_normal(&s->rng) / sqrt((double)latent);
}

/* n in-distribution rows: x = L f + noise, f standard normal. */
static void
synth_rows(struct synth *s, float *x, size_t n)
{
	double f[MAX_LATENT], v;
	size_t i, j, k;

	for (i = 0; i < n; i++) {
		for (k = 0; k < s->latent; k++)
			f[k] = model_rng_normal(&s->rng);
		for (j = 0; j < s->dim; j++) {
			v = s->noise * model_rng_normal(&s->rng);
			for (k = 0; k < s->latent; k++)
				v += s->load[j * s->latent + k] * f[k];
			x[i * s->dim + j] = (float)v;
		}
	}
}

/* n rows with each feature's spread but no latent structure. */
static void
synth_ood(struct synth *s, float *x, size_t n)
{
	double sd, l;
	size_t i, j, k;

	for (j = 0; j < s->dim; j++) {
		sd = s->noise * s->noise;
		for (k = 0; k < s->latent; k++) {
			l = s->load[j * s->latent + k];
			sd += l * l;
		}
		sd = sqrt(sd);
		for (i = 0; i < n; i++)
			x[i * s->dim + j] =
			    (float)(sd * model_rng_normal(&s->rng));
	}
}

static float *
xalloc_rows(size_t n, size_t dim)
{
	float *x = calloc(n * dim, sizeof(*x));

	ck_assert_msg(x != NULL, "test rows should be allocated");
	return x;
}

/* n rows of a rank-3 baseline with noise 0.2 from seed (caller frees). */
static float *
rank3_rows(uint64_t seed, size_t n, size_t dim)
{
	struct synth s;
	float *x = xalloc_rows(n, dim);

	synth_init(&s, seed, dim, 3, 0.2);
	synth_rows(&s, x, n);
	return x;
}

/* Train on x or fail the test with the cause. */
static struct model *
train_ok(const float *x, size_t n, size_t dim, const uint8_t *xform,
    const struct model_params *p)
{
	struct model *m = NULL;
	char *cause = NULL;
	int error;

	error = model_train(&m, x, n, dim, xform, FEAT_HASH, p, NULL, &cause);
	ck_assert_msg(error == 0, "training should succeed: %s",
	    cause ? cause : "(no cause)");
	ck_assert_msg(m != NULL, "training should return a model");
	free(cause);
	return m;
}

/* Probability that a random positive scores above a random negative. */
static double
auc(const float *pos, size_t np, const float *neg, size_t nn)
{
	double wins = 0.0;
	size_t i, j;

	for (i = 0; i < np; i++)
		for (j = 0; j < nn; j++)
			wins += pos[i] > neg[j] ? 1.0
			    : pos[i] == neg[j]	? 0.5
						: 0;
	return wins / ((double)np * (double)nn);
}

/* Small parameters for test-sized data. */
static void
small_params(struct model_params *p, size_t dim)
{
	model_params_default(p);
	p->layers[0] = (uint32_t)(dim / 2);
	p->layers[1] = 6;
	p->layers[2] = (uint32_t)(dim / 2);
	p->nlayers = 3;
	p->batch = 64;
}

/* ---- rng.c -------------------------------------------------------------- */

START_TEST(test_rng_splitmix_reference)
{
	uint64_t st = 0;

	/* The published splitmix64 sequence from state 0. */
	ck_assert_msg(model_splitmix64(&st) == 0xe220a8397b1dcdafULL,
	    "splitmix64 from 0 should give the reference first output");
	ck_assert_msg(model_splitmix64(&st) == 0x6e789e6aa1b965f4ULL,
	    "splitmix64 from 0 should give the reference second output");
}
END_TEST

START_TEST(test_rng_same_seed)
{
	struct model_rng a, b, c;
	int i, same = 1, differ = 0;

	model_rng_seed(&a, 7);
	model_rng_seed(&b, 7);
	model_rng_seed(&c, 8);
	for (i = 0; i < 1000; i++) {
		uint64_t va = model_rng_next(&a), vc = model_rng_next(&c);

		same &= va == model_rng_next(&b);
		differ |= va != vc;
	}
	ck_assert_msg(same, "one seed should give one sequence");
	ck_assert_msg(differ, "two seeds should give two sequences");
}
END_TEST

static const uint64_t below_bounds[] = {1, 2, 3, 7, 10, 1000};

START_TEST(test_rng_below)
{
	uint64_t bound = below_bounds[_i], v;
	int seen[1000] = {0}, i, all = 1;
	struct model_rng r;

	model_rng_seed(&r, 3);
	for (i = 0; i < 20000; i++) {
		v = model_rng_below(&r, bound);
		ck_assert_msg(v < bound, "rng_below(%llu) should stay below",
		    (unsigned long long)bound);
		seen[v] = 1;
	}
	for (v = 0; v < bound; v++)
		all &= seen[v];
	ck_assert_msg(all, "rng_below(%llu) should reach every value",
	    (unsigned long long)bound);
}
END_TEST

START_TEST(test_rng_shuffle_permutes)
{
	uint32_t idx[257], count[257] = {0};
	struct model_rng r;
	size_t i;
	float f;

	for (i = 0; i < 257; i++)
		idx[i] = (uint32_t)i;
	model_rng_seed(&r, 11);
	model_rng_shuffle(&r, idx, 257);
	for (i = 0; i < 257; i++)
		count[idx[i]]++;
	for (i = 0; i < 257; i++)
		ck_assert_msg(count[i] == 1,
		    "shuffle should keep every index exactly once (%zu)", i);
	for (i = 0; i < 10000; i++) {
		f = model_rng_float(&r);
		ck_assert_msg(
		    f >= 0.0f && f < 1.0f, "rng_float should lie in [0, 1)");
	}
}
END_TEST

static Suite *
rng_suite(void)
{
	Suite *s = suite_create("model rng");
	TCase *tc = tcase_create("sequence");

	tcase_add_test(tc, test_rng_splitmix_reference);
	tcase_add_test(tc, test_rng_same_seed);
	tcase_add_loop_test(tc, test_rng_below, 0,
	    sizeof(below_bounds) / sizeof(below_bounds[0]));
	tcase_add_test(tc, test_rng_shuffle_permutes);
	suite_add_tcase(s, tc);
	return s;
}

/* ---- norm.c ------------------------------------------------------------- */

START_TEST(test_norm_logf_accuracy)
{
	double x, want, got, worst = 0.0;

	for (x = 1.0; x < 1e30; x *= 1.37) {
		want = log(x);
		got = model_logf((float)x);
		if (fabs(got - log((float)x)) > worst)
			worst = fabs(got - log((float)x));
		(void)want;
	}
	ck_assert_msg(worst < 1e-5,
	    "fast log should be within 1e-5 of log "
	    "(worst %g)",
	    worst);
	ck_assert_msg(model_logf(1.0f) == 0.0f, "log(1) should be exactly 0");
	ck_assert_msg(isfinite(model_logf(INFINITY)),
	    "log(inf) should stay finite (clipped later)");
}
END_TEST

/* A norm for dim features fitted to x[n * dim]. */
static void
norm_fit_rows(struct model_norm *nm, const float *x, size_t n, size_t dim,
    const uint8_t *xform)
{
	uint32_t *idx = calloc(n, sizeof(*idx));
	float *scratch = calloc(n, sizeof(*scratch));
	size_t i;

	ck_assert_msg(
	    model_norm_init(nm, dim, 10.0f) == 0, "norm should allocate");
	memcpy(nm->xform, xform, dim);
	for (i = 0; i < n; i++)
		idx[i] = (uint32_t)i;
	/* In two ranges, as the trainer's two threads do. */
	model_norm_fit(nm, x, idx, n, scratch, 0, dim / 2);
	model_norm_fit(nm, x, idx, n, scratch, dim / 2, dim);
	model_norm_derive(nm);
	free(idx);
	free(scratch);
}

START_TEST(test_norm_log1p_clamps_negative)
{
	const uint8_t xform[2] = {MODEL_XFORM_LOG1P, MODEL_XFORM_LINEAR};
	float x[2 * 100], in[2][2] = {{-5.0f, 0.0f}, {0.0f, 0.0f}};
	float z[2][2];
	struct model_norm nm;
	double want = 0.0;
	size_t i;

	for (i = 0; i < 100; i++) {
		x[2 * i] = (float)i;
		x[2 * i + 1] = (float)i;
		want += log1p((double)i) / 100.0;
	}
	norm_fit_rows(&nm, x, 100, 2, xform);
	ck_assert_msg(fabs(nm.mean[0] - want) < 1e-5,
	    "log1p feature mean should be %g, the mean of log(1 + i), not %g",
	    want, nm.mean[0]);
	ck_assert_msg(nm.mean[1] == 49.5f, "linear mean should be 49.5");
	model_norm_apply(&nm, &in[0][0], 2, &z[0][0]);
	ck_assert_msg(z[0][0] == z[1][0],
	    "log1p of a negative value should equal log1p of 0");
	model_norm_release(&nm);
}
END_TEST

START_TEST(test_norm_constant_and_clip)
{
	const uint8_t xform[2] = {0, 0};
	float x[2 * 200], in[4][2], z[4][2];
	struct model_norm nm;
	size_t i;

	for (i = 0; i < 200; i++) {
		x[2 * i] = 5.0f;
		x[2 * i + 1] = (float)(i % 2);
	}
	norm_fit_rows(&nm, x, 200, 2, xform);
	ck_assert_msg(nm.std[0] == MODEL_STD_FLOOR,
	    "a constant feature should get the std floor, not 0");
	in[0][0] = 5.0f, in[0][1] = 0.5f;
	in[1][0] = 1e30f, in[1][1] = -1e30f;
	in[2][0] = NAN, in[2][1] = INFINITY;
	in[3][0] = 5.001f, in[3][1] = -INFINITY;
	model_norm_apply(&nm, &in[0][0], 4, &z[0][0]);
	ck_assert_msg(z[0][0] == 0.0f && z[0][1] == 0.0f,
	    "baseline means should normalise to 0");
	ck_assert_msg(z[1][0] == 10.0f && z[1][1] == -10.0f,
	    "huge values should clip to +-10");
	ck_assert_msg(z[2][0] == -10.0f && z[2][1] == 10.0f,
	    "NaN should clip to -10 and +inf to +10");
	ck_assert_msg(fabsf(z[3][0] - 0.001f / MODEL_STD_FLOOR) < 1e-4f &&
		z[3][1] == -10.0f,
	    "a small change of a constant feature should stay small");
	model_norm_release(&nm);
}
END_TEST

START_TEST(test_norm_quantiles)
{
	const uint8_t xform[1] = {MODEL_XFORM_LOG1P};
	float x[1000];
	struct model_norm nm;
	size_t i;

	/* A scrambled 0..999 so selection has work to do. */
	for (i = 0; i < 1000; i++)
		x[i] = (float)((i * 617) % 1000);
	norm_fit_rows(&nm, x, 1000, 1, xform);
	ck_assert_msg(fabsf(nm.p50[0] - 499.5f) < 1e-3f,
	    "p50 of 0..999 should be 499.5, not %g", nm.p50[0]);
	ck_assert_msg(fabsf(nm.p99[0] - 989.01f) < 1e-2f,
	    "p99 of 0..999 should be 989.01, not %g", nm.p99[0]);
	model_norm_release(&nm);
}
END_TEST

static const struct {
	size_t n;
	double q;
	float want;
} quantile_cases[] = {
    {1, 0.5, 0.0f},
    {2, 0.5, 0.5f},
    {5, 0.0, 0.0f},
    {5, 1.0, 4.0f},
    {5, 0.75, 3.0f},
    {10, 0.99, 8.91f},
};

START_TEST(test_norm_quantile_edges)
{
	float v[16];
	size_t i, n = quantile_cases[_i].n;
	float got;

	for (i = 0; i < n; i++)
		v[i] = (float)(n - 1 - i);
	got = model_quantile(v, n, quantile_cases[_i].q);
	ck_assert_msg(fabsf(got - quantile_cases[_i].want) < 1e-5f,
	    "quantile %g of 0..%zu should be %g, not %g", quantile_cases[_i].q,
	    n - 1, quantile_cases[_i].want, got);
}
END_TEST

static Suite *
norm_suite(void)
{
	Suite *s = suite_create("model norm");
	TCase *tc = tcase_create("transform");

	tcase_add_test(tc, test_norm_logf_accuracy);
	tcase_add_test(tc, test_norm_log1p_clamps_negative);
	tcase_add_test(tc, test_norm_constant_and_clip);
	tcase_add_test(tc, test_norm_quantiles);
	tcase_add_loop_test(tc, test_norm_quantile_edges, 0,
	    sizeof(quantile_cases) / sizeof(quantile_cases[0]));
	suite_add_tcase(s, tc);
	return s;
}

/* ---- net.c -------------------------------------------------------------- */

/*
 * The analytic gradient should match central differences of the loss.
 * The loss is a float computation, so the difference quotient is formed in
 * double from two float losses with eps 1e-3 (rounding error about
 * 1e-7 / 1e-3, small enough that ReLU kinks are rarely crossed); tolerance
 * 2e-3 + 2e-2 |g|.
 */
START_TEST(test_net_gradient)
{
	const uint32_t hidden[3] = {4, 3, 4};
	const size_t dim = 5, rows = 3;
	enum model_act act = (enum model_act)_i;
	struct net n;
	struct net_train *t;
	struct model_rng r;
	/* The second pass masks row 1's features 1 and 4, as own does. */
	const uint8_t masked[3] = {0, 1, 0};
	const float mask[5] = {1, 0, 1, 1, 0};
	const uint8_t *mk;
	float z[15], *g, *ana, save, lp, lm;
	double num, eps = 1e-3, err;
	size_t i, pass, bad = 0;

	ck_assert_msg(model_net_init(&n, dim, hidden, 3, act) == 0,
	    "net should initialise");
	model_net_randomize(&n, 5);
	model_rng_seed(&r, 9);
	for (i = 0; i < n.nparams; i++)
		n.params[i] += 0.1f * (float)model_rng_normal(&r);
	for (i = 0; i < dim * rows; i++)
		z[i] = (float)model_rng_normal(&r);
	t = model_net_train_create(&n, rows);
	ck_assert_msg(t != NULL, "training state should allocate");
	ana = calloc(n.nparams, sizeof(*ana));
	for (pass = 0; pass < 2; pass++) {
		mk = pass == 0 ? NULL : masked;
		model_net_loss_grad(&n, t, z, mk, mask, rows);
		g = model_net_train_grad(t);
		memcpy(ana, g, n.nparams * sizeof(*ana));
		for (i = 0; i < n.nparams; i++) {
			save = n.params[i];
			n.params[i] = save + (float)eps;
			lp = model_net_loss_grad(&n, t, z, mk, mask, rows);
			n.params[i] = save - (float)eps;
			lm = model_net_loss_grad(&n, t, z, mk, mask, rows);
			n.params[i] = save;
			num = ((double)lp - (double)lm) / (2.0 * eps);
			err = fabs(num - ana[i]);
			if (err > 2e-3 + 2e-2 * fabs(num)) {
				fprintf(stderr,
				    "%s pass %zu param %zu: analytic %g "
				    "numeric %g\n",
				    model_act_name(act), pass, i, ana[i], num);
				bad++;
			}
		}
	}
	ck_assert_msg(bad == 0,
	    "%s backprop should match finite differences, with and "
	    "without a masked row (%zu of %zu differ)",
	    model_act_name(act), bad, 2 * n.nparams);
	free(ana);
	model_net_train_free(t);
	model_net_release(&n);
}
END_TEST

static const size_t gemm_shapes[][3] = {
    {1, 1, 1},
    {2, 3, 5},
    {3, 17, 9},
    {5, 32, 64},
    {7, 8, 3},
    {64, 64, 32},
    {4, 20, 13},
    {3, 48, 64},
    {9, 12, 48},
    {64, 48, 64},
    {2, 100, 7},
};

/*
 * model_gemm should give exactly the in-order sum: that is what makes
 * scores independent of blocking.  volatile stops the reference loop from
 * being fused into multiply-adds on a -march build.
 */
START_TEST(test_net_gemm_exact)
{
	size_t m = gemm_shapes[_i][0], n = gemm_shapes[_i][1];
	size_t k = gemm_shapes[_i][2], i, j, p;
	float *a = calloc(m * k, 4), *b = calloc(k * n, 4);
	float *c = calloc(m * n, 4), *ref = calloc(m * n, 4);
	float *c0 = calloc(m * n, 4), *at = calloc(m * k, 4);
	volatile float prod;
	struct model_rng r;
	float s;
	int isa, tn, best = (int)model_isa_best();

	model_rng_seed(&r, 1 + _i);
	for (i = 0; i < m * k; i++)
		a[i] = (float)model_rng_normal(&r);
	for (i = 0; i < m; i++)
		for (p = 0; p < k; p++)
			at[p * m + i] = a[i * k + p];
	for (i = 0; i < k * n; i++)
		b[i] = (float)model_rng_normal(&r);
	for (i = 0; i < m * n; i++)
		c0[i] = ref[i] = (float)model_rng_normal(&r);
	for (i = 0; i < m; i++) {
		for (j = 0; j < n; j++) {
			s = ref[i * n + j];
			for (p = 0; p < k; p++) {
				prod = a[i * k + p] * b[p * n + j];
				s += prod;
			}
			ref[i * n + j] = s;
		}
	}
	/*
	 * Every instruction set this CPU runs, and the default; then the same
	 * product from A stored transposed.
	 */
	for (isa = MODEL_ISA_AUTO; isa <= best; isa++) {
		for (tn = 0; tn < 2; tn++) {
			memcpy(c, c0, m * n * 4);
			(tn ? model_gemm_tn_isa : model_gemm_isa)(
			    (enum model_isa)isa, m, n, k, tn ? at : a,
			    tn ? m : k, b, n, c, n);
			ck_assert_msg(memcmp(c, ref, m * n * 4) == 0,
			    "gemm%s %zux%zux%zu (isa %d) should equal the "
			    "in-order sum bit for bit",
			    tn ? "_tn" : "", m, n, k, isa);
		}
	}
	free(a);
	free(b);
	free(c);
	free(ref);
	free(c0);
	free(at);
}
END_TEST

static Suite *
net_suite(void)
{
	Suite *s = suite_create("model net");
	TCase *tc = tcase_create("backprop");

	tcase_add_loop_test(
	    tc, test_net_gradient, MODEL_ACT_RELU, MODEL_ACT_ELU + 1);
	tcase_add_loop_test(tc, test_net_gemm_exact, 0,
	    sizeof(gemm_shapes) / sizeof(gemm_shapes[0]));
	suite_add_tcase(s, tc);
	return s;
}

/* ---- thresh.c ----------------------------------------------------------- */

/*
 * 1000 errors, rate 0.01: Binomial(1000, 0.01) >= 6 has probability 0.93
 * and >= 7 only 0.87, so at confidence 0.9 the rule takes the 6th largest;
 * at 0.5 the 10th (P(>= 10) = 0.54, P(>= 11) = 0.42), next to the plain
 * quantile.
 */
START_TEST(test_thresh_quantile_known)
{
	struct model_thresh t = {MODEL_RULE_QUANTILE, 0.01, 0.98, 1.5, 0.9};
	float err[1000], thr;
	char note[MODEL_NOTE_MAX];
	size_t i;

	for (i = 0; i < 1000; i++)
		err[i] = (float)((i * 7) % 1000) / 1000.0f;
	thr = model_thresh_fit(&t, err, 1000, note, sizeof(note));
	ck_assert_msg(fabsf(thr - 0.994f) < 1e-6f,
	    "at confidence 0.9 the rule should take the 6th largest of "
	    "0..0.999, 0.994, not %g",
	    thr);
	ck_assert_msg(strstr(note, "quantile") != NULL &&
		strstr(note, "6th largest") != NULL,
	    "the note should name the quantile rule and the order: %s", note);
	t.confidence = 0.5;
	thr = model_thresh_fit(&t, err, 1000, note, sizeof(note));
	ck_assert_msg(fabsf(thr - 0.990f) < 1e-6f,
	    "at confidence 0.5 the rule should take the 10th largest, 0.990, "
	    "not %g",
	    thr);
}
END_TEST

/* Orders checked against an exact binomial sum done elsewhere. */
START_TEST(test_thresh_order)
{
	ck_assert_uint_eq(model_thresh_order(1000, 0.01, 0.9), 6);
	ck_assert_uint_eq(model_thresh_order(1000, 0.01, 0.5), 10);
	ck_assert_uint_eq(model_thresh_order(2542, 0.001, 0.9), 1);
	ck_assert_uint_eq(model_thresh_order(2302, 0.001, 0.9), 1);
	ck_assert_uint_eq(model_thresh_order(2301, 0.001, 0.9), 0);
	ck_assert_uint_eq(model_thresh_order(20000, 0.001, 0.9), 14);
	/* n * rate = 4000: the log-space sum must not underflow to k = n. */
	ck_assert_uint_eq(model_thresh_order(20000, 0.2, 0.9) < 4000, 1);
	ck_assert_uint_eq(model_thresh_order(20000, 0.2, 0.9) > 3850, 1);
}
END_TEST

/*
 * The promise of the rule: over many baselines, the threshold lets through
 * more than the target rate of normal traffic in at most 1 - confidence
 * of them.  Errors uniform on [0, 1) make the true exceedance 1 - thr.
 * n = 5000 at rate 0.001: confidence 0.9 takes the 2nd largest, which is
 * over the rate with probability P(Binomial(5000, 0.001) < 2) = 0.040
 * (the orders are discrete, so the bound is met with room), 16 of 400
 * trials, standard deviation 4; at 0.5 the 5th largest, over in 0.44 of
 * them, 176.
 */
START_TEST(test_thresh_quantile_coverage)
{
	struct model_thresh t = {MODEL_RULE_QUANTILE, 0.001, 0.98, 1.5, 0.9};
	const size_t n = 5000, trials = 400;
	float *err = malloc(n * sizeof(*err)), thr;
	char note[MODEL_NOTE_MAX];
	uint64_t st = 12345;
	size_t i, k, over[2] = {0, 0};

	ck_assert_ptr_nonnull(err);
	for (k = 0; k < 2; k++) {
		t.confidence = k == 0 ? 0.9 : 0.5;
		for (i = 0; i < trials; i++) {
			size_t j;

			for (j = 0; j < n; j++) {
				st = st * 6364136223846793005ULL +
				    1442695040888963407ULL;
				err[j] = (float)(st >> 40) / 16777216.0f;
			}
			thr = model_thresh_fit(&t, err, n, note, sizeof(note));
			over[k] += 1.0 - (double)thr > t.rate;
		}
	}
	free(err);
	ck_assert_msg(over[0] >= 4 && over[0] <= 32,
	    "at confidence 0.9 about 16 of 400 thresholds should let more "
	    "than the rate through, not %zu",
	    over[0]);
	ck_assert_msg(over[1] >= 140,
	    "at confidence 0.5 about half should, not %zu of 400", over[1]);
}
END_TEST

START_TEST(test_thresh_small_sample_margin)
{
	struct model_thresh t = {MODEL_RULE_QUANTILE, 0.001, 0.98, 1.5, 0.9};
	float err[40], thr;
	char note[MODEL_NOTE_MAX];
	size_t i;

	/* 200 flows with 20 % held out: 40 errors, rate 0.001. */
	for (i = 0; i < 40; i++)
		err[i] = 0.1f + (float)i / 100.0f;
	thr = model_thresh_fit(&t, err, 40, note, sizeof(note));
	ck_assert_msg(fabsf(thr - 0.49f * 1.5f) < 1e-5f,
	    "too few errors for the rate should give max x margin, not %g",
	    thr);
	ck_assert_msg(strstr(note, "too few") != NULL,
	    "the note should say the sample was too small: %s", note);
}
END_TEST

/* Exponential(1) errors: every rule should land near -log(rate). */
START_TEST(test_thresh_pot_exponential)
{
	struct model_thresh t = {MODEL_RULE_POT, 0.0005, 0.98, 1.5, 0.9};
	struct model_rng r;
	float *err = calloc(20000, sizeof(*err)), thr;
	char note[MODEL_NOTE_MAX];
	double want = -log(0.0005);
	size_t i;

	model_rng_seed(&r, 21);
	for (i = 0; i < 20000; i++)
		err[i] = (float)-log(1.0 - model_rng_float(&r));
	thr = model_thresh_fit(&t, err, 20000, note, sizeof(note));
	ck_assert_msg(strstr(note, "generalised Pareto fit") != NULL &&
		strstr(note, "the 400 largest of 20 000 out-of-sample") !=
		    NULL &&
		strstr(note, "1 in 2 000 normal flows") != NULL,
	    "POT should fit 400 peaks and say so in words: %s", note);
	/* 400 peaks: the estimate's spread at 1/40 of u's tail is ~8 %. */
	ck_assert_msg(fabs(thr - want) < 0.2 * want,
	    "POT threshold should be near %g, not %g", want, thr);
	free(err);
}
END_TEST

/* GPD with xi 0.3: the fit should recover the shape roughly. */
START_TEST(test_thresh_gpd_fit)
{
	struct model_rng r;
	double *y = calloc(2000, sizeof(*y)), xi, sigma, u;
	size_t i;

	model_rng_seed(&r, 5);
	for (i = 0; i < 2000; i++) {
		u = 1.0 - model_rng_float(&r);
		y[i] = 2.0 / 0.3 * (pow(u, -0.3) - 1.0);
	}
	ck_assert_msg(model_gpd_fit(y, 2000, &xi, &sigma) == 0,
	    "GPD fit should succeed on GPD data");
	ck_assert_msg(fabs(xi - 0.3) < 0.1 && fabs(sigma - 2.0) < 0.3,
	    "GPD fit should find xi 0.3 sigma 2, not %g %g", xi, sigma);
	y[0] = -1.0;
	ck_assert_msg(model_gpd_fit(y, 2000, &xi, &sigma) == -EDOM,
	    "GPD fit should refuse a non-positive peak");
	free(y);
}
END_TEST

START_TEST(test_thresh_pot_fallback)
{
	struct model_thresh t = {MODEL_RULE_POT, 0.01, 0.98, 1.5, 0.9};
	float err[300], thr;
	char note[MODEL_NOTE_MAX];
	size_t i;

	/* 300 errors above 0.98: 6 peaks, too few to fit. */
	for (i = 0; i < 300; i++)
		err[i] = (float)i;
	thr = model_thresh_fit(&t, err, 300, note, sizeof(note));
	ck_assert_msg(strstr(note,
			  "6 errors above the 0.98 quantile are too "
			  "few for a Pareto fit") != NULL &&
		strstr(note, "largest of 300") != NULL,
	    "POT with 6 peaks should fall back to the quantile: %s", note);
	/* 300 errors at rate 0.01 and confidence 0.9: the largest. */
	ck_assert_msg(fabsf(thr - 299.0f) < 1e-3f,
	    "the fallback should be the quantile rule's bound, 299, not %g",
	    thr);
	t.rate = 0.05;
	thr = model_thresh_fit(&t, err, 300, note, sizeof(note));
	ck_assert_msg(strstr(note, "not beyond") != NULL,
	    "POT for a rate inside the bulk should fall back: %s", note);
}
END_TEST

START_TEST(test_thresh_names)
{
	enum model_rule rule = MODEL_RULE_POT;
	enum model_act act = MODEL_ACT_RELU;

	ck_assert_str_eq(model_rule_name(MODEL_RULE_QUANTILE), "quantile");
	ck_assert_str_eq(model_rule_name(MODEL_RULE_POT), "pot");
	ck_assert_str_eq(model_rule_name((enum model_rule)9), "unknown");
	ck_assert_msg(model_rule_parse("quantile", &rule) == 0 &&
		rule == MODEL_RULE_QUANTILE,
	    "\"quantile\" should parse");
	ck_assert_msg(model_rule_parse("Pot", &rule) == -EINVAL &&
		rule == MODEL_RULE_QUANTILE,
	    "a wrong name should be refused and leave the rule alone");
	ck_assert_msg(
	    model_rule_parse(NULL, &rule) == -EINVAL, "NULL should be refused");
	ck_assert_msg(
	    model_act_parse("tanh", &act) == 0 && act == MODEL_ACT_TANH,
	    "\"tanh\" should parse");
	ck_assert_str_eq(model_act_name(MODEL_ACT_ELU), "elu");
	ck_assert_msg(model_act_parse("sigmoid", &act) == -EINVAL &&
		act == MODEL_ACT_TANH,
	    "an unknown activation should be refused");
}
END_TEST

static Suite *
thresh_suite(void)
{
	Suite *s = suite_create("model thresh");
	TCase *tc = tcase_create("rules");

	tcase_add_test(tc, test_thresh_quantile_known);
	tcase_add_test(tc, test_thresh_order);
	tcase_add_test(tc, test_thresh_quantile_coverage);
	tcase_add_test(tc, test_thresh_small_sample_margin);
	tcase_add_test(tc, test_thresh_pot_exponential);
	tcase_add_test(tc, test_thresh_gpd_fit);
	tcase_add_test(tc, test_thresh_pot_fallback);
	tcase_add_test(tc, test_thresh_names);
	suite_add_tcase(s, tc);
	return s;
}

/* ---- train.c ------------------------------------------------------------ */

/* Mean holdout loss after training on low-rank rows for some epochs. */
static float
lowrank_loss(uint32_t epochs)
{
	const size_t dim = 64, n = 3000;
	struct model_params p;
	struct synth s;
	struct model *m;
	uint8_t xform[64] = {0};
	float *x = xalloc_rows(n, dim), loss;

	synth_init(&s, 100, dim, 4, 0.1);
	synth_rows(&s, x, n);
	small_params(&p, dim);
	p.max_epochs = epochs;
	p.robust_drop = 0.0;
	m = train_ok(x, n, dim, xform, &p);
	loss = model_info(m)->holdout_loss;
	ck_assert_msg(model_info(m)->epochs_first <= epochs,
	    "training should stop by max_epochs");
	model_free(m);
	free(x);
	return loss;
}

/*
 * 64 features from 4 latent factors and noise 0.1 standardise to a share
 * of about 1 % noise, so a good fit reaches about 0.01; one epoch should
 * be far from it.
 */
START_TEST(test_train_lowers_loss)
{
	float one = lowrank_loss(1), full = lowrank_loss(30);

	ck_assert_msg(full < 0.5f * one,
	    "30 epochs should at least halve the loss of 1 (%g vs %g)", full,
	    one);
	ck_assert_msg(full < 0.06f,
	    "low-rank data should reconstruct to under 0.06, not %g", full);
}
END_TEST

START_TEST(test_train_separates)
{
	const size_t dim = 32, n = 3000, nt = 800;
	struct model_params p;
	struct synth s;
	struct model *m;
	uint8_t xform[32] = {0};
	float *x = xalloc_rows(n, dim), *in = xalloc_rows(nt, dim);
	float *out = xalloc_rows(nt, dim), sin[800], sout[800];
	double a;

	synth_init(&s, 200, dim, 4, 0.1);
	synth_rows(&s, x, n);
	synth_rows(&s, in, nt);
	synth_ood(&s, out, nt);
	small_params(&p, dim);
	m = train_ok(x, n, dim, xform, &p);
	model_score_batch(m, in, nt, sin);
	model_score_batch(m, out, nt, sout);
	a = auc(sout, nt, sin, nt);
	ck_assert_msg(a >= 0.99,
	    "off-manifold rows should score above "
	    "in-distribution rows with AUC >= 0.99, not %g",
	    a);
	model_free(m);
	free(x);
	free(in);
	free(out);
}
END_TEST

/*
 * Target 0.01 from 10 000 baseline rows: about 2 000 held out, so the
 * empirical 0.99 quantile's own false-alert rate has a standard deviation
 * near sqrt(0.01 * 0.99 / 2000) = 0.0022, and 20 000 fresh rows add 0.0007.
 * [0.003, 0.03] is about -3 to +9 of those: loose above, since POT and the
 * robust drop (which may remove a few tail rows) can only err upwards by a
 * little, and a rule broken by a factor of 3 either way still fails.
 */
START_TEST(test_train_rate)
{
	const size_t dim = 16, n = 10000, nt = 20000;
	enum model_rule rule = (enum model_rule)_i;
	struct model_params p;
	struct synth s;
	struct model *m;
	uint8_t xform[16] = {0};
	float *x = xalloc_rows(n, dim), *t = xalloc_rows(nt, dim);
	float *sc = calloc(nt, sizeof(*sc)), thr;
	size_t i, over = 0;
	double rate;

	synth_init(&s, 300, dim, 3, 0.2);
	synth_rows(&s, x, n);
	synth_rows(&s, t, nt);
	small_params(&p, dim);
	p.rule = rule;
	p.target_rate = 0.01;
	m = train_ok(x, n, dim, xform, &p);
	thr = model_threshold(m);
	model_score_batch(m, t, nt, sc);
	for (i = 0; i < nt; i++)
		over += sc[i] > thr;
	rate = (double)over / (double)nt;
	fprintf(stderr, "rule %s: false-alert rate %g for target 0.01 (%s)\n",
	    model_rule_name(rule), rate, model_info(m)->note);
	ck_assert_msg(rate >= 0.003 && rate <= 0.03,
	    "rule %s should give about 1 %% false alerts, not %g (%s)",
	    model_rule_name(rule), rate, model_info(m)->note);
	model_free(m);
	free(x);
	free(t);
	free(sc);
}
END_TEST

/*
 * Count planted outliers (every 100th row) scoring above the threshold.
 * 5 000 rows at a 0.001 target: the first fit holds out 20 %, the refit
 * half (see test_train_holdout_grows), and the outliers must be gone from
 * both.
 */
static size_t
outliers_caught(double drop, size_t *dropped)
{
	const size_t dim = 32, n = 5000;
	struct model_params p;
	struct synth s;
	struct model *m;
	uint8_t xform[32] = {0};
	float *x = xalloc_rows(n, dim), *o = xalloc_rows(n / 100, dim), sc;
	size_t i, caught = 0;

	synth_init(&s, 400, dim, 4, 0.1);
	synth_rows(&s, x, n);
	synth_ood(&s, o, n / 100);
	for (i = 0; i < n / 100; i++)
		memcpy(x + (i * 100 + 37) * dim, o + i * dim, dim * 4);
	small_params(&p, dim);
	p.robust_drop = drop;
	m = train_ok(x, n, dim, xform, &p);
	for (i = 0; i < n / 100; i++) {
		sc = model_score(m, x + (i * 100 + 37) * dim);
		caught += sc > model_threshold(m);
	}
	*dropped = model_info(m)->dropped_rows;
	model_free(m);
	free(x);
	free(o);
	return caught;
}

START_TEST(test_train_robust_refit)
{
	size_t caught, dropped;

	caught = outliers_caught(0.01, &dropped);
	ck_assert_msg(dropped >= 45 && dropped <= 60,
	    "the robust drop should remove about the 50 planted outliers, "
	    "not %zu",
	    dropped);
	/*
	 * Every kept row's out-of-sample error counts toward the threshold,
	 * so an outlier the drop missed sits in the tail it is judged by;
	 * allow for the few the drop may miss.
	 */
	fprintf(stderr, "robust drop: %zu dropped, %zu of 50 caught\n", dropped,
	    caught);
	ck_assert_msg(caught >= 45,
	    "after the robust refit nearly all 50 planted outliers should "
	    "score above the threshold, not %zu",
	    caught);
	caught = outliers_caught(0.0, &dropped);
	ck_assert_msg(dropped == 0 && caught < 50,
	    "without the drop, outliers in the holdout should raise the "
	    "threshold over some of them (%zu of 50 caught)",
	    caught);
}
END_TEST

/*
 * k-fold cross-fitting gives every kept row an out-of-sample error: the
 * final fit holds out fold 0 (a quarter), and the other folds get theirs
 * from networks fitted without them.
 */
START_TEST(test_train_oos_every_row)
{
	const size_t dim = 16, n = 4000;
	struct model_params p;
	struct model *m;
	const struct model_info *in;
	uint8_t xform[16] = {0};
	float *x = rank3_rows(510, n, dim);

	small_params(&p, dim);
	p.robust_drop = 0;
	m = train_ok(x, n, dim, xform, &p);
	in = model_info(m);
	ck_assert_uint_eq(in->holdout_rows, 1000);
	ck_assert_uint_eq(in->train_rows, 3000);
	ck_assert_msg(in->oos_rows == n,
	    "every one of the %zu rows should have an out-of-sample error, "
	    "not %llu",
	    n, (unsigned long long)in->oos_rows);
	ck_assert_uint_eq(in->folds, 4);
	ck_assert_msg(
	    in->epochs_fold >= 1 && in->epochs_fold <= in->epochs_first,
	    "each fold should run the first fit's epochs to its best (%u of "
	    "%u)",
	    in->epochs_fold, in->epochs_first);
	ck_assert_msg(strstr(in->note, "of 4 000 out-of-sample") != NULL,
	    "the threshold should rest on all 4 000 errors: %s", in->note);
	model_free(m);
	/* With planted outliers dropped, every kept row still has one. */
	p.robust_drop = 0.01;
	p.folds = 2;
	memcpy(x + 7 * dim, x + 8 * dim, dim * sizeof(*x));
	x[7 * dim] = 40.0f;
	m = train_ok(x, n, dim, xform, &p);
	in = model_info(m);
	ck_assert_msg(in->oos_rows == in->baseline_rows &&
		in->baseline_rows == n - in->dropped_rows,
	    "out-of-sample rows should be the kept rows (%llu, %llu, %llu)",
	    (unsigned long long)in->oos_rows,
	    (unsigned long long)in->baseline_rows,
	    (unsigned long long)in->dropped_rows);
	ck_assert_uint_eq(in->holdout_rows + in->train_rows, in->oos_rows);
	model_free(m);
	free(x);
}
END_TEST

/* POT where the tail has peaks enough, the quantile rule where not. */
START_TEST(test_train_pot_or_quantile)
{
	const size_t dim = 16;
	struct model_params p;
	struct model *m;
	uint8_t xform[16] = {0};
	float *x = rank3_rows(520, 4000, dim);

	small_params(&p, dim);
	p.rule = MODEL_RULE_POT;
	m = train_ok(x, 4000, dim, xform, &p);
	ck_assert_msg(strncmp(model_info(m)->note, "flagged above ", 14) == 0 &&
		strstr(model_info(m)->note, "generalised Pareto fit") &&
		strstr(model_info(m)->note, "1 in 1 000 normal flows"),
	    "4 000 errors give 80 peaks over the 0.98 quantile: POT (%s)",
	    model_info(m)->note);
	model_free(m);
	m = train_ok(x, 300, dim, xform, &p);
	ck_assert_msg(strstr(model_info(m)->note, "too few for a Pareto fit") &&
		strstr(model_info(m)->note, "too few to place 1 in 1 000"),
	    "300 errors give 6 peaks: the quantile rule, then its margin (%s)",
	    model_info(m)->note);
	model_free(m);
	free(x);
}
END_TEST

/* A clean baseline should lose next to nothing to the robust drop. */
START_TEST(test_train_clean_keeps_rows)
{
	const size_t dim = 16, n = 4000;
	struct model_params p;
	struct model *m;
	uint8_t xform[16] = {0};
	float *x = rank3_rows(500, n, dim);

	small_params(&p, dim);
	m = train_ok(x, n, dim, xform, &p);
	ck_assert_msg(model_info(m)->dropped_rows <= 8,
	    "a clean baseline should drop at most a few rows, not %llu",
	    (unsigned long long)model_info(m)->dropped_rows);
	ck_assert_msg(
	    model_info(m)->baseline_rows == n - model_info(m)->dropped_rows,
	    "baseline rows should be the rows kept");
	model_free(m);
	free(x);
}
END_TEST

START_TEST(test_train_small_baseline)
{
	const size_t dim = 8, n = 200;
	struct model_params p;
	struct synth s;
	struct model *m;
	uint8_t xform[8] = {0};
	float *x = xalloc_rows(n, dim);

	synth_init(&s, 600, dim, 2, 0.2);
	synth_rows(&s, x, n);
	small_params(&p, dim);
	m = train_ok(x, n, dim, xform, &p);
	ck_assert_msg(strstr(model_info(m)->note, "too few") != NULL,
	    "200 rows at rate 0.001 should use the max x margin rule: %s",
	    model_info(m)->note);
	ck_assert_msg(model_threshold(m) > 0.0f && isfinite(model_threshold(m)),
	    "the threshold should be positive and finite");
	model_free(m);
	free(x);
}
END_TEST

/* Write m to dir/name and return the file's bytes (caller frees). */
static uint8_t *
save_bytes(
    const struct model *m, const char *dir, const char *name, size_t *len)
{
	char path[512], *cause = NULL;
	uint8_t *buf;
	FILE *f;
	long sz;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	ck_assert_msg(model_save(m, path, &cause) == 0, "model should save: %s",
	    cause ? cause : "");
	f = fopen(path, "rb");
	ck_assert_msg(f != NULL, "saved file should open");
	fseek(f, 0, SEEK_END);
	sz = ftell(f);
	rewind(f);
	buf = malloc((size_t)sz);
	ck_assert_msg(fread(buf, 1, (size_t)sz, f) == (size_t)sz,
	    "saved file should read back");
	fclose(f);
	*len = (size_t)sz;
	return buf;
}

START_TEST(test_train_deterministic)
{
	const size_t dim = 16, n = 1500;
	struct model_params p;
	struct model_meta meta = {1700000000000000ULL, 1, 2};
	struct model *a, *b, *c;
	uint8_t xform[16] = {1, 0, 1, 0}, *fa, *fb;
	uint8_t groups[16] = {[12] = 1, [13] = 1, [14] = 1, [15] = 1};
	const float grow[16] = {[0] = 1.0f, [1] = -1.0f, [2] = 0.5f};
	char dir[] = "/tmp/check_model.XXXXXX", path[600];
	float *x = rank3_rows(700, n, dim);
	size_t la, lb, i;

	ck_assert_msg(mkdtemp(dir) != NULL, "temp dir should be created");
	for (i = 0; i < n * dim; i++)
		x[i] = fabsf(x[i]) * 100.0f;
	small_params(&p, dim);
	p.groups = groups; /* the split thresholds are in the id too */
	p.transfer = grow; /* and the rows grown in minibatches */
	p.transfer_gate = 3;
	p.seed = 77;
	ck_assert_int_eq(
	    model_train(&a, x, n, dim, xform, FEAT_HASH, &p, &meta, NULL), 0);
	ck_assert_int_eq(
	    model_train(&b, x, n, dim, xform, FEAT_HASH, &p, &meta, NULL), 0);
	p.seed = 78;
	ck_assert_int_eq(
	    model_train(&c, x, n, dim, xform, FEAT_HASH, &p, &meta, NULL), 0);
	fa = save_bytes(a, dir, "a", &la);
	fb = save_bytes(b, dir, "b", &lb);
	ck_assert_msg(la == lb && memcmp(fa, fb, la) == 0,
	    "same rows and seed should save byte-identical files");
	ck_assert_str_eq(model_info(a)->id, model_info(b)->id);
	ck_assert_msg(strcmp(model_info(a)->id, model_info(c)->id) != 0,
	    "another seed should give another model id");
	model_free(c);
	/* A helper thread computes half of every minibatch: same bits. */
	p.seed = 77;
	p.threads = 2;
	ck_assert_int_eq(
	    model_train(&c, x, n, dim, xform, FEAT_HASH, &p, &meta, NULL), 0);
	ck_assert_msg(strcmp(model_info(a)->id, model_info(c)->id) == 0,
	    "training with two threads should give the model one thread "
	    "gives (%s, not %s)",
	    model_info(a)->id, model_info(c)->id);
	model_free(c);
	/* Narrower kernels (SSE2 on x86-64) give the same bits too. */
	p.threads = 1;
	p.isa = MODEL_ISA_BASE;
	ck_assert_int_eq(
	    model_train(&c, x, n, dim, xform, FEAT_HASH, &p, &meta, NULL), 0);
	ck_assert_msg(strcmp(model_info(a)->id, model_info(c)->id) == 0,
	    "training with the base instruction set should give the model "
	    "the widest gives (%s, not %s)",
	    model_info(a)->id, model_info(c)->id);
	free(fa);
	free(fb);
	snprintf(path, sizeof(path), "%s/a", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/b", dir);
	unlink(path);
	rmdir(dir);
	model_free(a);
	model_free(b);
	model_free(c);
	free(x);
}
END_TEST

/* Each case breaks one parameter; training should refuse it. */
static void
bad_param(int i, struct model_params *p)
{
	switch (i) {
	case 0:
		p->nlayers = 0;
		break;
	case 1:
		p->nlayers = MODEL_MAX_HIDDEN + 1;
		break;
	case 2:
		p->layers[1] = 0;
		break;
	case 3:
		p->layers[0] = MODEL_MAX_WIDTH + 1;
		break;
	case 4:
		p->activation = (enum model_act)7;
		break;
	case 5:
		p->rule = (enum model_rule)5;
		break;
	case 6:
		p->max_epochs = 0;
		break;
	case 7:
		p->batch = 0;
		break;
	case 8:
		p->learning_rate = 0.0f;
		break;
	case 9:
		p->learning_rate = NAN;
		break;
	case 10:
		p->learning_rate = 2.0f;
		break;
	case 11:
		p->patience = 0;
		break;
	case 12:
		p->folds = 1;
		break;
	case 13:
		p->folds = MODEL_MAX_FOLDS + 1;
		break;
	case 14:
		p->target_rate = 0.0;
		break;
	case 15:
		p->target_rate = 0.5;
		break;
	case 16:
		p->robust_drop = -0.1;
		break;
	case 17:
		p->robust_drop = 0.3;
		break;
	case 18:
		p->pot_quantile = 0.3;
		break;
	case 19:
		p->quantile_margin = 0.5;
		break;
	case 20:
		p->clip = 0.0f;
		break;
	case 21:
		p->clip = NAN;
		break;
	case 22:
		p->folds = 0;
		break;
	case 23:
		p->threads = 3;
		break;
	case 24:
		p->isa = (enum model_isa)9;
		break;
	}
}
#define BAD_PARAMS 25

/*
 * Rows of a transfer: packets P (log-uniform 2..20), bytes 1000 P and a
 * mean request payload 500 / P, plus 5 features of noise.  grow != 0 puts
 * bytes at grow * 1000 P instead (more bytes than packets carry).
 */
static void
transfer_rows(
    struct model_rng *r, float *x, size_t n, double lo, double hi, double grow)
{
	size_t i, j;
	double pk;

	for (i = 0; i < n; i++) {
		pk = lo * exp(log(hi / lo) * model_rng_float(r));
		x[i * 8 + 0] = (float)pk;
		x[i * 8 + 1] = (float)((grow > 0.0 ? grow : 1.0) * 1000.0 * pk *
		    (1.0 + 0.05 * model_rng_normal(r)));
		x[i * 8 + 2] = (float)(500.0 / pk);
		for (j = 3; j < 8; j++)
			x[i * 8 + j] = (float)model_rng_normal(r);
	}
}

/*
 * Transfer augmentation: a transfer 100 times larger than any in the
 * baseline, of the same kind, is an anomaly without it and normal with
 * it; one whose bytes outgrow its packets stays an anomaly.
 */
START_TEST(test_train_transfer_grows)
{
	const size_t dim = 8, n = 2000;
	const float grow[8] = {1.0f, 1.0f, -1.0f};
	uint8_t xform[8] = {1, 1, 1};
	float *x = xalloc_rows(n, dim), big[20 * 8], odd[20 * 8], sb, so;
	struct model_params p;
	struct model_rng r;
	struct model *m0, *m1;
	size_t i, nb0 = 0, nb1 = 0, no0 = 0, no1 = 0;

	model_rng_seed(&r, 5);
	transfer_rows(&r, x, n, 2.0, 20.0, 0.0);
	transfer_rows(&r, big, 20, 500.0, 2000.0, 0.0);
	transfer_rows(&r, odd, 20, 2.0, 20.0, 300.0);
	small_params(&p, dim);
	p.layers[1] = 2;
	m0 = train_ok(x, n, dim, xform, &p);
	p.transfer = grow;
	m1 = train_ok(x, n, dim, xform, &p);
	for (i = 0; i < 20; i++) {
		sb = model_score(m0, big + i * dim);
		so = model_score(m0, odd + i * dim);
		nb0 += sb > model_threshold(m0);
		no0 += so > model_threshold(m0);
		sb = model_score(m1, big + i * dim);
		so = model_score(m1, odd + i * dim);
		nb1 += sb > model_threshold(m1);
		no1 += so > model_threshold(m1);
	}
	ck_assert_msg(nb0 >= 18,
	    "without growth, 100 times larger transfers should alert "
	    "(%zu of 20)",
	    nb0);
	ck_assert_msg(nb1 <= 2,
	    "with growth, 100 times larger transfers of the same kind "
	    "should not alert (%zu of 20)",
	    nb1);
	ck_assert_msg(no1 >= 18,
	    "with growth, bytes that outgrow their packets should still "
	    "alert (%zu of 20; %zu without growth)",
	    no1, no0);
	model_free(m0);
	model_free(m1);
	free(x);
}
END_TEST

START_TEST(test_train_bad_params)
{
	struct model_params p;
	struct model *sentinel = (struct model *)&p, *m = sentinel;
	uint8_t xform[4] = {0};
	float x[60 * 4];
	char *cause = NULL;
	size_t i;

	for (i = 0; i < 60 * 4; i++)
		x[i] = (float)(i % 7);
	model_params_default(&p);
	bad_param(_i, &p);
	ck_assert_msg(model_train(&m, x, 60, 4, xform, FEAT_HASH, &p, NULL,
			  &cause) == -EINVAL,
	    "bad parameter case %d should be refused with -EINVAL", _i);
	ck_assert_msg(m == sentinel, "a refused training should leave *mp");
	ck_assert_msg(cause != NULL && strncmp(cause, "model: ", 7) == 0,
	    "a refused training should say why: %s", cause ? cause : "");
	free(cause);
}
END_TEST

START_TEST(test_train_bad_data)
{
	struct model_params p;
	struct model *m = NULL;
	uint8_t xform[4] = {0}, badx[4] = {0, 2, 0, 0};
	float x[60 * 4];
	char *cause = NULL;
	size_t i;

	for (i = 0; i < 60 * 4; i++)
		x[i] = (float)(i % 7);
	model_params_default(&p);
	ck_assert_msg(model_train(&m, x, MODEL_MIN_ROWS - 1, 4, xform, 1, &p,
			  NULL, &cause) == -EINVAL &&
		m == NULL,
	    "%d rows should be too few", MODEL_MIN_ROWS - 1);
	ck_assert_msg(strstr(cause, "rows") != NULL, "cause should say rows");
	free(cause);
	ck_assert_msg(
	    model_train(&m, x, 60, 0, xform, 1, &p, NULL, NULL) == -EINVAL,
	    "dim 0 should be refused");
	ck_assert_msg(
	    model_train(&m, x, 60, 4, badx, 1, &p, NULL, NULL) == -EINVAL,
	    "an unknown transform should be refused");
	x[77] = NAN;
	ck_assert_msg(
	    model_train(&m, x, 60, 4, xform, 1, &p, NULL, &cause) == -EINVAL,
	    "a NaN in the baseline should be refused");
	ck_assert_msg(strstr(cause, "row 19 feature 1") != NULL,
	    "the cause should name the row and feature: %s", cause);
	free(cause);
	x[77] = INFINITY;
	ck_assert_msg(
	    model_train(&m, x, 60, 4, xform, 1, &p, NULL, NULL) == -EINVAL,
	    "an infinity in the baseline should be refused");
	x[77] = 1.0f;
	ck_assert_msg(model_train(&m, x, MODEL_MIN_ROWS, 4, xform, 1, &p, NULL,
			  NULL) == 0 &&
		m != NULL,
	    "exactly %d rows should train", MODEL_MIN_ROWS);
	model_free(m);
	m = NULL;
	ck_assert_msg(
	    model_train(&m, x, 240, 1, xform, 1, &p, NULL, NULL) == 0 &&
		m != NULL,
	    "a single feature should train");
	model_free(m);
	model_free(NULL);
}
END_TEST

static Suite *
train_suite(void)
{
	Suite *s = suite_create("model train");
	TCase *tc = tcase_create("fit");
	TCase *tp = tcase_create("params");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_train_lowers_loss);
	tcase_add_test(tc, test_train_separates);
	tcase_add_loop_test(
	    tc, test_train_rate, MODEL_RULE_QUANTILE, MODEL_RULE_POT + 1);
	tcase_add_test(tc, test_train_robust_refit);
	tcase_add_test(tc, test_train_oos_every_row);
	tcase_add_test(tc, test_train_pot_or_quantile);
	tcase_add_test(tc, test_train_clean_keeps_rows);
	tcase_add_test(tc, test_train_small_baseline);
	tcase_add_test(tc, test_train_deterministic);
	tcase_add_test(tc, test_train_transfer_grows);
	suite_add_tcase(s, tc);
	tcase_add_loop_test(tp, test_train_bad_params, 0, BAD_PARAMS);
	tcase_add_test(tp, test_train_bad_data);
	suite_add_tcase(s, tp);
	return s;
}

/* ---- model.c and file.c: a shared small model ----------------------- */

#define SMALL_DIM 8
#define SMALL_ROWS 400

static struct model *small_model;
static float *small_rows;
static char small_dir[64];
static char small_path[128];

/* Train the small model once per test case, in the parent process. */
static void
small_setup(void)
{
	struct model_params p;
	struct model_meta meta = {
	    1700000000000000ULL, 1600000000000000ULL, 1650000000000000ULL};
	struct synth s;
	uint8_t xform[SMALL_DIM] = {1, 0, 1, 0, 0, 0, 1, 1};
	uint8_t groups[SMALL_DIM] = {0, 0, 0, 0, 0, 0, 1, 1};
	size_t i;

	snprintf(small_dir, sizeof(small_dir), "/tmp/check_model.XXXXXX");
	ck_assert_msg(mkdtemp(small_dir) != NULL, "temp dir should be made");
	snprintf(small_path, sizeof(small_path), "%s/model.bin", small_dir);
	small_rows = xalloc_rows(SMALL_ROWS, SMALL_DIM);
	synth_init(&s, 800, SMALL_DIM, 2, 0.2);
	synth_rows(&s, small_rows, SMALL_ROWS);
	for (i = 0; i < SMALL_ROWS * SMALL_DIM; i++)
		if (xform[i % SMALL_DIM])
			small_rows[i] = expf(2.0f * small_rows[i]) * 50.0f;
	small_params(&p, SMALL_DIM);
	p.seed = 5;
	p.groups = groups;
	ck_assert_msg(model_train(&small_model, small_rows, SMALL_ROWS,
			  SMALL_DIM, xform, FEAT_HASH, &p, &meta, NULL) == 0,
	    "the small model should train");
}

static void
small_teardown(void)
{
	DIR *d;
	struct dirent *de;
	char path[400];

	model_free(small_model);
	small_model = NULL;
	free(small_rows);
	small_rows = NULL;
	if ((d = opendir(small_dir)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (de->d_name[0] == '.')
				continue;
			snprintf(
			    path, sizeof(path), "%s/%s", small_dir, de->d_name);
			unlink(path);
		}
		closedir(d);
	}
	rmdir(small_dir);
}

START_TEST(test_model_batch_equals_single)
{
	float batch[SMALL_ROWS], one;
	size_t i, same = 0;

	for (i = 0; i < SMALL_ROWS; i++)
		batch[i] = -1.0f;
	model_score_batch(small_model, small_rows, SMALL_ROWS, batch);
	for (i = 0; i < SMALL_ROWS; i++) {
		one = model_score(small_model, small_rows + i * SMALL_DIM);
		same += memcmp(&one, &batch[i], sizeof(one)) == 0;
	}
	ck_assert_msg(same == SMALL_ROWS,
	    "model_score should equal model_score_batch bit for bit "
	    "(%zu of %d)",
	    same, SMALL_ROWS);
}
END_TEST

START_TEST(test_model_explain)
{
	struct model_expl e[SMALL_DIM + 2];
	float row[SMALL_DIM];
	double sum = 0.0;
	size_t n, i;

	memcpy(row, small_rows, sizeof(row));
	row[3] += 40.0f; /* a linear feature with spread about 1 */
	for (i = 0; i < SMALL_DIM + 2; i++)
		e[i].feature = 999;
	n = model_explain(small_model, row, 3, e);
	ck_assert_msg(n == 3, "explain should fill k entries");
	ck_assert_msg(e[0].feature == 3 && e[0].share > 0.5f,
	    "the planted feature should carry most of the error "
	    "(got %u, share %g)",
	    e[0].feature, e[0].share);
	ck_assert_msg(e[0].value == row[3], "value should be the raw input");
	ck_assert_msg(e[0].p50 == small_model->norm.p50[3] &&
		e[0].p99 == small_model->norm.p99[3],
	    "p50 and p99 should be the baseline's");
	ck_assert_msg(e[0].share >= e[1].share && e[1].share >= e[2].share,
	    "explanations should come largest first");
	ck_assert_msg(e[3].feature == 999, "explain should not write past k");
	n = model_explain(small_model, row, SMALL_DIM + 2, e);
	ck_assert_msg(n == SMALL_DIM, "k above dim should give dim entries");
	for (i = 0; i < n; i++)
		sum += e[i].share;
	ck_assert_msg(fabs(sum - 1.0) < 1e-4,
	    "all shares should add up to 1, not %g", sum);
	ck_assert_msg(model_explain(small_model, row, 0, e) == 0,
	    "k 0 should give nothing");
}
END_TEST

START_TEST(test_model_median)
{
	size_t j;

	for (j = 0; j < SMALL_DIM; j++)
		ck_assert_msg(
		    model_median(small_model, j) == small_model->norm.p50[j],
		    "model_median should be the raw baseline median of %zu", j);
	ck_assert_msg(model_median(small_model, SMALL_DIM) == 0.0f &&
		model_median(small_model, (size_t)-1) == 0.0f,
	    "a feature past dim should give 0");
}
END_TEST

START_TEST(test_model_info)
{
	const struct model_info *in = model_info(small_model);
	size_t i;

	ck_assert_str_eq(in->rule_name, "quantile");
	ck_assert_msg(in->threshold == model_threshold(small_model),
	    "info threshold should be the model's");
	ck_assert_msg(
	    in->dim == SMALL_DIM && model_dim(small_model) == SMALL_DIM,
	    "dim should be recorded");
	ck_assert_msg(in->nhidden == 3 && in->hidden[0] == 4 &&
		in->hidden[1] == 6 && in->hidden[2] == 4,
	    "layer sizes should be recorded");
	ck_assert_msg(in->baseline_rows == in->train_rows + in->holdout_rows &&
		in->baseline_rows + in->dropped_rows == SMALL_ROWS,
	    "row counts should add up");
	ck_assert_msg(in->seed == 5 && in->target_rate == 0.001,
	    "seed and rate should be recorded");
	ck_assert_msg(in->created_us == 1700000000000000ULL &&
		in->first_us == 1600000000000000ULL &&
		in->last_us == 1650000000000000ULL,
	    "caller metadata should be kept");
	ck_assert_msg(in->epochs_first >= 1 && in->train_loss > 0.0f &&
		in->holdout_loss > 0.0f,
	    "training facts should be recorded");
	ck_assert_msg(
	    strlen(in->id) == MODEL_ID_LEN, "the id should have 16 characters");
	for (i = 0; i < MODEL_ID_LEN; i++)
		ck_assert_msg(strchr("0123456789abcdef", in->id[i]) != NULL,
		    "the id should be lowercase hex: %s", in->id);
}
END_TEST

/* Whether p lies inside (or on) the convex polygon h[n], counter-clockwise. */
static int
in_polygon(const float (*h)[2], size_t n, const float p[2])
{
	size_t i, j;
	double c;

	for (i = 0; i < n; i++) {
		j = (i + 1) % n;
		c = ((double)h[j][0] - h[i][0]) * ((double)p[1] - h[i][1]) -
		    ((double)h[j][1] - h[i][1]) * ((double)p[0] - h[i][0]);
		if (c < -1e-6)
			return 0;
	}
	return 1;
}

START_TEST(test_model_latent)
{
	const struct model_baseline *b = model_baseline(small_model);
	float one[MODEL_MAX_WIDTH], *all, lat[2], in[2];
	size_t k = model_latent_dim(small_model), i, j, inside = 0;

	ck_assert_msg(k == 4,
	    "the code should be the narrowest layer's 4, "
	    "not %zu",
	    k);
	all = xalloc_rows(SMALL_ROWS, k);
	model_latent_batch(small_model, small_rows, SMALL_ROWS, all);
	for (i = 0; i < SMALL_ROWS; i++) {
		model_latent(small_model, small_rows + i * SMALL_DIM, one);
		ck_assert_msg(memcmp(one, all + i * k, k * sizeof(float)) == 0,
		    "row %zu: single and batch codes should be the same bits",
		    i);
		for (j = 0; j < k; j++)
			ck_assert_msg(one[j] >= -1.0f && one[j] <= 1.0f,
			    "a tanh code should lie in [-1, 1]: %g",
			    (double)one[j]);
	}
	free(all);
	ck_assert_msg(b->known && b->nhull_latent >= 3 && b->nhull_input >= 3,
	    "a trained model should know its baseline maps");
	for (i = 0; i < SMALL_ROWS; i++) {
		ck_assert_int_eq(model_project(small_model,
				     small_rows + i * SMALL_DIM, lat, in),
		    0);
		inside += in_polygon(b->hull_latent, b->nhull_latent, lat);
	}
	ck_assert_msg(inside >= SMALL_ROWS * 9 / 10,
	    "the latent outline should hold most baseline rows: %zu of %d",
	    inside, SMALL_ROWS);
}
END_TEST

START_TEST(test_model_baseline_errors)
{
	const struct model_info *mi = model_info(small_model);
	const struct model_baseline *b = model_baseline(small_model);
	uint64_t sum = 0;
	size_t i;

	for (i = 0; i < MODEL_HIST_BINS; i++)
		sum += b->hist[i];
	ck_assert_msg(b->nerr == mi->oos_rows && sum == b->nerr,
	    "every out-of-sample error should be counted once: %llu %llu "
	    "%llu",
	    (unsigned long long)sum, (unsigned long long)b->nerr,
	    (unsigned long long)mi->oos_rows);
	ck_assert_msg(b->err_p50 > 0.0f && b->err_p50 <= b->err_p99 &&
		b->err_p99 <= b->err_max && b->err_p50 < mi->threshold,
	    "median <= p99 <= max, the median below the threshold");
	ck_assert_msg(b->var_latent > 0.0f && b->var_latent <= 1.001f &&
		b->var_input > 0.0f && b->var_input <= 1.001f,
	    "the axes should keep a share of the variance");
	ck_assert_int_eq(model_hist_bin(0.0), 0);
	ck_assert_int_eq(model_hist_bin(1e9), MODEL_HIST_BINS - 1);
	ck_assert_int_eq(model_hist_bin(model_hist_edge(9) * 1.001), 9);
	ck_assert_double_eq_tol(model_hist_edge(MODEL_HIST_PER_DECADE),
	    MODEL_HIST_LO * 10.0, 1e-12);
}
END_TEST

static Suite *
model_suite(void)
{
	Suite *s = suite_create("model");
	TCase *tc = tcase_create("score");

	tcase_add_unchecked_fixture(tc, small_setup, small_teardown);
	tcase_add_test(tc, test_model_batch_equals_single);
	tcase_add_test(tc, test_model_explain);
	tcase_add_test(tc, test_model_median);
	tcase_add_test(tc, test_model_latent);
	tcase_add_test(tc, test_model_baseline_errors);
	tcase_add_test(tc, test_model_info);
	suite_add_tcase(s, tc);
	return s;
}

/* ---- file.c ------------------------------------------------------------- */

/* The saved small model's bytes (caller frees). */
static uint8_t *
small_file(size_t *len)
{
	return save_bytes(small_model, small_dir, "model.bin", len);
}

START_TEST(test_file_roundtrip)
{
	struct model *m = NULL;
	float a[SMALL_ROWS], b[SMALL_ROWS];
	char *cause = NULL;
	uint8_t *buf;
	size_t len;

	buf = small_file(&len);
	ck_assert_msg(
	    model_load(&m, small_path, FEAT_HASH, SMALL_DIM, &cause) == 0,
	    "a saved model should load: %s", cause ? cause : "");
	model_score_batch(small_model, small_rows, SMALL_ROWS, a);
	model_score_batch(m, small_rows, SMALL_ROWS, b);
	ck_assert_msg(memcmp(a, b, sizeof(a)) == 0,
	    "a loaded model should score bit-identically");
	ck_assert_msg(memcmp(model_info(small_model), model_info(m),
			  sizeof(struct model_info)) == 0,
	    "a loaded model should have the same info");
	model_free(m);
	free(buf);
}
END_TEST

START_TEST(test_file_atomic)
{
	struct model *m = NULL;
	char *cause = NULL, path[200];
	struct dirent *de;
	size_t len, entries = 0;
	uint8_t *buf;
	struct stat st;
	DIR *d;

	buf = small_file(&len);
	free(buf);
	buf = small_file(&len); /* over an existing file */
	free(buf);
	ck_assert_msg((d = opendir(small_dir)) != NULL, "dir should open");
	while ((de = readdir(d)) != NULL)
		entries += de->d_name[0] != '.';
	closedir(d);
	ck_assert_msg(entries == 1,
	    "saving should leave only the model file, not %zu", entries);
	ck_assert_msg(stat(small_path, &st) == 0 && (st.st_mode & 0777) == 0644,
	    "the model file should be mode 0644");
	snprintf(path, sizeof(path), "%s/missing/model.bin", small_dir);
	ck_assert_msg(model_save(small_model, path, &cause) == -ENOENT,
	    "saving into a missing folder should fail with -ENOENT");
	ck_assert_msg(cause != NULL && strstr(cause, path) != NULL,
	    "the cause should name the file: %s", cause ? cause : "");
	free(cause);
	cause = NULL;
	ck_assert_msg(
	    model_load(&m, path, FEAT_HASH, SMALL_DIM, &cause) == -ENOENT &&
		m == NULL,
	    "loading a missing file should fail with -ENOENT");
	ck_assert_msg(strstr(cause, "open") != NULL, "cause: %s", cause);
	free(cause);
}
END_TEST

START_TEST(test_file_wrong_features)
{
	struct model *sentinel = (struct model *)&sentinel, *m = sentinel;
	char *cause = NULL;
	uint8_t *buf;
	size_t len;

	buf = small_file(&len);
	ck_assert_msg(model_load(&m, small_path, FEAT_HASH ^ 1, SMALL_DIM,
			  &cause) == -EINVAL,
	    "a file for another feature table should be refused");
	ck_assert_msg(m == sentinel, "a refused load should leave *mp");
	ck_assert_msg(strstr(cause, "feature table") != NULL,
	    "the cause should name the feature table: %s", cause);
	free(cause);
	cause = NULL;
	ck_assert_msg(model_load(&m, small_path, FEAT_HASH, SMALL_DIM + 1,
			  &cause) == -EINVAL &&
		m == sentinel,
	    "a file for another dim should be refused");
	ck_assert_msg(strstr(cause, "features") != NULL, "cause: %s", cause);
	free(cause);
	free(buf);
}
END_TEST

/* Every proper prefix of the file should be refused, in memory. */
START_TEST(test_file_truncated)
{
	struct model *sentinel = (struct model *)&sentinel, *m = sentinel;
	char *cause = NULL;
	uint8_t *buf;
	size_t len, cut, refused = 0;

	buf = small_file(&len);
	for (cut = 0; cut < len; cut++) {
		if (model_decode(&m, buf, cut, "x", FEAT_HASH, SMALL_DIM,
			&cause) == -EPROTO &&
		    m == sentinel && cause != NULL)
			refused++;
		free(cause);
		cause = NULL;
	}
	ck_assert_msg(refused == len,
	    "every truncation should be refused with -EPROTO (%zu of %zu)",
	    refused, len);
	free(buf);
}
END_TEST

/* The same through real files, for a few cut points. */
START_TEST(test_file_truncated_on_disk)
{
	struct model *m = NULL;
	char *cause = NULL;
	uint8_t *buf;
	size_t len, cuts[5], i;
	FILE *f;

	buf = small_file(&len);
	cuts[0] = 0, cuts[1] = 7, cuts[2] = 40, cuts[3] = len / 2;
	cuts[4] = len - 1;
	for (i = 0; i < 5; i++) {
		f = fopen(small_path, "wb");
		ck_assert_msg(
		    f != NULL && fwrite(buf, 1, cuts[i], f) == cuts[i],
		    "the cut file should be written");
		fclose(f);
		ck_assert_msg(model_load(&m, small_path, FEAT_HASH, SMALL_DIM,
				  &cause) == -EPROTO &&
			m == NULL,
		    "a file cut at %zu of %zu should be refused", cuts[i], len);
		ck_assert_msg(strstr(cause, "truncated") != NULL,
		    "the cause should say truncated: %s", cause);
		free(cause);
		cause = NULL;
	}
	free(buf);
}
END_TEST

/* Every byte flipped, one at a time, two patterns each. */
START_TEST(test_file_flipped)
{
	static const uint8_t pattern[2] = {0x01, 0xff};
	struct model *m = NULL;
	char *cause = NULL;
	uint8_t *buf;
	size_t len, i, p, refused = 0, checksum = 0;

	buf = small_file(&len);
	for (i = 0; i < len; i++) {
		for (p = 0; p < 2; p++) {
			buf[i] ^= pattern[p];
			if (model_decode(&m, buf, len, "x", FEAT_HASH,
				SMALL_DIM, &cause) == -EPROTO &&
			    m == NULL)
				refused++;
			checksum += cause && strstr(cause, "checksum");
			free(cause);
			cause = NULL;
			buf[i] ^= pattern[p];
		}
	}
	ck_assert_msg(refused == 2 * len,
	    "every flipped byte should be refused (%zu of %zu)", refused,
	    2 * len);
	ck_assert_msg(checksum > len,
	    "most flips should be caught by the checksum (%zu)", checksum);
	ck_assert_msg(
	    model_decode(&m, buf, len, "x", FEAT_HASH, SMALL_DIM, NULL) == 0,
	    "the unflipped buffer should still load");
	model_free(m);
	free(buf);
}
END_TEST

START_TEST(test_file_not_a_model)
{
	struct model *m = NULL;
	char *cause = NULL;
	uint8_t *buf;
	size_t len;

	buf = small_file(&len);
	buf[8] = 3; /* version 3, before the checksum is looked at */
	ck_assert_msg(model_decode(&m, buf, len, "f", FEAT_HASH, SMALL_DIM,
			  &cause) == -EPROTO,
	    "another format version should be refused");
	ck_assert_msg(strstr(cause, "version 3") != NULL, "cause: %s", cause);
	free(cause);
	buf[8] = 1;
	ck_assert_msg(model_decode(&m, buf, len, "f", FEAT_HASH, SMALL_DIM,
			  &cause) == -EPROTO,
	    "a version 1 file should be refused");
	ck_assert_msg(strstr(cause, "retrain") != NULL,
	    "a version 1 file's cause should ask for a retrain: %s", cause);
	free(cause);
	memset(buf, 'a', len);
	ck_assert_msg(model_decode(&m, buf, len, "f", FEAT_HASH, SMALL_DIM,
			  &cause) == -EPROTO,
	    "text should be refused");
	ck_assert_str_eq(cause, "model file f: not a model file");
	free(cause);
	free(buf);
}
END_TEST

/* ---- model.c and net.c: split scores --------------------------------- */

/* Without groups a split is the plain score: own = total, ctx = 0. */
START_TEST(test_split_no_groups)
{
	const size_t dim = 16, n = 1000;
	struct model_params p;
	struct model_split sp[200];
	struct model *m;
	uint8_t xform[16] = {0};
	float *x = rank3_rows(900, n, dim), sc;
	size_t i;

	small_params(&p, dim);
	m = train_ok(x, n, dim, xform, &p);
	model_score_split_batch(m, x, 200, sp);
	for (i = 0; i < 200; i++) {
		sc = model_score(m, x + i * dim);
		ck_assert_msg(memcmp(&sc, &sp[i].total, sizeof(sc)) == 0 &&
			memcmp(&sc, &sp[i].own, sizeof(sc)) == 0 &&
			sp[i].ctx == 0.0f,
		    "row %zu: without groups own and total should be the "
		    "score (%g), ctx 0; got %g %g %g",
		    i, sc, sp[i].total, sp[i].own, sp[i].ctx);
	}
	ck_assert_msg(model_info(m)->threshold_own == model_threshold(m) &&
		model_info(m)->threshold_ctx == FLT_MAX,
	    "without groups the own threshold is the threshold and the "
	    "context one never fires");
	model_free(m);
	free(x);
}
END_TEST

/*
 * With groups: total is the score to the bit, ctx plus the OWN features'
 * part of the same pass is total, the batch equals single rows, and own
 * is what a plain forward pass gives with the CTX features at their
 * normalised medians.
 */
START_TEST(test_split_parts)
{
	const size_t dim = SMALL_DIM;
	const struct model *m = small_model;
	struct model_split a, b[SMALL_ROWS];
	float z[SMALL_DIM], feat[SMALL_DIM], err, sc, plain, own;
	size_t i, j;

	ck_assert_msg(model_info(m)->threshold_ctx < FLT_MAX &&
		model_info(m)->threshold_own > 0.0f,
	    "a model with CTX features should learn both thresholds");
	model_score_split_batch(m, small_rows, SMALL_ROWS, b);
	for (i = 0; i < SMALL_ROWS; i++) {
		model_score_split(m, small_rows + i * dim, &a);
		ck_assert_msg(memcmp(&a, &b[i], sizeof(a)) == 0,
		    "row %zu: batch and single splits should agree", i);
		sc = model_score(m, small_rows + i * dim);
		ck_assert_msg(memcmp(&sc, &a.total, sizeof(sc)) == 0,
		    "row %zu: total should be the score to the bit", i);
		model_norm_apply(&m->norm, small_rows + i * dim, 1, z);
		model_net_errors(&m->net, z, 1, &err, feat);
		plain = 0.0f;
		for (j = 0; j < 6; j++)
			plain += feat[j];
		ck_assert_double_eq_tol(
		    a.ctx + plain / (float)dim, a.total, 1e-5 * a.total + 1e-9);
		z[6] = m->groups.fill[6];
		z[7] = m->groups.fill[7];
		model_net_errors(&m->net, z, 1, &err, feat);
		own = 0.0f;
		for (j = 0; j < 6; j++)
			own += feat[j];
		ck_assert_double_eq_tol(
		    a.own, own / (float)dim, 1e-5 * a.own + 1e-9);
	}
}
END_TEST

/*
 * ---- meaning checks: intact files (checksum and id valid) that say what
 * no training run produces.  Each case decodes the small model's file,
 * changes one value, recomputes the id and encodes it again, so only the
 * loader's meaning checks can refuse it.
 */

/* A decoded copy of the small model that a test may change. */
static struct model *
small_copy(void)
{
	struct model *m = NULL;
	uint8_t *buf;
	size_t len;

	buf = small_file(&len);
	ck_assert_msg(
	    model_decode(&m, buf, len, "x", FEAT_HASH, SMALL_DIM, NULL) == 0,
	    "the small model's file should decode");
	free(buf);
	return m;
}

/* Encode m with a fresh id, so its checksum and id are both valid. */
static uint8_t *
encode_valid(struct model *m, size_t *len)
{
	uint8_t *buf = NULL;

	ck_assert_msg(model_compute_id(m, m->info.id) == 0 &&
		model_encode(m, &buf, len) == 0,
	    "the changed model should encode");
	return buf;
}

/* Recompute the trailer checksum after bytes before it were changed. */
static void
resum(uint8_t *buf, size_t len)
{
	uint64_t h = model_fnv1a(MODEL_FNV_INIT, buf, len - 8);
	int i;

	for (i = 0; i < 8; i++)
		buf[len - 8 + i] = (uint8_t)(h >> (8 * i));
}

/* Set the header's reserved flags word (bytes 12-15, little-endian). */
static void
set_flags(uint8_t *buf, size_t len, uint32_t flags)
{
	int i;

	for (i = 0; i < 4; i++)
		buf[12 + i] = (uint8_t)(flags >> (8 * i));
	resum(buf, len);
}

struct meaning_case {
	const char *what;
	int field; /* enum below */
	double v; /* value written */
	const char *cause; /* expected text after "model file x: ", or NULL */
};

enum {
	MF_THRESHOLD,
	MF_P99_BELOW_P50, /* p99[3] = p50[3] + v */
	MF_TRAIN,
	MF_HOLDOUT,
	MF_DROPPED_OF_KEPT, /* dropped = v * (train + holdout) */
	MF_KEPT, /* holdout = 1, train = v - 1, none dropped */
	MF_TRAIN_LOSS,
	MF_HOLDOUT_LOSS,
	MF_FLAGS,
	MF_PARAM, /* params[5] = v */
};

#define U64_MAX_D 18446744073709551615.0

static const struct meaning_case meaning_cases[] = {
    {"threshold 0", MF_THRESHOLD, 0.0,
	"threshold 0 is not a positive finite number"},
    {"threshold 1e-45", MF_THRESHOLD, 1e-45,
	"threshold 1.4013e-45 is below the minimum 1e-06"},
    {"threshold just under the minimum", MF_THRESHOLD, 9.9e-7,
	"threshold 9.9e-07 is below the minimum 1e-06"},
    {"negative threshold", MF_THRESHOLD, -1.0,
	"threshold -1 is not a positive finite number"},
    {"infinite threshold", MF_THRESHOLD, INFINITY,
	"threshold inf is not a positive finite number"},
    {"NaN threshold", MF_THRESHOLD, NAN, "threshold nan is not a positive"},
    {"threshold at the minimum", MF_THRESHOLD, MODEL_THRESHOLD_MIN, NULL},
    {"p99 below p50", MF_P99_BELOW_P50, -0.5, "feature 3: baseline p99 "},
    {"p99 equal to p50", MF_P99_BELOW_P50, 0.0, NULL},
    {"no training rows", MF_TRAIN, 0.0, "training counts 0 train, "},
    {"no held-out rows", MF_HOLDOUT, 0.0, "no training or no held-out"},
    {"2^64-1 training rows", MF_TRAIN, U64_MAX_D,
	"training counts 18446744073709551615 train, "},
    {"2^64-1 held-out rows", MF_HOLDOUT, U64_MAX_D,
	"more rows than training takes"},
    {"rows summing past 2^32-1", MF_TRAIN, 4294967295.0,
	"more rows than training takes"},
    {"kept rows below the minimum", MF_KEPT, MODEL_MIN_ROWS - 1,
	"fewer rows kept than training needs"},
    {"kept rows at the minimum", MF_KEPT, MODEL_MIN_ROWS, NULL},
    {"half the rows dropped", MF_DROPPED_OF_KEPT, 1.0,
	"more than a fifth of the rows dropped"},
    {"a fifth of the rows dropped", MF_DROPPED_OF_KEPT, 0.25, NULL},
    {"2^64-1 dropped rows", MF_DROPPED_OF_KEPT, U64_MAX_D,
	"more rows than training takes"},
    {"NaN training loss", MF_TRAIN_LOSS, NAN, "losses nan (train)"},
    {"negative holdout loss", MF_HOLDOUT_LOSS, -1.0, "and -1 (holdout)"},
    {"a weight of -1.7e38 (NaN scores)", MF_PARAM, -1.7e38,
	"parameter 5 is -1.7e+38, beyond +-1e+06"},
    {"a weight of 1e6", MF_PARAM, 1e6, NULL},
    {"reserved flag bit 2", MF_FLAGS, 4.0, "reserved header flags 0x4"},
    {"reserved flag bit 31", MF_FLAGS, 2147483648.0,
	"reserved header flags 0x80000000 are set"},
};

#define NMEANING (sizeof(meaning_cases) / sizeof(meaning_cases[0]))

/* A count from a case's value; 2^64-1 does not survive a double cast. */
static uint64_t
case_count(double v)
{
	return v >= U64_MAX_D ? UINT64_MAX : (uint64_t)v;
}

/* Change the field of case c in m. */
static void
meaning_patch(const struct meaning_case *c, struct model *m)
{
	struct model_info *in = &m->info;

	switch (c->field) {
	case MF_THRESHOLD:
		m->threshold = (float)c->v;
		break;
	case MF_P99_BELOW_P50:
		m->norm.p99[3] = m->norm.p50[3] + (float)c->v;
		break;
	case MF_TRAIN:
		in->train_rows = case_count(c->v);
		break;
	case MF_HOLDOUT:
		in->holdout_rows = case_count(c->v);
		break;
	case MF_DROPPED_OF_KEPT:
		in->dropped_rows = c->v >= U64_MAX_D
		    ? UINT64_MAX
		    : (uint64_t)(c->v *
			  (double)(in->train_rows + in->holdout_rows));
		break;
	case MF_KEPT:
		in->holdout_rows = 1;
		in->train_rows = case_count(c->v) - 1;
		in->dropped_rows = 0;
		break;
	case MF_TRAIN_LOSS:
		in->train_loss = (float)c->v;
		break;
	case MF_HOLDOUT_LOSS:
		in->holdout_loss = (float)c->v;
		break;
	case MF_PARAM:
		m->net.params[5] = (float)c->v;
		break;
	default:
		break;
	}
}

START_TEST(test_file_meaning)
{
	const struct meaning_case *c = &meaning_cases[_i];
	struct model *sentinel = (struct model *)&sentinel, *m = sentinel;
	struct model *copy = small_copy();
	char *cause = NULL;
	uint8_t *buf;
	size_t len;
	int rc;

	meaning_patch(c, copy);
	buf = encode_valid(copy, &len);
	if (c->field == MF_FLAGS)
		set_flags(buf, len, (uint32_t)c->v);
	rc = model_decode(&m, buf, len, "x", FEAT_HASH, SMALL_DIM, &cause);
	if (c->cause == NULL) {
		ck_assert_msg(
		    rc == 0, "%s should load: %s", c->what, cause ? cause : "");
		ck_assert_msg(m->threshold == copy->threshold &&
			m->norm.p99[3] == copy->norm.p99[3] &&
			m->info.train_rows == copy->info.train_rows &&
			m->info.holdout_rows == copy->info.holdout_rows &&
			m->info.dropped_rows == copy->info.dropped_rows,
		    "%s should load as written", c->what);
		model_free(m);
	} else {
		ck_assert_msg(
		    rc == -EPROTO, "%s should be refused, not %d", c->what, rc);
		ck_assert_msg(m == sentinel, "a refused load should leave *mp");
		ck_assert_msg(cause != NULL &&
			strncmp(cause, "model file x: ", 14) == 0 &&
			strstr(cause, c->cause) != NULL,
		    "%s: the cause should say \"%s\": %s", c->what, c->cause,
		    cause ? cause : "(none)");
	}
	free(cause);
	free(buf);
	model_free(copy);
}
END_TEST

/* The same through model_load, with the message in full. */
/*
 * Extras: a blob set on a model comes back after encode and decode, a
 * model without one has none, and a section whose count, tag or length
 * does not hold (checksum valid) is refused.
 */
START_TEST(test_file_extras)
{
	static const uint8_t blob[] = {1, 2, 3, 4, 5, 6, 7};
	struct model *m = small_copy(), *back = NULL;
	const uint8_t *p;
	uint8_t *buf;
	size_t len, n, off;
	/* the section's bytes after the baseline: count, tag, length */
	static const struct {
		size_t at; /* from the section's start */
		uint32_t v;
		const char *what;
	} bad[] = {{0, 0, "count 0"}, {0, MODEL_EXTRA_MAX + 1, "count 5"},
	    {4, 0, "tag 0"}, {8, 1000, "length past the file"},
	    {8, 6, "length short of the section"}};
	size_t i;

	ck_assert_msg(model_extra(m, 7, &n) == NULL && n == 0,
	    "a model made without extras should have none");
	ck_assert_int_eq(model_extra_set(m, 0, blob, sizeof(blob)), -EINVAL);
	ck_assert_int_eq(model_extra_set(m, 7, blob, sizeof(blob)), 0);
	buf = encode_valid(m, &len);
	ck_assert_msg(
	    model_decode(&back, buf, len, "x", FEAT_HASH, SMALL_DIM, NULL) == 0,
	    "a model with an extra should decode");
	p = model_extra(back, 7, &n);
	ck_assert_msg(p != NULL && n == sizeof(blob), "the extra should load");
	ck_assert_mem_eq(p, blob, sizeof(blob));
	ck_assert_str_eq(model_info(back)->id, model_info(m)->id);
	model_free(back);
	/* the section is the last before the trailer: 12 + 7 bytes */
	off = len - 8 - (12 + sizeof(blob));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint8_t *c = malloc(len);
		int k;

		memcpy(c, buf, len);
		for (k = 0; k < 4; k++)
			c[off + bad[i].at + (size_t)k] =
			    (uint8_t)(bad[i].v >> (8 * k));
		resum(c, len);
		back = NULL;
		ck_assert_msg(model_decode(&back, c, len, "x", FEAT_HASH,
				  SMALL_DIM, NULL) == -EPROTO,
		    "extras with %s should be refused", bad[i].what);
		ck_assert_msg(back == NULL, "a refused file yields no model");
		free(c);
	}
	free(buf);
	model_free(m);
}
END_TEST

START_TEST(test_file_meaning_on_disk)
{
	struct model *m = NULL, *copy = small_copy();
	char *cause = NULL, want[256];
	uint8_t *buf;
	size_t len;
	FILE *f;

	copy->threshold = 0.0f;
	buf = encode_valid(copy, &len);
	f = fopen(small_path, "wb");
	ck_assert_msg(
	    f != NULL && fwrite(buf, 1, len, f) == len && fclose(f) == 0,
	    "the changed file should be written");
	ck_assert_msg(model_load(&m, small_path, FEAT_HASH, SMALL_DIM,
			  &cause) == -EPROTO &&
		m == NULL,
	    "a model file with threshold 0 should be refused");
	snprintf(want, sizeof(want),
	    "model file %s: threshold 0 is not a positive finite number",
	    small_path);
	ck_assert_str_eq(cause, want);
	free(cause);
	free(buf);
	model_free(copy);
}
END_TEST

/*
 * A baseline of identical rows reconstructs exactly: training raises the
 * threshold of 0 it would find to the minimum, and says so, so the model
 * it saves loads again.
 */
START_TEST(test_file_constant_baseline)
{
	struct model_params p;
	struct model *m = NULL, *back = NULL;
	uint8_t xform[SMALL_DIM] = {0};
	char *cause = NULL;
	float *x;
	size_t i;

	x = xalloc_rows(200, SMALL_DIM);
	for (i = 0; i < 200 * SMALL_DIM; i++)
		x[i] = 3.0f;
	small_params(&p, SMALL_DIM);
	ck_assert_msg(model_train(&m, x, 200, SMALL_DIM, xform, FEAT_HASH, &p,
			  NULL, &cause) == 0,
	    "a constant baseline should train: %s", cause ? cause : "");
	ck_assert_msg(model_threshold(m) == MODEL_THRESHOLD_MIN,
	    "the threshold should be raised to the minimum, not %g",
	    (double)model_threshold(m));
	ck_assert_msg(strstr(model_info(m)->note, "raised to the minimum"),
	    "the note should say the threshold was raised: %s",
	    model_info(m)->note);
	ck_assert_msg(model_save(m, small_path, &cause) == 0 &&
		model_load(&back, small_path, FEAT_HASH, SMALL_DIM, &cause) ==
		    0,
	    "the model should save and load: %s", cause ? cause : "");
	model_free(back);
	model_free(m);
	free(x);
}
END_TEST

/*
 * A baseline whose own and context features move together (shared latent
 * factors), then rows whose own features are ordinary but whose context
 * is extreme, like a client's flow to a flooded server: own stays below
 * its threshold and ctx goes above its own.  The own threshold is of the
 * total's order (context dropout in training; it was 5.5 times the total
 * without), and rows whose own features lose the latent structure while
 * their context stays ordinary alert on own.
 */
START_TEST(test_split_context_extreme)
{
	const size_t dim = 16, n = 6000, nt = 200;
	uint8_t xform[16] = {0};
	uint8_t groups[16] = {[12] = 1, [13] = 1, [14] = 1, [15] = 1};
	struct model_params p;
	struct model_split *sp = calloc(nt, sizeof(*sp));
	struct synth s;
	struct model *m;
	float *x = xalloc_rows(n, dim), *t = xalloc_rows(nt, dim);
	float *u = xalloc_rows(nt, dim);
	float to, tc, tt;
	size_t i, j, own_ok = 0, ctx_hit = 0, total_hit = 0, own_hit = 0;

	synth_init(&s, 910, dim, 2, 0.1);
	synth_rows(&s, x, n);
	synth_rows(&s, t, nt);
	/* Own features without the structure, an ordinary context. */
	synth_ood(&s, u, nt);
	for (i = 0; i < nt; i++)
		for (j = 12; j < 16; j++)
			u[i * dim + j] = t[i * dim + j];
	for (i = 0; i < nt; i++)
		for (j = 12; j < 16; j++)
			t[i * dim + j] = 50.0f;
	small_params(&p, dim);
	p.groups = groups;
	m = train_ok(x, n, dim, xform, &p);
	to = model_info(m)->threshold_own;
	tc = model_info(m)->threshold_ctx;
	tt = model_threshold(m);
	model_score_split_batch(m, t, nt, sp);
	for (i = 0; i < nt; i++) {
		own_ok += sp[i].own <= to;
		ctx_hit += sp[i].ctx > tc;
		total_hit += sp[i].total > tt;
	}
	model_score_split_batch(m, u, nt, sp);
	for (i = 0; i < nt; i++)
		own_hit += sp[i].own > to;
	fprintf(stderr,
	    "extreme context: %zu of %zu own below %g, %zu ctx above %g, "
	    "%zu total above %g; odd own: %zu of %zu own above %g\n",
	    own_ok, nt, (double)to, ctx_hit, (double)tc, total_hit, (double)tt,
	    own_hit, nt, (double)to);
	ck_assert_msg(ctx_hit == nt,
	    "every row with an extreme context should have ctx above its "
	    "threshold (%zu of %zu)",
	    ctx_hit, nt);
	ck_assert_msg(to <= 1.5f * tt,
	    "the own threshold %g should be of the total's order (%g): "
	    "training sees contexts at their medians",
	    (double)to, (double)tt);
	ck_assert_msg(own_hit >= nt * 4 / 5,
	    "rows whose own features lose the baseline's structure should "
	    "mostly alert on own (%zu of %zu)",
	    own_hit, nt);
	ck_assert_msg(to <= 1.5f * tt,
	    "the own threshold %g should be of the total's order (%g): "
	    "training sees contexts at their medians",
	    (double)to, (double)tt);
	ck_assert_msg(own_hit >= nt * 4 / 5,
	    "rows whose own features lose the baseline's structure should "
	    "mostly alert on own (%zu of %zu)",
	    own_hit, nt);
	/* At a 0.001 target, 200 ordinary rows expect 0.2 over. */
	ck_assert_msg(own_ok >= nt - 2,
	    "ordinary own features should stay below the own threshold "
	    "whatever the context (%zu of %zu)",
	    own_ok, nt);
	model_free(m);
	free(sp);
	free(x);
	free(t);
	free(u);
}
END_TEST

static Suite *
split_suite(void)
{
	Suite *s = suite_create("model split");
	TCase *tc = tcase_create("split scores");

	tcase_set_timeout(tc, 120);
	tcase_add_unchecked_fixture(tc, small_setup, small_teardown);
	tcase_add_test(tc, test_split_no_groups);
	tcase_add_test(tc, test_split_parts);
	tcase_add_test(tc, test_split_context_extreme);
	suite_add_tcase(s, tc);
	return s;
}

START_TEST(test_file_baseline)
{
	struct model *m = NULL, *old;
	float a[2], b[2], c[2], d[2];
	uint8_t *buf;
	size_t len, i;

	buf = small_file(&len);
	ck_assert_msg(buf[12] == 1,
	    "a trained model's file should carry its "
	    "baseline section (flag 1)");
	ck_assert_int_eq(
	    model_decode(&m, buf, len, "x", FEAT_HASH, SMALL_DIM, NULL), 0);
	ck_assert_msg(memcmp(model_baseline(m), model_baseline(small_model),
			  sizeof(struct model_baseline)) == 0,
	    "a loaded model should have the same baseline errors and maps");
	for (i = 0; i < 20; i++) {
		model_project(small_model, small_rows + i * SMALL_DIM, a, b);
		model_project(m, small_rows + i * SMALL_DIM, c, d);
		ck_assert_msg(memcmp(a, c, sizeof(a)) == 0 &&
			memcmp(b, d, sizeof(b)) == 0,
		    "a loaded model should project bit-identically");
	}
	free(buf);
	/* A file made before the section existed: loads, with no maps. */
	m->map.have = 0;
	buf = encode_valid(m, &len);
	model_free(m);
	m = NULL;
	ck_assert_msg(buf[12] == 0, "no maps, no flag");
	ck_assert_int_eq(
	    model_decode(&old, buf, len, "x", FEAT_HASH, SMALL_DIM, NULL), 0);
	ck_assert_msg(!model_baseline(old)->known &&
		model_project(old, small_rows, a, b) == -ENOENT,
	    "a model without the section should say it has no maps");
	model_free(old);
	free(buf);
}
END_TEST

static Suite *
file_suite(void)
{
	Suite *s = suite_create("model file");
	TCase *tc = tcase_create("save and load");

	tcase_add_unchecked_fixture(tc, small_setup, small_teardown);
	tcase_add_test(tc, test_file_roundtrip);
	tcase_add_test(tc, test_file_atomic);
	tcase_add_test(tc, test_file_wrong_features);
	tcase_add_test(tc, test_file_truncated);
	tcase_add_test(tc, test_file_truncated_on_disk);
	tcase_add_test(tc, test_file_flipped);
	tcase_add_test(tc, test_file_not_a_model);
	tcase_add_loop_test(tc, test_file_meaning, 0, (int)NMEANING);
	tcase_add_test(tc, test_file_meaning_on_disk);
	tcase_add_test(tc, test_file_extras);
	tcase_add_test(tc, test_file_constant_baseline);
	tcase_add_test(tc, test_file_baseline);
	suite_add_tcase(s, tc);
	return s;
}

/* ---- Suite keep: the robust drop spares the rows the caller keeps ------- */

/*
 * The planted outliers of outliers_caught(), every step-th of them kept
 * (step 0: none): dropped rows, and outliers scoring above the threshold.
 */
static size_t
kept_outliers_caught(size_t step, size_t *dropped)
{
	const size_t dim = 32, n = 5000;
	struct model_params p;
	struct synth s;
	struct model *m;
	uint8_t xform[32] = {0}, *keep = calloc(n, 1);
	float *x = xalloc_rows(n, dim), *o = xalloc_rows(n / 100, dim), sc;
	size_t i, caught = 0;

	ck_assert_ptr_nonnull(keep);
	synth_init(&s, 400, dim, 4, 0.1);
	synth_rows(&s, x, n);
	synth_ood(&s, o, n / 100);
	for (i = 0; i < n / 100; i++) {
		memcpy(x + (i * 100 + 37) * dim, o + i * dim, dim * 4);
		keep[i * 100 + 37] = step != 0 && i % step == 0;
	}
	small_params(&p, dim);
	p.robust_drop = 0.01;
	p.keep = keep;
	m = train_ok(x, n, dim, xform, &p);
	for (i = 0; i < n / 100; i++) {
		sc = model_score(m, x + (i * 100 + 37) * dim);
		caught += sc > model_threshold(m);
	}
	*dropped = model_info(m)->dropped_rows;
	model_free(m);
	free(keep);
	free(x);
	free(o);
	return caught;
}

START_TEST(test_keep_spares_rows)
{
	size_t caught, dropped, caught_half, dropped_half;

	caught = kept_outliers_caught(1, &dropped);
	caught_half = kept_outliers_caught(2, &dropped_half);
	fprintf(stderr,
	    "keep: all 50 kept: %zu dropped, %zu caught; 25 kept: %zu "
	    "dropped, %zu caught\n",
	    dropped, caught, dropped_half, caught_half);
	ck_assert_msg(dropped <= 5,
	    "with every outlier kept the drop should find next to nothing "
	    "else to remove, not %zu rows",
	    dropped);
	ck_assert_msg(dropped_half >= 20 && dropped_half <= 35,
	    "with half the outliers kept about the other 25 should go, not "
	    "%zu",
	    dropped_half);
	ck_assert_msg(caught < 45,
	    "kept outliers stay in the baseline and the threshold, so fewer "
	    "of them should score above it (%zu of 50)",
	    caught);
	caught = kept_outliers_caught(0, &dropped);
	ck_assert_msg(dropped >= 45,
	    "a mask keeping nothing should drop as NULL does, not %zu rows",
	    dropped);
}
END_TEST

static Suite *
keep_suite(void)
{
	Suite *s = suite_create("model keep");
	TCase *tc = tcase_create("robust drop mask");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_keep_spares_rows);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr;
	int failed;

	sr = srunner_create(rng_suite());
	srunner_add_suite(sr, norm_suite());
	srunner_add_suite(sr, net_suite());
	srunner_add_suite(sr, thresh_suite());
	srunner_add_suite(sr, train_suite());
	srunner_add_suite(sr, model_suite());
	srunner_add_suite(sr, split_suite());
	srunner_add_suite(sr, file_suite());
	srunner_add_suite(sr, keep_suite());
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
