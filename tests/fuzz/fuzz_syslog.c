/*
 * fuzz_syslog.c - the syslog header parser and the timestamp conversion.
 *
 * mp_syslog_parse() sees every byte of every line before any MTA parser,
 * so it must accept anything. The harness checks that the fields it
 * returns stay inside the line and in range, and converts the timestamp
 * for several clocks (the epoch, today, far past and far future) so that
 * year inference and offsets are exercised where they could overflow,
 * both directly and through the cache of minutes the daemon and `report`
 * use (parsers/epoch_cache.h), which must give the same seconds: a local
 * time may differ by the hour a DST change repeats, where mktime itself
 * may pick either instant.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "parsers/epoch_cache.h"
#include "parsers/mp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
die(const char *what)
{
	fprintf(stderr, "fuzz_syslog: %s\n", what);
	abort();
}

static int
inside(const char *p, size_t n, const char *line, size_t len)
{
	if (p == NULL)
		return n == 0;
	return p >= line && p <= line + len && n <= (size_t)(line + len - p);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const time_t clocks[] = {
		0, 86400, 1700000000, 1767225599 /* 2025-12-31T23:59:59Z */,
		4102444800 /* 2100 */, (time_t)INT32_MAX, 253402300799 /* 9999-12-31 */,
	};
	const char *line = (const char *)data;
	struct mp_syslog h;

	mp_syslog_parse(line, size, &h);
	if ((unsigned)h.kind > MP_HDR_EXIM)
		die("header kind out of range");
	if (!inside(h.host, h.host_len, line, size) || !inside(h.tag, h.tag_len, line, size) ||
	    !inside(h.msg, h.msg_len, line, size))
		die("field outside the line");
	if (h.kind == MP_HDR_NONE && (h.msg != line || h.msg_len != size))
		die("no header, but msg is not the whole line");
	if (h.time.mon > 12 || h.time.mday > 31 || h.time.hour > 23 || h.time.min > 59 ||
	    h.time.sec > 60 || h.time.usec > 999999)
		die("timestamp field out of range");
	if (h.time.has_offset && (h.time.utc_offset < -24 * 3600 || h.time.utc_offset > 24 * 3600))
		die("utc offset beyond a day");
	for (size_t i = 0; i < sizeof clocks / sizeof clocks[0]; i++) {
		struct mp_epoch_cache c;
		int64_t t = mp_time_to_epoch(&h.time, clocks[i]), ct;

		if (h.time.mon == 0 && t != -1)
			die("no timestamp, but an epoch time");
		mp_epoch_cache_init(&c, NULL, clocks[i]);
		ct = mp_epoch_cached(&c, &h.time);
		if (ct != t && (h.time.has_offset || (ct - t != 3600 && t - ct != 3600)))
			die("the cache of minutes and mp_time_to_epoch disagree");
	}
	return 0;
}
