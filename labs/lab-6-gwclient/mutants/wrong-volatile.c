/* WRONG: double-checked locking with a volatile flag: volatile orders nothing between threads */
/*
 * broken/gwclient.c: the gateway client, built lazily with no
 * synchronization at all. Lab 6: "if it is not built yet, build it", run
 * by two request threads at once. Same API and same code as
 * fixed/gwclient.c, minus the mutex.
 *
 * This is the unlocked check-then-build, not the textbook double-checked
 * locking (check, lock, check again, build, unlock): the lab wants a
 * symptom the program can count on x86, and only this form has one there.
 * Textbook DCL builds once, but its first check still reads the flag with
 * a plain load while another thread writes it with a plain store: a data
 * race whose damage (a client seen as ready before its fields are) needs
 * compiler reordering or a weakly ordered CPU. The handout explains why
 * that half-fix is still broken.
 *
 * Race pairs, DataRaceBench style: variable, "code" at line N, read (R)
 * or write (W). No lock is held on either side of any pair.
 *   gwclient.get.window  l->ready: "l->ready = 1" at line 120 (W) vs
 *                        "if (!l->ready)" at line 113 (R) in another
 *                        thread. Both threads read 0 before either
 *                        writes 1, and both build: constructions > 1.
 *   l->client            "memset(c, 0, sizeof(*c))" at line 75 (W) and
 *                        "c->magic = GWCLIENT_MAGIC" at line 87 (W) vs
 *                        "uint64_t magic = c->magic" at line 160 (R, in
 *                        gwclient_check): the second build wipes and
 *                        refills a client the first builder has already
 *                        returned, while its caller reads it: half_built.
 *   the same fields      written by both builds at once (W vs W): the
 *                        client ends up a mix of two builds (here both
 *                        write the same values, so the mix looks whole).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gwclient.h"
#include "hash.h"
#include "racepoint.h"

struct gwclient_lazy {
	pthread_mutex_t lock; /* guards the build */
	volatile int ready;   /* the client is built; volatile so every check rereads it */
	struct gwclient client;
	char merchant[GWCLIENT_MERCHANT_MAX];
	int key_rounds;
	atomic_int constructions; /* atomic: the count must be exact even here */
};

/* One key: a few rounds of a 64-bit mixer (splitmix64's finaliser). The
 * rounds stand in for the work a real client does when it is built. */
static uint64_t derive_key(uint64_t seed, int i, int rounds)
{
	uint64_t x = seed ^ ((uint64_t)(i + 1) * 0x9e3779b97f4a7c15ULL);
	for (int r = 0; r < rounds; r++) {
		x ^= x >> 30;
		x *= 0xbf58476d1ce4e5b9ULL;
		x ^= x >> 27;
		x *= 0x94d049bb133111ebULL;
		x ^= x >> 31;
	}
	return x | 1; /* never 0: a 0 key is an unwritten one */
}

static void endpoint_of(char *buf, size_t len, const char *merchant)
{
	snprintf(buf, len, "https://gateway.example/v2/merchants/%s/charges", merchant);
}

/* The constructor. It starts from a zeroed client and writes the magic
 * last, so a client with the magic is a complete one. */
static void gwclient_build(struct gwclient_lazy *l)
{
	struct gwclient *c = &l->client;
	atomic_fetch_add(&l->constructions, 1);
	memset(c, 0, sizeof(*c)); /* write: wipes a client another caller may be reading */
	memcpy(c->merchant, l->merchant, sizeof(c->merchant));
	endpoint_of(c->endpoint, sizeof(c->endpoint), l->merchant);
	c->timeout_ms = 2500;
	c->max_retries = 3;
	c->max_charge_cents = 1000000; /* $10,000.00 */
	uint64_t seed = hash_str(l->merchant), check = 0;
	for (int i = 0; i < GWCLIENT_NKEYS; i++) {
		c->keys[i] = derive_key(seed, i, l->key_rounds);
		check ^= c->keys[i];
	}
	c->key_check = check;
	c->magic = GWCLIENT_MAGIC; /* last: the client is complete */
}

