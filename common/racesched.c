/*
 * racesched.c: the controlled scheduler of the sched flavour (-DRACELAB_SCHED).
 *
 * The threads of a round (the driver's workers, and every thread they
 * create) are managed: they run one at a time. A managed thread runs until
 * it reaches a scheduling point: a race point (racepoint_sched), a spin
 * pause, or one of the pthread calls the link wraps (-Wl,--wrap, so that
 * broken/ and fixed/ compile unchanged: the Makefile's SCHED_WRAP lists
 * them). There the scheduler picks which managed thread runs next, one
 * step: the trace is the list of the threads picked, one letter a step.
 * The point comes before the call: the picked thread then performs the
 * call it was stopped at, and runs on to its next point.
 *
 * The scheduler models the locks, so it knows who would block: a thread
 * is enabled unless it waits for a mutex or rwlock another managed thread
 * holds, a condition not yet signalled, a barrier not yet full, a thread
 * not yet finished, or a time not yet come. It never picks a thread that
 * is not enabled. The real mutex is still taken after the model grants
 * it (never contended then), so an unmanaged thread sees it as usual.
 * When no managed thread is enabled and none waits for a time, that is a
 * deadlock: reported, with the stacks, never a hang.
 *
 * A C11 atomic operation is not a point: it runs inside one step, in
 * program order, on one thread at a time. So a race between atomics (lab
 * 8's publication, lab 10's store buffer) cannot show here: it needs the
 * hardware to reorder, and this flavour runs every step sequentially
 * consistent.
 *
 * Time. Managed threads read a virtual clock (clock_gettime is wrapped);
 * it moves only when the scheduler moves it:
 *   - when no managed thread is enabled and some wait for a time (a sleep,
 *     a timed wait), it jumps to the earliest of those times;
 *   - when the thread reading it is the only enabled one (it is polling
 *     the clock, and nothing else can run), it advances 1 us per read.
 * A thread that could run but is not picked holds the clock still, so no
 * schedule can make a deadline pass by starving a thread (lab 7's
 * "unsettled"): only a thread that cannot run at all lets time pass.
 * Timed waits and sleeps never sleep for real. Each trial's clock starts
 * at the same value, so a trial's run does not depend on the real time.
 *
 * Replay is exact because every choice depends only on the seed, the
 * trace, and the managed threads' own steps: threads are lettered in
 * creation order, condition waiters wake in the order they waited, the
 * lock table is looked up by address but never iterated to decide. The
 * unmanaged threads (the driver's main thread, blocked in pthread_join
 * while a round runs, and the watchdog) share nothing with the workers.
 *
 * The scheduler's own state needs no lock: only the running managed
 * thread touches it (or the driver before sched_round_go() and after the
 * joins), and a handover is a semaphore post and wait, which orders it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "racepoint.h"
#include "rng.h"
#include "racesched.h"

#ifdef RACELAB_SCHED

int __real_pthread_mutex_lock(pthread_mutex_t *m);
int __real_pthread_mutex_unlock(pthread_mutex_t *m);
int __real_pthread_rwlock_rdlock(pthread_rwlock_t *l);
int __real_pthread_rwlock_wrlock(pthread_rwlock_t *l);
int __real_pthread_rwlock_unlock(pthread_rwlock_t *l);
int __real_pthread_cond_init(pthread_cond_t *c, const pthread_condattr_t *a);
int __real_pthread_cond_wait(pthread_cond_t *c, pthread_mutex_t *m);
int __real_pthread_cond_timedwait(pthread_cond_t *c, pthread_mutex_t *m, const struct timespec *t);
int __real_pthread_cond_signal(pthread_cond_t *c);
int __real_pthread_cond_broadcast(pthread_cond_t *c);
int __real_pthread_barrier_init(pthread_barrier_t *b, const pthread_barrierattr_t *a, unsigned n);
int __real_pthread_barrier_wait(pthread_barrier_t *b);
int __real_pthread_create(pthread_t *t, const pthread_attr_t *a, void *(*fn)(void *), void *arg);
int __real_pthread_join(pthread_t t, void **ret);
int __real_sched_yield(void);
int __real_nanosleep(const struct timespec *req, struct timespec *rem);
int __real_clock_gettime(clockid_t id, struct timespec *ts);

#define MAX_THREADS 52
#define NOBODY	    (-1)
#define US	    1000LL
#define SEC	    1000000000LL
/* The virtual clock of a trial starts here (CLOCK_MONOTONIC); the
 * realtime clock reads the same plus REALTIME_OFFSET. */
