/*
 * test_syslog_fixed.c - the header's one-step RFC 3164 stamp
 * (rfc3164_fixed in parsers/syslog.c) against the general reader it
 * stands in front of. This executable holds parsers/syslog.c twice: as the
 * daemon has it (mp_syslog_parse, from the core library) and compiled with
 * MP_SYSLOG_REFERENCE (mp_syslog_parse_reference), without the one-step
 * path. Both must fill the same header from every line here:
 * - a canonical stamp with every byte value at each of its first 17
 *   places (the 16 the step reads and the host's first byte);
 * - every month name, every day 0 to 39 padded with a space, a zero or
 *   nothing, every hour 0 to 25, minutes and seconds around their limits;
 * - every length of each, cut short, as an exact-size heap copy, so a read
 *   past the line shows in the sanitizer build.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parsers/mp.h"

void mp_syslog_parse_reference(const char *line, size_t len, struct mp_syslog *out);

static unsigned long lines, stamped;

static void
assert_same_span(const char *line, const char *a, size_t alen, const char *b, size_t blen,
    const char *what)
{
	if (a != b || alen != blen)
		fail_msg("%s differs on \"%s\": %td+%zu against %td+%zu", what, line,
		    a ? a - line : -1, alen, b ? b - line : -1, blen);
}

/* Parse line[0..n) both ways from an exact-size copy and compare. */
static void
check_n(const char *text, size_t n)
{
	char *copy = malloc(n ? n : 1);
	struct mp_syslog a, b;

	assert_non_null(copy);
	memcpy(copy, text, n);
	mp_syslog_parse(copy, n, &a);
	mp_syslog_parse_reference(copy, n, &b);
	if (a.kind != b.kind || memcmp(&a.time, &b.time, sizeof a.time) != 0)
		fail_msg("kind or time differs on \"%.*s\": kind %d/%d, %d-%d-%d %d:%d:%d.%u "
		    "against %d-%d-%d %d:%d:%d.%u", (int)n, text, a.kind, b.kind,
		    a.time.year, a.time.mon, a.time.mday, a.time.hour, a.time.min, a.time.sec,
		    a.time.usec, b.time.year, b.time.mon, b.time.mday, b.time.hour, b.time.min,
		    b.time.sec, b.time.usec);
	assert_same_span(copy, a.host, a.host_len, b.host, b.host_len, "host");
	assert_same_span(copy, a.tag, a.tag_len, b.tag, b.tag_len, "tag");
	assert_same_span(copy, a.msg, a.msg_len, b.msg, b.msg_len, "msg");
	lines++;
	if (a.kind == MP_HDR_RFC3164)
		stamped++;
	free(copy);
}

/* The whole line and every shorter length. */
static void
check(const char *text)
{
	size_t n = strlen(text);

	for (size_t k = 0; k <= n; k++)
		check_n(text, k);
}

static void
test_every_byte_at_every_place(void **state)
{
	static const char *const lines_[] = {
		"Nov 28 00:01:05 mail postfix/smtp[123]: 4F2A: to=<a@b.c>",
		"Jan  1 23:59:60 h t: m",
		"Dec 09 12:30:59 mx1 exim[1]: x",
	};
	char line[96];

	(void)state;
	lines = stamped = 0;
	for (size_t l = 0; l < sizeof lines_ / sizeof lines_[0]; l++)
		for (size_t at = 0; at < 17; at++)
			for (int c = 0; c < 256; c++) {
				size_t n = strlen(lines_[l]);

				memcpy(line, lines_[l], n + 1);
				line[at] = (char)c;
				check_n(line, n);
			}
	/* Each place keeps a stamp with its own byte at least; most
	 * values break it. */
	print_message("%lu lines, %lu with an RFC 3164 stamp\n", lines, stamped);
	assert_true(stamped > 3 * 17 && stamped < lines / 4);
}

static void
test_fields_and_limits(void **state)
{
	static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul",
	    "Aug", "Sep", "Oct", "Nov", "Dec", "Nox", "nov", "NOV", "Jun\n" };
	static const int minutes[] = { 0, 9, 10, 59, 60, 99 };
	char line[96];

	(void)state;
	lines = stamped = 0;
	for (size_t mo = 0; mo < sizeof months / sizeof months[0]; mo++)
		for (int day = 0; day < 40; day++)
			for (int pad = 0; pad < 3; pad++)
				for (int h = 0; h < 26; h += (mo == 0 ? 1 : 5)) {
					const char *fmt = pad == 0 ? "%.3s %2d %02d:%02d:%02d mx t[1]: m" :
					    pad == 1 ? "%.3s %02d %02d:%02d:%02d mx t[1]: m" :
					    "%.3s %d %02d:%02d:%02d mx t[1]: m";

					for (size_t k = 0; k < 6; k++) {
						snprintf(line, sizeof line, fmt, months[mo], day, h,
						    minutes[k], minutes[5 - k]);
						if (mo == 0 || k == 0)
							check(line);
						else
							check_n(line, strlen(line));
					}
				}
	/* A fraction and a stamp with nothing after it. */
	check("Nov 28 00:01:05.123456 mail t: m");
	check("Nov 28 00:01:05");
	check("<13>Nov 28 00:01:05 mail t: m");
	print_message("%lu lines, %lu with an RFC 3164 stamp\n", lines, stamped);
	assert_true(stamped > 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_byte_at_every_place),
		cmocka_unit_test(test_fields_and_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
