/*
 * test_reasons.c - the failure-reason classifier (parsers/reason.c) on the
 * real replies of tests/data/reasons/golden.tsv, user rules from
 * --config.file overriding the built-in ones, the closed set, every kind
 * of bad rule, and the counter family it feeds.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "store/aggregate.h"
#include "daemon/config.h"
#include "web/expo.h"
#include "parsers/reason.h"
#include "tests/xorshift.h"

#define GOLDEN TESTS_DIR "/data/reasons/golden.tsv"

/*
 * pcre2_compile, wrapped (tests/meson.build links with
 * -Wl,--wrap=pcre2_compile_8): every call is counted, and while
 * fail_compiles is set each one fails as PCRE2 does without memory.
 */
pcre2_code *__real_pcre2_compile_8(PCRE2_SPTR, PCRE2_SIZE, uint32_t, int *, PCRE2_SIZE *,
    pcre2_compile_context *);
pcre2_code *__wrap_pcre2_compile_8(PCRE2_SPTR, PCRE2_SIZE, uint32_t, int *, PCRE2_SIZE *,
    pcre2_compile_context *);
static int fail_compiles;
static size_t compiles;

pcre2_code *
__wrap_pcre2_compile_8(PCRE2_SPTR p, PCRE2_SIZE len, uint32_t opts, int *code, PCRE2_SIZE *off,
    pcre2_compile_context *ctx)
{
	compiles++;
	if (fail_compiles) {
		*code = PCRE2_ERROR_HEAPLIMIT;
		*off = 0;
		return NULL;
	}
	return __real_pcre2_compile_8(p, len, opts, code, off, ctx);
}

static enum reason
classify(struct reason_set *rs, unsigned code, const char *enh, const char *text)
{
	struct mp_enhanced e = { 0, 0, 0 };

	if (enh != NULL)
		assert_int_equal(mp_parse_enhanced(enh, strlen(enh), &e), strlen(enh));
	return reason_classify_reply(rs, code, &e, text, text ? strlen(text) : 0);
}

/* The next row of golden.tsv into col (code, enhanced, text, reason,
 * source), pointing into line; 0 at the end of the file. */
static int
golden_row(FILE *fp, char *line, size_t size, char *col[5], int *lineno)
{
	while (fgets(line, (int)size, fp) != NULL) {
		char *p = line;
		int k;

		(*lineno)++;
		line[strcspn(line, "\n")] = '\0';
		if (line[0] == '#' || line[0] == '\0')
			continue;
		for (k = 0; k < 5 && p != NULL; k++) {
			col[k] = p;
			if ((p = strchr(p, '\t')) != NULL)
				*p++ = '\0';
		}
		if (k != 5 || p != NULL || col[4][0] == '\0')
			fail_msg("%s:%d: want 5 tab-separated columns, the last a source", GOLDEN,
			    *lineno);
		return 1;
	}
	return 0;
}

static enum reason
classify_row(struct reason_set *rs, char *col[5])
{
	return classify(rs, strcmp(col[0], "-") ? (unsigned)atoi(col[0]) : 0,
	    strcmp(col[1], "-") ? col[1] : NULL, col[2]);
}

/* Every golden reply gets the reason a postmaster would give it. All
 * mismatches are listed before the test fails. */
static void
test_golden(void **state)
{
	(void)state;
	char err[512], line[4096], *col[5];
	struct reason_set *rs = reason_set_new(NULL, 0, NULL, err, sizeof err);
	FILE *fp = fopen(GOLDEN, "r");
	int n = 0, bad = 0, lineno = 0;
	int seen[REASON_COUNT] = { 0 };

	assert_non_null(rs);
	assert_non_null(fp);
	while (golden_row(fp, line, sizeof line, col, &lineno)) {
		int want = reason_from_name(col[3]);
		if (want < 0)
			fail_msg("%s:%d: \"%s\" is not a reason", GOLDEN, lineno, col[3]);
		enum reason got = classify_row(rs, col);
		if ((int)got != want) {
			printf("%s:%d: got %s, want %s: %s %s %s\n", GOLDEN, lineno,
			    reason_name(got), col[3], col[0], col[1], col[2]);
			bad++;
		}
		seen[want]++;
		n++;
	}
	fclose(fp);
	reason_set_free(rs);
	printf("golden replies: %d, classified as expected: %d\n", n, n - bad);
	assert_true(n >= 100);
	assert_int_equal(bad, 0);
	/* The golden set exercises every reason but the fallback and
	 * not_attempted, which no reply text gives (the parser's flag does;
	 * see test_not_attempted). */
	for (int r = 0; r < REASON_OTHER; r++)
		if (seen[r] == 0 && r != REASON_NOT_ATTEMPTED)
			fail_msg("no golden reply for %s", reason_name((enum reason)r));
}

/* Every built-in pattern compiles (reason.c compiles them only when they
 * must first run, so a broken one would otherwise show only then). */
