/*
 * http.c: the request handler, on libmicrohttpd.
 *
 * Threading: one thread per connection (MHD_USE_THREAD_PER_CONNECTION).
 * The story's handler blocks for the gateway's 100 to 300 ms in the middle
 * of a request, and Go gives each request its own goroutine; a thread per
 * connection is the C equivalent: a connection waiting on the gateway
 * holds only its own thread, so 1000 connections are 1000 requests in
 * flight at once, all of them in the cache together, which is the load the
 * race needs. A pool of N polling threads (--threads N) is also offered:
 * there a request that sleeps blocks every connection its thread polls, so
 * at most N requests are ever in flight (useful to see why the story's
 * numbers need one thread per request, and nothing else). Suspending
 * connections and resuming them from a timer would avoid the threads, but
 * it would no longer be the story's code shape: the cache would be touched
 * from a handful of threads, not from every request's.
 *
 * A request's state (its body so far) lives from the handler's first call
 * to MHD's completion callback, which is also where in_flight drops, so
 * that shutdown can wait for exactly the requests that have started.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "cache.h"
#include "gateway.h"
#include "guard.h"
#include "ledger.h"
#include "money.h"
#include "payments.h"
#include "request.h"
#include "service.h"
#include "store.h"

enum route { ROUTE_NONE, ROUTE_PAY, ROUTE_PAYMENT, ROUTE_HEALTH, ROUTE_METRICS };

struct req {
	struct timespec start;
	enum route route;
	uint64_t payment_id; /* ROUTE_PAYMENT's */
	bool answered;	     /* a response is queued */
	size_t len;
	char body[REQUEST_BODY_MAX];
};

static long since_us(const struct timespec *t0)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000000L + (t.tv_nsec - t0->tv_nsec) / 1000;
}

/* Writes s (at most max bytes, stopping at a NUL) as a quoted JSON
 * string. Control bytes are escaped: a torn response from the broken
 * cache may hold anything, and must still be one line of JSON. */
static void json_string(FILE *f, const char *s, size_t max)
{
	fputc('"', f);
	for (size_t i = 0; i < max && s[i]; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static enum MHD_Result send_body(struct service *s, struct MHD_Connection *conn, struct req *r,
				 unsigned status, const char *type, char *body, size_t len,
				 const char *allow)
{
	struct MHD_Response *resp =
		MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_COPY);
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	if (allow)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
	if (status == 503)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, "1");
	if (atomic_load(&s->stopping))
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
	enum MHD_Result ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	r->answered = true;
	metrics_response(&s->metrics, status, since_us(&r->start));
	return ret;
}

/* Sends a JSON body built with fprintf into a memstream. */
static enum MHD_Result send_json(struct service *s, struct MHD_Connection *conn, struct req *r,
				 unsigned status, char **buf, FILE *f, size_t *len,
				 const char *allow)
{
	/* fclose sets *buf and *len: read neither before it */
	if (fclose(f) != 0) {
		free(*buf);
		return MHD_NO;
	}
	enum MHD_Result ret = send_body(s, conn, r, status, "application/json", *buf, *len, allow);
	free(*buf);
	return ret;
}

static enum MHD_Result send_error(struct service *s, struct MHD_Connection *conn, struct req *r,
				  unsigned status, const char *message, const char *allow)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (!f)
		return MHD_NO;
	fputs("{\"status\":\"error\",\"message\":", f);
	json_string(f, message, strlen(message));
	fputs("}\n", f);
	return send_json(s, conn, r, status, &buf, f, &len, allow);
}

static enum MHD_Result send_payment(struct service *s, struct MHD_Connection *conn, struct req *r,
				    const struct cache_response *out, bool cached)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (!f)
		return MHD_NO;
	char amount[32];
	money_format(out->amount_cents, amount, sizeof(amount));
	fputs("{\"status\":", f);
	json_string(f, out->status, sizeof(out->status));
	fprintf(f, ",\"message\":\"payment processed\",\"amount\":%s,\"user_id\":", amount);
	json_string(f, out->user_id, sizeof(out->user_id));
	fprintf(f, ",\"payment_id\":%llu,\"cached\":%s}\n", (unsigned long long)out->request_id,
		cached ? "true" : "false");
	return send_json(s, conn, r, 200, &buf, f, &len, NULL);
}

