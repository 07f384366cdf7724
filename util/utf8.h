/*
 * utf8.h - tell well-formed UTF-8 from the bytes a remote server put in a
 * log line, so every escaper replaces the same bytes with U+FFFD.
 */
#ifndef UTIL_UTF8_H
#define UTIL_UTF8_H

#include <stddef.h>

/* Length (1..4) of the well-formed UTF-8 sequence at s[0..len), len >= 1;
 * or 0 with *bad the length of the maximal ill-formed subpart, which the
 * caller replaces with one U+FFFD (Unicode §3.9). */
size_t utf8_seq(const unsigned char *s, size_t len, size_t *bad);

#endif
