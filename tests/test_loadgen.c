/*
 * test_loadgen.c: racelab-loadgen's pieces that decide what a run
 * reports: the histogram's buckets and percentiles, the check that a
 * response belongs to its request, the payment maps, and the response
 * parser the event loop asks after every read.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "check.h"
#include "hist.h"
#include "http.h"
#include "paymap.h"

static void hist_buckets_hold_their_values(void **state)
{
	(void)state;
	/* Every value lands in a bucket whose top is at or above it and
	 * within 1/1024 of it: the precision hist.h promises. */
	for (uint64_t v = 0; v < (UINT64_C(1) << 34); v = v < 1000 ? v + 1 : v + v / 97) {
		int i = hist_index(v);
		uint64_t top = hist_bucket_top(i);
		assert_true(i >= 0 && i < HIST_BUCKETS);
		assert_true(top >= v);
		assert_true((double)(top - v) <= (double)v / 1024.0 + 1.0);
		if (i > 0) /* and not in the bucket below */
			assert_true(hist_bucket_top(i - 1) < v);
	}
	assert_int_equal(hist_index(UINT64_MAX), HIST_BUCKETS - 1);
}

static void hist_percentiles(void **state)
{
	(void)state;
	struct hist *h = calloc(1, sizeof(*h));
	assert_int_equal(hist_percentile(h, 99), 0);
	/* 1..1000 ms: p50 is 500 ms, p99 990 ms, within the precision. */
	for (uint64_t ms = 1; ms <= 1000; ms++)
		hist_record(h, ms * 1000);
	uint64_t p50 = hist_percentile(h, 50), p99 = hist_percentile(h, 99);
	assert_true(p50 >= 500000 && p50 <= 500000 + 500000 / 1024);
	assert_true(p99 >= 990000 && p99 <= 990000 + 990000 / 1024);
	assert_int_equal(hist_percentile(h, 100), 1000000); /* the exact maximum */
	struct hist *g = calloc(1, sizeof(*g));
	hist_record(g, 5000000);
	hist_merge(h, g);
	assert_int_equal(h->count, 1001);
	assert_int_equal(h->max, 5000000);
	free(g);
	free(h);
}

static const char ok_body[] = "{\"status\":\"success\",\"message\":\"payment processed\","
			      "\"amount\":49.99,\"user_id\":\"user-3-7\",\"payment_id\":123,"
			      "\"cached\":true}";

static void check_own_payment(void **state)
{
	(void)state;
	struct check_payment p;
	assert_int_equal(check_response(ok_body, strlen(ok_body), "user-3-7", 4999, &p), CHECK_OK);
	assert_int_equal(p.payment_id, 123);
	assert_int_equal(p.cents, 4999);
	assert_true(p.cached);
}

static void check_leaks(void **state)
{
	(void)state;
	struct check_payment p;
	/* another user, a prefix of the user, another amount */
	assert_int_equal(check_response(ok_body, strlen(ok_body), "user-3-8", 4999, &p),
			 CHECK_LEAK);
	assert_int_equal(check_response(ok_body, strlen(ok_body), "user-3-77", 4999, &p),
			 CHECK_LEAK);
	assert_int_equal(check_response(ok_body, strlen(ok_body), "user-3-7", 5000, &p),
			 CHECK_LEAK);
}