#define CLOCK_START	(1000 * SEC)
#define REALTIME_OFFSET (1700000000LL * SEC)

enum wait {
	RUN,	 /* enabled */
	LOCK,	 /* enabled when obj (a mutex) is free */
	RDLOCK,	 /* enabled when obj (an rwlock) has no writer */
	WRLOCK,	 /* enabled when obj has no writer and no reader */
	COND,	 /* waits on obj until signalled (or until `until`) */
	BARRIER, /* enabled when obj's generation moved past `gen` */
	JOIN,	 /* enabled when thread `target` finished */
	SLEEP,	 /* enabled at `until` */
	DONE,	 /* finished */
};

struct sthread {
	enum wait wait;
	struct lockobj *obj, *mutex; /* COND: the condition and its mutex */
	long long until;	     /* COND (timed) and SLEEP: virtual ns; 0: none */
	long seq;		     /* COND: when it began waiting (FIFO wakeups) */
	unsigned gen;		     /* BARRIER */
	int target;		     /* JOIN */
	int timed_out;		     /* a timed wait ended by the clock */
	long long prio;		     /* pct */
	pthread_t pt;
	void *(*fn)(void *);
	void *arg;
	sem_t go;
};

/* The model of one mutex, rwlock, condition or barrier, by address. */
struct lockobj {
	const void *addr;
	int owner;		      /* mutex: the holder; rwlock: the writer */
	int readers;		      /* rwlock */
	int realtime;		      /* condition: its clock is CLOCK_REALTIME */
	unsigned count, arrived, gen; /* barrier */
};

#define TABLE 16384 /* a power of two */

enum strategy { RANDOM, PCT, REPLAY, PREFIX };

static struct {
	/* configuration, for the whole run */
	enum strategy strategy;
	int depth;
	long pct_steps;
	char *want; /* replay/prefix: the decoded trace, rounds as '/' */
	size_t nwant;
	FILE *log;
	void (*deadlock)(const char *why);
	char name[32];
	/* the trial */
	uint64_t rng;
	long steps;
	long long now;	 /* virtual ns */
	long change[16]; /* pct: the steps where the running thread drops */
	int nchange;
	char *trace;
	size_t tlen, tcap;
	char last; /* the letter of the open run in trace, 0: none */
	long lastn;
	size_t wpos; /* replay/prefix: where in want */
	int round;   /* 1-based */
	long trial_no;
	uint64_t seed;
	/* the round */
	int armed; /* workers the driver will still create */
	int n;
	int running; /* the thread picked last */
	long seq;
	struct sthread t[MAX_THREADS];
	struct lockobj table[TABLE];
} S;

static _Thread_local int self = NOBODY; /* this thread's index, if managed */

static void fail(const char *fmt, const char *a, long b)
{
	fprintf(stderr, "racelab-stress: ");
	fprintf(stderr, fmt, a, b);
	fputc('\n', stderr);
	exit(2);
}

static char letter(int i)
{
	return (char)(i < 26 ? 'A' + i : 'a' + i - 26);
}

static int index_of(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	return NOBODY;
}

static struct lockobj *obj(const void *addr)
{
	size_t h = ((uintptr_t)addr >> 3) * 0x9e3779b97f4a7c15ULL >> 50;
	for (size_t i = 0; i < TABLE; i++) {
		struct lockobj *o = &S.table[(h + i) & (TABLE - 1)];
		if (o->addr == addr)
			return o;
		if (!o->addr) {
			/* a condition's clock is CLOCK_REALTIME unless its
			 * pthread_cond_init() said otherwise */
			*o = (struct lockobj){ .addr = addr, .owner = NOBODY, .realtime = 1 };
			return o;
		}
	}
	fail("%s: more than %ld locks", "sched", TABLE);
	return NULL;
}

/* --- the trace ----------------------------------------------------------- */

