/*
 * The record queue: flow records from the flow table's delivery thread to
 * the loop thread, which scores them, so that scoring, store writes and
 * socket output never run on the capture path.
 *
 * A bounded ring of struct flow_record under one mutex.  The producer
 * copies a record in; when the queue is full it waits (back-pressure): the
 * flow table's own ring then fills, the capture thread waits, and the
 * kernel drops packets and counts them, so nothing is lost silently and
 * nothing is lost inside anomd.  Each such wait is counted.
 *
 * The consumer is an event loop, so it is woken through an eventfd: the
 * producer writes it only when it finds the consumer not armed (it has
 * seen the queue empty since), which costs one write per burst rather
 * than one per record.  The consumer reads records in place
 * (recq_peek/recq_release), a contiguous run at a time, and never holds
 * the lock while it scores them.
 */
#include <sys/eventfd.h>

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/daemon.h"

struct recq {
	pthread_mutex_t mu;
	pthread_cond_t not_full, not_empty;
	struct flow_record *r;
	size_t cap, head, count;
	int efd;
	int armed; /* the consumer was woken and has not seen it empty */
	int closed; /* the producer is done */
	int cons_wait; /* the consumer waits in recq_wait() */
	struct recq_stats st;
};

/* Create a queue of nrec records; NULL with errno set. */
struct recq *
recq_create(size_t nrec)
{
	struct recq *q;
	int saved;

	if (nrec == 0 || nrec > RECQ_MAX_RECORDS) {
		errno = EINVAL;
		return NULL;
	}
	if ((q = calloc(1, sizeof(*q))) == NULL)
		return NULL;
	if ((q->r = calloc(nrec, sizeof(*q->r))) == NULL)
		goto fail;
	if ((q->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1)
		goto fail;
	q->cap = nrec;
	q->st.capacity = nrec;
	pthread_mutex_init(&q->mu, NULL);
	pthread_cond_init(&q->not_full, NULL);
	pthread_cond_init(&q->not_empty, NULL);
	return q;
fail:
	saved = errno;
	free(q->r);
	free(q);
	errno = saved;
	return NULL;
}

/* Free the queue and its eventfd; NULL does nothing. */
void
recq_free(struct recq *q)
{
	if (q == NULL)
		return;
	close(q->efd);
	pthread_mutex_destroy(&q->mu);
	pthread_cond_destroy(&q->not_full);
	pthread_cond_destroy(&q->not_empty);
	free(q->r);
	free(q);
}

/* The eventfd the consumer watches. */
int
recq_fd(const struct recq *q)
{
	return q->efd;
}

/* Wake the consumer once per burst; called with the lock held. */
static int
need_wake(struct recq *q)
{
	if (q->cons_wait)
		pthread_cond_signal(&q->not_empty);
	if (q->armed)
		return 0;
	q->armed = 1;
	return 1;
}

/* Write the eventfd (outside the lock). */
static void
wake(struct recq *q)
{
	uint64_t one = 1;
	ssize_t n;

	do
		n = write(q->efd, &one, sizeof(one));
	while (n == -1 && errno == EINTR);
}

/* Copy rec in, waiting while the queue is full. */
void
recq_put(struct recq *q, const struct flow_record *rec)
{
	int w;

	pthread_mutex_lock(&q->mu);
	if (q->count == q->cap) {
		q->st.full_waits++;
		do
			pthread_cond_wait(&q->not_full, &q->mu);
		while (q->count == q->cap);
	}
	q->r[(q->head + q->count) % q->cap] = *rec;
	q->count++;
	q->st.put++;
	if (q->count > q->st.high_water)
		q->st.high_water = q->count;
	w = need_wake(q);
	pthread_mutex_unlock(&q->mu);
	if (w)
		wake(q);
}

/* The producer is done: wake the consumer to see it. */
void
recq_close(struct recq *q)
{
	int w;

	pthread_mutex_lock(&q->mu);
	q->closed = 1;
	w = need_wake(q);
	pthread_mutex_unlock(&q->mu);
	if (w)
		wake(q);
}

/* Records waiting at the front, in place; 0 disarms the wake-up. */
size_t
recq_peek(struct recq *q, const struct flow_record **recs)
{
	uint64_t v;
	size_t n;

	/* Clear the eventfd first: a put after this writes it again. */
	while (read(q->efd, &v, sizeof(v)) == -1 && errno == EINTR)
		;
	pthread_mutex_lock(&q->mu);
	n = q->cap - q->head;
	if (n > q->count)
		n = q->count;
	if (n == 0)
		q->armed = 0;
	*recs = q->r + q->head;
	pthread_mutex_unlock(&q->mu);
	return n;
}

/* Hand n records from recq_peek() back to the producer. */
void
recq_release(struct recq *q, size_t n)
{
	pthread_mutex_lock(&q->mu);
	if (n > q->count)
		n = q->count;
	q->head = (q->head + n) % q->cap;
	q->count -= n;
	q->st.taken += n;
	if (n > 0)
		pthread_cond_signal(&q->not_full);
	pthread_mutex_unlock(&q->mu);
}

/* Wait until a record waits or the queue is closed; 1 if closed and empty. */
int
recq_wait(struct recq *q)
{
	int done;

	pthread_mutex_lock(&q->mu);
	q->cons_wait = 1;
	while (q->count == 0 && !q->closed)
		pthread_cond_wait(&q->not_empty, &q->mu);
	q->cons_wait = 0;
	done = q->count == 0 && q->closed;
	pthread_mutex_unlock(&q->mu);
	return done;
}

/* A copy of the counters. */
void
recq_stats(struct recq *q, struct recq_stats *st)
{
	pthread_mutex_lock(&q->mu);
	*st = q->st;
	st->queued = q->count;
	pthread_mutex_unlock(&q->mu);
}
