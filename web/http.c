/*
 * http.c - the HTTP endpoint, on libmicrohttpd's internal polling thread.
 *
 * Routes: the telemetry path (the exposition), "/" (a landing page that
 * links to it), "/healthz" (are the mail logs being followed?). GET and
 * HEAD only; nothing maps a URL to a file.
 *
 * The exposition is rendered at most once per change and format: the
 * rendered body is kept as a refcounted MHD_Response (the demo.c pattern)
 * and queued to every scrape until agg_generation() moves or it is a
 * second old (the process_* values and the per-source counters move with
 * time). The gzip body is made from it the first time a client accepting
 * gzip asks, and kept beside it, so however many scrapers come, each body
 * is rendered once and compressed once. MHD's refcount keeps a replaced
 * response alive for the connections still sending it.
 *
 * Format: OpenMetrics 1.0.0 when the Accept header prefers
 * application/openmetrics-text (Prometheus asks for it first), text 0.0.4
 * otherwise, including for clients that accept neither (the Go client's
 * behaviour: a browser or curl always gets something readable).
 */
#include "http.h"

#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <strings.h>
#include <unistd.h>
#include <zlib.h>

#include "build_config.h"
#include "log.h"

#define CACHE_MAX_AGE_NS 1000000000LL
#define LISTEN_BACKLOG 128
#define HOST_MAX 256
/* zlib level for the gzip body. Measured on a 10,000-series exposition
 * (1.5 MB, see README.md): level 1 compresses it in about a third of the
 * time of the default 6 for a body only ~10% larger, and a scrape is
 * latency, not storage. */
#define GZIP_LEVEL 1

/* One format's cached bodies. */
struct body {
	struct MHD_Response *plain;     /* NULL until the first scrape */
	struct MHD_Response *gzip;      /* NULL until a gzip scrape asks */
	const char *data;               /* plain's bytes, alive as long as plain */
	size_t len;
	uint64_t gen;
	int64_t at_ns;
};

struct web {
	struct MHD_Daemon *mhd;
	const struct expo_view *view;
	char *telemetry_path;
	/* Built once, queued to every request that needs them. */
	struct MHD_Response *landing;
	struct MHD_Response *not_found;
	struct MHD_Response *not_allowed;
	/* The shared rendering. MHD runs one thread, so the lock is never
	 * contended today; it keeps the cache correct should a thread pool be
	 * configured later. */
	pthread_mutex_t lock;
	struct body bodies[2];          /* by enum expo_format */
	double last_render_s;           /* -1 before the first */
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
}

static int64_t
mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Split "[HOST]:PORT" into host (possibly empty: all interfaces) and port.
 * IPv6 literals must be bracketed, since "::1:9745" is ambiguous. */
static int
split_listen(const char *s, char *host, char *port, char *err, size_t errlen)
{
	const char *h, *he, *p;

	if (s == NULL || *s == '\0') {
		snprintf(err, errlen, "empty listen address (expected [HOST]:PORT, e.g. :%d)",
		    WEB_DEFAULT_PORT);
		return -1;
	}
	if (s[0] == '[') {
		h = s + 1;
		he = strchr(h, ']');
		if (he == NULL || he == h) {
			snprintf(err, errlen, "listen address \"%s\": expected [IPV6]:PORT, "
			    "e.g. [::1]:%d", s, WEB_DEFAULT_PORT);
			return -1;
		}
		if (he[1] != ':') {
			snprintf(err, errlen, "listen address \"%s\": missing :PORT after ']'", s);
			return -1;
		}
		p = he + 2;
	} else {
		h = s;
		he = strrchr(s, ':');
		if (he == NULL) {
			snprintf(err, errlen, "listen address \"%s\": missing :PORT (e.g. :%d or "
			    "127.0.0.1:%d)", s, WEB_DEFAULT_PORT, WEB_DEFAULT_PORT);
			return -1;
		}
		if (memchr(h, ':', (size_t)(he - h)) != NULL) {
			snprintf(err, errlen, "listen address \"%s\": an IPv6 address must be in "
			    "brackets, e.g. [::1]:%d", s, WEB_DEFAULT_PORT);
			return -1;
		}
		p = he + 1;
	}
	if ((size_t)(he - h) >= HOST_MAX) {
		snprintf(err, errlen, "listen address: host name too long");
		return -1;
	}
	memcpy(host, h, (size_t)(he - h));
	host[he - h] = '\0';

	size_t plen = strlen(p);
	long v = 0;
	for (size_t i = 0; i < plen; i++) {
		if (p[i] < '0' || p[i] > '9') {
			v = -1;
			break;
		}
		if (v <= 65535)
			v = v * 10 + (p[i] - '0');
	}
	if (plen == 0 || v < 1 || v > 65535) {
		snprintf(err, errlen, "listen address \"%s\": port must be a number from 1 to "
		    "65535", s);
		return -1;
	}
	snprintf(port, 6, "%ld", v);
	return 0;
}

