/* RIGHT: a single flight per user: duplicates wait for the first charge and share its outcome */
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

/* One charge in flight for a user, shared with every request for that user
 * that misses while it flies: they wait for it to land and take its
 * outcome (a "single flight"). Freed by whoever leaves it last. */
struct flight {
	struct flight *next;
	char user_id[CACHE_USER_ID_MAX];
	int waiters; /* requests waiting for this flight */
	bool landed; /* outcome and resp are final */
	enum payflow_outcome outcome;
	struct cache_response resp;
};

struct payflow {
	struct cache *c;	/* set at creation, only read after */
	struct gateway *g;	/* set at creation, only read after */
	pthread_mutex_t lock;	/* guards flights and every flight in it */
	pthread_cond_t landed;	/* broadcast when a flight lands */
	struct flight *flights; /* the charges in flight */
};

struct payflow *payflow_create(struct cache *c, struct gateway *g)
{
	struct payflow *f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	f->c = c;
	f->g = g;
	pthread_mutex_init(&f->lock, NULL);
	pthread_cond_init(&f->landed, NULL);
	return f;
}

void payflow_destroy(struct payflow *f)
{
	if (!f)
		return;
	pthread_cond_destroy(&f->landed);
	pthread_mutex_destroy(&f->lock);
	free(f);
}

static bool valid(const char *user_id, int64_t cents)
{
	size_t n = strlen(user_id);
	return cents > 0 && n > 0 && n < CACHE_USER_ID_MAX;
}

/* The flight for user_id, or NULL. Caller holds f->lock. */
static struct flight *find_flight(struct payflow *f, const char *user_id)
{
	for (struct flight *fl = f->flights; fl; fl = fl->next)
		if (strcmp(fl->user_id, user_id) == 0)
			return fl;
	return NULL;
}

/* Waits for fl to land and takes its outcome. Caller holds f->lock. */
static enum payflow_outcome join_flight(struct payflow *f, struct flight *fl,
					struct cache_response *out)
{
	fl->waiters++;
	while (!fl->landed)
		pthread_cond_wait(&f->landed, &f->lock);
	enum payflow_outcome o = fl->outcome;
	if (o != PAYFLOW_FAILED) {
		*out = fl->resp;
		o = PAYFLOW_CACHED; /* the other request charged */
	}
	if (--fl->waiters == 0)
		free(fl); /* landed: unlinked already, and we were the last */
	return o;
}

enum payflow_outcome payflow_process(struct payflow *f, const char *user_id, int64_t cents,
				     struct cache_response *out)
{
	if (!valid(user_id, cents))
		return PAYFLOW_FAILED;
	if (cache_get(f->c, user_id, out))
		return PAYFLOW_CACHED; /* paid already: answer, do not charge */
	pthread_mutex_lock(&f->lock);
	struct flight *fl = find_flight(f, user_id);
	if (fl) {
		enum payflow_outcome o = join_flight(f, fl, out);
		pthread_mutex_unlock(&f->lock);
		return o;
	}
	/* No flight: one may have landed between our miss and the lock, and
	 * it stored its response before it landed. */
	if (cache_get(f->c, user_id, out)) {
		pthread_mutex_unlock(&f->lock);
		return PAYFLOW_CACHED;
	}
	fl = calloc(1, sizeof(*fl));
	if (!fl) {
		pthread_mutex_unlock(&f->lock);
		return PAYFLOW_FAILED;
	}
	snprintf(fl->user_id, sizeof(fl->user_id), "%s", user_id);
	fl->next = f->flights;
	f->flights = fl;
	pthread_mutex_unlock(&f->lock);

	RACE_POINT("payflow.charge.window");
	uint64_t charge = gateway_charge(f->g, user_id, cents);
	struct cache_response resp;
	memset(&resp, 0, sizeof(resp));
	if (charge) {
		snprintf(resp.user_id, sizeof(resp.user_id), "%s", user_id);
		snprintf(resp.status, sizeof(resp.status), "success");
		resp.amount_cents = cents;
		resp.request_id = charge;
		cache_put(f->c, user_id, &resp);
		*out = resp;
	}

	pthread_mutex_lock(&f->lock);
	struct flight **link = &f->flights;
	while (*link != fl)
		link = &(*link)->next;
	*link = fl->next;
	fl->resp = resp;
	fl->outcome = charge ? PAYFLOW_CHARGED : PAYFLOW_FAILED;
	fl->landed = true;
	pthread_cond_broadcast(&f->landed);
	if (fl->waiters == 0)
		free(fl);
	pthread_mutex_unlock(&f->lock);
	return charge ? PAYFLOW_CHARGED : PAYFLOW_FAILED;
}
