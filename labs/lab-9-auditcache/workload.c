/*
 * workload.c: the lab 9 scenario, request threads recording
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
 * and, only in the contract workload (below):
 *   torn_get        a get returned an entry that never existed: its cents
 *                   are not its payments times the user's one amount
 *   went_backwards  a get returned fewer payments for a user than an
 *                   earlier get by the same reader (a lost update seen
 *                   while it happens)
 *   bad_answer      record() or get() answered against the header: true
 *                   for a user that does not exist or false for one that
 *                   does, *out not zeroed for a missing user, a wrong
 *                   auditcache_users()
 *   wrong_log_lines the audit lines do not number each user's payments
 *                   1, 2, 3, ... once each (a number twice, one past the
 *                   user's count, or, logging every payment, one missing),
 *                   or a line's amount is not the payment's
 *
 * The contract workload. The default workload (every parameter below at
 * 0) is the one the expected detection rates were measured on, and is run
 * exactly as before. The parameters switch on what it does not reach:
 *   readers  R more threads (started by thread 0 when the writers start,
 *            stopped when the last writer is done) that call
 *            auditcache_get() and auditcache_users() while the writers
 *            record, on random users and on users that do not exist, and
 *            check every answer then and there (torn_get, went_backwards,
 *            bad_answer)
 *   fixed    every payment of user u is of the same amount a(u), so that
 *            any entry a reader copies out must have cents = payments x
 *            a(u): an entry torn between two records fails that (needed
 *            by torn_get; without it readers check only went_backwards)
 *   refunds  with fixed: the amount of every odd user is negative (a
 *            refund), so totals go down as well as up
 *   invalid  one record in 16 of each writer is for a user that does not
 *            exist (-1, nusers, INT_MIN, INT_MAX): it must return false
 *            and change and log nothing (bad_answer, and the counts)
 *   logcheck after the round, read every audit line back (the ring is
 *            made large enough for all of them) and check its numbering
 *            and amount (wrong_log_lines)
 * Not checked, because the header does not promise it: the order of one
 * user's lines in the log (a fix that logs after its critical section may
 * write payment 8's line before payment 7's), and whether a line is in
 * the log before or after the entry it describes is updated.
 */
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auditcache.h"
#include "auditlog.h"
#include "rng.h"
#include "stress.h"

struct lab9_params {
	long users, amount_max, verbosity, log_lines;
	long readers, fixed, refunds, invalid, logcheck; /* the contract's; 0: off */
};

static const char *const lab9_keys[] = { "users", "amount_max", "verbosity", "log_lines", "readers",
					 "fixed", "refunds",	"invalid",   "logcheck",  NULL };

static const char *const lab9_invariants[] = {
	"lost_payments", "extra_payments",  "lost_cents", "extra_cents",
	"wrong_users",	 "wrong_log",	    "torn_get",	  "went_backwards",
	"bad_answer",	 "wrong_log_lines", NULL
};

#define LAB9_READERS_MAX 8

/* What the contract's threads share: the writers still recording. */
struct lab9_shared {
	atomic_int writers_left;
	/* Records made so far (relaxed: it orders nothing, so it cannot hide
	 * a race from a detector). A reader makes at most one get per record:
	 * readers that spin on a reader-writer lock would otherwise keep it
	 * read-held and starve the writers, a hang of the harness's making. */
	atomic_long recorded;
};

struct lab9_thread {
	struct auditcache *c;
	const struct lab9_params *p;
	uint64_t rng;
	uint64_t *payments; /* per user: the payments this thread recorded */
	int64_t *cents;	    /* per user: their cents */
	/* The contract's (NULL and 0 in the default workload): */
	struct lab9_shared *shared;
	struct lab9_thread *readers; /* thread 0's: p->readers reader threads */
	uint64_t *last;		     /* a reader's: per user, the payments it last saw */
	struct stress_result seen;   /* a thread's violations, merged after the join */
	long gets;		     /* a reader's: how many gets it made */
};

/* The contract's one amount of every payment of user u (fixed). */
static int64_t fixed_amount(const struct lab9_params *p, long u)
{
	int64_t a = 1 + (int64_t)(((uint64_t)u * 2654435761u) % (uint64_t)p->amount_max);
	return p->refunds && (u & 1) ? -a : a;
}

