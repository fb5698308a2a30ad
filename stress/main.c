/*
 * main.c: racelab-stress, the stress driver.
 *
 * Runs a lab's scenario K times (trials). Each trial runs rounds of the
 * lab's workload on pinned threads released by a start barrier, checks the
 * lab's invariants and prints one JSON line (the program's part of the
 * trial record) on stdout and one human line on stderr.
 *
 * Exit status: 0 every trial clean, 1 a trial saw a violation, 2 bad
 * arguments or input, 3 a trial passed its time limit (a hang), 4 the
 * threads could not be started (out of resources: neither a symptom nor
 * bad input).
 */
#define _GNU_SOURCE /* clock_gettime, getopt_long, glob */
#include <errno.h>
#include <getopt.h>
#include <glob.h>
#include <numa.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "jsonw.h"
#include "racepoint.h"
#include "racesched.h"
#include "scenario.h"
#include "stress.h"
#include "topo.h"

#ifndef RACELAB_VARIANT
#define RACELAB_VARIANT "fixed"
#endif
#ifndef RACELAB_FLAVOUR
#define RACELAB_FLAVOUR "release"
#endif

/* Scenario keys the driver reads, and keys that are for the scripts. */
static const char *const driver_keys[] = { "lab",
					   "threads",
					   "ops",
					   "rounds",
					   "duration_ms",
					   "seed",
					   "pinning",
					   "cpus",
					   "mem_node",
					   "time_limit_s",
					   "stop_on_symptom",
					   "title",
					   "teaches",
					   "workload",
					   "test_deps",
					   "gdb_help",
					   "demo_help",
					   "broken_modules",
					   "race_file",
					   "race_functions",
					   "race_points",
					   "trials",
					   "extra_stress",
					   "extra_configs",
					   "hang_stacks",
					   "grade_sets",
					   "grade_hint",
					   "grade_hang_hint",
					   "race_kind",
					   "fast_floor",
					   "sched_strategy",
					   "sched_pct_steps",
					   NULL };

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("racelab-stress: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(2);
}

static void usage(void)
{
	puts("usage: racelab-stress --scenario FILE | --lab N  [options]\n"
	     "\n"
	     "Runs a lab's scenario on pinned threads and checks its invariants.\n"
	     "Prints one JSON trial record per trial on stdout, one summary line on stderr.\n"
	     "Values come from the scenario file; these options override them.\n"
	     "\n"
	     "  --scenario FILE     the lab's scenario file (labs/lab-N-*/scenario.conf)\n"
	     "  --lab N             find labs/lab-N-*/scenario.conf from the current folder\n"
	     "  --profile NAME      apply NAME.* keys of the scenario (tsan, valgrind)\n"
	     "  --threads N         worker threads (1-256)\n"
	     "  --ops N             operations per thread per round\n"
	     "  --rounds N          rounds per trial\n"
	     "  --duration-ms MS    keep running rounds until MS milliseconds passed\n"
	     "  --trials K          trials to run (default 1)\n"
	     "  --seed S            seed of trial 1 (trial k uses S+k-1); 0 picks one\n"
	     "  --pin POLICY        spread, compact, same-cpu, none, or list (with --cpus)\n"
	     "  --cpus LIST         pin to these CPUs in turn, e.g. 0,1 or 0-3\n"
	     "  --mem-node N        allocate the shared structure on NUMA node N\n"
	     "  --time-limit S      a trial running longer is a hang (exit 3)\n"
	     "  --hang-stacks       on a hang, record every thread's stack (gdb attaches)\n"
	     "  --set KEY=VALUE     override one of the lab's own scenario keys\n"
	     "  --topology          print the topology and the placement, then exit\n"
	     "  --topology-desc D   with --topology: place on a described topology,\n"
	     "                      e.g. '0:0-3;1:4-7' (node:cpus;...)\n"
	     "  --sched STRATEGY    (sched build) how the scheduler picks the next thread:\n"
	     "                      random, pct:D, replay:TRACE or prefix:TRACE (@FILE: the\n"
	     "                      trace from FILE); default: the scenario's sched_strategy\n"
	     "  --sched-log FILE    (sched build) one line per scheduling point to FILE\n"
	     "  --quiet             no summary line\n"
	     "  -h, --help          this text");
}

