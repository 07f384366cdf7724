/*
 * test_envelope.c - the container envelopes (daemon/input/envelope.c):
 * CRI records whole and in P/F parts (per stream), Docker json-file
 * records with every JSON escape, surrogate pairs, invalid UTF-8 and
 * \u0000, split records, malformed records of both, the join bound, the
 * auto-detection by the first line, the stream's time put in front of a
 * header-less line, and the pending bytes a saved position steps back by.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/input/envelope.h"
#include "daemon/input/once.h"
#include "parsers/mp.h"

#define MAX_OUT 64

struct collect {
	size_t n;
	char line[MAX_OUT][512];
	size_t len[MAX_OUT];
	const char *ptr[MAX_OUT];
	int source[MAX_OUT];
};

static void
collect_fn(void *ctx, const char *line, size_t len, int source)
{
	struct collect *c = ctx;

	assert_true(c->n < MAX_OUT);
	assert_true(len > 0);
	assert_true(len < sizeof c->line[0]);
	memcpy(c->line[c->n], line, len);
	c->line[c->n][len] = '\0';
	c->len[c->n] = len;
	c->ptr[c->n] = line;
	c->source[c->n] = source;
	c->n++;
}

struct fixture {
	struct envelope env;
	struct envelope_config cfg;
	struct envelope_stats stats;
	struct collect out;
};

static struct fixture *
fx_new(enum envelope_mode mode, size_t max_line)
{
	struct fixture *f = calloc(1, sizeof *f);

	assert_non_null(f);
	f->cfg.mode = mode;
	f->cfg.max_line = max_line;
	f->cfg.stats = &f->stats;
	return f;
}

static void
fx_free(struct fixture *f)
{
	envelope_fini(&f->env);
	free(f);
}

static void
feed(struct fixture *f, const char *line)
{
	envelope_line(&f->env, &f->cfg, line, strlen(line), collect_fn, &f->out, 7);
}

static uint64_t
counter(const _Atomic uint64_t *a, int fmt)
{
	return atomic_load(&a[fmt]);
}

#define CRI ENVELOPE_FORMAT_CRI
#define DOCKER ENVELOPE_FORMAT_DOCKER

/* Real Postfix lines (examples/mail.log, from Debian 12's Postfix 3.7
 * logging with maillog_file). */
#define PF_SENT "Dec 06 18:29:08 mail postfix/smtp[257]: 4E8A04A6A0: to=<ok@sink.test>, " \
	"relay=192.0.2.10[192.0.2.10]:2525, delay=0.06, delays=0.03/0.01/0.01/0.01, " \
	"dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 4C5F7F)"
#define PF_BARE "postfix/smtp[257]: 4E8A04A6A0: to=<ok@sink.test>, " \
	"relay=192.0.2.10[192.0.2.10]:2525, delay=0.06, delays=0.03/0.01/0.01/0.01, " \
	"dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 4C5F7F)"

static void
test_cri_whole_line_in_place(void **state)
{
	struct fixture *f = fx_new(ENVELOPE_AUTO, 65536);
	const char *rec = "2026-12-06T18:29:08.123456789Z stdout F " PF_SENT;
	(void)state;

	envelope_line(&f->env, &f->cfg, rec, strlen(rec), collect_fn, &f->out, 7);
	assert_int_equal(f->out.n, 1);
	assert_string_equal(f->out.line[0], PF_SENT);
	/* Passed in place: no copy for a whole line with its own header. */
	assert_ptr_equal(f->out.ptr[0], rec + strlen(rec) - strlen(PF_SENT));
	assert_int_equal(f->out.source[0], 7);
	assert_int_equal(f->env.kind, ENVELOPE_CRI);
	assert_int_equal(counter(f->stats.lines, CRI), 1);
	assert_int_equal(atomic_load(&f->stats.shown[CRI]), 1);
	assert_int_equal(atomic_load(&f->stats.shown[DOCKER]), 0);
	assert_null(f->env.join[0].buf);
	fx_free(f);
}