static void trace_put(const char *s)
{
	size_t k = strlen(s);
	if (S.tlen + k + 1 > S.tcap) {
		S.tcap = (S.tlen + k + 1) * 2;
		S.trace = realloc(S.trace, S.tcap);
		if (!S.trace)
			fail("%s: out of memory (%ld)", "sched", 0);
	}
	memcpy(S.trace + S.tlen, s, k + 1);
	S.tlen += k;
}

/* Closes the open run: its letter, then its count when above 1. */
static void trace_flush(void)
{
	if (!S.last)
		return;
	char buf[32];
	if (S.lastn > 1)
		snprintf(buf, sizeof(buf), "%c%ld", S.last, S.lastn);
	else
		snprintf(buf, sizeof(buf), "%c", S.last);
	trace_put(buf);
	S.last = 0;
	S.lastn = 0;
}

static void trace_step(char c)
{
	if (c != S.last)
		trace_flush();
	S.last = c;
	S.lastn++;
}

/* A trace as written (A3B2/AB) into one letter a step (AAABB/AB). */
static char *decode(const char *s, size_t *len)
{
	size_t cap = 64, n = 0;
	char *out = malloc(cap);
	while (out && *s) {
		char c = *s++;
		if (c == ' ' || c == '\n' || c == '\t' || c == '\r')
			continue;
		if (c != '/' && index_of(c) == NOBODY)
			return free(out), NULL;
		long k = 1;
		if (c != '/' && *s >= '0' && *s <= '9') {
			char *end;
			k = strtol(s, &end, 10);
			if (k < 1 || k > 100000000L)
				return free(out), NULL;
			s = end;
		}
		while (k-- > 0) {
			if (n + 2 > cap && !(out = realloc(out, cap *= 2)))
				return NULL;
			out[n++] = c;
		}
	}
	if (out)
		out[n] = '\0';
	*len = n;
	return out;
}

/* --- configuration ------------------------------------------------------- */

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap);
	size_t got;
	while (buf && (got = fread(buf + n, 1, cap - n - 1, f)) > 0) {
		n += got;
		if (n + 1 == cap && !(buf = realloc(buf, cap *= 2)))
			break;
	}
	fclose(f);
	if (buf)
		buf[n] = '\0';
	return buf;
}

int sched_configure(const char *strategy, long pct_steps, const char *log_path, char *err,
		    size_t errlen)
{
	S.pct_steps = pct_steps > 0 ? pct_steps : 1000;
	const char *arg = strchr(strategy, ':');
	size_t head = arg ? (size_t)(arg - strategy) : strlen(strategy);
	if (arg)
		arg++;
	if (strcmp(strategy, "random") == 0) {
		S.strategy = RANDOM;
	} else if (head == 3 && strncmp(strategy, "pct", 3) == 0 && arg) {
		char *end;
		long d = strtol(arg, &end, 10);
		if (end == arg || *end || d < 1 || d > 16) {
			snprintf(err, errlen, "--sched pct:D: D must be from 1 to 16 (got '%s')",
				 arg);
			return -1;
		}
		S.strategy = PCT;
		S.depth = (int)d;
	} else if (arg && ((head == 6 && strncmp(strategy, "replay", 6) == 0) ||
			   (head == 6 && strncmp(strategy, "prefix", 6) == 0))) {
		S.strategy = strategy[0] == 'r' ? REPLAY : PREFIX;
		char *text = arg[0] == '@' ? read_file(arg + 1) : strdup(arg);
		if (!text) {
			snprintf(err, errlen, "--sched %.6s: cannot read the trace file '%s'",
				 strategy, arg + 1);
			return -1;
		}
		S.want = decode(text, &S.nwant);
		free(text);
		if (!S.want) {
			snprintf(err, errlen,
				 "--sched %.6s: a trace is letters A-Z a-z, each with an optional "
				 "count, rounds separated by '/' (e.g. A3B2A)",
				 strategy);
			return -1;
		}
	} else {
		snprintf(err, errlen,
			 "--sched: unknown strategy '%s' (random, pct:D, replay:TRACE, "
			 "prefix:TRACE)",
			 strategy);
		return -1;
	}
	snprintf(S.name, sizeof(S.name), "%s",
		 S.strategy == REPLAY	? "replay"
		 : S.strategy == PREFIX ? "prefix"
					: strategy);
	if (log_path && !(S.log = fopen(log_path, "w"))) {
		snprintf(err, errlen, "--sched-log: cannot write '%s': %s", log_path,
			 strerror(errno));
		return -1;
	}
	/* A line at a time: a trial that crashes (lab 1's broken map) keeps
	 * its log up to the crash, the steps that led to it. */
	if (S.log)
		setvbuf(S.log, NULL, _IOLBF, 0);
	return 0;
}

