/*
 * expo.h - render the counters as Prometheus text exposition format 0.0.4
 * or OpenMetrics 1.0.0.
 *
 * The web layer reads the daemon's state only through struct expo_view:
 * the aggregator (read-only snapshot API) and each source's atomic status.
 * Rendering never blocks the tailer: it takes no lock the tailer holds.
 */
#ifndef EXPO_H
#define EXPO_H

#include <stddef.h>
#include <stdint.h>

#include "store/aggregate.h"
#include "store/envelope_stats.h"
#include "store/history.h"
#include "store/input_stats.h"
#include "store/queue_snapshot.h"
#include "store/syslog_stats.h"
#include "util/strbuf.h"
#include "web/expo_writer.h"   /* enum expo_format, expo_escape_label */

/* One followed input as the web layer sees it. */
struct expo_source {
	const char *path;
	const struct input_status *status;
	int glob;          /* path is a glob pattern: maillog_glob_* families */
	/* A glob's files (store/input_stats.h): the per-path families show a
	 * series per file in it instead of one for the pattern. NULL: the
	 * source is its own series. */
	const struct input_files *files;
};

/* Everything /metrics shows. Owned by the daemon, outlives the web server. */
struct expo_view {
	const struct agg *agg;
	const struct expo_source *sources;
	int nsources;
	const int *mtas;   /* MTAs whose per-MTA counters are always shown, 0 included */
	int nmtas;
	/* The names of custom MTA ids: the daemon's table, which the main
	 * thread appends to while it builds a registry, and which is safe to
	 * read meanwhile (struct mp_mta_names, parsers/mp.h). NULL: custom
	 * ids are all "unknown". */
	const struct mp_mta_names *names;
	const _Atomic uint64_t *inotify_overflows;  /* NULL: no inotify (--once), shown as 0 */
	/* Snapshots of --state.file that could not be written; live, not from
	 * the snapshot (a failed write is exactly what the snapshot misses).
	 * NULL: no --state.file, shown as 0. */
	const _Atomic uint64_t *state_write_errors;
	const struct hist *history; /* per-minute replies for the status page; NULL: none */
	/* Called by the web thread before it reads the counters for a scrape
	 * (NULL: the counters are live). With --state.file the counters are
	 * the copy of the latest snapshot, and this asks the daemon for a
	 * fresh one when it is over a second old and anything changed; it
	 * returns when that is published, or after a bounded wait. */
	void (*refresh)(void *ctx);
	void *refresh_ctx;
	/* Queue sizes (store/queue_snapshot.h): the last snapshot is copied
	 * per scrape. NULL (--once): the maillog_queue_* families are left out. */
	struct queue_board *queue;
	/* --syslog.listen: each listener's counters, in flag order. 0 (no
	 * listener): the maillog_syslog_* families are left out. */
	const struct syslog_stats *syslog;
	int nsyslog;
	/* Container envelopes (store/envelope_stats.h), live. NULL, or no
	 * format seen nor forced: the maillog_envelope_* families are left out. */
	const struct envelope_stats *envelope;
};

#define EXPO_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"
#define EXPO_CONTENT_TYPE_OPENMETRICS \
	"application/openmetrics-text; version=1.0.0; charset=utf-8"

/* Render the whole exposition into out (appending) in fmt. scrape_duration
 * is the previous rendering's time in seconds for
 * maillog_exporter_scrape_duration_seconds (< 0: no sample). Returns 0, or
 * -1 on allocation failure (out is then left valid but incomplete). */
int expo_render_format(const struct expo_view *v, enum expo_format fmt,
    double scrape_duration, struct strbuf *out);

/* expo_render_format in text 0.0.4 with no scrape duration. */
int expo_render(const struct expo_view *v, struct strbuf *out);

#endif
