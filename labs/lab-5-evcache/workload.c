/*
 * workload.c: the lab 5 scenario, request threads sharing a small
 * payment cache that evicts all the time.
 *
 * The cache holds `capacity` entries and the threads use `keys` users
 * ("user-17"), more than fit, so most puts of a new user evict the oldest
 * entry, and `evict_percent` of the operations evict a user on purpose.
 * Every evicted or replaced entry is freed, and malloc hands its memory to
 * the very next put of the same thread: another user's response. The
 * rest of the operations are gets, each checked on its own: a response
 * carries its user id, its request id, an amount derived from both, and a
 * JSON body that names the user at its start and again at its end, so a
 * copy that began in one user's entry and ended in another's is caught.
 *
 * Invariants, each a named counter in the trial record:
 *   wrong_user  a get returned a response that names another user, in
 *               whole or in part (freed memory reused for that user's
 *               entry while it was being copied)
 *   garbage     a get returned a response no put ever stored, naming no
 *               other user: freed memory, or two of this user's responses
 *               mixed
 *   structure   after the run: evcache_check() found the cache
 *               inconsistent, or an entry left in it is wrong
 *   stats       evcache_count(), evcache_capacity() or evcache_evictions(),
 *               read while the others write, returned a value the cache
 *               can never hold: more entries than the capacity, another
 *               capacity than it was created with, or fewer evictions
 *               than this thread saw before (they only ever grow)
 *   evictions   after the run: evcache_evictions() is less than the
 *               number of evcache_evict() calls that answered true
 *               (each of those is one eviction; puts add more)
 * `stats_percent` (0: off, so the default workload draws the same
 * numbers it always did) makes that percentage of the operations also
 * read the three accessors, while the others write, and check them.
 * What cannot be checked from outside without false positives: the
 * answer of an evict or a get (any thread may have put or evicted the
 * user just before), and the exact count or evictions while threads run.
 * `yield_every` (0: never) makes each thread yield the CPU after every so
 * many operations: for Valgrind, see worker().
 * A crash (the copy read memory that was given back to the system) ends
 * the program: it is the driver's own outcome, with no record.
 */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evcache.h"
#include "hash.h"
#include "rng.h"
#include "stress.h"

struct lab5_params {
	long capacity, keys, put_percent, evict_percent, yield_every, stats_percent;
};

static const char *const lab5_keys[] = {
	"capacity", "keys", "put_percent", "evict_percent", "yield_every", "stats_percent", NULL
};

static const char *const lab5_invariants[] = { "wrong_user", "garbage",	  "structure",
					       "stats",	     "evictions", NULL };

struct lab5_thread {
	struct evcache *c;
	const struct lab5_params *p;
	int tid;
	uint64_t rng;
	uint64_t seq;
	uint64_t evicted;	   /* evcache_evict() calls that answered true */
	uint64_t min_evictions;	   /* the fewest evcache_evictions() may answer now */
	struct stress_result seen; /* violations seen while running */
};

static int64_t amount_of(const char *user, uint64_t request_id)
{
	return 1 + (int64_t)((hash_str(user) ^ (request_id * 0x9e3779b97f4a7c15ULL)) % 1000000);
}

/* The body the service sends: the user at the start and at the end, and a
 * receipt in between that fills the body, as a real one with line items
 * would. */
static void render_body(char *body, const char *user, uint64_t request_id, int64_t cents)
{
	int head = snprintf(body, EVCACHE_BODY_MAX,
			    "{\"user_id\":\"%s\",\"request_id\":%llu,\"amount_cents\":%lld,"
			    "\"status\":\"success\",\"receipt\":\"",
			    user, (unsigned long long)request_id, (long long)cents);
	char tail[64];
	int tlen = snprintf(tail, sizeof(tail), "\",\"for\":\"%s\"}", user);
	int pad = EVCACHE_BODY_MAX - 1 - head - tlen;
	memset(body + head, '.', (size_t)pad);
	memcpy(body + head + pad, tail, (size_t)tlen + 1);
}

static void make_response(struct evcache_response *resp, const char *user, uint64_t request_id)
{
	memset(resp, 0, sizeof(*resp));
	snprintf(resp->user_id, sizeof(resp->user_id), "%s", user);
	snprintf(resp->status, sizeof(resp->status), "success");
	resp->request_id = request_id;
	resp->amount_cents = amount_of(user, request_id);
	render_body(resp->body, user, request_id, resp->amount_cents);
}

