/*
 * auditlog.h: the service's audit log, the same in every build.
 *
 * Lines are kept in memory, in a ring of a fixed number of lines (the
 * oldest are overwritten), so the log does no I/O and costs the same on
 * every machine. One mutex guards the ring: the log is safe under any
 * number of threads, in the broken builds too.
 *
 * It is part of lab 9 all the same: every auditlog_write() locks and
 * unlocks that mutex, and a happens-before race detector (ThreadSanitizer,
 * Helgrind) sees each unlock followed by another thread's lock as an
 * ordering between the two threads, whatever the code around the call is
 * doing. A logging call in the middle of a racy read-modify-write can hide
 * that race from the detector without making it any less of a race.
 */
#ifndef RACELAB_AUDITLOG_H
#define RACELAB_AUDITLOG_H

#include <stddef.h>
#include <stdint.h>

#define AUDITLOG_LINE_MAX 96 /* bytes, with the terminating NUL; longer lines are cut */

struct auditlog;

/* An empty log that keeps the last `lines` lines (at least 1).
 * Returns NULL when out of memory. */
struct auditlog *auditlog_create(size_t lines);
void auditlog_destroy(struct auditlog *log);

/* Appends one line, formatted as by printf. Safe from any thread. */
void auditlog_write(struct auditlog *log, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* How many lines were ever written (including those overwritten since). */
uint64_t auditlog_count(struct auditlog *log);

/* Copies line number seq (0 is the first line ever written) into buf and
 * returns 1, or returns 0 when that line was overwritten or not written
 * yet (buf is then ""). */
int auditlog_line(struct auditlog *log, uint64_t seq, char *buf, size_t buflen);

#endif
