/*
 * strbuf.c - a growable, NUL-terminated byte buffer (see strbuf.h).
 */
#include "util/strbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Append len bytes to out, growing it by doubling (from 4 KiB: a small
 * exposition fits the first allocation). Returns 0, or -1 on allocation
 * failure with out unchanged. */
int
strbuf_append(struct strbuf *out, const char *s, size_t len)
{
	if (out->cap - out->len < len + 1) {
		size_t need = out->len + len + 1;
		size_t cap = out->cap ? out->cap : 4096;
		while (cap < need)
			cap *= 2;
		char *p = realloc(out->data, cap);
		if (p == NULL)
			return -1;
		out->data = p;
		out->cap = cap;
	}
	if (len)
		memcpy(out->data + out->len, s, len);
	out->len += len;
	/* Keep the text NUL-terminated (the grow step leaves room for it) so
	 * tests and callers can use it as a string. */
	out->data[out->len] = '\0';
	return 0;
}

/* printf into out. Formats into a stack buffer first, because nearly every
 * call is one short sample line; only longer output is formatted twice. */
int
strbuf_printf(struct strbuf *out, const char *fmt, ...)
{
	char small[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof small, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -1;
	if ((size_t)n < sizeof small)
		return strbuf_append(out, small, (size_t)n);

	char *big = malloc((size_t)n + 1);
	if (big == NULL)
		return -1;
	va_start(ap, fmt);
	vsnprintf(big, (size_t)n + 1, fmt, ap);
	va_end(ap);
	int rc = strbuf_append(out, big, (size_t)n);
	free(big);
	return rc;
}

/* Free out's data and leave it empty and reusable. */
void
strbuf_free(struct strbuf *out)
{
	free(out->data);
	out->data = NULL;
	out->len = out->cap = 0;
}
