/*
 * http.c - the HTTP endpoint: libmicrohttpd's lifecycle (start, reload,
 * stop) on its internal polling thread, and the routing of each request.
 *
 * Routes: the telemetry path (the exposition), "/" (the status page,
 * web/page.c), "/healthz" (are the mail logs being followed?). GET and
 * HEAD only; nothing maps a URL to a file.
 *
 * The pieces a request goes through live beside this file: web/admission.c
 * (the --web.config.file client certificate policy and basic auth, before
 * any route), web/negotiate.c (format and gzip from Accept and
 * Accept-Encoding), web/respcache.c (the exposition rendered once per
 * change and shared by every scraper), web/response.c (the headers every
 * response carries). The listening socket is web/listen.c's.
 *
 * --web.config.file (web/webconfig.c): TLS is MHD's own (GnuTLS). A reload
 * swaps users and headers under the lock, and restarts MHD on the same
 * socket when TLS changes (web_reload).
 */
#include "web/http.h"

#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/log.h"
#include "util/strbuf.h"
#include "web/admission.h"
#include "web/auth.h"
#include "web/listen.h"
#include "web/negotiate.h"
#include "web/page.h"
#include "web/respcache.h"
#include "web/response.h"
#include "web/webconfig.h"
#include "web/webdl.h"

struct web {
	struct MHD_Daemon *mhd;
	const struct expo_view *view;
	char *telemetry_path;
	struct web_opts opts;           /* the limits, to restart MHD with */
	/* Our listening socket. MHD gets duplicates, so a SIGHUP that changes
	 * TLS can start a new MHD on it without binding again (which could
	 * need root after --run-as). */
	int listen_fd;
	/* --web.config.file: cfg is the current one (users, headers), read
	 * under lock; mhd_cfg the one the running MHD was started with (its
	 * TLS settings). Often the same object. NULL: none. */
	struct webcfg *cfg, *mhd_cfg;
	struct auth *auth;
	/* Built once (again when a reload changes the headers), queued to
	 * every request that needs them; replaced only under lock. */
	struct MHD_Response *not_found;
	struct MHD_Response *not_allowed;
	/* Guards cfg, the shared responses and the cache. MHD runs one
	 * thread, so it is never contended today; it keeps them correct
	 * should a thread pool be configured later. */
	pthread_mutex_t lock;
	struct respcache *cache;        /* the rendered exposition */
};

/* Defaults sized for a handful of Prometheus servers plus a browser or two:
 * 64 connections in all, 8 per address, 10 s idle, 32 KiB per connection
 * (a scrape request needs a few hundred bytes of headers). */
void
web_opts_defaults(struct web_opts *o)
{
	o->listen_address = WEB_DEFAULT_LISTEN;
	o->telemetry_path = "/metrics";
	o->connection_limit = 64;
	o->per_ip_limit = 8;
	o->timeout_s = 10;
	o->memory_limit = 32 * 1024;
	o->webcfg = NULL;
}

/*
 * Validate a telemetry path: it must start with '/', hold no control
 * characters or '?', and not hide /healthz. Returns 0, or -1 with a
 * one-line reason in err.
 */
static int
check_telemetry_path(const char *s, char *err, size_t errlen)
{
	if (s == NULL || s[0] != '/') {
		snprintf(err, errlen, "telemetry path must start with '/'");
		return -1;
	}
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p < 0x20 || *p == 0x7f || *p == '?' || *p == '#') {
			snprintf(err, errlen, "telemetry path must not contain control "
			    "characters, '?' or '#'");
			return -1;
		}
	}
	if (strcmp(s, "/healthz") == 0) {
		snprintf(err, errlen, "telemetry path /healthz is reserved for the health check");
		return -1;
	}
	return 0;
}

/* MHD's own messages (malformed requests, connection limits) are caused by
 * clients, so they go through the rate limiter like log-content warnings. */
static void mhd_log(void *cls, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];
	size_t n;

	(void)cls;  /* no context: the log is global */
	vsnprintf(msg, sizeof msg, fmt, ap);
	n = strlen(msg);
	while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		msg[--n] = '\0';
	log_limited(LOG_LIMIT_HTTP, LOG_LEVEL_WARN, "http: %s", msg);
}

