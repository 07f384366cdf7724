/*
 * showq.c - read Postfix's queue listing from its showq service.
 *
 * Where the format comes from (Postfix 3.7, the version Debian 12 ships):
 *   src/showq/showq.c: showq_service() first sends
 *     attr_print(ATTR_FLAG_NONE, SEND_ATTR_STR(MAIL_ATTR_PROTO,
 *     MAIL_ATTR_PROTO_SHOWQ)), then per message showq_report() sends
 *     queue_name, queue_id, time, size, forced_expire and sender with
 *     ATTR_FLAG_MORE, one (recipient, reason) pair per recipient, and the
 *     record terminator; at the end one more terminator, an empty record.
 *   src/util/attr_print0.c: "name\0value\0" per attribute, numbers in
 *     decimal, and a lone "\0" to end a record unless ATTR_FLAG_MORE.
 *   src/postqueue/showq_json.c (`postqueue -j`) reads the same stream with
 *     ATTR_FLAG_STRICT and gives up on the first malformed record.
 * The strings "mail_queue_list_protocol" and "forced_expire" were checked in
 * Debian's postfix 3.7.11 showq binary.
 *
 * Unlike prometheus postfix_exporter's CollectBinaryShowqFromReader, which
 * counts the handshake as a message of queue "unknown", keeps whatever it
 * had counted when the stream breaks, accepts a listing cut short (no end
 * record) as complete, and reads with no deadline, this parser checks the
 * handshake, needs the end record, bounds every name and value, and the
 * reader gives up after a deadline: a listing is counted whole or not at all.
 */
#include "daemon/queue/showq.h"
#include "util/monoclock.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

enum attr {
	A_PROTOCOL, A_QUEUE_NAME, A_QUEUE_ID, A_TIME, A_SIZE, A_FORCED_EXPIRE,
	A_SENDER, A_RECIPIENT, A_REASON, A_OTHER,
};

/* Every attribute showq sends (MAIL_ATTR_* in src/global/mail_proto.h),
 * its longest accepted value, and whether the value is kept. */
static const struct {
	const char *name;
	size_t max;
	int keep;
} attrs[] = {
	[A_PROTOCOL] = { "protocol", 64, 1 },
	[A_QUEUE_NAME] = { "queue_name", 16, 1 },
	[A_QUEUE_ID] = { "queue_id", 64, 1 },
	[A_TIME] = { "time", 20, 1 },
	[A_SIZE] = { "size", 20, 1 },
	[A_FORCED_EXPIRE] = { "forced_expire", 1, 1 },
	[A_SENDER] = { "sender", SHOWQ_MAX_ADDRESS, 0 },
	[A_RECIPIENT] = { "recipient", SHOWQ_MAX_ADDRESS, 0 },
	[A_REASON] = { "reason", SHOWQ_MAX_REASON, 0 },
	[A_OTHER] = { "", SHOWQ_MAX_OTHER, 0 },
};

#define BIT(a) (1u << (a))
/* What a message record must hold before its recipients and at its end. */
#define HEADER_REQUIRED (BIT(A_QUEUE_NAME) | BIT(A_QUEUE_ID) | BIT(A_TIME) | \
	BIT(A_SIZE) | BIT(A_SENDER))
#define PROTO_SHOWQ "mail_queue_list_protocol"

void
showq_parser_init(struct showq_parser *p, struct showq_stats *out, int64_t now)
{
	memset(p, 0, sizeof *p);
	memset(out, 0, sizeof *out);
	p->out = out;
	p->now = now;
	p->st = SHOWQ_ST_NAME;
}

static int
fail(struct showq_parser *p, const char *fmt, const char *arg)
{
	char what[160];

	snprintf(what, sizeof what, fmt, arg);
	snprintf(p->err, sizeof p->err, "showq: %s (at byte %llu)", what,
	    (unsigned long long)p->offset);
	return -1;
}

/* A decimal number of 1 to 18 digits (no sign, no space), into *v. */
static int
parse_num(const char *s, size_t n, int64_t *v)
{
	int64_t x = 0;

	if (n == 0 || n > 18)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		x = x * 10 + (s[i] - '0');
	}
	*v = x;
	return 0;
}

static int
name_byte_ok(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	    c == '_' || c == '-';
}

static void
observe(struct showq_hist *h, const double *bounds, int nbounds, double v)
{
	int b = 0;

	while (b < nbounds && v > bounds[b])
		b++;
	h->buckets[b]++;
	h->sum += v;
}

/* A complete name: the end of a record (empty name) or an attribute. */
static int
end_name(struct showq_parser *p)
{
	int a;

	if (p->nlen == 0)
		return 1;
	for (a = 0; a < A_OTHER && strcmp(attrs[a].name, p->name) != 0; a++)
		;
	if (p->record == 0 && a != A_PROTOCOL)
		return fail(p, "expected the handshake attribute 'protocol', got '%s'", p->name);
	if (p->record > 0) {
		if (a == A_PROTOCOL)
			return fail(p, "attribute '%s' inside a message record", p->name);
		if (a < A_OTHER && a != A_RECIPIENT && a != A_REASON && (p->seen & BIT(a)))
			return fail(p, "attribute '%s' twice in one message record", p->name);
		if (a == A_RECIPIENT && (p->seen & HEADER_REQUIRED) != HEADER_REQUIRED)
			return fail(p, "a recipient before the message's queue_name, queue_id, "
			    "time, size and sender%s", "");
		if (a == A_REASON && !p->last_was_rcpt)
			return fail(p, "a reason that follows no recipient%s", "");
	}
	p->attr = a;
	p->seen |= BIT(a);
	p->vlen = 0;
	p->vmax = attrs[a].max;
	p->st = SHOWQ_ST_VALUE;
	return 0;
}

