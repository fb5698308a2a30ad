/*
 * service.h: racelab-service, the war story's payment processor over HTTP.
 *
 * The parts: main.c reads the options and runs the daemon until a signal;
 * http.c answers each request; request.c parses a payment's body;
 * metrics.c counts; keys.c finds a request's merchant by its API key;
 * payments.c is the idempotent flow over the lab modules: the cache (lab
 * 1: fixed/ or broken/cache.c, by variant), the ledger's running total
 * (lab 2's fixed/ledger.c) and the simulated gateway (common/gateway.c);
 * store.c is the ledger (SQLite, or PostgreSQL shared by several
 * processes), the truth across restarts.
 */
#ifndef RACELAB_SERVICE_H
#define RACELAB_SERVICE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "keys.h"
#include "metrics.h"

struct service_config {
	unsigned port;		  /* 0: any free port */
	unsigned threads;	  /* 0: one thread per connection; N: a pool of N */
	long latency_min_ms;	  /* the gateway's latency range */
	long latency_max_ms;	  /* ... */
	long gateway_timeout_ms;  /* 0: none */
	uint32_t failure_ppm;	  /* gateway failures per million calls */
	uint64_t seed;		  /* the gateway's draws */
	int64_t max_cents;	  /* the largest amount accepted */
	unsigned max_connections; /* open at once */
	unsigned cache_buckets;	  /* the cache's initial table; it doubles as it fills */
	const char *keys_path;	  /* the merchants' API keys */
	const char *ledger;	  /* memory, sqlite:FILE or postgres:CONNINFO */
	bool ledger_full_sync;	  /* synchronous=FULL, else NORMAL */
	long idempotency_ttl_s;	  /* a key is released this long after its payment */
	unsigned max_per_client;  /* open at once from one address, 0: no limit */
	long header_timeout_ms;	  /* a request's headers must be in by then */
	long body_timeout_ms;	  /* its body, from the headers */
	long drain_ms;		  /* at shutdown, how long requests in flight have */
};

struct service {
	struct service_config cfg;
	struct cache *cache;
	struct gateway *gateway;
	struct keys keys;
	struct store *store;
	struct payments *payments;
	struct ledger *ledger;
	struct metrics metrics;
	atomic_int in_flight; /* requests between their first byte and their response */
	atomic_bool stopping; /* set at shutdown: answer with Connection: close */
	atomic_bool aborting; /* the drain's deadline passed: gateway calls aborted */
	struct guard *guard;  /* caps, deadlines (guard.c) */
	struct MHD_Daemon *daemon;
};

/* Creates the modules (s->keys already loaded) and starts listening. Returns 0, or -1 with a
 * one-line reason in err. */
int service_start(struct service *s, char *err, size_t errlen);
/* The port actually bound (the one asked for, or the one picked for 0). */
unsigned service_port(struct service *s);
/* Stops accepting, waits for requests in flight (at most wait_ms), aborts
 * the gateway calls still waiting (nothing charged, answered 503), then
 * closes every connection. Returns the requests still in flight when the
 * wait ran out (0 normally). */
long service_stop(struct service *s, long wait_ms);
/* Frees the modules, after service_stop(). */
void service_free(struct service *s);

#endif
