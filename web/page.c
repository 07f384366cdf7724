/*
 * page.c - the status page at "/" (see page.h).
 *
 * Everything is rendered here, on the web thread, from the read-only view:
 * the aggregator through summary.c (the same snapshot /metrics renders),
 * the per-minute ring of history.c, and each source's atomic status. The
 * page has no script: it reloads itself with a meta refresh, and the chart
 * is inline SVG with a <title> per bar for its tooltip.
 *
 * Every string that did not come from this file goes through
 * page_escape(): log paths, domains, MTA names, codes and meanings alike,
 * even those already checked elsewhere, so no future label source can
 * forget it.
 */
#include "web/page.h"

#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "build_config.h"
#include "store/history.h"
#include "parsers/meaning.h"
#include "store/queue_snapshot.h"
#include "web/summary.h"
#include "util/utf8.h"

#define LIT(out, lit) strbuf_append((out), (lit), sizeof(lit) - 1)

/* Sources whose line rate page_build remembers; more are shown without. */
#define RATE_SOURCES 64
/* The chart: bars of the last hour. */
#define CHART_MINUTES 60

static const char *const class_names[3] = { "2xx", "4xx", "5xx" };
static const char *const dir_ids[MP_DIR_COUNT] = { "out", "in" };

int
page_escape(struct strbuf *out, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, run = 0;

	/* Runs of harmless bytes are copied in one append. */
	while (i < len) {
		unsigned char c = p[i];
		const char *rep;
		size_t skip = 1, bad = 0;

		switch (c) {
		case '&': rep = "&amp;"; break;
		case '<': rep = "&lt;"; break;
		case '>': rep = "&gt;"; break;
		case '"': rep = "&quot;"; break;
		case '\'': rep = "&#39;"; break;
		default:
			if (c >= 0x80) {
				size_t n = utf8_seq(p + i, len - i, &bad);
				if (n) {
					i += n;
					continue;
				}
				skip = bad;
			} else if ((c >= 0x20 && c != 0x7f) || c == '\t' || c == '\n') {
				i++;
				continue;
			}
			rep = "\xef\xbf\xbd";   /* U+FFFD */
		}
		if (strbuf_append(out, s + run, i - run) < 0 ||
		    strbuf_append(out, rep, strlen(rep)) < 0)
			return -1;
		i += skip;
		run = i;
	}
	return strbuf_append(out, s + run, i - run);
}

static int
esc(struct strbuf *out, const char *s)
{
	return page_escape(out, s, strlen(s));
}

/* A count with its thousands grouped by narrow no-break spaces (U+202F). */
static int
num(struct strbuf *out, uint64_t v)
{
	char digits[24], buf[64];
	int n = snprintf(digits, sizeof digits, "%" PRIu64, v);
	size_t o = 0;

	for (int i = 0; i < n; i++) {
		if (i > 0 && (n - i) % 3 == 0) {
			memcpy(buf + o, "\xe2\x80\xaf", 3);
			o += 3;
		}
		buf[o++] = digits[i];
	}
	return strbuf_append(out, buf, o);
}

static double
share(uint64_t part, uint64_t whole)
{
	return whole ? 100.0 * (double)part / (double)whole : 0;
}

/* A duration in the largest unit that keeps it short. */
static int
duration(struct strbuf *out, double secs)
{
	if (secs < 120)
		return strbuf_printf(out, "%.0f s", secs);
	if (secs < 7200)
		return strbuf_printf(out, "%.0f min", secs / 60);
	if (secs < 172800)
		return strbuf_printf(out, "%.1f h", secs / 3600);
	return strbuf_printf(out, "%.1f days", secs / 86400);
}

static int
ago(struct strbuf *out, double secs)
{
	if (secs < 0)
		return duration(out, -secs) < 0 || LIT(out, " ahead") < 0 ? -1 : 0;
	return duration(out, secs) < 0 || LIT(out, " ago") < 0 ? -1 : 0;
}

/* Local time as the mail log shows it. */
static int
clock_time(struct strbuf *out, double t, const char *fmt)
{
	char buf[64];
	time_t tt = (time_t)t;
	struct tm tm;

	if (localtime_r(&tt, &tm) == NULL || strftime(buf, sizeof buf, fmt, &tm) == 0)
		return LIT(out, "?");
	return esc(out, buf);
}

