/*
 * envelope.h - take a container runtime's envelope off each line of a
 * file, so the parsers see the line the mail server wrote.
 *
 * Two envelopes exist on the hosts that run mail servers in containers:
 * - CRI (containerd, CRI-O; every Kubernetes node's /var/log/pods):
 *   "2026-11-28T14:10:01.123456789Z stdout F <line>". A line longer than
 *   the runtime's buffer (16 KiB) is written as "P" parts ended by an "F"
 *   part.
 * - Docker's json-file driver (/var/lib/docker/containers/<id>/<id>-json.log):
 *   {"log":"<line>\n","stream":"stdout","time":"2026-11-28T14:10:01.1Z"}
 *   with JSON escapes (Docker writes <, > and & as \u003c, \u003e, \u0026),
 *   and a long line split at 16 KiB into records with no "\n" until the
 *   last.
 *
 * One struct envelope per open file: a file is in one format from its
 * first line to its last (a rotation starts a new file, and a new struct).
 * In auto mode the first line decides: a CRI record, a Docker record, or
 * neither (a plain log, passed on untouched from then on).
 *
 * Parts are joined per stream (stdout and stderr are interleaved in one
 * file) up to max_line bytes; a longer line is skipped up to its last part
 * and counted, as the line splitter does with a long plain line. A line
 * with no syslog header of its own (Postfix's maillog_file writes one, so
 * does Exim's mainlog) but a "tag[pid]: " start gets the record's own
 * timestamp put in front as an RFC 3339 header, so its time is the
 * stream's.
 *
 * Memory: nothing until a line needs copying (a Docker line, a joined
 * line, a header put in front); then a buffer per stream that doubles up
 * to max_line and is kept. If it cannot grow, the line is counted as
 * overlong and skipped, as the line splitter does. Nothing else is
 * allocated per line.
 */
#ifndef ENVELOPE_H
#define ENVELOPE_H

#include <stddef.h>
#include <stdint.h>

#include "daemon/input/tailer.h"
#include "store/envelope_stats.h"

enum envelope_mode {
	ENVELOPE_AUTO = 0,   /* decided per file by its first line */
	ENVELOPE_NONE,       /* plain lines: passed on as they are */
	ENVELOPE_CRI,
	ENVELOPE_DOCKER,
};

/* "auto", "none", "cri", "docker" into *mode. Returns 0, or -1 for another word. */
int envelope_mode_parse(const char *s, enum envelope_mode *mode);
const char *envelope_mode_name(enum envelope_mode mode);

/* Shared by every file of a daemon (or of one --once run). */
struct envelope_config {
	enum envelope_mode mode;
	size_t max_line;               /* the longest joined line kept (--maillog.max-line-length) */
	struct envelope_stats *stats;  /* NULL: not counted */
};

/* Room before a line for the header put in front: an RFC 3339 time with
 * nanoseconds and an offset ("2026-11-28T14:10:01.123456789+01:00", 35
 * bytes) and a space. */
#define ENVELOPE_PREFIX_MAX 40

struct envelope_join {
	char *buf;          /* ENVELOPE_PREFIX_MAX bytes of room, then the line */
	size_t cap;         /* bytes allocated */
	size_t len;         /* bytes of the line held after the room */
	uint64_t pending;   /* bytes of the records of a line not finished yet */
	int skipping;       /* the line being joined is over max_line: drop to its end */
};

/* Per open file. Zero-initialise: that is "not decided yet". */
struct envelope {
	int kind;                        /* 0: undecided; else an enum envelope_mode */
	struct envelope_join join[2];    /* stdout, stderr */
};

/*
 * One physical line of the file (as the line splitter passes it: no "\n",
 * not NUL-terminated) in; fn is called for each complete inner line it
 * finishes, with `source`, and never with an empty line. cfg NULL or mode
 * none: fn gets the line as it is. The inner line passed to fn is valid
 * only during the call.
 */
void envelope_line(struct envelope *e, const struct envelope_config *cfg,
    const char *line, size_t len, tail_line_fn fn, void *ctx, int source);

/*
 * Whether every further line of this file would go to fn exactly as it is:
 * no envelope configured, mode none, or auto mode whose first line decided
 * "plain". A reader may then call its line function itself instead of
 * envelope_line (which costs a call and a stack frame per line, ~50
 * instructions on a Postfix line, for nothing). Ask it again for each
 * chunk of lines, not once per file: it is false until the first line has
 * been through envelope_line (the kind is still undecided), and false
 * again after envelope_fini. Once true for a struct it stays true until
 * envelope_fini: the kind is decided only while it is 0.
 */
static inline int
envelope_is_plain(const struct envelope *e, const struct envelope_config *cfg)
{
	return cfg == NULL || cfg->mode == ENVELOPE_NONE || e->kind == ENVELOPE_NONE;
}

/* Bytes of the file that hold parts of lines not finished yet (before the
 * line splitter's own fragment): a saved position must point before them
 * to read the whole line again after a restart. Exact unless a part ended
 * in a "\r" the splitter stripped. */
uint64_t envelope_pending(const struct envelope *e);

/* Free the buffers; the struct is zeroed (undecided) again. Safe twice. */
void envelope_fini(struct envelope *e);

#endif
