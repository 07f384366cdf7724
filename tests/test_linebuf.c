/*
 * test_linebuf.c - the line splitter: partial lines at every split point,
 * CRLF, lone CR, empty lines, overlong lines (max, max+1, 10 MiB), NUL runs,
 * and arbitrary chunking checked against a one-shot reference splitter, for
 * lb_feed and for lb_commit_from's split in the caller's blocks.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "daemon/input/linebuf.h"

#define MAX_LINES 4096

struct collect {
	size_t n;
	char *line[MAX_LINES];
	size_t len[MAX_LINES];
};

static void
collect_fn(void *ctx, const char *line, size_t len)
{
	struct collect *c = ctx;

	assert_true(c->n < MAX_LINES);
	assert_true(len > 0);
	c->line[c->n] = malloc(len ? len : 1);
	assert_non_null(c->line[c->n]);
	memcpy(c->line[c->n], line, len);
	c->len[c->n] = len;
	c->n++;
}

static void
collect_clear(struct collect *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->line[i]);
	c->n = 0;
}

static void
assert_line(const struct collect *c, size_t i, const char *s, size_t len)
{
	assert_true(i < c->n);
	assert_int_equal(c->len[i], len);
	assert_memory_equal(c->line[i], s, len);
}

#define ASSERT_LINE(c, i, lit) assert_line((c), (i), (lit), sizeof(lit) - 1)

static void
test_partial_every_split(void **state)
{
	static const char text[] = "first line\r\nsecond\n\n\r\nthird has \r inside\nfourth";
	size_t tlen = sizeof text - 1;
	(void)state;

	for (size_t split = 0; split <= tlen; split++) {
		struct collect c = { 0 };
		struct lb lb;
		size_t n;

		assert_int_equal(lb_init(&lb, 100), 0);
		n = lb_feed(&lb, text, split, collect_fn, &c);
		n += lb_feed(&lb, text + split, tlen - split, collect_fn, &c);
		assert_int_equal(n, 3);
		assert_int_equal(c.n, 3);
		ASSERT_LINE(&c, 0, "first line");
		ASSERT_LINE(&c, 1, "second");
		ASSERT_LINE(&c, 2, "third has \r inside");
		assert_true(lb_has_fragment(&lb));
		assert_int_equal(lb_fragment_len(&lb), 6);
		n = lb_feed(&lb, "\n", 1, collect_fn, &c);
		assert_int_equal(n, 1);
		ASSERT_LINE(&c, 3, "fourth");
		assert_false(lb_has_fragment(&lb));
		assert_int_equal(lb.overlong, 0);
		lb_fini(&lb);
		collect_clear(&c);
	}
}

static void
test_byte_at_a_time(void **state)
{
	static const char text[] = "a\nbb\r\nccc\n";
	struct collect c = { 0 };
	struct lb lb;
	(void)state;

	assert_int_equal(lb_init(&lb, 10), 0);
	for (size_t i = 0; i < sizeof text - 1; i++)
		lb_feed(&lb, text + i, 1, collect_fn, &c);
	assert_int_equal(c.n, 3);
	ASSERT_LINE(&c, 0, "a");
	ASSERT_LINE(&c, 1, "bb");
	ASSERT_LINE(&c, 2, "ccc");
	lb_fini(&lb);
	collect_clear(&c);
}

static void
test_crlf_and_lone_cr(void **state)
{
	static const char text[] = "crlf\r\nlone\rcr\n\rlead\ntwo\r\r\n\r\n\r\r\n";
	struct collect c = { 0 };
	struct lb lb;
	(void)state;

	assert_int_equal(lb_init(&lb, 100), 0);
	lb_feed(&lb, text, sizeof text - 1, collect_fn, &c);
	assert_int_equal(c.n, 5);
	ASSERT_LINE(&c, 0, "crlf");
	ASSERT_LINE(&c, 1, "lone\rcr");
	ASSERT_LINE(&c, 2, "\rlead");
	ASSERT_LINE(&c, 3, "two\r");
	ASSERT_LINE(&c, 4, "\r");
	lb_fini(&lb);
	collect_clear(&c);
}

static void
test_empty_lines(void **state)
{
	struct collect c = { 0 };
	struct lb lb;
	(void)state;

	assert_int_equal(lb_init(&lb, 100), 0);
	assert_int_equal(lb_feed(&lb, "\n\n\n", 3, collect_fn, &c), 0);
	assert_int_equal(lb_feed(&lb, "x\n\n\ny\n\n", 7, collect_fn, &c), 2);
	ASSERT_LINE(&c, 0, "x");
	ASSERT_LINE(&c, 1, "y");
	assert_false(lb_has_fragment(&lb));
	lb_fini(&lb);
	collect_clear(&c);
}

static void
test_nul_runs(void **state)
{
	static const char text[] = "\0\0\0\0\0first\n\0\0\n\0mid\0dle\n";
	struct collect c = { 0 };
	struct lb lb;
	(void)state;

	assert_int_equal(lb_init(&lb, 8), 0);
	lb_feed(&lb, text, sizeof text - 1, collect_fn, &c);
	assert_int_equal(c.n, 2);
	ASSERT_LINE(&c, 0, "first");
	assert_line(&c, 1, "mid\0dle", 7);
	collect_clear(&c);

	/* A hole far longer than max_line is not an overlong line. */
	char *hole = calloc(1, 100000);
	assert_non_null(hole);
	for (size_t off = 0; off < 100000; off += 333)
		lb_feed(&lb, hole + off, off + 333 > 100000 ? 100000 - off : 333, collect_fn, &c);
	assert_false(lb_has_fragment(&lb));
	lb_feed(&lb, "after\n", 6, collect_fn, &c);
	assert_int_equal(c.n, 1);
	ASSERT_LINE(&c, 0, "after");
	assert_int_equal(lb.overlong, 0);
	free(hole);
	lb_fini(&lb);
	collect_clear(&c);
}

