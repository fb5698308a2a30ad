/*
 * main.c: racelab-service's options, startup and graceful shutdown.
 *
 * Signals: SIGINT and SIGTERM are blocked before the daemon starts, so
 * every thread it creates inherits the mask and only the main thread,
 * waiting in sigwait(), ever receives them. A handler would have to do its
 * shutdown in async-signal-safe steps; sigwait() turns the signal into an
 * ordinary return and the shutdown into ordinary code.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/resource.h>

#include "gateway.h"
#include "guard.h"
#include "ledger.h"
#include "money.h"
#include "service.h"
#include "store.h"

#define PROG "racelab-service"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: " PROG " [options]\n"
		"The war story's payment processor over HTTP (see service/PROTOCOL.md).\n"
		"Each option can also come from the environment variable in brackets.\n"
		"  --port N                 TCP port on 127.0.0.1, 0: any free one (8080)\n"
		"                           [RACELAB_SERVICE_PORT]\n"
		"  --threads N              0: a thread per connection; N: a pool of N (0)\n"
		"                           [RACELAB_SERVICE_THREADS]\n"
		"  --gateway-latency-ms MIN-MAX  the gateway's latency range (100-300)\n"
		"                           [RACELAB_SERVICE_GATEWAY_LATENCY_MS]\n"
		"  --gateway-failure-rate R fraction of charges that fail (0.005)\n"
		"                           [RACELAB_SERVICE_GATEWAY_FAILURE_RATE]\n"
		"  --gateway-timeout-ms N   abandon a charge after N ms, 0: never (2000)\n"
		"                           [RACELAB_SERVICE_GATEWAY_TIMEOUT_MS]\n"
		"  --seed N                 seeds the gateway's draws (1) [RACELAB_SERVICE_SEED]\n"
		"  --max-amount A           the largest amount accepted (10000.00)\n"
		"                           [RACELAB_SERVICE_MAX_AMOUNT]\n"
		"  --max-connections N      connections open at once (4096)\n"
		"                           [RACELAB_SERVICE_MAX_CONNECTIONS]\n"
		"  --cache-buckets N        the cache's initial table, doubled as it fills (64)\n"
		"                           [RACELAB_SERVICE_CACHE_BUCKETS]\n"
		"  --keys FILE              the merchants' API keys, MERCHANT KEY lines "
		"(required)\n"
		"                           [RACELAB_SERVICE_KEYS]\n"
		"  --ledger L               sqlite:FILE (WAL mode; created when missing),\n"
		"                           postgres:CONNINFO (a libpq connection string: one\n"
		"                           ledger for several service processes), or\n"
		"                           memory: nothing durable (sqlite:racelab-ledger.db)\n"
		"                           [RACELAB_SERVICE_LEDGER]\n"
		"  --ledger-sync S          full: a commit survives a power cut; normal: a crash\n"
		"                           of the service only (full) "
		"[RACELAB_SERVICE_LEDGER_SYNC]\n"
		"  --idempotency-ttl S      seconds an Idempotency-Key is kept (86400)\n"
		"                           [RACELAB_SERVICE_IDEMPOTENCY_TTL]\n"
		"  --max-connections-per-client N  connections open at once from one\n"
		"                           address, 0: no limit (2048; at most the cap)\n"
		"                           [RACELAB_SERVICE_MAX_CONNECTIONS_PER_CLIENT]\n"
		"  --header-timeout-ms N    a request's headers must all arrive within N ms of\n"
		"                           the connection (or the last response), 0: never "
		"(10000)\n"
		"                           [RACELAB_SERVICE_HEADER_TIMEOUT_MS]\n"
		"  --body-timeout-ms N      its body within N ms of its headers, 0: never (10000)\n"
		"                           [RACELAB_SERVICE_BODY_TIMEOUT_MS]\n"
		"  --drain-ms N             at SIGINT or SIGTERM, how long the requests in\n"
		"                           flight have to finish (5000) "
		"[RACELAB_SERVICE_DRAIN_MS]\n"
		"Past the cap (or the limit per client) a connection is answered 503 with\n"
		"Retry-After; the cap is lowered to fit the descriptor limit (ulimit -n).\n"
		"Prints '" PROG ": listening on http://127.0.0.1:PORT' once listening;\n"
		"SIGINT or SIGTERM: stop accepting, finish the requests in flight, exit 0;\n"
		"at the drain deadline a payment still at the gateway is aborted, answered\n"
		"503 and not charged.\n");
}

static void die_usage(const char *name, const char *value, const char *want)
{
	fprintf(stderr, PROG ": bad %s '%s': want %s (try --help)\n", name, value, want);
	exit(2);
}

static unsigned long long parse_uint(const char *name, const char *v, unsigned long long max)
{
	char *end;
	errno = 0;
	if (!*v || *v == '-' || *v == '+')
		die_usage(name, v, "a non-negative integer");
	unsigned long long n = strtoull(v, &end, 10);
	if (errno || *end || n > max) {
		char want[64];
		snprintf(want, sizeof(want), "an integer from 0 to %llu", max);
		die_usage(name, v, want);
	}
	return n;
}

/* Applies one option's value (from a flag or the environment). */
static void set_option(struct service_config *c, const char *name, const char *v)
{
	if (strcmp(name, "port") == 0) {
		c->port = (unsigned)parse_uint("--port", v, 65535);
	} else if (strcmp(name, "threads") == 0) {
		c->threads = (unsigned)parse_uint("--threads", v, 1024);
	} else if (strcmp(name, "gateway-latency-ms") == 0) {
		/* "MIN-MAX", or one number for both */
		char lo[32], *dash = strchr(v, '-');
		if (strlen(v) >= sizeof(lo))
			die_usage("--gateway-latency-ms", v, "MIN-MAX in ms, e.g. 100-300");
		snprintf(lo, sizeof(lo), "%.*s", dash ? (int)(dash - v) : (int)strlen(v), v);
		c->latency_min_ms = (long)parse_uint("--gateway-latency-ms", lo, 60000);
		c->latency_max_ms = dash ? (long)parse_uint("--gateway-latency-ms", dash + 1, 60000)
					 : c->latency_min_ms;
		if (c->latency_max_ms < c->latency_min_ms)
			die_usage("--gateway-latency-ms", v, "MIN-MAX with MIN <= MAX");
	} else if (strcmp(name, "gateway-failure-rate") == 0) {
		/* A probability, not money: a double is fine here. */
		char *end;
		errno = 0;
		double r = strtod(v, &end);
		if (!*v || errno || *end || !(r >= 0 && r <= 1))
			die_usage("--gateway-failure-rate", v, "a fraction from 0 to 1");
		c->failure_ppm = (uint32_t)(r * 1e6 + 0.5);
	} else if (strcmp(name, "gateway-timeout-ms") == 0) {
		c->gateway_timeout_ms = (long)parse_uint("--gateway-timeout-ms", v, 600000);
	} else if (strcmp(name, "seed") == 0) {
		c->seed = parse_uint("--seed", v, ULLONG_MAX);
	} else if (strcmp(name, "max-amount") == 0) {
		enum money_err e = money_parse(v, strlen(v), MONEY_LIMIT_CENTS, &c->max_cents);
		if (e != MONEY_OK)
			die_usage("--max-amount", v, "an amount above 0 with at most two decimals");
	} else if (strcmp(name, "max-connections") == 0) {
		c->max_connections = (unsigned)parse_uint("--max-connections", v, 65536);
		if (c->max_connections == 0)
			die_usage("--max-connections", v, "at least 1");
	} else if (strcmp(name, "max-connections-per-client") == 0) {
		c->max_per_client = (unsigned)parse_uint("--max-connections-per-client", v, 65536);
	} else if (strcmp(name, "header-timeout-ms") == 0) {
		c->header_timeout_ms = (long)parse_uint("--header-timeout-ms", v, 3600000);
	} else if (strcmp(name, "body-timeout-ms") == 0) {
		c->body_timeout_ms = (long)parse_uint("--body-timeout-ms", v, 3600000);
	} else if (strcmp(name, "drain-ms") == 0) {
		c->drain_ms = (long)parse_uint("--drain-ms", v, 3600000);
	} else if (strcmp(name, "cache-buckets") == 0) {
		c->cache_buckets = (unsigned)parse_uint("--cache-buckets", v, 1u << 20);
		if (c->cache_buckets == 0)
			die_usage("--cache-buckets", v, "at least 1");
	} else if (strcmp(name, "keys") == 0) {
		c->keys_path = v; /* read once every option is in: see load_keys() */
	} else if (strcmp(name, "ledger") == 0) {
		if (!store_spec_valid(v))
			die_usage("--ledger", v, "sqlite:FILE, postgres:CONNINFO or memory");
		c->ledger = v;
	} else if (strcmp(name, "ledger-sync") == 0) {
		if (strcmp(v, "full") != 0 && strcmp(v, "normal") != 0)
			die_usage("--ledger-sync", v, "full or normal");
		c->ledger_full_sync = strcmp(v, "full") == 0;
	} else if (strcmp(name, "idempotency-ttl") == 0) {
		c->idempotency_ttl_s = (long)parse_uint("--idempotency-ttl", v, 10L * 366 * 86400);
		if (c->idempotency_ttl_s == 0)
			die_usage("--idempotency-ttl", v, "at least 1");
	} else {
		fprintf(stderr, PROG ": unknown option '--%s' (try --help)\n", name);
		exit(2);
	}
}