static const int lab9_bad_users[] = { -1, INT_MIN, INT_MAX };

/* A user that does not exist: one of the above, or nusers itself. */
static int bad_user(const struct lab9_params *p, uint64_t r)
{
	size_t k = (size_t)(r % 4);
	return k == 3 ? (int)p->users : lab9_bad_users[k];
}

/* A reader: gets while the writers record, and checks each answer. */
static void *reader(void *arg)
{
	struct lab9_thread *t = arg;
	const struct lab9_params *p = t->p;
	int more = 1;
	while (more) {
		/* One last sweep after the writers are done, then stop. */
		more = atomic_load(&t->shared->writers_left) > 0;
		for (long k = 0; k < p->users && k < 64; k++) {
			uint64_t r = rng_next(&t->rng);
			long u = (long)(r % (uint64_t)p->users);
			struct auditcache_entry e;
			memset(&e, 0x5a, sizeof(e));
			if (r % 61 == 0) {
				int bad = bad_user(p, r >> 8);
				if (auditcache_get(t->c, bad, &e) || e.payments != 0 ||
				    e.cents != 0)
					stress_count(
						&t->seen, "bad_answer", 1,
						"auditcache_get(%d), a user that does not exist, "
						"returned true or did not zero the entry",
						bad);
				if (auditcache_users(t->c) != (int)p->users)
					stress_count(&t->seen, "bad_answer", 1,
						     "auditcache_users() returned %d, not %ld",
						     auditcache_users(t->c), p->users);
				continue;
			}
			while (t->gets >= atomic_load_explicit(&t->shared->recorded,
							       memory_order_relaxed) &&
			       atomic_load(&t->shared->writers_left) > 0)
				sched_yield();
			t->gets++;
			if (!auditcache_get(t->c, (int)u, &e)) {
				stress_count(
					&t->seen, "bad_answer", 1,
					"auditcache_get(%ld) returned false for a user that exists",
					u);
				continue;
			}
			if (p->fixed && e.cents != (int64_t)e.payments * fixed_amount(p, u))
				stress_count(
					&t->seen, "torn_get", 1,
					"a get of user %ld returned %llu payments and %lld cents "
					"while the threads ran: every payment is %lld cents, so "
					"no record ever left that entry",
					u, (unsigned long long)e.payments, (long long)e.cents,
					(long long)fixed_amount(p, u));
			if (e.payments < t->last[u])
				stress_count(
					&t->seen, "went_backwards", 1,
					"user %ld had %llu payments in one get, then %llu in a "
					"later get by the same reader: recorded payments were "
					"overwritten while the threads ran",
					u, (unsigned long long)t->last[u],
					(unsigned long long)e.payments);
			else
				t->last[u] = e.payments;
		}
	}
	return NULL;
}

/* A writer of the contract workload: the default's records, on the
 * contract's amounts, with records for users that do not exist. */
static void contract_records(const struct stress_run *run, struct lab9_thread *t)
{
	const struct lab9_params *p = t->p;
	for (long i = 0; i < run->ops; i++) {
		uint64_t r = rng_next(&t->rng);
		if (p->invalid && (r >> 40) % 16 == 0) {
			int bad = bad_user(p, r >> 8);
			if (auditcache_record(t->c, bad, 1))
				stress_count(&t->seen, "bad_answer", 1,
					     "auditcache_record(%d, ...), a user that does not "
					     "exist, returned true",
					     bad);
			continue;
		}
		int user = (int)(r % (uint64_t)p->users);
		int64_t cents = p->fixed ? fixed_amount(p, user)
					 : 1 + (int64_t)((r >> 32) % (uint64_t)p->amount_max);
		if (!auditcache_record(t->c, user, cents))
			stress_count(&t->seen, "bad_answer", 1,
				     "auditcache_record(%d, ...) returned false for a user that "
				     "exists",
				     user);
		t->payments[user]++;
		t->cents[user] += cents;
		atomic_fetch_add_explicit(&t->shared->recorded, 1, memory_order_relaxed);
	}
}

