/*
 * guard.c: the connection guard (see guard.h).
 *
 * One lock guards the list of connections, their phases and the counts.
 * It is taken a few times per request (accept, headers in, body in,
 * answered, closed), never across anything that blocks: the writes it does
 * under it are non-blocking sends of a few hundred bytes to a socket that
 * has room for them.
 *
 * Closing a connection that MHD owns: the guard never closes the
 * descriptor (MHD does, after it has called guard_notify() with
 * MHD_CONNECTION_NOTIFY_CLOSED, which takes the lock and unlinks it), it
 * shuts the socket down. MHD's thread for the connection then reads the
 * end of the stream, and closes the connection the ordinary way. So a
 * descriptor the guard finds in its list under the lock is still open.
 */
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "guard.h"

struct conn {
	struct conn *prev, *next;
	int fd;
	int family;
	unsigned char addr[16]; /* the client's address, without its port */
	enum guard_phase phase;
	struct timespec since; /* when the phase began */
	bool refused;	       /* answered 503 at accept; not counted as open */
	bool closing;	       /* shut down by the guard */
	bool nul;	       /* the request target held %00 */
};

/* A stderr line that is said at most once a second: the first at once,
 * those that follow within the second counted and summed up by the
 * deadline thread. */
struct ratelog {
	struct timespec last; /* when a line was last printed */
	long pending;	      /* events since, not printed */
	char what[200];	      /* the last of them */
};

struct guard {
	struct guard_limits l;
	struct metrics *m;
	pthread_mutex_t lock; /* guards everything below */
	struct conn *head;
	unsigned open;		 /* connections not refused */
	struct ratelog refusals; /* 503s at accept */
	struct ratelog mhd;	 /* libmicrohttpd's own messages */
	bool stop;
	pthread_cond_t wake;
	pthread_t thread;
};

static struct timespec now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t;
}

static long ms_between(const struct timespec *a, const struct timespec *b)
{
	return (b->tv_sec - a->tv_sec) * 1000L + (b->tv_nsec - a->tv_nsec) / 1000000L;
}

/* Prints "racelab-service: <what>" now, or counts it if a line went out
 * less than a second ago. Caller holds g->lock. */
static void ratelog_event(struct ratelog *r, const char *what)
{
	struct timespec t = now();
	if (r->pending == 0 && (r->last.tv_sec == 0 || ms_between(&r->last, &t) >= 1000)) {
		fprintf(stderr, "racelab-service: %s\n", what);
		r->last = t;
		return;
	}
	r->pending++;
	snprintf(r->what, sizeof(r->what), "%s", what);
}

/* The summary of what was counted, once a second has passed (or at the
 * end, when force). Caller holds g->lock. */
static void ratelog_flush(struct ratelog *r, bool force)
{
	struct timespec t = now();
	if (r->pending == 0 || (!force && ms_between(&r->last, &t) < 1000))
		return;
	fprintf(stderr, "racelab-service: %ld more in the last %.1f s, the last: %s\n", r->pending,
		ms_between(&r->last, &t) / 1000.0, r->what);
	r->pending = 0;
	r->last = t;
}

static struct conn *conn_of(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *i =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	return i ? i->socket_context : NULL;
}

/* The whole response, written with one non-blocking send: a fresh
 * connection's socket buffer holds it. Then the socket is shut down. */
static void write_raw(struct metrics *m, int fd, unsigned status, const char *message,
		      const char *extra)
{
	char body[256], resp[512];
	int blen = snprintf(body, sizeof(body), "{\"status\":\"error\",\"message\":\"%s\"}\n",
			    message);
	int n = snprintf(resp, sizeof(resp),
			 "HTTP/1.1 %u %s\r\nContent-Type: application/json\r\n"
			 "Content-Length: %d\r\nConnection: close\r\n%s\r\n%s",
			 status, MHD_get_reason_phrase_for(status), blen, extra, body);
	if (n > 0 && (size_t)n < sizeof(resp))
		(void)!send(fd, resp, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL);
	shutdown(fd, SHUT_RDWR);
	metrics_status(m, status);
}

