/*
 * webconfig.c - read --web.config.file (exporter-toolkit's format) with
 * libyaml's document API, which keeps each node's line, so every complaint
 * says where in the file it is.
 *
 * Keys of exporter-toolkit that change what the server accepts but that
 * this exporter cannot honour (cipher_suites, client_allowed_sans, ...)
 * are refused by name rather than ignored: a file that says "only these
 * clients" must not silently serve everyone. Two keys that only tune
 * Go's server are accepted and ignored: prefer_server_cipher_suites and
 * http_server_config.http2.
 */
#include "web/webconfig.h"

#include <errno.h>
#include <gnutls/gnutls.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <yaml.h>

#include "util/yamldoc.h"
#include "web/webdl.h"

struct reader {
	struct yamldoc y;
	struct webcfg *cfg;
};

/* "key:" with nothing after it: YAML's null, which the toolkit's Go
 * reader takes as the field's zero value. */
static int
is_null(const yaml_node_t *n)
{
	return n->type == YAML_SCALAR_NODE && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
	    (n->data.scalar.length == 0 || strcmp((const char *)n->data.scalar.value, "null") == 0 ||
	    strcmp((const char *)n->data.scalar.value, "~") == 0);
}

/* The config file's directory joined with name, unless name is absolute. */
static char *
resolve(const char *cfgpath, const char *name)
{
	const char *slash = strrchr(cfgpath, '/');
	char *out;

	if (name[0] == '/' || slash == NULL)
		return strdup(name);
	size_t dlen = (size_t)(slash - cfgpath);
	if ((out = malloc(dlen + 1 + strlen(name) + 1)) == NULL)
		return NULL;
	memcpy(out, cfgpath, dlen);
	out[dlen] = '/';
	strcpy(out + dlen + 1, name);
	return out;
}

/* Read a PEM file (at most WEBCFG_MAX_BYTES) into a NUL-terminated string. */
static int
read_pem(struct reader *r, size_t line, const char *key, const char *file, char **out)
{
	struct stat st;
	FILE *fp;
	char *buf;

	if ((fp = fopen(file, "rb")) == NULL)
		return yamldoc_fail(&r->y, line,
		    "%s: cannot open %s: %s", key, file, strerror(errno));
	if (fstat(fileno(fp), &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > WEBCFG_MAX_BYTES) {
		fclose(fp);
		return yamldoc_fail(&r->y, line,
		    "%s: %s is not a regular file of at most %d bytes", key, file,
		    WEBCFG_MAX_BYTES);
	}
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
		fclose(fp);
		return yamldoc_fail(&r->y, line, "out of memory");
	}
	size_t n = fread(buf, 1, (size_t)st.st_size, fp);
	int rerr = ferror(fp);
	fclose(fp);
	if (rerr) {
		free(buf);
		return yamldoc_fail(&r->y, line, "%s: cannot read %s", key, file);
	}
	buf[n] = '\0';
	if (n == 0) {
		free(buf);
		return yamldoc_fail(&r->y, line, "%s: %s is empty", key, file);
	}
	*out = buf;
	return 0;
}

static const char *const auth_names[] = {
	"NoClientCert", "RequestClientCert", "RequireAnyClientCert",
	"VerifyClientCertIfGiven", "RequireAndVerifyClientCert",
};

/*
 * exporter-toolkit's name of a client_auth_type value.
 */
const char *
webcfg_client_auth_name(enum webcfg_client_auth a)
{
	return auth_names[a];
}

static int
tls_version(struct reader *r, const yaml_node_t *v, const char *key, int *out)
{
	const char *s;

	if (yamldoc_scalar(&r->y, v, key, &s) < 0)
		return -1;
	if (strcmp(s, "TLS12") == 0)
		*out = 12;
	else if (strcmp(s, "TLS13") == 0)
		*out = 13;
	else if (strcmp(s, "TLS10") == 0 || strcmp(s, "TLS11") == 0)
		return yamldoc_fail(&r->y, yamldoc_line(v),
		    "%s: %s is not supported (TLS 1.0 and 1.1 are obsolete); use TLS12 or TLS13",
		    key, s);
	else
		return yamldoc_fail(&r->y, yamldoc_line(v),
		    "%s: \"%.40s\" is not TLS12 or TLS13", key, s);
	return 0;
}

