/*
 * test_racesched.c: CMocka tests for common/racesched.c, the sched
 * flavour's scheduler, on tiny programs of their own.
 *
 * Everything here is deterministic: a forced trace, or seeds whose
 * schedules are fixed by the seed. Built with -DRACELAB_SCHED and the
 * flavour's --wrap flags (the Makefile's LDFLAGS_sched), like the driver.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "racepoint.h"
#include "racesched.h"

static char err[256];

static void configure(const char *strategy)
{
	err[0] = '\0';
	/* PCT's estimate of the steps: the counters take 4 */
	if (sched_configure(strategy, 4, NULL, err, sizeof(err)) != 0)
		fail_msg("sched_configure(\"%s\"): %s", strategy, err);
}

/* One round of n managed threads running fn, as the driver runs them. */
static void round_of(int n, void *(*fn)(void *), void **args)
{
	pthread_t t[4];
	sched_round_begin(n);
	for (int i = 0; i < n; i++)
		assert_int_equal(pthread_create(&t[i], NULL, fn, args ? args[i] : NULL), 0);
	sched_round_go();
	for (int i = 0; i < n; i++)
		pthread_join(t[i], NULL);
	sched_round_end();
}

/* The counter: a read, a race point, a write; the fixed one under a mutex. */
static long counter;
static pthread_mutex_t counter_mu = PTHREAD_MUTEX_INITIALIZER;

static void *add_broken(void *arg)
{
	(void)arg;
	long v = counter;
	RACE_POINT("test.add.window");
	counter = v + 1;
	return NULL;
}

static void *add_fixed(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&counter_mu);
	long v = counter;
	RACE_POINT("test.add.window");
	counter = v + 1;
	pthread_mutex_unlock(&counter_mu);
	return NULL;
}

static long run_counter(const char *strategy, uint64_t seed, void *(*fn)(void *))
{
	configure(strategy);
	sched_trial_begin(seed);
	counter = 0;
	round_of(2, fn, NULL);
	return counter;
}

/* Start: A runs to its race point; B; A writes and exits; B writes. */
static void test_forced_trace_loses_an_update(void **state)
{
	(void)state;
	assert_int_equal(run_counter("replay:ABAB", 1, add_broken), 1);
	assert_string_equal(sched_trace(), "ABAB");
	assert_int_equal(sched_steps(), 4);
	/* Run to completion one at a time: no update is lost. */
	assert_int_equal(run_counter("replay:A2B2", 1, add_broken), 2);
	assert_string_equal(sched_trace(), "A2B2");
}

/* Random and PCT schedules of the broken counter lose updates, those of
 * the fixed one never do; the same seed gives the same trace. */
static void test_strategies_on_both_counters(void **state)
{
	(void)state;
	const char *strategies[] = { "random", "pct:2" };
	for (int s = 0; s < 2; s++) {
		int lost = 0;
		for (uint64_t seed = 1; seed <= 200; seed++) {
			lost += run_counter(strategies[s], seed, add_broken) != 2;
			char first[64];
			snprintf(first, sizeof(first), "%s", sched_trace());
			assert_int_equal(run_counter(strategies[s], seed, add_fixed), 2);
			run_counter(strategies[s], seed, add_broken);
			assert_string_equal(sched_trace(), first);
		}
		if (lost < 20)
			fail_msg("%s: only %d of 200 schedules lost an update", strategies[s],
				 lost);
	}
}

/* The prefix strategy follows its trace, then runs without preemption. */
static void test_prefix_then_no_preemption(void **state)
{
	(void)state;
	assert_int_equal(run_counter("prefix:AB", 1, add_broken), 1);
	assert_string_equal(sched_trace(), "AB2A"); /* then B goes on, then A */
	assert_int_equal(run_counter("prefix:A", 1, add_broken), 2);
	assert_string_equal(sched_trace(), "A2B2");
}

/* Two locks taken in opposite order: reported, not hung. */
static pthread_mutex_t lock_a = PTHREAD_MUTEX_INITIALIZER, lock_b = PTHREAD_MUTEX_INITIALIZER;
static int report_fd = -1;

