/*
 * Fuzz target for the model loader: model_decode(), which model_load()
 * runs on a file's bytes.
 *
 * Each input is a model file.  It is decoded as it is, then once more with
 * its length field, model id and checksum recomputed (when it changes), so
 * that a mutation inside the file gets past the checksum to the shape,
 * bound and meaning checks and to the code that builds the model.  The
 * feature hash and dim the loader is asked for come from the input's own
 * header, so a changed dim is checked against the widths, not refused at
 * the door.
 *
 * Promises checked besides not crashing: a refusal returns -EPROTO,
 * -EINVAL or -ENOMEM with a cause and leaves *mp alone; a loaded model has
 * three thresholds the meaning checks allow, scores and splits a row of
 * its baseline medians and a row of extreme values without a NaN,
 * re-encodes to a file that loads, and that file encodes to the same
 * bytes again.
 *
 * Built with -DANOMD_LIBFUZZER and -fsanitize=fuzzer this is a libFuzzer
 * target; otherwise tests/fuzz/fuzz-main.h supplies a replay main.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/model.h"
#include "model/model-int.h"
#include "tests/fuzz/fuzz-util.h"

#define FUZZ_NAME "fuzz_model"
#define FUZZ_CORPUS "model"
#define FUZZ_DEFAULT_ITERS 30000

/*
 * The file layout the fix-up needs (format version 2; see the design
 * block of file.c).
 */
#define HDR_BYTES 32
#define INFO_FIXED_BYTES 88 /* info fields before the id */
#define TRAILER_BYTES 8

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static unsigned long n_loaded, n_refused, n_fixed;

/* Stop at once on a broken promise, like a sanitizer does. */
static void
require(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_model: broken invariant: %s\n", what);
		abort();
	}
}