/* Check that key_pem is the private key of cert_pem, the way the server
 * will load them, and that ca_pem holds at least one certificate. */
static int
check_pems(struct reader *r, size_t cert_line, size_t ca_line)
{
	struct webcfg_tls *t = &r->cfg->tls;
	gnutls_certificate_credentials_t cred;
	gnutls_datum_t cert = { (unsigned char *)t->cert_pem, (unsigned)strlen(t->cert_pem) };
	gnutls_datum_t key = { (unsigned char *)t->key_pem, (unsigned)strlen(t->key_pem) };
	char why[256];
	int rc;

	/* GnuTLS is loaded here, not at start: only a config with TLS needs
	 * it before the web server does. */
	if (webdl_load(why, sizeof why) < 0)
		return yamldoc_fail(&r->y, cert_line, "cert_file %s: %s", t->cert_file, why);
	if (sym_gnutls_certificate_allocate_credentials(&cred) < 0)
		return yamldoc_fail(&r->y, 0, "out of memory");
	rc = sym_gnutls_certificate_set_x509_key_mem(cred, &cert, &key, GNUTLS_X509_FMT_PEM);
	if (rc < 0) {
		sym_gnutls_certificate_free_credentials(cred);
		return yamldoc_fail(&r->y, cert_line,
		    "cert_file %s with key_file %s: %s", t->cert_file, t->key_file,
		    sym_gnutls_strerror(rc));
	}
	if (t->ca_pem != NULL) {
		gnutls_datum_t ca = { (unsigned char *)t->ca_pem, (unsigned)strlen(t->ca_pem) };
		rc = sym_gnutls_certificate_set_x509_trust_mem(cred, &ca, GNUTLS_X509_FMT_PEM);
		if (rc <= 0) {
			sym_gnutls_certificate_free_credentials(cred);
			return yamldoc_fail(&r->y, ca_line, "client_ca_file %s: %s", t->ca_file,
			    rc < 0 ? sym_gnutls_strerror(rc) : "no PEM certificate in it");
		}
	}
	sym_gnutls_certificate_free_credentials(cred);
	return 0;
}

static const char tls_keys[] = "cert_file, key_file, client_ca_file, client_auth_type, "
    "min_version, max_version";

