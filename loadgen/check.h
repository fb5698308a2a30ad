/*
 * check.h: does a response belong to its request?
 *
 * The service answers with the user id and the amount of the payment it
 * returns. When either is not what this request sent, the service handed
 * this client another user's payment: a leak, the worst error there is
 * (the war story's cache returns whatever the map holds). Amounts are
 * compared as integer cents read from the text, never through a float.
 */
#ifndef RACELAB_LOADGEN_CHECK_H
#define RACELAB_LOADGEN_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum check_result {
	CHECK_OK,	/* a successful payment for this user and amount */
	CHECK_LEAK,	/* a successful payment for another user or amount */
	CHECK_MALFORMED /* not the contract's success body */
};

struct check_payment {
	uint64_t payment_id;
	int64_t cents;
	bool cached;
};

enum check_result check_response(const char *body, size_t len, const char *user_id, int64_t cents,
				 struct check_payment *out);

/* "49.99" -> 4999, "5" -> 500, "5.5" -> 550: at most two decimals,
 * digits only, at most 15 of them before the point. Returns false when
 * text[0..len) is not such an amount. */
bool check_parse_cents(const char *text, size_t len, int64_t *cents);

#endif
