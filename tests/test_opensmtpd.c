/*
 * test_opensmtpd.c - the opensmtpd parser against golden lines of real shape
 * (tests/data/opensmtpd/golden.txt), through the auto registry and with the
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

#define GOLDEN TESTS_DIR "/data/opensmtpd/golden.txt"

static struct golden_set set;

static int
setup(void **state)
{
	(void)state;
	golden_load(&set, GOLDEN, MP_MTA_OPENSMTPD);
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
	assert_true(golden_count(&set, "mta=opensmtpd dir=outbound") >= 10);
	assert_true(golden_count(&set, "mta=opensmtpd dir=inbound") >= 3);
	assert_true(golden_count(&set, "received mta=opensmtpd") >= 1);
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
	assert_int_equal(golden_check(&set, "opensmtpd"), 0);
}

/* Forced to another MTA, none of these lines is that MTA's. */
static void
test_other_format_ignores(void **state)
{
	char err[256];
	struct mp_registry *reg = mp_registry_new("exim", err, sizeof err);

	(void)state;
	assert_non_null(reg);
	for (size_t i = 0; i < set.ncases; i++) {
		struct mp_event ev;
		int rc = mp_registry_parse(reg, set.cases[i].line, set.cases[i].len, &ev);

		if (rc != 0)
			fail_msg("%s:%d: format exim took a opensmtpd line (rc %d)",
			    GOLDEN, set.cases[i].lineno, rc);
	}
	mp_registry_free(reg);
}

static void
test_truncated_prefixes(void **state)
{
	(void)state;
	golden_prefixes(&set, "auto");
	golden_prefixes(&set, "opensmtpd");
}

static void
test_byte_soup(void **state)
{
	(void)state;
	golden_soup(&set, "auto", 88172645u);
}

/* Found by tests/fuzz/fuzz_registry: a "command=" after the result field
 * gave a negative command length, and memchr read far past the line. The
 * fuzzer's input is kept in the seed corpus; it is read into an exact-size
 * buffer so ASan sees any overread. */
#define REGRESS TESTS_DIR "/fuzz/corpus/registry/regress-opensmtpd-command-after-result"

static void
test_command_after_result(void **state)
{
	struct mp_registry *reg;
	struct mp_event ev;
	char err[200], buf[4096];
	FILE *f = fopen(REGRESS, "rb");
	size_t n;
	char *line;

	(void)state;
	assert_non_null(f);
	n = fread(buf, 1, sizeof buf, f);
	fclose(f);
	assert_true(n > 0 && n < sizeof buf);
	line = malloc(n);
	assert_non_null(line);
	memcpy(line, buf, n);
	reg = mp_registry_new("opensmtpd", err, sizeof err);
	assert_non_null(reg);
	if (mp_registry_parse(reg, line, n, &ev) == 1)
		assert_true(ev.domain == NULL || (ev.domain >= line &&
		    ev.domain + ev.domain_len <= line + n));
	mp_registry_free(reg);
	free(line);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_command_after_result),
		cmocka_unit_test(test_golden_coverage),
		cmocka_unit_test(test_golden_auto),
		cmocka_unit_test(test_golden_forced),
		cmocka_unit_test(test_other_format_ignores),
		cmocka_unit_test(test_truncated_prefixes),
		cmocka_unit_test(test_byte_soup),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
