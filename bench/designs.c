/*
 * bench/designs.c: the designs make bench compares, side by side.
 *
 * Each is a whole implementation of include/cache.h, compiled with
 * bench/rename.h so that its functions carry its design's prefix
 * (rwlock_cache_get, ...) and five of them fit in one program.
 */
#include "bench.h"

#define BENCH_DECLARE(p)                                                                           \
	struct cache *p##_cache_create(size_t initial_buckets);                                    \
	void p##_cache_destroy(struct cache *c);                                                   \
	bool p##_cache_get(struct cache *c, const char *user_id, struct cache_response *out);      \
	bool p##_cache_put(struct cache *c, const char *user_id, const struct cache_response *resp);

#define BENCH_ENTRY(p, desc)                                                                       \
	{                                                                                          \
		.name = #p, .what = desc, .create = p##_cache_create,                              \
		.destroy = p##_cache_destroy, .get = p##_cache_get, .put = p##_cache_put           \
	}

BENCH_DECLARE(floor)
BENCH_DECLARE(mutex)
BENCH_DECLARE(rwlock)
BENCH_DECLARE(striped)
BENCH_DECLARE(rcu)

const struct bench_design bench_designs[] = {
	BENCH_ENTRY(floor, "broken/cache.c: no lock at all, unsafe (the floor)"),
	BENCH_ENTRY(mutex, "fixed/cache.c with a plain mutex for its rwlock (bench/as_mutex.h)"),
	BENCH_ENTRY(rwlock, "fixed/cache.c: one pthread reader-writer lock (lab 1's fix)"),
	BENCH_ENTRY(striped, "bench/cache_striped.c: 16 mutexes, a key's by its hash"),
	BENCH_ENTRY(rcu, "bench/cache_rcu.c: liburcu's lock-free hash table (cds_lfht, urcu-bp)"),
};
const int bench_ndesigns = (int)(sizeof(bench_designs) / sizeof(bench_designs[0]));
