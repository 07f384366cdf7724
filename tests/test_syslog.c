/*
 * test_syslog.c - header recognition (RFC 3164, RFC 3339, RFC 5424, Exim
 * mainlog, none), robustness on every prefix, and timestamp conversion
 * including year inference across the new year.
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

#include "parsers/mp.h"

struct hdr_case {
	const char *line;
	enum mp_hdr_kind kind;
	const char *host;  /* NULL: none */
	const char *tag;
	const char *msg;
	int year, mon, mday, hour, min, sec;
	unsigned usec;
	int has_offset, offset;
};

static const struct hdr_case hdr_cases[] = {
	{ "Nov 28 14:10:01 mx1 postfix/smtp[2101]: 4F2A: to=<a@b>",
	  MP_HDR_RFC3164, "mx1", "postfix/smtp", "4F2A: to=<a@b>",
	  0, 11, 28, 14, 10, 1, 0, 0, 0 },
	{ "Nov  8 04:05:06 mx1 postfix/submission/smtpd[7]: connect from x",
	  MP_HDR_RFC3164, "mx1", "postfix/submission/smtpd", "connect from x",
	  0, 11, 8, 4, 5, 6, 0, 0, 0 },
	{ "Jan 08 00:00:00 mx1 postfix-out/smtp[1]: m",
	  MP_HDR_RFC3164, "mx1", "postfix-out/smtp", "m",
	  0, 1, 8, 0, 0, 0, 0, 0, 0 },
	{ "Dec 3 23:59:60 h dovecot: imap-login: Login",
	  MP_HDR_RFC3164, "h", "dovecot", "imap-login: Login",
	  0, 12, 3, 23, 59, 60, 0, 0, 0 },
	{ "<22>Nov 28 14:10:01 mx1 postfix/qmgr[9]: removed",
	  MP_HDR_RFC3164, "mx1", "postfix/qmgr", "removed",
	  0, 11, 28, 14, 10, 1, 0, 0, 0 },
	{ "Nov 28 14:10:01 postfix/local[5]: X: to=<a@b>",
	  MP_HDR_RFC3164, NULL, "postfix/local", "X: to=<a@b>",
	  0, 11, 28, 14, 10, 1, 0, 0, 0 },
	{ "Nov 28 14:10:01 mx1 -- MARK --",
	  MP_HDR_RFC3164, "mx1", NULL, "-- MARK --",
	  0, 11, 28, 14, 10, 1, 0, 0, 0 },
	{ "2026-11-28T14:10:01.123456+00:00 mx1 postfix/smtpd[1]: NOQUEUE: reject: x",
	  MP_HDR_RFC3339, "mx1", "postfix/smtpd", "NOQUEUE: reject: x",
	  2026, 11, 28, 14, 10, 1, 123456, 1, 0 },
	{ "2026-11-28T14:10:01Z mx1 postfix/smtpd[1]: m",
	  MP_HDR_RFC3339, "mx1", "postfix/smtpd", "m",
	  2026, 11, 28, 14, 10, 1, 0, 1, 0 },
	{ "2026-11-28T14:10:01.5-05:30 mx1 postfix/smtpd: m",
	  MP_HDR_RFC3339, "mx1", "postfix/smtpd", "m",
	  2026, 11, 28, 14, 10, 1, 500000, 1, -19800 },
	{ "2026-11-28T14:10:01 mx1 postfix/smtpd[1]: local time",
	  MP_HDR_RFC3339, "mx1", "postfix/smtpd", "local time",
	  2026, 11, 28, 14, 10, 1, 0, 0, 0 },
	{ "<22>1 2026-11-28T14:10:01.123456+00:00 mx1 postfix 6726 - - 4F2A: to=<a@b>",
	  MP_HDR_RFC5424, "mx1", "postfix", "4F2A: to=<a@b>",
	  2026, 11, 28, 14, 10, 1, 123456, 1, 0 },
	/* rsyslog 8.2302's RSYSLOG_SyslogProtocol23Format, as written from a
	 * /dev/log message: the message keeps its leading space. */
	{ "<22>1 2026-11-28T14:10:01.123456+00:00 mx1 postfix 6726 - -  4F2A31C0B3: to=<a@b>, relay=x",
	  MP_HDR_RFC5424, "mx1", "postfix", "4F2A31C0B3: to=<a@b>, relay=x",
	  2026, 11, 28, 14, 10, 1, 123456, 1, 0 },
	{ "<21>1 2026-11-28T14:10:01.5+00:00 mx1 sm-mta 77 - [timeQuality tzKnown=\"1\"]  x: to=<a@b>, stat=Sent",
	  MP_HDR_RFC5424, "mx1", "sm-mta", "x: to=<a@b>, stat=Sent",
	  2026, 11, 28, 14, 10, 1, 500000, 1, 0 },
	/* A template with "<%syslogfacility-text%.%syslogseverity-text%>"
	 * (or %PRI%) between the timestamp and the host. */
	{ "Jun 18 08:05:17 <mail.notice> mx1 sm-mta[123]: x: to=<a@b>, stat=Sent",
	  MP_HDR_RFC3164, "mx1", "sm-mta", "x: to=<a@b>, stat=Sent",
	  0, 6, 18, 8, 5, 17, 0, 0, 0 },
	{ "Jun 18 08:05:17 <22> mx1 postfix/smtp[1]: m",
	  MP_HDR_RFC3164, "mx1", "postfix/smtp", "m",
	  0, 6, 18, 8, 5, 17, 0, 0, 0 },
	{ "Jun 18 08:05:17 <mail.info> postfix/local[5]: X: to=<a@b>",
	  MP_HDR_RFC3164, NULL, "postfix/local", "X: to=<a@b>",
	  0, 6, 18, 8, 5, 17, 0, 0, 0 },
	{ "2026-06-18T08:05:17.25+02:00 <local7.warning> mx1 exim[9]: m",
	  MP_HDR_RFC3339, "mx1", "exim", "m",
	  2026, 6, 18, 8, 5, 17, 250000, 1, 7200 },
	{ "Jun 18 08:05:17 <mail.notice>mx1 sm-mta[123]: no space",
	  MP_HDR_NONE, NULL, NULL, "Jun 18 08:05:17 <mail.notice>mx1 sm-mta[123]: no space",
	  0, 0, 0, 0, 0, 0, 0, 0, 0 },
	{ "Jun 18 08:05:17 <> mx1 sm-mta[123]: empty",
	  MP_HDR_NONE, NULL, NULL, "Jun 18 08:05:17 <> mx1 sm-mta[123]: empty",
	  0, 0, 0, 0, 0, 0, 0, 0, 0 },
	{ "<22>1 2026-11-28T14:10:01+01:00 mx1 postfix 6726 ID47 [ex@1 a=\"x\\]y\"][b@2] msg here",
	  MP_HDR_RFC5424, "mx1", "postfix", "msg here",
	  2026, 11, 28, 14, 10, 1, 0, 1, 3600 },
	{ "<13>1 - - - - - -",
	  MP_HDR_RFC5424, NULL, NULL, "",
	  0, 0, 0, 0, 0, 0, 0, 0, 0 },
	{ "<13>1 2026-11-28T14:10:01Z h app - - - \xef\xbb\xbf" "bom",
	  MP_HDR_RFC5424, "h", "app", "bom",
	  2026, 11, 28, 14, 10, 1, 0, 1, 0 },
	{ "2026-11-28 14:10:01 [1234] 1rABCd-000123-AB <= a@b H=x",
	  MP_HDR_EXIM, NULL, NULL, "1rABCd-000123-AB <= a@b H=x",
	  2026, 11, 28, 14, 10, 1, 0, 0, 0 },
	{ "2026-11-28 14:10:01.123 1rABCd-000123-AB Completed",
	  MP_HDR_EXIM, NULL, NULL, "1rABCd-000123-AB Completed",
	  2026, 11, 28, 14, 10, 1, 123000, 0, 0 },
	{ "2026-11-28 14:10:01 +0100 Start queue run",
	  MP_HDR_EXIM, NULL, NULL, "Start queue run",
	  2026, 11, 28, 14, 10, 1, 0, 1, 3600 },
	{ "NOQUEUE: reject: RCPT from x",
	  MP_HDR_NONE, NULL, NULL, "NOQUEUE: reject: RCPT from x",
	  0, 0, 0, 0, 0, 0, 0, 0, 0 },
	{ "Nov 28 25:10:01 mx1 postfix/smtp[1]: bad hour",
	  MP_HDR_NONE, NULL, NULL, "Nov 28 25:10:01 mx1 postfix/smtp[1]: bad hour",
	  0, 0, 0, 0, 0, 0, 0, 0, 0 },
	{ "Nov 28 14:1:01 mx1 postfix/smtp[1]: one-digit minute",
	  MP_HDR_NONE, NULL, NULL, "Nov 28 14:1:01 mx1 postfix/smtp[1]: one-digit minute",
	  0, 0, 0, 0, 0, 0, 0, 0, 0 },
	{ "Nov 28 14:10:61 mx1 postfix/smtp[1]: bad second",
	  MP_HDR_NONE, NULL, NULL, "Nov 28 14:10:61 mx1 postfix/smtp[1]: bad second",
	  0, 0, 0, 0, 0, 0, 0, 0, 0 },
	{ "Nov 28 14-10-01 mx1 postfix/smtp[1]: dashes",
	  MP_HDR_NONE, NULL, NULL, "Nov 28 14-10-01 mx1 postfix/smtp[1]: dashes",
	  0, 0, 0, 0, 0, 0, 0, 0, 0 },
	{ "Nov 28 14:10:01  postfix/smtp[1]: empty host",
	  MP_HDR_NONE, NULL, NULL, "Nov 28 14:10:01  postfix/smtp[1]: empty host",
	  0, 0, 0, 0, 0, 0, 0, 0, 0 },
	{ "Foo 28 14:10:01 mx1 postfix/smtp[1]: bad month",
	  MP_HDR_NONE, NULL, NULL, "Foo 28 14:10:01 mx1 postfix/smtp[1]: bad month",
	  0, 0, 0, 0, 0, 0, 0, 0, 0 },
	{ "2026-13-28T14:10:01Z mx1 x: bad month",
	  MP_HDR_NONE, NULL, NULL, "2026-13-28T14:10:01Z mx1 x: bad month",
	  0, 0, 0, 0, 0, 0, 0, 0, 0 },
	{ "<22>1 2026-11-28T14:10:01Z truncated",
	  MP_HDR_NONE, NULL, NULL, "<22>1 2026-11-28T14:10:01Z truncated",
	  0, 0, 0, 0, 0, 0, 0, 0, 0 },
	{ "", MP_HDR_NONE, NULL, NULL, "", 0, 0, 0, 0, 0, 0, 0, 0, 0 },
};

