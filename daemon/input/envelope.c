/*
 * envelope.c - container runtimes' envelopes off each line (see
 * envelope.h).
 *
 * The formats, as their writers write them:
 * - CRI: kubelet's reader (pkg/kubelet/kuberuntime/logs/logs.go,
 *   parseCRILog) splits "TIMESTAMP STREAM TAGS CONTENT" at the first three
 *   spaces; TAGS is ':'-separated and its first tag is "P" (partial) or
 *   "F" (full). containerd writes TIMESTAMP in RFC 3339 with nanoseconds
 *   and trailing zeros trimmed, UTC; CRI-O with all nine digits and its
 *   zone's offset. CONTENT is the raw bytes the container wrote.
 * - Docker json-file (daemon/logger/jsonfilelog/jsonlog): one JSON object
 *   per line, keys "log", "stream", optional "attrs", "time". Docker's
 *   own string writer escapes '"', '\\', '\n', '\r', control characters
 *   and <, >, & as \u00XX, invalid UTF-8 as \ufffd, U+2028 and U+2029; a
 *   reader must take any JSON (other tools write these files too), so
 *   every escape of RFC 8259 is decoded, key order is free, and unknown
 *   keys are skipped.
 *
 * A record that is not in its file's format is dropped and counted as
 * malformed: a Docker record is checked whole before any of it is used,
 * so a broken record never leaves half a line behind. Decoded text that
 * would not be UTF-8 (raw invalid bytes, a lone surrogate escape) and
 * \u0000 become U+FFFD, as Go's decoder (and with it `docker logs`) does;
 * the line is kept, since its status may still be readable, and counted
 * as replaced. No NUL byte ever reaches the parsers from a Docker line.
 */
#include "daemon/input/envelope.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "parsers/mp.h"
#include "util/log.h"
#include "util/utf8.h"

#define JOIN_MIN 256
#define JSON_DEPTH_MAX 16
#define TAG_MAX 256

#define COUNT(cfg, field, fmt) do { \
	if ((cfg)->stats != NULL) \
		atomic_fetch_add_explicit(&(cfg)->stats->field[(fmt)], 1, \
		    memory_order_relaxed); \
} while (0)

/* One record's fields, pointing into the line. */
struct record {
	const char *ts;      /* the record's RFC 3339 time, as written; may be NULL */
	size_t tslen;
	int stream;          /* 0 stdout, 1 stderr */
	int partial;         /* CRI "P" */
	const char *msg;     /* CRI: the content; Docker: the raw JSON string, no quotes */
	size_t msglen;
};

/* Where the line goes once it is whole. */
struct sink {
	const struct envelope_config *cfg;
	int fmt;
	tail_line_fn fn;
	void *ctx;
	int source;
};

static const char *const format_names[ENVELOPE_FORMAT_COUNT] = { "CRI", "Docker json-file" };

static const char *const mode_names[] = {
	[ENVELOPE_AUTO] = "auto",
	[ENVELOPE_NONE] = "none",
	[ENVELOPE_CRI] = "cri",
	[ENVELOPE_DOCKER] = "docker",
};

int
envelope_mode_parse(const char *s, enum envelope_mode *mode)
{
	for (size_t i = 0; i < sizeof mode_names / sizeof mode_names[0]; i++) {
		if (strcmp(s, mode_names[i]) == 0) {
			*mode = (enum envelope_mode)i;
			return 0;
		}
	}
	return -1;
}

const char *
envelope_mode_name(enum envelope_mode mode)
{
	return (unsigned)mode < sizeof mode_names / sizeof mode_names[0] ?
	    mode_names[mode] : "unknown";
}

/* ---- the join buffers -------------------------------------------------- */

/* Make room for need bytes in all (room in front included), doubling up
 * to the room and max_line. Returns 0, or -1 if it cannot. */
static int
grow(struct envelope_join *j, size_t need, size_t max_line)
{
	size_t max = ENVELOPE_PREFIX_MAX + max_line, cap;
	char *p;

	if (need <= j->cap)
		return 0;
	if (need > max)
		return -1;
	cap = j->cap > 0 ? j->cap : JOIN_MIN;
	while (cap < need)
		cap = cap > max / 2 ? max : cap * 2;
	if (cap > max)
		cap = max;
	if ((p = realloc(j->buf, cap)) == NULL)
		return -1;
	j->buf = p;
	j->cap = cap;
	return 0;
}

/* Add n bytes to the line being joined. Past max_line (or out of memory)
 * the line is dropped, counted once, and skipped to its end. */
