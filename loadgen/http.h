/*
 * http.h: reading one HTTP/1.1 response, and opening the non-blocking
 * connection it comes over.
 *
 * Small on purpose: the load generator sends one request at a time per
 * connection (no pipelining) and the service answers with Content-Length,
 * so that is all this client reads (or a body ended by the server closing
 * the connection). The parser is given the bytes read so far and says
 * whether they are a whole response: run.c's event loop reads what has
 * arrived and asks again, so no thread ever waits on one connection.
 */
#ifndef RACELAB_LOADGEN_HTTP_H
#define RACELAB_LOADGEN_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define HTTP_BUF 8192 /* the largest response read: the service's are < 300 bytes */

/* How an exchange ended; every way it can fail is told apart, because the
 * war story is about which errors a client sees. */
enum http_result {
	HTTP_DONE,    /* a whole response was read */
	HTTP_TIMEOUT, /* the deadline passed first */
	HTTP_RESET,   /* the connection was reset or closed mid-exchange */
	HTTP_CONNECT, /* no connection: refused, unreachable */
	HTTP_PROTOCOL /* what came back is not an HTTP response this client reads */
};

enum http_parse {
	HTTP_PARSE_MORE, /* not whole yet: read on */
	HTTP_PARSE_DONE, /* a whole response, in r */
	HTTP_PARSE_BAD	 /* not a response this client reads */
};

struct http_response {
	int status;
	const char *body; /* into the parsed buffer */
	size_t body_len;
	bool close; /* the server will close: connect afresh next time */
};

/* Parses buf[0..len), all that has come since the request was sent; eof:
 * the server closed after it (MORE at eof is a connection cut off
 * mid-response). Bytes after a whole response are BAD: with one request
 * in flight they answer nothing this client asked. */
enum http_parse http_parse(const char *buf, size_t len, bool eof, struct http_response *r);
/* A non-blocking TCP socket (TCP_NODELAY) connecting to addr: returns its
 * fd and sets *pending while the connect is under way, or -1 when it
 * failed at once. */
int http_connect(const struct sockaddr *addr, socklen_t alen, bool *pending);
/* After a pending connect became writable: true when it succeeded. */
bool http_connected(int fd);
int64_t http_now_ns(void);

#endif
