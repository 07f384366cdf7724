/*
 * test_auth.c - basic auth (web/auth.c): bcrypt through libcrypt, the cache
 * of successes (one bcrypt per credential, keyed so that a changed hash
 * never matches), the per-address lockout and the global cap on uncached
 * checks. Time is passed in, so the throttle is tested without sleeping.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "web/auth.h"
#include "web/webconfig.h"

/* crypt("secret", a $2b$10$ salt) and crypt("other", $2y$04$), made with
 * libcrypt's crypt_gensalt. */
#define HASH_SECRET "$2b$10$.rkhNHnoSOCU85bnoeFSkeWui2fhInMunGBIyx1lJEpQwPuUFa3ry"
#define HASH_OTHER_4 "$2y$04$0MKPdU1qUQR3aatqlnjGX.AchzsePSZ1RAtAba2AY6cIeAWvx1w8."

static struct sockaddr_in
v4(const char *ip)
{
	struct sockaddr_in a;
	memset(&a, 0, sizeof a);
	a.sin_family = AF_INET;
	inet_pton(AF_INET, ip, &a.sin_addr);
	return a;
}

#define SA(x) ((const struct sockaddr *)(const void *)&(x))

static void
test_cache(void **state)
{
	(void)state;
	struct webcfg_user users[] = {
		{ (char *)"prom", (char *)HASH_SECRET },
		{ (char *)"low", (char *)HASH_OTHER_4 },
	};
	struct webcfg cfg = { .users = users, .nusers = 2 };
	struct auth *a = auth_new();
	struct sockaddr_in ip = v4("192.0.2.1");
	uint64_t checks, hits;
	unsigned retry;

	assert_non_null(a);
	assert_int_equal(auth_check(a, &cfg, "prom", "secret", SA(ip), 1000, &retry), AUTH_OK);
	assert_int_equal(auth_check(a, &cfg, "prom", "secret", SA(ip), 1001, &retry), AUTH_OK);
	assert_int_equal(auth_check(a, &cfg, "prom", "secret", SA(ip), 1002, &retry), AUTH_OK);
	auth_stats(a, &checks, &hits);
	assert_int_equal(checks, 1);
	assert_int_equal(hits, 2);
	/* $2y$ too; a wrong password, an unknown user and an empty password
	 * all run bcrypt and fail. */
	assert_int_equal(auth_check(a, &cfg, "low", "other", SA(ip), 1003, &retry), AUTH_OK);
	assert_int_equal(auth_check(a, &cfg, "prom", "Secret", SA(ip), 1004, &retry), AUTH_DENIED);
	assert_int_equal(auth_check(a, &cfg, "nobody", "secret", SA(ip), 1005, &retry),
	    AUTH_DENIED);
	assert_int_equal(auth_check(a, &cfg, "prom", "", SA(ip), 1006, &retry), AUTH_DENIED);
	auth_stats(a, &checks, &hits);
	assert_int_equal(checks, 5);
	/* The user's hash is in the key: a changed password in the file is
	 * not matched by the old cache entry. */
	users[0].hash = (char *)HASH_OTHER_4;
	assert_int_equal(auth_check(a, &cfg, "prom", "secret", SA(ip), 3000, &retry), AUTH_DENIED);
	users[0].hash = (char *)HASH_SECRET;
	assert_int_equal(auth_check(a, &cfg, "prom", "secret", SA(ip), 3001, &retry), AUTH_OK);
	auth_stats(a, &checks, &hits);
	assert_int_equal(hits, 3);
	/* A reset forgets it: bcrypt runs again. */
	auth_reset(a);
	assert_int_equal(auth_check(a, &cfg, "prom", "secret", SA(ip), 5000, &retry), AUTH_OK);
	auth_stats(a, &checks, &hits);
	assert_int_equal(checks, 7);
	/* No users configured: nobody gets in. */
	struct webcfg none = { 0 };
	assert_int_equal(auth_check(a, &none, "prom", "secret", SA(ip), 7000, &retry), AUTH_DENIED);
	auth_free(a);
	auth_free(NULL);
}

/* The cache is bounded: AUTH_CACHE_SIZE + 1 distinct successes evict the
 * least recently used one. */
