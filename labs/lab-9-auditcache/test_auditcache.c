/*
 * test_auditcache.c: the payment counts' and the audit log's semantics.
 *
 * Built twice, against fixed/auditcache.c and against broken/auditcache.c
 * (with common/auditlog.c). With one thread the two caches must behave the
 * same, log included: the broken cache is only wrong when threads share
 * it. The concurrent tests (AUDITCACHE_THREAD_SAFE) run only against the
 * fixed cache, at every verbosity, and check every count and every cent.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "auditcache.h"
#include "auditlog.h"

static void test_create_bounds(void **state)
{
	(void)state;
	struct auditlog *log = auditlog_create(8);
	assert_non_null(log);
	assert_null(auditcache_create(0, log, AUDITCACHE_LOG_ALL));
	assert_null(auditcache_create(AUDITCACHE_USERS_MAX + 1, log, AUDITCACHE_LOG_ALL));
	assert_null(auditcache_create(4, log, -1));
	assert_null(auditcache_create(4, log, AUDITCACHE_LOG_ALL + 1));
	assert_null(auditcache_create(4, NULL, AUDITCACHE_LOG_SAMPLED)); /* nowhere to log */
	struct auditcache *c = auditcache_create(4, NULL, AUDITCACHE_LOG_NONE);
	assert_non_null(c);
	assert_int_equal(auditcache_users(c), 4);
	assert_true(auditcache_record(c, 3, 100)); /* never logs, so no log is fine */
	auditcache_destroy(c);
	auditcache_destroy(NULL); /* like free(NULL) */
	auditlog_destroy(log);
	auditlog_destroy(NULL);
}

static void test_record_counts_and_sums(void **state)
{
	(void)state;
	struct auditlog *log = auditlog_create(8);
	struct auditcache *c = auditcache_create(3, log, AUDITCACHE_LOG_NONE);
	struct auditcache_entry e;
	assert_true(auditcache_get(c, 1, &e));
	assert_int_equal(e.payments, 0);
	assert_int_equal(e.cents, 0);
	assert_true(auditcache_record(c, 1, 4999));
	assert_true(auditcache_record(c, 1, 1));
	assert_true(auditcache_record(c, 2, -250)); /* a refund */
	auditcache_get(c, 1, &e);
	assert_int_equal(e.payments, 2);
	assert_int_equal(e.cents, 5000);
	auditcache_get(c, 2, &e);
	assert_int_equal(e.payments, 1);
	assert_int_equal(e.cents, -250);
	auditcache_get(c, 0, &e);
	assert_int_equal(e.payments, 0);
	assert_int_equal(auditlog_count(log), 0); /* verbosity 0 never logs */
	auditcache_destroy(c);
	auditlog_destroy(log);
}

static void test_unknown_user_is_refused(void **state)
{
	(void)state;
	struct auditlog *log = auditlog_create(8);
	struct auditcache *c = auditcache_create(2, log, AUDITCACHE_LOG_ALL);
	struct auditcache_entry e = { 7, 7 };
	assert_false(auditcache_record(c, 2, 100));
	assert_false(auditcache_record(c, -1, 100));
	assert_false(auditcache_get(c, 2, &e));
	assert_int_equal(e.payments, 0);
	assert_int_equal(e.cents, 0);
	assert_int_equal(auditlog_count(log), 0); /* nothing recorded, nothing logged */
	auditcache_destroy(c);
	auditlog_destroy(log);
}

static void test_verbosity_all_logs_every_payment(void **state)
{
	(void)state;
	struct auditlog *log = auditlog_create(8);
	struct auditcache *c = auditcache_create(2, log, AUDITCACHE_LOG_ALL);
	auditcache_record(c, 0, 4999);
	auditcache_record(c, 0, 150);
	assert_int_equal(auditlog_count(log), 2);
	char line[AUDITLOG_LINE_MAX];
	assert_true(auditlog_line(log, 0, line, sizeof(line)));
	assert_string_equal(line, "user 0: payment 1, 4999 cents");
	assert_true(auditlog_line(log, 1, line, sizeof(line)));
	assert_string_equal(line, "user 0: payment 2, 150 cents");
	assert_false(auditlog_line(log, 2, line, sizeof(line))); /* not written yet */
	assert_string_equal(line, "");
	auditcache_destroy(c);
	auditlog_destroy(log);
}

/* Verbosity 1 counts per thread; this test runs on one new thread so that
 * the count starts at zero whatever other tests did on the main thread. */
static void *sampled(void *p)
{
	struct auditcache *c = p;
	for (int i = 0; i < 5 * AUDITCACHE_LOG_EVERY + 3; i++)
		auditcache_record(c, i % 2, 1);
	return NULL;
}

