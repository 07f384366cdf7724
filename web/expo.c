/*
 * expo.c - the exposition of everything the exporter counts, plus the
 * standard process_* families, in Prometheus text format 0.0.4 or
 * OpenMetrics 1.0.0: which families, in which order, with which series.
 * How each is written in either format is web/expo_writer.c's business.
 *
 * The output is deterministic: families in a fixed order, series sorted, so
 * two renders of the same counters are byte-identical (tests compare whole
 * texts, and a diff of two scrapes shows only what moved). Rendering reads
 * the aggregator through agg_snapshot() and the sources through their
 * atomics; it takes no lock the tailer holds.
 */
#include "web/expo.h"

#include <stddef.h>
#include <stdio.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "build_config.h"
#include "parsers/meaning.h"
#include "parsers/reason.h"
#include "parsers/mp.h"
#include "store/opstore.h"
#include "web/expo_writer.h"
#include "web/procstat.h"


/* MTA names, each once, in order; ids that share a name ("unknown") are
 * grouped so their counts are summed into one series. */
struct mta_group {
	const char *name;
	int ids[MP_MTA_MAX + 1];
	int nids;
	int always;   /* listed in view->mtas: shown even at 0 */
};

static int
mta_groups(const struct expo_view *v, struct mta_group *g)
{
	int n = 0;

	for (int mta = MP_MTA_NONE; mta < MP_MTA_MAX; mta++) {
		const char *name = mp_mta_name(v->names, mta);
		int j;

		for (j = 0; j < n && strcmp(g[j].name, name) != 0; j++)
			;
		if (j == n) {
			g[n].name = name;
			g[n].nids = 0;
			g[n].always = 0;
			n++;
		}
		g[j].ids[g[j].nids++] = mta;
		for (int i = 0; i < v->nmtas; i++)
			if (v->mtas[i] == mta)
				g[j].always = 1;
	}
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && strcmp(g[j - 1].name, g[j].name) > 0; j--) {
			struct mta_group t = g[j];
			g[j] = g[j - 1];
			g[j - 1] = t;
		}
	return n;
}

/* One counter per MTA name: those in view->mtas always (0 included, so an
 * alert on the rate has a series to work on), any other only once
 * nonzero. */
static int
per_mta_counter(struct expo_writer *e, const struct expo_view *v, const char *name,
    const char *help, uint64_t (*get)(const struct agg *, int))
{
	struct mta_group g[MP_MTA_MAX + 1];
	int n = mta_groups(v, g);

	if (expo_family(e, name, "counter", help) < 0)
		return -1;
	for (int i = 0; i < n; i++) {
		uint64_t c = 0;
		for (int j = 0; j < g[i].nids; j++)
			c += get(v->agg, g[i].ids[j]);
		if (c == 0 && !g[i].always)
			continue;
		expo_labels_reset(e);
		if (expo_label(e, "mta", g[i].name) < 0 || expo_counter(e, name, c, e->start) < 0)
			return -1;
	}
	return 0;
}

/* Label values of the outcome family. */
static const char *
outcome_name(enum mp_outcome o)
{
	switch (o) {
	case MP_OUTCOME_SENT: return "delivered";
	case MP_OUTCOME_DEFERRED: return "deferred";
	case MP_OUTCOME_BOUNCED: return "bounced";
	case MP_OUTCOME_EXPIRED: return "expired";
	case MP_OUTCOME_REJECTED: return "rejected";
	case MP_OUTCOME_TEMP_REJECTED: return "temp_rejected";
	default: return "none";
	}
}

static const char *
destination_name(enum mp_destination d)
{
	switch (d) {
	case MP_DEST_REMOTE: return "remote";
	case MP_DEST_LOCAL: return "local";
	case MP_DEST_FILTER: return "filter";
	default: return "none";
	}
}

/*
 * Series order within a family: mta name, then the labels in the order
 * they are written, numerically for codes (so 5.7.9 sorts before 5.7.26,
 * "" first and "other" last) and by name for domains and hosts. Names,
 * not ids, are compared where distinct ids can share a value (every
 * custom parser without a name is "unknown"): equal series end up next to
 * each other, and are merged, since a duplicate fails a whole scrape.
 */
static int
series_cmp(const void *pa, const void *pb, void *ctx)
{
	const struct expo_view *v = ctx;
	const struct agg *agg = v->agg;
	const struct agg_key *x = &((const struct agg_series *)pa)->key;
	const struct agg_key *y = &((const struct agg_series *)pb)->key;
	int c;

	if (x->mta != y->mta && (c = strcmp(mp_mta_name(v->names, x->mta),
	    mp_mta_name(v->names, y->mta))) != 0)
		return c;
#define CMP(f) do { if (x->f != y->f) return x->f < y->f ? -1 : 1; } while (0)
	CMP(direction);
	CMP(cls);
	CMP(outcome);
	CMP(destination);
	CMP(code);
	CMP(enhanced.cls);
	CMP(enhanced.subject);
	CMP(enhanced.detail);
	if (x->domain != y->domain) {
		/* "other" last. */
		if (x->domain == AGG_DOMAIN_OTHER || y->domain == AGG_DOMAIN_OTHER)
			return x->domain == AGG_DOMAIN_OTHER ? 1 : -1;
		return strcmp(agg_domain_name(agg, x->direction, x->domain),
		    agg_domain_name(agg, y->direction, y->domain));
	}
	if (x->host != y->host) {
		if (x->host <= AGG_HOST_OTHER || y->host <= AGG_HOST_OTHER)
			return x->host < y->host ? -1 : 1;
		return strcmp(agg_host_name(agg, x->host), agg_host_name(agg, y->host));
	}
#undef CMP
	return 0;
}

static int
host_label(struct expo_writer *e, const struct agg *agg, const struct agg_key *k)
{
	if (!agg_options(agg)->host_label)
		return 0;
	return expo_label(e, "host", agg_host_name(agg, k->host));
}

