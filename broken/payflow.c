/*
 * payflow.c: the process-payment flow: look the user up in the cache,
 * charge on a miss, store the response. Lab 3, a check-then-act atomicity
 * violation. The cache and the gateway are each thread-safe (cache_get and
 * cache_put take the cache's lock, gateway_charge the gateway's), but a
 * get, a charge and a put are three steps, and another request for the same
 * user can run between them. broken/payflow.c, the flow as the story's
 * fixed service wrote it, runs them as they come: two requests for the same
 * new user can both miss before either stores its response, and both charge.
 * There is no data race, so neither ThreadSanitizer nor Helgrind has
 * anything to report; only the invariant (one charge per user, checked at
 * the gateway) shows the bug. fixed/payflow.c makes a request that misses
 * first claim the user in a table of charges in flight (under the flow's own
 * lock); a second request that misses while the claim stands waits for it,
 * then finds the response in the cache. The claimer stores the response
 * before it drops its claim, and a waiter looks in the cache again under the
 * same lock after the claim is gone, so for a given user only one request at
 * a time can be between its miss and its put. No lock is held across the
 * gateway call: requests for different users still charge in parallel.
 * Race pairs, check and act of two requests for the same user, both under the cache's lock:
 * payflow.charge.window, the user's entry: "cache_get(f->c, user_id, out)" at line 67 (R, a
 * miss) vs "cache_put(f->c, user_id, &resp)" at line 78 (W, the other request's act); both
 * then run "gateway_charge(f->g, user_id, cents)" at line 70: the user is charged twice.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "payflow.h"
#include "racepoint.h"

struct payflow {
	struct cache *c;   /* set at creation, only read after */
	struct gateway *g; /* set at creation, only read after */
};

struct payflow *payflow_create(struct cache *c, struct gateway *g)
{
	struct payflow *f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	f->c = c;
	f->g = g;
	return f;
}

void payflow_destroy(struct payflow *f)
{
	if (!f)
		return;
	free(f);
}

static bool valid(const char *user_id, int64_t cents)
{
	size_t n = strlen(user_id);
	return cents > 0 && n > 0 && n < CACHE_USER_ID_MAX;
}

enum payflow_outcome payflow_process(struct payflow *f, const char *user_id, int64_t cents,
				     struct cache_response *out)
{
	if (!valid(user_id, cents))
		return PAYFLOW_FAILED;
	if (cache_get(f->c, user_id, out))
		return PAYFLOW_CACHED; /* paid already: answer, do not charge */
	RACE_POINT("payflow.charge.window");
	uint64_t charge = gateway_charge(f->g, user_id, cents);
	if (charge) {
		struct cache_response resp;
		memset(&resp, 0, sizeof(resp));
		snprintf(resp.user_id, sizeof(resp.user_id), "%s", user_id);
		snprintf(resp.status, sizeof(resp.status), "success");
		resp.amount_cents = cents;
		resp.request_id = charge;
		cache_put(f->c, user_id, &resp);
		*out = resp;
	}
	return charge ? PAYFLOW_CHARGED : PAYFLOW_FAILED;
}
