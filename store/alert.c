/*
 * store_alert_put(): fold, rate-cap and queue one alert, in memory only.
 *
 * The order matters: a repeat within its key's window is folded first and
 * is never rate-capped (it makes no row); only then is a new row checked
 * against the queue bound and the rate cap, so a refused alert consumes
 * neither an id nor a rate slot.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"
#include "store/store-int.h"

/*
 * Refuse what would fail at flush time instead: a NaN stored as NULL
 * would break NOT NULL and wedge the queue for good.
 */
static int
alert_check(const struct store_alert *a)
{
	if (!store_terminated(a->src_ip, sizeof(a->src_ip)) ||
	    !store_terminated(a->dst_ip, sizeof(a->dst_ip)) ||
	    !store_terminated(a->model_id, sizeof(a->model_id)) ||
	    !store_terminated(a->explanation, sizeof(a->explanation)))
		return -EINVAL;
	if (!isfinite(a->score) || !isfinite(a->threshold))
		return -EINVAL;
	if (a->finding > STORE_FINDING_BEACON || a->incident_id < 0)
		return -EINVAL;
	return 0;
}

/* Whether alert time ts_us and key entry f fall in the same window. */
static int
in_window(const struct store *st, const struct fold *f, uint64_t ts_us)
{
	uint64_t w = (uint64_t)st->o.fold_window_s * US_PER_S;
	uint64_t d;

	d = ts_us >= f->first_us ? ts_us - f->first_us : f->first_us - ts_us;
	return d < w;
}

/* Whether the rate cap would let one more new row through at ts_us. */
static int
rate_would_allow(const struct store *st, uint64_t ts_us)
{
	uint64_t sec = ts_us / US_PER_S;

	if (st->o.rate_max_per_s == 0 || sec > st->rate_sec)
		return 1;
	return st->rate_n < st->o.rate_max_per_s;
}

/* Whether the rate cap lets one more new row through at ts_us. */
static int
rate_allows(struct store *st, uint64_t ts_us)
{
	uint64_t sec = ts_us / US_PER_S;

	if (st->o.rate_max_per_s == 0)
		return 1;
	/* A late alert from an earlier second counts against this one. */
	if (sec > st->rate_sec) {
		st->rate_sec = sec;
		st->rate_n = 0;
	}
	if (st->rate_n >= st->o.rate_max_per_s)
		return 0;
	st->rate_n++;
	return 1;
}

/*
 * Count a into f's row.  The totals ride in the queue record that already
 * carries them (the row's insert, or an earlier update) or in a new update
 * record, which needs a queue slot.
 */
static int
put_fold(
    struct store *st, struct fold *f, const struct store_alert *a, int64_t *idp)
{
	struct qrec *r;

	if (f->qgen == st->qgen)
		r = &st->q[f->qidx];
	else if (st->nq == st->o.max_pending) {
		st->stats.queue_dropped++;
		return STORE_PUT_QUEUE_DROPPED;
	} else {
		r = &st->q[st->nq];
		memset(r, 0, sizeof(*r));
		r->kind = QREC_UPDATE;
		r->id = f->id;
		f->qidx = st->nq++;
		f->qgen = st->qgen;
	}
	f->count++;
	if (a->ts_us > f->last_us)
		f->last_us = a->ts_us;
	if (a->score > f->score)
		f->score = a->score;
	r->count = f->count;
	r->last_us = f->last_us;
	r->score = f->score;
	st->stats.folded++;
	*idp = f->id;
	return STORE_PUT_FOLDED;
}

/* Copy a into queue record r as a new row with id. */
static void
qrec_fill(
    struct qrec *r, const struct store_alert *a, int64_t id, char *explanation)
{
	memset(r, 0, sizeof(*r));
	r->kind = QREC_INSERT;
	r->id = id;
	r->count = 1;
	r->last_us = a->ts_us;
	r->score = a->score;
	r->ts_us = a->ts_us;
	r->ts_first_us = a->ts_first_us;
	r->ts_last_us = a->ts_last_us;
	r->packets = a->packets;
	r->bytes = a->bytes;
	r->threshold = a->threshold;
	r->src_port = a->src_port;
	r->dst_port = a->dst_port;
	r->proto = a->proto;
	r->finding = a->finding;
	r->incident_id = a->incident_id;
	memcpy(r->src_ip, a->src_ip, strlen(a->src_ip) + 1);
	memcpy(r->dst_ip, a->dst_ip, strlen(a->dst_ip) + 1);
	memcpy(r->model_id, a->model_id, strlen(a->model_id) + 1);
	r->explanation = explanation;
}

