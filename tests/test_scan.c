/*
 * test_scan.c - mp_find (parsers/find.c) against a naive search: every
 * haystack length from 0 to 80, every needle length from 1 to 20, the
 * needle planted at every offset (once, twice, cut off at the end, with
 * one byte wrong) in haystacks of few distinct bytes, so that partial
 * matches (first and last byte right, middle wrong) are common. Each haystack is an
 * exact-size heap copy, so a load past its end shows in the sanitizer
 * build.
 *
 * Then mp_byte_next (parsers/find.h) against a byte loop: every place of
 * the byte, in order, in haystacks of every length from 0 to 80 (so blocks
 * of 16, the shorter last block, and places at every offset of each), also
 * as exact-size heap copies.
 *
 * Then mp_memchr (find.h) against memchr: every length from 0 to 100, the
 * byte at every place, once or twice or not at all, from every start
 * offset of 16 bytes; and at the very end of a page followed by an
 * unmapped one, where a load past the end would fault.
 *
 * Then mp_alnum_mask32 (find.h) against isalnum in the C locale: every
 * byte value at every one of the 32 places, among neighbours of each
 * kind, and the 32 bytes right before an unmapped page.
 *
 * Then mp_contains4 (parser.h) against mp_find: haystacks of 0 to 40
 * bytes of a few letters, the needle planted at every place, whole or cut
 * off at the end, each as an exact-size heap copy.
 *
 * And mp_ascii_caseeq (parser.h) against strncasecmp in the C locale:
 * every pair of byte values, then words of several bytes in every mix of
 * cases, with one byte changed at each place.
 *
 * And mp_decimal_at (scan.c) against strtod: every decimal of up to 15
 * digits it reads must be strtod's double, to the bit, with the bytes
 * used; its limits (12 digits before the point, 18 in all) and every
 * string as an exact-size heap copy.
 *
 * Built twice (tests/meson.build): `scan` with SSE2 where the compiler has
 * it, `scan_portable` with -DMP_FIND_PORTABLE, the memchr loops.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <ctype.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <unistd.h>

#include "parsers/find.h"
#include "parsers/parser.h"
#include "tests/xorshift.h"

static const char *
naive(const char *s, size_t len, const char *lit, size_t n)
{
	for (size_t i = 0; i + n <= len; i++)
		if (memcmp(s + i, lit, n) == 0)
			return s + i;
	return n == 0 ? s : NULL;
}

static uint32_t rng = 2463534242u;

static uint32_t
next(void)
{
	return xorshift32(&rng);
}

static size_t checked, found;

static void
check(const char *s, size_t len, const char *lit, size_t n)
{
	char *h = malloc(len ? len : 1);
	const char *a, *b;

	assert_non_null(h);
	memcpy(h, s, len);
	a = mp_find(h, len, lit, n);
	b = naive(h, len, lit, n);
	if (a != b)
		fail_msg("len %zu, needle \"%.*s\": mp_find at %ld, naive at %ld", len,
		    (int)n, lit, a ? (long)(a - h) : -1L, b ? (long)(b - h) : -1L);
	checked++;
	found += b != NULL;
	free(h);
}

static void
test_against_naive(void **state)
{
	static const char alphabet[] = " ,=aC\"";
	char hay[96], lit[20];

	(void)state;
	for (int round = 0; round < 40; round++) {
		/* Up to 20: the candidate compare (find.c) reads 4 and 8 bytes
		 * at a time, overlapping, up to 16, and calls memcmp beyond. */
		for (size_t n = 1; n <= 20; n++) {
			for (size_t k = 0; k < n; k++)
				lit[k] = alphabet[next() % (sizeof alphabet - 1)];
			for (size_t len = 0; len <= 80; len++) {
				for (size_t i = 0; i < len; i++)
					hay[i] = alphabet[next() % (sizeof alphabet - 1)];
				check(hay, len, lit, n);
				/* planted at every offset, maybe cut off */
				for (size_t at = 0; at < len; at++) {
					char h2[96];
					size_t m = len - at < n ? len - at : n;

					memcpy(h2, hay, len);
					memcpy(h2 + at, lit, m);
					check(h2, len, lit, n);
					/* and with one byte of it wrong, each in turn */
					if (m == n && n > 1) {
						size_t j = at % n;
						h2[at + j] = h2[at + j] == 'z' ? 'y' : 'z';
						check(h2, len, lit, n);
					}
				}
			}
		}
	}
	print_message("%zu searches, %zu found\n", checked, found);
	assert_true(found > checked / 4);
	/* the empty needle */
	assert_ptr_equal(mp_find(hay, 5, "", 0), hay);
}

