/*
 * test_syslog_frame.c - --syslog.listen's TCP framing (octet counting and
 * LF, per message; oversized messages skipped and the stream resynced),
 * split at every byte, and the message-to-line step (the local host name
 * for syslog(3) datagrams on unixgram:, malformed messages).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "daemon/input/syslog_frame.h"
#include "daemon/input/syslog_listen.h"

struct got {
	char text[4096];   /* messages joined by '|' */
	size_t len;
	int over;
};

static void
on_message(void *ctx, const char *msg, size_t len)
{
	struct got *g = ctx;

	assert_true(g->len + len + 1 < sizeof g->text);
	memcpy(g->text + g->len, msg, len);
	g->len += len;
	g->text[g->len++] = '|';
	g->text[g->len] = '\0';
}

static void
on_oversized(void *ctx, size_t len)
{
	struct got *g = ctx;

	(void)len;
	g->over++;
}

/* Frame s whole, then cut at every position into two reads, and at every
 * byte; each must give want and over oversized messages. */
static void
frame_all_ways(const char *s, size_t max, const char *want, int over)
{
	size_t n = strlen(s);

	for (size_t cut = 0; cut <= n + 1; cut++) {
		struct got g = { .len = 0 };
		struct sl_frame_sink sink = { on_message, on_oversized, &g };
		struct sl_frame f;

		assert_int_equal(sl_frame_init(&f, max), 0);
		if (cut == n + 1) {
			for (size_t i = 0; i < n; i++)
				sl_frame_feed(&f, s + i, 1, &sink);
		} else {
			sl_frame_feed(&f, s, cut, &sink);
			sl_frame_feed(&f, s + cut, n - cut, &sink);
		}
		sl_frame_end(&f, &sink);
		sl_frame_fini(&f);
		if (strcmp(g.text, want) != 0 || g.over != over)
			fail_msg("cut at %zu: got '%s' (%d oversized), want '%s' (%d)", cut,
			    g.text, g.over, want, over);
	}
}

static void
test_octet_counted(void **state)
{
	(void)state;
	frame_all_ways("5 <1>ab7 <2>cdef", 100, "<1>ab|<2>cdef|", 0);
	/* A trailing LF inside or after the count is not part of the message. */
	frame_all_ways("6 <1>ab\n\n6 <2>cd\n", 100, "<1>ab|<2>cd|", 0);
}

static void
test_lf(void **state)
{
	(void)state;
	frame_all_ways("<1>ab\n<2>cd\r\n\n<3>ef", 100, "<1>ab|<2>cd|<3>ef|", 0);
	/* Digits not followed by a space are a message, not a count. */
	frame_all_ways("2026-11-28 x\n12345678901 y\n", 100, "2026-11-28 x|12345678901 y|", 0);
}

static void
test_mixed(void **state)
{
	(void)state;
	frame_all_ways("5 <1>ab<2>cd\n4 <3>e<4>f\n", 100, "<1>ab|<2>cd|<3>e|<4>f|", 0);
}

static void
test_oversized_resyncs(void **state)
{
	(void)state;
	/* Counted: skip exactly the count, then go on. */
	frame_all_ways("20 <1>aaaaaaaaaaaaaaaaa4 <2>b", 10, "<2>b|", 1);
	/* LF: skip to the LF, then go on. */
	frame_all_ways("<1>aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n<2>b\n", 10, "<2>b|", 1);
	/* Exactly the limit passes. */
	frame_all_ways("<1>aaaaaaa\n10 <2>bbbbbbb", 10, "<1>aaaaaaa|<2>bbbbbbb|", 0);
	/* The longest count, 10 digits, cut right after them: still a count. */
	frame_all_ways("1000000000 <1>ab\n<2>c\n", 100, "", 1);
}

