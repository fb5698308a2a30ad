/*
 * bench/main.c: racelab-bench, the cost of lab 1's fix, measured (make
 * bench).
 *
 * Every design runs every mix at every thread count, in one run, and the
 * designs take turns round by round: on a shared, noisy machine whatever
 * else is running slows all of them alike, and the median of the rounds
 * throws out the rounds it slowed most. Each design's median is then
 * divided by the floor's (broken/cache.c, no lock) from the same run.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

#define MAX_LIST    16
#define MAX_DESIGNS 8

struct options {
	int duration_ms, rounds, nkeys;
	int threads[MAX_LIST], nthreads;
	int mixes[MAX_LIST], nmixes; /* read percentages */
};

static void usage(FILE *f)
{
	fprintf(f, "usage: racelab-bench [--duration MS] [--rounds N] [--threads LIST]\n"
		   "                     [--mixes LIST] [--keys N]\n"
		   "\n"
		   "ns per cache operation for each design of lab 1's cache (include/cache.h),\n"
		   "measured side by side in one run, with its ratio to the unsafe floor.\n"
		   "\n"
		   "  --duration MS   how long one design runs one mix (default 200)\n"
		   "  --rounds N      rounds per mix; each design once a round (default 9)\n"
		   "  --threads LIST  thread counts, e.g. 1,2 (default 1,2)\n"
		   "  --mixes LIST    read percentages, e.g. 100,90,50,0 (default)\n"
		   "  --keys N        users in the map, all present before timing (default 1024)\n"
		   "  -h, --help      this text\n"
		   "\n"
		   "Exit status: 0 when every map still held every key after every run,\n"
		   "1 when one did not, 2 on bad arguments.\n");
}

static void bad_arg(const char *msg, const char *arg)
{
	fprintf(stderr, "racelab-bench: %s '%s' (try --help)\n", msg, arg);
	exit(2);
}

static int parse_int(const char *opt, const char *s, int lo, int hi)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi) {
		fprintf(stderr, "racelab-bench: %s wants a whole number from %d to %d, not '%s'\n",
			opt, lo, hi, s);
		exit(2);
	}
	return (int)v;
}

/* "1,2" into list; each item from lo to hi. Returns the item count. */
static int parse_list(const char *opt, const char *s, int *list, int lo, int hi)
{
	char buf[256], *save = NULL;
	int n = 0;
	if (strlen(s) >= sizeof(buf) || !*s)
		bad_arg("bad list for", opt);
	strcpy(buf, s);
	for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (n == MAX_LIST) {
			fprintf(stderr, "racelab-bench: %s takes at most %d items\n", opt,
				MAX_LIST);
			exit(2);
		}
		list[n++] = parse_int(opt, tok, lo, hi);
	}
	return n;
}

static void parse_options(int argc, char **argv, struct options *o)
{
	*o = (struct options){ .duration_ms = 200, .rounds = 9, .nkeys = 1024 };
	o->nthreads = parse_list("--threads", "1,2", o->threads, 1, 64);
	o->nmixes = parse_list("--mixes", "100,90,50,0", o->mixes, 0, 100);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			exit(0);
		}
		if (strncmp(a, "--", 2) != 0)
			bad_arg("unexpected argument", a);
		if (strcmp(a, "--duration") && strcmp(a, "--rounds") && strcmp(a, "--threads") &&
		    strcmp(a, "--mixes") && strcmp(a, "--keys"))
			bad_arg("unknown option", a);
		if (i + 1 >= argc)
			bad_arg("missing value after", a);
		const char *v = argv[++i];
		if (!strcmp(a, "--duration"))
			o->duration_ms = parse_int(a, v, 1, 60000);
		else if (!strcmp(a, "--rounds"))
			o->rounds = parse_int(a, v, 1, 1000);
		else if (!strcmp(a, "--keys"))
			o->nkeys = parse_int(a, v, 1, 1000000);
		else if (!strcmp(a, "--threads"))
			o->nthreads = parse_list(a, v, o->threads, 1, 64);
		else
			o->nmixes = parse_list(a, v, o->mixes, 0, 100);
	}
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Sorts v in place. */
static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(v[0]), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static const char *mix_name(int read_pct)
{
	if (read_pct == 100)
		return "reads only";
	if (read_pct == 0)
		return "writes only";
	return read_pct > 50 ? "read-heavy" : "write-heavy";
}

/* A design's medians at one thread count and mix. */
struct medians {
	double wall, cpu;
};

/* The medians of every design at one thread count and mix, printed as a
 * table. Returns the number of runs that left a map missing a key. */
