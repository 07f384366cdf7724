/*
 * test_showq.c - the showq stream parser: well-formed listings (several
 * queues, recipients with reasons, an empty queue), every chunking, every
 * truncation, the size limit of each attribute, and garbage; then the
 * socket reader's unreachable, timeout and shutdown paths.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "daemon/queue/showq.h"

#define NOW 1700000000

struct stream {
	char data[1 << 16];
	size_t len;
};

/* "name\0value\0", as attr_print0 writes it. */
static void
attr(struct stream *s, const char *name, const char *value)
{
	size_t n = strlen(name) + 1, v = strlen(value) + 1;

	assert_true(s->len + n + v <= sizeof s->data);
	memcpy(s->data + s->len, name, n);
	memcpy(s->data + s->len + n, value, v);
	s->len += n + v;
}

static void
end_record(struct stream *s)
{
	s->data[s->len++] = '\0';
}

static void
handshake(struct stream *s)
{
	s->len = 0;
	attr(s, "protocol", "mail_queue_list_protocol");
	end_record(s);
}

/* One message as showq_report() sends it. */
static void
message(struct stream *s, const char *queue, const char *id, long arrival, long size,
    int nrcpt)
{
	char t[32], z[32];

	snprintf(t, sizeof t, "%ld", arrival);
	snprintf(z, sizeof z, "%ld", size);
	attr(s, "queue_name", queue);
	attr(s, "queue_id", id);
	attr(s, "time", t);
	attr(s, "size", z);
	attr(s, "forced_expire", "0");
	attr(s, "sender", "sender@client.test");
	for (int i = 0; i < nrcpt; i++) {
		attr(s, "recipient", "tempfail@sink.test");
		attr(s, "reason", i ? "" : "host 127.0.0.1[127.0.0.1] said: 451 4.3.0 "
		    "Temporary local problem, try later (in reply to RCPT TO command)");
	}
	end_record(s);
}

/* A listing with three queues in use. */
static void
sample_listing(struct stream *s)
{
	handshake(s);
	message(s, "deferred", "4VkQ2B0Hc2z9sWt", NOW - 7200, 5000, 2);
	message(s, "deferred", "4VkQ2B0Hc3z9sWv", NOW - 30, 500, 1);
	message(s, "hold", "A1B2C3D4E5", NOW - 100000, 2000000, 1);
	message(s, "active", "4VkQ2C1pXnz9sX0", NOW + 5, 100 << 20, 0);
	end_record(s);
}

static void
check_sample(const struct showq_stats *st)
{
	assert_int_equal(st->messages[SHOWQ_Q_DEFERRED], 2);
	assert_int_equal(st->messages[SHOWQ_Q_HOLD], 1);
	assert_int_equal(st->messages[SHOWQ_Q_ACTIVE], 1);
	assert_int_equal(st->messages[SHOWQ_Q_INCOMING], 0);
	assert_int_equal(st->messages[SHOWQ_Q_MAILDROP], 0);
	/* 500 <= 1 KiB, 5000 in (4 KiB, 16 KiB] */
	assert_int_equal(st->size[SHOWQ_Q_DEFERRED].buckets[0], 1);
	assert_int_equal(st->size[SHOWQ_Q_DEFERRED].buckets[2], 1);
	assert_true(st->size[SHOWQ_Q_DEFERRED].sum == 5500);
	/* 2 MB in (1 MiB, 4 MiB]; 100 MiB past 64 MiB: +Inf */
	assert_int_equal(st->size[SHOWQ_Q_HOLD].buckets[6], 1);
	assert_int_equal(st->size[SHOWQ_Q_ACTIVE].buckets[SHOWQ_SIZE_BOUNDS], 1);
	/* ages: 30 s <= 1 min, 2 h in (1 h, 4 h], 100000 s in (1 d, 2 d] */
	assert_int_equal(st->age[SHOWQ_Q_DEFERRED].buckets[0], 1);
	assert_int_equal(st->age[SHOWQ_Q_DEFERRED].buckets[4], 1);
	assert_int_equal(st->age[SHOWQ_Q_HOLD].buckets[7], 1);
	/* a clock ahead of ours is age 0, not negative */
	assert_int_equal(st->age[SHOWQ_Q_ACTIVE].buckets[0], 1);
	assert_true(st->age[SHOWQ_Q_ACTIVE].sum == 0);
}

static struct stream s;

static void
test_well_formed(void **state)
{
	struct showq_stats st;
	char err[256];

	(void)state;
	sample_listing(&s);
	assert_int_equal(showq_parse_buffer(s.data, s.len, NOW, &st, err, sizeof err), 0);
	check_sample(&st);
}

