/*
 * test_config.c - --config.file (daemon/config.c): a good file, the
 * shipped example (deploy/custom-parsers.example.yml) on sample lines, and
 * every kind of mistake, each with the exact "FILE:LINE: problem" a user
 * sees from --check-config.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/config.h"
#include "parsers/mp.h"

#define EXAMPLE TESTS_DIR "/../deploy/custom-parsers.example.yml"

static char path[64];

/* Write text to a fresh temporary file; its name is in path. */
static void
write_file(const char *text)
{
	int fd;
	FILE *fp;

	snprintf(path, sizeof path, "/tmp/test_config.XXXXXX");
	if ((fd = mkstemp(path)) < 0)
		fail_msg("mkstemp failed");
	fp = fdopen(fd, "w");
	assert_non_null(fp);
	assert_int_equal(fputs(text, fp) >= 0, 1);
	assert_int_equal(fclose(fp), 0);
}

/* text must be refused with exactly "PATH:" + want. */
static void
check_error(const char *text, const char *want)
{
	struct mp_registry *reg;
	char err[512], full[600];

	write_file(text);
	assert_int_equal(config_registry(path, "auto", NULL, &reg, err, sizeof err), CONFIG_BAD_FILE);
	assert_null(reg);
	snprintf(full, sizeof full, "%s:%s", path, want);
	assert_string_equal(err, full);
	unlink(path);
}

static int
parse(struct mp_registry *reg, const char *line, struct mp_event *ev)
{
	return mp_registry_parse(reg, line, strlen(line), ev);
}

static void
test_good_file(void **state)
{
	(void)state;
	struct mp_registry *reg;
	struct mp_event ev;
	char err[512];
	int ids[MP_MTA_MAX];

	write_file(
	    "# a comment\n"
	    "parsers:\n"
	    "  - mta: acme\n"
	    "    direction: outbound\n"
	    "    tag: acme\n"
	    "    patterns: 'status=(?<outcome>\\w+) reply=(?<code>\\d{3})'\n"
	    "  - mta: acme\n"
	    "    direction: inbound\n"
	    "    match: \"REJECT \"\n"
	    "    patterns:\n"
	    "      - 'REJECT (?<code>\\d{3}) (?<enhanced>\\S+)'\n");
	assert_int_equal(config_registry(path, "auto", NULL, &reg, err, sizeof err), CONFIG_OK);
	assert_non_null(reg);
	assert_int_equal(mp_registry_mtas(reg, ids, MP_MTA_MAX), MP_MTA_BUILTIN_COUNT + 2);
	assert_int_equal(parse(reg, "Nov 28 14:10:01 mx acme[1]: status=sent reply=250", &ev), 1);
	assert_string_equal(mp_mta_name(mp_registry_names(reg), ev.mta), "acme");
	assert_int_equal(ev.code, 250);
	assert_int_equal(parse(reg, "Nov 28 14:10:01 mx other[1]: REJECT 554 5.7.1", &ev), 1);
	assert_int_equal(ev.direction, MP_DIR_INBOUND);
	assert_int_equal(ev.cls, 5);
	assert_int_equal(ev.enhanced.subject, 7);
	assert_int_equal(parse(reg, "Nov 28 14:10:01 mx other[1]: REJECT later", &ev), -1);
	mp_registry_free(reg);

	/* The file's mta is a format name; an unknown one is a format error. */
	assert_int_equal(config_registry(path, "acme", NULL, &reg, err, sizeof err), CONFIG_OK);
	mp_registry_free(reg);
	assert_int_equal(config_registry(path, "qmail", NULL, &reg, err, sizeof err), CONFIG_BAD_FORMAT);
	assert_null(reg);
	assert_non_null(strstr(err, "unknown format \"qmail\""));
	unlink(path);

	/* No file: built-ins only. An empty list is a valid file too. */
	assert_int_equal(config_registry(NULL, "auto", NULL, &reg, err, sizeof err), CONFIG_OK);
	assert_int_equal(mp_registry_mtas(reg, ids, MP_MTA_MAX), MP_MTA_BUILTIN_COUNT);
	mp_registry_free(reg);
	write_file("parsers: []\n");
	assert_int_equal(config_registry(path, "auto", NULL, &reg, err, sizeof err), CONFIG_OK);
	mp_registry_free(reg);
	unlink(path);
}

