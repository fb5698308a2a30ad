/*
 * lab4_refund.c: the lab 4 scenario, request threads refunding payments
 * between the same few accounts.
 *
 * Each thread makes `ops` transfers per round, each between two distinct
 * accounts picked at random among `accounts` (in a random direction) and
 * of 1 to `amount_max` cents; every account opens with `opening_cents`.
 * With two accounts and two threads, half the time the two threads are
 * moving money in opposite directions between the same two accounts: the
 * broken build's deadlock needs nothing more. Each thread keeps, in its own
 * array, the net change its accepted transfers made to each account; the
 * arrays are merged after the threads are joined, so the driver shares
 * nothing while they run and every balance is known exactly.
 *
 * The lab's main symptom is not a counter: a deadlocked round never ends,
 * and the driver's watchdog ends the trial at time_limit_s with a hang
 * record (exit 3). The counters check a round that does end:
 *   money_created      cents created or destroyed: |sum of balances -
 *                      accounts * opening_cents| (a transfer moves money,
 *                      it never makes or loses any)
 *   wrong_balances     accounts whose balance is not opening_cents plus
 *                      the net of the accepted transfers
 *   negative_balances  accounts below 0 (a transfer larger than the
 *                      source's balance must be refused)
 *   bad_status         transfers answered with anything but ok or
 *                      insufficient funds (the driver asks only valid ones)
 */
#include <stdio.h>
#include <stdlib.h>

#include "refund.h"
#include "rng.h"
#include "stress.h"

struct lab4_params {
	long accounts, amount_max, opening_cents;
};

static const char *const lab4_keys[] = { "accounts", "amount_max", "opening_cents", NULL };

static const char *const lab4_invariants[] = { "money_created", "wrong_balances",
					       "negative_balances", "bad_status", NULL };

struct lab4_thread {
	struct refund_bank *b;
	const struct lab4_params *p;
	uint64_t rng;
	int64_t *net; /* per account: the net cents this thread's transfers moved */
	long bad_status;
	enum refund_status first_bad;
};

static void worker(const struct stress_run *run, int index, void *arg)
{
	(void)index;
	struct lab4_thread *t = arg;
	const struct lab4_params *p = t->p;
	uint64_t n = (uint64_t)p->accounts;
	for (long i = 0; i < run->ops; i++) {
		uint64_t r = rng_next(&t->rng);
		int from = (int)(r % n);
		/* A different account: from + 1 .. from + n - 1, modulo n. */
		int to = (int)(((uint64_t)from + 1 + (r >> 16) % (n - 1)) % n);
		int64_t cents = 1 + (int64_t)((r >> 40) % (uint64_t)p->amount_max);
		enum refund_status st = refund_transfer(t->b, from, to, cents);
		if (st == REFUND_OK) {
			t->net[from] -= cents;
			t->net[to] += cents;
		} else if (st != REFUND_INSUFFICIENT) {
			if (t->bad_status++ == 0)
				t->first_bad = st;
		}
	}
}

static int lab4_prepare(struct stress_run *run, char *err, size_t errlen)
{
	static struct lab4_params p;
	if (stress_param(run, "accounts", 2, 2, REFUND_ACCOUNTS_MAX, &p.accounts, err, errlen) ||
	    stress_param(run, "amount_max", 100, 1, 100000000, &p.amount_max, err, errlen) ||
	    stress_param(run, "opening_cents", 1000000, 0, 1000000000000L, &p.opening_cents, err,
			 errlen))
		return -1;
	run->lab_state = &p;
	return 0;
}

/* After the threads are gone: every balance is exactly what the accepted
 * transfers made it, and the money adds up. */
static void check_final(struct refund_bank *b, struct lab4_thread *th, int n,
			const struct lab4_params *p, int round, struct stress_result *r)
{
	for (int t = 0; t < n; t++)
		if (th[t].bad_status)
			stress_count(r, "bad_status", th[t].bad_status,
				     "round %d: thread %d: a valid transfer was answered '%s'",
				     round, t, refund_status_name(th[t].first_bad));
	int64_t sum = 0;
	for (long a = 0; a < p->accounts; a++) {
		int64_t want = p->opening_cents;
		for (int t = 0; t < n; t++)
			want += th[t].net[a];
		int64_t got = refund_balance(b, (int)a);
		sum += got;
		if (got < 0)
			stress_count(r, "negative_balances", 1,
				     "round %d: account %ld is overdrawn: %lld cents", round, a,
				     (long long)got);
		if (got != want)
			stress_count(r, "wrong_balances", 1,
				     "round %d: account %ld holds %lld cents, the transfers "
				     "leave %lld (%+lld)",
				     round, a, (long long)got, (long long)want,
				     (long long)(got - want));
	}
	int64_t opening = p->accounts * p->opening_cents;
	int64_t diff = sum - opening;
	if (diff != 0)
		stress_count(r, "money_created", (long)(diff < 0 ? -diff : diff),
			     "round %d: the accounts hold %lld cents, %lld were opened (%+lld)",
			     round, (long long)sum, (long long)opening, (long long)diff);
}

static int lab4_round(struct stress_run *run, int round, struct stress_result *r, char *err,
		      size_t errlen)
{
	const struct lab4_params *p = run->lab_state;
	int n = run->threads;
	struct lab4_thread *th = calloc((size_t)n, sizeof(*th));
	void *args[STRESS_MAX_THREADS];
	struct refund_bank *b = refund_bank_create((int)p->accounts, p->opening_cents);
	if (!th || !b) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (int i = 0; i < n; i++) {
		th[i].b = b;
		th[i].p = p;
		th[i].rng =
			run->seed ^ ((uint64_t)round << 32) ^ ((uint64_t)i * 0x632be59bd9b4e019ULL);
		th[i].net = calloc((size_t)p->accounts, sizeof(int64_t));
		if (!th[i].net) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		args[i] = &th[i];
	}
	/* In the broken build this call may never return: the watchdog in
	 * main.c ends the trial as a hang. */
	if (stress_threads(run, worker, args, err, errlen) != 0)
		return -1;

	check_final(b, th, n, p, round, r);
	r->ops_done += run->ops * n;

	refund_bank_destroy(b);
	for (int i = 0; i < n; i++)
		free(th[i].net);
	free(th);
	return 0;
}

const struct stress_lab stress_lab4 = {
	.id = 4,
	.name = "refund",
	.params = lab4_keys,
	.invariants = lab4_invariants,
	.prepare = lab4_prepare,
	.round = lab4_round,
};