/* Whether s (at most len bytes) starts with a user id "user-<digits>"
 * ending at the byte `end`; copies it into name. */
static int user_name(const char *s, size_t len, char end, char *name, size_t namelen)
{
	size_t i = 5;
	if (len < 7 || strncmp(s, "user-", 5) != 0)
		return 0;
	while (i < len && i < namelen - 1 && s[i] >= '0' && s[i] <= '9')
		i++;
	if (i == 5 || i >= len || s[i] != end || i >= namelen)
		return 0;
	memcpy(name, s, i);
	name[i] = '\0';
	return 1;
}

/* Where the user id at the end of a body starts, after its last
 * `","for":"`; NULL when the body has none or is not NUL-terminated. */
static const char *after_last_for(const struct evcache_response *out)
{
	static const char mark[] = "\",\"for\":\"";
	const size_t m = sizeof(mark) - 1;
	const char *nul = memchr(out->body, '\0', sizeof(out->body));
	if (!nul || (size_t)(nul - out->body) < m)
		return NULL;
	for (const char *p = nul - m; p >= out->body; p--)
		if (memcmp(p, mark, m) == 0)
			return p + m;
	return NULL;
}

/* Checks a response that a get returned for key. */
static void check_response(struct stress_result *r, const char *key,
			   const struct evcache_response *out)
{
	static const char start[] = "{\"user_id\":\"";
	const char *tail;
	char want[EVCACHE_BODY_MAX], name[EVCACHE_USER_ID_MAX];
	if (memchr(out->user_id, '\0', sizeof(out->user_id)) && strcmp(out->user_id, key) == 0 &&
	    strcmp(out->status, "success") == 0 &&
	    out->amount_cents == amount_of(key, out->request_id)) {
		render_body(want, key, out->request_id, out->amount_cents);
		if (memcmp(want, out->body, sizeof(want)) == 0)
			return; /* exactly a response that a put stored for key */
	}
	/* Not one that was stored. Whose parts is it made of? The user id
	 * field, and the names at the body's start and at its end. */
	const char *other = NULL;
	if (user_name(out->user_id, sizeof(out->user_id), '\0', name, sizeof(name)) &&
	    strcmp(name, key) != 0)
		other = "its user_id field";
	else if (strncmp(out->body, start, sizeof(start) - 1) == 0 &&
		 user_name(out->body + sizeof(start) - 1, sizeof(out->body) - sizeof(start) + 1,
			   '"', name, sizeof(name)) &&
		 strcmp(name, key) != 0)
		other = "the start of its body";
	else if ((tail = after_last_for(out)) != NULL &&
		 user_name(tail, strlen(tail), '"', name, sizeof(name)) && strcmp(name, key) != 0)
		other = "the end of its body";
	if (other)
		stress_count(r, "wrong_user", 1, "get(%s) returned a response for %s (%s)", key,
			     name, other);
	else
		stress_count(r, "garbage", 1,
			     "get(%s) returned a response that no put stored (request %llu, "
			     "%lld cents)",
			     key, (unsigned long long)(out->request_id & 0xffffffffffULL),
			     (long long)out->amount_cents);
}

/* The accessors, read while the other threads write. */
static void check_stats(struct lab5_thread *t)
{
	size_t cap = (size_t)t->p->capacity;
	size_t n = evcache_count(t->c);
	size_t c = evcache_capacity(t->c);
	uint64_t e = evcache_evictions(t->c);
	if (n > cap)
		stress_count(&t->seen, "stats", 1,
			     "evcache_count() said %zu, over the capacity %zu", n, cap);
	if (c != cap)
		stress_count(&t->seen, "stats", 1, "evcache_capacity() said %zu, not %zu", c, cap);
	if (e < t->min_evictions)
		stress_count(&t->seen, "stats", 1,
			     "evcache_evictions() said %llu after it had said %llu",
			     (unsigned long long)e, (unsigned long long)t->min_evictions);
	else
		t->min_evictions = e;
}

