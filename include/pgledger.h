/*
 * pgledger.h: lab 11's module, how a payment's idempotency key is made to
 * reserve one payment when several service processes (replicas) share one
 * PostgreSQL ledger.
 *
 * Inside one process, payments.c claims a key before it reserves (lab 3's
 * fix), so two threads never reserve one key at once. Across processes no
 * mutex reaches: only the database can decide which request owns a key.
 * store_pg.c creates the payments table and calls these two functions;
 * everything else it does is the same in both builds.
 */
#ifndef RACELAB_PGLEDGER_H
#define RACELAB_PGLEDGER_H

#include <stdint.h>

#include <libpq-fe.h>

/* Creates what makes a key findable (and, fixed, unique) on the payments
 * table: 0, or -1 with the server's message in err. Safe to run again. */
int pgledger_prepare(PGconn *db, char *err, size_t errlen);

/*
 * Reserves a payment: a 'pending' row for (merchant, key), created at
 * `now` (key NULL: none, always a new row). Returns 1 with its id, 0 when
 * the key already has a payment (pending or charged, from any process),
 * -1 on a database error (its message in err).
 */
int pgledger_reserve(PGconn *db, const char *merchant, const char *key, const char *user_id,
		     int64_t cents, int64_t now, uint64_t *id, char *err, size_t errlen);

#endif