/* Every option of set_option(): one left out here is silently ignored in
 * the environment (a test reads --help and tries each variable). */
static const char *const option_names[] = { "port",
					    "threads",
					    "gateway-latency-ms",
					    "gateway-failure-rate",
					    "gateway-timeout-ms",
					    "seed",
					    "max-amount",
					    "max-connections",
					    "cache-buckets",
					    "keys",
					    "ledger",
					    "ledger-sync",
					    "idempotency-ttl",
					    "max-connections-per-client",
					    "header-timeout-ms",
					    "body-timeout-ms",
					    "drain-ms" };

/* RACELAB_SERVICE_ + the option's name in upper case, '-' as '_'. */
static void read_environment(struct service_config *c)
{
	for (size_t i = 0; i < sizeof(option_names) / sizeof(option_names[0]); i++) {
		char var[64] = "RACELAB_SERVICE_";
		size_t n = strlen(var);
		for (const char *p = option_names[i]; *p && n < sizeof(var) - 1; p++)
			var[n++] = *p == '-' ? '_' : (char)(*p - 'a' + 'A');
		var[n] = '\0';
		const char *v = getenv(var);
		if (v)
			set_option(c, option_names[i], v);
	}
}

static void read_flags(struct service_config *c, int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			usage(stdout);
			exit(0);
		}
		if (strncmp(a, "--", 2) != 0) {
			fprintf(stderr, PROG ": unexpected argument '%s' (try --help)\n", a);
			exit(2);
		}
		char name[64];
		const char *eq = strchr(a, '='), *v;
		if (eq) {
			snprintf(name, sizeof(name), "%.*s", (int)(eq - a - 2), a + 2);
			v = eq + 1;
		} else {
			snprintf(name, sizeof(name), "%s", a + 2);
			if (i + 1 == argc) {
				fprintf(stderr, PROG ": option '%s' needs a value (try --help)\n",
					a);
				exit(2);
			}
			v = argv[++i];
		}
		set_option(c, name, v);
	}
}

