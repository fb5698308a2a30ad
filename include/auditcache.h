/*
 * auditcache.h: per-user payment counts, kept by every request thread as
 * it completes a payment, with an audit line written on the way (lab 9).
 *
 * For each user the cache holds how many payments were recorded and their
 * total in cents. Recording one reads the user's entry, writes an audit
 * line (auditlog.h) at the cache's verbosity, and writes the entry back.
 *
 * Two files implement this API with the same name and the same behaviour
 * when only one thread uses them:
 *   fixed/auditcache.c   safe under any number of threads (a mutex)
 *   broken/auditcache.c  a plain read-modify-write; the audit log's own
 *                        mutex, taken inside it, makes it look
 *                        synchronized to a race detector, but it is not
 *
 * Money is integer cents. Users are numbered 0 .. nusers - 1.
 */
#ifndef RACELAB_AUDITCACHE_H
#define RACELAB_AUDITCACHE_H

#include <stdbool.h>
#include <stdint.h>

#include "auditlog.h"

#define AUDITCACHE_USERS_MAX 65536
#define AUDITCACHE_LOG_EVERY 16 /* verbosity 1: log every 16th payment a thread records */

/* How much auditcache_record() writes to the audit log. */
enum auditcache_verbosity {
	AUDITCACHE_LOG_NONE = 0,    /* never */
	AUDITCACHE_LOG_SAMPLED = 1, /* every AUDITCACHE_LOG_EVERY-th payment of each thread */
	AUDITCACHE_LOG_ALL = 2,	    /* every payment */
};

struct auditcache_entry {
	uint64_t payments; /* how many payments were recorded */
	int64_t cents;	   /* their total */
};

struct auditcache;

/* A cache of nusers users, every entry zero, that writes to log (which
 * must outlive it; NULL is allowed only with AUDITCACHE_LOG_NONE) at the
 * given verbosity. Returns NULL when nusers is not in
 * [1, AUDITCACHE_USERS_MAX], the verbosity is unknown, or memory runs out. */
struct auditcache *auditcache_create(int nusers, struct auditlog *log, int verbosity);
void auditcache_destroy(struct auditcache *c);

/* Records one payment of `cents` cents (negative for a refund) for user,
 * writing an audit line when the verbosity says so. Returns false, and
 * changes and logs nothing, when the user does not exist. */
bool auditcache_record(struct auditcache *c, int user, int64_t cents);

/* Copies user's entry into *out and returns true, or returns false (and
 * zeroes *out) when the user does not exist. */
bool auditcache_get(struct auditcache *c, int user, struct auditcache_entry *out);

/* The number of users. */
int auditcache_users(struct auditcache *c);

#endif
