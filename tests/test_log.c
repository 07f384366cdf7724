/*
 * test_log.c - util/log.c: each record whole, in one write, escaped.
 *
 * stderr is made a datagram socket, where each write(2) is one datagram: a
 * record written in pieces (stdio on the unbuffered stderr wrote a byte at
 * a time) arrives as many, and fails here.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/log.h"

static int rx = -1, tx = -1, saved_stderr = -1;

/* Run one logging call with the socket as stderr; cmocka reports its
 * failures on the real one. */
#define CAPTURED(call) do {					\
		assert_int_equal(dup2(tx, STDERR_FILENO), STDERR_FILENO); \
		call;						\
		dup2(saved_stderr, STDERR_FILENO);		\
	} while (0)

static int
setup(void **state)
{
	int sv[2];

	(void)state;
	if (socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) < 0)
		return -1;
	/* Room for the largest record (100 KiB of send buffer is plenty). */
	int sz = 1 << 20;
	(void)setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
	(void)setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
	saved_stderr = dup(STDERR_FILENO);
	if (saved_stderr < 0)
		return -1;
	tx = sv[0];
	rx = sv[1];
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	close(saved_stderr);
	close(tx);
	close(rx);
	return 0;
}

/* The next datagram, NUL-terminated, or -1 if none is waiting. */
static ssize_t
next_write(char *buf, size_t cap)
{
	ssize_t n = recv(rx, buf, cap - 1, MSG_DONTWAIT);

	if (n >= 0)
		buf[n] = '\0';
	return n;
}

/* The record after its time ("time=...Z " or {"time":"...Z",). */
static const char *
after_time(const char *rec, const char *lead, size_t time_len)
{
	assert_int_equal(strncmp(rec, lead, strlen(lead)), 0);
	return rec + strlen(lead) + time_len;
}

#define TIME_LEN 24     /* 2026-12-07T16:37:41.099Z */

static void
test_logfmt_one_write(void **state)
{
	static char buf[1 << 16];

	(void)state;
	log_setup(LOG_LEVEL_INFO, LOG_FORMAT_LOGFMT);
	CAPTURED(log_info("say \"hi\" \\ to\n%s\t\r%c%c end", "tab", 1, 0x7f));
	assert_true(next_write(buf, sizeof buf) > 0);
	assert_string_equal(after_time(buf, "time=", TIME_LEN),
	    " level=info msg=\"say \\\"hi\\\" \\\\ to\\ntab\\t\\r\\x01\\x7f end\"\n");
	/* One record, one write: nothing else is waiting. */
	assert_int_equal(next_write(buf, sizeof buf), -1);
	assert_int_equal(errno, EAGAIN);
}

static void
test_json_one_write(void **state)
{
	static char buf[1 << 16];

	(void)state;
	log_setup(LOG_LEVEL_INFO, LOG_FORMAT_JSON);
	CAPTURED((errno = ENOENT, log_warn("open \"%s\"", "a\x1b")));
	assert_true(next_write(buf, sizeof buf) > 0);
	assert_string_equal(after_time(buf, "{\"time\":\"", TIME_LEN),
	    "\",\"level\":\"warn\",\"msg\":\"open \\\"a\\u001b\\\": No such file or directory\"}\n");
	assert_int_equal(next_write(buf, sizeof buf), -1);
	log_setup(LOG_LEVEL_INFO, LOG_FORMAT_LOGFMT);
}

/* The longest message, every byte escaped at the most: one record, whole,
 * with its ending (the record buffer is sized for it). */
static void
test_longest_record_whole(void **state)
{
	static char msg[4096], buf[1 << 16];
	ssize_t n;

	(void)state;
	memset(msg, 0x1b, sizeof msg - 1);
	msg[sizeof msg - 1] = '\0';
	log_setup(LOG_LEVEL_INFO, LOG_FORMAT_JSON);
	CAPTURED(log_errorx("%s", msg));
	n = next_write(buf, sizeof buf);
	/* vsnprintf keeps 2047 of the 4095 bytes; each becomes \u001b. */
	assert_int_equal(n, (ssize_t)(strlen("{\"time\":\"") + TIME_LEN +
	    strlen("\",\"level\":\"error\",\"msg\":\"") + 2047 * 6 + strlen("\"}\n")));
	assert_memory_equal(buf + n - 9, "\\u001b\"}\n", 9);
	assert_int_equal(next_write(buf, sizeof buf), -1);
	log_setup(LOG_LEVEL_INFO, LOG_FORMAT_LOGFMT);
	CAPTURED(log_errorx("%s", msg));
	n = next_write(buf, sizeof buf);
	assert_int_equal(n, (ssize_t)(strlen("time=") + TIME_LEN +
	    strlen(" level=error msg=\"") + 2047 * 4 + strlen("\"\n")));
	assert_memory_equal(buf + n - 6, "\\x1b\"\n", 6);
}

/* Below the level: no write at all. */
static void
test_below_level_silent(void **state)
{
	char buf[256];

	(void)state;
	log_setup(LOG_LEVEL_WARN, LOG_FORMAT_LOGFMT);
	CAPTURED(log_info("not shown"));
	CAPTURED(log_debug("not shown"));
	assert_int_equal(next_write(buf, sizeof buf), -1);
	CAPTURED(log_warnx("shown"));
	assert_true(next_write(buf, sizeof buf) > 0);
	assert_non_null(strstr(buf, " level=warn msg=\"shown\"\n"));
	log_setup(LOG_LEVEL_INFO, LOG_FORMAT_LOGFMT);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_logfmt_one_write),
		cmocka_unit_test(test_json_one_write),
		cmocka_unit_test(test_longest_record_whole),
		cmocka_unit_test(test_below_level_silent),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