static void
test_cache_bound(void **state)
{
	(void)state;
	struct webcfg_user users[AUTH_CACHE_SIZE + 1];
	char names[AUTH_CACHE_SIZE + 1][8];
	struct webcfg cfg = { .users = users, .nusers = AUTH_CACHE_SIZE + 1 };
	struct auth *a = auth_new();
	uint64_t checks, hits;
	unsigned retry;
	int64_t t = 10000;

	for (int i = 0; i <= AUTH_CACHE_SIZE; i++) {
		snprintf(names[i], sizeof names[i], "u%d", i);
		users[i].name = names[i];
		users[i].hash = (char *)HASH_OTHER_4;
	}
	/* One second per check keeps the global cap out of the way. */
	for (int i = 0; i <= AUTH_CACHE_SIZE; i++, t += 1000)
		assert_int_equal(auth_check(a, &cfg, names[i], "other", NULL, t, &retry), AUTH_OK);
	auth_stats(a, &checks, &hits);
	assert_int_equal(checks, AUTH_CACHE_SIZE + 1);
	/* u0 was evicted; the newest is still there. */
	assert_int_equal(auth_check(a, &cfg, names[AUTH_CACHE_SIZE], "other", NULL, t, &retry),
	    AUTH_OK);
	assert_int_equal(auth_check(a, &cfg, names[0], "other", NULL, t + 1000, &retry), AUTH_OK);
	auth_stats(a, &checks, &hits);
	assert_int_equal(hits, 1);
	assert_int_equal(checks, AUTH_CACHE_SIZE + 2);
	auth_free(a);
}

static void
test_lockout(void **state)
{
	(void)state;
	struct webcfg_user users[] = { { (char *)"prom", (char *)HASH_OTHER_4 } };
	struct webcfg cfg = { .users = users, .nusers = 1 };
	struct auth *a = auth_new();
	struct sockaddr_in bad = v4("192.0.2.66"), good = v4("192.0.2.1");
	struct sockaddr_in6 v6a, v6b;
	uint64_t checks, hits;
	unsigned retry;
	int64_t t = 100000;

	/* Prometheus logs in first, from the same address as the attacker. */
	assert_int_equal(auth_check(a, &cfg, "prom", "other", SA(bad), t, &retry), AUTH_OK);
	for (int i = 0; i < AUTH_MAX_FAILURES; i++, t += 1000)
		assert_int_equal(auth_check(a, &cfg, "prom", "guess", SA(bad), t, &retry),
		    AUTH_DENIED);
	auth_stats(a, &checks, &hits);
	assert_int_equal(checks, 1 + AUTH_MAX_FAILURES);
	/* Locked out: refused without running bcrypt, with a Retry-After. */
	assert_int_equal(auth_check(a, &cfg, "prom", "guess", SA(bad), t, &retry), AUTH_THROTTLED);
	assert_true(retry > 0 && retry <= AUTH_LOCKOUT_MS / 1000);
	auth_stats(a, &checks, &hits);
	assert_int_equal(checks, 1 + AUTH_MAX_FAILURES);
	/* The cached login still works from there; another address is not
	 * affected. */
	assert_int_equal(auth_check(a, &cfg, "prom", "other", SA(bad), t, &retry), AUTH_OK);
	assert_int_equal(auth_check(a, &cfg, "prom", "nope", SA(good), t, &retry), AUTH_DENIED);
	/* After the lockout, checks run again. */
	t += AUTH_LOCKOUT_MS;
	assert_int_equal(auth_check(a, &cfg, "prom", "guess", SA(bad), t, &retry), AUTH_DENIED);

	/* IPv6 is throttled by /64: two hosts of one /64 share a budget. */
	memset(&v6a, 0, sizeof v6a);
	v6a.sin6_family = AF_INET6;
	inet_pton(AF_INET6, "2001:db8:1:2::1", &v6a.sin6_addr);
	v6b = v6a;
	inet_pton(AF_INET6, "2001:db8:1:2::ffff", &v6b.sin6_addr);
	t += 10000;
	for (int i = 0; i < AUTH_MAX_FAILURES; i++, t += 1000)
		assert_int_equal(auth_check(a, &cfg, "prom", "x", i % 2 ? SA(v6a) : SA(v6b), t,
		    &retry), AUTH_DENIED);
	assert_int_equal(auth_check(a, &cfg, "prom", "x", SA(v6b), t, &retry), AUTH_THROTTLED);
	auth_free(a);
}

/* Many addresses in one second: past AUTH_UNCACHED_PER_S, refused. */
static void
test_global_cap(void **state)
{
	(void)state;
	struct webcfg_user users[] = { { (char *)"prom", (char *)HASH_OTHER_4 } };
	struct webcfg cfg = { .users = users, .nusers = 1 };
	struct auth *a = auth_new();
	unsigned retry;
	char ip[32];
	int i;

	for (i = 0; i < AUTH_UNCACHED_PER_S; i++) {
		snprintf(ip, sizeof ip, "198.51.100.%d", i + 1);
		struct sockaddr_in s = v4(ip);
		assert_int_equal(auth_check(a, &cfg, "prom", "x", SA(s), 50000, &retry), AUTH_DENIED);
	}
	struct sockaddr_in s = v4("203.0.113.9");
	assert_int_equal(auth_check(a, &cfg, "prom", "other", SA(s), 50500, &retry),
	    AUTH_THROTTLED);
	assert_int_equal(retry, 1);
	assert_int_equal(auth_check(a, &cfg, "prom", "other", SA(s), 51000, &retry), AUTH_OK);
	auth_free(a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cache),
		cmocka_unit_test(test_cache_bound),
		cmocka_unit_test(test_lockout),
		cmocka_unit_test(test_global_cap),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
