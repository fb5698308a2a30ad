/*
 * service.h: racelab-service, the war story's payment processor over HTTP.
 *
 * The parts: main.c reads the options and runs the daemon until a signal;
 * http.c answers each request; request.c parses a payment's body;
 * metrics.c counts. The payment itself is the lab modules': the cache
 * (lab 1: fixed/ or broken/cache.c, by variant), the flow that charges a
 * user at most once (lab 3's fixed/payflow.c), the ledger (lab 2's
 * fixed/ledger.c) and the simulated gateway (common/gateway.c).
 */
#ifndef RACELAB_SERVICE_H
#define RACELAB_SERVICE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

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
};

struct service {
	struct service_config cfg;
	struct cache *cache;
	struct gateway *gateway;
	struct payflow *flow;
	struct ledger *ledger;
	struct metrics metrics;
	atomic_int in_flight; /* requests between their first byte and their response */
	atomic_bool stopping; /* set at shutdown: answer with Connection: close */
	struct MHD_Daemon *daemon;
};

/* Creates the modules and starts listening. Returns 0, or -1 with a
 * one-line reason in err. */
int service_start(struct service *s, char *err, size_t errlen);
/* The port actually bound (the one asked for, or the one picked for 0). */
unsigned service_port(struct service *s);
/* Stops accepting, waits for requests in flight (at most wait_ms), then
 * closes every connection. Returns the requests still in flight when the
 * wait ran out (0 normally). */
long service_stop(struct service *s, long wait_ms);
/* Frees the modules, after service_stop(). */
void service_free(struct service *s);

#endif
