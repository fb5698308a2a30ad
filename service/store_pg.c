/*
 * store_pg.c: the ledger in PostgreSQL (--ledger postgres:CONNINFO), for
 * several service processes sharing one ledger (lab 11).
 *
 * The table is the SQLite one's, its ids from a sequence (never handed out
 * twice, whichever process asks). How a key is reserved is lab 11's module
 * (pgledger_prepare, pgledger_reserve: broken/ or fixed/pgledger.c); the
 * rest is the same in both builds. Every write is one statement,
 * committed on its own, so a reservation is visible to every process as
 * soon as it returns.
 *
 * A pool of connections (a libpq connection serves one thread at a time):
 * a store call takes one, runs its statement and gives it back, so
 * PG_POOL requests can be in the database at once.
 *
 * A crash leaves pending rows, as with SQLite; but another replica's
 * pending rows are requests in flight, which must stay. So a row records
 * its owner, the server process (backend) of the connection that reserved
 * it: a replica keeps its connections for its whole life, and a replica
 * that dies loses them, so a pending row whose owner is no longer in
 * pg_stat_activity is an orphan. Orphans are voided at a start, by the
 * expiry sweep, and at once when a request finds its key held by one (a
 * retry after a crash need not wait). A row older than PG_STALE_S, longer
 * than any request may take, is voided whatever its owner (a backend pid
 * can be reused).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "pgledger.h"
#include "store_backend.h"

#define PG_POOL	       8
#define PG_STALE_S     120
#define PG_SCHEMA_LOCK "1918985068" /* "racl": one process creates the table at a time */

static const char schema[] = "CREATE TABLE IF NOT EXISTS payments ("
			     " id BIGSERIAL PRIMARY KEY,"
			     " merchant TEXT NOT NULL,"
			     " idem_key TEXT," /* NULL: none given, or released at expiry */
			     " user_id TEXT NOT NULL,"
			     " cents BIGINT NOT NULL CHECK (cents > 0),"
			     " state TEXT NOT NULL CHECK (state IN ('pending', 'charged')),"
			     " gateway_charge BIGINT,"
			     " created BIGINT NOT NULL,"
			     " owner INTEGER NOT NULL DEFAULT pg_backend_pid());"
			     "CREATE INDEX IF NOT EXISTS payments_created ON payments (created)"
			     " WHERE idem_key IS NOT NULL;";

struct pg_store {
	pthread_mutex_t lock; /* guards busy */
	pthread_cond_t freed; /* signalled when a connection is given back */
	PGconn *conn[PG_POOL];
	bool busy[PG_POOL];
};

/* A database error, on stderr at most once a second: a ledger that is
 * down fails every request, and one line a request would flood the log. */
static void complain(PGconn *c, const char *what)
{
	static atomic_llong last;
	long long now = (long long)time(NULL);
	long long seen = atomic_load(&last);
	if (seen == now || !atomic_compare_exchange_strong(&last, &seen, now))
		return;
	const char *m = c ? PQerrorMessage(c) : "out of memory";
	fprintf(stderr, "racelab-service: ledger (postgres): %s: %.*s\n", what,
		(int)strcspn(m, "\n"), m);
}

static PGconn *take(struct pg_store *s, int *slot)
{
	pthread_mutex_lock(&s->lock);
	for (;;) {
		for (int i = 0; i < PG_POOL; i++) {
			if (!s->busy[i]) {
				s->busy[i] = true;
				pthread_mutex_unlock(&s->lock);
				*slot = i;
				/* a server restart breaks a connection: one try to mend it */
				if (PQstatus(s->conn[i]) != CONNECTION_OK)
					PQreset(s->conn[i]);
				return s->conn[i];
			}
		}
		pthread_cond_wait(&s->freed, &s->lock);
	}
}

static void give(struct pg_store *s, int slot)
{
	pthread_mutex_lock(&s->lock);
	s->busy[slot] = false;
	pthread_cond_signal(&s->freed);
	pthread_mutex_unlock(&s->lock);
}

static void pg_close(void *db)
{
	struct pg_store *s = db;
	if (!s)
		return;
	for (int i = 0; i < PG_POOL; i++)
		PQfinish(s->conn[i]);
	pthread_cond_destroy(&s->freed);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

/* One statement with text parameters; the result, or NULL (complained of)
 * when its status is not `want`. */
static PGresult *run(PGconn *c, const char *sql, int n, const char *const *v, ExecStatusType want)
{
	PGresult *r = PQexecParams(c, sql, n, NULL, v, NULL, NULL, 0);
	if (PQresultStatus(r) == want)
		return r;
	complain(c, sql);
	PQclear(r);
	return NULL;
}

static bool exec_ok(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);
	bool ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
	PQclear(r);
	return ok;
}

