/*
 * test_postfix.c - the Postfix parser against golden lines of real shape
 * (tests/data/postfix/golden.txt), plus robustness: every prefix of every
 * golden line, and random byte soup, parsed from exact-size buffers so the
 * sanitizer build catches any read past the end (tests/golden.c).
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

#define GOLDEN TESTS_DIR "/data/postfix/golden.txt"

static struct golden_set set;

static int
setup(void **state)
{
	(void)state;
	golden_load(&set, GOLDEN, MP_MTA_POSTFIX);
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
test_golden_auto(void **state)
{
	(void)state;
	assert_true(set.ncases >= 80);
	assert_int_equal(golden_check(&set, "auto"), 0);
}

static void
test_golden_forced(void **state)
{
	(void)state;
	assert_int_equal(golden_check(&set, "postfix"), 0);
}

/* Every prefix of every golden line: a truncated line may be unmatched,
 * never a crash, never an out-of-bounds read, never a class-less event. */
static void
test_truncated_prefixes(void **state)
{
	(void)state;
	golden_prefixes(&set, "auto");
}

/* Random splices of golden fragments and raw bytes (fixed seed). */
static void
test_byte_soup(void **state)
{
	(void)state;
	golden_soup(&set, "auto", 2463534242u);
}

static void
test_registry_api(void **state)
{
	char err[256];

	(void)state;
	assert_null(mp_registry_new("qmail", err, sizeof err));
	assert_non_null(strstr(err, "qmail"));
	assert_non_null(strstr(err, "auto|postfix|exim|sendmail|opensmtpd"));
	assert_string_equal(mp_format_names(), "auto|postfix|exim|sendmail|opensmtpd");
	mp_registry_free(NULL);
}

/* A line with another program's tag carrying a Postfix-looking message is
 * not Postfix's, in either mode; a tagless one is, in both. */
static void
test_dispatch_by_tag(void **state)
{
	static const char foreign[] =
	    "Nov 28 14:10:01 mx1 smtp-relay[1]: 4F2A: to=<a@b.example>, "
	    "relay=x[192.0.2.1]:25, dsn=2.0.0, status=sent (250 ok)";
	static const char bare[] =
	    "NOQUEUE: reject: RCPT from x[192.0.2.1]: 550 5.1.1 no; "
	    "from=<> to=<u@d.example> proto=ESMTP helo=<x>";
	const char *formats[] = { "auto", "postfix" };
	char err[256];

	(void)state;
	for (size_t i = 0; i < 2; i++) {
		struct mp_registry *reg = mp_registry_new(formats[i], err, sizeof err);
		struct mp_event ev;

		assert_non_null(reg);
		assert_int_equal(mp_registry_parse(reg, foreign, sizeof foreign - 1, &ev), 0);
		assert_int_equal(ev.mta, MP_MTA_NONE);
		assert_int_equal(ev.hdr.kind, MP_HDR_RFC3164);
		assert_int_equal(mp_registry_parse(reg, bare, sizeof bare - 1, &ev), 1);
		assert_int_equal(ev.hdr.kind, MP_HDR_NONE);
		assert_int_equal(ev.code, 550);
		mp_registry_free(reg);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_golden_auto),
		cmocka_unit_test(test_golden_forced),
		cmocka_unit_test(test_truncated_prefixes),
		cmocka_unit_test(test_byte_soup),
		cmocka_unit_test(test_registry_api),
		cmocka_unit_test(test_dispatch_by_tag),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
