/*
 * store_backend.h: what a ledger backend gives store.c. Each backend
 * (store_sqlite.c, store_pg.c) keeps its own state behind a void pointer
 * and answers every call as store.h says of the function of the same name.
 */
#ifndef RACELAB_STORE_BACKEND_H
#define RACELAB_STORE_BACKEND_H

#include "store.h"

struct store_backend {
	const char *name;
	void (*close)(void *db);
	int (*totals)(void *db, int64_t *count, int64_t *cents);
	int (*find_key)(void *db, const char *merchant, const char *key, struct store_payment *out);
	int (*reserve)(void *db, const char *merchant, const char *key, const char *user_id,
		       int64_t cents, int64_t now, uint64_t *id);
	int (*charged)(void *db, uint64_t id, uint64_t gateway_charge);
	int (*void_reservation)(void *db, uint64_t id);
	int (*get)(void *db, uint64_t id, const char *merchant, struct store_payment *out);
	long (*expire)(void *db, int64_t before,
		       void (*gone)(const char *merchant, const char *key, void *arg), void *arg);
};

extern const struct store_backend store_sqlite, store_pg;

/* path NULL: in memory. */
void *sqlite_store_open(const char *path, bool full_sync, long *voided, char *err, size_t errlen);
/* conninfo: a libpq connection string; see store_pg.c for what it voids. */
void *pg_store_open(const char *conninfo, long *voided, char *err, size_t errlen);

#endif
