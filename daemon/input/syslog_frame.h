/*
 * syslog_frame.h - a TCP syslog stream into messages (RFC 6587).
 *
 * Senders frame messages on a stream in one of two ways, and the framer
 * decides per message, by its first bytes:
 *   - octet counting (RFC 6587 3.4.1, RFC 5425): "LEN SP MSG", LEN a run
 *     of digits not starting with 0. rsyslog's omfwd with
 *     TCP_Framing="octet-counted", syslog-ng's syslog() driver.
 *   - non-transparent framing (3.4.2): MSG LF. rsyslog's omfwd default,
 *     syslog-ng's network() driver. A message never starts with a digit
 *     (it starts with "<PRI>"), so a digit run followed by a space is a
 *     count, and anything else runs to the next LF.
 * A message longer than the limit is skipped and counted, and the stream
 * resyncs: a counted one by skipping exactly LEN bytes, an LF one by
 * skipping to its LF.
 *
 * The buffer is allocated once per connection (sl_frame_init) and never
 * grows: max + SL_FRAME_HEADROOM bytes, so one whole message of the
 * maximum size and its count always fit.
 */
#ifndef SYSLOG_FRAME_H
#define SYSLOG_FRAME_H

#include <stddef.h>

/* The longest octet count header, "4294967295 ": a longer digit run is
 * not a count. */
#define SL_FRAME_MAX_DIGITS 10
#define SL_FRAME_HEADROOM (SL_FRAME_MAX_DIGITS + 2)

struct sl_frame {
	char *buf;
	size_t len;         /* bytes held */
	size_t max;         /* the longest message passed on */
	size_t skip;        /* bytes of an oversized counted message still to skip */
	int skip_to_lf;     /* skipping an oversized LF-framed message to its LF */
};

/* Called per complete message (terminators stripped, never empty) and per
 * skipped oversized one. The message points into the frame's buffer and
 * is valid during the call only. */
struct sl_frame_sink {
	void (*message)(void *ctx, const char *msg, size_t len);
	void (*oversized)(void *ctx, size_t len_or_0);
	void *ctx;
};

/* Allocate the buffer for messages up to max bytes. 0, or -1 out of memory
 * (f is then empty and sl_frame_fini is a no-op). */
int sl_frame_init(struct sl_frame *f, size_t max);
void sl_frame_fini(struct sl_frame *f);

/* Where the next read goes, and how much fits there (always > 0). */
char *sl_frame_space(struct sl_frame *f, size_t *avail);

/* n bytes were read into sl_frame_space(): pass on every complete
 * message and keep the rest (the start of the next one). */
void sl_frame_commit(struct sl_frame *f, size_t n, const struct sl_frame_sink *sink);

/* The stream ended: an unterminated last LF-framed message is passed on
 * (some senders close without the final LF); a cut counted message is
 * dropped. Returns 1 if a cut message was dropped, else 0. The frame is
 * empty afterwards. */
int sl_frame_end(struct sl_frame *f, const struct sl_frame_sink *sink);

/* Copy bytes into the frame and commit them, in as many reads as needed:
 * for tests and the fuzz harness, which have the bytes in memory. */
void sl_frame_feed(struct sl_frame *f, const char *data, size_t n,
    const struct sl_frame_sink *sink);

#endif
