/*
 * syslog_listen.c - --syslog.listen (see syslog_listen.h).
 *
 * Limits, and what happens past each:
 *   - --syslog.max-connections: a TCP connection accepted past it is
 *     closed at once, counted (refused) and warned about, rate-limited.
 *     The sender sees the close and retries as it does for any drop.
 *   - --syslog.max-message-size: a longer message is skipped and counted
 *     (oversized), as a line over --maillog.max-line-length is; a TCP
 *     stream resyncs at the next message (octet count or LF), a datagram
 *     is one message anyway.
 *   - --syslog.idle-timeout: a TCP connection that sent nothing for that
 *     long is closed and counted (idle_closed); its slot is free again.
 *   - Running out of file descriptors while accepting pauses accepting on
 *     that listener for a second, rather than spinning on a listening
 *     socket that stays readable.
 */
#include "daemon/input/syslog_listen.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "daemon/input/syslog_frame.h"
#include "parsers/mp.h"
#include "util/log.h"
#include "util/monoclock.h"

/* Per turn: datagrams per socket, connections accepted per listener, bytes
 * per connection. Small enough that signals, files and snapshots get
 * their turn during a flood; level-triggered epoll brings the rest. */
#define SL_TURN_DGRAMS 256
#define SL_TURN_ACCEPTS 64
#define SL_TURN_BYTES (256u * 1024)
#define SL_TURN_EVENTS 64
#define SL_ACCEPT_PAUSE_MS 1000

/* epoll data: the listener or connection index, with this bit for a
 * connection. */
#define SL_CONN_BIT (1ULL << 32)

struct listener {
	struct syslog_stats *st;   /* in sl_set.stats: web/ reads them as an array */
	struct sl_addr a;
	int fd;
	uint32_t last_ovfl;         /* the kernel's cumulative drop count last seen */
	int64_t paused_until_ms;    /* accept paused after EMFILE; 0 = not */
	dev_t dev;                  /* unixgram: the socket file we made */
	ino_t ino;
};

struct conn {
	int fd;                     /* -1: a free slot */
	struct sl_set *set;
	struct listener *l;
	int64_t last_ms;            /* last byte received, monotonic */
	struct sl_frame fr;
};

struct sl_set {
	struct sl_opts o;
	tail_line_fn fn;
	void *ctx;
	int epfd;
	struct listener ls[SL_MAX_LISTENERS];
	struct syslog_stats stats[SL_MAX_LISTENERS];
	int nls;
	struct conn *conns;         /* o.max_connections slots */
	unsigned nconns;
	char *dgram;                /* one datagram, max_message + 1 bytes */
	char *line;                 /* a rewritten message, max_message + 256 bytes */
	char host[256];             /* the local host's name, short form */
};

void
sl_opts_defaults(struct sl_opts *o)
{
	o->max_connections = SL_DEFAULT_MAX_CONNECTIONS;
	o->max_message = SL_DEFAULT_MAX_MESSAGE;
	o->idle_timeout_s = SL_DEFAULT_IDLE_TIMEOUT_S;
	o->source = -1;
}

/* ------------------------------------------------------------ addresses */