const char *sched_strategy(void)
{
	return S.name[0] ? S.name : "random";
}

long sched_steps(void)
{
	return S.steps;
}

/* The trace so far, with its open run. The watchdog reads it too, from
 * its own thread, while a hung managed thread may still be stepping: so
 * this only reads, and that one record of a hang may miss its last steps. */
const char *sched_trace(void)
{
	static char *out;
	free(out);
	size_t len = S.tlen;
	out = malloc(len + 32);
	if (!out)
		return "";
	memcpy(out, S.trace ? S.trace : "", len);
	out[len] = '\0';
	if (S.last && S.lastn > 1)
		snprintf(out + len, 32, "%c%ld", S.last, S.lastn);
	else if (S.last)
		snprintf(out + len, 32, "%c", S.last);
	return out;
}

void sched_on_deadlock(void (*fn)(const char *why))
{
	S.deadlock = fn;
}

void sched_trial_begin(uint64_t seed)
{
	if (!S.name[0])
		snprintf(S.name, sizeof(S.name), "random");
	S.trial_no++;
	S.seed = seed;
	/* Mixed once, so that the streams of seeds S and S+1 are unrelated
	 * (splitmix64 states one increment apart give shifted streams). */
	uint64_t x = seed ^ 0x5c4ed5c4ed5c4ed5ULL;
	S.rng = rng_next(&x);
	S.steps = 0;
	S.now = CLOCK_START;
	S.tlen = 0;
	if (S.trace)
		S.trace[0] = '\0';
	S.last = 0;
	S.lastn = 0;
	S.wpos = 0;
	S.round = 0;
	/* PCT: depth-1 change points, uniform over the estimated steps. */
	S.nchange = S.strategy == PCT ? S.depth - 1 : 0;
	for (int i = 0; i < S.nchange; i++)
		S.change[i] = (long)rng_below(&S.rng, (uint64_t)S.pct_steps);
	if (S.log)
		fprintf(S.log, "# racelab sched-log trial=%ld seed=%llu strategy=%s\n", S.trial_no,
			(unsigned long long)seed, sched_strategy());
}

/* --- enabled threads ----------------------------------------------------- */

static int enabled(int i)
{
	struct sthread *t = &S.t[i];
	switch (t->wait) {
	case RUN: return 1;
	case LOCK: return t->obj->owner == NOBODY;
	case RDLOCK: return t->obj->owner == NOBODY;
	case WRLOCK: return t->obj->owner == NOBODY && t->obj->readers == 0;
	case BARRIER: return t->obj->gen != t->gen;
	case JOIN: return S.t[t->target].wait == DONE;
	case COND:
	case SLEEP:
	case DONE: return 0;
	}
	return 0;
}

/* No thread can run: move the clock to the earliest time a thread waits
 * for, and end those waits. Returns 0 when no thread waits for a time. */
static int advance_clock(void)
{
	long long next = 0;
	for (int i = 0; i < S.n; i++) {
		struct sthread *t = &S.t[i];
		if ((t->wait == COND || t->wait == SLEEP) && t->until && (!next || t->until < next))
			next = t->until;
	}
	if (!next)
		return 0;
	if (next > S.now)
		S.now = next;
	for (int i = 0; i < S.n; i++) {
		struct sthread *t = &S.t[i];
		if (t->until && t->until <= S.now && (t->wait == COND || t->wait == SLEEP)) {
			t->timed_out = t->wait == COND;
			t->wait = t->wait == COND ? LOCK : RUN;
			t->obj = t->mutex;
			t->until = 0;
		}
	}
	return 1;
}