static void
test_builtins_compile(void **state)
{
	(void)state;
	size_t n = 0;

	for (size_t i = 0; i < reason_builtins_count; i++) {
		const struct reason_builtin *b = &reason_builtins[i];
		int code;
		PCRE2_SIZE off;
		pcre2_code *re;

		if (b->pattern == NULL)
			continue;
		re = pcre2_compile((PCRE2_SPTR)b->pattern, PCRE2_ZERO_TERMINATED, PCRE2_CASELESS,
		    &code, &off, NULL);
		if (re == NULL)
			fail_msg("parsers/reasons.rules:%u: the pattern does not compile (error %d "
			    "at offset %zu)", b->line, code, (size_t)off);
		pcre2_code_free(re);
		n++;
	}
	assert_true(n >= 20);
}

/*
 * A built-in pattern is compiled the first time a reply needs it, once:
 * a new set has compiled none, a status its code decides compiles none,
 * and over the golden replies, each classified twice, every compile is a
 * pattern not compiled before, the second pass compiles nothing, and the
 * answers are the golden ones throughout.
 */
static void
test_builtins_compiled_at_first_need(void **state)
{
	(void)state;
	char err[512], line[4096], *col[5];
	size_t before = compiles;
	struct reason_set *rs = reason_set_new(NULL, 0, NULL, err, sizeof err);
	FILE *fp = fopen(GOLDEN, "r");
	int lineno = 0;

	assert_non_null(rs);
	assert_non_null(fp);
	assert_int_equal(compiles, before);
	assert_int_equal(reason_set_compiled(rs), 0);
	/* 535 without text: authentication_failed by its code alone. */
	assert_int_equal(classify(rs, 535, NULL, NULL), REASON_AUTHENTICATION_FAILED);
	assert_int_equal(reason_set_compiled(rs), 0);
	for (int pass = 0; pass < 2; pass++) {
		rewind(fp);
		lineno = 0;
		while (golden_row(fp, line, sizeof line, col, &lineno)) {
			size_t had = reason_set_compiled(rs);
			assert_int_equal((int)classify_row(rs, col), reason_from_name(col[3]));
			if (pass == 1)
				assert_int_equal(reason_set_compiled(rs), had);
		}
		assert_int_equal(compiles - before, reason_set_compiled(rs));
	}
	/* The golden replies need patterns: the walk did compile some. */
	assert_true(reason_set_compiled(rs) > 0);
	fclose(fp);
	reason_set_free(rs);
}

/*
 * A built-in pattern that cannot be compiled (PCRE2 out of memory) does
 * not hold: the walk goes on to the next rule, nothing is kept, and the
 * next reply that needs the pattern compiles it and gets its reason.
 */
static void
test_builtin_compile_fails(void **state)
{
	(void)state;
	char err[512], line[4096], *col[5];
	struct reason_set *rs = reason_set_new(NULL, 0, NULL, err, sizeof err);
	FILE *fp = fopen(GOLDEN, "r");
	int lineno = 0, changed = 0;

	assert_non_null(rs);
	assert_non_null(fp);
	while (golden_row(fp, line, sizeof line, col, &lineno)) {
		int want = reason_from_name(col[3]);
		size_t had = reason_set_compiled(rs), tried = compiles;

		fail_compiles = 1;
		enum reason got = classify_row(rs, col);
		fail_compiles = 0;
		assert_int_equal(reason_set_compiled(rs), had);
		if (compiles > tried && (int)got != want)
			changed++;
		assert_int_equal((int)classify_row(rs, col), want);
	}
	/* Some golden reply needed a pattern first compiled under failure. */
	assert_true(changed > 0);
	fclose(fp);
	reason_set_free(rs);

	/* A rule whose literal occurs but whose pattern cannot be compiled
	 * does not hold: "try again later" is the literal of reasons.rules'
	 * anchored 451 x.7.1 greylisting rule, which this text does not
	 * match, and the answer is the one the compiled walk gives. */
	static const char text[] = "451 4.7.1 Try again later, or not";
	enum reason want;

	assert_non_null(rs = reason_set_new(NULL, 0, NULL, err, sizeof err));
	want = classify(rs, 451, "4.7.1", text);
	assert_int_not_equal(want, REASON_GREYLISTED);
	reason_set_free(rs);
	assert_non_null(rs = reason_set_new(NULL, 0, NULL, err, sizeof err));
	fail_compiles = 1;
	assert_int_equal(classify(rs, 451, "4.7.1", text), want);
	fail_compiles = 0;
	assert_int_equal(reason_set_compiled(rs), 0);
	reason_set_free(rs);
}

/* PCRE2's word bytes without UCP, written out here rather than taken
 * from reason.c, so that the two are checked against each other. */
static int
word_byte(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	    c == '_';
}

/* Does lit occur in text, ignoring ASCII case, with the \b's bounds
 * (REASON_WB_*) asks for holding? lit is lower-case. */
static int
occurs(const char *text, const char *lit, unsigned bounds)
{
	size_t n = strlen(text), m = strlen(lit);

	for (size_t i = 0; i + m <= n; i++) {
		size_t j = 0;
		while (j < m && (text[i + j] >= 'A' && text[i + j] <= 'Z' ?
		    text[i + j] + 'a' - 'A' : text[i + j]) == lit[j])
			j++;
		if (j == m && !(bounds & REASON_WB_BEFORE && i > 0 && word_byte(text[i - 1])) &&
		    !(bounds & REASON_WB_AFTER && i + m < n && word_byte(text[i + m])))
			return 1;
	}
	return 0;
}

