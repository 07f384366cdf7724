/*
 * negotiate.c - HTTP content negotiation for the exposition.
 *
 * Format: OpenMetrics 1.0.0 when the Accept header prefers
 * application/openmetrics-text (Prometheus asks for it first), text 0.0.4
 * otherwise, including for clients that accept neither (the Go client's
 * behaviour: a browser or curl always gets something readable). Encoding:
 * gzip when Accept-Encoding allows it. Pure string work, no allocation.
 */
#include "web/negotiate.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Skip optional whitespace. */
static const char *
ows(const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	return s;
}

/*
 * Walk a comma-separated header value of "token;param=value;q=0.5" items
 * (Accept, Accept-Encoding). For each item, fn gets the token, the
 * parameters (between the token and the next comma) and the q value
 * (1 when absent, 0 for a malformed q).
 */
static void
each_item(const char *h, void (*fn)(void *, const char *, size_t, const char *, size_t,
    double), void *ctx)
{
	while (h != NULL && *h) {
		const char *item = ows(h), *end = strchr(item, ','), *tok_end, *p;
		double q = 1;

		if (end == NULL)
			end = item + strlen(item);
		tok_end = item;
		while (tok_end < end && *tok_end != ';' && *tok_end != ' ' && *tok_end != '\t')
			tok_end++;
		for (p = tok_end; p < end; p++) {
			if (*p != ';')
				continue;
			const char *v = ows(p + 1);
			if ((v[0] == 'q' || v[0] == 'Q') && v[1] == '=') {
				char *e;
				q = strtod(v + 2, &e);
				if (e == v + 2 || q < 0 || q > 1)
					q = 0;
			}
		}
		fn(ctx, item, (size_t)(tok_end - item), tok_end, (size_t)(end - tok_end), q);
		h = *end ? end + 1 : end;
	}
}

static int
token_is(const char *t, size_t n, const char *want)
{
	return strlen(want) == n && strncasecmp(t, want, n) == 0;
}

/* Does a parameter list hold version=V other than the ones listed? */
static int
version_ok(const char *params, size_t n, const char *const *ok)
{
	const char *v = NULL;

	for (size_t i = 0; i + 8 <= n; i++)
		if (strncasecmp(params + i, "version=", 8) == 0) {
			v = params + i + 8;
			break;
		}
	if (v == NULL)
		return 1;
	size_t vlen = 0;
	while (v + vlen < params + n && v[vlen] != ';' && v[vlen] != ' ')
		vlen++;
	for (; *ok; ok++)
		if (token_is(v, vlen, *ok))
			return 1;
	return 0;
}

struct accept_scan {
	double om_q, text_q;
	int om_pos, text_pos, pos;
};

static void
accept_item(void *ctx, const char *tok, size_t n, const char *params, size_t plen, double q)
{
	static const char *const om_versions[] = { "1.0.0", "0.0.1", NULL };
	static const char *const text_versions[] = { "0.0.4", NULL };
	struct accept_scan *a = ctx;

	a->pos++;
	if (token_is(tok, n, "application/openmetrics-text")) {
		if (version_ok(params, plen, om_versions) && q > a->om_q) {
			a->om_q = q;
			a->om_pos = a->pos;
		}
	} else if (token_is(tok, n, "text/plain") ? version_ok(params, plen, text_versions) :
	    token_is(tok, n, "text/*") || token_is(tok, n, "*/*")) {
		if (q > a->text_q) {
			a->text_q = q;
			a->text_pos = a->pos;
		}
	}
}

/*
 * The format an Accept header asks for: OpenMetrics when its best q is
 * above text's (text/plain, text/ * or * / *), or equal and listed first;
 * text 0.0.4 otherwise, also when the header is absent or names neither.
 */
enum expo_format
web_negotiate_format(const char *accept)
{
	struct accept_scan a = { 0, 0, 0, 0, 0 };

	each_item(accept, accept_item, &a);
	if (a.om_q > 0 && (a.om_q > a.text_q || (a.om_q == a.text_q && a.om_pos < a.text_pos)))
		return EXPO_FMT_OPENMETRICS;
	return EXPO_FMT_TEXT;
}

struct encoding_scan {
	double gzip_q, any_q;
	int gzip_seen, any_seen;
};

static void
encoding_item(void *ctx, const char *tok, size_t n, const char *params, size_t plen,
    double q)
{
	struct encoding_scan *e = ctx;

	(void)params;
	(void)plen;
	if (token_is(tok, n, "gzip") || token_is(tok, n, "x-gzip")) {
		e->gzip_seen = 1;
		if (q > e->gzip_q)
			e->gzip_q = q;
	} else if (token_is(tok, n, "*")) {
		e->any_seen = 1;
		e->any_q = q;
	}
}

/* Does an Accept-Encoding header allow gzip? "gzip;q=0" forbids it even
 * next to "*". */
int
web_accepts_gzip(const char *accept_encoding)
{
	struct encoding_scan e = { 0, 0, 0, 0 };

	each_item(accept_encoding, encoding_item, &e);
	if (e.gzip_seen)
		return e.gzip_q > 0;
	return e.any_seen && e.any_q > 0;
}
