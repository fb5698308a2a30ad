/*
 * auditlog.c: the in-memory audit log (see auditlog.h).
 *
 * A line is formatted into a local buffer first, outside the lock, so
 * that the lock is held only for the copy into the ring: the lock is what
 * makes the log safe, and holding it for no longer than the copy keeps
 * the threads that log from queueing behind each other's formatting.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auditlog.h"

struct auditlog {
	pthread_mutex_t lock; /* guards everything below */
	size_t nlines;
	uint64_t count; /* lines ever written; the next goes to count % nlines */
	char (*ring)[AUDITLOG_LINE_MAX];
};

struct auditlog *auditlog_create(size_t lines)
{
	if (lines < 1)
		lines = 1;
	struct auditlog *log = calloc(1, sizeof(*log));
	if (!log)
		return NULL;
	log->ring = calloc(lines, sizeof(log->ring[0]));
	if (!log->ring) {
		free(log);
		return NULL;
	}
	log->nlines = lines;
	pthread_mutex_init(&log->lock, NULL);
	return log;
}

void auditlog_destroy(struct auditlog *log)
{
	if (!log)
		return;
	pthread_mutex_destroy(&log->lock);
	free(log->ring);
	free(log);
}

void auditlog_write(struct auditlog *log, const char *fmt, ...)
{
	char line[AUDITLOG_LINE_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* Without the lock two writers could take the same slot (count is a
	 * read-modify-write too) and interleave their bytes in it. */
	pthread_mutex_lock(&log->lock);
	memcpy(log->ring[log->count % log->nlines], line, sizeof(line));
	log->count++;
	pthread_mutex_unlock(&log->lock);
}

uint64_t auditlog_count(struct auditlog *log)
{
	pthread_mutex_lock(&log->lock);
	uint64_t n = log->count;
	pthread_mutex_unlock(&log->lock);
	return n;
}

int auditlog_line(struct auditlog *log, uint64_t seq, char *buf, size_t buflen)
{
	int ok = 0;
	if (buflen)
		buf[0] = '\0';
	pthread_mutex_lock(&log->lock);
	if (seq < log->count && log->count - seq <= log->nlines) {
		if (buflen)
			snprintf(buf, buflen, "%s", log->ring[seq % log->nlines]);
		ok = 1;
	}
	pthread_mutex_unlock(&log->lock);
	return ok;
}
