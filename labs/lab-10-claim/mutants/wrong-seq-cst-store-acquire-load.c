/* WRONG (unseen on x86_64): seq_cst store, acquire load: C11 lets both loads read 0 */
/*
 * claim.c: which settlement worker charges a payment. Lab 10, memory
 * ordering, the one reordering x86 does show: each worker raises its own
 * flag, then reads the other's, and charges only when that flag is down.
 * For that to exclude the other worker, each worker's store must be
 * ordered before its own later load. broken/claim.c stores with
 * memory_order_release and loads with memory_order_acquire, the pair that
 * fixes lab 8: release orders what comes before the store, acquire what
 * comes after the load, and neither orders a store before a later load of
 * another variable. On x86 both are plain moves, and the CPU's store
 * buffer lets the load run while the store still waits to reach the
 * cache: each worker reads the other's flag as 0, both are alone, and the
 * payment is charged twice. fixed/claim.c stores and loads the flags
 * memory_order_seq_cst: the seq_cst accesses of all threads take one
 * total order, so at least one worker reads the other's flag as 1
 * (gcc 12 -O2 on x86: the store becomes xchg, a locked instruction that
 * waits for the store buffer to drain; the load stays a mov).
 *
 * The fixed twin's annotations are part of the fix, for Valgrind's sake.
 * Helgrind and DRD know no C11 atomics and see the flags as plain memory,
 * so they would report the flags, and the payment the claim protects, as
 * racy. The flag words are taken out of their data-race check
 * (VALGRIND_HG_DISABLE_CHECKING, their 8 bytes and nothing else); an
 * ANNOTATE_HAPPENS_BEFORE on the releasing side's flag just before its
 * store and an ANNOTATE_HAPPENS_AFTER on it just after a load that saw it
 * down tell them that a worker that finds itself alone comes after the
 * other's last claim. Outside Valgrind every annotation is a no-op, and
 * ThreadSanitizer ignores them: it checks the atomics themselves.
 * Race pairs, no lock and no store-to-load order: claim.try.window, c->up:
 * "atomic_store_explicit(&c->up[side], 1" at line 80 (W) vs
 * "atomic_load_explicit(&c->up[1 - side]" at line 85 (R) in another thread;
 * "atomic_store_explicit(&c->up[side], 0" at line 95 (W, claim_release) vs the
 * same load: no data race in C11, but Helgrind and DRD, which do not know C11
 * atomics, report them. The payment both workers then charge is the
 * caller's, and its accesses race only when both are alone.
 */
#include <stdatomic.h>
#include <stdlib.h>

#include "claim.h"
#include "racepoint.h"

struct claim {
	atomic_int up[2]; /* up[side] = 1: side is claiming or holds the claim */
};

struct claim *claim_create(void)
{
	struct claim *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	atomic_init(&c->up[CLAIM_PRIMARY], 0);
	atomic_init(&c->up[CLAIM_FAILOVER], 0);
	return c;
}

void claim_destroy(struct claim *c)
{
	if (!c)
		return;
	free(c);
}

void claim_reset(struct claim *c)
{
	atomic_store_explicit(&c->up[CLAIM_PRIMARY], 0, memory_order_relaxed);
	atomic_store_explicit(&c->up[CLAIM_FAILOVER], 0, memory_order_relaxed);
}

bool claim_try(struct claim *c, enum claim_side side)
{
	/* Raise this side's flag, then look at the other's. The store must be
	 * visible to the other worker before this load reads: release does
	 * not order it before a later load, and on x86 the load may pass the
	 * store, still in this CPU's store buffer; seq_cst orders both in
	 * one total order. */
	atomic_store_explicit(&c->up[side], 1, memory_order_seq_cst);
	RACE_POINT("claim.try.window");
	if (atomic_load_explicit(&c->up[1 - side], memory_order_acquire)) {
		/* The other side is claiming: back off, holding nothing. */
		atomic_store_explicit(&c->up[side], 0, memory_order_release);
		return false;
	}
	return true; /* alone */
}

void claim_release(struct claim *c, enum claim_side side)
{
	atomic_store_explicit(&c->up[side], 0, memory_order_release);
}
