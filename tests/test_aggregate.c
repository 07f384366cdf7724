/*
 * test_aggregate.c - the counter store: exact counts per label set, the
 * series cap and its overflow series, and a reader running beside the
 * writer.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include "store/aggregate.h"
#include "store/aggregate_impl.h"

static struct mp_event
event(int mta, enum mp_direction dir, unsigned code, unsigned ec, unsigned es,
    unsigned ed, unsigned cls)
{
	struct mp_event ev;
	memset(&ev, 0, sizeof ev);
	ev.mta = mta;
	ev.direction = dir;
	ev.code = (uint16_t)code;
	ev.enhanced = (struct mp_enhanced){ (uint8_t)ec, (uint16_t)es, (uint16_t)ed };
	ev.cls = (uint8_t)cls;
	return ev;
}

static uint64_t
find(const struct agg_series *s, size_t n, int mta, enum mp_direction dir,
    unsigned code, unsigned ec, unsigned es, unsigned ed, unsigned cls)
{
	for (size_t i = 0; i < n; i++) {
		const struct agg_key *k = &s[i].key;
		if (k->mta == mta && k->direction == dir && k->code == code &&
		    k->enhanced.cls == ec && k->enhanced.subject == es &&
		    k->enhanced.detail == ed && k->cls == cls)
			return s[i].value;
	}
	return UINT64_MAX;
}

static void
test_counts_per_label_set(void **state)
{
	(void)state;
	struct agg *a = agg_new(100);
	assert_non_null(a);
	struct mp_event sent = event(MP_MTA_POSTFIX, MP_DIR_OUTBOUND, 250, 2, 0, 0, 2);
	struct mp_event bounce = event(MP_MTA_POSTFIX, MP_DIR_OUTBOUND, 550, 5, 1, 1, 5);
	struct mp_event reject = event(MP_MTA_POSTFIX, MP_DIR_INBOUND, 554, 5, 7, 1, 5);
	struct mp_event nocode = event(MP_MTA_POSTFIX, MP_DIR_OUTBOUND, 0, 0, 0, 0, 4);
	struct mp_event soft = event(MP_MTA_POSTFIX, MP_DIR_OUTBOUND, 550, 4, 1, 1, 5);
	struct mp_event big = event(MP_MTA_EXIM, MP_DIR_OUTBOUND, 599, 5, 999, 999, 5);

	for (int i = 0; i < 7; i++)
		agg_record(a, &sent);
	for (int i = 0; i < 3; i++)
		agg_record(a, &bounce);
	agg_record(a, &reject);
	agg_record(a, &nocode);
	agg_record(a, &nocode);
	agg_record(a, &soft);
	agg_record(a, &big);

	struct agg_series s[200];
	size_t n = agg_snapshot(a, s, 200);
	assert_int_equal(n, 6);
	assert_int_equal(agg_series_count(a), 6);
	assert_int_equal(find(s, n, MP_MTA_POSTFIX, MP_DIR_OUTBOUND, 250, 2, 0, 0, 2), 7);
	assert_int_equal(find(s, n, MP_MTA_POSTFIX, MP_DIR_OUTBOUND, 550, 5, 1, 1, 5), 3);
	assert_int_equal(find(s, n, MP_MTA_POSTFIX, MP_DIR_INBOUND, 554, 5, 7, 1, 5), 1);
	assert_int_equal(find(s, n, MP_MTA_POSTFIX, MP_DIR_OUTBOUND, 0, 0, 0, 0, 4), 2);
	assert_int_equal(find(s, n, MP_MTA_POSTFIX, MP_DIR_OUTBOUND, 550, 4, 1, 1, 5), 1);
	assert_int_equal(find(s, n, MP_MTA_EXIM, MP_DIR_OUTBOUND, 599, 5, 999, 999, 5), 1);
	assert_int_equal(agg_events_count(a, MP_MTA_POSTFIX), 14);
	assert_int_equal(agg_events_count(a, MP_MTA_EXIM), 1);
	assert_int_equal(agg_dropped_series(a), 0);
	agg_free(a);
}

static void
test_malformed_events_are_not_labels(void **state)
{
	(void)state;
	struct agg *a = agg_new(10);
	/* An out-of-range code or enhanced code must never become a label: it
	 * counts as "no code" (the parser should never send one; this is the
	 * last line of defence). Events without a class are not counted. */
	struct mp_event bad_code = event(MP_MTA_POSTFIX, MP_DIR_OUTBOUND, 999, 6, 1, 1, 5);
	struct mp_event bad_enh = event(MP_MTA_POSTFIX, MP_DIR_OUTBOUND, 550, 5, 1234, 1, 5);
	struct mp_event no_class = event(MP_MTA_POSTFIX, MP_DIR_OUTBOUND, 250, 2, 0, 0, 0);
	struct mp_event bad_mta = event(MP_MTA_MAX, MP_DIR_OUTBOUND, 250, 2, 0, 0, 2);
	agg_record(a, &bad_code);
	agg_record(a, &bad_enh);
	agg_record(a, &no_class);
	agg_record(a, &bad_mta);

	struct agg_series s[64];
	size_t n = agg_snapshot(a, s, 64);
	assert_int_equal(n, 2);
	assert_int_equal(find(s, n, MP_MTA_POSTFIX, MP_DIR_OUTBOUND, 0, 0, 0, 0, 5), 1);
	assert_int_equal(find(s, n, MP_MTA_POSTFIX, MP_DIR_OUTBOUND, 550, 0, 0, 0, 5), 1);
	agg_free(a);
}

