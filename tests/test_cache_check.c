/*
 * test_cache_check.c: cache_check() finds each kind of damage a race can do.
 *
 * The damage is made by hand: this file includes fixed/cache.c itself so
 * that it can reach the map's private nodes, which no caller of the API
 * can. (broken/cache.c has the same cache_check(), line for line.)
 */
#include "../fixed/cache.c"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

/* A map of one bucket holding user-0 .. user-(n-1) in one chain. */
static struct cache *one_chain(int n)
{
	struct cache *c = cache_create(1);
	char key[32];
	for (int i = 0; i < n; i++) {
		struct cache_response r = { .amount_cents = i };
		snprintf(key, sizeof(key), "user-%d", i);
		/* Put directly into the chain: cache_put() would grow the table. */
		struct cache_node *node = calloc(1, sizeof(*node));
		snprintf(node->key, sizeof(node->key), "%s", key);
		node->resp = r;
		node->next = c->buckets[0];
		c->buckets[0] = node;
		c->count++;
	}
	return c;
}

static void test_consistent_map_passes(void **state)
{
	(void)state;
	char err[200];
	struct cache *c = one_chain(5);
	assert_int_equal(cache_check(c, err, sizeof(err)), 0);
	assert_string_equal(err, "");
	cache_destroy(c);
}

static void test_loop_is_negative_and_stops(void **state)
{
	(void)state;
	char err[200];
	struct cache *c = one_chain(5);
	struct cache_node *last = c->buckets[0];
	while (last->next)
		last = last->next;
	last->next = c->buckets[0]->next; /* the tail points back into the chain */
	assert_int_equal(cache_check(c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "loops"));
	last->next = NULL; /* repaired, so that it can be freed */
	cache_destroy(c);
}

static void test_count_drift(void **state)
{
	(void)state;
	char err[200];
	struct cache *c = one_chain(5);
	c->count = 3; /* two increments lost, as ++c->count from two threads does */
	assert_int_equal(cache_check(c, err, sizeof(err)), 1);
	assert_string_equal(err, "count says 3 entries, the chains hold 5");
	c->count = 5;
	cache_destroy(c);
}

static void test_misplaced_and_duplicate(void **state)
{
	(void)state;
	char err[200];
	struct cache *c = cache_create(2);
	struct cache_response r = { 0 };
	cache_put(c, "user-1", &r);
	/* Link a second node with the same key into the other bucket. */
	size_t own = hash_str("user-1") & 1;
	struct cache_node *dup = calloc(1, sizeof(*dup));
	snprintf(dup->key, sizeof(dup->key), "user-1");
	c->buckets[1 - own] = dup;
	c->count++;
	assert_int_equal(cache_check(c, err, sizeof(err)), 1);
	assert_non_null(strstr(err, "not its own"));
	/* Now the same key twice in its own chain. */
	c->buckets[1 - own] = NULL;
	dup->next = c->buckets[own];
	c->buckets[own] = dup;
	assert_int_equal(cache_check(c, err, sizeof(err)), 1);
	assert_string_equal(err, "key user-1 is stored twice");
	cache_destroy(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_consistent_map_passes),
		cmocka_unit_test(test_loop_is_negative_and_stops),
		cmocka_unit_test(test_count_drift),
		cmocka_unit_test(test_misplaced_and_duplicate),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
