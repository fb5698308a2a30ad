/*
 * workload.c: the lab 3 scenario, request threads paying for users
 * through the process-payment flow (cache, gateway, cache).
 *
 * The threads come in groups of `share` (2 by default). Every thread of a
 * group sends one request for each of the group's users, "user-0-0",
 * "user-0-1", ... in the same order, as a client that retries or a load
 * balancer that duplicates a request would: so the threads of a group ask
 * for the same new user at nearly the same time, and each user must be
 * charged exactly once, on whichever request comes first. The start
 * barrier lines the threads up; a thread that falls behind finds its
 * users already paid (hits are fast) and catches up, so they stay in
 * step. Each round starts from an empty cache and a new gateway whose
 * every charge takes `latency_us` microseconds.
 *
 * Invariants, each a named counter in the trial record, checked after the
 * threads are joined against the gateway's books:
 *   double_charges   users the gateway charged more than once
 *   missing_charges  users that were asked to pay but were never charged
 *                    (or a request that failed)
 *   wrong_response   a request answered with another user's response, an
 *                    amount nobody asked for, or (for a user charged once)
 *                    a charge id that is not that charge
 *
 * The contract workloads (grade_sets in scenario.conf) switch on, with
 * lab params that are all off by default (the default workload above is
 * the one expected.tsv measured, and stays exactly as it is):
 *   extra      each driver thread starts `extra` more request threads of
 *              its own group (unpinned): a burst of duplicates per user
 *              and, with share = 1, several groups of waiters, for
 *              different users, on whatever condition the flow waits on
 *   fail_ppm   the gateway fails this many charges in a million (nothing
 *              booked, 0 returned): the flow's failure path, and a
 *              waiter's path after the request it waited for failed
 *   retries    a request that failed is sent again up to this many times,
 *              as a client retries: the path after a failure
 *   invalid    before every `invalid`-th user, a thread sends a request
 *              the API must refuse (no amount, a negative one, no user, a
 *              user id too long, in turn): the early error returns
 *   audit      every answer is checked against the gateway's books as
 *              soon as payflow_process() returns, while the other threads
 *              run (not only after the join)
 * and three more invariants, counted while the threads run:
 *   bad_refusal      a refused request (PAYFLOW_FAILED) wrote *out, or an
 *                    invalid request was not refused
 *   unbooked_answer  (audit) a response handed out for a user whose charge
 *                    the gateway had not booked at that moment, or whose one
 *                    booked charge is not the response's
 *   answer_failed    (fail_ppm) a user who got a response but whom the
 *                    gateway never charged
 * What is not checked, because a correct flow may do it: a request that
 * waited for another request's charge may share that charge's failure
 * (as a "single flight" does) rather than charge itself, so the number of
 * refusals is not compared with the gateway's failures.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache.h"
#include "gateway.h"
#include "hash.h"
#include "payflow.h"
#include "rng.h"
#include "stress.h"

struct lab3_params {
	long share, latency_us, buckets;
	long extra, fail_ppm, retries, invalid, audit; /* the contract's; 0: off */
};

static const char *const lab3_keys[] = { "share",   "latency_us", "buckets", "extra", "fail_ppm",
					 "retries", "invalid",	  "audit",   NULL };

static const char *const lab3_invariants[] = { "double_charges",
					       "missing_charges",
					       "wrong_response",
					       "bad_refusal",
					       "unbooked_answer",
					       "answer_failed",
					       NULL };

/* What one thread saw; written only by that thread, read after join. */
struct lab3_thread {
	struct payflow *f;
	int group;
	uint64_t *charge;   /* per user: the charge id of the answer, 0: failed */
	unsigned char *bad; /* per user: the answer was not this user's */
	long failed;	    /* requests that failed */
	/* The contract's (see the top): */
	const struct stress_run *run;
	const struct lab3_params *p;
	struct gateway *g;
	struct lab3_thread *extra; /* p->extra more threads of this group */
	struct stress_result seen; /* violations seen while running */
};

static int64_t amount_of(const char *user)
{
	return 1 + (int64_t)(hash_str(user) % 100000); /* $0.01 to $1000.00 */
}

static void user_name(char *buf, size_t len, int group, long k)
{
	snprintf(buf, len, "user-%d-%ld", group, k);
}

/* --- the contract workloads (lab params extra, fail_ppm, retries, invalid,
 * audit; see the top) --- */

/* What a refused request's *out holds before and after the call. */
static void poison(struct cache_response *out)
{
	memset(out, 0xa5, sizeof(*out));
}

static int poisoned(const struct cache_response *out)
{
	struct cache_response p;
	poison(&p);
	return memcmp(out, &p, sizeof(p)) == 0;
}

/* A request payflow.h says must fail, the k-th kind in turn; nothing is
 * charged for it, and *out stays as it was. */
