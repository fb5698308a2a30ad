/*
 * gwclient.c: the gateway client, built lazily. Lab 6: "if it is not
 * built yet, build it", run by two request threads at once.
 * broken/gwclient.c has no synchronization at all: two callers both read
 * ready as 0 before either writes 1, and both build (constructions > 1); the
 * second build wipes and refills a client the first builder has already
 * returned, while its caller reads it (half_built). fixed/gwclient.c has one
 * mutex per slot guarding the check and the build together: every other
 * caller takes the same lock, so it either waits for the build to finish or
 * finds ready set, and the unlock after the build happens before any later
 * lock of the mutex, so whoever finds ready set also sees every field the
 * constructor wrote; nobody writes the client again until a reset.
 *
 * The broken form is the unlocked check-then-build, not the textbook
 * double-checked locking (check, lock, check again, build, unlock): the lab
 * wants a symptom the program can count on x86, and only this form has one
 * there. Textbook DCL builds once, but its first check still reads the flag
 * with a plain load while another thread writes it with a plain store: a
 * data race whose damage (a client seen as ready before its fields are)
 * needs compiler reordering or a weakly ordered CPU. The fixed form takes
 * the lock on every call, even long after the build: an uncontended lock and
 * unlock (tens of nanoseconds, against a gateway round trip of
 * milliseconds). The faster forms, pthread_once or an acquire/release flag
 * with the mutex for the slow path, are also correct, but Helgrind (3.19)
 * understands neither: it reports their fast path as a race, so the
 * reference build uses the form every tool understands. The handout compares
 * them.
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
	pthread_mutex_t lock; /* guards ready and, until ready is set, client */
	int ready;	      /* the client is built */
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
	memset(c, 0, sizeof(*c)); /* write: wipes the whole client */
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
	pthread_mutex_lock(&l->lock);
	if (!l->ready) { /* read: the check of check-then-build */
		RACE_POINT("gwclient.get.window");
		/* Until the write of ready below, another caller that gets
		 * past the check builds the client a second time, wiping the one
		 * this thread is about to return: only the lock can keep it out. */
		gwclient_build(l);
		l->ready = 1; /* write: the client is built */
	}
	pthread_mutex_unlock(&l->lock); /* publishes the built client to later lockers */
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
	uint64_t magic = c->magic; /* read: the constructor's last write */
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
