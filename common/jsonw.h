/*
 * jsonw.h: a minimal JSON writer for one-line trial records.
 * The record is built in memory and written with one fwrite, so a record
 * on stdout is never interleaved with a sanitizer's report on stderr
 * mid-line, and a crash never leaves half a record behind.
 */
#ifndef RACELAB_JSONW_H
#define RACELAB_JSONW_H

#include <stdint.h>
#include <stdio.h>

struct jsonw {
	FILE *f;
	char *buf;
	size_t len;
	int first; /* no comma before the next member */
};

int jw_open(struct jsonw *w);
/* Writes the record and a newline to out in one call, then frees it. */
int jw_flush(struct jsonw *w, FILE *out);

void jw_begin(struct jsonw *w, const char *key); /* "key":{  (key NULL: a bare {) */
void jw_end(struct jsonw *w);			 /* } */
void jw_begin_array(struct jsonw *w, const char *key);
void jw_end_array(struct jsonw *w);
void jw_str(struct jsonw *w, const char *key, const char *v); /* NULL: null */
void jw_int(struct jsonw *w, const char *key, int64_t v);
void jw_double(struct jsonw *w, const char *key, double v);
void jw_bool(struct jsonw *w, const char *key, int v);
void jw_null(struct jsonw *w, const char *key);

#endif