/*
 * Out of memory building the answer to a request: that one response
 * fails. Logged rate-limited, since requests trigger it; the client gets
 * a 500 saying so, or, when even that cannot be built, a closed
 * connection. Never a stale or partial body. what says what failed
 * ("render metrics").
 */
static enum MHD_Result
serve_oom(struct web *w, struct MHD_Connection *c, const char *what)
{
	char text[128];
	enum MHD_Result ret;

	log_limited(LOG_LIMIT_HTTP, LOG_LEVEL_ERROR, "http: cannot %s: out of memory", what);
	snprintf(text, sizeof text, "cannot %s: out of memory\n", what);
	pthread_mutex_lock(&w->lock);
	ret = response_queue_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, text, NULL, NULL, w->cfg);
	pthread_mutex_unlock(&w->lock);
	return ret;
}

/* The exposition in the format and encoding the client asks for, from
 * the shared cache (web/respcache.c). */
static enum MHD_Result
serve_metrics(struct web *w, struct MHD_Connection *c)
{
	enum expo_format fmt = web_negotiate_format(sym_MHD_lookup_connection_value(c,
	    MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT));
	int gz = web_accepts_gzip(sym_MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_ACCEPT_ENCODING));
	struct MHD_Response *r;
	enum MHD_Result ret;

	/* Before the lock: a snapshot being taken must not hold up the
	 * scrapes that are served from cache. */
	if (w->view->refresh != NULL)
		w->view->refresh(w->view->refresh_ctx);
	pthread_mutex_lock(&w->lock);
	if ((r = respcache_get(w->cache, fmt, gz, w->cfg)) == NULL) {
		pthread_mutex_unlock(&w->lock);
		return serve_oom(w, c, "render metrics");
	}
	ret = sym_MHD_queue_response(c, MHD_HTTP_OK, r);
	pthread_mutex_unlock(&w->lock);
	return ret;
}

/* 200 "ok" when every source is followed (or has legitimately ended);
 * otherwise 503 and one line per source that is not, so a load balancer
 * or a human sees at once that, say, /var/log/mail.log does not exist. */
static enum MHD_Result
serve_health(struct web *w, struct MHD_Connection *c)
{
	const struct expo_view *v = w->view;
	struct strbuf b = { 0 };
	struct MHD_Response *r;
	unsigned int status = MHD_HTTP_OK;
	enum MHD_Result ret;

	for (int i = 0; i < v->nsources; i++) {
		int st = atomic_load_explicit(&v->sources[i].status->state, memory_order_relaxed);
		const char *why;

		if (st == INPUT_STATE_WAITING)
			why = "file does not exist yet";
		else if (st == INPUT_STATE_ERROR)
			why = "cannot be opened or read; retrying";
		else
			continue;
		status = MHD_HTTP_SERVICE_UNAVAILABLE;
		if (strbuf_printf(&b, "%s: %s (%s)\n", v->sources[i].path,
		    input_state_name((enum input_state)st), why) < 0)
			goto oom;
	}
	if (status == MHD_HTTP_OK && strbuf_append(&b, "ok\n", 3) < 0)
		goto oom;
	pthread_mutex_lock(&w->lock);
	r = response_strbuf(&b, RESPONSE_TEXT_PLAIN, w->cfg);
	pthread_mutex_unlock(&w->lock);
	if (r == NULL)
		return serve_oom(w, c, "report health");
	ret = sym_MHD_queue_response(c, status, r);
	sym_MHD_destroy_response(r);
	return ret;
oom:
	strbuf_free(&b);
	return serve_oom(w, c, "report health");
}

/* The status page (web/page.c), rendered per view: a person looks at it
 * now and then, so it is not cached. It gets the headers every response
 * gets (http_server_config.headers included) plus its own CSP. */
static enum MHD_Result
serve_page(struct web *w, struct MHD_Connection *c)
{
	struct strbuf b = { 0 };
	struct MHD_Response *r;
	enum MHD_Result ret;

	if (page_build(w->view, w->telemetry_path, &b) < 0) {
		strbuf_free(&b);
		return serve_oom(w, c, "render the status page");
	}
	pthread_mutex_lock(&w->lock);
	r = response_strbuf(&b, PAGE_CONTENT_TYPE, w->cfg);
	pthread_mutex_unlock(&w->lock);
	if (r == NULL)
		return serve_oom(w, c, "render the status page");
	if (sym_MHD_add_response_header(r, "Content-Security-Policy", PAGE_CSP) != MHD_YES ||
	    sym_MHD_add_response_header(r, "Referrer-Policy", "no-referrer") != MHD_YES) {
		sym_MHD_destroy_response(r);
		return serve_oom(w, c, "render the status page");
	}
	ret = sym_MHD_queue_response(c, MHD_HTTP_OK, r);
	sym_MHD_destroy_response(r);
	return ret;
}

