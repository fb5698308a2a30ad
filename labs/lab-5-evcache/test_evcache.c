/*
 * test_evcache.c: the evicting payment cache's semantics.
 *
 * Built twice, against fixed/evcache.c and against broken/evcache.c. With
 * one thread the two caches must behave the same: the broken get only goes
 * wrong when another thread frees the entry it is copying. The concurrent
 * tests (EVCACHE_THREAD_SAFE) run only against the fixed cache; there
 * every outcome is checked exactly (every response a get returns is one a
 * put stored for that user, every eviction is counted), since a correct
 * cache has no luck in it.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "evcache.h"

static int64_t cents_of(uint64_t id)
{
	return (int64_t)(id % 100000) + 1;
}

static struct evcache_response make_resp(const char *user, uint64_t id)
{
	struct evcache_response r;
	memset(&r, 0, sizeof(r));
	snprintf(r.user_id, sizeof(r.user_id), "%s", user);
	snprintf(r.status, sizeof(r.status), "success");
	r.amount_cents = cents_of(id);
	r.request_id = id;
	snprintf(r.body, sizeof(r.body), "{\"user_id\":\"%s\",\"request_id\":%llu,\"for\":\"%s\"}",
		 user, (unsigned long long)id, user);
	return r;
}

/* Whether r is exactly a response make_resp() made for user. */
static int is_response_of(const struct evcache_response *r, const char *user)
{
	struct evcache_response want = make_resp(user, r->request_id);
	return memcmp(&want, r, sizeof(want)) == 0;
}

static void assert_consistent(struct evcache *c)
{
	char err[256];
	int problems = evcache_check(c, err, sizeof(err));
	if (problems)
		fail_msg("evcache_check: %d problem(s): %s", problems, err);
}

static void test_empty_misses(void **state)
{
	(void)state;
	struct evcache *c = evcache_create(4);
	struct evcache_response out;
	assert_non_null(c);
	assert_false(evcache_get(c, "user-1", &out));
	assert_false(evcache_evict(c, "user-1"));
	assert_int_equal(evcache_count(c), 0);
	assert_int_equal(evcache_capacity(c), 4);
	assert_int_equal(evcache_evictions(c), 0);
	assert_consistent(c);
	evcache_destroy(c);
	evcache_destroy(NULL);
}

/* Copied in and out by value: neither side's later writes reach the other. */
static void test_put_then_get_copies(void **state)
{
	(void)state;
	struct evcache *c = evcache_create(4);
	struct evcache_response in = make_resp("user-1", 7), out;
	assert_true(evcache_put(c, "user-1", &in));
	in.amount_cents = 1;
	snprintf(in.body, sizeof(in.body), "changed after the put");
	assert_true(evcache_get(c, "user-1", &out));
	assert_true(is_response_of(&out, "user-1"));
	assert_true(out.request_id == 7);
	out.amount_cents = 2;
	assert_true(evcache_get(c, "user-1", &out));
	assert_true(out.amount_cents == cents_of(7));
	assert_int_equal(evcache_count(c), 1);
	evcache_destroy(c);
}

static void test_put_replaces(void **state)
{
	(void)state;
	struct evcache *c = evcache_create(2);
	struct evcache_response r1 = make_resp("user-1", 1), r2 = make_resp("user-1", 2), out;
	evcache_put(c, "user-1", &r1);
	evcache_put(c, "user-1", &r2);
	assert_int_equal(evcache_count(c), 1);
	assert_int_equal(evcache_evictions(c), 0); /* a replacement is no eviction */
	assert_true(evcache_get(c, "user-1", &out));
	assert_true(out.request_id == 2);
	assert_consistent(c);
	evcache_destroy(c);
}

/* Over capacity, the oldest goes; a replacement keeps its entry's age. */
static void test_put_over_capacity_evicts_oldest(void **state)
{
	(void)state;
	struct evcache *c = evcache_create(3);
	struct evcache_response r, out;
	const char *users[] = { "user-0", "user-1", "user-2", "user-3", "user-4" };
	for (int i = 0; i < 3; i++) {
		r = make_resp(users[i], (uint64_t)i + 1);
		evcache_put(c, users[i], &r);
	}
	r = make_resp("user-0", 10);
	evcache_put(c, "user-0", &r); /* replaced: still the oldest */
	r = make_resp("user-3", 4);
	evcache_put(c, "user-3", &r);
	assert_int_equal(evcache_count(c), 3);
	assert_int_equal(evcache_evictions(c), 1);
	assert_false(evcache_get(c, "user-0", &out));
	for (int i = 1; i < 4; i++) {
		assert_true(evcache_get(c, users[i], &out));
		assert_true(is_response_of(&out, users[i]));
	}
	r = make_resp("user-4", 5);
	evcache_put(c, "user-4", &r);
	assert_false(evcache_get(c, "user-1", &out));
	assert_int_equal(evcache_evictions(c), 2);
	assert_consistent(c);
	evcache_destroy(c);
}