static void contract_worker(const struct stress_run *run, struct lab9_thread *t)
{
	const struct lab9_params *p = t->p;
	pthread_t rd[LAB9_READERS_MAX];
	long started = 0;
	for (; t->readers && started < p->readers; started++)
		if (pthread_create(&rd[started], NULL, reader, &t->readers[started]) != 0)
			break;
	if (t->readers && started < p->readers)
		stress_count(&t->seen, "bad_answer", 1, "could not start %ld reader threads",
			     p->readers);
	contract_records(run, t);
	atomic_fetch_sub(&t->shared->writers_left, 1);
	for (long i = 0; i < started; i++)
		pthread_join(rd[i], NULL);
}

static void worker(const struct stress_run *run, int index, void *arg)
{
	(void)index;
	struct lab9_thread *t = arg;
	const struct lab9_params *p = t->p;
	if (t->shared) {
		contract_worker(run, t);
		return;
	}
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
	    stress_param(run, "log_lines", 4096, 1, 1 << 24, &p.log_lines, err, errlen) ||
	    stress_param(run, "readers", 0, 0, LAB9_READERS_MAX, &p.readers, err, errlen) ||
	    stress_param(run, "fixed", 0, 0, 1, &p.fixed, err, errlen) ||
	    stress_param(run, "refunds", 0, 0, 1, &p.refunds, err, errlen) ||
	    stress_param(run, "invalid", 0, 0, 1, &p.invalid, err, errlen) ||
	    stress_param(run, "logcheck", 0, 0, 1, &p.logcheck, err, errlen))
		return -1;
	if (p.refunds && !p.fixed) {
		snprintf(err, errlen, "lab 9: refunds needs fixed = 1");
		return -1;
	}
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
	 * per payment, one per AUDITCACHE_LOG_EVERY payments, or none. A thread
	 * records `ops` payments, fewer in the contract workload (invalid). */
	uint64_t want = 0;
	for (int t = 0; t < n; t++) {
		uint64_t done = (uint64_t)ops;
		if (p->invalid) {
			done = 0;
			for (long u = 0; u < p->users; u++)
				done += th[t].payments[u];
		}
		want += p->verbosity == AUDITCACHE_LOG_ALL	 ? done
			: p->verbosity == AUDITCACHE_LOG_SAMPLED ? done / AUDITCACHE_LOG_EVERY
								 : 0;
	}
	uint64_t got = auditlog_count(log);
	if (got != want)
		stress_count(r, "wrong_log", 1,
			     "round %d: the audit log holds %llu lines, not %llu", round,
			     (unsigned long long)got, (unsigned long long)want);
}

/* The contract's logcheck: every audit line, read back after the round,
 * names a payment number of its user in 1 .. the user's count, no number
 * twice, every number when every payment is logged, and (fixed) the
 * user's amount. */
/* Reads "user %d: payment %llu, %lld cents" (sscanf took most of a
 * contract trial's time on 400,000 lines). Returns 0 when buf is not one. */
static int parse_line(const char *buf, int *user, unsigned long long *num, long long *cents)
{
	char *end;
	if (strncmp(buf, "user ", 5) != 0)
		return 0;
	long u = strtol(buf + 5, &end, 10);
	if (end == buf + 5 || strncmp(end, ": payment ", 10) != 0 || u < INT_MIN || u > INT_MAX)
		return 0;
	const char *q = end + 10;
	*num = strtoull(q, &end, 10);
	if (end == q || strncmp(end, ", ", 2) != 0)
		return 0;
	q = end + 2;
	*cents = strtoll(q, &end, 10);
	if (end == q || strcmp(end, " cents") != 0)
		return 0;
	*user = (int)u;
	return 1;
}

