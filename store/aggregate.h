/*
 * aggregate.h - every counter the exporter derives from log lines:
 * maillog_smtp_status_total and the families beside it (code
 * meanings seen, outcomes, receipts, domains, delays, per-MTA
 * self-metrics).
 *
 * One writer (the tailer thread, through agg_record/agg_unmatched), any
 * number of readers (the web thread, through the snapshot calls). Every
 * byte is allocated by agg_new: the hot path takes no lock and allocates
 * nothing, and readers see each counter whole (64-bit atomics, relaxed;
 * every counter is monotonic, so a scrape that sees one counter slightly
 * older than another is harmless).
 *
 * Label values that come from the log (codes, enhanced codes, domains,
 * host names) are capped together: at most max_series label sets of
 * maillog_smtp_status_total, maillog_outcomes_total (with the host label),
 * maillog_domain_status_total, the two *_code_info families and (with
 * --metrics.tls-cipher) maillog_tls_ciphers_total exist. Past
 * the cap, a new label set is counted in its family's overflow series
 * (code/enhanced/domain/host "other") and agg_dropped_series() rises.
 * Families whose labels are only our own enums (received, lines matched,
 * delays, outcomes without the host label) are bounded by construction
 * (MP_MTA_MAX MTAs) and not counted against the cap.
 */
#ifndef AGGREGATE_H
#define AGGREGATE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "parsers/mp.h"

#define AGG_DEFAULT_MAX_SERIES 5000
#define AGG_DEFAULT_DOMAINS_TOP 50
#define AGG_MAX_DOMAINS_TOP 1000
/* Host names get labels first come, first served, at most this many. */
#define AGG_MAX_HOSTS 1000

/* code value used for overflow series ("other"). Never a real reply code. */
#define AGG_CODE_OVERFLOW 1000

/* Label ids of struct agg_key.domain and .host. */
#define AGG_DOMAIN_OTHER 0    /* domain="other" */
#define AGG_HOST_NONE 0       /* no host label, or host="" (the line had no host) */
#define AGG_HOST_OTHER 1      /* host="other" */

/* Delay histogram: upper bounds in seconds, from a fast local delivery to
 * Postfix's default maximal_queue_lifetime (5 days). */
#define AGG_DELAY_BUCKETS 18
extern const double agg_delay_bounds[AGG_DELAY_BUCKETS];

/* Histogram stages: the MP_STAGE_* values, then the total delay. */
#define AGG_STAGE_TOTAL MP_STAGE_COUNT
#define AGG_STAGES (MP_STAGE_COUNT + 1)
const char *agg_stage_name(int stage);

struct agg_opts {
	size_t max_series;        /* --metrics.max-series */
	unsigned domains_top;     /* --metrics.domains.top, 0..AGG_MAX_DOMAINS_TOP */
	int domains_inbound;      /* --metrics.domains.inbound */
	int host_label;           /* --metrics.host-label */
	int tls_cipher;           /* --metrics.tls-cipher */
};
void agg_opts_defaults(struct agg_opts *o);

enum agg_family {
	AGG_FAM_STATUS = 0,       /* maillog_smtp_status_total */
	AGG_FAM_OUTCOME,          /* maillog_outcomes_total */
	AGG_FAM_DOMAIN,           /* maillog_domain_status_total */
	AGG_FAM_CODE_INFO,        /* maillog_smtp_code_info (value 1) */
	AGG_FAM_ENHANCED_INFO,    /* maillog_smtp_enhanced_code_info (value 1) */
	AGG_FAM_COUNT
};

struct agg;

/* The labels of one series. Fields a family does not have are 0. */
struct agg_key {
	enum agg_family family;
	int mta;                      /* enum mp_mta or custom id */
	enum mp_direction direction;  /* STATUS, DOMAIN */
	uint8_t cls;                  /* 2, 4, 5: STATUS, DOMAIN */
	uint16_t code;                /* STATUS, CODE_INFO: 0 = "", AGG_CODE_OVERFLOW = "other" */
	struct mp_enhanced enhanced;  /* STATUS, ENHANCED_INFO: cls 0 = "" (or "other" with AGG_CODE_OVERFLOW) */
	enum mp_outcome outcome;      /* OUTCOME */
	enum mp_destination destination; /* OUTCOME */
	uint16_t domain;              /* DOMAIN: AGG_DOMAIN_OTHER or an id for agg_domain_name */
	uint16_t host;                /* STATUS, OUTCOME, DOMAIN: AGG_HOST_* or an id for agg_host_name */
};

struct agg_series {
	struct agg_key key;
	uint64_t value;
	double created;               /* Unix time the series started counting */
};