static uint64_t
rd64(const uint8_t *p)
{
	uint64_t v = 0;
	int i;

	for (i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static void
wr64(uint8_t *p, uint64_t v)
{
	int i;

	for (i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t
rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

/*
 * Make b[len] pass the envelope and id checks: set the length, find the
 * note (its u32 length sits just before it, at the end), hash the core
 * into the id and sum the file.  Returns 0 when nothing fits.
 */
static int
fix_up(uint8_t *b, size_t len)
{
	const size_t min =
	    HDR_BYTES + INFO_FIXED_BYTES + MODEL_ID_LEN + 4 + TRAILER_BYTES;
	char id[MODEL_ID_LEN + 1];
	size_t nl, at, hi;

	if (len < min)
		return 0;
	wr64(b + 16, len);
	for (nl = 0; nl < MODEL_NOTE_MAX && min + nl <= len; nl++) {
		at = len - TRAILER_BYTES - nl - 4;
		if (rd32(b + at) != nl)
			continue;
		hi = at - MODEL_ID_LEN - INFO_FIXED_BYTES;
		snprintf(id, sizeof(id), "%016llx",
		    (unsigned long long)model_fnv1a(
			MODEL_FNV_INIT, b + HDR_BYTES, hi - HDR_BYTES));
		memcpy(b + at - MODEL_ID_LEN, id, MODEL_ID_LEN);
		break;
	}
	wr64(b + len - TRAILER_BYTES,
	    model_fnv1a(MODEL_FNV_INIT, b, len - TRAILER_BYTES));
	return 1;
}

/* Exercise a loaded model and check what it promises. */
static void
check_model(struct model *m)
{
	const struct model_info *in = model_info(m);
	struct model_expl ex[4];
	struct model_split sp;
	struct model *back = NULL;
	uint8_t *e1 = NULL, *e2 = NULL;
	size_t l1, l2, j, dim = model_dim(m);
	float row[MODEL_MAX_DIM];

	require(model_threshold(m) >= MODEL_THRESHOLD_MIN &&
		isfinite(model_threshold(m)),
	    "a loaded threshold is finite and at least the minimum");
	require(in->threshold_own >= MODEL_THRESHOLD_MIN &&
		isfinite(in->threshold_own) &&
		in->threshold_ctx >= MODEL_THRESHOLD_MIN &&
		isfinite(in->threshold_ctx),
	    "loaded own and ctx thresholds are finite and at least the "
	    "minimum");
	require(in->train_rows > 0 && in->holdout_rows > 0,
	    "a loaded model has training and held-out rows");
	for (j = 0; j < dim; j++)
		row[j] = m->norm.p50[j];
	require(!isnan(model_score(m, row)), "a median row scores");
	model_score_split(m, row, &sp);
	require(!isnan(sp.total) && !isnan(sp.own) && !isnan(sp.ctx),
	    "a median row splits");
	for (j = 0; j < dim; j++)
		row[j] = j % 2 ? 3e38f : -3e38f;
	require(!isnan(model_score(m, row)), "an extreme row scores");
	model_score_split(m, row, &sp);
	require(!isnan(sp.total) && !isnan(sp.own) && !isnan(sp.ctx),
	    "an extreme row splits");
	require(model_explain(m, row, 4, ex) == (dim < 4 ? dim : 4),
	    "explain returns min(k, dim)");
	require(model_encode(m, &e1, &l1) == 0, "a loaded model encodes");
	require(
	    model_decode(&back, e1, l1, "again", m->feat_hash, dim, NULL) == 0,
	    "a re-encoded model loads");
	require(model_encode(back, &e2, &l2) == 0 && l1 == l2 &&
		memcmp(e1, e2, l1) == 0,
	    "a re-encoded model encodes to the same bytes");
	model_free(back);
	free(e1);
	free(e2);
}

/* Decode b[len] with the fit its header asks for. */
static void
decode_one(const uint8_t *b, size_t len)
{
	struct model *sentinel = (struct model *)&sentinel, *m = sentinel;
	uint64_t fh = len >= HDR_BYTES ? rd64(b + 24) : 0;
	size_t dim = len >= HDR_BYTES + 4 ? rd32(b + HDR_BYTES) : 1;
	char *cause = NULL;
	int rc;

	if (dim < 1 || dim > MODEL_MAX_DIM)
		dim = 64;
	rc = model_decode(&m, b, len, "fuzz", fh, dim, &cause);
	if (rc != 0) {
		require(rc == -EPROTO || rc == -EINVAL || rc == -ENOMEM,
		    "a refusal is -EPROTO, -EINVAL or -ENOMEM");
		require(m == sentinel, "a refusal leaves *mp alone");
		require(cause != NULL &&
			strncmp(cause, "model file fuzz: ", 17) == 0,
		    "a refusal says why, naming the file");
		free(cause);
		n_refused++;
		return;
	}
	require(cause == NULL, "a load sets no cause");
	n_loaded++;
	check_model(m);
	model_free(m);
}

/* The fuzz target: decode the input as it is, then fixed up. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *copy;

	decode_one(data, size);
	if (size == 0 || (copy = malloc(size)) == NULL)
		return 0;
	memcpy(copy, data, size);
	if (fix_up(copy, size) && memcmp(copy, data, size) != 0) {
		n_fixed++;
		decode_one(copy, size);
	}
	free(copy);
	return 0;
}

#ifndef ANOMD_LIBFUZZER
#define FUZZ_EXTRA_SEEDS

static int fuzz_add_input(const uint8_t *b, size_t len);

/*
 * A model trained here, in the format of this build: the committed corpus
 * holds files of the format it was made with, which a later format
 * refuses at the version check.
 */
static void
fuzz_extra_seeds(void)
{
	enum {
		DIM = 6,
		ROWS = 120
	};
	static const uint8_t xform[DIM] = {0, 1, 0, 1, 0, 0};
	static const uint8_t groups[DIM] = {0, 0, 0, 0, 1, 1};
	struct model_params p;
	struct model_rng rng;
	struct model *m = NULL;
	float x[ROWS * DIM];
	uint8_t *buf;
	size_t i, len;
	double f = 0.0;

	model_rng_seed(&rng, 7);
	for (i = 0; i < ROWS * DIM; i++) {
		if (i % DIM == 0)
			f = model_rng_normal(&rng);
		x[i] = (float)(f * (double)(i % DIM + 1) +
		    0.1 * model_rng_normal(&rng));
	}
	model_params_default(&p);
	p.layers[0] = 4, p.layers[1] = 2, p.layers[2] = 4, p.nlayers = 3;
	p.max_epochs = 3;
	p.groups = groups; /* split thresholds and context dropout */
	require(model_train(&m, x, ROWS, DIM, xform, 0x66757a7aULL, &p, NULL,
		    NULL) == 0 &&
		model_encode(m, &buf, &len) == 0,
	    "the run-time seed trains and encodes");
	require(fuzz_add_input(buf, len) == 0, "the run-time seed is added");
	free(buf);
	model_free(m);
}

/* Say how deep the run got. */
static void
fuzz_summary(void)
{
	printf("fuzz_model: %lu loaded, %lu refused, %lu decoded again "
	       "after a fix-up\n",
	    n_loaded, n_refused, n_fixed);
	require(n_loaded > 0, "the corpus has models that load");
}
#endif

#include "tests/fuzz/fuzz-main.h"
