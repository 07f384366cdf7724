/*
 * test_epoch_cache.c - parsers/epoch_cache.c: the cache gives the seconds
 * mp_time_to_epoch gives, for every kind of header time, across the DST
 * changes of a zone and in any order; it converts a minute once while two
 * writers' clocks take turns; and with a live clock a minute converted
 * long ago is converted again, so the nearest year follows the clock.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "parsers/epoch_cache.h"
#include "parsers/mp.h"
#include "tests/xorshift.h"

/* Central European time with its DST rules written out, so the test needs
 * no tzdata: +1, +2 from the last Sunday of March 02:00 to the last
 * Sunday of October 03:00. */
#define CET "CET-1CEST,M3.5.0,M10.5.0/3"
/* 2026-07-01 00:00:00 UTC */
#define JULY_1_2026 INT64_C(1782864000)

static int
setup_tz(void **state)
{
	(void)state;
	setenv("TZ", CET, 1);
	tzset();
	return 0;
}

static struct mp_time
local_time(int year, int mon, int mday, int hour, int min, int sec)
{
	struct mp_time t;

	memset(&t, 0, sizeof t);
	t.year = (int16_t)year;
	t.mon = (uint8_t)mon;
	t.mday = (uint8_t)mday;
	t.hour = (uint8_t)hour;
	t.min = (uint8_t)min;
	t.sec = (uint8_t)sec;
	return t;
}

/* A random header time: RFC 3164 (no year), a year given, or an offset;
 * minutes bunched near the DST changes of 2026 half of the time. */
static struct mp_time
random_time(uint32_t *x)
{
	static const int near[][3] = { { 3, 29, 1 }, { 3, 29, 2 }, { 3, 29, 3 },
	    { 10, 25, 1 }, { 10, 25, 2 }, { 10, 25, 3 }, { 12, 31, 23 }, { 1, 1, 0 } };
	struct mp_time t;
	uint64_t r = (uint64_t)xorshift32(x) << 32 | xorshift32(x);

	if (r & 1) {
		const int *n = near[(r >> 1) % 8];
		t = local_time(0, n[0], n[1], n[2], (int)((r >> 8) % 60), (int)((r >> 16) % 61));
	} else {
		t = local_time(0, 1 + (int)((r >> 1) % 12), 1 + (int)((r >> 5) % 28),
		    (int)((r >> 10) % 24), (int)((r >> 15) % 60), (int)((r >> 21) % 61));
	}
	switch ((r >> 30) % 4) {
	case 0:
		t.year = (int16_t)(2025 + (r >> 32) % 3);
		break;
	case 1:
		t.has_offset = 1;
		t.utc_offset = (int32_t)((int)((r >> 32) % 49) - 24) * 1800;
		break;
	case 2:
		t.has_offset = 1;
		t.year = 2026;
		t.utc_offset = 0;
		break;
	default:
		break;          /* RFC 3164, local */
	}
	t.usec = (uint32_t)(r >> 40) % 1000000;
	return t;
}

/*
 * got is what the cache gave for t, want what mp_time_to_epoch gives. They
 * must be equal, but for a local time in the hour a DST change repeats:
 * that wall time is two instants, and glibc's mktime picks one by the
 * offset its previous call left behind, so mp_time_to_epoch itself gives
 * either. There both must be instants whose local time is t's (its
 * minute's, for a leap second's sake).
 */
static void
assert_same_instant(const struct mp_time *t, int64_t got, int64_t want)
{
	int64_t both[2] = { got, want };

	if (got == want)
		return;
	assert_false(t->has_offset);
	assert_int_equal(got > want ? got - want : want - got, 3600);
	for (int k = 0; k < 2; k++) {
		/* The minute's start: a leap second (sec 60) is the next minute. */
		time_t tt = (time_t)(both[k] - t->sec);
		struct tm tm;

		assert_non_null(localtime_r(&tt, &tm));
		assert_int_equal(tm.tm_mon + 1, t->mon);
		assert_int_equal(tm.tm_mday, t->mday);
		assert_int_equal(tm.tm_hour, t->hour);
		assert_int_equal(tm.tm_min, t->min);
	}
}

static void
test_same_seconds(void **state)
{
	struct mp_epoch_cache c;
	uint32_t x = 0x5eed5eedu;
	time_t nows[] = { (time_t)JULY_1_2026, (time_t)(JULY_1_2026 + 183 * 86400),
	    (time_t)(JULY_1_2026 - 182 * 86400) };

	(void)state;
	for (size_t k = 0; k < sizeof nows / sizeof nows[0]; k++) {
		mp_epoch_cache_init(&c, NULL, nows[k]);
		for (int i = 0; i < 20000; i++) {
			struct mp_time t = random_time(&x);

			assert_same_instant(&t, mp_epoch_cached(&c, &t), mp_time_to_epoch(&t, nows[k]));
		}
	}
}

static void
test_every_second_of_dst_changes(void **state)
{
	struct mp_epoch_cache c;
	time_t now = (time_t)JULY_1_2026;
	int days[][2] = { { 3, 29 }, { 10, 25 } };

	(void)state;
	mp_epoch_cache_init(&c, NULL, now);
	for (int d = 0; d < 2; d++)
		for (int h = 0; h < 5; h++)
			for (int m = 0; m < 60; m++)
				for (int s = 0; s <= 60; s++) {
					struct mp_time t = local_time(0, days[d][0], days[d][1], h, m, s);

					assert_same_instant(&t, mp_epoch_cached(&c, &t),
					    mp_time_to_epoch(&t, now));
				}
}

/*
 * An RFC 3164 time takes the year nearest to now. For "Jul  2 12:00:ss"
 * in UTC, 2025's and 2026's are 365 days apart, so at
 * 2026-01-01T00:00:30Z, half way, the year flips inside the minute: 2026
 * for seconds before 30, 2025 after. The minute is no one piece there and
 * each second must get its own year.
 */
