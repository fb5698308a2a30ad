/*
 * workload.c: the lab 4 scenario, request threads refunding payments
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
 *
 * Contract workloads (scenario.conf's grade_sets), each switched on by a
 * parameter that is 0 by default, so the everyday workload above is
 * unchanged. They check refund.h's promises while the transfers run:
 *   downhill=1  every transfer goes from a lower account number to a
 *               higher one (two distinct accounts among `accounts`). Then,
 *               with refund.h's promise that both balances change together
 *               under both locks, refund_total(), which reads the accounts
 *               one at a time from 0 up, can count a transfer twice but
 *               never miss one: it is at least accounts * opening_cents.
 *               The same balances read from the top account down can miss
 *               a transfer but never count one twice: at most that. Both
 *               sums are read between transfers, while the other thread
 *               transfers. (With transfers in both directions no such
 *               bound holds, so the everyday workload cannot check this.)
 *   readers=1   between transfers, every balance is read (refund_balance)
 *               and refund_total() is called while the other thread
 *               transfers; no balance may be below 0 or above the money
 *               the bank holds. With a small opening_cents, transfers are
 *               refused for insufficient funds all the time, and two
 *               threads debit the same nearly empty account.
 *   invalid=1   every 16th transfer is followed by invalid requests (from
 *               == to, an account out of range, 0 or negative cents),
 *               each of which must get its own status and change nothing,
 *               and refund_balance() of accounts out of range, 0.
 * Their counters:
 *   money_in_neither   downhill: refund_total() below the money opened (a
 *                      transfer seen debited but not yet credited)
 *   money_in_both      downhill: the top-down sum above it (seen credited
 *                      but not yet debited)
 *   balance_out_of_range  a balance read while transfers ran below 0 or
 *                      above accounts * opening_cents
 *   false_insufficient a transfer refused for insufficient funds although
 *                      no account can run short: opening_cents exceeds all
 *                      the cents every thread could move in a trial
 *   wrong_status       an invalid request not answered with its own status,
 *                      or refund_balance() of a missing account not 0
 * Not checked: that an "insufficient funds" answer matches a balance at
 * some instant, when an account can run short: from outside the API no
 * balance can be read at the instant the transfer decided (other threads
 * move money in between), so any bound would be loose or false.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "refund.h"
#include "rng.h"
#include "stress.h"

struct lab4_params {
	long accounts, amount_max, opening_cents;
	long downhill, readers, invalid; /* contract workloads, 0: off */
	long no_shortage;		 /* opening_cents exceeds every cent a trial can move */
};

static const char *const lab4_keys[] = { "accounts", "amount_max", "opening_cents",
					 "downhill", "readers",	   "invalid",
					 NULL };

static const char *const lab4_invariants[] = { "money_created",	       "wrong_balances",
					       "negative_balances",    "bad_status",
					       "money_in_neither",     "money_in_both",
					       "balance_out_of_range", "false_insufficient",
					       "wrong_status",	       NULL };

/* The contract counters, kept per thread while the threads run and
 * counted after the join (stress_count is not for concurrent use). */
enum { C_NEITHER, C_BOTH, C_RANGE, C_FALSE_INSUF, C_STATUS, C_N };
static const char *const contract_names[C_N] = { "money_in_neither", "money_in_both",
						 "balance_out_of_range", "false_insufficient",
						 "wrong_status" };

struct lab4_thread {
	struct refund_bank *b;
	const struct lab4_params *p;
	uint64_t rng;
	int64_t *net; /* per account: the net cents this thread's transfers moved */
	long bad_status;
	enum refund_status first_bad;
	long contract[C_N];
	char first[C_N][160]; /* the first violation of each contract counter */
};

static void seen(struct lab4_thread *t, int c, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void seen(struct lab4_thread *t, int c, const char *fmt, ...)
{
	if (t->contract[c]++ == 0) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(t->first[c], sizeof(t->first[c]), fmt, ap);
		va_end(ap);
	}
}

/* Reads the balances while the other threads transfer: each one in range,
 * and, downhill, the bottom-up and top-down sums on their side of the
 * money opened. */
static void audit(struct lab4_thread *t, long op)
{
	const struct lab4_params *p = t->p;
	int n = (int)p->accounts;
	int64_t opened = p->accounts * p->opening_cents;
	int64_t up = refund_total(t->b);
	if (p->downhill && up < opened)
		seen(t, C_NEITHER,
		     "transfer %ld: refund_total() read %lld cents while transfers ran, "
		     "%lld were opened: a transfer's money in neither account",
		     op, (long long)up, (long long)opened);
	int64_t down = 0;
	for (int a = n - 1; a >= 0; a--) {
		int64_t v = refund_balance(t->b, a);
		down += v;
		if (v < 0 || v > opened)
			seen(t, C_RANGE,
			     "transfer %ld: account %d read %lld cents while transfers ran "
			     "(the bank holds %lld)",
			     op, a, (long long)v, (long long)opened);
	}
	if (p->downhill && down > opened)
		seen(t, C_BOTH,
		     "transfer %ld: the balances read from the top down add up to %lld "
		     "cents while transfers ran, %lld were opened: a transfer's money in "
		     "both accounts",
		     op, (long long)down, (long long)opened);
	if (refund_accounts(t->b) != n)
		seen(t, C_STATUS, "refund_accounts() says %d, the bank has %d",
		     refund_accounts(t->b), n);
}