static void
test_cut_count_dropped(void **state)
{
	struct got g = { .len = 0 };
	struct sl_frame_sink sink = { on_message, on_oversized, &g };
	struct sl_frame f;

	(void)state;
	assert_int_equal(sl_frame_init(&f, 100), 0);
	sl_frame_feed(&f, "9 <1>ab", 7, &sink);
	assert_int_equal(sl_frame_end(&f, &sink), 1);
	assert_string_equal(g.text, "");
	sl_frame_fini(&f);
}

static void
test_message_line(void **state)
{
	char out[512];
	size_t n;
	int bad;
	const char *m = "<22>Nov 28 14:10:01 postfix/smtp[123]: 4F2A: to=<a@b.c>";
	const char *l;

	(void)state;
	l = sl_message_line(SYSLOG_UNIXGRAM, "mx1", m, strlen(m), out, &n, &bad);
	assert_int_equal(bad, 0);
	assert_int_equal(n, strlen(m) + 4);
	assert_memory_equal(l, "<22>Nov 28 14:10:01 mx1 postfix/smtp[123]: 4F2A: to=<a@b.c>", n);
	/* Over the network the message is passed on as it is. */
	l = sl_message_line(SYSLOG_UDP, "mx1", m, strlen(m), out, &n, &bad);
	assert_ptr_equal(l, m);
	/* A message that names its host keeps it. */
	m = "<22>Nov 28 14:10:01 mx7 postfix/smtp[123]: x";
	l = sl_message_line(SYSLOG_UNIXGRAM, "mx1", m, strlen(m), out, &n, &bad);
	assert_ptr_equal(l, m);
	m = "<22>1 2026-11-28T14:10:01Z mx7 postfix 1 - - x";
	sl_message_line(SYSLOG_TCP, "mx1", m, strlen(m), out, &n, &bad);
	assert_int_equal(bad, 0);
	m = "Nov 28 14:10:01 mx7 postfix/smtp[123]: x";
	sl_message_line(SYSLOG_TCP, "mx1", m, strlen(m), out, &n, &bad);
	assert_int_equal(bad, 1);
	m = "<192>Nov 28 14:10:01 mx7 postfix/smtp[123]: x";
	sl_message_line(SYSLOG_TCP, "mx1", m, strlen(m), out, &n, &bad);
	assert_int_equal(bad, 1);
	m = "<22>hello";
	sl_message_line(SYSLOG_TCP, "mx1", m, strlen(m), out, &n, &bad);
	assert_int_equal(bad, 1);
}

static void
test_addresses(void **state)
{
	struct sl_addr a;
	char err[512];

	(void)state;
	assert_int_equal(sl_parse_address("udp://127.0.0.1:514", &a, err, sizeof err), 0);
	assert_string_equal(a.host, "127.0.0.1");
	assert_string_equal(a.port, "514");
	assert_int_equal(sl_parse_address("tcp://[::]:6514", &a, err, sizeof err), 0);
	assert_string_equal(a.host, "::");
	assert_int_equal(a.transport, SYSLOG_TCP);
	assert_int_equal(sl_parse_address("unixgram:/run/x.sock", &a, err, sizeof err), 0);
	assert_string_equal(a.path, "/run/x.sock");
	assert_int_equal(sl_parse_address("udp://:514", &a, err, sizeof err), -1);
	assert_non_null(strstr(err, "names no host"));
	assert_int_equal(sl_parse_address("tcp://[]:514", &a, err, sizeof err), -1);
	assert_int_equal(sl_parse_address("tcp://h:0", &a, err, sizeof err), -1);
	assert_int_equal(sl_parse_address("tcp://h:", &a, err, sizeof err), -1);
	assert_int_equal(sl_parse_address("tcp://h:99999999999999999999", &a, err, sizeof err), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_octet_counted),
		cmocka_unit_test(test_lf),
		cmocka_unit_test(test_mixed),
		cmocka_unit_test(test_oversized_resyncs),
		cmocka_unit_test(test_cut_count_dropped),
		cmocka_unit_test(test_message_line),
		cmocka_unit_test(test_addresses),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
