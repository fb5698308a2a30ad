/* scenario.c: see scenario.h. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "scenario.h"

static char *trim(char *p)
{
	while (isspace((unsigned char)*p))
		p++;
	char *e = p + strlen(p);
	while (e > p && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return p;
}

static int is_known(const char *key, const char *const *known)
{
	const char *dot = strchr(key, '.');
	const char *bare = dot ? dot + 1 : key;
	for (; *known; known++)
		if (strcmp(bare, *known) == 0)
			return 1;
	return 0;
}

int scenario_load(struct scenario *s, const char *path, const char *const *known, char *err,
		  size_t errlen)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->path, sizeof(s->path), "%s", path);
	FILE *f = fopen(path, "r");
	if (!f) {
		snprintf(err, errlen, "%s: cannot read the scenario file", path);
		return -1;
	}
	char buf[512];
	int line = 0, rc = 0;
	while (fgets(buf, sizeof(buf), f)) {
		line++;
		if (!strchr(buf, '\n') && !feof(f)) {
			snprintf(err, errlen, "%s:%d: line too long", path, line);
			rc = -1;
			break;
		}
		char *hash = strchr(buf, '#');
		if (hash)
			*hash = '\0';
		char *p = trim(buf);
		if (!*p)
			continue;
		char *eq = strchr(p, '=');
		if (!eq) {
			snprintf(err, errlen, "%s:%d: expected 'key = value'", path, line);
			rc = -1;
			break;
		}
		*eq = '\0';
		char *key = trim(p), *val = trim(eq + 1);
		if (!*key || strlen(key) >= sizeof(s->kv[0].key) ||
		    strlen(val) >= sizeof(s->kv[0].val)) {
			snprintf(err, errlen, "%s:%d: empty or over-long key or value", path, line);
			rc = -1;
			break;
		}
		if (!is_known(key, known)) {
			snprintf(err, errlen, "%s:%d: unknown key '%s'", path, line, key);
			rc = -1;
			break;
		}
		if (scenario_line(s, NULL, key)) {
			snprintf(err, errlen, "%s:%d: '%s' is set twice", path, line, key);
			rc = -1;
			break;
		}
		if (s->n == SCENARIO_MAX_KEYS) {
			snprintf(err, errlen, "%s:%d: too many keys", path, line);
			rc = -1;
			break;
		}
		struct scenario_kv *kv = &s->kv[s->n++];
		snprintf(kv->key, sizeof(kv->key), "%s", key);
		snprintf(kv->val, sizeof(kv->val), "%s", val);
		kv->line = line;
	}
	fclose(f);
	return rc;
}

static const struct scenario_kv *find(const struct scenario *s, const char *profile,
				      const char *key)
{
	char full[160];
	if (profile && *profile) {
		snprintf(full, sizeof(full), "%s.%s", profile, key);
		for (int i = 0; i < s->n; i++)
			if (strcmp(s->kv[i].key, full) == 0)
				return &s->kv[i];
	}
	for (int i = 0; i < s->n; i++)
		if (strcmp(s->kv[i].key, key) == 0)
			return &s->kv[i];
	return NULL;
}

const char *scenario_get(const struct scenario *s, const char *profile, const char *key)
{
	const struct scenario_kv *kv = find(s, profile, key);
	return kv ? kv->val : NULL;
}

int scenario_line(const struct scenario *s, const char *profile, const char *key)
{
	const struct scenario_kv *kv = find(s, profile, key);
	return kv ? kv->line : 0;
}