/* The literal prefilter (gen_reasons.py derives the literals, reason.c
 * skips a built-in pattern when none occurs) changes no result:
 * 1. whenever a built-in pattern matches a golden text, one of its
 *    literals occurs there, for every rule, not only the one that wins;
 * 2. every golden row gets the reason of the plain ordered walk: the
 *    built-ins loaded as user rules, which run every pattern unfiltered
 *    (the filtered built-ins behind them hold only where these would). */
static void
test_prefilter_sound(void **state)
{
	(void)state;
	char err[512], line[4096], *col[5];
	struct reason_def *defs = calloc(reason_builtins_count, sizeof *defs);
	pcre2_code **re = calloc(reason_builtins_count, sizeof *re);
	pcre2_match_data *md = pcre2_match_data_create(1, NULL);
	struct reason_set *fast, *plain;
	FILE *fp = fopen(GOLDEN, "r");
	int lineno = 0, rows = 0, matched = 0, filtered = 0, sure_hits = 0;

	assert_non_null(defs);
	assert_non_null(re);
	assert_non_null(md);
	assert_non_null(fp);
	for (size_t i = 0; i < reason_builtins_count; i++) {
		const struct reason_builtin *b = &reason_builtins[i];
		int code;
		PCRE2_SIZE off;

		defs[i] = (struct reason_def){ reason_name(b->reason), b->pattern, b->code,
		    b->enhanced };
		if (b->literals != NULL) {
			assert_non_null(b->pattern);
			re[i] = pcre2_compile((PCRE2_SPTR)b->pattern, PCRE2_ZERO_TERMINATED,
			    PCRE2_CASELESS, &code, &off, NULL);
			assert_non_null(re[i]);
			filtered++;
		}
	}
	/* Nearly every pattern gets literals; a generator that lost them all
	 * would make this test vacuous. */
	assert_true(filtered >= 20);
	fast = reason_set_new(NULL, 0, NULL, err, sizeof err);
	plain = reason_set_new(defs, reason_builtins_count, NULL, err, sizeof err);
	assert_non_null(fast);
	assert_non_null(plain);
	while (golden_row(fp, line, sizeof line, col, &lineno)) {
		/* 3. a sure literal that occurs means the pattern matches. */
		for (size_t i = 0; i < reason_builtins_count; i++) {
			const struct reason_builtin *b = &reason_builtins[i];

			for (const char *const *l = b->sure; l != NULL && *l != NULL; l++) {
				if (!occurs(col[2], *l, b->sure_bounds ? b->sure_bounds[l - b->sure] : 0))
					continue;
				sure_hits++;
				if (pcre2_match(re[i], (PCRE2_SPTR)col[2], strlen(col[2]), 0, 0, md,
				    NULL) < 0)
					fail_msg("%s:%d: sure literal \"%s\" of parsers/reasons.rules:%u "
					    "occurs, but the pattern does not match: %s", GOLDEN, lineno,
					    *l, reason_builtins[i].line, col[2]);
			}
		}
		for (size_t i = 0; i < reason_builtins_count; i++) {
			const char *const *l;

			if (re[i] == NULL || pcre2_match(re[i], (PCRE2_SPTR)col[2], strlen(col[2]),
			    0, 0, md, NULL) < 0)
				continue;
			matched++;
			for (l = reason_builtins[i].literals; *l != NULL && !occurs(col[2], *l,
			    reason_builtins[i].literal_bounds ?
			    reason_builtins[i].literal_bounds[l - reason_builtins[i].literals] : 0); l++)
				;
			if (*l == NULL)
				fail_msg("%s:%d: parsers/reasons.rules:%u matches, but none of its "
				    "literals occurs: %s", GOLDEN, lineno, reason_builtins[i].line,
				    col[2]);
		}
		enum reason want = classify_row(plain, col), got = classify_row(fast, col);
		if (got != want)
			fail_msg("%s:%d: prefiltered %s, plain walk %s: %s", GOLDEN, lineno,
			    reason_name(got), reason_name(want), col[2]);
		rows++;
	}
	printf("prefilter: %d golden rows, %d pattern matches, each with a literal\n", rows,
	    matched);
	assert_true(rows >= 100);
	assert_true(matched >= rows / 2);
	printf("sure literals: %d occurrences, each a match\n", sure_hits);
	assert_true(sure_hits >= rows / 4);
	fclose(fp);
	reason_set_free(fast);
	reason_set_free(plain);
	for (size_t i = 0; i < reason_builtins_count; i++)
		pcre2_code_free(re[i]);
	pcre2_match_data_free(md);
	free(re);
	free(defs);
}

static void
test_closed_set(void **state)
{
	(void)state;
	assert_int_equal(REASON_COUNT, 18);
	for (int r = 0; r < REASON_COUNT; r++)
		assert_int_equal(reason_from_name(reason_name((enum reason)r)), r);
	assert_int_equal(reason_from_name("Blocklisted"), -1);
	assert_int_equal(reason_from_name("blacklisted"), -1);
	assert_int_equal(reason_from_name(""), -1);
	assert_string_equal(reason_name(REASON_COUNT), "other");
	assert_string_equal(reason_name((enum reason)-1), "other");
}

