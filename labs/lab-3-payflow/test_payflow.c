/*
 * test_payflow.c: the process-payment flow's semantics, and the gateway's
 * books.
 *
 * Built twice, against fixed/payflow.c and against broken/payflow.c (both
 * over fixed/cache.c and common/gateway.c). With one thread the two flows
 * must behave the same: the broken flow is only wrong when two requests
 * for one user overlap. The concurrent flow tests (PAYFLOW_THREAD_SAFE)
 * run only against the fixed flow, and check exact outcomes: one charge
 * per user whatever the interleaving, so no run can pass by luck. The
 * gateway is the same in both builds and must be thread-safe in both, so
 * its concurrent test runs in both.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "cache.h"
#include "gateway.h"
#include "payflow.h"

struct env {
	struct cache *c;
	struct gateway *g;
	struct payflow *f;
};

static int setup(void **state)
{
	static struct env e;
	e.c = cache_create(16);
	e.g = gateway_create(64, 0);
	e.f = e.c && e.g ? payflow_create(e.c, e.g) : NULL;
	if (!e.f)
		return -1;
	*state = &e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;
	payflow_destroy(e->f);
	gateway_destroy(e->g);
	cache_destroy(e->c);
	return 0;
}

static long charges_of(struct gateway *g, const char *user)
{
	struct gateway_account a;
	gateway_account(g, user, &a);
	return a.charges;
}

static void test_first_request_charges(void **state)
{
	struct env *e = *state;
	struct cache_response out;
	assert_int_equal(payflow_process(e->f, "user-1", 4999, &out), PAYFLOW_CHARGED);
	assert_string_equal(out.user_id, "user-1");
	assert_string_equal(out.status, "success");
	assert_int_equal(out.amount_cents, 4999);
	struct gateway_account a;
	gateway_account(e->g, "user-1", &a);
	assert_int_equal(a.charges, 1);
	assert_int_equal(a.total_cents, 4999);
	assert_int_equal(out.request_id, a.last_charge);
	/* and the response is what the cache now holds */
	struct cache_response cached;
	assert_true(cache_get(e->c, "user-1", &cached));
	assert_memory_equal(&cached, &out, sizeof(out));
}

/* A repeated request is answered from the cache, whatever amount it
 * carries: the user has paid. */
static void test_repeat_is_not_charged(void **state)
{
	struct env *e = *state;
	struct cache_response first, again;
	assert_int_equal(payflow_process(e->f, "user-1", 4999, &first), PAYFLOW_CHARGED);
	assert_int_equal(payflow_process(e->f, "user-1", 4999, &again), PAYFLOW_CACHED);
	assert_memory_equal(&first, &again, sizeof(first));
	assert_int_equal(payflow_process(e->f, "user-1", 100, &again), PAYFLOW_CACHED);
	assert_int_equal(again.amount_cents, 4999);
	assert_int_equal(charges_of(e->g, "user-1"), 1);
	assert_int_equal(gateway_charges_total(e->g), 1);
}

static void test_users_are_charged_apart(void **state)
{
	struct env *e = *state;
	struct cache_response a, b;
	assert_int_equal(payflow_process(e->f, "user-a", 100, &a), PAYFLOW_CHARGED);
	assert_int_equal(payflow_process(e->f, "user-b", 250, &b), PAYFLOW_CHARGED);
	assert_int_not_equal(a.request_id, b.request_id);
	assert_int_equal(b.amount_cents, 250);
	assert_int_equal(charges_of(e->g, "user-a"), 1);
	assert_int_equal(charges_of(e->g, "user-b"), 1);
	assert_int_equal(charges_of(e->g, "user-c"), 0);
	assert_int_equal(gateway_charges_total(e->g), 2);
}

static void test_bad_requests_charge_nothing(void **state)
{
	struct env *e = *state;
	struct cache_response out, before;
	char longid[CACHE_USER_ID_MAX + 1];
	memset(longid, 'u', sizeof(longid) - 1);
	longid[sizeof(longid) - 1] = '\0';
	memset(&out, 0x5a, sizeof(out));
	before = out;
	assert_int_equal(payflow_process(e->f, "user-1", 0, &out), PAYFLOW_FAILED);
	assert_int_equal(payflow_process(e->f, "user-1", -5, &out), PAYFLOW_FAILED);
	assert_int_equal(payflow_process(e->f, "", 100, &out), PAYFLOW_FAILED);
	assert_int_equal(payflow_process(e->f, longid, 100, &out), PAYFLOW_FAILED);
	assert_memory_equal(&out, &before, sizeof(out)); /* untouched */
	assert_int_equal(gateway_charges_total(e->g), 0);
	assert_int_equal(cache_count(e->c), 0);
	/* the longest id that fits is charged */
	longid[CACHE_USER_ID_MAX - 1] = '\0';
	assert_int_equal(payflow_process(e->f, longid, 100, &out), PAYFLOW_CHARGED);
	assert_int_equal(charges_of(e->g, longid), 1);
}

