/*
 * bench.h: the benchmark of lab 1's cache (make bench): the designs it
 * compares and one measurement of one design.
 */
#ifndef RACELAB_BENCH_H
#define RACELAB_BENCH_H

#include <stdint.h>

#include "cache.h"

/* One implementation of include/cache.h; the benchmark needs four calls. */
struct bench_design {
	const char *name; /* short, for the tables: "floor", "rwlock", ... */
	const char *what; /* one line: where the code is and what it locks */
	struct cache *(*create)(size_t initial_buckets);
	void (*destroy)(struct cache *c);
	bool (*get)(struct cache *c, const char *user_id, struct cache_response *out);
	bool (*put)(struct cache *c, const char *user_id, const struct cache_response *resp);
};

/* Every design, the floor (broken/cache.c) first. */
extern const struct bench_design bench_designs[];
extern const int bench_ndesigns;

/* What one measurement runs. */
struct bench_config {
	int threads;	 /* each runs the same mix on the shared map */
	int read_pct;	 /* the share of gets; the rest are puts */
	int nkeys;	 /* all present before timing starts */
	int duration_ms; /* how long the threads run */
	uint64_t seed;
};

struct bench_result {
	uint64_t reads, writes;
	double ns_per_op; /* time in the threads / operations: per thread */
	/* The process's CPU time over the run / operations: leaves out the
	 * time other programs held the CPUs and the time a thread slept on a
	 * lock, and counts helper threads (liburcu's call_rcu thread). */
	double cpu_ns_per_op;
	uint64_t cpu_ns, wall_ns; /* the process's CPU time, the run's length */
	int bad_keys;		  /* after the run: keys missing or holding the wrong user */
};

/* Runs one design once. Returns 0, or -1 with a reason in err. */
int bench_measure(const struct bench_design *d, const struct bench_config *cfg,
		  struct bench_result *res, char *err, size_t errlen);

#endif