static const char css[] =
	":root{--bg:#f4f5f7;--card:#fff;--fg:#1d2330;--mute:#667085;--line:#e3e6eb;"
	"--c2:#2f9e5a;--c4:#d88c00;--c5:#d64545;--accent:#3566c8}"
	"@media (prefers-color-scheme:dark){:root{--bg:#14171c;--card:#1d2128;--fg:#e6e8eb;"
	"--mute:#98a2b3;--line:#2d333d;--c2:#47c27a;--c4:#f0ad2b;--c5:#f06a6a;--accent:#7ea6f0}}"
	"*{box-sizing:border-box}"
	"body{margin:0;background:var(--bg);color:var(--fg);font:14px/1.45 system-ui,-apple-system,"
	"'Segoe UI',Roboto,'DejaVu Sans',sans-serif;font-variant-numeric:tabular-nums}"
	"header{display:flex;flex-wrap:wrap;align-items:center;gap:6px 18px;padding:14px 24px;"
	"background:var(--card);border-bottom:1px solid var(--line)}"
	"header h1{font-size:18px;margin:0;font-weight:650}"
	"header .meta{color:var(--mute);font-size:13px}"
	"header nav{margin-left:auto;display:flex;gap:14px}"
	"a{color:var(--accent);text-decoration:none}a:hover{text-decoration:underline}"
	"main{padding:18px 24px;max-width:1500px;margin:0 auto}"
	".pill{display:inline-block;padding:2px 10px;border-radius:999px;font-size:12px;"
	"font-weight:600;color:#fff}"
	".ok{background:var(--c2)}.bad{background:var(--c5)}.warn{background:var(--c4)}"
	".na{background:var(--mute)}"
	".grid{display:grid;gap:16px;margin-bottom:16px}"
	".g4{grid-template-columns:repeat(auto-fit,minmax(230px,1fr))}"
	".g2{grid-template-columns:repeat(auto-fit,minmax(440px,1fr))}"
	".card{background:var(--card);border:1px solid var(--line);border-radius:10px;"
	"padding:14px 16px;min-width:0}"
	".card h2{font-size:13px;text-transform:uppercase;letter-spacing:.04em;color:var(--mute);"
	"margin:0 0 8px;font-weight:600}"
	".big{font-size:30px;font-weight:650;line-height:1.1}"
	".sub{color:var(--mute);font-size:12px}"
	"table{border-collapse:collapse;width:100%}"
	"th,td{padding:4px 6px;text-align:left;border-bottom:1px solid var(--line);"
	"vertical-align:top}"
	"th{font-size:12px;color:var(--mute);font-weight:600}"
	"td.n,th.n{text-align:right;white-space:nowrap}"
	"tr:last-child td{border-bottom:0}"
	".k2{color:var(--c2)}.k4{color:var(--c4)}.k5{color:var(--c5)}"
	".mini td{border:0;padding:1px 6px}"
	".code{font-family:ui-monospace,'DejaVu Sans Mono',monospace;font-weight:600;"
	"white-space:nowrap}"
	".m{color:var(--mute);font-size:12.5px}"
	".bar{height:6px;border-radius:3px;background:var(--line);min-width:50px}"
	".bar span{display:block;height:6px;border-radius:3px}"
	".b2{background:var(--c2)}.b4{background:var(--c4)}.b5{background:var(--c5)}"
	".path{font-family:ui-monospace,'DejaVu Sans Mono',monospace;word-break:break-all}"
	".empty{color:var(--mute);font-style:italic;padding:6px 0}"
	"svg text{fill:var(--mute);font-size:11px}"
	".legend{display:flex;gap:14px;font-size:12px;color:var(--mute)}"
	".legend i{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:4px;"
	"vertical-align:-1px}"
	"footer{color:var(--mute);font-size:12px;padding:0 24px 18px;max-width:1500px;"
	"margin:0 auto}";

static int
head(struct strbuf *out, const char *telemetry_path, double now, int nbad, int nsources)
{
	if (strbuf_printf(out, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n"
	    "<meta charset=\"utf-8\">\n<meta http-equiv=\"refresh\" content=\"%d\">\n"
	    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
	    "<link rel=\"icon\" href=\"data:,\">\n"
	    "<title>", PAGE_REFRESH_S) < 0 ||
	    (nbad > 0 && strbuf_printf(out, "(%d not followed) ", nbad) < 0) ||
	    LIT(out, "maillog_exporter</title>\n<style>") < 0 ||
	    LIT(out, css) < 0 ||
	    LIT(out, "</style>\n</head>\n<body>\n<header>\n<h1>maillog_exporter</h1>\n") < 0)
		return -1;
	if (nbad == 0) {
		if (strbuf_printf(out, "<span class=\"pill ok\" id=\"health\">%s</span>\n",
		    nsources == 1 ? "log followed" : "all logs followed") < 0)
			return -1;
	} else if (strbuf_printf(out, "<span class=\"pill bad\" id=\"health\">%d of %d "
	    "logs not followed</span>\n", nbad, nsources) < 0) {
		return -1;
	}
	if (LIT(out, "<span class=\"meta\">updated ") < 0 ||
	    clock_time(out, now, "%Y-%m-%d %H:%M:%S %Z") < 0 ||
	    strbuf_printf(out, " &middot; refreshes every %d s</span>\n<nav><a href=\"",
	    PAGE_REFRESH_S) < 0 ||
	    esc(out, telemetry_path) < 0 ||
	    LIT(out, "\">Metrics</a><a href=\"/healthz\">Health check</a></nav>\n"
	    "</header>\n<main>\n") < 0)
		return -1;
	return 0;
}

/* One window's card: the total, then a small table by class and direction.
 * Cells carry ids ("hour-out-5xx") so tests can read them. */
static int
window_card(struct strbuf *out, const char *id, const char *title, const char *sub,
    uint64_t c[MP_DIR_COUNT][3])
{
	uint64_t total = 0, cls[3] = { 0, 0, 0 };

	for (int d = 0; d < MP_DIR_COUNT; d++)
		for (int k = 0; k < 3; k++) {
			cls[k] += c[d][k];
			total += c[d][k];
		}
	if (strbuf_printf(out, "<div class=\"card\"><h2>%s</h2><div class=\"big\" "
	    "id=\"%s-all\">", title, id) < 0 || num(out, total) < 0 ||
	    strbuf_printf(out, "</div><div class=\"sub\">%s</div>\n"
	    "<table class=\"mini\"><tr><th></th><th class=\"n\">outbound</th>"
	    "<th class=\"n\">inbound</th><th class=\"n\">share</th></tr>\n", sub) < 0)
		return -1;
	for (int k = 0; k < 3; k++) {
		if (strbuf_printf(out, "<tr><td class=\"k%c\"><b>%s</b></td>", class_names[k][0],
		    class_names[k]) < 0)
			return -1;
		for (int d = 0; d < MP_DIR_COUNT; d++)
			if (strbuf_printf(out, "<td class=\"n\" id=\"%s-%s-%s\">", id, dir_ids[d],
			    class_names[k]) < 0 || num(out, c[d][k]) < 0 || LIT(out, "</td>") < 0)
				return -1;
		if (strbuf_printf(out, "<td class=\"n k%c\">%.1f %%</td></tr>\n",
		    class_names[k][0], share(cls[k], total)) < 0)
			return -1;
	}
	return LIT(out, "</table></div>\n");
}

