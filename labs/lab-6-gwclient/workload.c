/*
 * workload.c: the lab 6 scenario, request threads that each need a
 * merchant's gateway client, which the first of them builds.
 *
 * A round starts with `ops` slots, one per merchant ("merchant-17"), all
 * reset to "not built", and releases the threads together (the driver's
 * barrier). Each thread then gets every merchant's client in the same
 * order, as request threads do when a burst of payments arrives for
 * merchants nobody has paid yet, and checks each client it is handed
 * before it would use it. The thread that falls behind at the start
 * catches up (a built client only costs a check), and from then on the
 * threads arrive at each new merchant together: each slot is a fresh
 * chance for the race.
 *
 * Invariants, each a named counter in the trial record:
 *   constructions_extra  after the round: builds beyond the one each
 *                        client needs (a slot built twice counts 1)
 *   half_built           a thread was handed a client that failed
 *                        gwclient_check(): not yet, or no longer,
 *                        completely built
 *   not_built            after the round: a slot that every thread got
 *                        was never built, or its client fails the check
 *
 * The contract workloads (grade_sets in scenario.conf) switch on, with
 * lab params that are off by default (the default workload above is the
 * one expected.tsv measured, and stays exactly as it is):
 *   extra    each driver thread starts `extra` more request threads
 *            (unpinned) that walk the same merchants: a burst of callers
 *            on every slot's slow path, arriving before, during and after
 *            its build rather than only together
 *   starts   the threads (the driver's and the extra ones, numbered) begin
 *            their walks at `starts` different merchants, evenly spaced,
 *            and wrap around: several slots are built at once, each with
 *            its own callers waiting, so waiters for different slots
 *            share whatever the module waits on
 *   recheck  after each get, a thread checks again the client it was
 *            handed `recheck` merchants before: a client must stay
 *            whole while other threads go on getting (and, in a wrong
 *            fix, building) it, not only at the moment it is handed out
 * (key_rounds, an everyday param, widens the build: the slow path.)
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gwclient.h"
#include "stress.h"

struct lab6_params {
	long key_rounds;
	long extra, starts, recheck; /* the contract's; 0: off */
	long nslots;
	struct gwclient_lazy **slot; /* made once, reset every round */
};

static const char *const lab6_keys[] = { "key_rounds", "extra", "starts", "recheck", NULL };

static const char *const lab6_invariants[] = { "constructions_extra", "half_built", "not_built",
					       NULL };

struct lab6_thread {
	const struct lab6_params *p;
	struct stress_result seen; /* violations seen while running */
	struct lab6_thread *extra; /* p->extra more threads (the contract's) */
	long first;		   /* the merchant its walk starts at (the contract's) */
};

static void merchant_name(char *buf, size_t len, long k)
{
	snprintf(buf, len, "merchant-%ld", k);
}

/* The contract's walk (extra, recheck: see the top). */
static void *contract_walk(void *arg)
{
	struct lab6_thread *t = arg;
	const struct lab6_params *p = t->p;
	pthread_t extra[16];
	long want = t->extra ? p->extra : 0, started = 0; /* only a driver thread starts some */
	for (; started < want; started++)
		if (pthread_create(&extra[started], NULL, contract_walk, &t->extra[started]) != 0)
			break;
	char merchant[48], why[200];
	const struct gwclient **got = calloc((size_t)p->nslots, sizeof(*got));
	for (long step = 0; got && step < p->nslots; step++) {
		long k = (t->first + step) % p->nslots;
		got[k] = gwclient_get(p->slot[k]);
		merchant_name(merchant, sizeof(merchant), k);
		if (gwclient_check(got[k], merchant, why, sizeof(why)) != 0)
			stress_count(&t->seen, "half_built", 1, "%s's client was handed out: %s",
				     merchant, why);
		long back = (k - p->recheck + p->nslots) % p->nslots;
		if (p->recheck && step >= p->recheck) {
			merchant_name(merchant, sizeof(merchant), back);
			if (gwclient_check(got[back], merchant, why, sizeof(why)) != 0)
				stress_count(&t->seen, "half_built", 1,
					     "%s's client, handed out whole, later failed: %s",
					     merchant, why);
		}
	}
	if (!got)
		stress_count(&t->seen, "not_built", 1, "out of memory");
	free(got);
	for (long i = 0; i < started; i++)
		pthread_join(extra[i], NULL);
	if (started < want)
		stress_count(&t->seen, "not_built", 1, "could not start %ld extra threads",
			     want - started);
	return NULL;
}