struct gwclient_lazy *gwclient_lazy_create(const char *merchant, int key_rounds)
{
	if (strlen(merchant) >= GWCLIENT_MERCHANT_MAX)
		return NULL;
	struct gwclient_lazy *l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	/* strncpy zero-fills: the client's copy is compared byte for byte */
	strncpy(l->merchant, merchant, sizeof(l->merchant));
	l->key_rounds = key_rounds < 1 ? 1 : key_rounds;
	atomic_init(&l->constructions, 0);
	pthread_mutex_init(&l->lock, NULL);
	return l;
}

void gwclient_lazy_destroy(struct gwclient_lazy *l)
{
	if (!l)
		return;
	pthread_mutex_destroy(&l->lock);
	free(l);
}

const struct gwclient *gwclient_get(struct gwclient_lazy *l)
{
	if (!l->ready) {
		pthread_mutex_lock(&l->lock);
		if (!l->ready) {
			RACE_POINT("gwclient.get.window");
			gwclient_build(l);
			l->ready = 1;
		}
		pthread_mutex_unlock(&l->lock);
	}
	return &l->client;
}

void gwclient_lazy_reset(struct gwclient_lazy *l)
{
	l->ready = 0;
	memset(&l->client, 0, sizeof(l->client));
	atomic_store(&l->constructions, 0);
}

int gwclient_lazy_constructions(struct gwclient_lazy *l)
{
	return atomic_load(&l->constructions);
}

/*
 * Every field is compared with what the constructor writes for merchant;
 * the strings as whole zero-padded arrays, so a string caught half written
 * (no NUL yet) is read within its array.
 */
int gwclient_check(const struct gwclient *c, const char *merchant, char *err, size_t errlen)
{
	int problems = 0;
	char want_merchant[GWCLIENT_MERCHANT_MAX] = { 0 },
	     want_endpoint[GWCLIENT_ENDPOINT_MAX] = { 0 };
	if (errlen)
		err[0] = '\0';
#define PROBLEM(...)                                                                               \
	do {                                                                                       \
		if (problems++ == 0 && errlen)                                                     \
			snprintf(err, errlen, __VA_ARGS__);                                        \
	} while (0)
	if (strlen(merchant) >= GWCLIENT_MERCHANT_MAX) {
		PROBLEM("merchant id too long");
		return problems;
	}
	strncpy(want_merchant, merchant, sizeof(want_merchant));
	endpoint_of(want_endpoint, sizeof(want_endpoint), merchant);
	uint64_t magic = c->magic; /* read: races with the constructor's writes */
	if (magic != GWCLIENT_MAGIC)
		PROBLEM("magic is %#llx: not completely built", (unsigned long long)magic);
	if (memcmp(c->merchant, want_merchant, sizeof(want_merchant)) != 0)
		PROBLEM("the merchant is not %s", merchant);
	if (memcmp(c->endpoint, want_endpoint, sizeof(want_endpoint)) != 0)
		PROBLEM("the endpoint is not %s's", merchant);
	if (c->timeout_ms != 2500 || c->max_retries != 3 || c->max_charge_cents != 1000000)
		PROBLEM("timeout %d ms, %d retries, at most %lld cents: not the settings",
			c->timeout_ms, c->max_retries, (long long)c->max_charge_cents);
	uint64_t check = 0;
	int zero = 0;
	for (int i = 0; i < GWCLIENT_NKEYS; i++) {
		check ^= c->keys[i];
		zero += c->keys[i] == 0;
	}
	if (zero)
		PROBLEM("%d of %d signing keys are not set", zero, GWCLIENT_NKEYS);
	else if (check != c->key_check)
		PROBLEM("the signing keys do not match their check value");
#undef PROBLEM
	return problems;
}
