/*
 * gateway.c: the simulated payment gateway (see gateway.h).
 *
 * The latency is a sleep taken before the gateway's lock, so charges for
 * different users, or the same user, overlap as they would at a real
 * processor; only the booking itself is under the lock. Holding the lock
 * across the sleep would serialize every charge in the process, and would
 * hide nothing: a double charge is two bookings, however they are ordered.
 */
#include <errno.h>
#include <stdbool.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gateway.h"
#include "hash.h"
#include "rng.h"

struct gateway_entry {
	struct gateway_entry *next;
	char user_id[GATEWAY_USER_ID_MAX];
	struct gateway_account acct;
};

struct gateway {
	long latency_us;		/* set at creation, only read after */
	pthread_mutex_t lock;		/* guards everything below and every entry */
	struct gateway_entry **buckets; /* nbuckets chains */
	size_t nbuckets;
	uint64_t next_charge;
	long charges;
	bool faulty;		      /* set before the first charge, only read after */
	struct gateway_faults faults; /* likewise */
	uint64_t draws;		      /* calls that drew a fault; under lock */
	struct gateway_stats stats;   /* under lock */
	pthread_mutex_t abort_lock;   /* guards aborted; wakes a faulty call's wait */
	pthread_cond_t aborted_cv;
	bool aborted;
};

struct gateway *gateway_create(size_t buckets, long latency_us)
{
	struct gateway *g = calloc(1, sizeof(*g));
	if (!g)
		return NULL;
	g->nbuckets = buckets ? buckets : 1;
	g->buckets = calloc(g->nbuckets, sizeof(g->buckets[0]));
	if (!g->buckets) {
		free(g);
		return NULL;
	}
	g->latency_us = latency_us > 0 ? latency_us : 0;
	g->next_charge = 1;
	pthread_mutex_init(&g->lock, NULL);
	pthread_mutex_init(&g->abort_lock, NULL);
	/* CLOCK_MONOTONIC: a wait must not stretch when the wall clock steps */
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&g->aborted_cv, &ca);
	pthread_condattr_destroy(&ca);
	return g;
}

void gateway_destroy(struct gateway *g)
{
	if (!g)
		return;
	for (size_t i = 0; i < g->nbuckets; i++) {
		struct gateway_entry *e = g->buckets[i];
		while (e) {
			struct gateway_entry *next = e->next;
			free(e);
			e = next;
		}
	}
	free(g->buckets);
	pthread_mutex_destroy(&g->lock);
	pthread_cond_destroy(&g->aborted_cv);
	pthread_mutex_destroy(&g->abort_lock);
	free(g);
}

/* The entry for user_id, or NULL. Caller holds g->lock. */
static struct gateway_entry *find(struct gateway *g, const char *user_id)
{
	struct gateway_entry *e = g->buckets[hash_str(user_id) % g->nbuckets];
	while (e && strcmp(e->user_id, user_id) != 0)
		e = e->next;
	return e;
}