/* One descriptor per connection: raise the soft limit as far as allowed. */
static void raise_fd_limit(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* The key file, once every option is read: a bad one is a usage error. */
static void load_keys(struct service *s)
{
	if (!s->cfg.keys_path) {
		fprintf(stderr, PROG ": no --keys FILE: payments need merchants' API keys "
				     "(try --help)\n");
		exit(2);
	}
	char why[160];
	if (keys_load(s->cfg.keys_path, &s->keys, why, sizeof(why)) != 0)
		die_usage("--keys", s->cfg.keys_path, why);
}

/*
 * Every connection is a descriptor. With the cap above the descriptor
 * limit, accept() fails with EMFILE while the listening socket stays
 * readable, and MHD's accept loop in thread-per-connection mode spins on
 * it, one stderr line per failure. So the cap is lowered to what the
 * limit leaves after the service's own descriptors and the connections
 * past the cap that are accepted only to be answered 503.
 */
static void fit_descriptor_limit(struct service_config *c)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
		return;
	long own = 16 + 3L * c->threads; /* stdio, listener, ITC, files; epoll per pool thread */
	long room = (long)rl.rlim_cur - own - GUARD_OVERFLOW;
	if (room < 1) {
		fprintf(stderr,
			PROG ": the descriptor limit (%ld) leaves no room for a connection\n",
			(long)rl.rlim_cur);
		exit(1);
	}
	if (c->max_connections > room) {
		fprintf(stderr,
			PROG ": --max-connections lowered from %u to %ld: the descriptor limit is "
			     "%ld (%ld kept for the service, %d for answering 503 past the cap)\n",
			c->max_connections, room, (long)rl.rlim_cur, own, GUARD_OVERFLOW);
		c->max_connections = (unsigned)room;
	}
	if (c->max_per_client > c->max_connections)
		c->max_per_client = c->max_connections;
}

