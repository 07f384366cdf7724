/*
 * respcache.h - the rendered exposition, kept as ready responses per
 * format, plain and gzip, so concurrent scrapers share one rendering.
 */
#ifndef WEB_RESPCACHE_H
#define WEB_RESPCACHE_H

#include <microhttpd.h>

#include "web/expo.h"

struct webcfg;
struct respcache;

/* An empty cache of view's exposition (the view must outlive it).
 * NULL out of memory. */
struct respcache *respcache_new(const struct expo_view *view);
void respcache_free(struct respcache *rc);

/* Drop the bodies, e.g. because the configured headers changed; the next
 * respcache_get renders again. */
void respcache_clear(struct respcache *rc);

/*
 * The response for a scrape asking for fmt, gzip-encoded if gzip is set
 * and compression succeeds. Renders when there is no body yet, the
 * counters moved, or the body is a second old; new responses get cfg's
 * headers (see response.h). The response is the cache's: queue it before
 * the cache is used again. Not thread-safe: the caller serialises calls
 * (and holds cfg's lock). NULL out of memory, with no stale body served.
 */
struct MHD_Response *respcache_get(struct respcache *rc, enum expo_format fmt, int gzip,
    const struct webcfg *cfg);

#endif
