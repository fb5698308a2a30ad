/*
 * workload.c: the lab 2 scenario, request threads adding completed
 * payments to the revenue ledger.
 *
 * Each thread adds `ops` payments per round, each to an account picked at
 * random among `accounts` and of an amount picked at random in
 * [1, amount_max] cents, and keeps, in its own array, how many cents it
 * added to each account. The arrays are merged after the threads are
 * joined, so the driver itself shares nothing while they run: what the
 * ledger must hold is known exactly.
 *
 * Invariants, each a named counter in the trial record:
 *   lost_cents    cents added but missing from the ledger (the sum over
 *                 accounts of expected minus total, where positive)
 *   extra_cents   cents the ledger holds that nobody added (where the
 *                 total exceeds what was added: a ledger that invents
 *                 money is as wrong as one that loses it)
 *   wrong_totals  accounts whose total is not exactly what was added
 *   wrong_sum     ledger_sum() differs from the sum of ledger_total()
 *                 over the accounts, read after the threads are joined
 *
 * Contract workloads (scenario.conf's grade_sets), each switched on by a
 * parameter that is 0 by default, so the everyday workload above is
 * unchanged:
 *   readers=1  each thread reads the account's total (ledger_total) just
 *              before and just after each of its adds, and every 64 adds
 *              ledger_sum(), while the other thread adds. Every amount has
 *              one sign, so every total only moves one way, and a thread's
 *              reads of one total must follow that order (a thread never
 *              sees a location go back in time). Counted while the threads
 *              run:
 *     add_not_seen     the total read right after the thread's own add is
 *                      not past the one read right before it by the amount
 *                      added: the add was lost, or overwritten at once
 *     total_went_back  a total read below one the same thread read earlier
 *     sum_below_seen   ledger_sum() below the sum of the totals the same
 *                      thread had already seen
 *   refunds=1  every amount is negative (a refund): the totals only go
 *              down, and with readers=1 the checks above are reversed.
 *   invalid=1  every 32nd add is followed by an add to an account that
 *              does not exist (-1, accounts), which must return false and
 *              change nothing, and a ledger_total() of it, which must be 0;
 *              ledger_accounts() must say accounts:
 *     bad_account      one of these answered otherwise
 * Not checked while the threads run: an upper bound on a total or on the
 * sum (that no money is invented). It would need the other threads' adds
 * counted before they happen and read after the total, an ordering the
 * ledger's relaxed atomics do not give; the exact totals after the join
 * catch invented money instead.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "ledger.h"
#include "rng.h"
#include "stress.h"

struct lab2_params {
	long accounts, amount_max;
	long readers, refunds, invalid; /* contract workloads, 0: off */
};

static const char *const lab2_keys[] = { "accounts", "amount_max", "readers",
					 "refunds",  "invalid",	   NULL };

static const char *const lab2_invariants[] = { "lost_cents",	 "extra_cents",	 "wrong_totals",
					       "wrong_sum",	 "add_not_seen", "total_went_back",
					       "sum_below_seen", "bad_account",	 NULL };

/* The contract counters, kept per thread while the threads run and
 * counted after the join (stress_count is not for concurrent use). */
enum { C_NOT_SEEN, C_BACK, C_SUM, C_ACCOUNT, C_N };
static const char *const contract_names[C_N] = { "add_not_seen", "total_went_back",
						 "sum_below_seen", "bad_account" };

struct lab2_thread {
	struct ledger *l;
	const struct lab2_params *p;
	uint64_t rng;
	int64_t *added; /* per account: the cents this thread added */
	int64_t *last;	/* readers: per account, the last total this thread read */
	long contract[C_N];
	char first[C_N][160]; /* the first violation of each contract counter */
};

static void seen(struct lab2_thread *t, int c, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void seen(struct lab2_thread *t, int c, const char *fmt, ...)
{
	if (t->contract[c]++ == 0) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(t->first[c], sizeof(t->first[c]), fmt, ap);
		va_end(ap);
	}
}

/* a is before b in the order the totals move (up, or down for refunds). */
static bool behind(const struct lab2_params *p, int64_t a, int64_t b)
{
	return p->refunds ? a > b : a < b;
}