static long parse_long(const char *opt, const char *v, long min, long max)
{
	char *end;
	errno = 0;
	long n = strtol(v, &end, 10);
	if (errno || end == v || *end || n < min || n > max)
		die("%s must be a whole number from %ld to %ld (got '%s')", opt, min, max, v);
	return n;
}

/* A scenario value, overridden by the command line when cli is set. */
static const char *pick(const char *cli, const struct scenario *sc, const char *profile,
			const char *key)
{
	return cli ? cli : scenario_get(sc, profile, key);
}

/* The driver's clock is the real one in every build: in the sched build
 * clock_gettime() is the scheduler's virtual clock (common/racesched.c). */
static double now_s(void)
{
	struct timespec ts;
	sched_real_clock(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The watchdog: a trial that does not finish within its limit is a hang.
 * The main thread marks the trial done under the mutex; the watchdog waits
 * on the condition with a deadline, so it never reads a flag unlocked. */
struct watchdog {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int done;
	double limit_s;
	char *record; /* the head of the trial record, prepared before the trial */
	size_t len;
	int stacks; /* on a hang, attach gdb and record every thread's stack */
};

/* The sched build's part of a record: the schedule so far. */
static void write_schedule(struct jsonw *w)
{
	const char *strategy = sched_strategy();
	if (!strategy)
		return;
	jw_begin(w, "schedule");
	jw_str(w, "strategy", strategy);
	jw_int(w, "steps", sched_steps());
	jw_str(w, "trace", sched_trace());
	jw_end(w);
}

/* A hang's record (detail NULL), or a deadlock's that the scheduler found
 * (detail "deadlock"): the head, then how it ended, the schedule, and
 * every thread's stack when asked. Exits 3. */
static void report_hang(struct watchdog *w, const char *detail)
{
	char *stacks = w->stacks ? stress_stacks(4) : NULL;
	struct jsonw tail;
	if (jw_open(&tail) == 0) {
		tail.first = 0; /* members after the record's head */
		jw_str(&tail, "outcome", "hang");
		jw_bool(&tail, "manifested", 1);
		jw_null(&tail, "invariants");
		if (detail)
			jw_str(&tail, "detail", detail);
		write_schedule(&tail);
		if (stacks) {
			/* "Thread 3 (...)" headers and "#0 ..." frames: the rest of
			 * what gdb says (attaching, symbols) is noise here. */
			jw_begin_array(&tail, "stacks");
			for (char *line = strtok(stacks, "\n"); line; line = strtok(NULL, "\n"))
				if (strncmp(line, "Thread ", 7) == 0 || line[0] == '#')
					jw_str(&tail, NULL, line);
			jw_end_array(&tail);
		}
		fputc('}', tail.f);
		fwrite(w->record, 1, w->len, stdout);
		jw_flush(&tail, stdout);
	}
	if (stacks)
		fputs("racelab-stress: every thread's stack is in the trial record\n", stderr);
	fflush(stdout);
	_exit(3);
}

static void *watchdog_main(void *p)
{
	struct watchdog *w = p;
	struct timespec deadline;
	sched_real_clock(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += (time_t)w->limit_s;
	pthread_mutex_lock(&w->mu);
	int rc = 0;
	while (!w->done && rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&w->cv, &w->mu, &deadline);
	int hung = !w->done;
	pthread_mutex_unlock(&w->mu);
	if (hung) {
		fprintf(stderr, "racelab-stress: trial passed its %.0f s time limit: a hang\n",
			w->limit_s);
		report_hang(w, NULL);
	}
	return NULL;
}

/* The command line: every value stays a string until the scenario is
 * loaded, since a value given here overrides the scenario's. */
struct options {
	const char *scenario, *lab, *profile, *threads, *ops, *rounds, *duration, *trials, *seed,
		*pin, *cpus, *mem, *limit, *desc, *sched, *sched_log;
	int show_topology, quiet, stacks;
};

/* What main() decides before the first trial; every trial reads it. */
struct plan {
	long labno;
	const struct stress_lab *lab;
	long trials;
	uint64_t seed; /* trial 1's; trial k uses seed + k - 1 */
	int hang_stacks;
	long limit;
	enum topo_policy policy;
	struct topo topo;
	char desc[1024]; /* the topology, formatted */
	long mem_node;	 /* -1: none */
	const char *build;
	int quiet;
};

/* Fills o and run's --set list; returns 1 when --help was asked. */
static int parse_options(int argc, char **argv, struct options *o, struct stress_run *run)
{
	static const struct option opts[] = {
		{ "scenario", 1, 0, 's' },    { "lab", 1, 0, 'l' },
		{ "profile", 1, 0, 'P' },     { "threads", 1, 0, 't' },
		{ "ops", 1, 0, 'o' },	      { "rounds", 1, 0, 'r' },
		{ "duration-ms", 1, 0, 'd' }, { "trials", 1, 0, 'k' },
		{ "seed", 1, 0, 'S' },	      { "pin", 1, 0, 'p' },
		{ "cpus", 1, 0, 'c' },	      { "mem-node", 1, 0, 'm' },
		{ "time-limit", 1, 0, 'T' },  { "set", 1, 0, 'x' },
		{ "topology", 0, 0, 'Y' },    { "topology-desc", 1, 0, 'D' },
		{ "quiet", 0, 0, 'q' },	      { "hang-stacks", 0, 0, 'H' },
		{ "sched", 1, 0, 'Z' },	      { "sched-log", 1, 0, 'L' },
		{ "help", 0, 0, 'h' },	      { 0, 0, 0, 0 }
	};
	int ch;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 's': o->scenario = optarg; break;
		case 'l': o->lab = optarg; break;
		case 'P': o->profile = optarg; break;
		case 't': o->threads = optarg; break;
		case 'o': o->ops = optarg; break;
		case 'r': o->rounds = optarg; break;
		case 'd': o->duration = optarg; break;
		case 'k': o->trials = optarg; break;
		case 'S': o->seed = optarg; break;
		case 'p': o->pin = optarg; break;
		case 'c': o->cpus = optarg; break;
		case 'm': o->mem = optarg; break;
		case 'T': o->limit = optarg; break;
		case 'D': o->desc = optarg; break;
		case 'Y': o->show_topology = 1; break;
		case 'q': o->quiet = 1; break;
		case 'H': o->stacks = 1; break;
		case 'Z': o->sched = optarg; break;
		case 'L': o->sched_log = optarg; break;
		case 'x':
			if (!strchr(optarg, '=') || run->nset == STRESS_MAX_SETS)
				die("--set takes KEY=VALUE (got '%s')", optarg);
			run->set[run->nset++] = optarg;
			break;
		case 'h': usage(); return 1;
		default: die("unknown or incomplete option '%s' (try --help)", argv[optind - 1]);
		}
	}
	if (optind < argc)
		die("unexpected argument '%s' (try --help)", argv[optind]);
	return 0;
}

/* The scenario file: given, or found from the lab number. */
static const char *find_scenario(const struct options *o)
{
	static char found[512];
	if (o->scenario)
		return o->scenario;
	if (!o->lab)
		die("give --scenario FILE or --lab N (try --help)");
	long n = parse_long("--lab", o->lab, 1, 99);
	char pattern[64];
	snprintf(pattern, sizeof(pattern), "labs/lab-%ld-*/scenario.conf", n);
	glob_t g;
	if (glob(pattern, 0, NULL, &g) != 0 || g.gl_pathc != 1)
		die("unknown lab %ld: no %s here", n, pattern);
	snprintf(found, sizeof(found), "%s", g.gl_pathv[0]);
	globfree(&g);
	return found;
}

static void load_scenario(struct options *o, struct scenario *sc)
{
	char err[512];
	o->scenario = find_scenario(o);
	/* The known keys are the driver's and every lab's (checked per lab later). */
	const char *known[512];
	int nk = 0;
	for (int i = 0; driver_keys[i]; i++)
		known[nk++] = driver_keys[i];
	for (int l = 0; l < stress_nlabs; l++)
		for (int i = 0; stress_labs[l].lab->params[i] && nk < 511; i++)
			known[nk++] = stress_labs[l].lab->params[i];
	known[nk] = NULL;
	if (scenario_load(sc, o->scenario, known, err, sizeof(err)) != 0)
		die("%s", err);
	if (o->profile) {
		int used = 0;
		size_t plen = strlen(o->profile);
		for (int i = 0; i < sc->n; i++)
			used |= strncmp(sc->kv[i].key, o->profile, plen) == 0 &&
				sc->kv[i].key[plen] == '.';
		if (!used)
			die("profile '%s': %s has no %s.* keys", o->profile, o->scenario,
			    o->profile);
	}
}

/* The lab the scenario names, from the generated registry. */
static void pick_lab(const struct options *o, const struct scenario *sc, struct plan *p)
{
	const char *v = pick(o->lab, sc, NULL, "lab");
	if (!v)
		die("%s: no 'lab = N' line", o->scenario);
	p->labno = parse_long("lab", v, 1, 99);
	for (int l = 0; l < stress_nlabs; l++)
		if (stress_labs[l].id == p->labno)
			p->lab = stress_labs[l].lab;
	if (!p->lab) {
		char have[128] = "";
		size_t used = 0;
		for (int l = 0; l < stress_nlabs && used < sizeof(have) - 8; l++)
			used += (size_t)snprintf(have + used, sizeof(have) - used, "%s%d",
						 l ? ", " : "", stress_labs[l].id);
		die("unknown lab %ld: this driver runs labs %s", p->labno, have);
	}
}

/* The run's sizes and limits, then the lab's own keys (lab->prepare). */
static void read_values(const struct options *o, const struct scenario *sc, struct stress_run *run,
			struct plan *p)
{
	char err[512];
	const char *v = pick(o->threads, sc, o->profile, "threads");
	run->threads = (int)parse_long("threads", v ? v : "2", 1, STRESS_MAX_THREADS);
	v = pick(o->ops, sc, o->profile, "ops");
	run->ops = parse_long("ops", v ? v : "100000", 1, 1000000000L);
	v = pick(o->rounds, sc, o->profile, "rounds");
	run->rounds = (int)parse_long("rounds", v ? v : "1", 1, 1000000);
	v = pick(o->duration, sc, o->profile, "duration_ms");
	run->duration_ms = parse_long("duration_ms", v ? v : "0", 0, 86400000L);
	v = scenario_get(sc, o->profile, "stop_on_symptom");
	run->stop_on_symptom = (int)parse_long("stop_on_symptom", v ? v : "1", 0, 1);
	v = pick(o->trials, sc, o->profile, "trials");
	p->trials = parse_long("trials", v ? v : "1", 1, 1000000);
	v = pick(o->seed, sc, o->profile, "seed");
	p->seed = (uint64_t)parse_long("seed", v ? v : "0", 0, 0x7fffffffffffffffL);
	v = pick(o->stacks ? "1" : NULL, sc, o->profile, "hang_stacks");
	p->hang_stacks = (int)parse_long("hang_stacks", v ? v : "0", 0, 1);
	if (p->hang_stacks)
		stress_stacks_allow();
	v = pick(o->limit, sc, o->profile, "time_limit_s");
	p->limit = parse_long("time_limit_s", v ? v : "60", 1, 86400);
	/* The watchdog guards a whole trial: a trial asked to run longer than
	 * its limit would be reported as a hang by its own design. */
	if (run->duration_ms >= p->limit * 1000L)
		die("duration_ms %ld does not fit in the time limit of %ld s", run->duration_ms,
		    p->limit);
	if (p->lab->prepare(run, err, sizeof(err)) != 0)
		die("%s", err);
	/* A --set for a key that this lab does not have is a typo. */
	for (int i = 0; i < run->nset; i++) {
		int ok = 0;
		for (int j = 0; p->lab->params[j]; j++)
			ok |= strncmp(run->set[i], p->lab->params[j], strlen(p->lab->params[j])) ==
				      0 &&
			      run->set[i][strlen(p->lab->params[j])] == '=';
		if (!ok)
			die("--set %s: lab %ld has no such key", run->set[i], p->labno);
	}
}

/* Topology and placement: run->cpu[] and the memory node. */
static void place_threads(const struct options *o, const struct scenario *sc,
			  struct stress_run *run, struct plan *p)
{
	char err[512];
	if (o->desc) {
		if (!o->show_topology)
			die("--topology-desc only goes with --topology (it cannot pin real "
			    "threads)");
		if (topo_describe(&p->topo, o->desc, err, sizeof(err)) != 0)
			die("--topology-desc: %s", err);
	} else if (topo_read(&p->topo, err, sizeof(err)) != 0) {
		die("cannot read the topology: %s", err);
	}
	const char *v = pick(o->pin, sc, o->profile, "pinning");
	const char *cpus_v = pick(o->cpus, sc, o->profile, "cpus");
	if (o->cpus && !o->pin)
		p->policy = TOPO_LIST; /* --cpus alone means: pin to these */
	else if (topo_policy_parse(v ? v : "spread", &p->policy) != 0)
		die("unknown pinning '%s' (spread, compact, same-cpu, none, list)", v);
	if (o->cpus && p->policy != TOPO_LIST)
		die("--cpus goes with --pin list (or alone), not with --pin %s",
		    topo_policy_name(p->policy));
	int list[TOPO_MAX_CPUS], nlist = 0;
	if (p->policy == TOPO_LIST) {
		if (!cpus_v)
			die("pinning 'list' needs --cpus LIST");
		nlist = topo_parse_cpulist(cpus_v, list, TOPO_MAX_CPUS, err, sizeof(err));
		if (nlist < 0)
			die("bad CPU list '%s': %s", cpus_v, err);
	}
	if (topo_place(&p->topo, p->policy, list, nlist, run->threads, run->cpu, err,
		       sizeof(err)) != 0)
		die("cannot place %d threads: %s", run->threads, err);
	topo_format(&p->topo, p->desc, sizeof(p->desc));

	v = pick(o->mem, sc, o->profile, "mem_node");
	p->mem_node = -1;
	if (v && strcmp(v, "none") != 0) {
		p->mem_node = parse_long("mem_node", v, 0, TOPO_MAX_NODES - 1);
		if (!topo_has_node(&p->topo, (int)p->mem_node))
			die("mem_node %ld: no such node here (topology %s)", p->mem_node, p->desc);
	}
}

/* --topology: what place_threads() decided, and nothing run. */
static void print_topology(const struct stress_run *run, const struct plan *p)
{
	const struct topo *t = &p->topo;
	printf("topology: %d node%s, %d CPU%s (%s)\n", t->nnodes, t->nnodes == 1 ? "" : "s",
	       t->ncpus, t->ncpus == 1 ? "" : "s", p->desc);
	printf("placement: %s, %d thread%s\n", topo_policy_name(p->policy), run->threads,
	       run->threads == 1 ? "" : "s");
	for (int i = 0; i < run->threads; i++) {
		if (run->cpu[i] < 0)
			printf("  thread %d: not pinned\n", i);
		else
			printf("  thread %d: cpu %d (node %d)\n", i, run->cpu[i],
			       topo_node_of(t, run->cpu[i]));
	}
	if (p->mem_node >= 0)
		printf("memory: node %ld\n", p->mem_node);
}

/* Memory placement: threads inherit the main thread's policy, so the
 * shared structure and everything the threads allocate prefer the node. */
static void bind_memory(const struct plan *p)
{
	if (p->mem_node < 0)
		return;
	if (numa_available() < 0)
		die("--mem-node needs NUMA support, which this kernel does not offer");
	numa_set_preferred((int)p->mem_node);
}

/* Seed 0 picks one from the clock and the pid; never 0 itself. */
static uint64_t pick_seed(uint64_t seed)
{
	if (seed != 0)
		return seed;
	struct timespec ts;
	sched_real_clock(CLOCK_REALTIME, &ts);
	seed = ((uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 20) ^ (uint64_t)ts.tv_sec) &
	       0x7fffffffffffULL;
	return seed ? seed : 1;
}

/* The common head of the record, also used for the hang record. */
static void write_head(struct jsonw *w, const struct stress_run *run, const struct plan *p, long k)
{
	jw_begin(w, NULL);
	jw_int(w, "lab", p->labno);
	jw_str(w, "variant", RACELAB_VARIANT);
	jw_str(w, "build", p->build);
	jw_str(w, "flavour", RACELAB_FLAVOUR);
	jw_int(w, "trial", k + 1);
	jw_int(w, "threads", run->threads);
	jw_str(w, "pinning", topo_policy_name(p->policy));
	jw_begin_array(w, "cpus");
	for (int i = 0; i < run->threads; i++)
		jw_int(w, NULL, run->cpu[i]);
	jw_end_array(w);
	if (p->mem_node >= 0)
		jw_int(w, "mem_node", p->mem_node);
	else
		jw_null(w, "mem_node");
	jw_begin(w, "topology");
	jw_int(w, "nodes", p->topo.nnodes);
	jw_int(w, "cpus", p->topo.ncpus);
	jw_str(w, "desc", p->desc);
	jw_end(w);
	jw_int(w, "seed", (int64_t)run->seed);
	jw_int(w, "ops", run->ops);
	jw_int(w, "time_limit_s", p->limit);
	fflush(w->f);
}

/* Starts the watchdog with a copy of the record's head, which it completes
 * and prints if the trial hangs. */
static void watchdog_start(struct watchdog *wd, pthread_t *t, const struct jsonw *head,
			   const struct plan *p)
{
	pthread_mutex_init(&wd->mu, NULL);
	pthread_cond_init(&wd->cv, NULL);
	wd->done = 0;
	wd->limit_s = (double)p->limit;
	free(wd->record);
	wd->record = malloc(head->len);
	if (!wd->record)
		die("out of memory");
	memcpy(wd->record, head->buf, head->len);
	wd->len = head->len;
	wd->stacks = p->hang_stacks;
	if (pthread_create(t, NULL, watchdog_main, wd) != 0)
		die("cannot start the watchdog thread");
}

static void watchdog_stop(struct watchdog *wd, pthread_t t)
{
	pthread_mutex_lock(&wd->mu);
	wd->done = 1;
	pthread_cond_signal(&wd->cv);
	pthread_mutex_unlock(&wd->mu);
	pthread_join(t, NULL);
	pthread_cond_destroy(&wd->cv);
	pthread_mutex_destroy(&wd->mu);
}

/* Rounds until the scenario's count and duration are both reached, or a
 * symptom when stop_on_symptom; returns the rounds run. */
static int run_rounds(struct stress_run *run, const struct plan *p, struct stress_result *res,
		      double *elapsed)
{
	char err[512];
	double t0 = now_s();
	int rounds = 0;
	for (;;) {
		if (p->lab->round(run, rounds + 1, res, err, sizeof(err)) != 0)
			die("%s", err);
		rounds++;
		if (run->stop_on_symptom && stress_violations(res))
			break;
		if (rounds >= run->rounds && (now_s() - t0) * 1000.0 >= (double)run->duration_ms)
			break;
	}
	*elapsed = now_s() - t0;
	return rounds;
}

/* The rest of the record after the head: how the trial ended. */
static void write_tail(struct jsonw *w, const struct stress_result *res, int rounds, double elapsed)
{
	long bad = stress_violations(res);
	jw_int(w, "rounds", rounds);
	jw_int(w, "ops_done", res->ops_done);
	jw_double(w, "elapsed_s", elapsed);
	jw_str(w, "outcome", bad ? "manifested" : "clean");
	jw_bool(w, "manifested", bad != 0);
	jw_begin(w, "invariants");
	for (int i = 0; i < res->ninv; i++)
		jw_int(w, res->inv_name[i], res->inv[i]);
	jw_end(w);
	jw_str(w, "first_violation", bad ? res->first : NULL);
	write_schedule(w);
	jw_end(w);
	if (jw_flush(w, stdout) != 0)
		die("cannot write the trial record to stdout");
}

/* The human line on stderr: what broke, where the threads ran. */
static void print_trial(const struct stress_run *run, const struct plan *p, long k,
			const struct stress_result *res, int rounds, double elapsed)
{
	long bad = stress_violations(res);
	char cpus[256] = "";
	size_t used = 0;
	for (int i = 0; i < run->threads && used < sizeof(cpus) - 8; i++)
		used += (size_t)snprintf(cpus + used, sizeof(cpus) - used, "%s%d", i ? "," : "",
					 run->cpu[i]);
	char what[512] = "clean";
	if (bad) {
		size_t u = 0;
		for (int i = 0; i < res->ninv && u < sizeof(what) - 40; i++)
			if (res->inv[i])
				u += (size_t)snprintf(what + u, sizeof(what) - u, "%s%ld %s",
						      u ? ", " : "", res->inv[i], res->inv_name[i]);
	}
	fprintf(stderr,
		"lab %ld %s trial %ld/%ld: %s%s%s%s (%d threads %s on cpus %s, %d "
		"round%s, %.2f s)\n",
		p->labno, RACELAB_VARIANT, k + 1, p->trials, bad ? "SYMPTOM: " : "", what,
		bad ? "; first: " : "", bad ? res->first : "", run->threads,
		topo_policy_name(p->policy), p->policy == TOPO_NONE ? "any" : cpus, rounds,
		rounds == 1 ? "" : "s", elapsed);
}

/* The trial's watchdog; the sched build's deadlock report uses its
 * record head too. */
static struct watchdog wd;

#ifdef RACELAB_SCHED
/* The scheduler found every managed thread blocked: the trial's record,
 * as a hang's with detail "deadlock", and exit 3. */
static void on_deadlock(const char *why)
{
	fprintf(stderr, "racelab-stress: %s\n", why);
	report_hang(&wd, "deadlock");
}
#endif

/* The sched build's strategy: --sched, else the scenario's
 * sched_strategy, else random; other builds refuse the options. */
static void configure_sched(const struct options *o, const struct scenario *sc)
{
	char err[512];
	const char *v = pick(o->sched, sc, o->profile, "sched_strategy");
	long steps = 0;
	const char *sv = scenario_get(sc, o->profile, "sched_pct_steps");
	if (sv)
		steps = parse_long("sched_pct_steps", sv, 1, 1000000000L);
#ifdef RACELAB_SCHED
	if (sched_configure(v ? v : "random", steps, o->sched_log, err, sizeof(err)) != 0)
		die("%s", err);
	sched_on_deadlock(on_deadlock);
#else
	(void)v;
	if ((o->sched || o->sched_log) && sched_configure(o->sched ? o->sched : "random", steps,
							  o->sched_log, err, sizeof(err)) != 0)
		die("%s", err);
#endif
}

/* Trial k (from 0): its seed, the watchdog, the rounds, its record.
 * Returns 1 when an invariant broke. */
static int run_trial(struct stress_run *run, const struct plan *p, long k)
{
	run->seed = p->seed + (uint64_t)k;
	racepoint_seed(run->seed); /* the chaos build's delays; nothing elsewhere */
	struct stress_result res;
	memset(&res, 0, sizeof(res));
	for (int i = 0; p->lab->invariants[i] && i < STRESS_MAX_INVARIANTS; i++)
		res.inv_name[res.ninv++] = p->lab->invariants[i];
	struct jsonw w;
	if (jw_open(&w) != 0)
		die("out of memory");
	write_head(&w, run, p, k);

	pthread_t wt;
	watchdog_start(&wd, &wt, &w, p);
	double elapsed;
	int rounds = run_rounds(run, p, &res, &elapsed);
	watchdog_stop(&wd, wt);

	write_tail(&w, &res, rounds, elapsed);
	if (!p->quiet)
		print_trial(run, p, k, &res, rounds, elapsed);
	return stress_violations(&res) != 0;
}

int main(int argc, char **argv)
{
	static struct options o;
	static struct stress_run run;
	static struct scenario sc;
	static struct plan p;

	if (parse_options(argc, argv, &o, &run))
		return 0;
	load_scenario(&o, &sc);
	run.sc = &sc;
	run.profile = o.profile;
	pick_lab(&o, &sc, &p);
	read_values(&o, &sc, &run, &p);
	configure_sched(&o, &sc);
	place_threads(&o, &sc, &run, &p);
	if (o.show_topology) {
		print_topology(&run, &p);
		return 0;
	}
	bind_memory(&p);
	p.seed = pick_seed(p.seed);
	p.quiet = o.quiet;
	/* student-N: the fixed build with the student's copy of lab N's module. */
	p.build = strncmp(RACELAB_VARIANT, "broken", 6) == 0	? "broken"
		  : strncmp(RACELAB_VARIANT, "student", 7) == 0 ? "student"
								: "fixed";

	long symptoms = 0;
	for (long k = 0; k < p.trials; k++)
		symptoms += run_trial(&run, &p, k);
	if (p.trials > 1 && !p.quiet)
		fprintf(stderr, "lab %ld %s: %ld trials, %ld with a symptom\n", p.labno,
			RACELAB_VARIANT, p.trials, symptoms);
	return symptoms ? 1 : 0;
}
