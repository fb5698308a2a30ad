/*
 * bench/cache_rcu.c: the payment cache on liburcu's lock-free hash table
 * (cds_lfht), the benchmark's design from outside racelab.
 *
 * Readers take no lock at all: a get is an RCU read-side critical section
 * that looks the key up and copies its response. A node is never changed
 * once it is in the table; a put builds a whole new node and swaps it in
 * (cds_lfht_add_replace, one atomic step), so a reader copies either the
 * old response or the new one, never half of each. Why that is enough:
 * a replaced or evicted node is freed by call_rcu() only after a grace
 * period, when no reader can still be inside it.
 * Costs: every put allocates a node, every replaced node is freed later by
 * liburcu's call_rcu thread (which competes for the CPUs), and the table
 * resizes itself in the background.
 *
 * The "bulletproof" flavour (urcu-bp) registers each thread on its first
 * read-side section, which cache.h's API needs: it has no call for a
 * thread to register itself. This file uses liburcu's function-call API
 * (no _LGPL_SOURCE), as code under any licence may.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <urcu-bp.h> /* first: it picks the flavour rculfhash.h uses */
#include <urcu/rculfhash.h>

#include "cache.h"
#include "hash.h"

struct cache_node {
	struct cds_lfht_node node;
	struct rcu_head rcu; /* for call_rcu() */
	char key[CACHE_USER_ID_MAX];
	struct cache_response resp; /* never written once the node is in the table */
};

struct cache {
	struct cds_lfht *ht;
};

static int match(struct cds_lfht_node *ht_node, const void *key)
{
	const struct cache_node *n = caa_container_of(ht_node, struct cache_node, node);
	return strcmp(n->key, key) == 0;
}

static void free_node(struct rcu_head *head)
{
	free(caa_container_of(head, struct cache_node, rcu));
}

struct cache *cache_create(size_t initial_buckets)
{
	struct cache *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	unsigned long n = 1;
	while (n < initial_buckets)
		n *= 2;
	c->ht = cds_lfht_new(n, 1, 0, CDS_LFHT_AUTO_RESIZE | CDS_LFHT_ACCOUNTING, NULL);
	if (!c->ht) {
		free(c);
		return NULL;
	}
	return c;
}

void cache_destroy(struct cache *c)
{
	if (!c)
		return;
	struct cds_lfht_iter iter;
	struct cache_node *n;
	rcu_read_lock();
	cds_lfht_for_each_entry(c->ht, &iter, n, node)
	{
		if (cds_lfht_del(c->ht, &n->node) == 0)
			call_rcu(&n->rcu, free_node);
	}
	rcu_read_unlock();
	rcu_barrier(); /* every node queued above (and earlier) is freed */
	cds_lfht_destroy(c->ht, NULL);
	free(c);
}

static int key_ok(const char *user_id)
{
	return strlen(user_id) < CACHE_USER_ID_MAX;
}

/* Put pays for a whole node each time, so the copy of the key is a
 * memcpy, not fixed/cache.c's snprintf (which only new keys pay for). */
static void copy_key(char *dst, const char *user_id)
{
	memcpy(dst, user_id, strlen(user_id) + 1);
}

bool cache_get(struct cache *c, const char *user_id, struct cache_response *out)
{
	if (!key_ok(user_id))
		return false;
	struct cds_lfht_iter iter;
	rcu_read_lock();
	cds_lfht_lookup(c->ht, hash_str(user_id), match, user_id, &iter);
	struct cds_lfht_node *hn = cds_lfht_iter_get_node(&iter);
	if (hn)
		*out = caa_container_of(hn, struct cache_node, node)->resp;
	rcu_read_unlock(); /* after this, the node may be freed */
	return hn != NULL;
}

bool cache_put(struct cache *c, const char *user_id, const struct cache_response *resp)
{
	if (!key_ok(user_id))
		return false;
	struct cache_node *fresh = malloc(sizeof(*fresh));
	if (!fresh)
		return false;
	cds_lfht_node_init(&fresh->node);
	copy_key(fresh->key, user_id);
	fresh->resp = *resp; /* complete before it is published */
	rcu_read_lock();
	struct cds_lfht_node *old =
		cds_lfht_add_replace(c->ht, hash_str(user_id), match, user_id, &fresh->node);
	rcu_read_unlock();
	if (old) /* readers may still be copying it: free after a grace period */
		call_rcu(&caa_container_of(old, struct cache_node, node)->rcu, free_node);
	return true;
}

bool cache_evict(struct cache *c, const char *user_id)
{
	if (!key_ok(user_id))
		return false;
	struct cds_lfht_iter iter;
	struct cache_node *n = NULL;
	rcu_read_lock();
	cds_lfht_lookup(c->ht, hash_str(user_id), match, user_id, &iter);
	struct cds_lfht_node *hn = cds_lfht_iter_get_node(&iter);
	if (hn && cds_lfht_del(c->ht, hn) == 0) /* nonzero: another evict won */
		n = caa_container_of(hn, struct cache_node, node);
	rcu_read_unlock();
	if (n)
		call_rcu(&n->rcu, free_node);
	return n != NULL;
}

size_t cache_count(struct cache *c)
{
	long before, after;
	unsigned long count;
	rcu_read_lock();
	cds_lfht_count_nodes(c->ht, &before, &count, &after);
	rcu_read_unlock();
	return count;
}

/* The table resizes itself and keeps its bucket count to itself: 0 says
 * "unknown" rather than invent a number. */
size_t cache_buckets(struct cache *c)
{
	(void)c;
	return 0;
}

/* Every node once, under its own key's hash, and no key twice. Not safe
 * while other threads use the map, like every cache_check. */
int cache_check(struct cache *c, char *err, size_t errlen)
{
	int problems = 0;
	size_t found = 0;
	struct cds_lfht_iter iter, dup;
	struct cache_node *n;
	if (errlen)
		err[0] = '\0';
	rcu_read_lock();
	cds_lfht_for_each_entry(c->ht, &iter, n, node)
	{
		found++;
		size_t copies = 0;
		struct cds_lfht_node *d;
		cds_lfht_for_each_duplicate(c->ht, hash_str(n->key), match, n->key, &dup, d)
			copies++;
		if (copies != 1 && problems++ == 0 && errlen)
			snprintf(err, errlen, "key %s is found %zu times under its hash", n->key,
				 copies);
	}
	rcu_read_unlock();
	size_t counted = cache_count(c);
	if (found != counted && problems++ == 0 && errlen)
		snprintf(err, errlen, "the table counts %zu entries, a walk finds %zu", counted,
			 found);
	return problems;
}
