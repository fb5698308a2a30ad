/*
 * bench/cache_striped.c: the payment cache with striped locks, a design
 * for the benchmark (make bench), not a lab's answer.
 *
 * The map is fixed/cache.c's table of chains, but instead of one lock it
 * has BENCH_STRIPES mutexes: a key's stripe is the low bits of its hash,
 * so two threads working on different stripes never wait for each other.
 * Why that is enough, once the table has at least BENCH_STRIPES buckets:
 * the bucket count is a power of two, so a bucket's keys all share their
 * low hash bits and therefore one stripe, which guards that chain, its
 * nodes and its share of the count. Growing takes every stripe, in order,
 * so holding any one stripe keeps the table pointer and its size still.
 * A smaller table (a map created with fewer buckets) has buckets shared
 * between stripes, so there a put or an evict takes every stripe, like
 * a grow: correct, and only as slow as one big lock until it grows.
 * Cost: a stripe is a mutex, so reads of one stripe do not overlap; each
 * stripe has a cache line of its own so that two stripes never share one.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache.h"
#include "hash.h"

#define BENCH_STRIPES 16 /* a power of two */

struct cache_node {
	struct cache_node *next;
	char key[CACHE_USER_ID_MAX];
	struct cache_response resp;
};

struct stripe {
	_Alignas(64) pthread_mutex_t lock; /* guards its chains and count */
	size_t count;			   /* entries in this stripe's chains */
};

struct cache {
	struct stripe stripes[BENCH_STRIPES];
	struct cache_node **buckets; /* changed only with every stripe held */
	size_t nbuckets;	     /* a power of two */
};

struct cache *cache_create(size_t initial_buckets)
{
	struct cache *c = aligned_alloc(64, sizeof(*c));
	if (!c)
		return NULL;
	memset(c, 0, sizeof(*c));
	size_t n = 1;
	while (n < initial_buckets)
		n *= 2;
	c->buckets = calloc(n, sizeof(c->buckets[0]));
	if (!c->buckets) {
		free(c);
		return NULL;
	}
	c->nbuckets = n;
	for (int i = 0; i < BENCH_STRIPES; i++)
		pthread_mutex_init(&c->stripes[i].lock, NULL);
	return c;
}

void cache_destroy(struct cache *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->nbuckets; i++) {
		struct cache_node *n = c->buckets[i];
		while (n) {
			struct cache_node *next = n->next;
			free(n);
			n = next;
		}
	}
	free(c->buckets);
	for (int i = 0; i < BENCH_STRIPES; i++)
		pthread_mutex_destroy(&c->stripes[i].lock);
	free(c);
}

/* Always in stripe order, so two threads taking all never deadlock. */
static void lock_all(struct cache *c)
{
	for (int i = 0; i < BENCH_STRIPES; i++)
		pthread_mutex_lock(&c->stripes[i].lock);
}

static void unlock_all(struct cache *c)
{
	for (int i = BENCH_STRIPES - 1; i >= 0; i--)
		pthread_mutex_unlock(&c->stripes[i].lock);
}

/*
 * Locks what a change to key hash h needs: its stripe, or every stripe
 * while the table is smaller than the stripe count. Returns the stripe
 * index, or -1 when every stripe is held. The bucket count only grows,
 * so once it is large enough under the stripe it stays so.
 */
static int lock_for_change(struct cache *c, uint64_t h)
{
	int s = (int)(h & (BENCH_STRIPES - 1));
	pthread_mutex_lock(&c->stripes[s].lock);
	if (c->nbuckets >= BENCH_STRIPES)
		return s;
	pthread_mutex_unlock(&c->stripes[s].lock);
	lock_all(c);
	return -1;
}

static void unlock_for_change(struct cache *c, int s)
{
	if (s < 0)
		unlock_all(c);
	else
		pthread_mutex_unlock(&c->stripes[s].lock);
}

static int key_ok(const char *user_id)
{
	return strlen(user_id) < CACHE_USER_ID_MAX;
}

static struct cache_node **find_link(struct cache *c, const char *user_id, uint64_t h)
{
	struct cache_node **link = &c->buckets[h & (c->nbuckets - 1)];
	while (*link && strcmp((*link)->key, user_id) != 0)
		link = &(*link)->next;
	return link;
}

static size_t total_count(struct cache *c)
{
	size_t n = 0;
	for (int i = 0; i < BENCH_STRIPES; i++)
		n += c->stripes[i].count;
	return n;
}

bool cache_get(struct cache *c, const char *user_id, struct cache_response *out)
{
	if (!key_ok(user_id))
		return false;
	uint64_t h = hash_str(user_id);
	int s = (int)(h & (BENCH_STRIPES - 1));
	/* Any change to this key's chain holds this stripe (or all). */
	pthread_mutex_lock(&c->stripes[s].lock);
	struct cache_node *n = *find_link(c, user_id, h);
	if (n)
		*out = n->resp;
	pthread_mutex_unlock(&c->stripes[s].lock);
	return n != NULL;
}