static void
test_cap_folds_into_overflow(void **state)
{
	(void)state;
	const size_t cap = 50;
	struct agg *a = agg_new(cap);
	uint64_t total = 0;

	/* An attacker-controlled remote server can send any enhanced code:
	 * 100,000 distinct ones must not grow the store past its cap. */
	for (unsigned s = 0; s < 100; s++) {
		for (unsigned d = 0; d < 1000; d++) {
			struct mp_event ev = event(MP_MTA_POSTFIX, MP_DIR_OUTBOUND, 550,
			    5, s, d, 5);
			agg_record(a, &ev);
			total++;
		}
	}
	struct mp_event ok = event(MP_MTA_POSTFIX, MP_DIR_INBOUND, 250, 0, 0, 0, 2);
	agg_record(a, &ok);
	total++;

	/* The cap counts every capped series: each status series here came
	 * with the meaning of its enhanced code (and the first with 550's), so
	 * (cap - 1) / 2 status series fit. */
	size_t k = (cap - 1) / 2;
	assert_int_equal(agg_series_count(a), k);
	assert_int_equal(agg_total_series(a), 2 * k + 1);
	assert_true(agg_total_series(a) <= cap);
	assert_true(agg_capacity(a) >= cap);
	struct agg_series *s = calloc(agg_capacity(a), sizeof *s);
	size_t n = agg_snapshot(a, s, agg_capacity(a));
	assert_int_equal(n, k + 2);  /* k real series + 2 overflow series */
	uint64_t sum = 0;
	for (size_t i = 0; i < n; i++)
		sum += s[i].value;
	assert_int_equal(sum, total);  /* nothing lost */
	assert_int_equal(find(s, n, MP_MTA_POSTFIX, MP_DIR_OUTBOUND, AGG_CODE_OVERFLOW,
	    0, 0, 0, 5), 100000 - k);
	assert_int_equal(find(s, n, MP_MTA_POSTFIX, MP_DIR_INBOUND, AGG_CODE_OVERFLOW,
	    0, 0, 0, 2), 1);
	assert_int_equal(agg_dropped_series(a), 100000 - k + 1);
	/* A series that already exists keeps counting past the cap. */
	struct mp_event first = event(MP_MTA_POSTFIX, MP_DIR_OUTBOUND, 550, 5, 0, 0, 5);
	agg_record(a, &first);
	n = agg_snapshot(a, s, agg_capacity(a));
	assert_int_equal(find(s, n, MP_MTA_POSTFIX, MP_DIR_OUTBOUND, 550, 5, 0, 0, 5), 2);
	free(s);
	agg_free(a);
}

static void
test_unmatched_and_generation(void **state)
{
	(void)state;
	struct agg *a = agg_new(10);
	uint64_t g0 = agg_generation(a);
	agg_unmatched(a, MP_MTA_POSTFIX);
	agg_unmatched(a, MP_MTA_POSTFIX);
	agg_unmatched(a, MP_MTA_NONE);
	agg_unmatched(a, 12345);  /* out of range: filed under unknown */
	assert_int_equal(agg_unmatched_count(a, MP_MTA_POSTFIX), 2);
	assert_int_equal(agg_unmatched_count(a, MP_MTA_NONE), 2);
	assert_int_equal(agg_unmatched_count(a, MP_MTA_EXIM), 0);
	assert_true(agg_generation(a) > g0);
	uint64_t g1 = agg_generation(a);
	agg_touch(a);
	assert_true(agg_generation(a) > g1);
	assert_null(agg_new(0));
	agg_free(NULL);
	agg_free(a);
}

struct reader_arg {
	struct agg *a;
	atomic_int stop;
	int monotonic;
};

