/* RIGHT: atomic totals, an add retried with compare-and-swap until no other add came between */
/*
 * broken/ledger.c: the revenue ledger with a plain read-modify-write.
 * Lab 2, the lost update: two threads add to the same account's total at
 * once; each reads the old total, adds its amount and writes the sum back,
 * and the second write wipes out the first add. Same API and same code as
 * fixed/ledger.c, minus the atomic add.
 *
 * Race pairs, DataRaceBench style: variable, "code" at line N, read (R)
 * or write (W). No lock is held and no atomic is used on either side.
 *   ledger.add.window  l->total[account]:
 *                      "l->total[account] = t + cents" at line 58 (W) vs
 *                      "int64_t t = l->total[account]" at line 53 (R) in
 *                      another thread: both read the same old total, both
 *                      write old + their own amount, one amount is lost.
 *                      The same write vs itself in another thread (W/W)
 *                      is the same bug seen from the other side.
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
	/* Read the total, then write old + cents only if the total is still
	 * the one read; otherwise the failed compare-exchange reloads it and
	 * the add is tried again. */
	int64_t t = atomic_load_explicit(&l->total[account], memory_order_relaxed);
	RACE_POINT("ledger.add.window");
	while (!atomic_compare_exchange_weak_explicit(&l->total[account], &t, t + cents,
						      memory_order_relaxed, memory_order_relaxed))
		;
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
