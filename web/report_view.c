/*
 * report_view.c - the text and JSON of `maillog_exporter report` (see
 * report_view.h).
 *
 * Totals, code tables, reasons and sessions are read back through
 * summary.c, as the status page reads them; the per-hour table and each
 * domain's main codes come from the report's own tallies.
 */
#include "web/report_view.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "parsers/meaning.h"
#include "parsers/mp.h"
#include "parsers/reason.h"
#include "web/expo.h"
#include "web/summary.h"

/* Codes shown per domain. */
#define MAIN_CODES 3

#define LIT(out, lit) strbuf_append((out), (lit), sizeof(lit) - 1)

/* A JSON string: expo_escape_label already writes \\, \" and \n and
 * replaces ill-formed UTF-8 with U+FFFD; the other control characters
 * JSON forbids raw become \u00XX. */
static int
json_str(struct strbuf *out, const char *s)
{
	struct strbuf tmp = { 0 };
	int rc = -1;

	if (expo_escape_label(&tmp, s, strlen(s)) < 0 || LIT(out, "\"") < 0)
		goto done;
	for (size_t i = 0; i < tmp.len; i++) {
		unsigned char c = (unsigned char)tmp.data[i];
		if (c < 0x20 ? strbuf_printf(out, "\\u%04x", c) < 0 :
		    strbuf_append(out, tmp.data + i, 1) < 0)
			goto done;
	}
	rc = LIT(out, "\"");
done:
	strbuf_free(&tmp);
	return rc;
}

static double
share(uint64_t part, uint64_t whole)
{
	return whole ? (double)part / (double)whole : 0;
}

static void
fmt_time(char *buf, size_t len, int64_t t, const char *fmt)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (localtime_r(&tt, &tm) == NULL || strftime(buf, len, fmt, &tm) == 0)
		snprintf(buf, len, "?");
}

/* The label and meaning of a code row. */
static void
row_text(const struct sum_row *r, int enhanced, char *label, size_t llen, char *mbuf,
    const char **meaning)
{
	if (r->overflow) {
		snprintf(label, llen, "other");
		*meaning = "codes past the series cap";
	} else if (!enhanced) {
		if (r->code) {
			snprintf(label, llen, "%u", (unsigned)r->code);
			*meaning = meaning_reply(r->code, mbuf, MEANING_BUFSZ);
		} else {
			snprintf(label, llen, "none");
			*meaning = "the log line quotes no reply code";
		}
	} else if (r->enhanced.cls) {
		mp_format_enhanced(&r->enhanced, label);
		*meaning = meaning_enhanced(&r->enhanced, mbuf, MEANING_BUFSZ);
	} else {
		snprintf(label, llen, "none");
		*meaning = "the log line states no enhanced code";
	}
}

/* The main codes of one domain and class, most frequent first, into
 * idx (at most MAIN_CODES); returns how many. */
static size_t
main_codes(const struct dc_table *t, const char *name, unsigned cls, size_t *idx)
{
	size_t n = 0;

	for (size_t i = 0; i < t->n; i++) {
		const struct dc_entry *x = &t->e[i];
		size_t j;

		if (x->cls != cls || strcmp(x->name, name) != 0)
			continue;
		/* Insertion into a short ranked list; ties by code for a stable output. */
		for (j = n; j > 0; j--) {
			const struct dc_entry *y = &t->e[idx[j - 1]];
			if (y->count > x->count || (y->count == x->count &&
			    (y->code < x->code || (y->code == x->code &&
			    (y->enh.subject * 1000 + y->enh.detail) <
			    (x->enh.subject * 1000 + x->enh.detail)))))
				break;
			if (j < MAIN_CODES)
				idx[j] = idx[j - 1];
		}
		if (j < MAIN_CODES) {
			idx[j] = i;
			if (n < MAIN_CODES)
				n++;
		}
	}
	return n;
}

