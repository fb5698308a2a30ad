/*
 * hist.c: the log-bucket latency histogram (see hist.h).
 */
#include "hist.h"

static int top_bit(uint64_t v)
{
	return 63 - __builtin_clzll(v);
}

int hist_index(uint64_t us)
{
	if (us < HIST_LINEAR)
		return (int)us;
	int e = top_bit(us);
	if (e > HIST_TOP_EXP) /* clamp into the last bucket */
		return HIST_BUCKETS - 1;
	/* The bits below the top bit pick one of HIST_SUB buckets of 2^(e-SUB_BITS). */
	uint64_t sub = (us >> (e - HIST_SUB_BITS)) - HIST_SUB;
	return HIST_LINEAR + (e - HIST_SUB_BITS - 1) * HIST_SUB + (int)sub;
}

uint64_t hist_bucket_top(int index)
{
	if (index < HIST_LINEAR)
		return (uint64_t)index;
	int e = (index - HIST_LINEAR) / HIST_SUB + HIST_SUB_BITS + 1;
	uint64_t sub = (uint64_t)((index - HIST_LINEAR) % HIST_SUB) + HIST_SUB;
	return ((sub + 1) << (e - HIST_SUB_BITS)) - 1;
}

void hist_record(struct hist *h, uint64_t us)
{
	h->counts[hist_index(us)]++;
	h->count++;
	if (us > h->max)
		h->max = us;
}

void hist_merge(struct hist *into, const struct hist *from)
{
	for (int i = 0; i < HIST_BUCKETS; i++)
		into->counts[i] += from->counts[i];
	into->count += from->count;
	if (from->max > into->max)
		into->max = from->max;
}

uint64_t hist_percentile(const struct hist *h, double p)
{
	if (h->count == 0)
		return 0;
	/* The rank of the value at p: at least 1, at most count. */
	uint64_t rank = (uint64_t)(p / 100.0 * (double)h->count + 0.999999);
	if (rank < 1)
		rank = 1;
	if (rank > h->count)
		rank = h->count;
	uint64_t seen = 0;
	for (int i = 0; i < HIST_BUCKETS; i++) {
		seen += h->counts[i];
		if (seen >= rank) {
			uint64_t top = hist_bucket_top(i);
			return top < h->max ? top : h->max;
		}
	}
	return h->max;
}