static int
resolve(const char *s, const char *host, const char *port, struct addrinfo **res,
    char *err, size_t errlen)
{
	struct addrinfo hints;
	int rc;

	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	rc = getaddrinfo(host, port, &hints, res);
	if (rc != 0) {
		snprintf(err, errlen, "listen address \"%s\": cannot resolve \"%s\": %s", s,
		    host, rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
		return -1;
	}
	return 0;
}

/*
 * Validate a listen address without binding: syntax, port range, and that
 * the host resolves. Lets --check-config and the option parser reject a
 * typo with exit 2 before anything starts. Returns 0, or -1 with a one-line
 * reason in err.
 */
int
web_check_listen_address(const char *s, char *err, size_t errlen)
{
	char host[HOST_MAX], port[6];
	struct addrinfo *res;

	if (split_listen(s, host, port, err, errlen) < 0)
		return -1;
	if (host[0] == '\0')
		return 0;
	if (resolve(s, host, port, &res, err, errlen) < 0)
		return -1;
	freeaddrinfo(res);
	return 0;
}

/*
 * Validate a telemetry path: it must start with '/', hold no control
 * characters or '?', and not hide /healthz. Returns 0, or -1 with a
 * one-line reason in err.
 */
int
web_check_telemetry_path(const char *s, char *err, size_t errlen)
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

/* A listening, non-blocking socket for one address, or -1 with errno set.
 * We bind ourselves rather than let MHD do it so a failure can be reported
 * with its cause ("Address already in use"); MHD_start_daemon only says
 * NULL. */
static int
listen_on(const struct sockaddr *sa, socklen_t salen, int dual_stack)
{
	int one = 1, off = 0;
	int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	/* Restarting while old connections sit in TIME_WAIT must not fail. */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0)
		goto fail;
	/* The wildcard IPv6 socket takes IPv4 too (mapped addresses), whatever
	 * net.ipv6.bindv6only says; a specific IPv6 address stays IPv6. */
	if (sa->sa_family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, dual_stack ? &off : &one,
	    sizeof one) < 0)
		goto fail;
	if (bind(fd, sa, salen) < 0 || listen(fd, LISTEN_BACKLOG) < 0)
		goto fail;
	return fd;
fail:;
	int saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