/* Reads while the writer counts: every series it sees must only go up. */
static void *
reader(void *p)
{
	struct reader_arg *r = p;
	struct agg_series s[64];
	static uint64_t last[600];  /* by code: the writer uses one series per code */
	r->monotonic = 1;
	while (!atomic_load(&r->stop)) {
		size_t n = agg_snapshot(r->a, s, 64);
		for (size_t i = 0; i < n; i++) {
			unsigned code = s[i].key.code;
			if (s[i].value < last[code])
				r->monotonic = 0;
			last[code] = s[i].value;
		}
	}
	return NULL;
}

static void
test_concurrent_reader(void **state)
{
	(void)state;
	struct reader_arg r = { .a = agg_new(64) };
	pthread_t t;
	atomic_init(&r.stop, 0);
	pthread_create(&t, NULL, reader, &r);
	static const unsigned codes[] = { 250, 421, 450, 550, 554 };
	for (int i = 0; i < 200000; i++) {
		unsigned code = codes[i % 5];
		struct mp_event ev = event(MP_MTA_POSTFIX, MP_DIR_OUTBOUND, code,
		    0, 0, 0, code / 100);
		agg_record(r.a, &ev);
	}
	atomic_store(&r.stop, 1);
	pthread_join(t, NULL);
	assert_true(r.monotonic);
	struct agg_series s[64];
	size_t n = agg_snapshot(r.a, s, 64);
	uint64_t sum = 0;
	for (size_t i = 0; i < n; i++)
		sum += s[i].value;
	assert_int_equal(sum, 200000);
	agg_free(r.a);
}

/* Sum of one family's series matching a predicate on the key. */
static uint64_t
family_value(struct agg *a, enum agg_family fam, int (*match)(const struct agg_key *, const void *),
    const void *arg)
{
	struct agg_series *s = calloc(agg_capacity(a), sizeof *s);
	size_t n = agg_snapshot_family(a, fam, s, agg_capacity(a));
	uint64_t sum = UINT64_MAX;
	for (size_t i = 0; i < n; i++)
		if (match(&s[i].key, arg))
			sum = (sum == UINT64_MAX ? 0 : sum) + s[i].value;
	free(s);
	return sum;
}

struct outcome_want { int mta; enum mp_outcome o; enum mp_destination d; };

static int
match_outcome(const struct agg_key *k, const void *arg)
{
	const struct outcome_want *w = arg;
	return k->mta == w->mta && k->outcome == w->o && k->destination == w->d;
}

static uint64_t
outcome(struct agg *a, int mta, enum mp_outcome o, enum mp_destination d)
{
	struct outcome_want w = { mta, o, d };
	return family_value(a, AGG_FAM_OUTCOME, match_outcome, &w);
}

static struct mp_event
delivery(int mta, enum mp_outcome o, enum mp_destination d, const char *domain)
{
	unsigned cls = o == MP_OUTCOME_SENT ? 2 : o == MP_OUTCOME_DEFERRED ||
	    o == MP_OUTCOME_TEMP_REJECTED ? 4 : 5;
	struct mp_event ev = event(mta, o >= MP_OUTCOME_REJECTED ? MP_DIR_INBOUND :
	    MP_DIR_OUTBOUND, cls * 100 + 50, cls, 0, 0, cls);
	ev.outcome = o;
	ev.destination = d;
	ev.domain = domain;
	ev.domain_len = domain ? strlen(domain) : 0;
	ev.delay = -1;
	for (int i = 0; i < MP_STAGE_COUNT; i++)
		ev.delay_stage[i] = -1;
	return ev;
}

