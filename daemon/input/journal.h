/*
 * journal.h - --journal: read the systemd journal with sd-journal and hand
 * each entry to the same per-line callback as the tailer, rebuilt as a
 * syslog line: "2026-11-28T14:10:01.123456+00:00 HOST IDENT[PID]: MESSAGE"
 * (the RFC 3339 header the parsers already read), from __REALTIME,
 * _HOSTNAME, SYSLOG_IDENTIFIER, _PID and MESSAGE.
 *
 * Built only when libsystemd is found (HAVE_LIBSYSTEMD); main.c refuses
 * the flag with a clear message otherwise. One thread (the main loop)
 * uses a struct journal: it polls journal_fd() with journal_timeout_ms()
 * and calls journal_process() when it is readable, times out, or
 * journal_pending() says a bounded turn left entries behind.
 */
#ifndef JOURNAL_H
#define JOURNAL_H

#include <stddef.h>

#include "daemon/input/tailer.h"

#define JOURNAL_MAX_MATCHES 32

struct journal_opts {
	const char *directory;        /* NULL: the local system journal */
	const char *units[JOURNAL_MAX_MATCHES];    /* _SYSTEMD_UNIT matches */
	int nunits;
	const char *idents[JOURNAL_MAX_MATCHES];   /* SYSLOG_IDENTIFIER matches */
	int nidents;
	int from_beginning;           /* no cursor: start at the head, not the tail */
	size_t max_line;              /* longer entries are skipped and counted overlong */
};

/* The MTAs' units and syslog identifiers, used when no --journal.unit or
 * --journal.identifier is given. */
void journal_opts_defaults(struct journal_opts *o);

struct journal;

/*
 * Open the journal, apply the matches (any listed unit OR any listed
 * identifier) and position it: just after `cursor` when it is not NULL
 * (an entry of a previous run, from the state file; if that entry was
 * vacuumed meanwhile, at the first entry after where it was), else at the
 * head or the tail. Returns NULL with a reason in err. Free with
 * journal_close (NULL is a no-op).
 */
struct journal *journal_open(const struct journal_opts *o, const char *cursor,
    tail_line_fn fn, void *ctx, int source, char *err, size_t errlen);
void journal_close(struct journal *j);

int journal_fd(struct journal *j);
/* Milliseconds to wait at most (0: entries are pending; -1: forever). */
int journal_timeout_ms(struct journal *j);
/*
 * Acknowledge the journal's wake-up (rotation, vacuum and new files are
 * picked up here: SD_JOURNAL_INVALIDATE) and hand over every new entry,
 * at most `budget` of them so a burst never starves the rest of the loop;
 * the next call goes on where this one stopped.
 */
void journal_process(struct journal *j, unsigned budget);

/* The cursor of the last entry handed over, or of the entry the journal
 * was positioned on at open (NUL-terminated, owned by j, valid until the
 * next journal_process); NULL at the head of a journal with nothing read. */
const char *journal_cursor(const struct journal *j);

/* Counters in the same shape as a followed file's. */
const struct input_status *journal_status(const struct journal *j);
/* Restore them from the state file. */
void journal_restore_status(struct journal *j, const struct input_status *saved);

#endif