static int
open_listener(const char *s, char *err, size_t errlen)
{
	char host[HOST_MAX], port[6];
	struct addrinfo *res;
	int fd = -1, first_errno = 0;

	if (split_listen(s, host, port, err, errlen) < 0)
		return -1;

	if (host[0] == '\0') {
		struct sockaddr_in6 a6;
		struct sockaddr_in a4;

		memset(&a6, 0, sizeof a6);
		a6.sin6_family = AF_INET6;
		a6.sin6_addr = in6addr_any;
		a6.sin6_port = htons((uint16_t)atoi(port));
		fd = listen_on((struct sockaddr *)&a6, sizeof a6, 1);
		/* No IPv6 in this kernel or namespace: IPv4 alone. Any other
		 * error (EADDRINUSE) would hit IPv4 as well, so report it. */
		if (fd < 0 && (errno == EAFNOSUPPORT || errno == EADDRNOTAVAIL ||
		    errno == EPROTONOSUPPORT)) {
			memset(&a4, 0, sizeof a4);
			a4.sin_family = AF_INET;
			a4.sin_addr.s_addr = htonl(INADDR_ANY);
			a4.sin_port = a6.sin6_port;
			fd = listen_on((struct sockaddr *)&a4, sizeof a4, 0);
		}
		if (fd < 0)
			snprintf(err, errlen, "listen %s: %s", s, strerror(errno));
		return fd;
	}

	if (resolve(s, host, port, &res, err, errlen) < 0)
		return -1;
	/* "localhost" may give ::1 first on a host without IPv6 loopback:
	 * take the first address that binds, report the first failure. */
	for (struct addrinfo *ai = res; ai != NULL && fd < 0; ai = ai->ai_next) {
		fd = listen_on(ai->ai_addr, ai->ai_addrlen, 0);
		if (fd < 0 && first_errno == 0)
			first_errno = errno;
	}
	freeaddrinfo(res);
	if (fd < 0)
		snprintf(err, errlen, "listen %s: %s", s, strerror(first_errno));
	return fd;
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

/* Headers every response carries. Returns 0 or -1. */
static int
add_headers(struct MHD_Response *r, const char *content_type)
{
	if (MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, content_type) != MHD_YES ||
	    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache") != MHD_YES ||
	    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff") != MHD_YES)
		return -1;
	return 0;
}

/* A response owning a copy of text; NULL on allocation failure. */
static struct MHD_Response *
text_response(const char *text, size_t len, const char *content_type)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)text,
	    MHD_RESPMEM_MUST_COPY);
	if (r != NULL && add_headers(r, content_type) < 0) {
		MHD_destroy_response(r);
		r = NULL;
	}
	return r;
}

/* A response taking ownership of b's data (freed by MHD). */
static struct MHD_Response *
buf_response(struct expo_buf *b, const char *content_type)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(b->len, b->data,
	    MHD_RESPMEM_MUST_FREE);
	if (r == NULL) {
		expo_buf_free(b);
		return NULL;
	}
	b->data = NULL;
	b->len = b->cap = 0;
	if (add_headers(r, content_type) < 0) {
		MHD_destroy_response(r);
		return NULL;
	}
	return r;
}

