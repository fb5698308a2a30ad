/*
 * workload.c: the lab 1 scenario, request threads sharing the payment
 * cache.
 *
 * Each thread mixes puts and gets over two kinds of user id: shared ones
 * ("user-s-17"), which every thread writes, as request threads of the
 * story's service do for a returning user, and private ones
 * ("user-1-17"), which only thread 1 writes, so that it knows exactly what
 * must be there. Every response carries its user id, its request id and
 * an amount derived from both, so any response can be checked on its own.
 *
 * Invariants, each a named counter in the trial record:
 *   wrong_user  a get returned another user's response
 *   garbage     a get returned bytes that are nobody's response
 *   torn        the right user, but an amount no put ever stored
 *               (half of one response, half of another)
 *   lost_live   a thread's own private entry was missing or stale
 *               when it read it back during the run
 *   lost        after the run: an entry that was put is missing
 *   stale       after the run: a private entry holds an older response
 *   structure   after the run: cache_check() found the map inconsistent
 *   evict_reply cache_evict() of a thread's own private key answered
 *               other than what that thread alone put and evicted
 *   stats       cache_count() or cache_buckets(), read while the others
 *               write, returned a value the map can never hold: more
 *               entries than keys exist, buckets not a power of two or
 *               fewer than it started with, or fewer than this thread
 *               saw before (the table only grows)
 *
 * Contract params, all off by default so that the default workload (the
 * one expected.tsv measured) draws the same numbers as it always
 * did; when one is on, each operation draws one more number:
 *   evict_percent  that percentage of the operations evicts the key
 *                  instead (shared or private as drawn): the rare path
 *                  that frees a node other threads may be walking past
 *   stats_percent  that percentage of the operations also reads
 *                  cache_count() and cache_buckets() while the others
 *                  write, and checks what it read
 * What cannot be checked from outside without false positives: the
 * answer of an evict of a shared key (another thread may have put or
 * evicted it just before), and the exact count while threads run.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache.h"
#include "hash.h"
#include "rng.h"
#include "stress.h"

struct lab1_params {
	long keys_shared, keys_private, shared_percent, put_percent, buckets;
	long evict_percent, stats_percent;
};

static const char *const lab1_keys[] = { "keys_shared",	   "keys_private",
					 "shared_percent", "put_percent",
					 "buckets",	   "evict_percent",
					 "stats_percent",  NULL };

static const char *const lab1_invariants[] = { "wrong_user", "garbage", "torn",	     "lost_live",
					       "lost",	     "stale",	"structure", "evict_reply",
					       "stats",	     NULL };

struct lab1_thread {
	struct cache *c;
	const struct lab1_params *p;
	int tid;
	uint64_t rng;
	uint64_t seq;
	uint64_t *last;		   /* per private key: the request id last put, 0: none */
	unsigned char *shared_put; /* per shared key: 1 this thread put it, 2 it evicted it */
	size_t min_buckets;	   /* the fewest buckets cache_buckets() may answer now */
	struct stress_result seen; /* violations seen while running */
};

static int64_t amount_of(const char *user, uint64_t request_id)
{
	return 1 + (int64_t)((hash_str(user) ^ (request_id * 0x9e3779b97f4a7c15ULL)) % 1000000);
}

static void key_name(char *buf, size_t len, int shared, int tid, long k)
{
	if (shared)
		snprintf(buf, len, "user-s-%ld", k);
	else
		snprintf(buf, len, "user-%d-%ld", tid, k);
}

/* Checks a response that a get returned for key. */
static void check_response(struct stress_result *r, const char *key,
			   const struct cache_response *out)
{
	if (!memchr(out->user_id, '\0', sizeof(out->user_id)) ||
	    strncmp(out->user_id, "user-", 5) != 0) {
		stress_count(r, "garbage", 1, "get(%s) returned bytes that are no response", key);
	} else if (strcmp(out->user_id, key) != 0) {
		stress_count(r, "wrong_user", 1, "get(%s) returned %s's response", key,
			     out->user_id);
	} else if (strcmp(out->status, "success") != 0 ||
		   out->amount_cents != amount_of(key, out->request_id)) {
		stress_count(r, "torn", 1, "get(%s) returned %lld cents, which no put stored", key,
			     (long long)out->amount_cents);
	}
}

