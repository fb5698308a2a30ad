/*
 * threads.c: the driver's threads, their pinning and the start barrier;
 * the named violation counters; lab parameters.
 */
#define _GNU_SOURCE /* numa_sched_setaffinity, CPU sets */
#include <errno.h>
#include <numa.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "racesched.h"
#include "stress.h"

void stress_count(struct stress_result *r, const char *name, long n, const char *fmt, ...)
{
	if (n == 0)
		return;
	int i;
	for (i = 0; i < r->ninv; i++)
		if (strcmp(r->inv_name[i], name) == 0)
			break;
	if (i == r->ninv) {
		if (r->ninv == STRESS_MAX_INVARIANTS)
			return;
		r->inv_name[r->ninv] = name;
		r->inv[r->ninv++] = 0;
	}
	if (r->inv[i] == 0 && stress_violations(r) == 0 && fmt) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(r->first, sizeof(r->first), fmt, ap);
		va_end(ap);
	}
	r->inv[i] += n;
}

long stress_violations(const struct stress_result *r)
{
	long total = 0;
	for (int i = 0; i < r->ninv; i++)
		total += r->inv[i];
	return total;
}

int stress_param(const struct stress_run *run, const char *key, long def, long min, long max,
		 long *out, char *err, size_t errlen)
{
	const char *v = NULL, *from = "--set";
	size_t klen = strlen(key);
	for (int i = 0; i < run->nset; i++)
		if (strncmp(run->set[i], key, klen) == 0 && run->set[i][klen] == '=')
			v = run->set[i] + klen + 1;
	if (!v) {
		v = scenario_get(run->sc, run->profile, key);
		from = run->sc->path;
	}
	if (!v) {
		*out = def;
		return 0;
	}
	char *end;
	errno = 0;
	long n = strtol(v, &end, 10);
	if (errno || end == v || *end || n < min || n > max) {
		snprintf(err, errlen, "%s: %s must be a whole number from %ld to %ld (got '%s')",
			 from, key, min, max, v);
		return -1;
	}
	*out = n;
	return 0;
}

struct thread_start {
	const struct stress_run *run;
	int index;
	void (*fn)(const struct stress_run *, int, void *);
	void *arg;
	pthread_barrier_t *barrier;
	int pin_error; /* written by the thread, read after join */
};

/* Pins the calling thread to one CPU through libnuma. */
static int pin_self(int cpu)
{
	struct bitmask *mask = numa_allocate_cpumask();
	if (!mask)
		return -1;
	numa_bitmask_setbit(mask, (unsigned)cpu);
	int rc = numa_sched_setaffinity(0, mask);
	numa_free_cpumask(mask);
	return rc;
}

static void *thread_main(void *p)
{
	struct thread_start *ts = p;
	int cpu = ts->run->cpu[ts->index];
	if (cpu >= 0 && pin_self(cpu) != 0)
		ts->pin_error = errno ? errno : EINVAL;
	/* Every thread waits here, pinned or not, so the barrier never hangs;
	 * a thread that failed to pin does no work. */
	pthread_barrier_wait(ts->barrier);
	if (!ts->pin_error)
		ts->fn(ts->run, ts->index, ts->arg);
	return NULL;
}

int stress_threads(const struct stress_run *run, void (*fn)(const struct stress_run *, int, void *),
		   void **args, char *err, size_t errlen)
{
	int n = run->threads;
	pthread_t tid[STRESS_MAX_THREADS];
	struct thread_start ts[STRESS_MAX_THREADS];
	pthread_barrier_t barrier;
	if (pthread_barrier_init(&barrier, NULL, (unsigned)n) != 0) {
		snprintf(err, errlen, "cannot make a barrier for %d threads", n);
		return -1;
	}
	/* The sched build: these n threads are the round's managed workers,
	 * A, B, ... in this order; none runs before sched_round_go(). */
	sched_round_begin(n);
	int started = 0, rc = 0;
	for (int i = 0; i < n; i++) {
		ts[i] = (struct thread_start){ run, i, fn, args[i], &barrier, 0 };
		if (pthread_create(&tid[i], NULL, thread_main, &ts[i]) != 0) {
			snprintf(err, errlen, "cannot create thread %d of %d", i + 1, n);
			rc = -1;
			break;
		}
		started++;
	}
	if (rc != 0) {
		/* The started threads wait at the barrier for threads that will
		 * never come; nothing can release them, so give up the process. */
		fprintf(stderr, "racelab-stress: %s\n", err);
		exit(4); /* out of resources, not bad input: see main.c */
	}
	sched_round_go();
	for (int i = 0; i < started; i++)
		pthread_join(tid[i], NULL);
	sched_round_end();
	pthread_barrier_destroy(&barrier);
	for (int i = 0; i < n; i++)
		if (ts[i].pin_error) {
			snprintf(err, errlen, "cannot pin thread %d to cpu %d: %s", i, run->cpu[i],
				 strerror(ts[i].pin_error));
			return -1;
		}
	return 0;
}
