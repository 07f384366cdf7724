/*
 * linebuf.c - the per-file line splitter: memchr for '\n', leftover
 * memmoved down, overlong lines skipped in bounded memory.
 */
#include "daemon/input/linebuf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "parsers/find.h"

#define DEFAULT_MAX_LINE (64 * 1024)

/* Allocate the first 64 KiB (or less for short max_line); see linebuf.h. */
int
lb_init(struct lb *lb, size_t max_line)
{
	memset(lb, 0, sizeof *lb);
	if (max_line == 0)
		max_line = DEFAULT_MAX_LINE;
	if (max_line > SIZE_MAX / 2) {
		errno = EINVAL;
		return -1;
	}
	lb->max_line = max_line;
	lb->max_cap = max_line + 2;
	return 0;
}

/* Free the buffer; idempotent. */
void
lb_fini(struct lb *lb)
{
	if (!lb->borrowed)
		free(lb->buf);
	lb->buf = NULL;
	lb->borrowed = 0;
	lb->cap = 0;
	lb->len = 0;
	lb->skipping = 0;
}

/* Drop the fragment after a truncation; counters stay. */
void
lb_reset(struct lb *lb)
{
	lb->len = 0;
	lb->skipping = 0;
}

/* Discard up to the next '\n' without counting an overlong line. */
void
lb_skip_line(struct lb *lb)
{
	lb->len = 0;
	lb->skipping = 1;
}

/* Room to read into, growing by doubling up to max_line + 2. */
char *
lb_space(struct lb *lb, size_t *avail)
{
	if (lb->buf == NULL) {
		size_t cap = lb->max_cap < LB_INITIAL_SIZE ? lb->max_cap : LB_INITIAL_SIZE;
		if ((lb->buf = malloc(cap)) == NULL) {
			*avail = 0;
			return NULL;
		}
		lb->cap = cap;
		lb->filled = 0;
	}
	if (((lb->len == lb->cap) || (lb->filled && lb->cap < LB_READ_SIZE)) &&
	    lb->cap < lb->max_cap) {
		size_t ncap = lb->cap * 2;
		char *nbuf;

		if (ncap > lb->max_cap || ncap < lb->cap)
			ncap = lb->max_cap;
		if (lb->borrowed) {
			/* Never realloc the lender's memory: move to our own. */
			if ((nbuf = malloc(ncap)) != NULL) {
				memcpy(nbuf, lb->buf, lb->len);
				lb->borrowed = 0;
			}
		} else {
			nbuf = realloc(lb->buf, ncap);
		}
		if (nbuf != NULL) {
			lb->buf = nbuf;
			lb->cap = ncap;
		}
		lb->filled = 0;
	}
	/*
	 * lb_commit never leaves len == cap once cap is at its maximum (a
	 * full buffer without '\n' is an overlong line and is dropped), and
	 * below the maximum we either just grew or the realloc failed. In the
	 * last case treat the fragment as overlong rather than return nothing.
	 */
	if (lb->len == lb->cap) {
		lb->overlong++;
		lb_skip_line(lb);
	}
	*avail = lb->cap - lb->len;
	return lb->buf + lb->len;
}

/*
 * The splitting loop of lb_commit and lb_commit_from: pass every complete
 * line in [*line, end) on, where [*line, scan) holds no '\n' (the kept
 * fragment, if any). Leaves *line at the unterminated rest, or returns with
 * lb->skipping set when that rest is the unseen part of an overlong line,
 * which is then dropped up to end.
 */
static size_t
split_lines(struct lb *lb, const char **linep, const char *scan, const char *end,
    lb_line_fn fn, void *ctx)
{
	const char *line = *linep;
	size_t lines = 0;

	for (;;) {
		const char *nl;

		if (lb->skipping) {
			nl = memchr(scan, '\n', (size_t)(end - scan));
			if (nl == NULL) {
				*linep = end;
				return lines;
			}
			lb->skipping = 0;
			line = scan = nl + 1;
			continue;
		}
		if (line == scan) {
			while (scan < end && *scan == '\0')
				scan++;
			line = scan;
		}
		nl = mp_memchr(scan, '\n', (size_t)(end - scan));
		if (nl == NULL)
			break;

		size_t len = (size_t)(nl - line);
		if (len > 0 && line[len - 1] == '\r')
			len--;
		if (len > lb->max_line) {
			lb->overlong++;
		} else if (len > 0) {
			fn(ctx, line, len);
			lines++;
		}
		line = scan = nl + 1;
	}

	/*
	 * No '\n' in [line, end). A fragment of max_line + 2 bytes can no
	 * longer end in a line of at most max_line bytes, even if its last
	 * byte is the '\r' of a CRLF, so it is overlong now: count it once and
	 * drop the rest of it as it arrives.
	 */
	if ((size_t)(end - line) >= lb->max_cap) {
		lb->overlong++;
		lb_skip_line(lb);
		line = end;
	}
	*linep = line;
	return lines;
}

