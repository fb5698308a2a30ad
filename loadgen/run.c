/*
 * run.c: the event loops. A few threads (one per CPU at most), each owning
 * a share of the connections and driving them with epoll over
 * non-blocking sockets, one request in flight per connection, as wrk
 * does. One thread per connection measured the scheduler, not the
 * service: at 1000 connections on 2 cores the threads waited about 10 ms
 * in the run queue for every timeslice, and that wait was counted as the
 * service's latency.
 *
 * Closed loop (no --rate): a connection sends its next request as soon as
 * the answer to the last one came. With --rate R, request i of the whole
 * run is meant to start at i/R s (connection c takes i = c, c+N, ...);
 * a connection behind that schedule sends at once, and the time from the
 * intended start is the corrected latency (wrk2's and HdrHistogram's
 * answer to coordinated omission: a stalled service must not also stall
 * the clock that measures it).
 *
 * Each thread keeps its own counts, histograms and payment maps; they are
 * added up after the run, so the loop shares nothing but the request
 * counter of --requests.
 */
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "http.h"
#include "loadgen.h"
#include "rng.h"

#define RETRY_NS (10 * 1000000) /* after a refused connect: a dead service is no busy loop */
#define EVENTS	 256

enum conn_state { C_IDLE, C_CONNECTING, C_SENDING, C_READING, C_DONE };

struct conn {
	int fd; /* -1: not connected */
	int w;	/* the connection's number in the run: its users and its schedule */
	enum conn_state st;
	uint64_t j;		  /* requests this connection has started */
	int64_t t0, intended;	  /* the request's first byte sent, and its planned start */
	int64_t deadline;	  /* from its start (a connect included) + --timeout-ms */
	struct conn *prev, *next; /* in its thread's in-flight list, oldest first */
	uint64_t rng;
	int64_t cents;
	size_t req_len, sent, len;
	char user[64];
	char req[1024]; /* room for the headers a service may come to require */
	char buf[HTTP_BUF];
};

/* A connection waiting to start its next request (rate or retry). */
struct timer {
	int64_t at;
	struct conn *c;
};

struct loop {
	pthread_t tid;
	const struct loadgen_options *o;
	int epfd;
	struct conn **conns;
	int n, active; /* connections owned, and those not done */
	struct conn *head, *tail;
	struct timer *heap;
	int heap_n;
	struct loadgen_totals t;
	bool oom;
	FILE *paid; /* --payments: this loop's lines, a memstream */
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

int loadgen_cpus(void)
{
	cpu_set_t set;
	if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0)
		return CPU_COUNT(&set);
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (int)n : 1;
}

