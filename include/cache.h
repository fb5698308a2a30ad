/*
 * cache.h: the payment cache, a hash map from user id to the last payment
 * response sent to that user (lab 1; eviction is for lab 5).
 *
 * Two files implement this API with the same name and the same behaviour
 * when only one thread uses them:
 *   fixed/cache.c   safe under any number of threads (a reader-writer lock)
 *   broken/cache.c  no synchronization at all: the war story in C
 *
 * Money is integer cents. A response is copied in and out by value, so a
 * caller never holds a pointer into the map after a call returns.
 */
#ifndef RACELAB_CACHE_H
#define RACELAB_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CACHE_USER_ID_MAX 32 /* bytes, with the terminating NUL */
#define CACHE_STATUS_MAX  16

struct cache_response {
	char user_id[CACHE_USER_ID_MAX]; /* the user this response belongs to */
	char status[CACHE_STATUS_MAX];	 /* "success" */
	int64_t amount_cents;		 /* 4999 for $49.99 */
	uint64_t request_id;		 /* which request produced it */
};

struct cache;

/* A new empty map with room for initial_buckets chains (rounded up to a
 * power of two, at least 1); it grows by doubling when it is full.
 * Returns NULL when out of memory. */
struct cache *cache_create(size_t initial_buckets);
void cache_destroy(struct cache *c);

/* Copies the response stored for user_id into *out and returns true, or
 * returns false (a miss). user_id longer than CACHE_USER_ID_MAX - 1 bytes
 * is never stored, so it always misses. */
bool cache_get(struct cache *c, const char *user_id, struct cache_response *out);

/* Stores a copy of *resp for user_id, replacing what was there.
 * Returns false when user_id is too long or memory runs out. */
bool cache_put(struct cache *c, const char *user_id, const struct cache_response *resp);

/* Removes user_id's entry and frees it. Returns true when there was one. */
bool cache_evict(struct cache *c, const char *user_id);

/* The number of entries the map believes it holds. */
size_t cache_count(struct cache *c);
/* The current number of buckets. */
size_t cache_buckets(struct cache *c);

/*
 * Walks the whole map and checks its own structure: no chain loops, every
 * entry sits in the bucket its key hashes to, no key appears twice, and the
 * entry count matches the nodes found. Returns 0 when consistent, the
 * number of problems otherwise, with the first described in err; a
 * negative number (minus the looping chains) when a chain loops, in which
 * case nothing else was checked and a lookup may never return.
 * Not safe to call while other threads use the map.
 */
int cache_check(struct cache *c, char *err, size_t errlen);

#endif
