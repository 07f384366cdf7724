/*
 * test_postfix_scan.c - parsers/postfix.c's delivery scanner against the
 * pattern it stands in for: on hand-made edge cases and on random lines
 * built from the pattern's own pieces, mp_postfix_delivery_scan must find
 * the groups PCRE2 finds with mp_postfix_delivery_re, or say -1 (only the
 * pattern can tell), never a different answer.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parsers/parser.h"

static pcre2_code *re;
static pcre2_match_data *md;
static int fallbacks;

/* Compare the scanner with PCRE2 on line[0..n). Each line is an
 * exact-length copy, so a read past its end shows in the sanitizer build. */
static void
check(const char *line, size_t n)
{
	char *m = malloc(n ? n : 1);
	const char *grp[3];
	size_t glen[3];
	int r, rc;

	assert_non_null(m);
	memcpy(m, line, n);
	r = mp_postfix_delivery_scan(m, n, grp, glen);
	rc = pcre2_match(re, (PCRE2_SPTR)m, n, 0, 0, md, NULL);
	if (r < 0) {
		fallbacks++;
		free(m);
		return;
	}
	if ((rc > 0) != (r == 1))
		fail_msg("\"%.*s\": scanner %d, PCRE2 %d", (int)n, m, r, rc);
	if (r == 1) {
		PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);

		for (int g = 0; g < 3; g++) {
			int unset = (uint32_t)(g + 1) >= (uint32_t)rc || ov[2 * (g + 1)] == PCRE2_UNSET;

			if (unset ? grp[g] != NULL :
			    (grp[g] != m + ov[2 * (g + 1)] ||
			    glen[g] != ov[2 * (g + 1) + 1] - ov[2 * (g + 1)]))
				fail_msg("\"%.*s\": group %d: scanner \"%.*s\", PCRE2 %s\"%.*s\"",
				    (int)n, m, g + 1, grp[g] ? (int)glen[g] : 6,
				    grp[g] ? grp[g] : "(none)", unset ? "(none) " : "",
				    unset ? 0 : (int)(ov[2 * (g + 1) + 1] - ov[2 * (g + 1)]),
				    unset ? "" : m + ov[2 * (g + 1)]);
		}
	}
	free(m);
}

static int
setup(void **state)
{
	int code;
	PCRE2_SIZE off;

	(void)state;
	re = pcre2_compile((PCRE2_SPTR)mp_postfix_delivery_re, PCRE2_ZERO_TERMINATED,
	    PCRE2_NEVER_UTF | PCRE2_DOTALL, &code, &off, NULL);
	md = pcre2_match_data_create(8, NULL);
	return re == NULL || md == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	(void)state;
	pcre2_code_free(re);
	pcre2_match_data_free(md);
	return 0;
}

static void
test_edges(void **state)
{
	static const char *const lines[] = {
		"4F2A: to=<a@b.example>, relay=mx[192.0.2.1]:25, delay=1.2, delays=0.1/0/0.5/0.6, dsn=2.0.0, status=sent (250 2.0.0 Ok)",
		"4F2A: to=<a@b>, orig_to=<c@d>, relay=local, delay=0, dsn=5.1.1, status=bounced (user unknown)",
		"4F2A: from=<s@x>, status=expired, returned to sender",
		"4F2A: to=<>, dsn=4.4.1, status=deferred",
		"4F2A: to=<a>, status=sent",
		"4F2A: status=sent",
		"4F2A: status=",                       /* no status word */
		"4F2A: status=s",                      /* the line ends in it */
		"4F2A: dsn=2.0.0, status=sent",        /* dsn right after the ID */
		"4F2A: dsn=2.0.0, status=",            /* dsn, then no word */
		"4F2A: dsn=2.0.0, x=1, status=sent",   /* dsn not right before status */
		"4F2A: dsn=, status=sent",             /* empty dsn */
		"4F2A: dsn=2.0.0",                     /* no comma after the dsn */
		"4F2A: to=<a>, b>, dsn=2.0.0, status=sent", /* ">, " twice */
		"4F2A: to=<a, status=sent>, x",        /* the status inside the address */
		"4F2A: to=<a>, nothing here",          /* -1: the pattern decides */
		"4F2A: to=<a@b>",                      /* no ">, " */
		"4F2A: to=<a, status=bounced",         /* no ">, ", a status after */
		"4F2A:, status=sent",
		"4F2A:status=sent",
		": status=sent",                       /* no queue ID */
		"NOQUEUE: status=sent",
		"4F-2A: status=sent",                  /* '-' ends the ID early */
		"4F2A: , , , status=sent",
		"4F2A: ,status=sent, status=bounced",
		"4F2A: x, dsn=1, dsn=2, status=sent",
		"4F2A: x, dsn=1,, status=sent",
		"4F2A: x, dsn=1\n2, status=sent\nx",  /* DOTALL: '\n' is a byte */
		"4F2A: x, status=sent9",
		"4F2A: x, status=SOFTBOUNCE (x)",
		"4F2A: to=<a>, , status=sent",
		"4F2A: to=<a>, status=sent, dsn=2.0.0, status=bounced",
		"4F2A: ",
		"4F2A:",
		"",
	};

	(void)state;
	for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++)
		check(lines[i], strlen(lines[i]));
	/* Every prefix of the first line: line ends at every field. */
	for (size_t n = 0; n <= strlen(lines[0]); n++)
		check(lines[0], n);
}