static void
append(const struct sink *k, struct envelope_join *j, const void *p, size_t n)
{
	if (j->skipping || n == 0)
		return;
	if (n > k->cfg->max_line - j->len ||
	    grow(j, ENVELOPE_PREFIX_MAX + j->len + n, k->cfg->max_line) < 0) {
		j->skipping = 1;
		j->len = 0;
		COUNT(k->cfg, overlong, k->fmt);
		log_limited(LOG_LIMIT_OVERLONG, LOG_LEVEL_WARN,
		    "skipped a %s line joined from parts: longer than %zu bytes (counted in "
		    "maillog_envelope_overlong_total)", format_names[k->fmt], k->cfg->max_line);
		return;
	}
	memcpy(j->buf + ENVELOPE_PREFIX_MAX + j->len, p, n);
	j->len += n;
}

/* "tag[pid]: " at the start of s: the shape of a syslog line whose header
 * was left out (syslog-ng's "$MSGHDR$MSG", a program writing to stdout as
 * it would to syslog). Without the pid, "4F2A31C0B3: to=<...>" would look
 * like a tag too, and be taken away from the parsers that read it bare. */
static int
tagged(const char *s, size_t n)
{
	size_t i = 0, open;

	while (i < n && i < TAG_MAX && s[i] != '[' && s[i] != ' ' && s[i] != ':')
		i++;
	if (i == 0 || i >= n || s[i] != '[')
		return 0;
	open = i++;
	while (i < n && s[i] >= '0' && s[i] <= '9')
		i++;
	return i > open + 1 && i + 1 < n && s[i] == ']' && s[i + 1] == ':';
}

/*
 * Pass a whole inner line on. A line with a syslog header of its own keeps
 * it. One without, but with a tag, gets "TIME " in front (the record's
 * time), written into the room before it, so the header parser sees an
 * RFC 3339 header with no host: the line's time is the stream's. If the
 * time is not one the header parser reads, the line goes on bare.
 * in_buf: line is j's buffer past the room; else it points elsewhere and
 * is copied in first (only when a header is put in front).
 */
static void
emit(const struct sink *k, struct envelope_join *j, const char *line, size_t n,
    const struct record *r, int in_buf)
{
	struct mp_syslog hdr;
	char *start;

	if (n == 0)
		return;
	COUNT(k->cfg, lines, k->fmt);
	if (r->tslen == 0 || r->tslen >= ENVELOPE_PREFIX_MAX || !tagged(line, n)) {
		k->fn(k->ctx, line, n, k->source);
		return;
	}
	mp_syslog_parse(line, n, &hdr);
	if (hdr.kind != MP_HDR_NONE) {
		k->fn(k->ctx, line, n, k->source);
		return;
	}
	if (!in_buf) {
		if (grow(j, ENVELOPE_PREFIX_MAX + n, k->cfg->max_line) < 0) {
			k->fn(k->ctx, line, n, k->source);
			return;
		}
		memcpy(j->buf + ENVELOPE_PREFIX_MAX, line, n);
		line = j->buf + ENVELOPE_PREFIX_MAX;
	}
	start = j->buf + ENVELOPE_PREFIX_MAX - r->tslen - 1;
	memcpy(start, r->ts, r->tslen);
	start[r->tslen] = ' ';
	mp_syslog_parse(start, n + r->tslen + 1, &hdr);
	if (hdr.kind == MP_HDR_RFC3339 && hdr.tag != NULL)
		k->fn(k->ctx, start, n + r->tslen + 1, k->source);
	else
		k->fn(k->ctx, line, n, k->source);
}

/* The joined line is whole: pass it on (unless it was skipped) and start
 * the next. strip_cr: drop one '\r' before the end, as the splitter does
 * before a '\n' (Docker keeps it inside the JSON string). */
static void
flush(const struct sink *k, struct envelope_join *j, const struct record *r, int strip_cr)
{
	size_t n = j->len;

	if (!j->skipping && n > 0) {
		if (strip_cr && j->buf[ENVELOPE_PREFIX_MAX + n - 1] == '\r')
			n--;
		emit(k, j, j->buf + ENVELOPE_PREFIX_MAX, n, r, 1);
	}
	j->skipping = 0;
	j->len = 0;
	j->pending = 0;
}

/* ---- CRI ----------------------------------------------------------------- */

static int
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* "TIMESTAMP STREAM TAGS CONTENT". The timestamp is checked for its shape
 * only ("YYYY-MM-DDT..."); the header parser reads it when it is used. */
