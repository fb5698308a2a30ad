/*
 * keys.c: the API key file, and finding a request's merchant by its key.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "keys.h"

static bool merchant_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '_' || c == '-';
}

static bool key_char(char c)
{
	return c > ' ' && c < 0x7f;
}

/* Splits one line into its two words; the problem, or NULL. */
static const char *parse_line(char *line, char **id, char **key)
{
	const char *blank = " \t\r\n";
	char *save;
	*id = strtok_r(line, blank, &save);
	*key = *id ? strtok_r(NULL, blank, &save) : NULL;
	if (!*key || strtok_r(NULL, blank, &save))
		return "want MERCHANT KEY";
	size_t n = strlen(*id);
	if (n >= KEYS_MERCHANT_MAX)
		return "merchant id longer than 31 bytes";
	for (size_t i = 0; i < n; i++)
		if (!merchant_char((*id)[i]))
			return "merchant id not of [A-Za-z0-9._-]";
	n = strlen(*key);
	if (n < KEYS_KEY_MIN || n >= KEYS_KEY_MAX)
		return "key not 16 to 127 bytes";
	for (size_t i = 0; i < n; i++)
		if (!key_char((*key)[i]))
			return "key not printable ASCII";
	return NULL;
}

static const char *add(struct keys *k, const char *id, const char *key)
{
	for (size_t i = 0; i < k->n; i++) {
		if (strcmp(k->m[i].id, id) == 0)
			return "merchant listed twice";
		if (strcmp(k->m[i].key, key) == 0)
			return "key listed twice";
	}
	if (k->n == KEYS_MAX)
		return "more than 1000 merchants";
	struct merchant *m = realloc(k->m, (k->n + 1) * sizeof(*m));
	if (!m)
		return "out of memory";
	k->m = m;
	m += k->n;
	m->index = (unsigned)k->n++;
	snprintf(m->id, sizeof(m->id), "%s", id);
	snprintf(m->key, sizeof(m->key), "%s", key);
	return NULL;
}

int keys_load(const char *path, struct keys *k, char *err, size_t errlen)
{
	k->m = NULL;
	k->n = 0;
	FILE *f = fopen(path, "r");
	if (!f) {
		snprintf(err, errlen, "cannot read it");
		return -1;
	}
	char line[512];
	const char *problem = NULL;
	int lineno = 0;
	while (!problem && fgets(line, sizeof(line), f)) {
		lineno++;
		char *id, *key, *p = line + strspn(line, " \t\r\n");
		if (!strchr(line, '\n') && !feof(f))
			problem = "line longer than 511 bytes";
		else if (*p && *p != '#' && !(problem = parse_line(p, &id, &key)))
			problem = add(k, id, key);
	}
	fclose(f);
	if (!problem && k->n == 0) {
		snprintf(err, errlen, "no merchant in it (want MERCHANT KEY lines)");
		keys_free(k);
		return -1;
	}
	if (problem) {
		snprintf(err, errlen, "line %d: %s", lineno, problem);
		keys_free(k);
		return -1;
	}
	return 0;
}

void keys_free(struct keys *k)
{
	free(k->m);
	k->m = NULL;
	k->n = 0;
}

/* Whether a and b (b NUL-terminated, at most KEYS_KEY_MAX bytes) are the
 * same key, looking at every byte of b whatever a holds. */
static bool same_key(const char *a, size_t alen, const char *b)
{
	unsigned char diff = alen != strlen(b);
	for (size_t i = 0; i < KEYS_KEY_MAX - 1 && b[i]; i++)
		diff |= (unsigned char)((i < alen ? a[i] : 0) ^ b[i]);
	return diff == 0;
}

const struct merchant *keys_find(const struct keys *k, const char *authorization)
{
	if (!authorization || strncasecmp(authorization, "Bearer ", 7) != 0)
		return NULL;
	const char *key = authorization + 7;
	while (*key == ' ')
		key++;
	size_t len = strlen(key);
	const struct merchant *found = NULL;
	for (size_t i = 0; i < k->n; i++)
		if (same_key(key, len, k->m[i].key) && !found)
			found = &k->m[i];
	return found;
}