static void
code_pair(const struct dc_entry *x, char *buf, size_t len)
{
	char e[MP_ENHANCED_BUFSZ];

	if (x->enh.cls)
		mp_format_enhanced(&x->enh, e);
	if (x->code && x->enh.cls)
		snprintf(buf, len, "%u %s", (unsigned)x->code, e);
	else if (x->code)
		snprintf(buf, len, "%u", (unsigned)x->code);
	else if (x->enh.cls)
		snprintf(buf, len, "%s", e);
	else
		snprintf(buf, len, "no code");
}

/* One recipient domain's deferrals or bounces, summed over its codes. */
struct dom_row {
	const char *name;
	unsigned cls;
	uint64_t count;
};

static int
dc_name_cmp(const void *x, const void *y)
{
	const struct dc_entry *a = *(const struct dc_entry *const *)x;
	const struct dc_entry *b = *(const struct dc_entry *const *)y;

	if (a->cls != b->cls)
		return a->cls < b->cls ? -1 : 1;
	return strcmp(a->name, b->name);
}

static int
dom_rank_cmp(const void *x, const void *y)
{
	const struct dom_row *a = x, *b = y;

	if (a->cls != b->cls)
		return a->cls < b->cls ? -1 : 1;
	if (a->count != b->count)
		return a->count > b->count ? -1 : 1;
	return strcmp(a->name, b->name);
}

/*
 * Every deferring and bouncing domain with its exact count, ranked per
 * class. The daemon gives a domain its own series only once it is a
 * heavy hitter, and what came before stays in "other" (see topk.h); a
 * report has the whole log at hand, so it counts every domain from its
 * first line. Returns the rows (caller frees) and their number in *n, or
 * NULL out of memory.
 */
static struct dom_row *
domain_rows(const struct dc_table *t, size_t *n)
{
	const struct dc_entry **e = malloc((t->n ? t->n : 1) * sizeof *e);
	struct dom_row *rows = malloc((t->n ? t->n : 1) * sizeof *rows);
	size_t k = 0, m = 0;

	if (e == NULL || rows == NULL) {
		free(e);
		free(rows);
		return NULL;
	}
	for (size_t i = 0; i < t->n; i++)
		e[k++] = &t->e[i];
	qsort(e, k, sizeof *e, dc_name_cmp);
	for (size_t i = 0; i < k; i++) {
		if (m > 0 && rows[m - 1].cls == e[i]->cls && strcmp(rows[m - 1].name,
		    e[i]->name) == 0) {
			rows[m - 1].count += e[i]->count;
			continue;
		}
		rows[m++] = (struct dom_row){ e[i]->name, e[i]->cls, e[i]->count };
	}
	free(e);
	qsort(rows, m, sizeof *rows, dom_rank_cmp);
	*n = m;
	return rows;
}

static const char *const class_names[3] = { "2xx", "4xx", "5xx" };
static const enum mp_outcome outcome_order[] = {
	MP_OUTCOME_SENT, MP_OUTCOME_DEFERRED, MP_OUTCOME_BOUNCED, MP_OUTCOME_EXPIRED,
	MP_OUTCOME_REJECTED, MP_OUTCOME_TEMP_REJECTED,
};
#define N_OUTCOMES (sizeof outcome_order / sizeof outcome_order[0])

static uint64_t
lines_read(const struct report_input *in, int n, uint64_t *overlong)
{
	uint64_t lines = 0;

	*overlong = 0;
	for (int i = 0; i < n; i++) {
		lines += atomic_load(&in[i].st.lines);
		*overlong += atomic_load(&in[i].st.overlong);
	}
	return lines;
}

static uint64_t
unmatched_total(const struct agg *a)
{
	uint64_t n = 0;

	for (int m = MP_MTA_NONE; m < MP_MTA_MAX; m++)
		n += agg_unmatched_count(a, m);
	return n;
}

