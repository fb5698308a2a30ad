/*
 * report.c: what a run saw, for people (stdout) and as one JSON object.
 */
#include <stdio.h>
#include <string.h>

#include "jsonw.h"
#include "loadgen.h"

static const char *const user_words[] = { "story", "unique", "shared", "seq" };

uint64_t loadgen_errors(const struct loadgen_totals *t)
{
	return t->requests - t->successes;
}

static double ms(uint64_t us)
{
	return (double)us / 1000.0;
}

static double rate_pct(const struct loadgen_totals *t)
{
	return t->requests ? 100.0 * (double)loadgen_errors(t) / (double)t->requests : 0.0;
}

static void amount_text(const struct loadgen_options *o, char *buf, size_t size)
{
	if (o->amount_cents < 0)
		snprintf(buf, size, "varied");
	else
		snprintf(buf, size, "%lld.%02lld", (long long)(o->amount_cents / 100),
			 (long long)(o->amount_cents % 100));
}

static int threads(const struct loadgen_options *o)
{
	return o->threads < o->connections ? o->threads : o->connections;
}

static void print_latency(const char *what, const struct hist *h, const char *note)
{
	printf("  %s  p50 %.2f  p90 %.2f  p99 %.2f  max %.2f  (%llu responses; %s)\n", what,
	       ms(hist_percentile(h, 50)), ms(hist_percentile(h, 90)), ms(hist_percentile(h, 99)),
	       ms(h->max), (unsigned long long)h->count, note);
}

void loadgen_print(const struct loadgen_options *o, const struct loadgen_totals *t)
{
	double secs = (double)t->elapsed_ns / 1e9;
	char amount[32];
	amount_text(o, amount, sizeof(amount));
	printf("racelab-loadgen: %s, %d connections%s on %d threads, users %s, amount %s, "
	       "timeout %d ms\n",
	       o->url, o->connections, o->keepalive ? " (keep-alive)" : "", threads(o),
	       user_words[o->users], amount, o->timeout_ms);
	if (o->rate > 0)
		printf("  schedule    %g requests/s in all, a constant rate\n", o->rate);
	else
		printf("  schedule    closed loop: each connection sends when its last answer "
		       "came\n");
	printf("  requests    %llu in %.2f s: %.1f requests/s\n", (unsigned long long)t->requests,
	       secs, secs > 0 ? (double)t->requests / secs : 0.0);
	printf("  successes   %llu (%llu answered from the cache)\n",
	       (unsigned long long)t->successes, (unsigned long long)t->cached);
	printf("  errors      %llu (%.2f%%)", (unsigned long long)loadgen_errors(t), rate_pct(t));
	if (t->first_error_ns >= 0)
		printf(", the first %.2f s into the run", (double)t->first_error_ns / 1e9);
	printf("\n");
	for (int s = 0; s < LOADGEN_STATUS_MAX; s++)
		if (t->status[s])
			printf("    status %d  %llu\n", s, (unsigned long long)t->status[s]);
	printf("    timeout     %llu\n    reset       %llu\n    connect     %llu\n"
	       "    protocol    %llu\n    leak        %llu\n",
	       (unsigned long long)t->timeouts, (unsigned long long)t->resets,
	       (unsigned long long)t->connects, (unsigned long long)t->protocol,
	       (unsigned long long)t->leaks);
	if (t->leak_example[0])
		printf("    first leak: %s\n", t->leak_example);
	print_latency("latency ms", &t->hist, "raw: from each send");
	if (o->rate > 0)
		print_latency("corrected ", &t->hist_corrected,
			      "from each intended start: coordinated omission corrected");
	else
		printf("  corrected   does not apply: closed loop (no --rate), no intended "
		       "start\n");
	print_latency("connect ms", &t->hist_connect, "each connect made, timed apart");
	printf("  payments    %zu distinct, %lld.%02lld in all; %zu users told of two payment "
	       "ids; %llu ids seen with two amounts\n",
	       t->pay.pay_n, (long long)(t->pay.cents_total / 100),
	       (long long)(t->pay.cents_total % 100), paymap_charged_twice(&t->pay),
	       (unsigned long long)t->pay.conflicts);
	fflush(stdout);
}

