/*
 * settle.h: the settlement queue (lab 7).
 *
 * When a payment is captured, the request thread that captured it hands
 * the settlement (payment id, amount) to one settlement worker through this
 * queue and goes on with its next request; the worker takes settlements off
 * the queue in order and settles them with the bank. When there is nothing
 * to settle the worker sleeps on a condition variable, and a submission
 * wakes it. A settlement has a deadline (the bank's cutoff): one that sits
 * in the queue while the worker sleeps is money settled late.
 *
 * Two files implement this API with the same name and the same behaviour
 * when only one thread uses them:
 *   fixed/settle.c   a submission changes the queue under the mutex the
 *                    worker checks it under, and the worker waits in a
 *                    loop on its predicate: no wakeup is ever lost
 *   broken/settle.c  a submission changes the queue and signals without
 *                    the mutex, and the worker waits once, with `if`: a
 *                    wakeup can be lost, and a settlement waits for the
 *                    next one, or for ever
 *
 * One thread submits (the producer) and one thread takes (the worker);
 * any thread may call settle_taken() and settle_close(). Money is integer
 * cents.
 */
#ifndef RACELAB_SETTLE_H
#define RACELAB_SETTLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct settle_item {
	uint64_t payment_id; /* never 0 */
	int64_t cents;	     /* 4999 for $49.99 */
};

enum settle_status {
	SETTLE_TAKEN,	/* *out holds the oldest queued settlement */
	SETTLE_CLOSED,	/* the queue is closed and empty: the worker may stop */
	SETTLE_TIMEOUT, /* the deadline passed with nothing to take */
};

struct settle_queue;

/* An empty, open queue with room for capacity settlements (at least 1).
 * Returns NULL when out of memory or when the condition variable cannot
 * use the monotonic clock. */
struct settle_queue *settle_create(size_t capacity);
void settle_destroy(struct settle_queue *q);

/* Queues a settlement and wakes the worker if it sleeps. Returns false,
 * queuing nothing, when the queue is full or closed. Only one thread may
 * submit. */
bool settle_submit(struct settle_queue *q, uint64_t payment_id, int64_t cents);

/* The worker's side: the oldest settlement, waiting for one until the
 * absolute deadline (CLOCK_MONOTONIC) if the queue is empty. Only one
 * thread may take. */
enum settle_status settle_take(struct settle_queue *q, const struct timespec *deadline,
			       struct settle_item *out);

/* Closes the queue: submissions fail from now on, and the worker, once it
 * has taken everything still queued, gets SETTLE_CLOSED. */
void settle_close(struct settle_queue *q);

/* How many settlements the worker has taken since the queue was made. */
uint64_t settle_taken(struct settle_queue *q);

#endif
