/*
 * paymap.h: the payments a run saw, for the ledger check and the
 * double-charge check.
 *
 * The service's ledger must hold exactly the distinct payment ids the
 * clients were told about, with their amounts: the sum of those amounts
 * is compared with racelab_ledger_cents_total and their count with
 * racelab_charges_total (scripts/ledger_check.py). A user who is told of
 * two different payment ids was charged twice: the cache lost the first
 * one, or two requests both missed it.
 *
 * Each event-loop thread fills its own maps; they are merged once the
 * run is over, so no lock is taken while requests are timed.
 */
#ifndef RACELAB_LOADGEN_PAYMAP_H
#define RACELAB_LOADGEN_PAYMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PAYMAP_USER_MAX 64 /* bytes with the NUL; the loadgen's ids are shorter */

struct paymap_payment {
	uint64_t id;
	int64_t cents;
	bool used;
};

struct paymap_user {
	char user[PAYMAP_USER_MAX];
	uint64_t first_id;
	bool used;
	bool charged_twice; /* saw a payment id other than first_id */
};

struct paymap {
	struct paymap_payment *pay;
	size_t pay_cap, pay_n;
	struct paymap_user *users;
	size_t user_cap, user_n;
	uint64_t conflicts; /* one payment id seen with two amounts */
	int64_t cents_total;
};

bool paymap_init(struct paymap *m);
void paymap_free(struct paymap *m);
/* Records that user was told of payment id for cents; false when out of
 * memory. */
bool paymap_add(struct paymap *m, const char *user, uint64_t id, int64_t cents);
bool paymap_merge(struct paymap *into, const struct paymap *from);
/* Users told of more than one payment id. */
size_t paymap_charged_twice(const struct paymap *m);

#endif
