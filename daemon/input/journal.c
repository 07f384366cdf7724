/*
 * journal.c - the journald input (journal.h).
 *
 * Following, step by step:
 * 1. sd_journal_get_fd() gives an inotify fd over the journal directories;
 *    the main loop polls it beside the tailer's.
 * 2. When it is readable, sd_journal_process() takes the events. It says
 *    SD_JOURNAL_APPEND for new entries and SD_JOURNAL_INVALIDATE when
 *    files were added or removed (rotation, vacuum); either way the
 *    position we hold stays valid and sd_journal_next() walks on, into a
 *    new file if need be, so both are handled by draining.
 * 3. Draining calls sd_journal_next() until it returns 0, in turns of
 *    `budget` entries: a burst is read in full, a few thousand entries per
 *    loop turn, never one entry per wake-up (postfix_exporter's reader
 *    stops at the first end of the journal; this one never stops).
 * The line is built in a buffer sized once; sd_journal_get_data returns
 * pointers into the journal's own mapping, so nothing is allocated per
 * entry here. Compiled only when libsystemd is found (daemon/meson.build).
 */
#include "daemon/input/journal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <systemd/sd-journal.h>

#include "daemon/input/systemd_dl.h"
#include "util/log.h"

struct journal {
	sd_journal *j;
	tail_line_fn fn;
	void *ctx;
	int source;
	size_t max_line;
	char *line;                /* max_line + header room, allocated once */
	size_t cap;
	char *cursor;              /* last entry handed over (sd_journal's malloc) */
	int pending;               /* the last turn ended on the budget */
	struct input_status st;
};

void
journal_opts_defaults(struct journal_opts *o)
{
	static const char *const units[] = {
		"postfix.service", "postfix@-.service", "exim4.service", "exim.service",
		"sendmail.service", "opensmtpd.service", "smtpd.service",
	};
	/* SYSLOG_IDENTIFIER matches whole values, so Postfix's daemons are
	 * listed one by one; most installs are caught by the units anyway. */
	static const char *const idents[] = {
		"postfix/smtp", "postfix/smtpd", "postfix/lmtp", "postfix/local",
		"postfix/virtual", "postfix/pipe", "postfix/qmgr", "postfix/cleanup",
		"postfix/error", "postfix/bounce", "postfix/postscreen",
		"postfix/submission/smtpd", "postfix/smtps/smtpd", "exim", "exim4",
		"sendmail", "sm-mta", "sm-msp-queue", "smtpd",
	};

	memset(o, 0, sizeof *o);
	for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
		o->units[o->nunits++] = units[i];
	for (size_t i = 0; i < sizeof idents / sizeof idents[0]; i++)
		o->idents[o->nidents++] = idents[i];
	o->max_line = 65536;
}

static int
add_matches(sd_journal *j, const char *field, const char *const *v, int n)
{
	char m[512];
	int r;

	for (int i = 0; i < n; i++) {
		int len = snprintf(m, sizeof m, "%s=%s", field, v[i]);
		if (len < 0 || (size_t)len >= sizeof m)
			return -ENAMETOOLONG;
		if ((r = sym_sd_journal_add_match(j, m, (size_t)len)) < 0)
			return r;
	}
	return 0;
}

