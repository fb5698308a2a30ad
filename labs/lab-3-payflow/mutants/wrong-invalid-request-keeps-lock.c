/* WRONG: striped locks, but the early return for an invalid request keeps its stripe locked */
/*
 * broken/payflow.c: the process-payment flow as the story's fixed service
 * wrote it. Lab 3, a check-then-act atomicity violation.
 *
 * Every step is thread-safe: cache_get and cache_put take the cache's
 * lock, gateway_charge takes the gateway's. The sequence is not: two
 * requests for the same new user can both miss before either stores its
 * response, and then both charge. There is no data race here, so neither
 * ThreadSanitizer nor Helgrind has anything to report; only the invariant
 * (one charge per user, checked at the gateway) shows the bug.
 *
 * Race pairs, DataRaceBench style, as check and act of two requests for
 * the same user (both accesses under the cache's lock, so no data race):
 *   payflow.charge.window  the user's cache entry:
 *                          "cache_get(f->c, user_id, out)" at line 65 (R,
 *                          the check: a miss) vs
 *                          "cache_put(f->c, user_id, &resp)" at line 76
 *                          (W, the act of the other request). Both misses
 *                          come before either put, so both requests run
 *                          "gateway_charge(f->g, user_id, cents)" at
 *                          line 68: the user is charged twice.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "payflow.h"
#include "racepoint.h"

#define PAYFLOW_STRIPES 64

struct payflow {
	struct cache *c;   /* set at creation, only read after */
	struct gateway *g; /* set at creation, only read after */
	/* One lock per stripe of users: a user's check, charge and put run
	 * under its stripe's lock, so requests for one user never overlap,
	 * and users of other stripes charge in parallel. */
	pthread_mutex_t stripe[PAYFLOW_STRIPES];
};

struct payflow *payflow_create(struct cache *c, struct gateway *g)
{
	struct payflow *f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	f->c = c;
	f->g = g;
	for (int i = 0; i < PAYFLOW_STRIPES; i++)
		pthread_mutex_init(&f->stripe[i], NULL);
	return f;
}

void payflow_destroy(struct payflow *f)
{
	if (!f)
		return;
	for (int i = 0; i < PAYFLOW_STRIPES; i++)
		pthread_mutex_destroy(&f->stripe[i]);
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
	pthread_mutex_t *lock = &f->stripe[hash_str(user_id) % PAYFLOW_STRIPES];
	pthread_mutex_lock(lock);
	if (!valid(user_id, cents))
		return PAYFLOW_FAILED;
	if (cache_get(f->c, user_id, out)) {
		pthread_mutex_unlock(lock);
		return PAYFLOW_CACHED; /* paid already: answer, do not charge */
	}
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
	pthread_mutex_unlock(lock);
	return charge ? PAYFLOW_CHARGED : PAYFLOW_FAILED;
}
