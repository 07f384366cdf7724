/*
 * listen.h - the --web.listen-address value: check it, and open the
 * listening socket it names.
 */
#ifndef WEB_LISTEN_H
#define WEB_LISTEN_H

#include <stddef.h>

#define WEB_DEFAULT_PORT 9745
#define WEB_DEFAULT_LISTEN ":9745"

/* Check a listen address ("[HOST]:PORT", ":PORT", "[::1]:PORT").
 * Returns 0, or -1 with a one-line reason in err. No network I/O beyond
 * name resolution. */
int web_check_listen_address(const char *s, char *err, size_t errlen);

/* Bind and listen on s (an empty host: every interface, IPv6 and IPv4).
 * Returns a non-blocking, close-on-exec socket, or -1 with a one-line
 * reason in err (e.g. "listen :9745: Address already in use"). */
int web_open_listener(const char *s, char *err, size_t errlen);

#endif
