/*
 * aggregate.h - the counters behind maillog_smtp_status_total and the
 * per-MTA self-metrics.
 *
 * One writer (the tailer thread, through agg_record/agg_unmatched), any
 * number of readers (the web thread, through agg_snapshot). The store is a
 * fixed-capacity open-addressing table sized once at start: the hot path
 * takes no lock and allocates nothing, and readers see each counter whole
 * (64-bit atomics, relaxed; every counter is monotonic, so a scrape that
 * sees one counter slightly older than another is harmless).
 *
 * The label set is dynamic (enhanced codes come from remote servers), so it
 * is capped: past max_series, a new label set is counted in its
 * (mta, direction, class) overflow series, labelled code="other",
 * enhanced="other", and agg_dropped_series() rises.
 */
#ifndef AGGREGATE_H
#define AGGREGATE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "mp.h"

#define AGG_DEFAULT_MAX_SERIES 5000

/* code value used for overflow series ("other"). Never a real reply code. */
#define AGG_CODE_OVERFLOW 1000

struct agg;

/* The labels of one maillog_smtp_status_total series. */
struct agg_key {
	int mta;                      /* enum mp_mta or custom id */
	enum mp_direction direction;
	uint8_t cls;                  /* 2, 4, 5 */
	uint16_t code;                /* 0 = "", AGG_CODE_OVERFLOW = "other" */
	struct mp_enhanced enhanced;  /* cls 0 = "" (or "other" when code is AGG_CODE_OVERFLOW) */
};

struct agg_series {
	struct agg_key key;
	uint64_t value;
};

/* Create the store for at most max_series label sets (plus the overflow
 * series, which are always available). Returns NULL on allocation failure.
 * Free with agg_free. */
struct agg *agg_new(size_t max_series);
void agg_free(struct agg *a);

/* Count one event. Writer thread only. Never allocates. */
void agg_record(struct agg *a, const struct mp_event *ev);

/* Count one line that carried `mta`'s status marker but yielded no status
 * (mta may be MP_MTA_NONE for "unknown"). Writer thread only. */
void agg_unmatched(struct agg *a, int mta);

/* Copy up to `max` series into out, in no particular order. Safe from any
 * thread. Returns how many were copied. */
size_t agg_snapshot(const struct agg *a, struct agg_series *out, size_t max);

/* Upper bound on what agg_snapshot can return (max_series + overflow). */
size_t agg_capacity(const struct agg *a);

/* Number of series currently in use, not counting overflow. */
size_t agg_series_count(const struct agg *a);

uint64_t agg_unmatched_count(const struct agg *a, int mta);  /* mta MP_MTA_NONE..MP_MTA_MAX-1 */
uint64_t agg_events_count(const struct agg *a, int mta);     /* events counted per MTA */
uint64_t agg_dropped_series(const struct agg *a);            /* events folded into overflow */

/* A number that changes whenever anything counted here changes; the web
 * layer re-renders its cached exposition only when it moves. Bumped by the
 * writer with agg_touch() for changes made outside this module (lines read,
 * file state). */
uint64_t agg_generation(const struct agg *a);
void agg_touch(struct agg *a);

#endif
