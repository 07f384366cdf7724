/*
 * ingest.h - one log line into counts: the one per-line path.
 *
 * The daemon (the tailer and the journal), --once and `maillog_exporter
 * report` all hand every line to ingest_line, so a line counts the same
 * wherever it is read: parsed by the registry, its event and its
 * operational families recorded, a failure's reason classified, an
 * unmatched line counted. What only one caller wants hangs on it: the
 * status page's per-minute chart (history) and the report's own tallies
 * (on_event), never a copy of the path.
 */
#ifndef INGEST_H
#define INGEST_H

#include <stddef.h>

#include "parsers/mp.h"
#include "parsers/reason.h"
#include "store/aggregate.h"
#include "store/history.h"

struct ingest {
	struct mp_registry *reg;
	struct reason_set *reasons;   /* classifies 4xx/5xx statuses; the daemon swaps it on reload */
	struct agg *agg;
	struct hist *history;         /* the status page's per-minute replies; NULL: none */
	int panic_source;             /* the source index of --exim.paniclog, or -1 */
	int quiet;                    /* no warning per unmatched line (report prints the count) */
	/* Called with every status after it is recorded, or NULL. */
	void (*on_event)(void *ctx, const struct mp_event *ev);
	void *event_ctx;
};

/* Count one line of source (the tail_line_fn of tailer.h; ctx is the
 * struct ingest). Writer only: one thread per struct agg. Allocates
 * nothing. */
void ingest_line(void *ctx, const char *line, size_t len, int source);

#endif
