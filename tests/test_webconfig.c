/*
 * test_webconfig.c - --web.config.file (web/webconfig.c): a full file in
 * exporter-toolkit's format, relative file names, the TLS priority string,
 * and every kind of mistake with the exact "FILE:LINE: problem" a user
 * sees at start-up.
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

#include "web/webconfig.h"

#define DATA TESTS_DIR "/data/webconfig"
#define HASH "$2b$10$YNnhe9YM8bIr/9Veztb2tu4y.0EvwNlGIZQ65.YJ4Xxb54vLJ31G6"

static char path[64];

/* Write text to a fresh temporary file; its name is in path. */
static void
write_file(const char *text)
{
	int fd;
	FILE *fp;

	snprintf(path, sizeof path, "/tmp/test_webconfig.XXXXXX");
	if ((fd = mkstemp(path)) < 0)
		fail_msg("mkstemp failed");
	fp = fdopen(fd, "w");
	assert_non_null(fp);
	assert_int_equal(fputs(text, fp) >= 0, 1);
	assert_int_equal(fclose(fp), 0);
}

static void
test_full_file(void **state)
{
	(void)state;
	struct webcfg *c;
	char err[512], prio[128];

	write_file("# a node_exporter web config\n"
	    "tls_server_config:\n"
	    "  cert_file: " DATA "/server.crt\n"
	    "  key_file: " DATA "/server.key\n"
	    "  client_auth_type: RequireAndVerifyClientCert\n"
	    "  client_ca_file: " DATA "/server.crt\n"
	    "  min_version: TLS13\n"
	    "  prefer_server_cipher_suites: true\n"
	    "basic_auth_users:\n"
	    "  prometheus: " HASH "\n"
	    "  grafana: '" HASH "'\n"
	    "http_server_config:\n"
	    "  http2: true\n"
	    "  headers:\n"
	    "    Strict-Transport-Security: max-age=31536000\n"
	    "    X-Frame-Options: deny\n");
	assert_int_equal(webcfg_load(path, &c, err, sizeof err), 0);
	assert_int_equal(c->tls.enabled, 1);
	assert_int_equal(c->tls.client_auth, WEBCFG_REQUIRE_AND_VERIFY_CLIENT_CERT);
	assert_string_equal(webcfg_client_auth_name(c->tls.client_auth),
	    "RequireAndVerifyClientCert");
	assert_int_equal(c->tls.min_version, 13);
	assert_int_equal(c->tls.max_version, 13);
	assert_non_null(strstr(c->tls.cert_pem, "BEGIN CERTIFICATE"));
	assert_non_null(strstr(c->tls.key_pem, "PRIVATE KEY"));
	assert_non_null(c->tls.ca_pem);
	assert_string_equal(webcfg_tls_priorities(&c->tls, prio, sizeof prio),
	    "NORMAL:-VERS-ALL:+VERS-TLS1.3");
	assert_int_equal(c->nusers, 2);
	assert_string_equal(c->users[0].name, "prometheus");
	assert_string_equal(c->users[1].hash, HASH);
	assert_int_equal(c->nheaders, 2);
	assert_string_equal(c->headers[1].name, "X-Frame-Options");
	assert_string_equal(c->headers[1].value, "deny");
	assert_int_equal(webcfg_tls_equal(c, c), 1);
	assert_int_equal(webcfg_tls_equal(c, NULL), 0);
	assert_int_equal(webcfg_tls_equal(NULL, NULL), 1);
	webcfg_free(c);
	unlink(path);
}