static int
cri_parse(const char *s, size_t n, struct record *r)
{
	const char *sp = memchr(s, ' ', n), *p, *end = s + n, *tag_end, *colon;

	if (sp == NULL || sp - s < 20 || sp - s > 64 || !is_digit(s[0]) || s[4] != '-' ||
	    s[10] != 'T')
		return -1;
	r->ts = s;
	r->tslen = (size_t)(sp - s);
	p = sp + 1;
	if (end - p >= 7 && memcmp(p, "stdout ", 7) == 0)
		r->stream = 0;
	else if (end - p >= 7 && memcmp(p, "stderr ", 7) == 0)
		r->stream = 1;
	else
		return -1;
	p += 7;
	tag_end = memchr(p, ' ', (size_t)(end - p));
	if (tag_end == NULL)
		tag_end = end;
	colon = memchr(p, ':', (size_t)(tag_end - p));
	if (colon == NULL)
		colon = tag_end;
	if (colon - p != 1 || (p[0] != 'P' && p[0] != 'F'))
		return -1;
	r->partial = p[0] == 'P';
	r->msg = tag_end < end ? tag_end + 1 : end;
	r->msglen = (size_t)(end - r->msg);
	return 0;
}

static void
cri_record(const struct sink *k, struct envelope *e, const struct record *r, size_t physlen)
{
	struct envelope_join *j = &e->join[r->stream];

	if (r->partial) {
		append(k, j, r->msg, r->msglen);
		j->pending += physlen + 1;
		return;
	}
	if (j->len == 0 && !j->skipping) {
		/* The common case: a whole line in one record, passed on in
		 * place unless a header is put in front. (The line splitter
		 * keeps records within max_line; a caller that does not is
		 * held to it here all the same.) */
		if (r->msglen > k->cfg->max_line) {
			COUNT(k->cfg, overlong, k->fmt);
			log_limited(LOG_LIMIT_OVERLONG, LOG_LEVEL_WARN,
			    "skipped a %s line longer than %zu bytes (counted in "
			    "maillog_envelope_overlong_total)", format_names[k->fmt],
			    k->cfg->max_line);
		} else
			emit(k, j, r->msg, r->msglen, r, 0);
		j->pending = 0;
		return;
	}
	append(k, j, r->msg, r->msglen);
	flush(k, j, r, 0);
}

/* ---- Docker json-file -------------------------------------------------- */

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Four hex digits at s (4 bytes readable) as a number, or -1. */
static long
hex4(const char *s)
{
	long v = 0;

	for (int i = 0; i < 4; i++) {
		int h = hexval(s[i]);
		if (h < 0)
			return -1;
		v = v * 16 + h;
	}
	return v;
}

static void
skip_ws(const char *s, size_t n, size_t *i)
{
	while (*i < n && (s[*i] == ' ' || s[*i] == '\t' || s[*i] == '\r' || s[*i] == '\n'))
		(*i)++;
}

/* A JSON string at s[*i] == '"': check its escapes and move past its
 * closing quote. Raw bytes >= 0x80 are left to the decoder (replaced there
 * if they are not UTF-8); raw control characters are not JSON. */
static int
json_string(const char *s, size_t n, size_t *i)
{
	size_t k = *i + 1;

	while (k < n) {
		unsigned char c = (unsigned char)s[k];
		if (c == '"') {
			*i = k + 1;
			return 0;
		}
		if (c < 0x20)
			return -1;
		if (c != '\\') {
			k++;
			continue;
		}
		if (k + 1 >= n)
			return -1;
		switch (s[k + 1]) {
		case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
			k += 2;
			break;
		case 'u':
			if (n - k < 6 || hex4(s + k + 2) < 0)
				return -1;
			k += 6;
			break;
		default:
			return -1;
		}
	}
	return -1;
}

static int
scalar_byte(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'z') || c == '-' || c == '+' || c == '.' ||
	    c == 'E';
}

/* Move past one JSON value of a key we do not use ("attrs", ...). Nesting
 * is bounded; brackets are matched by count, which is enough to find the
 * value's end in a record that is JSON, and never reads past n. */
static int
json_skip(const char *s, size_t n, size_t *i)
{
	int depth = 0;

	for (;;) {
		skip_ws(s, n, i);
		if (*i >= n)
			return -1;
		char c = s[*i];
		if (c == '"') {
			if (json_string(s, n, i) < 0)
				return -1;
		} else if (c == '{' || c == '[') {
			if (++depth > JSON_DEPTH_MAX)
				return -1;
			(*i)++;
			continue;
		} else if (c == '}' || c == ']') {
			if (depth == 0)
				return -1;
			depth--;
			(*i)++;
		} else if (c == ',' || c == ':') {
			if (depth == 0)
				return -1;
			(*i)++;
			continue;
		} else if (scalar_byte(c)) {
			while (*i < n && scalar_byte(s[*i]))
				(*i)++;
		} else {
			return -1;
		}
		if (depth == 0)
			return 0;
	}
}

