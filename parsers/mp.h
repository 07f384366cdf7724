/*
 * mp.h - the parser contract: one mail-log line in, at most one SMTP status
 * event out.
 *
 * Everything under parsers/ is pure: no I/O, no global state (compiled
 * patterns and the custom MTA names' ids live in objects their owners
 * hold), no allocation per line. A line is passed as (pointer, length), never
 * NUL-terminated, and every string an event carries points into that line,
 * so it is valid only for the duration of the call that filled it.
 */
#ifndef MP_H
#define MP_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "parsers/ops.h"

/* Built-in MTAs. Custom parsers (a later feature) take ids from
 * MP_MTA_BUILTIN_COUNT up to MP_MTA_MAX - 1. */
enum mp_mta {
	MP_MTA_POSTFIX = 0,
	MP_MTA_EXIM,
	MP_MTA_SENDMAIL,
	MP_MTA_OPENSMTPD,
	MP_MTA_BUILTIN_COUNT
};
#define MP_MTA_MAX 16
#define MP_MTA_NONE (-1)

/* outbound: our MTA's result for a recipient (remote, local, LMTP delivery).
 * inbound: our MTA's reply to a client (rejects). */
enum mp_direction {
	MP_DIR_OUTBOUND = 0,
	MP_DIR_INBOUND = 1,
	MP_DIR_COUNT
};

/* What the line says happened, in the MTA's own terms normalised. */
enum mp_outcome {
	MP_OUTCOME_NONE = 0,
	MP_OUTCOME_SENT,
	MP_OUTCOME_DEFERRED,
	MP_OUTCOME_BOUNCED,
	MP_OUTCOME_EXPIRED,
	MP_OUTCOME_REJECTED,      /* permanent reject of a client */
	MP_OUTCOME_TEMP_REJECTED, /* temporary reject of a client */
	MP_OUTCOME_COUNT
};

/* RFC 3463 enhanced status code. cls == 0 means "none". Valid codes have
 * cls in {2,4,5} and subject, detail in 0..999. */
struct mp_enhanced {
	uint8_t cls;
	uint16_t subject;
	uint16_t detail;
};

/* Which kind of syslog header a line had. */
enum mp_hdr_kind {
	MP_HDR_NONE = 0,   /* no recognised header: msg is the whole line */
	MP_HDR_RFC3164,    /* "Nov 28 14:10:01 host prog[pid]: " */
	MP_HDR_RFC3339,    /* "2026-11-28T14:10:01.123456+00:00 host prog[pid]: " */
	MP_HDR_RFC5424,    /* "<22>1 2026-11-28T14:10:01.123456+00:00 host app procid msgid sd " */
	MP_HDR_EXIM,       /* Exim's own "2026-11-28 14:10:01 [pid] " mainlog prefix */
};

/* A broken-down timestamp exactly as the header wrote it. Converting it to
 * epoch seconds needs the clock and the timezone, so it is done only when
 * somebody needs it (mp_time_to_epoch), not for every line. */
struct mp_time {
	int16_t year;        /* 0: not in the header (RFC 3164), infer it */
	uint8_t mon;         /* 1..12, 0 = no timestamp at all */
	uint8_t mday;        /* 1..31 */
	uint8_t hour, min, sec;
	uint32_t usec;
	uint8_t has_offset;  /* 1: utc_offset is valid; 0: local time */
	int32_t utc_offset;  /* seconds east of UTC */
};

/* The parsed syslog header. All pointers point into the line. */
struct mp_syslog {
	enum mp_hdr_kind kind;
	struct mp_time time;
	const char *host;  size_t host_len;  /* may be NULL */
	const char *tag;   size_t tag_len;   /* "postfix/submission/smtpd", no "[pid]"; may be NULL */
	const char *msg;   size_t msg_len;   /* the message after "tag[pid]: " */
};

/* What kind of line an event stands for. Only MP_EVENT_STATUS lines count
 * in maillog_smtp_status_total; the others feed other families. */
enum mp_event_kind {
	MP_EVENT_STATUS = 0,   /* a delivery result or a rejection (the default: zeroed events are this) */
	MP_EVENT_RECEIVED,     /* a message accepted from a client (Postfix qmgr from=/smtpd client=, Exim <=, ...) */
};