static void test_verbosity_sampled_logs_every_16th(void **state)
{
	(void)state;
	struct auditlog *log = auditlog_create(64);
	struct auditcache *c = auditcache_create(2, log, AUDITCACHE_LOG_SAMPLED);
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, sampled, c), 0);
	pthread_join(t, NULL);
	assert_int_equal(auditlog_count(log), 5);
	char line[AUDITLOG_LINE_MAX];
	assert_true(auditlog_line(log, 0, line, sizeof(line)));
	/* The 16th record went to user 1 (i = 15), its 8th payment. */
	assert_string_equal(line, "user 1: payment 8, 1 cents");
	auditcache_destroy(c);
	auditlog_destroy(log);
}

static void test_log_ring_keeps_the_last_lines(void **state)
{
	(void)state;
	struct auditlog *log = auditlog_create(3);
	for (int i = 0; i < 5; i++)
		auditlog_write(log, "line %d", i);
	assert_int_equal(auditlog_count(log), 5);
	char line[AUDITLOG_LINE_MAX];
	assert_false(auditlog_line(log, 1, line, sizeof(line))); /* overwritten */
	for (int i = 2; i < 5; i++) {
		char want[16];
		snprintf(want, sizeof(want), "line %d", i);
		assert_true(auditlog_line(log, (uint64_t)i, line, sizeof(line)));
		assert_string_equal(line, want);
	}
	char longer[2 * AUDITLOG_LINE_MAX];
	memset(longer, 'x', sizeof(longer) - 1);
	longer[sizeof(longer) - 1] = '\0';
	auditlog_write(log, "%s", longer); /* cut, not overflowed */
	assert_true(auditlog_line(log, 5, line, sizeof(line)));
	assert_int_equal(strlen(line), AUDITLOG_LINE_MAX - 1);
	auditlog_destroy(log);
}

#ifdef AUDITCACHE_THREAD_SAFE
#define NTHREADS 4
#define NRECORDS 50000
#define NUSERS	 3

struct worker_arg {
	struct auditcache *c;
	int tid;
};

/* Thread t records (t + 1) cents for user k % NUSERS on its k-th record,
 * so every thread hits every user, all at once, and the exact entries are
 * known. */
static void *worker(void *p)
{
	struct worker_arg *a = p;
	for (int k = 0; k < NRECORDS; k++)
		auditcache_record(a->c, k % NUSERS, a->tid + 1);
	return NULL;
}

static void concurrent_at(int verbosity)
{
	struct auditlog *log = auditlog_create(1024);
	struct auditcache *c = auditcache_create(NUSERS, log, verbosity);
	pthread_t t[NTHREADS];
	struct worker_arg a[NTHREADS];
	for (int i = 0; i < NTHREADS; i++) {
		a[i] = (struct worker_arg){ c, i };
		assert_int_equal(pthread_create(&t[i], NULL, worker, &a[i]), 0);
	}
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(t[i], NULL);
	int64_t per_thread_cents = 1 + 2 + 3 + 4; /* sum of tid + 1 */
	for (int k = 0; k < NUSERS; k++) {
		int64_t n = (NRECORDS - k + NUSERS - 1) / NUSERS; /* per thread */
		struct auditcache_entry e;
		assert_true(auditcache_get(c, k, &e));
		assert_int_equal(e.payments, (uint64_t)(n * NTHREADS));
		assert_int_equal(e.cents, n * per_thread_cents);
	}
	uint64_t lines = verbosity == AUDITCACHE_LOG_ALL       ? NRECORDS
			 : verbosity == AUDITCACHE_LOG_SAMPLED ? NRECORDS / AUDITCACHE_LOG_EVERY
							       : 0;
	assert_int_equal(auditlog_count(log), lines * NTHREADS);
	auditcache_destroy(c);
	auditlog_destroy(log);
}

/* The fixed cache does not depend on the logger's lock: it is exact at
 * every verbosity, with no logging at all too. */
static void test_concurrent_verbosity_none(void **state)
{
	(void)state;
	concurrent_at(AUDITCACHE_LOG_NONE);
}

static void test_concurrent_verbosity_sampled(void **state)
{
	(void)state;
	concurrent_at(AUDITCACHE_LOG_SAMPLED);
}

static void test_concurrent_verbosity_all(void **state)
{
	(void)state;
	concurrent_at(AUDITCACHE_LOG_ALL);
}
#endif

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_bounds),
		cmocka_unit_test(test_record_counts_and_sums),
		cmocka_unit_test(test_unknown_user_is_refused),
		cmocka_unit_test(test_verbosity_all_logs_every_payment),
		cmocka_unit_test(test_verbosity_sampled_logs_every_16th),
		cmocka_unit_test(test_log_ring_keeps_the_last_lines),
#ifdef AUDITCACHE_THREAD_SAFE
		cmocka_unit_test(test_concurrent_verbosity_none),
		cmocka_unit_test(test_concurrent_verbosity_sampled),
		cmocka_unit_test(test_concurrent_verbosity_all),
#endif
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
