/*
 * test_gwclient.c: the lazily built gateway client's semantics.
 *
 * Built twice, against fixed/gwclient.c and against broken/gwclient.c.
 * With one thread the two must behave the same: the broken client is only
 * wrong when threads share a slot. The concurrent tests
 * (GWCLIENT_THREAD_SAFE) run only against the fixed client; there every
 * outcome is checked exactly (one build per slot, every caller handed the
 * same complete client), since a correct slot has no luck in it.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "gwclient.h"

static void assert_complete(const struct gwclient *c, const char *merchant)
{
	char err[256];
	int problems = gwclient_check(c, merchant, err, sizeof(err));
	if (problems)
		fail_msg("gwclient_check(%s): %d problem(s): %s", merchant, problems, err);
}

static void test_first_get_builds(void **state)
{
	(void)state;
	struct gwclient_lazy *l = gwclient_lazy_create("merchant-1", 4);
	assert_non_null(l);
	assert_int_equal(gwclient_lazy_constructions(l), 0);
	const struct gwclient *c = gwclient_get(l);
	assert_non_null(c);
	assert_int_equal(gwclient_lazy_constructions(l), 1);
	assert_complete(c, "merchant-1");
	assert_string_equal(c->merchant, "merchant-1");
	assert_string_equal(c->endpoint, "https://gateway.example/v2/merchants/merchant-1/charges");
	assert_int_equal(c->timeout_ms, 2500);
	assert_int_equal(c->max_charge_cents, 1000000);
	assert_true(c->magic == GWCLIENT_MAGIC);
	gwclient_lazy_destroy(l);
}

static void test_later_gets_reuse(void **state)
{
	(void)state;
	struct gwclient_lazy *l = gwclient_lazy_create("merchant-2", 4);
	const struct gwclient *a = gwclient_get(l);
	uint64_t key0 = a->keys[0];
	for (int i = 0; i < 100; i++)
		assert_ptr_equal(gwclient_get(l), a);
	assert_int_equal(gwclient_lazy_constructions(l), 1);
	assert_true(a->keys[0] == key0);
	gwclient_lazy_destroy(l);
}

static void test_reset_builds_again(void **state)
{
	(void)state;
	struct gwclient_lazy *l = gwclient_lazy_create("merchant-3", 4);
	const struct gwclient *c = gwclient_get(l);
	uint64_t key5 = c->keys[5];
	gwclient_lazy_reset(l);
	assert_int_equal(gwclient_lazy_constructions(l), 0);
	assert_true(c->magic != GWCLIENT_MAGIC); /* a reset client is not a built one */
	c = gwclient_get(l);
	gwclient_get(l);
	assert_int_equal(gwclient_lazy_constructions(l), 1);
	assert_complete(c, "merchant-3");
	assert_true(c->keys[5] == key5); /* the same merchant derives the same keys */
	gwclient_lazy_destroy(l);
}

/* Keys depend on the merchant and on the rounds, and none is 0. */
static void test_keys(void **state)
{
	(void)state;
	struct gwclient_lazy *a = gwclient_lazy_create("merchant-a", 4);
	struct gwclient_lazy *b = gwclient_lazy_create("merchant-b", 4);
	struct gwclient_lazy *a8 = gwclient_lazy_create("merchant-a", 8);
	const struct gwclient *ca = gwclient_get(a), *cb = gwclient_get(b), *ca8 = gwclient_get(a8);
	for (int i = 0; i < GWCLIENT_NKEYS; i++) {
		assert_true(ca->keys[i] != 0);
		assert_true(ca->keys[i] != cb->keys[i]);
		assert_true(ca->keys[i] != ca8->keys[i]);
	}
	gwclient_lazy_destroy(a);
	gwclient_lazy_destroy(b);
	gwclient_lazy_destroy(a8);
}

static void test_merchant_length(void **state)
{
	(void)state;
	char id[GWCLIENT_MERCHANT_MAX + 1];
	memset(id, 'm', sizeof(id) - 1);
	id[sizeof(id) - 1] = '\0';
	assert_null(gwclient_lazy_create(id, 4));	       /* one byte too long */
	id[GWCLIENT_MERCHANT_MAX - 1] = '\0';		       /* the longest that fits */
	struct gwclient_lazy *l = gwclient_lazy_create(id, 0); /* rounds clamp to 1 */
	assert_non_null(l);
	assert_complete(gwclient_get(l), id);
	gwclient_lazy_destroy(l);
	gwclient_lazy_destroy(NULL);
}

/* The check is what the stress driver relies on to see a half-built
 * client: every kind of damage must fail it. */
