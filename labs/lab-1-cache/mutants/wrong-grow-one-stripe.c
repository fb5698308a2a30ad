/* WRONG: striped mutexes, but a grow runs under the one stripe of the put that fills the map */
/*
 * broken/cache.c: the payment cache with no synchronization at all.
 * Lab 1, the war story in C: a shared map that request threads read and
 * write at once. Same API and same code as fixed/cache.c, minus the lock.
 *
 * Race pairs, DataRaceBench style: variable, "code" at line N, read (R)
 * or write (W). No lock is held on either side of any pair.
 *   cache.put.window   *link, the end of a chain:
 *                      "*link = fresh" at line 151 (W) vs
 *                      "while (*link" at line 93 (R, find_link from
 *                      cache_put or cache_get). Two puts read the same
 *                      end, both link a node; the second unlinks the
 *                      first: a lost entry.
 *   c->count           "++c->count" at line 153 (R and W) vs itself in
 *                      another thread: lost increments, the count drifts.
 *   c->nbuckets        "c->nbuckets = nb" at line 130 (W) vs
 *                      "++c->count > c->nbuckets" at line 153 (R): two
 *                      threads see the map full, both grow it, and the
 *                      old table is freed twice (glibc: "double free").
 *   cache.grow.window  c->buckets: "c->buckets = nt" at line 129 (W) vs
 *                      "&c->buckets[" at line 92 (R): a chain walked in
 *                      the old table after "free(c->buckets)" at line 128
 *                      is freed memory; a put into it is lost.
 *   cache.get.window   n->resp: "*out = n->resp" at line 105 (R) vs
 *                      "(*link)->resp = *resp" at line 146 (W): a torn
 *                      response, half one payment, half another.
 *   cache.evict.window the chain: "*link = n->next" at line 168 (W) vs
 *                      "while (*link" at line 93 (R); "free(n)" at line
 *                      171 frees a node another thread may be reading.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache.h"
#include "hash.h"
#include "racepoint.h"

/* Stripe s guards every bucket whose keys have hash & (NSTRIPES - 1) == s,
 * once the table has at least NSTRIPES buckets (then a bucket's keys all
 * share those low bits). Holding any stripe keeps the table, its size and
 * the count's readers safe from a grow, which holds all of them. */
#define NSTRIPES 16

struct cache_node {
	struct cache_node *next;
	char key[CACHE_USER_ID_MAX];
	struct cache_response resp;
};

struct cache {
	struct cache_node **buckets;
	size_t nbuckets; /* a power of two */
	size_t count;
	pthread_mutex_t stripe[NSTRIPES];
	pthread_mutex_t count_lock; /* guards count, with the stripe of the change */
};

static void lock_all(struct cache *c)
{
	for (int i = 0; i < NSTRIPES; i++) /* always in this order */
		pthread_mutex_lock(&c->stripe[i]);
}

static void unlock_all(struct cache *c)
{
	for (int i = NSTRIPES - 1; i >= 0; i--)
		pthread_mutex_unlock(&c->stripe[i]);
}

/* Locks what user_id's operation needs: its stripe, or every stripe while
 * the table is smaller than NSTRIPES (its buckets then mix stripes).
 * Returns the stripe held, or -1 for all of them. */
static int lock_key(struct cache *c, const char *user_id)
{
	int s = (int)(hash_str(user_id) & (NSTRIPES - 1));
	pthread_mutex_lock(&c->stripe[s]);
	if (c->nbuckets >= NSTRIPES) /* it only grows, and only under every stripe */
		return s;
	pthread_mutex_unlock(&c->stripe[s]);
	lock_all(c);
	return -1;
}

static void unlock_key(struct cache *c, int s)
{
	if (s < 0)
		unlock_all(c);
	else
		pthread_mutex_unlock(&c->stripe[s]);
}

struct cache *cache_create(size_t initial_buckets)
{
	struct cache *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	size_t n = 1;
	while (n < initial_buckets)
		n *= 2;
	c->buckets = calloc(n, sizeof(c->buckets[0]));
	if (!c->buckets) {
		free(c);
		return NULL;
	}
	c->nbuckets = n;
	for (int i = 0; i < NSTRIPES; i++)
		pthread_mutex_init(&c->stripe[i], NULL);
	pthread_mutex_init(&c->count_lock, NULL);
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
	for (int i = 0; i < NSTRIPES; i++)
		pthread_mutex_destroy(&c->stripe[i]);
	pthread_mutex_destroy(&c->count_lock);
	free(c);
}

