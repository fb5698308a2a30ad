/*
 * workload.c: the lab 8 scenario, computing threads handing payment
 * responses to sending threads through publish slots.
 *
 * The threads work in pairs: thread 2p computes, thread 2p+1 sends. A
 * round resets every slot (the flag only: each payload still holds the
 * previous round's response, as a reused buffer does) and releases the
 * threads together. The computing thread publishes `ops` responses, one
 * per slot, in order; the sending thread takes them in the same order,
 * polling each slot until its flag is set, so it is always waiting right
 * behind the computing thread: each slot is a fresh chance to see the flag
 * before the payload. Every response is a function of its round and its
 * slot, so the sender knows exactly what it must find.
 *
 * Invariants, each a named counter in the trial record:
 *   stale_payload  the sender saw the flag set but the payload was not the
 *                  response published with it (the previous round's, or
 *                  a mix of the two)
 *   out_touched    (contract workload) publish_get() returned false but
 *                  wrote into *out, which the API says it leaves alone
 *   reread_differs (contract workload) a second publish_get() of a
 *                  published slot, right after the first, returned false
 *                  or another response: one response per slot between
 *                  resets, and reading it does not consume it
 *
 * The contract workload (lab param `canary`, 0 = off; the default above
 * is unchanged): before every poll the sender fills its copy with a canary
 * pattern and checks, on false, that the pattern is intact, and on true
 * reads the slot a second time and compares. The sender keeps polling
 * right behind the computing thread, so every check runs while the
 * payload is being written.
 *
 * What is not checked: that a sender never sees a payload older than the
 * flag on a weakly ordered CPU. On x86 with gcc and clang a relaxed flag
 * shows no stale payload (see the handout), so only the detectors (and
 * the chaos build) can judge the ordering there; a stricter check from
 * outside the API would be a guess.
 */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "publish.h"
#include "stress.h"

struct lab8_params {
	long yield_after;
	long canary;		    /* the contract workload: 0 = off */
	long nslots;		    /* per pair */
	struct publish_slot **slot; /* made once, reset every round */
};

static const char *const lab8_keys[] = { "yield_after", "canary", NULL };

static const char *const lab8_invariants[] = { "stale_payload", "out_touched", "reread_differs",
					       NULL };

struct lab8_thread {
	const struct lab8_params *p;
	int round;
	long first;		   /* this pair's first slot */
	struct stress_result seen; /* violations seen while running */
};

/* The response for slot g in round r: different in every round and every
 * slot, so a stale or mixed payload cannot pass for the right one. */
static void response_of(struct publish_response *resp, int round, long g)
{
	memset(resp, 0, sizeof(*resp));
	snprintf(resp->user_id, sizeof(resp->user_id), "user-%ld",
		 (g * 7919 + (long)round) % 1000003);
	resp->request_id = ((uint64_t)(round + 1) << 32) | (uint64_t)(g + 1);
	resp->amount_cents = 1 + (int64_t)((hash_str(resp->user_id) ^
					    (resp->request_id * 0x9e3779b97f4a7c15ULL)) %
					   1000000);
}

static void computer(struct lab8_thread *t)
{
	struct publish_response resp;
	for (long k = 0; k < t->p->nslots; k++) {
		response_of(&resp, t->round, t->first + k);
		publish_put(t->p->slot[t->first + k], &resp);
	}
}

static void sender(struct lab8_thread *t)
{
	struct publish_response got, want;
	for (long k = 0; k < t->p->nslots; k++) {
		long g = t->first + k;
		/* Poll as a sender does. Yielding now and then lets a computing
		 * thread that shares this CPU (or Valgrind's one-at-a-time
		 * scheduler) run instead of this loop. */
		for (long polls = 1; !publish_get(t->p->slot[g], &got); polls++)
			if (t->p->yield_after && polls % t->p->yield_after == 0)
				sched_yield();
		response_of(&want, t->round, g);
		if (memcmp(&got, &want, sizeof(got)) != 0)
			stress_count(&t->seen, "stale_payload", 1,
				     "slot %ld: flag set, payload is request %#llx for %.*s (%lld "
				     "cents), not request %#llx for %s",
				     g, (unsigned long long)got.request_id, PUBLISH_USER_ID_MAX - 1,
				     got.user_id, (long long)got.amount_cents,
				     (unsigned long long)want.request_id, want.user_id);
	}
}