/* 401, with the scheme the client must use. */
static enum MHD_Result send_unauthorized(struct service *s, struct MHD_Connection *conn,
					 struct req *r)
{
	char body[] = "{\"status\":\"error\",\"message\":\"missing or invalid API key "
		      "(Authorization: Bearer KEY)\"}\n";
	struct MHD_Response *resp =
		MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_COPY);
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
	if (atomic_load(&s->stopping))
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
	enum MHD_Result ret = MHD_queue_response(conn, 401, resp);
	MHD_destroy_response(resp);
	r->answered = true;
	metrics_response(&s->metrics, 401, since_us(&r->start));
	return ret;
}

/* The Idempotency-Key header: NULL when absent; *bad when present but not
 * 1 to 255 printable ASCII bytes. */
static const char *idempotency_key(struct MHD_Connection *conn, bool *bad)
{
	const char *k = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Idempotency-Key");
	*bad = false;
	if (!k)
		return NULL;
	size_t n = strlen(k);
	*bad = n == 0 || n >= STORE_IDEMPOTENCY_KEY_MAX;
	for (size_t i = 0; i < n && !*bad; i++)
		*bad = k[i] < 0x20 || k[i] >= 0x7f;
	return k;
}

/* POST /process-payment, its whole body read. */
static enum MHD_Result process_payment(struct service *s, struct MHD_Connection *conn,
				       struct req *r, const struct merchant *m)
{
	bool bad_key;
	const char *key = idempotency_key(conn, &bad_key);
	if (bad_key)
		return send_error(s, conn, r, 400,
				  "Idempotency-Key is not 1 to 255 printable bytes", NULL);
	struct payment_request pr;
	char err[REQUEST_ERR_MAX];
	if (request_parse(r->body, r->len, s->cfg.max_cents, &pr, err) != 0)
		return send_error(s, conn, r, 400, err, NULL);
	struct cache_response out;
	switch (payments_process(s->payments, m, key, pr.user_id, pr.cents, &out)) {
	case PAYMENTS_CHARGED:
		metrics_outcome(&s->metrics, METRICS_CHARGED);
		return send_payment(s, conn, r, &out, false);
	case PAYMENTS_CACHED:
		metrics_outcome(&s->metrics, METRICS_CACHED);
		return send_payment(s, conn, r, &out, true);
	case PAYMENTS_CONFLICT:
		return send_error(s, conn, r, 422,
				  "Idempotency-Key already used with a different request", NULL);
	case PAYMENTS_ERROR:
		metrics_outcome(&s->metrics, METRICS_FAILED);
		return send_error(s, conn, r, 503, "the ledger cannot be written", NULL);
	case PAYMENTS_BUSY:
		return send_error(s, conn, r, 409,
				  "a request with this Idempotency-Key is still being processed: "
				  "retry",
				  NULL);
	case PAYMENTS_FAILED: break;
	}
	metrics_outcome(&s->metrics, METRICS_FAILED);
	if (atomic_load(&s->aborting))
		return send_error(s, conn, r, 503,
				  "cut off at the shutdown deadline: nothing was charged", NULL);
	return send_error(s, conn, r, 500, "payment processing failed", NULL);
}

/* GET /payments/ID: the merchant's own payment; another merchant's is
 * "no such payment", the same answer as one that does not exist. */
static enum MHD_Result get_payment(struct service *s, struct MHD_Connection *conn, struct req *r,
				   const struct merchant *m)
{
	struct store_payment sp;
	int rc = r->payment_id ? store_get(s->store, r->payment_id, m->id, &sp) : 0;
	if (rc < 0)
		return send_error(s, conn, r, 503, "the ledger cannot be read", NULL);
	if (rc == 0)
		return send_error(s, conn, r, 404, "no such payment", NULL);
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (!f)
		return MHD_NO;
	char amount[32];
	money_format(sp.cents, amount, sizeof(amount));
	fprintf(f, "{\"status\":\"success\",\"payment_id\":%llu,\"amount\":%s,\"user_id\":",
		(unsigned long long)sp.id, amount);
	json_string(f, sp.user_id, sizeof(sp.user_id));
	fprintf(f, ",\"created\":%lld}\n", (long long)sp.created);
	return send_json(s, conn, r, 200, &buf, f, &len, NULL);
}