static void check_log_lines(struct auditlog *log, struct lab9_thread *th, int n,
			    const struct lab9_params *p, int round, struct stress_result *r)
{
	uint64_t lines = auditlog_count(log);
	if (lines > (uint64_t)p->log_lines)
		lines = 0; /* the ring wrapped: the count check already failed */
	uint64_t *want = calloc((size_t)p->users, sizeof(*want));
	unsigned char **seen = calloc((size_t)p->users, sizeof(*seen));
	if (!want || !seen)
		goto out;
	for (long u = 0; u < p->users; u++) {
		for (int t = 0; t < n; t++)
			want[u] += th[t].payments[u];
		seen[u] = calloc((size_t)want[u] + 1, 1);
		if (!seen[u])
			goto out;
	}
	for (uint64_t i = 0; i < lines; i++) {
		char buf[AUDITLOG_LINE_MAX];
		int user;
		unsigned long long num;
		long long cents;
		if (!auditlog_line(log, i, buf, sizeof(buf)) ||
		    !parse_line(buf, &user, &num, &cents) || user < 0 || user >= p->users) {
			stress_count(r, "wrong_log_lines", 1, "round %d: audit line %llu is \"%s\"",
				     round, (unsigned long long)i, buf);
			continue;
		}
		if (num < 1 || num > want[user] || seen[user][num]) {
			stress_count(r, "wrong_log_lines", 1,
				     "round %d: audit line \"%s\" names a payment that is %s (the "
				     "user has %llu payments)",
				     round, buf,
				     num < 1 || num > want[user] ? "not the user's" : "named twice",
				     (unsigned long long)want[user]);
			continue;
		}
		seen[user][num] = 1;
		if (p->fixed && cents != fixed_amount(p, user))
			stress_count(r, "wrong_log_lines", 1,
				     "round %d: audit line \"%s\": every payment of that user is "
				     "%lld cents",
				     round, buf, (long long)fixed_amount(p, user));
	}
	if (p->verbosity == AUDITCACHE_LOG_ALL && lines)
		for (long u = 0; u < p->users; u++)
			for (uint64_t k = 1; k <= want[u]; k++)
				if (!seen[u][k])
					stress_count(
						r, "wrong_log_lines", 1,
						"round %d: no audit line names payment %llu of "
						"user %ld, though every payment is logged",
						round, (unsigned long long)k, u);
out:
	for (long u = 0; seen && u < p->users; u++)
		free(seen[u]);
	free(seen);
	free(want);
}

static int lab9_round(struct stress_run *run, int round, struct stress_result *r, char *err,
		      size_t errlen)
{
	const struct lab9_params *p = run->lab_state;
	int n = run->threads;
	int contract = p->readers || p->fixed || p->invalid || p->logcheck;
	/* The writers, then (contract) the readers. */
	int all = n + (contract ? (int)p->readers : 0);
	struct lab9_thread *th = calloc((size_t)all, sizeof(*th));
	void *args[STRESS_MAX_THREADS];
	struct lab9_shared shared;
	atomic_init(&shared.writers_left, n);
	atomic_init(&shared.recorded, 0);
	/* The contract's logcheck reads every line back: none may be overwritten. */
	long log_lines = p->log_lines;
	if (p->logcheck && log_lines < run->ops * n)
		log_lines = run->ops * n;
	struct auditlog *log = auditlog_create((size_t)log_lines);
	struct auditcache *c =
		log ? auditcache_create((int)p->users, log, (int)p->verbosity) : NULL;
	if (!th || !c) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (int i = 0; i < all; i++) {
		th[i].c = c;
		th[i].p = p;
		if (contract) {
			th[i].shared = &shared;
			th[i].last = calloc((size_t)p->users, sizeof(uint64_t));
			if (!th[i].last) {
				snprintf(err, errlen, "out of memory");
				return -1;
			}
		}
		th[i].rng = rng_thread_seed(run->seed, round, i);
		th[i].payments = calloc((size_t)p->users, sizeof(uint64_t));
		th[i].cents = calloc((size_t)p->users, sizeof(int64_t));
		if (!th[i].payments || !th[i].cents) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		if (i < n)
			args[i] = &th[i];
	}
	if (contract && p->readers)
		th[0].readers = &th[n];
	if (stress_threads(run, worker, args, err, errlen) != 0)
		return -1;

	for (int i = 0; contract && i < all; i++)
		for (int k = 0; k < th[i].seen.ninv; k++)
			stress_count(r, th[i].seen.inv_name[k], th[i].seen.inv[k], "round %d: %s",
				     round, th[i].seen.first);
	check_final(c, log, th, n, p, run->ops, round, r);
	if (p->logcheck) {
		struct lab9_params q = *p;
		q.log_lines = log_lines;
		check_log_lines(log, th, n, &q, round, r);
	}
	r->ops_done += run->ops * n;

	auditcache_destroy(c);
	auditlog_destroy(log);
	for (int i = 0; i < all; i++) {
		free(th[i].payments);
		free(th[i].cents);
		free(th[i].last);
	}
	free(th);
	return 0;
}

const struct stress_lab stress_lab9 = {
	.params = lab9_keys,
	.invariants = lab9_invariants,
	.prepare = lab9_prepare,
	.round = lab9_round,
};
