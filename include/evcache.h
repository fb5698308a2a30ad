/*
 * evcache.h: the bounded payment cache, which evicts (lab 5).
 *
 * The processor caches the last response sent to each user, as lab 1's
 * cache does, but only up to a fixed number of entries: a put of a new
 * user when the cache is full evicts the oldest entry, and an entry can
 * also be evicted on purpose (a refund makes the cached response wrong).
 * An evicted entry is wiped (it holds a user's payment details) and freed
 * at once, and its memory is soon handed by malloc to the next entry
 * someone puts: another user's response.
 *
 * Two files implement this API with the same name and the same behaviour
 * when only one thread uses them:
 *   fixed/evcache.c   safe under any number of threads (one mutex)
 *   broken/evcache.c  finds the entry under the mutex, lets go of the
 *                     mutex and only then copies the response out of the
 *                     entry it found: a pointer that escaped the lock,
 *                     into memory an eviction may free meanwhile
 *
 * Why a copy-out API in both builds, and not a pointer that the caller
 * reads and then gives back (evcache_get returning a const entry plus an
 * evcache_release, with reference counts in the fixed build): the fix of
 * a copy-out get is to copy before unlocking, so `diff -u broken/evcache.c
 * fixed/evcache.c` moves one line and shows nothing else, while reference
 * counts would add a field, a release path and a deferred free that hide
 * the bug in the diff. The broken get keeps exactly the pointer a
 * pointer-returning API would hand out, and uses it after the unlock as
 * its caller would: the race is the same, and it sits in this module.
 *
 * Money is integer cents. A response is copied in and out by value, so a
 * caller never holds a pointer into the cache after a call returns (in
 * the fixed build).
 */
#ifndef RACELAB_EVCACHE_H
#define RACELAB_EVCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EVCACHE_USER_ID_MAX 32 /* bytes, with the terminating NUL */
#define EVCACHE_STATUS_MAX  16
#define EVCACHE_BODY_MAX    896 /* the response body as sent, NUL-terminated */

struct evcache_response {
	char user_id[EVCACHE_USER_ID_MAX]; /* the user this response belongs to */
	char status[EVCACHE_STATUS_MAX];   /* "success" */
	int64_t amount_cents;		   /* 4999 for $49.99 */
	uint64_t request_id;		   /* which request produced it */
	char body[EVCACHE_BODY_MAX];	   /* the JSON body sent back to the user */
};

struct evcache;

/* A new empty cache that holds at most capacity entries (at least 1).
 * Returns NULL when out of memory. */
struct evcache *evcache_create(size_t capacity);
void evcache_destroy(struct evcache *c);

/* Copies the response stored for user_id into *out and returns true, or
 * returns false (a miss). user_id longer than EVCACHE_USER_ID_MAX - 1
 * bytes is never stored, so it always misses. */
bool evcache_get(struct evcache *c, const char *user_id, struct evcache_response *out);

/* Stores a copy of *resp for user_id. An entry is never changed once
 * stored: a put for a user already cached stores a new entry in the old
 * one's place (same age) and frees the old one; a put for a new user
 * adds the newest entry and, when that makes one too many, evicts and
 * frees the oldest. Returns false when user_id is too long or memory runs
 * out. */
bool evcache_put(struct evcache *c, const char *user_id, const struct evcache_response *resp);

/* Removes user_id's entry and frees it. Returns true when there was one. */
bool evcache_evict(struct evcache *c, const char *user_id);

/* The number of entries held, the most it may hold, and how many entries
 * were evicted (by a put over capacity or by evcache_evict) so far. */
size_t evcache_count(struct evcache *c);
size_t evcache_capacity(struct evcache *c);
uint64_t evcache_evictions(struct evcache *c);

/*
 * Walks the cache and checks its own structure: no more entries than the
 * capacity, no key twice, and the count matching the entries found. Returns 0 when consistent, the
 * number of problems otherwise, with the first described in err. Not safe to call while other
 * threads use the cache.
 */
int evcache_check(struct evcache *c, char *err, size_t errlen);

#endif