static void
test_outcomes_and_received(void **state)
{
	(void)state;
	struct agg *a = agg_new(100);
	struct mp_event ev;

	for (int i = 0; i < 3; i++) {
		ev = delivery(MP_MTA_POSTFIX, MP_OUTCOME_SENT, MP_DEST_REMOTE, NULL);
		agg_record(a, &ev);
	}
	ev = delivery(MP_MTA_POSTFIX, MP_OUTCOME_SENT, MP_DEST_FILTER, NULL);
	agg_record(a, &ev);
	ev = delivery(MP_MTA_POSTFIX, MP_OUTCOME_SENT, MP_DEST_LOCAL, NULL);
	agg_record(a, &ev);
	ev = delivery(MP_MTA_EXIM, MP_OUTCOME_DEFERRED, MP_DEST_REMOTE, NULL);
	agg_record(a, &ev);
	ev = delivery(MP_MTA_POSTFIX, MP_OUTCOME_EXPIRED, MP_DEST_NONE, NULL);
	agg_record(a, &ev);
	ev = delivery(MP_MTA_POSTFIX, MP_OUTCOME_REJECTED, MP_DEST_NONE, NULL);
	agg_record(a, &ev);
	ev = delivery(MP_MTA_POSTFIX, MP_OUTCOME_TEMP_REJECTED, MP_DEST_NONE, NULL);
	agg_record(a, &ev);
	/* Receipts: one from a client, one a filter handing a message back. */
	memset(&ev, 0, sizeof ev);
	ev.kind = MP_EVENT_RECEIVED;
	ev.mta = MP_MTA_POSTFIX;
	ev.direction = MP_DIR_INBOUND;
	agg_record(a, &ev);
	agg_record(a, &ev);
	ev.destination = MP_DEST_FILTER;
	agg_record(a, &ev);

	assert_int_equal(outcome(a, MP_MTA_POSTFIX, MP_OUTCOME_SENT, MP_DEST_REMOTE), 3);
	assert_int_equal(outcome(a, MP_MTA_POSTFIX, MP_OUTCOME_SENT, MP_DEST_FILTER), 1);
	assert_int_equal(outcome(a, MP_MTA_POSTFIX, MP_OUTCOME_SENT, MP_DEST_LOCAL), 1);
	assert_int_equal(outcome(a, MP_MTA_EXIM, MP_OUTCOME_DEFERRED, MP_DEST_REMOTE), 1);
	assert_int_equal(outcome(a, MP_MTA_POSTFIX, MP_OUTCOME_EXPIRED, MP_DEST_NONE), 1);
	assert_int_equal(outcome(a, MP_MTA_POSTFIX, MP_OUTCOME_REJECTED, MP_DEST_NONE), 1);
	assert_int_equal(outcome(a, MP_MTA_POSTFIX, MP_OUTCOME_TEMP_REJECTED, MP_DEST_NONE), 1);
	assert_int_equal(outcome(a, MP_MTA_POSTFIX, MP_OUTCOME_BOUNCED, MP_DEST_NONE), UINT64_MAX);
	assert_int_equal(agg_received_count(a, MP_MTA_POSTFIX), 2);
	assert_int_equal(agg_matched_count(a, MP_MTA_POSTFIX), 11);
	assert_int_equal(agg_matched_count(a, MP_MTA_EXIM), 1);
	assert_int_equal(agg_events_count(a, MP_MTA_POSTFIX), 8);
	/* Outcomes without the host label are not capped series. */
	assert_int_equal(agg_total_series(a), 11);  /* 5 status + 3 codes + 3 enhanced */
	agg_free(a);
}

struct domain_want { enum mp_direction dir; unsigned cls; const char *name; const struct agg *a; };

static int
match_domain(const struct agg_key *k, const void *arg)
{
	const struct domain_want *w = arg;
	return k->direction == w->dir && k->cls == w->cls &&
	    strcmp(agg_domain_name(w->a, k->direction, k->domain), w->name) == 0;
}

static uint64_t
domain(struct agg *a, enum mp_direction dir, unsigned cls, const char *name)
{
	struct domain_want w = { dir, cls, name, a };
	return family_value(a, AGG_FAM_DOMAIN, match_domain, &w);
}

static void
record_domain(struct agg *a, enum mp_outcome o, const char *d, int times)
{
	struct mp_event ev = delivery(MP_MTA_POSTFIX, o, MP_DEST_REMOTE, d);
	for (int i = 0; i < times; i++)
		agg_record(a, &ev);
}