/* A user rule is tried before the built-ins, so it overrides them; its
 * conditions must all hold. */
static void
test_user_rules_override(void **state)
{
	(void)state;
	char err[512];
	struct reason_def user[] = {
		{ "policy", "blocked using bl\\.example\\.net", NULL, NULL },
		{ "greylisted", NULL, "45x", "4.7.1" },
		{ "local_error", "queue", "5xx", "x.3.x" },
	};
	struct reason_set *rs = reason_set_new(user, 3, NULL, err, sizeof err);

	assert_non_null(rs);
	assert_int_equal(reason_set_user_rules(rs), 3);
	assert_int_equal(classify(rs, 554, "5.7.1",
	    "Service unavailable; Client host [192.0.2.1] blocked using bl.example.net"),
	    REASON_POLICY);
	/* Another list still falls to the built-in rule. */
	assert_int_equal(classify(rs, 554, "5.7.1",
	    "Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org"),
	    REASON_BLOCKLISTED);
	assert_int_equal(classify(rs, 450, "4.7.1", "Client host rejected: Access denied"),
	    REASON_GREYLISTED);
	/* 550 is not 45x: the built-ins decide. */
	assert_int_equal(classify(rs, 550, "4.7.1", "Client host rejected: Access denied"),
	    REASON_POLICY);
	/* No enhanced code: a rule with an enhanced condition does not hold. */
	assert_int_equal(classify(rs, 451, NULL, "queue problem"), REASON_OTHER);
	assert_int_equal(classify(rs, 552, "5.3.1", "queue full"), REASON_LOCAL_ERROR);
	reason_set_free(rs);

	/* Without user rules the first one's text is a blocklist. */
	rs = reason_set_new(NULL, 0, NULL, err, sizeof err);
	assert_non_null(rs);
	assert_int_equal(classify(rs, 554, "5.7.1",
	    "Service unavailable; Client host [192.0.2.1] blocked using bl.example.net"),
	    REASON_BLOCKLISTED);
	assert_int_equal(classify(rs, 550, NULL, "no rule says anything about this"),
	    REASON_OTHER);
	reason_set_free(rs);
}

/*
 * Patterns are JIT-compiled at their first run, not when the set is made:
 * a new set has none compiled; a reply that only a pattern decides
 * compiles that rule's and no other; the same reply again compiles nothing
 * more, and the answers are the same throughout.
 */
static void
test_jit_on_first_use(void **state)
{
	(void)state;
	char err[512];
	uint32_t have_jit = 0;
	struct reason_def user[] = {
		{ "policy", "blocked (by|using) bl[0-9]\\.example\\.net", NULL, NULL },
	};
	struct reason_set *rs = reason_set_new(user, 1, NULL, err, sizeof err);

	assert_non_null(rs);
	assert_int_equal(reason_set_jitted(rs), 0);
	(void)pcre2_config(PCRE2_CONFIG_JIT, &have_jit);
	for (int round = 0; round < 3; round++) {
		assert_int_equal(classify(rs, 554, "5.7.1", "Client host blocked by bl7.example.net"),
		    REASON_POLICY);
		assert_int_equal(reason_set_jitted(rs), have_jit ? 1 : 0);
	}
	/* A reply no pattern needs to read: still only the one. */
	assert_int_equal(classify(rs, 550, NULL, "x"), REASON_OTHER);
	assert_int_equal(reason_set_jitted(rs), have_jit ? 1 : 0);
	reason_set_free(rs);
}

static void
check_bad(const struct reason_def *d, enum reason_field field, const char *want)
{
	char err[512];
	struct reason_error where = { 99, REASON_FIELD_RULE };
	struct reason_def user[2] = { { "policy", "x", NULL, NULL }, *d };

	assert_null(reason_set_new(user, 2, &where, err, sizeof err));
	assert_int_equal(where.rule, 1);
	assert_int_equal(where.field, field);
	assert_string_equal(err, want);
}

