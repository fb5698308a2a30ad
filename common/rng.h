/*
 * rng.h: splitmix64, a small, fast, seedable generator. Each thread owns
 * its state, so the generator itself is never shared (sharing it would be
 * a race of its own).
 */
#ifndef RACELAB_RNG_H
#define RACELAB_RNG_H

#include <stdint.h>

static inline uint64_t rng_next(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* The seed of worker i in a round of a run seeded `seed`: every worker's
 * stream differs, and so does every round's, so a failing trial reruns
 * exactly from its seed. */
static inline uint64_t rng_thread_seed(uint64_t seed, int round, int i)
{
	return seed ^ ((uint64_t)round << 32) ^ ((uint64_t)i * 0x632be59bd9b4e019ULL);
}

/* The k-th seed of a family drawn from one seed (a round's gateway, a load
 * generator's connection): distinct for distinct k. */
static inline uint64_t rng_seed_k(uint64_t seed, uint64_t k)
{
	return seed * 1000003ULL + k;
}

/* A number in [0, n). The modulo bias is irrelevant at these sizes. */
static inline uint64_t rng_below(uint64_t *state, uint64_t n)
{
	return rng_next(state) % n;
}

#endif
