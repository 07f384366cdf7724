/*
 * readahead.h - read a stream on a thread of its own, ahead of the parsing.
 *
 * --once and report read a whole file and parse it. Of their time, about a
 * quarter on a page-cached plain file is read(2) copying the file into our
 * buffer, and on a .gz most of it is inflating. A reader thread does that
 * for the next blocks while the caller parses the current one, so the two
 * overlap on a machine with a second core. The CPU spent is the same, give
 * or take the hand-over; the wall time drops by the reading's share.
 *
 * The reader fills a ring of RA_BLOCKS blocks of RA_BLOCK_SIZE bytes each
 * (a ring that fits a core's L2 cache, so the parser reads the block while
 * it is still warm in the cache shared with the reader); it waits while all
 * blocks are full, so memory is fixed whatever the file's size. If the
 * thread cannot be started, ra_next does the reads itself, one block at a
 * time: slower, never wrong.
 */
#ifndef READAHEAD_H
#define READAHEAD_H

#include <stddef.h>
#include <zlib.h>

#define RA_BLOCK_SIZE (64 * 1024)
#define RA_BLOCKS 4

struct readahead;

/* Start reading gz (which stays the caller's: close it after ra_stop).
 * threaded 0 reads in the caller's thread (tests; and the fallback when the
 * thread cannot start). Returns NULL only when out of memory. */
struct readahead *ra_start(gzFile gz, int threaded);

/* Give back the block the last call returned and wait for the next one.
 * Returns 1 with the block in *data and *len (valid until the next call or
 * ra_stop), 0 at the end of the input, or -1 with a one-line reason in
 * err (a read error, or a gzip stream cut short); after 0 or -1 every
 * further call returns 0. */
int ra_next(struct readahead *ra, const char **data, size_t *len, char *err, size_t errlen);

/* Whether the reads run on a thread of their own. */
int ra_threaded(const struct readahead *ra);

/* Stop the reader, wait for it, free everything. A read in progress is
 * waited for (on a pipe, until its writer writes or closes). Safe on
 * NULL. */
void ra_stop(struct readahead *ra);

#endif