/* The sender of the contract workload (canary): the same polls, with
 * the API's promises about *out checked at every one. */
static void sender_canary(struct lab8_thread *t)
{
	struct publish_response got, again, want, pattern;
	memset(&pattern, 0xa5, sizeof(pattern));
	for (long k = 0; k < t->p->nslots; k++) {
		long g = t->first + k;
		for (long polls = 1;; polls++) {
			got = pattern;
			if (publish_get(t->p->slot[g], &got))
				break;
			if (memcmp(&got, &pattern, sizeof(got)) != 0)
				stress_count(
					&t->seen, "out_touched", 1,
					"slot %ld: publish_get() returned false and wrote into "
					"*out",
					g);
			if (t->p->yield_after && polls % t->p->yield_after == 0)
				sched_yield();
		}
		response_of(&want, t->round, g);
		if (memcmp(&got, &want, sizeof(got)) != 0)
			stress_count(&t->seen, "stale_payload", 1,
				     "slot %ld: flag set, payload is request %#llx for %.*s (%lld "
				     "cents), not request %#llx for %s",
				     g, (unsigned long long)got.request_id, PUBLISH_USER_ID_MAX - 1,
				     got.user_id, (long long)got.amount_cents,
				     (unsigned long long)want.request_id, want.user_id);
		again = pattern;
		if (!publish_get(t->p->slot[g], &again) || memcmp(&again, &got, sizeof(got)) != 0)
			stress_count(&t->seen, "reread_differs", 1,
				     "slot %ld: a second publish_get() did not return the response "
				     "the first one did",
				     g);
	}
}

static void worker(const struct stress_run *run, int index, void *arg)
{
	(void)run;
	struct lab8_thread *t = arg;
	if (index % 2 == 0)
		computer(t);
	else if (t->p->canary)
		sender_canary(t);
	else
		sender(t);
}

static int lab8_prepare(struct stress_run *run, char *err, size_t errlen)
{
	static struct lab8_params p;
	if (stress_param(run, "yield_after", 256, 0, 1000000000L, &p.yield_after, err, errlen) ||
	    stress_param(run, "canary", 0, 0, 1, &p.canary, err, errlen))
		return -1;
	if (run->threads < 2 || run->threads % 2 != 0) {
		snprintf(err, errlen,
			 "lab 8: threads must be even (a computing and a sending thread per pair)");
		return -1;
	}
	/* ops is the number of responses per pair per round; a slot is 64
	 * bytes of heap, so the bound keeps a round within a few hundred MB. */
	if (run->ops > 2000000) {
		snprintf(err, errlen,
			 "lab 8: ops (responses per pair per round) must be at most "
			 "2000000");
		return -1;
	}
	p.nslots = run->ops;
	long total = p.nslots * (run->threads / 2);
	p.slot = calloc((size_t)total, sizeof(p.slot[0]));
	if (!p.slot) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (long g = 0; g < total; g++) {
		p.slot[g] = publish_slot_create();
		if (!p.slot[g]) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
	}
	run->lab_state = &p;
	return 0;
}

static int lab8_round(struct stress_run *run, int round, struct stress_result *r, char *err,
		      size_t errlen)
{
	const struct lab8_params *p = run->lab_state;
	int n = run->threads;
	struct lab8_thread th[STRESS_MAX_THREADS];
	void *args[STRESS_MAX_THREADS];
	/* No thread runs between rounds: the resets need no ordering of
	 * their own (thread creation and join order them). */
	for (long g = 0; g < p->nslots * (n / 2); g++)
		publish_slot_reset(p->slot[g]);
	for (int i = 0; i < n; i++) {
		memset(&th[i], 0, sizeof(th[i]));
		th[i].p = p;
		th[i].round = round;
		th[i].first = (i / 2) * p->nslots;
		args[i] = &th[i];
	}
	if (stress_threads(run, worker, args, err, errlen) != 0)
		return -1;

	/* After the join: the threads' counters are theirs no longer. */
	for (int i = 0; i < n; i++)
		for (int j = 0; j < th[i].seen.ninv; j++)
			stress_count(r, th[i].seen.inv_name[j], th[i].seen.inv[j], "round %d: %s",
				     round, th[i].seen.first);
	r->ops_done += p->nslots * (n / 2);
	return 0;
}

const struct stress_lab stress_lab8 = {
	.params = lab8_keys,
	.invariants = lab8_invariants,
	.prepare = lab8_prepare,
	.round = lab8_round,
};