/* The label set of one series of a capped family. */
static int
series_labels(struct expo_writer *e, const struct expo_view *v, const struct agg_key *k)
{
	const struct agg *agg = v->agg;
	char code[8], enh[MP_ENHANCED_BUFSZ], cls[4];

	expo_labels_reset(e);
	snprintf(cls, sizeof cls, "%uxx", (unsigned)k->cls % 10);
	switch (k->family) {
	case AGG_FAM_STATUS:
		if (k->code == AGG_CODE_OVERFLOW) {
			strcpy(code, "other");
			strcpy(enh, "other");
		} else {
			if (k->code == 0)
				code[0] = '\0';
			else
				snprintf(code, sizeof code, "%u", (unsigned)k->code);
			mp_format_enhanced(&k->enhanced, enh);
		}
		return expo_label(e, "mta", mp_mta_name(v->names, k->mta)) < 0 ||
		    expo_label(e, "direction", mp_direction_name(k->direction)) < 0 ||
		    expo_label(e, "class", cls) < 0 || expo_label(e, "code", code) < 0 ||
		    expo_label(e, "enhanced", enh) < 0 || host_label(e, agg, k) < 0 ? -1 : 0;
	case AGG_FAM_OUTCOME:
		return expo_label(e, "mta", mp_mta_name(v->names, k->mta)) < 0 ||
		    expo_label(e, "outcome", outcome_name(k->outcome)) < 0 ||
		    expo_label(e, "destination", destination_name(k->destination)) < 0 ||
		    host_label(e, agg, k) < 0 ? -1 : 0;
	case AGG_FAM_DOMAIN:
		return expo_label(e, "mta", mp_mta_name(v->names, k->mta)) < 0 ||
		    expo_label(e, "direction", mp_direction_name(k->direction)) < 0 ||
		    expo_label(e, "class", cls) < 0 ||
		    expo_label(e, "domain", agg_domain_name(agg, k->direction, k->domain)) < 0 ||
		    host_label(e, agg, k) < 0 ? -1 : 0;
	case AGG_FAM_CODE_INFO: {
		char buf[MEANING_BUFSZ];
		snprintf(code, sizeof code, "%u", (unsigned)k->code);
		return expo_label(e, "code", code) < 0 ||
		    expo_label(e, "description", meaning_reply(k->code, buf, sizeof buf)) < 0 ? -1 : 0;
	}
	case AGG_FAM_ENHANCED_INFO: {
		char buf[MEANING_BUFSZ];
		mp_format_enhanced(&k->enhanced, enh);
		return expo_label(e, "enhanced", enh) < 0 ||
		    expo_label(e, "description", meaning_enhanced(&k->enhanced, buf, sizeof buf)) < 0 ?
		    -1 : 0;
	}
	default:
		return -1;
	}
}

static const struct {
	enum agg_family fam;
	const char *name;
	const char *type;
	const char *help;
} capped_families[] = {
	{ AGG_FAM_STATUS, "maillog_smtp_status_total", "counter",
	  "SMTP status lines counted: one per delivery attempt result (outbound: "
	  "sent, deferred, bounced, expired) or reply to a client (inbound: rejects). "
	  "code is the quoted 3-digit reply code (empty if none), enhanced the "
	  "RFC 3463 code (the MTA's dsn= field first), class from code, else enhanced, "
	  "else the outcome. code=\"other\" marks events folded in past the series cap." },
	{ AGG_FAM_CODE_INFO, "maillog_smtp_code_info", "info",
	  "Meaning of each SMTP reply code seen so far (value 1). Join: "
	  "* on(code) group_left(description) maillog_smtp_code_info." },
	{ AGG_FAM_ENHANCED_INFO, "maillog_smtp_enhanced_code_info", "info",
	  "Meaning of each RFC 3463 enhanced status code seen so far (value 1). Join: "
	  "* on(enhanced) group_left(description) maillog_smtp_enhanced_code_info." },
	{ AGG_FAM_OUTCOME, "maillog_outcomes_total", "counter",
	  "Delivery results and replies to clients, normalised across MTAs: outcome is "
	  "delivered, deferred, bounced, expired, rejected or temp_rejected; destination "
	  "is remote (SMTP to another MTA), local (mailbox, LMTP, pipe), filter (a "
	  "content filter or re-injection hop) or none (inbound, or not stated)." },
	{ AGG_FAM_DOMAIN, "maillog_domain_status_total", "counter",
	  "Status lines by remote domain: the recipient domain (outbound) or the client's "
	  "name or IP address (inbound, opt-in). Only the heaviest domains get their own series, kept for "
	  "the life of the process; everything else, and malformed names, count under "
	  "domain=\"other\"." },
};

/* One capped family: snapshot, sort, merge equal label sets, write. */
static int
render_capped(struct expo_writer *e, const struct expo_view *v, int f, struct agg_series *s,
    size_t cap)
{
	enum agg_family fam = capped_families[f].fam;
	const char *name = capped_families[f].name;
	size_t n;

	if (expo_family(e, name, capped_families[f].type, capped_families[f].help) < 0)
		return -1;
	n = agg_snapshot_family(v->agg, fam, s, cap);
	qsort_r(s, n, sizeof *s, series_cmp, (void *)v);
	for (size_t i = 0; i < n; i++) {
		uint64_t value = s[i].value;
		double created = s[i].created;

		while (i + 1 < n && series_cmp(&s[i], &s[i + 1], (void *)v) == 0) {
			value += s[++i].value;
			if (s[i].created < created)
				created = s[i].created;
		}
		if (series_labels(e, v, &s[i].key) < 0)
			return -1;
		if (fam == AGG_FAM_CODE_INFO || fam == AGG_FAM_ENHANCED_INFO) {
			if (expo_sample_u64(e, name, 1) < 0)
				return -1;
		} else if (expo_counter(e, name, value, created) < 0) {
			return -1;
		}
	}
	return 0;
}


/* One delay histogram, summed over the ids of an MTA name; dest < 0: the
 * family without a destination label. */
static int
delay_histogram(struct expo_writer *e, const struct expo_view *v, const struct mta_group *g,
    const char *name, int dest, int stage)
{
	struct agg_histogram h, t;
	int have = 0;

	memset(&h, 0, sizeof h);
	for (int j = 0; j < g->nids; j++) {
		if ((dest < 0 ? agg_delay_histogram(v->agg, g->ids[j], stage, &t) :
		    agg_delay_histogram_dest(v->agg, g->ids[j], (enum mp_destination)dest,
		    stage, &t)) < 0)
			continue;
		have = 1;
		for (int b = 0; b <= AGG_DELAY_BUCKETS; b++)
			h.buckets[b] += t.buckets[b];
		h.sum += t.sum;
	}
	if (!have)
		return 0;
	expo_labels_reset(e);
	if (expo_label(e, "mta", g->name) < 0 ||
	    (dest >= 0 && expo_label(e, "destination", destination_name((enum mp_destination)dest)) < 0) ||
	    expo_label(e, "stage", agg_stage_name(stage)) < 0)
		return -1;
	return expo_histogram(e, name, agg_delay_bounds, AGG_DELAY_BUCKETS, h.buckets, h.sum, 1);
}