static void invalid_request(struct lab3_thread *t, long k)
{
	static const char *const kinds[] = { "no amount", "a negative amount", "no user",
					     "a user id too long" };
	char user[96]; /* roomy enough that snprintf cannot truncate */
	int64_t cents = 100;
	int kind = (int)(k % 4);
	user_name(user, sizeof(user), t->group, k);
	if (kind == 0)
		cents = 0;
	else if (kind == 1)
		cents = -amount_of(user);
	else if (kind == 2)
		user[0] = '\0';
	else
		snprintf(user, sizeof(user), "user-%d-%ld-%s", t->group, k,
			 "with-an-id-far-too-long-for-the-cache");
	struct cache_response out;
	poison(&out);
	enum payflow_outcome o = payflow_process(t->f, user, cents, &out);
	if (o != PAYFLOW_FAILED)
		stress_count(&t->seen, "bad_refusal", 1,
			     "a request with %s was answered (outcome %d), not refused",
			     kinds[kind], (int)o);
	else if (!poisoned(&out))
		stress_count(&t->seen, "bad_refusal", 1,
			     "a request with %s was refused, but *out was written", kinds[kind]);
}

/* The answer just handed out, against the gateway's books now: the charge
 * is booked before the response exists, so a response whose charge is not
 * booked yet was made up, and for a user charged once it is that charge.
 * (A user charged twice is counted after the join.) */
static void audit_answer(struct lab3_thread *t, const char *user, const struct cache_response *out)
{
	struct gateway_account a;
	gateway_account(t->g, user, &a);
	if (a.charges == 0)
		stress_count(&t->seen, "unbooked_answer", 1,
			     "%s was answered (charge id %llu) before the gateway booked a charge",
			     user, (unsigned long long)out->request_id);
	else if (a.charges == 1 && a.last_charge != out->request_id)
		stress_count(&t->seen, "unbooked_answer", 1,
			     "%s was answered with charge id %llu, the gateway booked %llu", user,
			     (unsigned long long)out->request_id,
			     (unsigned long long)a.last_charge);
}

static void *extra_thread(void *arg);

/* The default worker's loop with the contract's requests around it. */
static void contract_worker(const struct stress_run *run, struct lab3_thread *t)
{
	const struct lab3_params *p = t->p;
	pthread_t extra[16];
	long want = t->extra ? p->extra : 0, started = 0; /* only a driver thread starts some */
	for (; started < want; started++)
		if (pthread_create(&extra[started], NULL, extra_thread, &t->extra[started]) != 0)
			break;
	char user[48];
	struct cache_response out;
	for (long k = 0; k < run->ops; k++) {
		if (p->invalid && k % p->invalid == 0)
			invalid_request(t, k);
		user_name(user, sizeof(user), t->group, k);
		enum payflow_outcome o = PAYFLOW_FAILED;
		for (long attempt = 0; attempt <= p->retries && o == PAYFLOW_FAILED; attempt++) {
			poison(&out);
			o = payflow_process(t->f, user, amount_of(user), &out);
			if (o == PAYFLOW_FAILED && !poisoned(&out))
				stress_count(&t->seen, "bad_refusal", 1,
					     "%s's request was refused, but *out was written",
					     user);
		}
		if (o == PAYFLOW_FAILED) {
			t->failed++;
			continue;
		}
		if (p->audit)
			audit_answer(t, user, &out);
		t->charge[k] = out.request_id;
		t->bad[k] = strcmp(out.user_id, user) != 0 || strcmp(out.status, "success") != 0 ||
			    out.amount_cents != amount_of(user) || out.request_id == 0;
	}
	for (long i = 0; i < started; i++)
		pthread_join(extra[i], NULL);
	if (started < want)
		stress_count(&t->seen, "missing_charges", 1, "could not start %ld extra threads",
			     want - started);
}

static void *extra_thread(void *arg)
{
	struct lab3_thread *t = arg;
	contract_worker(t->run, t);
	return NULL;
}

static void worker(const struct stress_run *run, int index, void *arg)
{
	(void)index;
	struct lab3_thread *t = arg;
	if (t->p->extra || t->p->fail_ppm || t->p->invalid || t->p->audit) {
		contract_worker(run, t);
		return;
	}
	char user[48]; /* roomy enough that snprintf cannot truncate */
	struct cache_response out;
	for (long k = 0; k < run->ops; k++) {
		user_name(user, sizeof(user), t->group, k);
		memset(&out, 0, sizeof(out));
		enum payflow_outcome o = payflow_process(t->f, user, amount_of(user), &out);
		if (o == PAYFLOW_FAILED) {
			t->failed++;
			continue;
		}
		t->charge[k] = out.request_id;
		t->bad[k] = strcmp(out.user_id, user) != 0 || strcmp(out.status, "success") != 0 ||
			    out.amount_cents != amount_of(user) || out.request_id == 0;
	}
}
static int lab3_prepare(struct stress_run *run, char *err, size_t errlen)
{
	static struct lab3_params p;
	if (stress_param(run, "share", 2, 1, STRESS_MAX_THREADS, &p.share, err, errlen) ||
	    stress_param(run, "latency_us", 20, 0, 1000000, &p.latency_us, err, errlen) ||
	    stress_param(run, "buckets", 1024, 1, 1L << 24, &p.buckets, err, errlen) ||
	    stress_param(run, "extra", 0, 0, 16, &p.extra, err, errlen) ||
	    stress_param(run, "fail_ppm", 0, 0, 1000000, &p.fail_ppm, err, errlen) ||
	    stress_param(run, "retries", 0, 0, 100, &p.retries, err, errlen) ||
	    stress_param(run, "invalid", 0, 0, 1000000, &p.invalid, err, errlen) ||
	    stress_param(run, "audit", 0, 0, 1, &p.audit, err, errlen))
		return -1;
	if ((long)run->threads * (1 + p.extra) > STRESS_MAX_THREADS) {
		snprintf(err, errlen, "lab 3: threads x (1 + extra) must be at most %d",
			 STRESS_MAX_THREADS);
		return -1;
	}
	run->lab_state = &p;
	return 0;
}

