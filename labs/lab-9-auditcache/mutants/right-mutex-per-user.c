/* RIGHT: a mutex per user, held from the read to the write and for the copy out */
/*
 * broken/auditcache.c: per-user payment counts with a plain
 * read-modify-write and an audit call inside it.
 * Lab 9, the masked race: lab 2's lost update, but between the read and
 * the write the code calls auditlog_write(), which locks and unlocks the
 * audit log's mutex. The mutex protects the log, not the entry. To a
 * happens-before race detector, though, one thread's unlock followed by
 * the other thread's lock orders everything before the unlock before
 * everything after the lock, so many interleavings look synchronized.
 * Same API and same code as fixed/auditcache.c, minus the cache's mutex.
 *
 * Race pairs, DataRaceBench style: variable, "code" at line N, read (R)
 * or write (W). Only the log's mutex is ever held, and only on neither
 * side of a pair: it is taken and released between them.
 *   auditcache.update.window  c->entry[user]:
 *                      "e->payments = seen.payments + 1" at line 92 (W)
 *                      vs "struct auditcache_entry seen = *e" at line 83
 *                      (R) in another thread: both read the same entry,
 *                      both write entry + their own payment, one payment
 *                      is lost. The same write vs itself (W/W), and
 *                      "e->cents = seen.cents + cents" at line 93 (W) vs
 *                      the read, are the same bug.
 */
#include <pthread.h>
#include <stdlib.h>

#include "auditcache.h"
#include "racepoint.h"

struct auditcache {
	pthread_mutex_t *lock; /* lock[u] guards entry[u] */
	int nusers;
	int verbosity;
	struct auditlog *log;
	struct auditcache_entry entry[];
};

struct auditcache *auditcache_create(int nusers, struct auditlog *log, int verbosity)
{
	if (nusers < 1 || nusers > AUDITCACHE_USERS_MAX)
		return NULL;
	if (verbosity < AUDITCACHE_LOG_NONE || verbosity > AUDITCACHE_LOG_ALL)
		return NULL;
	if (!log && verbosity != AUDITCACHE_LOG_NONE)
		return NULL;
	struct auditcache *c = calloc(1, sizeof(*c) + (size_t)nusers * sizeof(c->entry[0]));
	if (!c)
		return NULL;
	c->nusers = nusers;
	c->verbosity = verbosity;
	c->log = log;
	c->lock = malloc((size_t)nusers * sizeof(c->lock[0]));
	if (!c->lock) {
		free(c);
		return NULL;
	}
	for (int i = 0; i < nusers; i++)
		pthread_mutex_init(&c->lock[i], NULL);
	return c;
}

void auditcache_destroy(struct auditcache *c)
{
	if (!c)
		return;
	for (int i = 0; i < c->nusers; i++)
		pthread_mutex_destroy(&c->lock[i]);
	free(c->lock);
	free(c);
}

static bool user_ok(const struct auditcache *c, int user)
{
	return user >= 0 && user < c->nusers;
}

/* Verbosity 1 samples: each thread logs every AUDITCACHE_LOG_EVERY-th
 * payment it records. The counter is per thread, so it is not shared and
 * needs no lock. */
static _Thread_local unsigned long records_here;

/* Whether this payment is written to the audit log. */
static bool should_log(const struct auditcache *c)
{
	if (c->verbosity == AUDITCACHE_LOG_ALL)
		return true;
	return c->verbosity == AUDITCACHE_LOG_SAMPLED && ++records_here % AUDITCACHE_LOG_EVERY == 0;
}

bool auditcache_record(struct auditcache *c, int user, int64_t cents)
{
	if (!user_ok(c, user))
		return false;
	struct auditcache_entry *e = &c->entry[user];
	pthread_mutex_lock(&c->lock[user]);
	struct auditcache_entry seen = *e; /* read: the user's entry before this payment */
	RACE_POINT("auditcache.update.window");
	/* The lock is held across the window now, so no other record can fall
	 * between the read and the write. */
	if (should_log(c))
		auditlog_write(c->log, "user %d: payment %llu, %lld cents", user,
			       (unsigned long long)(seen.payments + 1), (long long)cents);
	e->payments = seen.payments + 1;
	e->cents = seen.cents + cents;
	pthread_mutex_unlock(&c->lock[user]);
	return true;
}

bool auditcache_get(struct auditcache *c, int user, struct auditcache_entry *out)
{
	if (!user_ok(c, user)) {
		*out = (struct auditcache_entry){ 0, 0 };
		return false;
	}
	pthread_mutex_lock(&c->lock[user]);
	*out = c->entry[user];
	pthread_mutex_unlock(&c->lock[user]);
	return true;
}

int auditcache_users(struct auditcache *c)
{
	return c->nusers;
}