static int
text_codes(struct strbuf *o, const struct summary *s, int enhanced)
{
	const struct sum_row *rows = enhanced ? s->enhanced : s->codes;
	size_t n = enhanced ? s->nenhanced : s->ncodes;

	if (strbuf_printf(o, "\n%s\n  %-9s %-9s %9s %7s  %s\n", enhanced ?
	    "Enhanced status codes (RFC 3463)" : "Reply codes", "direction",
	    enhanced ? "enhanced" : "code", "count", "share", "meaning") < 0)
		return -1;
	if (n == 0)
		return LIT(o, "  (none)\n");
	for (size_t i = 0; i < n; i++) {
		char label[16], mbuf[MEANING_BUFSZ];
		const char *meaning;

		row_text(&rows[i], enhanced, label, sizeof label, mbuf, &meaning);
		if (strbuf_printf(o, "  %-9s %-9s %9" PRIu64 " %6.1f%%  %s\n",
		    mp_direction_name(rows[i].dir), label, rows[i].count,
		    100 * share(rows[i].count, s->dir_total[rows[i].dir]), meaning) < 0)
			return -1;
	}
	return 0;
}

/* 4xx and 5xx by reason, per direction: shares are of that direction's
 * failures, so "greylisted 60 %" reads as most trouble being no trouble;
 * not_attempted comes last, marked, as a repeat of failures above it. */
static int
text_reasons(struct strbuf *o, const struct summary *s)
{
	size_t shown = 0;

	if (strbuf_printf(o, "\nWhy it failed (4xx and 5xx by reason)\n  %-9s %-21s %7s %7s "
	    "%7s %7s  %s\n", "direction", "reason", "4xx", "5xx", "total", "share",
	    "meaning") < 0)
		return -1;
	for (int d = 0; d < MP_DIR_COUNT; d++) {
		enum reason order[REASON_COUNT];
		size_t n = summary_reason_rank(s, (enum mp_direction)d, order);

		for (size_t i = 0; i < n; i++) {
			enum reason rs = order[i];
			if (strbuf_printf(o, "  %-9s %-21s %7" PRIu64 " %7" PRIu64 " %7" PRIu64
			    " %6.1f%%  %s%s\n", mp_direction_name((enum mp_direction)d),
			    reason_name(rs), s->reason_cls[d][0][rs], s->reason_cls[d][1][rs],
			    s->reasons[d][rs], 100 * share(s->reasons[d][rs], s->reason_total[d]),
			    summary_reason_harmless(rs) ? "(harmless) " :
			    summary_reason_not_attempted(rs) ? "(not attempted) " : "",
			    summary_reason_meaning(rs)) < 0)
				return -1;
		}
		shown += n;
	}
	return shown ? 0 : LIT(o, "  (none)\n");
}

static int
text_domains(struct strbuf *o, const struct report_data *r, const struct summary *s,
    const struct dom_row *rows, size_t nrows, int cls)
{
	uint64_t total = s->cls[MP_DIR_OUTBOUND][SUMMARY_CLASS_INDEX(cls)];
	size_t shown = 0;

	if (strbuf_printf(o, "\nTop %s domains (outbound %dxx)\n  %-32s %9s %7s  %s\n",
	    cls == 4 ? "deferring" : "bouncing", cls, "domain", "count", "share",
	    "main codes") < 0)
		return -1;
	for (size_t i = 0; i < nrows && shown < REPORT_TOP_DOMAINS; i++) {
		const struct dom_row *d = &rows[i];
		size_t idx[MAIN_CODES], n;

		if (d->cls != (unsigned)cls)
			continue;
		shown++;
		if (strbuf_printf(o, "  %-32s %9" PRIu64 " %6.1f%% ", d->name, d->count,
		    100 * share(d->count, total)) < 0)
			return -1;
		n = main_codes(&r->t->dc, d->name, (unsigned)cls, idx);
		for (size_t j = 0; j < n; j++) {
			char pair[32];
			code_pair(&r->t->dc.e[idx[j]], pair, sizeof pair);
			if (strbuf_printf(o, "%s %s (%" PRIu64 ")", j ? "," : "", pair,
			    r->t->dc.e[idx[j]].count) < 0)
				return -1;
		}
		if (LIT(o, "\n") < 0)
			return -1;
	}
	if (shown == 0)
		return LIT(o, "  (none)\n");
	return 0;
}