int
sl_parse_address(const char *spec, struct sl_addr *out, char *err, size_t errlen)
{
	const char *rest, *hs, *he, *colon;
	size_t hl;
	unsigned long port = 0;

	memset(out, 0, sizeof *out);
	if (strncmp(spec, "unixgram:", 9) == 0) {
		rest = spec + 9;
		out->transport = SYSLOG_UNIXGRAM;
		if (rest[0] != '/') {
			snprintf(err, errlen, "'%.200s': the socket path must be absolute"
			    " (unixgram:/run/maillog_exporter/syslog.sock)", spec);
			return -1;
		}
		if (strlen(rest) >= sizeof out->path) {
			snprintf(err, errlen, "'%.200s': the socket path is longer than %zu bytes",
			    spec, sizeof out->path - 1);
			return -1;
		}
		strcpy(out->path, rest);
		return 0;
	}
	if (strncmp(spec, "udp://", 6) == 0) {
		out->transport = SYSLOG_UDP;
	} else if (strncmp(spec, "tcp://", 6) == 0) {
		out->transport = SYSLOG_TCP;
	} else {
		snprintf(err, errlen, "'%.200s' is not udp://HOST:PORT, tcp://HOST:PORT or"
		    " unixgram:PATH", spec);
		return -1;
	}
	rest = spec + 6;
	if (rest[0] == '[') {
		hs = rest + 1;
		if ((he = strchr(hs, ']')) == NULL || he[1] != ':') {
			snprintf(err, errlen, "'%.200s': an IPv6 address is written [ADDR]:PORT", spec);
			return -1;
		}
		colon = he + 1;
	} else {
		hs = rest;
		if ((colon = strrchr(rest, ':')) == NULL) {
			snprintf(err, errlen, "'%.200s' has no port (e.g. %s127.0.0.1:514)", spec,
			    out->transport == SYSLOG_UDP ? "udp://" : "tcp://");
			return -1;
		}
		he = colon;
		if (memchr(hs, ':', (size_t)(he - hs)) != NULL) {
			snprintf(err, errlen, "'%.200s': write an IPv6 address in brackets"
			    " (tcp://[::1]:514)", spec);
			return -1;
		}
	}
	hl = (size_t)(he - hs);
	if (hl == 0) {
		snprintf(err, errlen, "'%.200s' names no host. The syslog protocol has no"
		    " authentication, so the listener opens only where told: write"
		    " 127.0.0.1 (or [::1]) for this host, or 0.0.0.0 (or [::]) to listen on"
		    " every interface (see docs/security.md)", spec);
		return -1;
	}
	if (hl >= sizeof out->host) {
		snprintf(err, errlen, "'%.200s': the host name is too long", spec);
		return -1;
	}
	memcpy(out->host, hs, hl);
	for (const char *p = colon + 1; *p; p++) {
		if (*p < '0' || *p > '9' || port > 65535) {
			port = 0;
			break;
		}
		port = port * 10 + (unsigned long)(*p - '0');
	}
	if (port == 0 || port > 65535) {
		snprintf(err, errlen, "'%.200s': the port must be a number from 1 to 65535", spec);
		return -1;
	}
	snprintf(out->port, sizeof out->port, "%lu", port);
	return 0;
}

/* -------------------------------------------------------------- messages */

/* "<PRI>" with PRI 0..191 (facility * 8 + severity), 1 to 3 digits. */
static int
valid_pri(const char *m, size_t len)
{
	unsigned v = 0;
	size_t i = 1;

	if (len < 3 || m[0] != '<')
		return 0;
	while (i < len && i <= 3 && m[i] >= '0' && m[i] <= '9')
		v = v * 10 + (unsigned)(m[i++] - '0');
	return i > 1 && i < len && m[i] == '>' && v <= 191;
}

const char *
sl_message_line(enum syslog_transport t, const char *host, const char *msg, size_t len,
    char *out, size_t *outlen, int *malformed)
{
	struct mp_syslog h;
	size_t off, hl;

	mp_syslog_parse(msg, len, &h);
	*malformed = !valid_pri(msg, len) ||
	    (h.kind != MP_HDR_RFC3164 && h.kind != MP_HDR_RFC3339 && h.kind != MP_HDR_RFC5424);
	*outlen = len;
	/* syslog(3) writes no hostname; the header parser saw a tag where the
	 * host would be. Put the local name there, as imuxsock does. */
	if (t == SYSLOG_UNIXGRAM && host != NULL && host[0] != '\0' && h.host == NULL &&
	    (h.kind == MP_HDR_RFC3164 || h.kind == MP_HDR_RFC3339)) {
		off = (size_t)((h.tag != NULL ? h.tag : h.msg) - msg);
		hl = strnlen(host, 255);
		memcpy(out, msg, off);
		memcpy(out + off, host, hl);
		out[off + hl] = ' ';
		memcpy(out + off + hl + 1, msg + off, len - off);
		*outlen = len + hl + 1;
		return out;
	}
	return msg;
}

