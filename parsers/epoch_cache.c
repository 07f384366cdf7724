/*
 * epoch_cache.c - header timestamps to epoch seconds through a cache of
 * minutes (see epoch_cache.h for why a minute's conversion holds for each
 * of its seconds).
 *
 * Measured before it (1M generated Postfix lines, strace -c): `report`,
 * which converted every status's time, made 423,007 stat calls and took
 * 1.3-1.9 s where --once took 0.2 s; and the aggregator's one remembered
 * minute, on a file where two hosts' clocks are 30 s apart, made 171,163.
 * (glibc's localtime_r reads the zone without a stat; mktime stats.) Since
 * round 10 a conversion runs mktime only near a change of offset
 * (local_epoch in syslog.c), and the zone is read again here, at most once
 * a minute of the clock, so that a changed /etc/localtime is still
 * followed.
 */
#include "parsers/epoch_cache.h"

#include <string.h>

/* A slot's minute whose seconds are converted one by one (fill()). */
#define EPOCH_EACH INT64_MIN

/*
 * The minute of t as one number, never 0: every field that decides the
 * conversion but the seconds. Returns 0 for a time the key cannot hold
 * (no date, or an offset beyond +-36 h, which no header parser writes);
 * such a time is converted every time, uncached.
 */
static uint64_t
minute_key(const struct mp_time *t)
{
	int64_t off = t->has_offset ? t->utc_offset : 0;

	if (t->mon < 1 || t->mon > 12 || t->mday < 1 || t->mday > 31 || t->hour > 23 ||
	    t->min > 59 || off <= -(1 << 17) || off >= (1 << 17))
		return 0;
	return (uint64_t)(uint16_t)t->year | (uint64_t)t->mon << 16 |
	    (uint64_t)t->mday << 20 | (uint64_t)t->hour << 25 | (uint64_t)t->min << 30 |
	    (uint64_t)(t->has_offset != 0) << 36 | (uint64_t)(off + (1 << 17)) << 37;
}

/*
 * The slot of t's minute. Adjacent minutes (writers some seconds apart)
 * take adjacent slots, and so do adjacent hours' same minute (writers in
 * neighbouring time zones) since 5 and the slot count have no common
 * factor: the minute of the month alone put hours 0 and 4 of a minute in
 * one slot.
 */
static unsigned
slot_of(const struct mp_time *t)
{
	return ((unsigned)t->min + 5u * t->hour + 11u * t->mday) % MP_EPOCH_SLOTS;
}

void
mp_epoch_cache_init(struct mp_epoch_cache *c, time_t (*clock)(time_t *), time_t now)
{
	memset(c, 0, sizeof *c);
	c->clock = clock;
	c->now = now;
}

/*
 * Convert t's minute for `now` into slot s. A minute holds one answer for
 * each of its seconds, its first plus the seconds, when
 * - the nearest year is the same for all of them: a year was given, or the
 *   minute is within MP_YEAR_SURE (mp.h) of now, where the other years are
 *   more than half a year farther (else the last second, 60, a leap
 *   second, is converted too and must be 60 seconds on);
 * - and, for a local time, its first second is a time the clock showed (not
 *   one a DST change skipped, which mktime moved elsewhere) and the UTC
 *   offset is the same there and 60 seconds on (localtime_r reads the zone
 *   without a stat).
 * Otherwise (the clock's half year falls inside the minute, a DST change
 * inside it, or mktime taking the two ends of a repeated hour for
 * different instants) the slot says so and each time of the minute is
 * converted on its own, exactly as before.
 */
static void
fill(struct mp_epoch_cache *c, struct mp_epoch_slot *s, const struct mp_time *t,
    uint64_t key, time_t now)
{
	struct mp_time m = *t;
	int64_t first;
	int whole;

	if (c->clock != NULL && (c->zone_read == 0 || now - c->zone_read >= MP_ZONE_RECHECK ||
	    now < c->zone_read)) {
		tzset();
		c->zone_read = now;
	}
	m.sec = 0;
	m.usec = 0;
	first = mp_time_to_epoch(&m, now);
	c->conversions++;
	whole = first != -1;
	if (whole && t->year == 0 && (first - now >= MP_YEAR_SURE ||
	    now - first >= MP_YEAR_SURE)) {
		m.sec = 60;
		whole = mp_time_to_epoch(&m, now) == first + 60;
		c->conversions++;
	}
	if (whole && !t->has_offset) {
		time_t a = (time_t)first, b = (time_t)(first + 60);
		struct tm ta, tb;

		whole = localtime_r(&a, &ta) != NULL && localtime_r(&b, &tb) != NULL &&
		    ta.tm_gmtoff == tb.tm_gmtoff && ta.tm_sec == 0 && ta.tm_min == t->min &&
		    ta.tm_hour == t->hour && ta.tm_mday == t->mday && ta.tm_mon + 1 == t->mon;
	}
	s->key = key;
	s->minute = whole ? first : EPOCH_EACH;
	s->made = now;
}

int64_t
mp_epoch_cached_slot(struct mp_epoch_cache *c, const struct mp_time *t)
{
	uint64_t key = minute_key(t);
	struct mp_epoch_slot *s;
	time_t now;

	if (t->mon < 1 || t->mon > 12 || t->mday < 1 || t->mday > 31)
		return -1;
	now = c->clock != NULL ? c->clock(NULL) : c->now;
	if (key == 0) {
		c->conversions++;
		return mp_time_to_epoch(t, now);
	}
	s = &c->slot[slot_of(t)];
	if (s->key != key || (c->clock != NULL && (now - s->made > MP_EPOCH_MAX_AGE ||
	    now < s->made)))
		fill(c, s, t, key, now);
	if (s->minute == EPOCH_EACH) {
		c->conversions++;
		return mp_time_to_epoch(t, now);
	}
	c->last_valid = 1;
	c->last = *t;
	c->last_minute = s->minute;
	return s->minute + t->sec;
}
