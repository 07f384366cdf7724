/*
 * showq.h - a client for Postfix's showq service: the queue listing that
 * `postqueue -p` and `postqueue -j` print, read from its UNIX socket
 * (default /var/spool/postfix/public/showq) and folded into counts and
 * histograms per queue.
 *
 * The wire format (Postfix 3.x, src/showq/showq.c and
 * src/util/attr_print0.c): a stream of NUL-terminated strings. Each
 * attribute is "name\0value\0"; a record ends with an empty name ("\0").
 *   1. the handshake record: protocol=mail_queue_list_protocol;
 *   2. one record per message: queue_name, queue_id, time, size,
 *      forced_expire, sender, then a (recipient, reason) pair per
 *      recipient;
 *   3. an empty record (a lone "\0"): the end of the listing.
 * Older Postfix sent the text of `mailq` instead; it is refused with a
 * message saying so.
 *
 * The parser is a push parser over arbitrary chunks (a byte at a time
 * works), with a size limit on every name and value, and it never keeps a
 * partial result: on error the caller's stats are to be discarded.
 */
#ifndef SHOWQ_H
#define SHOWQ_H

#include <stddef.h>
#include <stdint.h>

#include "store/queue_snapshot.h"

/* Attribute limits: longer is an error, never a truncation. */
#define SHOWQ_MAX_NAME 64          /* attribute names ("queue_name" is 10) */
#define SHOWQ_MAX_ADDRESS 4096     /* sender, recipient */
#define SHOWQ_MAX_REASON 16384     /* a deferral reason: a remote reply, quoted */
#define SHOWQ_MAX_OTHER 16384      /* an attribute this parser does not know */

enum showq_state { SHOWQ_ST_NAME, SHOWQ_ST_VALUE };

/* Push parser state; embed it, showq_parser_init() it. */
struct showq_parser {
	struct showq_stats *out;
	int64_t now;               /* unix time the ages are taken against */
	enum showq_state st;
	int record;                /* 0: the handshake; then messages */
	int done;                  /* the end record was read */
	uint64_t offset;           /* bytes consumed, for messages */
	char name[SHOWQ_MAX_NAME + 1];
	size_t nlen;
	int attr;                  /* which attribute the value belongs to */
	size_t vlen, vmax;
	char value[80];            /* values that are kept (numbers, ids) */
	/* the message record being read */
	unsigned seen;             /* bit per attribute seen */
	int last_was_rcpt;
	int queue;
	int64_t time, size;
	char err[200];
};

/* Reset p to read a new stream into out (zeroed here), ages against now. */
void showq_parser_init(struct showq_parser *p, struct showq_stats *out, int64_t now);

/* Feed len bytes. Returns 0 (more wanted), 1 (the end record was read; the
 * listing is complete) or -1 (malformed: p->err says why and where; out
 * holds a partial count and must be discarded). Bytes after the end
 * record are an error. */
int showq_parser_feed(struct showq_parser *p, const char *buf, size_t len);

/* The whole of a listing in one buffer: 0 and out filled, or -1 and err. */
int showq_parse_buffer(const char *buf, size_t len, int64_t now, struct showq_stats *out,
    char *err, size_t errlen);

/* showq_collect's results besides 0. */
#define SHOWQ_ERROR (-1)         /* connected, but the listing failed */
#define SHOWQ_UNREACHABLE (-2)   /* no socket, not a socket, permission denied, refused */

/*
 * Connect to the showq socket at path, read the whole listing within
 * timeout_ms and parse it into out. stop_fd (or -1) is polled alongside:
 * when it becomes readable the read is abandoned (shutdown). Returns 0,
 * SHOWQ_UNREACHABLE (the caller may fall back to the queue directories) or
 * SHOWQ_ERROR, with err set for both.
 */
int showq_collect(const char *path, int timeout_ms, int stop_fd, int64_t now,
    struct showq_stats *out, char *err, size_t errlen);

#endif