/* ID of /payments/ID: 1 to 2^63 - 1 in decimal, no sign or leading zero;
 * 0 for anything else (no payment has id 0). */
static uint64_t payment_id_of(const char *url)
{
	const char *p = url + strlen("/payments/");
	if (*p < '1' || *p > '9' || strlen(p) > 19)
		return 0;
	uint64_t id = 0;
	for (; *p; p++) {
		if (*p < '0' || *p > '9')
			return 0;
		id = id * 10 + (uint64_t)(*p - '0');
	}
	return id <= INT64_MAX ? id : 0;
}

static enum MHD_Result send_metrics(struct service *s, struct MHD_Connection *conn, struct req *r)
{
	size_t len = 0;
	char *text = metrics_render(&s->metrics, s->gateway, ledger_total(s->ledger, 0), &len);
	if (!text)
		return MHD_NO;
	/* The store's count spans every start; the gateway's, this one. */
	char extra[256];
	int n = snprintf(extra, sizeof(extra),
			 "# HELP racelab_ledger_payments_total Payments in the ledger (every "
			 "start's).\n# TYPE racelab_ledger_payments_total counter\n"
			 "racelab_ledger_payments_total %ld\n",
			 payments_charged(s->payments));
	char *more = realloc(text, len + (size_t)n + 1);
	if (!more) {
		free(text);
		return MHD_NO;
	}
	text = more;
	memcpy(text + len, extra, (size_t)n + 1);
	len += (size_t)n;
	enum MHD_Result ret = send_body(s, conn, r, 200, "text/plain; version=0.0.4; charset=utf-8",
					text, len, NULL);
	free(text);
	return ret;
}

/* The whole request is in: route it. */
static enum MHD_Result respond(struct service *s, struct MHD_Connection *conn, struct req *r,
			       const char *method)
{
	bool get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
	const struct merchant *m;
	switch (r->route) {
	case ROUTE_NONE: return send_error(s, conn, r, 404, "no such path", NULL);
	case ROUTE_HEALTH:
		if (!get)
			return send_error(s, conn, r, 405, "method not allowed", "GET, HEAD");
		{
			char ok[] = "{\"status\":\"ok\"}\n";
			return send_body(s, conn, r, 200, "application/json", ok, strlen(ok), NULL);
		}
	case ROUTE_METRICS:
		if (!get)
			return send_error(s, conn, r, 405, "method not allowed", "GET, HEAD");
		return send_metrics(s, conn, r);
	case ROUTE_PAY:
		if (strcmp(method, "POST") != 0)
			return send_error(s, conn, r, 405, "method not allowed", "POST");
		if (!(m = keys_find(&s->keys,
				    MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
								MHD_HTTP_HEADER_AUTHORIZATION))))
			return send_unauthorized(s, conn, r);
		return process_payment(s, conn, r, m);
	case ROUTE_PAYMENT:
		if (!get)
			return send_error(s, conn, r, 405, "method not allowed", "GET, HEAD");
		if (!(m = keys_find(&s->keys,
				    MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
								MHD_HTTP_HEADER_AUTHORIZATION))))
			return send_unauthorized(s, conn, r);
		return get_payment(s, conn, r, m);
	}
	return MHD_NO;
}

/* A Content-Length over the limit: known before a byte of the body. */
static bool declared_too_large(struct MHD_Connection *conn)
{
	const char *cl =
		MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (!cl)
		return false;
	char *end;
	unsigned long long n = strtoull(cl, &end, 10);
	return end != cl && n > REQUEST_BODY_MAX;
}

/* What the request's headers say about its framing. */
struct framing {
	unsigned content_length, transfer_encoding, host;
	bool chunked; /* Transfer-Encoding is exactly "chunked" */
};