static enum MHD_Result
queue_error(struct MHD_Connection *c, unsigned int status, const char *text)
{
	struct MHD_Response *r = text_response(text, strlen(text), "text/plain; charset=utf-8");
	enum MHD_Result ret;

	if (r == NULL)
		return MHD_NO;  /* MHD closes the connection */
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

/* Skip optional whitespace. */
static const char *
ows(const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	return s;
}

/*
 * Walk a comma-separated header value of "token;param=value;q=0.5" items
 * (Accept, Accept-Encoding). For each item, fn gets the token, the
 * parameters (between the token and the next comma) and the q value
 * (1 when absent, 0 for a malformed q).
 */
static void
each_item(const char *h, void (*fn)(void *, const char *, size_t, const char *, size_t,
    double), void *ctx)
{
	while (h != NULL && *h) {
		const char *item = ows(h), *end = strchr(item, ','), *tok_end, *p;
		double q = 1;

		if (end == NULL)
			end = item + strlen(item);
		tok_end = item;
		while (tok_end < end && *tok_end != ';' && *tok_end != ' ' && *tok_end != '\t')
			tok_end++;
		for (p = tok_end; p < end; p++) {
			if (*p != ';')
				continue;
			const char *v = ows(p + 1);
			if ((v[0] == 'q' || v[0] == 'Q') && v[1] == '=') {
				char *e;
				q = strtod(v + 2, &e);
				if (e == v + 2 || q < 0 || q > 1)
					q = 0;
			}
		}
		fn(ctx, item, (size_t)(tok_end - item), tok_end, (size_t)(end - tok_end), q);
		h = *end ? end + 1 : end;
	}
}

static int
token_is(const char *t, size_t n, const char *want)
{
	return strlen(want) == n && strncasecmp(t, want, n) == 0;
}

/* Does a parameter list hold version=V other than the ones listed? */
static int
version_ok(const char *params, size_t n, const char *const *ok)
{
	const char *v = NULL;

	for (size_t i = 0; i + 8 <= n; i++)
		if (strncasecmp(params + i, "version=", 8) == 0) {
			v = params + i + 8;
			break;
		}
	if (v == NULL)
		return 1;
	size_t vlen = 0;
	while (v + vlen < params + n && v[vlen] != ';' && v[vlen] != ' ')
		vlen++;
	for (; *ok; ok++)
		if (token_is(v, vlen, *ok))
			return 1;
	return 0;
}

struct accept_scan {
	double om_q, text_q;
	int om_pos, text_pos, pos;
};

static void
accept_item(void *ctx, const char *tok, size_t n, const char *params, size_t plen, double q)
{
	static const char *const om_versions[] = { "1.0.0", "0.0.1", NULL };
	static const char *const text_versions[] = { "0.0.4", NULL };
	struct accept_scan *a = ctx;

	a->pos++;
	if (token_is(tok, n, "application/openmetrics-text")) {
		if (version_ok(params, plen, om_versions) && q > a->om_q) {
			a->om_q = q;
			a->om_pos = a->pos;
		}
	} else if (token_is(tok, n, "text/plain") ? version_ok(params, plen, text_versions) :
	    token_is(tok, n, "text/*") || token_is(tok, n, "*/*")) {
		if (q > a->text_q) {
			a->text_q = q;
			a->text_pos = a->pos;
		}
	}
}

/*
 * The format an Accept header asks for: OpenMetrics when its best q is
 * above text's (text/plain, text/ * or * / *), or equal and listed first;
 * text 0.0.4 otherwise, also when the header is absent or names neither.
 */
enum expo_format
web_negotiate_format(const char *accept)
{
	struct accept_scan a = { 0, 0, 0, 0, 0 };

	each_item(accept, accept_item, &a);
	if (a.om_q > 0 && (a.om_q > a.text_q || (a.om_q == a.text_q && a.om_pos < a.text_pos)))
		return EXPO_FMT_OPENMETRICS;
	return EXPO_FMT_TEXT;
}

struct encoding_scan {
	double gzip_q, any_q;
	int gzip_seen, any_seen;
};

static void
encoding_item(void *ctx, const char *tok, size_t n, const char *params, size_t plen,
    double q)
{
	struct encoding_scan *e = ctx;

	(void)params;
	(void)plen;
	if (token_is(tok, n, "gzip") || token_is(tok, n, "x-gzip")) {
		e->gzip_seen = 1;
		if (q > e->gzip_q)
			e->gzip_q = q;
	} else if (token_is(tok, n, "*")) {
		e->any_seen = 1;
		e->any_q = q;
	}
}

/* Does an Accept-Encoding header allow gzip? "gzip;q=0" forbids it even
 * next to "*". */
int
web_accepts_gzip(const char *accept_encoding)
{
	struct encoding_scan e = { 0, 0, 0, 0 };

	each_item(accept_encoding, encoding_item, &e);
	if (e.gzip_seen)
		return e.gzip_q > 0;
	return e.any_seen && e.any_q > 0;
}

/* Headers of a metrics response: the body depends on both headers. */
static int
metrics_headers(struct MHD_Response *r, enum expo_format fmt, int gzip)
{
	if (add_headers(r, fmt == EXPO_FMT_OPENMETRICS ? EXPO_CONTENT_TYPE_OPENMETRICS :
	    EXPO_CONTENT_TYPE) < 0 ||
	    MHD_add_response_header(r, "Vary", "Accept, Accept-Encoding") != MHD_YES ||
	    (gzip && MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_ENCODING,
	    "gzip") != MHD_YES))
		return -1;
	return 0;
}

