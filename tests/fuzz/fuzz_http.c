/*
 * fuzz_http.c - HTTP request handling, through the real server.
 *
 * LLVMFuzzerInitialize starts web_start() on 127.0.0.1 with a free port,
 * exactly as the daemon does (same options, same handler, libmicrohttpd's
 * own thread). Each input is sent as raw request bytes on a new loopback
 * connection, the write side is closed, and the answer is read until the
 * server closes. The sanitizers watch the server thread; the harness checks
 * that every answer is a well-formed HTTP/1.x status line with a status
 * the endpoint can give, that a 200 only ever carries one of the three
 * known documents, and that no connection is left hanging.
 */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "store/aggregate.h"
#include "web/expo.h"
#include "web/http.h"
#include "util/log.h"
#include "daemon/input/tailer.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ANSWER_WAIT_MS 5000   /* > the server's 2 s idle timeout */
#define QUIET_MS 30
#define SPLIT_MS 2

static struct web *web;
static struct agg *agg;
static struct input_status status;
static struct expo_source source = { .path = "/var/log/mail.log", .status = &status };
static struct expo_view view;
static struct sockaddr_in addr;
static char answer[1 << 20];
static int answer_closed;   /* the server closed: the answer is whole */

static void
die(const char *what, const uint8_t *req, size_t len)
{
	fprintf(stderr, "fuzz_http: %s; request (%zu bytes): \"", what, len);
	for (size_t i = 0; i < len && i < 300; i++) {
		if (req[i] >= 0x20 && req[i] < 0x7f && req[i] != '\\')
			fputc(req[i], stderr);
		else
			fprintf(stderr, "\\x%02x", req[i]);
	}
	fprintf(stderr, "\"\n");
	abort();
}

/* A port nobody listens on now: bind port 0, note it, let it go. */
static int
free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof a;
	int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

	if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &alen) == 0)
		port = ntohs(a.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const int mtas[] = { MP_MTA_POSTFIX };
	struct web_opts o;
	char listen[64], err[512];
	struct mp_event ev = { .mta = MP_MTA_POSTFIX, .code = 550, .cls = 5,
	    .enhanced = { 5, 1, 1 }, .direction = MP_DIR_OUTBOUND };

	(void)argc;
	(void)argv;
	signal(SIGPIPE, SIG_IGN);
	log_setup(LOG_LEVEL_ERROR, LOG_FORMAT_LOGFMT);
	if ((agg = agg_new(16)) == NULL)
		abort();
	agg_record(agg, &ev);
	view = (struct expo_view){ .agg = agg, .sources = &source, .nsources = 1,
	    .mtas = mtas, .nmtas = 1 };
	web_opts_defaults(&o);
	o.telemetry_path = "/metrics";
	o.per_ip_limit = o.connection_limit;  /* every connection comes from 127.0.0.1 */
	o.timeout_s = 2;
	for (int tries = 0; web == NULL && tries < 20; tries++) {
		int port = free_port();
		if (port < 0)
			continue;
		snprintf(listen, sizeof listen, "127.0.0.1:%d", port);
		o.listen_address = listen;
		web = web_start(&o, &view, err, sizeof err);
		addr = (struct sockaddr_in){ .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
		    .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	}
	if (web == NULL) {
		fprintf(stderr, "fuzz_http: cannot start the server: %s\n", err);
		abort();
	}
	return 0;
}

/* connect() interrupted by libFuzzer's timer signal (EINTR) goes on in
 * the background: wait for it to finish. Returns 0, or -1 with errno. */
static int
connect_wait(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLOUT };
	int soerr = 0, r;
	socklen_t sl = sizeof soerr;

	if (errno != EINTR)
		return -1;
	while ((r = poll(&p, 1, ANSWER_WAIT_MS)) < 0 && errno == EINTR)
		;
	if (r == 0) {
		errno = ETIMEDOUT;
		return -1;
	}
	if (r < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
		return -1;
	if (soerr != 0) {
		errno = soerr;
		return -1;
	}
	return 0;
}

/*
 * Send req, close our side, read the answer. The server may keep an
 * HTTP/1.1 connection open after answering (until its idle timeout) even
 * though our side is closed, so once a complete header block has arrived
 * a short quiet period ends the read; before that, a silent server is a
 * hung connection. Returns the answer's length.
 */
static size_t
exchange(const uint8_t *req, size_t len)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	size_t got = 0, off = 0;
	/* Closing with a reset leaves no TIME_WAIT behind: thousands of
	 * exchanges a second would otherwise use up the ephemeral ports
	 * within a 10 s run and connect() would fail with EADDRNOTAVAIL. */
	struct linger reset = { .l_onoff = 1, .l_linger = 0 };

	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof reset) < 0)
		die(strerror(errno), req, len);
	if (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0 && connect_wait(fd) < 0) {
		char why[128];
		snprintf(why, sizeof why, "cannot connect to the server: %s", strerror(errno));
		die(why, req, len);
	}
	while (off < len) {
		ssize_t n = send(fd, req + off, len - off, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			break;  /* the server may close early on a bad request */
		}
		off += (size_t)n;
	}
	/* libmicrohttpd 0.9.75 (edge-triggered epoll) misses a FIN that
	 * arrives together with the request's last bytes and then waits for
	 * its idle timeout; give it the request alone first. The answer to a
	 * complete request usually arrives within this wait. */
	struct pollfd first = { .fd = fd, .events = POLLIN };
	poll(&first, 1, SPLIT_MS);
	shutdown(fd, SHUT_WR);
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int answered = got > 0 && strstr(answer, "\r\n\r\n") != NULL;
		int r = poll(&p, 1, answered ? QUIET_MS : ANSWER_WAIT_MS);
		if (r == 0) {
			if (answered) {
				answer_closed = 0;
				break;
			}
			die("server neither answered nor closed the connection", req, len);
		}
		if (r < 0) {
			if (errno == EINTR)
				continue;
			die("poll", req, len);
		}
		ssize_t n = recv(fd, answer + got, sizeof answer - 1 - got, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			answer_closed = 1;  /* EOF, or a reset after an early close */
			break;
		}
		got += (size_t)n;
		answer[got] = '\0';
		if (got == sizeof answer - 1)
			die("answer larger than 1 MiB", req, len);
	}
	close(fd);
	answer[got] = '\0';
	return got;
}

