/*
 * ingest.c - one log line into counts (see ingest.h).
 *
 * This is the per-line hot path: no allocation, no system call, and one
 * predictable branch for each hook a caller may leave NULL.
 */
#include "daemon/ingest.h"

#include <stdint.h>
#include <string.h>
#include <time.h>

#include "util/log.h"

/* A line of Exim's panic log: each entry is one panic. Entries are single
 * lines but for indented continuations (a panic quoting a multi-line
 * message), which are not counted again. */
static void
count_panic(struct ingest *in, const char *line, size_t len)
{
	struct mp_event ev;

	if (len == 0 || line[0] == ' ' || line[0] == '\t')
		return;
	memset(&ev, 0, sizeof ev);
	ev.mta = MP_MTA_EXIM;
	ev.nops = 1;
	ev.ops[0].family = MP_OPF_PANICS;
	agg_record_ops(in->agg, &ev);
}

void
ingest_line(void *ctx, const char *line, size_t len, int source)
{
	struct ingest *in = ctx;
	struct mp_event ev;
	int r;

	/* The tailer counts lines per source itself. */
	if (source == in->panic_source) {
		count_panic(in, line, len);
		return;
	}
	r = mp_registry_parse(in->reg, line, len, &ev);
	if (ev.nops > 0)
		agg_record_ops(in->agg, &ev);
	if (r > 0) {
		/* Statuses and receipts alike: agg_record dispatches on ev.kind. */
		agg_record(in->agg, &ev);
		if (ev.kind != MP_EVENT_STATUS)
			return;
		/* Only failures are classified: a 2xx line runs no pattern. */
		if (ev.cls != 2)
			agg_record_reason(in->agg, &ev, reason_classify(in->reasons, &ev));
		/* The chart counts by when the line arrived, not by the log's
		 * timestamp: "the last hour" is the last hour of this exporter's
		 * life, whatever clock the log's writer had, and a backlog read
		 * at start-up shows as the minute it was read. The coarse clock
		 * is a vDSO read, no system call per line. */
		if (in->history != NULL) {
			struct timespec now;
			clock_gettime(CLOCK_REALTIME_COARSE, &now);
			hist_record(in->history, (int64_t)now.tv_sec, ev.direction, ev.cls);
		}
		if (in->on_event != NULL)
			in->on_event(in->event_ctx, &ev);
	} else if (r < 0) {
		agg_unmatched(in->agg, ev.mta);
		if (!in->quiet) {
			char ex[4 * 160 + 4];
			log_limited(LOG_LIMIT_UNMATCHED, LOG_LEVEL_WARN,
			    "%s line has a status marker but no status could be read from it"
			    " (counted in maillog_unmatched_lines_total): %s",
			    mp_mta_name(mp_registry_names(in->reg), ev.mta),
			    log_excerpt(ex, line, len, 160));
		}
	}
}
