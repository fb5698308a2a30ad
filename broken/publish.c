/*
 * publish.c: publishing a payment response through a flag. Lab 8, memory
 * ordering: the computing thread writes the payload, then sets an atomic
 * flag; the sending thread sees the flag and reads the payload. The flag is
 * atomic, so the flag itself cannot race. broken/publish.c makes both flag
 * accesses memory_order_relaxed: nothing orders the payload against them, so
 * having read the flag as 1 does not make the payload's write happen before
 * its read (the compiler may sink the payload stores below the flag store or
 * hoist the loads above the flag load, and an ARM or POWER core may make the
 * stores visible in another order); the sender then sends the previous
 * response (stale_payload), and in C11 this is a data race, undefined
 * behaviour, whatever the machine does. fixed/publish.c stores the flag with
 * memory_order_release and loads it with memory_order_acquire: a release
 * store that an acquire load reads from synchronizes with it, so every
 * write before the store (the whole payload) happens before every read after
 * the load (on x86 both are plain moves; on ARM they become stlr and ldar).
 *
 * The fixed twin's annotations are part of the fix, for Valgrind's sake.
 * Helgrind and DRD know no C11 atomics and see a release store and an
 * acquire load as plain ones, so they would report the payload as racy.
 * ANNOTATE_HAPPENS_BEFORE(&s->ready) just before the release store and
 * ANNOTATE_HAPPENS_AFTER(&s->ready) just after an acquire load that saw 1
 * tell them the ordering the atomics really give. The flag word itself is
 * taken out of their data-race check (VALGRIND_HG_DISABLE_CHECKING on its 4
 * bytes, and nothing else): it is an atomic, which C11 says cannot be in a
 * data race. Outside Valgrind every annotation is a no-op, and
 * ThreadSanitizer ignores them: it checks the atomics themselves.
 * Race pairs, no lock and no acquire/release order: publish.flag.window, s->resp:
 * "s->resp = *resp" at line 68 (W) vs "*out = s->resp" at line 82 (R) in another thread;
 * s->ready: "atomic_store_explicit(&s->ready, 1" at line 73 (W) vs
 * "atomic_load_explicit(&s->ready" at line 78 (R): no data race in C11, but Helgrind
 * and DRD, which do not know C11 atomics, report one.
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
	s->resp = *resp; /* write: the payload */
	RACE_POINT("publish.flag.window");
	/* The flag's store: relaxed, it may become visible before the payload
	 * stores above, to a compiler or to a weakly ordered CPU; release, it
	 * cannot, to a thread that reads the flag with acquire. */
	atomic_store_explicit(&s->ready, 1, memory_order_relaxed);
}

bool publish_get(struct publish_slot *s, struct publish_response *out)
{
	if (!atomic_load_explicit(&s->ready, memory_order_relaxed))
		return false;
	/* Having seen 1: relaxed, that says nothing about the payload stores;
	 * acquire, this thread sees the whole payload. */
	*out = s->resp; /* read: the payload */
	return true;
}
