/*
 * hist.h: a latency histogram with logarithmic buckets, laid out the way
 * HdrHistogram lays out its counts: values below 2048 us have a bucket
 * each; above, every power of two is cut into 1024 equal buckets, so any
 * recorded value is known to within 1/1024 (0.1%, HdrHistogram's three
 * significant digits) whatever its size: 0.3 ms at 300 ms, which matters
 * when a p99 is held to a 5 ms budget. A percentile is read by walking the
 * counts, not by sorting a sample.
 */
#ifndef RACELAB_LOADGEN_HIST_H
#define RACELAB_LOADGEN_HIST_H

#include <stdint.h>

#define HIST_SUB_BITS 10
#define HIST_SUB      (1 << HIST_SUB_BITS) /* buckets per power of two */
#define HIST_LINEAR   (2 << HIST_SUB_BITS) /* values below: one bucket each */
#define HIST_TOP_EXP  40		   /* 2^40 us (12 days): larger values are clamped */
#define HIST_BUCKETS  (HIST_LINEAR + (HIST_TOP_EXP - HIST_SUB_BITS) * HIST_SUB)

struct hist {
	uint64_t count;
	uint64_t max; /* exact, in us */
	uint64_t counts[HIST_BUCKETS];
};

void hist_record(struct hist *h, uint64_t us);
void hist_merge(struct hist *into, const struct hist *from);
/* The value at percentile p (0 < p <= 100), in us: the highest value of
 * the bucket holding it, never above the exact maximum; 0 when empty. */
uint64_t hist_percentile(const struct hist *h, double p);

/* The bucket a value falls in, and the highest value that bucket holds
 * (exposed for the unit test). */
int hist_index(uint64_t us);
uint64_t hist_bucket_top(int index);

#endif
