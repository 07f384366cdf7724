/*
 * test_exim.c - the exim parser against golden lines of real shape
 * (tests/data/exim/golden.txt), through the auto registry and with the
 * format forced; every prefix of every line and random byte soup from
 * exact-size buffers (tests/golden.c), so the sanitizer build catches a
 * read past the end.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "golden.h"
#include "mp.h"

#define GOLDEN TESTS_DIR "/data/exim/golden.txt"

static struct golden_set set;

static int
setup(void **state)
{
	(void)state;
	golden_load(&set, GOLDEN, MP_MTA_EXIM);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	golden_free(&set);
	return 0;
}

/* Enough lines, and of every kind: events, receipts, nothing, unmatched. */
static void
test_golden_coverage(void **state)
{
	(void)state;
	assert_true(set.ncases >= 40);
	assert_true(golden_count(&set, "mta=exim dir=outbound") >= 10);
	assert_true(golden_count(&set, "mta=exim dir=inbound") >= 3);
	assert_true(golden_count(&set, "received mta=exim") >= 1);
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
	assert_int_equal(golden_check(&set, "exim"), 0);
}

/* Forced to another MTA, none of these lines is that MTA's. */
static void
test_other_format_ignores(void **state)
{
	char err[256];
	struct mp_registry *reg = mp_registry_new("sendmail", err, sizeof err);

	(void)state;
	assert_non_null(reg);
	for (size_t i = 0; i < set.ncases; i++) {
		struct mp_event ev;
		int rc = mp_registry_parse(reg, set.cases[i].line, set.cases[i].len, &ev);

		if (rc != 0)
			fail_msg("%s:%d: format sendmail took a exim line (rc %d)",
			    GOLDEN, set.cases[i].lineno, rc);
	}
	mp_registry_free(reg);
}

static void
test_truncated_prefixes(void **state)
{
	(void)state;
	golden_prefixes(&set, "auto");
	golden_prefixes(&set, "exim");
}

static void
test_byte_soup(void **state)
{
	(void)state;
	golden_soup(&set, "auto", 88172645u);
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
