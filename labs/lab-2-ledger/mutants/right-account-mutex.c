/* RIGHT: one mutex per account, held for each add and each read of a total */
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
#include <pthread.h>
#include <stdlib.h>

#include "ledger.h"
#include "racepoint.h"

struct ledger_account {
	pthread_mutex_t mu;
	int64_t total; /* cents; guarded by mu */
};

struct ledger {
	int naccounts;
	struct ledger_account acct[];
};

struct ledger *ledger_create(int naccounts)
{
	if (naccounts < 1 || naccounts > LEDGER_ACCOUNTS_MAX)
		return NULL;
	struct ledger *l = calloc(1, sizeof(*l) + (size_t)naccounts * sizeof(l->acct[0]));
	if (!l)
		return NULL;
	l->naccounts = naccounts;
	for (int i = 0; i < naccounts; i++)
		pthread_mutex_init(&l->acct[i].mu, NULL);
	return l;
}

void ledger_destroy(struct ledger *l)
{
	if (!l)
		return;
	for (int i = 0; i < l->naccounts; i++)
		pthread_mutex_destroy(&l->acct[i].mu);
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
	/* The read and the write under the account's lock: no other add to
	 * this account can come between them; adds to other accounts do not
	 * wait. */
	pthread_mutex_lock(&l->acct[account].mu);
	int64_t t = l->acct[account].total;
	RACE_POINT("ledger.add.window");
	l->acct[account].total = t + cents;
	pthread_mutex_unlock(&l->acct[account].mu);
	return true;
}

int64_t ledger_total(struct ledger *l, int account)
{
	if (!account_ok(l, account))
		return 0;
	pthread_mutex_lock(&l->acct[account].mu);
	int64_t t = l->acct[account].total;
	pthread_mutex_unlock(&l->acct[account].mu);
	return t;
}

int64_t ledger_sum(struct ledger *l)
{
	int64_t sum = 0;
	for (int i = 0; i < l->naccounts; i++)
		sum += ledger_total(l, i); /* one account's lock at a time */
	return sum;
}

int ledger_accounts(struct ledger *l)
{
	return l->naccounts;
}