static void
test_domains_heavy_hitters(void **state)
{
	(void)state;
	struct agg_opts o;
	agg_opts_defaults(&o);
	o.max_series = 100;
	o.domains_top = 2;
	struct agg *a = agg_new_opts(&o);

	/* A domain gets its label on its third event (TOPK_MIN_HITS); the
	 * first two stay in "other", and nothing ever moves back. */
	record_domain(a, MP_OUTCOME_SENT, "Gmail.COM.", 1);
	record_domain(a, MP_OUTCOME_SENT, "gmail.com", 9);
	record_domain(a, MP_OUTCOME_SENT, "example.org", 2);
	record_domain(a, MP_OUTCOME_SENT, "[IPv6:2001:DB8::1]", 5);
	/* Both labels are taken: a third domain never gets one. */
	record_domain(a, MP_OUTCOME_SENT, "example.org", 20);
	/* Malformed names and a missing domain count as other. */
	record_domain(a, MP_OUTCOME_SENT, "bad_name.example", 4);
	record_domain(a, MP_OUTCOME_SENT, "-x.example", 1);
	record_domain(a, MP_OUTCOME_SENT, "a\"b\\c.example", 1);
	record_domain(a, MP_OUTCOME_SENT, NULL, 1);
	record_domain(a, MP_OUTCOME_BOUNCED, "gmail.com", 2);
	/* Inbound is off by default: rejects add no domain series. */
	record_domain(a, MP_OUTCOME_REJECTED, "gmail.com", 5);

	assert_int_equal(domain(a, MP_DIR_OUTBOUND, 2, "gmail.com"), 8);
	assert_int_equal(domain(a, MP_DIR_OUTBOUND, 5, "gmail.com"), 2);
	assert_int_equal(domain(a, MP_DIR_OUTBOUND, 2, "2001:db8::1"), 3);
	assert_int_equal(domain(a, MP_DIR_OUTBOUND, 2, "other"), 2 + 2 + 2 + 20 + 4 + 1 + 1 + 1);
	assert_int_equal(domain(a, MP_DIR_OUTBOUND, 2, "example.org"), UINT64_MAX);
	assert_int_equal(domain(a, MP_DIR_INBOUND, 5, "gmail.com"), UINT64_MAX);
	assert_int_equal(domain(a, MP_DIR_INBOUND, 5, "other"), UINT64_MAX);
	agg_free(a);

	/* Opt-in inbound, by client name or address. */
	o.domains_inbound = 1;
	a = agg_new_opts(&o);
	record_domain(a, MP_OUTCOME_REJECTED, "203.0.113.5", 4);
	assert_int_equal(domain(a, MP_DIR_INBOUND, 5, "203.0.113.5"), 2);
	assert_int_equal(domain(a, MP_DIR_INBOUND, 5, "other"), 2);
	agg_free(a);

	/* No labels (--metrics.domains.top=0, and the report's store): every
	 * domain, well-formed or not, is "other", per direction and class,
	 * so the family still sums to the statuses. */
	o.domains_top = 0;
	a = agg_new_opts(&o);
	record_domain(a, MP_OUTCOME_SENT, "gmail.com", 9);
	record_domain(a, MP_OUTCOME_SENT, "bad_name.example", 2);
	record_domain(a, MP_OUTCOME_SENT, NULL, 1);
	record_domain(a, MP_OUTCOME_BOUNCED, "gmail.com", 3);
	record_domain(a, MP_OUTCOME_REJECTED, "203.0.113.5", 4);
	assert_int_equal(domain(a, MP_DIR_OUTBOUND, 2, "other"), 9 + 2 + 1);
	assert_int_equal(domain(a, MP_DIR_OUTBOUND, 5, "other"), 3);
	assert_int_equal(domain(a, MP_DIR_INBOUND, 5, "other"), 4);
	assert_int_equal(domain(a, MP_DIR_OUTBOUND, 2, "gmail.com"), UINT64_MAX);
	assert_int_equal(domain(a, MP_DIR_INBOUND, 5, "203.0.113.5"), UINT64_MAX);
	agg_free(a);
}

static void
test_delays_final_outcomes_only(void **state)
{
	(void)state;
	struct agg *a = agg_new(100);
	struct agg_histogram h;
	struct mp_event ev = delivery(MP_MTA_POSTFIX, MP_OUTCOME_SENT, MP_DEST_REMOTE, NULL);

	ev.delay = 1.5;
	ev.delay_stage[MP_STAGE_BEFORE_QMGR] = 0.05;
	ev.delay_stage[MP_STAGE_IN_QMGR] = 0.7;
	ev.delay_stage[MP_STAGE_CONN_SETUP] = 0.25;
	ev.delay_stage[MP_STAGE_TRANSMISSION] = 0.5;
	agg_record(a, &ev);
	ev.delay = 500000;  /* past the last bound: +Inf */
	agg_record(a, &ev);
	/* Not final, or not a real delivery: not observed. */
	struct mp_event deferred = delivery(MP_MTA_POSTFIX, MP_OUTCOME_DEFERRED,
	    MP_DEST_REMOTE, NULL);
	deferred.delay = 3;
	agg_record(a, &deferred);
	struct mp_event filter = ev;
	filter.destination = MP_DEST_FILTER;
	agg_record(a, &filter);
	struct mp_event exim = delivery(MP_MTA_EXIM, MP_OUTCOME_BOUNCED, MP_DEST_REMOTE, NULL);
	exim.delay = 7200;
	exim.delay_stage[MP_STAGE_DELIVERY] = 2;
	agg_record(a, &exim);

	assert_int_equal(agg_delay_histogram(a, MP_MTA_POSTFIX, AGG_STAGE_TOTAL, &h), 0);
	assert_int_equal(h.buckets[3], 1);                  /* 1.5 <= 5 */
	assert_int_equal(h.buckets[AGG_DELAY_BUCKETS], 1);  /* +Inf */
	uint64_t count = 0;
	for (int b = 0; b <= AGG_DELAY_BUCKETS; b++)
		count += h.buckets[b];
	assert_int_equal(count, 2);
	assert_true(h.sum > 500001.49 && h.sum < 500001.51);
	assert_int_equal(agg_delay_histogram(a, MP_MTA_POSTFIX, MP_STAGE_BEFORE_QMGR, &h), 0);
	assert_int_equal(h.buckets[0], 2);                  /* 0.05 <= 0.1 */
	assert_int_equal(agg_delay_histogram(a, MP_MTA_POSTFIX, MP_STAGE_IN_QMGR, &h), 0);
	assert_int_equal(h.buckets[2], 2);                  /* 0.7 <= 1 */
	assert_int_equal(agg_delay_histogram(a, MP_MTA_POSTFIX, MP_STAGE_DELIVERY, &h), -1);
	assert_int_equal(agg_delay_histogram(a, MP_MTA_EXIM, MP_STAGE_DELIVERY, &h), 0);
	assert_int_equal(h.buckets[3], 1);
	assert_int_equal(agg_delay_histogram(a, MP_MTA_EXIM, AGG_STAGE_TOTAL, &h), 0);
	assert_int_equal(h.buckets[12], 1);                 /* 7200 <= 7200 */
	assert_string_equal(agg_stage_name(AGG_STAGE_TOTAL), "total");
	assert_string_equal(agg_stage_name(MP_STAGE_CONN_SETUP), "conn_setup");
	agg_free(a);
}

