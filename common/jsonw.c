/* jsonw.c: see jsonw.h. */
#include <stdlib.h>

#include "jsonw.h"

int jw_open(struct jsonw *w)
{
	w->buf = NULL;
	w->len = 0;
	w->first = 1;
	w->f = open_memstream(&w->buf, &w->len);
	return w->f ? 0 : -1;
}

int jw_flush(struct jsonw *w, FILE *out)
{
	fputc('\n', w->f);
	fclose(w->f);
	size_t n = fwrite(w->buf, 1, w->len, out);
	int rc = (n == w->len && fflush(out) == 0) ? 0 : -1;
	free(w->buf);
	return rc;
}

static void put_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			fprintf(f, "\\u%04x", c); /* bytes, not UTF-8: keep it ASCII */
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static void member(struct jsonw *w, const char *key)
{
	if (!w->first)
		fputc(',', w->f);
	w->first = 0;
	if (key) {
		put_string(w->f, key);
		fputc(':', w->f);
	}
}

void jw_begin(struct jsonw *w, const char *key)
{
	member(w, key);
	fputc('{', w->f);
	w->first = 1;
}

void jw_end(struct jsonw *w)
{
	fputc('}', w->f);
	w->first = 0;
}

void jw_begin_array(struct jsonw *w, const char *key)
{
	member(w, key);
	fputc('[', w->f);
	w->first = 1;
}

void jw_end_array(struct jsonw *w)
{
	fputc(']', w->f);
	w->first = 0;
}

void jw_str(struct jsonw *w, const char *key, const char *v)
{
	member(w, key);
	if (v)
		put_string(w->f, v);
	else
		fputs("null", w->f);
}

void jw_int(struct jsonw *w, const char *key, int64_t v)
{
	member(w, key);
	fprintf(w->f, "%lld", (long long)v);
}

void jw_double(struct jsonw *w, const char *key, double v)
{
	member(w, key);
	fprintf(w->f, "%.6g", v);
}

void jw_bool(struct jsonw *w, const char *key, int v)
{
	member(w, key);
	fputs(v ? "true" : "false", w->f);
}

void jw_null(struct jsonw *w, const char *key)
{
	member(w, key);
	fputs("null", w->f);
}