void guard_answer_raw(struct guard *g, struct MHD_Connection *c, unsigned status,
		      const char *message)
{
	struct conn *cn = conn_of(c);
	if (!cn)
		return;
	pthread_mutex_lock(&g->lock);
	if (!cn->closing) {
		cn->closing = true;
		write_raw(g->m, cn->fd, status, message, "");
	}
	pthread_mutex_unlock(&g->lock);
}

/* Connections open from cn's address, cn aside. Caller holds g->lock. */
static unsigned from_same_client(struct guard *g, const struct conn *cn)
{
	unsigned n = 0;
	for (struct conn *o = g->head; o; o = o->next)
		if (o != cn && !o->refused && o->family == cn->family &&
		    memcmp(o->addr, cn->addr, sizeof(o->addr)) == 0)
			n++;
	return n;
}

/* Fills cn's address from the connection's. */
static void client_address(struct MHD_Connection *c, struct conn *cn)
{
	const union MHD_ConnectionInfo *i =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = i ? i->client_addr : NULL;
	cn->family = sa ? sa->sa_family : AF_UNSPEC;
	if (cn->family == AF_INET)
		memcpy(cn->addr, &((const struct sockaddr_in *)sa)->sin_addr, 4);
	else if (cn->family == AF_INET6)
		memcpy(cn->addr, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
	i = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	cn->fd = i ? i->connect_fd : -1;
}

/* A new connection: counted, or answered 503 at once if it is one too
 * many. Caller holds g->lock. */
static void admit(struct guard *g, struct conn *cn)
{
	char why[160];
	enum metrics_guard what;
	if (g->open >= g->l.cap) {
		what = METRICS_REFUSED_CAP;
		snprintf(why, sizeof(why), "the cap of %u connections is reached", g->l.cap);
	} else if (g->l.per_client && from_same_client(g, cn) >= g->l.per_client) {
		what = METRICS_REFUSED_CLIENT;
		snprintf(why, sizeof(why), "this client has %u connections open, the most allowed",
			 g->l.per_client);
	} else {
		g->open++;
		return;
	}
	cn->refused = cn->closing = true;
	write_raw(g->m, cn->fd, 503, why, "Retry-After: 1\r\n");
	metrics_guard(g->m, what);
	char line[200];
	snprintf(line, sizeof(line), "connection refused with 503: %s", why);
	ratelog_event(&g->refusals, line);
}

void guard_notify(void *cls, struct MHD_Connection *c, void **socket_context,
		  enum MHD_ConnectionNotificationCode code)
{
	struct guard *g = cls;
	struct conn *cn = *socket_context;
	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		cn = calloc(1, sizeof(*cn));
		if (!cn)
			return; /* unguarded, but served: every lookup allows NULL */
		client_address(c, cn);
		cn->phase = GUARD_HEADERS;
		cn->since = now();
		pthread_mutex_lock(&g->lock);
		cn->next = g->head;
		if (g->head)
			g->head->prev = cn;
		g->head = cn;
		admit(g, cn);
		pthread_mutex_unlock(&g->lock);
		*socket_context = cn;
		return;
	}
	if (!cn)
		return;
	pthread_mutex_lock(&g->lock);
	if (cn->prev)
		cn->prev->next = cn->next;
	else
		g->head = cn->next;
	if (cn->next)
		cn->next->prev = cn->prev;
	if (!cn->refused)
		g->open--;
	pthread_mutex_unlock(&g->lock);
	free(cn);
	*socket_context = NULL;
}

void *guard_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
	(void)cls;
	struct conn *cn = conn_of(c);
	if (!cn)
		return NULL;
	/* A raw NUL byte ends the string early, and MHD routes on what is
	 * left. MHD 0.9.75 calls this with the request line split in place:
	 * the space before the version became the target's NUL, and the
	 * version ("HTTP/1.x", checked before this call) follows it. If
	 * something else follows the first NUL, the target held one. */
	const char *end = uri + strlen(uri);
	/* Only this connection's thread reads nul, after this. */
	cn->nul = strstr(uri, "%00") != NULL || strncmp(end + 1, "HTTP/", 5) != 0;
	return NULL;
}

void guard_phase(struct guard *g, struct MHD_Connection *c, enum guard_phase p)
{
	struct conn *cn = conn_of(c);
	if (!cn)
		return;
	struct timespec t = now();
	pthread_mutex_lock(&g->lock); /* the deadline thread reads both */
	cn->phase = p;
	cn->since = t;
	pthread_mutex_unlock(&g->lock);
}

