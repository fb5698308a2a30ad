/*
 * guard.h: the service's connection guard: the connection cap, the limit
 * per client, the header and body deadlines, answers written straight to
 * a socket when libmicrohttpd cannot queue one, and a stderr that says
 * each kind of trouble at most once a second, with a count.
 *
 * libmicrohttpd 0.9.75 (Debian 12's) has no request deadline, only an idle
 * timeout that every byte resets, and at its own connection limit it
 * closes a new connection with nothing said. So the guard counts
 * connections itself (MHD_OPTION_NOTIFY_CONNECTION), answers 503 past its
 * cap while MHD's limit is still a little higher, and a thread of its own
 * closes the connections that are past their deadline.
 */
#ifndef RACELAB_GUARD_H
#define RACELAB_GUARD_H

#include <stdbool.h>
#include <stdarg.h>

#include <microhttpd.h>

#include "metrics.h"

/* Connections past the cap that are accepted only to be answered 503;
 * MHD's own limit is the cap plus these. */
#define GUARD_OVERFLOW 16

struct guard_limits {
	unsigned cap;	     /* connections at once */
	unsigned per_client; /* connections at once from one address */
	long header_ms;	     /* from connection (or last response) to a request's headers */
	long body_ms;	     /* from the headers to the body's last byte */
};

/* Where a connection is, for the deadlines. */
enum guard_phase {
	GUARD_HEADERS, /* waiting for a request's headers (or idle between requests) */
	GUARD_BODY,    /* the headers are in, the body is coming */
	GUARD_BUSY,    /* the request is whole: being answered, no deadline */
};

struct guard;

/* Starts the deadline thread. Returns NULL when out of memory. */
struct guard *guard_create(const struct guard_limits *l, struct metrics *m);
/* Stops the thread and prints what the log still owes. After the daemon
 * has stopped (no callback may run any more). */
void guard_destroy(struct guard *g);

/* For MHD_OPTION_NOTIFY_CONNECTION, cls the guard. */
void guard_notify(void *cls, struct MHD_Connection *c, void **socket_context,
		  enum MHD_ConnectionNotificationCode code);
/* For MHD_OPTION_URI_LOG_CALLBACK, cls the guard: the raw request target,
 * before MHD decodes %XX in it. Returns NULL (no request context). */
void *guard_uri(void *cls, const char *uri, struct MHD_Connection *c);
/* For MHD_OPTION_EXTERNAL_LOGGER, cls the guard. */
void guard_log(void *cls, const char *fmt, va_list ap);

/* Called by the request handler as a request moves on. */
void guard_phase(struct guard *g, struct MHD_Connection *c, enum guard_phase p);
/* Whether the connection was answered 503 at accept (its request must not
 * be served), and whether its request target held %00. */
bool guard_refused(struct MHD_Connection *c);
bool guard_nul_in_path(struct MHD_Connection *c);

/* Writes a whole JSON error response to the connection's socket, with
 * Connection: close, and shuts the socket down, for the moments when MHD
 * cannot queue one (mid-body, or before MHD has a request). Counted in
 * the metrics by status. */
void guard_answer_raw(struct guard *g, struct MHD_Connection *c, unsigned status,
		      const char *message);

#endif