static int
windows(struct strbuf *out, const struct expo_view *v, const struct summary *s, double now)
{
	uint64_t w[3][MP_DIR_COUNT][3];
	uint64_t all[MP_DIR_COUNT][3];
	static const unsigned minutes[3] = { 1, 60, 1440 };
	char sub[96];

	memset(w, 0, sizeof w);
	if (v->history != NULL)
		for (int i = 0; i < 3; i++)
			hist_sum(v->history, (int64_t)now, minutes[i], w[i]);
	memcpy(all, s->cls, sizeof all);
	if (LIT(out, "<div class=\"grid g4\">\n") < 0)
		return -1;
	{
		char hm[16];
		time_t tt = (time_t)now;
		struct tm tm;
		if (localtime_r(&tt, &tm) == NULL || strftime(hm, sizeof hm, "%H:%M", &tm) == 0)
			strcpy(hm, "?");
		snprintf(sub, sizeof sub, "replies since %s", hm);
	}
	if (window_card(out, "minute", "This minute", sub, w[0]) < 0 ||
	    window_card(out, "hour", "Last hour", "replies in the last 60 minutes", w[1]) < 0 ||
	    window_card(out, "day", "Last day", "replies in the last 24 hours", w[2]) < 0)
		return -1;
	{
		char since[64];
		time_t tt = (time_t)agg_start_time(v->agg);
		struct tm tm;
		if (localtime_r(&tt, &tm) == NULL ||
		    strftime(since, sizeof since, "since start, %Y-%m-%d %H:%M", &tm) == 0)
			strcpy(since, "since start");
		if (window_card(out, "total", "All counted", since, all) < 0)
			return -1;
	}
	return LIT(out, "</div>\n");
}

/* The largest of 1, 2, 5 x 10^k at or above v, so the axis reads well. */
static uint64_t
nice_max(uint64_t v)
{
	uint64_t m = 1;

	if (v < 4)
		return 4;
	for (;;) {
		if (m >= v)
			return m;
		if (2 * m >= v)
			return 2 * m;
		if (5 * m >= v)
			return 5 * m;
		m *= 10;
	}
}

/* Stacked bars of 2xx/4xx/5xx per minute, both directions together, the
 * current minute at the right. Coordinates in a fixed viewBox that the
 * browser scales to the card's width. */
static int
chart(struct strbuf *out, const struct hist *h, double now)
{
	enum { W = 960, H = 190, L = 44, R = 8, T = 10, B = 24 };
	uint64_t c[CHART_MINUTES][3], top = 0;
	int64_t last = (int64_t)now / HIST_PAGE_SECONDS;
	const double bw = (double)(W - L - R) / CHART_MINUTES;
	static const char *const fill[3] = { "b2", "b4", "b5" };

	memset(c, 0, sizeof c);
	for (int i = 0; i < CHART_MINUTES; i++) {
		uint64_t v[MP_DIR_COUNT][HIST_CLASSES], sum = 0;
		hist_get(h, last - (CHART_MINUTES - 1) + i, v);
		for (int k = 0; k < 3; k++) {
			c[i][k] = v[MP_DIR_OUTBOUND][k] + v[MP_DIR_INBOUND][k];
			sum += c[i][k];
		}
		if (sum > top)
			top = sum;
	}
	top = nice_max(top);
	if (strbuf_printf(out, "<div class=\"card\" style=\"margin-bottom:16px\">"
	    "<div style=\"display:flex;align-items:center;gap:16px\"><h2 style=\"margin:0\">"
	    "Replies per minute, last hour</h2><div class=\"legend\">"
	    "<span><i class=\"b2\"></i>2xx</span><span><i class=\"b4\"></i>4xx</span>"
	    "<span><i class=\"b5\"></i>5xx</span></div></div>\n"
	    "<svg id=\"chart\" viewBox=\"0 0 %d %d\" width=\"100%%\" role=\"img\" "
	    "aria-label=\"replies per minute by class over the last hour\" "
	    "style=\"display:block;margin-top:8px\">\n", W, H) < 0)
		return -1;
	for (int g = 0; g <= 4; g++) {
		double y = T + (double)(H - T - B) * g / 4;
		if (strbuf_printf(out, "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" "
		    "stroke=\"currentColor\" stroke-opacity=\"0.12\"/>"
		    "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%" PRIu64 "</text>\n",
		    L, W - R, y, y, L - 6, y + 4, top * (uint64_t)(4 - g) / 4) < 0)
			return -1;
	}
	for (int i = 0; i < CHART_MINUTES; i++) {
		double x = L + bw * i + 1, y = H - B;
		char hm[16];
		time_t tt = (time_t)((last - (CHART_MINUTES - 1) + i) * HIST_PAGE_SECONDS);
		struct tm tm;

		if (localtime_r(&tt, &tm) == NULL || strftime(hm, sizeof hm, "%H:%M", &tm) == 0)
			strcpy(hm, "?");
		if (strbuf_printf(out, "<g><title>%s: 2xx %" PRIu64 ", 4xx %" PRIu64
		    ", 5xx %" PRIu64 "</title><rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"%d\" "
		    "fill=\"transparent\"/>", hm, c[i][0], c[i][1], c[i][2], x, T, bw - 2,
		    H - T - B) < 0)
			return -1;
		for (int k = 0; k < 3; k++) {
			double hgt = (double)(H - T - B) * (double)c[i][k] / (double)top;
			if (c[i][k] == 0)
				continue;
			if (hgt < 1.5)
				hgt = 1.5;   /* one 5xx among thousands must still show */
			y -= hgt;
			if (strbuf_printf(out, "<rect class=\"%s\" x=\"%.1f\" y=\"%.1f\" "
			    "width=\"%.1f\" height=\"%.1f\" style=\"fill:var(--c%c)\"/>", fill[k],
			    x, y, bw - 2, hgt, class_names[k][0]) < 0)
				return -1;
		}
		if (LIT(out, "</g>\n") < 0)
			return -1;
		if (i % 10 == 0 || i == CHART_MINUTES - 1)
			if (strbuf_printf(out, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">"
			    "%s</text>\n", x + (bw - 2) / 2, H - 6,
			    i == CHART_MINUTES - 1 ? "now" : hm) < 0)
				return -1;
	}
	return LIT(out, "</svg></div>\n");
}

