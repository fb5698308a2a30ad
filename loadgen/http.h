/*
 * http.h: one HTTP/1.1 request and its response over a kept-alive TCP
 * connection, under a deadline.
 *
 * Small on purpose: the load generator sends one request at a time per
 * connection (no pipelining) and the service answers with Content-Length,
 * so that is all this client reads (or a body ended by the server closing
 * the connection). Every way an exchange can fail is told apart, because
 * the war story is about which errors a client sees.
 */
#ifndef RACELAB_LOADGEN_HTTP_H
#define RACELAB_LOADGEN_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define HTTP_BUF 8192 /* the largest response read: the service's are < 300 bytes */

enum http_result {
	HTTP_DONE,    /* a whole response was read */
	HTTP_TIMEOUT, /* the deadline passed first */
	HTTP_RESET,   /* the connection was reset or closed mid-exchange */
	HTTP_CONNECT, /* no connection: refused, unreachable */
	HTTP_PROTOCOL /* what came back is not an HTTP response this client reads */
};

struct http_conn {
	int fd; /* -1: not connected */
	size_t len;
	char buf[HTTP_BUF];
};

struct http_response {
	int status;
	const char *body; /* into the connection's buffer, until the next exchange */
	size_t body_len;
	bool close; /* the server will close: connect afresh next time */
};

void http_init(struct http_conn *c);
void http_close(struct http_conn *c);
/* Sends req[0..len) (connecting first when needed) and reads the response,
 * all before deadline_ns (CLOCK_MONOTONIC). After anything but HTTP_DONE
 * the connection is closed. */
enum http_result http_exchange(struct http_conn *c, const struct sockaddr *addr, socklen_t alen,
			       const char *req, size_t len, int64_t deadline_ns,
			       struct http_response *r);
int64_t http_now_ns(void);

#endif