/*
 * The access handler. MHD calls it once when the headers are in, then for
 * each piece of body, then once more with *upload_data_size == 0. A
 * response queued on the first call makes MHD close the connection
 * afterwards (it cannot know the body was consumed), which would cost
 * Prometheus a TCP handshake per scrape; so GET and HEAD skip the first
 * call and answer on the last, keeping the connection alive. Anything
 * else is refused at once: closing is what we want for a body we will not
 * read. MHD sends only the headers for HEAD, with the body's length.
 */
static enum MHD_Result
handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
    const char *version, const char *upload_data, size_t *upload_data_size,
    void **req_cls)
{
	static int headers_seen;  /* its address marks the first call done */
	struct web *w = cls;

	(void)version;      /* MHD handles 1.0 vs 1.1 */
	(void)upload_data;  /* a GET body means nothing to us; dropped below */

	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0) {
		enum MHD_Result ret;
		pthread_mutex_lock(&w->lock);
		ret = sym_MHD_queue_response(c, MHD_HTTP_METHOD_NOT_ALLOWED, w->not_allowed);
		pthread_mutex_unlock(&w->lock);
		return ret;
	}
	if (*req_cls == NULL) {
		*req_cls = &headers_seen;
		return MHD_YES;
	}
	if (*upload_data_size != 0) {
		*upload_data_size = 0;
		return MHD_YES;
	}
	/* --web.config.file: client certificate and basic auth guard every
	 * path, the health check and the status page included. */
	enum MHD_Result refused;
	pthread_mutex_lock(&w->lock);
	int ok = admission_check(c, w->mhd_cfg, w->cfg, w->auth, &refused);
	pthread_mutex_unlock(&w->lock);
	if (!ok)
		return refused;
	/* Exact matches only: the URL never names a file. */
	if (strcmp(url, w->telemetry_path) == 0)
		return serve_metrics(w, c);
	if (strcmp(url, "/healthz") == 0)
		return serve_health(w, c);
	if (strcmp(url, "/") == 0)
		return serve_page(w, c);
	pthread_mutex_lock(&w->lock);
	enum MHD_Result ret = sym_MHD_queue_response(c, MHD_HTTP_NOT_FOUND, w->not_found);
	pthread_mutex_unlock(&w->lock);
	return ret;
}

static void
free_web(struct web *w)
{
	if (w->not_found)
		sym_MHD_destroy_response(w->not_found);
	if (w->not_allowed)
		sym_MHD_destroy_response(w->not_allowed);
	respcache_free(w->cache);
	pthread_mutex_destroy(&w->lock);
	if (w->cfg != w->mhd_cfg)
		webcfg_free(w->mhd_cfg);
	webcfg_free(w->cfg);
	auth_free(w->auth);
	if (w->listen_fd >= 0)
		close(w->listen_fd);
	free(w->telemetry_path);
	free(w);
}

/* (Re)build the responses that carry the configured headers, from w->cfg:
 * the shared 404 and 405, and (cleared here, rendered on the next scrape)
 * the metrics bodies. Called under w->lock or before the server runs.
 * Returns 0, or -1 out of memory with the old ones kept. */
static int
build_static(struct web *w)
{
	static const char not_found[] = "404 not found\n";
	static const char not_allowed[] = "405 method not allowed: use GET or HEAD\n";
	struct MHD_Response *nf, *na;

	nf = response_text(not_found, sizeof not_found - 1, RESPONSE_TEXT_PLAIN, w->cfg);
	na = response_text(not_allowed, sizeof not_allowed - 1, RESPONSE_TEXT_PLAIN, w->cfg);
	if (nf == NULL || na == NULL ||
	    sym_MHD_add_response_header(na, MHD_HTTP_HEADER_ALLOW, "GET, HEAD") != MHD_YES) {
		if (nf)
			sym_MHD_destroy_response(nf);
		if (na)
			sym_MHD_destroy_response(na);
		return -1;
	}
	/* A connection still sending the old ones holds its own reference. */
	if (w->not_found)
		sym_MHD_destroy_response(w->not_found);
	if (w->not_allowed)
		sym_MHD_destroy_response(w->not_allowed);
	w->not_found = nf;
	w->not_allowed = na;
	respcache_clear(w->cache);
	return 0;
}

