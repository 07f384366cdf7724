/*
 * auth.h - basic auth against the bcrypt hashes of --web.config.file, with
 * a cache of successful checks and a throttle on failures.
 *
 * A bcrypt check costs 40-170 ms (cost 10-12) on the one HTTP thread that
 * serves every scraper. So, as exporter-toolkit does, a successful check
 * is remembered, keyed by a salted SHA-256 of the credentials and the
 * hash they matched: a Prometheus scraping every 15 s pays bcrypt once.
 * Failures are never cached, and they are throttled so that guessing
 * cannot monopolise the thread (see auth_check).
 */
#ifndef AUTH_H
#define AUTH_H

#include <stdint.h>
#include <sys/socket.h>

#include "web/webconfig.h"

/* Successful verifications remembered (least recently used goes first). */
#define AUTH_CACHE_SIZE 256
/* An address (an IPv4 address, or an IPv6 /64) that fails this many times
 * within AUTH_FAIL_WINDOW_MS is locked out for AUTH_LOCKOUT_MS. */
#define AUTH_MAX_FAILURES 5
#define AUTH_FAIL_WINDOW_MS 60000
#define AUTH_LOCKOUT_MS 30000
/* Addresses whose failures are tracked; the stalest is forgotten first. */
#define AUTH_TRACKED_ADDRS 128
/* At most this many bcrypt checks per second that are not served from the
 * cache, whatever their source: bounds the thread time an attacker with
 * many addresses can take (8 x ~60 ms, about half of one core). */
#define AUTH_UNCACHED_PER_S 8

enum auth_result {
	AUTH_OK = 0,
	AUTH_DENIED,       /* no such user or wrong password: 401 */
	AUTH_THROTTLED,    /* not checked: too many failures; 429 with Retry-After */
};

struct auth;

/* A new, empty cache and throttle; NULL when out of memory. Free with
 * auth_free. */
struct auth *auth_new(void);
void auth_free(struct auth *a);

/*
 * Check user/pass (NUL-terminated, as sent) against cfg's users for a
 * client at peer (NULL: unknown, throttled as one address), at now_ms on
 * a monotonic clock. On AUTH_THROTTLED, *retry_after_s says when to try
 * again. Thread-safe (one lock; the bcrypt check runs under it, which is
 * what keeps the uncached rate bounded).
 */
enum auth_result auth_check(struct auth *a, const struct webcfg *cfg, const char *user,
    const char *pass, const struct sockaddr *peer, int64_t now_ms,
    unsigned *retry_after_s);

/* Forget every cached success and failure count (a reload changed the
 * users). */
void auth_reset(struct auth *a);

/* Counters for tests and logs: bcrypt checks run, cache hits. */
void auth_stats(struct auth *a, uint64_t *bcrypt_checks, uint64_t *cache_hits);

#endif
