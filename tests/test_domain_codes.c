/*
 * test_domain_codes.c - the report's exact codes per (domain, class)
 * (store/domain_codes.h): every pair counted exactly through the index's
 * growths, in the order first seen; pairs that differ only in class, code,
 * enhanced code or a name's length stay apart; a 253-byte domain; and out
 * of memory, for the index (calloc) and for the entries (realloc): the add
 * fails, the table keeps what it had, and the next add works.
 * Linked with --wrap=calloc and --wrap=realloc; the wrappers fail while
 * their flag is set.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/domain_codes.h"

void *__real_calloc(size_t n, size_t size);
void *__wrap_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
void *__wrap_realloc(void *p, size_t n);

static int fail_calloc, fail_realloc;

void *
__wrap_calloc(size_t n, size_t size)
{
	return fail_calloc ? NULL : __real_calloc(n, size);
}

void *
__wrap_realloc(void *p, size_t n)
{
	return fail_realloc ? NULL : __real_realloc(p, n);
}

static const struct mp_enhanced none = { 0, 0, 0 };

/* The count of one pair, by a walk of e[0..n) (not through the index), or
 * 0; and that the pair is there at most once. */
static uint64_t
count_of(const struct dc_table *t, const char *name, unsigned cls, unsigned code,
    struct mp_enhanced e)
{
	uint64_t c = 0;
	int seen = 0;

	for (size_t i = 0; i < t->n; i++) {
		const struct dc_entry *x = &t->e[i];
		if (strcmp(x->name, name) == 0 && x->cls == cls && x->code == code &&
		    x->enh.cls == e.cls && x->enh.subject == e.subject && x->enh.detail == e.detail) {
			assert_int_equal(seen, 0);
			seen = 1;
			c = x->count;
		}
	}
	return c;
}

static void
test_many_pairs_through_growth(void **state)
{
	struct dc_table t = { 0 };
	char name[32];
	const size_t pairs = 5000;

	(void)state;
	/* Pair i is added (i % 7) + 1 times, the rounds interleaved, so that
	 * most additions find a pair already counted and the index grows
	 * (256, 512, ... 16384 slots) with counts already in it. */
	for (unsigned round = 0; round < 7; round++) {
		for (size_t i = 0; i < pairs; i++) {
			if (round > i % 7)
				continue;
			int n = snprintf(name, sizeof name, "d%zu.example", i / 3);
			struct mp_enhanced e = { 5, 1, (uint16_t)(i % 3) };
			assert_int_equal(dc_add(&t, name, (size_t)n, 5, 550, &e), 0);
		}
	}
	assert_int_equal(t.n, pairs);
	assert_true(t.cap >= 2 * t.n);
	for (size_t i = 0; i < pairs; i++) {
		struct mp_enhanced e = { 5, 1, (uint16_t)(i % 3) };
		snprintf(name, sizeof name, "d%zu.example", i / 3);
		assert_int_equal(count_of(&t, name, 5, 550, e), i % 7 + 1);
		/* First seen, first kept: pair i was added in round 0. */
		assert_string_equal(t.e[i].name, name);
		assert_int_equal(t.e[i].enh.detail, i % 3);
	}
	dc_free(&t);
	assert_null(t.e);
	assert_null(t.slot);
	assert_int_equal(t.n, 0);
	assert_int_equal(t.cap, 0);
	dc_free(&t);
}

static void
test_pairs_that_differ(void **state)
{
	struct dc_table t = { 0 };
	struct mp_enhanced e471 = { 4, 7, 1 }, e571 = { 5, 7, 1 }, e570 = { 5, 7, 0 };

	(void)state;
	assert_int_equal(dc_add(&t, "example.org", 11, 4, 450, &e471), 0);
	assert_int_equal(dc_add(&t, "example.org", 11, 5, 450, &e471), 0);   /* class */
	assert_int_equal(dc_add(&t, "example.org", 11, 4, 451, &e471), 0);   /* code */
	assert_int_equal(dc_add(&t, "example.org", 11, 4, 450, &e571), 0);   /* enhanced class */
	assert_int_equal(dc_add(&t, "example.org", 11, 4, 450, &e570), 0);   /* detail */
	assert_int_equal(dc_add(&t, "example.org", 11, 4, 450, &none), 0);   /* none */
	assert_int_equal(dc_add(&t, "example.org", 11, 4, 0, &none), 0);     /* no code */
	/* A name is its len bytes: "example.or" is another domain, and the
	 * bytes after len are not read. */
	assert_int_equal(dc_add(&t, "example.orgX", 10, 4, 450, &e471), 0);
	assert_int_equal(dc_add(&t, "example.org", 11, 4, 450, &e471), 0);
	assert_int_equal(t.n, 8);
	assert_int_equal(count_of(&t, "example.org", 4, 450, e471), 2);
	assert_int_equal(count_of(&t, "example.org", 5, 450, e471), 1);
	assert_int_equal(count_of(&t, "example.org", 4, 0, none), 1);
	assert_int_equal(count_of(&t, "example.or", 4, 450, e471), 1);
	dc_free(&t);
}