static void deadlock(void)
{
	char why[256];
	size_t u = (size_t)snprintf(why, sizeof(why), "deadlock at step %ld:", S.steps);
	static const char *const words[] = { "runs",
					     "waits for a mutex",
					     "waits for a read lock",
					     "waits for a write lock",
					     "waits on a condition",
					     "waits at a barrier",
					     "joins",
					     "sleeps",
					     "finished" };
	for (int i = 0; i < S.n && u < sizeof(why) - 40; i++)
		if (S.t[i].wait != DONE)
			u += (size_t)snprintf(why + u, sizeof(why) - u, " %c %s;", letter(i),
					      words[S.t[i].wait]);
	trace_flush();
	if (S.deadlock)
		S.deadlock(why);
	fprintf(stderr, "racelab-stress: %s\n", why);
	_exit(3);
}

/* --- the choice ---------------------------------------------------------- */

static int pick_random(const int *en, int k)
{
	return en[rng_below(&S.rng, (uint64_t)k)];
}

static int pick_pct(const int *en, int k)
{
	int best = en[0];
	for (int j = 1; j < k; j++)
		if (S.t[en[j]].prio > S.t[best].prio)
			best = en[j];
	return best;
}

/* No preemption: the running thread while it can run, unless it yields;
 * then the next enabled thread after it, in letter order. */
static int pick_nonpreemptive(const int *en, int k, int by, int yield)
{
	if (by != NOBODY && !yield)
		for (int j = 0; j < k; j++)
			if (en[j] == by)
				return by;
	if (by != NOBODY)
		for (int j = 0; j < k; j++)
			if (en[j] > by)
				return en[j];
	return en[0];
}

static int pick_trace(const int *en, int k, int by, int yield)
{
	if (S.wpos < S.nwant && S.want[S.wpos] != '/') {
		int want = index_of(S.want[S.wpos++]);
		for (int j = 0; j < k; j++)
			if (en[j] == want)
				return want;
		char names[MAX_THREADS + 1];
		for (int j = 0; j < k; j++)
			names[j] = letter(en[j]);
		names[k] = '\0';
		fprintf(stderr,
			"racelab-stress: replay diverged at step %ld (round %d): trace says %c, "
			"enabled %s\n",
			S.steps, S.round, S.want[S.wpos - 1], names);
		exit(2);
	}
	if (S.strategy == REPLAY) {
		fprintf(stderr,
			"racelab-stress: replay diverged at step %ld (round %d): trace ended\n",
			S.steps, S.round);
		exit(2);
	}
	return pick_nonpreemptive(en, k, by, yield);
}

/* A scheduling point: `by` (NOBODY: the driver) reached `point`; picks the
 * next thread, records the step, and hands over. Returns once `by` is
 * picked again (at once if it was picked now), or at once when `by`
 * finished or is the driver. */
static void decide(int by, const char *point, int yield)
{
	int en[MAX_THREADS], k;
	for (;;) {
		k = 0;
		for (int i = 0; i < S.n; i++)
			if (enabled(i))
				en[k++] = i;
		if (k > 0)
			break;
		if (advance_clock())
			continue;
		for (int i = 0; i < S.n; i++)
			if (S.t[i].wait != DONE)
				deadlock();
		return; /* every thread finished: the round is over */
	}
	if (S.strategy == PCT) {
		/* A change point: the running thread drops below every other
		 * (PCT: depth d, n threads, k steps finds a bug of depth d with
		 * probability at least 1/(n k^(d-1)), Burckhardt et al. 2010). */
		for (int i = 0; i < S.nchange; i++)
			if (S.change[i] == S.steps && by != NOBODY)
				S.t[by].prio = S.depth - 1 - i;
		/* A yield also drops the thread, below every other: a spin loop
		 * with the highest priority would otherwise spin forever. */
		if (yield && by != NOBODY) {
			long long low = S.t[by].prio;
			for (int i = 0; i < S.n; i++)
				if (S.t[i].prio < low)
					low = S.t[i].prio;
			S.t[by].prio = low - 1;
		}
	}
	int next = S.strategy == RANDOM ? pick_random(en, k)
		   : S.strategy == PCT	? pick_pct(en, k)
					: pick_trace(en, k, by, yield);
	if (S.log) {
		char names[MAX_THREADS + 1];
		for (int j = 0; j < k; j++)
			names[j] = letter(en[j]);
		names[k] = '\0';
		fprintf(S.log, "%ld\t%d\t%c\t%s\t%c\t%s\n", S.steps, S.round, letter(next), names,
			by == NOBODY ? '-' : letter(by), point);
	}
	S.steps++;
	trace_step(letter(next));
	S.running = next;
	if (next == by)
		return;
	sem_post(&S.t[next].go);
	if (by != NOBODY && S.t[by].wait != DONE)
		while (sem_wait(&S.t[by].go) != 0)
			; /* EINTR */
}