/* Relative names are taken from the config file's directory. */
static void
test_relative_paths(void **state)
{
	(void)state;
	struct webcfg *c, *d;
	char err[512], prio[128], dir[] = "/tmp/test_webconfig.XXXXXX", p[64], crt[64], key[64];
	FILE *fp;

	/* A scratch directory holding the config and links to the PEM files. */
	assert_non_null(mkdtemp(dir));
	snprintf(p, sizeof p, "%s/web.yml", dir);
	snprintf(crt, sizeof crt, "%s/server.crt", dir);
	snprintf(key, sizeof key, "%s/server.key", dir);
	assert_int_equal(symlink(DATA "/server.crt", crt), 0);
	assert_int_equal(symlink(DATA "/server.key", key), 0);
	fp = fopen(p, "w");
	assert_non_null(fp);
	fputs("tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"
	    "  max_version: TLS12\n", fp);
	fclose(fp);
	assert_int_equal(webcfg_load(p, &c, err, sizeof err), 0);
	assert_string_equal(c->tls.cert_file, crt);
	assert_int_equal(c->tls.client_auth, WEBCFG_NO_CLIENT_CERT);
	assert_string_equal(webcfg_tls_priorities(&c->tls, prio, sizeof prio),
	    "NORMAL:-VERS-ALL:+VERS-TLS1.2");
	/* Same file, same server; another version range is a change. */
	assert_int_equal(webcfg_load(p, &d, err, sizeof err), 0);
	assert_int_equal(webcfg_tls_equal(c, d), 1);
	d->tls.max_version = 13;
	assert_int_equal(webcfg_tls_equal(c, d), 0);
	webcfg_free(c);
	webcfg_free(d);
	unlink(p);
	unlink(crt);
	unlink(key);
	rmdir(dir);
}

/* An empty file is exporter-toolkit's "no TLS, no auth". */
static void
test_empty(void **state)
{
	(void)state;
	struct webcfg *c;
	char err[512];

	write_file("");
	assert_int_equal(webcfg_load(path, &c, err, sizeof err), 0);
	assert_int_equal(c->tls.enabled, 0);
	assert_int_equal(c->nusers, 0);
	webcfg_free(c);
	unlink(path);
	webcfg_free(NULL);
}

