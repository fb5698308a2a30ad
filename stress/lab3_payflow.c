/*
 * lab3_payflow.c: the lab 3 scenario, request threads paying for users
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
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache.h"
#include "gateway.h"
#include "hash.h"
#include "payflow.h"
#include "stress.h"

struct lab3_params {
	long share, latency_us, buckets;
};

static const char *const lab3_keys[] = { "share", "latency_us", "buckets", NULL };

static const char *const lab3_invariants[] = { "double_charges", "missing_charges",
					       "wrong_response", NULL };

/* What one thread saw; written only by that thread, read after join. */
struct lab3_thread {
	struct payflow *f;
	int group;
	uint64_t *charge;   /* per user: the charge id of the answer, 0: failed */
	unsigned char *bad; /* per user: the answer was not this user's */
	long failed;	    /* requests that failed */
};

static int64_t amount_of(const char *user)
{
	return 1 + (int64_t)(hash_str(user) % 100000); /* $0.01 to $1000.00 */
}

static void user_name(char *buf, size_t len, int group, long k)
{
	snprintf(buf, len, "user-%d-%ld", group, k);
}

static void worker(const struct stress_run *run, int index, void *arg)
{
	(void)index;
	struct lab3_thread *t = arg;
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
	    stress_param(run, "buckets", 1024, 1, 1L << 24, &p.buckets, err, errlen))
		return -1;
	run->lab_state = &p;
	return 0;
}

/* After the threads are gone: the gateway's books against the answers. */
static void check_books(struct gateway *g, struct lab3_thread *th, int n, long users, int round,
			struct stress_result *r)
{
	char user[48];
	struct gateway_account a;
	int ngroups = th[n - 1].group + 1;
	for (int grp = 0; grp < ngroups; grp++)
		for (long k = 0; k < users; k++) {
			user_name(user, sizeof(user), grp, k);
			gateway_account(g, user, &a);
			if (a.charges > 1)
				stress_count(
					r, "double_charges", 1,
					"round %d: %s was charged %ld times, %lld cents in all",
					round, user, a.charges, (long long)a.total_cents);
			else if (a.charges == 0)
				stress_count(r, "missing_charges", 1,
					     "round %d: %s asked to pay and was never charged",
					     round, user);
			for (int i = 0; i < n; i++) {
				if (th[i].group != grp || th[i].charge[k] == 0)
					continue;
				if (th[i].bad[k] ||
				    (a.charges == 1 && th[i].charge[k] != a.last_charge))
					stress_count(
						r, "wrong_response", 1,
						"round %d: thread %d got a wrong answer for %s",
						round, i, user);
			}
		}
	for (int i = 0; i < n; i++)
		stress_count(r, "missing_charges", th[i].failed,
			     "round %d: thread %d: %ld requests failed", round, i, th[i].failed);
}

static int lab3_round(struct stress_run *run, int round, struct stress_result *r, char *err,
		      size_t errlen)
{
	const struct lab3_params *p = run->lab_state;
	int n = run->threads;
	long users = run->ops;
	struct lab3_thread *th = calloc((size_t)n, sizeof(*th));
	void *args[STRESS_MAX_THREADS];
	int ngroups = (int)((n + p->share - 1) / p->share);
	struct cache *c = cache_create((size_t)p->buckets);
	struct gateway *g = gateway_create((size_t)(users * ngroups), p->latency_us);
	struct payflow *f = c && g ? payflow_create(c, g) : NULL;
	if (!th || !f) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (int i = 0; i < n; i++) {
		th[i].f = f;
		th[i].group = (int)(i / p->share);
		th[i].charge = calloc((size_t)users, sizeof(uint64_t));
		th[i].bad = calloc((size_t)users, 1);
		if (!th[i].charge || !th[i].bad) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		args[i] = &th[i];
	}
	if (stress_threads(run, worker, args, err, errlen) != 0)
		return -1;

	check_books(g, th, n, users, round, r);
	r->ops_done += users * n;

	payflow_destroy(f);
	gateway_destroy(g);
	cache_destroy(c);
	for (int i = 0; i < n; i++) {
		free(th[i].charge);
		free(th[i].bad);
	}
	free(th);
	return 0;
}

const struct stress_lab stress_lab3 = {
	.id = 3,
	.name = "payflow",
	.params = lab3_keys,
	.invariants = lab3_invariants,
	.prepare = lab3_prepare,
	.round = lab3_round,
};