/* After the threads are gone: the gateway's books against the answers. */
static void check_books(struct gateway *g, struct lab3_thread *th, int n, int ngroups, long users,
			int round, bool faulty, struct stress_result *r)
{
	char user[48];
	struct gateway_account a;
	for (int grp = 0; grp < ngroups; grp++)
		for (long k = 0; k < users; k++) {
			user_name(user, sizeof(user), grp, k);
			gateway_account(g, user, &a);
			if (a.charges > 1)
				stress_count(
					r, "double_charges", 1,
					"round %d: %s was charged %ld times, %lld cents in all",
					round, user, a.charges, (long long)a.total_cents);
			else if (a.charges == 0 && !faulty)
				stress_count(r, "missing_charges", 1,
					     "round %d: %s asked to pay and was never charged",
					     round, user);
			for (int i = 0; i < n; i++) {
				if (th[i].group != grp || th[i].charge[k] == 0)
					continue;
				/* With a failing gateway a user may go uncharged, if
				 * every request for it failed; not one that got an
				 * answer. */
				if (faulty && a.charges == 0)
					stress_count(r, "answer_failed", 1,
						     "round %d: thread %d got an answer for %s, "
						     "whom the gateway never charged",
						     round, i, user);
				if (th[i].bad[k] ||
				    (a.charges == 1 && th[i].charge[k] != a.last_charge))
					stress_count(
						r, "wrong_response", 1,
						"round %d: thread %d got a wrong answer for %s",
						round, i, user);
			}
		}
	for (int i = 0; i < n && !faulty; i++)
		stress_count(r, "missing_charges", th[i].failed,
			     "round %d: thread %d: %ld requests failed", round, i, th[i].failed);
	/* What the threads saw while they ran (the contract's). */
	for (int i = 0; i < n; i++)
		for (int j = 0; j < th[i].seen.ninv; j++)
			stress_count(r, th[i].seen.inv_name[j], th[i].seen.inv[j],
				     "round %d: thread %d: %s", round, i, th[i].seen.first);
}

static int lab3_round(struct stress_run *run, int round, struct stress_result *r, char *err,
		      size_t errlen)
{
	const struct lab3_params *p = run->lab_state;
	int n = run->threads;
	int all = n * (int)(1 + p->extra); /* the driver's threads, then the extra ones */
	long users = run->ops;
	struct lab3_thread *th = calloc((size_t)all, sizeof(*th));
	void *args[STRESS_MAX_THREADS];
	int ngroups = (int)((n + p->share - 1) / p->share);
	struct cache *c = cache_create((size_t)p->buckets);
	struct gateway *g = gateway_create((size_t)(users * ngroups), p->latency_us);
	struct payflow *f = c && g ? payflow_create(c, g) : NULL;
	if (!th || !f) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (p->fail_ppm) {
		struct gateway_faults faults = {
			.min_latency_us = p->latency_us,
			.max_latency_us = p->latency_us,
			.failure_ppm = (uint32_t)p->fail_ppm,
			.seed = rng_seed_k(run->seed, (uint64_t)round),
		};
		gateway_set_faults(g, &faults);
	}
	for (int i = 0; i < all; i++) {
		int driver = i < n ? i : (i - n) / (int)p->extra;
		th[i].f = f;
		th[i].group = (int)(driver / p->share);
		th[i].charge = calloc((size_t)users, sizeof(uint64_t));
		th[i].bad = calloc((size_t)users, 1);
		if (!th[i].charge || !th[i].bad) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		th[i].run = run;
		th[i].p = p;
		th[i].g = g;
		if (i < n) {
			th[i].extra = p->extra ? &th[n + i * p->extra] : NULL;
			args[i] = &th[i];
		}
	}
	if (stress_threads(run, worker, args, err, errlen) != 0)
		return -1;

	check_books(g, th, all, ngroups, users, round, p->fail_ppm != 0, r);
	r->ops_done += users * all;

	payflow_destroy(f);
	gateway_destroy(g);
	cache_destroy(c);
	for (int i = 0; i < all; i++) {
		free(th[i].charge);
		free(th[i].bad);
	}
	free(th);
	return 0;
}

const struct stress_lab stress_lab3 = {
	.params = lab3_keys,
	.invariants = lab3_invariants,
	.prepare = lab3_prepare,
	.round = lab3_round,
};
