/*
 * stress.h: what the stress driver gives a lab, and what a lab gives back.
 *
 * The driver owns everything that is the same for every lab: the scenario
 * file and command line, the topology and pinning, the start barrier, the
 * time limit, and the trial record. A lab owns its workload and its
 * invariants: it runs rounds on the driver's threads and counts, by name,
 * every violation it sees.
 */
#ifndef RACELAB_STRESS_H
#define RACELAB_STRESS_H

#include <stdint.h>

#include "scenario.h"
#include "topo.h"

#define STRESS_MAX_THREADS    256
#define STRESS_MAX_INVARIANTS 16
#define STRESS_MAX_SETS	      32

struct stress_run {
	const struct scenario *sc;
	const char *profile;		  /* "tsan", "valgrind" or NULL */
	const char *set[STRESS_MAX_SETS]; /* --set key=value overrides */
	int nset;
	int threads;
	long ops;		     /* operations per thread per round */
	int rounds;		     /* rounds per trial (at least; see duration_ms) */
	long duration_ms;	     /* keep running rounds until this much time passed */
	int stop_on_symptom;	     /* end the trial at the first violating round */
	uint64_t seed;		     /* this trial's seed */
	int cpu[STRESS_MAX_THREADS]; /* where each thread is pinned, -1: not */
	void *lab_state;	     /* the lab's parameters, from prepare() */
};

/* What a trial saw: named counters, each a kind of violation (0 is good). */
struct stress_result {
	int ninv;
	const char *inv_name[STRESS_MAX_INVARIANTS];
	long inv[STRESS_MAX_INVARIANTS];
	char first[256]; /* the first violation, in words */
	long ops_done;
	int rounds_run;
};

/* Adds n to the counter called name (creating it at 0 first), and keeps a
 * description of the first violation seen. */
void stress_count(struct stress_result *r, const char *name, long n, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* The total of every counter: 0 means the invariants held. */
long stress_violations(const struct stress_result *r);

/* A lab parameter: --set, then the scenario (with the profile), then def.
 * Returns 0, or -1 with a one-line reason when it is not an integer in
 * [min, max]. */
int stress_param(const struct stress_run *run, const char *key, long def, long min, long max,
		 long *out, char *err, size_t errlen);

/*
 * Runs fn(run, i, arg_i) on run->threads threads. Each thread first pins
 * itself to run->cpu[i], then waits at a barrier so that all of them start
 * their work at the same moment: without it, the first thread created
 * would finish much of its work before the last one exists, and the
 * threads would barely overlap. args is an array of run->threads
 * pointers. Returns 0, or -1 if a thread could not be created or pinned.
 */
int stress_threads(const struct stress_run *run, void (*fn)(const struct stress_run *, int, void *),
		   void **args, char *err, size_t errlen);

/* A spin loop's pause: call it in every loop that waits for another
 * thread by spinning (on an atomic, on the clock). It does nothing, but
 * in the sched build, where threads run one at a time and switch only at
 * scheduling points, it is one: without it a spinning thread would never
 * let the thread it waits for run. */
void sched_spin_pause(void);
static inline void stress_spin_pause(void)
{
#ifdef RACELAB_SCHED
	sched_spin_pause();
#endif
}

/* Allows a child process to attach a debugger to this one (call early). */
void stress_stacks_allow(void);
/* Every thread's stack, as gdb's "thread apply all bt" prints it, read
 * within limit_s seconds; malloc'd, NULL when gdb could not be run. */
char *stress_stacks(int limit_s);

/* A lab's workload: its folder's labs/lab-N-<name>/workload.c defines
 * one, named stress_lab<N>. */
struct stress_lab {
	const char *const *params; /* the lab's own scenario keys, NULL-ended */
	/* Its invariant counters, NULL-ended: every record prints all of
	 * them, so "checked and 0" never looks like "not checked". */
	const char *const *invariants;
	/* Reads the lab's parameters into run->lab_state. */
	int (*prepare)(struct stress_run *run, char *err, size_t errlen);
	/* One round: set up, run the threads, check the invariants into r. */
	int (*round)(struct stress_run *run, int round, struct stress_result *r, char *err,
		     size_t errlen);
};

/* The labs this driver runs: build/gen/stress_labs.c, which the build
 * generates from every labs/lab-N-<name>/scenario.conf (scripts/labs.py). */
struct stress_lab_entry {
	int id; /* N */
	const struct stress_lab *lab;
};
extern const struct stress_lab_entry stress_labs[];
extern const int stress_nlabs;

#endif
