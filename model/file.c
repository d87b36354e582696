/*
 * The model file: explicit little-endian fields, never a struct dump.
 *
 *	header	"ANOMDMDL", u32 version, u32 flags (reserved, 0), u64 length,
 *		u64 feature-table hash
 *	core	u32 dim, u32 weight layers L, u32 width[L + 1], u32 activation,
 *		f32 clip, u8 xform[dim], f32 mean[dim], f32 std[dim],
 *		f32 p50[dim], f32 p99[dim], u8 group[dim], u32 rule,
 *		f64 target rate, f32 threshold, f32 threshold own,
 *		f32 threshold ctx, u64 parameter count, f32 parameters[]
 *	info	u64 train rows, u64 holdout rows, u64 dropped rows,
 *		u64 out-of-sample rows, u32 folds, u32 epochs per fold,
 *		u32 epochs first, u32 epochs refit, f32 train loss,
 *		f32 holdout loss, u64 seed, u64 created, u64 first, u64 last,
 *		char id[16], u32 note length, note bytes
 *	baseline (only with header flag 1: the baseline's picture, map.c)
 *		u32 bins, u64 nerr, u64 hist[bins], f32 p50, p99, max,
 *		f32 var latent, f32 var input, u32 code width k,
 *		f32 latent mean[k], axes[2k], f32 input mean[dim], axes[2 dim],
 *		u32 corners, f32 latent outline[2 corners], u32 corners,
 *		f32 input outline[2 corners]
 *	extras	(only with header flag 2: model_extra_set() blobs)
 *		u32 count (1 to MODEL_EXTRA_MAX), then each: u32 tag (not 0,
 *		each once), u32 length (at most MODEL_EXTRA_MAX_BYTES), bytes
 *	trailer	u64 FNV-1a of every byte before it
 *
 * The model id is the FNV-1a of the core section: it names what was
 * learnt, whatever the metadata says.  The loader reads the whole file
 * (after checking its size against a cap), checks the length field and
 * checksum before looking at anything else, bounds every count before it
 * allocates, and builds the model on the side, so a bad file never yields
 * a half-loaded model.
 *
 * Version 2 added the group map and the own and ctx thresholds.  A version
 * 1 file is refused with a message asking for a retrain: its one
 * threshold came from a holdout, not from every baseline row, and loading
 * it with the context part switched off would quietly bring back the
 * false alerts about clients of a busy server that version 2 exists for.
 *
 * The baseline section is optional and announced by header flag 1, so a
 * version 2 file made before it existed still loads (with no maps: a
 * report says so) and the section is outside the model id.  The extras
 * section is optional and outside the id in the same way (header flag 2):
 * a file without it loads with no extras, and its owner (the daemon's
 * baseline destinations) says it has none.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model/model-int.h"

#define FILE_MAGIC "ANOMDMDL"
#define FILE_VERSION 2
#define FILE_HEADER_BYTES 32
#define FILE_TRAILER_BYTES 8
/* Header flags this version knows; every other bit is reserved, 0. */
#define FILE_FLAG_BASELINE 1u
#define FILE_FLAG_EXTRA 2u
#define FILE_FLAGS_KNOWN (FILE_FLAG_BASELINE | FILE_FLAG_EXTRA)
/* Enough for NET_MAX_LAYERS layers of MODEL_MAX_WIDTH squared. */
#define FILE_MAX_BYTES (64u << 20)

struct wbuf {
	uint8_t *p;
	size_t len, cap;
	int oom;
};

struct rbuf {
	const uint8_t *p;
	size_t len, off;
	int shortread;
};

/* Append n bytes, growing the buffer geometrically. */
static void
put(struct wbuf *w, const void *src, size_t n)
{
	size_t cap;
	uint8_t *np;

	if (w->oom)
		return;
	if (w->cap - w->len < n) {
		cap = w->cap > 0 ? w->cap : 4096;
		while (cap - w->len < n)
			cap *= 2;
		if ((np = realloc(w->p, cap)) == NULL) {
			w->oom = 1;
			return;
		}
		w->p = np;
		w->cap = cap;
	}
	memcpy(w->p + w->len, src, n);
	w->len += n;
}