/* --- rounds and threads -------------------------------------------------- */

void sched_round_begin(int n)
{
	if (n > MAX_THREADS)
		fail("%s: at most 52 threads run under the scheduler (got %ld)", "sched", n);
	S.round++;
	if (S.round > 1) {
		trace_flush();
		trace_put("/");
		/* replay/prefix: on to the trace's next round */
		while (S.wpos < S.nwant && S.want[S.wpos] != '/')
			S.wpos++;
		if (S.wpos < S.nwant)
			S.wpos++;
	}
	for (int i = 0; i < S.n; i++)
		sem_destroy(&S.t[i].go);
	S.n = 0;
	S.armed = n;
	S.seq = 0;
	for (size_t i = 0; i < TABLE; i++)
		if (S.table[i].addr) {
			S.table[i].owner = NOBODY;
			S.table[i].readers = 0;
			S.table[i].arrived = 0;
		}
}

void sched_round_go(void)
{
	S.armed = 0;
	decide(NOBODY, "start", 0);
}

void sched_round_end(void)
{
	if (S.strategy == REPLAY && S.wpos < S.nwant && S.want[S.wpos] != '/') {
		fprintf(stderr,
			"racelab-stress: replay diverged at step %ld (round %d): the round ended "
			"before its trace\n",
			S.steps, S.round);
		exit(2);
	}
}

static void *trampoline(void *p)
{
	struct sthread *t = p;
	self = (int)(t - S.t);
	while (sem_wait(&t->go) != 0)
		;
	void *ret = t->fn(t->arg);
	t->wait = DONE;
	int me = self;
	self = NOBODY;
	decide(me, "exit", 0);
	return ret;
}

int __wrap_pthread_create(pthread_t *pt, const pthread_attr_t *a, void *(*fn)(void *), void *arg)
{
	if (self == NOBODY && !S.armed)
		return __real_pthread_create(pt, a, fn, arg);
	if (self != NOBODY)
		decide(self, "create", 0);
	else
		S.armed--;
	if (S.n == MAX_THREADS)
		fail("%s: at most 52 threads run under the scheduler (%ld)", "sched", S.n);
	struct sthread *t = &S.t[S.n];
	*t = (struct sthread){ .wait = RUN, .fn = fn, .arg = arg };
	/* PCT: a random priority above every change point's */
	t->prio = S.depth + (long long)(rng_next(&S.rng) >> 16);
	sem_init(&t->go, 0, 0);
	int rc = __real_pthread_create(pt, a, trampoline, t);
	if (rc != 0)
		return rc;
	t->pt = *pt;
	S.n++;
	return 0;
}

int __wrap_pthread_join(pthread_t pt, void **ret)
{
	if (self != NOBODY) {
		for (int i = 0; i < S.n; i++)
			if (pthread_equal(S.t[i].pt, pt)) {
				S.t[self].wait = JOIN;
				S.t[self].target = i;
				decide(self, "join", 0);
				S.t[self].wait = RUN;
			}
	}
	return __real_pthread_join(pt, ret);
}

/* --- locks --------------------------------------------------------------- */

/* Waits (as the scheduler decides) until w on o can proceed. */
static void wait_for(enum wait w, struct lockobj *o, const char *point)
{
	S.t[self].wait = w;
	S.t[self].obj = o;
	decide(self, point, 0);
	S.t[self].wait = RUN;
}

/*
 * The three lock calls differ only in what they wait for and what the
 * grant records (an owner, or one more reader), so that is written once
 * here; each wrapper stays a function of its own, because ld --wrap
 * binds each symbol to its own __wrap_.
 */