static int
bar(struct strbuf *out, double pct, int cls)
{
	return strbuf_printf(out, "<div class=\"bar\"><span class=\"b%d\" "
	    "style=\"width:%.1f%%\"></span></div>", cls, pct);
}

/* The class a code row is drawn in. */
static int
row_class(const struct sum_row *r)
{
	if (r->code)
		return r->code / 100;
	return r->enhanced.cls ? r->enhanced.cls : 0;
}

/* Top reply codes (enhanced == 0) or enhanced codes of one direction. */
static int
code_table(struct strbuf *out, const struct summary *s, enum mp_direction dir,
    int enhanced)
{
	const struct sum_row *rows = enhanced ? s->enhanced : s->codes;
	size_t n = enhanced ? s->nenhanced : s->ncodes, shown = 0;
	char buf[MEANING_BUFSZ], ebuf[MP_ENHANCED_BUFSZ];

	if (strbuf_printf(out, "<div class=\"card\"><h2>%s %s</h2>\n",
	    dir == MP_DIR_OUTBOUND ? "Outbound" : "Inbound",
	    enhanced ? "enhanced codes" : "reply codes") < 0)
		return -1;
	if (s->dir_total[dir] == 0)
		return strbuf_printf(out, "<div class=\"empty\">No %s replies counted yet.</div>"
		    "</div>\n", dir == MP_DIR_OUTBOUND ? "delivery" : "reject");
	if (strbuf_printf(out, "<table id=\"%s-%s\"><tr><th>%s</th><th class=\"n\">count"
	    "</th><th class=\"n\">share</th><th></th><th>meaning</th></tr>\n", dir_ids[dir],
	    enhanced ? "enhanced" : "codes", enhanced ? "enhanced" : "code") < 0)
		return -1;
	for (size_t i = 0; i < n && shown < PAGE_TOP_ROWS; i++) {
		const struct sum_row *r = &rows[i];
		const char *label, *meaning;
		int cls = row_class(r);
		double pct = share(r->count, s->dir_total[dir]);

		if (r->dir != dir)
			continue;
		shown++;
		if (r->overflow) {
			label = "other";
			meaning = "codes past the series cap (--metrics.max-series)";
		} else if (!enhanced) {
			label = r->code ? (snprintf(ebuf, sizeof ebuf, "%u", (unsigned)r->code), ebuf) :
			    "none";
			meaning = r->code ? meaning_reply(r->code, buf, sizeof buf) :
			    "the log line quotes no reply code";
		} else {
			if (r->enhanced.cls) {
				mp_format_enhanced(&r->enhanced, ebuf);
				label = ebuf;
				meaning = meaning_enhanced(&r->enhanced, buf, sizeof buf);
			} else {
				label = "none";
				meaning = "the log line states no enhanced code";
			}
		}
		if (strbuf_printf(out, "<tr><td class=\"code k%d\">", cls) < 0 ||
		    esc(out, label) < 0 || LIT(out, "</td><td class=\"n\">") < 0 ||
		    num(out, r->count) < 0 ||
		    strbuf_printf(out, "</td><td class=\"n\">%.1f %%</td><td style=\"width:70px\">",
		    pct) < 0 || bar(out, pct, cls ? cls : 2) < 0 ||
		    LIT(out, "</td><td class=\"m\">") < 0 || esc(out, meaning) < 0 ||
		    LIT(out, "</td></tr>\n") < 0)
			return -1;
	}
	return LIT(out, "</table></div>\n");
}

/* Why the 4xx and 5xx of one direction failed, most frequent reason
 * first, each with what it means. Greylisting is marked harmless: it is
 * the commonest 4xx and needs nobody, so it must not read as trouble.
 * not_attempted comes last, marked: those lines repeat failures above. */