static int
render_delays(struct expo_writer *e, const struct expo_view *v)
{
	static const int order[AGG_STAGES] = {
		AGG_STAGE_TOTAL, MP_STAGE_BEFORE_QMGR, MP_STAGE_IN_QMGR, MP_STAGE_CONN_SETUP,
		MP_STAGE_TRANSMISSION, MP_STAGE_DELIVERY,
	};
	static const int dests[] = { MP_DEST_REMOTE, MP_DEST_LOCAL, MP_DEST_NONE };
	struct mta_group g[MP_MTA_MAX + 1];
	int ng = mta_groups(v, g);

	if (expo_family(e, "maillog_delivery_delay_seconds", "histogram",
	    "Time from receipt to the final outcome (delivered, bounced, expired; not "
	    "deferrals, not filter hops). stage total is Postfix delay=, Exim QT=, "
	    "Sendmail delay=; before_qmgr, in_qmgr, conn_setup and transmission are "
	    "Postfix delays=a/b/c/d; delivery is Exim DT= or Sendmail xdelay=.") < 0)
		return -1;
	for (int i = 0; i < ng; i++)
		for (int si = 0; si < AGG_STAGES; si++)
			if (delay_histogram(e, v, &g[i], "maillog_delivery_delay_seconds", -1,
			    order[si]) < 0)
				return -1;
	if (expo_family(e, "maillog_delivery_delay_by_destination_seconds", "histogram",
	    "maillog_delivery_delay_seconds split by where the delivery went: remote "
	    "(SMTP to another MTA), local (mailbox, LMTP, pipe), none (an expiry, which "
	    "names no destination).") < 0)
		return -1;
	for (int i = 0; i < ng; i++)
		for (size_t d = 0; d < sizeof dests / sizeof dests[0]; d++)
			for (int si = 0; si < AGG_STAGES; si++)
				if (delay_histogram(e, v, &g[i],
				    "maillog_delivery_delay_by_destination_seconds", dests[d],
				    order[si]) < 0)
					return -1;
	return 0;
}

/* The labels of one combination of an op family (the reverse of
 * opstore_combo), after mta. */
static int
op_labels(struct expo_writer *e, const struct mp_op_family_desc *d, unsigned combo)
{
	unsigned idx[MP_OP_LABELS];

	for (unsigned i = d->nlabels; i-- > 0;) {
		idx[i] = combo % d->labels[i].nvalues;
		combo /= d->labels[i].nvalues;
	}
	for (unsigned i = 0; i < d->nlabels; i++)
		if (expo_label(e, d->labels[i].name, d->labels[i].values[idx[i]]) < 0)
			return -1;
	return 0;
}

/* One histogram of an op family, summed over the ids of an MTA name. */
static int
op_histogram(struct expo_writer *e, const struct expo_view *v, const struct mta_group *g,
    unsigned fam, const struct mp_op_family_desc *d, unsigned combo)
{
	uint64_t buckets[32], t[32], count = 0;
	double sum = 0, s1;

	if (d->nbounds + 1 > 32)
		return -1;
	memset(buckets, 0, sizeof buckets);
	for (int j = 0; j < g->nids; j++) {
		if (g->ids[j] < 0)
			continue;
		count += opstore_histogram(agg_ops(v->agg), g->ids[j], fam, combo, t, &s1);
		for (unsigned b = 0; b <= d->nbounds; b++)
			buckets[b] += t[b];
		sum += s1;
	}
	if (count == 0)
		return 0;
	expo_labels_reset(e);
	if (expo_label(e, "mta", g->name) < 0 || op_labels(e, d, combo) < 0)
		return -1;
	return expo_histogram(e, d->name, d->bounds, d->nbounds, buckets, sum, 1);
}

/*
 * The operational families (parsers/ops.h), in the table's order: each
 * family's HELP and TYPE always, a series once it has counted something.
 */
static int
render_ops(struct expo_writer *e, const struct expo_view *v)
{
	const struct opstore *ops = agg_ops(v->agg);
	struct mta_group g[MP_MTA_MAX + 1];
	int ng = mta_groups(v, g);

	for (unsigned fam = 1; fam < MP_OPF_COUNT; fam++) {
		const struct mp_op_family_desc *d = mp_op_family(fam);
		unsigned ncombo = mp_op_combinations(d);

		if (expo_family(e, d->name, d->histogram ? "histogram" : "counter", d->help) < 0)
			return -1;
		for (int i = 0; i < ng; i++) {
			for (unsigned c = 0; c < ncombo; c++) {
				uint64_t sum = 0;

				if (d->histogram) {
					if (op_histogram(e, v, &g[i], fam, d, c) < 0)
						return -1;
					continue;
				}
				for (int j = 0; j < g[i].nids; j++)
					sum += opstore_counter(ops, g[i].ids[j], fam, c);
				if (sum == 0)
					continue;
				expo_labels_reset(e);
				if (expo_label(e, "mta", g[i].name) < 0 || op_labels(e, d, c) < 0 ||
				    expo_counter(e, d->name, sum, e->start) < 0)
					return -1;
			}
		}
	}
	if (!opstore_ciphers_on(ops))
		return 0;
	if (expo_family(e, "maillog_tls_ciphers_total", "counter",
	    "TLS sessions by cipher (--metrics.tls-cipher): the first 64 cipher names "
	    "seen get a label, later ones count as cipher=\"other\".") < 0)
		return -1;
	for (int i = 0; i < ng; i++)
		for (int dir = 0; dir < MP_DIR_COUNT; dir++)
			for (unsigned id = 0; id <= opstore_cipher_count(ops); id++) {
				uint64_t sum = 0;
				for (int j = 0; j < g[i].nids; j++)
					sum += opstore_cipher_counter(ops, g[i].ids[j],
					    (enum mp_direction)dir, id);
				if (sum == 0)
					continue;
				expo_labels_reset(e);
				if (expo_label(e, "mta", g[i].name) < 0 ||
				    expo_label(e, "direction", mp_direction_name((enum mp_direction)dir)) < 0 ||
				    expo_label(e, "cipher", opstore_cipher_name(ops, id)) < 0 ||
				    expo_counter(e, "maillog_tls_ciphers_total", sum, e->start) < 0)
					return -1;
			}
	return 0;
}

/* maillog_last_line_timestamp_seconds and maillog_lag_seconds: per MTA
 * name with a timestamp (the latest of the ids sharing a name). */