static int
session_row(struct strbuf *o, const char *what, uint64_t n, uint64_t whole)
{
	if (strbuf_printf(o, "  %-28s %9" PRIu64, what, n) < 0)
		return -1;
	if (whole > 0)
		return strbuf_printf(o, " %6.1f%%\n", 100 * share(n, whole));
	return LIT(o, "\n");
}

/* The SMTP server's sessions, TLS and the MTA's panics, as the status
 * page's "Sessions" card has them; postscreen only where it ran. */
static int
text_sessions(struct strbuf *o, const struct sum_sessions *ss)
{
	if (strbuf_printf(o, "\nSessions (shares are of client connections)\n  %-28s %9s %7s\n",
	    "what", "count", "share") < 0 ||
	    session_row(o, "client connections", ss->connects, 0) < 0 ||
	    session_row(o, "ended without QUIT", ss->no_quit, ss->connects) < 0 ||
	    session_row(o, "lost connections", ss->lost, ss->connects) < 0 ||
	    session_row(o, "timed out", ss->timeouts, ss->connects) < 0 ||
	    session_row(o, "AUTH failures", ss->auth_failures, 0) < 0 ||
	    session_row(o, "TLS sessions in", ss->tls[MP_DIR_INBOUND], ss->connects) < 0 ||
	    session_row(o, "TLS sessions out", ss->tls[MP_DIR_OUTBOUND], 0) < 0 ||
	    session_row(o, "TLS handshakes failed", ss->tls_failures, 0) < 0 ||
	    session_row(o, "MTA panics and fatal errors", ss->panics + ss->fatals, 0) < 0)
		return -1;
	if (ss->ps_connects == 0 && ss->ps_passes[MP_PS_PASS_NEW] == 0 &&
	    ss->ps_passes[MP_PS_PASS_OLD] == 0 && ss->ps_test_failures == 0 &&
	    ss->ps_hangups == 0)
		return 0;
	if (strbuf_printf(o, "\nPostscreen (shares are of its connections)\n  %-28s %9s %7s\n",
	    "what", "count", "share") < 0 ||
	    session_row(o, "connections", ss->ps_connects, 0) < 0 ||
	    session_row(o, "passed, new (PASS NEW)", ss->ps_passes[MP_PS_PASS_NEW],
	    ss->ps_connects) < 0 ||
	    session_row(o, "passed, cached (PASS OLD)", ss->ps_passes[MP_PS_PASS_OLD],
	    ss->ps_connects) < 0 ||
	    session_row(o, "failed a test", ss->ps_test_failures, ss->ps_connects) < 0 ||
	    session_row(o, "hung up during the tests", ss->ps_hangups, ss->ps_connects) < 0)
		return -1;
	return 0;
}

