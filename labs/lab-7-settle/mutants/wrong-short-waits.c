/* WRONG: submit still unlocked; the worker waits at most 1 ms at a time and looks again */
/*
 * broken/settle.c: the settlement queue with a lost wakeup. Lab 7: the
 * worker checks "is the queue empty?" under the mutex and then waits, but
 * the producer adds a settlement and signals without that mutex. Same API
 * and same code as fixed/settle.c, minus the lock in settle_submit and
 * with `if` where the fixed worker has `while`.
 *
 * The lost wakeup, race point settle.wait.window: the worker reads tail
 * at "if (q->head == q->tail" at line 109 and finds the queue empty;
 * before "pthread_cond_timedwait(" at line 115 has counted it as a
 * waiter, the producer runs "q->tail++" at line 95 and
 * "pthread_cond_signal(" at line 99, which finds no waiter: the
 * signal is lost, and the worker sleeps with a settlement queued until
 * its deadline or the next signal. The `if` adds a second bug: a wakeup
 * meant for a settlement already taken makes settle_take() return
 * SETTLE_TIMEOUT long before the deadline, and the worker stops.
 *
 * Race pairs, DataRaceBench style: variable, "code" at line N, read (R)
 * or write (W). The producer holds no lock; the worker holds the mutex.
 *   settle.wait.window  q->tail: "q->tail++" at line 95 (W) vs
 *                       "if (q->head == q->tail" at line 109 (R).
 *   q->ring[]           "q->ring[q->tail % q->cap] = " at line 94 (W)
 *                       vs "*out = q->ring[q->head % q->cap]" at line
 *                       118 (R): nothing orders the item before the
 *                       worker reads it (x86 happens to keep the two
 *                       stores in order).
 *   q->head             "q->head++" at line 119 (W) vs
 *                       "q->tail - q->head < q->cap" at line 93 (R,
 *                       the producer's check for a full queue).
 * The unlocked signal itself is no data race; Helgrind reports it as
 * "dubious: associated lock is not held by any thread".
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
		/* No lock either: if the worker has checked but is not yet
		 * waiting, this signal finds no waiter and is lost. */
		pthread_cond_signal(&q->nonempty);
	}
	return queued;
}

enum settle_status settle_take(struct settle_queue *q, const struct timespec *deadline,
			       struct settle_item *out)
{
	enum settle_status st;
	pthread_mutex_lock(&q->lock);
	while (q->head == q->tail && !q->closed) { /* checked again after every wakeup */
		RACE_POINT("settle.wait.window");
		/* A lost wakeup costs at most 1 ms: never wait longer than that
		 * before looking at the queue again. */
		struct timespec now, until;
		clock_gettime(CLOCK_MONOTONIC, &now);
		until = now;
		until.tv_nsec += 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		if (now.tv_sec > deadline->tv_sec ||
		    (now.tv_sec == deadline->tv_sec && now.tv_nsec >= deadline->tv_nsec))
			break;
		if (until.tv_sec > deadline->tv_sec ||
		    (until.tv_sec == deadline->tv_sec && until.tv_nsec > deadline->tv_nsec))
			until = *deadline;
		pthread_cond_timedwait(&q->nonempty, &q->lock, &until);
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