/* A pending row's owner is gone (see the comment at the top). */
#define ORPHAN "owner NOT IN (SELECT pid FROM pg_stat_activity WHERE pid IS NOT NULL)"

/* Deletes the orphaned pending rows, and those created before `before`:
 * how many, or -1. */
static long void_stale(PGconn *c, int64_t before)
{
	char b[24];
	snprintf(b, sizeof(b), "%lld", (long long)before);
	const char *v[1] = { b };
	PGresult *r = run(
		c, "DELETE FROM payments WHERE state = 'pending' AND (created < $1 OR " ORPHAN ")",
		1, v, PGRES_COMMAND_OK);
	if (!r)
		return -1;
	long n = atol(PQcmdTuples(r));
	PQclear(r);
	return n;
}

/* The table, the key's index (the lab's module) and the stale rows, in
 * one transaction under an advisory lock (released with it): replicas
 * started together would otherwise race on CREATE TABLE IF NOT EXISTS,
 * which is not safe against itself. */
static int prepare(PGconn *c, long *voided, char *err, size_t errlen)
{
	char why[256] = "";
	const char *step = "create its table";
	bool ok = exec_ok(c, "BEGIN") &&
		  exec_ok(c, "SELECT pg_advisory_xact_lock(" PG_SCHEMA_LOCK ")") &&
		  exec_ok(c, "SET LOCAL client_min_messages = warning") && exec_ok(c, schema);
	if (ok) {
		step = "index its keys";
		ok = pgledger_prepare(c, why, sizeof(why)) == 0;
	}
	if (ok) {
		step = "void the stale pending payments";
		ok = (*voided = void_stale(c, (int64_t)time(NULL) - PG_STALE_S)) >= 0;
	}
	if (ok && exec_ok(c, "COMMIT"))
		return 0;
	if (!why[0]) /* read before ROLLBACK replaces it */
		snprintf(why, sizeof(why), "%.*s", (int)strcspn(PQerrorMessage(c), "\n"),
			 PQerrorMessage(c));
	exec_ok(c, "ROLLBACK");
	snprintf(err, errlen, "ledger postgres: cannot %s: %s", step, why);
	return -1;
}

void *pg_store_open(const char *conninfo, long *voided, char *err, size_t errlen)
{
	struct pg_store *s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->freed, NULL);
	for (int i = 0; i < PG_POOL; i++) {
		s->conn[i] = PQconnectdb(conninfo);
		if (PQstatus(s->conn[i]) != CONNECTION_OK) {
			const char *m = s->conn[i] ? PQerrorMessage(s->conn[i]) : "out of memory";
			snprintf(err, errlen, "ledger postgres: cannot connect: %.*s",
				 (int)strcspn(m, "\n"), m);
			pg_close(s);
			return NULL;
		}
	}
	if (prepare(s->conn[0], voided, err, errlen) != 0) {
		pg_close(s);
		return NULL;
	}
	return s;
}

static int pg_totals(void *db, int64_t *count, int64_t *cents)
{
	struct pg_store *s = db;
	int slot;
	PGconn *c = take(s, &slot);
	PGresult *r = run(c,
			  "SELECT count(*), coalesce(sum(cents), 0) FROM payments "
			  "WHERE state = 'charged'",
			  0, NULL, PGRES_TUPLES_OK);
	if (r) {
		*count = atoll(PQgetvalue(r, 0, 0));
		*cents = atoll(PQgetvalue(r, 0, 1));
		PQclear(r);
	}
	give(s, slot);
	return r ? 0 : -1;
}

/* A one-row query of (id, user_id, cents, created): 1 and the row, 0 none,
 * -1 error. The broken build can hold two charged rows under one key: the
 * first is the answer. */
static int one_row(struct pg_store *s, const char *sql, const char *const *v, const char *merchant,
		   struct store_payment *out)
{
	int slot;
	PGconn *c = take(s, &slot);
	PGresult *r = run(c, sql, 2, v, PGRES_TUPLES_OK);
	int rc = r ? PQntuples(r) > 0 : -1;
	if (rc == 1) {
		out->id = strtoull(PQgetvalue(r, 0, 0), NULL, 10);
		snprintf(out->merchant, sizeof(out->merchant), "%s", merchant);
		snprintf(out->user_id, sizeof(out->user_id), "%s", PQgetvalue(r, 0, 1));
		out->cents = atoll(PQgetvalue(r, 0, 2));
		out->created = atoll(PQgetvalue(r, 0, 3));
	}
	PQclear(r);
	give(s, slot);
	return rc;
}

static int pg_find_key(void *db, const char *merchant, const char *key, struct store_payment *out)
{
	const char *v[2] = { merchant, key };
	return one_row(db,
		       "SELECT id, user_id, cents, created FROM payments WHERE merchant = $1 "
		       "AND idem_key = $2 AND state = 'charged' ORDER BY id LIMIT 1",
		       v, merchant, out);
}