/* The shipped example validates and parses the lines its comments show. */
static void
test_example(void **state)
{
	(void)state;
	struct mp_registry *reg;
	struct mp_event ev;
	char err[512], enh[MP_ENHANCED_BUFSZ];
	static const struct {
		const char *line;
		int rc;
		const char *mta;
		int dir, code;
		const char *enh;
		int cls;
	} cases[] = {
		{ "Nov 28 14:10:01 mx haraka[1234]: [NOTICE] [-] [outbound] delivered"
		  " file=1700_1_0_1_abcd_1_mx domain=example.net host=mx.example.net ip=192.0.2.7"
		  " port=25 mode=SMTP tls=Y auth=N response=\"Message Queued (250 2.0.0 Ok: queued"
		  " as 4A1B2C)\" delay=1.2 fails=0 rcpts=1/0/0",
		  1, "haraka", MP_DIR_OUTBOUND, 250, "2.0.0", 2 },
		{ "Nov 28 14:10:02 mx haraka[1234]: [WARN] [-] [outbound] Temp failing"
		  " 1700_1_0_1_abcd_1_mx for 64 seconds: Upstream error: 451 4.3.0 Try again later",
		  1, "haraka", MP_DIR_OUTBOUND, 451, "4.3.0", 4 },
		{ "Nov 28 14:10:03 mx haraka[1234]: [INFO] [-] [outbound] bouncing mail: Upstream"
		  " error: 550 5.1.1 No such user",
		  1, "haraka", MP_DIR_OUTBOUND, 550, "5.1.1", 5 },
		{ "Nov 28 14:10:03 mx haraka[1234]: [INFO] [-] [core] connect ip=192.0.2.1",
		  0, NULL, 0, 0, NULL, 0 },
		{ "{\"type\":\"TransientFailure\",\"id\":\"1d98\",\"sender\":\"a@example.com\","
		  "\"recipient\":\"u@example.org\",\"queue\":\"example.org\",\"response\":{\"code\":421,"
		  "\"enhanced_code\":null,\"content\":\"try later\",\"command\":\"MAIL\"}}",
		  1, "kumomta", MP_DIR_OUTBOUND, 421, "", 4 },
		{ "{\"type\":\"Rejection\",\"id\":\"1d99\",\"sender\":\"a@example.com\","
		  "\"recipient\":\"u@example.org\",\"response\":{\"code\":550,\"enhanced_code\":null,"
		  "\"content\":\"relaying denied\",\"command\":\"RCPT TO\"}}",
		  1, "kumomta", MP_DIR_INBOUND, 550, "", 5 },
		{ "Nov 28 14:10:05 gw1 mailgw[311]: smtp-result: to=<u@example.org> result=deferred"
		  " reply=\"451 4.7.1 greylisted\"",
		  1, "mailgw", MP_DIR_OUTBOUND, 451, "4.7.1", 4 },
		{ "Nov 28 14:10:05 gw1 mailgw[311]: smtp-result: to=<u@example.org> result=bounced",
		  1, "mailgw", MP_DIR_OUTBOUND, 0, "", 5 },
		{ "Nov 28 14:10:05 gw1 mailgw[311]: smtp-result: garbled",
		  -1, "mailgw", 0, 0, NULL, 0 },
		{ "Nov 28 14:10:01 mx postfix/smtp[42]: 4A1: to=<u@example.com>, relay=mx[192.0.2.7]:25,"
		  " delay=1, delays=0/0/0/1, dsn=2.0.0, status=sent (250 2.0.0 Ok)",
		  1, "postfix", MP_DIR_OUTBOUND, 250, "2.0.0", 2 },
	};

	assert_int_equal(config_registry(EXAMPLE, "auto", NULL, &reg, err, sizeof err), CONFIG_OK);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		int rc = parse(reg, cases[i].line, &ev);
		if (rc != cases[i].rc)
			fail_msg("case %zu: rc %d, want %d", i, rc, cases[i].rc);
		if (rc == 0)
			continue;
		assert_string_equal(mp_mta_name(mp_registry_names(reg), ev.mta), cases[i].mta);
		if (rc < 0)
			continue;
		assert_int_equal(ev.direction, cases[i].dir);
		assert_int_equal(ev.code, cases[i].code);
		mp_format_enhanced(&ev.enhanced, enh);
		assert_string_equal(enh, cases[i].enh);
		assert_int_equal(ev.cls, cases[i].cls);
	}
	mp_registry_free(reg);
}