static void
test_cri_parts_joined_per_stream(void **state)
{
	struct fixture *f = fx_new(ENVELOPE_AUTO, 65536);
	const char *p1 = "2026-12-06T18:29:08.1Z stdout P Dec 06 18:29:08 mail postfix/smtp[257]: ";
	const char *e1 = "2026-12-06T18:29:08.2Z stderr P half of an error ";
	const char *p2 = "2026-12-06T18:29:08.3Z stdout P 4E8A04A6A0: to=<ok@sink.test>, ";
	const char *e2 = "2026-12-06T18:29:08.4Z stderr F line";
	const char *p3 = "2026-12-06T18:29:08.5Z stdout F status=sent (250 2.0.0 Ok)";
	(void)state;

	feed(f, p1);
	assert_int_equal(envelope_pending(&f->env), strlen(p1) + 1);
	feed(f, e1);
	feed(f, p2);
	assert_int_equal(envelope_pending(&f->env),
	    strlen(p1) + 1 + strlen(e1) + 1 + strlen(p2) + 1);
	feed(f, e2);
	assert_int_equal(f->out.n, 1);
	assert_string_equal(f->out.line[0], "half of an error line");
	assert_int_equal(envelope_pending(&f->env), strlen(p1) + 1 + strlen(p2) + 1);
	feed(f, p3);
	assert_int_equal(f->out.n, 2);
	assert_string_equal(f->out.line[1], "Dec 06 18:29:08 mail postfix/smtp[257]: "
	    "4E8A04A6A0: to=<ok@sink.test>, status=sent (250 2.0.0 Ok)");
	assert_int_equal(envelope_pending(&f->env), 0);
	assert_int_equal(counter(f->stats.lines, CRI), 2);
	fx_free(f);
}

static void
test_cri_tags_and_empty(void **state)
{
	struct fixture *f = fx_new(ENVELOPE_CRI, 65536);
	(void)state;

	/* More tags after the first, ':'-separated (the CRI design allows). */
	feed(f, "2026-12-06T18:29:08Z stdout F:x one");
	/* CRI-O: nine digits and a local offset. */
	feed(f, "2026-12-06T19:29:08.000000000+01:00 stderr F two");
	/* An empty line: nothing passed, nothing malformed. */
	feed(f, "2026-12-06T18:29:08Z stdout F ");
	feed(f, "2026-12-06T18:29:08Z stdout F");
	assert_int_equal(f->out.n, 2);
	assert_string_equal(f->out.line[0], "one");
	assert_string_equal(f->out.line[1], "two");
	assert_int_equal(counter(f->stats.malformed, CRI), 0);
	fx_free(f);
}

static void
test_cri_malformed(void **state)
{
	static const char *const bad[] = {
		"Dec 06 18:29:08 mail postfix/smtp[257]: plain line in a CRI file",
		"2026-12-06T18:29:08Z stdin F x",     /* no such stream */
		"2026-12-06T18:29:08Z stdout X x",    /* no such tag */
		"2026-12-06T18:29:08Z stdout PF x",   /* a tag is one letter */
		"2026-12-06T18:29:08Z stdout",        /* no tag */
		"2026-12-06 stdout F x",              /* no time of day */
		"",
	};
	struct fixture *f = fx_new(ENVELOPE_CRI, 65536);
	(void)state;

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		feed(f, bad[i]);
	assert_int_equal(f->out.n, 0);
	assert_int_equal(counter(f->stats.malformed, CRI), sizeof bad / sizeof bad[0]);
	fx_free(f);
}

static void
test_cri_overlong_join(void **state)
{
	struct fixture *f = fx_new(ENVELOPE_CRI, 300);
	char rec[400];
	(void)state;

	/* Exactly the limit: kept. 3 parts of 100 bytes. */
	for (int part = 0; part < 3; part++) {
		snprintf(rec, sizeof rec, "2026-12-06T18:29:08Z stdout %c %0100d",
		    part < 2 ? 'P' : 'F', part);
		feed(f, rec);
	}
	assert_int_equal(f->out.n, 1);
	assert_int_equal(f->out.len[0], 300);
	/* One byte more: skipped up to its F part and counted once. */
	for (int part = 0; part < 4; part++) {
		snprintf(rec, sizeof rec, "2026-12-06T18:29:08Z stdout %c %0*d",
		    part < 3 ? 'P' : 'F', part == 0 ? 101 : 100, part);
		feed(f, rec);
	}
	assert_int_equal(f->out.n, 1);
	assert_int_equal(counter(f->stats.overlong, CRI), 1);
	assert_int_equal(envelope_pending(&f->env), 0);
	/* The next line is whole again. */
	feed(f, "2026-12-06T18:29:08Z stdout F after");
	assert_int_equal(f->out.n, 2);
	assert_string_equal(f->out.line[1], "after");
	fx_free(f);
}