/* One message from l: counted, then to the parsers. */
static void
deliver(struct sl_set *s, struct listener *l, const char *msg, size_t len)
{
	char ex[4 * 80 + 4];
	const char *line;
	size_t n;
	int bad;

	while (len > 0 && (msg[len - 1] == '\n' || msg[len - 1] == '\r' || msg[len - 1] == '\0'))
		len--;
	if (len == 0) {
		atomic_fetch_add_explicit(&l->st->malformed, 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&l->st->messages, 1, memory_order_release);
		return;
	}
	line = sl_message_line(l->st->transport, s->host, msg, len, s->line, &n, &bad);
	if (bad) {
		atomic_fetch_add_explicit(&l->st->malformed, 1, memory_order_relaxed);
		log_limited(LOG_LIMIT_SYSLOG, LOG_LEVEL_DEBUG,
		    "--syslog.listen=%s: a message with no <PRI> or no RFC 3164/5424 header"
		    " (counted in maillog_syslog_malformed_messages_total, still parsed): %s",
		    l->st->listener, log_excerpt(ex, msg, len, 80));
	}
	s->fn(s->ctx, line, n, s->o.source);
	/* Counted once the line is in the store, with release: the
	 * exposition reads this first (web/expo.c, render_all). */
	atomic_fetch_add_explicit(&l->st->messages, 1, memory_order_release);
}

static void
oversized(struct listener *l, size_t len)
{
	atomic_fetch_add_explicit(&l->st->oversized, 1, memory_order_relaxed);
	log_limited(LOG_LIMIT_SYSLOG, LOG_LEVEL_WARN,
	    "--syslog.listen=%s: a message of %s%zu bytes is over --syslog.max-message-size;"
	    " skipped (counted in maillog_syslog_oversized_messages_total)",
	    l->st->listener, len == 0 ? "more than " : "", len);
}

static void
frame_message(void *ctx, const char *msg, size_t len)
{
	struct conn *c = ctx;

	deliver(c->set, c->l, msg, len);
}

static void
frame_oversized(void *ctx, size_t len)
{
	struct conn *c = ctx;

	oversized(c->l, len != 0 ? len : c->set->o.max_message);
}

/* ------------------------------------------------------------- sockets */

static int
bind_inet(struct listener *l, unsigned backlog, char *err, size_t errlen)
{
	struct addrinfo hints, *res = NULL;
	int fd = -1, one = 1, r;
	int tcp = l->a.transport == SYSLOG_TCP;

	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = tcp ? SOCK_STREAM : SOCK_DGRAM;
	hints.ai_flags = AI_NUMERICSERV;
	if ((r = getaddrinfo(l->a.host, l->a.port, &hints, &res)) != 0) {
		snprintf(err, errlen, "cannot resolve '%s': %s", l->a.host, gai_strerror(r));
		return -1;
	}
	fd = socket(res->ai_family, res->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		goto fail;
	}
	if (tcp && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0) {
		snprintf(err, errlen, "SO_REUSEADDR: %s", strerror(errno));
		goto fail;
	}
	/* The kernel's count of datagrams dropped on a full receive queue,
	 * delivered with each datagram received (see read_dgrams). */
	if (!tcp && setsockopt(fd, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof one) < 0) {
		snprintf(err, errlen, "SO_RXQ_OVFL: %s", strerror(errno));
		goto fail;
	}
	if (bind(fd, res->ai_addr, res->ai_addrlen) < 0) {
		snprintf(err, errlen, "cannot bind %s port %s: %s%s", l->a.host, l->a.port,
		    strerror(errno), errno == EACCES ?
		    " (a port below 1024 needs root or CAP_NET_BIND_SERVICE)" : "");
		goto fail;
	}
	if (tcp && listen(fd, (int)backlog) < 0) {
		snprintf(err, errlen, "listen: %s", strerror(errno));
		goto fail;
	}
	freeaddrinfo(res);
	l->fd = fd;
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	freeaddrinfo(res);
	return -1;
}