/* An evict: a private key is this thread's alone, so its answer must be
 * exactly whether this thread's last put of it is still there. */
static void evict_one(struct lab1_thread *t, const char *key, int shared, long k)
{
	bool had = cache_evict(t->c, key);
	if (shared) {
		t->shared_put[k] |= 2;
		return;
	}
	if (had != (t->last[k] != 0))
		stress_count(&t->seen, "evict_reply", 1, "evict(%s) returned %s, but it was %s",
			     key, had ? "true" : "false", t->last[k] ? "there" : "not there");
	t->last[k] = 0;
}

/* The accessors, read while the other threads write. */
static void check_stats(struct lab1_thread *t)
{
	const struct lab1_params *p = t->p;
	size_t max = (size_t)p->keys_shared + (size_t)STRESS_MAX_THREADS * (size_t)p->keys_private;
	size_t n = cache_count(t->c);
	size_t b = cache_buckets(t->c);
	if (n > max)
		stress_count(&t->seen, "stats", 1, "cache_count() said %zu, more than the %zu keys",
			     n, max);
	if (b == 0 || (b & (b - 1)) != 0 || b < t->min_buckets)
		stress_count(&t->seen, "stats", 1,
			     "cache_buckets() said %zu (not a power of two, or below %zu)", b,
			     t->min_buckets);
	else
		t->min_buckets = b;
}

static void worker(const struct stress_run *run, int index, void *arg)
{
	(void)index;
	struct lab1_thread *t = arg;
	const struct lab1_params *p = t->p;
	char key[48]; /* roomy enough that snprintf cannot truncate */
	struct cache_response resp, out;

	for (long i = 0; i < run->ops; i++) {
		uint64_t r = rng_next(&t->rng);
		int shared = (long)(r % 100) < p->shared_percent;
		int put = (long)((r >> 8) % 100) < p->put_percent;
		long k = (long)((r >> 16) % (uint64_t)(shared ? p->keys_shared : p->keys_private));
		key_name(key, sizeof(key), shared, t->tid, k);
		if (p->evict_percent || p->stats_percent) {
			uint64_t r2 = rng_next(&t->rng);
			if ((long)((r2 >> 8) % 100) < p->stats_percent)
				check_stats(t);
			if ((long)(r2 % 100) < p->evict_percent) {
				evict_one(t, key, shared, k);
				continue;
			}
		}
		if (put) {
			memset(&resp, 0, sizeof(resp));
			snprintf(resp.user_id, sizeof(resp.user_id), "%.*s", CACHE_USER_ID_MAX - 1,
				 key);
			snprintf(resp.status, sizeof(resp.status), "success");
			resp.request_id = ((uint64_t)(t->tid + 1) << 40) | ++t->seq;
			resp.amount_cents = amount_of(key, resp.request_id);
			cache_put(t->c, key, &resp);
			if (shared)
				t->shared_put[k] |= 1;
			else
				t->last[k] = resp.request_id;
		} else if (cache_get(t->c, key, &out)) {
			check_response(&t->seen, key, &out);
			if (!shared && out.request_id != t->last[k] &&
			    strcmp(out.user_id, key) == 0)
				stress_count(
					&t->seen, "lost_live", 1,
					"get(%s) returned request %llu, not the last put", key,
					(unsigned long long)(out.request_id & 0xffffffffffULL));
		} else if (!shared && t->last[k]) {
			stress_count(&t->seen, "lost_live", 1, "get(%s) missed right after a put",
				     key);
		}
	}
}

