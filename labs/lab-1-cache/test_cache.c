/*
 * test_cache.c: the payment cache's semantics.
 *
 * Built twice, against fixed/cache.c and against broken/cache.c. With one
 * thread the two maps must behave the same: the broken map is only wrong
 * when threads share it. The concurrent tests (CACHE_THREAD_SAFE) run only
 * against the fixed map; there every outcome is checked exactly, since a
 * correct map has no luck in it.
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

static struct cache_response make_resp(const char *user, int64_t cents, uint64_t id)
{
	struct cache_response r;
	memset(&r, 0, sizeof(r));
	snprintf(r.user_id, sizeof(r.user_id), "%s", user);
	snprintf(r.status, sizeof(r.status), "success");
	r.amount_cents = cents;
	r.request_id = id;
	return r;
}

static void assert_consistent(struct cache *c)
{
	char err[256];
	int problems = cache_check(c, err, sizeof(err));
	if (problems)
		fail_msg("cache_check: %d problem(s): %s", problems, err);
}

static void test_empty_misses(void **state)
{
	(void)state;
	struct cache *c = cache_create(4);
	struct cache_response out;
	assert_non_null(c);
	assert_false(cache_get(c, "user-1", &out));
	assert_int_equal(cache_count(c), 0);
	assert_int_equal(cache_buckets(c), 4);
	assert_consistent(c);
	cache_destroy(c);
}

static void test_put_then_get_copies_out(void **state)
{
	(void)state;
	struct cache *c = cache_create(0); /* rounded up to one bucket */
	struct cache_response in = make_resp("user-1", 4999, 7), out;
	assert_int_equal(cache_buckets(c), 1);
	assert_true(cache_put(c, "user-1", &in));
	in.amount_cents = 1; /* the map holds its own copy */
	assert_true(cache_get(c, "user-1", &out));
	assert_string_equal(out.user_id, "user-1");
	assert_string_equal(out.status, "success");
	assert_int_equal(out.amount_cents, 4999);
	assert_int_equal(out.request_id, 7);
	assert_int_equal(cache_count(c), 1);
	cache_destroy(c);
}

static void test_put_replaces(void **state)
{
	(void)state;
	struct cache *c = cache_create(8);
	struct cache_response a = make_resp("user-1", 100, 1), b = make_resp("user-1", 250, 2), out;
	cache_put(c, "user-1", &a);
	cache_put(c, "user-1", &b);
	assert_true(cache_get(c, "user-1", &out));
	assert_int_equal(out.amount_cents, 250);
	assert_int_equal(cache_count(c), 1);
	assert_consistent(c);
	cache_destroy(c);
}

static void test_long_user_id_is_refused(void **state)
{
	(void)state;
	struct cache *c = cache_create(8);
	char longid[CACHE_USER_ID_MAX + 1];
	memset(longid, 'u', sizeof(longid) - 1);
	longid[sizeof(longid) - 1] = '\0';
	struct cache_response r = make_resp("x", 1, 1), out;
	assert_false(cache_put(c, longid, &r));
	assert_false(cache_get(c, longid, &out));
	assert_false(cache_evict(c, longid));
	/* The longest id that fits is stored. */
	longid[CACHE_USER_ID_MAX - 1] = '\0';
	assert_true(cache_put(c, longid, &r));
	assert_true(cache_get(c, longid, &out));
	assert_int_equal(cache_count(c), 1);
	cache_destroy(c);
}

/* Starting from one bucket, a thousand puts force ten doublings; nothing
 * may be lost or misplaced on the way. */
static void test_grow_keeps_everything(void **state)
{
	(void)state;
	struct cache *c = cache_create(1);
	char key[32];
	for (int i = 0; i < 1000; i++) {
		snprintf(key, sizeof(key), "user-%d", i);
		struct cache_response r = make_resp(key, i, (uint64_t)i);
		assert_true(cache_put(c, key, &r));
	}
	assert_int_equal(cache_count(c), 1000);
	assert_true(cache_buckets(c) >= 1000);
	assert_consistent(c);
	for (int i = 0; i < 1000; i++) {
		struct cache_response out;
		snprintf(key, sizeof(key), "user-%d", i);
		assert_true(cache_get(c, key, &out));
		assert_string_equal(out.user_id, key);
		assert_int_equal(out.amount_cents, i);
	}
	cache_destroy(c);
}

