/*
 * payments.c: the idempotent payment flow.
 *
 * With a key: look in the cache under (merchant, key); on a miss, claim
 * the key (lab 3's fix: a second request for the same key waits for the
 * first, rather than both charging), look again in the cache and then in
 * the store (after a restart or an expiry sweep the cache is empty but the
 * store is not), and only then reserve a payment id, charge, book it and
 * put it in the cache. A hit answers with the stored payment when the
 * request is the same (user id and amount, compared as parsed, so 5.5 and
 * 5.50 are the same request) and with a conflict when it is not. Without
 * a key, every request is a new payment and the cache is not used.
 *
 * Several processes may share one ledger (PostgreSQL, lab 11): the claim
 * is this process's alone, so the store may still find the key taken when
 * we reserve, by another process's request. Then we wait for that payment
 * and answer with it, as if it were our cache's (see taken()).
 *
 * The cache's key is "INDEX:DIGEST": the merchant's index, then 96 bits of
 * a hash of the idempotency key, so it fits the cache's 31 bytes whatever
 * the key's length. Merchants can never meet in the cache (the index is
 * exact); two keys of one merchant would meet only on a 96-bit collision,
 * and the store, which keeps the whole key, is the final word.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "payments.h"

struct claim {
	struct claim *next;
	const char *ckey;
};

struct payments {
	struct cache *c;
	struct gateway *g;
	struct ledger *l;
	struct store *s;
	const struct keys *k;
	long ttl_s;
	pthread_t sweeper;
	bool stop;		/* under lock: the sweeper ends */
	pthread_cond_t wake;	/* signalled at stop */
	atomic_long charged;	/* payments in the store */
	pthread_mutex_t lock;	/* guards inflight */
	pthread_cond_t dropped; /* broadcast whenever a claim is dropped */
	struct claim *inflight; /* the keys being charged (or expired) right now */
};

static void *sweep_loop(void *arg);

struct payments *payments_create(struct cache *c, struct gateway *g, struct ledger *l,
				 struct store *s, const struct keys *k, long ttl_s)
{
	int64_t count, cents;
	if (store_totals(s, &count, &cents) != 0)
		return NULL;
	struct payments *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	*p = (struct payments){ .c = c, .g = g, .l = l, .s = s, .k = k, .ttl_s = ttl_s };
	atomic_init(&p->charged, (long)count);
	ledger_add(l, 0, cents); /* the running total starts where the store is */
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->dropped, NULL);
	pthread_cond_init(&p->wake, NULL);
	if (pthread_create(&p->sweeper, NULL, sweep_loop, p) != 0) {
		pthread_cond_destroy(&p->wake);
		pthread_cond_destroy(&p->dropped);
		pthread_mutex_destroy(&p->lock);
		free(p);
		return NULL;
	}
	return p;
}

