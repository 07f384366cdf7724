/*
 * test_options.c - flag parsing: defaults, both value syntaxes, and one
 * clear line naming the flag for every bad value.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "store/aggregate.h"
#include "daemon/input/envelope.h"
#include "daemon/options.h"

static enum opts_result
parse(struct options *o, char *err, size_t errlen, const char *const *args)
{
	static char *argv[64];
	int argc = 0;
	argv[argc++] = (char *)"maillog_exporter";
	for (; *args; args++)
		argv[argc++] = (char *)*args;
	argv[argc] = NULL;
	err[0] = '\0';
	return opts_parse(argc, argv, o, err, errlen);
}

#define PARSE(o, err, ...) \
	parse(o, err, sizeof err, (const char *const[]){ __VA_ARGS__, NULL })

static void
test_defaults(void **state)
{
	(void)state;
	struct options o;
	char err[256];
	assert_int_equal(parse(&o, err, sizeof err, (const char *const[]){ NULL }), OPTS_OK);
	assert_int_equal(o.npaths, 0);
	assert_int_equal(o.from_beginning, 0);
	assert_string_equal(o.format, "auto");
	assert_string_equal(o.listen_address, ":9745");
	assert_string_equal(o.telemetry_path, "/metrics");
	assert_int_equal(o.max_series, AGG_DEFAULT_MAX_SERIES);
	assert_int_equal(o.domains_top, AGG_DEFAULT_DOMAINS_TOP);
	assert_int_equal(o.domains_inbound, 0);
	assert_int_equal(o.host_label, 0);
	assert_int_equal(o.log_level, LOG_LEVEL_INFO);
	assert_int_equal(o.log_format, LOG_FORMAT_LOGFMT);
	assert_int_equal(o.once, 0);
	assert_null(o.web_config_file);
	assert_string_equal(opts_default_paths[0], "/var/log/mail.log");
}

static void
test_both_value_syntaxes(void **state)
{
	(void)state;
	struct options o;
	char err[256];
	assert_int_equal(PARSE(&o, err, "--maillog.path=/a", "--maillog.path", "/b",
	    "--maillog.start", "beginning", "--web.listen-address=127.0.0.1:9999",
	    "--web.telemetry-path", "/m", "--log.level=debug", "--log.format", "json",
	    "--once", "--web.timeout=5s", "--web.max-connections", "3",
	    "--web.max-connections-per-ip=2", "--metrics.max-series=100",
	    "--web.config.file=/etc/web.yml",
	    "--maillog.max-line-length=4096", "--maillog.format=postfix",
	    "--maillog.envelope", "docker",
	    "--maillog.timezone=Europe/Berlin", "--metrics.domains.top", "7",
	    "--metrics.domains.inbound", "--metrics.host-label"), OPTS_OK);
	assert_int_equal(o.npaths, 2);
	assert_string_equal(o.paths[0], "/a");
	assert_string_equal(o.paths[1], "/b");
	assert_int_equal(o.from_beginning, 1);
	assert_string_equal(o.listen_address, "127.0.0.1:9999");
	assert_string_equal(o.telemetry_path, "/m");
	assert_int_equal(o.log_level, LOG_LEVEL_DEBUG);
	assert_int_equal(o.log_format, LOG_FORMAT_JSON);
	assert_int_equal(o.once, 1);
	assert_int_equal(o.timeout_s, 5);
	assert_int_equal(o.max_connections, 3);
	assert_int_equal(o.max_connections_per_ip, 2);
	assert_string_equal(o.web_config_file, "/etc/web.yml");
	assert_int_equal(o.max_series, 100);
	assert_int_equal(o.domains_top, 7);
	assert_int_equal(o.domains_inbound, 1);
	assert_int_equal(o.host_label, 1);
	assert_int_equal(o.max_line, 4096);
	assert_int_equal(o.envelope, ENVELOPE_DOCKER);
	assert_string_equal(o.format, "postfix");
	assert_string_equal(o.timezone, "Europe/Berlin");
	assert_int_equal(PARSE(&o, err, "--maillog.path=-"), OPTS_OK);
	assert_string_equal(o.paths[0], "-");
	assert_int_equal(o.envelope, ENVELOPE_AUTO);
	assert_int_equal(PARSE(&o, err, "--maillog.envelope=none"), OPTS_OK);
	assert_int_equal(o.envelope, ENVELOPE_NONE);
	assert_int_equal(PARSE(&o, err, "--maillog.envelope=cri"), OPTS_OK);
	assert_int_equal(o.envelope, ENVELOPE_CRI);
}

static void
test_help_and_version(void **state)
{
	(void)state;
	struct options o;
	char err[256];
	assert_int_equal(PARSE(&o, err, "--help"), OPTS_HELP);
	assert_int_equal(PARSE(&o, err, "--version"), OPTS_VERSION);
}

/* Each bad command line, and a fragment its error line must contain. */
static const struct {
	const char *args[4];
	const char *want;
} bad[] = {
	{ { "--nope" }, "unknown flag '--nope'" },
	{ { "stray" }, "unexpected argument 'stray'" },
	{ { "--maillog.start=middle" }, "--maillog.start: 'middle' is not end or beginning" },
	{ { "--maillog.path" }, "--maillog.path needs a value" },
	{ { "--maillog.path=" }, "--maillog.path: empty path" },
	{ { "--maillog.path=/x", "--maillog.path=/x" }, "given twice" },
	{ { "--once=yes" }, "--once takes no value" },
	{ { "--log.level=loud" }, "--log.level: 'loud' is not debug, info, warn or error" },
	{ { "--log.format=xml" }, "--log.format: 'xml' is not logfmt or json" },
	{ { "--web.listen-address=nonsense" }, "--web.listen-address:" },
	{ { "--web.listen-address=:99999" }, "--web.listen-address:" },
	{ { "--web.telemetry-path=metrics" }, "--web.telemetry-path: 'metrics' must be a path" },
	{ { "--web.telemetry-path=/healthz" }, "--web.telemetry-path: '/healthz' is taken" },
	{ { "--web.max-connections=0" }, "--web.max-connections: '0'" },
	{ { "--web.max-connections-per-ip=-1" }, "--web.max-connections-per-ip: '-1'" },
	{ { "--web.timeout=forever" }, "--web.timeout: 'forever'" },
	{ { "--web.config.file=" }, "--web.config.file: empty path" },
	{ { "--web.config.file" }, "--web.config.file needs a value" },
	{ { "--metrics.max-series=1e9" }, "--metrics.max-series: '1e9'" },
	{ { "--metrics.domains.top=1001" },
	  "--metrics.domains.top: '1001' is not a number from 0 to 1000" },
	{ { "--metrics.domains.top=-1" }, "--metrics.domains.top: '-1'" },
	{ { "--metrics.domains.top" }, "--metrics.domains.top needs a value" },
	{ { "--metrics.domains.inbound=yes" }, "--metrics.domains.inbound takes no value" },
	{ { "--metrics.host-label=1" }, "--metrics.host-label takes no value" },
	{ { "--maillog.max-line-length=10" }, "--maillog.max-line-length: '10'" },
	{ { "--maillog.timezone=" }, "--maillog.timezone: empty" },
	{ { "--maillog.envelope=json" },
	  "--maillog.envelope: 'json' is not auto, none, cri or docker" },
	{ { "--maillog.envelope" }, "--maillog.envelope needs a value" },
	{ { "--postfix.reinjection-syslog-name=" },
	  "--postfix.reinjection-syslog-name: '' is not a syslog_name" },
	{ { "--postfix.reinjection-syslog-name=postfix/amavis,postfix/dkim" },
	  "repeat the flag for each name" },
	{ { "--postfix.reinjection-syslog-name" },
	  "--postfix.reinjection-syslog-name needs a value" },
};