static int
read_tls(struct reader *r, const yaml_node_t *m)
{
	struct webcfg_tls *t = &r->cfg->tls;
	const char *cert = NULL, *key = NULL, *ca = NULL, *s;
	size_t cert_line = 0, key_line = 0, ca_line = 0, auth_line = 0;
	static const char *const refused[] = {
		"cert", "key", "client_ca", "cipher_suites", "curve_preferences",
		"client_allowed_sans", NULL,
	};

	t->min_version = 12;
	t->max_version = 13;
	if (is_null(m))
		return 0;
	if (m->type != YAML_MAPPING_NODE)
		return yamldoc_fail(&r->y, yamldoc_line(m),
		    "tls_server_config: want a mapping with keys %s, not %s", tls_keys,
		    yamldoc_kind(m));
	for (yaml_node_pair_t *pr = m->data.mapping.pairs.start; pr < m->data.mapping.pairs.top;
	    pr++) {
		yaml_node_t *k = yamldoc_node(&r->y, pr->key), *v = yamldoc_node(&r->y, pr->value);
		const char *name;

		if (yamldoc_scalar(&r->y, k, "key", &name) < 0)
			return -1;
		for (const char *const *x = refused; *x; x++)
			if (strcmp(name, *x) == 0)
				return yamldoc_fail(&r->y, yamldoc_line(k),
				    "tls_server_config: %s is not supported by maillog_exporter "
				    "(supported: %s)", name, tls_keys);
		if (strcmp(name, "prefer_server_cipher_suites") == 0)
			continue;
		if (is_null(v))
			continue;
		if (strcmp(name, "cert_file") == 0) {
			if (yamldoc_scalar(&r->y, v, name, &cert) < 0)
				return -1;
			cert_line = yamldoc_line(k);
		} else if (strcmp(name, "key_file") == 0) {
			if (yamldoc_scalar(&r->y, v, name, &key) < 0)
				return -1;
			key_line = yamldoc_line(k);
		} else if (strcmp(name, "client_ca_file") == 0) {
			if (yamldoc_scalar(&r->y, v, name, &ca) < 0)
				return -1;
			ca_line = yamldoc_line(k);
		} else if (strcmp(name, "client_auth_type") == 0) {
			size_t i;
			if (yamldoc_scalar(&r->y, v, name, &s) < 0)
				return -1;
			for (i = 0; i < sizeof auth_names / sizeof *auth_names; i++)
				if (strcmp(s, auth_names[i]) == 0)
					break;
			if (i == sizeof auth_names / sizeof *auth_names)
				return yamldoc_fail(&r->y, yamldoc_line(v),
				    "client_auth_type: \"%.60s\" is not one of NoClientCert, "
				    "RequestClientCert, RequireAnyClientCert, "
				    "VerifyClientCertIfGiven, RequireAndVerifyClientCert", s);
			t->client_auth = (enum webcfg_client_auth)i;
			auth_line = yamldoc_line(k);
		} else if (strcmp(name, "min_version") == 0) {
			if (tls_version(r, v, name, &t->min_version) < 0)
				return -1;
		} else if (strcmp(name, "max_version") == 0) {
			if (tls_version(r, v, name, &t->max_version) < 0)
				return -1;
		} else {
			return yamldoc_fail(&r->y, yamldoc_line(k),
			    "tls_server_config: unknown key \"%.40s\" (want %s)", name, tls_keys);
		}
	}
	if (t->min_version > t->max_version)
		return yamldoc_fail(&r->y, yamldoc_line(m),
		    "tls_server_config: min_version TLS%d is above max_version TLS%d",
		    t->min_version, t->max_version);
	if (cert == NULL && key == NULL) {
		if (ca != NULL || auth_line != 0)
			return yamldoc_fail(&r->y, ca_line ? ca_line : auth_line,
			    "tls_server_config: client certificates need TLS: set cert_file and "
			    "key_file");
		return 0;
	}
	if (cert == NULL || key == NULL)
		return yamldoc_fail(&r->y, cert_line ? cert_line : key_line,
		    "tls_server_config: %s is set but %s is missing",
		    cert ? "cert_file" : "key_file", cert ? "key_file" : "cert_file");
	/* exporter-toolkit's rules: a CA without a policy that uses it is a
	 * mistake, and verifying needs a CA. */
	if (ca != NULL && t->client_auth == WEBCFG_NO_CLIENT_CERT)
		return yamldoc_fail(&r->y, ca_line, "client_ca_file is set but client_auth_type is "
		    "NoClientCert (the default); set client_auth_type, e.g. "
		    "RequireAndVerifyClientCert");
	if (ca == NULL && (t->client_auth == WEBCFG_VERIFY_CLIENT_CERT_IF_GIVEN ||
	    t->client_auth == WEBCFG_REQUIRE_AND_VERIFY_CLIENT_CERT))
		return yamldoc_fail(&r->y, auth_line,
		    "client_auth_type %s needs client_ca_file (the authority client certificates "
		    "are checked against)", auth_names[t->client_auth]);
	t->enabled = 1;
	if ((t->cert_file = resolve(r->y.path, cert)) == NULL ||
	    (t->key_file = resolve(r->y.path, key)) == NULL ||
	    (ca != NULL && (t->ca_file = resolve(r->y.path, ca)) == NULL))
		return yamldoc_fail(&r->y, 0, "out of memory");
	if (read_pem(r, cert_line, "cert_file", t->cert_file, &t->cert_pem) < 0 ||
	    read_pem(r, key_line, "key_file", t->key_file, &t->key_pem) < 0 ||
	    (ca != NULL && read_pem(r, ca_line, "client_ca_file", t->ca_file, &t->ca_pem) < 0))
		return -1;
	return check_pems(r, cert_line, ca_line);
}