/* A complete value of p->attr, kept in p->value when attrs[].keep. */
static int
end_value(struct showq_parser *p)
{
	const char *v = p->value;
	size_t n = p->vlen;
	int64_t x;

	/* An attribute this parser does not know (a later Postfix may send,
	 * say, a recipient's original address) does not break the pairing. */
	if (p->attr != A_OTHER)
		p->last_was_rcpt = p->attr == A_RECIPIENT;
	switch (p->attr) {
	case A_PROTOCOL:
		if (n != sizeof PROTO_SHOWQ - 1 || memcmp(v, PROTO_SHOWQ, n) != 0)
			return fail(p, "handshake protocol is '%s', not " PROTO_SHOWQ, v);
		break;
	case A_QUEUE_NAME:
		for (p->queue = 0; p->queue < SHOWQ_NQUEUES; p->queue++)
			if (strcmp(showq_queue_name((enum showq_queue)p->queue), v) == 0)
				break;
		if (p->queue == SHOWQ_NQUEUES)
			return fail(p, "unknown queue_name '%s'", v);
		break;
	case A_QUEUE_ID:
		if (n == 0)
			return fail(p, "empty queue_id%s", "");
		for (size_t i = 0; i < n; i++)
			if (!name_byte_ok((unsigned char)v[i]) || v[i] == '_' || v[i] == '-')
				return fail(p, "queue_id '%s' is not alphanumeric", v);
		break;
	case A_TIME:
		if (parse_num(v, n, &p->time) < 0)
			return fail(p, "time '%s' is not a number", v);
		break;
	case A_SIZE:
		if (parse_num(v, n, &p->size) < 0)
			return fail(p, "size '%s' is not a number", v);
		break;
	case A_FORCED_EXPIRE:
		if (parse_num(v, n, &x) < 0 || x > 1)
			return fail(p, "forced_expire '%s' is not 0 or 1", v);
		break;
	default:
		break;
	}
	p->st = SHOWQ_ST_NAME;
	p->nlen = 0;
	return 0;
}

/* The terminator of a record: the handshake, a message, or the end. */
static int
end_record(struct showq_parser *p)
{
	if (p->record == 0) {
		if (!(p->seen & BIT(A_PROTOCOL)))
			return fail(p, "empty handshake record%s", "");
	} else if (p->seen == 0) {
		p->done = 1;
		return 1;
	} else {
		if ((p->seen & HEADER_REQUIRED) != HEADER_REQUIRED)
			return fail(p, "a message record without all of queue_name, queue_id, "
			    "time, size and sender%s", "");
		int64_t age = p->now - p->time;
		p->out->messages[p->queue]++;
		observe(&p->out->size[p->queue], showq_size_bounds, SHOWQ_SIZE_BOUNDS,
		    (double)p->size);
		observe(&p->out->age[p->queue], showq_age_bounds, SHOWQ_AGE_BOUNDS,
		    age > 0 ? (double)age : 0);
	}
	p->record++;
	p->seen = 0;
	p->last_was_rcpt = 0;
	return 0;
}

int
showq_parser_feed(struct showq_parser *p, const char *buf, size_t len)
{
	size_t i = 0;

	if (p->done)
		return len == 0 ? 1 : fail(p, "data after the end of the listing%s", "");
	while (i < len) {
		const char *nul = memchr(buf + i, '\0', len - i);
		size_t n = (nul ? (size_t)(nul - buf) : len) - i;

		if (p->st == SHOWQ_ST_NAME) {
			for (size_t k = 0; k < n; k++) {
				if (!name_byte_ok((unsigned char)buf[i + k])) {
					p->offset += k;
					return fail(p, p->record == 0 ?
					    "not an attribute stream (an old Postfix whose "
					    "showq sends mailq text is not supported)%s" :
					    "a byte that cannot be in an attribute name%s", "");
				}
			}
			if (p->nlen + n > SHOWQ_MAX_NAME)
				return fail(p, "attribute name longer than %s bytes", "64");
			memcpy(p->name + p->nlen, buf + i, n);
			p->nlen += n;
		} else {
			if (p->vlen + n > p->vmax) {
				char what[SHOWQ_MAX_NAME + 64];
				p->offset += p->vmax - p->vlen;
				snprintf(what, sizeof what, "'%.64s' longer than %zu bytes", p->name,
				    p->vmax);
				return fail(p, "the value of %s", what);
			}
			if (attrs[p->attr].keep)
				memcpy(p->value + p->vlen, buf + i, n);
			p->vlen += n;
		}
		p->offset += n;
		i += n;
		if (nul == NULL)
			break;
		/* The NUL ends the name or value. */
		p->offset++;
		i++;
		int r;
		if (p->st == SHOWQ_ST_NAME) {
			p->name[p->nlen] = '\0';
			r = end_name(p);
			if (r == 1)
				r = end_record(p);
		} else {
			if (attrs[p->attr].keep)
				p->value[p->vlen] = '\0';
			r = end_value(p);
		}
		if (r < 0)
			return -1;
		if (r == 1)
			return i == len ? 1 : fail(p, "data after the end of the listing%s", "");
	}
	return 0;
}

