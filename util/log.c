/*
 * log.c - stderr logging in logfmt or JSON, with rate limits for anything
 * that log content can trigger.
 */
#include "util/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static enum log_level cur_level = LOG_LEVEL_INFO;
static enum log_format cur_format = LOG_FORMAT_LOGFMT;
/* The web thread logs too; one lock keeps lines whole. */
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *level_names[] = { "debug", "info", "warn", "error" };

int
log_parse_level(const char *s, enum log_level *out)
{
	for (int i = 0; i <= LOG_LEVEL_ERROR; i++) {
		if (strcmp(s, level_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -1;
}

int
log_parse_format(const char *s, enum log_format *out)
{
	if (strcmp(s, "logfmt") == 0)
		*out = LOG_FORMAT_LOGFMT;
	else if (strcmp(s, "json") == 0)
		*out = LOG_FORMAT_JSON;
	else
		return -1;
	return 0;
}

void
log_setup(enum log_level level, enum log_format format)
{
	cur_level = level;
	cur_format = format;
}

/* The longest message vlog formats (strerror included), and the longest
 * record it makes of one: the time and level, the message with every byte
 * escaped at the most, 6 bytes for one ("\u001b"), and the ending. */
#define MSG_MAX 2048
#define RECORD_MAX (160 + 6 * MSG_MAX)

/*
 * A record is built whole, then written with one write(2). stderr is
 * unbuffered, so stdio put a record out a call at a time: a system call
 * per byte of the message, a hundred or more for a warning that log
 * content can trigger, and on a pipe shared with other writers their
 * output could land inside our line. One write of up to PIPE_BUF bytes
 * reaches a pipe in one piece; journald's stream and a terminal get the
 * line in one piece too.
 */
struct record {
	char buf[RECORD_MAX];
	size_t len;
};

static void
put(struct record *r, const char *s, size_t n)
{
	if (n > sizeof r->buf - r->len)
		n = sizeof r->buf - r->len;     /* never: RECORD_MAX is the worst case */
	memcpy(r->buf + r->len, s, n);
	r->len += n;
}

static void
puts_rec(struct record *r, const char *s)
{
	put(r, s, strlen(s));
}

/* Append msg with the quoting the format needs: JSON string escapes, or
 * logfmt's double-quoted value with \" and \\. Control bytes become
 * escapes in both, so a message can never break a log line in two. */
static void
put_quoted(struct record *r, const char *msg)
{
	static const char hex[] = "0123456789abcdef";

	put(r, "\"", 1);
	for (const unsigned char *p = (const unsigned char *)msg; *p; p++) {
		switch (*p) {
		case '"': put(r, "\\\"", 2); break;
		case '\\': put(r, "\\\\", 2); break;
		case '\n': put(r, "\\n", 2); break;
		case '\t': put(r, "\\t", 2); break;
		case '\r': put(r, "\\r", 2); break;
		default:
			if (*p < 0x20 || *p == 0x7f) {
				char e[6] = { '\\', 'u', '0', '0', hex[*p >> 4], hex[*p & 15] };

				if (cur_format == LOG_FORMAT_JSON)
					put(r, e, 6);
				else
					put(r, (const char[]){ '\\', 'x', e[4], e[5] }, 4);
			} else {
				put(r, (const char *)p, 1);
			}
		}
	}
	put(r, "\"", 1);
}

/* All of it, on one write where the kernel takes it whole; a short write
 * (a full pipe, a signal) goes on from where it stopped. Errors are
 * ignored: there is nowhere left to report them. */
static void
write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		p += w;
		n -= (size_t)w;
	}
}

static void
vlog(enum log_level level, int with_errno, const char *fmt, va_list ap)
{
	char msg[MSG_MAX];
	int saved = errno;
	int n;

	if (level < cur_level)
		return;
	n = vsnprintf(msg, sizeof msg, fmt, ap);
	if (n < 0)
		n = 0;
	if (with_errno && (size_t)n < sizeof msg)
		snprintf(msg + n, sizeof msg - (size_t)n, ": %s", strerror(saved));

	struct timespec ts;
	struct tm tm;
	char tbuf[96];
	struct record rec, *r = &rec;

	rec.len = 0;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	snprintf(tbuf, sizeof tbuf, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);

	if (cur_format == LOG_FORMAT_JSON) {
		puts_rec(r, "{\"time\":\"");
		puts_rec(r, tbuf);
		puts_rec(r, "\",\"level\":\"");
		puts_rec(r, level_names[level]);
		puts_rec(r, "\",\"msg\":");
		put_quoted(r, msg);
		puts_rec(r, "}\n");
	} else {
		puts_rec(r, "time=");
		puts_rec(r, tbuf);
		puts_rec(r, " level=");
		puts_rec(r, level_names[level]);
		puts_rec(r, " msg=");
		put_quoted(r, msg);
		puts_rec(r, "\n");
	}
	/* Whatever stdio holds for stderr first (nothing: it is unbuffered,
	 * unless a caller changed that), then the record; the lock keeps two
	 * threads' records apart. */
	pthread_mutex_lock(&log_lock);
	fflush(stderr);
	write_all(STDERR_FILENO, r->buf, r->len);
	pthread_mutex_unlock(&log_lock);
	errno = saved;
}

#define LOG_FN(name, level, with_errno)			\
	void name(const char *fmt, ...)			\
	{						\
		va_list ap;				\
		va_start(ap, fmt);			\
		vlog(level, with_errno, fmt, ap);	\
		va_end(ap);				\
	}

LOG_FN(log_debug, LOG_LEVEL_DEBUG, 0)
LOG_FN(log_info, LOG_LEVEL_INFO, 0)
LOG_FN(log_warn, LOG_LEVEL_WARN, 1)
LOG_FN(log_warnx, LOG_LEVEL_WARN, 0)
LOG_FN(log_error, LOG_LEVEL_ERROR, 1)
LOG_FN(log_errorx, LOG_LEVEL_ERROR, 0)

void
fatal(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog(LOG_LEVEL_ERROR, 1, fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog(LOG_LEVEL_ERROR, 0, fmt, ap);
	va_end(ap);
	exit(1);
}

static void
write_plain(enum log_level level, const char *fmt, ...) LOG_PRINTF(2, 3);

static void
write_plain(enum log_level level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog(level, 0, fmt, ap);
	va_end(ap);
}

struct limit_state {
	int burst_used;
	time_t window_start;
	unsigned long suppressed;
};
static struct limit_state limits[LOG_LIMIT_KEYS];
static pthread_mutex_t limit_lock = PTHREAD_MUTEX_INITIALIZER;

int
log_limited(enum log_limit_key key, enum log_level level, const char *fmt, ...)
{
	struct timespec now;
	unsigned long suppressed = 0;
	int allow = 0;

	if (level < cur_level || key < 0 || key >= LOG_LIMIT_KEYS)
		return 0;
	clock_gettime(CLOCK_MONOTONIC, &now);

	pthread_mutex_lock(&limit_lock);
	struct limit_state *l = &limits[key];
	if (l->burst_used < LOG_LIMIT_BURST) {
		l->burst_used++;
		l->window_start = now.tv_sec;
		allow = 1;
	} else if (now.tv_sec - l->window_start >= LOG_LIMIT_INTERVAL) {
		l->window_start = now.tv_sec;
		allow = 1;
	}
	if (allow) {
		suppressed = l->suppressed;
		l->suppressed = 0;
	} else {
		l->suppressed++;
	}
	pthread_mutex_unlock(&limit_lock);

	if (!allow)
		return 0;

	char msg[1800];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (suppressed)
		write_plain(level, "%s (%lu similar messages suppressed in the last %d s)",
		    msg, suppressed, LOG_LIMIT_INTERVAL);
	else
		write_plain(level, "%s", msg);
	return 1;
}

char *
log_excerpt(char *buf, const char *s, size_t len, size_t max)
{
	static const char hex[] = "0123456789abcdef";
	char *o = buf;
	size_t n = len < max ? len : max;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x20 && c < 0x7f && c != '\\') {
			*o++ = (char)c;
		} else {
			*o++ = '\\';
			*o++ = 'x';
			*o++ = hex[c >> 4];
			*o++ = hex[c & 15];
		}
	}
	if (len > max) {
		memcpy(o, "...", 3);
		o += 3;
	}
	*o = '\0';
	return buf;
}
