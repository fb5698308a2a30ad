/*
 * http.c: the response parser and the connection opener of http.h.
 */
#define _GNU_SOURCE /* strncasecmp, memmem */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
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

int http_connect(const struct sockaddr *addr, socklen_t alen, bool *pending)
{
	int fd = socket(addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	*pending = false;
	if (connect(fd, addr, alen) == 0)
		return fd;
	if (errno == EINPROGRESS) {
		*pending = true;
		return fd;
	}
	close(fd);
	return -1;
}

bool http_connected(int fd)
{
	int err = 0;
	socklen_t elen = sizeof(err);
	return getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) == 0 && err == 0;
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

enum http_parse http_parse(const char *buf, size_t len, bool eof, struct http_response *r)
{
	const char *e = memmem(buf, len, "\r\n\r\n", 4);
	if (!e)
		return len >= HTTP_BUF ? HTTP_PARSE_BAD : HTTP_PARSE_MORE;
	size_t head_len = (size_t)(e - buf) + 4;
	long body_len = parse_head(buf, head_len, r);
	if (body_len == -2 || head_len + (size_t)(body_len > 0 ? body_len : 0) > HTTP_BUF)
		return HTTP_PARSE_BAD;
	r->body = buf + head_len;
	if (body_len == -1) { /* the body ends where the server closes */
		r->body_len = len - head_len;
		return eof ? HTTP_PARSE_DONE : len >= HTTP_BUF ? HTTP_PARSE_BAD : HTTP_PARSE_MORE;
	}
	r->body_len = (size_t)body_len;
	if (len < head_len + (size_t)body_len)
		return HTTP_PARSE_MORE;
	return len == head_len + (size_t)body_len ? HTTP_PARSE_DONE : HTTP_PARSE_BAD;
}
