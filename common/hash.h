/*
 * hash.h: the string hash both cache builds use (64-bit FNV-1a).
 * Shared so that a key lands in the same bucket in the broken and the fixed
 * map, and so that tests can predict which keys collide.
 */
#ifndef RACELAB_HASH_H
#define RACELAB_HASH_H

#include <stdint.h>

static inline uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ULL;
	while (*s) {
		h ^= (unsigned char)*s++;
		h *= 1099511628211ULL;
	}
	return h;
}

#endif
