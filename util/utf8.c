/*
 * utf8.c - UTF-8 validation for the escapers (see utf8.h).
 */
#include "util/utf8.h"

/*
 * Length of the well-formed UTF-8 sequence at s (1..4), or 0 if the bytes
 * there are not one. *bad is set to the length of the maximal ill-formed
 * subpart (at least 1) when 0 is returned, so that "E2 82 41" becomes one
 * U+FFFD then "A", as Unicode §3.9 ("substitution of maximal subparts")
 * and every browser do. The ranges are Unicode Table 3-7: they exclude
 * overlong forms, UTF-16 surrogates and code points above U+10FFFF.
 * Shared by every escaper (exposition labels, the HTML page, the report's
 * JSON), so they agree on which bytes are replaced. len must be at least 1.
 */
size_t
utf8_seq(const unsigned char *s, size_t len, size_t *bad)
{
	unsigned char c = s[0];
	unsigned char lo = 0x80, hi = 0xbf;
	size_t n;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		if (c == 0xe0)
			lo = 0xa0;      /* overlong below U+0800 */
		else if (c == 0xed)
			hi = 0x9f;      /* surrogates U+D800..U+DFFF */
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		if (c == 0xf0)
			lo = 0x90;      /* overlong below U+10000 */
		else if (c == 0xf4)
			hi = 0x8f;      /* above U+10FFFF */
	} else {
		*bad = 1;           /* 80..C1 (stray continuation, overlong lead), F5..FF */
		return 0;
	}
	for (size_t i = 1; i < n; i++) {
		if (i >= len || s[i] < lo || s[i] > hi) {
			*bad = i;
			return 0;
		}
		lo = 0x80;
		hi = 0xbf;
	}
	return n;
}
