/*
 * auditcache.c: per-user payment counts, with an audit call inside each
 * update. Lab 9, the masked race: lab 2's lost update, but between the read
 * of the entry and the write the code calls auditlog_write(), which locks and
 * unlocks the audit log's mutex. That mutex protects the log, not the entry.
 * To a happens-before race detector, though, one thread's unlock followed by
 * the other thread's lock orders everything before the unlock before
 * everything after the lock, so many interleavings look synchronized.
 * broken/auditcache.c has no lock of its own: two records of one user read
 * the same entry, both write entry + their own payment, and one payment is
 * lost. fixed/auditcache.c has one mutex for every entry, held by
 * auditcache_record() from the read to the write, so no other thread's
 * record can fall between them. The audit call stays inside the critical
 * section: the cache's lock is always taken before the log's and never the
 * other way round, so the two locks cannot deadlock.
 * Race pairs, only the log's mutex held, between the two sides of a pair:
 * auditcache.update.window, c->entry[user]: "e->payments = seen.payments + 1" at line 89
 * (W) vs "struct auditcache_entry seen = *e" at line 80 (R) in another thread;
 * the same write vs itself (W/W) and "e->cents = seen.cents + cents" at line 90 (W).
 */
#include <stdlib.h>

#include "auditcache.h"
#include "racepoint.h"

struct auditcache {
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
	return c;
}

void auditcache_destroy(struct auditcache *c)
{
	if (!c)
		return;
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
	struct auditcache_entry seen = *e; /* read: the user's entry before this payment */
	RACE_POINT("auditcache.update.window");
	/* Between the read and the write, another thread's record of this user
	 * is lost unless c->lock keeps it out. The audit call widens the window
	 * (it formats a line and may wait for the log's mutex), and its lock
	 * and unlock are all a race detector sees between the threads. */
	if (should_log(c))
		auditlog_write(c->log, "user %d: payment %llu, %lld cents", user,
			       (unsigned long long)(seen.payments + 1), (long long)cents);
	e->payments = seen.payments + 1; /* write: the entry read above, plus this payment */
	e->cents = seen.cents + cents;
	return true;
}

bool auditcache_get(struct auditcache *c, int user, struct auditcache_entry *out)
{
	if (!user_ok(c, user)) {
		*out = (struct auditcache_entry){ 0, 0 };
		return false;
	}
	*out = c->entry[user];
	return true;
}

int auditcache_users(struct auditcache *c)
{
	return c->nusers;
}