static void
test_last_timestamp(void **state)
{
	(void)state;
	struct agg *a = agg_new(100);
	struct mp_event ev = delivery(MP_MTA_POSTFIX, MP_OUTCOME_SENT, MP_DEST_REMOTE, NULL);

	assert_true(agg_last_timestamp(a, MP_MTA_POSTFIX) < 0);
	ev.hdr.time = (struct mp_time){ .year = 2026, .mon = 11, .mday = 28, .hour = 14,
	    .min = 10, .sec = 1, .usec = 250000, .has_offset = 1, .utc_offset = 3600 };
	agg_record(a, &ev);
	/* 2026-11-28T13:10:01.25Z */
	assert_true(agg_last_timestamp(a, MP_MTA_POSTFIX) == 1795871401.25);
	ev.hdr.time.sec = 59;  /* same minute: the cached conversion */
	agg_record(a, &ev);
	assert_true(agg_last_timestamp(a, MP_MTA_POSTFIX) == 1795871459.25);
	assert_true(agg_last_timestamp(a, MP_MTA_EXIM) < 0);
	agg_free(a);
}

static int
match_any(const struct agg_key *k, const void *arg)
{
	(void)k;
	(void)arg;
	return 1;
}

static void
test_host_label_and_meanings_capped(void **state)
{
	(void)state;
	struct agg_opts o;
	agg_opts_defaults(&o);
	o.max_series = 5;
	o.host_label = 1;
	struct agg *a = agg_new_opts(&o);
	struct mp_event ev = delivery(MP_MTA_POSTFIX, MP_OUTCOME_SENT, MP_DEST_REMOTE, NULL);

	ev.hdr.host = "MX1.example.net";
	ev.hdr.host_len = strlen(ev.hdr.host);
	/* status (host mx1) + 2 meanings + outcome (host mx1) = 4 series,
	 * domain "other" (host mx1) = 5. */
	agg_record(a, &ev);
	assert_int_equal(agg_total_series(a), 5);
	ev.hdr.host = "mx2.example.net";
	ev.hdr.host_len = strlen(ev.hdr.host);
	agg_record(a, &ev);
	/* Full: mx2's label sets fold into host="other" overflow series. */
	assert_int_equal(agg_total_series(a), 5);
	assert_int_equal(agg_dropped_series(a), 3);

	struct agg_series s[64];
	size_t n = agg_snapshot_family(a, AGG_FAM_OUTCOME, s, 64);
	assert_int_equal(n, 2);
	for (size_t i = 0; i < n; i++) {
		const char *h = agg_host_name(a, s[i].key.host);
		assert_true(strcmp(h, "mx1.example.net") == 0 || strcmp(h, "other") == 0);
		assert_int_equal(s[i].value, 1);
	}
	assert_int_equal(family_value(a, AGG_FAM_CODE_INFO, match_any, NULL), 1);
	assert_int_equal(family_value(a, AGG_FAM_ENHANCED_INFO, match_any, NULL), 1);
	agg_free(a);

	/* A status series is never created without room for its meanings. */
	a = agg_new(3);
	struct mp_event one = event(MP_MTA_POSTFIX, MP_DIR_OUTBOUND, 250, 2, 0, 0, 2);
	struct mp_event two = event(MP_MTA_POSTFIX, MP_DIR_OUTBOUND, 550, 5, 1, 1, 5);
	agg_record(a, &one);
	agg_record(a, &two);
	assert_int_equal(agg_series_count(a), 1);
	assert_int_equal(agg_total_series(a), 3);
	assert_int_equal(agg_dropped_series(a), 1);
	agg_free(a);
}

static long
rss_kib(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	long pages = 0, rss = 0;
	if (f == NULL)
		return -1;
	if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
		rss = -1;
	fclose(f);
	return rss * (sysconf(_SC_PAGESIZE) / 1024);
}