static void
test_bad_rules(void **state)
{
	(void)state;
	check_bad(&(struct reason_def){ "blacklisted", "x", NULL, NULL }, REASON_FIELD_REASON,
	    "reason rule 2: reason \"blacklisted\" is not one of unknown_recipient, "
	    "mailbox_full, message_too_big, greylisted, rate_limited, blocklisted, "
	    "spam_content, authentication_failed, reverse_dns, relay_denied, "
	    "sender_rejected, tls_required, dns_failure, connection_failed, local_error, "
	    "policy, not_attempted, other");
	check_bad(&(struct reason_def){ NULL, "x", NULL, NULL }, REASON_FIELD_REASON,
	    "reason rule 2: reason \"\" is not one of unknown_recipient, "
	    "mailbox_full, message_too_big, greylisted, rate_limited, blocklisted, "
	    "spam_content, authentication_failed, reverse_dns, relay_denied, "
	    "sender_rejected, tls_required, dns_failure, connection_failed, local_error, "
	    "policy, not_attempted, other");
	check_bad(&(struct reason_def){ "policy", NULL, NULL, NULL }, REASON_FIELD_RULE,
	    "reason rule 2: no condition (give pattern, code or enhanced)");
	check_bad(&(struct reason_def){ "policy", "(unclosed", NULL, NULL },
	    REASON_FIELD_PATTERN,
	    "reason rule 2: pattern: missing closing parenthesis at offset 9");
	static const char *const bad_codes[] = { "250", "5", "5xxx", "5a0", "" };
	for (size_t i = 0; i < 4; i++) {
		char want[300];
		snprintf(want, sizeof want, "reason rule 2: code \"%s\" is not a failure code "
		    "pattern (want 3 characters, digits or x, starting with 4, 5 or x: 550, "
		    "5xx, 45x)", bad_codes[i]);
		check_bad(&(struct reason_def){ "policy", NULL, bad_codes[i], NULL },
		    REASON_FIELD_CODE, want);
	}
	static const char *const bad_enh[] = {
		"2.0.0", "5.7", "5.7.1.1", "5..1", "5.7.24-20", "5.1000.1", "x.7.a", "5.7.1-",
	};
	for (size_t i = 0; i < sizeof bad_enh / sizeof bad_enh[0]; i++) {
		char want[400];
		snprintf(want, sizeof want, "reason rule 2: enhanced \"%s\" is not an enhanced "
		    "code pattern (want CLASS.SUBJECT.DETAIL, class 4, 5 or x, each other part "
		    "a number, a range such as 20-24, or x: 5.7.1, x.7.20-24, 4.x.x)", bad_enh[i]);
		check_bad(&(struct reason_def){ "policy", NULL, NULL, bad_enh[i] },
		    REASON_FIELD_ENHANCED, want);
	}
}

/* Conditions: ranges, wildcards, and a code condition never holds for a
 * status that quotes no code. */
static void
test_conditions(void **state)
{
	(void)state;
	char err[512];
	struct reason_def user[] = {
		{ "spam_content", NULL, NULL, "x.7.20-22" },
		{ "relay_denied", NULL, "x2x", NULL },
	};
	struct reason_set *rs = reason_set_new(user, 2, NULL, err, sizeof err);

	assert_non_null(rs);
	assert_int_equal(classify(rs, 0, "4.7.20", NULL), REASON_SPAM_CONTENT);
	assert_int_equal(classify(rs, 0, "5.7.22", NULL), REASON_SPAM_CONTENT);
	assert_int_equal(classify(rs, 0, "5.7.23", NULL), REASON_AUTHENTICATION_FAILED);
	assert_int_equal(classify(rs, 421, NULL, NULL), REASON_RELAY_DENIED);
	assert_int_equal(classify(rs, 0, NULL, NULL), REASON_OTHER);
	assert_int_equal(classify(rs, 0, NULL, "Relay access denied"), REASON_RELAY_DENIED);
	reason_set_free(rs);
}

/* A Sendmail status without reply= is classified on the whole message. */
static void
test_event_fallback_text(void **state)
{
	(void)state;
	char err[512];
	struct reason_set *rs = reason_set_new(NULL, 0, NULL, err, sizeof err);
	static const char msg[] = "x1: to=<bob@example.com>, delay=00:00:01, mailer=esmtp, "
	    "stat=Deferred: Connection refused by mx.example.com.";
	struct mp_event ev;

	assert_non_null(rs);
	memset(&ev, 0, sizeof ev);
	ev.kind = MP_EVENT_STATUS;
	ev.cls = 4;
	ev.hdr.msg = msg;
	ev.hdr.msg_len = sizeof msg - 1;
	assert_int_equal(reason_classify(rs, &ev), REASON_CONNECTION_FAILED);
	ev.reply = "452 4.2.2 Mailbox full";
	ev.reply_len = strlen(ev.reply);
	assert_int_equal(reason_classify(rs, &ev), REASON_MAILBOX_FULL);
	reason_set_free(rs);
}

/* A deferral the MTA logged without trying (the parser's not_attempted)
 * is not_attempted whatever its text repeats, user rules included; the
 * same text on a real attempt keeps its reason. */
static void
test_not_attempted(void **state)
{
	(void)state;
	char err[512];
	struct reason_def user[] = { { "policy", "Connection refused", NULL, NULL } };
	static const char text[] = "delivery temporarily suspended: connect to "
	    "mx.example.com[192.0.2.1]:25: Connection refused";
	struct mp_event ev;

	memset(&ev, 0, sizeof ev);
	ev.kind = MP_EVENT_STATUS;
	ev.cls = 4;
	ev.reply = text;
	ev.reply_len = sizeof text - 1;
	for (size_t nuser = 0; nuser <= 1; nuser++) {
		struct reason_set *rs = reason_set_new(user, nuser, NULL, err, sizeof err);

		assert_non_null(rs);
		ev.not_attempted = 0;
		assert_int_equal(reason_classify(rs, &ev),
		    nuser ? REASON_POLICY : REASON_CONNECTION_FAILED);
		ev.not_attempted = 1;
		assert_int_equal(reason_classify(rs, &ev), REASON_NOT_ATTEMPTED);
		reason_set_free(rs);
	}
	assert_string_equal(reason_name(REASON_NOT_ATTEMPTED), "not_attempted");
}