static int lab1_prepare(struct stress_run *run, char *err, size_t errlen)
{
	static struct lab1_params p;
	if (stress_param(run, "keys_shared", 1000, 1, 10000000, &p.keys_shared, err, errlen) ||
	    stress_param(run, "keys_private", 10000, 1, 10000000, &p.keys_private, err, errlen) ||
	    stress_param(run, "shared_percent", 20, 0, 100, &p.shared_percent, err, errlen) ||
	    stress_param(run, "put_percent", 50, 0, 100, &p.put_percent, err, errlen) ||
	    stress_param(run, "buckets", 16, 1, 1L << 24, &p.buckets, err, errlen) ||
	    stress_param(run, "evict_percent", 0, 0, 100, &p.evict_percent, err, errlen) ||
	    stress_param(run, "stats_percent", 0, 0, 100, &p.stats_percent, err, errlen))
		return -1;
	run->lab_state = &p;
	return 0;
}

/* After the threads are gone: everything that was put must be there. */
static void check_final(struct cache *c, struct lab1_thread *th, int n, const struct lab1_params *p,
			struct stress_result *r)
{
	char key[48]; /* roomy enough that snprintf cannot truncate */
	struct cache_response out;
	for (int t = 0; t < n; t++)
		for (long k = 0; k < p->keys_private; k++) {
			if (!th[t].last[k])
				continue;
			key_name(key, sizeof(key), 0, t, k);
			if (!cache_get(c, key, &out))
				stress_count(r, "lost", 1, "%s was put but is missing", key);
			else if (out.request_id != th[t].last[k])
				stress_count(r, "stale", 1, "%s holds an older response", key);
			else
				check_response(r, key, &out);
		}
	for (long k = 0; k < p->keys_shared; k++) {
		int was_put = 0;
		for (int t = 0; t < n; t++)
			was_put |= th[t].shared_put[k];
		if (!was_put)
			continue;
		key_name(key, sizeof(key), 1, 0, k);
		if (!cache_get(c, key, &out)) {
			if (!(was_put & 2)) /* an evict may have been the last word */
				stress_count(r, "lost", 1, "%s was put but is missing", key);
		} else
			check_response(r, key, &out);
	}
}

static int lab1_round(struct stress_run *run, int round, struct stress_result *r, char *err,
		      size_t errlen)
{
	const struct lab1_params *p = run->lab_state;
	int n = run->threads;
	struct lab1_thread *th = calloc((size_t)n, sizeof(*th));
	void *args[STRESS_MAX_THREADS];
	struct cache *c = cache_create((size_t)p->buckets);
	if (!th || !c) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (int i = 0; i < n; i++) {
		th[i].c = c;
		th[i].p = p;
		th[i].tid = i;
		th[i].rng = rng_thread_seed(run->seed, round, i);
		th[i].last = calloc((size_t)p->keys_private, sizeof(uint64_t));
		th[i].shared_put = calloc((size_t)p->keys_shared, 1);
		th[i].min_buckets = 1;
		while (th[i].min_buckets < (size_t)p->buckets)
			th[i].min_buckets *= 2;
		if (!th[i].last || !th[i].shared_put) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		args[i] = &th[i];
	}
	if (stress_threads(run, worker, args, err, errlen) != 0)
		return -1;

	for (int i = 0; i < n; i++)
		for (int j = 0; j < th[i].seen.ninv; j++)
			stress_count(r, th[i].seen.inv_name[j], th[i].seen.inv[j], "round %d: %s",
				     round, th[i].seen.first);
	/* The structure first: over a chain that loops, the lookups of
	 * check_final() would never return. */
	char why[200];
	int problems = cache_check(c, why, sizeof(why));
	stress_count(r, "structure", problems < 0 ? -problems : problems,
		     "round %d: the map is inconsistent: %s", round, why);
	if (problems >= 0)
		check_final(c, th, n, p, r);
	r->ops_done += run->ops * n;

	/* A map that failed its check may hold a loop or a node linked twice;
	 * freeing it could hang or double-free, so it is leaked instead. */
	if (problems == 0)
		cache_destroy(c);
	for (int i = 0; i < n; i++) {
		free(th[i].last);
		free(th[i].shared_put);
	}
	free(th);
	return 0;
}

const struct stress_lab stress_lab1 = {
	.params = lab1_keys,
	.invariants = lab1_invariants,
	.prepare = lab1_prepare,
	.round = lab1_round,
};
