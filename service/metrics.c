/*
 * metrics.c: counters and the latency histogram (see metrics.h).
 *
 * Relaxed atomics: each counter only has to be exact on its own; nothing
 * is ordered by them, and a scrape during load is a snapshot of counters
 * read one after another, as in any Prometheus exporter.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"

/* Upper bounds of the histogram's buckets, in microseconds; the last is
 * +Inf. Dense between 100 and 300 ms, where the story's gateway lives. */
static const long bucket_us[METRICS_BUCKETS - 1] = { 1000,   5000,   10000,   25000,   50000,
						     100000, 150000, 200000,  250000,  300000,
						     400000, 500000, 1000000, 2500000, 5000000 };

void metrics_init(struct metrics *m)
{
	memset(m, 0, sizeof(*m));
}

void metrics_response(struct metrics *m, unsigned status, long latency_us)
{
	if (status < 600)
		atomic_fetch_add_explicit(&m->by_status[status], 1, memory_order_relaxed);
	int b = 0;
	while (b < METRICS_BUCKETS - 1 && latency_us > bucket_us[b])
		b++;
	atomic_fetch_add_explicit(&m->buckets[b], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&m->latency_us_sum, latency_us, memory_order_relaxed);
	atomic_fetch_add_explicit(&m->latency_count, 1, memory_order_relaxed);
}

void metrics_outcome(struct metrics *m, enum metrics_outcome o)
{
	atomic_fetch_add_explicit(&m->outcomes[o], 1, memory_order_relaxed);
}

void metrics_status(struct metrics *m, unsigned status)
{
	if (status < 600)
		atomic_fetch_add_explicit(&m->by_status[status], 1, memory_order_relaxed);
}

void metrics_guard(struct metrics *m, enum metrics_guard what)
{
	atomic_fetch_add_explicit(&m->guard[what], 1, memory_order_relaxed);
}

long metrics_requests(struct metrics *m)
{
	return atomic_load_explicit(&m->latency_count, memory_order_relaxed);
}

static long get(atomic_long *a)
{
	return atomic_load_explicit(a, memory_order_relaxed);
}

/* Appends to the open memstream: counter NAME with HELP and one value. */
static void counter(FILE *f, const char *name, const char *help, long long v)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s counter\n%s %lld\n", name, help, name, name, v);
}

char *metrics_render(struct metrics *m, struct gateway *g, int64_t ledger_cents, size_t *len)
{
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);
	if (!f)
		return NULL;
	fprintf(f, "# HELP racelab_requests_total HTTP responses by status.\n"
		   "# TYPE racelab_requests_total counter\n");
	for (unsigned s = 100; s < 600; s++) {
		long v = get(&m->by_status[s]);
		if (v)
			fprintf(f, "racelab_requests_total{status=\"%u\"} %ld\n", s, v);
	}
	long charged = get(&m->outcomes[METRICS_CHARGED]);
	long cached = get(&m->outcomes[METRICS_CACHED]);
	long failed = get(&m->outcomes[METRICS_FAILED]);
	fprintf(f,
		"# HELP racelab_payments_total Payment requests by outcome.\n"
		"# TYPE racelab_payments_total counter\n"
		"racelab_payments_total{outcome=\"charged\"} %ld\n"
		"racelab_payments_total{outcome=\"cached\"} %ld\n"
		"racelab_payments_total{outcome=\"failed\"} %ld\n",
		charged, cached, failed);
	fprintf(f,
		"# HELP racelab_connections_refused_total Connections answered 503 at accept.\n"
		"# TYPE racelab_connections_refused_total counter\n"
		"racelab_connections_refused_total{reason=\"cap\"} %ld\n"
		"racelab_connections_refused_total{reason=\"client\"} %ld\n"
		"# HELP racelab_deadline_closes_total Connections closed at a deadline.\n"
		"# TYPE racelab_deadline_closes_total counter\n"
		"racelab_deadline_closes_total{phase=\"headers\"} %ld\n"
		"racelab_deadline_closes_total{phase=\"body\"} %ld\n",
		get(&m->guard[METRICS_REFUSED_CAP]), get(&m->guard[METRICS_REFUSED_CLIENT]),
		get(&m->guard[METRICS_DEADLINE_HEADERS]), get(&m->guard[METRICS_DEADLINE_BODY]));
	counter(f, "racelab_mhd_error_answers_total",
		"Errors libmicrohttpd answered itself (HTML, also in racelab_requests_total).",
		get(&m->guard[METRICS_MHD_ANSWER]));
	counter(f, "racelab_cache_hits_total", "Payments answered from the cache.", cached);
	counter(f, "racelab_cache_misses_total", "Payments that went on to the gateway.",
		charged + failed);
	struct gateway_stats gs;
	gateway_stats(g, &gs);
	counter(f, "racelab_gateway_calls_total", "Charges attempted at the gateway.", gs.calls);
	counter(f, "racelab_gateway_failures_total", "Gateway calls that failed or timed out.",
		gs.failures);
	counter(f, "racelab_gateway_timeouts_total", "Gateway calls that timed out.", gs.timeouts);
	counter(f, "racelab_charges_total", "Charges booked at the gateway.", gs.charges);
	counter(f, "racelab_gateway_booked_cents_total", "The gateway's own sum of its charges.",
		gs.total_cents);
	counter(f, "racelab_ledger_cents_total", "The ledger: every booked charge, in cents.",
		ledger_cents);
	fprintf(f, "# HELP racelab_request_duration_seconds Request latency.\n"
		   "# TYPE racelab_request_duration_seconds histogram\n");
	long cum = 0;
	for (int b = 0; b < METRICS_BUCKETS; b++) {
		cum += get(&m->buckets[b]);
		if (b < METRICS_BUCKETS - 1)
			fprintf(f, "racelab_request_duration_seconds_bucket{le=\"%g\"} %ld\n",
				bucket_us[b] / 1e6, cum);
		else
			fprintf(f, "racelab_request_duration_seconds_bucket{le=\"+Inf\"} %ld\n",
				cum);
	}
	long long sum = atomic_load_explicit(&m->latency_us_sum, memory_order_relaxed);
	fprintf(f, "racelab_request_duration_seconds_sum %lld.%06lld\n", sum / 1000000,
		sum % 1000000);
	fprintf(f, "racelab_request_duration_seconds_count %ld\n", get(&m->latency_count));
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}
