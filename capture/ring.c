/*
 * A single-producer, single-consumer ring of fixed-size slots with a
 * consumer thread, so that an offline run can read, decode and track flows
 * on one core while host context, features and whatever the record
 * callback does (CSV, scoring, the store) run on another.
 *
 * The producer fills slots and publishes its head every RING_BATCH slots
 * (and whenever it has to wait), so the two cores do not trade the head's
 * cache line on every event.  The consumer handles every published slot
 * in order, then publishes its tail.  A side that finds nothing to do
 * spins briefly, then sleeps on a condition variable; the other side wakes
 * it only when it said it sleeps, and both the flag and the index are
 * sequentially consistent, so a wake-up cannot be missed.  A sleeping
 * consumer is woken only once RING_WAKE slots wait for it (or the producer
 * waits itself), so a consumer faster than the producer costs a few
 * thousand wake-ups per million events rather than one per batch.  Events come
 * out in exactly the order they went in, which is what keeps threaded runs
 * identical to unthreaded ones.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "capture/capture-int.h"

#define RING_BATCH 32
#define RING_SPIN 64
#define RING_WAKE 512 /* a sleeping consumer is woken with this many */

struct ring {
	/* producer side */
	uint64_t phead; /* next slot to fill */
	uint64_t ptail; /* last tail seen */
	char pad0[48];
	/* shared */
	_Atomic uint64_t head; /* slots below it are filled */
	char pad1[56];
	_Atomic uint64_t tail; /* slots below it are handled */
	char pad2[56];
	_Atomic int prod_wait, cons_wait, stop;
	_Atomic uint64_t prod_want; /* the tail a waiting producer needs */
	pthread_mutex_t mu;
	pthread_cond_t cv_prod, cv_cons;
	pthread_t thr;
	size_t slot_size;
	uint32_t mask;
	ring_handler_fn fn;
	void *arg;
	unsigned char *slots;
};

static inline void
cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

/*
 * Publish the producer's head; wake the consumer if it sleeps and enough
 * waits for it, or always when force is set.
 */
static void
publish_head(struct ring *r, int force)
{
	atomic_store(&r->head, r->phead);
	if (atomic_load(&r->cons_wait) &&
	    (force ||
		r->phead - (r->ptail = atomic_load(&r->tail)) >= RING_WAKE)) {
		pthread_mutex_lock(&r->mu);
		pthread_cond_signal(&r->cv_cons);
		pthread_mutex_unlock(&r->mu);
	}
}

/*
 * Publish the consumer's tail; wake the producer if it waits and the tail
 * has reached what it waits for.
 */
static void
publish_tail(struct ring *r, uint64_t t)
{
	atomic_store(&r->tail, t);
	if (atomic_load(&r->prod_wait) && t >= atomic_load(&r->prod_want)) {
		pthread_mutex_lock(&r->mu);
		pthread_cond_signal(&r->cv_prod);
		pthread_mutex_unlock(&r->mu);
	}
}

/* Producer: wait until the tail has reached at least want. */
static void
wait_tail(struct ring *r, uint64_t want)
{
	int i;

	for (i = 0; i < RING_SPIN; i++) {
		if ((r->ptail = atomic_load(&r->tail)) >= want)
			return;
		cpu_relax();
	}
	pthread_mutex_lock(&r->mu);
	atomic_store(&r->prod_want, want);
	atomic_store(&r->prod_wait, 1);
	while ((r->ptail = atomic_load(&r->tail)) < want)
		pthread_cond_wait(&r->cv_prod, &r->mu);
	atomic_store(&r->prod_wait, 0);
	pthread_mutex_unlock(&r->mu);
}

static void *
consumer(void *arg)
{
	struct ring *r = arg;
	uint64_t t = 0, h, n = 0;
	int i;

	for (;;) {
		if (atomic_load(&r->stop))
			return NULL;
		h = atomic_load(&r->head);
		for (i = 0; h == t && i < RING_SPIN; i++) {
			cpu_relax();
			h = atomic_load(&r->head);
		}
		if (h == t) {
			pthread_mutex_lock(&r->mu);
			atomic_store(&r->cons_wait, 1);
			while ((h = atomic_load(&r->head)) == t &&
			    !atomic_load(&r->stop))
				pthread_cond_wait(&r->cv_cons, &r->mu);
			atomic_store(&r->cons_wait, 0);
			pthread_mutex_unlock(&r->mu);
			if (atomic_load(&r->stop))
				return NULL;
		}
		while (t < h) {
			r->fn(r->slots + (size_t)(t & r->mask) * r->slot_size,
			    r->arg);
			t++;
			if (++n % RING_BATCH == 0)
				publish_tail(r, t);
		}
		publish_tail(r, t);
	}
}

/* Create a ring of nslots (a power of two) and start its consumer. */
struct ring *
ring_create(size_t slot_size, uint32_t nslots, ring_handler_fn fn, void *arg)
{
	struct ring *r;
	int error;

	if (nslots == 0 || (nslots & (nslots - 1)) != 0 || slot_size == 0) {
		errno = EINVAL;
		return NULL;
	}
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	if ((r->slots = calloc(nslots, slot_size)) == NULL) {
		free(r);
		return NULL;
	}
	r->slot_size = slot_size;
	r->mask = nslots - 1;
	r->fn = fn;
	r->arg = arg;
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->cv_prod, NULL);
	pthread_cond_init(&r->cv_cons, NULL);
	if ((error = pthread_create(&r->thr, NULL, consumer, r)) != 0) {
		pthread_mutex_destroy(&r->mu);
		pthread_cond_destroy(&r->cv_prod);
		pthread_cond_destroy(&r->cv_cons);
		free(r->slots);
		free(r);
		errno = error;
		return NULL;
	}
	return r;
}

/* The next free slot, waiting for the consumer when the ring is full. */
void *
ring_slot(struct ring *r)
{
	if (r->phead - r->ptail > r->mask) {
		/*
		 * Full: wait until a quarter of the ring is free, so that a
		 * producer faster than the consumer sleeps once per quarter
		 * ring rather than once per slot.
		 */
		publish_head(r, 1);
		wait_tail(r, r->phead - r->mask + (r->mask + 1) / 4);
	}
	return r->slots + (size_t)(r->phead & r->mask) * r->slot_size;
}

/* Hand the slot from ring_slot() to the consumer. */
void
ring_commit(struct ring *r)
{
	r->phead++;
	if (r->phead % RING_BATCH == 0)
		publish_head(r, 0);
}

/* Wait until the consumer has handled every committed slot. */
void
ring_sync(struct ring *r)
{
	publish_head(r, 1);
	wait_tail(r, r->phead);
}

/*
 * Stop the consumer and free the ring; NULL does nothing.  Slots not yet
 * handled are dropped (at most the batch in hand is finished): call
 * ring_sync() first to have them all.
 */
void
ring_free(struct ring *r)
{
	if (r == NULL)
		return;
	pthread_mutex_lock(&r->mu);
	atomic_store(&r->stop, 1);
	pthread_cond_signal(&r->cv_cons);
	pthread_mutex_unlock(&r->mu);
	pthread_join(r->thr, NULL);
	pthread_mutex_destroy(&r->mu);
	pthread_cond_destroy(&r->cv_prod);
	pthread_cond_destroy(&r->cv_cons);
	free(r->slots);
	free(r);
}