static int
starts(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* The value of the Content-Length header in [h, end), or -1. */
static long
content_length(const char *h, const char *end)
{
	static const char name[] = "\r\ncontent-length:";
	for (const char *p = h; p + sizeof name - 1 < end; p++)
		if (strncasecmp(p, name, sizeof name - 1) == 0)
			return strtol(p + sizeof name - 1, NULL, 10);
	return -1;
}

/*
 * Check every response in the answer (a pipelined request gets several):
 * an HTTP/1.x status line with a status the endpoint can give, a header
 * block, and a body of Content-Length bytes that, on a 200, is one of the
 * three documents. A HEAD answer has the length but no body: the next
 * status line follows at once.
 */
static void
check_answer(const char *a, size_t n, const uint8_t *req, size_t len)
{
	static const int allowed[] = { 200, 400, 404, 405, 413, 414, 431, 500, 501, 503, 505 };
	const char *end = a + n;

	while (a < end) {
		int status = 0, ok = 0;
		const char *body;
		long cl;

		if (end - a < 13 || !(starts(a, "HTTP/1.1 ") || starts(a, "HTTP/1.0 ")) ||
		    sscanf(a + 9, "%3d", &status) != 1 || a[12] != ' ')
			die("answer does not start with an HTTP/1.x status line", req, len);
		for (size_t i = 0; i < sizeof allowed / sizeof allowed[0]; i++)
			ok |= status == allowed[i];
		if (!ok)
			die("unexpected HTTP status", req, len);
		if ((body = strstr(a, "\r\n\r\n")) == NULL)
			return;   /* cut short by our quiet period: nothing more to check */
		cl = content_length(a, body + 2);
		body += 4;
		if (body == end || starts(body, "HTTP/1.")) {
			a = body;   /* HEAD, or no body */
			continue;
		}
		if (cl < 0 || cl > end - body) {
			if (!answer_closed)
				return;   /* the rest did not arrive within the quiet period */
			die("body without a Content-Length that covers it", req, len);
		}
		if (status == 200 && !starts(body, "# HELP ") && !starts(body, "<!DOCTYPE html>") &&
		    !starts(body, "ok\n"))
			die("200 with a body that is none of the known documents", req, len);
		a = body + cl;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t n = exchange(data, size);

	/* Nothing at all is fine: the server closed on a request cut short. */
	check_answer(answer, n, data, size);
	return 0;
}
