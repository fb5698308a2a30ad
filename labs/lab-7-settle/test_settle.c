/*
 * test_settle.c: the settlement queue's semantics.
 *
 * Built twice, against fixed/settle.c and against broken/settle.c. With
 * one thread the two must behave the same: the broken queue only loses a
 * wakeup when a producer and a worker run at once. The concurrent tests
 * (SETTLE_THREAD_SAFE) run only against the fixed queue; there every
 * outcome is checked exactly (every settlement taken once, in order, and
 * a sleeping worker always woken), and the worker's deadline is far
 * enough (30 s) that only a lost wakeup could reach it.
 */
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "settle.h"

static struct timespec in_ms(long ms)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	t.tv_sec += ms / 1000;
	t.tv_nsec += (ms % 1000) * 1000000L;
	if (t.tv_nsec >= 1000000000L) {
		t.tv_sec++;
		t.tv_nsec -= 1000000000L;
	}
	return t;
}

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void test_fifo(void **state)
{
	(void)state;
	struct settle_queue *q = settle_create(8);
	assert_non_null(q);
	assert_true(settle_submit(q, 101, 4999));
	assert_true(settle_submit(q, 102, 1));
	assert_true(settle_submit(q, 103, 1000000));
	assert_int_equal(settle_taken(q), 0);
	struct timespec d = in_ms(1000);
	struct settle_item it;
	assert_int_equal(settle_take(q, &d, &it), SETTLE_TAKEN);
	assert_int_equal(it.payment_id, 101);
	assert_int_equal(it.cents, 4999);
	assert_int_equal(settle_take(q, &d, &it), SETTLE_TAKEN);
	assert_int_equal(it.payment_id, 102);
	assert_int_equal(it.cents, 1);
	assert_int_equal(settle_take(q, &d, &it), SETTLE_TAKEN);
	assert_int_equal(it.payment_id, 103);
	assert_int_equal(it.cents, 1000000);
	assert_int_equal(settle_taken(q), 3);
	settle_destroy(q);
}

/* Nothing queued: the worker waits until the deadline, not less. */
static void test_timeout(void **state)
{
	(void)state;
	struct settle_queue *q = settle_create(4);
	struct settle_item it = { 7, 7 };
	double t0 = now_s();
	struct timespec d = in_ms(30);
	assert_int_equal(settle_take(q, &d, &it), SETTLE_TIMEOUT);
	assert_true(now_s() - t0 >= 0.029);
	assert_int_equal(it.payment_id, 7); /* untouched */
	d = in_ms(-1);			    /* already past: no wait at all */
	assert_int_equal(settle_take(q, &d, &it), SETTLE_TIMEOUT);
	assert_int_equal(settle_taken(q), 0);
	settle_destroy(q);
}

/* A full queue refuses; the ring wraps around many times. */
static void test_full_and_wrap(void **state)
{
	(void)state;
	struct settle_queue *q = settle_create(3);
	struct timespec d = in_ms(1000);
	struct settle_item it;
	uint64_t next_in = 1, next_out = 1;
	for (int lap = 0; lap < 100; lap++) {
		while (settle_submit(q, next_in, (int64_t)next_in * 3))
			next_in++;
		assert_int_equal(next_in - next_out, 3); /* exactly the capacity */
		int take = lap % 3 + 1;
		for (int i = 0; i < take; i++) {
			assert_int_equal(settle_take(q, &d, &it), SETTLE_TAKEN);
			assert_int_equal(it.payment_id, next_out);
			assert_int_equal(it.cents, (int64_t)next_out * 3);
			next_out++;
		}
	}
	assert_int_equal(settle_taken(q), next_out - 1);
	settle_destroy(q);

	q = settle_create(0); /* clamps to 1 */
	assert_non_null(q);
	assert_true(settle_submit(q, 1, 1));
	assert_false(settle_submit(q, 2, 2));
	settle_destroy(q);
	settle_destroy(NULL);
}