/* Create the store. Returns NULL on a bad option (max_series 0,
 * domains_top above AGG_MAX_DOMAINS_TOP) or allocation failure. Free with
 * agg_free (NULL is a no-op). */
struct agg *agg_new_opts(const struct agg_opts *o);
/* agg_new_opts with the default options but max_series. */
struct agg *agg_new(size_t max_series);
void agg_free(struct agg *a);

/* The options the store was created with. */
const struct agg_opts *agg_options(const struct agg *a);

/* Count one event: a status (every family) or a receipt. Writer thread
 * only. Never allocates. */
void agg_record(struct agg *a, const struct mp_event *ev);

/* Count the operational activity of ev (ev->nops ops, parsers/ops.h),
 * whatever mp_registry_parse returned for its line. Writer thread only.
 * Never allocates. */
void agg_record_ops(struct agg *a, const struct mp_event *ev);

/* The operational families' counters (opstore.h), for readers. */
struct opstore;
const struct opstore *agg_ops(const struct agg *a);

/* Count a failed status (class 4 or 5) in maillog_smtp_reason_total under
 * reason (an enum reason from reason.h, 0..AGG_REASONS-1; anything else is
 * counted as the last one, "other"). Writer thread only. Never allocates:
 * reasons are a closed set, so the family is a fixed array. */
#define AGG_REASONS 18
void agg_record_reason(struct agg *a, const struct mp_event *ev, int reason);

/* One maillog_smtp_reason_total counter; cls 4 or 5. Safe from any thread. */
uint64_t agg_reason_count(const struct agg *a, int mta, enum mp_direction dir,
    unsigned cls, int reason);

/* Count one line that carried `mta`'s status marker but yielded no status
 * (mta may be MP_MTA_NONE for "unknown"). Writer thread only. */
void agg_unmatched(struct agg *a, int mta);

/* Copy up to `max` maillog_smtp_status_total series into out, in no
 * particular order, overflow series included. Safe from any thread.
 * Returns how many were copied. */
size_t agg_snapshot(const struct agg *a, struct agg_series *out, size_t max);

/* The same for any family (overflow series included). */
size_t agg_snapshot_family(const struct agg *a, enum agg_family fam,
    struct agg_series *out, size_t max);

/* Upper bound on what one snapshot call can return (max_series plus the
 * fixed overflow series). */
size_t agg_capacity(const struct agg *a);

/* Number of maillog_smtp_status_total series in use, not counting overflow. */
size_t agg_series_count(const struct agg *a);
/* Number of capped series in use across all families (<= max_series). */
size_t agg_total_series(const struct agg *a);

/* Label values of domain and host ids (NUL-terminated, stable). id must
 * be one a snapshot returned. */
const char *agg_domain_name(const struct agg *a, enum mp_direction dir, unsigned id);
const char *agg_host_name(const struct agg *a, unsigned id);

uint64_t agg_unmatched_count(const struct agg *a, int mta);  /* mta MP_MTA_NONE..MP_MTA_MAX-1 */
uint64_t agg_events_count(const struct agg *a, int mta);     /* status events per MTA */
uint64_t agg_matched_count(const struct agg *a, int mta);    /* lines that yielded any event */
uint64_t agg_received_count(const struct agg *a, int mta);   /* messages accepted from clients */
uint64_t agg_dropped_series(const struct agg *a);            /* events folded into overflow */

/* Log timestamp (Unix seconds) of the last line of `mta` that yielded an
 * event, or a negative value if none had a timestamp yet. */
double agg_last_timestamp(const struct agg *a, int mta);

/* One delay histogram: per-bucket counts (not cumulative; the last one is
 * +Inf), the sum of observations in seconds. Returns 0, or -1 when it has
 * no observation yet. */
struct agg_histogram {
	uint64_t buckets[AGG_DELAY_BUCKETS + 1];
	double sum;
};
int agg_delay_histogram(const struct agg *a, int mta, int stage, struct agg_histogram *out);
/* The same for deliveries to dest (MP_DEST_NONE: qmgr's expiry, which
 * names none; MP_DEST_FILTER never has one). */
int agg_delay_histogram_dest(const struct agg *a, int mta, enum mp_destination dest, int stage,
    struct agg_histogram *out);

/* Unix time agg_new ran: when the fixed counters started. */
double agg_start_time(const struct agg *a);

/* Bytes allocated by agg_new (fixed for the store's life). */
size_t agg_memory(const struct agg *a);

/* A number that changes whenever anything counted here changes; the web
 * layer re-renders its cached exposition only when it moves. Bumped by the
 * writer with agg_touch() for changes made outside this module (lines read,
 * file state). */
uint64_t agg_generation(const struct agg *a);
void agg_touch(struct agg *a);

#endif