static int
key_is(const char *s, size_t k0, size_t k1, const char *name)
{
	size_t len = strlen(name);

	return k1 - k0 == len && memcmp(s + k0, name, len) == 0;
}

/* One json-file record: an object, checked whole. Docker leaves "log" out
 * when it is empty, so a record without one holds no text. */
static int
docker_parse(const char *s, size_t n, struct record *r)
{
	size_t i = 0, k0, k1, v0;

	memset(r, 0, sizeof *r);
	skip_ws(s, n, &i);
	if (i >= n || s[i] != '{')
		return -1;
	i++;
	for (;;) {
		skip_ws(s, n, &i);
		if (i >= n || s[i] != '"')
			return -1;
		k0 = i + 1;
		if (json_string(s, n, &i) < 0)
			return -1;
		k1 = i - 1;
		skip_ws(s, n, &i);
		if (i >= n || s[i] != ':')
			return -1;
		i++;
		skip_ws(s, n, &i);
		if (i < n && s[i] == '"' &&
		    (key_is(s, k0, k1, "log") || key_is(s, k0, k1, "stream") ||
		    key_is(s, k0, k1, "time"))) {
			v0 = i + 1;
			if (json_string(s, n, &i) < 0)
				return -1;
			if (key_is(s, k0, k1, "log")) {
				r->msg = s + v0;
				r->msglen = i - 1 - v0;
			} else if (key_is(s, k0, k1, "time")) {
				r->ts = s + v0;
				r->tslen = i - 1 - v0;
			} else if (i - 1 - v0 == 6 && memcmp(s + v0, "stdout", 6) == 0) {
				r->stream = 0;
			} else if (i - 1 - v0 == 6 && memcmp(s + v0, "stderr", 6) == 0) {
				r->stream = 1;
			} else {
				return -1;
			}
		} else if (key_is(s, k0, k1, "log") || json_skip(s, n, &i) < 0) {
			return -1;
		}
		skip_ws(s, n, &i);
		if (i < n && s[i] == ',') {
			i++;
			continue;
		}
		if (i < n && s[i] == '}') {
			i++;
			break;
		}
		return -1;
	}
	skip_ws(s, n, &i);
	return i == n ? 0 : -1;
}

