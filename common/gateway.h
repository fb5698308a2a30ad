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

#endif
