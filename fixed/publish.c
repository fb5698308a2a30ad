/*
 * fixed/publish.c: publishing a payment response with a release store and
 * an acquire load.
 *
 * The computing thread writes the payload, then stores the flag with
 * memory_order_release; the sending thread loads the flag with
 * memory_order_acquire. Why that is enough: a release store that an
 * acquire load reads from synchronizes with it, so every write made before
 * the store (the whole payload) happens before every read made after the
 * load. A sender that sees the flag set cannot see an older payload, and
 * the compiler and the CPU must keep that order (on x86 both are plain
 * moves, and the cost is only the reordering the compiler gives up; on
 * ARM they become stlr and ldar).
 *
 * The annotations are part of the fix, for Valgrind's sake. Helgrind and
 * DRD see a release store and an acquire load as a plain store and a plain
 * load: they know no C11 atomics, so they would report the payload as
 * racy. ANNOTATE_HAPPENS_BEFORE(&s->ready) just before the release store
 * and ANNOTATE_HAPPENS_AFTER(&s->ready) just after an acquire load that
 * saw 1 tell them the ordering the atomics really give, at the places it
 * holds. The flag word itself is taken out of their data-race check
 * (VALGRIND_HG_DISABLE_CHECKING on its 4 bytes, and nothing else): it is
 * an atomic, which C11 says cannot be in a data race, and no annotation
 * can order its store before a load that is racing to read it. Outside
 * Valgrind every annotation is a no-op, and ThreadSanitizer ignores them:
 * it checks the atomics themselves.
 */
#include <stdatomic.h>
#include <stdlib.h>

#include <valgrind/helgrind.h>

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
	/* For Valgrind: the flag is a synchronization word, not data. */
	VALGRIND_HG_DISABLE_CHECKING(&s->ready, sizeof(s->ready));
	return s;
}

void publish_slot_destroy(struct publish_slot *s)
{
	if (!s)
		return;
	/* For Valgrind: whatever is allocated here next is data again, with
	 * no ordering left over from this slot. */
	ANNOTATE_HAPPENS_BEFORE_FORGET_ALL(&s->ready);
	VALGRIND_HG_ENABLE_CHECKING(&s->ready, sizeof(s->ready));
	free(s);
}

void publish_slot_reset(struct publish_slot *s)
{
	atomic_store_explicit(&s->ready, 0, memory_order_relaxed);
}

void publish_put(struct publish_slot *s, const struct publish_response *resp)
{
	s->resp = *resp;
	RACE_POINT("publish.flag.window");
	/* Release: the payload stores above become visible no later than
	 * the flag, to any thread that reads it with acquire. */
	ANNOTATE_HAPPENS_BEFORE(&s->ready);
	atomic_store_explicit(&s->ready, 1, memory_order_release);
}

bool publish_get(struct publish_slot *s, struct publish_response *out)
{
	if (!atomic_load_explicit(&s->ready, memory_order_acquire))
		return false;
	ANNOTATE_HAPPENS_AFTER(&s->ready);
	/* Acquire: having seen 1, this thread sees the whole payload. */
	*out = s->resp;
	return true;
}
