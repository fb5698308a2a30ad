/*
 * keys.h: the merchants and their API keys, read once from a file at
 * start (--keys FILE).
 *
 * A request names its merchant by its key alone (Authorization: Bearer
 * KEY); everything a merchant can see, its payments and its idempotency
 * keys, is scoped by the merchant found here, so two merchants never share
 * data whatever ids or keys their clients choose.
 */
#ifndef RACELAB_KEYS_H
#define RACELAB_KEYS_H

#include <stddef.h>

#define KEYS_MERCHANT_MAX 32   /* a merchant's id, with its NUL */
#define KEYS_KEY_MIN	  16   /* an API key's bytes: short keys can be guessed */
#define KEYS_KEY_MAX	  128  /* ... with its NUL */
#define KEYS_MAX	  1000 /* merchants in one file */

struct merchant {
	unsigned index; /* 0, 1, 2, ... in file order: scopes the cache's keys */
	char id[KEYS_MERCHANT_MAX];
	char key[KEYS_KEY_MAX];
};

struct keys {
	struct merchant *m;
	size_t n;
};

/*
 * Reads path: one merchant per line, "MERCHANT KEY" (blanks between), '#'
 * starts a comment line. A merchant id is 1 to 31 of [A-Za-z0-9._-]; a
 * key is 16 to 127 printable ASCII bytes without blanks; neither may
 * appear twice. Returns 0, or -1 with a one-line reason (naming the line)
 * in err.
 */
int keys_load(const char *path, struct keys *k, char *err, size_t errlen);
void keys_free(struct keys *k);

/* The merchant whose key is the Authorization header's value
 * ("Bearer KEY", the scheme in any case), or NULL. Every key is compared
 * in full, so the time taken does not say how much of a key was right. */
const struct merchant *keys_find(const struct keys *k, const char *authorization);

#endif
