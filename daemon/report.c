/*
 * report.c - `maillog_exporter report` (see report.h): the flags, the
 * files, and the tallies only a report keeps.
 *
 * Every line goes through ingest_line, the daemon's own per-line path, so
 * the report counts what the daemon counts. Two tallies hang on it as its
 * on_event hook, because the daemon has no use for them: counts per hour
 * of the log's own time (history.c with one-hour buckets, fed the event's
 * header time through mp_time_to_epoch, where the daemon feeds its chart
 * the time a line arrived), and for outbound 4xx/5xx statuses the codes
 * per recipient domain, so each top deferring or bouncing domain can be
 * shown with its main codes. web/report_view.c renders it all.
 */
#include "daemon/report.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon/ingest.h"
#include "daemon/input/once.h"
#include "parsers/epoch_cache.h"
#include "parsers/mp.h"
#include "parsers/reason.h"
#include "store/aggregate.h"
#include "store/history.h"
#include "store/topk.h"
#include "web/report_view.h"
#include "web/summary.h"

#define MAX_LINE 65536

struct report {
	struct ingest in;
	struct report_tallies t;
	time_t now;
	/* Header times through a cache of minutes: converting each status's
	 * time anew cost up to three stats of /etc/localtime a line
	 * (parsers/epoch_cache.h). */
	struct mp_epoch_cache epochs;
	int oom;
};

/* ingest's on_event: every status, after the store counted it. */
static void
report_event(void *ctx, const struct mp_event *ev)
{
	struct report *r = ctx;

	/* The event's header time: the log's own clock, not when we read it. */
	int64_t t = mp_epoch_cached(&r->epochs, &ev->hdr.time);
	if (t < 0) {
		r->t.no_time++;
	} else {
		hist_record(r->t.hours, t, ev->direction, ev->cls);
		if (r->t.first < 0 || t < r->t.first)
			r->t.first = t;
		if (t > r->t.last)
			r->t.last = t;
	}

	if (ev->direction == MP_DIR_OUTBOUND && (ev->cls == 4 || ev->cls == 5)) {
		char name[TOPK_NAME_MAX + 1];
		size_t n = 0;
		struct mp_enhanced e = ev->enhanced;

		if (ev->domain != NULL && ev->domain_len > 0 && ev->domain_len < 1024)
			n = topk_normalise(ev->domain, ev->domain_len, name);
		if (n == 0) {
			memcpy(name, SUMMARY_OTHER_DOMAIN, sizeof SUMMARY_OTHER_DOMAIN);
			n = sizeof SUMMARY_OTHER_DOMAIN - 1;
		}
		if (!(e.cls == 2 || e.cls == 4 || e.cls == 5))
			e = (struct mp_enhanced){ 0, 0, 0 };
		if (dc_add(&r->t.dc, name, n, ev->cls, ev->code >= 200 && ev->code <= 599 ?
		    ev->code : 0, &e) < 0)
			r->oom = 1;
	}
}

static void
usage(FILE *fp)
{
	fprintf(fp, "Usage: maillog_exporter report [--json] FILE...\n"
	    "Read whole mail logs (plain or gzip; Postfix, Exim, Sendmail, OpenSMTPD, mixed;\n"
	    "\"-\" is standard input) and print the SMTP status codes they hold: totals by\n"
	    "outcome and class, reply and enhanced codes with their meanings, counts per hour\n"
	    "(log time, in the TZ timezone), the top deferring and bouncing domains, and\n"
	    "the sessions, TLS and postscreen counts.\n"
	    "  --json   print the same data as JSON\n"
	    "  --postfix.reinjection-syslog-name=NAME\n"
	    "           a Postfix smtpd that takes mail back from a content filter\n"
	    "           without XFORWARD: no new receipts (as the daemon's flag; repeatable)\n"
	    "  --help   this text\n");
}