static void heap_push(struct loop *l, int64_t at, struct conn *c)
{
	int i = l->heap_n++;
	while (i > 0 && l->heap[(i - 1) / 2].at > at) {
		l->heap[i] = l->heap[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	l->heap[i] = (struct timer){ at, c };
}

static struct conn *heap_pop(struct loop *l)
{
	struct conn *top = l->heap[0].c;
	struct timer last = l->heap[--l->heap_n];
	int i = 0;
	for (;;) {
		int k = 2 * i + 1;
		if (k >= l->heap_n)
			break;
		if (k + 1 < l->heap_n && l->heap[k + 1].at < l->heap[k].at)
			k++;
		if (l->heap[k].at >= last.at)
			break;
		l->heap[i] = l->heap[k];
		i = k;
	}
	l->heap[i] = last;
	return top;
}

/* The in-flight list: every request's deadline is its start plus the same
 * timeout, so appending keeps it in deadline order. */
static void flight_add(struct loop *l, struct conn *c)
{
	c->next = NULL;
	c->prev = l->tail;
	if (l->tail)
		l->tail->next = c;
	else
		l->head = c;
	l->tail = c;
}

static void flight_remove(struct loop *l, struct conn *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		l->head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	else
		l->tail = c->prev;
	c->prev = c->next = NULL;
}

static void conn_close(struct conn *c)
{
	if (c->fd >= 0)
		close(c->fd); /* which also takes it out of the epoll set */
	c->fd = -1;
}

/* When request k of connection w is meant to start under --rate. */
static int64_t intended_ns(const struct loadgen_options *o, int w, uint64_t k)
{
	double i = (double)k * o->connections + w;
	return start_ns + (int64_t)(i * 1e9 / o->rate);
}

static void note_error(struct loadgen_totals *t, int64_t at)
{
	if (t->first_error_ns < 0 || at - start_ns < t->first_error_ns)
		t->first_error_ns = at - start_ns;
}

static void account(struct loop *l, struct conn *c, enum http_result res,
		    const struct http_response *r, int64_t t1)
{
	struct loadgen_totals *t = &l->t;
	t->requests++;
	if (res == HTTP_DONE) {
		hist_record(&t->hist, (uint64_t)(t1 - c->t0) / 1000);
		if (l->o->rate > 0)
			hist_record(&t->hist_corrected, (uint64_t)(t1 - c->intended) / 1000);
	}
	switch (res) {
	case HTTP_DONE: break;
	case HTTP_TIMEOUT: t->timeouts++; break;
	case HTTP_RESET: t->resets++; break;
	case HTTP_CONNECT: t->connects++; break;
	case HTTP_PROTOCOL: t->protocol++; break;
	}
	if (res != HTTP_DONE) {
		note_error(t, t1);
		return;
	}
	if (r->status != 200) {
		if (r->status >= 100 && r->status < LOADGEN_STATUS_MAX)
			t->status[r->status]++;
		else
			t->protocol++;
		note_error(t, t1);
		return;
	}
	struct check_payment p;
	switch (check_response(r->body, r->body_len, c->user, c->cents, &p)) {
	case CHECK_OK:
		t->successes++;
		t->cached += p.cached;
		if (!paymap_add(&t->pay, c->user, p.payment_id, p.cents))
			l->oom = true;
		if (l->paid &&
		    fprintf(l->paid, "%s %llu %lld %d\n", c->user, (unsigned long long)p.payment_id,
			    (long long)p.cents, p.cached) < 0)
			l->oom = true;
		return;
	case CHECK_LEAK:
		t->leaks++;
		if (!t->leak_example[0])
			snprintf(t->leak_example, sizeof(t->leak_example),
				 "sent %s %lld cents, got: %.*s", c->user, (long long)c->cents,
				 (int)(r->body_len < 100 ? r->body_len : 100), r->body);
		break;
	case CHECK_MALFORMED: t->protocol++; break;
	}
	note_error(t, t1);
}

static void start_request(struct loop *l, struct conn *c);

/* Starts c's next request at `at`: now, or from the timer heap. One that
 * would start after --duration ends is not waited for. */
static void start_at(struct loop *l, struct conn *c, int64_t at, int64_t now)
{
	if (at > now && (l->o->requests || at < end_ns))
		heap_push(l, at, c);
	else
		start_request(l, c);
}

/* The request in flight on c ended: count it, then start the next one now
 * or put it on the timer heap. */
static void finish(struct loop *l, struct conn *c, enum http_result res,
		   const struct http_response *r)
{
	const struct loadgen_options *o = l->o;
	int64_t t1 = http_now_ns();
	flight_remove(l, c);
	account(l, c, res, r, t1);
	if (res != HTTP_DONE || r->close || !o->keepalive)
		conn_close(c);
	c->st = C_IDLE;
	int64_t next = o->rate > 0 ? intended_ns(o, c->w, c->j) : t1;
	if (res == HTTP_CONNECT && next < t1 + RETRY_NS)
		next = t1 + RETRY_NS;
	start_at(l, c, next, t1);
}

static void try_send(struct loop *l, struct conn *c)
{
	while (c->sent < c->req_len) {
		ssize_t n = send(c->fd, c->req + c->sent, c->req_len - c->sent, MSG_NOSIGNAL);
		if (n > 0) {
			c->sent += (size_t)n;
		} else if (n < 0 && errno == EINTR) {
			continue;
		} else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			return; /* EPOLLOUT will say when */
		} else {
			finish(l, c, HTTP_RESET, NULL); /* EPIPE, ECONNRESET: the server is gone */
			return;
		}
	}
	c->st = C_READING;
}

/* Reads all that has come (the fd is edge-triggered) and parses it. */
static void try_read(struct loop *l, struct conn *c)
{
	struct http_response r;
	for (;;) {
		ssize_t n = recv(c->fd, c->buf + c->len, HTTP_BUF - c->len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n < 0) {
			finish(l, c, HTTP_RESET, NULL);
			return;
		}
		c->len += (size_t)n;
		enum http_parse p = http_parse(c->buf, c->len, n == 0, &r);
		if (p == HTTP_PARSE_DONE) {
			finish(l, c, HTTP_DONE, &r);
			return;
		}
		if (p == HTTP_PARSE_BAD || n == 0) {
			finish(l, c, p == HTTP_PARSE_BAD ? HTTP_PROTOCOL : HTTP_RESET, NULL);
			return;
		}
	}
}

/* The connect is timed apart from the request, as wrk times requests:
 * at 1000 connections the first second's connect storm into the accept
 * queue would otherwise be the run's maximum. */
static void connected(struct loop *l, struct conn *c)
{
	int64_t now = http_now_ns();
	hist_record(&l->t.hist_connect, (uint64_t)(now - c->t0) / 1000);
	c->t0 = now;
	c->st = C_SENDING;
	try_send(l, c);
}

static void start_request(struct loop *l, struct conn *c)
{
	const struct loadgen_options *o = l->o;
	int64_t now = http_now_ns();
	c->intended = o->rate > 0 ? intended_ns(o, c->w, c->j) : now;
	/* seq numbers the run's requests, so it takes one even when the run
	 * is timed */
	uint64_t s = o->requests || o->users == USERS_SEQ ? atomic_fetch_add(&issued, 1) : 0;
	if ((o->requests ? s >= o->requests : c->intended >= end_ns) ||
	    atomic_load_explicit(&stop_early, memory_order_relaxed)) {
		conn_close(c);
		c->st = C_DONE;
		l->active--;
		return;
	}
	loadgen_request_user(o, c->w, c->j++, s, &c->rng, c->user, sizeof(c->user));
	c->cents = loadgen_request_cents(o, c->user);
	c->req_len = loadgen_request_build(o, c->user, c->cents, c->req, sizeof(c->req));
	if (c->req_len == 0) { /* a request that does not fit would only time out */
		fprintf(stderr, "racelab-loadgen: error: a request is over %zu bytes\n",
			sizeof(c->req));
		exit(2);
	}
	c->sent = c->len = 0;
	c->t0 = now; /* a connect first: reset once it is made */
	c->deadline = now + (int64_t)o->timeout_ms * 1000000;
	flight_add(l, c);
	if (c->fd >= 0) {
		c->st = C_SENDING;
		try_send(l, c);
		return;
	}
	bool pending;
	c->fd = http_connect((const struct sockaddr *)&o->addr, o->addr_len, &pending);
	/* Edge-triggered, registered once: no epoll_ctl per request. */
	struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
				  .data.ptr = c };
	if (c->fd < 0 || epoll_ctl(l->epfd, EPOLL_CTL_ADD, c->fd, &ev) != 0) {
		finish(l, c, HTTP_CONNECT, NULL);
		return;
	}
	c->st = C_CONNECTING;
	if (!pending)
		connected(l, c);
}

