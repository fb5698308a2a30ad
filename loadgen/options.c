/*
 * options.c: racelab-loadgen's command line. Bad input is one line on
 * stderr and exit 2, like every racelab command.
 */
#define _GNU_SOURCE /* getopt_long */
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "loadgen.h"

static const char usage[] =
	"usage: racelab-loadgen [options]\n"
	"\n"
	"Drives racelab-service's POST /process-payment with concurrent keep-alive\n"
	"connections, checks that every response belongs to its request, and prints\n"
	"requests, successes, errors by kind, throughput, latency percentiles and a\n"
	"verdict. Exit 0: error rate within the threshold and no leak; 1: above it,\n"
	"or any leak; 2: bad arguments, or the load could not start.\n"
	"\n"
	"A few threads (--threads, one per CPU at most) run an event loop each over\n"
	"a share of the connections; each connection has one request in flight.\n"
	"\n"
	"  -u, --url URL          the service (default http://127.0.0.1:8080)\n"
	"  -c, --connections N    concurrent connections (default 10, at most 10000);\n"
	"                         --concurrency is the same\n"
	"  -t, --threads N        event-loop threads, 1 to the CPUs available (default:\n"
	"                         the CPUs available, at most one per connection)\n"
	"  -n, --requests N       total requests, shared by the connections (default 1000)\n"
	"  -d, --duration S       run for S seconds instead (decimals allowed)\n"
	"  -R, --rate R           requests/s in all, on a constant schedule: request i\n"
	"                         of the run is meant to start at i/R s, and latency is\n"
	"                         also reported from that intended start (corrected for\n"
	"                         coordinated omission); default: closed loop, each\n"
	"                         connection sends when its last answer came\n"
	"      --users P          whose payments: story (connection w sends\n"
	"                         user-w-(j%10), the war story's pattern; default),\n"
	"                         unique (user-w-j, every request a new user), shared:N\n"
	"                         (N users shared by all connections, picked at random),\n"
	"                         seq (seq-S for the run's S-th request: a run with -n\n"
	"                         replays another)\n"
	"      --api-key KEY      the merchant's key: Authorization: Bearer KEY\n"
	"      --key-prefix S     each request's Idempotency-Key is S and its user id, so\n"
	"                         a user's requests repeat one key (default: no S)\n"
	"      --no-idempotency-key  send none: every request is a new payment\n"
	"      --payments FILE    write each 200 as a line: USER PAYMENT_ID CENTS CACHED\n"
	"      --amount A         the amount of every payment (default 49.99), or\n"
	"                         varied: each user its own amount, 1.00 to 99.99\n"
	"      --timeout-ms N     per request, connecting included (default 5000)\n"
	"      --no-keepalive     a new connection for every request\n"
	"      --threshold PCT    the verdict fails above this error rate (default 5)\n"
	"      --json FILE        also write the results as one JSON object (- : stdout)\n"
	"      --seed N           for --users shared (default 1)\n"
	"  -q, --quiet            no report, only the verdict line (on stderr when\n"
	"                         --json - puts the JSON on stdout)\n"
	"  -h, --help             this text\n"
	"SIGINT or SIGTERM ends the run early: no new request, then the report.\n"
	"\n"
	"Latency: raw is from each request's send to the last byte of its answer (a\n"
	"connect is timed apart); corrected (--rate only) is from its intended start.\n"
	"\n"
	"Errors by kind: status (any answer but 200, by code), timeout, reset (the\n"
	"connection reset or closed mid-request), connect (refused: nobody listening),\n"
	"protocol (not a response of the contract), leak (a 200 carrying another\n"
	"user's payment or another amount: the worst error).\n";

static int fail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("racelab-loadgen: error: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputs(" (try --help)\n", stderr);
	va_end(ap);
	return 2;
}

static bool parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
	if (!s || *s < '0' || *s > '9')
		return false;
	errno = 0;
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end || v < lo || v > hi)
		return false;
	*out = v;
	return true;
}