int
report_main(int argc, char **argv, FILE *out)
{
	/* No panic log; the report prints the unmatched count itself. */
	struct report r = { .in = { .panic_source = -1, .quiet = 1, .on_event = report_event,
	    .event_ctx = &r }, .t = { .first = -1, .last = -1 } };
	struct report_input *in = NULL;
	struct agg_opts ao;
	struct strbuf o = { 0 };
	int json = 0, nin = 0, rc = 1, flags = 1;
	const char *reinject[MP_REINJECT_MAX];
	size_t nreinject = 0;
	char err[512];
	static const char reinject_flag[] = "--postfix.reinjection-syslog-name=";

	if ((in = calloc(REPORT_MAX_FILES, sizeof *in)) == NULL) {
		fprintf(stderr, "maillog_exporter report: out of memory\n");
		return 1;
	}
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (flags && strcmp(a, "--") == 0) {
			flags = 0;
		} else if (flags && strcmp(a, "--json") == 0) {
			json = 1;
		} else if (flags && strncmp(a, reinject_flag, sizeof reinject_flag - 1) == 0) {
			if (nreinject == MP_REINJECT_MAX) {
				fprintf(stderr, "maillog_exporter report: --postfix.reinjection-syslog-name: "
				    "at most %d\n", MP_REINJECT_MAX);
				free(in);
				return 2;
			}
			reinject[nreinject++] = a + sizeof reinject_flag - 1;
		} else if (flags && (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)) {
			usage(out);
			free(in);
			return 0;
		} else if (flags && a[0] == '-' && a[1] != '\0') {
			fprintf(stderr, "maillog_exporter report: unknown flag %s (usage: "
			    "maillog_exporter report [--json] FILE...)\n", a);
			free(in);
			return 2;
		} else if (nin == REPORT_MAX_FILES) {
			fprintf(stderr, "maillog_exporter report: more than %d files\n",
			    REPORT_MAX_FILES);
			free(in);
			return 2;
		} else {
			in[nin++].path = a;
		}
	}
	if (nin == 0) {
		fprintf(stderr, "maillog_exporter report: no FILE given (usage: maillog_exporter "
		    "report [--json] FILE...; \"-\" reads standard input)\n");
		free(in);
		return 2;
	}

	/* The daemon's store, without its domain labels: the report ranks
	 * every deferring and bouncing domain from its own exact table
	 * (report_event), so the store's heavy-hitter sketch would only be
	 * work and memory nobody reads (4 % of a report's instructions). */
	agg_opts_defaults(&ao);
	ao.max_series = 100000;
	ao.domains_top = 0;
	tzset();
	r.now = time(NULL);
	mp_epoch_cache_init(&r.epochs, NULL, r.now);
	if ((r.in.reg = mp_registry_new("auto", err, sizeof err)) == NULL) {
		fprintf(stderr, "maillog_exporter report: %s\n", err);
		goto done;
	}
	if (mp_registry_set_reinjection(r.in.reg, reinject, nreinject, err, sizeof err) < 0) {
		fprintf(stderr, "maillog_exporter report: --postfix.reinjection-syslog-name: %s\n", err);
		rc = 2;
		goto done;
	}
	if ((r.in.reasons = reason_set_new(NULL, 0, NULL, err, sizeof err)) == NULL) {
		fprintf(stderr, "maillog_exporter report: failure reasons: %s\n", err);
		goto done;
	}
	if ((r.in.agg = agg_new_opts(&ao)) == NULL ||
	    (r.t.hours = hist_new(REPORT_HOURS, 3600)) == NULL) {
		fprintf(stderr, "maillog_exporter report: out of memory\n");
		goto done;
	}
	/* Container logs are read as the daemon reads them by default. */
	struct envelope_config envelope = { .mode = ENVELOPE_AUTO, .max_line = MAX_LINE };
	for (int i = 0; i < nin; i++) {
		if (once_read(in[i].path, MAX_LINE, &envelope, ingest_line, &r.in, i, &in[i].st,
		    err, sizeof err) < 0) {
			fprintf(stderr, "maillog_exporter report: %s\n", err);
			goto done;
		}
	}
	struct report_data data = { .agg = r.in.agg, .names = mp_registry_names(r.in.reg),
	    .t = &r.t, .in = in, .nin = nin };
	if (r.oom || report_render(&o, json, &data) < 0) {
		fprintf(stderr, "maillog_exporter report: out of memory\n");
		goto done;
	}
	if (fwrite(o.data, 1, o.len, out) != o.len || fflush(out) != 0) {
		fprintf(stderr, "maillog_exporter report: cannot write the report\n");
		goto done;
	}
	rc = 0;
done:
	strbuf_free(&o);
	dc_free(&r.t.dc);
	hist_free(r.t.hours);
	agg_free(r.in.agg);
	mp_registry_free(r.in.reg);
	reason_set_free(r.in.reasons);
	free(in);
	return rc;
}
