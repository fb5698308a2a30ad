/*
 * test_request.c: the payment request's body, accepted or refused with
 * the right reason. Every refusal here is a 400 in the service; the HTTP
 * side of the same cases is tests/scripts/test_service.py.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "request.h"

#define MAX 1000000

static void accept(const char *body, const char *user, int64_t cents)
{
	struct payment_request pr;
	char err[REQUEST_ERR_MAX];
	if (request_parse(body, strlen(body), MAX, &pr, err) != 0)
		fail_msg("%s refused: %s", body, err);
	assert_string_equal(pr.user_id, user);
	assert_int_equal(pr.cents, cents);
}

/* Refused, with a reason that contains want. */
static void refuse(const char *body, size_t len, const char *want)
{
	struct payment_request pr;
	char err[REQUEST_ERR_MAX];
	if (request_parse(body, len, MAX, &pr, err) == 0)
		fail_msg("%.*s accepted, want: %s", (int)len, body, want);
	if (!strstr(err, want))
		fail_msg("%.*s: '%s', want '%s'", (int)len, body, err, want);
}

#define REFUSE(body, want) refuse(body, strlen(body), want)

static void test_accepts(void **state)
{
	(void)state;
	accept("{\"user_id\": \"user-3-7\", \"amount\": 49.99}", "user-3-7", 4999);
	accept("{\"amount\":0.29,\"user_id\":\"u\"}", "u", 29);
	accept(" {\n\t\"user_id\" : \"a\\\"b\" , \"amount\" : 10000 } ", "a\"b", 1000000);
	accept("{\"user_id\":\"\\u00e9t\\u00e9\",\"amount\":1.5}", "\xc3\xa9t\xc3\xa9", 150);
	/* 31 bytes: the longest the cache holds */
	accept("{\"user_id\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\",\"amount\":1}",
	       "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 100);
	/* numbers inside strings are not touched */
	accept("{\"user_id\":\"12.5e3\",\"amount\":2}", "12.5e3", 200);
	/* an escaped member name is the same name */
	accept("{\"\\u0075ser_id\":\"x\",\"amount\":3}", "x", 300);
}

static void test_refuses_amounts(void **state)
{
	(void)state;
	REFUSE("{\"user_id\":\"u\",\"amount\":49.999}", "two decimals");
	REFUSE("{\"user_id\":\"u\",\"amount\":0}", "zero");
	REFUSE("{\"user_id\":\"u\",\"amount\":-1}", "negative");
	REFUSE("{\"user_id\":\"u\",\"amount\":1e3}", "exponent");
	REFUSE("{\"user_id\":\"u\",\"amount\":10000.01}", "maximum");
	REFUSE("{\"user_id\":\"u\",\"amount\":\"5\"}", "not a number");
	REFUSE("{\"user_id\":\"u\",\"amount\":true}", "not a number");
	REFUSE("{\"user_id\":\"u\",\"amount\":null}", "not a number");
	REFUSE("{\"user_id\":\"u\",\"amount\":[5]}", "not a number");
	REFUSE("{\"user_id\":\"u\",\"amount\":NaN}", "not valid JSON");
	REFUSE("{\"user_id\":\"u\",\"amount\":Infinity}", "not valid JSON");
	REFUSE("{\"user_id\":\"u\",\"amount\":-Infinity}", "not valid JSON");
	REFUSE("{\"user_id\":\"u\",\"amount\":+5}", "sign");
	REFUSE("{\"user_id\":\"u\",\"amount\":.5}", "not a decimal number");
	REFUSE("{\"user_id\":\"u\",\"amount\":05}", "not a decimal number");
	REFUSE("{\"user_id\":\"u\",\"amount\":5.}", "not a decimal number");
}

static void test_refuses_user_ids(void **state)
{
	(void)state;
	REFUSE("{\"user_id\":\"\",\"amount\":1}", "empty");
	REFUSE("{\"user_id\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\",\"amount\":1}", "longer");
	REFUSE("{\"user_id\":\"a\\u0001b\",\"amount\":1}", "control");
	REFUSE("{\"user_id\":\"a\\nb\",\"amount\":1}", "control");
	REFUSE("{\"user_id\":\"a\\u007fb\",\"amount\":1}", "control");
	REFUSE("{\"user_id\":\"a\\u0085b\",\"amount\":1}", "control");
	REFUSE("{\"user_id\":\"a\\u0000b\",\"amount\":1}", "not valid JSON");
	REFUSE("{\"user_id\":\"a\xff\",\"amount\":1}", "not valid JSON");
	REFUSE("{\"user_id\":5,\"amount\":1}", "not a string");
	REFUSE("{\"user_id\":null,\"amount\":1}", "not a string");
}

static void test_refuses_shapes(void **state)
{
	(void)state;
	REFUSE("", "empty");
	REFUSE("{", "not valid JSON");
	REFUSE("[]", "not a JSON object");
	REFUSE("\"x\"", "not valid JSON");
	REFUSE("{}", "missing member user_id");
	REFUSE("{\"user_id\":\"u\"}", "missing member amount");
	REFUSE("{\"amount\":1}", "missing member user_id");
	REFUSE("{\"user_id\":\"u\",\"amount\":1,\"x\":1}", "unexpected member");
	REFUSE("{\"user_id\":\"u\",\"amount\":1,\"amount\":2}", "not valid JSON");
	REFUSE("{\"user_id\":\"u\",\"amount\":1} x", "not valid JSON");
	REFUSE("{\"user_id\":\"u\",\"amount\":1}{}", "not valid JSON");
	REFUSE("[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
	       "nests deeper");
	refuse("{\"user_id\":\"u\",\0\"amount\":1}", 27, "NUL");
	char big[REQUEST_BODY_MAX + 2];
	memset(big, ' ', sizeof(big));
	refuse(big, sizeof(big), "larger");
	char many[400] = "[";
	for (int i = 0; i < 70; i++)
		strcat(many, "1,");
	strcat(many, "1]");
	REFUSE(many, "numbers");
}

/* A body exactly at the limit is read in full (and here accepted). */
static void test_limit_is_inclusive(void **state)
{
	(void)state;
	char body[REQUEST_BODY_MAX + 1];
	const char *json = "{\"user_id\":\"u\",\"amount\":7}";
	memset(body, ' ', REQUEST_BODY_MAX);
	memcpy(body, json, strlen(json));
	body[REQUEST_BODY_MAX] = '\0';
	accept(body, "u", 700);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accepts),
		cmocka_unit_test(test_refuses_amounts),
		cmocka_unit_test(test_refuses_user_ids),
		cmocka_unit_test(test_refuses_shapes),
		cmocka_unit_test(test_limit_is_inclusive),
	};
	return cmocka_run_group_tests_name("request", tests, NULL, NULL);
}