static void
parse_copy(const char *s, size_t n, struct mp_syslog *h, char **copy)
{
	*copy = malloc(n ? n : 1);
	assert_non_null(*copy);
	memcpy(*copy, s, n);
	mp_syslog_parse(*copy, n, h);
}

static void
assert_field(const char *want, const char *got, size_t len, const char *what,
    const char *line)
{
	if (want == NULL) {
		if (got != NULL)
			fail_msg("%s: %s should be NULL, got \"%.*s\"", line, what,
			    (int)len, got);
		return;
	}
	if (got == NULL || len != strlen(want) || memcmp(got, want, len) != 0)
		fail_msg("%s: %s: want \"%s\", got \"%.*s\"", line, what, want,
		    (int)len, got ? got : "(null)");
}

static void
test_headers(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof hdr_cases / sizeof hdr_cases[0]; i++) {
		const struct hdr_case *c = &hdr_cases[i];
		struct mp_syslog h;
		char *copy;

		parse_copy(c->line, strlen(c->line), &h, &copy);
		if (h.kind != c->kind)
			fail_msg("%s: kind %d, want %d", c->line, h.kind, c->kind);
		assert_field(c->host, h.host, h.host_len, "host", c->line);
		assert_field(c->tag, h.tag, h.tag_len, "tag", c->line);
		assert_field(c->msg, h.msg, h.msg_len, "msg", c->line);
		assert_int_equal(h.time.year, c->year);
		assert_int_equal(h.time.mon, c->mon);
		assert_int_equal(h.time.mday, c->mday);
		assert_int_equal(h.time.hour, c->hour);
		assert_int_equal(h.time.min, c->min);
		assert_int_equal(h.time.sec, c->sec);
		assert_int_equal(h.time.usec, c->usec);
		assert_int_equal(h.time.has_offset, c->has_offset);
		assert_int_equal(h.time.utc_offset, c->offset);
		free(copy);
	}
}

