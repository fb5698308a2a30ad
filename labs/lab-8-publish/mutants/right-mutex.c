/* RIGHT: a mutex per slot guards the payload and a plain flag; no atomics */
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
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "publish.h"
#include "racepoint.h"

struct publish_slot {
	struct publish_response resp; /* the payload: plain memory */
	int ready;		      /* 1: resp holds the response to send; under lock */
	pthread_mutex_t lock;	      /* guards resp and ready */
};

struct publish_slot *publish_slot_create(void)
{
	struct publish_slot *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->ready = 0;
	pthread_mutex_init(&s->lock, NULL);
	return s;
}

void publish_slot_destroy(struct publish_slot *s)
{
	if (!s)
		return;
	pthread_mutex_destroy(&s->lock);
	free(s);
}

void publish_slot_reset(struct publish_slot *s)
{
	pthread_mutex_lock(&s->lock);
	s->ready = 0;
	pthread_mutex_unlock(&s->lock);
}

void publish_put(struct publish_slot *s, const struct publish_response *resp)
{
	pthread_mutex_lock(&s->lock);
	s->resp = *resp; /* write: races with the read in publish_get() */
	RACE_POINT("publish.flag.window");
	s->ready = 1;
	pthread_mutex_unlock(&s->lock);
}

bool publish_get(struct publish_slot *s, struct publish_response *out)
{
	pthread_mutex_lock(&s->lock);
	bool ready = s->ready;
	if (ready)
		*out = s->resp; /* read: may be the previous response */
	pthread_mutex_unlock(&s->lock);
	return ready;
}