static void latency(struct jsonw *w, const char *key, const struct hist *h)
{
	jw_begin(w, key);
	jw_double(w, "p50", ms(hist_percentile(h, 50)));
	jw_double(w, "p90", ms(hist_percentile(h, 90)));
	jw_double(w, "p99", ms(hist_percentile(h, 99)));
	jw_double(w, "max", ms(h->max));
	jw_int(w, "count", (int64_t)h->count);
	jw_end(w);
}

bool loadgen_write_json(const struct loadgen_options *o, const struct loadgen_totals *t, FILE *f)
{
	struct jsonw w;
	char amount[32], code[8];
	if (jw_open(&w) != 0)
		return false;
	amount_text(o, amount, sizeof(amount));
	double secs = (double)t->elapsed_ns / 1e9;
	jw_begin(&w, NULL);
	jw_str(&w, "tool", "racelab-loadgen");
	jw_str(&w, "url", o->url);
	jw_int(&w, "connections", o->connections);
	jw_int(&w, "threads", threads(o));
	if (o->rate > 0)
		jw_double(&w, "rate_rps", o->rate);
	else
		jw_null(&w, "rate_rps");
	jw_bool(&w, "keepalive", o->keepalive);
	jw_str(&w, "users", user_words[o->users]);
	jw_str(&w, "amount", amount);
	jw_int(&w, "timeout_ms", o->timeout_ms);
	jw_double(&w, "elapsed_s", secs);
	jw_int(&w, "requests", (int64_t)t->requests);
	jw_int(&w, "successes", (int64_t)t->successes);
	jw_int(&w, "cached", (int64_t)t->cached);
	jw_int(&w, "errors", (int64_t)loadgen_errors(t));
	jw_double(&w, "error_rate", rate_pct(t) / 100.0);
	jw_begin(&w, "errors_by_kind");
	jw_begin(&w, "status");
	for (int s = 0; s < LOADGEN_STATUS_MAX; s++) {
		if (t->status[s]) {
			snprintf(code, sizeof(code), "%d", s);
			jw_int(&w, code, (int64_t)t->status[s]);
		}
	}
	jw_end(&w);
	jw_int(&w, "timeout", (int64_t)t->timeouts);
	jw_int(&w, "reset", (int64_t)t->resets);
	jw_int(&w, "connect", (int64_t)t->connects);
	jw_int(&w, "protocol", (int64_t)t->protocol);
	jw_int(&w, "leak", (int64_t)t->leaks);
	jw_end(&w);
	jw_str(&w, "first_leak", t->leak_example[0] ? t->leak_example : NULL);
	if (t->first_error_ns >= 0)
		jw_double(&w, "first_error_s", (double)t->first_error_ns / 1e9);
	else
		jw_null(&w, "first_error_s");
	jw_double(&w, "throughput_rps", secs > 0 ? (double)t->requests / secs : 0.0);
	latency(&w, "connect_ms", &t->hist_connect);
	/* latency_ms stays the raw figure: the scripts that read it predate --rate. */
	latency(&w, "latency_ms", &t->hist);
	if (o->rate > 0) {
		latency(&w, "latency_corrected_ms", &t->hist_corrected);
		jw_str(&w, "latency_note",
		       "latency_ms: raw, from each request's send; latency_corrected_ms: from its "
		       "intended start on the --rate schedule (coordinated omission corrected)");
	} else {
		jw_null(&w, "latency_corrected_ms");
		jw_str(&w, "latency_note",
		       "latency_ms: raw, from each request's send; closed loop (no --rate): "
		       "coordinated omission correction does not apply");
	}
	jw_begin(&w, "payments");
	jw_int(&w, "distinct", (int64_t)t->pay.pay_n);
	jw_int(&w, "cents_total", t->pay.cents_total);
	jw_int(&w, "users", (int64_t)t->pay.user_n);
	jw_int(&w, "users_charged_twice", (int64_t)paymap_charged_twice(&t->pay));
	jw_int(&w, "id_amount_conflicts", (int64_t)t->pay.conflicts);
	jw_end(&w);
	jw_double(&w, "threshold_pct", o->threshold_pct);
	jw_str(&w, "verdict", (rate_pct(t) > o->threshold_pct || t->leaks) ? "fail" : "pass");
	jw_end(&w);
	return jw_flush(&w, f) == 0;
}
