/*
 * payments.h: a payment request, from its merchant, idempotency key and
 * body to its answer: the service's flow over the cache (lab 1's module,
 * broken or fixed by variant), the simulated gateway, the ledger's running
 * total (lab 2's module) and the store (the database, the truth).
 *
 * An idempotency key is the merchant's own: the cache is keyed by
 * (merchant, key), never by user id, so a user's second payment is a new
 * payment and one merchant cannot reach another's responses.
 */
#ifndef RACELAB_PAYMENTS_H
#define RACELAB_PAYMENTS_H

#include <stdatomic.h>
#include <stdint.h>

#include "cache.h"
#include "gateway.h"
#include "keys.h"
#include "ledger.h"
#include "store.h"

enum payments_outcome {
	PAYMENTS_CHARGED,  /* this request charged: a new payment */
	PAYMENTS_CACHED,   /* the key's earlier payment, the same request: nothing charged */
	PAYMENTS_CONFLICT, /* the key was used with another request: 422, nothing charged */
	PAYMENTS_FAILED,   /* the gateway failed or timed out: 500, nothing charged */
	PAYMENTS_ERROR,	   /* the ledger could not be written: 503, nothing charged */
	PAYMENTS_BUSY,	   /* another process is charging this key and did not finish in
			      PAYMENTS_WAIT_MS: 409, nothing charged here, retry */
};

/* How long a request waits for another process's payment under its key
 * (replicas sharing a ledger), longer than a gateway call may take. */
#define PAYMENTS_WAIT_MS 10000

struct payments;

/* A flow over modules the caller owns, which must outlive it. Keys
 * expire ttl_s seconds after their payment: a sweeper thread releases them
 * every ttl_s / 2 seconds (1 to 60). NULL when out of memory, the store
 * cannot be read or the thread cannot start. */
struct payments *payments_create(struct cache *c, struct gateway *g, struct ledger *l,
				 struct store *s, const struct keys *k, long ttl_s);
/* Stops the sweeper and frees the flow. */
void payments_destroy(struct payments *p);

/*
 * One payment request: merchant m pays cents for user_id under
 * idempotency key `key` (NULL: none, every request a new payment). Fills
 * *out (user id, "success", amount, payment id) for CHARGED and CACHED.
 */
enum payments_outcome payments_process(struct payments *p, const struct merchant *m,
				       const char *key, const char *user_id, int64_t cents,
				       struct cache_response *out);

/* Payments in the ledger (every start's, not only this one's). */
long payments_charged(struct payments *p);

#endif