static int run_mix(const struct options *o, int threads, int read_pct, struct medians *med)
{
	static double wall[MAX_DESIGNS][1000], cpu[MAX_DESIGNS][1000];
	int damaged[MAX_DESIGNS] = { 0 }, total_damaged = 0;
	uint64_t cpu_ns = 0, wall_ns = 0;
	char err[256];
	for (int r = 0; r < o->rounds; r++)
		for (int i = 0; i < bench_ndesigns; i++) {
			/* Each round starts one design later, so none is always
			 * first after a pause or last before one. */
			int d = (r + i) % bench_ndesigns;
			struct bench_config cfg = { threads, read_pct, o->nkeys, o->duration_ms,
						    0x5eed0000u + (uint64_t)r };
			struct bench_result res;
			if (bench_measure(&bench_designs[d], &cfg, &res, err, sizeof(err))) {
				fprintf(stderr, "racelab-bench: %s\n", err);
				exit(1);
			}
			wall[d][r] = res.ns_per_op;
			cpu[d][r] = res.cpu_ns_per_op;
			cpu_ns += res.cpu_ns;
			wall_ns += res.wall_ns;
			damaged[d] += res.bad_keys > 0;
		}
	printf("\n%d thread%s, %d%% reads (%s)\n", threads, threads == 1 ? "" : "s", read_pct,
	       mix_name(read_pct));
	/* Below the thread count, other programs had the CPUs part of the
	 * time: the threads did not always run at once. */
	printf("  (CPUs this process had while timed: %.2f on average)\n",
	       wall_ns ? (double)cpu_ns / (double)wall_ns : 0.0);
	printf("  %-8s %9s %8s %9s %8s  %s\n", "design", "ns/op", "x floor", "cpu ns/op", "x floor",
	       "ns/op min..max");
	for (int d = 0; d < bench_ndesigns; d++) {
		med[d].wall = median(wall[d], o->rounds); /* sorted: [0] is the min */
		med[d].cpu = median(cpu[d], o->rounds);
		printf("  %-8s %9.1f %8.2f %9.1f %8.2f  %.1f..%.1f", bench_designs[d].name,
		       med[d].wall, med[0].wall > 0 ? med[d].wall / med[0].wall : 0.0, med[d].cpu,
		       med[0].cpu > 0 ? med[d].cpu / med[0].cpu : 0.0, wall[d][0],
		       wall[d][o->rounds - 1]);
		if (damaged[d])
			printf("  MAP DAMAGED in %d of %d runs", damaged[d], o->rounds);
		printf("\n");
		total_damaged += damaged[d];
	}
	fflush(stdout);
	return total_damaged;
}

static int find_index(const int *list, int n, int v)
{
	for (int i = 0; i < n; i++)
		if (list[i] == v)
			return i;
	return -1;
}

/* The story's claim beside the C numbers: rwlock minus floor, from the
 * reads-only and writes-only mixes of this run. */
static void war_story(const struct options *o, struct medians med[MAX_LIST][MAX_LIST][MAX_DESIGNS])
{
	int rw = 0, ro = find_index(o->mixes, o->nmixes, 100),
	    wo = find_index(o->mixes, o->nmixes, 0);
	while (rw < bench_ndesigns - 1 && strcmp(bench_designs[rw].name, "rwlock") != 0)
		rw++;
	printf("\nwar story (Go, sync.RWMutex): \"added 12ns per read operation and 28ns per write "
	       "operation\"\n");
	if (ro < 0 || wo < 0) {
		printf("  C here: not measured (needs --mixes with 100 and 0)\n");
		return;
	}
	printf("  C here, %s minus floor, from the reads-only and writes-only tables above:\n",
	       bench_designs[rw].name);
	for (int t = 0; t < o->nthreads; t++) {
		struct medians *r = med[t][ro], *w = med[t][wo];
		printf("    %d %-8s %+.1f ns per read, %+.1f ns per write (cpu: %+.1f, %+.1f)\n",
		       o->threads[t],
		       o->threads[t] == 1 ? "thread:" : "threads:", r[rw].wall - r[0].wall,
		       w[rw].wall - w[0].wall, r[rw].cpu - r[0].cpu, w[rw].cpu - w[0].cpu);
	}
}

int main(int argc, char **argv)
{
	struct options o;
	static struct medians med[MAX_LIST][MAX_LIST][MAX_DESIGNS];
	parse_options(argc, argv, &o);
	printf("racelab-bench: lab 1's cache, ns per operation per thread, %d designs\n",
	       bench_ndesigns);
	for (int d = 0; d < bench_ndesigns; d++)
		printf("  %-8s %s\n", bench_designs[d].name, bench_designs[d].what);
	printf("%d keys, all in the map before timing; every put replaces a key already there.\n"
	       "%d ms a run, %d rounds; in each round every design runs once, in turn;\n"
	       "ns/op: time in a thread per operation, median of the rounds; x floor: its\n"
	       "ratio to the floor's median. cpu ns/op: the process's CPU time per operation,\n"
	       "which leaves out time other programs held the CPUs (and time asleep on a lock)\n"
	       "and counts helper threads (liburcu's).\n"
	       "The floor is unsafe: it runs with several threads only because no put here\n"
	       "changes its structure (no new key, no grow, no evict); its gets and puts still\n"
	       "race on the response bytes. It is what no locking costs, not a design.\n",
	       o.nkeys, o.duration_ms, o.rounds);
	int damaged = 0;
	for (int t = 0; t < o.nthreads; t++)
		for (int m = 0; m < o.nmixes; m++)
			damaged += run_mix(&o, o.threads[t], o.mixes[m], med[t][m]);
	war_story(&o, med);
	if (damaged) {
		printf("\nracelab-bench: %d runs left a map missing a key or holding a wrong one\n",
		       damaged);
		return 1;
	}
	printf("\nracelab-bench: %d mixes x %d thread counts x %d designs x %d rounds; every map "
	       "held every key after every run\n",
	       o.nmixes, o.nthreads, bench_ndesigns, o.rounds);
	return 0;
}