static int
render_timestamps(struct expo_writer *e, const struct expo_view *v, double now)
{
	struct mta_group g[MP_MTA_MAX + 1];
	int ng = mta_groups(v, g);
	double ts[MP_MTA_MAX + 1];

	for (int i = 0; i < ng; i++) {
		ts[i] = -1;
		for (int j = 0; j < g[i].nids; j++) {
			double t = agg_last_timestamp(v->agg, g[i].ids[j]);
			if (t > ts[i])
				ts[i] = t;
		}
	}
	if (expo_family(e, "maillog_last_line_timestamp_seconds", "gauge",
	    "Log timestamp of the last line of each MTA that yielded an event (absent "
	    "until one has).") < 0)
		return -1;
	for (int i = 0; i < ng; i++) {
		if (ts[i] < 0)
			continue;
		expo_labels_reset(e);
		if (expo_label(e, "mta", g[i].name) < 0 ||
		    expo_sample_double(e, "maillog_last_line_timestamp_seconds", ts[i]) < 0)
			return -1;
	}
	if (expo_family(e, "maillog_lag_seconds", "gauge",
	    "Scrape time minus maillog_last_line_timestamp_seconds: how far the log (or "
	    "the exporter reading it) is behind the clock. Negative if the log's clock "
	    "is ahead.") < 0)
		return -1;
	for (int i = 0; i < ng; i++) {
		char buf[32];
		if (ts[i] < 0)
			continue;
		expo_labels_reset(e);
		/* Millisecond resolution: the log's own is at best micro-
		 * seconds and a float difference would print noise digits. */
		snprintf(buf, sizeof buf, "%.3f", now - ts[i]);
		if (expo_label(e, "mta", g[i].name) < 0 ||
		    expo_sample_head(e, "maillog_lag_seconds", strlen("maillog_lag_seconds")) < 0 ||
		    strbuf_printf(e->out, "%s\n", buf) < 0)
			return -1;
	}
	return 0;
}

/* maillog_smtp_reason_total: a fixed array (reasons are a closed set), so
 * the series come in label order by construction; ids sharing an MTA name
 * are summed. Only nonzero series are written. */
static int
render_reasons(struct expo_writer *e, const struct expo_view *v)
{
	static const char *const classes[2] = { "4xx", "5xx" };
	struct mta_group g[MP_MTA_MAX + 1];
	int ng = mta_groups(v, g);

	if (expo_family(e, "maillog_smtp_reason_total", "counter",
	    "Failed statuses (class 4xx or 5xx, as in maillog_smtp_status_total) by why "
	    "they failed: reason is one of a closed set (unknown_recipient, mailbox_full, "
	    "message_too_big, greylisted, rate_limited, blocklisted, spam_content, "
	    "authentication_failed, reverse_dns, relay_denied, sender_rejected, "
	    "tls_required, dns_failure, connection_failed, local_error, policy, not_attempted, "
	    "other), "
	    "from the reply code, enhanced code and reply text (README \"Metrics\").") < 0)
		return -1;
	for (int i = 0; i < ng; i++)
		for (int d = 0; d < MP_DIR_COUNT; d++)
			for (int c = 0; c < 2; c++)
				for (int r = 0; r < REASON_COUNT; r++) {
					uint64_t n = 0;
					for (int j = 0; j < g[i].nids; j++)
						n += agg_reason_count(v->agg, g[i].ids[j],
						    (enum mp_direction)d, c == 0 ? 4 : 5, r);
					if (n == 0)
						continue;
					expo_labels_reset(e);
					if (expo_label(e, "mta", g[i].name) < 0 ||
					    expo_label(e, "direction",
					    mp_direction_name((enum mp_direction)d)) < 0 ||
					    expo_label(e, "class", classes[c]) < 0 ||
					    expo_label(e, "reason", reason_name((enum reason)r)) < 0 ||
					    expo_counter(e, "maillog_smtp_reason_total", n, e->start) < 0)
						return -1;
				}
	return 0;
}

/* One family with one sample per source, labelled path. */
enum src_field {
	SRC_LINES, SRC_BYTES, SRC_OVERLONG, SRC_ROTATIONS, SRC_TRUNCATIONS,
	SRC_OPEN_ERRORS, SRC_DROPPED_FRAGMENTS,
};

static const struct {
	enum src_field field;
	const char *name;
	const char *help;
} src_families[] = {
	{ SRC_LINES, "maillog_lines_read_total",
	  "Complete lines read from the mail log (every line, counted or not)." },
	{ SRC_BYTES, "maillog_bytes_read_total",
	  "Bytes read from the mail log." },
	{ SRC_OVERLONG, "maillog_overlong_lines_total",
	  "Lines longer than the line buffer, skipped without being parsed." },
	{ SRC_ROTATIONS, "maillog_rotations_total",
	  "Log rotations detected (rename, delete or symlink change); the old file "
	  "is drained before the new one is read." },
	{ SRC_TRUNCATIONS, "maillog_truncations_total",
	  "Truncations detected (copytruncate rotation); reading restarts at offset 0. "
	  "Lines written between copy and truncate are lost." },
	{ SRC_OPEN_ERRORS, "maillog_open_errors_total",
	  "Failed attempts to open or read the mail log (e.g. permission denied); "
	  "retried." },
	{ SRC_DROPPED_FRAGMENTS, "maillog_dropped_fragments_total",
	  "Unterminated last lines of rotated files, dropped when the file was closed." },
};

static uint64_t
src_value(const struct input_status *st, enum src_field f)
{
	switch (f) {
	/* Acquire: the tailer adds a read's lines with release once they are
	 * counted in the store (render_all). */
	case SRC_LINES: return atomic_load_explicit(&st->lines, memory_order_acquire);
	case SRC_BYTES: return atomic_load_explicit(&st->bytes, memory_order_relaxed);
	case SRC_OVERLONG: return atomic_load_explicit(&st->overlong, memory_order_relaxed);
	case SRC_ROTATIONS: return atomic_load_explicit(&st->rotations, memory_order_relaxed);
	case SRC_TRUNCATIONS: return atomic_load_explicit(&st->truncations, memory_order_relaxed);
	case SRC_OPEN_ERRORS: return atomic_load_explicit(&st->open_errors, memory_order_relaxed);
	case SRC_DROPPED_FRAGMENTS:
		return atomic_load_explicit(&st->dropped_fragments, memory_order_relaxed);
	}
	return 0;
}

/* Only when a --maillog.path is a glob: how many files it follows, and
 * how many matching files --maillog.max-files leaves out. */
