/*
 * webconfig.h - --web.config.file: TLS, basic auth and extra response
 * headers in the Prometheus exporter-toolkit format, so a node_exporter
 * web config file works here unchanged (README.md, "TLS and basic auth").
 *
 *   tls_server_config:
 *     cert_file: server.crt
 *     key_file: server.key
 *     client_auth_type: RequireAndVerifyClientCert
 *     client_ca_file: ca.crt
 *     min_version: TLS12
 *   basic_auth_users:
 *     prometheus: $2b$10$...
 *   http_server_config:
 *     headers:
 *       Strict-Transport-Security: max-age=31536000
 */
#ifndef WEBCONFIG_H
#define WEBCONFIG_H

#include <stddef.h>

/* The size cap of the file and of each PEM file it names. */
#define WEBCFG_MAX_BYTES (1024 * 1024)

/* exporter-toolkit's client_auth_type values, in its spelling. */
enum webcfg_client_auth {
	WEBCFG_NO_CLIENT_CERT = 0,
	WEBCFG_REQUEST_CLIENT_CERT,
	WEBCFG_REQUIRE_ANY_CLIENT_CERT,
	WEBCFG_VERIFY_CLIENT_CERT_IF_GIVEN,
	WEBCFG_REQUIRE_AND_VERIFY_CLIENT_CERT,
};

struct webcfg_user {
	char *name;
	char *hash;        /* bcrypt: $2a$, $2b$ or $2y$, 60 characters */
};

struct webcfg_header {
	char *name;
	char *value;
};

struct webcfg_tls {
	int enabled;                   /* tls_server_config has a cert_file */
	char *cert_file, *key_file, *ca_file;   /* as resolved (relative to the file) */
	char *cert_pem, *key_pem, *ca_pem;      /* their contents; ca_pem may be NULL */
	enum webcfg_client_auth client_auth;
	int min_version, max_version;  /* 12 or 13: TLS 1.2, TLS 1.3 */
};

struct webcfg {
	char *path;
	struct webcfg_tls tls;
	struct webcfg_user *users;
	size_t nusers;
	struct webcfg_header *headers;
	size_t nheaders;
};

/*
 * Read and check the web config file at path: YAML shape, known keys,
 * client_auth_type and TLS version words, bcrypt hash syntax, header names
 * and values. The certificate, key and CA files are read too, and the key
 * is checked to belong to the certificate, so a file that loads is one
 * the HTTP server can start with. Relative file names are taken from the
 * config file's directory, as exporter-toolkit does.
 *
 * Returns 0 with *out set (free with webcfg_free), or -1 with *out NULL and
 * one line in err: "PATH:LINE: problem" for a problem at a place in the
 * file, "PATH: problem" otherwise.
 */
int webcfg_load(const char *path, struct webcfg **out, char *err, size_t errlen);

/* Free c and everything it holds; webcfg_free(NULL) is a no-op. */
void webcfg_free(struct webcfg *c);

/* 1 if a and b (either may be NULL: no TLS) would start the same TLS
 * server: same switch, PEM contents, client auth and versions. */
int webcfg_tls_equal(const struct webcfg *a, const struct webcfg *b);

/* The GnuTLS priority string for tls's version range, into buf. */
const char *webcfg_tls_priorities(const struct webcfg_tls *tls, char *buf, size_t len);

/* exporter-toolkit's name of a client_auth_type value. */
const char *webcfg_client_auth_name(enum webcfg_client_auth a);

#endif
