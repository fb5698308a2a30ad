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
 * Race pairs, no lock held, no atomic used: ledger.add.window, l->total[account]:
 * "l->total[account] = t + cents" at line 59 (W) vs
 * "int64_t t = l->total[account]" at line 55 (R) in another thread, or the same
 * write in another thread (W/W).
 */
#include <stdlib.h>

#include "ledger.h"
#include "racepoint.h"

struct ledger {
	int naccounts;
	int64_t total[]; /* cents, one per account */
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
	int64_t t = l->total[account]; /* read: the total before this add */
	RACE_POINT("ledger.add.window");
	/* An add to this account by another thread between the read of the
	 * old total and the write of the new one would be lost. */
	l->total[account] = t + cents; /* write: overwrites any add made since the read */
	return true;
}

int64_t ledger_total(struct ledger *l, int account)
{
	if (!account_ok(l, account))
		return 0;
	int64_t t = l->total[account];
	return t;
}

int64_t ledger_sum(struct ledger *l)
{
	int64_t sum = 0;
	for (int i = 0; i < l->naccounts; i++)
		sum += l->total[i];
	return sum;
}

int ledger_accounts(struct ledger *l)
{
	return l->naccounts;
}
