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
 * both insert, and the user is charged twice. No mutex can help: the two
 * requests are in two processes, perhaps on two machines.
 *
 * fixed/pgledger.c lets the database decide: a UNIQUE index on (merchant,
 * key) and one statement, INSERT ... ON CONFLICT DO NOTHING. Of two
 * inserts of one key, the second waits on the index entry until the first
 * commits, then inserts nothing: it is told the key is taken, whichever
 * process it runs in. (A SERIALIZABLE transaction around the check and the
 * act, retried on a serialization failure, would also do; the constraint
 * is simpler, and it also holds against code that forgets the check.)
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
	/* One payment per (merchant, key); NULL keys (none given, or
	 * released at expiry) are distinct, so they never meet here. */
	PGresult *r = PQexec(db, "CREATE UNIQUE INDEX IF NOT EXISTS payments_key "
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
	/* check and act in one statement, the index the judge: the window
	 * between them is gone */
	RACE_POINT("pgledger.reserve.window");
	PGresult *r =
		PQexecParams(db,
			     "INSERT INTO payments (merchant, idem_key, user_id, cents, state, "
			     "created) VALUES ($1, $2, $3, $4, 'pending', $5) "
			     "ON CONFLICT (merchant, idem_key) DO NOTHING RETURNING id",
			     5, NULL, v, NULL, NULL, 0);
	int rc = -1;
	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
		*id = strtoull(PQgetvalue(r, 0, 0), NULL, 10);
		rc = 1;
	} else if (PQresultStatus(r) == PGRES_TUPLES_OK) {
		rc = 0; /* the key has a payment: nothing inserted */
	} else {
		failed(db, err, errlen);
	}
	PQclear(r);
	return rc;
}
