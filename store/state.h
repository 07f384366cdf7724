/*
 * state.h - the state file behind --state.file: one atomic snapshot of the
 * counters and of where each followed file was read to, so a restart
 * neither loses nor re-counts a line and Prometheus never sees a reset
 * (README.md, "State and restarts").
 *
 * On disk: a 32-byte header (magic "MLXSTATE", format version, body
 * length, CRC-32 of the body) and the body, written to PATH.tmp, fsynced,
 * renamed over PATH and the directory fsynced. A reader either gets the
 * whole of one snapshot or an error: a torn, truncated or foreign file
 * fails the length or checksum test before any of it is used.
 *
 * The body is a sequence of little-endian u64 values and length-prefixed
 * byte strings, built with state_put_* and read back with state_get_*.
 * A reader that runs past the end or meets a bad length sets `bad` and
 * reads zeros from then on, so a loader checks once, at the end.
 */
#ifndef STATE_H
#define STATE_H

#include <stddef.h>
#include <stdint.h>

#define STATE_MAGIC "MLXSTATE"
#define STATE_VERSION 3   /* 3: every file of a glob, 256-byte resume hashes */
#define STATE_VERSION_MIN 2  /* 2: operational families, process counters */

/* A growable body. Zero-initialise; release with state_buf_free. */
struct state_buf {
	unsigned char *data;
	size_t len;
	size_t cap;
	int oom;          /* an append failed: the body is incomplete */
	unsigned version; /* set by state_read: the format it was written in */
};

void state_buf_reset(struct state_buf *b);
void state_buf_free(struct state_buf *b);
void state_put_u64(struct state_buf *b, uint64_t v);
/* A u64 length, then the bytes. */
void state_put_bytes(struct state_buf *b, const void *p, size_t len);

struct state_rd {
	const unsigned char *p;
	size_t len;
	size_t off;
	int bad;          /* read past the end, or a length beyond it */
};

void state_rd_init(struct state_rd *r, const void *p, size_t len);
uint64_t state_get_u64(struct state_rd *r);
/* The next length-prefixed string; NULL (and bad set) if it does not fit.
 * The pointer is into the reader's buffer. */
const void *state_get_bytes(struct state_rd *r, size_t *len);

/*
 * Write body to path atomically: path.tmp, fsync, rename, fsync of the
 * directory. Returns 0, or -1 with a one-line reason in err (path.tmp is
 * removed). A crash at any moment leaves either the old or the new file.
 */
int state_write(const char *path, const struct state_buf *body, char *err, size_t errlen);

enum state_read_result {
	STATE_READ_OK = 0,
	STATE_READ_MISSING,   /* no file: a first start */
	STATE_READ_BAD,       /* unreadable, truncated, corrupt or another version */
};

/*
 * Read and check path (any format from STATE_VERSION_MIN to STATE_VERSION;
 * body->version says which); on success body holds the body (the caller frees it
 * with state_buf_free). On STATE_READ_BAD err says what is wrong, for the
 * log line that tells the user the exporter starts fresh.
 */
enum state_read_result state_read(const char *path, struct state_buf *body,
    char *err, size_t errlen);

#endif