static int
render_text(struct strbuf *o, const struct report_data *r, const struct summary *s,
    const struct dom_row *rows, size_t nrows, const struct report_input *in, int nin)
{
	uint64_t overlong, lines = lines_read(in, nin, &overlong);
	char a[64], b[64];

	if (LIT(o, "maillog_exporter report\n=======================\n") < 0)
		return -1;
	for (int i = 0; i < nin; i++)
		if (strbuf_printf(o, "File:      %s (%" PRIu64 " lines)\n", in[i].path,
		    (uint64_t)atomic_load(&in[i].st.lines)) < 0)
			return -1;
	if (r->t->first >= 0) {
		fmt_time(a, sizeof a, r->t->first, "%Y-%m-%d %H:%M:%S");
		fmt_time(b, sizeof b, r->t->last, "%Y-%m-%d %H:%M:%S %Z");
		if (strbuf_printf(o, "Period:    %s .. %s (log time)\n", a, b) < 0)
			return -1;
	}
	if (strbuf_printf(o, "Lines:     %" PRIu64 " read, %" PRIu64 " too long, %" PRIu64
	    " unmatched (a status marker but no status could be read)\n"
	    "Statuses:  %" PRIu64 " (outbound %" PRIu64 ", inbound %" PRIu64 ")\n"
	    "Received:  %" PRIu64 " messages accepted from clients\n",
	    lines, overlong, unmatched_total(r->agg), s->total, s->dir_total[MP_DIR_OUTBOUND],
	    s->dir_total[MP_DIR_INBOUND], s->received) < 0)
		return -1;

	if (strbuf_printf(o, "\nOutcomes\n  %-14s %9s %7s\n", "outcome", "count", "share") < 0)
		return -1;
	for (size_t i = 0; i < N_OUTCOMES; i++)
		if (strbuf_printf(o, "  %-14s %9" PRIu64 " %6.1f%%\n",
		    summary_outcome_name(outcome_order[i]), s->outcomes[outcome_order[i]],
		    100 * share(s->outcomes[outcome_order[i]], s->total)) < 0)
			return -1;

	if (strbuf_printf(o, "\nReplies by class\n  %-6s %9s %9s %9s %7s\n", "class",
	    "outbound", "inbound", "total", "share") < 0)
		return -1;
	for (int c = 0; c < 3; c++) {
		uint64_t t = s->cls[MP_DIR_OUTBOUND][c] + s->cls[MP_DIR_INBOUND][c];
		if (strbuf_printf(o, "  %-6s %9" PRIu64 " %9" PRIu64 " %9" PRIu64 " %6.1f%%\n",
		    class_names[c], s->cls[MP_DIR_OUTBOUND][c], s->cls[MP_DIR_INBOUND][c], t,
		    100 * share(t, s->total)) < 0)
			return -1;
	}
	if (strbuf_printf(o, "  %-6s %9" PRIu64 " %9" PRIu64 " %9" PRIu64 "\n", "total",
	    s->dir_total[MP_DIR_OUTBOUND], s->dir_total[MP_DIR_INBOUND], s->total) < 0)
		return -1;

	if (text_codes(o, s, 0) < 0 || text_codes(o, s, 1) < 0 || text_reasons(o, s) < 0)
		return -1;

	if (strbuf_printf(o, "\nPer hour (log time)\n  %-19s %7s %7s %7s %7s\n", "hour",
	    "2xx", "4xx", "5xx", "total") < 0)
		return -1;
	if (r->t->first >= 0) {
		for (int64_t p = r->t->first / 3600; p <= r->t->last / 3600; p++) {
			uint64_t v[MP_DIR_COUNT][HIST_CLASSES];
			if (!hist_get(r->t->hours, p, v))
				continue;
			fmt_time(a, sizeof a, p * 3600, "%Y-%m-%d %H:00");
			uint64_t c2 = v[0][0] + v[1][0], c4 = v[0][1] + v[1][1], c5 = v[0][2] + v[1][2];
			if (strbuf_printf(o, "  %-19s %7" PRIu64 " %7" PRIu64 " %7" PRIu64 " %7"
			    PRIu64 "\n", a, c2, c4, c5, c2 + c4 + c5) < 0)
				return -1;
		}
	} else if (LIT(o, "  (no status line had a timestamp)\n") < 0) {
		return -1;
	}
	if (r->t->no_time && strbuf_printf(o, "  %-19s %7s %7s %7s %7" PRIu64 "\n",
	    "no timestamp", "", "", "", r->t->no_time) < 0)
		return -1;
	if (hist_dropped(r->t->hours) && strbuf_printf(o, "  %" PRIu64 " statuses more than "
	    "%d days before the newest are not shown per hour\n", hist_dropped(r->t->hours),
	    REPORT_HOURS / 24) < 0)
		return -1;

	if (text_domains(o, r, s, rows, nrows, 4) < 0 ||
	    text_domains(o, r, s, rows, nrows, 5) < 0 || text_sessions(o, &s->sess) < 0)
		return -1;

	if (unmatched_total(r->agg) > 0) {
		if (LIT(o, "\nUnmatched lines by MTA\n") < 0)
			return -1;
		for (int m = MP_MTA_NONE; m < MP_MTA_MAX; m++)
			if (agg_unmatched_count(r->agg, m) &&
			    strbuf_printf(o, "  %-14s %9" PRIu64 "\n", mp_mta_name(r->names, m),
			    agg_unmatched_count(r->agg, m)) < 0)
				return -1;
	}
	return 0;
}