static void worker(const struct stress_run *run, int index, void *arg)
{
	(void)run;
	(void)index;
	struct lab6_thread *t = arg;
	const struct lab6_params *p = t->p;
	if (p->extra || p->starts || p->recheck) {
		contract_walk(t);
		return;
	}
	char merchant[48], why[200];
	for (long k = 0; k < p->nslots; k++) {
		const struct gwclient *c = gwclient_get(p->slot[k]);
		merchant_name(merchant, sizeof(merchant), k);
		if (gwclient_check(c, merchant, why, sizeof(why)) != 0)
			stress_count(&t->seen, "half_built", 1, "%s's client was handed out: %s",
				     merchant, why);
	}
}

static int lab6_prepare(struct stress_run *run, char *err, size_t errlen)
{
	static struct lab6_params p;
	if (stress_param(run, "key_rounds", 4, 1, 1000000, &p.key_rounds, err, errlen) ||
	    stress_param(run, "extra", 0, 0, 16, &p.extra, err, errlen) ||
	    stress_param(run, "starts", 0, 0, STRESS_MAX_THREADS, &p.starts, err, errlen) ||
	    stress_param(run, "recheck", 0, 0, 1000000, &p.recheck, err, errlen))
		return -1;
	if ((long)run->threads * (1 + p.extra) > STRESS_MAX_THREADS) {
		snprintf(err, errlen, "lab 6: threads x (1 + extra) must be at most %d",
			 STRESS_MAX_THREADS);
		return -1;
	}
	/* ops is the number of merchants (slots) per round; a slot is about
	 * 500 bytes, so the bound keeps a round within a few hundred MB. */
	if (run->ops > 1000000) {
		snprintf(err, errlen, "lab 6: ops (merchants per round) must be at most 1000000");
		return -1;
	}
	p.nslots = run->ops;
	p.slot = calloc((size_t)p.nslots, sizeof(p.slot[0]));
	if (!p.slot) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	char merchant[48];
	for (long k = 0; k < p.nslots; k++) {
		merchant_name(merchant, sizeof(merchant), k);
		p.slot[k] = gwclient_lazy_create(merchant, (int)p.key_rounds);
		if (!p.slot[k]) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
	}
	run->lab_state = &p;
	return 0;
}

static int lab6_round(struct stress_run *run, int round, struct stress_result *r, char *err,
		      size_t errlen)
{
	const struct lab6_params *p = run->lab_state;
	int n = run->threads;
	int all = n * (int)(1 + p->extra); /* the driver's threads, then the extra ones */
	struct lab6_thread th[STRESS_MAX_THREADS];
	void *args[STRESS_MAX_THREADS];
	/* No thread runs between rounds: the resets need no lock. */
	for (long k = 0; k < p->nslots; k++)
		gwclient_lazy_reset(p->slot[k]);
	for (int i = 0; i < all; i++) {
		memset(&th[i], 0, sizeof(th[i]));
		th[i].p = p;
		if (p->starts)
			th[i].first = (i % p->starts) * p->nslots / p->starts;
		if (i < n) {
			th[i].extra = p->extra ? &th[n + i * p->extra] : NULL;
			args[i] = &th[i];
		}
	}
	if (stress_threads(run, worker, args, err, errlen) != 0)
		return -1;

	/* After the join: the threads' counters are theirs no longer. */
	for (int i = 0; i < all; i++)
		for (int j = 0; j < th[i].seen.ninv; j++)
			stress_count(r, th[i].seen.inv_name[j], th[i].seen.inv[j], "round %d: %s",
				     round, th[i].seen.first);
	char merchant[48], why[200];
	for (long k = 0; k < p->nslots; k++) {
		int built = gwclient_lazy_constructions(p->slot[k]);
		merchant_name(merchant, sizeof(merchant), k);
		if (built > 1)
			stress_count(r, "constructions_extra", built - 1,
				     "round %d: %s's client was built %d times", round, merchant,
				     built);
		if (built < 1)
			stress_count(r, "not_built", 1, "round %d: %s's client was never built",
				     round, merchant);
		else if (gwclient_check(gwclient_get(p->slot[k]), merchant, why, sizeof(why)))
			stress_count(r, "not_built", 1, "round %d: %s's client is wrong: %s", round,
				     merchant, why);
	}
	r->ops_done += p->nslots * all;
	return 0;
}

const struct stress_lab stress_lab6 = {
	.params = lab6_keys,
	.invariants = lab6_invariants,
	.prepare = lab6_prepare,
	.round = lab6_round,
};