bool guard_refused(struct MHD_Connection *c)
{
	struct conn *cn = conn_of(c);
	return cn && cn->refused;
}

bool guard_nul_in_path(struct MHD_Connection *c)
{
	struct conn *cn = conn_of(c);
	return cn && cn->nul;
}

/* Closes the connections past their deadline. Caller holds g->lock. */
static void enforce_deadlines(struct guard *g)
{
	struct timespec t = now();
	for (struct conn *cn = g->head; cn; cn = cn->next) {
		if (cn->closing || cn->phase == GUARD_BUSY)
			continue;
		long limit = cn->phase == GUARD_HEADERS ? g->l.header_ms : g->l.body_ms;
		if (limit <= 0 || ms_between(&cn->since, &t) < limit)
			continue;
		cn->closing = true;
		if (cn->phase == GUARD_BODY) {
			/* a request is under way: say why it ends */
			write_raw(g->m, cn->fd, 408, "the body did not arrive in time", "");
			metrics_guard(g->m, METRICS_DEADLINE_BODY);
		} else {
			/* no request yet, or an idle keep-alive connection that
			 * cannot be told from one: closed unanswered, as nginx
			 * does at client_header_timeout */
			shutdown(cn->fd, SHUT_RDWR);
			metrics_guard(g->m, METRICS_DEADLINE_HEADERS);
		}
	}
}

/* The deadline thread: ten rounds a second, so a deadline is kept to
 * within 100 ms. */
static void *deadline_thread(void *arg)
{
	struct guard *g = arg;
	pthread_mutex_lock(&g->lock);
	while (!g->stop) {
		struct timespec until = now();
		until.tv_nsec += 100000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&g->wake, &g->lock, &until);
		enforce_deadlines(g);
		ratelog_flush(&g->refusals, false);
		ratelog_flush(&g->mhd, false);
	}
	pthread_mutex_unlock(&g->lock);
	return NULL;
}

struct guard *guard_create(const struct guard_limits *l, struct metrics *m)
{
	struct guard *g = calloc(1, sizeof(*g));
	if (!g)
		return NULL;
	g->l = *l;
	g->m = m;
	pthread_mutex_init(&g->lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&g->wake, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&g->thread, NULL, deadline_thread, g) != 0) {
		pthread_cond_destroy(&g->wake);
		pthread_mutex_destroy(&g->lock);
		free(g);
		return NULL;
	}
	return g;
}

void guard_destroy(struct guard *g)
{
	if (!g)
		return;
	pthread_mutex_lock(&g->lock);
	g->stop = true;
	pthread_cond_signal(&g->wake);
	pthread_mutex_unlock(&g->lock);
	pthread_join(g->thread, NULL);
	ratelog_flush(&g->refusals, true);
	ratelog_flush(&g->mhd, true);
	pthread_cond_destroy(&g->wake);
	pthread_mutex_destroy(&g->lock);
	free(g);
}

/* libmicrohttpd's messages. The one that says it answered an error itself
 * (its HTML 400, 413, 431, 505 ...) carries the status as its first
 * argument: counted, since no handler of ours sees that request. */
void guard_log(void *cls, const char *fmt, va_list ap)
{
	static const char answered[] = "Error processing request (HTTP response code is %u";
	struct guard *g = cls;
	char msg[160];
	va_list copy;
	va_copy(copy, ap);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (strncmp(fmt, answered, sizeof(answered) - 1) == 0) {
		metrics_status(g->m, va_arg(copy, unsigned));
		metrics_guard(g->m, METRICS_MHD_ANSWER);
	}
	va_end(copy);
	/* one line: the HTML body MHD quotes, and its newline, cut off */
	msg[strcspn(msg, "\n")] = '\0';
	char *html = strstr(msg, " ('<html>");
	if (html)
		*html = '\0';
	char line[200];
	snprintf(line, sizeof(line), "libmicrohttpd: %s", msg);
	pthread_mutex_lock(&g->lock);
	ratelog_event(&g->mhd, line);
	pthread_mutex_unlock(&g->lock);
}