/* An attacker sends a million distinct domains, codes and hosts: the store
 * stays within its cap and its memory stays what agg_new allocated. */
static void
test_million_distinct_values_bounded(void **state)
{
	(void)state;
	struct agg_opts o;
	agg_opts_defaults(&o);
	o.domains_inbound = 1;
	o.host_label = 1;
	struct agg *a = agg_new_opts(&o);
	size_t mem = agg_memory(a);
	char dom[64], host[32];
	struct mp_event ev = delivery(MP_MTA_POSTFIX, MP_OUTCOME_BOUNCED, MP_DEST_REMOTE, dom);

	/* Warm up (page in the tables), then measure. */
	for (int i = 0; i < 20000; i++) {
		snprintf(dom, sizeof dom, "warm%d.example", i);
		ev.domain_len = strlen(dom);
		agg_record(a, &ev);
	}
	long before = rss_kib();
	for (unsigned i = 0; i < 1000000; i++) {
		snprintf(dom, sizeof dom, "d%u.attacker.example", i);
		snprintf(host, sizeof host, "h%u", i % 5000);
		ev.domain_len = strlen(dom);
		ev.direction = (enum mp_direction)(i & 1);
		ev.outcome = i & 1 ? MP_OUTCOME_REJECTED : MP_OUTCOME_BOUNCED;
		ev.code = (uint16_t)(200 + i % 400);
		ev.cls = (uint8_t)(ev.code / 100 == 3 ? 5 : ev.code / 100);
		ev.enhanced = (struct mp_enhanced){ ev.cls == 2 ? 2 : ev.cls, (uint16_t)(i % 1000),
		    (uint16_t)(i / 1000 % 1000) };
		ev.hdr.host = host;
		ev.hdr.host_len = strlen(host);
		agg_record(a, &ev);
	}
	long after = rss_kib();
	print_message("1M distinct domains/codes/hosts: store %zu bytes, RSS %ld -> %ld KiB\n",
	    agg_memory(a), before, after);
	assert_int_equal(agg_memory(a), mem);
	assert_true(agg_total_series(a) <= o.max_series);
	assert_true(agg_dropped_series(a) > 0);
	assert_true(after - before < 4096);
	agg_free(a);
}