static int
json_codes(struct strbuf *o, const struct summary *s, int enhanced)
{
	const struct sum_row *rows = enhanced ? s->enhanced : s->codes;
	size_t n = enhanced ? s->nenhanced : s->ncodes;

	if (strbuf_printf(o, "  \"%s\": [", enhanced ? "enhanced_codes" : "reply_codes") < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		char label[16], mbuf[MEANING_BUFSZ];
		const char *meaning;

		row_text(&rows[i], enhanced, label, sizeof label, mbuf, &meaning);
		if (rows[i].code == 0 && !rows[i].overflow && !enhanced)
			label[0] = '\0';
		if (enhanced && rows[i].enhanced.cls == 0 && !rows[i].overflow)
			label[0] = '\0';
		if (strbuf_printf(o, "%s\n    {\"direction\": \"%s\", \"%s\": ", i ? "," : "",
		    mp_direction_name(rows[i].dir), enhanced ? "enhanced" : "code") < 0 ||
		    json_str(o, label) < 0 ||
		    strbuf_printf(o, ", \"count\": %" PRIu64 ", \"share\": %.4f, \"meaning\": ",
		    rows[i].count, share(rows[i].count, s->dir_total[rows[i].dir])) < 0 ||
		    json_str(o, meaning) < 0 || LIT(o, "}") < 0)
			return -1;
	}
	return n ? LIT(o, "\n  ],\n") : LIT(o, "],\n");
}

static int
json_reasons(struct strbuf *o, const struct summary *s)
{
	int first = 1;

	if (LIT(o, "  \"reasons\": [") < 0)
		return -1;
	for (int d = 0; d < MP_DIR_COUNT; d++) {
		enum reason order[REASON_COUNT];
		size_t n = summary_reason_rank(s, (enum mp_direction)d, order);

		for (size_t i = 0; i < n; i++) {
			enum reason rs = order[i];
			if (strbuf_printf(o, "%s\n    {\"direction\": \"%s\", \"reason\": \"%s\", "
			    "\"4xx\": %" PRIu64 ", \"5xx\": %" PRIu64 ", \"count\": %" PRIu64
			    ", \"share\": %.4f, \"harmless\": %s, \"meaning\": ", first ? "" : ",",
			    mp_direction_name((enum mp_direction)d), reason_name(rs),
			    s->reason_cls[d][0][rs], s->reason_cls[d][1][rs], s->reasons[d][rs],
			    share(s->reasons[d][rs], s->reason_total[d]),
			    summary_reason_harmless(rs) ? "true" : "false") < 0 ||
			    json_str(o, summary_reason_meaning(rs)) < 0 || LIT(o, "}") < 0)
				return -1;
			first = 0;
		}
	}
	return first ? LIT(o, "],\n") : LIT(o, "\n  ],\n");
}

static int
json_domains(struct strbuf *o, const struct report_data *r, const struct summary *s,
    const struct dom_row *rows, size_t nrows, int cls)
{
	uint64_t total = s->cls[MP_DIR_OUTBOUND][SUMMARY_CLASS_INDEX(cls)];
	int first = 1;

	if (strbuf_printf(o, "  \"%s_domains\": [", cls == 4 ? "deferring" : "bouncing") < 0)
		return -1;
	for (size_t i = 0; i < nrows; i++) {
		const struct dom_row *d = &rows[i];
		size_t idx[MAIN_CODES], n;

		if (d->cls != (unsigned)cls)
			continue;
		if (strbuf_printf(o, "%s\n    {\"domain\": ", first ? "" : ",") < 0 ||
		    json_str(o, d->name) < 0 ||
		    strbuf_printf(o, ", \"count\": %" PRIu64 ", \"share\": %.4f, "
		    "\"main_codes\": [", d->count, share(d->count, total)) < 0)
			return -1;
		first = 0;
		n = main_codes(&r->t->dc, d->name, (unsigned)cls, idx);
		for (size_t j = 0; j < n; j++) {
			const struct dc_entry *x = &r->t->dc.e[idx[j]];
			char code[8] = "", enh[MP_ENHANCED_BUFSZ] = "";
			if (x->code)
				snprintf(code, sizeof code, "%u", (unsigned)x->code);
			if (x->enh.cls)
				mp_format_enhanced(&x->enh, enh);
			if (strbuf_printf(o, "%s{\"code\": \"%s\", \"enhanced\": \"%s\", "
			    "\"count\": %" PRIu64 "}", j ? ", " : "", code, enh, x->count) < 0)
				return -1;
		}
		if (LIT(o, "]}") < 0)
			return -1;
	}
	return first ? LIT(o, "]") : LIT(o, "\n  ]");
}