void payments_destroy(struct payments *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->stop = true;
	pthread_cond_signal(&p->wake);
	pthread_mutex_unlock(&p->lock);
	pthread_join(p->sweeper, NULL);
	pthread_cond_destroy(&p->wake);
	pthread_cond_destroy(&p->dropped);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

long payments_charged(struct payments *p)
{
	return atomic_load(&p->charged);
}

static uint64_t fnv(const char *s, uint64_t h)
{
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	/* splitmix64's finalizer: FNV alone mixes its last bytes poorly */
	h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ULL;
	h = (h ^ (h >> 27)) * 0x94d049bb133111ebULL;
	return h ^ (h >> 31);
}

/* The cache's key for (merchant, key): at most 5 + 1 + 24 bytes. */
static void cache_key(unsigned merchant, const char *key, char out[CACHE_USER_ID_MAX])
{
	uint64_t a = fnv(key, 1469598103934665603ULL);
	uint64_t b = fnv(key, 0x6a09e667f3bcc908ULL);
	snprintf(out, CACHE_USER_ID_MAX, "%u:%016llx%08x", merchant, (unsigned long long)a,
		 (unsigned)(b >> 32));
}

static bool claimed(struct payments *p, const char *ckey)
{
	for (struct claim *cl = p->inflight; cl; cl = cl->next)
		if (strcmp(cl->ckey, ckey) == 0)
			return true;
	return false;
}

/* Waits until nobody else holds ckey, then holds it. */
static void claim(struct payments *p, const char *ckey, struct claim *cl)
{
	pthread_mutex_lock(&p->lock);
	while (claimed(p, ckey))
		pthread_cond_wait(&p->dropped, &p->lock);
	cl->ckey = ckey;
	cl->next = p->inflight;
	p->inflight = cl;
	pthread_mutex_unlock(&p->lock);
}

static void drop(struct payments *p, struct claim *cl)
{
	pthread_mutex_lock(&p->lock);
	struct claim **link = &p->inflight;
	while (*link != cl)
		link = &(*link)->next;
	*link = cl->next;
	pthread_cond_broadcast(&p->dropped);
	pthread_mutex_unlock(&p->lock);
}

static void response(struct cache_response *out, uint64_t id, const char *user_id, int64_t cents)
{
	memset(out, 0, sizeof(*out));
	snprintf(out->user_id, sizeof(out->user_id), "%s", user_id);
	snprintf(out->status, sizeof(out->status), "success");
	out->amount_cents = cents;
	out->request_id = id;
}

/* A stored payment answers this request only if it is the same request. */
static enum payments_outcome replay(const struct cache_response *got, const char *user_id,
				    int64_t cents)
{
	return strcmp(got->user_id, user_id) == 0 && got->amount_cents == cents ? PAYMENTS_CACHED
										: PAYMENTS_CONFLICT;
}

/* Reserve, charge, book: the one place money moves. */
static enum payments_outcome charge(struct payments *p, const struct merchant *m, const char *key,
				    const char *user_id, int64_t cents, struct cache_response *out)
{
	uint64_t id;
	int rc = store_reserve(p->s, m->id, key, user_id, cents, (int64_t)time(NULL), &id);
	if (rc < 0)
		return PAYMENTS_ERROR;
	if (rc == 0)
		return PAYMENTS_BUSY; /* another process holds the key: see taken() */
	uint64_t done = gateway_charge(p->g, user_id, cents);
	if (!done) {
		store_void(p->s, id);
		return PAYMENTS_FAILED;
	}
	if (store_charged(p->s, id, done) != 0) {
		/* Charged at the gateway, not booked: a real service would
		 * refund it; ours tells the client nothing was charged only
		 * after voiding the reservation. */
		store_void(p->s, id);
		return PAYMENTS_ERROR;
	}
	atomic_fetch_add(&p->charged, 1);
	ledger_add(p->l, 0, cents);
	response(out, id, user_id, cents);
	return PAYMENTS_CHARGED;
}

static int64_t now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/*
 * The key was taken when we went to reserve it: by another process (our
 * claim rules out this one's threads), whose payment is pending while its
 * gateway call runs. Polls the store until that payment is charged (and
 * answers with it, as a cache hit would) or voided (and then the key is
 * ours to charge), for PAYMENTS_WAIT_MS at most.
 */
static enum payments_outcome taken(struct payments *p, const struct merchant *m, const char *key,
				   const char *ckey, const char *user_id, int64_t cents,
				   struct cache_response *out)
{
	int64_t until = now_ms() + PAYMENTS_WAIT_MS;
	enum payments_outcome o = PAYMENTS_BUSY;
	while (o == PAYMENTS_BUSY && now_ms() < until) {
		struct store_payment sp;
		int found = store_find_key(p->s, m->id, key, &sp);
		if (found < 0)
			return PAYMENTS_ERROR;
		if (found) {
			response(out, sp.id, sp.user_id, sp.cents);
			cache_put(p->c, ckey, out);
			return replay(out, user_id, cents);
		}
		struct timespec pause = { 0, 5 * 1000 * 1000 }; /* a gateway call takes ms */
		nanosleep(&pause, NULL);
		o = charge(p, m, key, user_id, cents, out);
	}
	if (o == PAYMENTS_CHARGED)
		cache_put(p->c, ckey, out);
	return o;
}

enum payments_outcome payments_process(struct payments *p, const struct merchant *m,
				       const char *key, const char *user_id, int64_t cents,
				       struct cache_response *out)
{
	if (!key)
		return charge(p, m, NULL, user_id, cents, out);
	char ckey[CACHE_USER_ID_MAX];
	cache_key(m->index, key, ckey);
	if (cache_get(p->c, ckey, out))
		return replay(out, user_id, cents);
	struct claim cl;
	claim(p, ckey, &cl);
	enum payments_outcome o;
	struct store_payment sp;
	int found;
	if (cache_get(p->c, ckey, out)) {
		o = replay(out, user_id, cents); /* charged while we waited */
	} else if ((found = store_find_key(p->s, m->id, key, &sp)) != 0) {
		if (found < 0) {
			o = PAYMENTS_ERROR;
		} else {
			response(out, sp.id, sp.user_id, sp.cents);
			cache_put(p->c, ckey, out);
			o = replay(out, user_id, cents);
		}
	} else {
		o = charge(p, m, key, user_id, cents, out);
		if (o == PAYMENTS_CHARGED)
			cache_put(p->c, ckey, out);
		else if (o == PAYMENTS_BUSY)
			o = taken(p, m, key, ckey, user_id, cents, out);
	}
	drop(p, &cl);
	return o;
}

struct expired {
	char ckey[CACHE_USER_ID_MAX];
};

struct sweep {
	const struct keys *k;
	struct expired *e;
	size_t n, cap;
	bool oom;
};

static void note_expired(const char *merchant, const char *key, void *arg)
{
	struct sweep *sw = arg;
	const struct merchant *m = NULL;
	for (size_t i = 0; i < sw->k->n && !m; i++)
		if (strcmp(sw->k->m[i].id, merchant) == 0)
			m = &sw->k->m[i];
	if (!m)
		return; /* a merchant no longer in the key file: not in the cache */
	if (sw->n == sw->cap) {
		size_t cap = sw->cap ? sw->cap * 2 : 64;
		struct expired *e = realloc(sw->e, cap * sizeof(*e));
		if (!e) {
			sw->oom = true;
			return;
		}
		sw->e = e;
		sw->cap = cap;
	}
	cache_key(m->index, key, sw->e[sw->n++].ckey);
}

/*
 * The store releases the keys first, then each leaves the cache under its
 * claim: a request that found the key in the store just before holds the
 * claim until its put is done, so the eviction comes after the put and no
 * released key is left behind in the cache. A cache entry can outlive its
 * key by one sweep at most: expiry is "no sooner than the ttl".
 */
static long expire(struct payments *p)
{
	struct sweep sw = { .k = p->k };
	long n = store_expire(p->s, (int64_t)time(NULL) - p->ttl_s, note_expired, &sw);
	for (size_t i = 0; i < sw.n; i++) {
		struct claim cl;
		claim(p, sw.e[i].ckey, &cl);
		cache_evict(p->c, sw.e[i].ckey);
		drop(p, &cl);
	}
	free(sw.e);
	return n;
}

/* Sweeps every ttl / 2 seconds (1 to 60) until payments_destroy(). */
static void *sweep_loop(void *arg)
{
	struct payments *p = arg;
	long every = p->ttl_s / 2 < 1 ? 1 : p->ttl_s / 2 > 60 ? 60 : p->ttl_s / 2;
	pthread_mutex_lock(&p->lock);
	while (!p->stop) {
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += every;
		while (!p->stop && pthread_cond_timedwait(&p->wake, &p->lock, &until) == 0)
			;
		if (p->stop)
			break;
		pthread_mutex_unlock(&p->lock);
		if (expire(p) < 0)
			fprintf(stderr, "racelab-service: the expiry sweep failed (retried)\n");
		pthread_mutex_lock(&p->lock);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}
