/*
 * The model handle: parameters, names, scoring and explanations.
 *
 * Scoring normalises a block of raw rows into stack scratch and pushes the
 * block through the network (net.c), so it never allocates and any number
 * of threads may score with one model.  A row's score does not depend on
 * the block it falls in, so model_score() equals model_score_batch().
 */
#include <float.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/model-int.h"

static const char *const rule_names[] = {
    [MODEL_RULE_QUANTILE] = "quantile",
    [MODEL_RULE_POT] = "pot",
};

static const char *const act_names[] = {
    [MODEL_ACT_RELU] = "relu",
    [MODEL_ACT_TANH] = "tanh",
    [MODEL_ACT_ELU] = "elu",
};

#define NITEMS(a) (sizeof(a) / sizeof((a)[0]))

/* The defaults; model.h says why each is what it is. */
void
model_params_default(struct model_params *p)
{
	memset(p, 0, sizeof(*p));
	p->layers[0] = 48;
	p->layers[1] = 12;
	p->layers[2] = 48;
	p->nlayers = 3;
	p->activation = MODEL_ACT_TANH;
	p->max_epochs = 30;
	p->batch = 128;
	p->learning_rate = 3e-3f;
	p->patience = 3;
	p->folds = 4;
	p->seed = 1;
	p->rule = MODEL_RULE_QUANTILE;
	p->target_rate = 0.001;
	p->robust_drop = 0.01;
	p->pot_quantile = 0.98;
	p->quantile_margin = 1.5;
	p->confidence = 0.9;
	p->threads = 1;
	p->clip = 6.0f;
	p->transfer = NULL;
	p->transfer_gate = -1;
}

/* Name of a rule. */
const char *
model_rule_name(enum model_rule rule)
{
	if ((size_t)rule < NITEMS(rule_names))
		return rule_names[rule];
	return "unknown";
}

/* Parse a rule name. */
int
model_rule_parse(const char *name, enum model_rule *rule)
{
	size_t i;

	for (i = 0; name != NULL && i < NITEMS(rule_names); i++) {
		if (strcmp(name, rule_names[i]) == 0) {
			*rule = (enum model_rule)i;
			return 0;
		}
	}
	return -EINVAL;
}

/* Name of an activation. */
const char *
model_act_name(enum model_act act)
{
	if ((size_t)act < NITEMS(act_names))
		return act_names[act];
	return "unknown";
}

/* Parse an activation name. */
int
model_act_parse(const char *name, enum model_act *act)
{
	size_t i;

	for (i = 0; name != NULL && i < NITEMS(act_names); i++) {
		if (strcmp(name, act_names[i]) == 0) {
			*act = (enum model_act)i;
			return 0;
		}
	}
	return -EINVAL;
}

/* Format a message into *cause; allocation failure leaves it NULL. */
void
model_cause(char **cause, const char *fmt, ...)
{
	va_list ap;

	if (cause == NULL)
		return;
	va_start(ap, fmt);
	if (vasprintf(cause, fmt, ap) < 0)
		*cause = NULL;
	va_end(ap);
}