/* Requests that must be refused, each with its own status, changing
 * nothing (the balances are checked after the join). */
static void invalid_requests(struct lab4_thread *t, uint64_t r)
{
	int n = (int)t->p->accounts;
	int a = (int)(r % (uint64_t)n);
	int64_t cents = 1 + (int64_t)((r >> 40) % (uint64_t)t->p->amount_max);
	static const struct {
		int from_off, to_off; /* -1: account -1, -2: account n, else a + off */
		int cents_kind;	      /* 0: cents, 1: 0, 2: -cents */
		enum refund_status want;
	} req[] = {
		{ 0, 0, 0, REFUND_SAME_ACCOUNT }, { -1, 0, 0, REFUND_NO_ACCOUNT },
		{ 0, -2, 0, REFUND_NO_ACCOUNT },  { 0, 1, 1, REFUND_BAD_AMOUNT },
		{ 0, 1, 2, REFUND_BAD_AMOUNT },
	};
	for (size_t i = 0; i < sizeof(req) / sizeof(req[0]); i++) {
		int from = req[i].from_off == -1 ? -1 : req[i].from_off == -2 ? n : a;
		int to = req[i].to_off == -1   ? -1
			 : req[i].to_off == -2 ? n
					       : (a + req[i].to_off) % n;
		int64_t c = req[i].cents_kind == 0 ? cents : req[i].cents_kind == 1 ? 0 : -cents;
		enum refund_status st = refund_transfer(t->b, from, to, c);
		if (st != req[i].want)
			seen(t, C_STATUS, "refund_transfer(%d, %d, %lld) answered '%s', not '%s'",
			     from, to, (long long)c, refund_status_name(st),
			     refund_status_name(req[i].want));
	}
	if (refund_balance(t->b, -1) != 0 || refund_balance(t->b, n) != 0)
		seen(t, C_STATUS, "refund_balance() of a missing account is not 0");
}

/* The contract workloads' worker (the everyday one is worker() below). */
static void contract_worker(const struct stress_run *run, struct lab4_thread *t)
{
	const struct lab4_params *p = t->p;
	uint64_t n = (uint64_t)p->accounts;
	for (long i = 0; i < run->ops; i++) {
		uint64_t r = rng_next(&t->rng);
		int from = (int)(r % n);
		int to = (int)(((uint64_t)from + 1 + (r >> 16) % (n - 1)) % n);
		if (p->downhill && from > to) {
			int x = from;
			from = to;
			to = x;
		}
		int64_t cents = 1 + (int64_t)((r >> 40) % (uint64_t)p->amount_max);
		enum refund_status st = refund_transfer(t->b, from, to, cents);
		if (st == REFUND_OK) {
			t->net[from] -= cents;
			t->net[to] += cents;
		} else if (st == REFUND_INSUFFICIENT) {
			if (p->no_shortage)
				seen(t, C_FALSE_INSUF,
				     "transfer %ld: %lld cents from account %d refused for "
				     "insufficient funds; it opened with %lld and no round can "
				     "move that much",
				     i, (long long)cents, from, (long long)p->opening_cents);
		} else if (t->bad_status++ == 0) {
			t->first_bad = st;
		}
		if ((p->readers || p->downhill) && (i & 3) == 0)
			audit(t, i);
		if (p->invalid && (i & 15) == 0)
			invalid_requests(t, r);
	}
}

static void worker(const struct stress_run *run, int index, void *arg)
{
	(void)index;
	struct lab4_thread *t = arg;
	const struct lab4_params *p = t->p;
	if (p->downhill || p->readers || p->invalid) {
		contract_worker(run, t);
		return;
	}
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
			 errlen) ||
	    stress_param(run, "downhill", 0, 0, 1, &p.downhill, err, errlen) ||
	    stress_param(run, "readers", 0, 0, 1, &p.readers, err, errlen) ||
	    stress_param(run, "invalid", 0, 0, 1, &p.invalid, err, errlen))
		return -1;
	/* No account can run short when it opens with more than every thread
	 * together can move in a round (each round opens a new bank). */
	double movable = (double)run->threads * (double)run->ops * (double)p.amount_max;
	p.no_shortage = (double)p.opening_cents > movable;
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
	for (int t = 0; t < n; t++)
		for (int c = 0; c < C_N; c++)
			if (th[t].contract[c])
				stress_count(r, contract_names[c], th[t].contract[c],
					     "round %d: %s", round, th[t].first[c]);
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
		th[i].rng = rng_thread_seed(run->seed, round, i);
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
	.params = lab4_keys,
	.invariants = lab4_invariants,
	.prepare = lab4_prepare,
	.round = lab4_round,
};