/* gzip data[0..len) into a response; NULL when out of memory. */
static struct MHD_Response *
gzip_response(const char *data, size_t len, enum expo_format fmt)
{
	z_stream z;
	struct MHD_Response *r;
	unsigned char *out;
	size_t cap;

	memset(&z, 0, sizeof z);
	/* windowBits 15 + 16: a gzip header and trailer, not zlib's. */
	if (deflateInit2(&z, GZIP_LEVEL, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return NULL;
	cap = deflateBound(&z, (uLong)len);
	if ((out = malloc(cap)) == NULL) {
		deflateEnd(&z);
		return NULL;
	}
	z.next_in = (Bytef *)(uintptr_t)data;
	z.avail_in = (uInt)len;
	z.next_out = out;
	z.avail_out = (uInt)cap;
	if (deflate(&z, Z_FINISH) != Z_STREAM_END) {
		deflateEnd(&z);
		free(out);
		return NULL;
	}
	deflateEnd(&z);
	r = MHD_create_response_from_buffer(z.total_out, out, MHD_RESPMEM_MUST_FREE);
	if (r == NULL) {
		free(out);
		return NULL;
	}
	if (metrics_headers(r, fmt, 1) < 0) {
		MHD_destroy_response(r);
		return NULL;
	}
	return r;
}

static void
body_clear(struct body *b)
{
	if (b->plain)
		MHD_destroy_response(b->plain);
	if (b->gzip)
		MHD_destroy_response(b->gzip);
	b->plain = b->gzip = NULL;
	b->data = NULL;
}

/* Render fmt into b. Returns 0, or -1 out of memory (b unchanged). */
static int
body_render(struct web *w, struct body *b, enum expo_format fmt, uint64_t gen, int64_t now)
{
	struct expo_buf buf = { 0 };
	struct MHD_Response *r;

	/* Start at the last size so a big exposition is not built through a
	 * dozen reallocations. */
	if (b->len && (buf.data = malloc(b->len + 4096)) != NULL)
		buf.cap = b->len + 4096;
	if (expo_render_format(w->view, fmt, w->last_render_s, &buf) < 0) {
		expo_buf_free(&buf);
		return -1;
	}
	r = MHD_create_response_from_buffer(buf.len, buf.data, MHD_RESPMEM_MUST_FREE);
	if (r == NULL) {
		expo_buf_free(&buf);
		return -1;
	}
	if (metrics_headers(r, fmt, 0) < 0) {
		MHD_destroy_response(r);
		return -1;
	}
	body_clear(b);
	b->plain = r;
	/* MHD owns buf.data now and frees it with the last reference to r;
	 * we hold one until body_clear, so it stays readable for gzip. */
	b->data = buf.data;
	b->len = buf.len;
	b->gen = gen;
	b->at_ns = now;
	w->last_render_s = (double)(mono_ns() - now) / 1e9;
	/* Tests count these lines to prove scrapes share renderings; it also
	 * shows what a render costs. */
	log_debug("http: rendered metrics (%s), %zu bytes in %.3f ms",
	    fmt == EXPO_FMT_OPENMETRICS ? "openmetrics" : "text", buf.len,
	    w->last_render_s * 1e3);
	return 0;
}

static enum MHD_Result
serve_metrics(struct web *w, struct MHD_Connection *c)
{
	enum expo_format fmt = web_negotiate_format(MHD_lookup_connection_value(c,
	    MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT));
	int gz = web_accepts_gzip(MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_ACCEPT_ENCODING));
	struct body *b = &w->bodies[fmt];
	struct MHD_Response *r;
	enum MHD_Result ret;

	pthread_mutex_lock(&w->lock);
	/* Read the generation before rendering: a count that lands during the
	 * render moves it past what we store, so the next scrape re-renders
	 * instead of serving a body that misses it. */
	uint64_t gen = agg_generation(w->view->agg);
	int64_t now = mono_ns();
	if ((b->plain == NULL || gen != b->gen || now - b->at_ns >= CACHE_MAX_AGE_NS) &&
	    body_render(w, b, fmt, gen, now) < 0) {
		/* Out of memory. A stale body would pass for current counters,
		 * so fail the scrape: Prometheus records it. */
		pthread_mutex_unlock(&w->lock);
		log_limited(LOG_LIMIT_HTTP, LOG_LEVEL_ERROR,
		    "http: cannot render metrics: out of memory");
		return queue_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR,
		    "cannot render metrics: out of memory\n");
	}
	if (gz && b->gzip == NULL) {
		int64_t t0 = mono_ns();
		b->gzip = gzip_response(b->data, b->len, fmt);
		if (b->gzip != NULL)
			log_debug("http: compressed metrics, %zu bytes in %.3f ms", b->len,
			    (double)(mono_ns() - t0) / 1e6);
	}
	/* Should compression fail for want of memory, the plain body is still
	 * a correct answer. */
	r = gz && b->gzip != NULL ? b->gzip : b->plain;
	ret = MHD_queue_response(c, MHD_HTTP_OK, r);
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
	struct expo_buf b = { 0 };
	struct MHD_Response *r;
	unsigned int status = MHD_HTTP_OK;
	enum MHD_Result ret;

	for (int i = 0; i < v->nsources; i++) {
		int st = atomic_load_explicit(&v->sources[i].status->state, memory_order_relaxed);
		const char *why;

		if (st == TAIL_STATE_WAITING)
			why = "file does not exist yet";
		else if (st == TAIL_STATE_ERROR)
			why = "cannot be opened or read; retrying";
		else
			continue;
		status = MHD_HTTP_SERVICE_UNAVAILABLE;
		if (expo_buf_printf(&b, "%s: %s (%s)\n", v->sources[i].path,
		    tail_state_name((enum tail_state)st), why) < 0)
			goto oom;
	}
	if (status == MHD_HTTP_OK && expo_buf_append(&b, "ok\n", 3) < 0)
		goto oom;
	r = buf_response(&b, "text/plain; charset=utf-8");
	if (r == NULL)
		return MHD_NO;
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
oom:
	expo_buf_free(&b);
	return MHD_NO;
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

	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return MHD_queue_response(c, MHD_HTTP_METHOD_NOT_ALLOWED, w->not_allowed);
	if (*req_cls == NULL) {
		*req_cls = &headers_seen;
		return MHD_YES;
	}
	if (*upload_data_size != 0) {
		*upload_data_size = 0;
		return MHD_YES;
	}
	/* Exact matches only: the URL never names a file. */
	if (strcmp(url, w->telemetry_path) == 0)
		return serve_metrics(w, c);
	if (strcmp(url, "/healthz") == 0)
		return serve_health(w, c);
	if (strcmp(url, "/") == 0)
		return MHD_queue_response(c, MHD_HTTP_OK, w->landing);
	return MHD_queue_response(c, MHD_HTTP_NOT_FOUND, w->not_found);
}

