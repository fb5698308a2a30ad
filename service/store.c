/*
 * store.c: the ledger, whichever database holds it. --ledger names it:
 * memory, sqlite:FILE (store_sqlite.c: one process, one file) or
 * postgres:CONNINFO (store_pg.c: several service processes, one ledger).
 * Everything above this file sees only store.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_backend.h"

struct store {
	const struct store_backend *b;
	void *db;
};

bool store_spec_valid(const char *spec)
{
	return strcmp(spec, "memory") == 0 || (strncmp(spec, "sqlite:", 7) == 0 && spec[7]) ||
	       (strncmp(spec, "postgres:", 9) == 0 && spec[9]);
}

struct store *store_open(const char *spec, bool full_sync, long *voided, char *err, size_t errlen)
{
	struct store *s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	*voided = 0;
	if (strncmp(spec, "postgres:", 9) == 0) {
		s->b = &store_pg;
		s->db = pg_store_open(spec + 9, voided, err, errlen);
	} else {
		s->b = &store_sqlite;
		s->db = sqlite_store_open(strcmp(spec, "memory") == 0 ? NULL : spec + 7, full_sync,
					  voided, err, errlen);
	}
	if (!s->db) {
		free(s);
		return NULL;
	}
	return s;
}

void store_close(struct store *s)
{
	if (!s)
		return;
	s->b->close(s->db);
	free(s);
}

const char *store_kind(const struct store *s)
{
	return s->b->name;
}

int store_totals(struct store *s, int64_t *count, int64_t *cents)
{
	return s->b->totals(s->db, count, cents);
}

int store_find_key(struct store *s, const char *merchant, const char *key,
		   struct store_payment *out)
{
	return s->b->find_key(s->db, merchant, key, out);
}

int store_reserve(struct store *s, const char *merchant, const char *key, const char *user_id,
		  int64_t cents, int64_t now, uint64_t *id)
{
	return s->b->reserve(s->db, merchant, key, user_id, cents, now, id);
}

int store_charged(struct store *s, uint64_t id, uint64_t gateway_charge)
{
	return s->b->charged(s->db, id, gateway_charge);
}

int store_void(struct store *s, uint64_t id)
{
	return s->b->void_reservation(s->db, id);
}

int store_get(struct store *s, uint64_t id, const char *merchant, struct store_payment *out)
{
	return s->b->get(s->db, id, merchant, out);
}

long store_expire(struct store *s, int64_t before,
		  void (*gone)(const char *merchant, const char *key, void *arg), void *arg)
{
	return s->b->expire(s->db, before, gone, arg);
}