/* Doubles the table, as fixed/cache.c does. Caller holds every stripe. */
static void cache_grow(struct cache *c)
{
	size_t nb = c->nbuckets * 2;
	struct cache_node **nt = calloc(nb, sizeof(nt[0]));
	if (!nt)
		return; /* keep the old table: longer chains, still correct */
	for (size_t i = 0; i < c->nbuckets; i++) {
		struct cache_node *n = c->buckets[i];
		while (n) {
			struct cache_node *next = n->next;
			size_t j = hash_str(n->key) & (nb - 1);
			n->next = nt[j];
			nt[j] = n;
			n = next;
		}
	}
	free(c->buckets);
	c->buckets = nt;
	c->nbuckets = nb;
}

bool cache_put(struct cache *c, const char *user_id, const struct cache_response *resp)
{
	if (!key_ok(user_id))
		return false;
	struct cache_node *fresh = malloc(sizeof(*fresh));
	if (!fresh)
		return false;
	uint64_t h = hash_str(user_id);
	int s = lock_for_change(c, h);
	struct cache_node **link = find_link(c, user_id, h);
	int full = 0;
	if (*link) {
		(*link)->resp = *resp;
	} else {
		snprintf(fresh->key, sizeof(fresh->key), "%s", user_id);
		fresh->resp = *resp;
		fresh->next = NULL;
		*link = fresh;
		fresh = NULL;
		size_t stripe_count = ++c->stripes[h & (BENCH_STRIPES - 1)].count;
		/* The fixed map grows at one entry per bucket; a stripe owns
		 * 1/BENCH_STRIPES of the buckets, so it judges by its share. */
		full = s < 0 ? total_count(c) > c->nbuckets
			     : stripe_count > c->nbuckets / BENCH_STRIPES;
	}
	if (full && s < 0) {
		cache_grow(c);
	} else if (full) {
		/* Growing needs every stripe, and they are taken in order:
		 * let go of ours first, then check again under all of them. */
		pthread_mutex_unlock(&c->stripes[s].lock);
		lock_all(c);
		if (total_count(c) > c->nbuckets)
			cache_grow(c);
		s = -1;
	}
	unlock_for_change(c, s);
	free(fresh); /* unused when the key was already there */
	return true;
}

bool cache_evict(struct cache *c, const char *user_id)
{
	if (!key_ok(user_id))
		return false;
	uint64_t h = hash_str(user_id);
	int s = lock_for_change(c, h);
	struct cache_node **link = find_link(c, user_id, h);
	struct cache_node *n = *link;
	if (n) {
		*link = n->next;
		c->stripes[h & (BENCH_STRIPES - 1)].count--;
	}
	unlock_for_change(c, s);
	free(n); /* unlinked under the lock, so no other thread can reach it */
	return n != NULL;
}

size_t cache_count(struct cache *c)
{
	lock_all(c);
	size_t n = total_count(c);
	unlock_all(c);
	return n;
}

size_t cache_buckets(struct cache *c)
{
	pthread_mutex_lock(&c->stripes[0].lock); /* any stripe keeps it still */
	size_t n = c->nbuckets;
	pthread_mutex_unlock(&c->stripes[0].lock);
	return n;
}

/* Whether the chain from head comes back on itself (Floyd, as in
 * fixed/cache.c). */
static int chain_loops(const struct cache_node *head)
{
	const struct cache_node *slow = head, *fast = head;
	while (fast && fast->next) {
		slow = slow->next;
		fast = fast->next->next;
		if (slow == fast)
			return 1;
	}
	return 0;
}

/* Loops first (every other walk would spin), then every chain. Not safe
 * while other threads use the map, like every cache_check. */
int cache_check(struct cache *c, char *err, size_t errlen)
{
	int problems = 0;
	size_t found = 0;
	if (errlen)
		err[0] = '\0';
#define PROBLEM(...)                                                                               \
	do {                                                                                       \
		if (problems++ == 0 && errlen)                                                     \
			snprintf(err, errlen, __VA_ARGS__);                                        \
	} while (0)
	for (size_t i = 0; i < c->nbuckets; i++)
		if (chain_loops(c->buckets[i]))
			PROBLEM("bucket %zu: its chain loops back on itself", i);
	if (problems)
		return -problems;
	for (size_t i = 0; i < c->nbuckets; i++) {
		for (struct cache_node *n = c->buckets[i]; n; n = n->next) {
			found++;
			if ((hash_str(n->key) & (c->nbuckets - 1)) != i)
				PROBLEM("key %s is in bucket %zu, not its own", n->key, i);
			for (struct cache_node *m = n->next; m; m = m->next)
				if (strcmp(m->key, n->key) == 0) {
					PROBLEM("key %s is stored twice", n->key);
					break;
				}
		}
	}
	if (found != total_count(c))
		PROBLEM("the counts say %zu entries, the chains hold %zu", total_count(c), found);
#undef PROBLEM
	return problems;
}