static void on_event(struct loop *l, struct conn *c, uint32_t ev)
{
	if (c->st == C_CONNECTING) {
		if (!http_connected(c->fd)) {
			finish(l, c, HTTP_CONNECT, NULL);
			return;
		}
		connected(l, c);
		return;
	}
	if (c->st == C_SENDING && (ev & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
		try_send(l, c);
	if (c->st == C_READING && (ev & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP)))
		try_read(l, c);
	else if (c->st == C_IDLE && c->fd >= 0 && (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP)))
		conn_close(c); /* closed (or spoke) while idle: connect afresh next time */
}

/* How long epoll may wait: until the oldest deadline or the next timer,
 * at most 1 s; -1 for no limit. */
static int64_t wait_ns(const struct loop *l, int64_t now)
{
	int64_t at = INT64_MAX;
	if (l->head)
		at = l->head->deadline;
	if (l->heap_n && l->heap[0].at < at)
		at = l->heap[0].at;
	if (at == INT64_MAX)
		return -1;
	if (at <= now)
		return 0;
	return at - now > 1000000000 ? 1000000000 : at - now;
}

/* epoll_pwait2 takes nanoseconds: a --rate start is not rounded up to the
 * next millisecond (which the corrected latency would count); epoll_wait
 * where the kernel lacks it. */
static int wait_events(struct loop *l, struct epoll_event *evs, int64_t ns)
{
	static _Atomic bool no_pwait2;
	if (!atomic_load_explicit(&no_pwait2, memory_order_relaxed)) {
		struct timespec ts = { ns / 1000000000, ns % 1000000000 };
		int n = epoll_pwait2(l->epfd, evs, EVENTS, ns < 0 ? NULL : &ts, NULL);
		if (n >= 0 || errno != ENOSYS)
			return n;
		atomic_store(&no_pwait2, true);
	}
	return epoll_wait(l->epfd, evs, EVENTS, ns < 0 ? -1 : (int)((ns + 999999) / 1000000));
}

