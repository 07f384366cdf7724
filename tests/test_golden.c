/*
 * test_golden.c - one MTA's parser against golden lines of real shape
 * (tests/data/<mta>/golden.txt), through the auto registry and with the
 * format forced; every prefix of every line and random byte soup from
 * exact-size buffers (tests/golden.c), so the sanitizer build catches a
 * read past the end.
 *
 * Built once per MTA by tests/meson.build, which defines:
 *   GOLDEN_MTA        the format name ("exim"), also the data folder
 *   GOLDEN_MTA_ID     its enum mp_mta
 *   GOLDEN_OTHER      another format, which must take none of these lines
 *   GOLDEN_MIN_CASES  how many golden lines there must at least be
 *   GOLDEN_SEED       the byte soup's seed
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/golden.h"
#include "parsers/mp.h"

#define GOLDEN TESTS_DIR "/data/" GOLDEN_MTA "/golden.txt"

static struct golden_set set;

static int
setup(void **state)
{
	(void)state;
	golden_load(&set, GOLDEN, GOLDEN_MTA_ID);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	golden_free(&set);
	return 0;
}

/* Enough lines, and of every kind: events both ways, receipts, nothing,
 * unmatched. */
static void
test_golden_coverage(void **state)
{
	(void)state;
	assert_true(set.ncases >= GOLDEN_MIN_CASES);
	assert_true(golden_count(&set, "mta=" GOLDEN_MTA " dir=outbound") >= 10);
	assert_true(golden_count(&set, "mta=" GOLDEN_MTA " dir=inbound") >= 3);
	assert_true(golden_count(&set, "received mta=" GOLDEN_MTA) >= 1);
	assert_true(golden_count(&set, "none") >= 5);
	assert_true(golden_count(&set, "unmatched") >= 1);
}

static void
test_golden_auto(void **state)
{
	(void)state;
	assert_int_equal(golden_check(&set, "auto"), 0);
}

static void
test_golden_forced(void **state)
{
	(void)state;
	assert_int_equal(golden_check(&set, GOLDEN_MTA), 0);
}

/* Forced to another MTA, none of these lines that carries our tag or
 * shape is taken. */
static void
test_other_format_ignores(void **state)
{
	char err[256];
	struct mp_registry *reg = mp_registry_new(GOLDEN_OTHER, err, sizeof err);

	(void)state;
	assert_non_null(reg);
	for (size_t i = 0; i < set.ncases; i++) {
		struct mp_event ev;
		int rc = mp_registry_parse(reg, set.cases[i].line, set.cases[i].len, &ev);

		if (rc != 0 && ev.hdr.kind != MP_HDR_NONE)
			fail_msg("%s:%d: format %s took a %s line (rc %d)", GOLDEN,
			    set.cases[i].lineno, GOLDEN_OTHER, GOLDEN_MTA, rc);
	}
	mp_registry_free(reg);
}

/* Every prefix of every golden line: a truncated line may be unmatched,
 * never a crash, never an out-of-bounds read, never a class-less event. */
static void
test_truncated_prefixes(void **state)
{
	(void)state;
	golden_prefixes(&set, "auto");
	golden_prefixes(&set, GOLDEN_MTA);
}

/* Random splices of golden fragments and raw bytes (fixed seed). */
static void
test_byte_soup(void **state)
{
	(void)state;
	golden_soup(&set, "auto", GOLDEN_SEED);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_golden_coverage),
		cmocka_unit_test(test_golden_auto),
		cmocka_unit_test(test_golden_forced),
		cmocka_unit_test(test_other_format_ignores),
		cmocka_unit_test(test_truncated_prefixes),
		cmocka_unit_test(test_byte_soup),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