/* Every prefix of every case, and every byte value at every position of
 * one header: no read past len (the sanitizer build checks), and msg always
 * lies inside the line. */
static void
test_robust(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof hdr_cases / sizeof hdr_cases[0]; i++) {
		const char *line = hdr_cases[i].line;

		for (size_t n = 0; n <= strlen(line); n++) {
			struct mp_syslog h;
			char *copy;

			parse_copy(line, n, &h, &copy);
			assert_true(h.msg >= copy && h.msg + h.msg_len <= copy + n);
			free(copy);
		}
	}
	char buf[] = "<22>1 2026-11-28T14:10:01.123456+00:00 mx1 postfix 6726 - [a b=\"]\"] m";
	for (size_t pos = 0; pos < sizeof buf - 1; pos++) {
		for (int b = 0; b < 256; b++) {
			char saved = buf[pos];
			struct mp_syslog h;
			char *copy;

			buf[pos] = (char)b;
			parse_copy(buf, sizeof buf - 1, &h, &copy);
			assert_true(h.msg >= copy &&
			    h.msg + h.msg_len <= copy + sizeof buf - 1);
			free(copy);
			buf[pos] = saved;
		}
	}
}

static int64_t
epoch_of(const char *line, time_t now)
{
	struct mp_syslog h;

	mp_syslog_parse(line, strlen(line), &h);
	return mp_time_to_epoch(&h.time, now);
}