struct journal *
journal_open(const struct journal_opts *o, const char *cursor, tail_line_fn fn, void *ctx,
    int source, char *err, size_t errlen)
{
	struct journal *jr;
	int r;

	if (systemd_dl_load(err, errlen) < 0)
		return NULL;
	if ((jr = calloc(1, sizeof *jr)) == NULL) {
		snprintf(err, errlen, "cannot read the journal: out of memory");
		return NULL;
	}
	jr->fn = fn;
	jr->ctx = ctx;
	jr->source = source;
	jr->max_line = o->max_line;
	jr->cap = o->max_line + 1024;
	if ((jr->line = malloc(jr->cap)) == NULL) {
		snprintf(err, errlen, "cannot read the journal: out of memory for a %zu-byte line",
		    jr->cap);
		goto fail;
	}
	r = o->directory ? sym_sd_journal_open_directory(&jr->j, o->directory, 0) :
	    sym_sd_journal_open(&jr->j, SD_JOURNAL_LOCAL_ONLY);
	if (r < 0) {
		snprintf(err, errlen, "cannot open the journal%s%s: %s",
		    o->directory ? " in " : "", o->directory ? o->directory : "", strerror(-r));
		goto fail;
	}
	if ((r = add_matches(jr->j, "_SYSTEMD_UNIT", o->units, o->nunits)) < 0 ||
	    (o->nunits > 0 && o->nidents > 0 && (r = sym_sd_journal_add_disjunction(jr->j)) < 0) ||
	    (r = add_matches(jr->j, "SYSLOG_IDENTIFIER", o->idents, o->nidents)) < 0) {
		snprintf(err, errlen, "cannot filter the journal: %s", strerror(-r));
		goto fail;
	}
	/* Fields longer than a line we would keep are not worth reading. */
	sym_sd_journal_set_data_threshold(jr->j, o->max_line + 64);
	if (cursor != NULL && *cursor != '\0') {
		if ((r = sym_sd_journal_seek_cursor(jr->j, cursor)) < 0) {
			snprintf(err, errlen, "the saved journal cursor is not valid: %s",
			    strerror(-r));
			goto fail;
		}
		/* The saved entry was counted: step past it. If it is gone
		 * (vacuumed), next() already stands on the first entry after it,
		 * which was not counted: step back so the loop reads it. */
		if (sym_sd_journal_next(jr->j) > 0 && sym_sd_journal_test_cursor(jr->j, cursor) <= 0) {
			sym_sd_journal_previous(jr->j);
			log_info("journal: the saved position was vacuumed; reading on from the "
			    "first entry after it");
		}
	} else if (o->from_beginning) {
		sym_sd_journal_seek_head(jr->j);
	} else {
		sym_sd_journal_seek_tail(jr->j);
		/* seek_tail stands after the last entry; previous() lands on it
		 * so that next() returns only entries written from now on. */
		sym_sd_journal_previous(jr->j);
	}
	/* Where we stand is already a position worth saving: a restart before
	 * the first new entry must not seek the tail again and skip what was
	 * written meanwhile. (At the head there is no entry yet, and none is
	 * needed: a restart without a cursor reads from the head.) */
	if (sym_sd_journal_get_cursor(jr->j, &jr->cursor) < 0)
		jr->cursor = NULL;
	if ((r = sym_sd_journal_get_fd(jr->j)) < 0) {
		snprintf(err, errlen, "cannot watch the journal: %s", strerror(-r));
		goto fail;
	}
	atomic_store(&jr->st.state, INPUT_STATE_FOLLOWING);
	jr->pending = 1;
	return jr;
fail:
	journal_close(jr);
	return NULL;
}

void
journal_close(struct journal *jr)
{
	if (jr == NULL)
		return;
	if (jr->j != NULL)
		sym_sd_journal_close(jr->j);
	free(jr->cursor);
	free(jr->line);
	free(jr);
}

int
journal_fd(struct journal *jr)
{
	return sym_sd_journal_get_fd(jr->j);
}

int
journal_timeout_ms(struct journal *jr)
{
	uint64_t usec;
	struct timespec now;

	if (jr->pending)
		return 0;
	if (sym_sd_journal_get_timeout(jr->j, &usec) < 0 || usec == UINT64_MAX)
		return -1;
	clock_gettime(CLOCK_MONOTONIC, &now);
	uint64_t n = (uint64_t)now.tv_sec * 1000000 + (uint64_t)now.tv_nsec / 1000;
	return usec <= n ? 0 : (int)((usec - n + 999) / 1000 > 60000 ? 60000 :
	    (usec - n + 999) / 1000);
}

/* The value of FIELD in the current entry, without "FIELD=". */
static const char *
field(sd_journal *j, const char *name, size_t *len)
{
	const void *d;
	size_t n, k = strlen(name);

	if (sym_sd_journal_get_data(j, name, &d, &n) < 0 || n <= k)
		return NULL;
	*len = n - k - 1;
	return (const char *)d + k + 1;
}

