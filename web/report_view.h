/*
 * report_view.h - `maillog_exporter report` as text or JSON: one more view
 * of the store, beside the exposition and the status page.
 *
 * The command (daemon/report.c) reads the logs through the daemon's own
 * per-line path into a store, and counts on the side what only a report
 * shows (struct report_tallies); this renders both. It takes plain data,
 * so web/ needs nothing from daemon/.
 */
#ifndef REPORT_VIEW_H
#define REPORT_VIEW_H

#include <stdint.h>

#include "store/aggregate.h"
#include "store/domain_codes.h"
#include "store/history.h"
#include "store/input_stats.h"
#include "util/strbuf.h"

/* Per-hour buckets: 400 days of hours, more than any set of rotated logs
 * a person feeds a report; older hours are counted in hist_dropped. */
#define REPORT_HOURS (24 * 400)
/* Rows in each ranked section of the text report (JSON has them all). */
#define REPORT_TOP_DOMAINS 10

/* One file read, and its line counts. */
struct report_input {
	const char *path;
	struct input_status st;
};

/* What the report counts besides the store, per status. */
struct report_tallies {
	struct hist *hours;       /* by the log's own time: REPORT_HOURS one-hour buckets */
	struct dc_table dc;       /* outbound 4xx/5xx: codes per recipient domain */
	uint64_t no_time;         /* statuses whose line had no timestamp */
	int64_t first, last;      /* log time range of the statuses, -1 = none */
};

struct report_data {
	const struct agg *agg;
	const struct mp_mta_names *names;   /* the MTA ids' names; NULL: built-ins only */
	const struct report_tallies *t;
	const struct report_input *in;
	int nin;
};

/* Append the report (json: the JSON document, else the text) to out.
 * Returns 0, or -1 out of memory. */
int report_render(struct strbuf *out, int json, const struct report_data *r);

#endif
