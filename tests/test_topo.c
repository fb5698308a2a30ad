/*
 * test_topo.c: CMocka tests for common/topo.c.
 *
 * Placement is checked on described topologies (one, two, four and uneven
 * nodes) because the machine running the tests usually has one node; only
 * the last test reads the real machine, and asks only what must hold
 * anywhere.
 */
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT */

#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "topo.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static struct topo topo; /* too big to want one per test frame */
static char err[256];

/* A description that must parse: a failure names the reason. */
static void describe(const char *desc)
{
	err[0] = '\0';
	if (topo_describe(&topo, desc, err, sizeof(err)) != 0)
		fail_msg("topo_describe(\"%s\"): %s", desc, err);
}

/*
 * Places n threads on the current topology and compares with want[] one
 * thread at a time, so a failure says which thread went where.
 */
static void check_place(enum topo_policy p, const int *list, int nlist, const int *want, int n)
{
	int got[64];

	assert_true(n <= (int)NELEM(got));
	err[0] = '\0';
	if (topo_place(&topo, p, list, nlist, n, got, err, sizeof(err)) != 0)
		fail_msg("topo_place(%s, %d threads): %s", topo_policy_name(p), n, err);
	for (int i = 0; i < n; i++) {
		if (got[i] != want[i])
			fail_msg("%s thread %d: cpu %d, want %d", topo_policy_name(p), i, got[i],
				 want[i]);
	}
}

#define PLACE(p, want) check_place((p), NULL, 0, (want), (int)NELEM(want))
#define PLACE_LIST(list, want)                                                                     \
	check_place(TOPO_LIST, (list), (int)NELEM(list), (want), (int)NELEM(want))

static void expect_place_fails(enum topo_policy p, const int *list, int nlist, int n,
			       const char *why)
{
	int got[TOPO_MAX_THREADS + 1];

	err[0] = '\0';
	assert_int_equal(topo_place(&topo, p, list, nlist, n, got, err, sizeof(err)), -1);
	if (!strstr(err, why))
		fail_msg("error \"%s\" does not mention \"%s\"", err, why);
}

/* ---- policy names ---- */

static void test_policy_names(void **state)
{
	static const char *const names[] = { "none", "spread", "compact", "same-cpu", "list" };
	enum topo_policy p;

	(void)state;
	for (size_t i = 0; i < NELEM(names); i++) {
		assert_int_equal(topo_policy_parse(names[i], &p), 0);
		assert_string_equal(topo_policy_name(p), names[i]);
	}
	assert_int_equal(topo_policy_parse("Spread", &p), -1);
	assert_int_equal(topo_policy_parse("same_cpu", &p), -1);
	assert_int_equal(topo_policy_parse("", &p), -1);
	assert_int_equal(topo_policy_parse(NULL, &p), -1);
	assert_string_equal(topo_policy_name((enum topo_policy)99), "unknown");
}

/* ---- topo_parse_cpulist ---- */

static void expect_cpulist(const char *s, const int *want, int n)
{
	int got[TOPO_MAX_CPUS];
	int r;

	err[0] = '\0';
	r = topo_parse_cpulist(s, got, TOPO_MAX_CPUS, err, sizeof(err));
	if (r != n)
		fail_msg("\"%s\": count %d, want %d (%s)", s, r, n, err);
	for (int i = 0; i < n; i++)
		assert_int_equal(got[i], want[i]);
}

