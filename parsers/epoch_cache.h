/*
 * epoch_cache.h - header timestamps to epoch seconds, a conversion per
 * minute instead of one per line.
 *
 * mp_time_to_epoch (mp.h) is exact but dear for a local time: it runs
 * mktime (three times, for last, this and next year, for a time without a
 * year more than MP_YEAR_SURE from now), and glibc's mktime calls tzset,
 * which stats /etc/localtime on every call while TZ is unset: a system
 * call a conversion at least. Within one minute the answer is almost always the
 * minute's first second plus the seconds, so a cache of minutes converts
 * each minute once (fill() in epoch_cache.c says when a minute is one
 * piece, and converts each second of one that is not) and gives the
 * seconds mp_time_to_epoch gives. The one difference is in the hour a DST
 * change repeats, where a local time is two instants and glibc's mktime
 * picks one by what its previous call left behind, so mp_time_to_epoch
 * itself can give either: the cache gives each second of such a minute
 * one of them too.
 *
 * The cache holds the minute used last and MP_EPOCH_SLOTS more (slot_of()
 * in epoch_cache.c): a log whose writers' clocks differ by seconds (a
 * central server's file, two hosts a few seconds apart) moves back and
 * forth between two or three minutes, and hosts in neighbouring time zones
 * between the same minute of several hours; each keeps its slot.
 *
 * Caller-owned, no locking: one cache per thread.
 */
#ifndef MP_EPOCH_CACHE_H
#define MP_EPOCH_CACHE_H

#include <stdint.h>
#include <time.h>

#include "parsers/mp.h"

#define MP_EPOCH_SLOTS 32
/* With a live clock, a cached minute is converted again once it is this
 * many seconds old: the nearest year for an RFC 3164 time follows the
 * clock, and no minute keeps the answer of a clock long past. */
#define MP_EPOCH_MAX_AGE 3600

/* With a live clock, the zone is read again (tzset) before a minute is
 * converted if it was last read this many seconds ago: an admin's change
 * of /etc/localtime is followed within a minute, for one stat a minute
 * (glibc stats the file in tzset while TZ is unset; the conversion itself
 * does not call it, parsers/syslog.c). */
#define MP_ZONE_RECHECK 60

struct mp_epoch_slot {
	uint64_t key;               /* mp_epoch_key() of the minute; 0: empty */
	int64_t minute;             /* its epoch second */
	time_t made;                /* the `now` it was converted for */
};

struct mp_epoch_cache {
	/* The minute used last, compared field by field inline (below):
	 * nearly every line is in the minute of the line before it. */
	int last_valid;
	struct mp_time last;        /* its fields but sec and usec */
	int64_t last_minute;        /* its epoch second */
	time_t (*clock)(time_t *);  /* NULL: every conversion is for `now` */
	time_t now;
	time_t zone_read;           /* clock time of the last tzset; 0: none yet */
	struct mp_epoch_slot slot[MP_EPOCH_SLOTS];
	uint64_t conversions;       /* mp_time_to_epoch calls made (tests read it) */
};

/* An empty cache. clock NULL: every time is converted as mp_time_to_epoch
 * would with `now` (a report's reference time). Otherwise with clock(NULL)
 * read when a minute is converted (the daemon: time). */
void mp_epoch_cache_init(struct mp_epoch_cache *c, time_t (*clock)(time_t *), time_t now);

/* mp_epoch_cached() past the minute used last. */
int64_t mp_epoch_cached_slot(struct mp_epoch_cache *c, const struct mp_time *t);

/* mp_time_to_epoch(t, now) through the cache: the same seconds (but in a
 * repeated DST hour, above), or -1 if t holds no timestamp. The minute used
 * last is taken without reading the clock, and without a call. */
static inline int64_t
mp_epoch_cached(struct mp_epoch_cache *c, const struct mp_time *t)
{
	const struct mp_time *l = &c->last;

	if (c->last_valid && t->min == l->min && t->hour == l->hour && t->mday == l->mday &&
	    t->mon == l->mon && t->year == l->year && t->has_offset == l->has_offset &&
	    t->utc_offset == l->utc_offset)
		return c->last_minute + t->sec;
	return mp_epoch_cached_slot(c, t);
}

#endif