static int
reason_table(struct strbuf *out, const struct summary *s, enum mp_direction dir)
{
	enum reason order[REASON_COUNT];
	size_t n = summary_reason_rank(s, dir, order);

	if (strbuf_printf(out, "<div class=\"card\"><h2>Why it failed (%s)</h2>\n",
	    dir == MP_DIR_OUTBOUND ? "outbound" : "inbound") < 0)
		return -1;
	if (n == 0)
		return strbuf_printf(out, "<div class=\"empty\">No %s 4xx or 5xx counted yet."
		    "</div></div>\n", dir == MP_DIR_OUTBOUND ? "outbound" : "inbound");
	if (strbuf_printf(out, "<table id=\"%s-reasons\"><tr><th>reason</th>"
	    "<th class=\"n\">4xx</th><th class=\"n\">5xx</th><th class=\"n\">share</th>"
	    "<th></th><th>meaning</th></tr>\n", dir_ids[dir]) < 0)
		return -1;
	for (size_t i = 0; i < n && i < PAGE_TOP_ROWS; i++) {
		enum reason r = order[i];
		int harmless = summary_reason_harmless(r);
		int cls = harmless ? 2 : s->reason_cls[dir][1][r] >= s->reason_cls[dir][0][r] ?
		    5 : 4;
		double pct = share(s->reasons[dir][r], s->reason_total[dir]);

		if (strbuf_printf(out, "<tr><td class=\"code k%d\">", cls) < 0 ||
		    esc(out, reason_name(r)) < 0 ||
		    strbuf_printf(out, "</td><td class=\"n\" id=\"%s-reason-%s-4xx\">",
		    dir_ids[dir], reason_name(r)) < 0 || num(out, s->reason_cls[dir][0][r]) < 0 ||
		    strbuf_printf(out, "</td><td class=\"n\" id=\"%s-reason-%s-5xx\">",
		    dir_ids[dir], reason_name(r)) < 0 || num(out, s->reason_cls[dir][1][r]) < 0 ||
		    strbuf_printf(out, "</td><td class=\"n\">%.1f %%</td><td style=\"width:70px\">",
		    pct) < 0 || bar(out, pct, cls) < 0 || LIT(out, "</td><td class=\"m\">") < 0 ||
		    (harmless && LIT(out, "<span class=\"pill ok\">harmless</span> ") < 0) ||
		    (summary_reason_not_attempted(r) &&
		    LIT(out, "<span class=\"pill na\">not attempted</span> ") < 0) ||
		    esc(out, summary_reason_meaning(r)) < 0 || LIT(out, "</td></tr>\n") < 0)
			return -1;
	}
	return LIT(out, "</table></div>\n");
}

static int
domain_table(struct strbuf *out, const struct summary *s, int cls)
{
	uint64_t total = s->cls[MP_DIR_OUTBOUND][SUMMARY_CLASS_INDEX(cls)];
	size_t shown = 0;

	if (strbuf_printf(out, "<div class=\"card\"><h2>Top %s domains (%dxx)</h2>\n",
	    cls == 4 ? "deferring" : "bouncing", cls) < 0)
		return -1;
	if (total == 0)
		return strbuf_printf(out, "<div class=\"empty\">No %s recipient domains.</div>"
		    "</div>\n", cls == 4 ? "deferred" : "bounced");
	if (strbuf_printf(out, "<table id=\"domains-%dxx\"><tr><th>domain</th>"
	    "<th class=\"n\">count</th><th class=\"n\">share</th><th></th></tr>\n", cls) < 0)
		return -1;
	for (size_t i = 0; i < s->ndomains && shown < PAGE_TOP_ROWS; i++) {
		const struct sum_row *r = &s->domains[i];
		double pct = share(r->count, total);
		int other = strcmp(r->domain, SUMMARY_OTHER_DOMAIN) == 0;

		if (r->cls != cls)
			continue;
		shown++;
		if (LIT(out, "<tr><td class=\"path\">") < 0 ||
		    (other ? LIT(out, "<span class=\"m\">other (domains without a label of "
		    "their own)</span>") : esc(out, r->domain)) < 0 ||
		    LIT(out, "</td><td class=\"n\">") < 0 || num(out, r->count) < 0 ||
		    strbuf_printf(out, "</td><td class=\"n\">%.1f %%</td><td style=\"width:90px\">",
		    pct) < 0 || bar(out, pct, cls) < 0 || LIT(out, "</td></tr>\n") < 0)
			return -1;
	}
	return LIT(out, "</table></div>\n");
}

/* One row of "Files followed". id >= 0 gives the lines cell an id
 * (lines-ID); lps < 0 shows no rate; files >= 0 marks a glob's row with
 * its count of files, file a row of one of its files. */
static int
file_row(struct strbuf *out, const char *path, const struct input_status *st, double now,
    int id, double lps, long long files, int file)
{
	int state = atomic_load_explicit(&st->state, memory_order_relaxed);
	int64_t last = atomic_load_explicit(&st->last_read_unix, memory_order_relaxed);
	uint64_t errors = atomic_load_explicit(&st->open_errors, memory_order_relaxed);
	const char *pill = state == INPUT_STATE_FOLLOWING || state == INPUT_STATE_EOF ? "ok" :
	    state == INPUT_STATE_WAITING ? "warn" : "bad";

	if (LIT(out, "<tr><td class=\"path\">") < 0 ||
	    (file && LIT(out, "&nbsp;&nbsp;&#8627;&nbsp;") < 0) || esc(out, path) < 0 ||
	    (files >= 0 && strbuf_printf(out, " <span class=\"m\">(glob: %lld file%s; "
	    "the rows below)</span>", files, files == 1 ? "" : "s") < 0) ||
	    strbuf_printf(out, "</td><td><span class=\"pill %s\">", pill) < 0 ||
	    esc(out, input_state_name((enum input_state)state)) < 0 ||
	    LIT(out, "</span></td><td class=\"n\"") < 0 ||
	    (id >= 0 && strbuf_printf(out, " id=\"lines-%d\"", id) < 0) ||
	    LIT(out, ">") < 0 ||
	    num(out, atomic_load_explicit(&st->lines, memory_order_relaxed)) < 0 ||
	    LIT(out, "</td><td class=\"n\">") < 0)
		return -1;
	if (lps >= 0) {
		if (strbuf_printf(out, "%.1f", lps) < 0)
			return -1;
	} else if (LIT(out, "&ndash;") < 0) {
		return -1;
	}
	if (LIT(out, "</td><td>") < 0 ||
	    (last > 0 ? ago(out, now - (double)last) : LIT(out, "never")) < 0 ||
	    LIT(out, "</td><td class=\"n\">") < 0 ||
	    num(out, atomic_load_explicit(&st->rotations, memory_order_relaxed) +
	    atomic_load_explicit(&st->truncations, memory_order_relaxed)) < 0 ||
	    strbuf_printf(out, "</td><td class=\"n%s\">", errors ? " k5" : "") < 0 ||
	    num(out, errors) < 0 || LIT(out, "</td></tr>\n") < 0)
		return -1;
	return 0;
}

