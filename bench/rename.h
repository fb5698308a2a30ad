/*
 * rename.h: lets several implementations of include/cache.h live in one
 * program. Forced in front of a cache source (-include bench/rename.h)
 * with -DBENCH_DESIGN=name, it renames the API's public functions to
 * name_cache_get and so on, so the benchmark links broken/cache.c and
 * fixed/cache.c unchanged, beside the designs in bench/, and measures the
 * very code the labs use.
 */
#ifndef RACELAB_BENCH_RENAME_H
#define RACELAB_BENCH_RENAME_H

#define BENCH_CAT2(a, b) a##_##b
#define BENCH_CAT(a, b)	 BENCH_CAT2(a, b)

#define cache_create  BENCH_CAT(BENCH_DESIGN, cache_create)
#define cache_destroy BENCH_CAT(BENCH_DESIGN, cache_destroy)
#define cache_get     BENCH_CAT(BENCH_DESIGN, cache_get)
#define cache_put     BENCH_CAT(BENCH_DESIGN, cache_put)
#define cache_evict   BENCH_CAT(BENCH_DESIGN, cache_evict)
#define cache_count   BENCH_CAT(BENCH_DESIGN, cache_count)
#define cache_buckets BENCH_CAT(BENCH_DESIGN, cache_buckets)
#define cache_check   BENCH_CAT(BENCH_DESIGN, cache_check)

#endif