static int
html_escape(struct expo_buf *b, const char *s)
{
	for (; *s; s++) {
		int rc;
		switch (*s) {
		case '&': rc = expo_buf_append(b, "&amp;", 5); break;
		case '<': rc = expo_buf_append(b, "&lt;", 4); break;
		case '>': rc = expo_buf_append(b, "&gt;", 4); break;
		case '"': rc = expo_buf_append(b, "&quot;", 6); break;
		case '\'': rc = expo_buf_append(b, "&#39;", 5); break;
		default: rc = expo_buf_append(b, s, 1);
		}
		if (rc < 0)
			return -1;
	}
	return 0;
}

static struct MHD_Response *
landing_response(const char *telemetry_path)
{
	struct expo_buf b = { 0 };

	if (expo_buf_printf(&b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\">"
	    "<title>maillog_exporter</title></head>\n<body>\n<h1>maillog_exporter</h1>\n"
	    "<p>Prometheus exporter for SMTP status codes in mail logs.</p>\n<ul>\n"
	    "<li><a href=\"") < 0 ||
	    html_escape(&b, telemetry_path) < 0 ||
	    expo_buf_printf(&b, "\">Metrics</a></li>\n"
	    "<li><a href=\"/healthz\">Health</a> (are the mail logs being followed?)</li>\n"
	    "</ul>\n<p>Version %s, revision %s.</p>\n</body>\n</html>\n",
	    MAILLOG_EXPORTER_VERSION, MAILLOG_EXPORTER_REVISION) < 0) {
		expo_buf_free(&b);
		return NULL;
	}
	return buf_response(&b, "text/html; charset=utf-8");
}

