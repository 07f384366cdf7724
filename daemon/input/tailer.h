/*
 * tailer.h - follow mail-log files through every kind of rotation and hand
 * each complete line to a callback exactly once.
 *
 * One struct tail_set follows all configured paths with one inotify fd. The
 * caller's event loop polls tail_set_fd() and calls tail_set_process() when
 * it is readable, when tail_set_timeout_ms() expires, and whenever
 * tail_set_pending() says a bounded read left work behind. The tailer never
 * blocks and never polls the files in steady state: the only timer is the
 * slow reconcile that catches what inotify missed (IN_Q_OVERFLOW, coalesced
 * events, file systems that do not deliver events).
 *
 * All of this runs on one thread. Only the struct input_status counters are
 * read from other threads (the web thread), and they are atomics.
 */
#ifndef TAILER_H
#define TAILER_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "store/input_stats.h"

/* Called once per complete line, with the trailing "\n" and any "\r"
 * before it removed. Empty lines are not passed. The line is valid only
 * during the call. `source` is the index of the path in the order
 * tail_set_add() was called. */
typedef void (*tail_line_fn)(void *ctx, const char *line, size_t len, int source);

struct envelope_config;

struct tail_opts {
	int from_beginning;          /* 1: read files that exist at start from offset 0; 0: from the end */
	size_t max_line;             /* longest line kept; longer ones are skipped and counted (default 64 KiB) */
	unsigned reconcile_ms;       /* safety-net re-stat interval (default 2000) */
	unsigned rotate_wait_ms;     /* keep draining a rotated-away file this long (default 5000) */
	size_t max_bytes_per_turn;   /* bound one tail_set_process() call (default 4 MiB) */
	const struct envelope_config *envelope; /* container envelopes (envelope.h); NULL: none (default) */
	unsigned max_files;          /* files one glob follows at once (default TAIL_MAX_FILES) */
};

/* --maillog.max-files: 400 files, at most two fds each while a rotated one
 * drains, fit the shipped unit's LimitNOFILE=1024 with room for the rest. */
#define TAIL_MAX_FILES 400
void tail_opts_defaults(struct tail_opts *o);

struct tail_set;

/* Where one open file of a source was read to, for --state.file: the end
 * of the last complete line handed to the callback, and a hash of the
 * bytes before it that tells the same content from a truncated or replaced
 * file on the next start. */
#define TAIL_POS_MAX 8          /* per named path; a glob has one per file it follows */
#define TAIL_POS_HASH_LEN 256   /* state format 3; format 2 hashed at most 32 bytes */
struct tail_pos {
	const char *path;      /* a glob's file: the name it was followed under; else NULL */
	uint64_t dev;
	uint64_t ino;
	uint64_t offset;
	uint64_t hash;         /* FNV-1a 64 of the hash_len bytes before offset */
	uint32_t hash_len;     /* min(offset, TAIL_POS_HASH_LEN) */
	int skipping;          /* offset is inside an overlong line, to be skipped */
};

/* Create an empty set. Returns NULL (errno set) if inotify cannot be
 * initialised. Free with tail_set_free. */
struct tail_set *tail_set_new(const struct tail_opts *opts, tail_line_fn fn, void *ctx);
void tail_set_free(struct tail_set *ts);

/* Follow `path` ("-" is standard input, read until EOF). A path that does
 * not exist yet is waited for. A path with `*`, `?` or `[` is a glob(7)
 * pattern: every regular file matching it is followed (up to
 * opts.max_files), each once whatever names reach it (by device and
 * inode); files matching later are found through directory events and
 * read from their start. Its directory part before the first wildcard
 * must exist. Returns the source index, or -1 with a reason
 * in err if the path can never be followed (e.g. its directory does not
 * exist) or there is no memory for it; the set is unchanged then. A file
 * that cannot get its line buffer, now or after a rotation, leaves the
 * source in INPUT_STATE_ERROR (an open error, logged) until a later look
 * succeeds. */
int tail_set_add(struct tail_set *ts, const char *path, char *err, size_t errlen);

/*
 * tail_set_add for a path the state file knows (npos >= 0 entries, read
 * by tail_set_positions before the restart). The saved position wins over
 * opts.from_beginning:
 * - the file at path is the saved one and still holds the hashed bytes:
 *   resume at the saved offset;
 * - the same inode with other bytes (truncated, or replaced on a reused
 *   inode): read it from 0;
 * - a saved file now under another name in the same directory (rotated
 *   while we were down, e.g. mail.log.1): finish it from the saved offset,
 *   and read the new file at path from 0;
 * - a saved file found nowhere: its unread tail is lost, which is logged.
 * npos 0 means the path had no file then: whatever is there now is new.
 */
int tail_set_add_resume(struct tail_set *ts, const char *path, const struct tail_pos *pos,
    int npos, char *err, size_t errlen);

/*
 * Fill out with the position of each open file of source (the current one
 * and any rotated ones still being drained), at most max. Returns how
 * many, or -1 for a source that cannot be resumed (standard input). Call
 * between two tail_set_process() calls: then every line before each offset
 * has been counted and none after it. Reads a few bytes per file (the
 * hash); never called per line.
 */
int tail_set_positions(const struct tail_set *ts, int source, struct tail_pos *out, int max);

/* An upper bound of tail_set_positions() for source (to size `out`). */
int tail_set_max_positions(const struct tail_set *ts, int source);

/* 1 if source is a glob pattern. */
int tail_set_is_glob(const struct tail_set *ts, int source);

/* A glob's files, one slot each with its path and counters, for the web
 * thread (store/input_stats.h says how it reads a changing set); owned by
 * the set, valid until tail_set_free. NULL for a named path. */
const struct input_files *tail_set_files(const struct tail_set *ts, int source);

/* Set a source's counters to saved values (restored from the state file,
 * before the first tail_set_process), so maillog_lines_read_total and the
 * others continue instead of restarting at 0. The state is left as is. */
void tail_set_restore_status(struct tail_set *ts, int source, const struct input_status *saved);


/* The fd to poll for POLLIN. It is an epoll fd holding the inotify fd and,
 * when "-" is a pipe or terminal, standard input, so one fd covers both;
 * callers use it exactly as they would the inotify fd. Owned by the set. */
int tail_set_fd(const struct tail_set *ts);

/* Milliseconds until tail_set_process() must run again without an event
 * (0 = now, because a bounded read left data behind; otherwise the time to
 * the next reconcile or rotate_wait expiry). */
int tail_set_timeout_ms(const struct tail_set *ts);

/* Handle pending inotify events, reconcile if due, and read every file that
 * has new data, at most opts.max_bytes_per_turn bytes in all. Never blocks. */
void tail_set_process(struct tail_set *ts);

/* Drain everything that is readable now, ignoring the per-turn bound
 * (used at shutdown, so the lines in hand are counted). */
void tail_set_drain(struct tail_set *ts);

/* The current fs.inotify.max_user_watches as text ("unknown" if it cannot
 * be read), for the message when a watch is refused with ENOSPC. */
void tail_watch_limit(char *out, size_t outlen);

/* Number of sources and the status/path of each. */
int tail_set_count(const struct tail_set *ts);
const struct input_status *tail_set_status(const struct tail_set *ts, int source);
const char *tail_set_path(const struct tail_set *ts, int source);

/* Count of inotify queue overflows (IN_Q_OVERFLOW), readable from any thread. */
const _Atomic uint64_t *tail_set_overflows(const struct tail_set *ts);
void tail_set_restore_overflows(struct tail_set *ts, uint64_t v);

#endif
