/*
 * run.c: the workers. One thread per connection, each sending one request
 * at a time and waiting for its answer, like the clients of the war story
 * (and like wrk's connections, though wrk multiplexes them on a few
 * threads). Each worker keeps its own counts and histogram; they are
 * added up after the run, so the timed loop shares nothing but the
 * request counter.
 */
#define _GNU_SOURCE /* pthread_attr_setstacksize */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "check.h"
#include "http.h"
#include "loadgen.h"
#include "rng.h"

struct worker {
	pthread_t tid;
	int w;
	const struct loadgen_options *o;
	struct loadgen_totals t;
	struct http_conn conn;
	uint64_t rng;
	bool oom;
	FILE *paid; /* --payments: this worker's lines, a memstream */
	char *paid_buf;
	size_t paid_len;
};

static pthread_barrier_t start_line;
static int64_t start_ns, end_ns;
static _Atomic uint64_t issued;
static atomic_bool stop_early; /* set from a signal handler: lock-free, so safe there */

void loadgen_stop(void)
{
	atomic_store(&stop_early, true);
}

void loadgen_request_user(const struct loadgen_options *o, int w, uint64_t j, uint64_t s,
			  uint64_t *rng, char *user, size_t size)
{
	switch (o->users) {
	case USERS_SEQ: snprintf(user, size, "seq-%llu", (unsigned long long)s); break;
	case USERS_STORY: snprintf(user, size, "user-%d-%d", w, (int)(j % 10)); break;
	case USERS_UNIQUE: snprintf(user, size, "user-%d-%llu", w, (unsigned long long)j); break;
	case USERS_SHARED:
		snprintf(user, size, "user-s-%d", (int)(rng_next(rng) % (uint64_t)o->shared_users));
		break;
	}
}

/* A user's amount never changes: a cached answer repeats the amount of the
 * user's first payment, so a per-request amount would look like a leak. */
int64_t loadgen_request_cents(const struct loadgen_options *o, const char *user)
{
	if (o->amount_cents > 0)
		return o->amount_cents;
	uint64_t h = 1469598103934665603ULL;
	for (; *user; user++)
		h = (h ^ (unsigned char)*user) * 1099511628211ULL;
	return 100 + (int64_t)(h % 9900);
}

static void note_error(struct worker *wk, int64_t at)
{
	if (wk->t.first_error_ns < 0 || at - start_ns < wk->t.first_error_ns)
		wk->t.first_error_ns = at - start_ns;
}

static void account(struct worker *wk, enum http_result res, const struct http_response *r,
		    const char *user, int64_t cents, int64_t t0, int64_t t1)
{
	struct loadgen_totals *t = &wk->t;
	t->requests++;
	if (res == HTTP_DONE)
		hist_record(&t->hist, (uint64_t)(t1 - t0) / 1000);
	switch (res) {
	case HTTP_DONE: break;
	case HTTP_TIMEOUT: t->timeouts++; break;
	case HTTP_RESET: t->resets++; break;
	case HTTP_CONNECT: t->connects++; break;
	case HTTP_PROTOCOL: t->protocol++; break;
	}
	if (res != HTTP_DONE) {
		note_error(wk, t1);
		return;
	}
	if (r->status != 200) {
		if (r->status >= 100 && r->status < LOADGEN_STATUS_MAX)
			t->status[r->status]++;
		else
			t->protocol++;
		note_error(wk, t1);
		return;
	}
	struct check_payment p;
	switch (check_response(r->body, r->body_len, user, cents, &p)) {
	case CHECK_OK:
		t->successes++;
		t->cached += p.cached;
		if (!paymap_add(&t->pay, user, p.payment_id, p.cents))
			wk->oom = true;
		if (wk->paid &&
		    fprintf(wk->paid, "%s %llu %lld %d\n", user, (unsigned long long)p.payment_id,
			    (long long)p.cents, p.cached) < 0)
			wk->oom = true;
		return;
	case CHECK_LEAK:
		t->leaks++;
		if (!t->leak_example[0])
			snprintf(t->leak_example, sizeof(t->leak_example),
				 "sent %s %lld cents, got: %.*s", user, (long long)cents,
				 (int)(r->body_len < 100 ? r->body_len : 100), r->body);
		break;
	case CHECK_MALFORMED: t->protocol++; break;
	}
	note_error(wk, t1);
}

/* The request's text: the story's body, the merchant's key and, unless
 * --no-idempotency-key, the user's idempotency key. */
static int request_text(const struct loadgen_options *o, const char *user, int64_t cents, char *req,
			size_t size)
{
	char body[160], auth[200] = "", key[200] = "";
	int blen = snprintf(body, sizeof(body), "{\"user_id\": \"%s\", \"amount\": %lld.%02lld}",
			    user, (long long)(cents / 100), (long long)(cents % 100));
	if (o->api_key)
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s\r\n", o->api_key);
	if (o->idempotency)
		snprintf(key, sizeof(key), "Idempotency-Key: %s%s\r\n", o->key_prefix, user);
	return snprintf(req, size,
			"POST /process-payment HTTP/1.1\r\nHost: %s:%s\r\n"
			"Content-Type: application/json\r\nContent-Length: %d\r\n%s%s%s\r\n%s",
			o->host, o->port, blen, auth, key,
			o->keepalive ? "" : "Connection: close\r\n", body);
}