static void
test_file_errors(void **state)
{
	(void)state;
	struct mp_registry *reg;
	char err[512];

	assert_int_equal(config_registry("/nonexistent/custom.yml", "auto", NULL, &reg, err, sizeof err),
	    CONFIG_BAD_FILE);
	assert_string_equal(err, "/nonexistent/custom.yml: cannot open: No such file or directory");
	write_file("");
	assert_int_equal(config_registry(path, "auto", NULL, &reg, err, sizeof err), CONFIG_BAD_FILE);
	assert_non_null(strstr(err, ": empty file: want a top-level \"parsers:\" list"));
	unlink(path);
}

static void
test_yaml_errors(void **state)
{
	(void)state;
	check_error("parsers:\n  - mta: a\n   direction: inbound\n",
	    "3: YAML syntax: did not find expected '-' indicator while parsing a block collection"
	    " (line 2)");
	check_error("parsers:\n  - mta: 'a\n",
	    "3: YAML syntax: found unexpected end of stream while scanning a quoted scalar (line 2)");
	check_error("- a\n- b\n",
	    "1: the top level must be a mapping with a \"parsers:\" list, not a list");
	check_error("parsers: []\n---\nparsers: []\n",
	    "3: a second YAML document; put everything in one");
}

static void
test_shape_errors(void **state)
{
	(void)state;
	check_error("parser:\n  - mta: a\n",
	    "1: unknown top-level key \"parser\" (want parsers or reasons)");
	check_error("parsers:\n  mta: a\n",
	    "2: parsers: want a list, not a mapping");
	check_error("parsers:\n  - acme\n",
	    "2: parser 1: want a mapping with keys mta, direction, tag, match, patterns, not a string");
	check_error("parsers:\n"
	    "  - mta: a\n"
	    "    direction: inbound\n"
	    "    pattern: '(?<code>\\d+)'\n",
	    "4: unknown key \"pattern\" (want mta, direction, tag, match, patterns)");
	check_error("parsers:\n"
	    "  - mta: a\n"
	    "    direction: inbound\n"
	    "    mta: b\n",
	    "4: key \"mta\" given twice (first at line 2)");
	check_error("parsers:\n"
	    "  - direction: inbound\n"
	    "    patterns: ['(?<code>\\d+)']\n",
	    "2: parser 1: no mta (its name)");
	check_error("parsers:\n"
	    "  - mta: acme\n"
	    "    patterns: ['(?<code>\\d+)']\n",
	    "2: mta \"acme\": no direction (want inbound or outbound)");
	check_error("parsers:\n"
	    "  - mta: acme\n"
	    "    direction: sideways\n"
	    "    patterns: ['(?<code>\\d+)']\n",
	    "3: mta \"acme\": direction \"sideways\" is not inbound or outbound");
	/* A quoted YAML value can hold a newline; the message stays one line
	 * (found by fuzz_config). */
	check_error("parsers:\n"
	    "  - mta: acme\n"
	    "    direction: \"in\\nbound\"\n"
	    "    patterns: ['(?<code>\\d+)']\n",
	    "3: mta \"acme\": direction \"in?bound\" is not inbound or outbound");
	check_error("parsers:\n"
	    "  - mta: acme\n"
	    "    direction: inbound\n",
	    "2: mta \"acme\": no patterns");
	check_error("parsers:\n"
	    "  - mta: acme\n"
	    "    direction: inbound\n"
	    "    patterns: {a: b}\n",
	    "4: mta \"acme\": patterns: want a list of strings, not a mapping");
	check_error("parsers:\n"
	    "  - mta: [acme]\n",
	    "2: mta: want a string, not a list");
	check_error("parsers:\n"
	    "  - mta: \"ac\\0me\"\n",
	    "2: mta: holds a NUL byte");
}