/* Where an outbound result went, so a content filter's 250 is never taken
 * for a delivery to the internet. On a MP_EVENT_RECEIVED event, FILTER
 * marks a message handed back by a content filter or a local submission
 * agent, already received once, as the MTA's log states it (Postfix:
 * XFORWARD's orig_queue_id=, or a re-injecting smtpd named by
 * mp_registry_set_reinjection); a client on the loopback alone is no such
 * hand-back, since webmail submits there too. */
enum mp_destination {
	MP_DEST_NONE = 0,      /* not stated / inbound */
	MP_DEST_REMOTE,        /* another MTA over SMTP */
	MP_DEST_LOCAL,         /* local, virtual, LMTP, pipe to a local program, mailbox */
	MP_DEST_FILTER,        /* a content filter or re-injection hop (e.g. amavis on 127.0.0.1:10024) */
	MP_DEST_COUNT
};

/* Delivery delay stages. Postfix's delays=a/b/c/d fills the first four;
 * MTAs that state one delivery time (Exim DT=, Sendmail xdelay=) fill
 * MP_STAGE_DELIVERY only. */
enum mp_delay_stage {
	MP_STAGE_BEFORE_QMGR = 0, /* Postfix a: before the queue manager, including transmission */
	MP_STAGE_IN_QMGR,         /* Postfix b: in the queue manager */
	MP_STAGE_CONN_SETUP,      /* Postfix c: connection setup, DNS, HELO, TLS */
	MP_STAGE_TRANSMISSION,    /* Postfix d: message transmission */
	MP_STAGE_DELIVERY,        /* one delivery time (Exim DT=, Sendmail xdelay=) */
	MP_STAGE_COUNT
};

/* One SMTP status: a delivery result or a rejection. Caller-owned, filled by
 * mp_registry_parse, which zeroes it first (so every field below not stated
 * by the line is 0/NULL, and the delays are set to -1). */
struct mp_event {
	enum mp_event_kind kind;
	int mta;                        /* enum mp_mta or a custom id, MP_MTA_NONE if unknown */
	enum mp_direction direction;
	enum mp_outcome outcome;
	uint16_t code;                  /* 200..599, or 0: the line quotes no reply code */
	struct mp_enhanced enhanced;    /* dsn= field, else the reply's enhanced code, else none */
	uint8_t cls;                    /* 2, 4 or 5: always set on a status event */
	enum mp_destination destination;
	const char *domain; size_t domain_len; /* outbound: the recipient's domain; inbound: the client's host name if the log states a real one, else its IP address (never a recipient's domain); may be NULL; not lower-cased or checked */
	const char *reply; size_t reply_len;   /* the quoted reply / status text, for classification; may be NULL */
	/* 1 on a deferral the MTA logged without trying the destination this
	 * time, because an earlier failure put it in its retry wait (Postfix
	 * "delivery temporarily suspended", Exim "retry time not reached"): it
	 * repeats a failure already counted. Still a status; its reason is
	 * not_attempted (parsers/reason.h). */
	uint8_t not_attempted;
	double delay;                   /* seconds from receipt to this result (Postfix delay=, Exim QT=, Sendmail delay=); < 0: not stated */
	double delay_stage[MP_STAGE_COUNT]; /* seconds per stage; < 0: not stated */
	struct mp_syslog hdr;           /* the header the line had */
	/* Operational activity (ops.h): set on any line that reports some,
	 * whatever mp_registry_parse returns for it (a connect line returns 0
	 * with one op; an Exim "=>" line returns 1 with a status and a flag). */
	uint8_t nops;
	struct mp_op ops[MP_OPS_MAX];
	const char *tls_cipher; size_t tls_cipher_len; /* the cipher of a TLS op; may be NULL */
};

/* Parse an SMTP reply code at s (3 digits, 200..599, followed by a space,
 * '-', end of input or another non-digit character). Returns the code or 0. */
int mp_parse_reply_code(const char *s, size_t len);