/* Rebuild the syslog line of the current entry; 0 if it has no message. */
static size_t
build_line(struct journal *jr)
{
	const char *msg, *ident, *pid, *host;
	size_t mlen, ilen = 0, plen = 0, hlen = 0, used;
	uint64_t usec;
	time_t sec;
	struct tm tm;
	int n;

	if ((msg = field(jr->j, "MESSAGE", &mlen)) == NULL)
		return 0;
	if (mlen > jr->max_line) {
		atomic_fetch_add(&jr->st.overlong, 1);
		return 0;
	}
	if (sym_sd_journal_get_realtime_usec(jr->j, &usec) < 0)
		usec = 0;
	sec = (time_t)(usec / 1000000);
	gmtime_r(&sec, &tm);
	used = strftime(jr->line, 64, "%Y-%m-%dT%H:%M:%S", &tm);
	n = snprintf(jr->line + used, 32, ".%06u+00:00 ", (unsigned)(usec % 1000000));
	used += (size_t)n;
	if ((host = field(jr->j, "_HOSTNAME", &hlen)) == NULL || hlen > 255) {
		host = "localhost";
		hlen = 9;
	}
	memcpy(jr->line + used, host, hlen);
	used += hlen;
	jr->line[used++] = ' ';
	if ((ident = field(jr->j, "SYSLOG_IDENTIFIER", &ilen)) == NULL || ilen > 255) {
		ident = "unknown";
		ilen = 7;
	}
	memcpy(jr->line + used, ident, ilen);
	used += ilen;
	if (((pid = field(jr->j, "SYSLOG_PID", &plen)) != NULL ||
	    (pid = field(jr->j, "_PID", &plen)) != NULL) && plen <= 20) {
		jr->line[used++] = '[';
		memcpy(jr->line + used, pid, plen);
		used += plen;
		jr->line[used++] = ']';
	}
	jr->line[used++] = ':';
	jr->line[used++] = ' ';
	/* A multi-line message would be several lines in a file: keep only
	 * the first, as rsyslog's escaping would not reproduce it either. */
	const char *nl = memchr(msg, '\n', mlen);
	if (nl != NULL)
		mlen = (size_t)(nl - msg);
	memcpy(jr->line + used, msg, mlen);
	return used + mlen;
}

void
journal_process(struct journal *jr, unsigned budget)
{
	unsigned done = 0;
	int r = sym_sd_journal_process(jr->j);
	uint64_t lines = 0, bytes = 0;

	if (r == SD_JOURNAL_INVALIDATE)
		log_debug("journal: files were added or removed (rotation or vacuum)");
	jr->pending = 0;
	while (done < budget) {
		r = sym_sd_journal_next(jr->j);
		if (r < 0) {
			atomic_fetch_add(&jr->st.open_errors, 1);
			log_limited(LOG_LIMIT_READ, LOG_LEVEL_WARN, "journal: cannot read the next "
			    "entry: %s", strerror(-r));
			break;
		}
		if (r == 0)
			break;
		done++;
		size_t len = build_line(jr);
		if (len > 0) {
			jr->fn(jr->ctx, jr->line, len, jr->source);
			lines++;
			bytes += len + 1;
		}
	}
	if (done == budget)
		jr->pending = 1;
	if (done > 0) {
		char *c = NULL;
		if (sym_sd_journal_get_cursor(jr->j, &c) >= 0) {
			free(jr->cursor);
			jr->cursor = c;
		}
		atomic_fetch_add(&jr->st.lines, lines);
		atomic_fetch_add(&jr->st.bytes, bytes);
		atomic_store(&jr->st.last_read_unix, (int64_t)time(NULL));
	}
}

const char *
journal_cursor(const struct journal *jr)
{
	return jr->cursor;
}

const struct input_status *
journal_status(const struct journal *jr)
{
	return &jr->st;
}

void
journal_restore_status(struct journal *jr, const struct input_status *saved)
{
	int state = atomic_load(&jr->st.state);

	input_status_copy(&jr->st, saved);
	atomic_store(&jr->st.state, state);
}