static void
overlong_case(size_t max, size_t len, const char *eol, int kept)
{
	struct collect c = { 0 };
	struct lb lb;
	size_t eol_len = strlen(eol);
	char *buf = malloc(len + eol_len + 32);

	assert_non_null(buf);
	memset(buf, 'x', len);
	memcpy(buf + len, eol, eol_len);
	memcpy(buf + len + eol_len, "next\n", 5);
	assert_int_equal(lb_init(&lb, max), 0);
	lb_feed(&lb, "before\n", 7, collect_fn, &c);
	lb_feed(&lb, buf, len + eol_len + 5, collect_fn, &c);
	assert_int_equal(c.n, kept ? 3 : 2);
	ASSERT_LINE(&c, 0, "before");
	if (kept) {
		assert_int_equal(c.len[1], len);
		ASSERT_LINE(&c, 2, "next");
	} else {
		ASSERT_LINE(&c, 1, "next");
	}
	assert_int_equal(lb.overlong, kept ? 0 : 1);
	assert_true(lb.cap <= max + 2);
	lb_fini(&lb);
	collect_clear(&c);
	free(buf);
}

static void
test_overlong_bounds(void **state)
{
	(void)state;
	overlong_case(100, 100, "\n", 1);
	overlong_case(100, 100, "\r\n", 1);
	overlong_case(100, 101, "\n", 0);
	overlong_case(100, 101, "\r\n", 0);
	overlong_case(100, 99, "\r\n", 1);
	/* Grows past the 64 KiB initial buffer up to the maximum. */
	overlong_case(200000, 200000, "\r\n", 1);
	overlong_case(200000, 200001, "\n", 0);
}

static void
test_overlong_10mib(void **state)
{
	const size_t total = 10 * 1024 * 1024;
	size_t chunks[] = { 1, 4096, 65536, 1 << 20, 10 * 1024 * 1024 };
	char *big = malloc(total);
	(void)state;

	assert_non_null(big);
	memset(big, 'A', total);
	for (size_t k = 0; k < sizeof chunks / sizeof chunks[0]; k++) {
		struct collect c = { 0 };
		struct lb lb;
		size_t step = chunks[k];
		size_t fed = 0;

		assert_int_equal(lb_init(&lb, 64 * 1024), 0);
		if (step == 1) {
			/* byte at a time is slow; do the first 200 KiB that way */
			for (; fed < 200 * 1024; fed++)
				lb_feed(&lb, big + fed, 1, collect_fn, &c);
		}
		for (; fed < total; fed += step)
			lb_feed(&lb, big + fed, fed + step > total ? total - fed : step, collect_fn, &c);
		assert_int_equal(c.n, 0);
		assert_true(lb_has_fragment(&lb));
		assert_int_equal(lb_fragment_len(&lb), 0);
		assert_true(lb.cap <= 64 * 1024 + 2);
		lb_feed(&lb, "\nok\n", 4, collect_fn, &c);
		assert_int_equal(c.n, 1);
		ASSERT_LINE(&c, 0, "ok");
		assert_int_equal(lb.overlong, 1);
		lb_fini(&lb);
		collect_clear(&c);
	}
	free(big);
}

