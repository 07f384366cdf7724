/*
 * fuzz_expo.c - the exposition renderer fed arbitrary label values.
 *
 * Label values reach the exposition from outside: the log path (the path
 * label of the per-source families) and, through the parsers, whatever a
 * remote server wrote. Prometheus drops a whole scrape over one malformed
 * byte, so the output must stay valid text format 0.0.4 whatever comes in.
 *
 * Each input is checked twice, by an oracle written independently of
 * web/expo.c and web/expo_writer.c: expo_escape_label() alone (valid UTF-8, no raw newline or
 * unescaped quote, only the three escapes, and unescaping gives back any
 * input that was valid UTF-8), and a full expo_render() with the input as
 * a source path and its parse counted, line by line against the grammar.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/aggregate.h"
#include "web/expo.h"
#include "parsers/mp.h"
#include "daemon/input/tailer.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct mp_registry *reg;

static void
die(const char *what, const char *text, size_t len)
{
	fprintf(stderr, "fuzz_expo: %s in: \"", what);
	for (size_t i = 0; i < len && i < 400; i++) {
		unsigned char c = (unsigned char)text[i];
		if (c >= 0x20 && c < 0x7f && c != '\\')
			fputc(c, stderr);
		else
			fprintf(stderr, "\\x%02x", c);
	}
	fprintf(stderr, "\"\n");
	abort();
}

/* Length of the UTF-8 sequence at s (Unicode Table 3-7), or 0 if ill-formed. */
static size_t
utf8_len(const unsigned char *s, size_t len)
{
	static const struct { unsigned char lead_lo, lead_hi, lo, hi; size_t n; } t[] = {
		{ 0x00, 0x7f, 0, 0, 1 },
		{ 0xc2, 0xdf, 0x80, 0xbf, 2 },
		{ 0xe0, 0xe0, 0xa0, 0xbf, 3 },
		{ 0xe1, 0xec, 0x80, 0xbf, 3 },
		{ 0xed, 0xed, 0x80, 0x9f, 3 },
		{ 0xee, 0xef, 0x80, 0xbf, 3 },
		{ 0xf0, 0xf0, 0x90, 0xbf, 4 },
		{ 0xf1, 0xf3, 0x80, 0xbf, 4 },
		{ 0xf4, 0xf4, 0x80, 0x8f, 4 },
	};
	for (size_t k = 0; k < sizeof t / sizeof t[0]; k++) {
		if (s[0] < t[k].lead_lo || s[0] > t[k].lead_hi)
			continue;
		if (t[k].n > len)
			return 0;
		for (size_t i = 1; i < t[k].n; i++)
			if (s[i] < (i == 1 ? t[k].lo : 0x80) || s[i] > (i == 1 ? t[k].hi : 0xbf))
				return 0;
		return t[k].n;
	}
	return 0;
}

static int
valid_utf8(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	for (size_t i = 0; i < len;) {
		size_t n = utf8_len(p + i, len - i);
		if (n == 0)
			return 0;
		i += n;
	}
	return 1;
}

/* Check the inside of a quoted label value at s (up to the closing quote
 * or end) and unescape it into out if out is not NULL. Returns the number
 * of bytes up to the closing quote, or dies. */
static size_t
check_value(const char *s, size_t len, int need_quote, char *out, size_t *outlen)
{
	size_t i = 0, o = 0;

	while (i < len && s[i] != '"') {
		if (s[i] == '\n')
			die("raw newline in a label value", s, len);
		if (s[i] == '\\') {
			if (i + 1 >= len)
				die("backslash at the end of a label value", s, len);
			char c = s[i + 1];
			if (c != '\\' && c != '"' && c != 'n')
				die("unknown escape in a label value", s, len);
			if (out)
				out[o++] = c == 'n' ? '\n' : c;
			i += 2;
			continue;
		}
		if (out)
			out[o++] = s[i];
		i++;
	}
	if (need_quote && i == len)
		die("label value without its closing quote", s, len);
	if (!need_quote && i != len)
		die("unescaped quote in a label value", s, len);
	if (!valid_utf8(s, i))
		die("label value is not valid UTF-8", s, i);
	if (outlen)
		*outlen = o;
	return i;
}

static int
name_char(char c, int first)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
	    (!first && c >= '0' && c <= '9');
}

