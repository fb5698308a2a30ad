/*
 * test_money.c: the amount parser, literal by literal.
 *
 * Every case is exact: the cents an accepted literal must give, or the
 * reason a rejected one must get. The float trap is covered by literals
 * whose double times 100 falls just below the intended cents (0.29, 4.35,
 * 1.15, 0.57, 1.13: (long)(strtod(s) * 100) gives 28, 434, 114, 56, 112).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "money.h"

#define MAX 1000000 /* $10,000.00, the service's default */

static int64_t ok(const char *s, int64_t max)
{
	int64_t cents = -1;
	enum money_err e = money_parse(s, strlen(s), max, &cents);
	if (e != MONEY_OK)
		fail_msg("'%s' rejected: %s", s, money_strerror(e));
	return cents;
}

static enum money_err err(const char *s)
{
	int64_t cents = -12345;
	enum money_err e = money_parse(s, strlen(s), MAX, &cents);
	assert_int_equal(cents, -12345); /* untouched on error */
	return e;
}

static void test_accepts_exact_cents(void **state)
{
	(void)state;
	assert_int_equal(ok("49.99", MAX), 4999);
	assert_int_equal(ok("49.9", MAX), 4990);
	assert_int_equal(ok("49", MAX), 4900);
	assert_int_equal(ok("0.01", MAX), 1);
	assert_int_equal(ok("0.1", MAX), 10);
	assert_int_equal(ok("0.29", MAX), 29);
	assert_int_equal(ok("4.35", MAX), 435);
	assert_int_equal(ok("1.15", MAX), 115);
	assert_int_equal(ok("0.57", MAX), 57);
	assert_int_equal(ok("1.13", MAX), 113);
	assert_int_equal(ok("10000", MAX), MAX);
	assert_int_equal(ok("10000.00", MAX), MAX);
	assert_int_equal(ok("100000000000.07", MONEY_LIMIT_CENTS), 10000000000007LL);
	assert_int_equal(ok("10000000000000.00", MONEY_LIMIT_CENTS), MONEY_LIMIT_CENTS);
}

static void test_rejects_with_reason(void **state)
{
	(void)state;
	assert_int_equal(err(""), MONEY_EMPTY);
	assert_int_equal(err("49.999"), MONEY_DECIMALS);
	assert_int_equal(err("49.990"), MONEY_DECIMALS);
	assert_int_equal(err("0.001"), MONEY_DECIMALS);
	assert_int_equal(err("0"), MONEY_ZERO);
	assert_int_equal(err("0.00"), MONEY_ZERO);
	assert_int_equal(err("0.0"), MONEY_ZERO);
	assert_int_equal(err("-5"), MONEY_NEGATIVE);
	assert_int_equal(err("-0.01"), MONEY_NEGATIVE);
	assert_int_equal(err("-0"), MONEY_NEGATIVE);
	assert_int_equal(err("+5"), MONEY_SIGN);
	assert_int_equal(err("1e3"), MONEY_EXPONENT);
	assert_int_equal(err("4999E-2"), MONEY_EXPONENT);
	assert_int_equal(err("0.5e+1"), MONEY_EXPONENT);
	assert_int_equal(err("NaN"), MONEY_NOT_FINITE);
	assert_int_equal(err("nan"), MONEY_NOT_FINITE);
	assert_int_equal(err("Infinity"), MONEY_NOT_FINITE);
	assert_int_equal(err("-Infinity"), MONEY_NOT_FINITE);
	assert_int_equal(err("inf"), MONEY_NOT_FINITE);
	assert_int_equal(err("10000.01"), MONEY_TOO_LARGE);
	assert_int_equal(err("10001"), MONEY_TOO_LARGE);
	assert_int_equal(err("99999999999999999999999999999999"), MONEY_TOO_LARGE);
	assert_int_equal(err("99999999999999999999999999999999.99"), MONEY_TOO_LARGE);
}

static void test_rejects_bad_syntax(void **state)
{
	(void)state;
	const char *bad[] = { "1.",   ".5",    "01",   "00.5", "1.2.3", "12a", "a",
			      "-",    "1e",    "1e+",  "--1",  " 1",	"1 ",  "1,5",
			      "0x10", "1_000", "5.-1", "e5",   "-.5",	"١" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (err(bad[i]) != MONEY_SYNTAX)
			fail_msg("'%s': %s, want a syntax error", bad[i],
				 money_strerror(err(bad[i])));
}

static void test_no_nul_needed(void **state)
{
	(void)state;
	int64_t cents = 0;
	/* "49.99" followed by digits that are not part of the len given */
	assert_int_equal(money_parse("49.9912345", 5, MAX, &cents), MONEY_OK);
	assert_int_equal(cents, 4999);
}

static void test_format(void **state)
{
	(void)state;
	char buf[32];
	const struct {
		int64_t cents;
		const char *text;
	} cases[] = { { 4999, "49.99" },   { 4990, "49.90" },
		      { 500, "5.00" },	   { 1, "0.01" },
		      { 0, "0.00" },	   { -5, "-0.05" },
		      { -4999, "-49.99" }, { INT64_MIN, "-92233720368547758.08" } };
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		money_format(cases[i].cents, buf, sizeof(buf));
		assert_string_equal(buf, cases[i].text);
	}
}

/* Every cent from 0.01 to 100.00 survives a format and a parse. */
static void test_round_trip(void **state)
{
	(void)state;
	char buf[32];
	for (int64_t c = 1; c <= 10000; c++) {
		money_format(c, buf, sizeof(buf));
		assert_int_equal(ok(buf, MAX), c);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accepts_exact_cents),
		cmocka_unit_test(test_rejects_with_reason),
		cmocka_unit_test(test_rejects_bad_syntax),
		cmocka_unit_test(test_no_nul_needed),
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_round_trip),
	};
	return cmocka_run_group_tests_name("money", tests, NULL, NULL);
}
