/*
 * money.h: amounts of money as integer cents, parsed from and printed as
 * decimal text.
 *
 * An amount never passes through a binary float: 49.99 has no exact double
 * (the nearest is 49.99000000000000198951966012828052043914794921875), and
 * a service that rounds doubles to cents will, for some literal, charge a
 * cent more or less than the client wrote. The parser reads the decimal
 * digits themselves and builds the integer, so "49.99" is exactly 4999.
 */
#ifndef RACELAB_MONEY_H
#define RACELAB_MONEY_H

#include <stddef.h>
#include <stdint.h>

/* The largest maximum a caller may set: 10^15 cents, ten trillion dollars,
 * far below INT64_MAX, so no sum of a few amounts can overflow. */
#define MONEY_LIMIT_CENTS 1000000000000000LL

/* What is wrong with an amount's text (MONEY_OK: nothing). */
enum money_err {
	MONEY_OK = 0,
	MONEY_EMPTY,	  /* no characters */
	MONEY_SYNTAX,	  /* not a decimal number: "1.", ".5", "01", "1.2.3", "12a" */
	MONEY_NOT_FINITE, /* NaN, Infinity, inf */
	MONEY_NEGATIVE,	  /* a minus sign */
	MONEY_SIGN,	  /* a plus sign */
	MONEY_EXPONENT,	  /* 1e3, 4999E-2 */
	MONEY_DECIMALS,	  /* more than two digits after the point ("49.990" too) */
	MONEY_ZERO,	  /* 0, 0.00 */
	MONEY_TOO_LARGE,  /* above the maximum */
};

/*
 * Parses the len characters at s (no NUL needed) as an amount: a JSON
 * number's digits with at most two after the point, no sign, no exponent,
 * no leading zero before another digit, greater than zero and at most
 * max_cents. On MONEY_OK stores the amount in *cents; otherwise leaves it.
 */
enum money_err money_parse(const char *s, size_t len, int64_t max_cents, int64_t *cents);

/* One line saying what err means, for an error message ("amount has more
 * than two decimals"). */
const char *money_strerror(enum money_err err);

/* Writes cents as "49.99" (always two decimals; "-0.05" when negative)
 * into buf of size n. Returns what snprintf returns. */
int money_format(int64_t cents, char *buf, size_t n);

#endif