static void
free_web(struct web *w)
{
	if (w->landing)
		MHD_destroy_response(w->landing);
	if (w->not_found)
		MHD_destroy_response(w->not_found);
	if (w->not_allowed)
		MHD_destroy_response(w->not_allowed);
	body_clear(&w->bodies[EXPO_FMT_TEXT]);
	body_clear(&w->bodies[EXPO_FMT_OPENMETRICS]);
	pthread_mutex_destroy(&w->lock);
	free(w->telemetry_path);
	free(w);
}

/*
 * Bind o->listen_address and serve view on MHD's internal polling thread
 * (epoll on Linux). The view must outlive the server; o is copied. The
 * connection limits and the timeout bound what slow or hostile clients can
 * hold: at most connection_limit sockets, per_ip_limit from one address,
 * each idle at most timeout_s seconds with memory_limit bytes of buffers.
 * Returns NULL with a one-line reason in err.
 */
struct web *
web_start(const struct web_opts *o, const struct expo_view *view, char *err, size_t errlen)
{
	static const char not_found[] = "404 not found\n";
	static const char not_allowed[] = "405 method not allowed: use GET or HEAD\n";
	const char *tpath = o->telemetry_path ? o->telemetry_path : "/metrics";
	struct web *w;
	int fd;

	if (web_check_telemetry_path(tpath, err, errlen) < 0)
		return NULL;
	w = calloc(1, sizeof *w);
	if (w == NULL || pthread_mutex_init(&w->lock, NULL) != 0) {
		free(w);
		snprintf(err, errlen, "web: out of memory");
		return NULL;
	}
	w->view = view;
	w->last_render_s = -1;
	w->telemetry_path = strdup(tpath);
	w->landing = landing_response(tpath);
	w->not_found = text_response(not_found, sizeof not_found - 1,
	    "text/plain; charset=utf-8");
	w->not_allowed = text_response(not_allowed, sizeof not_allowed - 1,
	    "text/plain; charset=utf-8");
	if (w->telemetry_path == NULL || w->landing == NULL || w->not_found == NULL ||
	    w->not_allowed == NULL ||
	    MHD_add_response_header(w->not_allowed, MHD_HTTP_HEADER_ALLOW, "GET, HEAD") != MHD_YES) {
		free_web(w);
		snprintf(err, errlen, "web: out of memory");
		return NULL;
	}

	fd = open_listener(o->listen_address, err, errlen);
	if (fd < 0) {
		free_web(w);
		return NULL;
	}
	/* MHD closes the socket it is given in MHD_stop_daemon, but whether it
	 * does when MHD_start_daemon fails differs between versions. Giving it
	 * a duplicate and always closing ours can never close a descriptor
	 * twice; at worst a failed start leaks one fd, and that is fatal.
	 * The varargs are untyped: each value must have exactly the type the
	 * option documents (unsigned int, size_t), hence the casts. The
	 * logger comes first so that start-up messages reach it too. */
	int mhd_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	int dup_errno = errno;
	close(fd);
	if (mhd_fd < 0) {
		snprintf(err, errlen, "listen %s: %s", o->listen_address, strerror(dup_errno));
		free_web(w);
		return NULL;
	}
	w->mhd = MHD_start_daemon(MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG,
	    0, NULL, NULL, handle, w,
	    MHD_OPTION_EXTERNAL_LOGGER, mhd_log, (void *)NULL,
	    MHD_OPTION_LISTEN_SOCKET, (MHD_socket)mhd_fd,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned int)o->connection_limit,
	    MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned int)o->per_ip_limit,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)o->timeout_s,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)o->memory_limit,
	    MHD_OPTION_END);
	if (w->mhd == NULL) {
		snprintf(err, errlen, "listen %s: cannot start the HTTP server (see the "
		    "messages above)", o->listen_address);
		free_web(w);
		return NULL;
	}
	return w;
}

/* Stop serving: waits for MHD's thread, closes every connection and the
 * listening socket, frees the cached responses. web_stop(NULL) is a no-op. */
void
web_stop(struct web *w)
{
	if (w == NULL)
		return;
	MHD_stop_daemon(w->mhd);
	free_web(w);
}