static int
render_globs(struct expo_writer *e, const struct expo_view *v)
{
	static const struct {
		const char *name, *help;
	} fam[] = {
		{ "maillog_glob_files", "Files a glob --maillog.path follows now (its path "
		    "label is the pattern; the per-path maillog_* families have a series per "
		    "file, labelled with the file's path)." },
		{ "maillog_glob_files_left_out", "Files matching a glob --maillog.path that "
		    "are not followed because it already follows --maillog.max-files files." },
	};
	int any = 0;

	for (int i = 0; i < v->nsources; i++)
		any |= v->sources[i].glob;
	if (!any)
		return 0;
	for (size_t f = 0; f < sizeof fam / sizeof fam[0]; f++) {
		if (expo_family(e, fam[f].name, "gauge", fam[f].help) < 0)
			return -1;
		for (int i = 0; i < v->nsources; i++) {
			const struct input_status *st = v->sources[i].status;
			if (!v->sources[i].glob)
				continue;
			expo_labels_reset(e);
			if (expo_label(e, "path", v->sources[i].path) < 0 ||
			    expo_sample_u64(e, fam[f].name, f == 0 ?
			    atomic_load_explicit(&st->files, memory_order_relaxed) :
			    atomic_load_explicit(&st->files_left_out, memory_order_relaxed)) < 0)
				return -1;
		}
	}
	return 0;
}

/* One series of the per-path families: a --maillog.path, or a file a
 * glob follows. */
typedef int (*path_series_fn)(struct expo_writer *e, const char *path,
    const struct input_status *st, const void *arg);

/*
 * Call fn for every series of the per-path families: each source, but a
 * glob, which stands for its files, each under its own path (copied out of
 * the glob's table, which the reading thread changes meanwhile; see
 * store/input_stats.h). A glob with no file has no series here; its
 * maillog_glob_files says 0.
 */
static int
each_path(struct expo_writer *e, const struct expo_view *v, path_series_fn fn, const void *arg)
{
	char path[PATH_MAX];
	struct input_status st;

	for (int i = 0; i < v->nsources; i++) {
		const struct input_files *t = v->sources[i].files;
		if (t == NULL) {
			if (fn(e, v->sources[i].path, v->sources[i].status, arg) < 0)
				return -1;
			continue;
		}
		for (int k = 0; k < t->nslots; k++)
			if (input_files_read(t, k, path, sizeof path, &st) && fn(e, path, &st, arg) < 0)
				return -1;
	}
	return 0;
}

static int
counter_series(struct expo_writer *e, const char *path, const struct input_status *st,
    const void *arg)
{
	const size_t *f = arg;

	expo_labels_reset(e);
	if (expo_label(e, "path", path) < 0 ||
	    expo_counter(e, src_families[*f].name, src_value(st, src_families[*f].field),
	    e->start) < 0)
		return -1;
	return 0;
}

static int
state_series(struct expo_writer *e, const char *path, const struct input_status *st,
    const void *arg)
{
	static const enum input_state states[] = {
		INPUT_STATE_WAITING, INPUT_STATE_FOLLOWING, INPUT_STATE_ERROR, INPUT_STATE_EOF,
	};
	int cur = atomic_load_explicit(&st->state, memory_order_relaxed);

	(void)arg;
	for (size_t s = 0; s < sizeof states / sizeof states[0]; s++) {
		expo_labels_reset(e);
		if (expo_label(e, "path", path) < 0 ||
		    expo_label(e, "state", input_state_name(states[s])) < 0 ||
		    expo_sample_u64(e, "maillog_source_state", cur == (int)states[s]) < 0)
			return -1;
	}
	return 0;
}

static int
last_read_series(struct expo_writer *e, const char *path, const struct input_status *st,
    const void *arg)
{
	int64_t t = atomic_load_explicit(&st->last_read_unix, memory_order_relaxed);

	(void)arg;
	if (t == 0)
		return 0;
	expo_labels_reset(e);
	if (expo_label(e, "path", path) < 0 ||
	    expo_sample_double(e, "maillog_last_line_read_timestamp_seconds", (double)t) < 0)
		return -1;
	return 0;
}

static int
render_sources(struct expo_writer *e, const struct expo_view *v)
{
	for (size_t f = 0; f < sizeof src_families / sizeof src_families[0]; f++) {
		if (expo_family(e, src_families[f].name, "counter", src_families[f].help) < 0 ||
		    each_path(e, v, counter_series, &f) < 0)
			return -1;
	}

	if (expo_family(e, "maillog_source_state", "gauge",
	    "State of each mail log input, one-hot: waiting (the file does not exist "
	    "yet), following, error (cannot be opened or read; retried), eof "
	    "(standard input or a pipe ended).") < 0 ||
	    each_path(e, v, state_series, NULL) < 0)
		return -1;

	if (expo_family(e, "maillog_last_line_read_timestamp_seconds", "gauge",
	    "Unix time at which the last line was read from each input (absent until "
	    "the first line). Alert on time() minus this to catch a silent log.") < 0 ||
	    each_path(e, v, last_read_series, NULL) < 0)
		return -1;
	return render_globs(e, v);
}

/* The --syslog.listen families: a counter of struct syslog_stats, and the
 * transports it applies to (a bit per enum syslog_transport). */
static const struct {
	size_t offset;
	unsigned transports;
	const char *type;
	const char *name;
	const char *help;
} syslog_families[] = {
	{ offsetof(struct syslog_stats, messages), 7, "counter",
	  "maillog_syslog_messages_total",
	  "Syslog messages received by each --syslog.listen listener, each handed to the "
	  "parsers as a line of a file would be." },
	{ offsetof(struct syslog_stats, malformed), 7, "counter",
	  "maillog_syslog_malformed_messages_total",
	  "Received messages with no <PRI> or no RFC 3164/5424 header (empty ones "
	  "included); still offered to the parsers as a bare message." },
	{ offsetof(struct syslog_stats, oversized), 7, "counter",
	  "maillog_syslog_oversized_messages_total",
	  "Messages longer than --syslog.max-message-size, skipped without being "
	  "parsed (not in maillog_syslog_messages_total)." },
	{ offsetof(struct syslog_stats, dropped), 1u << SYSLOG_UDP, "counter",
	  "maillog_syslog_dropped_datagrams_total",
	  "UDP datagrams the kernel dropped on a full receive queue (SO_RXQ_OVFL). "
	  "The kernel reports them with the next datagram received, so drops show "
	  "once another datagram arrives." },
	{ offsetof(struct syslog_stats, connections), 1u << SYSLOG_TCP, "counter",
	  "maillog_syslog_connections_total",
	  "TCP connections accepted." },
	{ offsetof(struct syslog_stats, refused), 1u << SYSLOG_TCP, "counter",
	  "maillog_syslog_refused_connections_total",
	  "TCP connections closed at once because --syslog.max-connections were open." },
	{ offsetof(struct syslog_stats, idle_closed), 1u << SYSLOG_TCP, "counter",
	  "maillog_syslog_idle_closed_connections_total",
	  "TCP connections closed after --syslog.idle-timeout without a byte." },
	{ offsetof(struct syslog_stats, open), 1u << SYSLOG_TCP, "gauge",
	  "maillog_syslog_open_connections",
	  "TCP connections open now." },
};