/*
 * unixgram:PATH. A file already at PATH is removed only when it is a
 * socket nobody receives on (a stale one from a previous run that did not
 * get to remove it); any other file, or a live socket (a syslog daemon's
 * /dev/log), is an error. The socket is made writable by everyone, as
 * /dev/log is: syslog(3) callers run as any user. Restrict who may send
 * with the permissions of the directory it is in.
 */
static int
bind_unix(struct listener *l, char *err, size_t errlen)
{
	struct sockaddr_un sa;
	struct stat st;
	int fd, probe;

	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, l->a.path, strlen(l->a.path) + 1);
	if (lstat(l->a.path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			snprintf(err, errlen, "%s exists and is not a socket; not removing it",
			    l->a.path);
			return -1;
		}
		if ((probe = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0) {
			snprintf(err, errlen, "socket: %s", strerror(errno));
			return -1;
		}
		if (connect(probe, (struct sockaddr *)&sa, sizeof sa) == 0) {
			close(probe);
			snprintf(err, errlen, "%s is in use by another process (a syslog daemon?);"
			    " not taking it over", l->a.path);
			return -1;
		}
		if (errno != ECONNREFUSED) {
			snprintf(err, errlen, "cannot tell whether %s is in use: %s", l->a.path,
			    strerror(errno));
			close(probe);
			return -1;
		}
		close(probe);
		if (unlink(l->a.path) < 0) {
			snprintf(err, errlen, "cannot remove the stale socket %s: %s", l->a.path,
			    strerror(errno));
			return -1;
		}
		log_info("removed the stale socket %s", l->a.path);
	}
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		snprintf(err, errlen, "cannot bind %s: %s", l->a.path, strerror(errno));
		close(fd);
		return -1;
	}
	if (chmod(l->a.path, 0666) < 0 || stat(l->a.path, &st) < 0) {
		snprintf(err, errlen, "%s: %s", l->a.path, strerror(errno));
		unlink(l->a.path);
		close(fd);
		return -1;
	}
	l->dev = st.st_dev;
	l->ino = st.st_ino;
	l->fd = fd;
	return 0;
}

static int
watch(struct sl_set *s, int fd, uint64_t data, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.u64 = data };

	return epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev);
}