/* Pages of [p, p + len) in memory (mincore), or -1. */
static long
resident_pages(const void *p, size_t len)
{
	long pg = sysconf(_SC_PAGESIZE);
	uintptr_t from = (uintptr_t)p & ~(uintptr_t)(pg - 1);
	size_t n = ((uintptr_t)p + len - from + (size_t)pg - 1) / (size_t)pg;
	unsigned char *vec = malloc(n);
	long in = 0;

	if (vec == NULL || mincore((void *)from, n * (size_t)pg, vec) < 0) {
		free(vec);
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		in += vec[i] & 1;
	free(vec);
	return in;
}

/* The key of the ith test series: spread like packed keys are (low
 * fields vary first). */
static uint64_t
test_key(size_t i)
{
	return ((uint64_t)i << 3 | AGG_FAM_CODE_INFO) + 1;
}

/*
 * The dense slots and their index (aggregate_impl.h): the index in use
 * starts at AGG_INDEX_START entries and doubles before it is more than
 * half full, up to its allocation; each doubling keeps every series
 * findable at its slot; slots stay in the order they were made; a key
 * twice and a slot past the cap are refused; nothing is allocated.
 */
static void
test_index_growth(void **state)
{
	static const size_t caps[] = { 1, 5, 31, 32, 33, 64, 100, 5000 };
	(void)state;

	for (size_t c = 0; c < sizeof caps / sizeof *caps; c++) {
		struct agg *a = agg_new(caps[c]);
		size_t mem;

		assert_non_null(a);
		mem = agg_memory(a);
		assert_true(a->index_size >= 2 * caps[c]);
		assert_int_equal(a->mask + 1, a->index_size < AGG_INDEX_START ?
		    a->index_size : AGG_INDEX_START);
		for (size_t i = 0; i < caps[c]; i++) {
			size_t before = a->mask + 1;
			struct agg_slot *s = agg_append(a, test_key(i), i + 7, (int64_t)i);

			assert_non_null(s);
			assert_ptr_equal(s, &a->slots[i]);
			assert_int_equal(agg_slots_published(a), i + 1);
			/* At most half full, and no bigger than that needs. */
			assert_true(2 * (i + 1) <= a->mask + 1);
			size_t want = AGG_INDEX_START;
			while (want < 2 * (i + 1))
				want *= 2;
			assert_int_equal(a->mask + 1, want < a->index_size ? want : a->index_size);
			if (a->mask + 1 != before || i + 1 == caps[c])
				for (size_t j = 0; j <= i; j++) {
					const struct agg_ix *x = lookup(a, test_key(j));
					assert_int_equal(x->key, test_key(j));
					assert_int_equal(x->slot, j);
					assert_int_equal(a->slots[j].value, j + 7);
					assert_int_equal(a->slots[j].created, (int64_t)j);
				}
			/* The same key again: refused, nothing moves. */
			assert_null(agg_append(a, test_key(i / 2), 1, 0));
			assert_int_equal(agg_slots_published(a), i + 1);
		}
		/* Full: refused, even a new key. */
		assert_null(agg_append(a, test_key(caps[c]), 1, 0));
		assert_int_equal(agg_slots_published(a), caps[c]);
		assert_int_equal(lookup(a, test_key(caps[c]))->key, 0);
		assert_int_equal(agg_memory(a), mem);
		agg_free(a);
	}
}

/*
 * A run that counts a little touches few pages of the store, whatever its
 * cap (the daemon's 5,000, whose 120 KiB of slots calloc used to clear;
 * report's 100,000, 2.4 MB of slots and 4 MiB of index): the store's
 * big tables come zeroed from the kernel (util/zpages.h), 60 series fill
 * one page of slots and one of index, one MTA's delays up to three pages of
 * histograms, and reading every delay histogram of every MTA id (as a
 * render does) reads only those of MTAs with delays. Before: a page of
 * the sparse table per series, every slot page and all 20 pages of
 * histograms cleared by calloc, and read again at render.
 */
static void
test_few_counts_touch_few_pages(void **state)
{
	static const size_t caps[] = { AGG_DEFAULT_MAX_SERIES, 100000 };
	(void)state;

	for (size_t c = 0; c < sizeof caps / sizeof *caps; c++) {
		struct agg *a = agg_new(caps[c]);
		struct agg_histogram h;
		long slots, index, hists;
		int have = 0;

		assert_non_null(a);
		for (size_t i = 0; i < 60; i++)
			assert_non_null(agg_append(a, test_key(i * 977), 1, 0));
		for (int i = 0; i < 100; i++) {
			struct mp_event ev = delivery(MP_MTA_POSTFIX, MP_OUTCOME_SENT,
			    MP_DEST_REMOTE, "example.com");
			ev.delay = 0.5 + i;
			ev.delay_stage[MP_STAGE_IN_QMGR] = 0.25;
			agg_record(a, &ev);
		}
		/* Reading a page never touched maps the zero page: a fault, but
		 * not one mincore shows. Count this thread's faults instead. */
		struct rusage r0, r1;
		getrusage(RUSAGE_THREAD, &r0);
		for (int m = 0; m < MP_MTA_MAX; m++)
			for (int st = 0; st < AGG_STAGES; st++) {
				have += agg_delay_histogram(a, m, st, &h) == 0;
				for (int d = 0; d < MP_DEST_COUNT; d++)
					have += agg_delay_histogram_dest(a, m, (enum mp_destination)d,
					    st, &h) == 0;
			}
		getrusage(RUSAGE_THREAD, &r1);
		/* Postfix's total and in_qmgr, plain and to remote. */
		assert_int_equal(have, 4);
		slots = resident_pages(a->slots, a->opts.max_series * sizeof *a->slots);
		index = resident_pages(a->index, a->index_size * sizeof *a->index);
		hists = resident_pages(a->dl, sizeof *a->dl);
		print_message("cap %zu, 60 series and 100 deliveries: %ld pages of slots, %ld of "
		    "index, %ld of %zu of delay histograms in memory; %ld faults reading "
		    "every histogram\n", caps[c], slots, index, hists, (sizeof *a->dl + 4095) / 4096,
		    r1.ru_minflt - r0.ru_minflt);
		assert_true(slots >= 1 && slots <= 2);
		assert_true(index >= 1 && index <= 2);
		assert_true(hists >= 1 && hists <= 3);
		assert_true(r1.ru_minflt - r0.ru_minflt <= 1);
		agg_free(a);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_counts_per_label_set),
		cmocka_unit_test(test_index_growth),
		cmocka_unit_test(test_few_counts_touch_few_pages),
		cmocka_unit_test(test_malformed_events_are_not_labels),
		cmocka_unit_test(test_cap_folds_into_overflow),
		cmocka_unit_test(test_unmatched_and_generation),
		cmocka_unit_test(test_concurrent_reader),
		cmocka_unit_test(test_outcomes_and_received),
		cmocka_unit_test(test_domains_heavy_hitters),
		cmocka_unit_test(test_delays_final_outcomes_only),
		cmocka_unit_test(test_last_timestamp),
		cmocka_unit_test(test_host_label_and_meanings_capped),
		cmocka_unit_test(test_million_distinct_values_bounded),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