static void
test_space_commit_and_reset(void **state)
{
	struct collect c = { 0 };
	struct lb lb;
	size_t avail;
	char *p;
	(void)state;

	assert_int_equal(lb_init(&lb, 50), 0);
	p = lb_space(&lb, &avail);
	assert_true(avail == 52);
	memcpy(p, "one\ntw", 6);
	assert_int_equal(lb_commit(&lb, 6, collect_fn, &c), 1);
	assert_int_equal(lb_fragment_len(&lb), 2);
	p = lb_space(&lb, &avail);
	assert_int_equal(avail, 50);
	memcpy(p, "o\n", 2);
	assert_int_equal(lb_commit(&lb, 2, collect_fn, &c), 1);
	ASSERT_LINE(&c, 1, "two");

	lb_feed(&lb, "stale", 5, collect_fn, &c);
	lb_reset(&lb);
	lb_feed(&lb, "fresh\n", 6, collect_fn, &c);
	ASSERT_LINE(&c, 2, "fresh");

	lb_skip_line(&lb);
	lb_feed(&lb, "rest of a line\nnew\n", 19, collect_fn, &c);
	assert_int_equal(c.n, 4);
	ASSERT_LINE(&c, 3, "new");
	assert_int_equal(lb.overlong, 0);
	lb_fini(&lb);
	lb_fini(&lb);
	collect_clear(&c);
}

/* The reference: split the whole input at once, by the documented rules. */
static void
reference(const char *in, size_t len, size_t max, struct collect *out, uint64_t *overlong)
{
	size_t start = 0;

	*overlong = 0;
	for (size_t i = 0; i <= len; i++) {
		if (i < len && in[i] != '\n')
			continue;
		size_t a = start, b = i;
		while (a < b && in[a] == '\0')
			a++;
		if (i == len) {
			if (b - a >= max + 2)
				(*overlong)++;
			break;
		}
		if (b > a && in[b - 1] == '\r')
			b--;
		if (b - a > max)
			(*overlong)++;
		else if (b > a)
			collect_fn(out, in + a, b - a);
		start = i + 1;
	}
}

static uint32_t
rnd(uint32_t *seed)
{
	*seed = *seed * 1103515245u + 12345u;
	return (*seed >> 8) & 0xffffff;
}

/* len random bytes of a stream that is mostly line ends, CRs and NULs;
 * runs of one byte make long lines and NUL holes likely. */
static char *
random_stream(uint32_t *seed, size_t len)
{
	static const char alphabet[] = "ab\r\n\n\0xyz";
	char *in = malloc(len + 1);

	assert_non_null(in);
	for (size_t i = 0; i < len; i++) {
		if (i > 0 && rnd(seed) % 4 == 0)
			in[i] = in[i - 1];
		else
			in[i] = alphabet[rnd(seed) % (sizeof alphabet - 1)];
	}
	return in;
}

static void
test_random_chunking(void **state)
{
	uint32_t seed = 12345;
	(void)state;

#define RND() rnd(&seed)
	for (int round = 0; round < 400; round++) {
		size_t len = RND() % 3000;
		size_t max = 1 + RND() % 40;
		char *in = random_stream(&seed, len);
		struct collect want = { 0 }, got = { 0 };
		uint64_t want_over;
		struct lb lb;

		reference(in, len, max, &want, &want_over);

		assert_int_equal(lb_init(&lb, max), 0);
		for (size_t off = 0; off < len;) {
			size_t step = 1 + RND() % (round % 2 ? 7 : 200);
			if (step > len - off)
				step = len - off;
			lb_feed(&lb, in + off, step, collect_fn, &got);
			off += step;
		}
		assert_int_equal(got.n, want.n);
		for (size_t i = 0; i < want.n; i++)
			assert_line(&got, i, want.line[i], want.len[i]);
		assert_int_equal(lb.overlong, want_over);
		lb_fini(&lb);
		collect_clear(&want);
		collect_clear(&got);
		free(in);
	}
#undef RND
}

/*
 * lb_commit_from against the same reference, the blocks cut at random
 * (lines, CRLFs, NUL runs and overlong lines all fall across them) and each
 * an exact-size heap copy, so that reading past a block is an ASan error.
 * The splitter's state at the end must be lb_feed's: the same fragment.
 */