static void test_evict(void **state)
{
	(void)state;
	struct evcache *c = evcache_create(4);
	struct evcache_response r, out;
	const char *users[] = { "user-0", "user-1", "user-2" };
	for (int i = 0; i < 3; i++) {
		r = make_resp(users[i], (uint64_t)i + 1);
		evcache_put(c, users[i], &r);
	}
	assert_true(evcache_evict(c, "user-1")); /* from the middle */
	assert_false(evcache_evict(c, "user-1"));
	assert_true(evcache_evict(c, "user-2")); /* the youngest */
	assert_int_equal(evcache_count(c), 1);
	assert_int_equal(evcache_evictions(c), 2);
	assert_false(evcache_get(c, "user-1", &out));
	assert_true(evcache_get(c, "user-0", &out));
	r = make_resp("user-5", 9);
	evcache_put(c, "user-5", &r); /* appended after the evictions */
	assert_true(evcache_get(c, "user-5", &out));
	assert_true(is_response_of(&out, "user-5"));
	assert_int_equal(evcache_count(c), 2);
	assert_consistent(c);
	evcache_destroy(c);
}

static void test_capacity_at_least_one(void **state)
{
	(void)state;
	struct evcache *c = evcache_create(0);
	struct evcache_response r = make_resp("user-1", 1), out;
	assert_int_equal(evcache_capacity(c), 1);
	evcache_put(c, "user-1", &r);
	r = make_resp("user-2", 2);
	evcache_put(c, "user-2", &r);
	assert_int_equal(evcache_count(c), 1);
	assert_false(evcache_get(c, "user-1", &out));
	assert_true(evcache_get(c, "user-2", &out));
	evcache_destroy(c);
}

static void test_long_user_id_is_refused(void **state)
{
	(void)state;
	struct evcache *c = evcache_create(4);
	char id[EVCACHE_USER_ID_MAX + 1];
	memset(id, 'u', sizeof(id) - 1);
	id[sizeof(id) - 1] = '\0';
	struct evcache_response r = make_resp("user-1", 1), out;
	assert_false(evcache_put(c, id, &r));
	assert_false(evcache_get(c, id, &out));
	assert_false(evcache_evict(c, id));
	id[EVCACHE_USER_ID_MAX - 1] = '\0'; /* the longest that fits */
	assert_true(evcache_put(c, id, &r));
	assert_true(evcache_get(c, id, &out));
	assert_int_equal(evcache_count(c), 1);
	evcache_destroy(c);
}

#ifdef EVCACHE_THREAD_SAFE
#define NTHREADS 4
#define NPUTS	 20000
#define CAPACITY 4

static struct evcache *shared;
static pthread_barrier_t start;

struct worker_arg {
	int tid;
	long hits; /* gets that found an entry: the test must have some */
	long bad;  /* of those, responses that no put stored for that user */
};

static void user_name(char *buf, size_t len, int tid, int j)
{
	snprintf(buf, len, "user-%d-%d", tid, j);
}

/* Every put is of a user never put before, so each one adds an entry and,
 * the cache being full, evicts one: gets race with evictions all the
 * time, on entries that other threads just put. */
static void *worker(void *p)
{
	struct worker_arg *a = p;
	char user[EVCACHE_USER_ID_MAX], other[EVCACHE_USER_ID_MAX];
	struct evcache_response r, out;
	pthread_barrier_wait(&start);
	for (int j = 0; j < NPUTS; j++) {
		user_name(user, sizeof(user), a->tid, j);
		r = make_resp(user, ((uint64_t)a->tid << 32) | (uint64_t)j);
		evcache_put(shared, user, &r);
		user_name(other, sizeof(other), (a->tid + 1) % NTHREADS, j);
		const char *want[2] = { user, other };
		for (int w = 0; w < 2; w++)
			if (evcache_get(shared, want[w], &out)) {
				a->hits++;
				a->bad += !is_response_of(&out, want[w]);
			}
	}
	return NULL;
}

static void test_concurrent_gets_see_whole_responses(void **state)
{
	(void)state;
	static struct worker_arg a[NTHREADS];
	shared = evcache_create(CAPACITY);
	assert_int_equal(pthread_barrier_init(&start, NULL, NTHREADS), 0);
	pthread_t t[NTHREADS];
	for (int i = 0; i < NTHREADS; i++) {
		a[i] = (struct worker_arg){ .tid = i };
		assert_int_equal(pthread_create(&t[i], NULL, worker, &a[i]), 0);
	}
	long hits = 0;
	for (int i = 0; i < NTHREADS; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(a[i].bad, 0);
		hits += a[i].hits;
	}
	pthread_barrier_destroy(&start);
	assert_true(hits > 0);
	/* Every put added an entry; all but CAPACITY of them were evicted. */
	assert_int_equal(evcache_count(shared), CAPACITY);
	assert_int_equal(evcache_evictions(shared), (uint64_t)NTHREADS * NPUTS - CAPACITY);
	assert_consistent(shared);
	evcache_destroy(shared);
}
#endif

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty_misses),
		cmocka_unit_test(test_put_then_get_copies),
		cmocka_unit_test(test_put_replaces),
		cmocka_unit_test(test_put_over_capacity_evicts_oldest),
		cmocka_unit_test(test_evict),
		cmocka_unit_test(test_capacity_at_least_one),
		cmocka_unit_test(test_long_user_id_is_refused),
#ifdef EVCACHE_THREAD_SAFE
		cmocka_unit_test(test_concurrent_gets_see_whole_responses),
#endif
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
