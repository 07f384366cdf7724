/*
 * monoclock.h - the monotonic clock, for every timeout and interval the
 * exporter keeps (never the wall clock, which jumps).
 */
#ifndef UTIL_MONOCLOCK_H
#define UTIL_MONOCLOCK_H

#include <stdint.h>
#include <time.h>

/* Nanoseconds and milliseconds on CLOCK_MONOTONIC. Inline: the tailer and
 * the HTTP server read it per event, and it is one vDSO call. */
static inline int64_t
mono_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static inline int64_t
mono_ms(void)
{
	return mono_ns() / 1000000;
}

#endif
