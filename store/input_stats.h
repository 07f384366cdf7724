/*
 * input_stats.h - what each followed input (a file, stdin, the journal)
 * shows about itself in /metrics, /healthz and the status page.
 *
 * The inputs (daemon/input/) write these counters from the reading thread
 * only; the views read them from the web thread. They are atomics, so
 * reading needs no lock the reader holds.
 */
#ifndef STORE_INPUT_STATS_H
#define STORE_INPUT_STATS_H

#include <stdatomic.h>
#include <stdint.h>

/* An input's state. */
enum input_state {
	INPUT_STATE_WAITING = 0, /* path does not exist (yet); waiting for it */
	INPUT_STATE_FOLLOWING,   /* open and followed */
	INPUT_STATE_ERROR,       /* exists but cannot be opened/read; retried */
	INPUT_STATE_EOF,         /* a non-rotatable input (stdin, a pipe) reached EOF */
};

/* "waiting", "following", "error", "eof". */
const char *input_state_name(enum input_state s);

/* Per-input self-metrics. Written by the reading thread only, read by anyone. */
struct input_status {
	_Atomic int state;                  /* enum input_state */
	_Atomic uint64_t lines;             /* complete lines passed on */
	_Atomic uint64_t bytes;             /* bytes read */
	_Atomic uint64_t overlong;          /* lines longer than the limit, skipped */
	_Atomic uint64_t rotations;         /* rename/delete/symlink rotations detected */
	_Atomic uint64_t truncations;       /* copytruncate-style shrinks detected */
	_Atomic uint64_t open_errors;       /* failed open/read attempts */
	_Atomic uint64_t dropped_fragments; /* unterminated last lines of files closed after rotation */
	_Atomic int64_t last_read_unix;     /* wall clock of the last line read, 0 = never */
	/* A glob (--maillog.path with *, ? or [...]) only; gauges: */
	_Atomic uint64_t files;             /* matching files followed now */
	_Atomic uint64_t files_left_out;    /* matching files not followed: --maillog.max-files */
};

/* Copy every counter (relaxed; each field is consistent, the set is not). */
void input_status_copy(struct input_status *dst, const struct input_status *src);

#endif
