/*
 * strbuf.h - a growable output buffer for everything the exporter renders
 * (the exposition, the status page, the report) and a few error texts.
 *
 * Out of memory is an error returned to the caller, never an abort: a
 * render that cannot grow its buffer fails that one response and leaves
 * the buffer valid (docs/hacking.md, "Out of memory").
 */
#ifndef UTIL_STRBUF_H
#define UTIL_STRBUF_H

#include <stddef.h>

/* Zero-initialise; data is NUL-terminated once anything was appended. */
struct strbuf {
	char *data;
	size_t len;
	size_t cap;
};

/* Append len bytes. Returns 0, or -1 on allocation failure with out unchanged. */
int strbuf_append(struct strbuf *out, const char *s, size_t len);

/* printf into out. Returns 0 or -1 (allocation or format failure). */
int strbuf_printf(struct strbuf *out, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Free out's data and leave it empty and reusable. */
void strbuf_free(struct strbuf *out);

#endif
