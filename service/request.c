/*
 * request.c: the payment request's body, parsed by jansson, with the
 * amount read from its own characters.
 *
 * jansson (like cJSON) turns every number with a point into a double, and
 * then the literal's text is gone: "49.999999999999999" and "50" become
 * the same double, and "49.99" becomes a value that is not 49.99. So,
 * before jansson sees the body, every number literal outside a string is
 * cut out and replaced with its index (0, 1, 2, ...), which jansson reads
 * as an exact small integer. The tree then says which member holds which
 * literal, and money_parse() reads that literal's characters. Finding the
 * literals needs only the string boundaries (a quote, and a backslash that
 * escapes the next byte); everything else, nesting, escapes, UTF-8,
 * duplicate members, is still jansson's job. A literal cut out this way
 * is no longer checked by jansson, so money_parse() checks the amount's
 * against JSON's number grammar itself, and every other number makes the
 * body a 400 anyway (the object has exactly two members).
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "money.h"
#include "request.h"

struct literal {
	size_t off, len;
};

/* A byte that can start (or continue) a number token. '+' and '.' are
 * not JSON, but taking them in gives "+5" and ".5" a precise reason. */
static bool starts_number(unsigned char c)
{
	return (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.';
}

static bool in_number(unsigned char c)
{
	return starts_number(c) || c == 'e' || c == 'E';
}

/*
 * Copies body into out (at least len * 2 + 1 bytes: each literal of one
 * byte may become two digits), each number literal outside a string
 * replaced by its index in lits. Returns the number of literals, -1 when
 * there are more than REQUEST_NUMBERS_MAX, or -2 when arrays and objects
 * nest deeper than REQUEST_DEPTH_MAX: jansson parses by recursion, on a
 * request thread's small stack.
 */
static int cut_numbers(const char *body, size_t len, char *out, struct literal *lits)
{
	size_t o = 0;
	int n = 0, depth = 0;
	bool in_string = false;
	for (size_t i = 0; i < len;) {
		unsigned char c = (unsigned char)body[i];
		if (in_string) {
			out[o++] = (char)c;
			i++;
			if (c == '\\' && i < len)
				out[o++] = body[i++];
			else if (c == '"')
				in_string = false;
		} else if (starts_number(c)) {
			if (n == REQUEST_NUMBERS_MAX)
				return -1;
			size_t start = i;
			while (i < len && in_number((unsigned char)body[i]))
				i++;
			lits[n].off = start;
			lits[n].len = i - start;
			o += (size_t)sprintf(out + o, "%d", n);
			n++;
		} else {
			out[o++] = (char)c;
			i++;
			if (c == '"')
				in_string = true;
			else if ((c == '[' || c == '{') && ++depth > REQUEST_DEPTH_MAX)
				return -2;
			else if (c == ']' || c == '}')
				depth--;
		}
	}
	out[o] = '\0';
	return n;
}

/* Whether the decoded user id is one the cache and the logs can hold: 1
 * to CACHE_USER_ID_MAX - 1 bytes, no C0 or C1 control character, no DEL
 * (jansson has already refused invalid UTF-8 and \u0000). */
static const char *user_id_problem(const char *s, size_t n)
{
	if (n == 0)
		return "user_id is empty";
	if (n >= CACHE_USER_ID_MAX)
		return "user_id is longer than 31 bytes";
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f)
			return "user_id has a control character";
		if (c == 0xc2 && i + 1 < n && (unsigned char)s[i + 1] >= 0x80 &&
		    (unsigned char)s[i + 1] <= 0x9f)
			return "user_id has a control character";
	}
	return NULL;
}

/* Checks the parsed object; the literals give the amount's text. */
static int check_object(json_t *root, const char *body, const struct literal *lits, int nlits,
			int64_t max_cents, struct payment_request *out, char *err)
{
	if (!json_is_object(root)) {
		snprintf(err, REQUEST_ERR_MAX, "body is not a JSON object");
		return -1;
	}
	const char *key;
	json_t *v;
	json_object_foreach(root, key, v)
	{
		if (strcmp(key, "user_id") != 0 && strcmp(key, "amount") != 0) {
			snprintf(err, REQUEST_ERR_MAX,
				 "unexpected member (only user_id and amount)");
			return -1;
		}
	}
	json_t *uid = json_object_get(root, "user_id");
	json_t *amt = json_object_get(root, "amount");
	if (!uid || !amt) {
		snprintf(err, REQUEST_ERR_MAX, "missing member %s", uid ? "amount" : "user_id");
		return -1;
	}
	if (!json_is_string(uid)) {
		snprintf(err, REQUEST_ERR_MAX, "user_id is not a string");
		return -1;
	}
	const char *problem = user_id_problem(json_string_value(uid), json_string_length(uid));
	if (problem) {
		snprintf(err, REQUEST_ERR_MAX, "%s", problem);
		return -1;
	}
	/* Every number was cut to its index, so a number here is an integer. */
	if (!json_is_integer(amt) || json_integer_value(amt) < 0 ||
	    json_integer_value(amt) >= nlits) {
		snprintf(err, REQUEST_ERR_MAX, "amount is not a number");
		return -1;
	}
	const struct literal *lit = &lits[json_integer_value(amt)];
	int64_t cents;
	enum money_err me = money_parse(body + lit->off, lit->len, max_cents, &cents);
	if (me != MONEY_OK) {
		snprintf(err, REQUEST_ERR_MAX, "%s", money_strerror(me));
		return -1;
	}
	memcpy(out->user_id, json_string_value(uid), json_string_length(uid));
	out->user_id[json_string_length(uid)] = '\0';
	out->cents = cents;
	return 0;
}

int request_parse(const char *body, size_t len, int64_t max_cents, struct payment_request *out,
		  char err[REQUEST_ERR_MAX])
{
	err[0] = '\0';
	if (len > REQUEST_BODY_MAX) {
		snprintf(err, REQUEST_ERR_MAX, "body is larger than %d bytes", REQUEST_BODY_MAX);
		return -1;
	}
	if (len == 0) {
		snprintf(err, REQUEST_ERR_MAX, "body is empty");
		return -1;
	}
	/* A body has no NUL: jansson would stop at it, and so would we. */
	if (memchr(body, '\0', len)) {
		snprintf(err, REQUEST_ERR_MAX, "body has a NUL byte");
		return -1;
	}
	char *text = malloc(len * 2 + 1);
	struct literal lits[REQUEST_NUMBERS_MAX];
	if (!text) {
		snprintf(err, REQUEST_ERR_MAX, "out of memory");
		return -1;
	}
	int nlits = cut_numbers(body, len, text, lits);
	int rc = -1;
	if (nlits == -1) {
		snprintf(err, REQUEST_ERR_MAX, "body has more than %d numbers",
			 REQUEST_NUMBERS_MAX);
	} else if (nlits == -2) {
		snprintf(err, REQUEST_ERR_MAX, "body nests deeper than %d levels",
			 REQUEST_DEPTH_MAX);
	} else {
		json_error_t jerr;
		json_t *root = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
		if (!root) {
			snprintf(err, REQUEST_ERR_MAX, "body is not valid JSON: %.80s", jerr.text);
		} else {
			rc = check_object(root, body, lits, nlits, max_cents, out, err);
			json_decref(root);
		}
	}
	free(text);
	return rc;
}
