/*
 * find.c - mp_find, memmem for the short literals the parsers look for
 * ("status=", "said: ", ", stat=", " after "). In its own file so that
 * test_scan can build it twice: with SSE2 (every x86-64) and with the
 * portable loop other machines get (MP_FIND_PORTABLE; see find.h).
 */
#include "parsers/find.h"
#include "parsers/parser.h"

#include <stdint.h>
#include <string.h>

#ifdef MP_FIND_SSE2
/* Bit i: p[i] == lit[0] and p[i + k] == lit[k], a place worth a compare. */
static inline unsigned
step(const char *p, size_t k, __m128i first, __m128i other)
{
	__m128i a = _mm_loadu_si128((const __m128i *)(const void *)p);
	__m128i b = _mm_loadu_si128((const __m128i *)(const void *)(p + k));

	return (unsigned)_mm_movemask_epi8(_mm_and_si128(_mm_cmpeq_epi8(a, first),
	    _mm_cmpeq_epi8(b, other)));
}

/*
 * a[0..n) == b[0..n), n at most 16 without a call: two loads of 8 (or 4)
 * bytes from each, the second ending at the last byte, overlapping the
 * first when n is under 16; so no byte outside either is read. memcmp was
 * a call and a dispatch on the length for every candidate, 4 % of a
 * Postfix log's samples.
 */
static inline int
same(const char *a, const char *b, size_t n)
{
	if (n >= 8 && n <= 16) {
		uint64_t w, x, y, z;

		memcpy(&w, a, 8);
		memcpy(&x, b, 8);
		memcpy(&y, a + n - 8, 8);
		memcpy(&z, b + n - 8, 8);
		return ((w ^ x) | (y ^ z)) == 0;
	}
	if (n >= 4 && n < 8) {
		uint32_t w, x, y, z;

		memcpy(&w, a, 4);
		memcpy(&x, b, 4);
		memcpy(&y, a + n - 4, 4);
		memcpy(&z, b + n - 4, 4);
		return ((w ^ x) | (y ^ z)) == 0;
	}
	if (n < 4)
		return n == 0 || (a[0] == b[0] && a[n / 2] == b[n / 2] && a[n - 1] == b[n - 1]);
	return memcmp(a, b, n) == 0;
}

/*
 * The first place of the mask m (over p[0..16)) where lit[0..n) is, or
 * NULL. The step matched lit[0] and lit[k] there already, so only the n - 2
 * bytes from off (2 when k is 1, else 1) are compared: none for a 2-byte
 * literal (": ", " [", the commonest), which took a memcmp call of one
 * byte per candidate before.
 */
static inline const char *
tried(const char *p, unsigned m, const char *lit, size_t n, size_t off)
{
	while (m != 0) {
		const char *c = p + __builtin_ctz(m);

		if (same(c + off, lit + off, n - 2))
			return c;
		m &= m - 1;
	}
	return NULL;
}
#endif

/*
 * glibc's memmem sets up a general two-way search on every call, which cost
 * more than the rest of a delivery line's parsing together (callgrind).
 *
 * The portable loop is a search for the first byte plus a compare. Its cost
 * is one search per occurrence of that byte, and the needles mostly start
 * with ' ' or ',', which occur every few bytes: on Sendmail lines the calls
 * into memchr from here were 7 % of the CPU time (perf, cpu-clock samples),
 * each a short span paying memchr's set-up.
 *
 * With SSE2, 16 starting places are tested per step, on two bytes of the
 * needle at once (the first, and the last or, when that equals the first,
 * the second): a place is a candidate only if both match, and only
 * candidates get a compare. Bounds: a step at p loads p[0..15] and
 * p[k..k+15] with k <= n - 1, and runs only while p + 15 <= last, the last
 * place a match can start, so the loads end at or before last + n - 1, the
 * haystack's last byte. The places after the last full step get one more
 * step, over the 16 places ending at last. Haystacks with fewer than 16
 * places go to the portable loop (with mp_memchr, find.h). Returns the
 * first occurrence of lit[0..n) in s[0..len), or NULL.
 */
const char *
mp_find(const char *s, size_t len, const char *lit, size_t n)
{
	const char *p = s, *last;

	if (n == 0)
		return s;
	if (len < n)
		return NULL;
	last = s + (len - n);   /* the last place a match can start */
#ifdef MP_FIND_SSE2
	if (n >= 2 && last - p >= 15) {
		size_t k = lit[n - 1] != lit[0] || n == 2 ? n - 1 : 1, off = k == 1 ? 2 : 1;
		const __m128i first = _mm_set1_epi8(lit[0]), other = _mm_set1_epi8(lit[k]);
		const char *c;

		do {
			if ((c = tried(p, step(p, k, first, other), lit, n, off)) != NULL)
				return c;
			p += 16;
		} while (last - p >= 15);
		if (p > last)
			return NULL;
		/* The places left, fewer than 16: one more step over the 16
		 * places that end at last, those before p masked off (tried). */
		return tried(last - 15, step(last - 15, k, first, other) & ~0u << (p - (last - 15)),
		    lit, n, off);
	}
#endif
	while (p <= last) {
		p = mp_memchr(p, lit[0], (size_t)(last - p) + 1);
		if (p == NULL)
			return NULL;
		/* The last byte first: most candidates fail there, without a
		 * call to memcmp. */
		if (p[n - 1] == lit[n - 1] && (n < 3 || memcmp(p + 1, lit + 1, n - 2) == 0))
			return p;
		p++;
	}
	return NULL;
}