/* The families text_sessions shows, each as a number, in both sections. */
static int
json_sessions(struct strbuf *o, const struct sum_sessions *ss)
{
	return strbuf_printf(o, "  \"sessions\": {\"connects\": %" PRIu64 ", \"disconnects\": %"
	    PRIu64 ", \"no_quit\": %" PRIu64 ", \"lost\": %" PRIu64 ", \"timeouts\": %" PRIu64
	    ", \"auth_failures\": %" PRIu64 ", \"tls\": {\"outbound\": %" PRIu64
	    ", \"inbound\": %" PRIu64 "}, \"tls_failures\": %" PRIu64 ", \"panics\": %" PRIu64
	    ", \"fatal_errors\": %" PRIu64 "},\n"
	    "  \"postscreen\": {\"connects\": %" PRIu64 ", \"passes\": {\"new\": %" PRIu64
	    ", \"old\": %" PRIu64 "}, \"test_failures\": %" PRIu64 ", \"hangups\": %" PRIu64 "}",
	    ss->connects, ss->disconnects, ss->no_quit, ss->lost, ss->timeouts,
	    ss->auth_failures, ss->tls[MP_DIR_OUTBOUND], ss->tls[MP_DIR_INBOUND],
	    ss->tls_failures, ss->panics, ss->fatals, ss->ps_connects,
	    ss->ps_passes[MP_PS_PASS_NEW], ss->ps_passes[MP_PS_PASS_OLD], ss->ps_test_failures,
	    ss->ps_hangups) < 0 ? -1 : 0;
}

