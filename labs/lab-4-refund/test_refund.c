/*
 * test_refund.c: refunds between accounts, their semantics.
 *
 * Built twice, against fixed/refund.c and against broken/refund.c. With
 * one thread the two must behave the same: the broken bank only deadlocks
 * when two threads transfer in opposite directions at once, which one
 * thread cannot do. The concurrent tests (REFUND_THREAD_SAFE) run only
 * against the fixed bank, whose locks make every outcome exact: a
 * deadlock there would hang the test, and make test's time limit would
 * report it.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "refund.h"

static void test_create_bounds(void **state)
{
	(void)state;
	assert_null(refund_bank_create(0, 100));
	assert_null(refund_bank_create(-1, 100));
	assert_null(refund_bank_create(REFUND_ACCOUNTS_MAX + 1, 100));
	assert_null(refund_bank_create(2, -1));
	struct refund_bank *b = refund_bank_create(REFUND_ACCOUNTS_MAX, 0);
	assert_non_null(b);
	assert_int_equal(refund_accounts(b), REFUND_ACCOUNTS_MAX);
	refund_bank_destroy(b);
	refund_bank_destroy(NULL); /* like free(NULL) */
}

static void test_new_bank_holds_the_opening(void **state)
{
	(void)state;
	struct refund_bank *b = refund_bank_create(3, 5000);
	assert_non_null(b);
	for (int a = 0; a < 3; a++)
		assert_int_equal(refund_balance(b, a), 5000);
	assert_int_equal(refund_total(b), 15000);
	assert_int_equal(refund_balance(b, 3), 0);
	assert_int_equal(refund_balance(b, -1), 0);
	refund_bank_destroy(b);
}

static void test_transfer_moves_money(void **state)
{
	(void)state;
	struct refund_bank *b = refund_bank_create(3, 10000);
	assert_int_equal(refund_transfer(b, 0, 2, 2599), REFUND_OK);
	assert_int_equal(refund_balance(b, 0), 7401);
	assert_int_equal(refund_balance(b, 1), 10000);
	assert_int_equal(refund_balance(b, 2), 12599);
	assert_int_equal(refund_total(b), 30000);
	refund_bank_destroy(b);
}

/* Both directions, from a higher account to a lower one too: one thread
 * never deadlocks, whatever order the locks are taken in. */
static void test_both_directions(void **state)
{
	(void)state;
	struct refund_bank *b = refund_bank_create(2, 100);
	for (int i = 0; i < 1000; i++) {
		assert_int_equal(refund_transfer(b, 0, 1, 7), REFUND_OK);
		assert_int_equal(refund_transfer(b, 1, 0, 7), REFUND_OK);
	}
	assert_int_equal(refund_balance(b, 0), 100);
	assert_int_equal(refund_balance(b, 1), 100);
	assert_int_equal(refund_transfer(b, 1, 0, 60), REFUND_OK);
	assert_int_equal(refund_balance(b, 0), 160);
	assert_int_equal(refund_balance(b, 1), 40);
	refund_bank_destroy(b);
}

static void test_refusals_change_nothing(void **state)
{
	(void)state;
	struct refund_bank *b = refund_bank_create(2, 500);
	assert_int_equal(refund_transfer(b, 0, 2, 1), REFUND_NO_ACCOUNT);
	assert_int_equal(refund_transfer(b, -1, 0, 1), REFUND_NO_ACCOUNT);
	/* Same account: refused, and it must return rather than lock one
	 * mutex twice. */
	assert_int_equal(refund_transfer(b, 1, 1, 1), REFUND_SAME_ACCOUNT);
	assert_int_equal(refund_transfer(b, 0, 1, 0), REFUND_BAD_AMOUNT);
	assert_int_equal(refund_transfer(b, 0, 1, -100), REFUND_BAD_AMOUNT);
	assert_int_equal(refund_transfer(b, 0, 1, 501), REFUND_INSUFFICIENT);
	assert_int_equal(refund_balance(b, 0), 500);
	assert_int_equal(refund_balance(b, 1), 500);
	/* The whole balance may go: exactly enough is enough. */
	assert_int_equal(refund_transfer(b, 0, 1, 500), REFUND_OK);
	assert_int_equal(refund_balance(b, 0), 0);
	assert_int_equal(refund_balance(b, 1), 1000);
	assert_int_equal(refund_transfer(b, 0, 1, 1), REFUND_INSUFFICIENT);
	assert_int_equal(refund_total(b), 1000);
	refund_bank_destroy(b);
}

/* Balances far beyond 32 bits. */
static void test_large_amounts(void **state)
{
	(void)state;
	struct refund_bank *b = refund_bank_create(2, 100000000000000LL);
	assert_int_equal(refund_transfer(b, 1, 0, 99999999999999LL), REFUND_OK);
	assert_int_equal(refund_balance(b, 0), 199999999999999LL);
	assert_int_equal(refund_balance(b, 1), 1);
	assert_int_equal(refund_total(b), 200000000000000LL);
	refund_bank_destroy(b);
}

