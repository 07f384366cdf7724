/*
 * summary.h - the aggregator's counters folded for people: totals by
 * class and outcome, reply codes and enhanced codes ranked by count, the
 * domains that defer and bounce most, and the sessions the operational
 * families count (ops.h). The status page (page.c) and
 * `maillog_exporter report` (report_view.c) both read the counters
 * through this, so what a person sees is what /metrics exports.
 */
#ifndef SUMMARY_H
#define SUMMARY_H

#include <stddef.h>
#include <stdint.h>

#include "store/aggregate.h"
#include "parsers/reason.h"

/* One ranked row: a reply code (enhanced cls 0), an enhanced code (code
 * 0), or a domain (name set). */
struct sum_row {
	enum mp_direction dir;
	uint8_t cls;                  /* domains: 4 (deferring) or 5 (bouncing) */
	uint16_t code;                /* 0 = the line quoted none, AGG_CODE_OVERFLOW = "other" */
	struct mp_enhanced enhanced;  /* cls 0 = none */
	int overflow;                 /* the "other" series of the series cap */
	const char *domain;           /* domain rows: the label value (stable) */
	uint64_t count;
};

/* Sessions, TLS and postscreen from the operational families (ops.h),
 * summed over every MTA: what a postmaster checks when clients complain,
 * and what must stay 0 (panics). */
struct sum_sessions {
	uint64_t connects;            /* clients that connected to the SMTP server */
	uint64_t disconnects;
	uint64_t no_quit;             /* disconnects without QUIT */
	uint64_t lost;                /* lost connections */
	uint64_t timeouts;
	uint64_t auth_failures;
	uint64_t tls[MP_DIR_COUNT];   /* TLS sessions by direction */
	uint64_t tls_failures;
	uint64_t panics;
	uint64_t fatals;
	uint64_t ps_connects;         /* postscreen */
	uint64_t ps_passes[MP_PS_PASS_COUNT];  /* PASS NEW, PASS OLD */
	uint64_t ps_test_failures;
	uint64_t ps_hangups;
};

struct summary {
	uint64_t cls[MP_DIR_COUNT][3];          /* statuses by direction and 2xx/4xx/5xx */
	uint64_t dir_total[MP_DIR_COUNT];
	uint64_t total;
	uint64_t outcomes[MP_OUTCOME_COUNT];    /* every MTA and destination */
	uint64_t received;                      /* messages accepted from clients */
	struct sum_row *codes;                  /* by direction, then count desc, then code */
	size_t ncodes;
	struct sum_row *enhanced;               /* the same, by enhanced code */
	size_t nenhanced;
	struct sum_row *domains;                /* outbound 4xx and 5xx, by class then count desc */
	size_t ndomains;
	uint64_t reasons[MP_DIR_COUNT][REASON_COUNT];  /* 4xx and 5xx by why, every MTA */
	uint64_t reason_cls[MP_DIR_COUNT][2][REASON_COUNT];  /* the same split: [0] 4xx, [1] 5xx */
	uint64_t reason_total[MP_DIR_COUNT];
	struct sum_sessions sess;
};

/* Fold a's counters into s. Allocates the row arrays (free them with
 * summary_fini, also after a failure). Safe from any thread, as the
 * snapshot calls are. Returns 0, or -1 out of memory. */
int summary_build(struct summary *s, const struct agg *a);
void summary_fini(struct summary *s);

/* The domain-label value "other" stands for every domain without a label
 * of its own: the long tail, and malformed names. */
#define SUMMARY_OTHER_DOMAIN "other"

/* The outcome as maillog_outcomes_total names it ("delivered", ...). */
const char *summary_outcome_name(enum mp_outcome o);

/* The reasons of direction dir with a nonzero count, most frequent first
 * (ties in the closed set's order), not_attempted last whatever its
 * count, written to order; returns how many. order has room for
 * REASON_COUNT. */
size_t summary_reason_rank(const struct summary *s, enum mp_direction dir,
    enum reason order[REASON_COUNT]);

/* One line a postmaster reads: what reason r means and what to do about
 * it. Static string. */
const char *summary_reason_meaning(enum reason r);

/* 1 if r clears by itself and needs nobody (greylisting), else 0: the
 * page and the report mark it so nobody chases it. */
int summary_reason_harmless(enum reason r);

/* 1 if r is not_attempted: deferrals the MTA logged without trying, each
 * a repeat of a failure counted when it happened. The page and the report
 * list it last and mark it, so nobody counts the trouble twice. */
int summary_reason_not_attempted(enum reason r);

/* Index 0, 1, 2 of class 2, 4, 5 in struct summary's cls arrays. */
#define SUMMARY_CLASS_INDEX(c) ((c) == 2 ? 0 : (c) == 4 ? 1 : 2)

#endif