/* Parse an RFC 3463 enhanced code "[245].[0-9]{1,3}.[0-9]{1,3}" at s. The
 * code must be followed by end of input or a non-digit, non-'.' character.
 * Returns the number of bytes consumed, or 0 (and *out zeroed) if there is
 * no valid code there. */
size_t mp_parse_enhanced(const char *s, size_t len, struct mp_enhanced *out);

/* Format an enhanced code as "5.1.1" into buf (at least MP_ENHANCED_BUFSZ
 * bytes). Writes "" for none. Returns the length written. */
#define MP_ENHANCED_BUFSZ 12
size_t mp_format_enhanced(const struct mp_enhanced *e, char *buf);

/* Set ev->cls from ev->code, else from ev->enhanced, else from ev->outcome.
 * Returns 0, or -1 if none of the three gives a class. */
int mp_event_set_class(struct mp_event *ev);

/* Parse the syslog (or Exim mainlog) header at the start of line. Always
 * succeeds: a line with no recognised header gets kind MP_HDR_NONE and msg
 * set to the whole line. */
void mp_syslog_parse(const char *line, size_t len, struct mp_syslog *out);

/* Convert t to seconds since the epoch. A header without a year (RFC 3164)
 * gets the year that puts the timestamp nearest to `now`, so a December line
 * read in January lands in the previous year and a January line read on
 * 31 December lands in the next one. Local times use the process's timezone
 * (TZ, set by --maillog.timezone). Returns -1 if t holds no timestamp. */
int64_t mp_time_to_epoch(const struct mp_time *t, time_t now);

/* Seconds from now within which an RFC 3164 time's nearest year is sure to
 * be the clock's own: half a year less two and a half days, more than any
 * zone's change of rules moves one year's date against the next's. */
#define MP_YEAR_SURE (180 * 86400)

/* The parser registry: the set of parsers a format selects, and the per-line
 * dispatch between them. Not thread-safe: one registry per thread (it owns
 * the PCRE2 match data). */
struct mp_registry;

/* Create a registry for `format`: "auto" (each line is given to the parser
 * whose tag or shape it has) or one parser's name ("postfix", ...).
 * Compiles every pattern once (JIT where available). Returns NULL and writes
 * a one-line reason to err on failure. The caller frees it with
 * mp_registry_free. */
struct mp_registry *mp_registry_new(const char *format, char *err, size_t errlen);
void mp_registry_free(struct mp_registry *reg);

/* A parser defined by configuration instead of C (README "Custom parsers";
 * daemon/config.c reads these from --config.file). The registry keeps no
 * pointer into a definition: it may be freed once the registry exists.
 * Two definitions may share an mta if their directions differ. */
struct mp_custom_def {
	const char *mta;              /* label value, and a --maillog.format name */
	enum mp_direction direction;
	const char *tag;              /* NULL, or the syslog tag (no "[pid]") of its lines */
	const char *match;            /* NULL, or a literal every status line holds (its marker) */
	const char *const *patterns;  /* PCRE2; named groups code, enhanced, outcome, domain */
	size_t npatterns;
};

/* Which part of the input an mp_registry_new_ex error is about, so a
 * config reader can point at the line it came from. */
enum mp_def_field {
	MP_DEF_NONE = 0,   /* no part in particular (out of memory) */
	MP_DEF_FORMAT,     /* the format name */
	MP_DEF_PARSER,     /* the definition as a whole (too many of them) */
	MP_DEF_MTA,
	MP_DEF_TAG,
	MP_DEF_MATCH,
	MP_DEF_PATTERNS,   /* the list (empty, too long) or, with pattern >= 0, one pattern */
};
struct mp_def_error {
	enum mp_def_field field;
	int def;      /* index into defs, or -1 */
	int pattern;  /* index into defs[def].patterns, or -1 */
};

/* The most custom parsers one registry holds, and the most distinct custom
 * mta names one names table (below) ever gives an id to. */
#define MP_CUSTOM_MAX (MP_MTA_MAX - MP_MTA_BUILTIN_COUNT)

/* The longest custom mta name. */
#define MP_CUSTOM_NAME_MAX 32

