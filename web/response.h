/*
 * response.h - building libmicrohttpd responses that carry the headers
 * every answer of ours carries, http_server_config.headers included.
 */
#ifndef WEB_RESPONSE_H
#define WEB_RESPONSE_H

#include <stddef.h>

#include <microhttpd.h>

#include "util/strbuf.h"

struct webcfg;

#define RESPONSE_TEXT_PLAIN "text/plain; charset=utf-8"

/*
 * Each takes cfg, the --web.config.file whose headers to add (NULL: none);
 * a reload replaces it, so the caller holds whatever lock guards it for
 * the call. Out of memory: NULL, or -1, or MHD_NO (which makes MHD close
 * the connection).
 */

/* Add Content-Type, Cache-Control: no-cache, X-Content-Type-Options:
 * nosniff, then cfg's headers, to r. Returns 0 or -1. */
int response_add_headers(struct MHD_Response *r, const char *content_type,
    const struct webcfg *cfg);

/* A response owning a copy of text[0..len). */
struct MHD_Response *response_text(const char *text, size_t len, const char *content_type,
    const struct webcfg *cfg);

/* A response taking over b's data (b is left empty, also on failure). */
struct MHD_Response *response_strbuf(struct strbuf *b, const char *content_type,
    const struct webcfg *cfg);

/* Queue a one-off text/plain response with status; extra_name (NULL:
 * none) is one more header, with extra_value. Returns what
 * MHD_queue_response returned; out of memory, MHD_NO with an error logged
 * (rate-limited). */
enum MHD_Result response_queue_text(struct MHD_Connection *c, unsigned int status,
    const char *text, const char *extra_name, const char *extra_value,
    const struct webcfg *cfg);

#endif
