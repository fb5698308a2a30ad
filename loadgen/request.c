/*
 * request.c: what each request is: its user, its amount and its bytes.
 * The one place a request is built, so that a header the service comes
 * to require is added here and nowhere else.
 */
#include <stdio.h>

#include "loadgen.h"
#include "rng.h"

void loadgen_request_user(const struct loadgen_options *o, int w, uint64_t j, uint64_t s,
			  uint64_t *rng, char *user, size_t size)
{
	switch (o->users) {
	case USERS_SEQ: snprintf(user, size, "seq-%llu", (unsigned long long)s); break;
	case USERS_STORY: snprintf(user, size, "user-%d-%d", w, (int)(j % 10)); break;
	case USERS_UNIQUE: snprintf(user, size, "user-%d-%llu", w, (unsigned long long)j); break;
	case USERS_SHARED:
		snprintf(user, size, "user-s-%d", (int)(rng_next(rng) % (uint64_t)o->shared_users));
		break;
	}
}

/* A user's amount never changes: a cached answer repeats the amount of the
 * user's first payment, so a per-request amount would look like a leak. */
int64_t loadgen_request_cents(const struct loadgen_options *o, const char *user)
{
	if (o->amount_cents > 0)
		return o->amount_cents;
	uint64_t h = 1469598103934665603ULL;
	for (; *user; user++)
		h = (h ^ (unsigned char)*user) * 1099511628211ULL;
	return 100 + (int64_t)(h % 9900);
}

/* The story's body, the merchant's key and, unless --no-idempotency-key,
 * the user's idempotency key. */
size_t loadgen_request_build(const struct loadgen_options *o, const char *user, int64_t cents,
			     char *req, size_t size)
{
	char body[160], auth[200] = "", key[200] = "";
	int blen = snprintf(body, sizeof(body), "{\"user_id\": \"%s\", \"amount\": %lld.%02lld}",
			    user, (long long)(cents / 100), (long long)(cents % 100));
	if (o->api_key)
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s\r\n", o->api_key);
	if (o->idempotency)
		snprintf(key, sizeof(key), "Idempotency-Key: %s%s\r\n", o->key_prefix, user);
	int rlen = snprintf(req, size,
			    "POST /process-payment HTTP/1.1\r\nHost: %s:%s\r\n"
			    "Content-Type: application/json\r\nContent-Length: %d\r\n%s%s%s\r\n%s",
			    o->host, o->port, blen, auth, key,
			    o->keepalive ? "" : "Connection: close\r\n", body);
	return rlen < 0 || (size_t)rlen >= size ? 0 : (size_t)rlen;
}