/* Left out entirely unless a listener is configured, so an exposition
 * without --syslog.listen is unchanged. */
static int
render_syslog(struct expo_writer *e, const struct expo_view *v)
{
	for (size_t f = 0; v->nsyslog > 0 && f < sizeof syslog_families / sizeof syslog_families[0];
	    f++) {
		int counter = syslog_families[f].type[0] == 'c';
		if (expo_family(e, syslog_families[f].name, syslog_families[f].type,
		    syslog_families[f].help) < 0)
			return -1;
		for (int i = 0; i < v->nsyslog; i++) {
			const struct syslog_stats *st = &v->syslog[i];
			const _Atomic uint64_t *p = (const _Atomic uint64_t *)(const void *)
			    ((const char *)st + syslog_families[f].offset);
			uint64_t val = atomic_load_explicit(p, memory_order_acquire);
			if (!(syslog_families[f].transports & (1u << st->transport)))
				continue;
			expo_labels_reset(e);
			if (expo_label(e, "listener", st->listener) < 0 ||
			    (counter ? expo_counter(e, syslog_families[f].name, val, e->start) :
			    expo_sample_u64(e, syslog_families[f].name, val)) < 0)
				return -1;
		}
	}
	return 0;
}

/*
 * The container envelopes (--maillog.envelope): a format's series appear
 * once a file in it was seen, or from the start when the flag names it,
 * and not at all for plain logs, so their exposition is unchanged.
 */
static int
render_envelopes(struct expo_writer *e, const struct expo_view *v)
{
	static const char *const formats[ENVELOPE_FORMAT_COUNT] = { "cri", "docker" };
	static const struct {
		const char *name;
		const char *help;
		size_t off;
	} families[] = {
		{ "maillog_envelope_lines_total",
		  "Lines taken out of a container runtime's envelope and parsed, after "
		  "joining the parts of long lines.",
		  offsetof(struct envelope_stats, lines) },
		{ "maillog_envelope_malformed_total",
		  "Records of an enveloped file that were not in its format (CRI or "
		  "Docker json-file), dropped unread.",
		  offsetof(struct envelope_stats, malformed) },
		{ "maillog_envelope_overlong_total",
		  "Lines joined from parts (CRI P/F, Docker's 16 KiB records) that were "
		  "longer than --maillog.max-line-length, skipped without being parsed.",
		  offsetof(struct envelope_stats, overlong) },
		{ "maillog_envelope_replaced_total",
		  "Docker records whose text held invalid UTF-8, a lone surrogate or an "
		  "escaped NUL, each replaced by U+FFFD; the line is still parsed.",
		  offsetof(struct envelope_stats, replaced) },
	};
	int shown[ENVELOPE_FORMAT_COUNT], any = 0;

	if (v->envelope == NULL)
		return 0;
	for (int f = 0; f < ENVELOPE_FORMAT_COUNT; f++) {
		shown[f] = atomic_load_explicit(&v->envelope->shown[f], memory_order_relaxed);
		any |= shown[f];
	}
	if (!any)
		return 0;
	for (size_t i = 0; i < sizeof families / sizeof families[0]; i++) {
		const _Atomic uint64_t *c = (const _Atomic uint64_t *)
		    ((const char *)v->envelope + families[i].off);
		if (expo_family(e, families[i].name, "counter", families[i].help) < 0)
			return -1;
		for (int f = 0; f < ENVELOPE_FORMAT_COUNT; f++) {
			if (!shown[f])
				continue;
			expo_labels_reset(e);
			if (expo_label(e, "format", formats[f]) < 0 ||
			    expo_counter(e, families[i].name,
			    atomic_load_explicit(&c[f], memory_order_relaxed), e->start) < 0)
				return -1;
		}
	}
	return 0;
}

/* The process collector of the Go client: each family only when its value
 * could be read (web/procstat.c). */
static int
render_process(struct expo_writer *e)
{
	struct procstat p;

	procstat_read(&p);
	expo_labels_reset(e);
	if (p.have_stat) {
		if (expo_family(e, "process_cpu_seconds_total", "counter",
		    "Total user and system CPU time spent in seconds.") < 0 ||
		    expo_sample_double(e, "process_cpu_seconds_total", p.cpu_seconds) < 0)
			return -1;
	}
	if (p.have_max_fds) {
		if (expo_family(e, "process_max_fds", "gauge",
		    "Maximum number of open file descriptors.") < 0 ||
		    expo_sample_u64(e, "process_max_fds", p.max_fds) < 0)
			return -1;
	}
	if (p.have_fds) {
		if (expo_family(e, "process_open_fds", "gauge",
		    "Number of open file descriptors.") < 0 ||
		    expo_sample_u64(e, "process_open_fds", p.open_fds) < 0)
			return -1;
	}
	if (p.have_stat) {
		if (expo_family(e, "process_resident_memory_bytes", "gauge",
		    "Resident memory size in bytes.") < 0 ||
		    expo_sample_u64(e, "process_resident_memory_bytes", p.rss_bytes) < 0 ||
		    expo_family(e, "process_start_time_seconds", "gauge",
		    "Start time of the process since unix epoch in seconds.") < 0 ||
		    expo_sample_double(e, "process_start_time_seconds", p.start_time) < 0 ||
		    expo_family(e, "process_virtual_memory_bytes", "gauge",
		    "Virtual memory size in bytes.") < 0 ||
		    expo_sample_u64(e, "process_virtual_memory_bytes", p.vsize) < 0)
			return -1;
	}
	return 0;
}

/* One histogram of a queue snapshot: the buckets are per-bucket counts. */
static int
queue_histogram(struct expo_writer *e, const char *base, const char *queue,
    const struct showq_hist *h, const double *bounds, int nbounds)
{
	expo_labels_reset(e);
	if (expo_label(e, "mta", "postfix") < 0 || expo_label(e, "queue", queue) < 0)
		return -1;
	return expo_histogram(e, base, bounds, (unsigned)nbounds, h->buckets, h->sum, 0);
}