static char path[64];

static void
write_file(const char *text)
{
	int fd;
	FILE *fp;

	snprintf(path, sizeof path, "/tmp/test_reasons.XXXXXX");
	if ((fd = mkstemp(path)) < 0)
		fail_msg("mkstemp failed");
	fp = fdopen(fd, "w");
	assert_non_null(fp);
	assert_true(fputs(text, fp) >= 0);
	assert_int_equal(fclose(fp), 0);
}

static void
check_config_error(const char *text, const char *want)
{
	struct reason_set *rs;
	char err[600], full[700];

	write_file(text);
	assert_int_equal(config_reasons(path, &rs, err, sizeof err), CONFIG_BAD_FILE);
	assert_null(rs);
	snprintf(full, sizeof full, "%s:%s", path, want);
	assert_string_equal(err, full);
	unlink(path);
}

static void
test_config_file(void **state)
{
	(void)state;
	struct reason_set *rs;
	struct mp_registry *reg;
	char err[600];

	write_file(
	    "reasons:\n"
	    "  - reason: policy\n"
	    "    pattern: 'blocked using bl\\.example\\.net'\n"
	    "  - reason: rate_limited\n"
	    "    code: 4xx\n"
	    "    enhanced: x.7.1\n"
	    "    pattern: 'slow down'\n");
	/* The parser side accepts a file with reasons and no parsers. */
	assert_int_equal(config_registry(path, "auto", NULL, &reg, err, sizeof err), CONFIG_OK);
	mp_registry_free(reg);
	assert_int_equal(config_reasons(path, &rs, err, sizeof err), CONFIG_OK);
	assert_int_equal(reason_set_user_rules(rs), 2);
	assert_int_equal(classify(rs, 554, "5.7.1", "blocked using bl.example.net"),
	    REASON_POLICY);
	assert_int_equal(classify(rs, 451, "4.7.1", "please SLOW DOWN"), REASON_RATE_LIMITED);
	assert_int_equal(classify(rs, 551, "5.7.1", "please slow down"), REASON_POLICY);
	reason_set_free(rs);
	unlink(path);

	assert_int_equal(config_reasons(NULL, &rs, err, sizeof err), CONFIG_OK);
	assert_int_equal(reason_set_user_rules(rs), 0);
	reason_set_free(rs);

	check_config_error("reasons:\n  - reason: blacklisted\n    pattern: x\n",
	    "2: reason rule 1: reason \"blacklisted\" is not one of unknown_recipient, "
	    "mailbox_full, message_too_big, greylisted, rate_limited, blocklisted, "
	    "spam_content, authentication_failed, reverse_dns, relay_denied, "
	    "sender_rejected, tls_required, dns_failure, connection_failed, local_error, "
	    "policy, not_attempted, other");
	check_config_error("reasons:\n  - reason: policy\n    pattern: x\n"
	    "  - reason: policy\n    pattern: '(x'\n",
	    "5: reason rule 2: pattern: missing closing parenthesis at offset 2");
	check_config_error("reasons:\n  - reason: policy\n    code: 250\n",
	    "3: reason rule 1: code \"250\" is not a failure code pattern (want 3 characters, "
	    "digits or x, starting with 4, 5 or x: 550, 5xx, 45x)");
	check_config_error("reasons:\n  - reason: policy\n", "2: reason rule 1: no condition "
	    "(give pattern, code or enhanced)");
	check_config_error("reasons:\n  - pattern: x\n", "2: reason rule 1: no reason");
	check_config_error("reasons:\n  - reason: policy\n    patern: x\n",
	    "3: reason rule 1: unknown key \"patern\" (want reason, pattern, code, enhanced)");
	check_config_error("reasons:\n  - reason: policy\n    pattern: [a]\n",
	    "3: pattern: want a string, not a list");
	check_config_error("reasons: policy\n", "1: reasons: want a list, not a string");
	check_config_error("reasons:\n  - policy\n",
	    "2: reason rule 1: want a mapping with keys reason, pattern, code, enhanced, "
	    "not a string");
}

/* The family: only failures count, reasons out of range are "other", and
 * both formats render it. */
