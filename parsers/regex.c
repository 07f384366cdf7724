/*
 * regex.c - the PCRE2 calls every pattern-based parser shares (the
 * built-ins' patterns and the custom parsers'): compile the way log lines
 * need, match with the match data the registry lends, read a group.
 */
#include "parsers/regex.h"

#include <stdio.h>

int
mp_re_compile(pcre2_code **out, const char *pattern, uint32_t options,
    char *err, size_t errlen)
{
	PCRE2_UCHAR msg[160];
	PCRE2_SIZE erroff;
	uint32_t captures = 0;
	int errcode;

	/* Never UTF: log bytes are not guaranteed to be UTF-8, and an invalid
	 * sequence must not make a line unmatchable. DOTALL because a line is
	 * a byte string in which no byte is special. */
	*out = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED,
	    options | PCRE2_NEVER_UTF | PCRE2_DOTALL, &errcode, &erroff, NULL);
	if (*out == NULL) {
		pcre2_get_error_message(errcode, msg, sizeof msg);
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "pattern error at offset %zu: %s",
			    (size_t)erroff, (const char *)msg);
		return -1;
	}
	pcre2_pattern_info(*out, PCRE2_INFO_CAPTURECOUNT, &captures);
	if (captures + 1 > MP_RE_MAX_PAIRS) {
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "pattern has too many capture groups");
		pcre2_code_free(*out);
		*out = NULL;
		return -1;
	}
	/* Without JIT (e.g. an SELinux policy that forbids executable
	 * memory) the interpreter still matches, only slower. */
	(void)pcre2_jit_compile(*out, PCRE2_JIT_COMPLETE);
	return 0;
}

int
mp_re_match(const pcre2_code *re, const struct mp_re_env *env, const char *s,
    size_t len)
{
	int rc;

	rc = pcre2_match(re, (PCRE2_SPTR)s, len, 0, 0, env->md, env->mctx);
	return rc > 0 ? rc : 0;
}

int
mp_re_group(const struct mp_re_env *env, const char *s, int n, const char **p,
    size_t *plen)
{
	PCRE2_SIZE *ov = pcre2_get_ovector_pointer(env->md);

	if (n < 0 || (uint32_t)n >= pcre2_get_ovector_count(env->md) ||
	    ov[2 * n] == PCRE2_UNSET) {
		*p = NULL;
		*plen = 0;
		return -1;
	}
	*p = s + ov[2 * n];
	*plen = ov[2 * n + 1] - ov[2 * n];
	return 0;
}