static void test_cpulist_good(void **state)
{
	static const int one[] = { 0 };
	static const int mixed[] = { 0, 2, 3 };
	static const int given_order[] = { 3, 1, 5, 6, 7 };
	static const int single_range[] = { 5 };
	static const int top[] = { TOPO_MAX_CPUS - 1 };
	static const int repeats[] = { 1, 1, 0 };
	static const int leading_zero[] = { 7, 8 };
	int all[TOPO_MAX_CPUS], two[2];

	(void)state;
	expect_cpulist("0", one, 1);
	expect_cpulist("0,2-3", mixed, 3);
	expect_cpulist("3,1,5-7", given_order, 5);
	expect_cpulist("5-5", single_range, 1);
	expect_cpulist("1023", top, 1);
	expect_cpulist("1,1,0", repeats, 3);
	expect_cpulist("007-08", leading_zero, 2);

	assert_int_equal(topo_parse_cpulist("0-1023", all, TOPO_MAX_CPUS, err, sizeof(err)),
			 TOPO_MAX_CPUS);
	assert_int_equal(all[0], 0);
	assert_int_equal(all[TOPO_MAX_CPUS - 1], TOPO_MAX_CPUS - 1);
	/* Exactly max entries fits. */
	assert_int_equal(topo_parse_cpulist("4-5", two, 2, err, sizeof(err)), 2);
	/* No err buffer is allowed. */
	assert_int_equal(topo_parse_cpulist("1", two, 2, NULL, 0), 1);
}

static void expect_cpulist_fails(const char *s, int max, const char *why)
{
	int got[TOPO_MAX_CPUS];
	int r;

	err[0] = '\0';
	r = topo_parse_cpulist(s, got, max, err, sizeof(err));
	if (r != -1)
		fail_msg("\"%s\" parsed (count %d), want an error", s ? s : "(null)", r);
	if (!strstr(err, why))
		fail_msg("\"%s\": error \"%s\" does not mention \"%s\"", s ? s : "(null)", err,
			 why);
}

static void test_cpulist_bad(void **state)
{
	(void)state;
	expect_cpulist_fails(NULL, 8, "no CPU list");
	expect_cpulist_fails("", 8, "empty CPU list");
	expect_cpulist_fails(",", 8, "empty item");
	expect_cpulist_fails("0,", 8, "empty item");
	expect_cpulist_fails(",0", 8, "empty item");
	expect_cpulist_fails("0,,1", 8, "empty item");
	expect_cpulist_fails("3-1", 8, "reversed range 3-1");
	expect_cpulist_fails("-1", 8, "negative CPU id");
	expect_cpulist_fails("0,-2", 8, "negative CPU id");
	expect_cpulist_fails("1--2", 8, "negative range end");
	expect_cpulist_fails("0-", 8, "missing range end");
	expect_cpulist_fails("0-,1", 8, "missing range end");
	expect_cpulist_fails("1-2-3", 8, "unexpected '-'");
	expect_cpulist_fails("a", 8, "unexpected 'a'");
	expect_cpulist_fails("1a", 8, "unexpected 'a'");
	expect_cpulist_fails("0x1", 8, "unexpected 'x'");
	expect_cpulist_fails(" 1", 8, "unexpected ' '");
	expect_cpulist_fails("1, 2", 8, "unexpected ' '");
	expect_cpulist_fails("1;2", 8, "unexpected ';'");
	expect_cpulist_fails("+1", 8, "unexpected '+'");
	expect_cpulist_fails("1024", 8, "out of range (0-1023)");
	expect_cpulist_fails("0-1024", 8, "out of range");
	/* Must not wrap around to a small, valid id. */
	expect_cpulist_fails("18446744073709551617", 8, "out of range");
	expect_cpulist_fails("0-2", 2, "more than 2 CPUs");
	expect_cpulist_fails("0,1,2", 2, "more than 2 CPUs");
	expect_cpulist_fails("0", 0, "no room");
}

static void test_cpulist_short_err_buffer(void **state)
{
	int got[4];
	char small[8];

	(void)state;
	memset(small, 'x', sizeof(small));
	assert_int_equal(topo_parse_cpulist("0,,1", got, 4, small, 5), -1);
	/* Truncated and terminated inside the given length, nothing past it. */
	assert_int_equal(strlen(small), 4);
	assert_int_equal(small[5], 'x');
}

/* ---- topo_describe ---- */

static void test_describe_one_node(void **state)
{
	(void)state;
	describe("0:0-1");
	assert_int_equal(topo.ncpus, 2);
	assert_int_equal(topo.cpu[0], 0);
	assert_int_equal(topo.cpu[1], 1);
	assert_int_equal(topo.cpu_node[0], 0);
	assert_int_equal(topo.cpu_node[1], 0);
	assert_int_equal(topo.nnodes, 1);
	assert_int_equal(topo.node[0], 0);
}