static void check_malformed(void **state)
{
	(void)state;
	struct check_payment p;
	const char *bad[] = {
		"{\"status\":\"error\",\"message\":\"payment processing failed\"}",
		"{\"status\":\"success\",\"amount\":49.99,\"user_id\":\"user-3-7\"}",
		"{\"status\":\"success\",\"amount\":49.999,\"user_id\":\"user-3-7\",\"payment_id\":"
		"1}",
		"{\"status\":\"success\",\"amount\":4.9e1,\"user_id\":\"user-3-7\",\"payment_id\":"
		"1}",
		"{\"status\":\"success\",\"amount\":49.99,\"user_id\":\"user-3-7,\"payment_id\":x}",
		"",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(check_response(bad[i], strlen(bad[i]), "user-3-7", 4999, &p),
				 CHECK_MALFORMED);
}

static void check_cents(void **state)
{
	(void)state;
	int64_t c;
	assert_true(check_parse_cents("49.99", 5, &c) && c == 4999);
	assert_true(check_parse_cents("5.5", 3, &c) && c == 550);
	assert_true(check_parse_cents("7", 1, &c) && c == 700);
	assert_false(check_parse_cents("1.234", 5, &c));
	assert_false(check_parse_cents("-1", 2, &c));
	assert_false(check_parse_cents("1.", 2, &c));
	assert_false(check_parse_cents(".5", 2, &c));
	assert_false(check_parse_cents("1e3", 3, &c));
	assert_false(check_parse_cents("1234567890123456", 16, &c));
}

static void paymap_counts(void **state)
{
	(void)state;
	struct paymap a, b;
	assert_true(paymap_init(&a) && paymap_init(&b));
	/* Enough payments to make both tables grow several times. */
	for (uint64_t i = 1; i <= 1000; i++) {
		char user[32];
		snprintf(user, sizeof(user), "user-%llu", (unsigned long long)i);
		assert_true(paymap_add(&a, user, i, 100));
		assert_true(paymap_add(&a, user, i, 100)); /* a cached answer: same id */
	}
	assert_int_equal(a.pay_n, 1000);
	assert_int_equal(a.cents_total, 100000);
	assert_int_equal(paymap_charged_twice(&a), 0);
	assert_true(paymap_add(&b, "user-1", 1, 100));	  /* the same payment */
	assert_true(paymap_add(&b, "user-2", 5000, 250)); /* user-2 charged again */
	assert_true(paymap_add(&b, "user-x", 5001, 100)); /* a new user */
	assert_true(paymap_add(&b, "user-y", 3, 999));	  /* id 3 with another amount */
	assert_true(paymap_merge(&a, &b));
	assert_int_equal(a.pay_n, 1002);
	assert_int_equal(a.cents_total, 100000 + 250 + 100);
	assert_int_equal(a.conflicts, 1);
	assert_int_equal(paymap_charged_twice(&a), 1);
	assert_int_equal(a.user_n, 1002);
	paymap_free(&a);
	paymap_free(&b);
}

static enum http_parse parse(const char *text, bool eof, struct http_response *r)
{
	return http_parse(text, strlen(text), eof, r);
}

static void http_parse_whole_and_partial(void **state)
{
	(void)state;
	struct http_response r;
	const char *ok = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
	assert_int_equal(parse(ok, false, &r), HTTP_PARSE_DONE);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.body_len, 5);
	assert_memory_equal(r.body, "hello", 5);
	assert_false(r.close);
	/* Every prefix is not whole yet; at EOF the caller counts a reset. */
	for (size_t n = 0; n < strlen(ok); n++)
		assert_int_equal(http_parse(ok, n, false, &r), HTTP_PARSE_MORE);
	assert_int_equal(http_parse(ok, 20, true, &r), HTTP_PARSE_MORE);
	/* A body ended by the server closing. */
	const char *closing = "HTTP/1.0 500 Oops\r\n\r\nbye";
	assert_int_equal(parse(closing, false, &r), HTTP_PARSE_MORE);
	assert_int_equal(parse(closing, true, &r), HTTP_PARSE_DONE);
	assert_int_equal(r.status, 500);
	assert_int_equal(r.body_len, 3);
	assert_true(r.close);
	assert_int_equal(parse("HTTP/1.1 200 OK\r\nconnection: Close\r\nContent-Length: 0\r\n\r\n",
			       false, &r),
			 HTTP_PARSE_DONE);
	assert_true(r.close);
}

static void http_parse_bad(void **state)
{
	(void)state;
	struct http_response r;
	const char *bad[] = {
		"HTTX/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 2x0 OK\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 99999\r\n\r\n",
		/* an answer and then another: nothing asked for the second */
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(parse(bad[i], false, &r), HTTP_PARSE_BAD);
	/* A full buffer with no end of head in it. */
	static char full[HTTP_BUF];
	memset(full, 'x', sizeof(full));
	assert_int_equal(http_parse(full, sizeof(full), false, &r), HTTP_PARSE_BAD);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(hist_buckets_hold_their_values),
		cmocka_unit_test(hist_percentiles),
		cmocka_unit_test(check_own_payment),
		cmocka_unit_test(check_leaks),
		cmocka_unit_test(check_malformed),
		cmocka_unit_test(check_cents),
		cmocka_unit_test(paymap_counts),
		cmocka_unit_test(http_parse_whole_and_partial),
		cmocka_unit_test(http_parse_bad),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
