/*
 * lab7_settle.c: the lab 7 scenario, a request thread that hands
 * settlements to the settlement worker one at a time.
 *
 * Thread 0 is the producer, thread 1 the worker (the lab runs exactly two
 * threads). A round makes a new queue and releases both threads together
 * (the driver's barrier). The producer submits `ops` settlements, one at
 * a time: it submits one, then polls settle_taken() until the worker has
 * taken it, and only then submits the next. settle_taken() takes the
 * queue's mutex, so the producer learns that its settlement was taken
 * right after the worker lets go of the mutex, and submits the next one
 * just as the worker comes back for it: while the worker checks whether
 * the queue is empty, or is about to sleep, which is where a wakeup gets
 * lost. Before each submission the producer spins for a random 0 to
 * `jitter` iterations, so that its arrival sweeps across the worker's few
 * instructions from check to wait (measured: the rate barely depends on
 * it; the mutex handoff does the lining up).
 *
 * Nothing can hang. The producer waits for each settlement at most
 * `deadline_ms` (the cutoff); if the worker has not taken it by then, the
 * producer counts it and ends the round. Either way the round ends with
 * settle_close(), which takes the mutex and broadcasts in both builds, so
 * a worker that slept through a lost wakeup is woken and drains the queue.
 * The worker's waits are also bounded, by the round's `round_limit_ms`.
 *
 * The cutoff cannot be a few milliseconds: a correct worker that has been
 * woken still has to be scheduled, and on a loaded machine (2 cores, load
 * 5) that took up to 14 ms; with a 5 ms cutoff the fixed build "missed"
 * it in 10 of 10 trials. The cutoff must be far above any scheduling
 * delay, so that only a worker that was never woken can miss it: 100 ms
 * here. A lost wakeup costs one cutoff, and the round ends there.
 *
 * Invariants, each a named counter in the trial record:
 *   unsettled      a settlement the worker had not taken `deadline_ms`
 *                  after it was submitted: it sat in the queue while the
 *                  worker slept (at most 1 a round: the round ends there)
 *   never_settled  after the close and the join: submitted, never taken,
 *                  because the worker had stopped (settle_take() said
 *                  SETTLE_TIMEOUT before its deadline)
 *   wrong          a settlement taken out of order, twice, or with an
 *                  amount that is not the one submitted
 */
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "rng.h"
#include "settle.h"
#include "stress.h"

struct lab7_params {
	long deadline_ms, jitter, round_limit_ms;
};

static const char *const lab7_keys[] = { "deadline_ms", "jitter", "round_limit_ms", NULL };

static const char *const lab7_invariants[] = { "unsettled", "never_settled", "wrong", NULL };

/* What both threads of a round share: set before they start, read-only. */
struct lab7_round {
	const struct lab7_params *p;
	struct settle_queue *q;
	long ops;		    /* settlements to submit */
	uint64_t first_id;	    /* the round's payments are first_id, first_id+1, ... */
	struct timespec worker_end; /* the worker's last deadline this round */
	uint64_t seed;
};

/* What one thread saw; written only by that thread, read after join. */
struct lab7_thread {
	const struct lab7_round *rd;
	long submitted, settled, wrong;
	uint64_t late_id; /* the settlement that missed its deadline, 0: none */
	long late_k;	  /* its index in the round */
	int refused;	  /* settle_submit() refused it */
	char wrong_first[160];
};

static int64_t cents_of(uint64_t payment_id)
{
	return 1 + (int64_t)((payment_id * 0x9e3779b97f4a7c15ULL) >> 44) % 500000; /* <= $5000 */
}

static struct timespec mono_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts;
}

static struct timespec add_ms(struct timespec t, long ms)
{
	t.tv_sec += ms / 1000;
	t.tv_nsec += (ms % 1000) * 1000000L;
	if (t.tv_nsec >= 1000000000L) {
		t.tv_sec++;
		t.tv_nsec -= 1000000000L;
	}
	return t;
}

static int passed(const struct timespec *now, const struct timespec *t)
{
	return now->tv_sec > t->tv_sec || (now->tv_sec == t->tv_sec && now->tv_nsec >= t->tv_nsec);
}

/* Submits the round's settlements one at a time; stops at the first one
 * the worker does not take before its deadline. */
static void produce(struct lab7_thread *t)
{
	const struct lab7_round *rd = t->rd;
	uint64_t rng = rd->seed;
	for (long k = 0; k < rd->ops; k++) {
		volatile long spin = (long)rng_below(&rng, (uint64_t)rd->p->jitter + 1);
		while (spin > 0)
			spin = spin - 1;
		uint64_t id = rd->first_id + (uint64_t)k;
		if (!settle_submit(rd->q, id, cents_of(id))) {
			t->late_id = id; /* refused: it will not be settled in time either */
			t->late_k = k;
			t->refused = 1;
			return;
		}
		t->submitted++;
		struct timespec due = add_ms(mono_now(), rd->p->deadline_ms), now;
		/* Poll, with a yield now and then so that a worker sharing this
		 * CPU (or Valgrind's one-thread-at-a-time scheduler) runs. */
		for (unsigned n = 1; settle_taken(rd->q) <= (uint64_t)k; n++) {
			now = mono_now();
			if (passed(&now, &due)) {
				t->late_id = id;
				t->late_k = k;
				return;
			}
			if (n % 16 == 0)
				sched_yield();
		}
	}
}