static const struct {
	const char *text;
	const char *want;   /* after "PATH" */
} bad[] = {
	{ "tls_server_config: [\n", ":2: YAML syntax:" },
	{ "- a\n", ":1: the top level must be a mapping" },
	{ "basic_auth_users: {}\nrate_limit: 1\n", ":2: unknown top-level key \"rate_limit\"" },
	{ "basic_auth_users: {}\nbasic_auth_users: {}\n",
	  ":2: basic_auth_users given twice (first at line 1)" },
	{ "basic_auth_users:\n  alice: secret\n", ":2: basic_auth_users: user \"alice\": the "
	  "password must be a bcrypt hash" },
	{ "basic_auth_users:\n  alice: $1$abc$defghijklmnopqrstuvwxy\n",
	  ":2: basic_auth_users: user \"alice\": the password must be a bcrypt hash" },
	{ "basic_auth_users:\n  alice: $2b$99$YNnhe9YM8bIr/9Veztb2tu4y.0EvwNlGIZQ65.YJ4Xxb54vLJ31G6\n",
	  ":2: basic_auth_users: user \"alice\": the password must be a bcrypt hash" },
	{ "basic_auth_users:\n  a:b: " HASH "\n", ":2: basic_auth_users: user name \"a:b\"" },
	{ "basic_auth_users:\n  - alice\n", ":2: basic_auth_users: want a mapping" },
	{ "basic_auth_users:\n  alice: " HASH "\n  alice: " HASH "\n",
	  ":3: basic_auth_users: user \"alice\" given twice" },
	{ "http_server_config:\n  headers:\n    Content-Type: text/html\n",
	  ":3: headers: Content-Type is set by the server and cannot be overridden" },
	{ "http_server_config:\n  headers:\n    content-length: '5'\n",
	  ":3: headers: Content-Length is set by the server" },
	{ "http_server_config:\n  headers:\n    \"Bad Name\": x\n",
	  ":3: headers: \"Bad Name\" is not a valid header name" },
	{ "http_server_config:\n  headers:\n    X-A: \"a\\r\\nSet-Cookie: x\"\n",
	  ":3: headers: X-A: the value holds a control character" },
	{ "http_server_config:\n  timeouts: 1\n", ":2: http_server_config: unknown key \"timeouts\"" },
	{ "tls_server_config:\n  cert_file: " DATA "/server.crt\n",
	  ":2: tls_server_config: cert_file is set but key_file is missing" },
	{ "tls_server_config:\n  key_file: " DATA "/server.key\n",
	  ":2: tls_server_config: key_file is set but cert_file is missing" },
	{ "tls_server_config:\n  cert_file: /nonexistent/x.crt\n  key_file: " DATA "/server.key\n",
	  ":2: cert_file: cannot open /nonexistent/x.crt: No such file or directory" },
	{ "tls_server_config:\n  cert_file: " DATA "/server.crt\n  key_file: " DATA "/other.key\n",
	  ":2: cert_file " DATA "/server.crt with key_file " DATA "/other.key:" },
	{ "tls_server_config:\n  cert_file: " DATA "/server.key\n  key_file: " DATA "/server.key\n",
	  ":2: cert_file " DATA "/server.key with key_file" },
	{ "tls_server_config:\n  cert_file: " DATA "/server.crt\n  key_file: " DATA "/server.key\n"
	  "  client_ca_file: " DATA "/server.key\n  client_auth_type: VerifyClientCertIfGiven\n",
	  ":4: client_ca_file " DATA "/server.key: no PEM certificate in it" },
	{ "tls_server_config:\n  cert_file: " DATA "/server.crt\n  key_file: " DATA "/server.key\n"
	  "  client_auth_type: RequireAndVerify\n",
	  ":4: client_auth_type: \"RequireAndVerify\" is not one of" },
	{ "tls_server_config:\n  cert_file: " DATA "/server.crt\n  key_file: " DATA "/server.key\n"
	  "  client_auth_type: RequireAndVerifyClientCert\n",
	  ":4: client_auth_type RequireAndVerifyClientCert needs client_ca_file" },
	{ "tls_server_config:\n  cert_file: " DATA "/server.crt\n  key_file: " DATA "/server.key\n"
	  "  client_ca_file: " DATA "/server.crt\n",
	  ":4: client_ca_file is set but client_auth_type is NoClientCert" },
	{ "tls_server_config:\n  client_auth_type: RequireAnyClientCert\n",
	  ":2: tls_server_config: client certificates need TLS" },
	{ "tls_server_config:\n  min_version: TLS10\n",
	  ":2: min_version: TLS10 is not supported" },
	{ "tls_server_config:\n  max_version: SSL3\n", ":2: max_version: \"SSL3\" is not TLS12 or TLS13" },
	{ "tls_server_config:\n  min_version: TLS13\n  max_version: TLS12\n",
	  ":2: tls_server_config: min_version TLS13 is above max_version TLS12" },
	{ "tls_server_config:\n  cipher_suites: [TLS_AES_128_GCM_SHA256]\n",
	  ":2: tls_server_config: cipher_suites is not supported by maillog_exporter" },
	{ "tls_server_config:\n  certfile: x\n", ":2: tls_server_config: unknown key \"certfile\"" },
	{ "tls_server_config:\n  cert_file: [a]\n", ":2: cert_file: want a string, not a list" },
	{ "basic_auth_users: {}\n---\nx: 1\n", ":3: a second YAML document" },
};

static void
test_bad_files(void **state)
{
	(void)state;
	struct webcfg *c;
	char err[512], want[600];

	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		write_file(bad[i].text);
		c = (struct webcfg *)&c;
		if (webcfg_load(path, &c, err, sizeof err) != -1)
			fail_msg("case %zu loaded: %s", i, bad[i].text);
		assert_null(c);
		snprintf(want, sizeof want, "%s%s", path, bad[i].want);
		if (strncmp(err, want, strlen(want)) != 0)
			fail_msg("case %zu:\n got: %s\nwant: %s...", i, err, want);
		unlink(path);
	}
	assert_int_equal(webcfg_load("/nonexistent/web.yml", &c, err, sizeof err), -1);
	assert_string_equal(err, "/nonexistent/web.yml: cannot open: No such file or directory");
	assert_int_equal(webcfg_load("/tmp", &c, err, sizeof err), -1);
	assert_string_equal(err, "/tmp: not a regular file");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_file),
		cmocka_unit_test(test_relative_paths),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_bad_files),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