/* "$2b$10$" and 53 characters of bcrypt's base64 (22 salt, 31 hash). */
static int
is_bcrypt(const char *h)
{
	if (strlen(h) != 60 || h[0] != '$' || h[1] != '2' || strchr("aby", h[2]) == NULL ||
	    h[3] != '$' || h[4] < '0' || h[4] > '3' || h[5] < '0' || h[5] > '9' || h[6] != '$')
		return 0;
	int cost = (h[4] - '0') * 10 + (h[5] - '0');
	if (cost < 4 || cost > 31)
		return 0;
	for (const char *p = h + 7; *p; p++)
		if (strchr("./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
		    *p) == NULL)
			return 0;
	return 1;
}

static int
read_users(struct reader *r, const yaml_node_t *m)
{
	struct webcfg *c = r->cfg;
	size_t n;

	if (is_null(m))
		return 0;
	if (m->type != YAML_MAPPING_NODE)
		return yamldoc_fail(&r->y, yamldoc_line(m),
		    "basic_auth_users: want a mapping of user: bcrypt hash, not %s",
		    yamldoc_kind(m));
	n = (size_t)(m->data.mapping.pairs.top - m->data.mapping.pairs.start);
	if ((c->users = calloc(n ? n : 1, sizeof *c->users)) == NULL)
		return yamldoc_fail(&r->y, 0, "out of memory");
	for (yaml_node_pair_t *pr = m->data.mapping.pairs.start; pr < m->data.mapping.pairs.top;
	    pr++) {
		yaml_node_t *k = yamldoc_node(&r->y, pr->key), *v = yamldoc_node(&r->y, pr->value);
		const char *user, *hash;

		if (yamldoc_scalar(&r->y, k, "user name", &user) < 0 ||
		    yamldoc_scalar(&r->y, v, "password hash", &hash) < 0)
			return -1;
		/* Basic auth sends "user:password": a colon cannot be in a name. */
		if (user[0] == '\0' || strchr(user, ':') != NULL)
			return yamldoc_fail(&r->y, yamldoc_line(k),
			    "basic_auth_users: user name \"%.60s\" must be non-empty and "
			    "have no ':'", user);
		for (size_t i = 0; i < c->nusers; i++)
			if (strcmp(c->users[i].name, user) == 0)
				return yamldoc_fail(&r->y, yamldoc_line(k),
				    "basic_auth_users: user \"%.60s\" given twice", user);
		if (!is_bcrypt(hash))
			return yamldoc_fail(&r->y, yamldoc_line(v),
			    "basic_auth_users: user \"%.60s\": the password must be a bcrypt hash "
			    "($2a$, $2b$ or $2y$, cost 04-31, 60 characters; e.g. from htpasswd "
			    "-nbBC 10 USER PASSWORD), not a plain password", user);
		/* Counted before the check, so webcfg_free frees whichever copy
		 * was made. */
		c->users[c->nusers].name = strdup(user);
		c->users[c->nusers].hash = strdup(hash);
		c->nusers++;
		if (c->users[c->nusers - 1].name == NULL || c->users[c->nusers - 1].hash == NULL)
			return yamldoc_fail(&r->y, 0, "out of memory");
	}
	return 0;
}

/* Headers the server sets itself, or that frame the message: letting the
 * file set them would make responses contradict their own body. */
static const char *const reserved_headers[] = {
	"Content-Type", "Content-Length", "Content-Encoding", "Transfer-Encoding",
	"Connection", "Keep-Alive", "Upgrade", "Trailer", "Date", "Vary", "Allow",
	"WWW-Authenticate", "Cache-Control", "X-Content-Type-Options", "Retry-After",
	NULL,
};

/* An HTTP token (RFC 9110 tchar). */
static int
is_token(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || strchr("!#$%&'*+-.^_`|~", *s) != NULL))
			return 0;
	return 1;
}

