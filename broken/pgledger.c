/*
 * pgledger.c: reserving a payment's idempotency key in a PostgreSQL ledger
 * that several service processes share. Lab 11, check-then-act across
 * processes: lab 3's race, moved into the database.
 *
 * broken/pgledger.c checks and then acts in application code: a SELECT
 * asks whether the key has a payment, and if not an INSERT reserves one.
 * Each statement is atomic, and inside one process the flow's claim
 * (payments.c) makes the pair atomic too; but a second replica's request
 * for the same key can run its SELECT between them, both see no payment,
 * both insert, and the user is charged twice. The table has an index on
 * the key, not a unique one, so the database accepts the second row.
 * Neither ThreadSanitizer nor Helgrind can see this: each process is
 * race-free, and no two threads of one process touch the same memory.
 *
 * fixed/pgledger.c lets the database decide: a UNIQUE index on (merchant,
 * key) and one statement, INSERT ... ON CONFLICT DO NOTHING. Of two
 * inserts of one key, the second waits on the index entry until the first
 * commits, then inserts nothing: it is told the key is taken, whichever
 * process it runs in.
 *
 * Race pairs, check and act of two replicas' requests for one key (two
 * processes, so not a data race): pgledger.reserve.window, the key's row:
 * "SELECT 1 FROM payments" at line 66 (R, no row) vs the other process's
 * "INSERT INTO payments" at line 82 (W); both then insert: two payments
 * under one key.
 */
#include <stdio.h>
#include <stdlib.h>

#include "pgledger.h"
#include "racepoint.h"

/* The server's message, first line only (libpq's end in a newline). */
static void failed(PGconn *db, char *err, size_t errlen)
{
	const char *m = PQerrorMessage(db);
	int n = 0;
	while (m[n] && m[n] != '\n')
		n++;
	snprintf(err, errlen, "%.*s", n, m);
}

int pgledger_prepare(PGconn *db, char *err, size_t errlen)
{
	/* Makes the check fast; says nothing about how many rows a key has. */
	PGresult *r = PQexec(db, "CREATE INDEX IF NOT EXISTS payments_key "
				 "ON payments (merchant, idem_key)");
	int rc = PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : -1;
	if (rc)
		failed(db, err, errlen);
	PQclear(r);
	return rc;
}

int pgledger_reserve(PGconn *db, const char *merchant, const char *key, const char *user_id,
		     int64_t cents, int64_t now, uint64_t *id, char *err, size_t errlen)
{
	char c[24], t[24];
	snprintf(c, sizeof(c), "%lld", (long long)cents);
	snprintf(t, sizeof(t), "%lld", (long long)now);
	const char *v[5] = { merchant, key, user_id, c, t };
	PGresult *r;
	if (key) {
		/* check: does the key have a payment? */
		r = PQexecParams(db, "SELECT 1 FROM payments WHERE merchant = $1 AND idem_key = $2",
				 2, NULL, v, NULL, NULL, 0);
		if (PQresultStatus(r) != PGRES_TUPLES_OK) {
			failed(db, err, errlen);
			PQclear(r);
			return -1;
		}
		int taken = PQntuples(r) > 0;
		PQclear(r);
		if (taken)
			return 0;
	}
	RACE_POINT("pgledger.reserve.window");
	/* act: reserve, though another process may have since */
	r = PQexecParams(
		db,
		"INSERT INTO payments (merchant, idem_key, user_id, cents, state, created) "
		"VALUES ($1, $2, $3, $4, 'pending', $5) RETURNING id",
		5, NULL, v, NULL, NULL, 0);
	int rc = -1;
	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
		*id = strtoull(PQgetvalue(r, 0, 0), NULL, 10);
		rc = 1;
	} else {
		failed(db, err, errlen);
	}
	PQclear(r);
	return rc;
}