/* 64-bit FNV-1a; a single changed byte always changes the result. */
uint64_t
model_fnv1a(uint64_t h, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* An empty model with its normalisation arrays allocated. */
struct model *
model_alloc(size_t dim, float clip)
{
	struct model *m;

	if ((m = calloc(1, sizeof(*m))) == NULL)
		return NULL;
	m->dim = dim;
	if (model_norm_init(&m->norm, dim, clip) != 0) {
		free(m);
		return NULL;
	}
	m->groups.group = calloc(dim, sizeof(*m->groups.group));
	m->groups.own_mask = calloc(dim, sizeof(*m->groups.own_mask));
	m->groups.ctx_mask = calloc(dim, sizeof(*m->groups.ctx_mask));
	m->groups.fill = calloc(dim, sizeof(*m->groups.fill));
	if (m->groups.group == NULL || m->groups.own_mask == NULL ||
	    m->groups.ctx_mask == NULL || m->groups.fill == NULL) {
		model_free(m);
		return NULL;
	}
	m->threshold_ctx = FLT_MAX;
	return m;
}

/* Masks, CTX count and fill values; see model-int.h. */
void
model_groups_derive(struct model *m)
{
	struct model_groups *g = &m->groups;
	size_t j;

	g->nctx = 0;
	for (j = 0; j < m->dim; j++) {
		g->nctx += g->group[j] == MODEL_GROUP_CTX;
		g->ctx_mask[j] = g->group[j] == MODEL_GROUP_CTX ? 1.0f : 0.0f;
		g->own_mask[j] = 1.0f - g->ctx_mask[j];
	}
	/* The raw medians normalised like any row: their z values. */
	model_norm_apply(&m->norm, m->norm.p50, 1, g->fill);
}

/* Free a model. */
void
model_free(struct model *m)
{
	size_t i;

	if (m == NULL)
		return;
	model_norm_release(&m->norm);
	model_net_release(&m->net);
	model_map_release(&m->map);
	for (i = 0; i < m->nextra; i++)
		free(m->extra[i].p);
	free(m->groups.group);
	free(m->groups.own_mask);
	free(m->groups.ctx_mask);
	free(m->groups.fill);
	free(m);
}

/* Copy shape and rule facts into the info struct. */
void
model_info_sync(struct model *m)
{
	struct model_info *in = &m->info;
	size_t l;

	in->rule_name = model_rule_name(in->rule);
	in->threshold = m->threshold;
	in->threshold_own = m->threshold_own;
	in->threshold_ctx = m->threshold_ctx;
	in->dim = (uint32_t)m->dim;
	in->activation = m->net.act;
	in->nhidden = (uint32_t)(m->net.nlayers - 1);
	memset(in->hidden, 0, sizeof(in->hidden));
	for (l = 0; l < in->nhidden; l++)
		in->hidden[l] = (uint32_t)m->net.width[l + 1];
	in->baseline_rows = in->train_rows + in->holdout_rows;
}

/* Score a block of at most model_net_block_rows() raw rows. */
static void
score_block(
    const struct model *m, const float *x, size_t rows, float *out, float *feat)
{
	float z[NET_SCRATCH_FLOATS];

	model_norm_apply(&m->norm, x, rows, z);
	model_net_errors(&m->net, z, rows, out, feat);
}

/* Score one row. */
float
model_score(const struct model *m, const float *x)
{
	float s;

	score_block(m, x, 1, &s, NULL);
	return s;
}

/* Split the scores of a block of at most model_net_block_rows() rows. */
static void
split_block(
    const struct model *m, const float *x, size_t rows, struct model_split *out)
{
	float z[NET_SCRATCH_FLOATS];

	model_norm_apply(&m->norm, x, rows, z);
	model_net_split(&m->net, &m->groups, z, rows, out);
}

/* Split a row's score; see model.h. */
void
model_score_split(
    const struct model *m, const float *x, struct model_split *out)
{
	split_block(m, x, 1, out);
}

/* Split many rows' scores, a block at a time. */
void
model_score_split_batch(
    const struct model *m, const float *x, size_t n, struct model_split *out)
{
	size_t i, r, blk = model_net_block_rows(&m->net);

	for (i = 0; i < n; i += r) {
		r = n - i < blk ? n - i : blk;
		split_block(m, x + i * m->dim, r, out + i);
	}
}

/* Score many rows, a block at a time. */
void
model_score_batch(const struct model *m, const float *x, size_t n, float *out)
{
	size_t i, r, blk = model_net_block_rows(&m->net);

	for (i = 0; i < n; i += r) {
		r = n - i < blk ? n - i : blk;
		score_block(m, x + i * m->dim, r, out + i, NULL);
	}
}

/* The threshold. */
float
model_threshold(const struct model *m)
{
	return m->threshold;
}

/* Features per row. */
size_t
model_dim(const struct model *m)
{
	return m->dim;
}

/* The raw baseline median of feature i. */
float
model_median(const struct model *m, size_t i)
{
	return i < m->dim ? m->norm.p50[i] : 0.0f;
}

/* The info struct. */
const struct model_info *
model_info(const struct model *m)
{
	return &m->info;
}

/* Insert feature j with error e into the top list out[*cnt], k long. */
static void
top_insert(struct model_expl *out, size_t *cnt, size_t k, uint32_t j, float e)
{
	size_t pos = *cnt;

	/* Strictly greater: an earlier index wins a tie. */
	while (pos > 0 && e > out[pos - 1].share)
		pos--;
	if (pos >= k)
		return;
	if (*cnt < k)
		(*cnt)++;
	memmove(out + pos + 1, out + pos, (*cnt - 1 - pos) * sizeof(*out));
	out[pos].feature = j;
	out[pos].share = e;
}

/* The k features with the largest squared error; see model.h. */
size_t
model_explain(
    const struct model *m, const float *x, size_t k, struct model_expl *out)
{
	float feat[MODEL_MAX_DIM], s;
	double total = 0.0;
	size_t j, cnt = 0;
	uint32_t f;

	if (k > m->dim)
		k = m->dim;
	score_block(m, x, 1, &s, feat);
	for (j = 0; j < m->dim; j++) {
		total += feat[j];
		top_insert(out, &cnt, k, (uint32_t)j, feat[j]);
	}
	for (j = 0; j < cnt; j++) {
		f = out[j].feature;
		out[j].share =
		    total > 0.0 ? (float)(out[j].share / total) : 0.0f;
		out[j].value = x[f];
		out[j].p50 = m->norm.p50[f];
		out[j].p99 = m->norm.p99[f];
	}
	return cnt;
}

/* Width of the bottleneck. */
size_t
model_latent_dim(const struct model *m)
{
	return m->net.width[model_map_layer(&m->net)];
}

/* Codes of a block of at most model_net_block_rows() rows. */
static void
latent_block(const struct model *m, const float *x, size_t rows, float *out)
{
	float z[NET_SCRATCH_FLOATS];

	model_norm_apply(&m->norm, x, rows, z);
	model_net_hidden(&m->net, z, rows, model_map_layer(&m->net), out);
}

/* The bottleneck code of one row. */
void
model_latent(const struct model *m, const float *x, float *out)
{
	latent_block(m, x, 1, out);
}

/* The bottleneck codes of many rows, a block at a time. */
void
model_latent_batch(const struct model *m, const float *x, size_t n, float *out)
{
	size_t i, r, blk = model_net_block_rows(&m->net);
	size_t k = model_latent_dim(m);

	for (i = 0; i < n; i += r) {
		r = n - i < blk ? n - i : blk;
		latent_block(m, x + i * m->dim, r, out + i * k);
	}
}

/* A row's normalised features. */
void
model_normalise(const struct model *m, const float *x, float *z)
{
	model_norm_apply(&m->norm, x, 1, z);
}

/* The baseline's errors and maps. */
const struct model_baseline *
model_baseline(const struct model *m)
{
	return &m->map.pub;
}

/* v[k] - mean[k] onto the two axes axis[2][k]. */
static void
project2(const float *v, const float *mean, const float *axis, size_t k,
    float out[2])
{
	double a = 0.0, b = 0.0, d;
	size_t j;

	for (j = 0; j < k; j++) {
		d = (double)v[j] - (double)mean[j];
		a += d * (double)axis[j];
		b += d * (double)axis[k + j];
	}
	out[0] = (float)a;
	out[1] = (float)b;
}

/* Both 2-D projections of one row; see model.h. */
int
model_project(const struct model *m, const float *x, float lat[2], float in[2])
{
	float z[MODEL_MAX_DIM], code[MODEL_MAX_WIDTH];
	const struct model_mapdata *md = &m->map;

	if (!md->have)
		return -ENOENT;
	model_norm_apply(&m->norm, x, 1, z);
	model_net_hidden(&m->net, z, 1, md->layer, code);
	project2(code, md->lat_mean, md->lat_axis, md->kdim, lat);
	project2(z, md->in_mean, md->in_axis, m->dim, in);
	return 0;
}

/* Attach a blob; see model.h. */
int
model_extra_set(struct model *m, uint32_t tag, const void *p, size_t len)
{
	struct model_extra *x = NULL;
	uint8_t *copy;
	size_t i;

	if (tag == 0 || len > MODEL_EXTRA_MAX_BYTES)
		return -EINVAL;
	for (i = 0; i < m->nextra; i++)
		if (m->extra[i].tag == tag)
			x = &m->extra[i];
	if (x == NULL && m->nextra == MODEL_EXTRA_MAX)
		return -ENOSPC;
	if ((copy = malloc(len > 0 ? len : 1)) == NULL)
		return -ENOMEM;
	if (len > 0)
		memcpy(copy, p, len);
	if (x == NULL)
		x = &m->extra[m->nextra++];
	else
		free(x->p);
	x->tag = tag;
	x->len = (uint32_t)len;
	x->p = copy;
	return 0;
}

/* A blob by tag; see model.h. */
const void *
model_extra(const struct model *m, uint32_t tag, size_t *len)
{
	size_t i;

	*len = 0;
	for (i = 0; m != NULL && i < m->nextra; i++)
		if (m->extra[i].tag == tag) {
			*len = m->extra[i].len;
			return m->extra[i].p;
		}
	return NULL;
}
