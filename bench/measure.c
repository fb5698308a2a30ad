/*
 * bench/measure.c: one measurement of one design: fill a map, let the
 * threads run a mix of gets and puts on it for a while, time them, then
 * check that the map still holds every key.
 *
 * Every put replaces the response of a key already in the map, in every
 * design: the map never grows or shrinks while it is timed. That keeps the
 * designs' work identical, and it is what lets the unsafe floor run with
 * two threads: its chains and table never change, so it cannot crash or
 * lose a key (its puts still race with its gets on the response bytes,
 * which is why it is the floor and not a design).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "rng.h"

/* Operations between two looks at the stop flag: one relaxed load per
 * batch costs nothing next to a map operation. */
#define BATCH 64

struct shared {
	const struct bench_design *d;
	struct cache *c;
	const struct bench_config *cfg;
	char (*keys)[CACHE_USER_ID_MAX];
	struct cache_response *resps; /* what a put stores for each key */
	pthread_barrier_t start;
	atomic_int stop;
};

struct worker {
	pthread_t tid;
	struct shared *sh;
	uint64_t rng;
	uint64_t reads, writes, ns;
	int64_t sink; /* keeps the copied responses alive */
};

static uint64_t clock_ns(clockid_t clock)
{
	struct timespec ts;
	clock_gettime(clock, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t now_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

static void *run(void *p)
{
	struct worker *w = p;
	struct shared *sh = w->sh;
	const struct bench_design *d = sh->d;
	/* A get when the low 32 random bits fall under this: read_pct percent. */
	uint64_t read_below = (uint64_t)sh->cfg->read_pct * 4294967296u / 100;
	uint64_t nkeys = (uint64_t)sh->cfg->nkeys;
	struct cache_response out;
	pthread_barrier_wait(&sh->start);
	uint64_t t0 = now_ns();
	while (!atomic_load_explicit(&sh->stop, memory_order_relaxed)) {
		for (int i = 0; i < BATCH; i++) {
			uint64_t x = rng_next(&w->rng);
			uint64_t k = (x >> 32) * nkeys >> 32; /* a key in [0, nkeys) */
			if ((x & 0xffffffffu) < read_below) {
				if (d->get(sh->c, sh->keys[k], &out))
					w->sink += out.amount_cents;
				w->reads++;
			} else {
				d->put(sh->c, sh->keys[k], &sh->resps[k]);
				w->writes++;
			}
		}
	}
	w->ns = now_ns() - t0;
	return NULL;
}

/* Every key present, under its own user, with its own amount. */
static int count_bad_keys(struct shared *sh)
{
	int bad = 0;
	struct cache_response out;
	for (int k = 0; k < sh->cfg->nkeys; k++)
		if (!sh->d->get(sh->c, sh->keys[k], &out) ||
		    strcmp(out.user_id, sh->keys[k]) != 0 ||
		    out.amount_cents != sh->resps[k].amount_cents)
			bad++;
	return bad;
}

int bench_measure(const struct bench_design *d, const struct bench_config *cfg,
		  struct bench_result *res, char *err, size_t errlen)
{
	int rc = -1, started = 0;
	struct shared sh = { .d = d, .cfg = cfg };
	struct worker *w = calloc((size_t)cfg->threads, sizeof(*w));
	sh.keys = calloc((size_t)cfg->nkeys, sizeof(*sh.keys));
	sh.resps = calloc((size_t)cfg->nkeys, sizeof(*sh.resps));
	sh.c = d->create(16); /* grows while it is filled, as in the labs */
	if (!w || !sh.keys || !sh.resps || !sh.c) {
		snprintf(err, errlen, "%s: out of memory", d->name);
		goto out;
	}
	for (int k = 0; k < cfg->nkeys; k++) {
		snprintf(sh.keys[k], sizeof(sh.keys[k]), "user-%d", k);
		struct cache_response *r = &sh.resps[k];
		snprintf(r->user_id, sizeof(r->user_id), "%s", sh.keys[k]);
		snprintf(r->status, sizeof(r->status), "success");
		r->amount_cents = 1000 + k;
		r->request_id = (uint64_t)k;
		if (!d->put(sh.c, sh.keys[k], r)) {
			snprintf(err, errlen, "%s: filling the map failed", d->name);
			goto out;
		}
	}
	atomic_init(&sh.stop, 0);
	pthread_barrier_init(&sh.start, NULL, (unsigned)cfg->threads + 1);
	for (; started < cfg->threads; started++) {
		w[started].sh = &sh;
		w[started].rng = rng_thread_seed(cfg->seed, 0, started);
		if (pthread_create(&w[started].tid, NULL, run, &w[started]) != 0)
			break;
	}
	if (started < cfg->threads) {
		/* The barrier waits for every thread: the started ones would
		 * wait for ever, so there is nothing to clean up but to go. */
		fprintf(stderr, "racelab-bench: %s: cannot start thread %d\n", d->name,
			started + 1);
		exit(1);
	}
	pthread_barrier_wait(&sh.start);
	uint64_t cpu0 = clock_ns(CLOCK_PROCESS_CPUTIME_ID), wall0 = now_ns();
	struct timespec dur = { cfg->duration_ms / 1000,
				(long)(cfg->duration_ms % 1000) * 1000000 };
	nanosleep(&dur, NULL);
	atomic_store_explicit(&sh.stop, 1, memory_order_relaxed);
	uint64_t ns = 0;
	memset(res, 0, sizeof(*res));
	for (int i = 0; i < cfg->threads; i++) {
		pthread_join(w[i].tid, NULL);
		res->reads += w[i].reads;
		res->writes += w[i].writes;
		ns += w[i].ns;
	}
	uint64_t cpu = clock_ns(CLOCK_PROCESS_CPUTIME_ID) - cpu0, wall = now_ns() - wall0;
	pthread_barrier_destroy(&sh.start);
	uint64_t ops = res->reads + res->writes;
	res->ns_per_op = ops ? (double)ns / (double)ops : 0.0;
	res->cpu_ns_per_op = ops ? (double)cpu / (double)ops : 0.0;
	res->cpu_ns = cpu;
	res->wall_ns = wall;
	res->bad_keys = count_bad_keys(&sh);
	rc = 0;
out:
	if (sh.c)
		d->destroy(sh.c);
	free(sh.resps);
	free(sh.keys);
	free(w);
	return rc;
}