static void test_check_finds_damage(void **state)
{
	(void)state;
	char err[256];
	struct gwclient_lazy *l = gwclient_lazy_create("merchant-4", 4);
	struct gwclient c = *gwclient_get(l), bad;

	assert_int_equal(gwclient_check(&c, "merchant-4", err, sizeof(err)), 0);
	assert_string_equal(err, "");
	assert_int_not_equal(gwclient_check(&c, "merchant-5", err, sizeof(err)), 0);

	bad = c;
	bad.magic = 0;
	assert_int_equal(gwclient_check(&bad, "merchant-4", err, sizeof(err)), 1);
	assert_non_null(strstr(err, "not completely built"));

	bad = c;
	bad.keys[GWCLIENT_NKEYS - 1] = 0;
	assert_int_equal(gwclient_check(&bad, "merchant-4", err, sizeof(err)), 1);
	bad = c;
	bad.keys[3] ^= 4;
	assert_int_equal(gwclient_check(&bad, "merchant-4", err, sizeof(err)), 1);
	bad = c;
	bad.endpoint[10] = 'X';
	assert_int_equal(gwclient_check(&bad, "merchant-4", err, sizeof(err)), 1);
	bad = c;
	bad.timeout_ms = 0;
	assert_int_equal(gwclient_check(&bad, "merchant-4", err, sizeof(err)), 1);

	memset(&bad, 0, sizeof(bad)); /* what a second build leaves at first */
	assert_true(gwclient_check(&bad, "merchant-4", err, sizeof(err)) >= 4);
	assert_non_null(strstr(err, "magic is 0"));
	gwclient_lazy_destroy(l);
}

#ifdef GWCLIENT_THREAD_SAFE
#define NTHREADS 4
#define NSLOTS	 500
#define ROUNDS	 20

static struct gwclient_lazy *slots[NSLOTS];
static pthread_barrier_t start;

struct worker_arg {
	const struct gwclient *got[NSLOTS]; /* what this thread was handed */
	int bad;			    /* clients that failed the check */
};

/* Every thread gets every slot, in the same order, from the same start:
 * the pattern that builds a slot twice when the check is not atomic. */
static void *worker(void *p)
{
	struct worker_arg *a = p;
	char merchant[32], err[256];
	pthread_barrier_wait(&start);
	for (int k = 0; k < NSLOTS; k++) {
		a->got[k] = gwclient_get(slots[k]);
		snprintf(merchant, sizeof(merchant), "merchant-%d", k);
		if (gwclient_check(a->got[k], merchant, err, sizeof(err)) != 0)
			a->bad++;
	}
	return NULL;
}

static void test_concurrent_builds_once(void **state)
{
	(void)state;
	char merchant[32];
	for (int k = 0; k < NSLOTS; k++) {
		snprintf(merchant, sizeof(merchant), "merchant-%d", k);
		slots[k] = gwclient_lazy_create(merchant, 16);
		assert_non_null(slots[k]);
	}
	static struct worker_arg a[NTHREADS];
	for (int round = 0; round < ROUNDS; round++) {
		for (int k = 0; k < NSLOTS; k++)
			gwclient_lazy_reset(slots[k]);
		assert_int_equal(pthread_barrier_init(&start, NULL, NTHREADS), 0);
		pthread_t t[NTHREADS];
		for (int i = 0; i < NTHREADS; i++) {
			memset(&a[i], 0, sizeof(a[i]));
			assert_int_equal(pthread_create(&t[i], NULL, worker, &a[i]), 0);
		}
		for (int i = 0; i < NTHREADS; i++)
			pthread_join(t[i], NULL);
		pthread_barrier_destroy(&start);
		for (int i = 0; i < NTHREADS; i++)
			assert_int_equal(a[i].bad, 0);
		for (int k = 0; k < NSLOTS; k++) {
			assert_int_equal(gwclient_lazy_constructions(slots[k]), 1);
			for (int i = 1; i < NTHREADS; i++)
				assert_ptr_equal(a[i].got[k], a[0].got[k]);
		}
	}
	for (int k = 0; k < NSLOTS; k++)
		gwclient_lazy_destroy(slots[k]);
}
#endif

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_first_get_builds),
		cmocka_unit_test(test_later_gets_reuse),
		cmocka_unit_test(test_reset_builds_again),
		cmocka_unit_test(test_keys),
		cmocka_unit_test(test_merchant_length),
		cmocka_unit_test(test_check_finds_damage),
#ifdef GWCLIENT_THREAD_SAFE
		cmocka_unit_test(test_concurrent_builds_once),
#endif
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
