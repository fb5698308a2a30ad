/*
 * workload.c: the lab 10 scenario, two settlement workers that may both
 * pick up the same payment, deciding through a claim which of them
 * charges it.
 *
 * The threads work in pairs: thread 2p is the primary worker, thread 2p+1
 * the failover worker, and the pair has `ops` payments of its own a
 * round. A litmus test: for every payment both workers meet at a spin
 * barrier and leave it together, then each tries to claim the payment
 * (raise its flag, read the other's); the one that is alone charges it if
 * it is still unsettled and releases the claim, the other backs off. Each
 * payment has a fresh claim, so every payment is a fresh chance for both
 * loads to pass both stores. The barrier spins (yielding after
 * `yield_after` spins, so that two workers on one CPU take turns): a
 * mutex or a condition variable would put the workers to sleep and
 * wake them microseconds apart, too far apart to meet in the window.
 * Under Valgrind (`spin = 0`) it is a pthread barrier, which Helgrind and
 * DRD understand; Valgrind runs one thread at a time, so nothing can meet
 * there anyway. `meet = 0` leaves the barrier out, for the gdb walkthrough,
 * where gdb decides which worker runs when.
 *
 * After the round, with the workers joined, a sweep settles every payment
 * that both workers left (both backed off: allowed), claiming it alone
 * from each side in turn.
 *
 * Invariants, each a named counter in the trial record:
 *   double_charged      both workers were alone and charged the payment
 *   flag_left_up        the sweep, alone, could not claim a payment: a
 *                       flag stayed up after its worker backed off or
 *                       released
 *   refused_alone       (contract workload) claim_try() said no to a worker
 *                       while the other one was idle
 *   granted_while_held  (contract workload) claim_try() said yes while the
 *                       other worker held the claim
 *
 * The contract workload (lab param `contract`, 0 = off): no racing; the
 * pair takes turns, a barrier between steps, the holder changing every
 * payment: the holder claims (must be granted); the other tries (must be
 * refused); the holder releases, claims again (must be granted: the other
 * backed off) and releases; the other claims (must be granted) and
 * releases.
 *
 * `tally = 1` prints, for every round, how many payments were charged
 * twice and how many both workers left (stderr; off by default).
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "claim.h"
#include "stress.h"

struct payment {
	int settled;	/* 1: charged (the workers' check before charging) */
	int charged[2]; /* charged[side]: that side charged it */
};

/* One pair's meeting point: each worker adds 1 for each payment and waits
 * until the other has too. Its own cache line: the workers spin on it. */
struct pair_sync {
	_Alignas(64) atomic_long arrived;
	pthread_barrier_t barrier; /* instead, when spin = 0 */
};

struct lab10_params {
	long yield_after;
	long spin;     /* 1: spin barrier; 0: pthread barrier (Valgrind) */
	long meet;     /* 0: no barrier per payment (the gdb walkthrough) */
	long contract; /* the contract workload: 0 = off */
	long tally;    /* 1: print each round's counts on stderr */
	long npay;     /* per pair */
	struct claim **claim;
	struct payment *pay;
	struct pair_sync *sync;
};

static const char *const lab10_keys[] = {
	"yield_after", "spin", "meet", "contract", "tally", NULL
};

static const char *const lab10_invariants[] = { "double_charged", "flag_left_up", "refused_alone",
						"granted_while_held", NULL };

struct lab10_thread {
	const struct lab10_params *p;
	int pair;
	enum claim_side side;
	long first; /* the pair's first payment */
	long meets; /* barriers passed this round */
	struct stress_result seen;
};

/* Both workers of the pair here, then both go on. */
static void meet(struct lab10_thread *t)
{
	struct pair_sync *s = &t->p->sync[t->pair];
	if (!t->p->meet)
		return;
	if (!t->p->spin) {
		pthread_barrier_wait(&s->barrier);
		return;
	}
	long target = 2 * ++t->meets;
	atomic_fetch_add(&s->arrived, 1);
	for (long spins = 1; atomic_load_explicit(&s->arrived, memory_order_acquire) < target;
	     spins++) {
		stress_spin_pause(); /* the sched build's switch point */
		if (t->p->yield_after && spins % t->p->yield_after == 0)
			sched_yield();
	}
}

static void race(struct lab10_thread *t)
{
	for (long k = 0; k < t->p->npay; k++) {
		long g = t->first + k;
		struct payment *pay = &t->p->pay[g];
		meet(t);
		if (claim_try(t->p->claim[g], t->side)) {
			if (!pay->settled) { /* charge it, once */
				pay->charged[t->side] = 1;
				pay->settled = 1;
			}
			claim_release(t->p->claim[g], t->side);
		}
	}
}

/* The contract workload: one step at a time, the API's promises checked. */
static void contract(struct lab10_thread *t)
{
	for (long k = 0; k < t->p->npay; k++) {
		long g = t->first + k;
		struct claim *c = t->p->claim[g];
		int holder = (int)(k % 2) == (int)t->side;
		meet(t);
		if (holder && !claim_try(c, t->side))
			stress_count(&t->seen, "refused_alone", 1,
				     "payment %ld: side %d was refused while the other was idle", g,
				     t->side);
		meet(t);
		if (!holder && claim_try(c, t->side)) {
			stress_count(&t->seen, "granted_while_held", 1,
				     "payment %ld: side %d was granted while the other held it", g,
				     t->side);
			claim_release(c, t->side);
		}
		meet(t);
		if (holder) {
			claim_release(c, t->side);
			if (claim_try(c, t->side))
				claim_release(c, t->side);
			else
				stress_count(&t->seen, "refused_alone", 1,
					     "payment %ld: side %d was refused after the other "
					     "backed off",
					     g, t->side);
		}
		meet(t);
		if (!holder) {
			if (claim_try(c, t->side))
				claim_release(c, t->side);
			else
				stress_count(&t->seen, "refused_alone", 1,
					     "payment %ld: side %d was refused after the other "
					     "released",
					     g, t->side);
		}
	}
}