static bool parse_double(const char *s, double lo, double hi, double *out)
{
	if (!s || !*s)
		return false;
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || *end || !(v >= lo && v <= hi)) /* NaN fails too */
		return false;
	*out = v;
	return true;
}

static int parse_url(const char *url, struct loadgen_options *o)
{
	if (strlen(url) >= sizeof(o->url) || strncmp(url, "http://", 7) != 0)
		return fail("--url '%s' is not http://HOST:PORT", url);
	snprintf(o->url, sizeof(o->url), "%s", url);
	const char *host = url + 7;
	const char *colon = strrchr(host, ':');
	const char *slash = strchr(host, '/');
	if (slash && strcmp(slash, "/") != 0)
		return fail("--url '%s': give the service's root, not a path", url);
	size_t hlen =
		colon ? (size_t)(colon - host) : (slash ? (size_t)(slash - host) : strlen(host));
	if (hlen == 0 || hlen >= sizeof(o->host))
		return fail("--url '%s' has no host", url);
	memcpy(o->host, host, hlen);
	o->host[hlen] = '\0';
	uint64_t port = 80;
	if (colon) {
		char p[8] = "";
		size_t plen = slash ? (size_t)(slash - colon - 1) : strlen(colon + 1);
		if (plen == 0 || plen >= sizeof(p))
			return fail("--url '%s' has a bad port", url);
		memcpy(p, colon + 1, plen);
		if (!parse_u64(p, 1, 65535, &port))
			return fail("--url '%s' has a bad port", url);
	}
	snprintf(o->port, sizeof(o->port), "%u", (unsigned)port);
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
	struct addrinfo *res;
	int rc = getaddrinfo(o->host, o->port, &hints, &res);
	if (rc != 0)
		return fail("--url '%s': cannot resolve '%s': %s", url, o->host, gai_strerror(rc));
	memcpy(&o->addr, res->ai_addr, res->ai_addrlen);
	o->addr_len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

static int parse_users(const char *s, struct loadgen_options *o)
{
	uint64_t n;
	if (strcmp(s, "story") == 0) {
		o->users = USERS_STORY;
	} else if (strcmp(s, "unique") == 0) {
		o->users = USERS_UNIQUE;
	} else if (strcmp(s, "seq") == 0) {
		o->users = USERS_SEQ;
	} else if (strncmp(s, "shared:", 7) == 0 && parse_u64(s + 7, 1, 1000000, &n)) {
		o->users = USERS_SHARED;
		o->shared_users = (int)n;
	} else {
		return fail("--users '%s' is not story, unique, seq or shared:N (N 1 to 1000000)",
			    s);
	}
	return 0;
}

/* long because: one case per option, each with its range and its message */
int loadgen_parse(int argc, char **argv, struct loadgen_options *o)
{
	static const struct option longs[] = {
		{ "url", required_argument, 0, 'u' },
		{ "connections", required_argument, 0, 'c' },
		{ "threads", required_argument, 0, 't' },
		{ "rate", required_argument, 0, 'R' },
		{ "concurrency", required_argument, 0, 'c' },
		{ "requests", required_argument, 0, 'n' },
		{ "duration", required_argument, 0, 'd' },
		{ "users", required_argument, 0, 'U' },
		{ "amount", required_argument, 0, 'a' },
		{ "timeout-ms", required_argument, 0, 'O' },
		{ "no-keepalive", no_argument, 0, 'K' },
		{ "threshold", required_argument, 0, 'T' },
		{ "json", required_argument, 0, 'j' },
		{ "seed", required_argument, 0, 's' },
		{ "quiet", no_argument, 0, 'q' },
		{ "api-key", required_argument, 0, 'A' },
		{ "key-prefix", required_argument, 0, 'P' },
		{ "no-idempotency-key", no_argument, 0, 'I' },
		{ "payments", required_argument, 0, 'p' },
		{ "help", no_argument, 0, 'h' },
		{ 0, 0, 0, 0 },
	};
	memset(o, 0, sizeof(*o));
	o->connections = 10;
	o->threads = loadgen_cpus();
	o->amount_cents = 4999;
	o->timeout_ms = 5000;
	o->keepalive = true;
	o->threshold_pct = 5.0;
	o->seed = 1;
	o->idempotency = true;
	o->key_prefix = "";
	const char *url = "http://127.0.0.1:8080";
	bool have_requests = false;
	uint64_t v;
	double d;
	int opt, rc;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":u:c:t:n:d:R:qh", longs, NULL)) != -1) {
		switch (opt) {
		case 'u': url = optarg; break;
		case 'c':
			if (!parse_u64(optarg, 1, LOADGEN_MAX_CONNECTIONS, &v))
				return fail("--connections must be 1 to %d, not '%s'",
					    LOADGEN_MAX_CONNECTIONS, optarg);
			o->connections = (int)v;
			break;
		case 't':
			if (!parse_u64(optarg, 1, (uint64_t)loadgen_cpus(), &v))
				return fail(
					"--threads must be 1 to %d (the CPUs available), not '%s'",
					loadgen_cpus(), optarg);
			o->threads = (int)v;
			break;
		case 'R':
			if (!parse_double(optarg, 0.001, 1e7, &o->rate))
				return fail("--rate must be 0.001 to 10000000 requests/s, not '%s'",
					    optarg);
			break;
		case 'n':
			if (!parse_u64(optarg, 1, UINT64_C(1) << 40, &v))
				return fail("--requests must be a positive integer, not '%s'",
					    optarg);
			o->requests = v;
			have_requests = true;
			break;
		case 'd':
			if (!parse_double(optarg, 0.001, 86400, &d))
				return fail("--duration must be 0.001 to 86400 seconds, not '%s'",
					    optarg);
			o->duration_ms = (int64_t)(d * 1000 + 0.5);
			break;
		case 'U':
			if ((rc = parse_users(optarg, o)) != 0)
				return rc;
			break;
		case 'a':
			if (strcmp(optarg, "varied") == 0) {
				o->amount_cents = -1;
			} else if (!check_parse_cents(optarg, strlen(optarg), &o->amount_cents) ||
				   o->amount_cents <= 0) {
				return fail("--amount must be a positive amount with at most two "
					    "decimals (49.99), or varied, not '%s'",
					    optarg);
			}
			break;
		case 'O':
			if (!parse_u64(optarg, 1, 3600000, &v))
				return fail("--timeout-ms must be 1 to 3600000, not '%s'", optarg);
			o->timeout_ms = (int)v;
			break;
		case 'K': o->keepalive = false; break;
		case 'T':
			if (!parse_double(optarg, 0, 100, &o->threshold_pct))
				return fail("--threshold must be a percentage 0 to 100, not '%s'",
					    optarg);
			break;
		case 'j': o->json_path = optarg; break;
		case 's':
			if (!parse_u64(optarg, 0, UINT64_MAX, &o->seed))
				return fail("--seed must be a non-negative integer, not '%s'",
					    optarg);
			break;
		case 'q': o->quiet = true; break;
		case 'A':
			if (!*optarg || strlen(optarg) > 127 || strpbrk(optarg, " \t\r\n"))
				return fail("--api-key must be 1 to 127 bytes without blanks");
			o->api_key = optarg;
			break;
		case 'P':
			if (strlen(optarg) > 64 || strpbrk(optarg, "\r\n"))
				return fail("--key-prefix must be at most 64 bytes on one line");
			o->key_prefix = optarg;
			break;
		case 'I': o->idempotency = false; break;
		case 'p': o->payments_path = optarg; break;
		case 'h': fputs(usage, stdout); return 1;
		case ':': return fail("%s needs a value", argv[optind - 1]);
		default:
			if (optopt)
				return fail("unknown option '-%c'", optopt);
			return fail("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return fail("unexpected argument '%s'", argv[optind]);
	if (have_requests && o->duration_ms)
		return fail("give --requests or --duration, not both");
	if (!have_requests && !o->duration_ms)
		o->requests = 1000;
	return parse_url(url, o);
}
