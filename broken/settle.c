/*
 * settle.c: the settlement queue. Lab 7, the lost wakeup.
 * One mutex guards the whole queue (the ring, head, tail, closed), and the
 * worker sleeps on a condition variable used with that mutex. The worker
 * checks its predicate (empty and open) and goes to sleep; in
 * fixed/settle.c it holds the mutex from the check until
 * pthread_cond_timedwait() has counted it as a waiter, and a producer
 * changes the predicate under the same mutex, so the change comes either
 * before the check (which sees the settlement) or after the worker is
 * waiting (and the signal wakes it). broken/settle.c's producer adds a
 * settlement and signals without the mutex: between the worker's check and
 * its wait the signal finds no waiter and is lost, and the worker sleeps with
 * a settlement queued until its deadline. The fixed worker also checks the
 * predicate again after every wakeup (while, not if), since a wakeup is only
 * a hint: with `if`, a wakeup meant for a settlement already taken makes
 * settle_take() return SETTLE_TIMEOUT long before the deadline.
 * The fixed producer signals under the mutex: just after the unlock would
 * be as correct (tail has changed), but Helgrind flags an unheld signal.
 * Race pairs, the producer holding no lock, the worker the mutex: settle.wait.window,
 * q->tail: "q->tail++" at line 87 (W) vs "if (q->head == q->tail" at line 102 (R);
 * q->ring[]: "q->ring[q->tail % q->cap] = " at line 86 (W) vs
 * "*out = q->ring[q->head % q->cap]" at line 109 (R); q->head: "q->head++" at line 110 (W)
 * vs "q->tail - q->head < q->cap" at line 85 (R). The unlocked signal is no data race.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "racepoint.h"
#include "settle.h"

struct settle_queue {
	pthread_mutex_t lock;	 /* guards every field below */
	pthread_cond_t nonempty; /* a settlement was queued, or the queue closed */
	struct settle_item *ring;
	size_t cap;
	uint64_t head; /* the next settlement to take (= how many were taken) */
	uint64_t tail; /* the next free slot (= how many were submitted) */
	int closed;
};

struct settle_queue *settle_create(size_t capacity)
{
	if (capacity < 1)
		capacity = 1;
	struct settle_queue *q = calloc(1, sizeof(*q));
	if (!q)
		return NULL;
	q->ring = calloc(capacity, sizeof(q->ring[0]));
	pthread_condattr_t ca;
	if (!q->ring || pthread_condattr_init(&ca) != 0) {
		free(q->ring);
		free(q);
		return NULL;
	}
	/* Deadlines are on the monotonic clock: a cutoff must not move when
	 * someone sets the wall clock. */
	int rc = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	if (rc == 0)
		rc = pthread_cond_init(&q->nonempty, &ca);
	pthread_condattr_destroy(&ca);
	if (rc != 0) {
		free(q->ring);
		free(q);
		return NULL;
	}
	pthread_mutex_init(&q->lock, NULL);
	q->cap = capacity;
	return q;
}

void settle_destroy(struct settle_queue *q)
{
	if (!q)
		return;
	pthread_cond_destroy(&q->nonempty);
	pthread_mutex_destroy(&q->lock);
	free(q->ring);
	free(q);
}

bool settle_submit(struct settle_queue *q, uint64_t payment_id, int64_t cents)
{
	bool queued = false;
	if (!q->closed && q->tail - q->head < q->cap) {
		q->ring[q->tail % q->cap] = (struct settle_item){ payment_id, cents };
		q->tail++; /* write: unlocked, can land between the worker's check and wait */
		queued = true;
		/* A signal sent while the worker has checked but is not yet
		 * waiting finds no waiter and is lost; holding the mutex from the
		 * change of tail rules that moment out. */
		pthread_cond_signal(&q->nonempty);
	}
	return queued;
}

enum settle_status settle_take(struct settle_queue *q, const struct timespec *deadline,
			       struct settle_item *out)
{
	enum settle_status st;
	pthread_mutex_lock(&q->lock);
	if (q->head == q->tail && !q->closed) { /* checked once: read of tail */
		RACE_POINT("settle.wait.window");
		/* Between the check and the wait: a producer that can change tail
		 * and signal here, without the mutex, is lost to this thread. */
		pthread_cond_timedwait(&q->nonempty, &q->lock, deadline); /* trusts any wakeup */
	}
	if (q->head != q->tail) {
		*out = q->ring[q->head % q->cap];
		q->head++;
		st = SETTLE_TAKEN;
	} else {
		st = q->closed ? SETTLE_CLOSED : SETTLE_TIMEOUT;
	}
	pthread_mutex_unlock(&q->lock);
	return st;
}

void settle_close(struct settle_queue *q)
{
	pthread_mutex_lock(&q->lock);
	q->closed = 1;
	pthread_cond_broadcast(&q->nonempty);
	pthread_mutex_unlock(&q->lock);
}

uint64_t settle_taken(struct settle_queue *q)
{
	pthread_mutex_lock(&q->lock);
	uint64_t n = q->head;
	pthread_mutex_unlock(&q->lock);
	return n;
}
