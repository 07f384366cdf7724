/*
 * page.h - the status page at "/": a self-contained HTML page for people
 * (replies by class over the last minute, hour and day, a chart of the
 * last hour, the top codes with their meanings, the domains that defer
 * and bounce most, and the exporter's own health), rendered on the
 * server from the same read-only view /metrics uses.
 *
 * Self-contained means no request leaves the page: inline CSS, inline
 * SVG, no script, and a Content-Security-Policy that forbids any other
 * load, so it renders offline and behind whatever TLS and authentication
 * guard /metrics.
 */
#ifndef PAGE_H
#define PAGE_H

#include <stddef.h>

#include "web/expo.h"

#define PAGE_CONTENT_TYPE "text/html; charset=utf-8"
/* No script, no external anything: styles inline, the favicon a data:
 * URL. */
#define PAGE_CSP "default-src 'none'; style-src 'unsafe-inline'; img-src data:; " \
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
/* Seconds between the page's own reloads. */
#define PAGE_REFRESH_S 10
/* Rows in each ranked table. */
#define PAGE_TOP_ROWS 10

/*
 * Append s[0..len) to out as HTML text or a quoted attribute value: & < >
 * " and ' become entities; control characters other than tab and newline,
 * and every ill-formed UTF-8 subpart, become U+FFFD. Every value that
 * comes from the log or the command line (paths, domains, codes, MTA
 * names) goes through this, so none can inject markup. Returns 0, or -1
 * out of memory.
 */
int page_escape(struct strbuf *out, const char *s, size_t len);

/*
 * Render the whole page for view v at Unix time now into out (appended).
 * telemetry_path is linked from the page. lines_per_s[i] is source i's
 * recent line rate, or negative when unknown (the caller measures it
 * between views). v->history may be NULL (no chart then). Returns 0, or
 * -1 out of memory (out valid but incomplete).
 */
int page_render(const struct expo_view *v, const char *telemetry_path, double now,
    const double *lines_per_s, struct strbuf *out);


/*
 * Render the page for one view into out (appending): the caller (http.c)
 * sends it with Content-Type PAGE_CONTENT_TYPE, the Content-Security-Policy
 * PAGE_CSP and the headers every response gets. Keeps the previous view's
 * line counts (one web server per process) to show lines/s over the time
 * between two views. Returns 0, or -1 when out of memory.
 */
int page_build(const struct expo_view *v, const char *telemetry_path,
    struct strbuf *out);

#endif