static void
test_family(void **state)
{
	(void)state;
	struct agg *a = agg_new(100);
	struct mp_event ev;
	struct strbuf out = { 0 };
	struct expo_view v;
	int mtas[] = { MP_MTA_POSTFIX };

	assert_non_null(a);
	memset(&ev, 0, sizeof ev);
	ev.kind = MP_EVENT_STATUS;
	ev.mta = MP_MTA_POSTFIX;
	ev.direction = MP_DIR_OUTBOUND;
	ev.cls = 5;
	agg_record_reason(a, &ev, REASON_BLOCKLISTED);
	agg_record_reason(a, &ev, REASON_BLOCKLISTED);
	agg_record_reason(a, &ev, 999);
	ev.cls = 2;
	agg_record_reason(a, &ev, REASON_POLICY);
	ev.cls = 4;
	ev.direction = MP_DIR_INBOUND;
	agg_record_reason(a, &ev, REASON_GREYLISTED);
	assert_int_equal(agg_reason_count(a, MP_MTA_POSTFIX, MP_DIR_OUTBOUND, 5,
	    REASON_BLOCKLISTED), 2);
	assert_int_equal(agg_reason_count(a, MP_MTA_POSTFIX, MP_DIR_OUTBOUND, 5, REASON_OTHER), 1);
	assert_int_equal(agg_reason_count(a, MP_MTA_POSTFIX, MP_DIR_OUTBOUND, 2, REASON_POLICY), 0);

	memset(&v, 0, sizeof v);
	v.agg = a;
	v.mtas = mtas;
	v.nmtas = 1;
	assert_int_equal(expo_render(&v, &out), 0);
	assert_non_null(strstr(out.data, "# TYPE maillog_smtp_reason_total counter\n"
	    "maillog_smtp_reason_total{mta=\"postfix\",direction=\"outbound\",class=\"5xx\","
	    "reason=\"blocklisted\"} 2\n"
	    "maillog_smtp_reason_total{mta=\"postfix\",direction=\"outbound\",class=\"5xx\","
	    "reason=\"other\"} 1\n"
	    "maillog_smtp_reason_total{mta=\"postfix\",direction=\"inbound\",class=\"4xx\","
	    "reason=\"greylisted\"} 1\n"));
	assert_null(strstr(out.data, "reason=\"policy\""));
	strbuf_free(&out);
	assert_int_equal(expo_render_format(&v, EXPO_FMT_OPENMETRICS, -1, &out), 0);
	assert_non_null(strstr(out.data, "# TYPE maillog_smtp_reason counter\n"));
	assert_non_null(strstr(out.data,
	    "maillog_smtp_reason_total{mta=\"postfix\",direction=\"inbound\",class=\"4xx\","
	    "reason=\"greylisted\"} 1\nmaillog_smtp_reason_created{mta=\"postfix\","
	    "direction=\"inbound\",class=\"4xx\",reason=\"greylisted\"} "));
	strbuf_free(&out);
	agg_free(a);
}

/*
 * The pair bitmap in front of the literal scan (reason.c, scan()) and
 * the sure literals that skip the pattern (rule_holds()): a
 * literal at the very start or the very end of a reply, in upper case, a
 * reply of two or three bytes, and a literal cut by REASON_TEXT_MAX (2048)
 * must all give what the plain ordered walk gives (the built-ins loaded as
 * user rules, which run every pattern unfiltered), and the ones that name
 * a reason must name it.
 */
static void
test_pair_filter(void **state)
{
	(void)state;
	char err[512], cut[2048 + 64];
	struct reason_def *defs = calloc(reason_builtins_count, sizeof *defs);
	struct reason_set *fast, *plain;
	static const struct {
		const char *text;
		enum reason want;       /* REASON_COUNT: only fast == plain */
	} cases[] = {
		{ "user unknown", REASON_UNKNOWN_RECIPIENT },
		{ "USER UNKNOWN", REASON_UNKNOWN_RECIPIENT },
		{ "requested action not taken: user unknown", REASON_UNKNOWN_RECIPIENT },
		{ "Mailbox Full", REASON_MAILBOX_FULL },
		{ "over quota; mailbox full", REASON_MAILBOX_FULL },
		{ "Greylisted", REASON_GREYLISTED },
		{ "us", REASON_OTHER },
		{ "use", REASON_OTHER },
		{ "", REASON_OTHER },
		{ "spam", REASON_SPAM_CONTENT },
		{ "xspam", REASON_COUNT },
		/* Sure literals: at the start, at the end, in upper case, and
		 * one that occurs only across a case change. */
		{ "Does Not Exist", REASON_UNKNOWN_RECIPIENT },
		{ "the account that you tried to reach does not exist", REASON_UNKNOWN_RECIPIENT },
		{ "NOSUCHUSER", REASON_UNKNOWN_RECIPIENT },
		{ "listed at spamhaus", REASON_BLOCKLISTED },
		{ "doesnt exist", REASON_COUNT },
	};

	assert_non_null(defs);
	for (size_t i = 0; i < reason_builtins_count; i++) {
		const struct reason_builtin *b = &reason_builtins[i];

		defs[i] = (struct reason_def){ reason_name(b->reason), b->pattern, b->code,
		    b->enhanced };
	}
	fast = reason_set_new(NULL, 0, NULL, err, sizeof err);
	plain = reason_set_new(defs, reason_builtins_count, NULL, err, sizeof err);
	assert_non_null(fast);
	assert_non_null(plain);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		enum reason got = classify(fast, 550, NULL, cases[i].text);

		if (got != classify(plain, 550, NULL, cases[i].text))
			fail_msg("\"%s\": prefiltered %s, plain walk %s", cases[i].text,
			    reason_name(got), reason_name(classify(plain, 550, NULL, cases[i].text)));
		if (cases[i].want != REASON_COUNT && got != cases[i].want)
			fail_msg("\"%s\": %s, want %s", cases[i].text, reason_name(got),
			    reason_name(cases[i].want));
	}
	/* "user unknown" placed to end at byte 2048, then to straddle it:
	 * the first is classified, the second is cut and is not. */
	for (size_t end = 2046; end <= 2050; end++) {
		size_t pos = end - strlen("user unknown");
		enum reason got, want;

		memset(cut, 'a', sizeof cut);
		cut[pos - 1] = ' ';
		memcpy(cut + pos, "user unknown", strlen("user unknown"));
		cut[end] = '\0';
		got = classify(fast, 550, NULL, cut);
		want = classify(plain, 550, NULL, cut);
		if (got != want)
			fail_msg("ending at %zu: prefiltered %s, plain walk %s", end,
			    reason_name(got), reason_name(want));
		assert_int_equal(got, end <= 2048 ? REASON_UNKNOWN_RECIPIENT : REASON_OTHER);
	}
	reason_set_free(fast);
	reason_set_free(plain);
	free(defs);
}

