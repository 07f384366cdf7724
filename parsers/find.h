/*
 * find.h - byte searches for the parsers' hot paths: mp_find (find.c), an
 * iterator over every place of one byte value in a line, mp_memchr, and
 * mp_alnum_mask32.
 *
 * All four use SSE2, which every x86-64 has, and fall back elsewhere or
 * when MP_FIND_PORTABLE is defined: the searches to memchr loops, the mask
 * to a byte loop; test_scan runs built both ways (tests `scan` and
 * `scan_portable`).
 */
#ifndef MP_FIND_H
#define MP_FIND_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(__SSE2__) && !defined(MP_FIND_PORTABLE)
#include <emmintrin.h>
#define MP_FIND_SSE2 1
#endif

/*
 * The places of byte c in s[0..len), in order:
 *
 *	struct mp_byte_iter it;
 *	mp_byte_iter_init(&it, s, len, ' ');
 *	while ((p = mp_byte_next(&it)) != NULL) ...
 *
 * Why: Exim's key index stops at every space of a line and Sendmail's field
 * index at every comma, a memchr call each; the spaces of an Exim line are
 * 5 to 10 bytes apart, so each call paid memchr's set-up to look at a few
 * bytes, and those calls were 12 % of an Exim log's CPU time (perf,
 * cpu-clock samples). With SSE2 four compares find the places in 64 bytes as
 * a bit mask, and each place then costs a count-trailing-zeros. Blocks
 * were 16 bytes, one or two spaces each, so whether the next place needed
 * a new block was a coin toss at every place (callgrind's branch model: a
 * tenth of an Exim log's mispredicted branches); a line's message is now
 * two to four blocks.
 *
 * Bounds: a block of 64 is loaded only when 64 bytes remain; the last,
 * shorter one is masked 16 bytes at a time, and its last part (under 16)
 * by the one 16-byte load that ends at end, shifted, when the whole slice
 * is at least 16 bytes long, else a byte at a time. So nothing outside
 * s[0..len) is read.
 */
struct mp_byte_iter {
	const char *block;	/* start of the block mask describes */
	const char *next;	/* start of the next block */
	const char *start;	/* s: no load begins before it */
	const char *end;
	uint64_t mask;		/* places in block not yet returned, bit i = block[i] */
	char c;
};

static inline void
mp_byte_iter_init(struct mp_byte_iter *it, const char *s, size_t len, char c)
{
	it->block = s;
	it->next = s;
	it->start = s;
	it->end = s + len;
	it->mask = 0;
	it->c = c;
}

#ifdef MP_FIND_SSE2
/* Bit i: p[i] == c, for the 16 bytes at p. */
static inline uint64_t
mp_eq16(const char *p, __m128i c)
{
	return (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(
	    _mm_loadu_si128((const __m128i *)(const void *)p), c));
}
#endif

static inline const char *
mp_byte_next(struct mp_byte_iter *it)
{
#ifdef MP_FIND_SSE2
	while (it->mask == 0) {
		size_t left = (size_t)(it->end - it->next), i = 0;
		const char *b = it->next;
		__m128i c = _mm_set1_epi8(it->c);

		if (left == 0)
			return NULL;
		it->block = b;
		if (left >= 64) {
			it->mask = mp_eq16(b, c) | mp_eq16(b + 16, c) << 16 |
			    mp_eq16(b + 32, c) << 32 | mp_eq16(b + 48, c) << 48;
			it->next += 64;
			continue;
		}
		for (; i + 16 <= left; i += 16)
			it->mask |= mp_eq16(b + i, c) << i;
		if (i < left) {
			size_t rem = left - i;

			/* The 16 bytes that end at end, of which the last rem
			 * are new. */
			if (it->end - it->start >= 16)
				it->mask |= mp_eq16(it->end - 16, c) >> (16 - rem) << i;
			else
				for (; i < left; i++)
					it->mask |= (uint64_t)(b[i] == it->c) << i;
		}
		it->next = it->end;
	}
	{
		const char *p = it->block + __builtin_ctzll(it->mask);

		it->mask &= it->mask - 1;
		return p;
	}
#else
	const char *p;

	if (it->next >= it->end)
		return NULL;
	p = memchr(it->next, it->c, (size_t)(it->end - it->next));
	if (p == NULL) {
		it->next = it->end;
		return NULL;
	}
	it->next = p + 1;
	return p;
#endif
}