static void *take_two(void *arg)
{
	int first_a = arg != NULL;
	pthread_mutex_lock(first_a ? &lock_a : &lock_b);
	RACE_POINT("test.between.locks");
	pthread_mutex_lock(first_a ? &lock_b : &lock_a);
	pthread_mutex_unlock(first_a ? &lock_b : &lock_a);
	pthread_mutex_unlock(first_a ? &lock_a : &lock_b);
	return NULL;
}

static void on_deadlock(const char *why)
{
	(void)!write(report_fd, why, strlen(why));
	_exit(3);
}

static void test_deadlock_is_reported(void **state)
{
	(void)state;
	int fd[2];
	assert_int_equal(pipe(fd), 0);
	pid_t child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		alarm(10); /* a hang fails the test instead of stopping it */
		close(fd[0]);
		report_fd = fd[1];
		/* A takes a, B takes b, each then waits for the other's. */
		configure("replay:AABBAB");
		sched_on_deadlock(on_deadlock);
		sched_trial_begin(1);
		void *args[2] = { &lock_a, NULL };
		round_of(2, take_two, args);
		_exit(0);
	}
	close(fd[1]);
	char why[256] = "";
	ssize_t n = read(fd[0], why, sizeof(why) - 1);
	why[n > 0 ? n : 0] = '\0';
	close(fd[0]);
	int status;
	assert_int_equal(waitpid(child, &status, 0), child);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 3)
		fail_msg("the child did not report a deadlock (status %#x): %s", status, why);
	assert_non_null(strstr(why, "deadlock at step 6"));
	assert_non_null(strstr(why, "A waits for a mutex; B waits for a mutex"));
}

/* A timed wait nobody signals ends when every thread is blocked, at its
 * deadline on the virtual clock, without sleeping for real. */
static pthread_cond_t never = PTHREAD_COND_INITIALIZER;

static void *wait_100ms(void *arg)
{
	int *rc = arg;
	struct timespec now, deadline;
	clock_gettime(CLOCK_REALTIME, &now);
	deadline = now;
	deadline.tv_nsec += 100000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&counter_mu);
	*rc = pthread_cond_timedwait(&never, &counter_mu, &deadline);
	pthread_mutex_unlock(&counter_mu);
	struct timespec after;
	clock_gettime(CLOCK_REALTIME, &after);
	long long waited = (after.tv_sec - now.tv_sec) * 1000000000LL + after.tv_nsec - now.tv_nsec;
	rc[1] = waited >= 100000000LL && waited < 101000000LL;
	return NULL;
}

static void test_timed_wait_runs_on_the_virtual_clock(void **state)
{
	(void)state;
	int rc[2] = { 0, 0 };
	void *args[1] = { rc };
	struct timespec t0, t1;
	sched_real_clock(CLOCK_MONOTONIC, &t0);
	configure("random");
	sched_trial_begin(7);
	round_of(1, wait_100ms, args);
	sched_real_clock(CLOCK_MONOTONIC, &t1);
	assert_int_equal(rc[0], ETIMEDOUT);
	assert_int_equal(rc[1], 1); /* 100 ms passed on the virtual clock */
	double real = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	if (real > 0.05)
		fail_msg("the timed wait took %.3f s of real time", real);
}

static void test_bad_strategies_are_refused(void **state)
{
	(void)state;
	assert_int_equal(sched_configure("pct:0", 0, NULL, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "D must be from 1 to 16"));
	assert_int_equal(sched_configure("replay:A-B", 0, NULL, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "a trace is letters"));
	assert_int_equal(sched_configure("fair", 0, NULL, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "unknown strategy 'fair'"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_forced_trace_loses_an_update),
		cmocka_unit_test(test_strategies_on_both_counters),
		cmocka_unit_test(test_prefix_then_no_preemption),
		cmocka_unit_test(test_deadlock_is_reported),
		cmocka_unit_test(test_timed_wait_runs_on_the_virtual_clock),
		cmocka_unit_test(test_bad_strategies_are_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