static void
put_u64(struct wbuf *w, uint64_t v)
{
	uint8_t b[8];
	int i;

	for (i = 0; i < 8; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	put(w, b, 8);
}

static void
put_u32(struct wbuf *w, uint32_t v)
{
	uint8_t b[4];
	int i;

	for (i = 0; i < 4; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	put(w, b, 4);
}

static void
put_f32(struct wbuf *w, float f)
{
	uint32_t v;

	memcpy(&v, &f, 4);
	put_u32(w, v);
}

static void
put_f64(struct wbuf *w, double d)
{
	uint64_t v;

	memcpy(&v, &d, 8);
	put_u64(w, v);
}

static void
put_f32s(struct wbuf *w, const float *f, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		put_f32(w, f[i]);
}

/* Take n bytes, or zeros and a short-read mark when too few are left. */
static void
get(struct rbuf *r, void *dst, size_t n)
{
	if (r->shortread || r->len - r->off < n) {
		r->shortread = 1;
		memset(dst, 0, n);
		return;
	}
	memcpy(dst, r->p + r->off, n);
	r->off += n;
}

static uint64_t
get_u64(struct rbuf *r)
{
	uint8_t b[8];
	uint64_t v = 0;
	int i;

	get(r, b, 8);
	for (i = 7; i >= 0; i--)
		v = (v << 8) | b[i];
	return v;
}

static uint32_t
get_u32(struct rbuf *r)
{
	uint8_t b[4];
	uint32_t v = 0;
	int i;

	get(r, b, 4);
	for (i = 3; i >= 0; i--)
		v = (v << 8) | b[i];
	return v;
}

static float
get_f32(struct rbuf *r)
{
	uint32_t v = get_u32(r);
	float f;

	memcpy(&f, &v, 4);
	return f;
}

static double
get_f64(struct rbuf *r)
{
	uint64_t v = get_u64(r);
	double d;

	memcpy(&d, &v, 8);
	return d;
}

/* Read n floats; returns -1 if any is not finite. */
static int
get_f32s(struct rbuf *r, float *f, size_t n)
{
	size_t i;
	int bad = 0;

	for (i = 0; i < n; i++) {
		f[i] = get_f32(r);
		bad |= !isfinite(f[i]);
	}
	return bad ? -1 : 0;
}

/* The learnt part; [*lo, *hi) of the buffer is what the id hashes. */
static void
encode_core(const struct model *m, struct wbuf *w, size_t *lo, size_t *hi)
{
	const struct model_norm *nm = &m->norm;
	size_t l;

	*lo = w->len;
	put_u32(w, (uint32_t)m->dim);
	put_u32(w, (uint32_t)m->net.nlayers);
	for (l = 0; l <= m->net.nlayers; l++)
		put_u32(w, (uint32_t)m->net.width[l]);
	put_u32(w, (uint32_t)m->net.act);
	put_f32(w, nm->clip);
	put(w, nm->xform, m->dim);
	put_f32s(w, nm->mean, m->dim);
	put_f32s(w, nm->std, m->dim);
	put_f32s(w, nm->p50, m->dim);
	put_f32s(w, nm->p99, m->dim);
	put(w, m->groups.group, m->dim);
	put_u32(w, (uint32_t)m->info.rule);
	put_f64(w, m->info.target_rate);
	put_f32(w, m->threshold);
	put_f32(w, m->threshold_own);
	put_f32(w, m->threshold_ctx);
	put_u64(w, m->net.nparams);
	put_f32s(w, m->net.params, m->net.nparams);
	*hi = w->len;
}

/* Training facts and metadata. */
static void
encode_info(const struct model_info *in, struct wbuf *w)
{
	size_t nl = strnlen(in->note, sizeof(in->note) - 1);

	put_u64(w, in->train_rows);
	put_u64(w, in->holdout_rows);
	put_u64(w, in->dropped_rows);
	put_u64(w, in->oos_rows);
	put_u32(w, in->folds);
	put_u32(w, in->epochs_fold);
	put_u32(w, in->epochs_first);
	put_u32(w, in->epochs_refit);
	put_f32(w, in->train_loss);
	put_f32(w, in->holdout_loss);
	put_u64(w, in->seed);
	put_u64(w, in->created_us);
	put_u64(w, in->first_us);
	put_u64(w, in->last_us);
	put(w, in->id, MODEL_ID_LEN);
	put_u32(w, (uint32_t)nl);
	put(w, in->note, nl);
}

/* Two float points per corner. */
static void
put_outline(struct wbuf *w, const float (*h)[2], size_t n)
{
	size_t i;

	put_u32(w, (uint32_t)n);
	for (i = 0; i < n; i++)
		put_f32s(w, h[i], 2);
}

/* The baseline section (map.c). */
static void
encode_baseline(const struct model *m, struct wbuf *w)
{
	const struct model_mapdata *md = &m->map;
	const struct model_baseline *b = &md->pub;
	size_t i;

	put_u32(w, MODEL_HIST_BINS);
	put_u64(w, b->nerr);
	for (i = 0; i < MODEL_HIST_BINS; i++)
		put_u64(w, b->hist[i]);
	put_f32(w, b->err_p50);
	put_f32(w, b->err_p99);
	put_f32(w, b->err_max);
	put_f32(w, b->var_latent);
	put_f32(w, b->var_input);
	put_u32(w, (uint32_t)md->kdim);
	put_f32s(w, md->lat_mean, md->kdim);
	put_f32s(w, md->lat_axis, 2 * md->kdim);
	put_f32s(w, md->in_mean, m->dim);
	put_f32s(w, md->in_axis, 2 * m->dim);
	put_outline(w, b->hull_latent, b->nhull_latent);
	put_outline(w, b->hull_input, b->nhull_input);
}

/* The extras section (model_extra_set()). */
static void
encode_extra(const struct model *m, struct wbuf *w)
{
	size_t i;

	put_u32(w, (uint32_t)m->nextra);
	for (i = 0; i < m->nextra; i++) {
		put_u32(w, m->extra[i].tag);
		put_u32(w, m->extra[i].len);
		put(w, m->extra[i].p, m->extra[i].len);
	}
}

/* Encode everything; core bounds go to lo and hi. */
static int
encode(const struct model *m, struct wbuf *w, size_t *lo, size_t *hi)
{
	size_t i;

	put(w, FILE_MAGIC, 8);
	put_u32(w, FILE_VERSION);
	put_u32(w,
	    (m->map.have ? FILE_FLAG_BASELINE : 0) |
		(m->nextra > 0 ? FILE_FLAG_EXTRA : 0));
	put_u64(w, 0); /* length, patched below */
	put_u64(w, m->feat_hash);
	encode_core(m, w, lo, hi);
	encode_info(&m->info, w);
	if (m->map.have)
		encode_baseline(m, w);
	if (m->nextra > 0)
		encode_extra(m, w);
	if (w->oom)
		return -ENOMEM;
	for (i = 0; i < 8; i++)
		w->p[16 + i] = (uint8_t)((w->len + 8) >> (8 * i));
	put_u64(w, model_fnv1a(MODEL_FNV_INIT, w->p, w->len));
	return w->oom ? -ENOMEM : 0;
}

/* Serialise m; see model-int.h. */
int
model_encode(const struct model *m, uint8_t **bufp, size_t *lenp)
{
	struct wbuf w = {0};
	size_t lo, hi;
	int error;

	if ((error = encode(m, &w, &lo, &hi)) != 0) {
		free(w.p);
		return error;
	}
	*bufp = w.p;
	*lenp = w.len;
	return 0;
}

/* Hex of the FNV-1a of a byte range. */
static void
hash_hex(const uint8_t *p, size_t len, char id[MODEL_ID_LEN + 1])
{
	snprintf(id, MODEL_ID_LEN + 1, "%016llx",
	    (unsigned long long)model_fnv1a(MODEL_FNV_INIT, p, len));
}

/* The id of m; see model-int.h. */
int
model_compute_id(const struct model *m, char id[MODEL_ID_LEN + 1])
{
	struct wbuf w = {0};
	size_t lo, hi;
	int error;

	if ((error = encode(m, &w, &lo, &hi)) == 0)
		hash_hex(w.p + lo, hi - lo, id);
	free(w.p);
	return error;
}

/* Check the envelope: magic, version, length and checksum. */
static int
check_envelope(const uint8_t *buf, size_t len, const char *name, char **cause)
{
	struct rbuf r = {.p = buf, .len = len};
	uint64_t flen, sum;
	uint32_t version;
	uint8_t magic[8];

	if (len < FILE_HEADER_BYTES + FILE_TRAILER_BYTES) {
		model_cause(
		    cause, "model file %s: truncated (%zu bytes)", name, len);
		return -EPROTO;
	}
	get(&r, magic, 8);
	if (memcmp(magic, FILE_MAGIC, 8) != 0) {
		model_cause(cause, "model file %s: not a model file", name);
		return -EPROTO;
	}
	if ((version = get_u32(&r)) == 1) {
		model_cause(cause,
		    "model file %s: format version 1, made by an older anomd "
		    "without per-group thresholds: retrain the model",
		    name);
		return -EPROTO;
	}
	if (version != FILE_VERSION) {
		model_cause(cause,
		    "model file %s: format version %u not "
		    "supported (want %d)",
		    name, version, FILE_VERSION);
		return -EPROTO;
	}
	(void)get_u32(&r);
	if ((flen = get_u64(&r)) != len) {
		model_cause(cause,
		    "model file %s: %s (%zu bytes, header says "
		    "%llu)",
		    name, len < flen ? "truncated" : "wrong length", len,
		    (unsigned long long)flen);
		return -EPROTO;
	}
	r.off = len - FILE_TRAILER_BYTES;
	sum = get_u64(&r);
	if (sum != model_fnv1a(MODEL_FNV_INIT, buf, len - FILE_TRAILER_BYTES)) {
		model_cause(cause, "model file %s: checksum mismatch", name);
		return -EPROTO;
	}
	return 0;
}

/* Read and bound the shape, then allocate the model for it. */
static int
decode_shape(struct rbuf *r, struct model **mp, size_t dim)
{
	uint32_t d, nl, w[NET_MAX_LAYERS + 1], act, l;
	float clip;

	d = get_u32(r);
	nl = get_u32(r);
	if (d != dim || nl < 2 || nl > NET_MAX_LAYERS)
		return -EPROTO;
	for (l = 0; l <= nl; l++) {
		w[l] = get_u32(r);
		if (w[l] < 1 || w[l] > MODEL_MAX_WIDTH)
			return -EPROTO;
	}
	act = get_u32(r);
	clip = get_f32(r);
	if (r->shortread || w[0] != d || w[nl] != d || act > MODEL_ACT_ELU ||
	    !(clip > 0.0f && clip <= 1e6f))
		return -EPROTO;
	if ((*mp = model_alloc(d, clip)) == NULL ||
	    model_net_init(
		&(*mp)->net, d, w + 1, nl - 1, (enum model_act)act) != 0)
		return -ENOMEM;
	return 0;
}

/* Read the normalisation, threshold and weights into m. */
static int
decode_core(struct rbuf *r, struct model *m)
{
	struct model_norm *nm = &m->norm;
	size_t j, dim = m->dim;
	uint32_t rule;
	int bad = 0;

	get(r, nm->xform, dim);
	for (j = 0; j < dim; j++)
		bad |= nm->xform[j] > MODEL_XFORM_LOG1P;
	bad |= get_f32s(r, nm->mean, dim);
	bad |= get_f32s(r, nm->std, dim);
	for (j = 0; j < dim; j++)
		bad |= !(nm->std[j] >= MODEL_STD_FLOOR);
	bad |= get_f32s(r, nm->p50, dim);
	bad |= get_f32s(r, nm->p99, dim);
	get(r, m->groups.group, dim);
	for (j = 0; j < dim; j++)
		bad |= m->groups.group[j] > MODEL_GROUP_CTX;
	rule = get_u32(r);
	m->info.rule = (enum model_rule)rule;
	m->info.target_rate = get_f64(r);
	m->threshold = get_f32(r);
	m->threshold_own = get_f32(r);
	m->threshold_ctx = get_f32(r);
	bad |= rule > MODEL_RULE_POT || !(m->info.target_rate > 0.0) ||
	    !(m->info.target_rate < 0.5);
	bad |= get_u64(r) != m->net.nparams;
	if (bad || r->shortread)
		return -EPROTO;
	bad |= get_f32s(r, m->net.params, m->net.nparams);
	model_norm_derive(nm);
	model_groups_derive(m);
	return bad || r->shortread ? -EPROTO : 0;
}

/* Read the info section. */
static int
decode_info(struct rbuf *r, struct model_info *in)
{
	uint32_t nl;

	in->train_rows = get_u64(r);
	in->holdout_rows = get_u64(r);
	in->dropped_rows = get_u64(r);
	in->oos_rows = get_u64(r);
	in->folds = get_u32(r);
	in->epochs_fold = get_u32(r);
	in->epochs_first = get_u32(r);
	in->epochs_refit = get_u32(r);
	in->train_loss = get_f32(r);
	in->holdout_loss = get_f32(r);
	in->seed = get_u64(r);
	in->created_us = get_u64(r);
	in->first_us = get_u64(r);
	in->last_us = get_u64(r);
	get(r, in->id, MODEL_ID_LEN);
	in->id[MODEL_ID_LEN] = '\0';
	nl = get_u32(r);
	if (nl >= sizeof(in->note))
		return -EPROTO;
	get(r, in->note, nl);
	in->note[nl] = '\0';
	return r->shortread ? -EPROTO : 0;
}

/* Read an outline of at most MODEL_HULL_MAX corners; -1 when bad. */
static int
get_outline(struct rbuf *r, float (*h)[2], size_t *n)
{
	uint32_t c = get_u32(r), i;
	int bad = 0;

	if (c > MODEL_HULL_MAX)
		return -1;
	for (i = 0; i < c; i++)
		bad |= get_f32s(r, h[i], 2);
	*n = c;
	return bad;
}

/* Read the baseline section into m (its shape is known by now). */
static int
decode_baseline(struct rbuf *r, struct model *m)
{
	struct model_mapdata *md = &m->map;
	struct model_baseline *b = &md->pub;
	uint64_t sum = 0;
	size_t i;
	int bad = 0;

	if (model_map_alloc(m) != 0)
		return -ENOMEM;
	if (get_u32(r) != MODEL_HIST_BINS)
		return -EPROTO;
	b->nerr = get_u64(r);
	for (i = 0; i < MODEL_HIST_BINS; i++) {
		b->hist[i] = get_u64(r);
		sum += b->hist[i] <= b->nerr ? b->hist[i] : b->nerr + 1;
	}
	b->err_p50 = get_f32(r);
	b->err_p99 = get_f32(r);
	b->err_max = get_f32(r);
	b->var_latent = get_f32(r);
	b->var_input = get_f32(r);
	if (sum != b->nerr || get_u32(r) != md->kdim)
		return -EPROTO;
	bad |= get_f32s(r, md->lat_mean, md->kdim);
	bad |= get_f32s(r, md->lat_axis, 2 * md->kdim);
	bad |= get_f32s(r, md->in_mean, m->dim);
	bad |= get_f32s(r, md->in_axis, 2 * m->dim);
	bad |= get_outline(r, b->hull_latent, &b->nhull_latent);
	bad |= get_outline(r, b->hull_input, &b->nhull_input);
	if (bad || r->shortread || !isfinite(b->err_p50) ||
	    !isfinite(b->err_p99) || !isfinite(b->err_max) ||
	    !(b->var_latent >= 0.0f && b->var_latent <= 1.001f) ||
	    !(b->var_input >= 0.0f && b->var_input <= 1.001f))
		return -EPROTO;
	md->have = 1;
	b->known = 1;
	return 0;
}

/*
 * Read the extras section into m: a count of 1 to MODEL_EXTRA_MAX, each
 * tag nonzero and once, each length bounded and within the file.
 */
static int
decode_extra(struct rbuf *r, struct model *m)
{
	uint32_t n, tag, len, i;
	size_t k;
	int error;

	n = get_u32(r);
	if (r->shortread || n < 1 || n > MODEL_EXTRA_MAX)
		return -EPROTO;
	for (i = 0; i < n; i++) {
		tag = get_u32(r);
		len = get_u32(r);
		if (r->shortread || tag == 0 || len > MODEL_EXTRA_MAX_BYTES ||
		    len > r->len - r->off)
			return -EPROTO;
		for (k = 0; k < m->nextra; k++)
			if (m->extra[k].tag == tag)
				return -EPROTO;
		if ((error = model_extra_set(m, tag, r->p + r->off, len)) != 0)
			return error;
		r->off += len;
	}
	return 0;
}

/* Check the header's feature hash and dim against the caller's. */
static int
check_fit(const uint8_t *buf, const char *name, uint64_t feat_hash, size_t dim,
    char **cause)
{
	struct rbuf r = {.p = buf, .len = FILE_HEADER_BYTES + 4};
	uint64_t fh;
	uint32_t d;

	r.off = 24;
	fh = get_u64(&r);
	d = get_u32(&r);
	if (fh != feat_hash) {
		model_cause(cause,
		    "model file %s: made for feature table "
		    "%016llx, not %016llx",
		    name, (unsigned long long)fh,
		    (unsigned long long)feat_hash);
		return -EINVAL;
	}
	if (d != dim) {
		model_cause(cause,
		    "model file %s: rows of %u features, not "
		    "%zu",
		    name, d, dim);
		return -EINVAL;
	}
	return 0;
}

/*
 * Meaning checks, after the checksum and id have vouched for the bytes: a
 * file can be intact and still say something no training run produces.
 * Each value is refused with a message naming it, so an operator who edits
 * a model by hand (or a bug that writes a bad one) learns why it is refused
 * instead of getting a daemon that alerts on every flow or on none.
 */

/* The header's reserved flags must all be clear. */
static int
check_flags(const uint8_t *buf, const char *name, char **cause)
{
	struct rbuf r = {.p = buf, .len = FILE_HEADER_BYTES, .off = 12};
	uint32_t flags = get_u32(&r);

	if ((flags & ~FILE_FLAGS_KNOWN) == 0)
		return 0;
	model_cause(cause, "model file %s: reserved header flags %#x are set",
	    name, flags & ~FILE_FLAGS_KNOWN);
	return -EPROTO;
}

/*
 * A score is a mean of squares: a threshold of 0 (or below) makes every
 * flow an anomaly, and one below MODEL_THRESHOLD_MIN (which training never
 * goes under) all but every flow.
 */
static int
check_threshold(float t, const char *name, char **cause)
{
	if (!(t > 0.0f) || !isfinite(t)) {
		model_cause(cause,
		    "model file %s: threshold %g is not a positive finite "
		    "number",
		    name, (double)t);
		return -EPROTO;
	}
	if (t < MODEL_THRESHOLD_MIN) {
		model_cause(cause,
		    "model file %s: threshold %g is below the minimum %g", name,
		    (double)t, (double)MODEL_THRESHOLD_MIN);
		return -EPROTO;
	}
	return 0;
}

/*
 * Weights and biases are bounded: a trained network's are of order 1, and
 * one of 1e38 overflows to a NaN score, which no threshold catches.
 */
static int
check_params(const struct net *n, const char *name, char **cause)
{
	size_t i;

	for (i = 0; i < n->nparams; i++) {
		if (fabsf(n->params[i]) <= MODEL_PARAM_MAX)
			continue;
		model_cause(cause,
		    "model file %s: parameter %zu is %g, beyond +-%g", name, i,
		    (double)n->params[i], (double)MODEL_PARAM_MAX);
		return -EPROTO;
	}
	return 0;
}

/* Baseline percentiles are in order for every feature. */
static int
check_percentiles(const struct model_norm *nm, const char *name, char **cause)
{
	size_t j;

	for (j = 0; j < nm->dim; j++) {
		if (nm->p99[j] >= nm->p50[j])
			continue;
		model_cause(cause,
		    "model file %s: feature %zu: baseline p99 %g is below "
		    "its p50 %g",
		    name, j, (double)nm->p99[j], (double)nm->p50[j]);
		return -EPROTO;
	}
	return 0;
}

/*
 * Training counts as model_train() makes them: at least one training and
 * one held-out row, at least MODEL_MIN_ROWS kept, at most UINT32_MAX rows
 * in all, and at most a fifth dropped (robust_drop is at most 0.2).
 * Losses are finite and not negative.
 */
static int
check_counts(const struct model_info *in, const char *name, char **cause)
{
	unsigned long long tr = in->train_rows, ho = in->holdout_rows;
	unsigned long long dr = in->dropped_rows;
	const char *why = NULL;

	if (tr == 0 || ho == 0)
		why = "no training or no held-out rows";
	else if (tr > UINT32_MAX || ho > UINT32_MAX || dr > UINT32_MAX ||
	    tr + ho + dr > UINT32_MAX)
		why = "more rows than training takes";
	else if (tr + ho < MODEL_MIN_ROWS)
		why = "fewer rows kept than training needs";
	else if (dr * 5 > tr + ho + dr)
		why = "more than a fifth of the rows dropped";
	if (why != NULL) {
		model_cause(cause,
		    "model file %s: training counts %llu train, %llu "
		    "holdout, %llu dropped: %s",
		    name, tr, ho, dr, why);
		return -EPROTO;
	}
	if (!(in->train_loss >= 0.0f) || !isfinite(in->train_loss) ||
	    !(in->holdout_loss >= 0.0f) || !isfinite(in->holdout_loss)) {
		model_cause(cause,
		    "model file %s: losses %g (train) and %g (holdout) "
		    "are not finite and non-negative",
		    name, (double)in->train_loss, (double)in->holdout_loss);
		return -EPROTO;
	}
	return 0;
}

/* Refuse a well-formed file whose values make no sense; -EPROTO. */
static int
check_meaning(
    const uint8_t *buf, const struct model *m, const char *name, char **cause)
{
	int error;

	if ((error = check_flags(buf, name, cause)) != 0 ||
	    (error = check_threshold(m->threshold, name, cause)) != 0 ||
	    (error = check_threshold(m->threshold_own, name, cause)) != 0 ||
	    (error = check_threshold(m->threshold_ctx, name, cause)) != 0 ||
	    (error = check_percentiles(&m->norm, name, cause)) != 0 ||
	    (error = check_params(&m->net, name, cause)) != 0 ||
	    (error = check_counts(&m->info, name, cause)) != 0)
		return error;
	return 0;
}

/* Parse a whole file image; see model-int.h. */
int
model_decode(struct model **mp, const uint8_t *buf, size_t len,
    const char *name, uint64_t feat_hash, size_t dim, char **cause)
{
	struct rbuf r = {.p = buf};
	struct model *m = NULL;
	char id[MODEL_ID_LEN + 1];
	size_t lo, hi;
	int error;

	if ((error = check_envelope(buf, len, name, cause)) != 0 ||
	    (error = check_flags(buf, name, cause)) != 0 ||
	    (error = check_fit(buf, name, feat_hash, dim, cause)) != 0)
		return error;
	r.len = len - FILE_TRAILER_BYTES;
	r.off = FILE_HEADER_BYTES;
	lo = r.off;
	if ((error = decode_shape(&r, &m, dim)) != 0 ||
	    (error = decode_core(&r, m)) != 0)
		goto fail;
	hi = r.off;
	if ((error = decode_info(&r, &m->info)) != 0)
		goto fail;
	if ((buf[12] & FILE_FLAG_BASELINE) &&
	    (error = decode_baseline(&r, m)) != 0)
		goto fail;
	if ((buf[12] & FILE_FLAG_EXTRA) && (error = decode_extra(&r, m)) != 0)
		goto fail;
	error = -EPROTO;
	if (r.off != r.len)
		goto fail;
	hash_hex(buf + lo, hi - lo, id);
	if (strcmp(id, m->info.id) != 0) {
		model_cause(cause,
		    "model file %s: model id %s does not match "
		    "its contents (%s)",
		    name, m->info.id, id);
		goto out;
	}
	if ((error = check_meaning(buf, m, name, cause)) != 0)
		goto out;
	m->feat_hash = feat_hash;
	model_info_sync(m);
	*mp = m;
	return 0;
fail:
	if (error == -ENOMEM)
		model_cause(cause, "model file %s: out of memory", name);
	else
		model_cause(
		    cause, "model file %s: inconsistent contents", name);
out:
	model_free(m);
	return error;
}

/* fsync the folder holding path, so the rename survives a crash. */
static int
sync_dir(const char *path)
{
	char *copy;
	int fd, error = 0;

	if ((copy = strdup(path)) == NULL)
		return -ENOMEM;
	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd == -1 || fsync(fd) != 0)
		error = -errno;
	if (fd != -1)
		close(fd);
	free(copy);
	return error;
}

/* Write buf to a temporary file beside path, sync it, rename it over. */
static int
write_atomic(const char *path, const uint8_t *buf, size_t len, char **cause)
{
	const char *what = "create";
	char *tmp = NULL;
	FILE *f = NULL;
	int fd, error = 0;

	if (asprintf(&tmp, "%s.tmp.XXXXXX", path) < 0) {
		model_cause(cause, "model file %s: out of memory", path);
		return -ENOMEM;
	}
	if ((fd = mkostemp(tmp, O_CLOEXEC)) == -1) {
		error = -errno;
		goto fail;
	}
	if ((f = fdopen(fd, "wb")) == NULL) {
		error = -errno;
		close(fd);
		goto fail_unlink;
	}
	what = "write";
	if (fchmod(fd, 0644) != 0 || fwrite(buf, 1, len, f) != len ||
	    fflush(f) != 0 || fsync(fd) != 0) {
		error = -errno;
		goto fail_unlink;
	}
	what = "close";
	error = fclose(f) != 0 ? -errno : 0;
	f = NULL;
	if (error != 0)
		goto fail_unlink;
	what = "rename";
	if (rename(tmp, path) != 0) {
		error = -errno;
		goto fail_unlink;
	}
	what = "sync folder of";
	if ((error = sync_dir(path)) != 0)
		goto fail;
	free(tmp);
	return 0;
fail_unlink:
	if (f != NULL)
		fclose(f);
	unlink(tmp);
fail:
	model_cause(cause, "model file %s: %s %s: %s", path, what, tmp,
	    strerror(-error));
	free(tmp);
	return error;
}

/* Save atomically; see model.h. */
int
model_save(const struct model *m, const char *path, char **cause)
{
	uint8_t *buf;
	size_t len;
	int error;

	if ((error = model_encode(m, &buf, &len)) != 0) {
		model_cause(cause, "model file %s: out of memory", path);
		return error;
	}
	error = write_atomic(path, buf, len, cause);
	free(buf);
	return error;
}

/* Read up to cap bytes of fd into buf; the count goes to *got. */
static int
read_all(int fd, uint8_t *buf, size_t cap, size_t *got)
{
	ssize_t r;

	*got = 0;
	while (*got < cap) {
		r = read(fd, buf + *got, cap - *got);
		if (r == 0)
			break;
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		*got += (size_t)r;
	}
	return 0;
}

/* Read a whole regular file of at most FILE_MAX_BYTES. */
static int
read_file(const char *path, uint8_t **bufp, size_t *lenp, char **cause)
{
	struct stat st;
	uint8_t *buf = NULL;
	const char *what = "stat";
	int fd, error = 0;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		error = -errno;
		model_cause(
		    cause, "model file %s: open: %s", path, strerror(errno));
		return error;
	}
	if (fstat(fd, &st) != 0)
		error = -errno;
	else if (!S_ISREG(st.st_mode))
		error = -EINVAL;
	else if ((uint64_t)st.st_size > FILE_MAX_BYTES)
		error = -EFBIG;
	else if ((buf = malloc((size_t)st.st_size + 1)) == NULL)
		error = -ENOMEM;
	/* One byte more than expected, to notice a file that grew. */
	else if ((error = read_all(fd, buf, (size_t)st.st_size + 1, lenp)) != 0)
		what = "read";
	close(fd);
	if (error == -EINVAL)
		model_cause(cause, "model file %s: not a regular file", path);
	else if (error == -EFBIG)
		model_cause(cause,
		    "model file %s: %lld bytes, over the limit "
		    "of %u",
		    path, (long long)st.st_size, FILE_MAX_BYTES);
	else if (error != 0)
		model_cause(cause, "model file %s: %s: %s", path, what,
		    strerror(-error));
	if (error != 0) {
		free(buf);
		return error;
	}
	*bufp = buf;
	return 0;
}

/* Load and check a model file; see model.h. */
int
model_load(struct model **mp, const char *path, uint64_t feat_hash, size_t dim,
    char **cause)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int error;

	if ((error = read_file(path, &buf, &len, cause)) != 0)
		return error;
	error = model_decode(mp, buf, len, path, feat_hash, dim, cause);
	free(buf);
	return error;
}
