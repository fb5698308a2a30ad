/*
 * chaos.c: delay injection at race points, for the chaos build.
 *
 * A race needs the second thread to arrive while the first is inside the
 * window between its read and its write. On two idle cores the windows
 * overlap often; with both threads on one CPU they overlap only when the
 * scheduler preempts a thread exactly inside a window of a few
 * instructions, which is rare, so one CPU hides short races. The chaos
 * build widens the windows on purpose, in the spirit of the Linux kernel's
 * KCSAN (which stalls a sampled access for a few microseconds and watches
 * who else touches the address meanwhile) and of PCT (which changes thread
 * priorities at random points): at a sampled race point the thread yields
 * the CPU, or sleeps for a random 1 to RACELAB_CHAOS_MAX_US microseconds.
 *
 * The sampling keeps a chaos trial a stress trial: one race point in
 * RACELAB_CHAOS_EVERY (256) is delayed, by at most RACELAB_CHAOS_MAX_US
 * (20) microseconds; both can be set in the environment. One in 64 and
 * 50 us made the fixed builds 5 to 10 times slower (their race points sit
 * inside critical sections, so the other thread waits out the delay too)
 * without showing more races than one in 256 and 20 us did.
 * Chaos is compiled only into build/chaos/; the report keeps chaos rates
 * apart from plain ones, since they measure the code under a scheduler
 * that is hunting for the race.
 */
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "racepoint.h"
#include "rng.h"
#include "racesched.h"

#ifdef RACELAB_CHAOS

static _Atomic uint64_t chaos_seed = 0x9e3779b97f4a7c15u;
static _Atomic uint64_t chaos_threads;
static _Atomic long chaos_every = -1; /* -1: not read from the environment yet */
static _Atomic long chaos_max_us;

static _Thread_local uint64_t chaos_state; /* 0: this thread not seeded yet */

/* One well-mixed 64-bit number per call (rng.h). Each thread has its own
 * state, so the delays add no synchronization between the threads (a
 * shared generator behind a lock would order the very accesses whose race
 * we want to show). */
static uint64_t chaos_next(void)
{
	if (chaos_state == 0)
		chaos_state = atomic_load(&chaos_seed) ^
			      (atomic_fetch_add(&chaos_threads, 1) + 1) * 0xbf58476d1ce4e5b9u;
	return rng_next(&chaos_state);
}

static long chaos_env(const char *name, long fallback, long max)
{
	const char *v = getenv(name);
	char *end;
	long n = v ? strtol(v, &end, 10) : 0;
	if (!v || *v == '\0' || *end != '\0' || n < 1 || n > max)
		return fallback;
	return n;
}

static void chaos_configure(void)
{
	if (atomic_load(&chaos_every) >= 0)
		return;
	atomic_store(&chaos_max_us, chaos_env("RACELAB_CHAOS_MAX_US", 20, 100000));
	atomic_store(&chaos_every, chaos_env("RACELAB_CHAOS_EVERY", 256, 1000000));
}

void racepoint_seed(uint64_t seed)
{
	chaos_configure();
	atomic_store(&chaos_seed, seed * 0x9e3779b97f4a7c15u + 1);
	atomic_store(&chaos_threads, 0);
}

void racepoint_chaos(const char *name)
{
	(void)name;
	chaos_configure();
	uint64_t r = chaos_next();
	if (r % (uint64_t)atomic_load(&chaos_every) != 0)
		return;
	r >>= 32;
	if (r & 1) {
		sched_yield();
	} else {
		long us = 1 + (long)((r >> 1) % (uint64_t)atomic_load(&chaos_max_us));
		struct timespec ts = { us / 1000000, (us % 1000000) * 1000 };
		nanosleep(&ts, NULL);
	}
}

#else

void racepoint_seed(uint64_t seed)
{
	sched_trial_begin(seed); /* nothing but in the sched build */
}

void racepoint_chaos(const char *name)
{
	(void)name;
}

#endif