static void worker(const struct stress_run *run, int index, void *arg)
{
	(void)run;
	(void)index;
	struct lab10_thread *t = arg;
	if (t->p->contract)
		contract(t);
	else
		race(t);
}

static int lab10_prepare(struct stress_run *run, char *err, size_t errlen)
{
	static struct lab10_params p;
	if (stress_param(run, "yield_after", 256, 0, 1000000000L, &p.yield_after, err, errlen) ||
	    stress_param(run, "spin", 1, 0, 1, &p.spin, err, errlen) ||
	    stress_param(run, "meet", 1, 0, 1, &p.meet, err, errlen) ||
	    stress_param(run, "contract", 0, 0, 1, &p.contract, err, errlen) ||
	    stress_param(run, "tally", 0, 0, 1, &p.tally, err, errlen))
		return -1;
	if (p.contract && !p.meet) {
		snprintf(err, errlen, "lab 10: the contract workload needs meet = 1");
		return -1;
	}
	if (run->threads < 2 || run->threads % 2 != 0) {
		snprintf(err, errlen,
			 "lab 10: threads must be even (a primary and a failover worker per pair)");
		return -1;
	}
	if (run->ops > 2000000) {
		snprintf(err, errlen,
			 "lab 10: ops (payments per pair per round) must be at most "
			 "2000000");
		return -1;
	}
	int npairs = run->threads / 2;
	p.npay = run->ops;
	long total = p.npay * npairs;
	p.claim = calloc((size_t)total, sizeof(p.claim[0]));
	p.pay = calloc((size_t)total, sizeof(p.pay[0]));
	p.sync = aligned_alloc(64, sizeof(p.sync[0]) * (size_t)npairs);
	if (!p.claim || !p.pay || !p.sync) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (long g = 0; g < total; g++) {
		p.claim[g] = claim_create();
		if (!p.claim[g]) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
	}
	for (int i = 0; i < npairs; i++) {
		atomic_init(&p.sync[i].arrived, 0);
		pthread_barrier_init(&p.sync[i].barrier, NULL, 2);
	}
	run->lab_state = &p;
	return 0;
}

static int lab10_round(struct stress_run *run, int round, struct stress_result *r, char *err,
		       size_t errlen)
{
	const struct lab10_params *p = run->lab_state;
	int n = run->threads;
	long total = p->npay * (n / 2);
	struct lab10_thread th[STRESS_MAX_THREADS];
	void *args[STRESS_MAX_THREADS];
	/* No worker runs between rounds: thread creation and join order the
	 * resets and the sweep. */
	for (long g = 0; g < total; g++) {
		claim_reset(p->claim[g]);
		memset(&p->pay[g], 0, sizeof(p->pay[g]));
	}
	for (int i = 0; i < n / 2; i++)
		atomic_store(&p->sync[i].arrived, 0);
	for (int i = 0; i < n; i++) {
		memset(&th[i], 0, sizeof(th[i]));
		th[i].p = p;
		th[i].pair = i / 2;
		th[i].side = i % 2 == 0 ? CLAIM_PRIMARY : CLAIM_FAILOVER;
		th[i].first = (i / 2) * p->npay;
		args[i] = &th[i];
	}
	if (stress_threads(run, worker, args, err, errlen) != 0)
		return -1;

	/* After the join: the threads' counters are theirs no longer. */
	for (int i = 0; i < n; i++)
		for (int j = 0; j < th[i].seen.ninv; j++)
			stress_count(r, th[i].seen.inv_name[j], th[i].seen.inv[j], "round %d: %s",
				     round, th[i].seen.first);
	long twice = 0, left = 0;
	for (long g = 0; !p->contract && g < total; g++) {
		struct payment *pay = &p->pay[g];
		if (pay->charged[0] && pay->charged[1]) {
			twice++;
			stress_count(r, "double_charged", 1,
				     "round %d, payment %ld: both workers were alone and charged "
				     "it",
				     round, g);
		}
		if (!pay->settled)
			left++;
		/* The sweep: alone, each side must get the claim. */
		for (int side = CLAIM_PRIMARY; side <= CLAIM_FAILOVER; side++) {
			if (!claim_try(p->claim[g], (enum claim_side)side)) {
				stress_count(r, "flag_left_up", 1,
					     "round %d, payment %ld: the sweep, alone, could not "
					     "claim it (side %d)",
					     round, g, side);
				continue;
			}
			pay->settled = 1;
			claim_release(p->claim[g], (enum claim_side)side);
		}
	}
	if (p->tally)
		fprintf(stderr,
			"lab 10: round %d: %ld payments, %ld charged twice, %ld left by both "
			"workers\n",
			round, total, twice, left);
	r->ops_done += total;
	return 0;
}

const struct stress_lab stress_lab10 = {
	.params = lab10_keys,
	.invariants = lab10_invariants,
	.prepare = lab10_prepare,
	.round = lab10_round,
};
