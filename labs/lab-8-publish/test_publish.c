/*
 * test_publish.c: the publish slot's semantics.
 *
 * Built twice, against fixed/publish.c and against broken/publish.c. With
 * one thread the two must behave the same: the broken slot is only wrong
 * when the payload and the flag cross between threads. The concurrent
 * tests (PUBLISH_THREAD_SAFE) run only against the fixed slot; there every
 * response the sender takes is checked exactly, since a correctly
 * published payload has no luck in it.
 */
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "publish.h"

static struct publish_response response(const char *user, int64_t cents, uint64_t request)
{
	struct publish_response r;
	memset(&r, 0, sizeof(r));
	snprintf(r.user_id, sizeof(r.user_id), "%s", user);
	r.amount_cents = cents;
	r.request_id = request;
	return r;
}

static void assert_response_equal(const struct publish_response *got,
				  const struct publish_response *want)
{
	assert_string_equal(got->user_id, want->user_id);
	assert_int_equal(got->amount_cents, want->amount_cents);
	assert_int_equal(got->request_id, want->request_id);
}

static void test_new_slot_is_empty(void **state)
{
	(void)state;
	struct publish_slot *s = publish_slot_create();
	assert_non_null(s);
	struct publish_response out = response("untouched", 7, 7);
	assert_false(publish_get(s, &out));
	assert_string_equal(out.user_id, "untouched"); /* *out left alone */
	assert_int_equal(out.amount_cents, 7);
	publish_slot_destroy(s);
	publish_slot_destroy(NULL);
}

static void test_put_then_get(void **state)
{
	(void)state;
	struct publish_slot *s = publish_slot_create();
	struct publish_response in = response("user-42", 4999, 1001), out;
	publish_put(s, &in);
	in = response("changed", 1, 1); /* the slot holds a copy */
	assert_true(publish_get(s, &out));
	assert_response_equal(&out, &(struct publish_response){ .user_id = "user-42",
								.amount_cents = 4999,
								.request_id = 1001 });
	/* Getting does not consume: the response stays until a reset. */
	memset(&out, 0, sizeof(out));
	assert_true(publish_get(s, &out));
	assert_int_equal(out.request_id, 1001);
	publish_slot_destroy(s);
}

static void test_reset_empties_and_reuses(void **state)
{
	(void)state;
	struct publish_slot *s = publish_slot_create();
	struct publish_response a = response("user-1", 100, 1), b = response("user-2", 250, 2), out;
	publish_put(s, &a);
	publish_slot_reset(s);
	assert_false(publish_get(s, &out));
	publish_put(s, &b);
	assert_true(publish_get(s, &out));
	assert_response_equal(&out, &b);
	publish_slot_destroy(s);
}

/* The longest user id that fits, and money beyond 32 bits, survive. */
static void test_full_fields(void **state)
{
	(void)state;
	char user[PUBLISH_USER_ID_MAX];
	memset(user, 'u', sizeof(user) - 1);
	user[sizeof(user) - 1] = '\0';
	struct publish_slot *s = publish_slot_create();
	struct publish_response in = response(user, 9000000000000LL, UINT64_MAX), out;
	publish_put(s, &in);
	assert_true(publish_get(s, &out));
	assert_response_equal(&out, &in);
	publish_slot_destroy(s);
}

#ifdef PUBLISH_THREAD_SAFE
#define NSLOTS 2000
#define ROUNDS 20

static struct publish_slot *slots[NSLOTS];

static struct publish_response expected(int round, int k)
{
	char user[32];
	snprintf(user, sizeof(user), "user-%d-%d", round, k);
	return response(user, 100 + (int64_t)round * NSLOTS + k,
			((uint64_t)(round + 1) << 32) | (uint64_t)k);
}

struct pair_arg {
	int round;
	int bad; /* sender: responses that were not the one published */
};

static void *computer(void *p)
{
	struct pair_arg *a = p;
	for (int k = 0; k < NSLOTS; k++) {
		struct publish_response r = expected(a->round, k);
		publish_put(slots[k], &r);
	}
	return NULL;
}

/* Polls each slot until it is published, right behind the computer. */
static void *sender(void *p)
{
	struct pair_arg *a = p;
	struct publish_response got;
	for (int k = 0; k < NSLOTS; k++) {
		while (!publish_get(slots[k], &got))
			sched_yield();
		struct publish_response want = expected(a->round, k);
		if (memcmp(&got, &want, sizeof(got)) != 0)
			a->bad++;
	}
	return NULL;
}

/* Every response the sender takes is exactly the one published with the
 * flag it saw, never the previous round's that the slot still held. */
static void test_concurrent_publish_exact(void **state)
{
	(void)state;
	for (int k = 0; k < NSLOTS; k++) {
		slots[k] = publish_slot_create();
		assert_non_null(slots[k]);
	}
	for (int round = 0; round < ROUNDS; round++) {
		for (int k = 0; k < NSLOTS; k++)
			publish_slot_reset(slots[k]);
		struct pair_arg a = { round, 0 }, b = { round, 0 };
		pthread_t tc, ts;
		assert_int_equal(pthread_create(&ts, NULL, sender, &b), 0);
		assert_int_equal(pthread_create(&tc, NULL, computer, &a), 0);
		pthread_join(tc, NULL);
		pthread_join(ts, NULL);
		assert_int_equal(b.bad, 0);
		struct publish_response got;
		for (int k = 0; k < NSLOTS; k++) {
			struct publish_response want = expected(round, k);
			assert_true(publish_get(slots[k], &got));
			assert_response_equal(&got, &want);
		}
	}
	for (int k = 0; k < NSLOTS; k++)
		publish_slot_destroy(slots[k]);
}
#endif

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_new_slot_is_empty),
		cmocka_unit_test(test_put_then_get),
		cmocka_unit_test(test_reset_empties_and_reuses),
		cmocka_unit_test(test_full_fields),
#ifdef PUBLISH_THREAD_SAFE
		cmocka_unit_test(test_concurrent_publish_exact),
#endif
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