struct sl_set *
sl_set_new(const struct sl_opts *o, tail_line_fn fn, void *ctx, char *err, size_t errlen)
{
	struct sl_set *s = calloc(1, sizeof *s);
	char *dot;

	if (s == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->o = *o;
	s->fn = fn;
	s->ctx = ctx;
	s->epfd = -1;
	s->conns = calloc(o->max_connections > 0 ? o->max_connections : 1, sizeof *s->conns);
	if (s->conns != NULL)
		for (unsigned i = 0; i < o->max_connections; i++)
			s->conns[i].fd = -1;
	s->dgram = malloc(o->max_message + 1);
	s->line = malloc(o->max_message + 256);
	if (s->conns == NULL || s->dgram == NULL || s->line == NULL) {
		snprintf(err, errlen, "out of memory");
		sl_set_free(s);
		return NULL;
	}
	if ((s->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0) {
		snprintf(err, errlen, "epoll_create1: %s", strerror(errno));
		sl_set_free(s);
		return NULL;
	}
	if (gethostname(s->host, sizeof s->host - 1) < 0)
		s->host[0] = '\0';
	/* rsyslog writes the short name unless told to keep the FQDN. */
	if ((dot = strchr(s->host, '.')) != NULL)
		*dot = '\0';
	return s;
}

int
sl_set_add(struct sl_set *s, const char *spec, char *err, size_t errlen)
{
	struct listener *l;
	char why[400];

	if (s->nls == SL_MAX_LISTENERS) {
		snprintf(err, errlen, "more than %d listeners", SL_MAX_LISTENERS);
		return -1;
	}
	l = &s->ls[s->nls];
	memset(l, 0, sizeof *l);
	l->fd = -1;
	l->st = &s->stats[s->nls];
	if (sl_parse_address(spec, &l->a, err, errlen) < 0)
		return -1;
	l->st->listener = spec;
	l->st->transport = l->a.transport;
	if ((l->a.transport == SYSLOG_UNIXGRAM ? bind_unix(l, why, sizeof why) :
	    bind_inet(l, 128, why, sizeof why)) < 0) {
		snprintf(err, errlen, "%s", why);
		return -1;
	}
	if (watch(s, l->fd, (uint64_t)s->nls, EPOLLIN) < 0) {
		snprintf(err, errlen, "epoll_ctl: %s", strerror(errno));
		if (l->a.transport == SYSLOG_UNIXGRAM)
			unlink(l->a.path);
		close(l->fd);
		return -1;
	}
	s->nls++;
	return 0;
}

int
sl_set_fd(const struct sl_set *s)
{
	return s->epfd;
}

const struct syslog_stats *
sl_set_stats(const struct sl_set *s, int *n)
{
	*n = s->nls;
	return s->nls > 0 ? s->stats : NULL;
}

/* ----------------------------------------------------------- reading */

/*
 * SO_RXQ_OVFL: the socket's count of datagrams dropped because its receive
 * queue was full, as it stood when this datagram was queued. Cumulative
 * per socket and 32 bits wide, so the difference from the last one seen is
 * what is new (unsigned arithmetic carries a wrap). It comes only with a
 * datagram: drops after the last datagram read show when the next arrives.
 */
static void
count_drops(struct listener *l, struct msghdr *mh)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c != NULL; c = CMSG_NXTHDR(mh, c)) {
		uint32_t v;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SO_RXQ_OVFL ||
		    c->cmsg_len < CMSG_LEN(sizeof v))
			continue;
		memcpy(&v, CMSG_DATA(c), sizeof v);
		if (v != l->last_ovfl) {
			atomic_fetch_add_explicit(&l->st->dropped, (uint32_t)(v - l->last_ovfl),
			    memory_order_relaxed);
			l->last_ovfl = v;
		}
	}
}

static void
read_dgrams(struct sl_set *s, struct listener *l)
{
	for (int k = 0; k < SL_TURN_DGRAMS; k++) {
		union {
			char buf[CMSG_SPACE(sizeof(uint32_t))];
			struct cmsghdr align;
		} cbuf;
		struct iovec iov = { .iov_base = s->dgram, .iov_len = s->o.max_message + 1 };
		struct msghdr mh = {
			.msg_iov = &iov, .msg_iovlen = 1,
			.msg_control = cbuf.buf, .msg_controllen = sizeof cbuf.buf,
		};
		ssize_t n = recvmsg(l->fd, &mh, MSG_DONTWAIT);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				log_limited(LOG_LIMIT_SYSLOG, LOG_LEVEL_WARN,
				    "--syslog.listen=%s: recvmsg: %s", l->st->listener,
				    strerror(errno));
			return;
		}
		count_drops(l, &mh);
		if ((mh.msg_flags & MSG_TRUNC) || (size_t)n > s->o.max_message) {
			oversized(l, 0);
			continue;
		}
		deliver(s, l, s->dgram, (size_t)n);
	}
}

