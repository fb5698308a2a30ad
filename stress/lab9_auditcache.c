/*
 * lab9_auditcache.c: the lab 9 scenario, request threads recording
 * payments per user, with an audit line at the scenario's verbosity.
 *
 * Each thread records `ops` payments per round, each for a user picked at
 * random among `users` and of 1 to `amount_max` cents, and keeps, in its
 * own arrays, how many payments and cents it recorded for each user. The
 * arrays are merged after the threads are joined, so the driver itself
 * shares nothing while they run (the audit log is shared, but it has its
 * own mutex): what every entry must hold is known exactly.
 *
 * `verbosity` is the cache's: 0 never logs, 1 logs every 16th payment a
 * thread records, 2 logs every payment. It is the lab's knob: the more often the
 * threads log, the more often their accesses look ordered to a race
 * detector.
 *
 * Invariants, each a named counter in the trial record:
 *   lost_payments   payments recorded but missing from the counts
 *   extra_payments  payments counted that nobody recorded
 *   lost_cents      cents recorded but missing from the totals
 *   extra_cents     cents in the totals that nobody recorded
 *   wrong_users     users whose entry is not exactly what was recorded
 *   wrong_log       the log does not hold exactly the lines the threads
 *                   wrote (none, one per 16 payments, or one per payment):
 *                   the log is mutex-guarded, so this stays 0 even in the
 *                   broken build
 */
#include <stdio.h>
#include <stdlib.h>

#include "auditcache.h"
#include "auditlog.h"
#include "rng.h"
#include "stress.h"

struct lab9_params {
	long users, amount_max, verbosity, log_lines;
};

static const char *const lab9_keys[] = { "users", "amount_max", "verbosity", "log_lines", NULL };

static const char *const lab9_invariants[] = {
	"lost_payments", "extra_payments", "lost_cents", "extra_cents",
	"wrong_users",	 "wrong_log",	   NULL
};

struct lab9_thread {
	struct auditcache *c;
	const struct lab9_params *p;
	uint64_t rng;
	uint64_t *payments; /* per user: the payments this thread recorded */
	int64_t *cents;	    /* per user: their cents */
};

static void worker(const struct stress_run *run, int index, void *arg)
{
	(void)index;
	struct lab9_thread *t = arg;
	const struct lab9_params *p = t->p;
	for (long i = 0; i < run->ops; i++) {
		uint64_t r = rng_next(&t->rng);
		int user = (int)(r % (uint64_t)p->users);
		int64_t cents = 1 + (int64_t)((r >> 32) % (uint64_t)p->amount_max);
		auditcache_record(t->c, user, cents);
		t->payments[user]++;
		t->cents[user] += cents;
	}
}

static int lab9_prepare(struct stress_run *run, char *err, size_t errlen)
{
	static struct lab9_params p;
	if (stress_param(run, "users", 64, 1, AUDITCACHE_USERS_MAX, &p.users, err, errlen) ||
	    stress_param(run, "amount_max", 10000, 1, 100000000, &p.amount_max, err, errlen) ||
	    stress_param(run, "verbosity", AUDITCACHE_LOG_ALL, AUDITCACHE_LOG_NONE,
			 AUDITCACHE_LOG_ALL, &p.verbosity, err, errlen) ||
	    stress_param(run, "log_lines", 4096, 1, 1 << 24, &p.log_lines, err, errlen))
		return -1;
	run->lab_state = &p;
	return 0;
}

/* After the threads are gone: every entry holds exactly what was recorded. */
static void check_final(struct auditcache *c, struct auditlog *log, struct lab9_thread *th, int n,
			const struct lab9_params *p, long ops, int round, struct stress_result *r)
{
	for (long u = 0; u < p->users; u++) {
		int64_t want_n = 0, want_c = 0;
		for (int t = 0; t < n; t++) {
			want_n += (int64_t)th[t].payments[u];
			want_c += th[t].cents[u];
		}
		struct auditcache_entry e;
		auditcache_get(c, (int)u, &e);
		int64_t got_n = (int64_t)e.payments;
		if (got_n == want_n && e.cents == want_c)
			continue;
		stress_count(r, "wrong_users", 1,
			     "round %d: user %ld has %lld payments, %lld cents; %lld payments, "
			     "%lld cents were recorded",
			     round, u, (long long)got_n, (long long)e.cents, (long long)want_n,
			     (long long)want_c);
		if (got_n < want_n)
			stress_count(r, "lost_payments", (long)(want_n - got_n), NULL);
		else if (got_n > want_n)
			stress_count(r, "extra_payments", (long)(got_n - want_n), NULL);
		if (e.cents < want_c)
			stress_count(r, "lost_cents", (long)(want_c - e.cents), NULL);
		else if (e.cents > want_c)
			stress_count(r, "extra_cents", (long)(e.cents - want_c), NULL);
	}
	/* The log is right whatever the cache does: each thread writes one line
	 * per payment, one per AUDITCACHE_LOG_EVERY payments, or none. */
	uint64_t per_thread = p->verbosity == AUDITCACHE_LOG_ALL ? (uint64_t)ops
			      : p->verbosity == AUDITCACHE_LOG_SAMPLED
				      ? (uint64_t)ops / AUDITCACHE_LOG_EVERY
				      : 0;
	uint64_t want = per_thread * (uint64_t)n;
	uint64_t got = auditlog_count(log);
	if (got != want)
		stress_count(r, "wrong_log", 1,
			     "round %d: the audit log holds %llu lines, not %llu", round,
			     (unsigned long long)got, (unsigned long long)want);
}

static int lab9_round(struct stress_run *run, int round, struct stress_result *r, char *err,
		      size_t errlen)
{
	const struct lab9_params *p = run->lab_state;
	int n = run->threads;
	struct lab9_thread *th = calloc((size_t)n, sizeof(*th));
	void *args[STRESS_MAX_THREADS];
	struct auditlog *log = auditlog_create((size_t)p->log_lines);
	struct auditcache *c =
		log ? auditcache_create((int)p->users, log, (int)p->verbosity) : NULL;
	if (!th || !c) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (int i = 0; i < n; i++) {
		th[i].c = c;
		th[i].p = p;
		th[i].rng =
			run->seed ^ ((uint64_t)round << 32) ^ ((uint64_t)i * 0x632be59bd9b4e019ULL);
		th[i].payments = calloc((size_t)p->users, sizeof(uint64_t));
		th[i].cents = calloc((size_t)p->users, sizeof(int64_t));
		if (!th[i].payments || !th[i].cents) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		args[i] = &th[i];
	}
	if (stress_threads(run, worker, args, err, errlen) != 0)
		return -1;

	check_final(c, log, th, n, p, run->ops, round, r);
	r->ops_done += run->ops * n;

	auditcache_destroy(c);
	auditlog_destroy(log);
	for (int i = 0; i < n; i++) {
		free(th[i].payments);
		free(th[i].cents);
	}
	free(th);
	return 0;
}

const struct stress_lab stress_lab9 = {
	.id = 9,
	.name = "auditcache",
	.params = lab9_keys,
	.invariants = lab9_invariants,
	.prepare = lab9_prepare,
	.round = lab9_round,
};
