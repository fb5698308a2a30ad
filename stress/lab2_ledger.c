/*
 * lab2_ledger.c: the lab 2 scenario, request threads adding completed
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
 */
#include <stdio.h>
#include <stdlib.h>

#include "ledger.h"
#include "rng.h"
#include "stress.h"

struct lab2_params {
	long accounts, amount_max;
};

static const char *const lab2_keys[] = { "accounts", "amount_max", NULL };

static const char *const lab2_invariants[] = { "lost_cents", "extra_cents", "wrong_totals",
					       "wrong_sum", NULL };

struct lab2_thread {
	struct ledger *l;
	const struct lab2_params *p;
	uint64_t rng;
	int64_t *added; /* per account: the cents this thread added */
};

static void worker(const struct stress_run *run, int index, void *arg)
{
	(void)index;
	struct lab2_thread *t = arg;
	const struct lab2_params *p = t->p;
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
	    stress_param(run, "amount_max", 10000, 1, 100000000, &p.amount_max, err, errlen))
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
		th[i].rng =
			run->seed ^ ((uint64_t)round << 32) ^ ((uint64_t)i * 0x632be59bd9b4e019ULL);
		th[i].added = calloc((size_t)p->accounts, sizeof(int64_t));
		if (!th[i].added) {
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
	for (int i = 0; i < n; i++)
		free(th[i].added);
	free(th);
	return 0;
}

const struct stress_lab stress_lab2 = {
	.id = 2,
	.name = "ledger",
	.params = lab2_keys,
	.invariants = lab2_invariants,
	.prepare = lab2_prepare,
	.round = lab2_round,
};
