/*
 * envelope_stats.h - what the container-envelope decoder
 * (daemon/input/envelope.c) shows about itself in /metrics.
 *
 * One set for the whole daemon, owned by daemon/main.c. The reading thread
 * writes (relaxed atomics), the web thread reads. Index by
 * enum envelope_format.
 */
#ifndef STORE_ENVELOPE_STATS_H
#define STORE_ENVELOPE_STATS_H

#include <stdatomic.h>
#include <stdint.h>

enum envelope_format {
	ENVELOPE_FORMAT_CRI = 0,    /* containerd, CRI-O: "TIME STREAM P|F LINE" */
	ENVELOPE_FORMAT_DOCKER,     /* Docker's json-file driver: {"log":...} */
	ENVELOPE_FORMAT_COUNT
};

struct envelope_stats {
	/* 1 once a file in the format was seen (auto) or from the start
	 * (forced): the format's series are shown from then on. */
	_Atomic int shown[ENVELOPE_FORMAT_COUNT];
	_Atomic uint64_t lines[ENVELOPE_FORMAT_COUNT];     /* complete lines passed on, after joining */
	_Atomic uint64_t malformed[ENVELOPE_FORMAT_COUNT]; /* records not in the format, dropped */
	_Atomic uint64_t overlong[ENVELOPE_FORMAT_COUNT];  /* joined lines over the limit, skipped */
	_Atomic uint64_t replaced[ENVELOPE_FORMAT_COUNT];  /* records with invalid UTF-8, a lone surrogate or \u0000 made U+FFFD */
};

#endif