/* Split the n new bytes. The only copy is the memmove of the unterminated
 * tail to the front, so each byte moves at most once per line. */
size_t
lb_commit(struct lb *lb, size_t n, lb_line_fn fn, void *ctx)
{
	const char *scan = lb->buf + lb->len;
	const char *end = scan + n;
	const char *line = lb->len ? lb->buf : scan;
	size_t lines;

	lb->filled = n > 0 && lb->len + n == lb->cap;
	lines = split_lines(lb, &line, scan, end, fn, ctx);

	size_t frag = (size_t)(end - line);
	if (line != lb->buf && frag > 0)
		memmove(lb->buf, line, frag);
	lb->len = frag;
	return lines;
}

/*
 * Split the caller's bytes where they are; see linebuf.h. A kept fragment
 * is completed by copying the block's first line onto it (lb_feed, at most
 * max_line + 2 bytes); every later line is passed on from the block itself,
 * and only the block's unterminated tail is copied, into our own buffer.
 */
size_t
lb_commit_from(struct lb *lb, const char *data, size_t n, lb_line_fn fn, void *ctx)
{
	size_t lines = 0;

	if (lb->len > 0 || lb->skipping) {
		const char *nl = memchr(data, '\n', n);
		size_t first = nl != NULL ? (size_t)(nl - data) + 1 : n;

		lines += lb_feed(lb, data, first, fn, ctx);
		data += first;
		n -= first;
		/* No '\n' in the block; or the line is still held, which
		 * happens only without a buffer to hold it in (linebuf.h). */
		if (n == 0 || lb->len > 0 || lb->skipping)
			return lines;
	}

	const char *line = data;
	const char *end = data + n;
	lines += split_lines(lb, &line, data, end, fn, ctx);

	/* The tail holds no '\n', so this copies it and passes nothing on. */
	if (line < end)
		(void)lb_feed(lb, line, (size_t)(end - line), fn, ctx);
	return lines;
}

/* Copying front end to lb_space/lb_commit. */
size_t
lb_feed(struct lb *lb, const char *data, size_t len, lb_line_fn fn, void *ctx)
{
	size_t lines = 0;

	while (len > 0) {
		size_t avail;
		char *p = lb_space(lb, &avail);
		size_t n = len < avail ? len : avail;

		if (p == NULL)
			break;

		memcpy(p, data, n);
		lines += lb_commit(lb, n, fn, ctx);
		data += n;
		len -= n;
	}
	return lines;
}

/* Read through a borrowed buffer; see linebuf.h. */
void
lb_lend(struct lb *lb, char *buf, size_t cap)
{
	if (lb->buf != NULL || lb->len > 0)
		return;
	lb->buf = buf;
	lb->cap = cap < lb->max_cap ? cap : lb->max_cap;
	lb->borrowed = 1;
	lb->filled = 0;
}

/* Keep only a fragment, in a buffer of our own; see linebuf.h. */
size_t
lb_unlend(struct lb *lb)
{
	size_t cap = LB_INITIAL_SIZE;
	char *own;

	if (!lb->borrowed)
		return 0;
	lb->borrowed = 0;
	if (lb->len == 0) {
		lb->buf = NULL;
		lb->cap = 0;
		return 0;
	}
	while (cap < lb->len + 1 && cap < lb->max_cap)
		cap *= 2;
	if (cap > lb->max_cap)
		cap = lb->max_cap;
	if ((own = malloc(cap)) == NULL) {
		size_t dropped = lb->len;
		lb->buf = NULL;
		lb->cap = 0;
		lb->len = 0;
		return dropped;
	}
	memcpy(own, lb->buf, lb->len);
	lb->buf = own;
	lb->cap = cap;
	lb->filled = 0;
	return 0;
}

/* Give an idle file's buffer back; see linebuf.h. */
int
lb_release(struct lb *lb)
{
	if (lb->len > 0 || lb->skipping || lb->borrowed)
		return -1;
	free(lb->buf);
	lb->buf = NULL;
	lb->cap = 0;
	lb->filled = 0;
	return 0;
}

/* Whether input ending now would cut a line. */
int
lb_has_fragment(const struct lb *lb)
{
	return lb->len > 0 || lb->skipping;
}

/* Bytes of the kept fragment. */
size_t
lb_fragment_len(const struct lb *lb)
{
	return lb->len;
}