static enum MHD_Result count_header(void *cls, enum MHD_ValueKind kind, const char *key,
				    const char *value)
{
	(void)kind;
	struct framing *fr = cls;
	if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0) {
		fr->content_length++;
	} else if (strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0) {
		fr->transfer_encoding++;
		fr->chunked = value && strcasecmp(value, "chunked") == 0;
	} else if (strcasecmp(key, MHD_HTTP_HEADER_HOST) == 0) {
		fr->host++;
	}
	return MHD_YES;
}

/*
 * What makes a request unsafe to read at all, or NULL. libmicrohttpd
 * 0.9.75 takes the first of two Content-Length headers and leaves the
 * rest of the body to be parsed as the next request (smuggling); takes a
 * Transfer-Encoding that is not chunked as "read until the connection
 * closes"; accepts HTTP/1.1 without Host; and decodes %00 in the path to
 * a NUL that ends the string we route on (as a raw NUL byte does). An
 * answer queued here, before the body, makes MHD close the connection
 * after it: the rest is never parsed.
 */
static const char *bad_framing(struct MHD_Connection *conn, const char *version)
{
	struct framing fr = { 0 };
	MHD_get_connection_values(conn, MHD_HEADER_KIND, count_header, &fr);
	if (fr.content_length > 1)
		return "more than one Content-Length header";
	if (fr.transfer_encoding && fr.content_length)
		return "both Transfer-Encoding and Content-Length";
	if (fr.transfer_encoding > 1 || (fr.transfer_encoding && !fr.chunked))
		return "a Transfer-Encoding other than chunked";
	if (fr.host > 1)
		return "more than one Host header";
	if (fr.host == 0 && strcmp(version, MHD_HTTP_VERSION_1_1) == 0)
		return "an HTTP/1.1 request without a Host header";
	if (guard_nul_in_path(conn))
		return "a NUL byte (raw or %00) in the request target";
	return NULL;
}

/* Content-Type is application/json, with or without parameters. */
static bool is_json(struct MHD_Connection *conn)
{
	const char *ct =
		MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
	static const char want[] = "application/json";
	if (!ct || strncasecmp(ct, want, sizeof(want) - 1) != 0)
		return false;
	char next = ct[sizeof(want) - 1];
	return next == '\0' || next == ';' || next == ' ' || next == '\t';
}

/* The headers are in: the checks that come before any body is read. */
static enum MHD_Result first_call(struct service *s, struct MHD_Connection *conn, struct req *r,
				  const char *method, const char *version)
{
	const char *bad = bad_framing(conn, version);
	if (bad)
		return send_error(s, conn, r, 400, bad, NULL);
	if (atomic_load(&s->stopping))
		return send_error(s, conn, r, 503, "shutting down", NULL);
	if (r->route == ROUTE_PAY && strcmp(method, "POST") == 0) {
		/* Refused before the body is read: MHD then sends no
		 * "100 Continue", reads nothing more and closes. */
		if (declared_too_large(conn))
			return send_error(s, conn, r, 413, "body is larger than 4096 bytes", NULL);
		if (!is_json(conn))
			return send_error(s, conn, r, 415, "Content-Type must be application/json",
					  NULL);
	}
	guard_phase(s->guard, conn, GUARD_BODY);
	return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **ctx)
{
	struct service *s = cls;
	struct req *r = *ctx;
	if (!r) {
		if (guard_refused(conn))
			return MHD_NO; /* answered 503 at accept */
		/* The headers are in; the body (if any) comes in later calls. */
		r = malloc(sizeof(*r));
		if (!r)
			return MHD_NO;
		clock_gettime(CLOCK_MONOTONIC, &r->start);
		r->answered = false;
		r->len = 0;
		r->route = strcmp(url, "/process-payment") == 0			   ? ROUTE_PAY
			   : strncmp(url, "/payments/", strlen("/payments/")) == 0 ? ROUTE_PAYMENT
			   : strcmp(url, "/healthz") == 0			   ? ROUTE_HEALTH
			   : strcmp(url, "/metrics") == 0			   ? ROUTE_METRICS
										   : ROUTE_NONE;
		r->payment_id = r->route == ROUTE_PAYMENT ? payment_id_of(url) : 0;
		*ctx = r;
		atomic_fetch_add(&s->in_flight, 1);
		return first_call(s, conn, r, method, version);
	}
	if (r->answered) {
		*upload_size = 0; /* a body after an early answer: dropped */
		return MHD_YES;
	}
	if (*upload_size) {
		if (r->len + *upload_size > REQUEST_BODY_MAX) {
			/* A chunked body has no length up front: it is cut off
			 * here, at the limit. MHD 0.9.75 queues no response
			 * mid-body, so the 413 goes straight to the socket, and
			 * MHD_NO makes MHD close the connection. */
			r->answered = true;
			guard_answer_raw(s->guard, conn, 413, "body is larger than 4096 bytes");
			return MHD_NO;
		}
		memcpy(r->body + r->len, upload, *upload_size);
		r->len += *upload_size;
		*upload_size = 0;
		return MHD_YES;
	}
	guard_phase(s->guard, conn, GUARD_BUSY);
	return respond(s, conn, r, method);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **ctx,
			 enum MHD_RequestTerminationCode toe)
{
	(void)toe;
	struct service *s = cls;
	/* the next request's headers are due from now (keep-alive) */
	guard_phase(s->guard, conn, GUARD_HEADERS);
	if (*ctx) {
		free(*ctx);
		*ctx = NULL;
		atomic_fetch_sub(&s->in_flight, 1);
	}
}

