/*
 * refund.h: refunds between accounts. A refund moves cents from one
 * account (the merchant's) to another (the customer's); every account has
 * its own mutex, so transfers between different pairs of accounts run in
 * parallel (lab 4).
 *
 * Two files implement this API with the same name and the same behaviour
 * when only one thread uses them:
 *   fixed/refund.c   safe under any number of threads: a transfer takes
 *                    its two accounts' locks in one global order
 *   broken/refund.c  takes the source's lock, then the destination's: two
 *                    opposite transfers can each hold one lock and wait
 *                    for the other's forever (a deadlock)
 *
 * Money is integer cents. Accounts are numbered 0 .. naccounts - 1.
 */
#ifndef RACELAB_REFUND_H
#define RACELAB_REFUND_H

#include <stdint.h>

#define REFUND_ACCOUNTS_MAX 4096

struct refund_bank;

enum refund_status {
	REFUND_OK = 0,
	REFUND_NO_ACCOUNT,   /* from or to does not exist */
	REFUND_SAME_ACCOUNT, /* from == to: nothing to move */
	REFUND_BAD_AMOUNT,   /* cents <= 0 */
	REFUND_INSUFFICIENT, /* from holds less than cents */
};

/* A bank of naccounts accounts, each opening with opening_cents. Returns
 * NULL when naccounts is not in [1, REFUND_ACCOUNTS_MAX], opening_cents is
 * negative, or memory runs out. */
struct refund_bank *refund_bank_create(int naccounts, int64_t opening_cents);
void refund_bank_destroy(struct refund_bank *b);

/* Moves cents from account from to account to, both balances changed
 * together under both accounts' locks: no thread ever sees the money in
 * both accounts or in neither. Changes nothing unless it returns
 * REFUND_OK. */
enum refund_status refund_transfer(struct refund_bank *b, int from, int to, int64_t cents);

/* The account's balance, or 0 when the account does not exist. */
int64_t refund_balance(struct refund_bank *b, int account);

/* The sum of every balance, each read under its own account's lock, one
 * account at a time: exact when no transfer is in progress (while
 * transfers run, a refund can be counted in both accounts or in neither,
 * as the sum passes one account before the other). */
int64_t refund_total(struct refund_bank *b);

/* The number of accounts. */
int refund_accounts(struct refund_bank *b);

/* A short name for a status, for messages. */
const char *refund_status_name(enum refund_status s);

#endif
