/*
 * racepoint.h: named race points.
 *
 * Every racy window in a broken module is marked with RACE_POINT("name"),
 * for example RACE_POINT("cache.put.window") between the read of a bucket
 * head and the write that links a new node in front of it. The name, not a
 * line number, is what the lab's declared race site, the gdb walkthroughs
 * and delay injection refer to.
 *
 * In the release and sanitizer builds a race point compiles to nothing, so
 * the race that is measured is the race in the code. In the debug build
 * (RACELAB_RACEPOINTS) it calls racepoint_hit(), an empty function that gdb
 * can stop in and read the name from. In the chaos build (RACELAB_CHAOS)
 * it calls racepoint_chaos(), which now and then stalls the thread for a
 * few microseconds inside the window (common/chaos.c). In the sched build
 * (RACELAB_SCHED) it calls racepoint_sched(), a scheduling point: the
 * scheduler picks which thread runs on from there (common/racesched.c).
 */
#ifndef RACELAB_RACEPOINT_H
#define RACELAB_RACEPOINT_H

#include <stdint.h>

void racepoint_hit(const char *name);
void racepoint_chaos(const char *name);
void racepoint_sched(const char *name);

/* Seeds the chaos build's delays for one trial (the driver passes the
 * trial's seed), so a chaos run is as repeatable as the scheduler allows.
 * In the sched build it starts the trial's schedule (sched_trial_begin).
 * Does nothing in the other builds. */
void racepoint_seed(uint64_t seed);

#if defined(RACELAB_CHAOS)
#define RACE_POINT(name) racepoint_chaos(name)
#elif defined(RACELAB_SCHED)
#define RACE_POINT(name) racepoint_sched(name)
#elif defined(RACELAB_RACEPOINTS)
#define RACE_POINT(name) racepoint_hit(name)
#else
#define RACE_POINT(name) ((void)0)
#endif

#endif
