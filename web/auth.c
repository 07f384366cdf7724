/*
 * auth.c - bcrypt through libcrypt (libxcrypt's crypt_rn knows $2a$, $2b$
 * and $2y$), a bounded cache of successes keyed by a salted SHA-256
 * (GnuTLS's gnutls_hash_fast), and a failure throttle per address plus a
 * global cap on uncached checks.
 */
#include "web/auth.h"

#include <crypt.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "web/webdl.h"

#define KEY_LEN 32   /* SHA-256 */

struct cached {
	unsigned char key[KEY_LEN];
	int64_t used_ms;   /* 0: empty slot */
};

struct tracked {
	unsigned char addr[16];   /* IPv4 address, or an IPv6 /64 prefix */
	int family;               /* 0: empty slot */
	unsigned failures;
	int64_t first_ms;         /* start of the failure window */
	int64_t locked_until_ms;
	int64_t seen_ms;
};

struct auth {
	pthread_mutex_t lock;
	/* Salt of the cache key: the keys in memory are useless for testing
	 * password guesses offline without it, and it changes every run. */
	unsigned char salt[16];
	struct cached cache[AUTH_CACHE_SIZE];
	struct tracked addrs[AUTH_TRACKED_ADDRS];
	int64_t budget_second;    /* the second budget_used counts in */
	unsigned budget_used;
	uint64_t bcrypt_checks, cache_hits;
	struct crypt_data cd;     /* ~32 KiB; kept, not on the HTTP thread's stack */
};

/*
 * Allocate an empty cache with a fresh random salt. NULL when out of
 * memory or when GnuTLS cannot be loaded (web_start, the one caller in the
 * daemon, has loaded it already and said why if it could not).
 */
struct auth *
auth_new(void)
{
	struct auth *a;

	if (webdl_load(NULL, 0) < 0 || (a = calloc(1, sizeof *a)) == NULL)
		return NULL;
	if (pthread_mutex_init(&a->lock, NULL) != 0 ||
	    sym_gnutls_rnd(GNUTLS_RND_RANDOM, a->salt, sizeof a->salt) < 0) {
		free(a);
		return NULL;
	}
	return a;
}

/* Free a; auth_free(NULL) is a no-op. */
void
auth_free(struct auth *a)
{
	if (a == NULL)
		return;
	pthread_mutex_destroy(&a->lock);
	explicit_bzero(a, sizeof *a);
	free(a);
}

/* Forget all cached successes and failure counts. */
void
auth_reset(struct auth *a)
{
	pthread_mutex_lock(&a->lock);
	memset(a->cache, 0, sizeof a->cache);
	memset(a->addrs, 0, sizeof a->addrs);
	pthread_mutex_unlock(&a->lock);
}

/* Report counters (under the lock, so they are consistent). */
void
auth_stats(struct auth *a, uint64_t *bcrypt_checks, uint64_t *cache_hits)
{
	pthread_mutex_lock(&a->lock);
	*bcrypt_checks = a->bcrypt_checks;
	*cache_hits = a->cache_hits;
	pthread_mutex_unlock(&a->lock);
}

/* Compare without an early exit, so the time taken says nothing about
 * where two secrets differ. */
static int
equal_ct(const unsigned char *x, const unsigned char *y, size_t n)
{
	unsigned char d = 0;

	for (size_t i = 0; i < n; i++)
		d |= x[i] ^ y[i];
	return d == 0;
}

/* key = SHA-256(salt || user || 0 || pass || 0 || hash). The hash is in
 * the key so a changed password in the file never matches an old entry. */
static int
cache_key(const struct auth *a, const char *user, const char *pass, const char *hash,
    unsigned char *key)
{
	size_t ul = strlen(user), pl = strlen(pass), hl = strlen(hash);
	size_t n = sizeof a->salt + ul + 1 + pl + 1 + hl;
	unsigned char *buf = malloc(n);
	int rc;

	if (buf == NULL)
		return -1;
	memcpy(buf, a->salt, sizeof a->salt);
	memcpy(buf + sizeof a->salt, user, ul + 1);
	memcpy(buf + sizeof a->salt + ul + 1, pass, pl + 1);
	memcpy(buf + sizeof a->salt + ul + 1 + pl + 1, hash, hl);
	rc = sym_gnutls_hash_fast(GNUTLS_DIG_SHA256, buf, n, key);
	explicit_bzero(buf, n);
	free(buf);
	return rc < 0 ? -1 : 0;
}

static struct cached *
cache_find(struct auth *a, const unsigned char *key)
{
	struct cached *hit = NULL;

	/* Every slot is compared, so a hit costs the same wherever it is. */
	for (size_t i = 0; i < AUTH_CACHE_SIZE; i++)
		if (a->cache[i].used_ms != 0 && equal_ct(a->cache[i].key, key, KEY_LEN))
			hit = &a->cache[i];
	return hit;
}

static void
cache_put(struct auth *a, const unsigned char *key, int64_t now_ms)
{
	struct cached *victim = &a->cache[0];

	for (size_t i = 0; i < AUTH_CACHE_SIZE; i++) {
		if (a->cache[i].used_ms == 0) {
			victim = &a->cache[i];
			break;
		}
		if (a->cache[i].used_ms < victim->used_ms)
			victim = &a->cache[i];
	}
	memcpy(victim->key, key, KEY_LEN);
	victim->used_ms = now_ms > 0 ? now_ms : 1;
}