static void
close_conn(struct sl_set *s, struct conn *c)
{
	struct sl_frame_sink sink = { frame_message, frame_oversized, c };

	if (sl_frame_end(&c->fr, &sink))
		log_limited(LOG_LIMIT_SYSLOG, LOG_LEVEL_WARN,
		    "--syslog.listen=%s: a connection closed in the middle of a message;"
		    " its start is dropped", c->l->st->listener);
	/* Off the gauge before the close, as every count of a closing is: a
	 * sender that sees the close and then scrapes finds it counted. */
	atomic_fetch_sub_explicit(&c->l->st->open, 1, memory_order_relaxed);
	epoll_ctl(s->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->fd = -1;
	sl_frame_fini(&c->fr);
	s->nconns--;
}

static void
accept_conns(struct sl_set *s, struct listener *l, int64_t now)
{
	for (int k = 0; k < SL_TURN_ACCEPTS; k++) {
		struct conn *c = NULL;
		int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			log_limited(LOG_LIMIT_SYSLOG, LOG_LEVEL_WARN,
			    "--syslog.listen=%s: accept: %s; not accepting for a second",
			    l->st->listener, strerror(errno));
			/* EMFILE and friends: the listening socket stays readable,
			 * so stop watching it for a while instead of spinning. */
			struct epoll_event ev = { .events = 0, .data.u64 = (uint64_t)(l - s->ls) };
			epoll_ctl(s->epfd, EPOLL_CTL_MOD, l->fd, &ev);
			l->paused_until_ms = now + SL_ACCEPT_PAUSE_MS;
			return;
		}
		if (s->nconns < s->o.max_connections)
			for (unsigned i = 0; i < s->o.max_connections && c == NULL; i++)
				if (s->conns[i].fd < 0)
					c = &s->conns[i];
		/* Counted before the close: a sender that sees its connection
		 * closed and then scrapes finds it counted. */
		if (c == NULL) {
			atomic_fetch_add_explicit(&l->st->refused, 1, memory_order_relaxed);
			close(fd);
			log_limited(LOG_LIMIT_SYSLOG, LOG_LEVEL_WARN,
			    "--syslog.listen=%s: %u connections are open"
			    " (--syslog.max-connections); closed a new one", l->st->listener,
			    s->nconns);
			continue;
		}
		if (sl_frame_init(&c->fr, s->o.max_message) < 0) {
			atomic_fetch_add_explicit(&l->st->refused, 1, memory_order_relaxed);
			close(fd);
			log_limited(LOG_LIMIT_SYSLOG, LOG_LEVEL_WARN,
			    "--syslog.listen=%s: out of memory for a connection's buffer; closed it",
			    l->st->listener);
			continue;
		}
		if (watch(s, fd, SL_CONN_BIT | (uint64_t)(c - s->conns), EPOLLIN) < 0) {
			log_limited(LOG_LIMIT_SYSLOG, LOG_LEVEL_WARN,
			    "--syslog.listen=%s: epoll_ctl: %s; closed a new connection",
			    l->st->listener, strerror(errno));
			sl_frame_fini(&c->fr);
			atomic_fetch_add_explicit(&l->st->refused, 1, memory_order_relaxed);
			close(fd);
			continue;
		}
		c->fd = fd;
		c->set = s;
		c->l = l;
		c->last_ms = now;
		s->nconns++;
		atomic_fetch_add_explicit(&l->st->connections, 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&l->st->open, 1, memory_order_relaxed);
	}
}

static void
read_conn(struct sl_set *s, struct conn *c, int64_t now)
{
	struct sl_frame_sink sink = { frame_message, frame_oversized, c };
	size_t budget = SL_TURN_BYTES;

	while (budget > 0) {
		size_t avail;
		char *dst = sl_frame_space(&c->fr, &avail);
		ssize_t n = read(c->fd, dst, avail);

		if (n > 0) {
			c->last_ms = now;
			sl_frame_commit(&c->fr, (size_t)n, &sink);
			budget = (size_t)n < budget ? budget - (size_t)n : 0;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n < 0 && errno != ECONNRESET)
			log_limited(LOG_LIMIT_SYSLOG, LOG_LEVEL_WARN,
			    "--syslog.listen=%s: read: %s; closed the connection",
			    c->l->st->listener, strerror(errno));
		close_conn(s, c);
		return;
	}
}