static void worker(struct lab7_thread *t)
{
	const struct lab7_round *rd = t->rd;
	uint64_t want = rd->first_id;
	struct settle_item it;
	/* The worker trusts the API: SETTLE_TIMEOUT means its deadline
	 * passed with nothing queued, so its shift is over. The fixed queue
	 * never says so here (the close comes long before worker_end); the
	 * broken one says so early after a wakeup that found nothing. */
	while (settle_take(rd->q, &rd->worker_end, &it) == SETTLE_TAKEN) {
		if (it.payment_id != want || it.cents != cents_of(it.payment_id)) {
			if (t->wrong++ == 0)
				snprintf(
					t->wrong_first, sizeof(t->wrong_first),
					"took payment %llu (%lld cents) when payment %llu was next",
					(unsigned long long)it.payment_id, (long long)it.cents,
					(unsigned long long)want);
		}
		want = it.payment_id + 1;
		t->settled++;
	}
}

static void lab7_thread_main(const struct stress_run *run, int index, void *arg)
{
	(void)run;
	struct lab7_thread *t = arg;
	if (index == 0) {
		produce(t);
		/* Locked and broadcast in both builds: it wakes a worker that
		 * slept through a lost wakeup, so that the join cannot hang. */
		settle_close(t->rd->q);
	} else {
		worker(t);
	}
}

static int lab7_prepare(struct stress_run *run, char *err, size_t errlen)
{
	static struct lab7_params p;
	if (stress_param(run, "deadline_ms", 100, 1, 60000, &p.deadline_ms, err, errlen) ||
	    stress_param(run, "jitter", 200, 0, 1000000, &p.jitter, err, errlen) ||
	    stress_param(run, "round_limit_ms", 1000, 1, 600000, &p.round_limit_ms, err, errlen))
		return -1;
	if (run->threads != 2) {
		snprintf(err, errlen,
			 "lab 7 runs exactly 2 threads, a producer and the worker (got %d)",
			 run->threads);
		return -1;
	}
	if (p.round_limit_ms <= p.deadline_ms) {
		snprintf(err, errlen,
			 "lab 7: round_limit_ms (%ld) must be more than deadline_ms (%ld)",
			 p.round_limit_ms, p.deadline_ms);
		return -1;
	}
	run->lab_state = &p;
	return 0;
}

static int lab7_round(struct stress_run *run, int round, struct stress_result *r, char *err,
		      size_t errlen)
{
	const struct lab7_params *p = run->lab_state;
	struct lab7_round rd = { .p = p,
				 .ops = run->ops,
				 .first_id = (uint64_t)round * 1000000000ULL + 1,
				 .seed = run->seed * 1000003ULL + (uint64_t)round };
	rd.q = settle_create(16);
	if (!rd.q) {
		snprintf(err, errlen, "cannot make a settlement queue");
		return -1;
	}
	rd.worker_end = add_ms(mono_now(), p->round_limit_ms);
	struct lab7_thread th[2];
	void *args[2] = { &th[0], &th[1] };
	for (int i = 0; i < 2; i++) {
		memset(&th[i], 0, sizeof(th[i]));
		th[i].rd = &rd;
	}
	if (stress_threads(run, lab7_thread_main, args, err, errlen) != 0) {
		settle_destroy(rd.q);
		return -1;
	}
	settle_destroy(rd.q);

	/* After the join: the threads' counters are theirs no longer. */
	const struct lab7_thread *pr = &th[0], *wk = &th[1];
	if (pr->refused)
		stress_count(r, "unsettled", 1,
			     "round %d: payment %llu (settlement %ld of the round) was refused by "
			     "the queue",
			     round, (unsigned long long)pr->late_id, pr->late_k + 1);
	else if (pr->late_id)
		stress_count(r, "unsettled", 1,
			     "round %d: payment %llu (settlement %ld of the round) was not taken "
			     "within %ld ms of its submission",
			     round, (unsigned long long)pr->late_id, pr->late_k + 1,
			     p->deadline_ms);
	if (wk->settled < pr->submitted)
		stress_count(r, "never_settled", pr->submitted - wk->settled,
			     "round %d: %ld of %ld settlements were never taken: the worker had "
			     "stopped",
			     round, pr->submitted - wk->settled, pr->submitted);
	if (wk->wrong)
		stress_count(r, "wrong", wk->wrong, "round %d: %s", round, wk->wrong_first);
	else if (wk->settled > pr->submitted)
		stress_count(r, "wrong", wk->settled - pr->submitted,
			     "round %d: %ld settlements taken, %ld submitted", round, wk->settled,
			     pr->submitted);
	r->ops_done += pr->submitted;
	return 0;
}

const struct stress_lab stress_lab7 = {
	.id = 7,
	.name = "settle",
	.params = lab7_keys,
	.invariants = lab7_invariants,
	.prepare = lab7_prepare,
	.round = lab7_round,
};
