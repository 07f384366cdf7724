/*
 * test_syslog_oom.c - the syslog listener out of memory: every allocation
 * of sl_set_new fails in turn (an error with a reason, nothing leaked),
 * and a TCP connection whose buffer cannot be allocated is closed and
 * counted as refused while the listener goes on: the next connection is
 * read. The binary is linked with --wrap for malloc and calloc
 * (tests/meson.build); getaddrinfo's own allocations are not counted.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "daemon/input/syslog_listen.h"

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);

static int countdown;   /* 0: off; n: the n-th allocation from now fails */
static int injected;

static int
fail_next(void)
{
	if (countdown > 0 && --countdown == 0) {
		injected = 1;
		errno = ENOMEM;
		return 1;
	}
	return 0;
}

void *
__wrap_malloc(size_t n)
{
	return fail_next() ? NULL : __real_malloc(n);
}

void *
__wrap_calloc(size_t n, size_t size)
{
	return fail_next() ? NULL : __real_calloc(n, size);
}

static int lines;

static void
count_line(void *ctx, const char *line, size_t len, int source)
{
	(void)ctx;
	(void)line;
	(void)len;
	(void)source;
	lines++;
}

static void
opts(struct sl_opts *o)
{
	sl_opts_defaults(o);
	o->max_connections = 4;
	o->max_message = 1024;
	o->idle_timeout_s = 0;
	o->source = 0;
}

static void
test_new_fails_each_allocation(void **state)
{
	struct sl_opts o;
	char err[256];
	int n;

	(void)state;
	opts(&o);
	for (n = 1;; n++) {
		struct sl_set *s;
		injected = 0;
		countdown = n;
		s = sl_set_new(&o, count_line, NULL, err, sizeof err);
		countdown = 0;
		if (!injected) {
			assert_non_null(s);
			sl_set_free(s);
			break;
		}
		assert_null(s);
		assert_string_equal(err, "out of memory");
	}
	assert_true(n > 3);
}

/* A free loopback TCP port. */
static int
free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof a;
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	port = ntohs(a.sin_port);
	close(fd);
	return port;
}

static int
connect_to(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
	return fd;
}

/* Run the listener until cond() or 10 s. */
static void
run_until(struct sl_set *s, int (*cond)(const struct syslog_stats *))
{
	int n;

	for (int i = 0; i < 1000; i++) {
		struct pollfd p = { .fd = sl_set_fd(s), .events = POLLIN };
		if (cond(sl_set_stats(s, &n)))
			return;
		poll(&p, 1, 10);
		sl_set_process(s);
	}
	fail_msg("the listener did not get there in 10 s");
}

static int
one_refused(const struct syslog_stats *st)
{
	return atomic_load(&st->refused) == 1;
}

static int
one_line(const struct syslog_stats *st)
{
	return atomic_load(&st->messages) == 1 && lines == 1;
}

static void
test_connection_buffer_fails(void **state)
{
	static char spec[64];
	const struct syslog_stats *st;
	const char *msg = "<22>Nov 28 14:10:01 mx postfix/smtp[1]: x\n";
	struct sl_opts o;
	struct sl_set *s;
	char err[256], c;
	int port = free_port(), a, b, n;

	(void)state;
	opts(&o);
	snprintf(spec, sizeof spec, "tcp://127.0.0.1:%d", port);
	s = sl_set_new(&o, count_line, NULL, err, sizeof err);
	assert_non_null(s);
	assert_int_equal(sl_set_add(s, spec, err, sizeof err), 0);
	a = connect_to(port);
	injected = 0;
	countdown = 1;   /* the connection's buffer */
	run_until(s, one_refused);
	countdown = 0;
	assert_true(injected);
	/* The sender sees the close. */
	assert_int_equal(read(a, &c, 1), 0);
	st = sl_set_stats(s, &n);
	assert_int_equal(atomic_load(&st->open), 0);
	/* The next connection is admitted and read. */
	b = connect_to(port);
	assert_int_equal(write(b, msg, strlen(msg)), (ssize_t)strlen(msg));
	run_until(s, one_line);
	assert_int_equal(atomic_load(&st->connections), 1);
	assert_int_equal(atomic_load(&st->open), 1);
	close(a);
	close(b);
	sl_set_free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_new_fails_each_allocation),
		cmocka_unit_test(test_connection_buffer_fails),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