static void
test_docker_escapes(void **state)
{
	struct fixture *f = fx_new(ENVELOPE_AUTO, 65536);
	(void)state;

	/* As Docker writes it: <, > and & as \u00XX, a tab as \u0009. */
	feed(f, "{\"log\":\"Dec 06 18:29:08 mail postfix/smtp[257]: 4E8A04A6A0: "
	    "to=\\u003cok@sink.test\\u003e, status=sent (250 2.0.0 \\\"Ok\\\" \\u0026 "
	    "a\\\\b\\/c\\u0009d)\\n\",\"stream\":\"stdout\",\"time\":\"2026-12-06T18:29:08.1Z\"}");
	assert_int_equal(f->env.kind, ENVELOPE_DOCKER);
	assert_int_equal(f->out.n, 1);
	assert_string_equal(f->out.line[0], "Dec 06 18:29:08 mail postfix/smtp[257]: "
	    "4E8A04A6A0: to=<ok@sink.test>, status=sent (250 2.0.0 \"Ok\" & a\\b/c\td)");
	/* \b \f \r, a surrogate pair, BMP and two-byte escapes, raw UTF-8. */
	feed(f, "{\"log\":\"x\\b\\f\\ry \\ud83d\\ude00 \\u20ac \\u00e9 \xc3\xa9\\n\"}");
	assert_int_equal(f->out.n, 2);
	assert_string_equal(f->out.line[1],
	    "x\b\f\ry \xf0\x9f\x98\x80 \xe2\x82\xac \xc3\xa9 \xc3\xa9");
	assert_int_equal(counter(f->stats.replaced, DOCKER), 0);
	assert_int_equal(counter(f->stats.lines, DOCKER), 2);
	assert_int_equal(atomic_load(&f->stats.shown[DOCKER]), 1);
	fx_free(f);
}

static void
test_docker_replaced(void **state)
{
	struct fixture *f = fx_new(ENVELOPE_DOCKER, 65536);
	(void)state;

	/* \u0000, a lone high and a lone low surrogate, a high surrogate
	 * followed by no low one, raw invalid bytes: each one U+FFFD. */
	feed(f, "{\"log\":\"a\\u0000b\\n\"}");
	feed(f, "{\"log\":\"c\\ud800d\\udc00e\\ud800\\u0041\\n\"}");
	feed(f, "{\"log\":\"f\xff\xc3g\xe2\x82\\n\"}");
	assert_int_equal(f->out.n, 3);
	assert_string_equal(f->out.line[0], "a\xef\xbf\xbd" "b");
	assert_string_equal(f->out.line[1],
	    "c\xef\xbf\xbd" "d\xef\xbf\xbd" "e\xef\xbf\xbd" "A");
	assert_string_equal(f->out.line[2],
	    "f\xef\xbf\xbd\xef\xbf\xbdg\xef\xbf\xbd");
	for (size_t i = 0; i < f->out.n; i++)
		assert_null(memchr(f->out.line[i], '\0', f->out.len[i]));
	assert_int_equal(counter(f->stats.replaced, DOCKER), 3);
	assert_int_equal(counter(f->stats.malformed, DOCKER), 0);
	fx_free(f);
}

