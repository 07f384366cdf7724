/*
 * history.h - a fixed ring of time buckets counting status events by
 * direction and class: the per-minute chart of the status page (1440
 * one-minute buckets, a day) and the per-hour table of `report`.
 *
 * One writer, any number of readers. The writer is the thread that feeds
 * the aggregator (ingest_line in daemon/ingest.c, right after agg_record,
 * with the wall-clock time the line arrived; the report's hook in
 * daemon/report.c with the log's own time).
 * Readers (the web thread) see every counter whole and never a bucket
 * being recycled for a new period: each bucket carries the period it
 * counts, checked before and after its counters are read (a seqlock with
 * the period as the sequence). Every byte is allocated by hist_new, and
 * none is written there: a bucket's page is touched when it is first used.
 */
#ifndef HISTORY_H
#define HISTORY_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "parsers/mp.h"

#define HIST_CLASSES 3            /* 2xx, 4xx, 5xx */
#define HIST_PAGE_BUCKETS 1440    /* the status page: a day of minutes */
#define HIST_PAGE_SECONDS 60

struct hist;

/* Create a ring of nbuckets buckets of bucket_s seconds each (both > 0).
 * Returns NULL on a bad argument or allocation failure; free with
 * hist_free (NULL is a no-op). */
struct hist *hist_new(unsigned nbuckets, unsigned bucket_s);
void hist_free(struct hist *h);

/* Count one status of class cls (2, 4 or 5) in direction dir at Unix time
 * t (seconds). A time older than the ring reaches back from the newest
 * period recorded, or a bad cls or dir, is not counted but counted in
 * hist_dropped() (a clock stepped back, or a report given files out of
 * order further apart than the ring). Writer thread only; never
 * allocates. */
void hist_record(struct hist *h, int64_t t, enum mp_direction dir, int cls);

/* The period (Unix time / bucket_s) of the newest bucket written, or -1 if
 * nothing was recorded. Safe from any thread. */
int64_t hist_latest(const struct hist *h);

/* Counts of period p (Unix time / bucket_s) into out[dir][0..2] for 2xx,
 * 4xx, 5xx. A period the ring no longer (or not yet) holds reads as zeros.
 * Returns 1 if the ring holds period p, else 0. Safe from any thread. */
int hist_get(const struct hist *h, int64_t period, uint64_t out[MP_DIR_COUNT][HIST_CLASSES]);

/* Sum of the last n periods ending with the one holding Unix time now,
 * added into out. Safe from any thread. */
void hist_sum(const struct hist *h, int64_t now, unsigned n,
    uint64_t out[MP_DIR_COUNT][HIST_CLASSES]);

unsigned hist_buckets(const struct hist *h);
unsigned hist_bucket_seconds(const struct hist *h);
uint64_t hist_dropped(const struct hist *h);

/* Index 0, 1, 2 of class 2, 4, 5; -1 for anything else. */
int hist_class_index(int cls);

#endif