static void test_describe_sorts(void **state)
{
	static const int cpus[] = { 0, 1, 2, 3, 4, 5, 6 };
	static const int nodes[] = { 3, 3, 1, 1, 3, 0, 0 };

	(void)state;
	/* Nodes and CPUs out of order: the result is ascending by id. */
	describe("3:4,1,0;1:2-3;0:6,5");
	assert_int_equal(topo.ncpus, 7);
	for (int i = 0; i < 7; i++) {
		assert_int_equal(topo.cpu[i], cpus[i]);
		assert_int_equal(topo.cpu_node[i], nodes[i]);
	}
	assert_int_equal(topo.nnodes, 3);
	assert_int_equal(topo.node[0], 0);
	assert_int_equal(topo.node[1], 1);
	assert_int_equal(topo.node[2], 3);
}

static void test_describe_limits(void **state)
{
	(void)state;
	describe("63:1023");
	assert_int_equal(topo.ncpus, 1);
	assert_int_equal(topo.cpu[0], 1023);
	assert_int_equal(topo.node[0], 63);
	describe("0:0-511;1:512-1023");
	assert_int_equal(topo.ncpus, TOPO_MAX_CPUS);
	assert_int_equal(topo.nnodes, 2);
}

static void expect_describe_fails(const char *desc, const char *why)
{
	struct topo before;

	/* A failed describe must leave the previous topology alone. */
	describe("0:0-1");
	before = topo;
	err[0] = '\0';
	if (topo_describe(&topo, desc, err, sizeof(err)) != -1)
		fail_msg("\"%s\" was accepted", desc ? desc : "(null)");
	if (!strstr(err, why))
		fail_msg("\"%s\": error \"%s\" does not mention \"%s\"", desc ? desc : "(null)",
			 err, why);
	assert_memory_equal(&before, &topo, sizeof(topo));
}

static void test_describe_bad(void **state)
{
	(void)state;
	expect_describe_fails(NULL, "no topology");
	expect_describe_fails("", "empty topology");
	expect_describe_fails(";", "empty node item");
	expect_describe_fails("0:0-3;", "empty node item");
	expect_describe_fails(";0:0-3", "empty node item");
	expect_describe_fails("0:0-3;;1:4-7", "empty node item");
	expect_describe_fails("0", "expected node:cpulist");
	expect_describe_fails("0-3", "expected node:cpulist");
	expect_describe_fails("0:", "empty CPU list");
	expect_describe_fails("0:0-3;1:", "empty CPU list");
	expect_describe_fails(":0-3", "missing node id");
	expect_describe_fails("-1:0", "negative node id");
	expect_describe_fails("a:0", "unexpected 'a'");
	expect_describe_fails("0:x", "unexpected 'x'");
	expect_describe_fails("0:0-3 ;1:4-7", "unexpected ' '");
	expect_describe_fails("0:0-3,1:4-7", "unexpected ':'");
	expect_describe_fails("64:0", "node id out of range (0-63)");
	expect_describe_fails("99999999999999999999:0", "out of range");
	expect_describe_fails("0:3-1", "reversed range");
	expect_describe_fails("0:1024", "out of range");
	expect_describe_fails("0:0-3;1:3-4", "cpu 3 is listed twice (node 0 and node 1)");
	expect_describe_fails("0:0,0", "cpu 0 is listed twice");
	expect_describe_fails("0:0-1;0:2-3", "node 0 is described twice");
}

/* ---- topo_node_of / topo_has_node ---- */

static void test_node_of(void **state)
{
	(void)state;
	describe("0:0-3;1:4-7");
	for (int c = 0; c < 8; c++)
		assert_int_equal(topo_node_of(&topo, c), c < 4 ? 0 : 1);
	assert_int_equal(topo_node_of(&topo, 8), -1);
	assert_int_equal(topo_node_of(&topo, -1), -1);
	assert_int_equal(topo_node_of(&topo, TOPO_MAX_CPUS), -1);
	assert_true(topo_has_node(&topo, 0));
	assert_true(topo_has_node(&topo, 1));
	assert_false(topo_has_node(&topo, 2));
	assert_false(topo_has_node(&topo, -1));

	/* Holes in CPU and node ids. */
	describe("0:1,5;2:9");
	assert_int_equal(topo_node_of(&topo, 0), -1);
	assert_int_equal(topo_node_of(&topo, 5), 0);
	assert_int_equal(topo_node_of(&topo, 9), 2);
	assert_false(topo_has_node(&topo, 1));
	assert_true(topo_has_node(&topo, 2));
}

