/*
 * syslog_frame.c - a TCP syslog stream into messages (see syslog_frame.h).
 */
#include "daemon/input/syslog_frame.h"

#include <stdlib.h>
#include <string.h>

int
sl_frame_init(struct sl_frame *f, size_t max)
{
	memset(f, 0, sizeof *f);
	if ((f->buf = malloc(max + SL_FRAME_HEADROOM)) == NULL)
		return -1;
	f->max = max;
	return 0;
}

void
sl_frame_fini(struct sl_frame *f)
{
	free(f->buf);
	memset(f, 0, sizeof *f);
}

char *
sl_frame_space(struct sl_frame *f, size_t *avail)
{
	*avail = f->max + SL_FRAME_HEADROOM - f->len;
	return f->buf + f->len;
}

/* A message without its trailing LF, CR or NUL bytes (senders differ on
 * what ends a counted message); an empty one is nothing. */
static void
emit(const struct sl_frame_sink *sink, const char *m, size_t n)
{
	while (n > 0 && (m[n - 1] == '\n' || m[n - 1] == '\r' || m[n - 1] == '\0'))
		n--;
	if (n > 0)
		sink->message(sink->ctx, m, n);
}

/*
 * At s[0..n), the start of a message: is it "LEN SP"? Returns 1 with *count
 * and *hdr (the header's length), 0 if not a count, -1 if the bytes so far
 * are all digits and more are needed to tell.
 */
static int
octet_count(const char *s, size_t n, size_t *count, size_t *hdr)
{
	size_t i = 0, v = 0;

	if (n == 0 || s[0] < '1' || s[0] > '9')
		return 0;
	while (i < n && i < SL_FRAME_MAX_DIGITS && s[i] >= '0' && s[i] <= '9')
		v = v * 10 + (size_t)(s[i++] - '0');
	/* All digits so far (at most SL_FRAME_MAX_DIGITS): the next byte
	 * tells, so a count split anywhere reads as one in a piece. */
	if (i == n)
		return -1;
	if (s[i] != ' ')
		return 0;
	*count = v;
	*hdr = i + 1;
	return 1;
}

void
sl_frame_commit(struct sl_frame *f, size_t n, const struct sl_frame_sink *sink)
{
	size_t pos = 0, count, hdr;
	const char *lf;
	int r;

	f->len += n;
	while (pos < f->len) {
		size_t left = f->len - pos;
		const char *p = f->buf + pos;

		if (f->skip > 0) {
			size_t k = f->skip < left ? f->skip : left;
			pos += k;
			f->skip -= k;
			continue;
		}
		if (f->skip_to_lf) {
			if ((lf = memchr(p, '\n', left)) == NULL) {
				pos = f->len;
				break;
			}
			pos += (size_t)(lf - p) + 1;
			f->skip_to_lf = 0;
			continue;
		}
		/* Stray terminators between messages (a counted sender that
		 * also appends LF, CRLF senders). */
		if (*p == '\n' || *p == '\r' || *p == '\0') {
			pos++;
			continue;
		}
		if ((r = octet_count(p, left, &count, &hdr)) < 0)
			break;
		if (r == 1) {
			if (count > f->max) {
				sink->oversized(sink->ctx, count);
				pos += hdr;
				f->skip = count;
				continue;
			}
			if (left - hdr < count)
				break;
			emit(sink, p + hdr, count);
			pos += hdr + count;
			continue;
		}
		if ((lf = memchr(p, '\n', left)) == NULL) {
			/* No LF within the limit: this message is too long. */
			if (left > f->max) {
				sink->oversized(sink->ctx, 0);
				pos = f->len;
				f->skip_to_lf = 1;
			}
			break;
		}
		if ((size_t)(lf - p) > f->max)
			sink->oversized(sink->ctx, (size_t)(lf - p));
		else
			emit(sink, p, (size_t)(lf - p));
		pos += (size_t)(lf - p) + 1;
	}
	if (pos > 0 && pos < f->len)
		memmove(f->buf, f->buf + pos, f->len - pos);
	f->len -= pos;
}

int
sl_frame_end(struct sl_frame *f, const struct sl_frame_sink *sink)
{
	size_t count, hdr;
	int cut = 0;

	if (f->len > 0 && f->skip == 0 && !f->skip_to_lf) {
		if (octet_count(f->buf, f->len, &count, &hdr) != 0)
			cut = 1;
		else
			emit(sink, f->buf, f->len);
	}
	f->len = 0;
	f->skip = 0;
	f->skip_to_lf = 0;
	return cut;
}

void
sl_frame_feed(struct sl_frame *f, const char *data, size_t n,
    const struct sl_frame_sink *sink)
{
	while (n > 0) {
		size_t avail, k;
		char *dst = sl_frame_space(f, &avail);

		k = n < avail ? n : avail;
		memcpy(dst, data, k);
		sl_frame_commit(f, k, sink);
		data += k;
		n -= k;
	}
}