/*
 * Start an MHD daemon on a duplicate of w->listen_fd with cfg's TLS
 * settings (cfg NULL or without TLS: plain HTTP). The PEM strings are
 * read by MHD while it starts; cfg is kept alive as w->mhd_cfg anyway.
 * MHD_USE_ITC makes MHD_quiesce_daemon possible, which a TLS reload
 * needs. Returns NULL with a one-line reason in err.
 */
static struct MHD_Daemon *
start_mhd(struct web *w, const struct webcfg *cfg, char *err, size_t errlen)
{
	const struct web_opts *o = &w->opts;
	struct MHD_OptionItem tls[6];
	unsigned int flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG | MHD_USE_ITC;
	char prio[128];
	int n = 0;
	struct MHD_Daemon *d;

	if (cfg != NULL && cfg->tls.enabled) {
		if (sym_MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
			snprintf(err, errlen, "%s: tls_server_config: this libmicrohttpd is built "
			    "without TLS (GnuTLS)", cfg->path);
			return NULL;
		}
		flags |= MHD_USE_TLS;
		tls[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_KEY, 0,
		    cfg->tls.key_pem };
		tls[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_CERT, 0,
		    cfg->tls.cert_pem };
		tls[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_PRIORITIES, 0,
		    (void *)webcfg_tls_priorities(&cfg->tls, prio, sizeof prio) };
		/* MHD asks clients for a certificate only when it has a trust
		 * list; the policies that need no CA (RequestClientCert,
		 * RequireAnyClientCert) get the server's own certificate as one,
		 * which makes MHD ask, and nothing verifies against it. */
		if (cfg->tls.client_auth != WEBCFG_NO_CLIENT_CERT)
			tls[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_TRUST, 0,
			    cfg->tls.ca_pem != NULL ? cfg->tls.ca_pem : cfg->tls.cert_pem };
	}
	tls[n] = (struct MHD_OptionItem){ MHD_OPTION_END, 0, NULL };

	/* MHD closes the socket it is given in MHD_stop_daemon, but whether it
	 * does when MHD_start_daemon fails differs between versions. Giving it
	 * a duplicate can never close a descriptor twice; at worst a failed
	 * start leaks one fd.
	 * The varargs are untyped: each value must have exactly the type the
	 * option documents (unsigned int, size_t), hence the casts. The
	 * logger comes first so that start-up messages reach it too. */
	int mhd_fd = fcntl(w->listen_fd, F_DUPFD_CLOEXEC, 0);
	if (mhd_fd < 0) {
		snprintf(err, errlen, "listen %s: %s", o->listen_address, strerror(errno));
		return NULL;
	}
	d = sym_MHD_start_daemon(flags, 0, NULL, NULL, handle, w,
	    MHD_OPTION_EXTERNAL_LOGGER, mhd_log, (void *)NULL,
	    MHD_OPTION_LISTEN_SOCKET, (MHD_socket)mhd_fd,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned int)o->connection_limit,
	    MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned int)o->per_ip_limit,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)o->timeout_s,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)o->memory_limit,
	    MHD_OPTION_ARRAY, tls,
	    MHD_OPTION_END);
	if (d == NULL)
		snprintf(err, errlen, "listen %s: cannot start the HTTP%s server (see the "
		    "messages above)", o->listen_address,
		    cfg != NULL && cfg->tls.enabled ? "S" : "");
	return d;
}

/*
 * Bind o->listen_address and serve view on MHD's internal polling thread
 * (epoll on Linux). The view must outlive the server; o is copied, and
 * o->webcfg is taken over (freed by web_stop, or here on failure). The
 * connection limits and the timeout bound what slow or hostile clients can
 * hold: at most connection_limit sockets, per_ip_limit from one address,
 * each idle at most timeout_s seconds with memory_limit bytes of buffers.
 * Returns NULL with a one-line reason in err.
 */
