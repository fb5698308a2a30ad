/*
 * racesched.h: the sched flavour's scheduler (common/racesched.c).
 *
 * In build/sched/ the threads of a trial run one at a time and switch only
 * at scheduling points: race points, the wrapped pthread calls, yields
 * and the workloads' spin pauses. Which thread runs next is the
 * strategy's choice, drawn from the trial's seed, or read from a trace.
 * In the other flavours these functions are stubs.
 */
#ifndef RACELAB_RACESCHED_H
#define RACELAB_RACESCHED_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* --sched STRATEGY and --sched-log FILE: random, pct:D, replay:TRACE,
 * prefix:TRACE (TRACE or @FILE). pct_steps is PCT's estimate of a trial's
 * steps. Returns 0, or -1 with a one-line reason. */
int sched_configure(const char *strategy, long pct_steps, const char *log_path, char *err,
		    size_t errlen);
/* A trial begins (the driver calls it through racepoint_seed). */
void sched_trial_begin(uint64_t seed);
/* A round's workers: the next n threads the driver creates are managed;
 * sched_round_go() lets the first one run; sched_round_end() after the
 * joins. */
void sched_round_begin(int n);
void sched_round_go(void);
void sched_round_end(void);
/* The trial so far: its strategy's name, steps, and trace (run-length
 * encoded, rounds separated by '/'). */
const char *sched_strategy(void);
long sched_steps(void);
const char *sched_trace(void);
/* Called, from the thread that found it, when every managed thread is
 * blocked; it must not return (the driver writes the record and exits 3). */
void sched_on_deadlock(void (*fn)(const char *why));
/* The real clock, for the driver's own bookkeeping (the watchdog, the
 * elapsed time): managed threads read a virtual one. */
int sched_real_clock(clockid_t id, struct timespec *ts);
/* A spin loop's pause: a yield point in this flavour. */
void sched_spin_pause(void);

#endif