/* ---- placement: every policy on every described topology ---- */

/* NONE and SAME_CPU do not depend on the node layout beyond cpu[0]. */
static void check_none_and_same(int first_cpu)
{
	int none[11], same[11];

	for (int i = 0; i < 11; i++) {
		none[i] = -1;
		same[i] = first_cpu;
	}
	PLACE(TOPO_NONE, none);
	PLACE(TOPO_SAME_CPU, same);
}

static void test_place_one_node_two_cpus(void **state)
{
	static const int spread[] = { 0, 1, 0, 1, 0 };
	static const int list_in[] = { 1 };
	static const int list_out[] = { 1, 1, 1 };
	static const int list2_in[] = { 1, 0 };
	static const int list2_out[] = { 1, 0, 1, 0, 1 };

	(void)state;
	describe("0:0-1");
	PLACE(TOPO_SPREAD, spread);
	PLACE(TOPO_COMPACT, spread); /* one node: the same order */
	check_none_and_same(0);
	PLACE_LIST(list_in, list_out);
	PLACE_LIST(list2_in, list2_out);
}

static void test_place_one_node_eight_cpus(void **state)
{
	static const int two[] = { 0, 1 };
	static const int eight[] = { 0, 1, 2, 3, 4, 5, 6, 7 };
	static const int eleven[] = { 0, 1, 2, 3, 4, 5, 6, 7, 0, 1, 2 };
	static const int list_in[] = { 7, 2, 2 };
	static const int list_out[] = { 7, 2, 2, 7, 2, 2, 7 };

	(void)state;
	describe("0:0-7");
	PLACE(TOPO_SPREAD, two);
	PLACE(TOPO_SPREAD, eight);
	PLACE(TOPO_SPREAD, eleven);
	PLACE(TOPO_COMPACT, two);
	PLACE(TOPO_COMPACT, eleven);
	check_none_and_same(0);
	PLACE_LIST(list_in, list_out);
}

static void test_place_two_nodes(void **state)
{
	/* Alternate nodes; each node's CPUs in turn. */
	static const int spread2[] = { 0, 4 };
	static const int spread[] = { 0, 4, 1, 5, 2, 6, 3, 7, 0, 4, 1 };
	static const int compact2[] = { 0, 1 };
	static const int compact[] = { 0, 1, 2, 3, 4, 5, 6, 7, 0, 1, 2 };
	static const int list_in[] = { 3, 4 };
	static const int list_out[] = { 3, 4, 3, 4, 3 };

	(void)state;
	describe("0:0-3;1:4-7");
	PLACE(TOPO_SPREAD, spread2);
	PLACE(TOPO_SPREAD, spread);
	PLACE(TOPO_COMPACT, compact2);
	PLACE(TOPO_COMPACT, compact);
	check_none_and_same(0);
	PLACE_LIST(list_in, list_out);
}

static void test_place_two_nodes_interleaved_ids(void **state)
{
	/* Node-major order is by node, not by CPU id. */
	static const int spread[] = { 0, 1, 2, 3, 4, 5, 6, 7, 0 };
	static const int compact[] = { 0, 2, 4, 6, 1, 3, 5, 7, 0 };

	(void)state;
	describe("0:0,2,4,6;1:1,3,5,7");
	PLACE(TOPO_SPREAD, spread);
	PLACE(TOPO_COMPACT, compact);
	check_none_and_same(0);
}

