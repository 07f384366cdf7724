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

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "parsers/epoch_cache.h"
#include "parsers/mp.h"
#include "tests/xorshift.h"

/* Central European time with its DST rules written out, so the test needs
 * no tzdata: +1, +2 from the last Sunday of March 02:00 to the last
 * Sunday of October 03:00. */
#define CET "CET-1CEST,M3.5.0,M10.5.0/3"
/* 2026-07-01 00:00:00 UTC */
#define JULY_1_2026 INT64_C(1782864000)

/* mktime calls, counted through -Wl,--wrap=mktime (tests/meson.build). */
static unsigned long mktimes;
time_t __real_mktime(struct tm *tm);
time_t __wrap_mktime(struct tm *tm);

time_t
__wrap_mktime(struct tm *tm)
{
	mktimes++;
	return __real_mktime(tm);
}

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
 * either. There both must be the two instants of one wall time, an hour
 * apart, and that wall time t's (but for a leap second, sec 60, which
 * mktime moves to the next minute).
 */
static void
assert_same_instant(const struct mp_time *t, int64_t got, int64_t want)
{
	time_t a = (time_t)got, b = (time_t)want;
	struct tm ta, tb;

	if (got == want)
		return;
	assert_false(t->has_offset);
	assert_int_equal(got > want ? got - want : want - got, 3600);
	assert_non_null(localtime_r(&a, &ta));
	assert_non_null(localtime_r(&b, &tb));
	assert_int_equal(ta.tm_mday, tb.tm_mday);
	assert_int_equal(ta.tm_hour, tb.tm_hour);
	assert_int_equal(ta.tm_min, tb.tm_min);
	assert_int_equal(ta.tm_sec, tb.tm_sec);
	if (t->sec < 60) {
		assert_int_equal(ta.tm_mon + 1, t->mon);
		assert_int_equal(ta.tm_mday, t->mday);
		assert_int_equal(ta.tm_hour, t->hour);
		assert_int_equal(ta.tm_min, t->min);
		assert_int_equal(ta.tm_sec, t->sec);
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
	/* 09:59, 10:00 and 10:01, each once. */
	assert_int_equal(c.conversions, 3);
}

/*
 * A zone whose changes fall half way through a minute (glibc takes
 * seconds in a POSIX TZ rule; a few real zones changed at such instants
 * in the past): the minute of the change is no one piece, and each of its
 * seconds must get its own answer. Where such a time lies in a gap or a
 * repeat, mktime's answer depends on the offset its previous call left, so
 * every second is converted after a winter time, after a summer time and
 * after the second before it, each time by a fresh cache and directly.
 */
static void
test_change_inside_a_minute(void **state)
{
	time_t now = (time_t)JULY_1_2026;
	int days[][2] = { { 3, 29 }, { 10, 25 } }, minutes[] = { 59, 0, 1 };
	struct mp_time primes[] = { local_time(2026, 1, 15, 12, 0, 0),
	    local_time(2026, 7, 15, 12, 0, 0) };

	(void)state;
	setenv("TZ", "XST-1XDT,M3.5.0/2:00:30,M10.5.0/3:00:30", 1);
	tzset();
	for (int d = 0; d < 2; d++)
		for (int h = 1; h <= 4; h++)
			for (int m = 0; m < 3; m++)
				for (int p = 0; p < 3; p++)
					for (int sec = 0; sec <= 60; sec++) {
						struct mp_time t = local_time(0, days[d][0], days[d][1],
						    h, minutes[m], sec);
						struct mp_epoch_cache c;
						int64_t got, want;

						struct mp_time prime = primes[p % 2];

						if (p == 2) {
							/* The time one second before, as
							 * a log read in order has it. */
							prime = t;
							if (sec > 0) {
								prime.sec--;
							} else {
								prime.sec = 59;
								prime.min = (uint8_t)(t.min == 0 ? 59 : t.min - 1);
								prime.hour = (uint8_t)(t.min == 0 ? t.hour - 1 : t.hour);
							}
						}
						mp_epoch_cache_init(&c, NULL, now);
						(void)mp_time_to_epoch(&prime, now);
						got = mp_epoch_cached(&c, &t);
						(void)mp_time_to_epoch(&prime, now);
						want = mp_time_to_epoch(&t, now);
						assert_same_instant(&t, got, want);
					}
	setenv("TZ", CET, 1);
	tzset();
}

/* Nine hosts in nine time zones an hour apart, each writing its local
 * time with no offset: the same minute of nine hours, taking turns. (A
 * slot by minute of the month put hours 8 and 16 of a minute in one slot,
 * and they took it from each other on every line.) */
static void
test_time_zones_take_turns(void **state)
{
	struct mp_epoch_cache c;
	time_t now = (time_t)JULY_1_2026;

	(void)state;
	mp_epoch_cache_init(&c, NULL, now);
	for (int i = 0; i < 9 * 200; i++) {
		int host = i % 9, second = i / 9;
		struct mp_time t = local_time(0, 6, 30, 8 + host, second / 60, second % 60);

		assert_int_equal(mp_epoch_cached(&c, &t), mp_time_to_epoch(&t, now));
	}
	/* Minutes 0 to 3 of nine hours, each once. */
	assert_int_equal(c.conversions, 4 * 9);
}

/*
 * A local time far from a change of offset costs no mktime, and so no stat
 * of /etc/localtime while TZ is unset (local_epoch in parsers/syslog.c);
 * within a day and a half of one, mktime decides, once for a time without
 * a year within half a year of now (MP_YEAR_SURE), and for last, this and
 * next year's dates farther away.
 */
static void
test_mktime_only_near_changes(void **state)
{
	time_t now = (time_t)JULY_1_2026;
	struct mp_time near = local_time(0, 9, 30, 12, 0, 0), far = local_time(0, 12, 31, 12, 0, 0);
	struct mp_time given = local_time(2026, 12, 31, 12, 0, 0);
	/* 29 March 2026 is the spring change; 10 March is not near it. */
	struct mp_time change = local_time(0, 3, 29, 12, 0, 0), after = local_time(0, 3, 30, 12, 0, 0);
	struct mp_time before = local_time(0, 3, 10, 12, 0, 0);
	struct mp_time change_far = local_time(0, 10, 25, 12, 0, 0);

	(void)state;
	mktimes = 0;
	assert_int_equal(mp_time_to_epoch(&near, now), 1790762400);
	assert_int_equal(mp_time_to_epoch(&far, now), 1767178800);
	assert_int_equal(mp_time_to_epoch(&given, now), 1798714800);
	assert_int_equal(mp_time_to_epoch(&before, now), 1773140400);
	assert_int_equal(mktimes, 0);
	assert_int_equal(mp_time_to_epoch(&change, now), 1774778400);
	assert_int_equal(mktimes, 1);
	mktimes = 0;
	assert_int_equal(mp_time_to_epoch(&after, now), 1774864800);
	assert_int_equal(mktimes, 1);
	/* The autumn change, four months on: 2026 wins outright, one mktime. */
	mktimes = 0;
	assert_int_equal(mp_time_to_epoch(&change_far, now), 1792926000);
	assert_int_equal(mktimes, 1);
	/* Near a change and more than half a year away: three. */
	now = (time_t)(JULY_1_2026 + 120 * 86400);
	mktimes = 0;
	assert_int_equal(mp_time_to_epoch(&change, now), 1806314400);
	assert_int_equal(mktimes, 3);
}

/* 2010-01-01 and 2028-01-01, 00:00:00 UTC. */
#define YEAR_2010 INT64_C(1262304000)
#define YEAR_2028 INT64_C(1830297600)

/*
 * Convert the wall time that instant `at` shows (at second sec_of_minute)
 * both ways: they must be equal even in an hour a change repeats, where
 * local_epoch defers to mktime, and this mktime call follows that one, so
 * glibc picks the same of the two instants (by the offset its previous
 * call left behind).
 */
static void
check_wall_of(time_t at, unsigned sec_of_minute)
{
	struct tm tm;
	struct mp_time t;
	time_t w = at;

	assert_non_null(localtime_r(&w, &tm));
	tm.tm_sec = (int)sec_of_minute;
	t = local_time(tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
	    tm.tm_sec);
	tm.tm_isdst = -1;
	assert_int_equal(mp_time_to_epoch(&t, (time_t)JULY_1_2026), __real_mktime(&tm));
}

/*
 * local_epoch (parsers/syslog.c), which reads a wall time's instant from
 * localtime_r's offsets, against glibc's mktime: a wall time every 97
 * minutes from 2010 to 2027 (97 is prime to 60 and to 1440, so every
 * minute of the hour and day comes up), and around each change of offset
 * every minute from two hours before to two hours after, at seconds 0, 30
 * and 59; in the test's two POSIX rules and in the tz database's zones
 * that bend the usual shape: 30-minute and 2-hour DST (Lord Howe, Troll),
 * a skipped day (Apia, 2011), changes a month apart (Casablanca's
 * Ramadan), a winter "DST" (Dublin), DST at midnight and abolished (Sao
 * Paulo), quarter-hour offsets (Chatham), none (Kolkata). The answers must
 * be the same, and mktime must run for only a few days' worth of them.
 */
static void
test_local_epoch_matches_mktime(void **state)
{
	static const char *const zones[] = { CET, "XST-1XDT,M3.5.0/2:00:30,M10.5.0/3:00:30",
	    "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Antarctica/Troll",
	    "Pacific/Apia", "Africa/Casablanca", "Europe/Dublin", "America/Sao_Paulo",
	    "Pacific/Chatham", "America/St_Johns", "Asia/Kolkata" };
	static const unsigned secs[] = { 0, 30, 59 };

	(void)state;
	for (size_t z = 0; z < sizeof zones / sizeof zones[0]; z++) {
		unsigned long samples = 0, changes = 0, sparse = 0, sparse_mktimes = 0;
		long prev_off = 0;
		unsigned long before;
		char path[128];
		struct tm tm;

		/* A zone missing from the tz database would be UTC, silently. */
		if (strchr(zones[z], ',') == NULL && strchr(zones[z], '/') != NULL) {
			snprintf(path, sizeof path, "/usr/share/zoneinfo/%s", zones[z]);
			if (access(path, R_OK) != 0)
				fail_msg("%s: not in the tz database (Debian's tzdata)", zones[z]);
		}
		setenv("TZ", zones[z], 1);
		tzset();
		mktimes = 0;
		for (int64_t at = YEAR_2010; at < YEAR_2028; at += 97 * 60) {
			time_t w = (time_t)at;

			assert_non_null(localtime_r(&w, &tm));
			if (samples > 0 && tm.tm_gmtoff != prev_off) {
				changes++;
				for (int64_t m = at - 97 * 60 - 7200; m <= at + 7200; m += 60)
					for (size_t k = 0; k < 3; k++) {
						check_wall_of((time_t)m, secs[k]);
						samples++;
					}
			}
			prev_off = tm.tm_gmtoff;
			before = mktimes;
			check_wall_of(w, (unsigned)tm.tm_sec);
			sparse_mktimes += mktimes - before;
			sparse++;
			samples++;
		}
		print_message("%s: %lu times, %lu changes, %lu mktime; every 97 minutes: "
		    "%lu times, %lu mktime\n", zones[z], samples, changes, mktimes, sparse,
		    sparse_mktimes);
		if (strcmp(zones[z], "Asia/Kolkata") == 0) {
			assert_int_equal(changes, 0);
			assert_int_equal(mktimes, 0);
		} else {
			assert_true(changes > 0);
		}
		/* Of the times every 97 minutes, those within a day and a half
		 * of a change (45 a change at most) take mktime; everything
		 * else goes without. */
		assert_true(sparse_mktimes <= changes * 45);
		assert_true(sparse_mktimes * 20 < sparse);
	}
	setenv("TZ", CET, 1);
	tzset();
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
	/* Not jan1's slot (slot_of() in epoch_cache.c). */
	struct mp_time other = local_time(0, 6, 30, 12, 1, 0);
	uint64_t conversions;
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
	conversions = c.conversions;
	assert_int_equal(mp_epoch_cached(&c, &jan1), before);
	assert_int_equal(c.conversions, conversions);
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

/*
 * With a live clock the zone is read again at most once a minute
 * (MP_ZONE_RECHECK): a changed zone is followed, without a tzset, and so
 * a stat of /etc/localtime, per minute converted.
 */
static void
test_zone_change_followed(void **state)
{
	struct mp_epoch_cache c;
	struct mp_time a = local_time(2026, 7, 1, 12, 0, 0), b = local_time(2026, 7, 1, 12, 1, 0);
	struct mp_time d = local_time(2026, 7, 1, 12, 2, 0);

	(void)state;
	fake_now = (time_t)JULY_1_2026;
	mp_epoch_cache_init(&c, fake_clock, 0);
	assert_int_equal(mp_epoch_cached(&c, &a), JULY_1_2026 + 10 * 3600);
	/* The zone changes under us; glibc sees it at the next tzset only. */
	setenv("TZ", "UTC0", 1);
	fake_now += MP_ZONE_RECHECK - 1;
	assert_int_equal(mp_epoch_cached(&c, &b), JULY_1_2026 + 10 * 3600 + 60);
	fake_now += 1;
	assert_int_equal(mp_epoch_cached(&c, &d), JULY_1_2026 + 12 * 3600 + 120);
	setenv("TZ", CET, 1);
	tzset();
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
		cmocka_unit_test(test_change_inside_a_minute),
		cmocka_unit_test(test_half_year_inside_a_minute),
		cmocka_unit_test(test_two_clocks_take_turns),
		cmocka_unit_test(test_time_zones_take_turns),
		cmocka_unit_test(test_mktime_only_near_changes),
		cmocka_unit_test(test_local_epoch_matches_mktime),
		cmocka_unit_test(test_zone_change_followed),
		cmocka_unit_test(test_live_clock_ages_minutes),
		cmocka_unit_test(test_no_time_and_odd_offsets),
	};

	return cmocka_run_group_tests(tests, setup_tz, NULL);
}
