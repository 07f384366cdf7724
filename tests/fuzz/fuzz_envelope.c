/*
 * fuzz_envelope.c - the container-envelope decoder and joiner
 * (daemon/input/envelope.c) on arbitrary records, and on lines wrapped
 * into CRI and Docker records split at arbitrary points.
 *
 * Byte 0 picks the mode:
 * - 0..2 (mod 4): raw. Bytes 1-2 pick max_line (small, so overlong joins
 *   are common); the rest is split at '\n' into records fed to the
 *   decoder as auto, cri or docker (those over max_line are left out,
 *   as the line splitter leaves them). Every line passed on must be
 *   non-empty and within max_line plus the header room; a Docker line
 *   must be UTF-8 with no NUL; and every line goes through the header
 *   parser.
 * - 3: round trip. The rest is lines of ASCII text (NUL, CR and '"'
 *   mapped away from the ends' meanings); each is wrapped as CRI (cut
 *   into P parts ended by an F) and as Docker json-file (cut into records
 *   with the "\n" only in the last, every byte escaped one of several
 *   ways chosen by the input), both streams interleaved. What comes out
 *   must be the lines, in order, each either as it was or with the
 *   record's time put in front.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/input/envelope.h"
#include "parsers/mp.h"
#include "util/utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define TS "2026-12-06T18:29:08.5Z"

static void
die(const char *what, size_t a, size_t b)
{
	fprintf(stderr, "fuzz_envelope: %s (%zu, %zu)\n", what, a, b);
	abort();
}

struct check {
	size_t max_line;
	int docker;
	/* round trip: the lines expected, in order */
	const char *const *want;
	const size_t *want_len;
	size_t nwant;
	size_t got;
};

static void
on_line(void *ctx, const char *line, size_t len, int source)
{
	struct check *c = ctx;
	struct mp_syslog hdr;

	if (source != 3 || len == 0 || len > c->max_line + ENVELOPE_PREFIX_MAX)
		die("bad line passed on", len, (size_t)source);
	if (c->docker) {
		const unsigned char *s = (const unsigned char *)line;
		size_t bad;
		if (memchr(line, '\0', len) != NULL)
			die("NUL in a Docker line", len, 0);
		for (size_t i = 0; i < len;) {
			size_t l = utf8_seq(s + i, len - i, &bad);
			if (l == 0)
				die("Docker line not UTF-8", i, len);
			i += l;
		}
	}
	mp_syslog_parse(line, len, &hdr);
	if (c->want != NULL) {
		size_t n;
		if (c->got >= c->nwant)
			die("more lines than went in", c->got, c->nwant);
		n = c->want_len[c->got];
		if (!(len == n && memcmp(line, c->want[c->got], n) == 0) &&
		    !(len == n + sizeof TS && memcmp(line, TS " ", sizeof TS) == 0 &&
		    memcmp(line + sizeof TS, c->want[c->got], n) == 0))
			die("round trip changed a line", c->got, len);
		c->got++;
	}
}

static void
raw(const uint8_t *data, size_t size)
{
	static const enum envelope_mode modes[] = { ENVELOPE_AUTO, ENVELOPE_CRI, ENVELOPE_DOCKER };
	struct envelope_stats st;
	struct envelope_config cfg;
	struct envelope e;
	struct check c;
	size_t pos = 3;

	if (size < 3)
		return;
	memset(&st, 0, sizeof st);
	memset(&e, 0, sizeof e);
	memset(&c, 0, sizeof c);
	cfg.mode = modes[data[0] % 4];
	cfg.max_line = 16 + ((size_t)data[1] << 8 | data[2]) % 1024;
	cfg.stats = &st;
	c.max_line = cfg.max_line;
	while (pos < size) {
		const uint8_t *nl = memchr(data + pos, '\n', size - pos);
		size_t n = nl ? (size_t)(nl - (data + pos)) : size - pos;
		/* As the line splitter does: records over max_line never
		 * reach the decoder. */
		if (n > 0 && n <= cfg.max_line) {
			envelope_line(&e, &cfg, (const char *)data + pos, n, on_line, &c, 3);
			/* Whatever decided the file decides the check. */
			c.docker = e.kind == ENVELOPE_DOCKER;
		}
		if (envelope_pending(&e) > size)
			die("pending past the input", (size_t)envelope_pending(&e), size);
		pos += n + 1;
	}
	envelope_fini(&e);
}

/* Append to a growing record; the round trip's records are bounded by
 * the input's size times the longest escape. */
struct rec {
	char *b;
	size_t len, cap;
};

static void
put(struct rec *r, const void *p, size_t n)
{
	if (r->len + n > r->cap) {
		size_t cap = (r->len + n) * 2 + 64;
		char *b = realloc(r->b, cap);
		if (b == NULL)
			abort();
		r->b = b;
		r->cap = cap;
	}
	memcpy(r->b + r->len, p, n);
	r->len += n;
}