struct web *
web_start(const struct web_opts *o, const struct expo_view *view, char *err, size_t errlen)
{
	const char *tpath = o->telemetry_path ? o->telemetry_path : "/metrics";
	struct web *w;

	if (check_telemetry_path(tpath, err, errlen) < 0 || webdl_load(err, errlen) < 0) {
		webcfg_free(o->webcfg);
		return NULL;
	}
	w = calloc(1, sizeof *w);
	if (w == NULL || pthread_mutex_init(&w->lock, NULL) != 0) {
		free(w);
		webcfg_free(o->webcfg);
		snprintf(err, errlen, "web: out of memory");
		return NULL;
	}
	w->listen_fd = -1;
	w->opts = *o;
	w->opts.webcfg = NULL;
	w->cfg = w->mhd_cfg = o->webcfg;
	w->view = view;
	w->telemetry_path = strdup(tpath);
	w->auth = auth_new();
	w->cache = respcache_new(view);
	if (w->telemetry_path == NULL || w->auth == NULL || w->cache == NULL ||
	    build_static(w) < 0) {
		free_web(w);
		snprintf(err, errlen, "web: out of memory");
		return NULL;
	}
	if ((w->listen_fd = web_open_listener(o->listen_address, err, errlen)) < 0 ||
	    (w->mhd = start_mhd(w, w->cfg, err, errlen)) == NULL) {
		free_web(w);
		return NULL;
	}
	return w;
}

/*
 * Apply a re-read --web.config.file (cfg, taken over; NULL: none).
 *
 * Users and headers change in place, under the lock: requests in flight
 * finish, the next ones see the new settings. The cached successful logins
 * are forgotten.
 *
 * A change to TLS (switch, certificate, key, CA, client auth, versions)
 * needs a new MHD daemon, since MHD loads them once at start:
 * 1. start the new daemon on a duplicate of the same listening socket (no
 *    new bind, so it works after --run-as); if it fails, the old one
 *    carries on and -1 is returned;
 * 2. quiesce the old daemon: it stops accepting, the new one gets every
 *    new connection;
 * 3. stop the old daemon, which closes the connections it still had
 *    (a scrape in flight at that instant fails; the next one succeeds).
 * Returns 0, or -1 with a one-line reason in err (nothing changed).
 */
int
web_reload(struct web *w, struct webcfg *cfg, char *err, size_t errlen)
{
	struct MHD_Daemon *old_mhd = NULL, *nd = NULL;
	struct webcfg *old_cfg, *old_mhd_cfg;
	int restart = !webcfg_tls_equal(w->mhd_cfg, cfg);

	if (restart && (nd = start_mhd(w, cfg, err, errlen)) == NULL) {
		webcfg_free(cfg);
		return -1;
	}
	if (restart) {
		MHD_socket q = sym_MHD_quiesce_daemon(w->mhd);
		if (q != MHD_INVALID_SOCKET)
			close(q);
	}
	pthread_mutex_lock(&w->lock);
	old_cfg = w->cfg;
	old_mhd_cfg = w->mhd_cfg;
	w->cfg = cfg;
	if (restart) {
		old_mhd = w->mhd;
		w->mhd = nd;
		w->mhd_cfg = cfg;
	}
	if (build_static(w) < 0)
		log_errorx("web: out of memory rebuilding responses; the 404 and 405 "
		    "responses keep the previous headers");
	pthread_mutex_unlock(&w->lock);
	auth_reset(w->auth);
	/* Not under the lock: the old thread may be waiting for it in handle. */
	if (old_mhd != NULL)
		sym_MHD_stop_daemon(old_mhd);
	if (old_mhd_cfg != w->mhd_cfg && old_mhd_cfg != old_cfg)
		webcfg_free(old_mhd_cfg);
	if (old_cfg != w->mhd_cfg)
		webcfg_free(old_cfg);
	return 0;
}

/* 1 if the server speaks TLS. */
int
web_is_tls(const struct web *w)
{
	return w->mhd_cfg != NULL && w->mhd_cfg->tls.enabled;
}

/* Stop serving: waits for MHD's thread, closes every connection and the
 * listening socket, frees the cached responses. web_stop(NULL) is a no-op. */
void
web_stop(struct web *w)
{
	if (w == NULL)
		return;
	sym_MHD_stop_daemon(w->mhd);
	free_web(w);
}
