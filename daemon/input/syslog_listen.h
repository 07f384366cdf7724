/*
 * syslog_listen.h - --syslog.listen: syslog messages from the network
 * (UDP, TCP) or a local datagram socket, counted like lines of a file.
 *
 * Every socket is non-blocking and sits in one epoll set whose fd the
 * daemon's poll loop watches beside the tailer's inotify fd: messages are
 * handed to the line callback (ingest_line) on the event-loop thread, the
 * one writer of the counters (store/aggregate.h), so no lock and no queue
 * sits between a socket and the counters. A turn reads a bounded number
 * of messages; the epoll set is level-triggered, so what is left wakes
 * the loop again at once.
 *
 * A message becomes the line a syslog daemon would have written to a file:
 * "<PRI>" and the header are understood by the same header parser
 * (parsers/syslog.c, RFC 3164 and RFC 5424 with or without "<PRI>"), so the
 * counts equal --once over the same messages in a file. The one rewrite:
 * a syslog(3) datagram on a unixgram: socket has no hostname ("<22>Nov 28
 * 14:10:01 postfix/smtp[123]: ..."); the local host's name is put in, as
 * rsyslog's imuxsock does.
 */
#ifndef SYSLOG_LISTEN_H
#define SYSLOG_LISTEN_H

#include <stddef.h>

#include "daemon/input/tailer.h"   /* tail_line_fn */
#include "store/syslog_stats.h"

#define SL_MAX_LISTENERS 16
#define SL_DEFAULT_MAX_CONNECTIONS 128
#define SL_DEFAULT_MAX_MESSAGE 8192
#define SL_MIN_MESSAGE 480
#define SL_MAX_MESSAGE (1u << 20)
#define SL_DEFAULT_IDLE_TIMEOUT_S 3600

/* A parsed --syslog.listen value. */
struct sl_addr {
	enum syslog_transport transport;
	char host[256];     /* udp/tcp: as written, without [] around IPv6 */
	char port[6];
	char path[108];     /* unixgram: the socket's path */
};

/* Check one --syslog.listen value's syntax into *out (no name is resolved,
 * nothing is bound). 0, or -1 with a message naming what is wrong. */
int sl_parse_address(const char *spec, struct sl_addr *out, char *err, size_t errlen);

struct sl_opts {
	unsigned max_connections;   /* TCP connections open at once, all listeners */
	size_t max_message;         /* longest message passed on, bytes */
	unsigned idle_timeout_s;    /* close a TCP connection silent this long; 0 = never */
	int source;                 /* the source index handed to the line callback */
};
void sl_opts_defaults(struct sl_opts *o);

struct sl_set;

/* An empty set. NULL with err set (epoll, or out of memory). The caller
 * frees it with sl_set_free. */
struct sl_set *sl_set_new(const struct sl_opts *o, tail_line_fn fn, void *ctx,
    char *err, size_t errlen);

/* Bind and listen on spec (its string must outlive the set: it is the
 * metrics' label). 0, or -1 with err set (cannot resolve, bind, a path in
 * use or not a socket, too many listeners). */
int sl_set_add(struct sl_set *s, const char *spec, char *err, size_t errlen);

/* The epoll fd to poll for POLLIN, and the poll timeout the idle timeout
 * needs (-1: none). */
int sl_set_fd(const struct sl_set *s);
int sl_set_timeout_ms(const struct sl_set *s);

/* Read what is ready (a bounded amount) and close idle connections. */
void sl_set_process(struct sl_set *s);

/* The listeners' counters, in the order they were added, for web/. */
const struct syslog_stats *sl_set_stats(const struct sl_set *s, int *n);

/* Close every socket (a TCP sender's last unterminated message is passed
 * on first) and remove the unixgram socket files this set made. The
 * counters stay readable until sl_set_free. NULL is a no-op. */
void sl_set_close(struct sl_set *s);

/* sl_set_close, then free the set. NULL is a no-op. */
void sl_set_free(struct sl_set *s);

/*
 * One received message into the line the callback gets: s is the
 * listener's transport, host the local host's name (for hostless
 * datagrams on unixgram). Writes into out (at least len + 256 bytes) only
 * when it rewrites; returns the line to use and its length in *outlen.
 * *malformed is set when the message had no "<PRI>" or no RFC 3164/5424
 * header (it is still passed on: a parser may know the bare message).
 * Pure: exported for the unit tests and the fuzz harness.
 */
const char *sl_message_line(enum syslog_transport t, const char *host, const char *msg,
    size_t len, char *out, size_t *outlen, int *malformed);

#endif
