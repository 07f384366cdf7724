/*
 * log.h - the exporter's own messages, on stderr, as logfmt or JSON.
 *
 * The pairs follow OpenSMTPD: log_warn() appends strerror(errno), log_warnx()
 * does not; fatal()/fatalx() log at error level and exit(1).
 *
 * Anything a log line's *content* can trigger goes through log_limited(),
 * which allows a small burst per key and then at most one message per
 * interval, reporting how many were suppressed. A hostile SMTP client can
 * then never flood our log through the mail log.
 */
#ifndef LOG_H
#define LOG_H

#include <stdarg.h>
#include <stddef.h>

enum log_level { LOG_LEVEL_DEBUG = 0, LOG_LEVEL_INFO, LOG_LEVEL_WARN, LOG_LEVEL_ERROR };
enum log_format { LOG_FORMAT_LOGFMT = 0, LOG_FORMAT_JSON };

/* Parse "debug|info|warn|error" / "logfmt|json". Return 0 or -1. */
int log_parse_level(const char *s, enum log_level *out);
int log_parse_format(const char *s, enum log_format *out);

void log_setup(enum log_level level, enum log_format format);

#define LOG_PRINTF(a, b) __attribute__((format(printf, a, b)))

void log_debug(const char *fmt, ...) LOG_PRINTF(1, 2);
void log_info(const char *fmt, ...) LOG_PRINTF(1, 2);
void log_warn(const char *fmt, ...) LOG_PRINTF(1, 2);   /* + ": strerror(errno)" */
void log_warnx(const char *fmt, ...) LOG_PRINTF(1, 2);
void log_error(const char *fmt, ...) LOG_PRINTF(1, 2);  /* + ": strerror(errno)" */
void log_errorx(const char *fmt, ...) LOG_PRINTF(1, 2);
_Noreturn void fatal(const char *fmt, ...) LOG_PRINTF(1, 2);
_Noreturn void fatalx(const char *fmt, ...) LOG_PRINTF(1, 2);

/* Rate-limited warnings for content-triggered events. Each distinct key
 * (a small enum of causes) has its own budget: LOG_LIMIT_BURST messages,
 * then one per LOG_LIMIT_INTERVAL seconds, the next one saying how many
 * were suppressed. Returns 1 if the message was written. */
enum log_limit_key {
	LOG_LIMIT_OVERLONG = 0,
	LOG_LIMIT_UNMATCHED,
	LOG_LIMIT_OPEN,
	LOG_LIMIT_READ,
	LOG_LIMIT_CARDINALITY,
	LOG_LIMIT_HTTP,
	LOG_LIMIT_SYSLOG,   /* --syslog.listen: refused connections, overlong or malformed messages */
	LOG_LIMIT_ENVELOPE,      /* container log records not in their file's format */
	LOG_LIMIT_GLOB,     /* a glob past --maillog.max-files */
	LOG_LIMIT_KEYS
};
#define LOG_LIMIT_BURST 5
#define LOG_LIMIT_INTERVAL 60
int log_limited(enum log_limit_key key, enum log_level level, const char *fmt, ...)
    LOG_PRINTF(3, 4);

/* Write `len` bytes of untrusted text into buf as a printable, quoted-safe
 * excerpt (non-printable bytes as \xNN, at most `max` input bytes, "..."
 * when cut). buf must hold 4*max+4 bytes. Returns buf. */
char *log_excerpt(char *buf, const char *s, size_t len, size_t max);

#endif
