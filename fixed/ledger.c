/*
 * ledger.c: the revenue ledger. Lab 2, the lost update.
 * broken/ledger.c adds with a plain read-modify-write: two threads adding to
 * the same account's total at once each read the old total, add their amount
 * and write the sum back, and the second write wipes out the first add.
 * fixed/ledger.c makes each account's total one C11 atomic and an add one
 * atomic fetch-add: the read, the addition and the write are one
 * indivisible step (on x86-64 a single `lock xadd`). An atomic rather than a
 * lock because an add touches exactly one 8-byte word: there is no invariant
 * across fields for a lock to protect, and adds to different accounts never
 * wait for each other. Relaxed is enough: a total publishes no other data,
 * so only atomicity is needed, not ordering; a reader that must see every
 * add (ledger_sum after the adders are joined) gets its ordering from
 * pthread_join.
 */
#include <stdatomic.h>
#include <stdlib.h>

#include "ledger.h"
#include "racepoint.h"

struct ledger {
	int naccounts;
	_Atomic int64_t total[]; /* cents, one per account */
};

struct ledger *ledger_create(int naccounts)
{
	if (naccounts < 1 || naccounts > LEDGER_ACCOUNTS_MAX)
		return NULL;
	struct ledger *l = calloc(1, sizeof(*l) + (size_t)naccounts * sizeof(l->total[0]));
	if (!l)
		return NULL;
	l->naccounts = naccounts;
	return l;
}

void ledger_destroy(struct ledger *l)
{
	free(l);
}

static bool account_ok(const struct ledger *l, int account)
{
	return account >= 0 && account < l->naccounts;
}

bool ledger_add(struct ledger *l, int account, int64_t cents)
{
	if (!account_ok(l, account))
		return false;
	RACE_POINT("ledger.add.window");
	/* An add to this account by another thread between the read of the
	 * old total and the write of the new one would be lost. */
	atomic_fetch_add_explicit(&l->total[account], cents, memory_order_relaxed);
	return true;
}

int64_t ledger_total(struct ledger *l, int account)
{
	if (!account_ok(l, account))
		return 0;
	int64_t t = atomic_load_explicit(&l->total[account], memory_order_relaxed);
	return t;
}

int64_t ledger_sum(struct ledger *l)
{
	int64_t sum = 0;
	for (int i = 0; i < l->naccounts; i++)
		sum += atomic_load_explicit(&l->total[i], memory_order_relaxed);
	return sum;
}

int ledger_accounts(struct ledger *l)
{
	return l->naccounts;
}
