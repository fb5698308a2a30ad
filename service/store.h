/*
 * store.h: the payments ledger as a database (SQLite, or PostgreSQL for
 * several service processes), the service's truth across restarts and
 * crashes.
 *
 * One row per payment, its id the payment_id clients see (AUTOINCREMENT:
 * an id is never handed out twice, not even one whose row was removed).
 * (merchant, idempotency key) is UNIQUE, so the database itself refuses a
 * second payment under one key. A payment is booked in two steps around
 * the gateway call: reserve (a 'pending' row, committed) before it, then
 * charged (committed) after it, and only then is the client answered. A
 * crash between the two leaves a pending row, which the next start voids
 * (the simulated gateway's books died with the process; a real service
 * would ask its gateway about that payment id instead).
 *
 * With SQLite, one connection used under the store's own mutex: the
 * service's threads take turns, and SQLite's write lock is never contended
 * inside one process. With PostgreSQL, a pool of connections: the
 * database's own locks and constraints order the writes of every process.
 */
#ifndef RACELAB_STORE_H
#define RACELAB_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cache.h"
#include "keys.h"

#define STORE_IDEMPOTENCY_KEY_MAX 256 /* bytes of an Idempotency-Key, with its NUL */

struct store;

struct store_payment {
	uint64_t id;
	char merchant[KEYS_MERCHANT_MAX];
	char user_id[CACHE_USER_ID_MAX];
	int64_t cents;
	int64_t created; /* seconds since the epoch */
};

/* spec is memory, sqlite:FILE or postgres:CONNINFO: true when it has one
 * of these shapes (whether it opens is store_open's to say). */
bool store_spec_valid(const char *spec);

/*
 * Opens the ledger spec names.
 *  - sqlite:FILE: opens (creating it when missing) the database in WAL
 *    mode, with synchronous=FULL (full_sync: a commit survives a power cut)
 *    or NORMAL (it survives the process's crash, not the machine's); memory:
 *    an in-memory database, nothing durable. Voids the pending rows a
 *    crash left.
 *  - postgres:CONNINFO: a PostgreSQL database shared by several service
 *    processes (store_pg.c; full_sync is the server's to set). Voids only
 *    pending rows too old to belong to a request in flight in any of them.
 * Says how many it voided in *voided. Returns NULL with a one-line reason
 * in err.
 */
struct store *store_open(const char *spec, bool full_sync, long *voided, char *err, size_t errlen);
/* "sqlite" or "postgres". */
const char *store_kind(const struct store *s);
void store_close(struct store *s);

/* The charged payments and their sum: 0, or -1 on a database error. */
int store_totals(struct store *s, int64_t *count, int64_t *cents);

/* The charged payment under (merchant, key): 1 found, 0 none, -1 error. */
int store_find_key(struct store *s, const char *merchant, const char *key,
		   struct store_payment *out);

/* Reserves a payment id: a pending row (key may be NULL: none). Returns 1
 * with the id, 0 when the key is taken already, -1 on a database error. */
int store_reserve(struct store *s, const char *merchant, const char *key, const char *user_id,
		  int64_t cents, int64_t now, uint64_t *id);
/* The reserved payment was charged (gateway_charge: the gateway's id):
 * 0, or -1 on a database error. */
int store_charged(struct store *s, uint64_t id, uint64_t gateway_charge);
/* The reserved payment was not charged: its row goes, its id stays used. */
int store_void(struct store *s, uint64_t id);

/* The merchant's charged payment id: 1 found, 0 none (or another
 * merchant's: the same answer), -1 error. */
int store_get(struct store *s, uint64_t id, const char *merchant, struct store_payment *out);

/* Releases the idempotency keys of payments created before `before`
 * (the payments stay), calling gone(merchant, key, arg) for each first.
 * Returns how many, or -1 on a database error. */
long store_expire(struct store *s, int64_t before,
		  void (*gone)(const char *merchant, const char *key, void *arg), void *arg);

#endif