static void
test_half_year_inside_a_minute(void **state)
{
	struct mp_epoch_cache c;
	time_t now = (time_t)INT64_C(1767225630);

	(void)state;
	mp_epoch_cache_init(&c, NULL, now);
	for (int sec = 0; sec <= 60; sec++) {
		struct mp_time t = local_time(0, 7, 2, 12, 0, sec);

		t.has_offset = 1;
		assert_int_equal(mp_epoch_cached(&c, &t), mp_time_to_epoch(&t, now));
	}
	/* Both years did occur. */
	{
		struct mp_time early = local_time(0, 7, 2, 12, 0, 0), late = early;

		early.has_offset = late.has_offset = 1;
		late.sec = 59;
		assert_int_equal(mp_time_to_epoch(&early, now) + 59 - mp_time_to_epoch(&late, now),
		    365 * 86400);
	}
}

static void
test_two_clocks_take_turns(void **state)
{
	struct mp_epoch_cache c;
	time_t now = (time_t)JULY_1_2026;

	(void)state;
	mp_epoch_cache_init(&c, NULL, now);
	/* Host a is 30 s ahead of host b: their lines alternate between
	 * minutes 10:00 and 09:59, then 10:01 and 10:00. */
	for (int i = 0; i < 1000; i++) {
		int s = i % 60;
		struct mp_time a = local_time(0, 6, 30, 10, i < 500 ? 0 : 1, s);
		struct mp_time b = local_time(0, 6, 30, i < 500 ? 9 : 10, i < 500 ? 59 : 0, s);

		assert_int_equal(mp_epoch_cached(&c, &a), mp_time_to_epoch(&a, now));
		assert_int_equal(mp_epoch_cached(&c, &b), mp_time_to_epoch(&b, now));
	}
	/* 09:59, 10:00 and 10:01, each once (two conversions a minute: its
	 * first and last second, epoch_cache.c). */
	assert_int_equal(c.conversions, 3 * 2);
}

static time_t fake_now;

static time_t
fake_clock(time_t *out)
{
	if (out != NULL)
		*out = fake_now;
	return fake_now;
}

static void
test_live_clock_ages_minutes(void **state)
{
	struct mp_epoch_cache c;
	struct mp_time jan1 = local_time(0, 1, 1, 0, 0, 0);
	/* Not jan1's slot (epoch_cache.c indexes by minute of the month). */
	struct mp_time other = local_time(0, 6, 30, 12, 1, 0);
	int64_t before;

	(void)state;
	/* On 1 July 2026, 1 January 2026 is nearer than 1 January 2027. */
	fake_now = (time_t)JULY_1_2026;
	mp_epoch_cache_init(&c, fake_clock, 0);
	before = mp_epoch_cached(&c, &jan1);
	assert_int_equal(before, mp_time_to_epoch(&jan1, fake_now));
	assert_int_equal(mp_epoch_cached(&c, &other), mp_time_to_epoch(&other, fake_now));
	/* Within MP_EPOCH_MAX_AGE the minute is not converted again. */
	fake_now += MP_EPOCH_MAX_AGE;
	assert_int_equal(mp_epoch_cached(&c, &jan1), before);
	assert_int_equal(c.conversions, 2 * 2);
	/* Ten days later 1 January 2027 is the nearer one: the cached answer
	 * is too old and the minute is converted for the clock's time. */
	fake_now = (time_t)(JULY_1_2026 + 10 * 86400);
	assert_int_equal(mp_epoch_cached(&c, &other), mp_time_to_epoch(&other, fake_now));
	assert_int_equal(mp_epoch_cached(&c, &jan1), mp_time_to_epoch(&jan1, fake_now));
	assert_int_equal(mp_epoch_cached(&c, &jan1) - before, 365 * 86400);
	/* A clock set back is no reason to trust an answer either. */
	fake_now = (time_t)JULY_1_2026;
	assert_int_equal(mp_epoch_cached(&c, &other), mp_time_to_epoch(&other, fake_now));
	assert_int_equal(mp_epoch_cached(&c, &jan1), before);
}

static void
test_no_time_and_odd_offsets(void **state)
{
	struct mp_epoch_cache c;
	struct mp_time none, far;
	time_t now = (time_t)JULY_1_2026;

	(void)state;
	mp_epoch_cache_init(&c, NULL, now);
	memset(&none, 0, sizeof none);
	assert_int_equal(mp_epoch_cached(&c, &none), -1);
	none.mon = 13;
	none.mday = 1;
	assert_int_equal(mp_epoch_cached(&c, &none), -1);
	none.mon = 2;
	none.mday = 0;
	assert_int_equal(mp_epoch_cached(&c, &none), -1);
	assert_int_equal(c.conversions, 0);
	/* An offset no header parser writes is converted, just not cached. */
	far = local_time(2026, 6, 30, 12, 0, 7);
	far.has_offset = 1;
	far.utc_offset = 40 * 3600;
	assert_int_equal(mp_epoch_cached(&c, &far), mp_time_to_epoch(&far, now));
	assert_int_equal(mp_epoch_cached(&c, &far), mp_time_to_epoch(&far, now));
	assert_int_equal(c.conversions, 2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_same_seconds),
		cmocka_unit_test(test_every_second_of_dst_changes),
		cmocka_unit_test(test_half_year_inside_a_minute),
		cmocka_unit_test(test_two_clocks_take_turns),
		cmocka_unit_test(test_live_clock_ages_minutes),
		cmocka_unit_test(test_no_time_and_odd_offsets),
	};

	return cmocka_run_group_tests(tests, setup_tz, NULL);
}