/* A glob's files shown under it, at most this many (the page is for a
 * person; /metrics has them all). */
#define PAGE_GLOB_FILES 50

/* Every input, and under a glob (its row sums them) each file it follows. */
static int
files_table(struct strbuf *out, const struct expo_view *v, double now,
    const double *lines_per_s)
{
	char path[PATH_MAX];
	struct input_status fst;

	if (LIT(out, "<div class=\"card\"><h2>Files followed</h2>\n<table id=\"files\"><tr>"
	    "<th>path</th><th>state</th><th class=\"n\">lines read</th>"
	    "<th class=\"n\">lines/s</th><th>last line read</th><th class=\"n\">rotations</th>"
	    "<th class=\"n\">errors</th></tr>\n") < 0)
		return -1;
	for (int i = 0; i < v->nsources; i++) {
		const struct input_status *st = v->sources[i].status;
		const struct input_files *t = v->sources[i].files;
		int shown = 0, more = 0;

		if (file_row(out, v->sources[i].path, st, now, i,
		    lines_per_s != NULL ? lines_per_s[i] : -1, t != NULL ? (long long)
		    atomic_load_explicit(&st->files, memory_order_relaxed) : -1, 0) < 0)
			return -1;
		for (int k = 0; t != NULL && k < t->nslots; k++) {
			if (!input_files_read(t, k, path, sizeof path, &fst))
				continue;
			if (shown == PAGE_GLOB_FILES) {
				more++;
				continue;
			}
			shown++;
			if (file_row(out, path, &fst, now, -1, -1, -1, 1) < 0)
				return -1;
		}
		if (more > 0 && strbuf_printf(out, "<tr><td class=\"path\" colspan=\"7\">"
		    "<span class=\"m\">&nbsp;&nbsp;and %d more files (see /metrics)</span>"
		    "</td></tr>\n", more) < 0)
			return -1;
	}
	return LIT(out, "</table></div>\n");
}

/* Per MTA: what matched, what did not, and how far behind the log is. */
static int
mta_table(struct strbuf *out, const struct expo_view *v, double now)
{
	int shown = 0;

	if (LIT(out, "<div class=\"card\"><h2>Parsers</h2>\n<table id=\"mtas\"><tr>"
	    "<th>mta</th><th class=\"n\">status lines</th><th class=\"n\">received</th>"
	    "<th class=\"n\">unmatched</th><th>last line seen (log time)</th>"
	    "<th class=\"n\">lag</th></tr>\n") < 0)
		return -1;
	for (int m = MP_MTA_NONE; m < MP_MTA_MAX; m++) {
		uint64_t unmatched = agg_unmatched_count(v->agg, m);
		uint64_t matched = m >= 0 ? agg_matched_count(v->agg, m) : 0;
		double ts = m >= 0 ? agg_last_timestamp(v->agg, m) : -1;

		if (matched == 0 && unmatched == 0)
			continue;
		shown++;
		if (LIT(out, "<tr><td class=\"code\">") < 0 ||
		    esc(out, mp_mta_name(v->names, m)) < 0 ||
		    LIT(out, "</td><td class=\"n\">") < 0 ||
		    num(out, m >= 0 ? agg_events_count(v->agg, m) : 0) < 0 ||
		    LIT(out, "</td><td class=\"n\">") < 0 ||
		    num(out, m >= 0 ? agg_received_count(v->agg, m) : 0) < 0 ||
		    strbuf_printf(out, "</td><td class=\"n%s\" id=\"unmatched-", unmatched ?
		    " k4" : "") < 0 || esc(out, mp_mta_name(v->names, m)) < 0 ||
		    LIT(out, "\">") < 0 ||
		    num(out, unmatched) < 0 || LIT(out, "</td><td>") < 0)
			return -1;
		if (ts >= 0) {
			if (clock_time(out, ts, "%Y-%m-%d %H:%M:%S") < 0 ||
			    LIT(out, "</td><td class=\"n\">") < 0 ||
			    (now - ts < 0 ? LIT(out, "&minus;") < 0 || duration(out, ts - now) < 0 :
			    duration(out, now - ts)) < 0)
				return -1;
		} else if (LIT(out, "&ndash;</td><td class=\"n\">&ndash;") < 0) {
			return -1;
		}
		if (LIT(out, "</td></tr>\n") < 0)
			return -1;
	}
	if (shown == 0 && LIT(out, "<tr><td colspan=\"6\" class=\"empty\">No line matched "
	    "yet.</td></tr>\n") < 0)
		return -1;
	return LIT(out, "</table></div>\n");
}