/* Postfix's queues, in the order showq lists them; corrupt only when
 * something is there. */
static int
queue_shown(const struct queue_snapshot *q, int i)
{
	return i != SHOWQ_Q_CORRUPT || q->postfix.messages[i] > 0;
}

/*
 * maillog_queue_*: the collector's last snapshot (daemon/queue/queue.c). Every
 * family's HELP and TYPE always; the samples of an MTA once a collection
 * of it succeeded, and the success of each method once it was tried.
 */
static int
render_queue(struct expo_writer *e, const struct expo_view *v)
{
	static const char *const qhelp_size = "Sizes of the messages in Postfix's queues "
	    "now (not a counter: a snapshot of the last collection), from the showq service "
	    "only (absent while the queue directories are counted instead).";
	static const char *const qhelp_age = "Time since arrival of the messages in "
	    "Postfix's queues now (a snapshot of the last collection), from the showq "
	    "service only.";
	struct queue_snapshot q;
	int nq = (int)SHOWQ_NQUEUES;

	if (v->queue == NULL)
		return 0;
	queue_board_read(v->queue, &q);
	if (expo_family(e, "maillog_queue_messages", "gauge", "Messages in the MTA's queue at the "
	    "last collection (maillog_queue_collect_timestamp_seconds): Postfix's incoming, "
	    "active, deferred, hold and maildrop queues from its showq service, or counted "
	    "in its queue directories when showq cannot be reached; Exim's queue=\"input\" "
	    "from `exim -bpc`, or the -H files in its spool.") < 0)
		return -1;
	for (int i = 0; i < nq && q.have[QUEUE_MTA_POSTFIX]; i++) {
		expo_labels_reset(e);
		if (queue_shown(&q, i) && (expo_label(e, "mta", "postfix") < 0 ||
		    expo_label(e, "queue", showq_queue_name((enum showq_queue)i)) < 0 ||
		    expo_sample_u64(e, "maillog_queue_messages", q.postfix.messages[i]) < 0))
			return -1;
	}
	expo_labels_reset(e);
	if (q.have[QUEUE_MTA_EXIM] && (expo_label(e, "mta", "exim") < 0 ||
	    expo_label(e, "queue", "input") < 0 ||
	    expo_sample_u64(e, "maillog_queue_messages", q.exim_messages) < 0))
		return -1;
	expo_labels_reset(e);
	if (expo_family(e, "maillog_queue_frozen_messages", "gauge", "Frozen messages in Exim's "
	    "queue at the last collection: the -H files in its spool's input directory "
	    "whose flags say -frozen.") < 0 ||
	    (q.exim_have_frozen && (expo_label(e, "mta", "exim") < 0 ||
	    expo_sample_u64(e, "maillog_queue_frozen_messages", q.exim_frozen) < 0)))
		return -1;
	if (expo_family(e, "maillog_queue_message_size_bytes", "histogram", qhelp_size) < 0)
		return -1;
	for (int i = 0; i < nq && q.postfix_hist; i++)
		if (queue_shown(&q, i) && queue_histogram(e, "maillog_queue_message_size_bytes",
		    showq_queue_name((enum showq_queue)i), &q.postfix.size[i], showq_size_bounds,
		    SHOWQ_SIZE_BOUNDS) < 0)
			return -1;
	if (expo_family(e, "maillog_queue_message_age_seconds", "histogram", qhelp_age) < 0)
		return -1;
	for (int i = 0; i < nq && q.postfix_hist; i++)
		if (queue_shown(&q, i) && queue_histogram(e, "maillog_queue_message_age_seconds",
		    showq_queue_name((enum showq_queue)i), &q.postfix.age[i], showq_age_bounds,
		    SHOWQ_AGE_BOUNDS) < 0)
			return -1;
	if (expo_family(e, "maillog_queue_collect_success", "gauge", "1 if the last collection "
	    "of the MTA's queue by this method worked, else 0 (the exporter's log says why; "
	    "the other maillog_queue_* values then stay those of the last one that worked). "
	    "method: showq (Postfix's showq socket), spool (the queue directories), "
	    "exim-bpc (`exim -bpc`).") < 0)
		return -1;
	for (int m = 0; m < QUEUE_NMTAS; m++)
		for (int k = 0; k < QUEUE_NMETHODS; k++) {
			if (q.success[m][k] < 0)
				continue;
			expo_labels_reset(e);
			if (expo_label(e, "mta", queue_mta_name((enum queue_mta)m)) < 0 ||
			    expo_label(e, "method", queue_method_name((enum queue_method)k)) < 0 ||
			    expo_sample_u64(e, "maillog_queue_collect_success", (uint64_t)q.success[m][k]) < 0)
				return -1;
		}
	if (expo_family(e, "maillog_queue_collect_duration_seconds", "gauge", "Time the last "
	    "collection of the MTA's queue took, every method tried included.") < 0)
		return -1;
	for (int m = 0; m < QUEUE_NMTAS; m++) {
		expo_labels_reset(e);
		if (q.duration[m] >= 0 && (expo_label(e, "mta", queue_mta_name((enum queue_mta)m)) < 0 ||
		    expo_sample_double(e, "maillog_queue_collect_duration_seconds", q.duration[m]) < 0))
			return -1;
	}
	if (expo_family(e, "maillog_queue_collect_timestamp_seconds", "gauge", "Unix time of the "
	    "last collection of the MTA's queue that worked: the time the maillog_queue_* "
	    "values are from. Alert on time() minus this.") < 0)
		return -1;
	for (int m = 0; m < QUEUE_NMTAS; m++) {
		expo_labels_reset(e);
		if (q.have[m] && (expo_label(e, "mta", queue_mta_name((enum queue_mta)m)) < 0 ||
		    expo_sample_double(e, "maillog_queue_collect_timestamp_seconds", q.timestamp[m]) < 0))
			return -1;
	}
	return 0;
}

static double
wall_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The families of the inputs: what was read, before any parser. */
static int
render_inputs(struct expo_writer *e, const struct expo_view *v)
{
	return render_sources(e, v) < 0 || render_syslog(e, v) < 0 ||
	    render_envelopes(e, v) < 0 ? -1 : 0;
}

