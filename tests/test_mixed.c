/*
 * test_mixed.c - one file holding Postfix, Exim, Sendmail and OpenSMTPD
 * lines (tests/data/mixed/golden.txt) through one auto registry: every
 * line goes to its own MTA, and forcing a format keeps exactly that MTA's
 * lines and drops the others.
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

#define GOLDEN TESTS_DIR "/data/mixed/golden.txt"

static struct golden_set set;

static int
setup(void **state)
{
	(void)state;
	golden_load(&set, GOLDEN, MP_MTA_NONE);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	golden_free(&set);
	return 0;
}

static void
test_mixed_auto(void **state)
{
	static const char *const mtas[] = { "postfix", "exim", "sendmail",
		"opensmtpd" };
	char prefix[32];

	(void)state;
	for (size_t i = 0; i < sizeof mtas / sizeof mtas[0]; i++) {
		snprintf(prefix, sizeof prefix, "mta=%s", mtas[i]);
		assert_true(golden_count(&set, prefix) >= 2);
	}
	assert_int_equal(golden_check(&set, "auto"), 0);
}

/*
 * Forced to one MTA, a line auto gives to that MTA gives the same event,
 * and any other line gives nothing: the line is not that MTA's.
 */
static void
test_mixed_forced(void **state)
{
	char err[256];

	(void)state;
	for (int mta = 0; mta < MP_MTA_BUILTIN_COUNT; mta++) {
		struct mp_registry *aut = mp_registry_new("auto", err, sizeof err);
		struct mp_registry *one = mp_registry_new(mp_mta_name(NULL, mta), err,
		    sizeof err);

		assert_non_null(aut);
		assert_non_null(one);
		for (size_t i = 0; i < set.ncases; i++) {
			const struct golden_case *c = &set.cases[i];
			struct mp_event a, f;
			int ra = mp_registry_parse(aut, c->line, c->len, &a);
			int rf = mp_registry_parse(one, c->line, c->len, &f);

			if (ra != 0 && a.mta == mta) {
				assert_int_equal(rf, ra);
				assert_int_equal(f.mta, a.mta);
				assert_int_equal(f.code, a.code);
				assert_int_equal(f.cls, a.cls);
				assert_int_equal(f.kind, a.kind);
			} else if (rf != 0) {
				fail_msg("%s:%d: format %s took a line auto gives to %s",
				    GOLDEN, c->lineno, mp_mta_name(NULL, mta),
				    ra != 0 ? mp_mta_name(NULL, a.mta) : "nobody");
			}
		}
		mp_registry_free(aut);
		mp_registry_free(one);
	}
}

static void
test_mixed_robust(void **state)
{
	(void)state;
	golden_prefixes(&set, "auto");
	golden_soup(&set, "auto", 3141592653u);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mixed_auto),
		cmocka_unit_test(test_mixed_forced),
		cmocka_unit_test(test_mixed_robust),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
