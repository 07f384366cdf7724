/*
 * test_negotiate.c - HTTP content negotiation (web/negotiate.c): the
 * exposition format an Accept header asks for, and whether an
 * Accept-Encoding header allows gzip.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "web/negotiate.h"

static void
test_negotiate_format(void **state)
{
	(void)state;
	/* What Prometheus 2.42 sends. */
	assert_int_equal(web_negotiate_format("application/openmetrics-text;version=1.0.0,"
	    "application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,"
	    "*/*;q=0.1"), EXPO_FMT_OPENMETRICS);
	/* A scrape configured to prefer text. */
	assert_int_equal(web_negotiate_format("text/plain;version=0.0.4;q=1,"
	    "application/openmetrics-text;version=1.0.0;q=0.5"), EXPO_FMT_TEXT);
	assert_int_equal(web_negotiate_format(NULL), EXPO_FMT_TEXT);
	assert_int_equal(web_negotiate_format(""), EXPO_FMT_TEXT);
	assert_int_equal(web_negotiate_format("*/*"), EXPO_FMT_TEXT);
	assert_int_equal(web_negotiate_format("text/html,application/xhtml+xml"), EXPO_FMT_TEXT);
	assert_int_equal(web_negotiate_format("application/openmetrics-text"),
	    EXPO_FMT_OPENMETRICS);
	assert_int_equal(web_negotiate_format("Application/OpenMetrics-Text; Version=1.0.0"),
	    EXPO_FMT_OPENMETRICS);
	/* Equal q: the first listed wins. */
	assert_int_equal(web_negotiate_format("application/openmetrics-text, */*"),
	    EXPO_FMT_OPENMETRICS);
	assert_int_equal(web_negotiate_format("*/*, application/openmetrics-text"), EXPO_FMT_TEXT);
	/* A version we do not write, or q=0, is not a preference. */
	assert_int_equal(web_negotiate_format("application/openmetrics-text;version=2.0.0"),
	    EXPO_FMT_TEXT);
	assert_int_equal(web_negotiate_format("application/openmetrics-text;q=0"), EXPO_FMT_TEXT);
	assert_int_equal(web_negotiate_format("application/openmetrics-text;q=abc"), EXPO_FMT_TEXT);
}

static void
test_accepts_gzip(void **state)
{
	(void)state;
	assert_true(web_accepts_gzip("gzip"));
	assert_true(web_accepts_gzip("deflate, gzip;q=1.0, *;q=0.5"));
	assert_true(web_accepts_gzip("GZIP"));
	assert_true(web_accepts_gzip("x-gzip"));
	assert_true(web_accepts_gzip("*"));
	assert_false(web_accepts_gzip(NULL));
	assert_false(web_accepts_gzip(""));
	assert_false(web_accepts_gzip("identity"));
	assert_false(web_accepts_gzip("br, deflate"));
	assert_false(web_accepts_gzip("gzip;q=0"));
	assert_false(web_accepts_gzip("gzip;q=0, *"));
	assert_false(web_accepts_gzip("*;q=0"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_negotiate_format),
		cmocka_unit_test(test_accepts_gzip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
