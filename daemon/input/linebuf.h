/*
 * linebuf.h - split a byte stream into complete lines, fluent-bit style.
 *
 * One struct lb per open file. The caller reads straight into the buffer
 * (lb_space), then hands the new bytes over (lb_commit), which calls back
 * once per complete line and memmoves the unterminated rest to the front.
 *
 * Rules, in the order they apply:
 * - a line is complete only once its '\n' has arrived;
 * - one '\r' right before the '\n' is stripped, a '\r' anywhere else is
 *   part of the line;
 * - NUL bytes at the start of a line are skipped (the hole a writer without
 *   O_APPEND leaves after copytruncate);
 * - empty lines are not passed on;
 * - a line longer than max_line bytes (after the strip) is skipped up to
 *   and including its '\n' and counted in `overlong`; the buffer never
 *   grows past max_line + 2 bytes however long the line is;
 * - bytes are opaque: no UTF-8 or other encoding is assumed.
 *
 * Memory follows the file's traffic, as fluent-bit's buffers do: the
 * buffer starts at LB_INITIAL_SIZE, doubles while reads fill it (up to
 * LB_READ_SIZE, the largest read worth making) or while one line does not
 * fit (up to max_line + 2), and lb_release() frees it when the file goes
 * idle with no fragment held; lb_space() takes it back at the next read.
 * A file that keeps being written keeps its buffer, so steady state
 * allocates nothing, whatever the input; a thousand idle files hold none.
 */
#ifndef LINEBUF_H
#define LINEBUF_H

#include <stddef.h>
#include <stdint.h>

/* Called once per complete, non-empty line of at most max_line bytes. The
 * line is not NUL-terminated and is valid only during the call. */
typedef void (*lb_line_fn)(void *ctx, const char *line, size_t len);

#define LB_INITIAL_SIZE 2048          /* first buffer, and after a release */
#define LB_READ_SIZE (64 * 1024)       /* grow to this while reads fill the buffer */

struct lb {
	char *buf;
	size_t len;        /* bytes of the unterminated fragment at buf[0] */
	size_t cap;        /* allocated size of buf */
	size_t max_cap;    /* max_line + 2: room for the line, a '\r' and one more byte */
	size_t max_line;
	int skipping;      /* inside an overlong line: drop bytes up to the next '\n' */
	int filled;        /* the last commit filled the buffer: more was waiting */
	int borrowed;      /* buf is the caller's (lb_lend), not ours to free */
	uint64_t overlong; /* overlong lines seen so far */
};

/* Set up an empty splitter for lines of at most max_line bytes (0 means
 * 64 KiB). Allocates nothing: the first lb_space() does. Returns 0, or -1
 * (EINVAL) for an absurd max_line. */
int lb_init(struct lb *lb, size_t max_line);

/* Free the buffer. The struct may be lb_init()ed again. Safe on a zeroed
 * struct and when called twice. */
void lb_fini(struct lb *lb);

/* Forget the fragment and any overlong-line skipping, keeping the buffer
 * and the counters. Used when the file under the buffer was truncated, so
 * the old fragment is no longer followed by anything. */
void lb_reset(struct lb *lb);

/* Start in the middle of a line that is too long to keep: drop everything
 * up to the next '\n' without counting it (the caller has not seen the
 * line's start, so it is not "read"). */
void lb_skip_line(struct lb *lb);

/* Where to write the next bytes, and how many fit. Grows the buffer if it
 * is full, or the last read filled it, and below its maximum; if that
 * allocation fails the current space is returned, which is never empty.
 * After lb_release() the buffer is allocated again here; if that fails,
 * returns NULL with *avail 0 (nothing is lost: read again later). The
 * pointer is valid until the next lb_commit/lb_feed/lb_fini/lb_release. */
char *lb_space(struct lb *lb, size_t *avail);

/* Take n bytes just written at lb_space(), call fn for each complete line,
 * and keep the rest. Returns the number of lines passed to fn. */
size_t lb_commit(struct lb *lb, size_t n, lb_line_fn fn, void *ctx);

/* Split n bytes of the caller's (a read-ahead block) where they are: call fn
 * for each complete line, as lb_commit would have had they been read into
 * the buffer. Only a line begun before the block (the kept fragment) and
 * the block's unterminated tail are copied, into this splitter's own
 * buffer; the block itself is only read and may be reused on return.
 * Call lb_space() once first, so that the buffer exists: then a line is
 * never lost to a failed allocation here (a buffer that cannot grow makes
 * the line overlong, as in lb_commit). Returns the number of lines passed
 * to fn. */
size_t lb_commit_from(struct lb *lb, const char *data, size_t n, lb_line_fn fn, void *ctx);

/* Copy len bytes in and lb_commit() them, in as many steps as the buffer
 * needs. Returns the number of lines passed to fn. For callers that do not
 * read(2) directly into the buffer, and for tests. */
size_t lb_feed(struct lb *lb, const char *data, size_t len, lb_line_fn fn, void *ctx);

/* Free the buffer of an idle file, keeping the counters and settings.
 * Only when no fragment is held (returns 0 then, -1 and keeps it
 * otherwise); lb_space() allocates LB_INITIAL_SIZE bytes again. */
int lb_release(struct lb *lb);

/*
 * Read through the caller's buffer (cap bytes) while this splitter has no
 * buffer of its own and holds no fragment: a file whose writes end in
 * '\n', as a syslog daemon's do, then never needs one. Only when a read
 * ends inside a line does lb_unlend() copy that fragment into a buffer of
 * its own. Growth past cap (a long line) moves to an own buffer too.
 */
void lb_lend(struct lb *lb, char *buf, size_t cap);

/* Give the lent buffer back after the reads. Returns 0, or, when the
 * fragment could not be copied (out of memory), its length: it is dropped,
 * and the caller reads those bytes again later. */
size_t lb_unlend(struct lb *lb);

/* 1 if an unterminated line is held (a fragment, or the unseen end of an
 * overlong line); such a line is lost if the input ends here. */
int lb_has_fragment(const struct lb *lb);

/* Bytes of the kept fragment (0 while skipping an overlong line). */
size_t lb_fragment_len(const struct lb *lb);

#endif