static int
outcomes(struct strbuf *out, const struct summary *s)
{
	static const enum mp_outcome order[] = {
		MP_OUTCOME_SENT, MP_OUTCOME_DEFERRED, MP_OUTCOME_BOUNCED, MP_OUTCOME_EXPIRED,
		MP_OUTCOME_REJECTED, MP_OUTCOME_TEMP_REJECTED,
	};
	static const int cls[] = { 2, 4, 5, 5, 5, 4 };

	if (LIT(out, "<div class=\"card\"><h2>Outcomes since start</h2><table id=\"outcomes\">"
	    "<tr><th>outcome</th><th class=\"n\">count</th><th class=\"n\">share</th></tr>\n") < 0)
		return -1;
	for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
		uint64_t n = s->outcomes[order[i]];
		if (strbuf_printf(out, "<tr><td class=\"k%d\">%s</td><td class=\"n\" "
		    "id=\"outcome-%s\">", cls[i], summary_outcome_name(order[i]),
		    summary_outcome_name(order[i])) < 0 || num(out, n) < 0 ||
		    strbuf_printf(out, "</td><td class=\"n\">%.1f %%</td></tr>\n",
		    share(n, s->total)) < 0)
			return -1;
	}
	if (LIT(out, "<tr><td>messages received</td><td class=\"n\" id=\"received\">") < 0 ||
	    num(out, s->received) < 0 || LIT(out, "</td><td></td></tr>\n</table></div>\n") < 0)
		return -1;
	return 0;
}

static int
session_row(struct strbuf *out, const char *id, const char *what, uint64_t n,
    uint64_t whole, int cls)
{
	if (strbuf_printf(out, "<tr><td%s>%s</td><td class=\"n\" id=\"%s\">",
	    n > 0 && cls ? (cls == 5 ? " class=\"k5\"" : " class=\"k4\"") : "", what, id) < 0 ||
	    num(out, n) < 0)
		return -1;
	if (whole > 0)
		return strbuf_printf(out, "</td><td class=\"n\">%.1f %%</td></tr>\n",
		    share(n, whole));
	return LIT(out, "</td><td></td></tr>\n");
}

/* Sessions since start, from the operational families (summary.h's
 * sum_sessions): what a postmaster checks when clients complain (drops,
 * AUTH, TLS) and what must be zero (panics). A line that is never logged
 * stays at 0. */
static int
sessions(struct strbuf *out, const struct summary *s)
{
	const struct sum_sessions *ss = &s->sess;

	if (LIT(out, "<div class=\"card\"><h2>Sessions since start</h2><table id=\"sessions\">"
	    "<tr><th>what</th><th class=\"n\">count</th><th class=\"n\">of connections</th>"
	    "</tr>\n") < 0 ||
	    session_row(out, "smtpd-connects", "client connections", ss->connects, 0, 0) < 0 ||
	    session_row(out, "smtpd-no-quit", "ended without QUIT", ss->no_quit, ss->connects,
	    0) < 0 ||
	    session_row(out, "smtpd-lost", "lost connections", ss->lost, ss->connects, 4) < 0 ||
	    session_row(out, "smtpd-timeouts", "timed out", ss->timeouts, ss->connects, 4) < 0 ||
	    session_row(out, "smtpd-auth-failures", "AUTH failures", ss->auth_failures, 0,
	    4) < 0 ||
	    session_row(out, "tls-in", "TLS sessions in", ss->tls[MP_DIR_INBOUND], ss->connects,
	    0) < 0 ||
	    session_row(out, "tls-out", "TLS sessions out", ss->tls[MP_DIR_OUTBOUND], 0, 0) < 0 ||
	    session_row(out, "tls-failures", "TLS handshakes failed", ss->tls_failures, 0,
	    4) < 0 ||
	    session_row(out, "panics", "MTA panics and fatal errors", ss->panics + ss->fatals, 0,
	    5) < 0)
		return -1;
	return LIT(out, "</table></div>\n");
}

/* The queue card: the collector's last snapshot, how old it is, and
 * whether the last attempt worked; says so when nothing is collected. */
static int
queue_card(struct strbuf *out, const struct expo_view *v, double now)
{
	struct queue_snapshot q;
	int any = 0;

	if (LIT(out, "<div class=\"card\"><h2>Mail queue</h2><table id=\"queue\">"
	    "<tr><th>queue</th><th class=\"n\">messages</th></tr>\n") < 0)
		return -1;
	if (v->queue != NULL) {
		queue_board_read(v->queue, &q);
		if (q.have[QUEUE_MTA_POSTFIX]) {
			any = 1;
			for (int i = 0; i < SHOWQ_NQUEUES; i++) {
				const char *name = showq_queue_name((enum showq_queue)i);
				if (strbuf_printf(out, "<tr><td>postfix %s</td><td class=\"n\" "
				    "id=\"queue-postfix-%s\">", name, name) < 0 ||
				    num(out, q.postfix.messages[i]) < 0 ||
				    LIT(out, "</td></tr>\n") < 0)
					return -1;
			}
		}
		if (q.have[QUEUE_MTA_EXIM]) {
			any = 1;
			if (LIT(out, "<tr><td>exim</td><td class=\"n\" id=\"queue-exim\">") < 0 ||
			    num(out, q.exim_messages) < 0 || LIT(out, "</td></tr>\n") < 0)
				return -1;
			if (q.exim_have_frozen && (LIT(out, "<tr><td>exim frozen</td>"
			    "<td class=\"n\" id=\"queue-exim-frozen\">") < 0 ||
			    num(out, q.exim_frozen) < 0 || LIT(out, "</td></tr>\n") < 0))
				return -1;
		}
		for (int m = 0; m < QUEUE_NMTAS; m++) {
			int failing = 0;
			for (int k = 0; k < QUEUE_NMETHODS; k++)
				failing |= q.success[m][k] == 0;
			if (!q.have[m] && !failing)
				continue;
			if (strbuf_printf(out, "<tr><td colspan=\"2\"%s>%s: ",
			    failing ? " class=\"k4\"" : "", queue_mta_name((enum queue_mta)m)) < 0 ||
			    (q.have[m] ? LIT(out, "counted ") < 0 || ago(out, now - q.timestamp[m]) < 0 :
			    LIT(out, "never counted") < 0) ||
			    (failing && LIT(out, "; the last attempt failed (see the exporter's log)") < 0) ||
			    LIT(out, "</td></tr>\n") < 0)
				return -1;
			any = 1;
		}
	}
	if (!any && LIT(out, "<tr><td colspan=\"2\">not collected: no MTA queue found, or "
	    "--queue.interval=0 (README \"Queue sizes\")</td></tr>\n") < 0)
		return -1;
	return LIT(out, "</table></div>\n");
}