static void test_place_four_nodes(void **state)
{
	static const int spread[] = { 0, 2, 4, 6, 1, 3, 5, 7, 0, 2, 4 };
	static const int compact[] = { 0, 1, 2, 3, 4, 5, 6, 7, 0, 1, 2 };
	static const int list_in[] = { 6, 1, 4 };
	static const int list_out[] = { 6, 1, 4, 6, 1 };

	(void)state;
	describe("0:0-1;1:2-3;2:4-5;3:6-7");
	PLACE(TOPO_SPREAD, spread);
	PLACE(TOPO_COMPACT, compact);
	check_none_and_same(0);
	PLACE_LIST(list_in, list_out);
}

static void test_place_uneven_two_nodes(void **state)
{
	/*
	 * Node 1 has only two CPUs. SPREAD alternates nodes while both have
	 * a free CPU, then fills node 0, and only wraps once all eight CPUs
	 * have a thread: no CPU gets a second thread while another is idle.
	 */
	static const int spread[] = { 0, 6, 1, 7, 2, 3, 4, 5, 0, 6, 1, 7, 2 };
	static const int compact[] = { 0, 1, 2, 3, 4, 5, 6, 7, 0, 1 };
	static const int list_in[] = { 5, 6 };
	static const int list_out[] = { 5, 6, 5 };

	(void)state;
	describe("0:0-5;1:6-7");
	PLACE(TOPO_SPREAD, spread);
	PLACE(TOPO_COMPACT, compact);
	check_none_and_same(0);
	PLACE_LIST(list_in, list_out);
}

static void test_place_same_cpu_is_first_usable(void **state)
{
	static const int same[] = { 3, 3, 3 };

	(void)state;
	/* As under "taskset -c 3-5": CPU 0 is not ours to use. */
	describe("1:5;0:3-4");
	PLACE(TOPO_SAME_CPU, same);
}