static void
test_epoch(void **state)
{
	(void)state;
	setenv("TZ", "UTC", 1);
	tzset();
	assert_int_equal(epoch_of("2026-11-28T14:10:01.9+00:00 h t: m", 0),
	    1795875001);
	assert_int_equal(epoch_of("2026-11-28T14:10:01+05:30 h t: m", 0),
	    1795855201);
	assert_int_equal(epoch_of("2026-11-28 14:10:01 +0100 m", 0),
	    1795871401);
	assert_int_equal(epoch_of("no header at all", 0), -1);

	/* RFC 3164: the year nearest to now, both ways across new year */
	assert_int_equal(epoch_of("Dec 31 23:59:00 h t: m", 1798762200),
	    1798761540);
	assert_int_equal(epoch_of("Jan  1 00:05:00 h t: m", 1798761000),
	    1798761900);
	assert_int_equal(epoch_of("Nov 28 14:10:01 h t: m", 1795875001 + 86400),
	    1795875001);

	/* local time follows TZ, DST included */
	setenv("TZ", "Europe/Berlin", 1);
	tzset();
	assert_int_equal(epoch_of("Jul  1 12:00:00 h t: m", 1781481600),
	    1782900000);
	assert_int_equal(epoch_of("2026-11-28T15:10:01 h t: m", 0),
	    1795875001);
	/* an explicit offset ignores TZ */
	assert_int_equal(epoch_of("2026-11-28T14:10:01Z h t: m", 0),
	    1795875001);
	unsetenv("TZ");
	tzset();
}

/*
 * The month switch in syslog.c (month_of): each of the twelve names gives
 * its number; a name one byte off in any position, in another case, or a
 * line that ends inside the name or just after it is no RFC 3164 header.
 * Each line is an exact-length copy, so a read past it shows in the
 * sanitizer build.
 */
