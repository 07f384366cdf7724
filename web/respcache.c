/*
 * respcache.c - the exposition, rendered at most once per change and
 * format, compressed at most once per rendering.
 *
 * The rendered body is kept as a refcounted MHD_Response (libmicrohttpd's
 * demo.c pattern) and queued to every scrape until agg_generation() moves
 * or it is a second old (the process_* values and the per-source counters
 * move with time). The gzip body is made from it the first time a client
 * accepting gzip asks, and kept beside it, so however many scrapers come,
 * each body is rendered once and compressed once. MHD's refcount keeps a
 * replaced response alive for the connections still sending it.
 */
#include "web/respcache.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "store/aggregate.h"
#include "util/log.h"
#include "util/monoclock.h"
#include "util/strbuf.h"
#include "web/response.h"
#include "web/webdl.h"

#define CACHE_MAX_AGE_NS 1000000000LL
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

struct respcache {
	const struct expo_view *view;
	struct body bodies[2];          /* by enum expo_format */
	double last_render_s;           /* -1 before the first */
};

/* Headers of a metrics response: the body depends on both headers. */
static int
metrics_headers(struct MHD_Response *r, enum expo_format fmt, int gzip,
    const struct webcfg *cfg)
{
	if (response_add_headers(r, fmt == EXPO_FMT_OPENMETRICS ?
	    EXPO_CONTENT_TYPE_OPENMETRICS : EXPO_CONTENT_TYPE, cfg) < 0 ||
	    sym_MHD_add_response_header(r, "Vary", "Accept, Accept-Encoding") != MHD_YES ||
	    (gzip && sym_MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_ENCODING,
	    "gzip") != MHD_YES))
		return -1;
	return 0;
}

/* gzip data[0..len) into a response; NULL when out of memory. */
static struct MHD_Response *
gzip_response(const char *data, size_t len, enum expo_format fmt, const struct webcfg *cfg)
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
	r = sym_MHD_create_response_from_buffer(z.total_out, out, MHD_RESPMEM_MUST_FREE);
	if (r == NULL) {
		free(out);
		return NULL;
	}
	if (metrics_headers(r, fmt, 1, cfg) < 0) {
		sym_MHD_destroy_response(r);
		return NULL;
	}
	return r;
}

static void
body_clear(struct body *b)
{
	if (b->plain)
		sym_MHD_destroy_response(b->plain);
	if (b->gzip)
		sym_MHD_destroy_response(b->gzip);
	b->plain = b->gzip = NULL;
	b->data = NULL;
}

/* Render fmt into b. Returns 0, or -1 out of memory (b unchanged). */
static int
body_render(struct respcache *rc, struct body *b, enum expo_format fmt, uint64_t gen,
    int64_t now, const struct webcfg *cfg)
{
	struct strbuf buf = { 0 };
	struct MHD_Response *r;

	/* Start at the last size so a big exposition is not built through a
	 * dozen reallocations. */
	if (b->len && (buf.data = malloc(b->len + 4096)) != NULL)
		buf.cap = b->len + 4096;
	if (expo_render_format(rc->view, fmt, rc->last_render_s, &buf) < 0) {
		strbuf_free(&buf);
		return -1;
	}
	r = sym_MHD_create_response_from_buffer(buf.len, buf.data, MHD_RESPMEM_MUST_FREE);
	if (r == NULL) {
		strbuf_free(&buf);
		return -1;
	}
	if (metrics_headers(r, fmt, 0, cfg) < 0) {
		sym_MHD_destroy_response(r);
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
	rc->last_render_s = (double)(mono_ns() - now) / 1e9;
	/* Tests count these lines to prove scrapes share renderings; it also
	 * shows what a render costs. */
	log_debug("http: rendered metrics (%s), %zu bytes in %.3f ms",
	    fmt == EXPO_FMT_OPENMETRICS ? "openmetrics" : "text", buf.len,
	    rc->last_render_s * 1e3);
	return 0;
}

struct respcache *
respcache_new(const struct expo_view *view)
{
	struct respcache *rc = calloc(1, sizeof *rc);

	if (rc == NULL)
		return NULL;
	rc->view = view;
	rc->last_render_s = -1;
	return rc;
}

void
respcache_clear(struct respcache *rc)
{
	body_clear(&rc->bodies[EXPO_FMT_TEXT]);
	body_clear(&rc->bodies[EXPO_FMT_OPENMETRICS]);
}

void
respcache_free(struct respcache *rc)
{
	if (rc == NULL)
		return;
	respcache_clear(rc);
	free(rc);
}

struct MHD_Response *
respcache_get(struct respcache *rc, enum expo_format fmt, int gzip, const struct webcfg *cfg)
{
	struct body *b = &rc->bodies[fmt];

	/* Read the generation before rendering: a count that lands during the
	 * render moves it past what we store, so the next scrape re-renders
	 * instead of serving a body that misses it. */
	uint64_t gen = agg_generation(rc->view->agg);
	int64_t now = mono_ns();
	/* Out of memory: a stale body would pass for current counters, so the
	 * scrape fails instead (Prometheus records it). */
	if ((b->plain == NULL || gen != b->gen || now - b->at_ns >= CACHE_MAX_AGE_NS) &&
	    body_render(rc, b, fmt, gen, now, cfg) < 0)
		return NULL;
	if (gzip && b->gzip == NULL) {
		int64_t t0 = mono_ns();
		b->gzip = gzip_response(b->data, b->len, fmt, cfg);
		if (b->gzip != NULL)
			log_debug("http: compressed metrics, %zu bytes in %.3f ms", b->len,
			    (double)(mono_ns() - t0) / 1e6);
		else
			log_limited(LOG_LIMIT_HTTP, LOG_LEVEL_WARN, "http: cannot compress "
			    "metrics: out of memory; sending them uncompressed");
	}
	/* Should compression fail for want of memory, the plain body is still
	 * a correct answer. */
	return gzip && b->gzip != NULL ? b->gzip : b->plain;
}