int
page_render(const struct expo_view *v, const char *telemetry_path, double now,
    const double *lines_per_s, struct strbuf *out)
{
	struct summary s;
	int nbad = 0, rc = -1;

	for (int i = 0; i < v->nsources; i++) {
		int st = atomic_load_explicit(&v->sources[i].status->state, memory_order_relaxed);
		if (st == INPUT_STATE_WAITING || st == INPUT_STATE_ERROR)
			nbad++;
	}
	if (summary_build(&s, v->agg) < 0)
		goto done;
	if (head(out, telemetry_path, now, nbad, v->nsources) < 0 ||
	    windows(out, v, &s, now) < 0 ||
	    (v->history != NULL && chart(out, v->history, now) < 0) ||
	    LIT(out, "<div class=\"grid g2\">\n") < 0 ||
	    reason_table(out, &s, MP_DIR_OUTBOUND) < 0 ||
	    reason_table(out, &s, MP_DIR_INBOUND) < 0 ||
	    code_table(out, &s, MP_DIR_OUTBOUND, 0) < 0 ||
	    code_table(out, &s, MP_DIR_INBOUND, 0) < 0 ||
	    code_table(out, &s, MP_DIR_OUTBOUND, 1) < 0 ||
	    code_table(out, &s, MP_DIR_INBOUND, 1) < 0 ||
	    domain_table(out, &s, 4) < 0 ||
	    domain_table(out, &s, 5) < 0 ||
	    LIT(out, "</div>\n<div class=\"grid\">\n") < 0 ||
	    files_table(out, v, now, lines_per_s) < 0 ||
	    LIT(out, "</div>\n<div class=\"grid g2\">\n") < 0 ||
	    mta_table(out, v, now) < 0 ||
	    outcomes(out, &s) < 0 ||
	    sessions(out, &s) < 0 ||
	    queue_card(out, v, now) < 0 ||
	    LIT(out, "</div>\n") < 0 ||
	    strbuf_printf(out, "</main>\n<footer>maillog_exporter %s (revision %s) &middot; "
	    "counts since the exporter started; the last minute, hour and day are by the time "
	    "lines were read &middot; series in use: %zu of %zu</footer>\n</body>\n</html>\n",
	    MAILLOG_EXPORTER_VERSION, MAILLOG_EXPORTER_REVISION, agg_total_series(v->agg),
	    agg_options(v->agg)->max_series) < 0)
		goto done;
	rc = 0;
done:
	summary_fini(&s);
	return rc;
}

/* Line counts at the previous view, for lines/s. The web server runs one
 * thread, but the lock keeps this right should a pool be configured. */
static struct {
	pthread_mutex_t lock;
	double at;
	uint64_t lines[RATE_SOURCES];
	double rate[RATE_SOURCES];
} rates = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* Rates over at least 2 s: a reload a moment after the last one keeps
 * the previous rates rather than showing the noise of a few lines. The
 * first view shows the average since the exporter started. */
static void
measure_rates(const struct expo_view *v, double now, double *out)
{
	int n = v->nsources < RATE_SOURCES ? v->nsources : RATE_SOURCES;

	pthread_mutex_lock(&rates.lock);
	for (int i = 0; i < v->nsources; i++) {
		uint64_t lines = atomic_load_explicit(&v->sources[i].status->lines,
		    memory_order_relaxed);
		if (i >= n) {
			out[i] = -1;
			continue;
		}
		if (rates.at == 0) {
			double up = now - agg_start_time(v->agg);
			rates.rate[i] = up > 1 ? (double)lines / up : -1;
		} else if (now - rates.at >= 2 && lines >= rates.lines[i]) {
			rates.rate[i] = (double)(lines - rates.lines[i]) / (now - rates.at);
		}
		out[i] = rates.rate[i];
	}
	if (rates.at == 0 || now - rates.at >= 2) {
		for (int i = 0; i < n; i++)
			rates.lines[i] = atomic_load_explicit(&v->sources[i].status->lines,
			    memory_order_relaxed);
		rates.at = now;
	}
	pthread_mutex_unlock(&rates.lock);
}

int
page_build(const struct expo_view *v, const char *telemetry_path, struct strbuf *out)
{
	struct timespec ts;
	double now, *lps;
	int ret;

	clock_gettime(CLOCK_REALTIME, &ts);
	now = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
	lps = calloc(v->nsources > 0 ? (size_t)v->nsources : 1, sizeof *lps);
	if (lps == NULL)
		return -1;
	measure_rates(v, now, lps);
	ret = page_render(v, telemetry_path, now, lps, out);
	free(lps);
	return ret;
}