static int
render_all(struct expo_writer *e, const struct expo_view *v, double scrape_duration)
{
	const struct agg *a = v->agg;
	size_t cap = agg_capacity(a);
	struct agg_series *s = malloc(cap * sizeof *s);
	struct strbuf inputs = { 0 };
	struct expo_writer in = { .out = &inputs, .fmt = e->fmt, .start = e->start };
	int rc = -1;

	if (s == NULL)
		return -1;
	/*
	 * The inputs' families are read first, into a buffer of their own,
	 * and go out at their place below. An input adds a line to its count
	 * (maillog_lines_read_total, a listener's messages) after the line is
	 * in the store, with release; read here first, with acquire, a count
	 * of N promises that the families read after it hold all N lines. Read
	 * after them, as the output order has it, a scrape could show a file
	 * read to its end and statuses from half of it (a test that waited
	 * for the count, then compared the statuses, saw exactly that).
	 */
	if (render_inputs(&in, v) < 0)
		goto out;
	/* The first three families keep the order of the core contract. */
	if (render_capped(e, v, 0, s, cap) < 0 ||
	    per_mta_counter(e, v, "maillog_unmatched_lines_total",
	    "Lines that carried an MTA's status marker (status=, reject: ...) but from "
	    "which no SMTP status could be extracted: what this exporter misses. "
	    "mta=\"unknown\" when the MTA could not be told.", agg_unmatched_count) < 0)
		goto out;
	expo_labels_reset(e);
	if (expo_family(e, "maillog_series_dropped_total", "counter",
	    "Events counted in an overflow series (code, enhanced, domain or host "
	    "\"other\") because the series cap (maillog_series_limit) was reached. "
	    "Nonzero means labels were lost: raise --metrics.max-series or find the "
	    "source of new label values.") < 0 ||
	    expo_counter(e, "maillog_series_dropped_total", agg_dropped_series(a), e->start) < 0)
		goto out;
	for (int f = 1; f < (int)(sizeof capped_families / sizeof capped_families[0]); f++)
		if (render_capped(e, v, f, s, cap) < 0)
			goto out;
	if (render_reasons(e, v) < 0)
		goto out;
	if (per_mta_counter(e, v, "maillog_messages_received_total",
	    "Messages accepted from clients (Postfix smtpd client=, Exim <=, Sendmail "
	    "from=, OpenSMTPD smtp message), not counting a content filter handing a "
	    "message back: the denominator of inbound reject ratios.",
	    agg_received_count) < 0 ||
	    render_delays(e, v) < 0 ||
	    render_ops(e, v) < 0 ||
	    per_mta_counter(e, v, "maillog_lines_matched_total",
	    "Lines that yielded an event (a status or a receipt).", agg_matched_count) < 0 ||
	    render_timestamps(e, v, wall_now()) < 0)
		goto out;
	expo_labels_reset(e);
	if (expo_family(e, "maillog_series_limit", "gauge",
	    "The series cap (--metrics.max-series) on label sets taken from the log.") < 0 ||
	    expo_sample_u64(e, "maillog_series_limit", agg_options(a)->max_series) < 0 ||
	    expo_family(e, "maillog_inotify_overflows_total", "counter",
	    "inotify event queue overflows; every file is re-checked after one, so "
	    "nothing is lost, but frequent ones mean the log is written faster than "
	    "events are read.") < 0 ||
	    expo_counter(e, "maillog_inotify_overflows_total", v->inotify_overflows ?
	    atomic_load_explicit(v->inotify_overflows, memory_order_relaxed) : 0,
	    e->start) < 0 ||
	    expo_family(e, "maillog_state_write_errors_total", "counter",
	    "Snapshots of --state.file that could not be written (disk full, "
	    "permissions); while nonzero and rising, /metrics shows the last snapshot "
	    "written and a restart resumes from it. Carried across restarts by the "
	    "state file itself, so failures after its last good write are lost with "
	    "a crash.") < 0 ||
	    expo_counter(e, "maillog_state_write_errors_total", v->state_write_errors ?
	    atomic_load_explicit(v->state_write_errors, memory_order_relaxed) : 0,
	    e->start) < 0 ||
	    expo_family(e, "maillog_exporter_scrape_duration_seconds", "gauge",
	    "Time the previous rendering of this exposition took (absent before the "
	    "first).") < 0)
		goto out;
	if (scrape_duration >= 0 &&
	    expo_sample_double(e, "maillog_exporter_scrape_duration_seconds", scrape_duration) < 0)
		goto out;
	if ((inputs.len > 0 && strbuf_append(e->out, inputs.data, inputs.len) < 0) ||
	    render_queue(e, v) < 0)
		goto out;
	expo_labels_reset(e);
	if (expo_family(e, "maillog_exporter_build_info", "info",
	    "Always 1; the labels name the version and source revision of the running "
	    "maillog_exporter.") < 0 ||
	    expo_label(e, "version", MAILLOG_EXPORTER_VERSION) < 0 ||
	    expo_label(e, "revision", MAILLOG_EXPORTER_REVISION) < 0 ||
	    expo_sample_u64(e, "maillog_exporter_build_info", 1) < 0 ||
	    render_process(e) < 0)
		goto out;
	if (expo_end(e) < 0)
		goto out;
	rc = 0;
out:
	strbuf_free(&inputs);
	strbuf_free(&in.labels);
	free(s);
	return rc;
}

/*
 * Render every family into out, appending, in `fmt`. The order is fixed:
 *   maillog_smtp_status_total, maillog_unmatched_lines_total,
 *   maillog_series_dropped_total (the core contract's order), the code
 *   meanings, outcomes, domains, receipts, delays, the per-MTA and global
 *   self-metrics, the per-source families (in source order), the
 *   --syslog.listen families (only with a listener),
 *   maillog_exporter_build_info, then process_* (alphabetical, as the Go
 *   client emits them).
 * Every family gets its HELP and TYPE even when it has no sample yet, so a
 * dashboard can tell "nothing counted" from "exporter too old".
 * scrape_duration < 0 leaves that gauge without a sample.
 * Returns 0, or -1 on allocation failure (out valid but incomplete).
 */
int
expo_render_format(const struct expo_view *v, enum expo_format fmt, double scrape_duration,
    struct strbuf *out)
{
	struct expo_writer e = { .out = out, .fmt = fmt, .start = agg_start_time(v->agg) };
	int rc = render_all(&e, v, scrape_duration);

	strbuf_free(&e.labels);
	return rc;
}

/* Text 0.0.4 without a scrape duration: --once and the tests. */
int
expo_render(const struct expo_view *v, struct strbuf *out)
{
	return expo_render_format(v, EXPO_FMT_TEXT, -1, out);
}