/* Sleeps us microseconds, resuming after a signal. */
static void wait_latency(long us)
{
	struct timespec ts = { us / 1000000, (us % 1000000) * 1000 };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* A faulty gateway's wait: the latency, or less if gateway_abort() comes
 * first. Returns false when aborted. A condition variable, not a sleep,
 * so that the abort wakes every waiting call at once. */
static bool wait_abortable(struct gateway *g, long us)
{
	struct timespec end;
	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += us / 1000000;
	end.tv_nsec += (us % 1000000) * 1000;
	if (end.tv_nsec >= 1000000000L) {
		end.tv_sec++;
		end.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&g->abort_lock);
	int rc = 0;
	while (!g->aborted && rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&g->aborted_cv, &g->abort_lock, &end);
	bool ok = !g->aborted;
	pthread_mutex_unlock(&g->abort_lock);
	return ok;
}

void gateway_abort(struct gateway *g)
{
	pthread_mutex_lock(&g->abort_lock);
	g->aborted = true;
	pthread_cond_broadcast(&g->aborted_cv);
	pthread_mutex_unlock(&g->abort_lock);
}

void gateway_set_faults(struct gateway *g, const struct gateway_faults *faults)
{
	g->faults = *faults;
	if (g->faults.max_latency_us < g->faults.min_latency_us)
		g->faults.max_latency_us = g->faults.min_latency_us;
	g->faulty = true;
}

/*
 * This call's latency and fate. The k-th call's generator state is a
 * function of the seed and k alone (k taken under the lock, so no two
 * calls share it), which is what makes a run repeatable without a shared
 * generator that every thread would have to lock around.
 */
static long draw_fault(struct gateway *g, bool *fail)
{
	pthread_mutex_lock(&g->lock);
	uint64_t k = g->draws++;
	g->stats.calls++;
	pthread_mutex_unlock(&g->lock);
	uint64_t st = g->faults.seed ^ (k * 0xd1b54a32d192ed03ULL);
	uint64_t r1 = rng_next(&st), r2 = rng_next(&st);
	long span = g->faults.max_latency_us - g->faults.min_latency_us;
	long us = g->faults.min_latency_us + (long)(r1 % (uint64_t)(span + 1));
	*fail = r2 % 1000000 < g->faults.failure_ppm;
	return us;
}

/* Counts a failed call. */
static void count_failure(struct gateway *g, bool timeout, bool aborted)
{
	pthread_mutex_lock(&g->lock);
	g->stats.failures++;
	g->stats.timeouts += timeout;
	g->stats.aborted += aborted;
	pthread_mutex_unlock(&g->lock);
}

uint64_t gateway_charge(struct gateway *g, const char *user_id, int64_t cents)
{
	if (cents <= 0 || strlen(user_id) >= GATEWAY_USER_ID_MAX)
		return 0;
	long latency = g->latency_us;
	bool fail = false, aborted = false;
	if (g->faulty) {
		latency = draw_fault(g, &fail);
		if (g->faults.timeout_us && latency > g->faults.timeout_us) {
			bool ok = wait_abortable(g, g->faults.timeout_us);
			count_failure(g, ok, !ok);
			return 0;
		}
	}
	/* Allocated before the lock (malloc needs none of ours), freed if
	 * the user already has an entry. */
	struct gateway_entry *fresh = calloc(1, sizeof(*fresh));
	if (!fresh)
		return 0;
	if (g->faulty) {
		aborted = !wait_abortable(g, latency);
		fail = fail || aborted;
	} else if (latency) {
		wait_latency(latency);
	}
	if (fail) {
		free(fresh);
		count_failure(g, false, aborted);
		return 0;
	}
	pthread_mutex_lock(&g->lock);
	struct gateway_entry *e = find(g, user_id);
	if (!e) {
		size_t b = hash_str(user_id) % g->nbuckets;
		snprintf(fresh->user_id, sizeof(fresh->user_id), "%s", user_id);
		fresh->next = g->buckets[b];
		g->buckets[b] = fresh;
		e = fresh;
		fresh = NULL;
	}
	uint64_t id = g->next_charge++;
	e->acct.charges++;
	e->acct.total_cents += cents;
	e->acct.last_charge = id;
	g->charges++;
	g->stats.charges++;
	g->stats.total_cents += cents;
	pthread_mutex_unlock(&g->lock);
	free(fresh);
	return id;
}

void gateway_account(struct gateway *g, const char *user_id, struct gateway_account *out)
{
	pthread_mutex_lock(&g->lock);
	struct gateway_entry *e = find(g, user_id);
	if (e)
		*out = e->acct;
	else
		memset(out, 0, sizeof(*out));
	pthread_mutex_unlock(&g->lock);
}

long gateway_charges_total(struct gateway *g)
{
	pthread_mutex_lock(&g->lock);
	long n = g->charges;
	pthread_mutex_unlock(&g->lock);
	return n;
}

void gateway_stats(struct gateway *g, struct gateway_stats *out)
{
	pthread_mutex_lock(&g->lock);
	*out = g->stats;
	if (!g->faulty)
		out->calls = g->charges; /* without faults every call books */
	pthread_mutex_unlock(&g->lock);
}