/*
 * memchr(s, c, len), inlined: the first c in s[0..len), or NULL.
 *
 * Why: the line splitter asks for the next '\n' once a line, 100 to 200
 * bytes on, and glibc's memchr paid a call and its set-up each time; with
 * this, --once took 3 % less CPU on a million Postfix lines
 * (docs/hacking.md, round 9). 32 bytes a step, as two 16-byte compares.
 *
 * Bounds: a step loads only bytes below end (32, then 16); the last,
 * shorter stretch is one 16-byte load that ends at end when len >= 16 (it
 * overlaps bytes already seen, none of which was c), a byte loop when
 * len < 16.
 */
static inline const char *
mp_memchr(const char *s, char c, size_t len)
{
#ifdef MP_FIND_SSE2
	const char *end = s + len;
	const __m128i v = _mm_set1_epi8(c);
	unsigned m;

	while ((size_t)(end - s) >= 32) {
		const __m128i *q = (const __m128i *)(const void *)s;
		__m128i a = _mm_cmpeq_epi8(_mm_loadu_si128(q), v);
		__m128i b = _mm_cmpeq_epi8(_mm_loadu_si128(q + 1), v);

		m = (unsigned)_mm_movemask_epi8(a) | (unsigned)_mm_movemask_epi8(b) << 16;
		if (m != 0)
			return s + __builtin_ctz(m);
		s += 32;
	}
	if ((size_t)(end - s) >= 16) {
		m = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(
		    _mm_loadu_si128((const __m128i *)(const void *)s), v));
		if (m != 0)
			return s + __builtin_ctz(m);
		s += 16;
	}
	if (len >= 16) {
		const char *last = end - 16;

		m = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(
		    _mm_loadu_si128((const __m128i *)(const void *)last), v));
		/* Bytes before s were seen already and are not c. */
		m &= ~0u << (s - last);
		return m != 0 ? last + __builtin_ctz(m) : NULL;
	}
	for (; s < end; s++)
		if (*s == c)
			return s;
	return NULL;
#else
	return memchr(s, c, len);
#endif
}

/*
 * Bit i set where s[i] is [0-9A-Za-z], for i < 32; s must have 32 bytes.
 *
 * Why: Postfix's queue id ahead of every delivery's fields was measured a
 * byte at a time, and that loop with its data-dependent exit was a fifth
 * of delivery()'s samples (perf); with the mask its end is a count of
 * trailing zeros (4 % less CPU on a Postfix log, docs/hacking.md, round
 * 10). Exim's message id checked through it was 4 % slower than its table
 * (exim.c), so that stays. Letters are found case-blind: (c | 0x20) - 'a'
 * is at most 25 for exactly the 52 of them. test_scan checks every byte
 * value at every place against isalnum.
 */
static inline uint32_t
mp_alnum_mask32(const char *s)
{
	uint32_t m = 0;
#ifdef MP_FIND_SSE2
	for (int h = 0; h < 2; h++) {
		__m128i v = _mm_loadu_si128((const __m128i *)(const void *)(s + 16 * h));
		__m128i d = _mm_sub_epi8(v, _mm_set1_epi8('0'));
		__m128i l = _mm_sub_epi8(_mm_or_si128(v, _mm_set1_epi8(0x20)), _mm_set1_epi8('a'));
		__m128i is_d = _mm_cmpeq_epi8(_mm_min_epu8(d, _mm_set1_epi8(9)), d);
		__m128i is_l = _mm_cmpeq_epi8(_mm_min_epu8(l, _mm_set1_epi8(25)), l);

		m |= (uint32_t)_mm_movemask_epi8(_mm_or_si128(is_d, is_l)) << (16 * h);
	}
#else
	for (int i = 0; i < 32; i++) {
		unsigned char c = (unsigned char)s[i];

		m |= (uint32_t)((c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z')) << i;
	}
#endif
	return m;
}

#endif
