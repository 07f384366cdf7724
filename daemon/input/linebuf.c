/*
 * linebuf.c - the per-file line splitter: memchr for '\n', leftover
 * memmoved down, overlong lines skipped in bounded memory.
 */
#include "daemon/input/linebuf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

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

/* Split the n new bytes. The only copy is the memmove of the unterminated
 * tail to the front, so each byte moves at most once per line. */
size_t
lb_commit(struct lb *lb, size_t n, lb_line_fn fn, void *ctx)
{
	char *scan = lb->buf + lb->len;
	char *end = scan + n;
	char *line = lb->len ? lb->buf : scan;
	size_t lines = 0;

	lb->filled = n > 0 && lb->len + n == lb->cap;

	for (;;) {
		char *nl;

		if (lb->skipping) {
			nl = memchr(scan, '\n', (size_t)(end - scan));
			if (nl == NULL) {
				lb->len = 0;
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
		nl = memchr(scan, '\n', (size_t)(end - scan));
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
	size_t frag = (size_t)(end - line);
	if (frag >= lb->max_cap) {
		lb->overlong++;
		lb_skip_line(lb);
		return lines;
	}
	if (line != lb->buf && frag > 0)
		memmove(lb->buf, line, frag);
	lb->len = frag;
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