/* Every place of c in s[0..len), by mp_byte_next and by a byte loop. */
static size_t
check_places(const char *s, size_t len, char c)
{
	char *h = malloc(len ? len : 1);
	struct mp_byte_iter it;
	const char *p;
	size_t i = 0, places = 0;

	assert_non_null(h);
	memcpy(h, s, len);
	mp_byte_iter_init(&it, h, len, c);
	while ((p = mp_byte_next(&it)) != NULL) {
		while (i < len && h[i] != c)
			i++;
		if (i == len || p != h + i)
			fail_msg("len %zu, byte '%c': place %ld, the byte loop says %ld",
			    len, c, (long)(p - h), i == len ? -1L : (long)i);
		i++;
		places++;
	}
	while (i < len && h[i] != c)
		i++;
	if (i != len)
		fail_msg("len %zu, byte '%c': the place %zu was missed", len, c, i);
	/* and it stays at the end */
	assert_null(mp_byte_next(&it));
	free(h);
	return places;
}

static void
test_byte_places(void **state)
{
	static const char alphabet[] = " ,=aC\"";
	char hay[224];
	size_t places = 0;

	(void)state;
	for (int round = 0; round < 80; round++) {
		for (size_t len = 0; len <= 200; len++) {
			for (size_t i = 0; i < len; i++)
				hay[i] = alphabet[next() % (sizeof alphabet - 1)];
			places += check_places(hay, len, ' ');
			places += check_places(hay, len, '"');
			places += check_places(hay, len, 'z');	/* never there */
		}
	}
	/* a place at every offset of a block (64 bytes, and the 16-byte
	 * parts of the last one), alone */
	for (size_t len = 1; len <= 200; len++) {
		for (size_t at = 0; at < len; at++) {
			memset(hay, 'x', len);
			hay[at] = ',';
			assert_int_equal(check_places(hay, len, ','), 1);
		}
	}
	/* every byte the place: all 64 bits of a mask at once */
	memset(hay, ',', 200);
	for (size_t len = 0; len <= 200; len++)
		assert_int_equal(check_places(hay, len, ','), len);
	print_message("%zu places\n", places);
	assert_true(places > 10000);
}

static void
check_memchr(const char *s, size_t len, char c)
{
	const char *want = memchr(s, c, len), *got = mp_memchr(s, c, len);

	if (got != want)
		fail_msg("len %zu, byte '%c': mp_memchr at %ld, memchr at %ld", len, c,
		    got == NULL ? -1L : (long)(got - s), want == NULL ? -1L : (long)(want - s));
}

