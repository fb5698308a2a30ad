/*
 * http.c: the exchange of http.h with non-blocking sockets and poll(), so
 * that a connect, a write and a read all share one deadline.
 */
#define _GNU_SOURCE /* strncasecmp, MSG_NOSIGNAL */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "http.h"

int64_t http_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void http_init(struct http_conn *c)
{
	c->fd = -1;
	c->len = 0;
}

void http_close(struct http_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	http_init(c);
}

/* Waits for events on the socket until the deadline: 1 ready, 0 timed
 * out, -1 failed. */
static int wait_for(int fd, short events, int64_t deadline_ns)
{
	for (;;) {
		int64_t left = deadline_ns - http_now_ns();
		if (left <= 0)
			return 0;
		struct pollfd p = { .fd = fd, .events = events };
		int ms = (int)((left + 999999) / 1000000);
		int n = poll(&p, 1, ms);
		if (n > 0)
			return 1;
		if (n < 0 && errno != EINTR)
			return -1;
	}
}

static enum http_result open_conn(struct http_conn *c, const struct sockaddr *addr, socklen_t alen,
				  int64_t deadline_ns)
{
	int fd = socket(addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return HTTP_CONNECT;
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->fd = fd;
	c->len = 0;
	if (connect(fd, addr, alen) == 0)
		return HTTP_DONE;
	if (errno != EINPROGRESS)
		return HTTP_CONNECT;
	int w = wait_for(fd, POLLOUT, deadline_ns);
	if (w == 0)
		return HTTP_TIMEOUT;
	int err = 0;
	socklen_t elen = sizeof(err);
	if (w < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) != 0 || err != 0)
		return HTTP_CONNECT;
	return HTTP_DONE;
}

static enum http_result send_all(struct http_conn *c, const char *p, size_t len,
				 int64_t deadline_ns)
{
	while (len > 0) {
		ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			int w = wait_for(c->fd, POLLOUT, deadline_ns);
			if (w == 0)
				return HTTP_TIMEOUT;
			if (w < 0)
				return HTTP_RESET;
			continue;
		}
		return HTTP_RESET; /* EPIPE, ECONNRESET: the server is gone */
	}
	return HTTP_DONE;
}

/* The value of header name in head[0..len), or NULL. */
static const char *header(const char *head, size_t len, const char *name)
{
	size_t nlen = strlen(name);
	const char *p = memchr(head, '\n', len);
	while (p && (size_t)(p + 1 - head) + nlen + 1 < len) {
		p++;
		if (strncasecmp(p, name, nlen) == 0 && p[nlen] == ':') {
			p += nlen + 1;
			while (*p == ' ' || *p == '\t')
				p++;
			return p;
		}
		p = memchr(p, '\n', len - (size_t)(p - head));
	}
	return NULL;
}

/* Parses the head once it is complete. Returns the body's length, -1
 * for "until the server closes", or -2 when the head is not HTTP. */
static long parse_head(const char *head, size_t len, struct http_response *r)
{
	if (len < 12 || memcmp(head, "HTTP/1.", 7) != 0 || head[8] != ' ')
		return -2;
	int status = 0;
	for (int i = 9; i < 12; i++) {
		if (head[i] < '0' || head[i] > '9')
			return -2;
		status = status * 10 + (head[i] - '0');
	}
	r->status = status;
	const char *conn = header(head, len, "Connection");
	r->close = (conn && strncasecmp(conn, "close", 5) == 0) || head[7] == '0';
	const char *te = header(head, len, "Transfer-Encoding");
	if (te && strncasecmp(te, "identity", 8) != 0)
		return -2; /* chunked: the service never sends it */
	const char *cl = header(head, len, "Content-Length");
	if (!cl) {
		r->close = true;
		return -1;
	}
	char *end;
	long n = strtol(cl, &end, 10);
	if (end == cl || n < 0 || n > HTTP_BUF)
		return -2;
	return n;
}

static enum http_result read_response(struct http_conn *c, int64_t deadline_ns,
				      struct http_response *r)
{
	size_t head_len = 0;
	long body_len = -3; /* head not parsed yet */
	for (;;) {
		if (body_len == -3) {
			char *e = memmem(c->buf, c->len, "\r\n\r\n", 4);
			if (e) {
				head_len = (size_t)(e - c->buf) + 4;
				body_len = parse_head(c->buf, head_len, r);
				if (body_len == -2 ||
				    head_len + (size_t)(body_len > 0 ? body_len : 0) > HTTP_BUF)
					return HTTP_PROTOCOL;
			}
		}
		if (body_len >= 0 && c->len >= head_len + (size_t)body_len) {
			r->body = c->buf + head_len;
			r->body_len = (size_t)body_len;
			c->len = 0; /* one request in flight: nothing follows */
			return HTTP_DONE;
		}
		if (c->len == HTTP_BUF)
			return HTTP_PROTOCOL;
		ssize_t n = recv(c->fd, c->buf + c->len, HTTP_BUF - c->len, 0);
		if (n > 0) {
			c->len += (size_t)n;
			continue;
		}
		if (n == 0) {
			if (body_len == -1) { /* the body ends where the server closes */
				r->body = c->buf + head_len;
				r->body_len = c->len - head_len;
				c->len = 0;
				return HTTP_DONE;
			}
			return HTTP_RESET;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return HTTP_RESET;
		int w = wait_for(c->fd, POLLIN, deadline_ns);
		if (w == 0)
			return HTTP_TIMEOUT;
		if (w < 0)
			return HTTP_RESET;
	}
}

enum http_result http_exchange(struct http_conn *c, const struct sockaddr *addr, socklen_t alen,
			       const char *req, size_t len, int64_t deadline_ns,
			       struct http_response *r)
{
	enum http_result res = HTTP_DONE;
	if (c->fd < 0)
		res = open_conn(c, addr, alen, deadline_ns);
	if (res == HTTP_DONE)
		res = send_all(c, req, len, deadline_ns);
	if (res == HTTP_DONE)
		res = read_response(c, deadline_ns, r);
	if (res != HTTP_DONE)
		http_close(c);
	return res;
}
