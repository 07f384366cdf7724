/*
 * response.c - libmicrohttpd responses with our common headers.
 *
 * Every answer (the exposition, the status page, the health check, 404,
 * 405 and the refusals) says what it is, is not to be cached or sniffed,
 * and carries the operator's http_server_config.headers; building them
 * all here keeps that true for a response added later.
 */
#include "web/response.h"

#include <string.h>

#include "util/log.h"
#include "web/webconfig.h"
#include "web/webdl.h"

/* Ours first, then http_server_config.headers (the config refuses names
 * that would clash with ours). */
int
response_add_headers(struct MHD_Response *r, const char *content_type,
    const struct webcfg *cfg)
{
	if (sym_MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, content_type) != MHD_YES ||
	    sym_MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache") != MHD_YES ||
	    sym_MHD_add_response_header(r, "X-Content-Type-Options", "nosniff") != MHD_YES)
		return -1;
	for (size_t i = 0; cfg != NULL && i < cfg->nheaders; i++)
		if (sym_MHD_add_response_header(r, cfg->headers[i].name,
		    cfg->headers[i].value) != MHD_YES)
			return -1;
	return 0;
}

struct MHD_Response *
response_text(const char *text, size_t len, const char *content_type,
    const struct webcfg *cfg)
{
	struct MHD_Response *r = sym_MHD_create_response_from_buffer(len, (void *)text,
	    MHD_RESPMEM_MUST_COPY);
	if (r != NULL && response_add_headers(r, content_type, cfg) < 0) {
		sym_MHD_destroy_response(r);
		r = NULL;
	}
	return r;
}

/* MHD frees b's data with the last reference to the response. */
struct MHD_Response *
response_strbuf(struct strbuf *b, const char *content_type, const struct webcfg *cfg)
{
	struct MHD_Response *r = sym_MHD_create_response_from_buffer(b->len, b->data,
	    MHD_RESPMEM_MUST_FREE);
	if (r == NULL) {
		strbuf_free(b);
		return NULL;
	}
	b->data = NULL;
	b->len = b->cap = 0;
	if (response_add_headers(r, content_type, cfg) < 0) {
		sym_MHD_destroy_response(r);
		return NULL;
	}
	return r;
}

enum MHD_Result
response_queue_text(struct MHD_Connection *c, unsigned int status, const char *text,
    const char *extra_name, const char *extra_value, const struct webcfg *cfg)
{
	struct MHD_Response *r = response_text(text, strlen(text), RESPONSE_TEXT_PLAIN, cfg);
	enum MHD_Result ret;

	if (r != NULL && extra_name != NULL &&
	    sym_MHD_add_response_header(r, extra_name, extra_value) != MHD_YES) {
		sym_MHD_destroy_response(r);
		r = NULL;
	}
	if (r == NULL) {
		/* Requests trigger it, hence the rate limit. */
		log_limited(LOG_LIMIT_HTTP, LOG_LEVEL_ERROR, "http: cannot answer %u: out of "
		    "memory; closing the connection", status);
		return MHD_NO;
	}
	ret = sym_MHD_queue_response(c, status, r);
	sym_MHD_destroy_response(r);
	return ret;
}