static void
test_docker_split_records(void **state)
{
	struct fixture *f = fx_new(ENVELOPE_DOCKER, 65536);
	const char *r1 = "{\"log\":\"Dec 06 18:29:08 mail postfix/smtp[257]: \",\"stream\":\"stdout\"}";
	const char *r2 = "{\"stream\":\"stderr\",\"log\":\"err\\r\\n\"}";
	const char *r3 = "{\"time\":\"2026-12-06T18:29:08Z\",\"attrs\":{\"tag\":\"x\",\"n\":[1,2,{\"a\":null}]},"
	    "\"log\":\"status=sent\\r\\n\",\"stream\":\"stdout\"}";
	(void)state;

	feed(f, r1);
	assert_int_equal(f->out.n, 0);
	assert_int_equal(envelope_pending(&f->env), strlen(r1) + 1);
	feed(f, r2);
	assert_int_equal(f->out.n, 1);
	assert_string_equal(f->out.line[0], "err");
	feed(f, r3);
	assert_int_equal(f->out.n, 2);
	assert_string_equal(f->out.line[1], "Dec 06 18:29:08 mail postfix/smtp[257]: status=sent");
	assert_int_equal(envelope_pending(&f->env), 0);
	/* A "\n" inside a record (no Docker writes one) ends a line there. */
	feed(f, "{\"log\":\"one\\ntwo\\u000athree\"}");
	feed(f, "{\"log\":\" and four\\n\"}");
	assert_int_equal(f->out.n, 5);
	assert_string_equal(f->out.line[2], "one");
	assert_string_equal(f->out.line[3], "two");
	assert_string_equal(f->out.line[4], "three and four");
	fx_free(f);
}

static void
test_docker_malformed(void **state)
{
	static const char *const bad[] = {
		"{\"log\":\"a\\x\\n\"}",                 /* no such escape */
		"{\"log\":\"a\\u12\\n\"}",               /* short \u */
		"{\"log\":\"a\tb\\n\"}",                 /* raw control character */
		"{\"log\":\"unterminated\\n}",
		"{\"log\":\"x\\n\"} trailing",
		"{\"log\":\"x\\n\",}",
		"{\"log\":1}",
		"{\"log\":\"x\\n\",\"stream\":\"stdin\"}",
		"{\"log\":\"x\\n\",\"attrs\":[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]}",
		"{\"log\":\"x\\n\",\"attrs\":}",
		"Dec 06 18:29:08 mail postfix/smtp[257]: plain",
		"[\"log\"]",
		"{",
	};
	struct fixture *f = fx_new(ENVELOPE_DOCKER, 65536);
	(void)state;

	feed(f, "{\"log\":\"kept \"}");
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		feed(f, bad[i]);
	assert_int_equal(f->out.n, 0);
	assert_int_equal(counter(f->stats.malformed, DOCKER), sizeof bad / sizeof bad[0]);
	/* A malformed record leaves nothing of itself in the join. */
	feed(f, "{\"log\":\"whole\\n\"}");
	assert_int_equal(f->out.n, 1);
	assert_string_equal(f->out.line[0], "kept whole");
	fx_free(f);
}

static void
test_docker_overlong(void **state)
{
	struct fixture *f = fx_new(ENVELOPE_DOCKER, 256);
	char rec[600];
	(void)state;

	/* The bound is on decoded bytes: 60 \u003c are 60 bytes a record. */
	strcpy(rec, "{\"log\":\"");
	for (int i = 0; i < 60; i++)
		strcat(rec, "\\u003c");
	strcat(rec, "\"}");
	for (int i = 0; i < 5; i++)
		feed(f, rec);        /* 240, then 300: over 256 */
	feed(f, "{\"log\":\"end\\n\"}");
	assert_int_equal(f->out.n, 0);
	assert_int_equal(counter(f->stats.overlong, DOCKER), 1);
	feed(f, "{\"log\":\"next\\n\"}");
	assert_int_equal(f->out.n, 1);
	assert_string_equal(f->out.line[0], "next");
	fx_free(f);
}