static void
test_empty_queue(void **state)
{
	struct showq_stats st;
	char err[256];

	(void)state;
	handshake(&s);
	end_record(&s);
	assert_int_equal(showq_parse_buffer(s.data, s.len, NOW, &st, err, sizeof err), 0);
	for (int q = 0; q < SHOWQ_NQUEUES; q++)
		assert_int_equal(st.messages[q], 0);
}

/* Any split of the stream into chunks gives the same result. */
static void
test_every_chunking(void **state)
{
	struct showq_parser p;
	struct showq_stats st;

	(void)state;
	sample_listing(&s);
	for (size_t chunk = 1; chunk < 40; chunk++) {
		int r = 0;
		showq_parser_init(&p, &st, NOW);
		for (size_t off = 0; off < s.len && r == 0; off += chunk)
			r = showq_parser_feed(&p, s.data + off,
			    s.len - off < chunk ? s.len - off : chunk);
		assert_int_equal(r, 1);
		check_sample(&st);
	}
}

/* Every proper prefix is incomplete, never a result. */
static void
test_truncated(void **state)
{
	struct showq_stats st;
	char err[256];

	(void)state;
	sample_listing(&s);
	for (size_t n = 0; n < s.len; n++) {
		assert_int_equal(showq_parse_buffer(s.data, n, NOW, &st, err, sizeof err), -1);
		assert_non_null(strstr(err, "truncated"));
	}
}

static void
expect_error(const char *want)
{
	struct showq_stats st;
	char err[256];

	assert_int_equal(showq_parse_buffer(s.data, s.len, NOW, &st, err, sizeof err), -1);
	if (strstr(err, want) == NULL)
		fail_msg("error '%s' does not say '%s'", err, want);
}

static void
test_oversized(void **state)
{
	static char big[SHOWQ_MAX_REASON + 2];
	struct showq_stats st;
	char err[256];

	(void)state;
	/* A sender of exactly the limit passes; one byte more fails. */
	memset(big, 'a', SHOWQ_MAX_ADDRESS);
	big[SHOWQ_MAX_ADDRESS] = '\0';
	handshake(&s);
	attr(&s, "queue_name", "deferred");
	attr(&s, "queue_id", "ABC");
	attr(&s, "time", "1");
	attr(&s, "size", "1");
	attr(&s, "sender", big);
	end_record(&s);
	end_record(&s);
	assert_int_equal(showq_parse_buffer(s.data, s.len, NOW, &st, err, sizeof err), 0);
	big[SHOWQ_MAX_ADDRESS] = 'a';
	big[SHOWQ_MAX_ADDRESS + 1] = '\0';
	handshake(&s);
	attr(&s, "queue_name", "deferred");
	attr(&s, "queue_id", "ABC");
	attr(&s, "time", "1");
	attr(&s, "size", "1");
	attr(&s, "sender", big);
	end_record(&s);
	end_record(&s);
	expect_error("'sender' longer than 4096 bytes");

	/* a reason past its limit */
	memset(big, 'r', SHOWQ_MAX_REASON + 1);
	big[SHOWQ_MAX_REASON + 1] = '\0';
	handshake(&s);
	attr(&s, "queue_name", "deferred");
	attr(&s, "queue_id", "ABC");
	attr(&s, "time", "1");
	attr(&s, "size", "1");
	attr(&s, "sender", "");
	attr(&s, "recipient", "x@y.test");
	attr(&s, "reason", big);
	expect_error("'reason' longer than 16384 bytes");

	/* a queue id, a number, a name */
	handshake(&s);
	attr(&s, "queue_name", "deferred");
	attr(&s, "queue_id", "ABCDEFGHIJABCDEFGHIJABCDEFGHIJABCDEFGHIJABCDEFGHIJABCDEFGHIJABCDE");
	expect_error("'queue_id' longer than 64 bytes");
	handshake(&s);
	attr(&s, "queue_name", "deferred");
	attr(&s, "time", "123456789012345678901");
	expect_error("'time' longer than 20 bytes");
	handshake(&s);
	memset(big, 'n', SHOWQ_MAX_NAME + 1);
	big[SHOWQ_MAX_NAME + 1] = '\0';
	attr(&s, big, "1");
	expect_error("attribute name longer than 64 bytes");
}