static void acquire(enum wait w, const void *lock, const char *point)
{
	struct lockobj *o = obj(lock);
	wait_for(w, o, point);
	if (w == RDLOCK)
		o->readers++;
	else
		o->owner = self;
}

int __wrap_pthread_mutex_lock(pthread_mutex_t *m)
{
	if (self != NOBODY)
		acquire(LOCK, m, "mutex_lock");
	return __real_pthread_mutex_lock(m);
}

int __wrap_pthread_mutex_unlock(pthread_mutex_t *m)
{
	if (self == NOBODY)
		return __real_pthread_mutex_unlock(m);
	struct lockobj *o = obj(m);
	decide(self, "mutex_unlock", 0);
	if (o->owner == self)
		o->owner = NOBODY;
	return __real_pthread_mutex_unlock(m);
}

int __wrap_pthread_rwlock_rdlock(pthread_rwlock_t *l)
{
	if (self != NOBODY)
		acquire(RDLOCK, l, "rwlock_rdlock");
	return __real_pthread_rwlock_rdlock(l);
}

int __wrap_pthread_rwlock_wrlock(pthread_rwlock_t *l)
{
	if (self != NOBODY)
		acquire(WRLOCK, l, "rwlock_wrlock");
	return __real_pthread_rwlock_wrlock(l);
}

int __wrap_pthread_rwlock_unlock(pthread_rwlock_t *l)
{
	if (self == NOBODY)
		return __real_pthread_rwlock_unlock(l);
	struct lockobj *o = obj(l);
	decide(self, "rwlock_unlock", 0);
	if (o->owner == self)
		o->owner = NOBODY;
	else if (o->readers > 0)
		o->readers--;
	return __real_pthread_rwlock_unlock(l);
}

/* --- conditions and barriers --------------------------------------------- */

int __wrap_pthread_cond_init(pthread_cond_t *c, const pthread_condattr_t *a)
{
	clockid_t id = CLOCK_REALTIME;
	if (a)
		pthread_condattr_getclock(a, &id);
	obj(c)->realtime = id == CLOCK_REALTIME;
	return __real_pthread_cond_init(c, a);
}

static long long ns_of(const struct timespec *ts)
{
	return (long long)ts->tv_sec * SEC + ts->tv_nsec;
}

static int cond_wait(pthread_cond_t *c, pthread_mutex_t *m, const struct timespec *abstime)
{
	struct lockobj *co = obj(c), *mo = obj(m);
	struct sthread *t = &S.t[self];
	/* Releases the mutex and waits, in one step: nothing runs between. */
	if (mo->owner == self)
		mo->owner = NOBODY;
	__real_pthread_mutex_unlock(m);
	t->wait = COND;
	t->obj = co;
	t->mutex = mo;
	t->seq = S.seq++;
	t->timed_out = 0;
	t->until = 0;
	if (abstime) {
		t->until = ns_of(abstime) - (co->realtime ? REALTIME_OFFSET : 0);
		if (t->until <= S.now)
			t->until = S.now + 1; /* already passed: times out when all wait */
	}
	decide(self, abstime ? "cond_timedwait" : "cond_wait", 0);
	/* Picked: signalled (or timed out) and the mutex is free. */
	t->wait = RUN;
	mo->owner = self;
	__real_pthread_mutex_lock(m);
	return t->timed_out ? ETIMEDOUT : 0;
}

int __wrap_pthread_cond_wait(pthread_cond_t *c, pthread_mutex_t *m)
{
	if (self == NOBODY)
		return __real_pthread_cond_wait(c, m);
	return cond_wait(c, m, NULL);
}

int __wrap_pthread_cond_timedwait(pthread_cond_t *c, pthread_mutex_t *m,
				  const struct timespec *abstime)
{
	if (self == NOBODY)
		return __real_pthread_cond_timedwait(c, m, abstime);
	return cond_wait(c, m, abstime);
}

/* Wakes the waiters of c that waited first (all of them: n < 0): each
 * now waits for the mutex. */
static void wake(struct lockobj *c, int n)
{
	for (; n != 0; n--) {
		int first = NOBODY;
		for (int i = 0; i < S.n; i++)
			if (S.t[i].wait == COND && S.t[i].obj == c &&
			    (first == NOBODY || S.t[i].seq < S.t[first].seq))
				first = i;
		if (first == NOBODY)
			return;
		S.t[first].wait = LOCK;
		S.t[first].obj = S.t[first].mutex;
		S.t[first].until = 0;
	}
}

