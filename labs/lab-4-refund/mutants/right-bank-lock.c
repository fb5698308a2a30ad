/* RIGHT: one mutex for the whole bank, taken by every transfer and read: no order */
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
	int64_t balance; /* cents; guarded by the bank's mu */
};

struct refund_bank {
	pthread_mutex_t mu; /* guards every balance */
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
	pthread_mutex_init(&b->mu, NULL);
	for (int i = 0; i < naccounts; i++)
		b->acct[i].balance = opening_cents;
	return b;
}

void refund_bank_destroy(struct refund_bank *b)
{
	if (!b)
		return;
	pthread_mutex_destroy(&b->mu);
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
	/* One lock for the whole bank: a transfer holds only it, so there is
	 * no second lock to wait for and no order to get wrong. */
	pthread_mutex_lock(&b->mu);
	RACE_POINT("refund.transfer.window");
	enum refund_status st = REFUND_OK;
	if (b->acct[from].balance < cents) {
		st = REFUND_INSUFFICIENT;
	} else {
		b->acct[from].balance -= cents;
		b->acct[to].balance += cents;
	}
	pthread_mutex_unlock(&b->mu);
	return st;
}

int64_t refund_balance(struct refund_bank *b, int account)
{
	if (!account_ok(b, account))
		return 0;
	pthread_mutex_lock(&b->mu);
	int64_t v = b->acct[account].balance;
	pthread_mutex_unlock(&b->mu);
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