static void
test_garbage(void **state)
{
	static const char text[] = "-Queue ID-  --Size-- ----Arrival Time---- "
	    "-Sender/Recipient-------\nA07A81514      5156 Tue Feb 14 13:13:54  MAILER-DAEMON\n";

	(void)state;
	memcpy(s.data, text, sizeof text - 1);
	s.len = sizeof text - 1;
	expect_error("an old Postfix whose showq sends mailq text");

	s.len = 0;
	attr(&s, "protocol", "something_else");
	end_record(&s);
	end_record(&s);
	expect_error("handshake protocol is 'something_else'");

	s.len = 0;
	message(&s, "deferred", "ABC", 1, 1, 1);
	end_record(&s);
	expect_error("expected the handshake attribute 'protocol'");

	handshake(&s);
	message(&s, "bogus", "ABC", 1, 1, 1);
	end_record(&s);
	expect_error("unknown queue_name 'bogus'");

	handshake(&s);
	attr(&s, "queue_name", "hold");
	attr(&s, "queue_id", "ABC");
	attr(&s, "time", "12x");
	expect_error("time '12x' is not a number");

	handshake(&s);
	attr(&s, "queue_name", "hold");
	attr(&s, "queue_name", "hold");
	expect_error("'queue_name' twice");

	handshake(&s);
	attr(&s, "queue_name", "hold");
	attr(&s, "queue_id", "ABC");
	attr(&s, "time", "1");
	attr(&s, "size", "1");
	end_record(&s);
	end_record(&s);
	expect_error("without all of");

	handshake(&s);
	attr(&s, "queue_name", "hold");
	attr(&s, "queue_id", "ABC");
	attr(&s, "time", "1");
	attr(&s, "size", "1");
	attr(&s, "sender", "a@b");
	attr(&s, "reason", "why");
	expect_error("a reason that follows no recipient");

	handshake(&s);
	attr(&s, "queue_name", "hold");
	attr(&s, "queue_id", "A/B");
	expect_error("queue_id 'A/B' is not alphanumeric");

	handshake(&s);
	end_record(&s);
	attr(&s, "queue_name", "hold");
	expect_error("data after the end");

	handshake(&s);
	s.data[s.len++] = '\x01';
	expect_error("a byte that cannot be in an attribute name");
}

/* An attribute a later Postfix may add is skipped, within its limit. */
static void
test_unknown_attribute_skipped(void **state)
{
	struct showq_stats st;
	char err[256];

	(void)state;
	handshake(&s);
	attr(&s, "queue_name", "deferred");
	attr(&s, "queue_id", "ABC");
	attr(&s, "time", "1");
	attr(&s, "size", "1");
	attr(&s, "sender", "a@b");
	attr(&s, "recipient", "c@d");
	attr(&s, "original_recipient", "e@f");
	attr(&s, "reason", "");
	end_record(&s);
	end_record(&s);
	assert_int_equal(showq_parse_buffer(s.data, s.len, NOW, &st, err, sizeof err), 0);
	assert_int_equal(st.messages[SHOWQ_Q_DEFERRED], 1);
}

static void
test_collect_unreachable(void **state)
{
	struct showq_stats st;
	char err[256];

	(void)state;
	assert_int_equal(showq_collect("/nonexistent/showq", 1000, -1, NOW, &st, err,
	    sizeof err), SHOWQ_UNREACHABLE);
	assert_non_null(strstr(err, "No such file"));
	/* a regular file where the socket should be: refused */
	assert_int_equal(showq_collect("/etc/hostname", 1000, -1, NOW, &st, err, sizeof err),
	    SHOWQ_UNREACHABLE);
}

/* A server that accepts and never answers: the deadline ends the read;
 * a write to stop_fd ends it at once. */
static void
test_collect_deadline_and_stop(void **state)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct showq_stats st;
	struct timespec t0, t1;
	char err[256];
	int lfd, stop[2];

	(void)state;
	snprintf(sa.sun_path, sizeof sa.sun_path, "/tmp/test_showq.%d", (int)getpid());
	unlink(sa.sun_path);
	lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(lfd >= 0);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof sa), 0);
	assert_int_equal(listen(lfd, 4), 0);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(showq_collect(sa.sun_path, 300, -1, NOW, &st, err, sizeof err),
	    SHOWQ_ERROR);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_non_null(strstr(err, "no complete listing within 300 ms"));
	double took = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	assert_true(took >= 0.29 && took < 2);

	assert_int_equal(pipe(stop), 0);
	assert_int_equal(write(stop[1], "x", 1), 1);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(showq_collect(sa.sun_path, 10000, stop[0], NOW, &st, err, sizeof err),
	    SHOWQ_ERROR);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_non_null(strstr(err, "abandoned at shutdown"));
	assert_true(t1.tv_sec - t0.tv_sec < 2);
	close(stop[0]);
	close(stop[1]);
	close(lfd);
	unlink(sa.sun_path);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_well_formed),
		cmocka_unit_test(test_empty_queue),
		cmocka_unit_test(test_every_chunking),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_oversized),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_unknown_attribute_skipped),
		cmocka_unit_test(test_collect_unreachable),
		cmocka_unit_test(test_collect_deadline_and_stop),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