static void worker(const struct stress_run *run, int index, void *arg)
{
	(void)index;
	struct lab5_thread *t = arg;
	const struct lab5_params *p = t->p;
	char key[EVCACHE_USER_ID_MAX]; /* "user-" and a long always fit */
	struct evcache_response resp, out;

	for (long i = 0; i < run->ops; i++) {
		uint64_t r = rng_next(&t->rng);
		long what = (long)(r % 100);
		long k = (long)((r >> 8) % (uint64_t)p->keys);
		snprintf(key, sizeof(key), "user-%ld", k);
		if (what < p->put_percent) {
			make_response(&resp, key, ((uint64_t)(t->tid + 1) << 40) | ++t->seq);
			evcache_put(t->c, key, &resp);
		} else if (what < p->put_percent + p->evict_percent) {
			t->evicted += evcache_evict(t->c, key);
		} else if (evcache_get(t->c, key, &out)) {
			check_response(&t->seen, key, &out);
		}
		if (p->stats_percent && (long)(rng_next(&t->rng) % 100) < p->stats_percent)
			check_stats(t);
		/* Valgrind runs one thread at a time and seldom switches, so
		 * the threads would otherwise take turns of thousands of
		 * operations, and every turn starts with a lock that orders
		 * all the other thread did before it: no race left to see. A
		 * yield lets the other thread in between two operations (right
		 * after a get's copy) without ordering anything. */
		if (p->yield_every && (i + 1) % p->yield_every == 0)
			sched_yield();
	}
}

static int lab5_prepare(struct stress_run *run, char *err, size_t errlen)
{
	static struct lab5_params p;
	if (stress_param(run, "capacity", 4, 1, 1000000, &p.capacity, err, errlen) ||
	    stress_param(run, "keys", 8, 1, 10000000, &p.keys, err, errlen) ||
	    stress_param(run, "put_percent", 50, 0, 100, &p.put_percent, err, errlen) ||
	    stress_param(run, "evict_percent", 10, 0, 100, &p.evict_percent, err, errlen) ||
	    stress_param(run, "yield_every", 0, 0, 1000000000, &p.yield_every, err, errlen) ||
	    stress_param(run, "stats_percent", 0, 0, 100, &p.stats_percent, err, errlen))
		return -1;
	if (p.put_percent + p.evict_percent > 100) {
		snprintf(err, errlen, "lab 5: put_percent + evict_percent must be at most 100");
		return -1;
	}
	run->lab_state = &p;
	return 0;
}

static int lab5_round(struct stress_run *run, int round, struct stress_result *r, char *err,
		      size_t errlen)
{
	const struct lab5_params *p = run->lab_state;
	int n = run->threads;
	struct lab5_thread th[STRESS_MAX_THREADS];
	void *args[STRESS_MAX_THREADS];
	struct evcache *c = evcache_create((size_t)p->capacity);
	if (!c) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (int i = 0; i < n; i++) {
		memset(&th[i], 0, sizeof(th[i]));
		th[i].c = c;
		th[i].p = p;
		th[i].tid = i;
		th[i].rng = rng_thread_seed(run->seed, round, i);
		args[i] = &th[i];
	}
	if (stress_threads(run, worker, args, err, errlen) != 0)
		return -1;

	/* After the join: the threads' counters are theirs no longer. */
	for (int i = 0; i < n; i++)
		for (int j = 0; j < th[i].seen.ninv; j++)
			stress_count(r, th[i].seen.inv_name[j], th[i].seen.inv[j], "round %d: %s",
				     round, th[i].seen.first);
	/* The cache itself stays sound in both builds (every change is made
	 * under the lock); only what a get copied out can be wrong. */
	char why[200], key[EVCACHE_USER_ID_MAX];
	int problems = evcache_check(c, why, sizeof(why));
	stress_count(r, "structure", problems, "round %d: the cache is inconsistent: %s", round,
		     why);
	struct evcache_response out;
	struct stress_result left = { 0 };
	for (long k = 0; k < p->keys; k++) {
		snprintf(key, sizeof(key), "user-%ld", k);
		if (evcache_get(c, key, &out))
			check_response(&left, key, &out);
	}
	stress_count(r, "structure", stress_violations(&left),
		     "round %d: an entry left in the cache is wrong: %s", round, left.first);
	uint64_t evicted = 0;
	for (int i = 0; i < n; i++)
		evicted += th[i].evicted;
	uint64_t said = evcache_evictions(c);
	stress_count(r, "evictions", said < evicted,
		     "round %d: evcache_evictions() says %llu, but %llu evicts answered true",
		     round, (unsigned long long)said, (unsigned long long)evicted);
	r->ops_done += run->ops * n;
	evcache_destroy(c);
	return 0;
}

const struct stress_lab stress_lab5 = {
	.params = lab5_keys,
	.invariants = lab5_invariants,
	.prepare = lab5_prepare,
	.round = lab5_round,
};
