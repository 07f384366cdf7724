/*
 * admission.c - whether one request may be served: the --web.config.file
 * guards, the client certificate policy and then basic auth (web/auth.c
 * checks the password and throttles guessing), run before any route, the
 * health check and the status page included.
 *
 * The limits on connections (in all and per address) are libmicrohttpd's,
 * set in web/http.c: they act before there is a request to admit.
 */
#include "web/admission.h"

#include <gnutls/gnutls.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "util/log.h"
#include "util/monoclock.h"
#include "web/auth.h"
#include "web/response.h"
#include "web/webconfig.h"
#include "web/webdl.h"

/*
 * Why connection c's client certificate fails policy, or NULL when it
 * passes. libmicrohttpd only asks for a certificate (GNUTLS_CERT_REQUEST)
 * and completes the handshake whatever the client sends, so the policies
 * that require or verify one are enforced here, on the TLS session of
 * each request: gnutls_certificate_verify_peers2 checks the chain against
 * client_ca_file (the trust list MHD loaded) and the validity dates.
 */
static const char *
client_cert_problem(enum webcfg_client_auth policy, struct MHD_Connection *c,
    char *detail, size_t detail_len)
{
	const union MHD_ConnectionInfo *ci;
	gnutls_session_t s = NULL;
	unsigned int n = 0, status = 0;
	int rc;

	detail[0] = '\0';
	if (policy == WEBCFG_NO_CLIENT_CERT || policy == WEBCFG_REQUEST_CLIENT_CERT)
		return NULL;
	ci = sym_MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	if (ci != NULL)
		s = (gnutls_session_t)ci->tls_session;
	if (s == NULL)
		return "a TLS client certificate is required";
	if (sym_gnutls_certificate_get_peers(s, &n) == NULL || n == 0) {
		if (policy == WEBCFG_VERIFY_CLIENT_CERT_IF_GIVEN)
			return NULL;
		return "a TLS client certificate is required";
	}
	if (policy == WEBCFG_REQUIRE_ANY_CLIENT_CERT)
		return NULL;
	rc = sym_gnutls_certificate_verify_peers2(s, &status);
	if (rc < 0) {
		snprintf(detail, detail_len, "%s", sym_gnutls_strerror(rc));
		return "the TLS client certificate cannot be verified";
	}
	if (status != 0) {
		gnutls_datum_t out = { NULL, 0 };
		if (sym_gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509, &out,
		    0) == 0 && out.data != NULL) {
			snprintf(detail, detail_len, "%s", (const char *)out.data);
			(*sym_gnutls_free)(out.data);
		}
		return "the TLS client certificate is not trusted (not signed by client_ca_file's "
		    "authority, or expired)";
	}
	return NULL;
}

/* The client's address as text, for log lines. */
static const char *
peer_text(struct MHD_Connection *c, char *buf, size_t len)
{
	const union MHD_ConnectionInfo *ci =
	    sym_MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);

	snprintf(buf, len, "?");
	if (ci != NULL && ci->client_addr != NULL)
		getnameinfo(ci->client_addr, ci->client_addr->sa_family == AF_INET6 ?
		    sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in), buf, (socklen_t)len,
		    NULL, 0, NI_NUMERICHOST);
	return buf;
}

/*
 * The guards, in order: the client certificate (403), then basic auth when
 * users are configured (401 with a Basic challenge, or 429 with
 * Retry-After while the client's address is locked out). A bcrypt check
 * takes 40-170 ms; the caller's lock is held for it, which only the
 * server's one thread waits on.
 */
int
admission_check(struct MHD_Connection *c, const struct webcfg *tls_cfg,
    const struct webcfg *cfg, struct auth *auth, enum MHD_Result *ret)
{
	char detail[256], addr[64];
	const char *why;
	int ok = 1;

	if (tls_cfg != NULL && tls_cfg->tls.enabled &&
	    (why = client_cert_problem(tls_cfg->tls.client_auth, c, detail,
	    sizeof detail)) != NULL) {
		log_limited(LOG_LIMIT_HTTP, LOG_LEVEL_WARN, "http: refused %s: %s%s%s",
		    peer_text(c, addr, sizeof addr), why, detail[0] ? ": " : "", detail);
		snprintf(detail, sizeof detail, "403 forbidden: %s\n", why);
		*ret = response_queue_text(c, MHD_HTTP_FORBIDDEN, detail, NULL, NULL, cfg);
		ok = 0;
	} else if (cfg != NULL && cfg->nusers > 0) {
		char *pass = NULL, *user = sym_MHD_basic_auth_get_username_password(c, &pass);
		const union MHD_ConnectionInfo *ci =
		    sym_MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
		enum auth_result res = AUTH_DENIED;
		unsigned retry = 0;

		if (user != NULL)
			res = auth_check(auth, cfg, user, pass ? pass : "",
			    ci ? ci->client_addr : NULL, mono_ms(), &retry);
		if (res == AUTH_DENIED) {
			if (user != NULL) {
				char ex[4 * 64 + 4];
				log_limited(LOG_LIMIT_HTTP, LOG_LEVEL_WARN,
				    "http: basic auth failed for user \"%s\" from %s",
				    log_excerpt(ex, user, strlen(user), 64),
				    peer_text(c, addr, sizeof addr));
			}
			*ret = response_queue_text(c, MHD_HTTP_UNAUTHORIZED, "401 unauthorized\n",
			    MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Basic realm=\"maillog_exporter\"",
			    cfg);
			ok = 0;
		} else if (res == AUTH_THROTTLED) {
			char secs[16];
			snprintf(secs, sizeof secs, "%u", retry);
			log_limited(LOG_LIMIT_HTTP, LOG_LEVEL_WARN, "http: basic auth from %s not "
			    "checked (too many failed logins), retry in %s s",
			    peer_text(c, addr, sizeof addr), secs);
			*ret = response_queue_text(c, MHD_HTTP_TOO_MANY_REQUESTS,
			    "429 too many failed logins: try again later\n",
			    MHD_HTTP_HEADER_RETRY_AFTER, secs, cfg);
			ok = 0;
		}
		if (pass != NULL) {
			explicit_bzero(pass, strlen(pass));
			sym_MHD_free(pass);
		}
		if (user != NULL)
			sym_MHD_free(user);
	}
	return ok;
}
