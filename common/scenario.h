/*
 * scenario.h: a lab's scenario file, "key = value" lines with '#' comments.
 *
 * A key may carry a profile prefix ("tsan.ops = 20000"): with that profile
 * selected, scenario_get() returns it in place of the plain key, so a slow
 * tool runs a smaller workload from the same file.
 */
#ifndef RACELAB_SCENARIO_H
#define RACELAB_SCENARIO_H

#include <stddef.h>

#define SCENARIO_MAX_KEYS 128

struct scenario_kv {
	char key[64];
	char val[256];
	int line;
};

struct scenario {
	char path[256];
	int n;
	struct scenario_kv kv[SCENARIO_MAX_KEYS];
};

/* Reads path. Every key must be one of known[] (NULL-terminated), with or
 * without a "profile." prefix. Returns 0, or -1 with "file:line: reason"
 * in err. */
int scenario_load(struct scenario *s, const char *path, const char *const *known, char *err,
		  size_t errlen);

/* The value of profile.key if profile is set and the file has it, else of
 * key, else NULL. */
const char *scenario_get(const struct scenario *s, const char *profile, const char *key);

/* The line the value came from, for error messages (0 if none). */
int scenario_line(const struct scenario *s, const char *profile, const char *key);

#endif
