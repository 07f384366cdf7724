/*
 * test_listen.c - --web.listen-address values (web/listen.c): the forms
 * accepted and the one-line reason for each kind of mistake. Only numeric
 * hosts, so no test depends on DNS.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "web/listen.h"

static void
ok(const char *s)
{
	char err[256] = "";

	if (web_check_listen_address(s, err, sizeof err) != 0)
		fail_msg("\"%s\" refused: %s", s, err);
}

/* s is refused with a reason that contains want. */
static void
bad(const char *s, const char *want)
{
	char err[256] = "";

	const char *shown = s != NULL ? s : "(null)";

	if (web_check_listen_address(s, err, sizeof err) != -1)
		fail_msg("\"%s\" accepted", shown);
	if (strstr(err, want) == NULL)
		fail_msg("\"%s\": \"%s\" does not say \"%s\"", shown, err, want);
}

static void
test_accepted(void **state)
{
	(void)state;
	ok(WEB_DEFAULT_LISTEN);
	ok(":1");
	ok(":65535");
	ok("127.0.0.1:9745");
	ok("[::1]:9745");
	ok("0.0.0.0:09745");
}

static void
test_refused(void **state)
{
	(void)state;
	bad(NULL, "empty listen address");
	bad("", "empty listen address");
	bad("127.0.0.1", "missing :PORT");
	bad("::1:9745", "must be in brackets");
	bad("[::1]", "missing :PORT after ']'");
	bad("[::1]9745", "missing :PORT after ']'");
	bad("[]:9745", "expected [IPV6]:PORT");
	bad("[::1:9745", "expected [IPV6]:PORT");
	bad(":", "port must be a number from 1 to 65535");
	bad(":0", "port must be a number from 1 to 65535");
	bad(":65536", "port must be a number from 1 to 65535");
	bad(":99999999999999999999", "port must be a number from 1 to 65535");
	bad(":http", "port must be a number from 1 to 65535");
	bad(":-1", "port must be a number from 1 to 65535");
}

static void
test_host_too_long(void **state)
{
	char s[400];

	(void)state;
	memset(s, 'a', 300);
	memcpy(s + 300, ":9745", 6);
	bad(s, "host name too long");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accepted),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_host_too_long),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