/* UTF-8 of code point cp (valid, not a surrogate) into out; its length. */
static size_t
utf8_put(unsigned long cp, unsigned char *out)
{
	if (cp < 0x80) {
		out[0] = (unsigned char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (unsigned char)(0xc0 | (cp >> 6));
		out[1] = (unsigned char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (unsigned char)(0xe0 | (cp >> 12));
		out[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (unsigned char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (unsigned char)(0xf0 | (cp >> 18));
	out[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
	out[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
	out[3] = (unsigned char)(0x80 | (cp & 0x3f));
	return 4;
}

static const unsigned char replacement[3] = { 0xef, 0xbf, 0xbd };

/*
 * Decode the "log" string (checked by docker_parse) onto the stream's
 * line. A "\n" ends the line: Docker ends each line with one and splits a
 * long line into records with none until the last; one in the middle (a
 * record no Docker wrote) ends a line there all the same, as it would in
 * a plain file. What is left without a "\n" waits for the next record.
 */
static void
docker_record(const struct sink *k, struct envelope *e, const struct record *r, size_t physlen)
{
	struct envelope_join *j = &e->join[r->stream];
	const unsigned char *s = (const unsigned char *)r->msg;
	size_t n = r->msglen, i = 0, bad;
	unsigned char out[4];
	int replaced = 0, ended = 0;
	unsigned long cp;

	while (i < n) {
		size_t run = i;
		while (run < n && s[run] != '\\' && s[run] < 0x80)
			run++;
		if (run > i) {
			append(k, j, s + i, run - i);
			i = run;
			ended = 0;
			continue;
		}
		ended = 0;
		if (s[i] >= 0x80) {
			size_t l = utf8_seq(s + i, n - i, &bad);
			if (l > 0) {
				append(k, j, s + i, l);
				i += l;
			} else {
				append(k, j, replacement, 3);
				replaced = 1;
				i += bad;
			}
			continue;
		}
		switch (s[i + 1]) {
		case 'n':
			i += 2;
			flush(k, j, r, 1);
			ended = 1;
			continue;
		case 'b': out[0] = '\b'; break;
		case 'f': out[0] = '\f'; break;
		case 'r': out[0] = '\r'; break;
		case 't': out[0] = '\t'; break;
		case 'u': break;
		default: out[0] = s[i + 1]; break;    /* '"', '\\', '/' */
		}
		if (s[i + 1] != 'u') {
			append(k, j, out, 1);
			i += 2;
			continue;
		}
		cp = (unsigned long)hex4((const char *)s + i + 2);
		i += 6;
		if (cp >= 0xd800 && cp <= 0xdbff && n - i >= 6 && s[i] == '\\' && s[i + 1] == 'u') {
			long lo = hex4((const char *)s + i + 2);
			if (lo >= 0xdc00 && lo <= 0xdfff) {
				cp = 0x10000 + ((cp - 0xd800) << 10) + ((unsigned long)lo - 0xdc00);
				i += 6;
			}
		}
		if (cp == '\n') {
			flush(k, j, r, 1);
			ended = 1;
		} else if (cp == 0 || (cp >= 0xd800 && cp <= 0xdfff)) {
			append(k, j, replacement, 3);
			replaced = 1;
		} else {
			append(k, j, out, utf8_put(cp, out));
		}
	}
	if (!ended)
		j->pending += physlen + 1;
	if (replaced)
		COUNT(k->cfg, replaced, k->fmt);
}

/* ---- the entry points --------------------------------------------------- */

/* The first line of a file decides its format. */
static int
decide(const struct envelope_config *cfg, const char *line, size_t len)
{
	struct record r;
	int kind = (int)cfg->mode;

	if (cfg->mode == ENVELOPE_AUTO) {
		if (len > 0 && (line[0] == '{' || line[0] == ' ') && docker_parse(line, len, &r) == 0)
			kind = ENVELOPE_DOCKER;
		else if (cri_parse(line, len, &r) == 0)
			kind = ENVELOPE_CRI;
		else
			kind = ENVELOPE_NONE;
	}
	if (cfg->stats != NULL && (kind == ENVELOPE_CRI || kind == ENVELOPE_DOCKER))
		atomic_store_explicit(&cfg->stats->shown[kind == ENVELOPE_CRI ?
		    ENVELOPE_FORMAT_CRI : ENVELOPE_FORMAT_DOCKER], 1, memory_order_relaxed);
	return kind;
}

/* A record not in its file's format: counted, and said at a bounded rate
 * (the content is the container's, so anyone who can log can trigger it). */
static void
malformed(const struct envelope_config *cfg, int fmt, const char *line, size_t len)
{
	char ex[4 * 120 + 4];

	COUNT(cfg, malformed, fmt);
	log_limited(LOG_LIMIT_ENVELOPE, LOG_LEVEL_WARN,
	    "dropped a line of a %s container log that is not a record of it (counted in "
	    "maillog_envelope_malformed_total): %s", format_names[fmt],
	    log_excerpt(ex, line, len, 120));
}

void
envelope_line(struct envelope *e, const struct envelope_config *cfg,
    const char *line, size_t len, tail_line_fn fn, void *ctx, int source)
{
	struct record r;
	struct sink k = { .cfg = cfg, .fn = fn, .ctx = ctx, .source = source };

	if (cfg == NULL || cfg->mode == ENVELOPE_NONE) {
		fn(ctx, line, len, source);
		return;
	}
	if (e->kind == 0)
		e->kind = decide(cfg, line, len);
	switch (e->kind) {
	case ENVELOPE_CRI:
		k.fmt = ENVELOPE_FORMAT_CRI;
		if (cri_parse(line, len, &r) < 0) {
			malformed(cfg, k.fmt, line, len);
			return;
		}
		cri_record(&k, e, &r, len);
		return;
	case ENVELOPE_DOCKER:
		k.fmt = ENVELOPE_FORMAT_DOCKER;
		if (docker_parse(line, len, &r) < 0) {
			malformed(cfg, k.fmt, line, len);
			return;
		}
		docker_record(&k, e, &r, len);
		return;
	default:
		fn(ctx, line, len, source);
		return;
	}
}

uint64_t
envelope_pending(const struct envelope *e)
{
	return e->join[0].pending + e->join[1].pending;
}

void
envelope_fini(struct envelope *e)
{
	free(e->join[0].buf);
	free(e->join[1].buf);
	memset(e, 0, sizeof *e);
}