static int
read_headers(struct reader *r, const yaml_node_t *m)
{
	struct webcfg *c = r->cfg;
	size_t n;

	if (is_null(m))
		return 0;
	if (m->type != YAML_MAPPING_NODE)
		return yamldoc_fail(&r->y, yamldoc_line(m),
		    "http_server_config.headers: want a mapping of Header-Name: value, not %s",
		    yamldoc_kind(m));
	n = (size_t)(m->data.mapping.pairs.top - m->data.mapping.pairs.start);
	if ((c->headers = calloc(n ? n : 1, sizeof *c->headers)) == NULL)
		return yamldoc_fail(&r->y, 0, "out of memory");
	for (yaml_node_pair_t *pr = m->data.mapping.pairs.start; pr < m->data.mapping.pairs.top;
	    pr++) {
		yaml_node_t *k = yamldoc_node(&r->y, pr->key), *v = yamldoc_node(&r->y, pr->value);
		const char *name, *value;

		if (yamldoc_scalar(&r->y, k, "header name", &name) < 0 ||
		    yamldoc_scalar(&r->y, v, "header value", &value) < 0)
			return -1;
		if (!is_token(name))
			return yamldoc_fail(&r->y, yamldoc_line(k),
			    "headers: \"%.60s\" is not a valid header name", name);
		for (const char *const *x = reserved_headers; *x; x++)
			if (strcasecmp(name, *x) == 0)
				return yamldoc_fail(&r->y, yamldoc_line(k),
				    "headers: %s is set by the server and cannot be overridden",
				    *x);
		for (size_t i = 0; i < c->nheaders; i++)
			if (strcasecmp(c->headers[i].name, name) == 0)
				return yamldoc_fail(&r->y, yamldoc_line(k),
				    "headers: %.60s given twice", name);
		for (const unsigned char *p = (const unsigned char *)value; *p; p++)
			if ((*p < 0x20 && *p != '\t') || *p == 0x7f)
				return yamldoc_fail(&r->y, yamldoc_line(v),
				    "headers: %.60s: the value holds a control character (a line "
				    "break would split the response)", name);
		/* Counted before the check, as for the users. */
		c->headers[c->nheaders].name = strdup(name);
		c->headers[c->nheaders].value = strdup(value);
		c->nheaders++;
		if (c->headers[c->nheaders - 1].name == NULL ||
		    c->headers[c->nheaders - 1].value == NULL)
			return yamldoc_fail(&r->y, 0, "out of memory");
	}
	return 0;
}

static int
read_http(struct reader *r, const yaml_node_t *m)
{
	if (is_null(m))
		return 0;
	if (m->type != YAML_MAPPING_NODE)
		return yamldoc_fail(&r->y, yamldoc_line(m),
		    "http_server_config: want a mapping, not %s", yamldoc_kind(m));
	for (yaml_node_pair_t *pr = m->data.mapping.pairs.start; pr < m->data.mapping.pairs.top;
	    pr++) {
		yaml_node_t *k = yamldoc_node(&r->y, pr->key), *v = yamldoc_node(&r->y, pr->value);
		const char *name;

		if (yamldoc_scalar(&r->y, k, "key", &name) < 0)
			return -1;
		if (strcmp(name, "headers") == 0) {
			if (read_headers(r, v) < 0)
				return -1;
		} else if (strcmp(name, "http2") != 0) {
			return yamldoc_fail(&r->y, yamldoc_line(k),
			    "http_server_config: unknown key \"%.40s\" (want headers or http2)",
			    name);
		}
	}
	return 0;
}