static void test_status_names(void **state)
{
	(void)state;
	assert_string_equal(refund_status_name(REFUND_OK), "ok");
	assert_string_equal(refund_status_name(REFUND_INSUFFICIENT), "insufficient funds");
	assert_string_equal(refund_status_name((enum refund_status)99), "unknown status");
}

#ifdef REFUND_THREAD_SAFE
#define NOPS 200000

struct worker_arg {
	struct refund_bank *b;
	int from, to;
	int64_t cents;
	long ok, insufficient;
};

static void *worker(void *p)
{
	struct worker_arg *a = p;
	for (int k = 0; k < NOPS; k++) {
		enum refund_status st = refund_transfer(a->b, a->from, a->to, a->cents);
		if (st == REFUND_OK)
			a->ok++;
		else if (st == REFUND_INSUFFICIENT)
			a->insufficient++;
	}
	return NULL;
}

static void run_workers(struct worker_arg *a, int n)
{
	pthread_t t[8];
	for (int i = 0; i < n; i++)
		assert_int_equal(pthread_create(&t[i], NULL, worker, &a[i]), 0);
	for (int i = 0; i < n; i++)
		pthread_join(t[i], NULL);
}

/* The lab's deadlock: threads moving money in opposite directions
 * between the same two accounts. Each account opens with enough for every
 * transfer out of it, so none is refused and the end is exact: equal
 * flows both ways leave both balances where they began. */
static void test_opposite_transfers_finish(void **state)
{
	(void)state;
	struct refund_bank *b = refund_bank_create(2, 2LL * NOPS * 3);
	struct worker_arg a[4];
	for (int i = 0; i < 4; i++)
		a[i] = (struct worker_arg){ b, i % 2, 1 - i % 2, 3, 0, 0 };
	run_workers(a, 4);
	for (int i = 0; i < 4; i++)
		assert_int_equal(a[i].ok, NOPS);
	assert_int_equal(refund_balance(b, 0), 2LL * NOPS * 3);
	assert_int_equal(refund_balance(b, 1), 2LL * NOPS * 3);
	refund_bank_destroy(b);
}

/* A cycle of three: 0 -> 1, 1 -> 2, 2 -> 0. Locking source-first, each
 * thread could hold its source and wait for the next thread's: a three-way
 * deadlock (the dining philosophers). The global order breaks it too. */
static void test_ring_of_three_finishes(void **state)
{
	(void)state;
	struct refund_bank *b = refund_bank_create(3, (int64_t)NOPS * 5);
	struct worker_arg a[3];
	for (int i = 0; i < 3; i++)
		a[i] = (struct worker_arg){ b, i, (i + 1) % 3, 5, 0, 0 };
	run_workers(a, 3);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(a[i].ok, NOPS);
		assert_int_equal(refund_balance(b, i), (int64_t)NOPS * 5);
	}
	refund_bank_destroy(b);
}

/* Four threads draining one account of 1000 cents, a cent at a time, into
 * two others: the balance check and the debit are one step under the
 * locks, so exactly 1000 transfers succeed, whoever makes them, and
 * nothing is overdrawn. */
static void test_no_overdraft_under_contention(void **state)
{
	(void)state;
	struct refund_bank *b = refund_bank_create(3, 1000);
	struct worker_arg a[4];
	for (int i = 0; i < 4; i++)
		a[i] = (struct worker_arg){ b, 0, 1 + i % 2, 1, 0, 0 };
	run_workers(a, 4);
	long ok = 0, refused = 0;
	for (int i = 0; i < 4; i++) {
		ok += a[i].ok;
		refused += a[i].insufficient;
	}
	assert_int_equal(ok, 1000);
	assert_int_equal(refused, 4L * NOPS - 1000);
	assert_int_equal(refund_balance(b, 0), 0);
	assert_int_equal(refund_balance(b, 1), 1000 + a[0].ok + a[2].ok);
	assert_int_equal(refund_balance(b, 2), 1000 + a[1].ok + a[3].ok);
	assert_int_equal(refund_total(b), 3000);
	refund_bank_destroy(b);
}
#endif

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_bounds),
		cmocka_unit_test(test_new_bank_holds_the_opening),
		cmocka_unit_test(test_transfer_moves_money),
		cmocka_unit_test(test_both_directions),
		cmocka_unit_test(test_refusals_change_nothing),
		cmocka_unit_test(test_large_amounts),
		cmocka_unit_test(test_status_names),
#ifdef REFUND_THREAD_SAFE
		cmocka_unit_test(test_opposite_transfers_finish),
		cmocka_unit_test(test_ring_of_three_finishes),
		cmocka_unit_test(test_no_overdraft_under_contention),
#endif
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
