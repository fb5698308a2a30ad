/*
 * test_ledger.c: the revenue ledger's semantics.
 *
 * Built twice, against fixed/ledger.c and against broken/ledger.c. With
 * one thread the two ledgers must behave the same: the broken ledger is
 * only wrong when threads share it. The concurrent tests
 * (LEDGER_THREAD_SAFE) run only against the fixed ledger; there every
 * total is checked to the cent, since a correct ledger has no luck in it.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "ledger.h"

static void test_create_bounds(void **state)
{
	(void)state;
	assert_null(ledger_create(0));
	assert_null(ledger_create(-1));
	assert_null(ledger_create(LEDGER_ACCOUNTS_MAX + 1));
	struct ledger *l = ledger_create(LEDGER_ACCOUNTS_MAX);
	assert_non_null(l);
	assert_int_equal(ledger_accounts(l), LEDGER_ACCOUNTS_MAX);
	ledger_destroy(l);
	ledger_destroy(NULL); /* like free(NULL) */
}

static void test_new_ledger_is_zero(void **state)
{
	(void)state;
	struct ledger *l = ledger_create(3);
	assert_non_null(l);
	assert_int_equal(ledger_accounts(l), 3);
	for (int a = 0; a < 3; a++)
		assert_int_equal(ledger_total(l, a), 0);
	assert_int_equal(ledger_sum(l), 0);
	ledger_destroy(l);
}

static void test_add_accumulates_per_account(void **state)
{
	(void)state;
	struct ledger *l = ledger_create(3);
	assert_true(ledger_add(l, 0, 4999));
	assert_true(ledger_add(l, 0, 1));
	assert_true(ledger_add(l, 2, 250));
	assert_int_equal(ledger_total(l, 0), 5000);
	assert_int_equal(ledger_total(l, 1), 0);
	assert_int_equal(ledger_total(l, 2), 250);
	assert_int_equal(ledger_sum(l), 5250);
	ledger_destroy(l);
}

static void test_refund_is_a_negative_add(void **state)
{
	(void)state;
	struct ledger *l = ledger_create(1);
	ledger_add(l, 0, 4999);
	assert_true(ledger_add(l, 0, -4999));
	assert_int_equal(ledger_total(l, 0), 0);
	assert_true(ledger_add(l, 0, -100)); /* a refund may exceed the day's takings */
	assert_int_equal(ledger_total(l, 0), -100);
	assert_int_equal(ledger_sum(l), -100);
	ledger_destroy(l);
}

static void test_unknown_account_is_refused(void **state)
{
	(void)state;
	struct ledger *l = ledger_create(2);
	assert_false(ledger_add(l, 2, 100));
	assert_false(ledger_add(l, -1, 100));
	assert_int_equal(ledger_total(l, 2), 0);
	assert_int_equal(ledger_total(l, -1), 0);
	assert_int_equal(ledger_sum(l), 0); /* nothing was written anywhere */
	ledger_destroy(l);
}

/* Totals far beyond 32 bits: a year of a large merchant's revenue. */
static void test_large_totals(void **state)
{
	(void)state;
	struct ledger *l = ledger_create(2);
	for (int i = 0; i < 1000; i++)
		ledger_add(l, 1, 100000000000LL); /* a billion dollars, a thousand times */
	assert_int_equal(ledger_total(l, 1), 100000000000000LL);
	assert_int_equal(ledger_sum(l), 100000000000000LL);
	ledger_destroy(l);
}

#ifdef LEDGER_THREAD_SAFE
#define NTHREADS 4
#define NADDS	 200000
#define NACCTS	 3

struct worker_arg {
	struct ledger *l;
	int tid;
};

/* Thread t adds (t + 1) cents to account k % NACCTS on its k-th add, and
 * refunds 1 cent from account 0 every 100th add, so every thread hits
 * every account, all of them at once, and the exact totals are known. */
static void *worker(void *p)
{
	struct worker_arg *a = p;
	for (int k = 0; k < NADDS; k++) {
		ledger_add(a->l, k % NACCTS, a->tid + 1);
		if (k % 100 == 0)
			ledger_add(a->l, 0, -1);
	}
	return NULL;
}

static void test_concurrent_adds_all_count(void **state)
{
	(void)state;
	struct ledger *l = ledger_create(NACCTS);
	pthread_t t[NTHREADS];
	struct worker_arg a[NTHREADS];
	for (int i = 0; i < NTHREADS; i++) {
		a[i] = (struct worker_arg){ l, i };
		assert_int_equal(pthread_create(&t[i], NULL, worker, &a[i]), 0);
	}
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(t[i], NULL);
	/* Per thread, account k gets the adds with index = k mod NACCTS. */
	int64_t per_thread_cents = 1 + 2 + 3 + 4; /* sum of tid + 1 */
	int64_t want[NACCTS];
	for (int k = 0; k < NACCTS; k++)
		want[k] = (int64_t)((NADDS - k + NACCTS - 1) / NACCTS) * per_thread_cents;
	want[0] -= (int64_t)NTHREADS * ((NADDS + 99) / 100);
	int64_t sum = 0;
	for (int k = 0; k < NACCTS; k++) {
		assert_int_equal(ledger_total(l, k), want[k]);
		sum += want[k];
	}
	assert_int_equal(ledger_sum(l), sum);
	ledger_destroy(l);
}

/* Every thread adds to one account: the most contended case. */
static void *one_account(void *p)
{
	struct ledger *l = p;
	for (int k = 0; k < NADDS; k++)
		ledger_add(l, 0, 1);
	return NULL;
}

static void test_concurrent_one_account(void **state)
{
	(void)state;
	struct ledger *l = ledger_create(1);
	pthread_t t[NTHREADS];
	for (int i = 0; i < NTHREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, one_account, l), 0);
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(ledger_total(l, 0), (int64_t)NTHREADS * NADDS);
	ledger_destroy(l);
}
#endif

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_bounds),
		cmocka_unit_test(test_new_ledger_is_zero),
		cmocka_unit_test(test_add_accumulates_per_account),
		cmocka_unit_test(test_refund_is_a_negative_add),
		cmocka_unit_test(test_unknown_account_is_refused),
		cmocka_unit_test(test_large_totals),
#ifdef LEDGER_THREAD_SAFE
		cmocka_unit_test(test_concurrent_adds_all_count),
		cmocka_unit_test(test_concurrent_one_account),
#endif
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