int
showq_parse_buffer(const char *buf, size_t len, int64_t now, struct showq_stats *out,
    char *err, size_t errlen)
{
	struct showq_parser p;
	int r;

	showq_parser_init(&p, out, now);
	r = showq_parser_feed(&p, buf, len);
	if (r == 1)
		return 0;
	if (r == 0)
		snprintf(p.err, sizeof p.err, "showq: the listing ends without its end record "
		    "after %llu bytes (truncated)", (unsigned long long)p.offset);
	snprintf(err, errlen, "%s", p.err);
	return -1;
}

/* Wait for events on fd (and stop_fd) until deadline. Returns 1 ready,
 * 0 timed out, -1 stopped or failed (err set). */
static int
wait_fd(int fd, short events, int stop_fd, int64_t deadline, char *err, size_t errlen)
{
	for (;;) {
		struct pollfd pfd[2] = {
			{ .fd = fd, .events = events },
			{ .fd = stop_fd, .events = POLLIN },
		};
		int64_t left = deadline - mono_ms();
		if (left <= 0)
			return 0;
		int n = poll(pfd, 2, (int)left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(err, errlen, "showq: poll: %s", strerror(errno));
			return -1;
		}
		if (pfd[1].revents) {
			snprintf(err, errlen, "showq: abandoned at shutdown");
			return -1;
		}
		if (pfd[0].revents)
			return 1;
	}
}

static int
is_unreachable(int e)
{
	return e == ENOENT || e == EACCES || e == EPERM || e == ECONNREFUSED ||
	    e == ENOTDIR || e == ENOTSOCK || e == EPROTOTYPE;
}

static int
connect_showq(const char *path, int stop_fd, int64_t deadline, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, e;

	if (strlen(path) >= sizeof sa.sun_path) {
		snprintf(err, errlen, "showq: socket path %.100s... is too long", path);
		return SHOWQ_ERROR;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0) {
		snprintf(err, errlen, "showq: socket: %s", strerror(errno));
		return SHOWQ_ERROR;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0)
		return fd;
	e = errno;
	if (e == EAGAIN || e == EINPROGRESS) {
		/* A full listen backlog: showq's master is busy. */
		int r = wait_fd(fd, POLLOUT, stop_fd, deadline, err, errlen);
		socklen_t sl = sizeof e;
		if (r == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &sl) == 0 && e == 0)
			return fd;
		if (r == 0)
			snprintf(err, errlen, "showq: connecting to %.200s timed out", path);
		else if (r == 1)
			snprintf(err, errlen, "showq: connect %.200s: %s", path, strerror(e));
		close(fd);
		return SHOWQ_ERROR;
	}
	close(fd);
	snprintf(err, errlen, "showq: connect %.200s: %s%s", path, strerror(e),
	    e == EACCES ? " (the exporter's user must be in group postdrop)" : "");
	return is_unreachable(e) ? SHOWQ_UNREACHABLE : SHOWQ_ERROR;
}

int
showq_collect(const char *path, int timeout_ms, int stop_fd, int64_t now,
    struct showq_stats *out, char *err, size_t errlen)
{
	int64_t deadline = mono_ms() + timeout_ms;
	struct showq_parser p;
	char buf[16384];
	int fd, r = 0;

	fd = connect_showq(path, stop_fd, deadline, err, errlen);
	if (fd < 0)
		return fd;
	showq_parser_init(&p, out, now);
	for (;;) {
		ssize_t n = read(fd, buf, sizeof buf);
		if (n > 0) {
			r = showq_parser_feed(&p, buf, (size_t)n);
			if (r != 0)
				break;
			continue;
		}
		if (n == 0) {
			snprintf(p.err, sizeof p.err, "showq: the listing ends without its end "
			    "record after %llu bytes (truncated)", (unsigned long long)p.offset);
			r = -1;
			break;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN) {
			snprintf(p.err, sizeof p.err, "showq: read: %s", strerror(errno));
			r = -1;
			break;
		}
		int w = wait_fd(fd, POLLIN, stop_fd, deadline, p.err, sizeof p.err);
		if (w == 0)
			snprintf(p.err, sizeof p.err, "showq: no complete listing within %d ms "
			    "(%llu bytes read)", timeout_ms, (unsigned long long)p.offset);
		if (w <= 0) {
			r = -1;
			break;
		}
	}
	close(fd);
	if (r == 1)
		return 0;
	snprintf(err, errlen, "%s", p.err);
	return SHOWQ_ERROR;
}