static void
test_auto_decides_by_first_line(void **state)
{
	struct fixture *f = fx_new(ENVELOPE_AUTO, 65536);
	const char *plain = PF_SENT;
	const char *cri = "2026-12-06T18:29:08Z stdout F x";
	(void)state;

	feed(f, plain);
	feed(f, cri);
	assert_int_equal(f->env.kind, ENVELOPE_NONE);
	assert_int_equal(f->out.n, 2);
	assert_string_equal(f->out.line[1], cri);
	assert_int_equal(atomic_load(&f->stats.shown[CRI]), 0);
	assert_int_equal(atomic_load(&f->stats.shown[DOCKER]), 0);
	/* A new file (a rotation) decides again. */
	envelope_fini(&f->env);
	feed(f, cri);
	assert_int_equal(f->env.kind, ENVELOPE_CRI);
	feed(f, plain);
	assert_int_equal(f->out.n, 3);
	assert_string_equal(f->out.line[2], "x");
	assert_int_equal(counter(f->stats.malformed, CRI), 1);
	fx_free(f);
}

static void
test_none_is_untouched(void **state)
{
	struct fixture *f = fx_new(ENVELOPE_NONE, 65536);
	const char *cri = "2026-12-06T18:29:08Z stdout F x";
	(void)state;

	feed(f, cri);
	envelope_line(&f->env, NULL, cri, strlen(cri), collect_fn, &f->out, 7);
	assert_int_equal(f->out.n, 2);
	assert_ptr_equal(f->out.ptr[0], cri);
	assert_ptr_equal(f->out.ptr[1], cri);
	assert_int_equal(f->env.kind, 0);
	fx_free(f);
}

/* envelope_is_plain lets the readers skip envelope_line for a plain file:
 * true only when envelope_line would pass every further line untouched. */
static void
test_is_plain(void **state)
{
	struct fixture *f = fx_new(ENVELOPE_AUTO, 65536);
	struct envelope_config none = { .mode = ENVELOPE_NONE, .max_line = 65536 };
	struct envelope_config cri_cfg = { .mode = ENVELOPE_CRI, .max_line = 65536 };
	struct envelope fresh = { 0 };
	(void)state;

	assert_true(envelope_is_plain(&fresh, NULL));
	assert_true(envelope_is_plain(&fresh, &none));
	assert_false(envelope_is_plain(&fresh, &cri_cfg));
	/* Auto: undecided until the first line. */
	assert_false(envelope_is_plain(&f->env, &f->cfg));
	feed(f, PF_SENT);
	assert_true(envelope_is_plain(&f->env, &f->cfg));
	/* A rotation's new file decides again. */
	envelope_fini(&f->env);
	assert_false(envelope_is_plain(&f->env, &f->cfg));
	feed(f, "2026-12-06T18:29:08Z stdout F x");
	assert_false(envelope_is_plain(&f->env, &f->cfg));
	fx_free(f);
}

/* once_read asks envelope_is_plain per chunk: lines over many chunks, some
 * across a chunk's end, each once and byte for byte, in auto mode for a
 * plain file (a later CRI-looking line stays as it is: the first line
 * decided) and for a CRI file (every record unwrapped, not only the first
 * chunk's). */
struct once_check {
	size_t n;
	size_t bad;
	int cri;
};

static void
once_check_fn(void *ctx, const char *line, size_t len, int source)
{
	struct once_check *c = ctx;
	char want[512];
	int w;

	(void)source;
	if (c->cri || c->n % 97 != 5)
		w = snprintf(want, sizeof want, "%s line %zu %.*s", PF_SENT, c->n,
		    (int)(c->n % 61), "0123456789012345678901234567890123456789012345678901234567890123");
	else
		w = snprintf(want, sizeof want, "2026-12-06T18:29:08Z stdout F line %zu", c->n);
	if ((size_t)w != len || memcmp(want, line, len) != 0)
		c->bad++;
	c->n++;
}