/* MHD's daemon on 127.0.0.1, with the guard's callbacks and limits. */
static struct MHD_Daemon *start_daemon(struct service *s)
{
	struct sockaddr_in addr;
	memset(&addr, 0, sizeof(addr));
	addr.sin_family = AF_INET;
	addr.sin_port = htons((uint16_t)s->cfg.port);
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	/* poll(), not select(): select() stops at descriptor 1024, and the
	 * story's load is 1000 connections. ITC: MHD_quiesce_daemon needs it.
	 * ERROR_LOG: MHD's messages (a bind, a thread it could not start, a
	 * client that sent garbage) reach guard_log(), which says each kind at
	 * most once a second and counts the errors MHD answers itself. */
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ITC | MHD_USE_ERROR_LOG;
	flags |= s->cfg.threads ? MHD_USE_EPOLL : MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL;
	/* MHD's limits sit GUARD_OVERFLOW above the guard's, so that the
	 * guard sees the connections past its cap and answers them 503;
	 * past MHD's, MHD closes them unanswered. MHD's idle timeout (whole
	 * seconds) backs the guard's deadlines, and covers a client that
	 * reads its response too slowly. */
	unsigned per_ip = s->cfg.max_per_client ? s->cfg.max_per_client + GUARD_OVERFLOW : 0;
	long longest = s->cfg.header_timeout_ms > s->cfg.body_timeout_ms ? s->cfg.header_timeout_ms
									 : s->cfg.body_timeout_ms;
	unsigned idle_s = longest > 0 ? (unsigned)((longest + 999) / 1000) : 0;
	/* 512 KiB stacks: a request needs a few KiB (its body is on the heap,
	 * and request.c caps JSON nesting, so jansson's recursion is short);
	 * 1000 threads at the default 8 MiB would reserve 8 GiB of address
	 * space for nothing. */
	struct MHD_OptionItem opts[] = {
		{ MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)guard_log, s->guard },
		{ MHD_OPTION_SOCK_ADDR, 0, &addr },
		{ MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, s },
		{ MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)guard_notify, s->guard },
		{ MHD_OPTION_URI_LOG_CALLBACK, (intptr_t)guard_uri, s->guard },
		{ MHD_OPTION_CONNECTION_LIMIT, (intptr_t)(s->cfg.max_connections + GUARD_OVERFLOW),
		  NULL },
		{ MHD_OPTION_PER_IP_CONNECTION_LIMIT, (intptr_t)per_ip, NULL },
		{ MHD_OPTION_CONNECTION_TIMEOUT, (intptr_t)idle_s, NULL },
		{ MHD_OPTION_LISTEN_BACKLOG_SIZE, 4096, NULL },
		{ MHD_OPTION_THREAD_STACK_SIZE, 512 * 1024, NULL },
		/* last, so that thread-per-connection can leave it out */
		{ s->cfg.threads ? MHD_OPTION_THREAD_POOL_SIZE : MHD_OPTION_END,
		  (intptr_t)s->cfg.threads, NULL },
		{ MHD_OPTION_END, 0, NULL },
	};
	return MHD_start_daemon(flags, 0, NULL, NULL, on_request, s, MHD_OPTION_ARRAY, opts,
				MHD_OPTION_END);
}

