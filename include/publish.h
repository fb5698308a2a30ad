/*
 * publish.h: handing a payment response from the thread that computed it
 * to the thread that sends it (lab 8).
 *
 * A slot holds one response. The computing thread writes the response
 * (plain memory: the payload) and then sets the slot's flag (a C11
 * atomic); the sending thread polls the flag and, once it is set, copies
 * the payload out and sends it. The flag is the only thing the two threads
 * share on purpose: whether seeing it set also means seeing the payload
 * written before it is the whole lab.
 *
 * Two files implement this API with the same name and the same behaviour
 * when only one thread uses them:
 *   fixed/publish.c   release store, acquire load: a sender that sees the
 *                     flag sees the payload written before it
 *   broken/publish.c  relaxed store, relaxed load: nothing orders the
 *                     payload against the flag (a data race in C11)
 *
 * One response per slot between resets. A response is copied in and out by
 * value, so no caller holds a pointer into a slot after a call returns.
 * Money is integer cents.
 */
#ifndef RACELAB_PUBLISH_H
#define RACELAB_PUBLISH_H

#include <stdbool.h>
#include <stdint.h>

#define PUBLISH_USER_ID_MAX 32 /* bytes, with the terminating NUL */

struct publish_response {
	char user_id[PUBLISH_USER_ID_MAX]; /* the user to send it to */
	int64_t amount_cents;		   /* 4999 for $49.99 */
	uint64_t request_id;		   /* which request produced it */
};

struct publish_slot;

/* A new slot, empty (nothing published), its payload zeroed. Returns NULL
 * when out of memory. */
struct publish_slot *publish_slot_create(void);
void publish_slot_destroy(struct publish_slot *s);

/* Makes the slot empty again, ready for the next response. The payload
 * keeps the last response until the next publish_put() overwrites it, as
 * a reused buffer does. No other thread may be using the slot. */
void publish_slot_reset(struct publish_slot *s);

/* The computing thread: copies *resp into the slot, then marks it
 * published. At most one call per slot between resets, and only one
 * thread publishes into a slot. */
void publish_put(struct publish_slot *s, const struct publish_response *resp);

/* The sending thread: when the slot is published, copies the response
 * into *out and returns true; otherwise returns false and leaves *out
 * alone. Never blocks: a sender polls. */
bool publish_get(struct publish_slot *s, struct publish_response *out);

#endif
