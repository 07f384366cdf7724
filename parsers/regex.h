/*
 * regex.h - the PCRE2 helpers of parsers/ (regex.c): the built-in parsers'
 * patterns and the custom parsers' are compiled and matched the same way.
 * Internal to parsers/.
 */
#ifndef MP_REGEX_H
#define MP_REGEX_H

#include <stddef.h>
#include <stdint.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

/* Capture pairs in the registry's shared match data: the limit on a
 * pattern's capture groups (mp_re_compile refuses more). */
#define MP_RE_MAX_PAIRS 20

struct mp_settings;

/* Owned by the registry, lent to every parser's init() and kept by it.
 * settings is the registry's too (parsers/parser.h), and may change between
 * two lines (never during one), so parsers read it per line and never copy
 * it. */
struct mp_re_env {
	pcre2_match_data *md;
	pcre2_match_context *mctx;
	const struct mp_settings *settings;
};

/*
 * mp_re_compile: compile pattern (non-UTF, so any byte matches; JIT when
 * the platform allows it) into *out. Returns 0, or -1 with a reason in err.
 * mp_re_match: match re against s[0..len) from the start of s, using the
 * env's match data. Returns the number of capture pairs set (>= 1), or 0 for
 * no match (errors, such as a hit match limit, count as no match).
 * mp_re_group: capture n of the last match, as pointer and length into s;
 * returns 0, or -1 (and *p = NULL) if the group did not participate.
 */
int mp_re_compile(pcre2_code **out, const char *pattern, uint32_t options,
    char *err, size_t errlen);
int mp_re_match(const pcre2_code *re, const struct mp_re_env *env,
    const char *s, size_t len);
int mp_re_group(const struct mp_re_env *env, const char *s, int n,
    const char **p, size_t *plen);

#endif
