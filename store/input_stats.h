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
#include <stddef.h>
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

/*
 * The files a glob follows, each with its own counters and path label: a
 * table of slots sized by --maillog.max-files, allocated when the glob is
 * added and freed only after the web server has stopped, so a slot's
 * memory is never freed under a reader.
 *
 * The reading thread is the only writer. It claims a slot when it starts
 * following a file (counters from 0, the path written) and frees it when
 * the file is gone for good; both happen under the slot's sequence count
 * (a seqlock: odd while the slot changes), never per line. The counters
 * themselves move without touching the count, as any input_status does.
 * A reader (input_files_read) copies a slot and retries if the count moved
 * or was odd, so it never sees a torn path nor one file's path with
 * another's counters. Every shared byte is an atomic, so the races are
 * defined behaviour, not just harmless ones.
 */
#define INPUT_FILE_PATH_SMALL 256   /* a slot's first path buffer; a longer path gets PATH_MAX */

struct input_file_slot {
	_Atomic uint32_t seq;                 /* even: stable; odd: being claimed or freed */
	_Atomic int used;
	_Atomic unsigned char *_Atomic path;  /* NUL-terminated; NULL before first use */
	struct input_status st;
	/* The writer's own: */
	size_t cap;                           /* bytes at path */
	_Atomic unsigned char *spare;         /* the small buffer a long path replaced, freed with the table */
};

struct input_files {
	int nslots;
	struct input_file_slot *slot;
};

/* A table of n slots, all free. Returns NULL out of memory. Free with
 * input_files_free (NULL is a no-op) once no reader is left. */
struct input_files *input_files_new(int n);
void input_files_free(struct input_files *t);

/* Writer: claim a free slot for path, its counters and state copied from
 * init. Returns the slot's status, or NULL when every slot is in use or
 * the path buffer cannot be allocated. */
struct input_status *input_files_claim(struct input_files *t, const char *path,
    const struct input_status *init);

/* Writer: free the slot whose status is st (from input_files_claim). */
void input_files_release(struct input_files *t, struct input_status *st);

/* Reader, any thread: copy slot i into path (truncated to pathlen, which
 * should be PATH_MAX) and *st. Returns 1 when the slot holds a file, 0
 * when it is free (or kept changing while read, which a next scrape sees). */
int input_files_read(const struct input_files *t, int i, char *path, size_t pathlen,
    struct input_status *st);

#endif