static void
once_file(int cri)
{
	char path[] = "/tmp/test_envelope_XXXXXX";
	int fd = mkstemp(path);
	FILE *fp;
	struct envelope_config cfg = { .mode = ENVELOPE_AUTO, .max_line = 65536 };
	struct input_status st = { 0 };
	struct once_check c = { .cri = cri };
	char err[256];
	const size_t lines = 4000;

	assert_true(fd >= 0);
	fp = fdopen(fd, "w");
	assert_non_null(fp);
	for (size_t i = 0; i < lines; i++) {
		if (cri)
			fprintf(fp, "2026-12-06T18:29:08.%09zuZ stdout F ", i);
		if (cri || i % 97 != 5)
			fprintf(fp, "%s line %zu %.*s\n", PF_SENT, i, (int)(i % 61),
			    "0123456789012345678901234567890123456789012345678901234567890123");
		else
			fprintf(fp, "2026-12-06T18:29:08Z stdout F line %zu\n", i);
	}
	assert_int_equal(fclose(fp), 0);
	assert_int_equal(once_read(path, 65536, &cfg, once_check_fn, &c, 0, &st,
	    err, sizeof err), 0);
	unlink(path);
	assert_int_equal(c.n, lines);
	assert_int_equal(c.bad, 0);
	assert_int_equal(atomic_load(&st.lines), lines);
	assert_true(atomic_load(&st.bytes) > 4 * 65536);
}

static void
test_once_plain_chunks(void **state)
{
	(void)state;
	once_file(0);
}

static void
test_once_cri_chunks(void **state)
{
	(void)state;
	once_file(1);
}

static void
test_stream_time_for_headerless(void **state)
{
	struct fixture *f = fx_new(ENVELOPE_AUTO, 65536);
	struct mp_syslog hdr;
	(void)state;

	feed(f, "2026-12-06T18:29:08.123456789Z stdout F " PF_BARE);
	/* A queue id is no tag: the bare line goes on as it was. */
	feed(f, "2026-12-06T18:29:09Z stdout F 4E8A04A6A0: to=<ok@sink.test>, status=sent");
	/* Its own header: kept, with its own time. */
	feed(f, "2026-12-06T18:29:10Z stdout F " PF_SENT);
	/* A time the header parser cannot read: the line goes on bare. */
	envelope_fini(&f->env);
	feed(f, "2026-13-06T18:29:08Z stdout F " PF_BARE);
	assert_int_equal(f->out.n, 4);
	assert_string_equal(f->out.line[0], "2026-12-06T18:29:08.123456789Z " PF_BARE);
	mp_syslog_parse(f->out.line[0], f->out.len[0], &hdr);
	assert_int_equal(hdr.kind, MP_HDR_RFC3339);
	assert_int_equal(hdr.time.year, 2026);
	assert_int_equal(hdr.time.mon, 12);
	assert_int_equal(hdr.time.mday, 6);
	assert_int_equal(hdr.time.sec, 8);
	assert_int_equal(hdr.time.usec, 123456);
	assert_int_equal(hdr.time.has_offset, 1);
	assert_null(hdr.host);
	assert_int_equal(hdr.tag_len, strlen("postfix/smtp"));
	assert_memory_equal(hdr.tag, "postfix/smtp", hdr.tag_len);
	assert_string_equal(f->out.line[1], "4E8A04A6A0: to=<ok@sink.test>, status=sent");
	assert_string_equal(f->out.line[2], PF_SENT);
	assert_string_equal(f->out.line[3], PF_BARE);

	/* Docker: the time may come before or after the log. */
	envelope_fini(&f->env);
	feed(f, "{\"time\":\"2026-12-06T18:29:08.5Z\",\"log\":\"postfix/qmgr[251]: 4E8A04A6A0: removed\\n\"}");
	assert_string_equal(f->out.line[4], "2026-12-06T18:29:08.5Z postfix/qmgr[251]: 4E8A04A6A0: removed");
	fx_free(f);
}

/* A growing list of every line passed on, for the golden files. */
struct all {
	char *buf;
	size_t len, cap;
};

static void
all_fn(void *ctx, const char *line, size_t len, int source)
{
	struct all *a = ctx;
	(void)source;

	if (a->len + len + 1 > a->cap) {
		a->cap = (a->len + len + 1) * 2;
		a->buf = realloc(a->buf, a->cap);
		assert_non_null(a->buf);
	}
	memcpy(a->buf + a->len, line, len);
	a->buf[a->len + len] = '\n';
	a->len += len + 1;
}