static int
read_root(struct reader *r)
{
	yaml_node_t *root = yaml_document_get_root_node(&r->y.doc);
	size_t seen[3] = { 0, 0, 0 };
	static const char *const keys[] = {
		"tls_server_config", "basic_auth_users", "http_server_config",
	};

	r->cfg->tls.min_version = 12;
	r->cfg->tls.max_version = 13;
	if (root == NULL || is_null(root))
		return 0;  /* an empty file: plain HTTP, no auth, as in exporter-toolkit */
	if (root->type != YAML_MAPPING_NODE)
		return yamldoc_fail(&r->y, yamldoc_line(root),
		    "the top level must be a mapping (tls_server_config, basic_auth_users, "
		    "http_server_config), not %s", yamldoc_kind(root));
	for (yaml_node_pair_t *pr = root->data.mapping.pairs.start;
	    pr < root->data.mapping.pairs.top; pr++) {
		yaml_node_t *k = yamldoc_node(&r->y, pr->key), *v = yamldoc_node(&r->y, pr->value);
		const char *name;
		size_t i;
		int rc;

		if (yamldoc_scalar(&r->y, k, "key", &name) < 0)
			return -1;
		for (i = 0; i < 3 && strcmp(name, keys[i]) != 0; i++)
			;
		if (i == 3)
			return yamldoc_fail(&r->y, yamldoc_line(k),
			    "unknown top-level key \"%.40s\" (want tls_server_config, "
			    "basic_auth_users or http_server_config)", name);
		if (seen[i])
			return yamldoc_fail(&r->y, yamldoc_line(k),
			    "%s given twice (first at line %zu)", name, seen[i]);
		seen[i] = yamldoc_line(k);
		rc = i == 0 ? read_tls(r, v) : i == 1 ? read_users(r, v) : read_http(r, v);
		if (rc < 0)
			return -1;
	}
	return 0;
}

/*
 * Load and check path; see webconfig.h. Everything kept is copied out of
 * the YAML document, which is freed before returning.
 */
int
webcfg_load(const char *path, struct webcfg **out, char *err, size_t errlen)
{
	struct reader r = { .y = { .path = path, .err = err, .errlen = errlen } };
	int rc;

	*out = NULL;
	if ((r.cfg = calloc(1, sizeof *r.cfg)) == NULL || (r.cfg->path = strdup(path)) == NULL) {
		webcfg_free(r.cfg);
		snprintf(err, errlen, "%s: out of memory", path);
		return -1;
	}
	rc = yamldoc_load(&r.y, WEBCFG_MAX_BYTES, "web config file", 0);
	if (rc == 0)
		rc = read_root(&r);
	yamldoc_fini(&r.y);
	if (rc < 0) {
		webcfg_free(r.cfg);
		return -1;
	}
	*out = r.cfg;
	return 0;
}

/*
 * Free a loaded config. The key's PEM is wiped first: it should not linger
 * in freed memory.
 */
void
webcfg_free(struct webcfg *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->nusers; i++) {
		free(c->users[i].name);
		free(c->users[i].hash);
	}
	free(c->users);
	for (size_t i = 0; i < c->nheaders; i++) {
		free(c->headers[i].name);
		free(c->headers[i].value);
	}
	free(c->headers);
	free(c->tls.cert_file);
	free(c->tls.key_file);
	free(c->tls.ca_file);
	free(c->tls.cert_pem);
	if (c->tls.key_pem != NULL)
		explicit_bzero(c->tls.key_pem, strlen(c->tls.key_pem));
	free(c->tls.key_pem);
	free(c->tls.ca_pem);
	free(c->path);
	free(c);
}

static int
same_str(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/*
 * Would a and b start the same TLS server? Compares contents, not file
 * names, so a renewed certificate at the same path counts as a change.
 */
int
webcfg_tls_equal(const struct webcfg *a, const struct webcfg *b)
{
	int ea = a != NULL && a->tls.enabled, eb = b != NULL && b->tls.enabled;

	if (!ea || !eb)
		return ea == eb;
	return same_str(a->tls.cert_pem, b->tls.cert_pem) &&
	    same_str(a->tls.key_pem, b->tls.key_pem) &&
	    same_str(a->tls.ca_pem, b->tls.ca_pem) &&
	    a->tls.client_auth == b->tls.client_auth &&
	    a->tls.min_version == b->tls.min_version &&
	    a->tls.max_version == b->tls.max_version;
}

/*
 * GnuTLS's defaults with only the allowed protocol versions enabled, e.g.
 * "NORMAL:-VERS-ALL:+VERS-TLS1.2:+VERS-TLS1.3".
 */
const char *
webcfg_tls_priorities(const struct webcfg_tls *tls, char *buf, size_t len)
{
	snprintf(buf, len, "NORMAL:-VERS-ALL%s%s",
	    tls->min_version <= 12 && tls->max_version >= 12 ? ":+VERS-TLS1.2" : "",
	    tls->max_version >= 13 ? ":+VERS-TLS1.3" : "");
	return buf;
}