int __wrap_pthread_cond_signal(pthread_cond_t *c)
{
	if (self == NOBODY)
		return __real_pthread_cond_signal(c);
	decide(self, "cond_signal", 0);
	wake(obj(c), 1);
	return 0;
}

int __wrap_pthread_cond_broadcast(pthread_cond_t *c)
{
	if (self == NOBODY)
		return __real_pthread_cond_broadcast(c);
	decide(self, "cond_broadcast", 0);
	wake(obj(c), -1);
	return 0;
}

int __wrap_pthread_barrier_init(pthread_barrier_t *b, const pthread_barrierattr_t *a, unsigned n)
{
	struct lockobj *o = obj(b);
	o->count = n;
	o->arrived = 0;
	return __real_pthread_barrier_init(b, a, n);
}

int __wrap_pthread_barrier_wait(pthread_barrier_t *b)
{
	if (self == NOBODY)
		return __real_pthread_barrier_wait(b);
	struct lockobj *o = obj(b);
	if (++o->arrived >= o->count) {
		o->arrived = 0;
		o->gen++;
		decide(self, "barrier_wait", 0);
		return PTHREAD_BARRIER_SERIAL_THREAD;
	}
	S.t[self].gen = o->gen;
	wait_for(BARRIER, o, "barrier_wait");
	return 0;
}

/* --- yields, sleeps, the clock -------------------------------------------- */

int __wrap_sched_yield(void)
{
	if (self == NOBODY)
		return __real_sched_yield();
	decide(self, "yield", 1);
	return 0;
}

void sched_spin_pause(void)
{
	if (self != NOBODY)
		decide(self, "spin", 1);
}

void racepoint_sched(const char *name)
{
	if (self != NOBODY)
		decide(self, name, 0);
}

int __wrap_nanosleep(const struct timespec *req, struct timespec *rem)
{
	if (self == NOBODY)
		return __real_nanosleep(req, rem);
	S.t[self].wait = SLEEP;
	S.t[self].until = S.now + ns_of(req);
	decide(self, "sleep", 0);
	S.t[self].wait = RUN;
	if (rem)
		*rem = (struct timespec){ 0, 0 };
	return 0;
}

int __wrap_clock_gettime(clockid_t id, struct timespec *ts)
{
	if (id != CLOCK_MONOTONIC && id != CLOCK_REALTIME)
		return __real_clock_gettime(id, ts);
	if (self != NOBODY) {
		/* The only thread that can run is polling the clock: let time
		 * pass, 1 us a read; otherwise the clock stands still. */
		int others = 0;
		for (int i = 0; i < S.n && !others; i++)
			others = i != self && enabled(i);
		if (!others)
			S.now += US;
	}
	long long v = S.now + (id == CLOCK_REALTIME ? REALTIME_OFFSET : 0);
	ts->tv_sec = (time_t)(v / SEC);
	ts->tv_nsec = (long)(v % SEC);
	return 0;
}

int sched_real_clock(clockid_t id, struct timespec *ts)
{
	return __real_clock_gettime(id, ts);
}

#else /* the other flavours: no scheduler */

int sched_configure(const char *strategy, long pct_steps, const char *log_path, char *err,
		    size_t errlen)
{
	(void)strategy;
	(void)pct_steps;
	(void)log_path;
	snprintf(err, errlen, "--sched and --sched-log need the sched flavour (build/sched/...)");
	return -1;
}

void sched_trial_begin(uint64_t seed)
{
	(void)seed;
}

void sched_round_begin(int n)
{
	(void)n;
}

void sched_round_go(void)
{
}

void sched_round_end(void)
{
}

const char *sched_strategy(void)
{
	return NULL;
}

long sched_steps(void)
{
	return 0;
}

const char *sched_trace(void)
{
	return NULL;
}

void sched_on_deadlock(void (*fn)(const char *why))
{
	(void)fn;
}

int sched_real_clock(clockid_t id, struct timespec *ts)
{
	return clock_gettime(id, ts);
}

void sched_spin_pause(void)
{
}

#endif