/* Random lines from the pattern's pieces, so that ", ", "dsn=", ">, " and
 * "status=" meet in every order; the same seed every run. */
static void
test_random(void **state)
{
	static const char *const pieces[] = {
		", ", ",", " ", "dsn=", "status=", "sent", "to=<", ">", ">, ", "a", "2.0.0",
		"x=y", ":", "\n", "S",
	};
	const size_t np = sizeof pieces / sizeof pieces[0];
	char line[256];
	uint64_t seed = 20261206;
	int matched = 0;

	(void)state;
	for (int k = 0; k < 200000; k++) {
		size_t n;
		int npieces;

		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		n = (size_t)snprintf(line, sizeof line, "%s", (seed >> 60) < 2 ? "" : "4F2A: ");
		npieces = (int)((seed >> 33) % 12);
		for (int j = 0; j < npieces; j++) {
			const char *p;

			seed = seed * 6364136223846793005ull + 1442695040888963407ull;
			p = pieces[(seed >> 33) % np];
			if (n + strlen(p) >= sizeof line)
				break;
			memcpy(line + n, p, strlen(p));
			n += strlen(p);
		}
		check(line, n);
		matched += pcre2_match(re, (PCRE2_SPTR)line, n, 0, 0, md, NULL) > 0;
	}
	printf("random: 200000 lines, %d matched, %d left to the pattern\n", matched, fallbacks);
	/* Enough of both for the comparison to mean something. */
	assert_true(matched > 5000);
	assert_true(fallbacks < 200000 / 10);
}

/* mp_filter_name (scan.c) against the eight searches it replaced. */
static int
filter_name_ref(const char *s, size_t len)
{
	static const char *const names[] = { "amavis", "spamassassin",
		"spamc", "dfilt", "rspamd", "clamsmtp", "mailscanner",
		"content_filter", "filter" };

	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (mp_find(s, len, names[i], strlen(names[i])) != NULL)
			return 1;
	return 0;
}

static void
check_filter(const char *s, size_t n)
{
	char *m = malloc(n ? n : 1);

	assert_non_null(m);
	memcpy(m, s, n);
	if (mp_filter_name(m, n) != filter_name_ref(m, n))
		fail_msg("\"%.*s\": mp_filter_name %d, the searches %d", (int)n, m,
		    mp_filter_name(m, n), filter_name_ref(m, n));
	free(m);
}

static void
test_filter_name(void **state)
{
	static const char *const names[] = { "amavis", "spamassassin", "spamc", "dfilt",
		"rspamd", "clamsmtp", "mailscanner", "content_filter", "filter", "spam",
		"AMAVIS", "Filter", "spamassassi", "clamsmt" };
	char buf[64];
	int hits = 0;

	(void)state;
	for (size_t k = 0; k < sizeof names / sizeof names[0]; k++)
		for (size_t pre = 0; pre <= 9; pre++)
			for (size_t post = 0; post <= 3; post++) {
				size_t n = (size_t)snprintf(buf, sizeof buf, "%.*s%s%.*s", (int)pre,
				    "smtp_relay", names[k], (int)post, "_in");

				/* Every prefix too: the name cut at every byte. */
				for (size_t cut = 0; cut <= n; cut++)
					check_filter(buf, cut);
				hits += filter_name_ref(buf, n);
			}
	check_filter("", 0);
	assert_true(hits > 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_edges),
		cmocka_unit_test(test_random),
		cmocka_unit_test(test_filter_name),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
