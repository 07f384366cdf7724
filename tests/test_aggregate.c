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
#include <stdlib.h>
#include <string.h>

#include "aggregate.h"

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

	assert_int_equal(agg_series_count(a), cap);
	assert_true(agg_capacity(a) >= cap);
	struct agg_series *s = calloc(agg_capacity(a), sizeof *s);
	size_t n = agg_snapshot(a, s, agg_capacity(a));
	assert_int_equal(n, cap + 2);  /* cap real series + 2 overflow series */
	uint64_t sum = 0;
	for (size_t i = 0; i < n; i++)
		sum += s[i].value;
	assert_int_equal(sum, total);  /* nothing lost */
	assert_int_equal(find(s, n, MP_MTA_POSTFIX, MP_DIR_OUTBOUND, AGG_CODE_OVERFLOW,
	    0, 0, 0, 5), 100000 - cap);
	assert_int_equal(find(s, n, MP_MTA_POSTFIX, MP_DIR_INBOUND, AGG_CODE_OVERFLOW,
	    0, 0, 0, 2), 1);
	assert_int_equal(agg_dropped_series(a), 100000 - cap + 1);
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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_counts_per_label_set),
		cmocka_unit_test(test_malformed_events_are_not_labels),
		cmocka_unit_test(test_cap_folds_into_overflow),
		cmocka_unit_test(test_unmatched_and_generation),
		cmocka_unit_test(test_concurrent_reader),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