/* --postfix.reinjection-syslog-name is repeatable, in order, up to
 * MP_REINJECT_MAX names (what the parser registry holds). */
static void
test_reinjection_names(void **state)
{
	(void)state;
	struct options o;
	char err[256];
	const char *args[MP_REINJECT_MAX + 2];
	assert_int_equal(PARSE(&o, err, "--postfix.reinjection-syslog-name=postfix/amavis",
	    "--postfix.reinjection-syslog-name", "postfix-in/dkim/smtpd"), OPTS_OK);
	assert_int_equal(o.nreinject, 2);
	assert_string_equal(o.reinject[0], "postfix/amavis");
	assert_string_equal(o.reinject[1], "postfix-in/dkim/smtpd");
	assert_int_equal(PARSE(&o, err, "--once"), OPTS_OK);
	assert_int_equal(o.nreinject, 0);
	for (int i = 0; i < MP_REINJECT_MAX + 1; i++)
		args[i] = "--postfix.reinjection-syslog-name=postfix/amavis";
	args[MP_REINJECT_MAX + 1] = NULL;
	assert_int_equal(parse(&o, err, sizeof err, args), OPTS_ERROR);
	assert_non_null(strstr(err, "at most 16"));
}

static void
test_bad_values_name_the_flag(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct options o;
		char err[256];
		const char *const *a = bad[i].args;
		enum opts_result r = parse(&o, err, sizeof err, a);
		if (r != OPTS_ERROR || strstr(err, bad[i].want) == NULL)
			fail_msg("args[0]=%s: result %d, error '%s', want '%s'", a[0], r, err,
			    bad[i].want);
		assert_null(strchr(err, '\n'));  /* one line */
	}
}

/* --run-as takes a user name; the user is looked up at start, not here. */
static void
test_run_as(void **state)
{
	(void)state;
	struct options o;
	char err[256];
	assert_int_equal(PARSE(&o, err, "--maillog.path=/a"), OPTS_OK);
	assert_null(o.run_as);
	assert_int_equal(PARSE(&o, err, "--run-as=maillog_exporter"), OPTS_OK);
	assert_string_equal(o.run_as, "maillog_exporter");
	assert_int_equal(PARSE(&o, err, "--run-as", "nobody"), OPTS_OK);
	assert_string_equal(o.run_as, "nobody");
	assert_int_equal(PARSE(&o, err, "--run-as="), OPTS_ERROR);
	assert_non_null(strstr(err, "--run-as: '' is not a user name"));
	assert_int_equal(PARSE(&o, err, "--run-as=a:b"), OPTS_ERROR);
	assert_non_null(strstr(err, "--run-as: 'a:b'"));
	assert_int_equal(PARSE(&o, err, "--run-as"), OPTS_ERROR);
	assert_non_null(strstr(err, "--run-as needs a value"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_run_as),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_both_value_syntaxes),
		cmocka_unit_test(test_help_and_version),
		cmocka_unit_test(test_bad_values_name_the_flag),
		cmocka_unit_test(test_reinjection_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
