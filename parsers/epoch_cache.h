/*
 * epoch_cache.h - header timestamps to epoch seconds, a conversion per
 * minute instead of one per line.
 *
 * mp_time_to_epoch (mp.h) is exact but dear for a local time: mktime three
 * times (last, this and next year) and localtime_r once, and glibc's
 * mktime calls tzset, which stats /etc/localtime on every call while TZ is
 * unset: four system calls. Within one minute the answer is almost always
 * the minute's first second plus the seconds, so a cache of minutes
 * converts each minute once (twice: its first and last second, to prove
 * the minute is one piece: see fill() in epoch_cache.c) and gives the
 * seconds mp_time_to_epoch gives. The one difference is in the hour a DST
 * change repeats, where a local time is two instants and glibc's mktime
 * picks one by what its previous call left behind, so mp_time_to_epoch
 * itself can give either: the cache gives each second of such a minute
 * one of them too.
 *
 * The cache holds the minute used last and MP_EPOCH_SLOTS more, indexed by
 * the minute's number within its month: a log whose writers' clocks differ
 * by seconds (a central server's file, two hosts a few seconds apart)
 * moves back and forth between two or three minutes, and each keeps its
 * slot.
 *
 * Caller-owned, no locking: one cache per thread.
 */
#ifndef MP_EPOCH_CACHE_H
#define MP_EPOCH_CACHE_H

#include <stdint.h>
#include <time.h>

#include "parsers/mp.h"

#define MP_EPOCH_SLOTS 16
/* With a live clock, a cached minute is converted again once it is this
 * many seconds old: the nearest year for an RFC 3164 time follows the
 * clock, and no minute keeps the answer of a clock long past. */
#define MP_EPOCH_MAX_AGE 3600

struct mp_epoch_slot {
	uint64_t key;               /* mp_epoch_key() of the minute; 0: empty */
	int64_t minute;             /* its epoch second */
	time_t made;                /* the `now` it was converted for */
};

struct mp_epoch_cache {
	time_t (*clock)(time_t *);  /* NULL: every conversion is for `now` */
	time_t now;
	struct mp_epoch_slot last;  /* the minute used last */
	struct mp_epoch_slot slot[MP_EPOCH_SLOTS];
	uint64_t conversions;       /* mp_time_to_epoch calls made (tests read it) */
};

/* An empty cache. clock NULL: every time is converted as mp_time_to_epoch
 * would with `now` (a report's reference time). Otherwise with clock(NULL)
 * read when a minute is converted (the daemon: time). */
void mp_epoch_cache_init(struct mp_epoch_cache *c, time_t (*clock)(time_t *), time_t now);

/* mp_time_to_epoch(t, now) through the cache: the same seconds (but in a
 * repeated DST hour, above), or -1 if t holds no timestamp. The minute used
 * last is taken without reading the clock. */
int64_t mp_epoch_cached(struct mp_epoch_cache *c, const struct mp_time *t);

#endif
