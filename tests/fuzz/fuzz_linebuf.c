/*
 * fuzz_linebuf.c - the line splitter under arbitrary chunking, checked
 * against a reference splitter.
 *
 * Input layout: byte 0-1 pick max_line (small, so overlong lines are
 * common), byte 2 picks the front end (lb_feed; lb_space/lb_commit as
 * the tailer reads; or lb_commit_from on blocks, as --once reads a gzip
 * file's, each an exact-size heap copy so a read past it is an ASan
 * error), bytes 3-10 seed the chunk sizes, the rest is the stream. The reference applies linebuf.h's rules to the whole stream at
 * once; whatever the chunking, the splitter must pass on exactly the same
 * lines, count the same overlong lines and hold the same fragment.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/input/linebuf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define HDR 11

struct got {
	const uint8_t *stream;  /* the reference's view of the input */
	size_t len;
	size_t pos;             /* where the reference resumes looking for a line */
	size_t max_line;
	size_t lines;
	uint64_t overlong;
};

static void
die(const char *what, size_t a, size_t b)
{
	fprintf(stderr, "fuzz_linebuf: %s (%zu, %zu)\n", what, a, b);
	abort();
}

/*
 * The reference: the next line linebuf.h's rules pass on from g->pos, or
 * 0 at the end of the complete lines. Leading NULs are dropped, then one
 * '\r' before the '\n'; empty lines vanish; lines over max_line are counted
 * in overlong.
 */
static int
ref_next(struct got *g, const uint8_t **line, size_t *len)
{
	for (;;) {
		const uint8_t *s = g->stream + g->pos;
		const uint8_t *nl = memchr(s, '\n', g->len - g->pos);
		size_t n;

		if (nl == NULL)
			return 0;
		n = (size_t)(nl - s);
		g->pos += n + 1;
		while (n > 0 && *s == '\0') {
			s++;
			n--;
		}
		if (n > 0 && s[n - 1] == '\r')
			n--;
		if (n > g->max_line) {
			g->overlong++;
			continue;
		}
		if (n == 0)
			continue;
		*line = s;
		*len = n;
		return 1;
	}
}

static void
on_line(void *ctx, const char *line, size_t len)
{
	struct got *g = ctx;
	const uint8_t *want;
	size_t wlen;

	if (!ref_next(g, &want, &wlen))
		die("line the reference does not have", g->lines, len);
	if (wlen != len || memcmp(want, line, len) != 0)
		die("line differs from the reference", g->lines, len);
	if (len > g->max_line)
		die("line longer than max_line", len, g->max_line);
	g->lines++;
}

static uint64_t
next_rand(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lb lb;
	struct got g;
	uint64_t seed = 0;
	const uint8_t *want;
	size_t wlen, max_line, off;
	int commit_mode;

	if (size < HDR)
		return 0;
	max_line = 1 + ((size_t)data[0] | (size_t)data[1] << 8) % 2048;
	commit_mode = data[2] % 3;
	memcpy(&seed, data + 3, 8);
	seed |= 1;
	data += HDR;
	size -= HDR;

	memset(&g, 0, sizeof g);
	g.stream = data;
	g.len = size;
	g.max_line = max_line;
	if (lb_init(&lb, max_line) < 0)
		die("lb_init failed", max_line, 0);

	for (off = 0; off < size;) {
		uint64_t r = next_rand(&seed);
		/* Mostly small chunks, sometimes one that spans many lines. */
		size_t chunk = 1 + (size_t)(r % ((r >> 32) % 4 == 0 ? 4096 : 64));
		if (chunk > size - off)
			chunk = size - off;
		if (commit_mode == 2) {
			char *block = malloc(chunk);
			if (block == NULL)
				die("out of memory", chunk, 0);
			memcpy(block, data + off, chunk);
			lb_commit_from(&lb, block, chunk, on_line, &g);
			free(block);
		} else if (commit_mode) {
			size_t avail;
			char *p = lb_space(&lb, &avail);
			if (avail == 0)
				die("lb_space returned no room", lb.len, lb.cap);
			if (chunk > avail)
				chunk = avail;
			memcpy(p, data + off, chunk);
			lb_commit(&lb, chunk, on_line, &g);
		} else {
			lb_feed(&lb, (const char *)data + off, chunk, on_line, &g);
		}
		if (lb.cap > lb.max_cap || lb.len > lb.cap)
			die("buffer beyond its bound", lb.len, lb.cap);
		off += chunk;
	}
	if (ref_next(&g, &want, &wlen))
		die("reference line the splitter did not pass on", g.lines, wlen);

	/* The unterminated rest: leading NULs dropped, and once it is too long
	 * to ever become a line it is counted as overlong and not kept. */
	size_t rest = g.len - g.pos;
	const uint8_t *r = g.stream + g.pos;
	while (rest > 0 && *r == '\0') {
		r++;
		rest--;
	}
	if (rest >= max_line + 2) {
		g.overlong++;
		if (!lb_has_fragment(&lb) || lb_fragment_len(&lb) != 0)
			die("overlong unterminated line not being skipped", lb_fragment_len(&lb), rest);
	} else {
		if (lb_fragment_len(&lb) != rest || (rest > 0) != lb_has_fragment(&lb))
			die("fragment differs from the reference", lb_fragment_len(&lb), rest);
		if (rest > 0 && memcmp(lb.buf, r, rest) != 0)
			die("fragment bytes differ", rest, 0);
	}
	if (lb.overlong != g.overlong)
		die("overlong count differs", (size_t)lb.overlong, (size_t)g.overlong);
	lb_fini(&lb);
	return 0;
}
