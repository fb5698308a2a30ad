/*
 * money.c: amounts as integer cents (see money.h).
 *
 * The parser walks the text once, in the order of JSON's number grammar
 * (sign, integer part, fraction, exponent), so that every literal a JSON
 * parser would accept gets a specific reason when it is not money, and
 * everything else is a syntax error. The integer is built digit by digit
 * and compared with the maximum before each step can overflow.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "money.h"

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Whether s[0..len) spells NaN or an infinity, in any case, with or without
 * a sign: what strtod would take, and what JSON has no way to write. */
static bool not_finite(const char *s, size_t len)
{
	static const char *const words[] = { "nan", "inf", "infinity" };
	if (len && (s[0] == '-' || s[0] == '+')) {
		s++;
		len--;
	}
	for (size_t w = 0; w < sizeof(words) / sizeof(words[0]); w++) {
		size_t n = strlen(words[w]);
		if (len != n)
			continue;
		size_t i = 0;
		while (i < n && (s[i] | 0x20) == words[w][i])
			i++;
		if (i == n)
			return true;
	}
	return false;
}

enum money_err money_parse(const char *s, size_t len, int64_t max_cents, int64_t *cents)
{
	if (len == 0)
		return MONEY_EMPTY;
	if (not_finite(s, len))
		return MONEY_NOT_FINITE;
	size_t i = 0;
	bool negative = false;
	if (s[i] == '+')
		return MONEY_SIGN;
	if (s[i] == '-') {
		negative = true;
		i++;
	}
	/* The integer part: "0" alone, or a digit 1-9 and more digits. */
	if (i == len || !is_digit(s[i]))
		return MONEY_SYNTAX;
	if (s[i] == '0' && i + 1 < len && is_digit(s[i + 1]))
		return MONEY_SYNTAX;
	if (max_cents > MONEY_LIMIT_CENTS)
		max_cents = MONEY_LIMIT_CENTS;
	int64_t units = 0; /* whole dollars */
	bool too_large = false;
	for (; i < len && is_digit(s[i]); i++) {
		if (units > max_cents / 100)
			too_large = true; /* keep reading: a syntax error still wins */
		else
			units = units * 10 + (s[i] - '0');
	}
	/* The fraction: a point and at least one digit. */
	int64_t frac = 0;
	size_t ndec = 0;
	if (i < len && s[i] == '.') {
		i++;
		if (i == len || !is_digit(s[i]))
			return MONEY_SYNTAX;
		for (; i < len && is_digit(s[i]); i++, ndec++)
			if (ndec < 2)
				frac = frac * 10 + (s[i] - '0');
	}
	/* The exponent: checked for syntax first, so "1e" is a syntax error. */
	bool exponent = false;
	if (i < len && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < len && (s[i] == '+' || s[i] == '-'))
			i++;
		if (i == len || !is_digit(s[i]))
			return MONEY_SYNTAX;
		while (i < len && is_digit(s[i]))
			i++;
		exponent = true;
	}
	if (i != len)
		return MONEY_SYNTAX;
	if (negative)
		return MONEY_NEGATIVE;
	if (exponent)
		return MONEY_EXPONENT;
	if (ndec > 2)
		return MONEY_DECIMALS;
	if (ndec == 1)
		frac *= 10; /* "49.9" is 49.90 */
	if (too_large)
		return MONEY_TOO_LARGE;
	int64_t total = units * 100 + frac; /* units <= max/100 + 9: no overflow */
	if (total == 0)
		return MONEY_ZERO;
	if (total > max_cents)
		return MONEY_TOO_LARGE;
	*cents = total;
	return MONEY_OK;
}

const char *money_strerror(enum money_err err)
{
	switch (err) {
	case MONEY_OK: return "a valid amount";
	case MONEY_EMPTY: return "amount is empty";
	case MONEY_SYNTAX: return "amount is not a decimal number";
	case MONEY_NOT_FINITE: return "amount is not a finite number";
	case MONEY_NEGATIVE: return "amount is negative";
	case MONEY_SIGN: return "amount has a sign";
	case MONEY_EXPONENT: return "amount has an exponent";
	case MONEY_DECIMALS: return "amount has more than two decimals";
	case MONEY_ZERO: return "amount is zero";
	case MONEY_TOO_LARGE: return "amount is above the maximum";
	}
	return "amount is invalid";
}

int money_format(int64_t cents, char *buf, size_t n)
{
	/* Through uint64_t, so that INT64_MIN has a magnitude too. */
	uint64_t mag = cents < 0 ? -(uint64_t)cents : (uint64_t)cents;
	return snprintf(buf, n, "%s%llu.%02llu", cents < 0 ? "-" : "",
			(unsigned long long)(mag / 100), (unsigned long long)(mag % 100));
}