/* A charge the gateway fails answers PAYFLOW_FAILED with *out untouched
 * and nothing stored; the retry that follows is charged, once. (A flow
 * that kept something of the failed request, a claim, a lock or a
 * placeholder, would hang or answer the retry wrongly here.) */
static void test_failed_charge_then_retry(void **state)
{
	(void)state;
	struct cache *c = cache_create(16);
	struct gateway *g = gateway_create(16, 0);
	struct payflow *f = c && g ? payflow_create(c, g) : NULL;
	assert_non_null(f);
	/* seed 3: the first 4 calls fail, the 5th books */
	struct gateway_faults faults = { .failure_ppm = 500000, .seed = 3 };
	gateway_set_faults(g, &faults);
	struct cache_response out, before;
	memset(&out, 0x5a, sizeof(out));
	before = out;
	int failures = 0;
	enum payflow_outcome o;
	while ((o = payflow_process(f, "user-1", 4999, &out)) == PAYFLOW_FAILED) {
		assert_memory_equal(&out, &before, sizeof(out)); /* untouched */
		assert_int_equal(cache_count(c), 0);
		assert_true(++failures < 64); /* a flow that never charges again */
	}
	assert_int_equal(o, PAYFLOW_CHARGED);
	assert_int_equal(failures, 4);
	assert_int_equal(charges_of(g, "user-1"), 1);
	assert_int_equal(payflow_process(f, "user-1", 4999, &out), PAYFLOW_CACHED);
	assert_int_equal(charges_of(g, "user-1"), 1);
	struct gateway_stats st;
	gateway_stats(g, &st);
	assert_int_equal(st.failures, failures);
	payflow_destroy(f);
	gateway_destroy(g);
	cache_destroy(c);
}

static void test_gateway_books(void **state)
{
	(void)state;
	struct gateway *g = gateway_create(1, 0); /* one chain: every user collides */
	struct gateway_account a;
	assert_int_equal(gateway_charge(g, "user-1", 0), 0);
	assert_int_equal(gateway_charge(g, "user-1", -1), 0);
	assert_int_equal(gateway_charge(g, "user-1", 100), 1);
	assert_int_equal(gateway_charge(g, "user-2", 7), 2);
	assert_int_equal(gateway_charge(g, "user-1", 50), 3);
	gateway_account(g, "user-1", &a);
	assert_int_equal(a.charges, 2);
	assert_int_equal(a.total_cents, 150);
	assert_int_equal(a.last_charge, 3);
	gateway_account(g, "nobody", &a);
	assert_int_equal(a.charges, 0);
	assert_int_equal(a.total_cents, 0);
	assert_int_equal(a.last_charge, 0);
	assert_int_equal(gateway_charges_total(g), 3);
	gateway_destroy(g);
}

#define NTHREADS 4
#define NUSERS	 300
#define NCHARGES 500

struct gw_arg {
	struct gateway *g;
	uint64_t ids[NCHARGES];
};

static void *gw_worker(void *p)
{
	struct gw_arg *a = p;
	for (int i = 0; i < NCHARGES; i++)
		a->ids[i] = gateway_charge(a->g, i % 2 ? "user-odd" : "user-even", 1 + i % 2);
	return NULL;
}

/* The gateway must keep exact books under concurrent charges, in both
 * builds: lab 3's broken flow double-charges, its gateway never miscounts. */