/* One byte as Docker might write it, the way sel picks. */
static void
put_json_byte(struct rec *r, unsigned char ch, unsigned sel)
{
	static const char hex[] = "0123456789abcdef";
	char u[6] = { '\\', 'u', '0', '0', hex[ch >> 4], hex[ch & 15] };

	if (ch == '"' || ch == '\\') {
		char esc[2] = { '\\', (char)ch };
		put(r, esc, 2);
	} else if (ch < 0x20 || sel % 3 == 0) {
		if (ch == '\t' && sel % 2) {
			put(r, "\\t", 2);
		} else if (ch == '/' && sel % 2) {
			put(r, "\\/", 2);
		} else {
			if (sel % 5 == 0) {
				u[4] = (char)(hex[ch >> 4] - ('a' - 'A') * (hex[ch >> 4] >= 'a'));
				u[5] = (char)(hex[ch & 15] - ('a' - 'A') * (hex[ch & 15] >= 'a'));
			}
			put(r, u, 6);
		}
	} else {
		put(r, &ch, 1);
	}
}

static void
roundtrip(const uint8_t *data, size_t size)
{
	struct envelope_stats st;
	struct envelope_config cfg;
	struct envelope cri, dock;
	struct check c;
	struct rec r = { 0 };
	char *text;
	const char **want;
	size_t *want_len, nwant = 0, n;

	if (size < 2 || (text = malloc(size)) == NULL)
		return;
	want = malloc(size * sizeof *want);
	want_len = malloc(size * sizeof *want_len);
	if (want == NULL || want_len == NULL)
		abort();
	/* The text: ASCII, no NUL (a U+FFFD in Docker), no CR (stripped at a
	 * line's end); '\n' separates the lines. Empty lines are not passed. */
	for (size_t i = 1; i < size; i++) {
		unsigned char ch = data[i] & 0x7f;
		text[i - 1] = ch == 0 ? '0' : ch == '\r' ? 'r' : (char)ch;
	}
	n = size - 1;
	for (size_t i = 0; i < n;) {
		const char *nl = memchr(text + i, '\n', n - i);
		size_t l = nl ? (size_t)(nl - (text + i)) : n - i;
		if (l > 0 && nl != NULL) {
			want[nwant] = text + i;
			want_len[nwant++] = l;
		}
		i += l + 1;
	}

	memset(&st, 0, sizeof st);
	cfg.max_line = 65536;
	cfg.stats = &st;
	memset(&cri, 0, sizeof cri);
	memset(&dock, 0, sizeof dock);
	for (int pass = 0; pass < 2; pass++) {
		struct envelope *e = pass == 0 ? &cri : &dock;
		memset(&c, 0, sizeof c);
		c.max_line = cfg.max_line;
		c.docker = pass == 1;
		c.want = want;
		c.want_len = want_len;
		c.nwant = nwant;
		cfg.mode = pass == 0 ? ENVELOPE_CRI : ENVELOPE_DOCKER;
		for (size_t w = 0; w < nwant; w++) {
			const char *line = want[w];
			size_t len = want_len[w], off = 0;
			unsigned seed = (unsigned)(line - text) * 2654435761u ^ data[0];
			while (off < len) {
				size_t part = 1 + (seed >> 7) % (len - off + (seed & 1 ? 0 : 8));
				int last;
				seed = seed * 1103515245u + 12345u;
				if (part > len - off)
					part = len - off;
				last = off + part == len;
				r.len = 0;
				if (pass == 0) {
					put(&r, TS " stdout ", sizeof TS + 7);
					put(&r, last ? "F " : "P ", 2);
					put(&r, line + off, part);
				} else {
					put(&r, "{\"log\":\"", 8);
					for (size_t k = 0; k < part; k++)
						put_json_byte(&r, (unsigned char)line[off + k],
						    seed >> (k % 16));
					if (last)
						put(&r, "\\n", 2);
					static const char tail[] =
					    "\",\"stream\":\"stdout\",\"time\":\"" TS "\"}";
					put(&r, tail, sizeof tail - 1);
				}
				/* A stderr record between the parts must not mix in. */
				if (seed % 7 == 0) {
					const char *other = pass == 0 ? TS " stderr P noise" :
					    "{\"log\":\"noise\",\"stream\":\"stderr\"}";
					envelope_line(e, &cfg, other, strlen(other), on_line, &c, 3);
				}
				envelope_line(e, &cfg, r.b, r.len, on_line, &c, 3);
				off += part;
			}
		}
		if (c.got != nwant)
			die("lines lost in the round trip", c.got, nwant);
		if (st.malformed[pass] != 0)
			die("a well-formed record counted malformed", (size_t)pass, 0);
	}
	envelope_fini(&cri);
	envelope_fini(&dock);
	free(r.b);
	free(want);
	free(want_len);
	free(text);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	if (data[0] % 4 == 3)
		roundtrip(data, size);
	else
		raw(data, size);
	return 0;
}
