/* test_scenario.c: the scenario file parser, on files written to /tmp. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "scenario.h"

static const char *const known[] = { "lab", "threads", "ops", NULL };
static char path[64];

static int write_file(void **state)
{
	(void)state;
	snprintf(path, sizeof(path), "/tmp/racelab-scenario-XXXXXX");
	int fd = mkstemp(path);
	return fd < 0 ? -1 : close(fd);
}

static int remove_file(void **state)
{
	(void)state;
	return unlink(path);
}

static void put(const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_reads_values_comments_and_profiles(void **state)
{
	(void)state;
	struct scenario s;
	char err[256];
	put("# a comment\nlab = 1\n\n  threads=4   # trailing comment\nops = 100\ntsan.ops = 10\n");
	assert_int_equal(scenario_load(&s, path, known, err, sizeof(err)), 0);
	assert_string_equal(scenario_get(&s, NULL, "lab"), "1");
	assert_string_equal(scenario_get(&s, NULL, "threads"), "4");
	assert_string_equal(scenario_get(&s, NULL, "ops"), "100");
	assert_string_equal(scenario_get(&s, "tsan", "ops"), "10");
	/* a profile without its own value falls back to the plain key */
	assert_string_equal(scenario_get(&s, "tsan", "threads"), "4");
	assert_string_equal(scenario_get(&s, "valgrind", "ops"), "100");
	assert_null(scenario_get(&s, NULL, "missing"));
	assert_int_equal(scenario_line(&s, NULL, "threads"), 4);
}

static void expect_error(const char *text, const char *want)
{
	struct scenario s;
	char err[256] = "";
	put(text);
	assert_int_equal(scenario_load(&s, path, known, err, sizeof(err)), -1);
	if (!strstr(err, want))
		fail_msg("error '%s' does not say '%s'", err, want);
}

static void test_rejects_bad_files(void **state)
{
	(void)state;
	expect_error("lab = 1\nthread = 2\n", ":2: unknown key 'thread'");
	expect_error("lab 1\n", ":1: expected 'key = value'");
	expect_error("lab = 1\nlab = 2\n", ":2: 'lab' is set twice");
	expect_error("= 3\n", ":1: empty or over-long");
	char longline[600];
	memset(longline, 'x', sizeof(longline) - 1);
	longline[sizeof(longline) - 1] = '\0';
	expect_error(longline, ":1: line too long");
}

static void test_missing_file(void **state)
{
	(void)state;
	struct scenario s;
	char err[256];
	assert_int_equal(scenario_load(&s, "/nonexistent/scenario.conf", known, err, sizeof(err)),
			 -1);
	assert_non_null(strstr(err, "cannot read"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_reads_values_comments_and_profiles, write_file,
						remove_file),
		cmocka_unit_test_setup_teardown(test_rejects_bad_files, write_file, remove_file),
		cmocka_unit_test(test_missing_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
