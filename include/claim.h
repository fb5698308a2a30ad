/*
 * claim.h: two settlement workers deciding which of them charges a payment
 * (lab 10).
 *
 * The primary settlement worker and the failover worker may both pick up
 * the same payment (a retry after a timeout hands it to the failover
 * worker while the primary is still on it). Each side has its own flag on
 * the payment. To claim it, a worker raises its own flag and then reads
 * the other's: down, it is alone, and it charges the payment and lowers
 * its flag; up, it lowers its own flag again and backs off, leaving the
 * payment to the other (Dekker's "am I alone in this section" without the
 * turn). Both may back off: the payment then waits for the next sweep,
 * which is allowed. Both must never be alone at once: that charges the
 * payment twice.
 *
 * Two files implement this API with the same name and the same behaviour
 * when only one thread uses them:
 *   fixed/claim.c   the flags are stored and loaded memory_order_seq_cst:
 *                   the store is ordered before the later load
 *   broken/claim.c  release store, acquire load: nothing orders a store
 *                   before a later load of another variable, and on x86 the
 *                   store buffer lets each worker's load pass its own store
 *
 * A side is CLAIM_PRIMARY or CLAIM_FAILOVER; one thread at a time uses a
 * side of a claim.
 */
#ifndef RACELAB_CLAIM_H
#define RACELAB_CLAIM_H

#include <stdbool.h>

enum claim_side { CLAIM_PRIMARY = 0, CLAIM_FAILOVER = 1 };

struct claim;

/* A new claim, both flags down. Returns NULL when out of memory. */
struct claim *claim_create(void);
void claim_destroy(struct claim *c);

/* Lowers both flags, for the next payment. No other thread may be using
 * the claim. */
void claim_reset(struct claim *c);

/* Tries to claim the payment for side: true when this side is alone, and
 * then it holds the claim until claim_release(); false when the other
 * side's flag was up, and then this side holds nothing. Never blocks. */
bool claim_try(struct claim *c, enum claim_side side);

/* Gives up a claim that claim_try() granted to side. */
void claim_release(struct claim *c, enum claim_side side);

#endif