static void test_gateway_concurrent_books(void **state)
{
	(void)state;
	struct gateway *g = gateway_create(8, 0);
	pthread_t t[NTHREADS];
	static struct gw_arg a[NTHREADS];
	for (int i = 0; i < NTHREADS; i++) {
		a[i].g = g;
		assert_int_equal(pthread_create(&t[i], NULL, gw_worker, &a[i]), 0);
	}
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(t[i], NULL);
	struct gateway_account even, odd;
	gateway_account(g, "user-even", &even);
	gateway_account(g, "user-odd", &odd);
	assert_int_equal(even.charges, NTHREADS * NCHARGES / 2);
	assert_int_equal(odd.charges, NTHREADS * NCHARGES / 2);
	assert_int_equal(even.total_cents, NTHREADS * NCHARGES / 2 * 1);
	assert_int_equal(odd.total_cents, NTHREADS * NCHARGES / 2 * 2);
	assert_int_equal(gateway_charges_total(g), NTHREADS * NCHARGES);
	/* every charge id from 1 to the total was handed out exactly once */
	static unsigned char seen[NTHREADS * NCHARGES + 1];
	for (int i = 0; i < NTHREADS; i++)
		for (int k = 0; k < NCHARGES; k++) {
			uint64_t id = a[i].ids[k];
			assert_true(id >= 1 && id <= NTHREADS * NCHARGES);
			assert_int_equal(seen[id], 0);
			seen[id] = 1;
		}
	gateway_destroy(g);
}

#ifdef PAYFLOW_THREAD_SAFE
struct flow_arg {
	struct payflow *f;
	int charged[NUSERS]; /* this thread's request charged the user */
	uint64_t ids[NUSERS];
	int failed; /* requests that failed or got a wrong answer */
};

/* Every thread requests the same users in the same order, the lab's
 * scenario: each user's requests overlap as often as they can. */
static void *flow_worker(void *p)
{
	struct flow_arg *a = p;
	char user[32];
	struct cache_response out;
	for (int k = 0; k < NUSERS; k++) {
		snprintf(user, sizeof(user), "user-%d", k);
		memset(&out, 0, sizeof(out));
		enum payflow_outcome o = payflow_process(a->f, user, 100 + k, &out);
		a->failed += o == PAYFLOW_FAILED;
		a->charged[k] = o == PAYFLOW_CHARGED;
		a->ids[k] = out.request_id;
		if (strcmp(out.user_id, user) != 0 || out.amount_cents != 100 + k)
			a->failed++;
	}
	return NULL;
}

/* Whatever the interleaving: each user charged once, by exactly one of
 * the requests, and every request answered with that charge. */
static void test_concurrent_one_charge_per_user(void **state)
{
	(void)state;
	struct cache *c = cache_create(1);
	struct gateway *g = gateway_create(64, 50); /* 50 us: the window is wide */
	struct payflow *f = payflow_create(c, g);
	pthread_t t[NTHREADS];
	static struct flow_arg a[NTHREADS];
	for (int i = 0; i < NTHREADS; i++) {
		memset(&a[i], 0, sizeof(a[i]));
		a[i].f = f;
		assert_int_equal(pthread_create(&t[i], NULL, flow_worker, &a[i]), 0);
	}
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(t[i], NULL);
	char user[32];
	for (int k = 0; k < NUSERS; k++) {
		snprintf(user, sizeof(user), "user-%d", k);
		struct gateway_account acct;
		gateway_account(g, user, &acct);
		assert_int_equal(acct.charges, 1);
		assert_int_equal(acct.total_cents, 100 + k);
		int chargers = 0;
		for (int i = 0; i < NTHREADS; i++) {
			chargers += a[i].charged[k];
			assert_int_equal(a[i].ids[k], acct.last_charge);
		}
		assert_int_equal(chargers, 1);
	}
	for (int i = 0; i < NTHREADS; i++)
		assert_int_equal(a[i].failed, 0);
	assert_int_equal(gateway_charges_total(g), NUSERS);
	assert_int_equal(cache_count(c), NUSERS);
	payflow_destroy(f);
	gateway_destroy(g);
	cache_destroy(c);
}
#endif

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_first_request_charges, setup, teardown),
		cmocka_unit_test_setup_teardown(test_repeat_is_not_charged, setup, teardown),
		cmocka_unit_test_setup_teardown(test_users_are_charged_apart, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_requests_charge_nothing, setup, teardown),
		cmocka_unit_test(test_failed_charge_then_retry),
		cmocka_unit_test(test_gateway_books),
		cmocka_unit_test(test_gateway_concurrent_books),
#ifdef PAYFLOW_THREAD_SAFE
		cmocka_unit_test(test_concurrent_one_charge_per_user),
#endif
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
