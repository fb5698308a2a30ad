/*
 * payflow.h: the process-payment flow, lab 3.
 *
 * What the story's handler does with a request, as one call: look for the
 * user's last response in the payment cache; on a hit, answer with it; on
 * a miss, charge the user at the gateway and store the new response. The
 * cache is lab 1's fixed (thread-safe) cache and the gateway is
 * thread-safe, in both builds.
 *
 * Two files implement this API with the same name and the same behaviour
 * when only one thread uses them:
 *   fixed/payflow.c   charges each user at most once, however many
 *                     requests for that user arrive at the same moment
 *   broken/payflow.c  the story's fixed handler: every step is
 *                     thread-safe, the sequence is not, so two requests
 *                     that miss together both charge
 *
 * Money is integer cents.
 */
#ifndef RACELAB_PAYFLOW_H
#define RACELAB_PAYFLOW_H

#include <stdint.h>

#include "cache.h"
#include "gateway.h"

/* What payflow_process() did. */
enum payflow_outcome {
	PAYFLOW_FAILED = -1, /* nothing charged, *out untouched */
	PAYFLOW_CACHED = 0,  /* answered from the cache: no charge by this call */
	PAYFLOW_CHARGED = 1, /* this call charged the gateway */
};

struct payflow;

/* A flow over a cache and a gateway that the caller owns and that must
 * outlive it. Returns NULL when out of memory. */
struct payflow *payflow_create(struct cache *c, struct gateway *g);
void payflow_destroy(struct payflow *f);

/*
 * Processes one payment request: user_id pays `cents` unless the cache
 * already holds a response for user_id, in which case that response is
 * the answer (a retried or duplicated request is not charged again).
 * Fills *out with the response (user id, "success", amount, and the
 * gateway's charge id as request_id). Fails when cents <= 0, user_id is
 * empty or longer than CACHE_USER_ID_MAX - 1 bytes, or the gateway
 * charged nothing.
 */
enum payflow_outcome payflow_process(struct payflow *f, const char *user_id, int64_t cents,
				     struct cache_response *out);

#endif
