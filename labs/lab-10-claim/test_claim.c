/*
 * test_claim.c: the claim's semantics.
 *
 * Built twice, against fixed/claim.c and against broken/claim.c. With one
 * thread, or with threads that take turns, the two must behave the same:
 * the broken claim is only wrong when both workers raise their flags at
 * the same moment. The concurrent test (CLAIM_THREAD_SAFE) runs only
 * against the fixed claim; there no payment may be charged twice, since a
 * correct claim has no luck in it.
 */
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "claim.h"

static void test_alone_is_granted(void **state)
{
	(void)state;
	struct claim *c = claim_create();
	assert_non_null(c);
	assert_true(claim_try(c, CLAIM_PRIMARY));
	claim_release(c, CLAIM_PRIMARY);
	assert_true(claim_try(c, CLAIM_FAILOVER));
	claim_release(c, CLAIM_FAILOVER);
	claim_destroy(c);
	claim_destroy(NULL);
}

/* While one side holds the claim the other is refused, and a refusal
 * leaves nothing behind: once the holder releases, either side is granted. */
static void test_held_refuses_the_other(void **state)
{
	(void)state;
	struct claim *c = claim_create();
	assert_true(claim_try(c, CLAIM_PRIMARY));
	assert_false(claim_try(c, CLAIM_FAILOVER));
	assert_false(claim_try(c, CLAIM_FAILOVER));
	claim_release(c, CLAIM_PRIMARY);
	assert_true(claim_try(c, CLAIM_PRIMARY)); /* the failover backed off */
	claim_release(c, CLAIM_PRIMARY);
	assert_true(claim_try(c, CLAIM_FAILOVER));
	assert_false(claim_try(c, CLAIM_PRIMARY));
	claim_release(c, CLAIM_FAILOVER);
	assert_true(claim_try(c, CLAIM_PRIMARY));
	claim_release(c, CLAIM_PRIMARY);
	claim_destroy(c);
}

static void test_reset_lowers_both(void **state)
{
	(void)state;
	struct claim *c = claim_create();
	assert_true(claim_try(c, CLAIM_PRIMARY));
	claim_reset(c); /* the holder never released: a new payment */
	assert_true(claim_try(c, CLAIM_FAILOVER));
	claim_reset(c);
	assert_true(claim_try(c, CLAIM_PRIMARY));
	claim_release(c, CLAIM_PRIMARY);
	claim_destroy(c);
}

#ifdef CLAIM_THREAD_SAFE
#define NPAY 20000

static struct claim *claims[NPAY];
static int charged[NPAY][2];
static int settled[NPAY];
static atomic_long arrived;

/* Both workers leave the spin barrier together for every payment, as in
 * the stress driver's workload; a worker that is alone charges it. */
static void *worker(void *p)
{
	enum claim_side side = (enum claim_side)(intptr_t)p;
	for (long k = 0; k < NPAY; k++) {
		atomic_fetch_add(&arrived, 1);
		for (long spins = 1; atomic_load(&arrived) < 2 * (k + 1); spins++)
			if (spins % 256 == 0)
				sched_yield();
		if (claim_try(claims[k], side)) {
			if (!settled[k]) {
				charged[k][side] = 1;
				settled[k] = 1;
			}
			claim_release(claims[k], side);
		}
	}
	return NULL;
}

/* No payment is charged twice, however the two workers meet. */
static void test_concurrent_never_twice(void **state)
{
	(void)state;
	for (int k = 0; k < NPAY; k++) {
		claims[k] = claim_create();
		assert_non_null(claims[k]);
	}
	pthread_t a, b;
	assert_int_equal(pthread_create(&a, NULL, worker, (void *)(intptr_t)CLAIM_PRIMARY), 0);
	assert_int_equal(pthread_create(&b, NULL, worker, (void *)(intptr_t)CLAIM_FAILOVER), 0);
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	int twice = 0;
	for (int k = 0; k < NPAY; k++) {
		twice += charged[k][0] && charged[k][1];
		claim_destroy(claims[k]);
	}
	assert_int_equal(twice, 0);
}
#endif

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_alone_is_granted),
		cmocka_unit_test(test_held_refuses_the_other),
		cmocka_unit_test(test_reset_lowers_both),
#ifdef CLAIM_THREAD_SAFE
		cmocka_unit_test(test_concurrent_never_twice),
#endif
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