int main(int argc, char **argv)
{
	static struct service s; /* large (the metrics), and shared with every thread */
	s.cfg = (struct service_config){
		.port = 8080,
		.threads = 0,
		.latency_min_ms = 100,
		.latency_max_ms = 300,
		.gateway_timeout_ms = 2000,
		.failure_ppm = 5000,
		.seed = 1,
		.max_cents = 1000000,
		.max_connections = 4096,
		.cache_buckets = 64,
		.ledger = "sqlite:racelab-ledger.db",
		.ledger_full_sync = true,
		.idempotency_ttl_s = 86400,
		.max_per_client = 2048,
		.header_timeout_ms = 10000,
		.body_timeout_ms = 10000,
		.drain_ms = 5000,
	};
	read_environment(&s.cfg);
	read_flags(&s.cfg, argc, argv);
	load_keys(&s);
	raise_fd_limit();
	fit_descriptor_limit(&s.cfg);

	sigset_t stop;
	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &stop, NULL);
	signal(SIGPIPE, SIG_IGN); /* a client gone mid-response is an error return, not death */

	char err[160];
	if (service_start(&s, err, sizeof(err)) != 0) {
		fprintf(stderr, PROG ": %s\n", err);
		return 1;
	}
	printf(PROG ": listening on http://127.0.0.1:%u\n", service_port(&s));
	fflush(stdout);

	int sig = 0;
	sigwait(&stop, &sig);
	long cut = service_stop(&s, s.cfg.drain_ms);
	struct gateway_stats gs;
	gateway_stats(s.gateway, &gs);
	/* the guard's last summary lines first: this line is the last */
	guard_destroy(s.guard);
	s.guard = NULL;
	fprintf(stderr, PROG ": shutdown: %ld requests, %ld charges, ledger %lld cents",
		metrics_requests(&s.metrics), gs.charges, (long long)ledger_total(s.ledger, 0));
	if (cut)
		fprintf(stderr,
			" (%ld requests in flight at the %ld ms drain deadline were cut off, "
			"%ld gateway calls aborted: not charged)",
			cut, s.cfg.drain_ms, gs.aborted);
	fputc('\n', stderr);
	service_free(&s);
	return 0;
}
