/* WRONG: an acquire load in the sender, but the flag is still stored relaxed */
/*
 * broken/publish.c: publishing a payment response with a relaxed flag.
 * Lab 8, memory ordering: the computing thread writes the response, then
 * sets an atomic flag; the sending thread sees the flag and reads the
 * response. The flag is atomic, so the flag itself cannot race, but both
 * accesses are memory_order_relaxed: nothing orders the payload against
 * it. Same API and same code as fixed/publish.c, minus the ordering (and
 * minus the Valgrind annotations that state it).
 *
 * Race pairs, DataRaceBench style: variable, "code" at line N, read (R)
 * or write (W). No lock and no acquire/release order on either side.
 *   publish.flag.window  s->resp, the payload: "s->resp = *resp" at line
 *                        64 (W, publish_put) vs "*out = s->resp" at line
 *                        76 (R, publish_get) in another thread. Having
 *                        read the flag as 1 does not make the write
 *                        happen before the read: the compiler may sink
 *                        the payload stores below the flag store or hoist
 *                        the payload loads above the flag load, and an
 *                        ARM or POWER core may make the stores visible in
 *                        another order. The sender then sends the
 *                        previous response (stale_payload). In C11 this
 *                        is a data race, undefined behaviour, whatever the
 *                        machine does.
 *   s->ready             "atomic_store_explicit(&s->ready, 1" at line 68
 *                        (W) vs "atomic_load_explicit(&s->ready" at line
 *                        73 (R): atomic, so no data race in C11, but
 *                        Helgrind and DRD do not know C11 atomics and
 *                        report it as one.
 */
#include <stdatomic.h>
#include <stdlib.h>

#include "publish.h"
#include "racepoint.h"

struct publish_slot {
	struct publish_response resp; /* the payload: plain memory */
	atomic_int ready;	      /* 1: resp holds the response to send */
};

struct publish_slot *publish_slot_create(void)
{
	struct publish_slot *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	atomic_init(&s->ready, 0);
	return s;
}

void publish_slot_destroy(struct publish_slot *s)
{
	if (!s)
		return;
	free(s);
}

void publish_slot_reset(struct publish_slot *s)
{
	atomic_store_explicit(&s->ready, 0, memory_order_relaxed);
}

void publish_put(struct publish_slot *s, const struct publish_response *resp)
{
	s->resp = *resp; /* write: races with the read in publish_get() */
	RACE_POINT("publish.flag.window");
	/* Relaxed: the store of 1 may become visible before the payload
	 * stores above, to a compiler or to a weakly ordered CPU. */
	atomic_store_explicit(&s->ready, 1, memory_order_relaxed);
}

bool publish_get(struct publish_slot *s, struct publish_response *out)
{
	if (!atomic_load_explicit(&s->ready, memory_order_acquire))
		return false;
	/* Acquire: having seen 1, the payload is there. */
	*out = s->resp; /* read: may be the previous response */
	return true;
}