/* Remember the new row of queue record r under a's key. */
static void
fold_track(struct store *st, const struct store_alert *a, uint32_t h,
    struct fold *stale, const struct qrec *r)
{
	struct fold *f;
	int evicted;

	if (stale != NULL)
		fold_remove(&st->fold, stale);
	f = fold_add(&st->fold, a, h, &evicted);
	if (evicted)
		st->stats.fold_evicted++;
	f->id = r->id;
	f->first_us = f->last_us = a->ts_us;
	f->count = 1;
	f->score = a->score;
	f->qidx = (size_t)(r - st->q);
	f->qgen = st->qgen;
}

/* Queue a as a new row, if the queue bound and the rate cap allow. */
static int
put_new(struct store *st, const struct store_alert *a, uint32_t h,
    struct fold *stale, int64_t *idp)
{
	struct qrec *r;
	char *expl;

	if (st->nq == st->o.max_pending) {
		st->stats.queue_dropped++;
		return STORE_PUT_QUEUE_DROPPED;
	}
	if (!rate_allows(st, a->ts_us)) {
		st->stats.rate_dropped++;
		return STORE_PUT_RATE_DROPPED;
	}
	expl = strdup(a->explanation[0] != '\0' ? a->explanation : "[]");
	if (expl == NULL) {
		st->stats.rejected++;
		return -ENOMEM;
	}
	r = &st->q[st->nq];
	qrec_fill(r, a, st->next_id++, expl);
	if (st->o.fold_window_s > 0)
		fold_track(st, a, h, stale, r);
	st->insq[st->ninsq++] = (uint32_t)st->nq;
	st->nq++;
	st->stats.queued++;
	*idp = r->id;
	return STORE_PUT_NEW;
}

/* Queue setting row id's incident to incident_id; see store.h. */
int
store_alert_link(struct store *st, int64_t id, int64_t incident_id)
{
	struct qrec *r;
	size_t lo = 0, hi, mid;

	if (id <= 0 || incident_id <= 0)
		return -EINVAL;
	/* Still queued: set in place, no UPDATE (ids rise along the queue). */
	for (hi = st->ninsq; lo < hi;) {
		mid = lo + (hi - lo) / 2;
		r = &st->q[st->insq[mid]];
		if (r->id == id) {
			r->incident_id = incident_id;
			st->stats.linked_in_queue++;
			return 0;
		}
		if (r->id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (st->nq == st->o.max_pending) {
		st->stats.queue_dropped++;
		return -ENOSPC;
	}
	r = &st->q[st->nq++];
	memset(r, 0, sizeof(*r));
	r->kind = QREC_LINK;
	r->id = id;
	r->count = (uint64_t)incident_id;
	return 0;
}

/* Fold, cap or queue one alert; see store.h. */
int
store_alert_put(struct store *st, const struct store_alert *a, int64_t *idp)
{
	struct fold *f = NULL;
	int64_t id = 0;
	uint32_t h = 0;
	int rc;

	if (alert_check(a) != 0) {
		st->stats.rejected++;
		rc = -EINVAL;
		goto out;
	}
	if (st->o.fold_window_s > 0) {
		fold_expire(&st->fold, a->ts_us,
		    (uint64_t)st->o.fold_window_s * US_PER_S);
		h = fold_hash(a);
		f = fold_find(&st->fold, a, h);
		if (f != NULL && in_window(st, f, a->ts_us)) {
			rc = put_fold(st, f, a, &id);
			goto out;
		}
	}
	rc = put_new(st, a, h, f, &id);
out:
	if (idp != NULL)
		*idp = id;
	return rc;
}

/* What store_alert_put() would do with a, deciding only; see store.h. */
int
store_alert_fate(const struct store *st, const struct store_alert *a)
{
	const struct fold *f;

	if (st->o.fold_window_s > 0) {
		/* An expired key is no longer in its window: same answer. */
		f = fold_find(&st->fold, a, fold_hash(a));
		if (f != NULL && in_window(st, f, a->ts_us))
			return f->qgen == st->qgen || st->nq < st->o.max_pending
			    ? STORE_PUT_FOLDED
			    : STORE_PUT_QUEUE_DROPPED;
	}
	if (st->nq == st->o.max_pending)
		return STORE_PUT_QUEUE_DROPPED;
	if (!rate_would_allow(st, a->ts_us))
		return STORE_PUT_RATE_DROPPED;
	return STORE_PUT_NEW;
}
