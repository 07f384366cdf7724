/*
 * test_registry.c - the registry's API and its dispatch by syslog tag; and
 * the inputs fuzzing ever crashed on (tests/fuzz/corpus/registry/regress-*),
 * replayed through every format from exact-size buffers so the sanitizer
 * build catches any read past the end.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parsers/mp.h"

#define REGRESS_DIR TESTS_DIR "/fuzz/corpus/registry"

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

/* Found by tests/fuzz/fuzz_registry, e.g. an OpenSMTPD "command=" after
 * the result field gave a negative length and memchr read far past the
 * line. An event from any of them must point inside the line. */
static void
test_fuzz_regressions(void **state)
{
	static const char *formats[] = { "auto", "postfix", "exim", "sendmail", "opensmtpd" };
	DIR *d = opendir(REGRESS_DIR);
	struct dirent *de;
	int replayed = 0;
	char err[256];

	(void)state;
	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		char path[1024], buf[65536];
		FILE *f;
		size_t n;

		if (strncmp(de->d_name, "regress-", 8) != 0)
			continue;
		snprintf(path, sizeof path, "%s/%s", REGRESS_DIR, de->d_name);
		assert_non_null(f = fopen(path, "rb"));
		n = fread(buf, 1, sizeof buf, f);
		fclose(f);
		for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++) {
			struct mp_registry *reg = mp_registry_new(formats[i], err, sizeof err);
			char *line = malloc(n ? n : 1);
			struct mp_event ev;

			assert_non_null(reg);
			assert_non_null(line);
			memcpy(line, buf, n);
			if (mp_registry_parse(reg, line, n, &ev) == 1)
				assert_true(ev.domain == NULL || (ev.domain >= line &&
				    ev.domain + ev.domain_len <= line + n));
			free(line);
			mp_registry_free(reg);
		}
		replayed++;
	}
	closedir(d);
	assert_true(replayed >= 1);
}

/* --postfix.reinjection-syslog-name: an smtpd the admin named takes back
 * filtered mail (no receipt, no accepted op), by syslog_name or whole tag;
 * any other instance's loopback client is a receipt; RFC 5424's bare
 * "postfix" names no instance. */
static void
test_reinjection_names(void **state)
{
	static const struct {
		const char *line;
		int filter;
	} cases[] = {
		{ "Nov 28 15:01:08 mx1 postfix/amavis/smtpd[1]: 4F2A: client=localhost[127.0.0.1]", 1 },
		{ "Nov 28 15:01:08 mx1 postfix-reinject/smtpd[1]: 4F2A: client=localhost[127.0.0.1]", 1 },
		{ "Nov 28 15:01:08 mx1 postfix/smtpd[1]: 4F2A: client=localhost[127.0.0.1]", 0 },
		{ "Nov 28 15:01:08 mx1 postfix/submission/smtpd[1]: 4F2A: client=localhost[127.0.0.1], "
		  "sasl_method=PLAIN, sasl_username=u", 0 },
		/* a prefix of a name is not that name */
		{ "Nov 28 15:01:08 mx1 postfix/amavi/smtpd[1]: 4F2A: client=localhost[127.0.0.1]", 0 },
		{ "Nov 28 15:01:08 mx1 postfix/amavis2/smtpd[1]: 4F2A: client=localhost[127.0.0.1]", 0 },
		{ "<22>1 2026-11-28T15:01:08Z mx1 postfix 1 - - 4F2A: client=localhost[127.0.0.1]", 0 },
		/* XFORWARD holds whatever the names */
		{ "<22>1 2026-11-28T15:01:08Z mx1 postfix 1 - - 4F2A: client=localhost[127.0.0.1], "
		  "orig_queue_id=3B1C", 1 },
	};
	const char *names[] = { "postfix/amavis", "postfix-reinject/smtpd" };
	char err[256], toolong[MP_REINJECT_NAME_MAX + 2];
	const char *many[MP_REINJECT_MAX + 1], *bad[] = { "postfix/amavis", "" };
	struct mp_registry *reg = mp_registry_new("postfix", err, sizeof err);
	struct mp_event ev;

	(void)state;
	assert_non_null(reg);
	/* refused whole: nothing of a bad list is kept */
	for (size_t i = 0; i < MP_REINJECT_MAX + 1; i++)
		many[i] = "postfix/amavis";
	assert_int_equal(mp_registry_set_reinjection(reg, many, MP_REINJECT_MAX + 1, err,
	    sizeof err), -1);
	assert_int_equal(mp_registry_set_reinjection(reg, bad, 2, err, sizeof err), -1);
	memset(toolong, 'a', sizeof toolong - 1);
	toolong[sizeof toolong - 1] = '\0';
	bad[1] = toolong;
	assert_int_equal(mp_registry_set_reinjection(reg, bad, 2, err, sizeof err), -1);
	assert_int_equal(mp_registry_parse(reg, cases[0].line, strlen(cases[0].line), &ev), 1);
	assert_int_equal(ev.destination, MP_DEST_NONE);

	assert_int_equal(mp_registry_set_reinjection(reg, names, 2, err, sizeof err), 0);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		assert_int_equal(mp_registry_parse(reg, cases[i].line, strlen(cases[i].line), &ev), 1);
		assert_int_equal(ev.kind, MP_EVENT_RECEIVED);
		if (ev.destination != (cases[i].filter ? MP_DEST_FILTER : MP_DEST_NONE) ||
		    ev.nops != (cases[i].filter ? 0 : 1))
			fail_msg("case %zu: destination %d, %u ops: %s", i, (int)ev.destination,
			    (unsigned)ev.nops, cases[i].line);
	}
	/* a new list replaces the old one */
	assert_int_equal(mp_registry_set_reinjection(reg, NULL, 0, err, sizeof err), 0);
	assert_int_equal(mp_registry_parse(reg, cases[0].line, strlen(cases[0].line), &ev), 1);
	assert_int_equal(ev.destination, MP_DEST_NONE);
	mp_registry_free(reg);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_registry_api),
		cmocka_unit_test(test_dispatch_by_tag),
		cmocka_unit_test(test_reinjection_names),
		cmocka_unit_test(test_fuzz_regressions),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
