/*
 * listen.c - the --web.listen-address value, "[HOST]:PORT": its syntax,
 * its resolution, and the listening socket it names.
 *
 * The option parser checks the value at start-up (so --check-config and
 * a typo fail with exit 2 before anything starts); the HTTP server opens
 * the socket itself rather than let libmicrohttpd bind, so a failure is
 * reported with its cause.
 */
#include "web/listen.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define LISTEN_BACKLOG 128
#define HOST_MAX 256

/* Split "[HOST]:PORT" into host (possibly empty: all interfaces) and port.
 * IPv6 literals must be bracketed, since "::1:9745" is ambiguous. */
static int
split_listen(const char *s, char *host, char *port, char *err, size_t errlen)
{
	const char *h, *he, *p;

	if (s == NULL || *s == '\0') {
		snprintf(err, errlen, "empty listen address (expected [HOST]:PORT, e.g. :%d)",
		    WEB_DEFAULT_PORT);
		return -1;
	}
	if (s[0] == '[') {
		h = s + 1;
		he = strchr(h, ']');
		if (he == NULL || he == h) {
			snprintf(err, errlen, "listen address \"%s\": expected [IPV6]:PORT, "
			    "e.g. [::1]:%d", s, WEB_DEFAULT_PORT);
			return -1;
		}
		if (he[1] != ':') {
			snprintf(err, errlen, "listen address \"%s\": missing :PORT after ']'", s);
			return -1;
		}
		p = he + 2;
	} else {
		h = s;
		he = strrchr(s, ':');
		if (he == NULL) {
			snprintf(err, errlen, "listen address \"%s\": missing :PORT (e.g. :%d or "
			    "127.0.0.1:%d)", s, WEB_DEFAULT_PORT, WEB_DEFAULT_PORT);
			return -1;
		}
		if (memchr(h, ':', (size_t)(he - h)) != NULL) {
			snprintf(err, errlen, "listen address \"%s\": an IPv6 address must be in "
			    "brackets, e.g. [::1]:%d", s, WEB_DEFAULT_PORT);
			return -1;
		}
		p = he + 1;
	}
	if ((size_t)(he - h) >= HOST_MAX) {
		snprintf(err, errlen, "listen address: host name too long");
		return -1;
	}
	memcpy(host, h, (size_t)(he - h));
	host[he - h] = '\0';

	size_t plen = strlen(p);
	long v = 0;
	for (size_t i = 0; i < plen; i++) {
		if (p[i] < '0' || p[i] > '9') {
			v = -1;
			break;
		}
		if (v <= 65535)
			v = v * 10 + (p[i] - '0');
	}
	if (plen == 0 || v < 1 || v > 65535) {
		snprintf(err, errlen, "listen address \"%s\": port must be a number from 1 to "
		    "65535", s);
		return -1;
	}
	snprintf(port, 6, "%ld", v);
	return 0;
}

static int
resolve(const char *s, const char *host, const char *port, struct addrinfo **res,
    char *err, size_t errlen)
{
	struct addrinfo hints;
	int rc;

	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	rc = getaddrinfo(host, port, &hints, res);
	if (rc != 0) {
		snprintf(err, errlen, "listen address \"%s\": cannot resolve \"%s\": %s", s,
		    host, rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
		return -1;
	}
	return 0;
}

/*
 * Validate a listen address without binding: syntax, port range, and that
 * the host resolves. Lets --check-config and the option parser reject a
 * typo with exit 2 before anything starts. Returns 0, or -1 with a one-line
 * reason in err.
 */
int
web_check_listen_address(const char *s, char *err, size_t errlen)
{
	char host[HOST_MAX], port[6];
	struct addrinfo *res;

	if (split_listen(s, host, port, err, errlen) < 0)
		return -1;
	if (host[0] == '\0')
		return 0;
	if (resolve(s, host, port, &res, err, errlen) < 0)
		return -1;
	freeaddrinfo(res);
	return 0;
}

/* A listening, non-blocking socket for one address, or -1 with errno set.
 * We bind ourselves rather than let MHD do it so a failure can be reported
 * with its cause ("Address already in use"); MHD_start_daemon only says
 * NULL. */
static int
listen_on(const struct sockaddr *sa, socklen_t salen, int dual_stack)
{
	int one = 1, off = 0;
	int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	/* Restarting while old connections sit in TIME_WAIT must not fail. */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0)
		goto fail;
	/* The wildcard IPv6 socket takes IPv4 too (mapped addresses), whatever
	 * net.ipv6.bindv6only says; a specific IPv6 address stays IPv6. */
	if (sa->sa_family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, dual_stack ? &off : &one,
	    sizeof one) < 0)
		goto fail;
	if (bind(fd, sa, salen) < 0 || listen(fd, LISTEN_BACKLOG) < 0)
		goto fail;
	return fd;
fail:;
	int saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

/*
 * Listen on s. An empty host means every interface: the IPv6 wildcard
 * with IPv4 mapped in, or IPv4 alone where there is no IPv6. A name
 * listens on its first address that binds. Returns the socket, or -1 with
 * a one-line reason in err.
 */
int
web_open_listener(const char *s, char *err, size_t errlen)
{
	char host[HOST_MAX], port[6];
	struct addrinfo *res;
	int fd = -1, first_errno = 0;

	if (split_listen(s, host, port, err, errlen) < 0)
		return -1;

	if (host[0] == '\0') {
		struct sockaddr_in6 a6;
		struct sockaddr_in a4;

		memset(&a6, 0, sizeof a6);
		a6.sin6_family = AF_INET6;
		a6.sin6_addr = in6addr_any;
		a6.sin6_port = htons((uint16_t)atoi(port));
		fd = listen_on((struct sockaddr *)&a6, sizeof a6, 1);
		/* No IPv6 in this kernel or namespace: IPv4 alone. Any other
		 * error (EADDRINUSE) would hit IPv4 as well, so report it. */
		if (fd < 0 && (errno == EAFNOSUPPORT || errno == EADDRNOTAVAIL ||
		    errno == EPROTONOSUPPORT)) {
			memset(&a4, 0, sizeof a4);
			a4.sin_family = AF_INET;
			a4.sin_addr.s_addr = htonl(INADDR_ANY);
			a4.sin_port = a6.sin6_port;
			fd = listen_on((struct sockaddr *)&a4, sizeof a4, 0);
		}
		if (fd < 0)
			snprintf(err, errlen, "listen %s: %s", s, strerror(errno));
		return fd;
	}

	if (resolve(s, host, port, &res, err, errlen) < 0)
		return -1;
	/* "localhost" may give ::1 first on a host without IPv6 loopback:
	 * take the first address that binds, report the first failure. */
	for (struct addrinfo *ai = res; ai != NULL && fd < 0; ai = ai->ai_next) {
		fd = listen_on(ai->ai_addr, ai->ai_addrlen, 0);
		if (fd < 0 && first_errno == 0)
			first_errno = errno;
	}
	freeaddrinfo(res);
	if (fd < 0)
		snprintf(err, errlen, "listen %s: %s", s, strerror(first_errno));
	return fd;
}