static void
test_longest_name(void **state)
{
	struct dc_table t = { 0 };
	char name[TOPK_NAME_MAX + 1];

	(void)state;
	memset(name, 'a', TOPK_NAME_MAX);
	name[TOPK_NAME_MAX] = '\0';
	assert_int_equal(dc_add(&t, name, TOPK_NAME_MAX, 5, 550, &none), 0);
	assert_int_equal(dc_add(&t, name, TOPK_NAME_MAX, 5, 550, &none), 0);
	assert_int_equal(t.n, 1);
	assert_int_equal(strlen(t.e[0].name), TOPK_NAME_MAX);
	assert_int_equal(count_of(&t, name, 5, 550, none), 2);
	dc_free(&t);
}

static void
test_out_of_memory(void **state)
{
	struct dc_table t = { 0 };
	char name[32];
	size_t i;

	(void)state;
	/* No index yet: the first add fails and leaves an empty table. */
	fail_calloc = 1;
	assert_int_equal(dc_add(&t, "a.example", 9, 5, 550, &none), -1);
	fail_calloc = 0;
	assert_int_equal(t.n, 0);
	assert_null(t.e);

	/* No room for a new entry: the add fails, the index still finds
	 * every pair it had, and a pair already counted still counts. */
	for (i = 0; i < 64; i++) {
		int n = snprintf(name, sizeof name, "d%zu.example", i);
		assert_int_equal(dc_add(&t, name, (size_t)n, 5, 550, &none), 0);
	}
	assert_int_equal(t.n, t.ecap);
	fail_realloc = 1;
	assert_int_equal(dc_add(&t, "new.example", 11, 5, 550, &none), -1);
	assert_int_equal(dc_add(&t, "d3.example", 10, 5, 550, &none), 0);
	fail_realloc = 0;
	assert_int_equal(t.n, 64);
	assert_int_equal(count_of(&t, "new.example", 5, 550, none), 0);
	assert_int_equal(count_of(&t, "d3.example", 5, 550, none), 2);

	/* An index that cannot grow: the add that needed it fails, nothing
	 * else changes. */
	for (; t.n * 2 + 2 <= t.cap; i++) {
		int n = snprintf(name, sizeof name, "d%zu.example", i);
		assert_int_equal(dc_add(&t, name, (size_t)n, 5, 550, &none), 0);
	}
	size_t had = t.n, cap = t.cap;
	fail_calloc = 1;
	assert_int_equal(dc_add(&t, "new.example", 11, 5, 550, &none), -1);
	fail_calloc = 0;
	assert_int_equal(t.n, had);
	assert_int_equal(t.cap, cap);

	/* Memory back: the same add works, and everything is still there. */
	assert_int_equal(dc_add(&t, "new.example", 11, 5, 550, &none), 0);
	assert_int_equal(t.n, had + 1);
	assert_true(t.cap > cap);
	for (size_t j = 0; j < i; j++) {
		snprintf(name, sizeof name, "d%zu.example", j);
		assert_int_equal(count_of(&t, name, 5, 550, none), j == 3 ? 2 : 1);
	}
	assert_int_equal(count_of(&t, "new.example", 5, 550, none), 1);
	dc_free(&t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_many_pairs_through_growth),
		cmocka_unit_test(test_pairs_that_differ),
		cmocka_unit_test(test_longest_name),
		cmocka_unit_test(test_out_of_memory),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