static char *
slurp(const char *name, size_t *len)
{
	char path[512];
	FILE *fp;
	char *buf;
	long n;

	snprintf(path, sizeof path, "%s/data/envelopes/%s", TESTS_DIR, name);
	fp = fopen(path, "rb");
	if (fp == NULL)
		fail_msg("cannot open %s", path);
	assert_int_equal(fseek(fp, 0, SEEK_END), 0);
	n = ftell(fp);
	assert_true(n >= 0);
	rewind(fp);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
	fclose(fp);
	buf[n] = '\0';
	*len = (size_t)n;
	return buf;
}

/* Decode a golden file record by record (auto mode, as the daemon) and
 * compare every line passed on with the .expected file. */
static void
golden(const char *input, const char *expect, int kind)
{
	struct envelope_stats st;
	struct envelope_config cfg = { .mode = ENVELOPE_AUTO, .max_line = 65536, .stats = &st };
	struct envelope e;
	struct all out = { 0 };
	size_t n, m;
	char *in = slurp(input, &n), *want = slurp(expect, &m);

	memset(&st, 0, sizeof st);
	memset(&e, 0, sizeof e);
	for (size_t i = 0; i < n;) {
		char *nl = memchr(in + i, '\n', n - i);
		size_t l = nl ? (size_t)(nl - (in + i)) : n - i;
		if (l > 0)
			envelope_line(&e, &cfg, in + i, l, all_fn, &out, 0);
		i += l + 1;
	}
	assert_int_equal(e.kind, kind);
	if (out.len != m || memcmp(out.buf, want, m) != 0) {
		fprintf(stderr, "%s decoded:\n%.*s", input, (int)out.len, out.buf);
		fail_msg("%s: not %s", input, expect);
	}
	assert_int_equal(atomic_load(&st.malformed[0]) + atomic_load(&st.malformed[1]), 0);
	envelope_fini(&e);
	free(out.buf);
	free(in);
	free(want);
}

static void
test_golden_files(void **state)
{
	(void)state;
	golden("public-cri.log", "public-cri.expected", ENVELOPE_CRI);
	golden("public-docker.log", "public-docker.expected", ENVELOPE_DOCKER);
	golden("mail-cri.log", "mail.expected", ENVELOPE_CRI);
	golden("mail-docker.log", "mail.expected", ENVELOPE_DOCKER);
}

static void
test_mode_names(void **state)
{
	enum envelope_mode m;
	(void)state;

	assert_int_equal(envelope_mode_parse("auto", &m), 0);
	assert_int_equal(m, ENVELOPE_AUTO);
	assert_int_equal(envelope_mode_parse("docker", &m), 0);
	assert_int_equal(m, ENVELOPE_DOCKER);
	assert_int_equal(envelope_mode_parse("cri", &m), 0);
	assert_int_equal(m, ENVELOPE_CRI);
	assert_int_equal(envelope_mode_parse("none", &m), 0);
	assert_int_equal(m, ENVELOPE_NONE);
	assert_int_equal(envelope_mode_parse("json", &m), -1);
	assert_string_equal(envelope_mode_name(ENVELOPE_CRI), "cri");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cri_whole_line_in_place),
		cmocka_unit_test(test_cri_parts_joined_per_stream),
		cmocka_unit_test(test_cri_tags_and_empty),
		cmocka_unit_test(test_cri_malformed),
		cmocka_unit_test(test_cri_overlong_join),
		cmocka_unit_test(test_docker_escapes),
		cmocka_unit_test(test_docker_replaced),
		cmocka_unit_test(test_docker_split_records),
		cmocka_unit_test(test_docker_malformed),
		cmocka_unit_test(test_docker_overlong),
		cmocka_unit_test(test_auto_decides_by_first_line),
		cmocka_unit_test(test_none_is_untouched),
		cmocka_unit_test(test_is_plain),
		cmocka_unit_test(test_once_plain_chunks),
		cmocka_unit_test(test_once_cri_chunks),
		cmocka_unit_test(test_stream_time_for_headerless),
		cmocka_unit_test(test_golden_files),
		cmocka_unit_test(test_mode_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