/* One sample line: name{label="value",...} value */
static void
check_sample(const char *l, size_t len)
{
	size_t i = 0;

	if (len == 0 || !name_char(l[0], 1))
		die("sample line without a metric name", l, len);
	while (i < len && name_char(l[i], 0))
		i++;
	if (i < len && l[i] == '{') {
		i++;
		while (i < len && l[i] != '}') {
			size_t start = i;
			if (!name_char(l[i], 1) || l[i] == ':')
				die("bad label name", l, len);
			while (i < len && name_char(l[i], 0) && l[i] != ':')
				i++;
			if (i == start || i + 1 >= len || l[i] != '=' || l[i + 1] != '"')
				die("label without =\"", l, len);
			i += 2;
			i += check_value(l + i, len - i, 1, NULL, NULL) + 1;
			if (i < len && l[i] == ',')
				i++;
			else if (i >= len || l[i] != '}')
				die("labels not closed by }", l, len);
		}
		if (i >= len)
			die("labels not closed by }", l, len);
		i++;
	}
	if (i >= len || l[i] != ' ')
		die("no space before the sample value", l, len);
	i++;
	char num[64];
	size_t n = len - i;
	if (n == 0 || n >= sizeof num)
		die("bad sample value", l, len);
	memcpy(num, l + i, n);
	num[n] = '\0';
	char *end;
	strtod(num, &end);
	if (*end != '\0' && strcmp(num, "+Inf") != 0 && strcmp(num, "-Inf") != 0 &&
	    strcmp(num, "NaN") != 0)
		die("sample value is not a number", l, len);
}

static void
check_exposition(const char *t, size_t len)
{
	if (len == 0 || t[len - 1] != '\n')
		die("exposition does not end with a newline", t, len);
	if (!valid_utf8(t, len))
		die("exposition is not valid UTF-8", t, len);
	for (size_t i = 0; i < len;) {
		const char *nl = memchr(t + i, '\n', len - i);
		size_t n = (size_t)(nl - (t + i));
		const char *l = t + i;

		if (n == 0)
			die("empty line in the exposition", t, len);
		if (l[0] == '#') {
			if (!(n > 7 && (memcmp(l, "# HELP ", 7) == 0 || memcmp(l, "# TYPE ", 7) == 0)))
				die("comment that is neither HELP nor TYPE", l, n);
		} else {
			check_sample(l, n);
		}
		i += n + 1;
	}
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char err[256];

	(void)argc;
	(void)argv;
	if ((reg = mp_registry_new("auto", err, sizeof err)) == NULL) {
		fprintf(stderr, "fuzz_expo: %s\n", err);
		abort();
	}
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	struct strbuf out = { 0 };
	char *back;
	size_t backlen;

	if (expo_escape_label(&out, s, size) < 0)
		die("expo_escape_label failed", s, size);
	check_value(out.data ? out.data : "", out.len, 0, NULL, NULL);
	if (valid_utf8(s, size)) {
		back = malloc(out.len + 1);
		if (back == NULL)
			abort();
		check_value(out.data ? out.data : "", out.len, 0, back, &backlen);
		if (backlen != size || memcmp(back, s, size) != 0)
			die("unescaping does not give back the valid UTF-8 input", s, size);
		free(back);
	}
	strbuf_free(&out);

	/* The whole exposition, with the input as a path and as a counted line. */
	char *path = malloc(size + 1);
	struct input_status st;
	struct mp_event ev;
	struct agg *agg = agg_new(8);
	if (path == NULL || agg == NULL)
		abort();
	memcpy(path, s, size);
	path[size] = '\0';
	memset(&st, 0, sizeof st);
	int r = mp_registry_parse(reg, s, size, &ev);
	if (r > 0 && ev.kind == MP_EVENT_STATUS)
		agg_record(agg, &ev);
	else if (r < 0)
		agg_unmatched(agg, ev.mta);
	struct expo_source src = { .path = path, .status = &st };
	static const int mtas[] = { MP_MTA_POSTFIX, MP_MTA_EXIM };
	struct expo_view view = { .agg = agg, .sources = &src, .nsources = 1,
	    .mtas = mtas, .nmtas = 2 };
	if (expo_render(&view, &out) < 0)
		die("expo_render failed", s, size);
	check_exposition(out.data, out.len);
	strbuf_free(&out);
	agg_free(agg);
	free(path);
	return 0;
}
