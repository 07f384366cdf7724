/*
 * admission.h - may this request be served? The client certificate policy
 * and basic auth of --web.config.file, checked before any route.
 */
#ifndef WEB_ADMISSION_H
#define WEB_ADMISSION_H

#include <microhttpd.h>

struct auth;
struct webcfg;

/*
 * Check connection c's request against tls_cfg's client certificate
 * policy (the settings the running server's TLS was started with; NULL or
 * TLS off: no check) and cfg's basic auth users (NULL or none: no check),
 * auth holding the cached logins and lockouts. Returns 1 to serve it, or 0
 * with the refusal (403, 401 or 429, logged rate-limited) queued and *ret
 * what queueing returned. cfg must not change during the call: the caller
 * holds the lock a reload takes.
 */
int admission_check(struct MHD_Connection *c, const struct webcfg *tls_cfg,
    const struct webcfg *cfg, struct auth *auth, enum MHD_Result *ret);

#endif