static void test_place_errors(void **state)
{
	static const int bad[] = { 0, 7 };
	static const int neg[] = { -1 };
	static const int good[] = { 1 };
	int out[4];
	struct topo empty;

	(void)state;
	describe("0:0-1");
	expect_place_fails(TOPO_LIST, bad, 2, 4, "cpu 7 is not usable here (usable: 0-1)");
	expect_place_fails(TOPO_LIST, neg, 1, 4, "cpu -1 is not usable here");
	expect_place_fails(TOPO_LIST, NULL, 0, 4, "needs a CPU list");
	expect_place_fails(TOPO_LIST, good, 0, 4, "needs a CPU list");
	for (int p = TOPO_NONE; p <= TOPO_LIST; p++) {
		expect_place_fails((enum topo_policy)p, good, 1, 0, "out of range (1-4096)");
		expect_place_fails((enum topo_policy)p, good, 1, -1, "out of range");
		expect_place_fails((enum topo_policy)p, good, 1, TOPO_MAX_THREADS + 1,
				   "out of range");
	}
	expect_place_fails((enum topo_policy)42, NULL, 0, 2, "unknown placement policy");

	/* The usable list in the message is compressed into ranges. */
	describe("0:0-1,4;1:6,8-10");
	expect_place_fails(TOPO_LIST, bad, 2, 2, "cpu 7 is not usable here (usable: 0-1,4,6,8-10)");

	/* An empty or inconsistent topology is refused, not divided by. */
	memset(&empty, 0, sizeof(empty));
	assert_int_equal(topo_place(&empty, TOPO_SPREAD, NULL, 0, 2, out, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "no usable CPUs"));
	assert_int_equal(topo_place(NULL, TOPO_COMPACT, NULL, 0, 2, out, err, sizeof(err)), -1);
	describe("0:0-1;1:2-3");
	topo.cpu_node[2] = topo.cpu_node[3] = 0; /* node 1 left without CPUs */
	assert_int_equal(topo_place(&topo, TOPO_SPREAD, NULL, 0, 2, out, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "node 1 has no CPUs"));
	describe("0:0-1");
	topo.cpu[1] = 0;
	assert_int_equal(topo_place(&topo, TOPO_COMPACT, NULL, 0, 2, out, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not ascending"));

	/* NONE ignores the topology entirely. */
	assert_int_equal(topo_place(NULL, TOPO_NONE, NULL, 0, 2, out, err, sizeof(err)), 0);
	assert_int_equal(out[0], -1);
	assert_int_equal(out[1], -1);
}

static void test_place_max_threads(void **state)
{
	static int out[TOPO_MAX_THREADS];

	(void)state;
	describe("0:0-3;1:4-7");
	assert_int_equal(
		topo_place(&topo, TOPO_SPREAD, NULL, 0, TOPO_MAX_THREADS, out, err, sizeof(err)),
		0);
	assert_int_equal(out[TOPO_MAX_THREADS - 1], 7);
	assert_int_equal(
		topo_place(&topo, TOPO_COMPACT, NULL, 0, TOPO_MAX_THREADS, out, err, sizeof(err)),
		0);
	assert_int_equal(out[TOPO_MAX_THREADS - 1], 7);
}

/* ---- the real machine ---- */

static void test_read_real_machine(void **state)
{
	cpu_set_t set;

	(void)state;
	err[0] = '\0';
	if (topo_read(&topo, err, sizeof(err)) != 0)
		fail_msg("topo_read: %s", err);
	assert_true(topo.ncpus >= 1);
	assert_true(topo.nnodes >= 1);
	assert_int_equal(sched_getaffinity(0, sizeof(set), &set), 0);
	assert_int_equal(topo.ncpus, CPU_COUNT(&set));
	for (int i = 0; i < topo.ncpus; i++) {
		assert_true(CPU_ISSET(topo.cpu[i], &set));
		if (i > 0)
			assert_true(topo.cpu[i] > topo.cpu[i - 1]);
		assert_true(topo_has_node(&topo, topo.cpu_node[i]));
		assert_int_equal(topo_node_of(&topo, topo.cpu[i]), topo.cpu_node[i]);
	}
	for (int k = 0; k < topo.nnodes; k++) {
		int owned = 0;

		if (k > 0)
			assert_true(topo.node[k] > topo.node[k - 1]);
		for (int i = 0; i < topo.ncpus; i++)
			owned += topo.cpu_node[i] == topo.node[k];
		assert_true(owned >= 1);
	}
	print_message("real machine: %d CPU(s) on %d node(s)\n", topo.ncpus, topo.nnodes);
}

/* topo_format() writes what topo_describe() reads, so the two round-trip. */
static void test_format_round_trips(void **state)
{
	static const char *const descs[] = { "0:0-1", "0:0-3;1:4-7", "0:0-1;1:2-3;2:4-5;3:6-7",
					     "0:0,2,4;1:1,3,5", "1:5;3:0-2,7" };
	char out[256];

	(void)state;
	for (size_t i = 0; i < sizeof(descs) / sizeof(descs[0]); i++) {
		describe(descs[i]);
		topo_format(&topo, out, sizeof(out));
		assert_string_equal(out, descs[i]);
	}
	/* A buffer too small is cut short, never overrun. */
	describe("0:0-3;1:4-7");
	topo_format(&topo, out, 6);
	assert_string_equal(out, "0:0-3");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_policy_names),
		cmocka_unit_test(test_cpulist_good),
		cmocka_unit_test(test_cpulist_bad),
		cmocka_unit_test(test_cpulist_short_err_buffer),
		cmocka_unit_test(test_describe_one_node),
		cmocka_unit_test(test_describe_sorts),
		cmocka_unit_test(test_describe_limits),
		cmocka_unit_test(test_describe_bad),
		cmocka_unit_test(test_node_of),
		cmocka_unit_test(test_place_one_node_two_cpus),
		cmocka_unit_test(test_place_one_node_eight_cpus),
		cmocka_unit_test(test_place_two_nodes),
		cmocka_unit_test(test_place_two_nodes_interleaved_ids),
		cmocka_unit_test(test_place_four_nodes),
		cmocka_unit_test(test_place_uneven_two_nodes),
		cmocka_unit_test(test_place_same_cpu_is_first_usable),
		cmocka_unit_test(test_place_errors),
		cmocka_unit_test(test_place_max_threads),
		cmocka_unit_test(test_read_real_machine),
		cmocka_unit_test(test_format_round_trips),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
