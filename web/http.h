/*
 * http.h - the HTTP endpoint: /metrics (the telemetry path), / and /healthz,
 * served by libmicrohttpd's internal polling thread.
 */
#ifndef HTTP_H
#define HTTP_H

#include <stddef.h>

#include "web/expo.h"

struct web_opts {
	const char *listen_address;   /* "[HOST]:PORT"; empty host = all interfaces */
	const char *telemetry_path;   /* default "/metrics" */
	unsigned connection_limit;    /* global, default 64 */
	unsigned per_ip_limit;        /* default 8 */
	unsigned timeout_s;           /* idle connection timeout, default 10 */
	size_t memory_limit;          /* per connection, default 32 KiB */
	struct webcfg *webcfg;        /* --web.config.file, NULL = plain HTTP, no auth */
};
void web_opts_defaults(struct web_opts *o);

struct web;
struct webcfg;

/* Bind and start serving. The view must outlive the server; o->webcfg is
 * taken over. The telemetry path must start with '/', hold no control
 * characters, '?' or '#', and not be "/healthz". Returns NULL with a
 * one-line reason in err (e.g. "listen :9745: Address already in use"). */
struct web *web_start(const struct web_opts *o, const struct expo_view *view,
    char *err, size_t errlen);
void web_stop(struct web *w);

/* Apply a re-read --web.config.file (taken over, NULL = none): users and
 * headers in place; a TLS change restarts MHD on the same socket, closing
 * the connections in flight. Returns 0, or -1 with a one-line reason in
 * err and the running settings kept. Call from one thread at a time. */
int web_reload(struct web *w, struct webcfg *cfg, char *err, size_t errlen);

/* 1 if w serves HTTPS. */
int web_is_tls(const struct web *w);

#endif