static void *loop_run(void *arg)
{
	struct loop *l = arg;
	struct epoll_event evs[EVENTS];
	pthread_barrier_wait(&start_line);
	int64_t now = http_now_ns();
	for (int i = 0; i < l->n; i++) {
		struct conn *c = l->conns[i];
		start_at(l, c, l->o->rate > 0 ? intended_ns(l->o, c->w, 0) : now, now);
	}
	while (l->active > 0) {
		now = http_now_ns();
		while (l->head && l->head->deadline <= now)
			finish(l, l->head, HTTP_TIMEOUT, NULL);
		while (l->heap_n && l->heap[0].at <= now)
			start_request(l, heap_pop(l));
		if (l->active == 0)
			break;
		int n = wait_events(l, evs, wait_ns(l, http_now_ns()));
		for (int i = 0; i < n; i++)
			on_event(l, evs[i].data.ptr, evs[i].events);
	}
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

static bool merge(struct loadgen_totals *t, struct loop *l)
{
	const struct loadgen_totals *s = &l->t;
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
	hist_merge(&t->hist_corrected, &s->hist_corrected);
	hist_merge(&t->hist_connect, &s->hist_connect);
	return !l->oom && paymap_merge(&t->pay, &s->pay);
}

/* Loop k owns connections k, k+T, k+2T, ...: under --rate their starts
 * interleave, so each loop gets an even share of the schedule. */
static bool loop_init(struct loop *l, const struct loadgen_options *o, int k, int nthreads)
{
	l->o = o;
	l->t.first_error_ns = -1;
	l->n = l->active = (o->connections - k + nthreads - 1) / nthreads;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	l->conns = calloc((size_t)l->n, sizeof(*l->conns));
	l->heap = calloc((size_t)l->n, sizeof(*l->heap));
	if (l->epfd < 0 || !l->conns || !l->heap || !paymap_init(&l->t.pay))
		return false;
	if (o->payments && !(l->paid = open_memstream(&l->paid_buf, &l->paid_len)))
		return false;
	for (int i = 0; i < l->n; i++) {
		struct conn *c = malloc(sizeof(*c));
		if (!c)
			return false;
		c->fd = -1;
		c->w = k + i * nthreads;
		c->st = C_IDLE;
		c->j = 0;
		c->prev = c->next = NULL;
		c->rng = rng_seed_k(o->seed, (uint64_t)c->w);
		l->conns[i] = c;
	}
	return true;
}

static void loop_free(struct loop *l)
{
	for (int i = 0; l->conns && i < l->n; i++)
		free(l->conns[i]);
	free(l->conns);
	free(l->heap);
	if (l->epfd >= 0)
		close(l->epfd);
	paymap_free(&l->t.pay);
}

bool loadgen_run(const struct loadgen_options *o, struct loadgen_totals *t)
{
	int nt = o->threads < o->connections ? o->threads : o->connections;
	struct loop *ls = calloc((size_t)nt, sizeof(*ls));
	if (!ls || !paymap_init(&t->pay)) {
		fprintf(stderr, "racelab-loadgen: error: out of memory for %d threads\n", nt);
		free(ls);
		return false;
	}
	t->first_error_ns = -1;
	raise_fd_limit(o->connections + nt);
	bool ok = true;
	for (int k = 0; k < nt; k++) {
		ls[k].epfd = -1;
		if (!loop_init(&ls[k], o, k, nt))
			ok = false;
	}
	if (!ok) {
		fprintf(stderr, "racelab-loadgen: error: out of memory for %d connections\n",
			o->connections);
		exit(2);
	}
	pthread_barrier_init(&start_line, NULL, (unsigned)nt + 1);
	int started = 0;
	for (; started < nt; started++)
		if (pthread_create(&ls[started].tid, NULL, loop_run, &ls[started]) != 0)
			break;
	if (started < nt) {
		/* The started loops wait at the barrier for all: end here. */
		fprintf(stderr, "racelab-loadgen: error: could only start %d of %d threads\n",
			started, nt);
		exit(2);
	}
	start_ns = http_now_ns();
	end_ns = start_ns + o->duration_ms * 1000000;
	pthread_barrier_wait(&start_line);
	for (int k = 0; k < nt; k++)
		pthread_join(ls[k].tid, NULL);
	t->elapsed_ns = http_now_ns() - start_ns;
	for (int k = 0; k < nt; k++) {
		if (!merge(t, &ls[k]))
			ok = false;
		if (ls[k].paid) {
			/* fclose sets paid_buf and paid_len */
			if (fclose(ls[k].paid) != 0 || fwrite(ls[k].paid_buf, 1, ls[k].paid_len,
							      o->payments) != ls[k].paid_len)
				ok = false;
			free(ls[k].paid_buf);
		}
		loop_free(&ls[k]);
	}
	free(ls);
	if (!ok)
		fprintf(stderr, "racelab-loadgen: error: out of memory recording payments\n");
	return ok;
}
