/*
 * gateway.h: a simulated payment gateway, the same in every build.
 *
 * It stands for the card processor the story's service calls: a charge
 * takes a while (latency_us microseconds, a sleep), then it is booked.
 * The gateway keeps the books the way a real processor does, per user: how
 * many times each user was charged and for how much. That is what lab 3
 * checks, since a user charged twice is a fact at the gateway, whatever
 * the service's cache says afterwards.
 *
 * The gateway is safe under any number of threads (one mutex guards its
 * books), and in the broken builds too: it is not the lesson, and a data
 * race here would give ThreadSanitizer something to find in a lab whose
 * point is that there is nothing to find.
 */
#ifndef RACELAB_GATEWAY_H
#define RACELAB_GATEWAY_H

#include <stddef.h>
#include <stdint.h>

struct gateway;

/* A gateway with empty books, whose every charge takes latency_us
 * microseconds (0: none), and a table of about `buckets` chains for its
 * books (it never grows; more users only make chains longer).
 * Returns NULL when out of memory. */
struct gateway *gateway_create(size_t buckets, long latency_us);
void gateway_destroy(struct gateway *g);

/* Charges user_id `cents` cents: waits the latency, then books the charge.
 * Returns the charge id (1, 2, 3, ... in booking order, never 0), or 0
 * when nothing was charged (cents <= 0, a user id longer than
 * GATEWAY_USER_ID_MAX - 1 bytes, or out of memory). */
#define GATEWAY_USER_ID_MAX 32
uint64_t gateway_charge(struct gateway *g, const char *user_id, int64_t cents);

/* The books for one user: how many charges, their total in cents and
 * the last charge id (0 when never charged). */
struct gateway_account {
	long charges;
	int64_t total_cents;
	uint64_t last_charge;
};
void gateway_account(struct gateway *g, const char *user_id, struct gateway_account *out);

/* Every charge booked so far, all users together. */
long gateway_charges_total(struct gateway *g);

/*
 * Faults, for the HTTP service (racelab-service): the story's gateway
 * takes 100 to 300 ms and fails 0.5% of charges. With faults set, each
 * call draws its latency uniformly from [min_latency_us, max_latency_us]
 * (replacing latency_us) and fails with probability failure_ppm / 10^6; a
 * failed call, and a call whose latency exceeds timeout_us (when not 0),
 * which is abandoned after timeout_us, books nothing and returns 0. The
 * k-th call's draw depends only on seed and k, so a run is repeatable up
 * to the order in which threads reach the gateway. Set them before the
 * first charge; the stress driver never sets them.
 */
struct gateway_faults {
	long min_latency_us;
	long max_latency_us;
	long timeout_us;      /* 0: no timeout */
	uint32_t failure_ppm; /* failures per million calls */
	uint64_t seed;
};
void gateway_set_faults(struct gateway *g, const struct gateway_faults *faults);

/* The service's shutdown deadline: from now on a faulty gateway's call
 * that is waiting out its latency (or its timeout), and every later call,
 * returns 0 at once and books nothing. A call already booking is not
 * undone: the booking is under the lock, after the wait. */
void gateway_abort(struct gateway *g);

/* The gateway's counters, read together under its lock. */
struct gateway_stats {
	long calls;	     /* gateway_charge() calls that reached the gateway */
	long failures;	     /* of those, failed (injected) or timed out */
	long timeouts;	     /* of the failures, the timeouts */
	long aborted;	     /* of the failures, those cut off by gateway_abort() */
	long charges;	     /* charges booked */
	int64_t total_cents; /* their sum */
};
void gateway_stats(struct gateway *g, struct gateway_stats *out);

#endif