static int pg_get(void *db, uint64_t id, const char *merchant, struct store_payment *out)
{
	char i[24];
	snprintf(i, sizeof(i), "%llu", (unsigned long long)id);
	const char *v[2] = { i, merchant };
	return one_row(db,
		       "SELECT id, user_id, cents, created FROM payments WHERE id = $1 "
		       "AND merchant = $2 AND state = 'charged'",
		       v, merchant, out);
}

/* The key's pending row, if its owner died: 1 voided, 0 none, -1 error. */
static int void_orphan(PGconn *c, const char *merchant, const char *key)
{
	if (!key)
		return 0;
	const char *v[2] = { merchant, key };
	PGresult *r = run(c,
			  "DELETE FROM payments WHERE merchant = $1 AND idem_key = $2 AND "
			  "state = 'pending' AND " ORPHAN,
			  2, v, PGRES_COMMAND_OK);
	if (!r)
		return -1;
	int n = atoi(PQcmdTuples(r));
	PQclear(r);
	return n > 0;
}

static int pg_reserve(void *db, const char *merchant, const char *key, const char *user_id,
		      int64_t cents, int64_t now, uint64_t *id)
{
	struct pg_store *s = db;
	int slot;
	char why[256];
	PGconn *c = take(s, &slot);
	int rc = pgledger_reserve(c, merchant, key, user_id, cents, now, id, why, sizeof(why));
	if (rc == 0 && void_orphan(c, merchant, key) > 0)
		rc = pgledger_reserve(c, merchant, key, user_id, cents, now, id, why, sizeof(why));
	if (rc < 0)
		complain(c, "reserve");
	give(s, slot);
	return rc;
}

/* An UPDATE or DELETE of one row by id: 0 when it changed one, else -1. */
static int by_id(struct pg_store *s, const char *sql, uint64_t id, uint64_t arg)
{
	char i[24], a[24];
	snprintf(i, sizeof(i), "%llu", (unsigned long long)id);
	snprintf(a, sizeof(a), "%llu", (unsigned long long)arg);
	const char *v[2] = { i, a };
	int slot;
	PGconn *c = take(s, &slot);
	PGresult *r = run(c, sql, strstr(sql, "$2") ? 2 : 1, v, PGRES_COMMAND_OK);
	int rc = r && strcmp(PQcmdTuples(r), "1") == 0 ? 0 : -1;
	PQclear(r);
	give(s, slot);
	return rc;
}

static int pg_charged(void *db, uint64_t id, uint64_t gateway_charge)
{
	/* state = 'pending': a row voided as stale meanwhile is not revived */
	return by_id(db,
		     "UPDATE payments SET state = 'charged', gateway_charge = $2 "
		     "WHERE id = $1 AND state = 'pending'",
		     id, gateway_charge);
}

static int pg_void(void *db, uint64_t id)
{
	by_id(db, "DELETE FROM payments WHERE id = $1 AND state = 'pending'", id, 0);
	return 0; /* gone already (voided as stale) is void too */
}

/* One statement releases the keys and names them, so what gone() is told
 * of is exactly what was released; then the stale pending rows go. */
static long pg_expire(void *db, int64_t before,
		      void (*gone)(const char *merchant, const char *key, void *arg), void *arg)
{
	struct pg_store *s = db;
	char b[24];
	snprintf(b, sizeof(b), "%lld", (long long)before);
	const char *v[1] = { b };
	int slot;
	PGconn *c = take(s, &slot);
	PGresult *r = run(c,
			  "WITH old AS (SELECT id, merchant, idem_key FROM payments "
			  "WHERE idem_key IS NOT NULL AND created < $1 AND state = 'charged' "
			  "FOR UPDATE) "
			  "UPDATE payments p SET idem_key = NULL FROM old WHERE p.id = old.id "
			  "RETURNING old.merchant, old.idem_key",
			  1, v, PGRES_TUPLES_OK);
	long n = -1;
	if (r) {
		n = PQntuples(r);
		for (long i = 0; i < n; i++)
			gone(PQgetvalue(r, (int)i, 0), PQgetvalue(r, (int)i, 1), arg);
		PQclear(r);
		void_stale(c, (int64_t)time(NULL) - PG_STALE_S);
	}
	give(s, slot);
	return n;
}

const struct store_backend store_pg = {
	.name = "postgres",
	.close = pg_close,
	.totals = pg_totals,
	.find_key = pg_find_key,
	.reserve = pg_reserve,
	.charged = pg_charged,
	.void_reservation = pg_void,
	.get = pg_get,
	.expire = pg_expire,
};