/* The contract workloads' worker (the everyday one is worker() below). */
static void contract_worker(const struct stress_run *run, struct lab2_thread *t)
{
	const struct lab2_params *p = t->p;
	int n = (int)p->accounts;
	for (long i = 0; i < run->ops; i++) {
		uint64_t r = rng_next(&t->rng);
		int account = (int)(r % (uint64_t)p->accounts);
		int64_t cents = 1 + (int64_t)((r >> 32) % (uint64_t)p->amount_max);
		if (p->refunds)
			cents = -cents;
		if (!p->readers) {
			ledger_add(t->l, account, cents);
			t->added[account] += cents;
		} else {
			int64_t before = ledger_total(t->l, account);
			if (behind(p, before, t->last[account]))
				seen(t, C_BACK,
				     "add %ld: account %d read %lld cents, %lld before, while "
				     "adds of one sign ran",
				     i, account, (long long)before, (long long)t->last[account]);
			ledger_add(t->l, account, cents);
			t->added[account] += cents;
			int64_t after = ledger_total(t->l, account);
			if (behind(p, after, before + cents))
				seen(t, C_NOT_SEEN,
				     "add %ld: account %d read %lld cents, then %lld after this "
				     "thread added %lld: the add is missing",
				     i, account, (long long)before, (long long)after,
				     (long long)cents);
			t->last[account] = after;
			if ((i & 63) == 0) {
				int64_t floor = 0;
				for (int a = 0; a < n; a++)
					floor += t->last[a];
				int64_t sum = ledger_sum(t->l);
				if (behind(p, sum, floor))
					seen(t, C_SUM,
					     "add %ld: ledger_sum() read %lld cents while adds "
					     "ran, the totals this thread had seen add up to %lld",
					     i, (long long)sum, (long long)floor);
			}
		}
		if (p->invalid && (i & 31) == 0) {
			if (ledger_add(t->l, -1, cents) || ledger_add(t->l, n, cents))
				seen(t, C_ACCOUNT, "ledger_add() to account -1 or %d returned true",
				     n);
			if (ledger_total(t->l, -1) != 0 || ledger_total(t->l, n) != 0)
				seen(t, C_ACCOUNT, "ledger_total() of account -1 or %d is not 0",
				     n);
			if (ledger_accounts(t->l) != n)
				seen(t, C_ACCOUNT, "ledger_accounts() says %d, the ledger has %d",
				     ledger_accounts(t->l), n);
		}
	}
}

static void worker(const struct stress_run *run, int index, void *arg)
{
	(void)index;
	struct lab2_thread *t = arg;
	const struct lab2_params *p = t->p;
	if (p->readers || p->refunds || p->invalid) {
		contract_worker(run, t);
		return;
	}
	for (long i = 0; i < run->ops; i++) {
		uint64_t r = rng_next(&t->rng);
		int account = (int)(r % (uint64_t)p->accounts);
		int64_t cents = 1 + (int64_t)((r >> 32) % (uint64_t)p->amount_max);
		ledger_add(t->l, account, cents);
		t->added[account] += cents;
	}
}

static int lab2_prepare(struct stress_run *run, char *err, size_t errlen)
{
	static struct lab2_params p;
	if (stress_param(run, "accounts", 4, 1, LEDGER_ACCOUNTS_MAX, &p.accounts, err, errlen) ||
	    stress_param(run, "amount_max", 10000, 1, 100000000, &p.amount_max, err, errlen) ||
	    stress_param(run, "readers", 0, 0, 1, &p.readers, err, errlen) ||
	    stress_param(run, "refunds", 0, 0, 1, &p.refunds, err, errlen) ||
	    stress_param(run, "invalid", 0, 0, 1, &p.invalid, err, errlen))
		return -1;
	run->lab_state = &p;
	return 0;
}

/* After the threads are gone: every account holds exactly what was added. */
static void check_final(struct ledger *l, struct lab2_thread *th, int n,
			const struct lab2_params *p, int round, struct stress_result *r)
{
	int64_t sum_totals = 0;
	for (long a = 0; a < p->accounts; a++) {
		int64_t want = 0;
		for (int t = 0; t < n; t++)
			want += th[t].added[a];
		int64_t got = ledger_total(l, (int)a);
		sum_totals += got;
		if (got == want)
			continue;
		stress_count(r, "wrong_totals", 1,
			     "round %d: account %ld holds %lld cents, %lld were added (%+lld)",
			     round, a, (long long)got, (long long)want, (long long)(got - want));
		if (got < want)
			stress_count(r, "lost_cents", (long)(want - got), NULL);
		else
			stress_count(r, "extra_cents", (long)(got - want), NULL);
	}
	for (int t = 0; t < n; t++)
		for (int c = 0; c < C_N; c++)
			if (th[t].contract[c])
				stress_count(r, contract_names[c], th[t].contract[c],
					     "round %d: %s", round, th[t].first[c]);
	int64_t sum = ledger_sum(l);
	if (sum != sum_totals)
		stress_count(r, "wrong_sum", 1,
			     "round %d: ledger_sum() says %lld cents, the totals add up to %lld",
			     round, (long long)sum, (long long)sum_totals);
}

static int lab2_round(struct stress_run *run, int round, struct stress_result *r, char *err,
		      size_t errlen)
{
	const struct lab2_params *p = run->lab_state;
	int n = run->threads;
	struct lab2_thread *th = calloc((size_t)n, sizeof(*th));
	void *args[STRESS_MAX_THREADS];
	struct ledger *l = ledger_create((int)p->accounts);
	if (!th || !l) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (int i = 0; i < n; i++) {
		th[i].l = l;
		th[i].p = p;
		th[i].rng = rng_thread_seed(run->seed, round, i);
		th[i].added = calloc((size_t)p->accounts, sizeof(int64_t));
		th[i].last = calloc((size_t)p->accounts, sizeof(int64_t));
		if (!th[i].added || !th[i].last) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		args[i] = &th[i];
	}
	if (stress_threads(run, worker, args, err, errlen) != 0)
		return -1;

	check_final(l, th, n, p, round, r);
	r->ops_done += run->ops * n;

	ledger_destroy(l);
	for (int i = 0; i < n; i++) {
		free(th[i].added);
		free(th[i].last);
	}
	free(th);
	return 0;
}

const struct stress_lab stress_lab2 = {
	.params = lab2_keys,
	.invariants = lab2_invariants,
	.prepare = lab2_prepare,
	.round = lab2_round,
};