static int
render_json(struct strbuf *o, const struct report_data *r, const struct summary *s,
    const struct dom_row *rows, size_t nrows, const struct report_input *in, int nin)
{
	uint64_t overlong, lines = lines_read(in, nin, &overlong);
	char a[64];
	int first;

	if (LIT(o, "{\n  \"files\": [") < 0)
		return -1;
	for (int i = 0; i < nin; i++)
		if (strbuf_printf(o, "%s\n    {\"path\": ", i ? "," : "") < 0 ||
		    json_str(o, in[i].path) < 0 ||
		    strbuf_printf(o, ", \"lines\": %" PRIu64 ", \"too_long\": %" PRIu64 "}",
		    (uint64_t)atomic_load(&in[i].st.lines),
		    (uint64_t)atomic_load(&in[i].st.overlong)) < 0)
			return -1;
	if (strbuf_printf(o, "\n  ],\n  \"lines_read\": %" PRIu64 ",\n  \"lines_too_long\": %"
	    PRIu64 ",\n", lines, overlong) < 0)
		return -1;
	if (r->t->first >= 0) {
		if (strbuf_printf(o, "  \"period\": {\"first\": %" PRId64 ", \"last\": %" PRId64
		    "},\n", r->t->first, r->t->last) < 0)
			return -1;
	} else if (LIT(o, "  \"period\": null,\n") < 0) {
		return -1;
	}
	if (LIT(o, "  \"unmatched\": {") < 0)
		return -1;
	first = 1;
	for (int m = MP_MTA_NONE; m < MP_MTA_MAX; m++) {
		uint64_t n = agg_unmatched_count(r->agg, m);
		if (n == 0)
			continue;
		if (strbuf_printf(o, "%s\"%s\": %" PRIu64, first ? "" : ", ",
		    mp_mta_name(r->names, m), n) < 0)
			return -1;
		first = 0;
	}
	if (strbuf_printf(o, "},\n  \"statuses\": {\"total\": %" PRIu64 ", \"outbound\": %"
	    PRIu64 ", \"inbound\": %" PRIu64 "},\n  \"received\": %" PRIu64 ",\n"
	    "  \"outcomes\": {", s->total, s->dir_total[MP_DIR_OUTBOUND],
	    s->dir_total[MP_DIR_INBOUND], s->received) < 0)
		return -1;
	for (size_t i = 0; i < N_OUTCOMES; i++)
		if (strbuf_printf(o, "%s\"%s\": %" PRIu64, i ? ", " : "",
		    summary_outcome_name(outcome_order[i]), s->outcomes[outcome_order[i]]) < 0)
			return -1;
	if (LIT(o, "},\n  \"classes\": {") < 0)
		return -1;
	for (int d = 0; d < MP_DIR_COUNT; d++)
		if (strbuf_printf(o, "%s\"%s\": {\"2xx\": %" PRIu64 ", \"4xx\": %" PRIu64
		    ", \"5xx\": %" PRIu64 "}", d ? ", " : "", mp_direction_name((enum mp_direction)d),
		    s->cls[d][0], s->cls[d][1], s->cls[d][2]) < 0)
			return -1;
	if (LIT(o, "},\n") < 0 || json_codes(o, s, 0) < 0 || json_codes(o, s, 1) < 0 ||
	    json_reasons(o, s) < 0)
		return -1;

	if (LIT(o, "  \"hours\": [") < 0)
		return -1;
	first = 1;
	for (int64_t p = r->t->first >= 0 ? r->t->first / 3600 : 0;
	    r->t->first >= 0 && p <= r->t->last / 3600; p++) {
		uint64_t v[MP_DIR_COUNT][HIST_CLASSES];
		if (!hist_get(r->t->hours, p, v))
			continue;
		fmt_time(a, sizeof a, p * 3600, "%Y-%m-%dT%H:00:00%z");
		if (strbuf_printf(o, "%s\n    {\"start\": %" PRId64 ", \"local\": \"%s\"",
		    first ? "" : ",", p * 3600, a) < 0)
			return -1;
		first = 0;
		for (int d = 0; d < MP_DIR_COUNT; d++)
			if (strbuf_printf(o, ", \"%s\": {\"2xx\": %" PRIu64 ", \"4xx\": %" PRIu64
			    ", \"5xx\": %" PRIu64 "}", mp_direction_name((enum mp_direction)d),
			    v[d][0], v[d][1], v[d][2]) < 0)
				return -1;
		if (LIT(o, "}") < 0)
			return -1;
	}
	if (strbuf_printf(o, "%s,\n  \"no_timestamp\": %" PRIu64 ",\n  \"hours_not_shown\": %"
	    PRIu64 ",\n", first ? "]" : "\n  ]", r->t->no_time, hist_dropped(r->t->hours)) < 0)
		return -1;
	if (json_domains(o, r, s, rows, nrows, 4) < 0 || LIT(o, ",\n") < 0 ||
	    json_domains(o, r, s, rows, nrows, 5) < 0 || LIT(o, ",\n") < 0 ||
	    json_sessions(o, &s->sess) < 0 || LIT(o, "\n}\n") < 0)
		return -1;
	return 0;
}

int
report_render(struct strbuf *out, int json, const struct report_data *r)
{
	struct summary s;
	struct dom_row *doms = NULL;
	size_t ndoms = 0;
	int rc = -1;

	if (summary_build(&s, r->agg) < 0 || (doms = domain_rows(&r->t->dc, &ndoms)) == NULL)
		goto done;
	rc = json ? render_json(out, r, &s, doms, ndoms, r->in, r->nin) :
	    render_text(out, r, &s, doms, ndoms, r->in, r->nin);
done:
	summary_fini(&s);
	free(doms);
	return rc;
}