static int key_ok(const char *user_id)
{
	return strlen(user_id) < CACHE_USER_ID_MAX;
}

/* The address of the link that points at user_id's node (or at NULL). */
static struct cache_node **find_link(struct cache *c, const char *user_id)
{
	struct cache_node **link = &c->buckets[hash_str(user_id) & (c->nbuckets - 1)];
	while (*link && strcmp((*link)->key, user_id) != 0)
		link = &(*link)->next;
	return link;
}

bool cache_get(struct cache *c, const char *user_id, struct cache_response *out)
{
	if (!key_ok(user_id))
		return false;
	int s = lock_key(c, user_id);
	struct cache_node *n = *find_link(c, user_id);
	RACE_POINT("cache.get.window");
	if (n)
		*out = n->resp; /* copied under the key's stripe */
	unlock_key(c, s);
	return n != NULL;
}

/* Moves every node into a table twice as large. Caller holds every
 * stripe, so no other thread is in the map. */
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
	RACE_POINT("cache.grow.window");
	free(c->buckets); /* a reader still in the old table now reads freed memory */
	c->buckets = nt;  /* write: races with the read in find_link() */
	c->nbuckets = nb;
}

bool cache_put(struct cache *c, const char *user_id, const struct cache_response *resp)
{
	if (!key_ok(user_id))
		return false;
	/* Allocated first, as in the fixed map. */
	struct cache_node *fresh = malloc(sizeof(*fresh));
	if (!fresh)
		return false;
	bool full = false;
	int s = lock_key(c, user_id);
	struct cache_node **link = find_link(c, user_id); /* read: the chain's end */
	RACE_POINT("cache.put.window");
	/* Window: another put can link its node at *link, or a grow can move
	 * the whole chain to a new table, before the write below. */
	if (*link) {
		(*link)->resp = *resp; /* write: a concurrent get copies half of it */
	} else {
		snprintf(fresh->key, sizeof(fresh->key), "%s", user_id);
		fresh->resp = *resp;
		fresh->next = NULL;
		*link = fresh; /* write: overwrites whatever was linked since the read */
		fresh = NULL;
		pthread_mutex_lock(&c->count_lock);
		full = ++c->count > c->nbuckets;
		pthread_mutex_unlock(&c->count_lock);
	}
	if (full)
		cache_grow(c); /* rare: one grow per doubling */
	unlock_key(c, s);
	free(fresh); /* unused when the key was already there */
	return true;
}

bool cache_evict(struct cache *c, const char *user_id)
{
	if (!key_ok(user_id))
		return false;
	int s = lock_key(c, user_id);
	struct cache_node **link = find_link(c, user_id);
	struct cache_node *n = *link;
	RACE_POINT("cache.evict.window");
	if (n) {
		*link = n->next;
		pthread_mutex_lock(&c->count_lock);
		c->count--;
		pthread_mutex_unlock(&c->count_lock);
	}
	unlock_key(c, s);
	free(n); /* unlinked under its stripe: no other thread can reach it */
	return n != NULL;
}

size_t cache_count(struct cache *c)
{
	pthread_mutex_lock(&c->count_lock);
	size_t n = c->count;
	pthread_mutex_unlock(&c->count_lock);
	return n;
}

size_t cache_buckets(struct cache *c)
{
	pthread_mutex_lock(&c->stripe[0]); /* any stripe keeps a grow out */
	size_t n = c->nbuckets;
	pthread_mutex_unlock(&c->stripe[0]);
	return n;
}

/* Whether the chain from head comes back on itself (Floyd: a hare at two
 * steps per turn meets the tortoise at one only inside a loop). */
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

/*
 * First makes sure that no chain loops (a lost update of a link can make
 * one, and every other walk would then spin), then walks every chain.
 */
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
	if (found != c->count)
		PROBLEM("count says %zu entries, the chains hold %zu", c->count, found);
#undef PROBLEM
	return problems;
}
