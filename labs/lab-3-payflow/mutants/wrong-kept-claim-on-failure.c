/* WRONG: a failed charge keeps its claim: waiters and retries for that user wait forever */
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

#include "payflow.h"
#include "racepoint.h"

/* A charge in flight: lives on the claiming thread's stack, and is linked
 * into f->inflight only while that thread is between its miss and its
 * put. */
struct payflow_claim {
	struct payflow_claim *next;
	const char *user_id;
};

struct payflow {
	struct cache *c;		/* set at creation, only read after */
	struct gateway *g;		/* set at creation, only read after */
	pthread_mutex_t lock;		/* guards inflight and every claim in it */
	pthread_cond_t dropped;		/* broadcast whenever a claim is dropped */
	struct payflow_claim *inflight; /* the users being charged right now */
};

struct payflow *payflow_create(struct cache *c, struct gateway *g)
{
	struct payflow *f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	f->c = c;
	f->g = g;
	pthread_mutex_init(&f->lock, NULL);
	pthread_cond_init(&f->dropped, NULL);
	return f;
}

void payflow_destroy(struct payflow *f)
{
	if (!f)
		return;
	pthread_cond_destroy(&f->dropped);
	pthread_mutex_destroy(&f->lock);
	free(f);
}

static bool valid(const char *user_id, int64_t cents)
{
	size_t n = strlen(user_id);
	return cents > 0 && n > 0 && n < CACHE_USER_ID_MAX;
}

/* Whether someone is charging user_id now. Caller holds f->lock. */
static bool in_flight(struct payflow *f, const char *user_id)
{
	for (struct payflow_claim *cl = f->inflight; cl; cl = cl->next)
		if (strcmp(cl->user_id, user_id) == 0)
			return true;
	return false;
}

/*
 * Called after a miss. Waits while another request is charging user_id,
 * then looks in the cache again: the request it waited for (or one that
 * finished between our miss and our lock) has stored its response there.
 * Returns false with that response in *out, or true with the claim linked
 * when this request must charge. The wait is a loop: a broadcast wakes
 * every waiter, for every user, and only the predicate says whether this
 * one may go on.
 */
static bool claim_charge(struct payflow *f, const char *user_id, struct payflow_claim *cl,
			 struct cache_response *out)
{
	pthread_mutex_lock(&f->lock);
	while (in_flight(f, user_id))
		pthread_cond_wait(&f->dropped, &f->lock);
	bool hit = cache_get(f->c, user_id, out);
	if (!hit) {
		cl->user_id = user_id;
		cl->next = f->inflight;
		f->inflight = cl;
	}
	pthread_mutex_unlock(&f->lock);
	return !hit;
}

/* Unlinks the claim and wakes the waiters. Called after the put (or a
 * failed charge), so a waiter that wakes finds the response in the cache
 * (or, after a failure, claims the user and tries the charge itself). */
static void drop_claim(struct payflow *f, struct payflow_claim *cl)
{
	pthread_mutex_lock(&f->lock);
	struct payflow_claim **link = &f->inflight;
	while (*link != cl)
		link = &(*link)->next;
	*link = cl->next;
	pthread_cond_broadcast(&f->dropped);
	pthread_mutex_unlock(&f->lock);
}

enum payflow_outcome payflow_process(struct payflow *f, const char *user_id, int64_t cents,
				     struct cache_response *out)
{
	if (!valid(user_id, cents))
		return PAYFLOW_FAILED;
	if (cache_get(f->c, user_id, out))
		return PAYFLOW_CACHED; /* paid already: answer, do not charge */
	struct payflow_claim cl;
	if (!claim_charge(f, user_id, &cl, out))
		return PAYFLOW_CACHED; /* another request charged while we waited */
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
		drop_claim(f, &cl);
		return PAYFLOW_CHARGED;
	}
	return PAYFLOW_FAILED;
}