int service_start(struct service *s, char *err, size_t errlen)
{
	metrics_init(&s->metrics);
	atomic_init(&s->in_flight, 0);
	atomic_init(&s->stopping, false);
	atomic_init(&s->aborting, false);
	long voided = 0;
	s->store = store_open(s->cfg.ledger, s->cfg.ledger_full_sync, &voided, err, errlen);
	if (!s->store)
		return -1;
	if (voided)
		fprintf(stderr,
			"racelab-service: voided %ld payments left pending by a crash (never "
			"answered; the simulated gateway's books died with that process)\n",
			voided);
	s->cache = cache_create(s->cfg.cache_buckets);
	s->gateway = gateway_create(4096, 0);
	s->ledger = ledger_create(1);
	s->payments = s->cache && s->gateway && s->ledger
			      ? payments_create(s->cache, s->gateway, s->ledger, s->store, &s->keys,
						s->cfg.idempotency_ttl_s)
			      : NULL;
	struct guard_limits limits = {
		.cap = s->cfg.max_connections,
		.per_client = s->cfg.max_per_client,
		.header_ms = s->cfg.header_timeout_ms,
		.body_ms = s->cfg.body_timeout_ms,
	};
	s->guard = guard_create(&limits, &s->metrics);
	if (!s->payments || !s->guard) {
		snprintf(err, errlen, "out of memory, or the ledger cannot be read");
		return -1;
	}
	struct gateway_faults faults = {
		.min_latency_us = s->cfg.latency_min_ms * 1000,
		.max_latency_us = s->cfg.latency_max_ms * 1000,
		.timeout_us = s->cfg.gateway_timeout_ms * 1000,
		.failure_ppm = s->cfg.failure_ppm,
		.seed = s->cfg.seed,
	};
	gateway_set_faults(s->gateway, &faults);
	s->daemon = start_daemon(s);
	if (!s->daemon) {
		snprintf(err, errlen, "cannot listen on 127.0.0.1:%u (in use, or no permission)",
			 s->cfg.port);
		return -1;
	}
	return 0;
}

unsigned service_port(struct service *s)
{
	const union MHD_DaemonInfo *info =
		MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
	return info ? info->port : s->cfg.port;
}

/* Waits up to ms for the requests in flight to finish; returns how many
 * are left. */
static long wait_in_flight(struct service *s, long ms)
{
	for (long waited = 0; atomic_load(&s->in_flight) > 0 && waited < ms; waited += 10)
		nanosleep(&(struct timespec){ 0, 10000000 }, NULL);
	return atomic_load(&s->in_flight);
}

/*
 * The drain. New connections wait in the backlog, unaccepted; a new
 * request on an open connection is answered 503; the requests in flight
 * have until the deadline. Then every gateway call still waiting is
 * aborted before it books anything, and its request is answered 503:
 * a charge is either booked and answered, or neither. A second later the
 * daemon stops and closes what is left: requests whose body never came,
 * which had not reached the gateway.
 */
long service_stop(struct service *s, long wait_ms)
{
	atomic_store(&s->stopping, true);
	MHD_socket lsock = MHD_quiesce_daemon(s->daemon);
	long cut = wait_in_flight(s, wait_ms);
	if (cut) {
		atomic_store(&s->aborting, true);
		gateway_abort(s->gateway);
		wait_in_flight(s, 1000);
	}
	MHD_stop_daemon(s->daemon);
	if (lsock != MHD_INVALID_SOCKET)
		close(lsock);
	return cut;
}

void service_free(struct service *s)
{
	guard_destroy(s->guard);
	payments_destroy(s->payments);
	store_close(s->store);
	keys_free(&s->keys);
	cache_destroy(s->cache);
	gateway_destroy(s->gateway);
	ledger_destroy(s->ledger);
}