/*
 * The names of custom MTA ids (parsers/mta_names.c). A custom mta name
 * must keep its id for as long as its counters live, across the reloads
 * that replace the registry, and its name must stay readable after the
 * registry that gave the id is gone (a parser a reload removed keeps its
 * series). So the table outlives registries: its owner (daemon/main.c's
 * pipeline) lends it to every registry it builds, which gives ids in it,
 * and to whoever renders names (web/, through struct expo_view).
 *
 * Zero-initialise: that is an empty table. The members are mta_names.c's.
 * Rule: only mp_registry_new_ex writes, by one thread at a time (the one
 * that builds registries); slots are append-only and published by a
 * release store of count, so any thread may read names meanwhile.
 */
struct mp_mta_names {
	_Atomic int count;
	char name[MP_CUSTOM_MAX][MP_CUSTOM_NAME_MAX + 1];
};

/* mp_registry_new with custom parsers besides the built-in ones: format may
 * also name a custom parser. Every definition is checked and compiled even
 * when format selects another, so one call validates a whole config. The
 * custom mta names get their ids in names, which the registry keeps a
 * pointer to (it must outlive the registry): a name keeps its id in every
 * registry built with the same table (ids are never reused), so counters
 * survive a reload that rebuilds the registry. names NULL: the registry
 * keeps a table of its own, valid as long as it is. On failure returns
 * NULL, a one-line reason in err and, if where is not NULL, what the
 * reason is about. */
struct mp_registry *mp_registry_new_ex(const char *format,
    const struct mp_custom_def *defs, size_t ndefs, struct mp_mta_names *names,
    struct mp_def_error *where, char *err, size_t errlen);

/* The names table reg gives its custom ids in (for mp_mta_name). */
const struct mp_mta_names *mp_registry_names(const struct mp_registry *reg);

/*
 * Postfix smtpd instances that take back mail a content filter has
 * already seen (README, maillog_messages_received_total). A client= line
 * is a new receipt unless it carries XFORWARD's orig_queue_id= or
 * orig_client= (smtpd.c, smtpd_sasl_proto.c), or its tag names one of
 * these: a syslog_name as master.cf sets it ("postfix/amavis", matching
 * the tag "postfix/amavis/smtpd") or that whole tag. A tag without a '/'
 * (rsyslog's RFC 5424 APP-NAME "postfix") names no instance and matches
 * none. The names are copied; each call replaces the last one's. Returns
 * 0, or -1 with a one-line reason in err (more than MP_REINJECT_MAX
 * names, an empty one or one longer than MP_REINJECT_NAME_MAX).
 */
#define MP_REINJECT_MAX 16
#define MP_REINJECT_NAME_MAX 128
int mp_registry_set_reinjection(struct mp_registry *reg,
    const char *const *names, size_t n, char *err, size_t errlen);

/* The MTA ids reg's parsers report (built-ins first, then custom ones in
 * definition order). Writes at most max into out; returns the count. */
size_t mp_registry_mtas(const struct mp_registry *reg, int *out, size_t max);

/* Parse one complete line (no trailing newline, not NUL-terminated).
 * Returns 1 and fills ev when the line states a delivery result or a
 * rejection; 0 when it is not such a line; -1 when it carries an MTA's status
 * marker (status=, reject: ...) but no status could be extracted, in which
 * case ev->mta names the MTA whose marker it was. Whatever it returns,
 * ev->nops > 0 means the line also reports operational activity (ops.h),
 * and ev->mta then names the MTA. Never allocates. */
int mp_registry_parse(struct mp_registry *reg, const char *line, size_t len,
    struct mp_event *ev);

/* The label value for an MTA id: "postfix", ..., or the name a custom id
 * has in names; "unknown" for an id names does not have (any custom id
 * when names is NULL). Never NULL; safe from any thread (see struct
 * mp_mta_names). */
const char *mp_mta_name(const struct mp_mta_names *names, int mta);

/* Names of the formats mp_registry_new accepts, for --help and errors:
 * "auto|postfix|...". Static string. */
const char *mp_format_names(void);

/* Label values for enums. Static strings. */
const char *mp_direction_name(enum mp_direction d);
const char *mp_outcome_name(enum mp_outcome o);

#endif