static void
test_commit_from_blocks(void **state)
{
	uint32_t seed = 777;
	(void)state;

#define RND() rnd(&seed)
	for (int round = 0; round < 600; round++) {
		size_t len = RND() % 3000;
		size_t max = 1 + RND() % (round % 3 ? 40 : 400);
		char *in = random_stream(&seed, len);
		struct collect want = { 0 }, got = { 0 }, fed = { 0 };
		uint64_t want_over;
		struct lb lb, ref;

		reference(in, len, max, &want, &want_over);

		assert_int_equal(lb_init(&lb, max), 0);
		assert_int_equal(lb_init(&ref, max), 0);
		lb_feed(&ref, in, len, collect_fn, &fed);
		for (size_t off = 0; off < len;) {
			size_t step = 1 + RND() % (round % 2 ? 7 : 300);
			if (step > len - off)
				step = len - off;
			char *block = malloc(step);
			assert_non_null(block);
			memcpy(block, in + off, step);
			size_t before = got.n;
			size_t n = lb_commit_from(&lb, block, step, collect_fn, &got);
			assert_int_equal(n, got.n - before);
			free(block);
			off += step;
		}
		assert_int_equal(got.n, want.n);
		for (size_t i = 0; i < want.n; i++)
			assert_line(&got, i, want.line[i], want.len[i]);
		assert_int_equal(lb.overlong, want_over);
		assert_int_equal(lb_has_fragment(&lb), lb_has_fragment(&ref));
		assert_int_equal(lb_fragment_len(&lb), lb_fragment_len(&ref));
		assert_memory_equal(lb.buf, ref.buf, lb_fragment_len(&ref));
		assert_true(lb.cap <= max + 2);
		lb_fini(&lb);
		lb_fini(&ref);
		collect_clear(&want);
		collect_clear(&got);
		collect_clear(&fed);
		free(in);
	}
#undef RND
}

/* The block edges by hand: a CRLF whose '\r' ends one block, a line that
 * spans three blocks, an overlong line that ends exactly at a block's end,
 * NULs that open a block. */
static void
test_commit_from_edges(void **state)
{
	struct collect c = { 0 };
	struct lb lb;
	(void)state;

	assert_int_equal(lb_init(&lb, 8), 0);
	assert_int_equal(lb_commit_from(&lb, "one\r", 4, collect_fn, &c), 0);
	assert_int_equal(lb_commit_from(&lb, "\ntw", 3, collect_fn, &c), 1);
	assert_int_equal(lb_commit_from(&lb, "o-", 2, collect_fn, &c), 0);
	assert_int_equal(lb_commit_from(&lb, "x\nthree\n", 9, collect_fn, &c), 2);
	ASSERT_LINE(&c, 0, "one");
	ASSERT_LINE(&c, 1, "two-x");
	ASSERT_LINE(&c, 2, "three");
	/* 10 bytes without '\n' with max 8: overlong once the block ends */
	assert_int_equal(lb_commit_from(&lb, "0123456789", 10, collect_fn, &c), 0);
	assert_int_equal(lb.overlong, 1);
	assert_true(lb_has_fragment(&lb));
	assert_int_equal(lb_commit_from(&lb, "abc\n\0\0four\n", 12, collect_fn, &c), 1);
	ASSERT_LINE(&c, 3, "four");
	assert_false(lb_has_fragment(&lb));
	/* a block that is all fragment, then an empty one */
	assert_int_equal(lb_commit_from(&lb, "fiv", 3, collect_fn, &c), 0);
	assert_int_equal(lb_commit_from(&lb, "", 0, collect_fn, &c), 0);
	assert_int_equal(lb_fragment_len(&lb), 3);
	assert_int_equal(lb_commit_from(&lb, "e\n", 2, collect_fn, &c), 1);
	ASSERT_LINE(&c, 4, "five");
	assert_int_equal(lb.overlong, 1);
	lb_fini(&lb);
	collect_clear(&c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_partial_every_split),
		cmocka_unit_test(test_byte_at_a_time),
		cmocka_unit_test(test_crlf_and_lone_cr),
		cmocka_unit_test(test_empty_lines),
		cmocka_unit_test(test_nul_runs),
		cmocka_unit_test(test_overlong_bounds),
		cmocka_unit_test(test_overlong_10mib),
		cmocka_unit_test(test_space_commit_and_reset),
		cmocka_unit_test(test_random_chunking),
		cmocka_unit_test(test_commit_from_blocks),
		cmocka_unit_test(test_commit_from_edges),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
