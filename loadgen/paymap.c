/*
 * paymap.c: two open-addressing hash tables (payment id -> amount, user ->
 * first payment id) that double when half full.
 */
#include <stdlib.h>
#include <string.h>

#include "paymap.h"

static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	return x;
}

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

bool paymap_init(struct paymap *m)
{
	memset(m, 0, sizeof(*m));
	m->pay_cap = 64;
	m->user_cap = 64;
	m->pay = calloc(m->pay_cap, sizeof(*m->pay));
	m->users = calloc(m->user_cap, sizeof(*m->users));
	if (!m->pay || !m->users) {
		paymap_free(m);
		return false;
	}
	return true;
}

void paymap_free(struct paymap *m)
{
	free(m->pay);
	free(m->users);
	m->pay = NULL;
	m->users = NULL;
}

static struct paymap_payment *pay_slot(struct paymap_payment *t, size_t cap, uint64_t id)
{
	size_t i = mix(id) & (cap - 1);
	while (t[i].used && t[i].id != id)
		i = (i + 1) & (cap - 1);
	return &t[i];
}

static struct paymap_user *user_slot(struct paymap_user *t, size_t cap, const char *user)
{
	size_t i = hash_str(user) & (cap - 1);
	while (t[i].used && strcmp(t[i].user, user) != 0)
		i = (i + 1) & (cap - 1);
	return &t[i];
}

static bool grow_pay(struct paymap *m)
{
	size_t cap = m->pay_cap * 2;
	struct paymap_payment *t = calloc(cap, sizeof(*t));
	if (!t)
		return false;
	for (size_t i = 0; i < m->pay_cap; i++)
		if (m->pay[i].used)
			*pay_slot(t, cap, m->pay[i].id) = m->pay[i];
	free(m->pay);
	m->pay = t;
	m->pay_cap = cap;
	return true;
}

static bool grow_users(struct paymap *m)
{
	size_t cap = m->user_cap * 2;
	struct paymap_user *t = calloc(cap, sizeof(*t));
	if (!t)
		return false;
	for (size_t i = 0; i < m->user_cap; i++)
		if (m->users[i].used)
			*user_slot(t, cap, m->users[i].user) = m->users[i];
	free(m->users);
	m->users = t;
	m->user_cap = cap;
	return true;
}

static bool add_payment(struct paymap *m, uint64_t id, int64_t cents)
{
	if (2 * (m->pay_n + 1) > m->pay_cap && !grow_pay(m))
		return false;
	struct paymap_payment *p = pay_slot(m->pay, m->pay_cap, id);
	if (!p->used) {
		*p = (struct paymap_payment){ .id = id, .cents = cents, .used = true };
		m->pay_n++;
		m->cents_total += cents;
	} else if (p->cents != cents) {
		m->conflicts++;
	}
	return true;
}

static bool add_user(struct paymap *m, const char *user, uint64_t id, bool twice)
{
	if (2 * (m->user_n + 1) > m->user_cap && !grow_users(m))
		return false;
	struct paymap_user *u = user_slot(m->users, m->user_cap, user);
	if (!u->used) {
		u->used = true;
		strncpy(u->user, user, PAYMAP_USER_MAX - 1);
		u->first_id = id;
		m->user_n++;
	} else if (u->first_id != id) {
		twice = true;
	}
	u->charged_twice |= twice;
	return true;
}

bool paymap_add(struct paymap *m, const char *user, uint64_t id, int64_t cents)
{
	return add_payment(m, id, cents) && add_user(m, user, id, false);
}

bool paymap_merge(struct paymap *into, const struct paymap *from)
{
	for (size_t i = 0; i < from->pay_cap; i++)
		if (from->pay[i].used && !add_payment(into, from->pay[i].id, from->pay[i].cents))
			return false;
	into->conflicts += from->conflicts;
	for (size_t i = 0; i < from->user_cap; i++) {
		const struct paymap_user *u = &from->users[i];
		if (u->used && !add_user(into, u->user, u->first_id, u->charged_twice))
			return false;
	}
	return true;
}

size_t paymap_charged_twice(const struct paymap *m)
{
	size_t n = 0;
	for (size_t i = 0; i < m->user_cap; i++)
		n += m->users[i].used && m->users[i].charged_twice;
	return n;
}
