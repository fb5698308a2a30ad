/*
 * ledger.h: the revenue ledger, one running total in cents per account
 * (merchant), added to by every request thread that completes a payment
 * (lab 2).
 *
 * Two files implement this API with the same name and the same behaviour
 * when only one thread uses them:
 *   fixed/ledger.c   safe under any number of threads (an atomic add)
 *   broken/ledger.c  a plain read-modify-write: concurrent adds get lost
 *
 * Money is integer cents. Accounts are numbered 0 .. naccounts - 1.
 */
#ifndef RACELAB_LEDGER_H
#define RACELAB_LEDGER_H

#include <stdbool.h>
#include <stdint.h>

#define LEDGER_ACCOUNTS_MAX 65536

struct ledger;

/* A ledger of naccounts accounts, every total 0. Returns NULL when
 * naccounts is not in [1, LEDGER_ACCOUNTS_MAX] or memory runs out. */
struct ledger *ledger_create(int naccounts);
void ledger_destroy(struct ledger *l);

/* Adds cents (negative for a refund) to account's total. Returns false,
 * and changes nothing, when the account does not exist. */
bool ledger_add(struct ledger *l, int account, int64_t cents);

/* The account's total, or 0 when the account does not exist. */
int64_t ledger_total(struct ledger *l, int account);

/* The sum of every account's total. Each total is read once; while adds
 * are running the sum mixes totals read at slightly different moments, so
 * it is exact only when no add is in progress. */
int64_t ledger_sum(struct ledger *l);

/* The number of accounts. */
int ledger_accounts(struct ledger *l);

#endif