int
sl_set_timeout_ms(const struct sl_set *s)
{
	int64_t now = mono_ms(), best = INT64_MAX, due;

	for (int i = 0; i < s->nls; i++) {
		if (s->ls[i].paused_until_ms == 0)
			continue;
		due = s->ls[i].paused_until_ms - now;
		if (due < best)
			best = due;
	}
	if (s->o.idle_timeout_s > 0 && s->nconns > 0) {
		for (unsigned i = 0; i < s->o.max_connections; i++) {
			if (s->conns[i].fd < 0)
				continue;
			due = s->conns[i].last_ms + (int64_t)s->o.idle_timeout_s * 1000 - now;
			if (due < best)
				best = due;
		}
	}
	if (best == INT64_MAX)
		return -1;
	if (best < 0)
		return 0;
	return best > INT32_MAX ? INT32_MAX : (int)best;
}

static void
housekeeping(struct sl_set *s, int64_t now)
{
	for (int i = 0; i < s->nls; i++) {
		struct listener *l = &s->ls[i];
		if (l->paused_until_ms != 0 && now >= l->paused_until_ms) {
			struct epoll_event ev = { .events = EPOLLIN, .data.u64 = (uint64_t)i };
			epoll_ctl(s->epfd, EPOLL_CTL_MOD, l->fd, &ev);
			l->paused_until_ms = 0;
		}
	}
	if (s->o.idle_timeout_s == 0 || s->nconns == 0)
		return;
	for (unsigned i = 0; i < s->o.max_connections; i++) {
		struct conn *c = &s->conns[i];
		if (c->fd < 0 || now - c->last_ms < (int64_t)s->o.idle_timeout_s * 1000)
			continue;
		atomic_fetch_add_explicit(&c->l->st->idle_closed, 1, memory_order_relaxed);
		log_limited(LOG_LIMIT_SYSLOG, LOG_LEVEL_INFO,
		    "--syslog.listen=%s: closed a connection idle for %us (--syslog.idle-timeout)",
		    c->l->st->listener, s->o.idle_timeout_s);
		close_conn(s, c);
	}
}

void
sl_set_process(struct sl_set *s)
{
	struct epoll_event evs[SL_TURN_EVENTS];
	int64_t now = mono_ms();
	int n;

	housekeeping(s, now);
	n = epoll_wait(s->epfd, evs, SL_TURN_EVENTS, 0);
	for (int i = 0; i < n; i++) {
		uint64_t d = evs[i].data.u64;

		if (d & SL_CONN_BIT) {
			struct conn *c = &s->conns[d & 0xffffffffu];
			/* An earlier event of this turn may have closed it. */
			if (c->fd >= 0)
				read_conn(s, c, now);
		} else {
			struct listener *l = &s->ls[d];
			if (l->a.transport == SYSLOG_TCP)
				accept_conns(s, l, now);
			else
				read_dgrams(s, l);
		}
	}
}

void
sl_set_close(struct sl_set *s)
{
	struct stat st;

	if (s == NULL)
		return;
	if (s->conns != NULL)
		for (unsigned i = 0; i < s->o.max_connections; i++)
			if (s->conns[i].fd >= 0)
				close_conn(s, &s->conns[i]);
	for (int i = 0; i < s->nls; i++) {
		struct listener *l = &s->ls[i];
		if (l->fd < 0)
			continue;
		close(l->fd);
		l->fd = -1;
		/* Remove the socket file only if it is still the one we made. */
		if (l->a.transport == SYSLOG_UNIXGRAM && lstat(l->a.path, &st) == 0 &&
		    st.st_dev == l->dev && st.st_ino == l->ino && unlink(l->a.path) < 0)
			log_warn("cannot remove the socket %s (the next start removes it)",
			    l->a.path);
	}
	if (s->epfd >= 0)
		close(s->epfd);
	s->epfd = -1;
}

void
sl_set_free(struct sl_set *s)
{
	if (s == NULL)
		return;
	sl_set_close(s);
	free(s->conns);
	free(s->dgram);
	free(s->line);
	free(s);
}