static void test_evict(void **state)
{
	(void)state;
	struct cache *c = cache_create(1); /* one chain: evict from its middle */
	char key[32];
	struct cache_response out;
	for (int i = 0; i < 3; i++) {
		snprintf(key, sizeof(key), "user-%d", i);
		struct cache_response r = make_resp(key, i, (uint64_t)i);
		cache_put(c, key, &r);
	}
	assert_true(cache_evict(c, "user-1"));
	assert_false(cache_evict(c, "user-1"));
	assert_false(cache_get(c, "user-1", &out));
	assert_true(cache_get(c, "user-0", &out));
	assert_true(cache_get(c, "user-2", &out));
	assert_int_equal(cache_count(c), 2);
	assert_consistent(c);
	assert_false(cache_evict(c, "nobody"));
	cache_destroy(c);
}

#ifdef CACHE_THREAD_SAFE
#define NTHREADS 4
#define NKEYS	 2000
#define ROUNDS	 50

struct worker_arg {
	struct cache *c;
	int tid;
	int bad; /* responses that were not what this thread put */
};

/* Each thread writes its own keys and reads everyone's; the shared key
 * "user-shared" is written by all of them. */
static void *worker(void *p)
{
	struct worker_arg *a = p;
	char key[32], other[32];
	struct cache_response out;
	for (int round = 1; round <= ROUNDS; round++)
		for (int k = 0; k < NKEYS; k++) {
			snprintf(key, sizeof(key), "user-%d-%d", a->tid, k);
			struct cache_response r =
				make_resp(key, round * 100 + a->tid, (uint64_t)round);
			cache_put(a->c, key, &r);
			if (!cache_get(a->c, key, &out) || out.request_id != (uint64_t)round)
				a->bad++;
			snprintf(other, sizeof(other), "user-%d-%d", (a->tid + 1) % NTHREADS, k);
			if (cache_get(a->c, other, &out) && strcmp(out.user_id, other) != 0)
				a->bad++;
			r = make_resp("user-shared", a->tid, (uint64_t)k);
			cache_put(a->c, "user-shared", &r);
			if (k % 64 == 0) {
				cache_evict(a->c, key);
				/* a placeholder, still this user's: other threads
				 * may read it and must see the right user */
				struct cache_response hole = make_resp(key, 0, 0);
				cache_put(a->c, key, &hole);
				r = make_resp(key, round * 100 + a->tid, (uint64_t)round);
				cache_put(a->c, key, &r);
			}
		}
	return NULL;
}

static void test_concurrent_nothing_lost(void **state)
{
	(void)state;
	struct cache *c = cache_create(1);
	pthread_t t[NTHREADS];
	struct worker_arg a[NTHREADS];
	for (int i = 0; i < NTHREADS; i++) {
		a[i] = (struct worker_arg){ c, i, 0 };
		assert_int_equal(pthread_create(&t[i], NULL, worker, &a[i]), 0);
	}
	for (int i = 0; i < NTHREADS; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(a[i].bad, 0);
	}
	assert_int_equal(cache_count(c), NTHREADS * NKEYS + 1);
	assert_consistent(c);
	char key[32];
	struct cache_response out;
	for (int i = 0; i < NTHREADS; i++)
		for (int k = 0; k < NKEYS; k++) {
			snprintf(key, sizeof(key), "user-%d-%d", i, k);
			assert_true(cache_get(c, key, &out));
			assert_int_equal(out.request_id, ROUNDS);
			assert_int_equal(out.amount_cents, ROUNDS * 100 + i);
		}
	cache_destroy(c);
}
#endif

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty_misses),
		cmocka_unit_test(test_put_then_get_copies_out),
		cmocka_unit_test(test_put_replaces),
		cmocka_unit_test(test_long_user_id_is_refused),
		cmocka_unit_test(test_grow_keeps_everything),
		cmocka_unit_test(test_evict),
#ifdef CACHE_THREAD_SAFE
		cmocka_unit_test(test_concurrent_nothing_lost),
#endif
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