static void
test_definition_errors(void **state)
{
	(void)state;
	check_error("parsers:\n"
	    "  - mta: acme\n"
	    "    direction: outbound\n"
	    "    patterns: ['(?<code>\\d+)']\n"
	    "  - mta: beta\n"
	    "    direction: inbound\n"
	    "    patterns: ['(?<code>\\d+)']\n"
	    "  - mta: acme\n"
	    "    direction: outbound\n"
	    "    patterns: ['(?<code>\\d+)']\n",
	    "8: mta \"acme\" with direction outbound is defined twice (custom parser 1 has it too)");
	check_error("parsers:\n"
	    "  - mta: Postfix2\n"
	    "    direction: outbound\n"
	    "    patterns: ['(?<code>\\d+)']\n",
	    "2: mta \"Postfix2\": want a lowercase letter, then lowercase letters, digits, '_', '-'"
	    " or '.' (at most 32 in all): it becomes the mta label value");
	check_error("parsers:\n"
	    "  - mta: sendmail\n"
	    "    direction: outbound\n"
	    "    patterns: ['(?<code>\\d+)']\n",
	    "2: mta \"sendmail\" is a built-in parser's name");
	check_error("parsers:\n"
	    "  - mta: acme\n"
	    "    direction: outbound\n"
	    "    patterns:\n"
	    "      - '(?<code>\\d{3})'\n"
	    "      - 'reply=(?<code>\\d{3}'\n",
	    "6: mta \"acme\": pattern 2: pattern error at offset 19: missing closing parenthesis");
	check_error("parsers:\n"
	    "  - mta: acme\n"
	    "    direction: outbound\n"
	    "    patterns:\n"
	    "      - 'to=(?<domain>\\S+) (\\d{3})'\n",
	    "5: mta \"acme\": pattern 1: has none of the named groups (?<code>...), (?<enhanced>...),"
	    " (?<outcome>...): a match could never say which class to count");
	check_error("parsers:\n"
	    "  - mta: acme\n"
	    "    direction: outbound\n"
	    "    patterns:\n"
	    "      - '(?<cod>\\d{3})'\n",
	    "5: mta \"acme\": pattern 1: named group (?<cod>...) is not code, enhanced, outcome or domain");
	check_error("parsers:\n"
	    "  - mta: acme\n"
	    "    direction: outbound\n"
	    "    tag: 'acme[1]'\n"
	    "    patterns: ['(?<code>\\d+)']\n",
	    "4: mta \"acme\": tag \"acme[1]\" must be the program name a syslog line carries before"
	    " \"[pid]:\" (1 to 64 characters, no spaces, '[', ']' or ':')");
	check_error("parsers:\n"
	    "  - mta: acme\n"
	    "    direction: outbound\n"
	    "    match: ''\n"
	    "    patterns: ['(?<code>\\d+)']\n",
	    "4: mta \"acme\": match must be 1 to 256 characters");
	check_error("parsers:\n"
	    "  - mta: acme\n"
	    "    direction: outbound\n"
	    "    patterns: []\n",
	    "4: mta \"acme\": want 1 to 32 patterns, not 0");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_file),
		cmocka_unit_test(test_example),
		cmocka_unit_test(test_file_errors),
		cmocka_unit_test(test_yaml_errors),
		cmocka_unit_test(test_shape_errors),
		cmocka_unit_test(test_definition_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