/*
 * The \b bounds of literals (gen_reasons.py's "\bspam\b", reason.c's
 * bounds_hold): random replies made of the built-ins' own literals, each
 * in random case with a word byte, a non-word byte or nothing on either
 * side, among plain words, at the start, the end or alone, must all get
 * what the plain ordered walk gives (every pattern run, unfiltered).
 */
static void
test_bounds_random(void **state)
{
	(void)state;
	static const char edge[] = "xX9_-. (\"<>@:";
	static const char *const filler[] = { "the", "mail", "garcia", "user", "550", "5.7.1",
	    "search", "spamhaus.org", "ok", "" };
	char err[512], text[512];
	struct reason_def *defs = calloc(reason_builtins_count, sizeof *defs);
	const char *lits[2048];
	size_t nlits = 0, bounded = 0, texts = 0, named = 0;
	struct reason_set *fast, *plain;
	uint32_t rng = 1234567u;

	assert_non_null(defs);
	for (size_t i = 0; i < reason_builtins_count; i++) {
		const struct reason_builtin *b = &reason_builtins[i];

		defs[i] = (struct reason_def){ reason_name(b->reason), b->pattern, b->code,
		    b->enhanced };
		for (int sure = 0; sure < 2; sure++) {
			const char *const *l = sure ? b->sure : b->literals;
			const unsigned char *wb = sure ? b->sure_bounds : b->literal_bounds;

			for (size_t k = 0; l != NULL && l[k] != NULL && nlits < 2048; k++) {
				lits[nlits++] = l[k];
				bounded += wb != NULL && wb[k] != 0;
			}
		}
	}
	/* The rules have \b'd words ("\bspam\b", "\bPTR\b"): without them
	 * this test would check nothing new. */
	assert_true(bounded >= 10);
	fast = reason_set_new(NULL, 0, NULL, err, sizeof err);
	plain = reason_set_new(defs, reason_builtins_count, NULL, err, sizeof err);
	assert_non_null(fast);
	assert_non_null(plain);
	for (int round = 0; round < 4000; round++) {
		size_t n = 0, pieces = 1 + xorshift32(&rng) % 4;

		for (size_t p = 0; p < pieces && n < sizeof text - 160; p++) {
			const char *w = xorshift32(&rng) % 3 ? lits[xorshift32(&rng) % nlits] :
			    filler[xorshift32(&rng) % (sizeof filler / sizeof filler[0])];
			int upper = xorshift32(&rng) % 3 == 0;

			if (xorshift32(&rng) % 2)
				text[n++] = edge[xorshift32(&rng) % (sizeof edge - 1)];
			for (const char *c = w; *c != '\0' && n < sizeof text - 4; c++)
				text[n++] = upper && *c >= 'a' && *c <= 'z' ? (char)(*c - 'a' + 'A') : *c;
			if (xorshift32(&rng) % 2)
				text[n++] = edge[xorshift32(&rng) % (sizeof edge - 1)];
			if (xorshift32(&rng) % 2)
				text[n++] = ' ';
		}
		text[n] = '\0';
		for (int c = 0; c < 2; c++) {
			enum reason got = classify(fast, c ? 451 : 550, NULL, text);
			enum reason want = classify(plain, c ? 451 : 550, NULL, text);

			if (got != want)
				fail_msg("\"%s\": prefiltered %s, plain walk %s", text,
				    reason_name(got), reason_name(want));
			named += got != REASON_OTHER;
			texts++;
		}
	}
	printf("bounds: %zu literals (%zu with \\b), %zu replies, %zu named\n", nlits, bounded,
	    texts, named);
	assert_true(named >= texts / 2);
	reason_set_free(fast);
	reason_set_free(plain);
	free(defs);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_golden),
		cmocka_unit_test(test_prefilter_sound),
		cmocka_unit_test(test_pair_filter),
		cmocka_unit_test(test_bounds_random),
		cmocka_unit_test(test_closed_set),
		cmocka_unit_test(test_user_rules_override),
		cmocka_unit_test(test_jit_on_first_use),
		cmocka_unit_test(test_builtins_compile),
		cmocka_unit_test(test_builtins_compiled_at_first_need),
		cmocka_unit_test(test_builtin_compile_fails),
		cmocka_unit_test(test_bad_rules),
		cmocka_unit_test(test_conditions),
		cmocka_unit_test(test_event_fallback_text),
		cmocka_unit_test(test_not_attempted),
		cmocka_unit_test(test_config_file),
		cmocka_unit_test(test_family),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