/* Closing refuses new settlements but lets the worker drain the queue. */
static void test_close_drains(void **state)
{
	(void)state;
	struct settle_queue *q = settle_create(4);
	assert_true(settle_submit(q, 1, 100));
	assert_true(settle_submit(q, 2, 200));
	settle_close(q);
	assert_false(settle_submit(q, 3, 300));
	struct timespec d = in_ms(10000);
	struct settle_item it;
	assert_int_equal(settle_take(q, &d, &it), SETTLE_TAKEN);
	assert_int_equal(it.payment_id, 1);
	assert_int_equal(settle_take(q, &d, &it), SETTLE_TAKEN);
	assert_int_equal(it.payment_id, 2);
	double t0 = now_s();
	assert_int_equal(settle_take(q, &d, &it), SETTLE_CLOSED); /* at once, not at d */
	assert_true(now_s() - t0 < 1.0);
	assert_int_equal(settle_taken(q), 2);
	settle_destroy(q);
}

#ifdef SETTLE_THREAD_SAFE
#define N 20000

struct worker_arg {
	struct settle_queue *q;
	long taken, out_of_order;
	int64_t cents;
	enum settle_status last;
};

/* Takes until the queue says stop; 30 s is far beyond any wait here, so
 * only a lost wakeup could make the worker reach it. */
static void *worker(void *p)
{
	struct worker_arg *a = p;
	struct timespec d = in_ms(30000);
	struct settle_item it;
	uint64_t want = 1;
	while ((a->last = settle_take(a->q, &d, &it)) == SETTLE_TAKEN) {
		a->out_of_order += it.payment_id != want;
		want = it.payment_id + 1;
		a->taken++;
		a->cents += it.cents;
	}
	return NULL;
}

/* The lab's pattern: one settlement at a time, each submitted as soon as
 * the worker has taken the one before, when it is about to sleep again. */
static void test_one_at_a_time(void **state)
{
	(void)state;
	struct settle_queue *q = settle_create(4);
	struct worker_arg a = { .q = q };
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, worker, &a), 0);
	int64_t cents = 0;
	for (uint64_t k = 1; k <= N; k++) {
		assert_true(settle_submit(q, k, (int64_t)(k % 997) + 1));
		cents += (int64_t)(k % 997) + 1;
		while (settle_taken(q) < k)
			; /* no deadline: the fixed queue always wakes the worker */
	}
	settle_close(q);
	pthread_join(t, NULL);
	assert_int_equal(a.last, SETTLE_CLOSED);
	assert_int_equal(a.taken, N);
	assert_int_equal(a.out_of_order, 0);
	assert_int_equal(a.cents, cents);
	settle_destroy(q);
}

/* A burst fills the queue: the producer retries when it is full. */
static void test_burst(void **state)
{
	(void)state;
	struct settle_queue *q = settle_create(8);
	struct worker_arg a = { .q = q };
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, worker, &a), 0);
	int64_t cents = 0;
	for (uint64_t k = 1; k <= N; k++) {
		while (!settle_submit(q, k, 5))
			sched_yield();
		cents += 5;
	}
	settle_close(q);
	pthread_join(t, NULL);
	assert_int_equal(a.last, SETTLE_CLOSED);
	assert_int_equal(a.taken, N);
	assert_int_equal(a.out_of_order, 0);
	assert_int_equal(a.cents, cents);
	settle_destroy(q);
}

/* A worker asleep on an empty queue is woken by a submission, and by a
 * close. */
static void test_sleeper_woken(void **state)
{
	(void)state;
	struct timespec nap = { 0, 20 * 1000000L };
	struct settle_queue *q = settle_create(2);
	struct worker_arg a = { .q = q };
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, worker, &a), 0);
	nanosleep(&nap, NULL); /* most likely asleep by now; correct either way */
	double t0 = now_s();
	assert_true(settle_submit(q, 1, 4999));
	while (settle_taken(q) < 1)
		;
	nanosleep(&nap, NULL);
	settle_close(q);
	pthread_join(t, NULL);
	assert_true(now_s() - t0 < 10.0);
	assert_int_equal(a.last, SETTLE_CLOSED);
	assert_int_equal(a.taken, 1);
	assert_int_equal(a.cents, 4999);
	settle_destroy(q);
}
#endif

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fifo),	      cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_full_and_wrap), cmocka_unit_test(test_close_drains),
#ifdef SETTLE_THREAD_SAFE
		cmocka_unit_test(test_one_at_a_time), cmocka_unit_test(test_burst),
		cmocka_unit_test(test_sleeper_woken),
#endif
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
