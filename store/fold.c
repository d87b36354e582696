/*
 * The fold table: which (src_ip, dst_ip, dst_port, proto, finding,
 * incident_id) keys had a new row recently, and that row's totals.
 *
 * Entries live in one array allocated at open, chained from a power-of-two
 * bucket array, and sit on a list in the order they were added.  Keys are
 * added in alert order, so the head of that list is the oldest window:
 * expiry pops from the head, and a full table evicts the head.  Evicting
 * loses nothing, because a pending update lives in the queue record, not
 * here; the key's next alert simply makes a new row.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"
#include "store/store-int.h"

#define FNV_OFFSET 2166136261u
#define FNV_PRIME 16777619u

/* Allocate a table for cap keys. */
int
fold_init(struct foldtab *ft, size_t cap)
{
	size_t nb = 1, i;

	while (nb < cap * 2)
		nb <<= 1;
	memset(ft, 0, sizeof(*ft));
	TAILQ_INIT(&ft->used);
	TAILQ_INIT(&ft->free);
	ft->f = calloc(cap, sizeof(*ft->f));
	ft->bucket = calloc(nb, sizeof(*ft->bucket));
	if (ft->f == NULL || ft->bucket == NULL) {
		fold_free(ft);
		return -ENOMEM;
	}
	ft->cap = cap;
	ft->mask = nb - 1;
	for (i = 0; i < nb; i++)
		LIST_INIT(&ft->bucket[i]);
	for (i = 0; i < cap; i++)
		TAILQ_INSERT_TAIL(&ft->free, &ft->f[i], link);
	return 0;
}

/* Free the table's arrays; the struct itself is the caller's. */
void
fold_free(struct foldtab *ft)
{
	free(ft->f);
	free(ft->bucket);
	ft->f = NULL;
	ft->bucket = NULL;
}

/* FNV-1a over the bytes of s, NUL included so "1.2" "3" != "1.23" "". */
static uint32_t
fnv(uint32_t h, const void *p, size_t len)
{
	const unsigned char *c = p;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= c[i];
		h *= FNV_PRIME;
	}
	return h;
}

/* Hash of a's fold key. */
uint32_t
fold_hash(const struct store_alert *a)
{
	uint32_t h = FNV_OFFSET;

	if (!a->fold_any_src)
		h = fnv(h, a->src_ip, strlen(a->src_ip) + 1);
	h = fnv(h, a->dst_ip, strlen(a->dst_ip) + 1);
	h = fnv(h, &a->dst_port, sizeof(a->dst_port));
	h = fnv(h, &a->finding, sizeof(a->finding));
	h = fnv(h, &a->incident_id, sizeof(a->incident_id));
	return fnv(h, &a->proto, sizeof(a->proto));
}

/* The entry for a's key (hash h), or NULL. */
struct fold *
fold_find(const struct foldtab *ft, const struct store_alert *a, uint32_t h)
{
	struct fold *f;

	LIST_FOREACH(f, &ft->bucket[h & ft->mask], hlink)
	{
		if (f->hash == h && f->dst_port == a->dst_port &&
		    f->proto == a->proto && f->finding == a->finding &&
		    f->incident_id == a->incident_id &&
		    f->any_src == (a->fold_any_src != 0) &&
		    (f->any_src || strcmp(f->src_ip, a->src_ip) == 0) &&
		    strcmp(f->dst_ip, a->dst_ip) == 0)
			return f;
	}
	return NULL;
}

/* Unlink f and put it back on the free list. */
void
fold_remove(struct foldtab *ft, struct fold *f)
{
	LIST_REMOVE(f, hlink);
	TAILQ_REMOVE(&ft->used, f, link);
	TAILQ_INSERT_TAIL(&ft->free, f, link);
	ft->n--;
}

/*
 * Add a's key (not already present) with hash h, evicting the oldest key
 * when full (*evicted = 1).  The caller fills in the row's totals.
 */
struct fold *
fold_add(
    struct foldtab *ft, const struct store_alert *a, uint32_t h, int *evicted)
{
	struct fold *f;

	*evicted = 0;
	if (TAILQ_EMPTY(&ft->free)) {
		fold_remove(ft, TAILQ_FIRST(&ft->used));
		*evicted = 1;
	}
	f = TAILQ_FIRST(&ft->free);
	TAILQ_REMOVE(&ft->free, f, link);
	memcpy(f->src_ip, a->src_ip, strlen(a->src_ip) + 1);
	memcpy(f->dst_ip, a->dst_ip, strlen(a->dst_ip) + 1);
	f->dst_port = a->dst_port;
	f->proto = a->proto;
	f->finding = a->finding;
	f->incident_id = a->incident_id;
	f->any_src = a->fold_any_src != 0;
	f->hash = h;
	LIST_INSERT_HEAD(&ft->bucket[h & ft->mask], f, hlink);
	TAILQ_INSERT_TAIL(&ft->used, f, link);
	ft->n++;
	return f;
}

/* Drop keys whose window closed before alert time now_us. */
void
fold_expire(struct foldtab *ft, uint64_t now_us, uint64_t window_us)
{
	struct fold *f;

	while ((f = TAILQ_FIRST(&ft->used)) != NULL &&
	    f->first_us + window_us <= now_us)
		fold_remove(ft, f);
}