static void
test_memchr(void **state)
{
	static char buf[16 + 100 + 16];
	long pg = sysconf(_SC_PAGESIZE);
	size_t n = 0;

	(void)state;
	for (size_t off = 0; off < 16; off++)
		for (size_t len = 0; len <= 100; len++) {
			char *s = buf + off;
			memset(buf, 'x', sizeof buf);
			/* A c just outside on both sides must not count. */
			if (off > 0)
				s[-1] = '\n';
			s[len] = '\n';
			check_memchr(s, len, '\n');
			for (size_t at = 0; at < len; at++) {
				s[at] = '\n';
				check_memchr(s, len, '\n');
				for (size_t at2 = at + 1; at2 < len; at2 += 7) {
					s[at2] = '\n';
					check_memchr(s, len, '\n');
					s[at2] = 'x';
				}
				s[at] = 'x';
				n++;
			}
		}
	/* Ending at a page whose next page is not mapped. */
	char *map = mmap(NULL, (size_t)pg * 2, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(map != MAP_FAILED);
	assert_int_equal(mprotect(map + pg, (size_t)pg, PROT_NONE), 0);
	memset(map, 'x', (size_t)pg);
	for (size_t len = 0; len <= 100; len++) {
		char *s = map + pg - len;
		check_memchr(s, len, '\n');
		if (len > 0) {
			s[len - 1] = '\n';
			check_memchr(s, len, '\n');
			s[len - 1] = 'x';
		}
	}
	munmap(map, (size_t)pg * 2);
	print_message("%zu places\n", n);
}

static void
test_alnum_mask(void **state)
{
	static const char fill[] = { 'a', 'Z', '0', '9', '-', ' ', '@', '[', '`', '{', '/', ':', '\x80', '\xff' };
	long pg = sysconf(_SC_PAGESIZE);
	char s[32];

	(void)state;
	for (size_t f = 0; f < sizeof fill; f++)
		for (int at = 0; at < 32; at++)
			for (int c = 0; c < 256; c++) {
				uint32_t want = 0, got;

				memset(s, fill[f], sizeof s);
				s[at] = (char)c;
				for (int i = 0; i < 32; i++)
					want |= (uint32_t)(isalnum((unsigned char)s[i]) != 0) << i;
				got = mp_alnum_mask32(s);
				if (got != want)
					fail_msg("fill '%c', byte %d at %d: mask %08x, want %08x",
					    fill[f], c, at, got, want);
			}
	/* The last 32 bytes before a page that is not mapped. */
	char *map = mmap(NULL, (size_t)pg * 2, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(map != MAP_FAILED);
	assert_int_equal(mprotect(map + pg, (size_t)pg, PROT_NONE), 0);
	memcpy(map + pg - 32, "1tAbCd-0001Ab-Xy => a@b.example ", 32);
	assert_int_equal(mp_alnum_mask32(map + pg - 32), 0x7f50dfbf);
	munmap(map, (size_t)pg * 2);
}

static void
test_contains4(void **state)
{
	static const char *const needles[] = { "smtp", "lmtp", "ssss", "mtps" };
	size_t n = 0;

	(void)state;
	for (size_t w = 0; w < 4; w++)
		for (size_t len = 0; len <= 40; len++)
			for (size_t at = 0; at <= len; at++) {
				char *s = malloc(len + 1);

				assert_non_null(s);
				for (size_t i = 0; i < len; i++)
					s[i] = "smtpl"[(i * 7 + at) % 5];
				if (len > 0 && at < len)
					memcpy(s + at, needles[w], len - at < 4 ? len - at : 4);
				if (mp_contains4(s, len, needles[w]) !=
				    (mp_find(s, len, needles[w], 4) != NULL))
					fail_msg("\"%.*s\" and \"%s\": the two differ", (int)len, s,
					    needles[w]);
				n++;
				free(s);
			}
	print_message("%zu haystacks\n", n);
}

static void
test_ascii_caseeq(void **state)
{
	static const char *const words[] = { "TLSv1.3", "ipv6:", "localhost", "EHLO", "x" };
	char a[16], b[16];

	(void)state;
	for (int x = 0; x < 256; x++)
		for (int y = 0; y < 256; y++) {
			a[0] = (char)x;
			b[0] = (char)y;
			if (mp_ascii_caseeq(a, b, 1) != (strncasecmp(a, b, 1) == 0))
				fail_msg("bytes 0x%02x and 0x%02x", x, y);
		}
	for (size_t w = 0; w < sizeof words / sizeof *words; w++) {
		size_t n = strlen(words[w]);
		for (unsigned mix = 0; mix < 1u << n; mix++) {
			for (size_t i = 0; i < n; i++) {
				char c = words[w][i];
				a[i] = mix >> i & 1 ? (char)(c ^ ((c | 0x20) >= 'a' && (c | 0x20) <= 'z' ?
				    0x20 : 0)) : c;
			}
			assert_true(mp_ascii_caseeq(a, words[w], n));
			for (size_t i = 0; i < n; i++) {
				memcpy(b, a, n);
				b[i] = b[i] == '!' ? '?' : '!';
				assert_false(mp_ascii_caseeq(b, words[w], n));
				assert_int_equal(mp_ascii_caseeq(b, words[w], n),
				    strncasecmp(b, words[w], n) == 0);
			}
		}
		assert_true(mp_ascii_caseeq(a, words[w], 0));
	}
}

/* One decimal through mp_decimal_at, as an exact-size heap copy of its
 * first len bytes; returns the value, the bytes used in *used. */
static double
decimal(const char *s, size_t len, size_t *used)
{
	char *c = malloc(len ? len : 1);
	double v;

	assert_non_null(c);
	memcpy(c, s, len);
	v = mp_decimal_at(c, len, used);
	free(c);
	return v;
}

/* want as strtod reads it: to the bit, or within rel of it (past 15
 * digits, where the digits' integer is no longer an exact double). */
static void
check_decimal_within(const char *s, size_t want_used, const char *want, double rel)
{
	size_t used = 99;
	double v = decimal(s, strlen(s), &used), w = want ? strtod(want, NULL) : -1;

	assert_int_equal(used, want_used);
	if (want == NULL)
		assert_true(v == -1);
	else if (rel == 0 ? v != w : v < w * (1 - rel) || v > w * (1 + rel))
		fail_msg("\"%s\": %.17g, want %s", s, v, want);
}

static void
check_decimal(const char *s, size_t want_used, const char *want)
{
	check_decimal_within(s, want_used, want, 0);
}

static void
test_decimal(void **state)
{
	(void)state;
	char buf[40];
	uint32_t rng = 61;
	size_t n = 0;

	check_decimal("", 0, NULL);
	check_decimal("x1", 0, NULL);
	check_decimal(".", 1, NULL);
	check_decimal("0", 1, "0");
	check_decimal("0.3,", 3, "0.3");
	check_decimal("0.7/0.15", 3, "0.7");
	check_decimal("5.", 2, "5");
	check_decimal(".5s", 2, "0.5");
	check_decimal("1.2.3", 3, "1.2");
	check_decimal("7200, delays", 4, "7200");
	/* 12 digits before the point at most: the 13th is not read. */
	check_decimal("1234567890123", 12, "123456789012");
	check_decimal("123456789012.5", 14, "123456789012.5");
	/* 18 digits in all: later ones are read, not counted. */
	check_decimal_within("0.12345678901234567891", 22, "0.12345678901234567", 1e-15);
	check_decimal_within(".123456789012345678", 19, "0.123456789012345678", 1e-15);
	check_decimal_within("0.00000000000000001234", 22, "0.00000000000000001", 1e-15);
	/* Every decimal of few digits, and random ones up to 15 digits, is
	 * strtod's double: the delays a log holds fall exactly on their
	 * histogram's bounds when they are written as them. */
	for (int a = 0; a < 1000; a++) {
		for (int f = 0; f < 1000; f += a < 10 ? 1 : 37) {
			int k = snprintf(buf, sizeof buf, "%d.%03d", a, f);
			check_decimal(buf, (size_t)k, buf);
			n++;
		}
	}
	for (int r = 0; r < 200000; r++) {
		size_t ip = xorshift32(&rng) % 13, fp = xorshift32(&rng) % (16 - (ip > 12 ? 12 : ip));
		size_t k = 0;

		for (size_t i = 0; i < ip; i++)
			buf[k++] = (char)('0' + xorshift32(&rng) % 10);
		if (fp > 0 || xorshift32(&rng) % 2)
			buf[k++] = '.';
		for (size_t i = 0; i < fp; i++)
			buf[k++] = (char)('0' + xorshift32(&rng) % 10);
		buf[k] = '\0';
		check_decimal(buf, k, ip + fp > 0 ? buf : NULL);
		n++;
	}
	assert_true(n > 200000);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_against_naive),
		cmocka_unit_test(test_byte_places),
		cmocka_unit_test(test_memchr),
		cmocka_unit_test(test_alnum_mask),
		cmocka_unit_test(test_contains4),
		cmocka_unit_test(test_ascii_caseeq),
		cmocka_unit_test(test_decimal),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
