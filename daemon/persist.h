/*
 * persist.h - --state.file: resume the counters and read positions at
 * start-up, write snapshots from the event loop, and show the web thread
 * only counts that are already on disk.
 *
 * All of it runs on the main thread (the one writer of the counters) but
 * for the view's refresh hook, which the web thread calls. Every function
 * but persist_new and persist_start takes NULL for "no --state.file" and
 * then does nothing, so the event loop needs no test of its own.
 */
#ifndef PERSIST_H
#define PERSIST_H

#include <stddef.h>
#include <stdint.h>

#include "daemon/input/tailer.h"
#include "daemon/options.h"
#include "store/input_stats.h"

struct agg;
struct expo_source;
struct expo_view;
struct journal;
struct persist;

/* What the state file says about one --maillog.path. */
struct saved_source {
	int known;
	int npos;                     /* -1: standard input, not resumable */
	struct tail_pos *pos;         /* npos of them, paths in `paths`; persist_resume_free */
	char *paths;
	struct input_status status;
};

/* What the state file says about the journal, and the process counters
 * that live outside the store. */
struct saved_journal {
	int known;
	char cursor[512];             /* "" = none */
	struct input_status status;
	uint64_t inotify_overflows;
	uint64_t write_errors;
};

/* Where the inputs resume from: all zero (nothing known) without a state
 * file, or when the file is not used. */
struct persist_resume {
	struct saved_source src[OPTS_MAX_PATHS];   /* by --maillog.path index */
	struct saved_journal journal;
};

/*
 * Start-up, before a line is read: read o->state_file. When it is usable,
 * *live (a store made with the options the counting uses, nothing counted
 * yet) is replaced by one holding the saved counters, and rs says where
 * each input resumes; when it is not (missing, corrupt, other options),
 * why is logged and *live and rs stay as they are, a fresh start. Then
 * make the copy the web thread renders. Returns the persister, or NULL
 * with a reason in err (out of memory, no eventfd).
 */
struct persist *persist_new(const struct options *o, struct agg **live,
    struct persist_resume *rs, char *err, size_t errlen);

/*
 * Once the inputs are open (ts holds o->npaths sources; journal, if not
 * NULL, is source o->npaths of sources): point sources[] at the published
 * copies of their statistics, publish the restored counters, and write the
 * starting positions at once. Returns 0, or -1 if the state file cannot
 * be written (logged): better to stop now than to fail silently at each
 * write.
 */
int persist_start(struct persist *ps, struct tail_set *ts, struct journal *journal,
    struct expo_source *sources);

/* Free the positions persist_new put in rs, once the files are open
 * (the rest of rs stays readable). */
void persist_resume_free(struct persist_resume *rs);

/* Point view (counters, overflow and write-error counts, refresh hook) at
 * what has been written. */
void persist_view(struct persist *ps, struct expo_view *view);

/* The fd the event loop polls for a scrape asking for a fresh snapshot,
 * or -1. */
int persist_fd(const struct persist *ps);

/* timeout (ms, -1 = none), shortened to when the next periodic snapshot
 * is due. */
int persist_timeout_ms(const struct persist *ps, int timeout);

/* After every loop turn, between two tail_set_process() calls (a line
 * boundary): refresh the live gauges and write a snapshot when one is due
 * or was asked for (asked: persist_fd was readable). */
void persist_tick(struct persist *ps, int asked);

/* At shutdown, once the inputs are drained: the last snapshot, if anything
 * was read since the one before. */
void persist_finish(struct persist *ps);

/* Free, after the web server has stopped (it renders the published copy). */
void persist_free(struct persist *ps);

#endif