static void *work(void *arg)
{
	struct worker *wk = arg;
	const struct loadgen_options *o = wk->o;
	char user[64], req[1024];
	pthread_barrier_wait(&start_line);
	for (uint64_t j = 0;; j++) {
		/* seq numbers the run's requests, so it takes one even when
		 * the run is timed */
		uint64_t s =
			o->requests || o->users == USERS_SEQ ? atomic_fetch_add(&issued, 1) : 0;
		if (o->requests ? s >= o->requests : http_now_ns() >= end_ns)
			break;
		if (atomic_load_explicit(&stop_early, memory_order_relaxed))
			break;
		loadgen_request_user(o, wk->w, j, s, &wk->rng, user, sizeof(user));
		int64_t cents = loadgen_request_cents(o, user);
		int rlen = request_text(o, user, cents, req, sizeof(req));
		struct http_response r;
		int64_t t0 = http_now_ns();
		enum http_result res =
			http_exchange(&wk->conn, (const struct sockaddr *)&o->addr, o->addr_len,
				      req, (size_t)rlen, t0 + (int64_t)o->timeout_ms * 1000000, &r);
		int64_t t1 = http_now_ns();
		account(wk, res, &r, user, cents, t0, t1);
		if (res == HTTP_DONE && (r.close || !o->keepalive))
			http_close(&wk->conn);
		if (res == HTTP_CONNECT) {
			/* Nobody listens (the service died): do not spin. */
			struct timespec ts = { 0, 10 * 1000000 };
			nanosleep(&ts, NULL);
		}
	}
	http_close(&wk->conn);
	return NULL;
}

static void raise_fd_limit(int connections)
{
	struct rlimit rl;
	rlim_t want = (rlim_t)connections + 64;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < want) {
		rl.rlim_cur = rl.rlim_max < want ? rl.rlim_max : want;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static bool merge(struct loadgen_totals *t, struct worker *wk)
{
	const struct loadgen_totals *s = &wk->t;
	t->requests += s->requests;
	t->successes += s->successes;
	t->cached += s->cached;
	for (int i = 0; i < LOADGEN_STATUS_MAX; i++)
		t->status[i] += s->status[i];
	t->timeouts += s->timeouts;
	t->resets += s->resets;
	t->connects += s->connects;
	t->protocol += s->protocol;
	t->leaks += s->leaks;
	if (s->first_error_ns >= 0 &&
	    (t->first_error_ns < 0 || s->first_error_ns < t->first_error_ns))
		t->first_error_ns = s->first_error_ns;
	if (!t->leak_example[0])
		memcpy(t->leak_example, s->leak_example, sizeof(t->leak_example));
	hist_merge(&t->hist, &s->hist);
	return !wk->oom && paymap_merge(&t->pay, &s->pay);
}

bool loadgen_run(const struct loadgen_options *o, struct loadgen_totals *t)
{
	int n = o->connections;
	struct worker *ws = calloc((size_t)n, sizeof(*ws));
	if (!ws || !paymap_init(&t->pay)) {
		fprintf(stderr, "racelab-loadgen: error: out of memory for %d workers\n", n);
		free(ws);
		return false;
	}
	t->first_error_ns = -1;
	raise_fd_limit(n);
	pthread_barrier_init(&start_line, NULL, (unsigned)n + 1);
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 128 * 1024);
	int started = 0;
	bool ok = true;
	for (; started < n; started++) {
		struct worker *wk = &ws[started];
		wk->w = started;
		wk->o = o;
		wk->t.first_error_ns = -1;
		wk->rng = rng_seed_k(o->seed, (uint64_t)started);
		http_init(&wk->conn);
		if (o->payments && !(wk->paid = open_memstream(&wk->paid_buf, &wk->paid_len))) {
			ok = false;
			break;
		}
		if (!paymap_init(&wk->t.pay) || pthread_create(&wk->tid, &attr, work, wk) != 0) {
			ok = false;
			break;
		}
	}
	if (!ok) {
		/* The started workers wait at the barrier for all n: end here. */
		fprintf(stderr, "racelab-loadgen: error: could only start %d of %d workers\n",
			started, n);
		exit(2);
	}
	start_ns = http_now_ns();
	end_ns = start_ns + o->duration_ms * 1000000;
	pthread_barrier_wait(&start_line);
	for (int i = 0; i < n; i++)
		pthread_join(ws[i].tid, NULL);
	t->elapsed_ns = http_now_ns() - start_ns;
	for (int i = 0; i < n; i++) {
		if (!merge(t, &ws[i]))
			ok = false;
		paymap_free(&ws[i].t.pay);
		if (ws[i].paid) {
			/* fclose sets paid_buf and paid_len */
			if (fclose(ws[i].paid) != 0 || fwrite(ws[i].paid_buf, 1, ws[i].paid_len,
							      o->payments) != ws[i].paid_len)
				ok = false;
			free(ws[i].paid_buf);
		}
	}
	free(ws);
	pthread_attr_destroy(&attr);
	if (!ok)
		fprintf(stderr, "racelab-loadgen: error: out of memory recording payments\n");
	return ok;
}