static void
test_months(void **state)
{
	(void)state;
	static const char names[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	char line[64];

	for (int m = 0; m < 12; m++) {
		struct mp_syslog h;
		char *copy;

		snprintf(line, sizeof line, "%.3s  7 10:11:12 mx postfix/smtp[1]: x", names + 3 * m);
		parse_copy(line, strlen(line), &h, &copy);
		if (h.kind != MP_HDR_RFC3164 || h.time.mon != m + 1)
			fail_msg("%s: kind %d month %d, want month %d", line, h.kind, h.time.mon,
			    m + 1);
		assert_int_equal(h.time.mday, 7);
		free(copy);
		for (int k = 0; k < 3; k++) {
			for (int delta = -1; delta <= 1; delta += 2) {
				snprintf(line, sizeof line, "%.3s  7 10:11:12 mx postfix/smtp[1]: x",
				    names + 3 * m);
				line[k] = (char)(line[k] + delta);
				/* "Mar" -> "May", "Jun" -> "Jul" ... are names too. */
				if (memmem(names, sizeof names - 1, line, 3) != NULL &&
				    ((const char *)memmem(names, sizeof names - 1, line, 3) - names) % 3 == 0)
					continue;
				parse_copy(line, strlen(line), &h, &copy);
				if (h.kind != MP_HDR_NONE)
					fail_msg("%s: taken for a header (month %d)", line, h.time.mon);
				free(copy);
			}
			snprintf(line, sizeof line, "%.3s  7 10:11:12 mx postfix/smtp[1]: x",
			    names + 3 * m);
			line[k] = (char)(line[k] ^ 0x20);	/* the other case */
			parse_copy(line, strlen(line), &h, &copy);
			if (h.kind != MP_HDR_NONE)
				fail_msg("%s: taken for a header (month %d)", line, h.time.mon);
			free(copy);
		}
		/* Cut inside the name, after it, and one byte short of a
		 * whole timestamp: never a header, never a read past the end. */
		snprintf(line, sizeof line, "%.3s 28 00:00:00", names + 3 * m);
		for (size_t len = 0; len < strlen(line); len++) {
			parse_copy(line, len, &h, &copy);
			assert_int_equal(h.kind, MP_HDR_NONE);
			free(copy);
		}
	}
}

/*
 * The scans for the end of the host, the tag and the pid
 * (syslog.c, space_at and find3): hosts of 1 to 20 bytes, so the host's end
 * falls at every offset of space_at's sixteen-byte step and past it; tags
 * of 1 to 40 bytes, so the tag's end falls at every offset of an
 * eight-byte word and of find3's first two sixteen-byte steps; a pid of 0 to
 * 9 digits, each ending the ways a line can: "[pid]: msg", ": msg", no
 * colon, a pid that never closes, and the line's end inside the pid.
 * Exact-length copies, so a read past the line shows in the sanitizer
 * build.
 */
static void
test_tag_scan(void **state)
{
	(void)state;
	char line[160], tag[48], pid[16], want_msg[160];

	for (int hl = 1; hl <= 20; hl++)
		for (int tl = 1; tl <= 40; tl++)
			for (int pl = 0; pl <= 9; pl++)
				for (int form = 0; form < 5; form++) {
					struct mp_syslog h;
					char *copy;
					int n, has_tag;
					/* a long message too, so the pid's end is also
					 * found inside a full sixteen-byte step */
					const char *msg = tl % 2 ? "msg" : "a message of 0123456789 words";

					memset(tag, 0, sizeof tag);
					memset(pid, 0, sizeof pid);
					for (int k = 0; k < tl; k++)
						tag[k] = "postfix/smtpd-XYZ.0123_"[k % 23];
					for (int k = 0; k < pl; k++)
						pid[k] = (char)('0' + k);
					n = snprintf(line, sizeof line, "Nov 28 00:00:00 %.*s ", hl, "mx1.host.example.net");
					switch (form) {
					case 0: n += snprintf(line + n, sizeof line - (size_t)n, "%s[%s]: %s", tag, pid, msg); break;
					case 1: n += snprintf(line + n, sizeof line - (size_t)n, "%s: %s", tag, msg); break;
					case 2: n += snprintf(line + n, sizeof line - (size_t)n, "%s %s", tag, msg); break;
					case 3: n += snprintf(line + n, sizeof line - (size_t)n, "%s[%s %s", tag, pid, msg); break;
					default: n += snprintf(line + n, sizeof line - (size_t)n, "%s[%s", tag, pid); break;
					}
					has_tag = form <= 1;
					if (has_tag)
						snprintf(want_msg, sizeof want_msg, "%s", msg);
					else
						snprintf(want_msg, sizeof want_msg, "%s", line + 16 + hl + 1);
					parse_copy(line, (size_t)n, &h, &copy);
					assert_int_equal(h.kind, MP_HDR_RFC3164);
					{
						char host[24];

						snprintf(host, sizeof host, "%.*s", hl, "mx1.host.example.net");
						assert_field(host, h.host, h.host_len, "host", line);
					}
					assert_field(has_tag ? tag : NULL, h.tag, h.tag_len, "tag", line);
					assert_field(want_msg, h.msg, h.msg_len, "msg", line);
					free(copy);
				}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_headers),
		cmocka_unit_test(test_months),
		cmocka_unit_test(test_tag_scan),
		cmocka_unit_test(test_robust),
		cmocka_unit_test(test_epoch),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
