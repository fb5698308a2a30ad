/*
 * metrics.h: the service's counters and latency histogram, and their
 * Prometheus text rendering for GET /metrics.
 *
 * Every counter is a C11 atomic: request threads bump them all the time
 * and /metrics reads them while they do. A plain long would be a data race
 * of our own in the fixed service, which ThreadSanitizer would report
 * beside (and confuse with) the cache race the broken build is about.
 */
#ifndef RACELAB_METRICS_H
#define RACELAB_METRICS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "gateway.h"

enum metrics_outcome { METRICS_CHARGED, METRICS_CACHED, METRICS_FAILED, METRICS_OUTCOMES };

/* What the connection guard (guard.c) did to a connection. */
enum metrics_guard {
	METRICS_REFUSED_CAP,	  /* answered 503: the connection cap */
	METRICS_REFUSED_CLIENT,	  /* answered 503: the limit per client */
	METRICS_DEADLINE_HEADERS, /* closed: no whole headers in time */
	METRICS_DEADLINE_BODY,	  /* answered 408 and closed: no whole body in time */
	METRICS_MHD_ANSWER,	  /* libmicrohttpd answered an error itself (HTML) */
	METRICS_GUARDS
};

#define METRICS_BUCKETS 16

struct metrics {
	atomic_long by_status[600];		/* responses by HTTP status */
	atomic_long outcomes[METRICS_OUTCOMES]; /* payment requests by outcome */
	atomic_long guard[METRICS_GUARDS];	/* the connection guard's actions */
	atomic_long buckets[METRICS_BUCKETS];	/* latency, not cumulative */
	atomic_llong latency_us_sum;
	atomic_long latency_count;
};

void metrics_init(struct metrics *m);
void metrics_response(struct metrics *m, unsigned status, long latency_us);
void metrics_outcome(struct metrics *m, enum metrics_outcome o);
/* A response that was not timed (written by the guard, or by MHD itself):
 * counted by status, outside the latency histogram. */
void metrics_status(struct metrics *m, unsigned status);
void metrics_guard(struct metrics *m, enum metrics_guard what);
long metrics_requests(struct metrics *m);

/* Renders every metric, with the gateway's counters and the ledger's
 * total, as Prometheus text into a malloc'd string (NULL when out of
 * memory) of *len bytes. */
char *metrics_render(struct metrics *m, struct gateway *g, int64_t ledger_cents, size_t *len);

#endif
