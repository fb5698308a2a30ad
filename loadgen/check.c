/*
 * check.c: reads the few members of the service's success body that say
 * whose payment it is. Not a JSON parser: the body is one flat object of
 * the contract's shape, and anything else is reported as malformed.
 */
#include <string.h>

#include "check.h"

/* The text of member "key" (after the colon and blanks) in body, or NULL. */
static const char *member(const char *body, size_t len, const char *key, size_t *rest)
{
	size_t klen = strlen(key);
	for (size_t i = 0; i + klen + 2 < len; i++) {
		if (body[i] != '"' || memcmp(body + i + 1, key, klen) != 0 ||
		    body[i + 1 + klen] != '"')
			continue;
		size_t j = i + klen + 2;
		while (j < len && (body[j] == ' ' || body[j] == '\t'))
			j++;
		if (j >= len || body[j] != ':')
			continue; /* the key text appeared as a value */
		j++;
		while (j < len && (body[j] == ' ' || body[j] == '\t'))
			j++;
		*rest = len - j;
		return body + j;
	}
	return NULL;
}

/* The length of the number token at v (digits, '.', '-'), or 0 when
 * what follows it cannot end a JSON value (4.9e1 is not 4.9). */
static size_t number_len(const char *v, size_t rest)
{
	size_t n = 0;
	while (n < rest && ((v[n] >= '0' && v[n] <= '9') || v[n] == '.' || v[n] == '-'))
		n++;
	if (n < rest && !strchr(",} \t\r\n", v[n]))
		return 0;
	return n;
}

bool check_parse_cents(const char *text, size_t len, int64_t *cents)
{
	int64_t whole = 0, frac = 0;
	size_t i = 0, digits = 0, decimals = 0;
	for (; i < len && text[i] >= '0' && text[i] <= '9'; i++, digits++) {
		if (digits == 15)
			return false;
		whole = whole * 10 + (text[i] - '0');
	}
	if (digits == 0)
		return false;
	if (i < len && text[i] == '.') {
		for (i++; i < len && text[i] >= '0' && text[i] <= '9'; i++, decimals++) {
			if (decimals == 2)
				return false;
			frac = frac * 10 + (text[i] - '0');
		}
		if (decimals == 0)
			return false;
	}
	if (i != len)
		return false;
	*cents = whole * 100 + (decimals == 1 ? frac * 10 : frac);
	return true;
}

enum check_result check_response(const char *body, size_t len, const char *user_id, int64_t cents,
				 struct check_payment *out)
{
	size_t rest;
	const char *v = member(body, len, "status", &rest);
	if (!v || rest < 9 || memcmp(v, "\"success\"", 9) != 0)
		return CHECK_MALFORMED;

	v = member(body, len, "payment_id", &rest);
	size_t n = v ? number_len(v, rest) : 0;
	if (n == 0 || n > 19)
		return CHECK_MALFORMED;
	uint64_t id = 0;
	for (size_t i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return CHECK_MALFORMED;
		id = id * 10 + (uint64_t)(v[i] - '0');
	}

	v = member(body, len, "amount", &rest);
	int64_t got;
	if (!v || !check_parse_cents(v, number_len(v, rest), &got))
		return CHECK_MALFORMED;

	v = member(body, len, "user_id", &rest);
	if (!v || rest < 2 || v[0] != '"')
		return CHECK_MALFORMED;
	const char *user = v + 1;
	const char *end = memchr(user, '"', rest - 1);
	if (!end)
		return CHECK_MALFORMED;
	size_t user_len = (size_t)(end - user);

	v = member(body, len, "cached", &rest);
	out->cached = v && rest >= 4 && memcmp(v, "true", 4) == 0;
	out->payment_id = id;
	out->cents = got;
	if (user_len != strlen(user_id) || memcmp(user, user_id, user_len) != 0 || got != cents)
		return CHECK_LEAK;
	return CHECK_OK;
}
