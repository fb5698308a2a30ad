/*
 * gwclient.h: the payment gateway client, built lazily on first use
 * (lab 6).
 *
 * The processor talks to the card gateway through one client per merchant
 * account: the endpoint, the timeouts and a table of request-signing keys
 * derived from the merchant's secret. Deriving the keys takes a while, so a
 * client is not built when the service starts but by the first request
 * that needs it; every later request gets the same client.
 *
 * Two files implement this API with the same name and the same behaviour
 * when only one thread uses them:
 *   fixed/gwclient.c   builds each client exactly once, under any number
 *                      of threads (a mutex around the check and the build)
 *   broken/gwclient.c  checks and builds with no synchronization at all
 *
 * A struct gwclient_lazy is the slot that holds one merchant's client,
 * built or not yet. The built client is read-only until the slot is reset
 * or destroyed, so callers read it through the pointer gwclient_get()
 * returns without a lock.
 */
#ifndef RACELAB_GWCLIENT_H
#define RACELAB_GWCLIENT_H

#include <stddef.h>
#include <stdint.h>

#define GWCLIENT_MERCHANT_MAX 32 /* bytes, with the terminating NUL */
#define GWCLIENT_ENDPOINT_MAX 96
#define GWCLIENT_NKEYS	      32
/* "gwclient" in ASCII: the constructor writes it last, so a client whose
 * magic is not this one is not (or no longer) completely built. */
#define GWCLIENT_MAGIC 0x6777636c69656e74ULL

struct gwclient {
	char merchant[GWCLIENT_MERCHANT_MAX]; /* "merchant-17" */
	char endpoint[GWCLIENT_ENDPOINT_MAX]; /* where charges are sent */
	int timeout_ms;
	int max_retries;
	int64_t max_charge_cents;      /* the gateway refuses larger charges */
	uint64_t keys[GWCLIENT_NKEYS]; /* request-signing keys */
	uint64_t key_check;	       /* the xor of keys[], to check them */
	uint64_t magic;		       /* GWCLIENT_MAGIC once built: written last */
};

struct gwclient_lazy;

/* A slot for merchant's client, not built yet. key_rounds (at least 1) is
 * how many mixing rounds derive each key: the cost of building. Returns
 * NULL when merchant is longer than GWCLIENT_MERCHANT_MAX - 1 bytes or
 * memory runs out. */
struct gwclient_lazy *gwclient_lazy_create(const char *merchant, int key_rounds);
void gwclient_lazy_destroy(struct gwclient_lazy *l);

/* Puts the slot back to "not built" and its construction count to 0. No
 * other thread may be using the slot or a client it returned. */
void gwclient_lazy_reset(struct gwclient_lazy *l);

/* The merchant's client, built by this call if no call built it before.
 * Never NULL. */
const struct gwclient *gwclient_get(struct gwclient_lazy *l);

/* How many times the client was built since the slot was created or
 * reset: 1 once anyone got it. Counted atomically, so it is exact even
 * when threads built it at the same time. */
int gwclient_lazy_constructions(struct gwclient_lazy *l);

/* Checks that c is merchant's client, completely built: the magic, the
 * merchant, the settings and the key table. Returns 0 when it is, or the
 * number of problems, with the first described in err. */
int gwclient_check(const struct gwclient *c, const char *merchant, char *err, size_t errlen);

#endif
