/*
 * fuzz_request.c: libFuzzer target for the request parser and the amount
 * parser (make fuzz).
 *
 * Besides "no crash, no sanitizer report", each input checks what the
 * service relies on: an accepted request has a user id of 1 to 31 bytes
 * with no control byte and an amount in 1..max; the amount parser agrees
 * with itself (the cents it gives print back to text that parses to the
 * same cents); and a body that is accepted stays accepted, with the same
 * result, when the amount is printed back into it (no literal means two
 * things).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "money.h"
#include "request.h"

#define MAX 1000000

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_money(const char *s, size_t n)
{
	int64_t cents = 0, again = 0;
	if (money_parse(s, n, MAX, &cents) != MONEY_OK)
		return;
	if (cents < 1 || cents > MAX)
		abort();
	char buf[32];
	money_format(cents, buf, sizeof(buf));
	if (money_parse(buf, strlen(buf), MAX, &again) != MONEY_OK || again != cents)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *body = (const char *)data;
	check_money(body, size < 64 ? size : 64);
	struct payment_request pr;
	char err[REQUEST_ERR_MAX];
	if (request_parse(body, size, MAX, &pr, err) != 0) {
		if (!err[0] || strlen(err) >= REQUEST_ERR_MAX)
			abort();
		return 0;
	}
	size_t n = strlen(pr.user_id);
	if (n == 0 || n >= CACHE_USER_ID_MAX || pr.cents < 1 || pr.cents > MAX)
		abort();
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)pr.user_id[i] < 0x20 || pr.user_id[i] == 0x7f)
			abort();
	/* The same request, written canonically, parses to the same thing. */
	char amount[32], canon[128];
	money_format(pr.cents, amount, sizeof(amount));
	int len = 0;
	len += snprintf(canon + len, sizeof(canon) - (size_t)len, "{\"amount\":%s,\"user_id\":\"",
			amount);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)pr.user_id[i];
		if (c == '"' || c == '\\')
			canon[len++] = '\\';
		canon[len++] = (char)c;
	}
	len += snprintf(canon + len, sizeof(canon) - (size_t)len, "\"}");
	struct payment_request again;
	if (request_parse(canon, (size_t)len, MAX, &again, err) != 0 ||
	    strcmp(again.user_id, pr.user_id) != 0 || again.cents != pr.cents)
		abort();
	return 0;
}
