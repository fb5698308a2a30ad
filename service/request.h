/*
 * request.h: the body of POST /process-payment, parsed and checked.
 *
 * The whole of what the service accepts from a client's body goes through
 * request_parse(), which is why it is one small module with no HTTP in it:
 * the CMocka suite and the fuzz target call it directly.
 */
#ifndef RACELAB_REQUEST_H
#define RACELAB_REQUEST_H

#include <stddef.h>
#include <stdint.h>

#include "cache.h"

#define REQUEST_BODY_MAX    4096 /* bytes; a larger body is a 413 */
#define REQUEST_NUMBERS_MAX 64	 /* number literals in one body */
#define REQUEST_DEPTH_MAX   16	 /* nested arrays and objects */
#define REQUEST_ERR_MAX	    128	 /* an error message, with its NUL */

struct payment_request {
	char user_id[CACHE_USER_ID_MAX]; /* 1 to CACHE_USER_ID_MAX - 1 bytes */
	int64_t cents;			 /* 1 to the maximum */
};

/*
 * Parses body[0..len) (no NUL needed) as {"user_id": "...", "amount": N}:
 * exactly those two members, a user id of 1 to CACHE_USER_ID_MAX - 1
 * bytes with no control characters, and an amount that money_parse()
 * accepts with max_cents. Returns 0 and fills *out, or -1 with a one-line
 * reason in err (REQUEST_ERR_MAX bytes), always a 400 for the caller.
 */
int request_parse(const char *body, size_t len, int64_t max_cents, struct payment_request *out,
		  char err[REQUEST_ERR_MAX]);

#endif