/* The throttle's view of an address: IPv4 whole, IPv6 by /64 (one host
 * usually holds a whole /64). */
static void
addr_of(const struct sockaddr *sa, unsigned char *addr, int *family)
{
	memset(addr, 0, 16);
	*family = AF_UNSPEC;
	if (sa == NULL)
		return;
	if (sa->sa_family == AF_INET) {
		memcpy(addr, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
		*family = AF_INET;
	} else if (sa->sa_family == AF_INET6) {
		const unsigned char *b =
		    ((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr.s6_addr;
		static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
		if (memcmp(b, mapped, 12) == 0) {
			memcpy(addr, b + 12, 4);
			*family = AF_INET;
		} else {
			memcpy(addr, b, 8);
			*family = AF_INET6;
		}
	}
}

static struct tracked *
tracked_find(struct auth *a, const unsigned char *addr, int family, int create, int64_t now_ms)
{
	struct tracked *victim = &a->addrs[0];

	for (size_t i = 0; i < AUTH_TRACKED_ADDRS; i++) {
		struct tracked *t = &a->addrs[i];
		if (t->seen_ms != 0 && t->family == family && memcmp(t->addr, addr, 16) == 0)
			return t;
		if (t->seen_ms < victim->seen_ms)
			victim = t;
	}
	if (!create)
		return NULL;
	memset(victim, 0, sizeof *victim);
	memcpy(victim->addr, addr, 16);
	victim->family = family;
	victim->first_ms = now_ms;
	victim->seen_ms = now_ms > 0 ? now_ms : 1;
	return victim;
}

static unsigned
seconds_until(int64_t when_ms, int64_t now_ms)
{
	return (unsigned)((when_ms - now_ms + 999) / 1000);
}

/*
 * The order matters:
 * 1. A cached success answers at once, even for a locked-out address, so
 *    an attacker sharing the address (NAT) cannot lock Prometheus out.
 * 2. A locked-out address, or a spent global budget, is refused without
 *    running bcrypt: that is the point of throttling.
 * 3. Otherwise bcrypt runs, also for an unknown user (against a dummy
 *    hash), so response times do not tell which user names exist.
 */
enum auth_result
auth_check(struct auth *a, const struct webcfg *cfg, const char *user, const char *pass,
    const struct sockaddr *peer, int64_t now_ms, unsigned *retry_after_s)
{
	/* A valid hash of a random password nobody knows, cost 10 like the
	 * usual htpasswd -B; only its cost matters. */
	static const char dummy[] = "$2b$10$YNnhe9YM8bIr/9Veztb2tu4y.0EvwNlGIZQ65.YJ4Xxb54vLJ31G6";
	const struct webcfg_user *u = NULL;
	unsigned char key[KEY_LEN], addr[16];
	struct tracked *t;
	enum auth_result res;
	int family;

	*retry_after_s = 0;
	for (size_t i = 0; cfg != NULL && i < cfg->nusers; i++)
		if (strcmp(cfg->users[i].name, user) == 0)
			u = &cfg->users[i];

	pthread_mutex_lock(&a->lock);
	/* Out of memory for the key: the check still runs, uncached. */
	int have_key = u != NULL && cache_key(a, user, pass, u->hash, key) == 0;
	struct cached *hit = have_key ? cache_find(a, key) : NULL;
	if (hit != NULL) {
		hit->used_ms = now_ms > 0 ? now_ms : 1;
		a->cache_hits++;
		pthread_mutex_unlock(&a->lock);
		return AUTH_OK;
	}

	addr_of(peer, addr, &family);
	t = tracked_find(a, addr, family, 0, now_ms);
	if (t != NULL && t->locked_until_ms > now_ms) {
		*retry_after_s = seconds_until(t->locked_until_ms, now_ms);
		pthread_mutex_unlock(&a->lock);
		return AUTH_THROTTLED;
	}
	if (now_ms / 1000 != a->budget_second) {
		a->budget_second = now_ms / 1000;
		a->budget_used = 0;
	}
	if (a->budget_used >= AUTH_UNCACHED_PER_S) {
		*retry_after_s = 1;
		pthread_mutex_unlock(&a->lock);
		return AUTH_THROTTLED;
	}
	a->budget_used++;
	a->bcrypt_checks++;

	const char *hash = u != NULL ? u->hash : dummy;
	const char *got = crypt_rn(pass, hash, &a->cd, sizeof a->cd);
	res = u != NULL && got != NULL && strlen(got) == strlen(hash) &&
	    equal_ct((const unsigned char *)got, (const unsigned char *)hash, strlen(hash)) ?
	    AUTH_OK : AUTH_DENIED;
	explicit_bzero(&a->cd, sizeof a->cd);

	if (res == AUTH_OK) {
		if (have_key)
			cache_put(a, key, now_ms);
		if (t != NULL)
			t->failures = 0;
	} else {
		if (t == NULL)
			t = tracked_find(a, addr, family, 1, now_ms);
		if (now_ms - t->first_ms > AUTH_FAIL_WINDOW_MS) {
			t->first_ms = now_ms;
			t->failures = 0;
		}
		t->seen_ms = now_ms > 0 ? now_ms : 1;
		if (++t->failures >= AUTH_MAX_FAILURES) {
			t->locked_until_ms = now_ms + AUTH_LOCKOUT_MS;
			t->failures = 0;
			t->first_ms = now_ms;
		}
	}
	pthread_mutex_unlock(&a->lock);
	return res;
}
