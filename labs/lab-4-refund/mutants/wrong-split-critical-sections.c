/* WRONG: debit under the source's lock, unlock, credit under the destination's: split step */
/*
 * broken/refund.c: refunds between accounts, each account with its own
 * mutex, a transfer locking its source first and then its destination.
 * Lab 4, the lock-order inversion: a refund from A to B locks A then B,
 * one from B to A locks B then A; when each has taken its first lock,
 * each waits for the lock the other holds, and neither ever lets go: a
 * deadlock. Same API and same code as fixed/refund.c, minus the global
 * lock order.
 *
 * Race pairs, DataRaceBench style, here two lock acquisitions: "code" at
 * line N, the lock held (H) and the lock waited for (W). There is no data
 * race: every balance is read and written under its account's lock.
 *   refund.transfer.window  "pthread_mutex_lock(&first->mu)" at line 80
 *                           (H: the source's lock, from) then
 *                           "pthread_mutex_lock(&second->mu)" at line 87
 *                           (W: the destination's, to) vs the same two
 *                           lines in another thread whose from and to are
 *                           swapped: each holds what the other waits for.
 */
#include <pthread.h>
#include <stdlib.h>

#include "racepoint.h"
#include "refund.h"

struct refund_account {
	pthread_mutex_t mu;
	int64_t balance; /* cents; guarded by mu */
};

struct refund_bank {
	int naccounts;
	struct refund_account acct[];
};

struct refund_bank *refund_bank_create(int naccounts, int64_t opening_cents)
{
	if (naccounts < 1 || naccounts > REFUND_ACCOUNTS_MAX || opening_cents < 0)
		return NULL;
	struct refund_bank *b = calloc(1, sizeof(*b) + (size_t)naccounts * sizeof(b->acct[0]));
	if (!b)
		return NULL;
	b->naccounts = naccounts;
	for (int i = 0; i < naccounts; i++) {
		pthread_mutex_init(&b->acct[i].mu, NULL);
		b->acct[i].balance = opening_cents;
	}
	return b;
}

void refund_bank_destroy(struct refund_bank *b)
{
	if (!b)
		return;
	for (int i = 0; i < b->naccounts; i++)
		pthread_mutex_destroy(&b->acct[i].mu);
	free(b);
}

static int account_ok(const struct refund_bank *b, int account)
{
	return account >= 0 && account < b->naccounts;
}

enum refund_status refund_transfer(struct refund_bank *b, int from, int to, int64_t cents)
{
	if (!account_ok(b, from) || !account_ok(b, to))
		return REFUND_NO_ACCOUNT;
	/* Refused before any lock: one default mutex locked twice by the same
	 * thread deadlocks on itself. */
	if (from == to)
		return REFUND_SAME_ACCOUNT;
	if (cents <= 0)
		return REFUND_BAD_AMOUNT;
	/* Never hold two locks at once, and there is no order to get wrong:
	 * take the source's lock for the debit, let it go, then take the
	 * destination's for the credit. */
	struct refund_account *first = &b->acct[from];
	struct refund_account *second = &b->acct[to];
	pthread_mutex_lock(&first->mu);
	RACE_POINT("refund.transfer.window");
	if (first->balance < cents) {
		pthread_mutex_unlock(&first->mu);
		return REFUND_INSUFFICIENT;
	}
	first->balance -= cents;
	pthread_mutex_unlock(&first->mu);
	pthread_mutex_lock(&second->mu);
	second->balance += cents;
	pthread_mutex_unlock(&second->mu);
	return REFUND_OK;
}

int64_t refund_balance(struct refund_bank *b, int account)
{
	if (!account_ok(b, account))
		return 0;
	pthread_mutex_lock(&b->acct[account].mu);
	int64_t v = b->acct[account].balance;
	pthread_mutex_unlock(&b->acct[account].mu);
	return v;
}

int64_t refund_total(struct refund_bank *b)
{
	int64_t sum = 0;
	for (int i = 0; i < b->naccounts; i++)
		sum += refund_balance(b, i); /* one lock at a time: no order to get wrong */
	return sum;
}

int refund_accounts(struct refund_bank *b)
{
	return b->naccounts;
}

const char *refund_status_name(enum refund_status s)
{
	switch (s) {
	case REFUND_OK: return "ok";
	case REFUND_NO_ACCOUNT: return "no such account";
	case REFUND_SAME_ACCOUNT: return "same account";
	case REFUND_BAD_AMOUNT: return "bad amount";
	case REFUND_INSUFFICIENT: return "insufficient funds";
	}
	return "unknown status";
}
