/*
 * test_scan.c - mp_find (parsers/scan.c) against a naive search: every
 * haystack length from 0 to 80, every needle length from 1 to 9, the
 * needle planted at every offset (once, twice, cut off at the end) in
 * haystacks of few distinct bytes, so that partial matches (first and
 * last byte right, middle wrong) are common. Each haystack is an
 * exact-size heap copy, so a load past its end shows in the sanitizer
 * build.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "parsers/parser.h"

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
	rng ^= rng << 13;
	rng ^= rng >> 17;
	rng ^= rng << 5;
	return rng;
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
	char hay[96], lit[10];

	(void)state;
	for (int round = 0; round < 40; round++) {
		for (size_t n = 1; n <= 9; n++) {
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
				}
			}
		}
	}
	print_message("%zu searches, %zu found\n", checked, found);
	assert_true(found > checked / 4);
	/* the empty needle */
	assert_ptr_equal(mp_find(hay, 5, "", 0), hay);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_against_naive),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
