/*
 * test_custom.c - custom parsers (parsers/custom.c) through the registry:
 * routing beside the built-in parsers, the class rule and outcome words,
 * code validation, unmatched lines, forced formats, stable ids, and every
 * definition error with the field it points at.
 *
 * The tests lend one names table to their registries, as the daemon does;
 * it only grows, so they share a small set of names and the one that
 * exhausts it runs last.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "parsers/mp.h"

static const char *const acme_patterns[] = {
	"result=(?<outcome>\\w+)(?: code=(?<code>\\d+))?(?: dsn=(?<enhanced>\\S+))?(?: to=(?<domain>\\S+))?",
};
static const char *const json_patterns[] = {
	"^\\{\"type\":\"(?<outcome>\\w+)\".*?\"code\":(?<code>\\d{3})",
};
static const char *const gw_patterns[] = {
	"smtp-result: status=(?<code>\\d{3})",
};

static const struct mp_custom_def defs[] = {
	{ .mta = "acme", .direction = MP_DIR_OUTBOUND, .tag = "acme",
	  .patterns = acme_patterns, .npatterns = 1 },
	{ .mta = "jsonmta", .direction = MP_DIR_OUTBOUND,
	  .patterns = json_patterns, .npatterns = 1 },
	{ .mta = "gw", .direction = MP_DIR_INBOUND, .match = "smtp-result:",
	  .patterns = gw_patterns, .npatterns = 1 },
};
#define NDEFS (sizeof defs / sizeof defs[0])

/* One names table lent to every registry here, as the daemon lends one to
 * each it builds: a name keeps its id from one registry to the next, and a
 * table's ids run out (test_ids_run_out). */
static struct mp_mta_names names;

static struct mp_registry *
new_reg(const char *format)
{
	char err[512];
	struct mp_def_error where;
	struct mp_registry *reg = mp_registry_new_ex(format, defs, NDEFS, &names, &where, err,
	    sizeof err);

	if (reg == NULL)
		fail_msg("mp_registry_new_ex(%s): %s", format, err);
	return reg;
}

static int
parse(struct mp_registry *reg, const char *line, struct mp_event *ev)
{
	return mp_registry_parse(reg, line, strlen(line), ev);
}

static void
test_auto_beside_builtins(void **state)
{
	(void)state;
	struct mp_registry *reg = new_reg("auto");
	struct mp_event ev;
	char enh[MP_ENHANCED_BUFSZ];

	assert_int_equal(parse(reg,
	    "Nov 28 14:10:01 mx postfix/smtp[42]: 4A1: to=<u@example.com>, relay=mx[192.0.2.7]:25,"
	    " delay=1, delays=0/0/0/1, dsn=5.1.1, status=bounced (host mx[192.0.2.7] said:"
	    " 550 5.1.1 no such user (in reply to RCPT TO command))", &ev), 1);
	assert_int_equal(ev.mta, MP_MTA_POSTFIX);
	assert_int_equal(ev.code, 550);

	assert_int_equal(parse(reg,
	    "Nov 28 14:10:02 mx acme[7]: result=Deferred code=451 dsn=4.3.0 to=u@example.org", &ev), 1);
	assert_string_equal(mp_mta_name(&names, ev.mta), "acme");
	assert_true(ev.mta >= MP_MTA_BUILTIN_COUNT && ev.mta < MP_MTA_MAX);
	assert_int_equal(ev.direction, MP_DIR_OUTBOUND);
	assert_int_equal(ev.code, 451);
	assert_int_equal(ev.cls, 4);
	assert_int_equal(ev.outcome, MP_OUTCOME_DEFERRED);
	mp_format_enhanced(&ev.enhanced, enh);
	assert_string_equal(enh, "4.3.0");
	assert_int_equal(ev.domain_len, strlen("example.org"));
	assert_memory_equal(ev.domain, "example.org", ev.domain_len);

	/* Untagged JSON: no built-in takes it, the tagless custom parser does. */
	assert_int_equal(parse(reg,
	    "{\"type\":\"Bounce\",\"id\":\"1\",\"response\":{\"code\":550}}", &ev), 1);
	assert_string_equal(mp_mta_name(&names, ev.mta), "jsonmta");
	assert_int_equal(ev.code, 550);
	assert_int_equal(ev.cls, 5);

	/* The match literal makes the line gw's, whatever the tag. */
	assert_int_equal(parse(reg,
	    "Nov 28 14:10:03 gw1 gateway[9]: smtp-result: status=554", &ev), 1);
	assert_string_equal(mp_mta_name(&names, ev.mta), "gw");
	assert_int_equal(ev.direction, MP_DIR_INBOUND);
	assert_int_equal(ev.outcome, MP_OUTCOME_REJECTED);

	/* The acme tag without a matching pattern: not a status line. */
	assert_int_equal(parse(reg, "Nov 28 14:10:04 mx acme[7]: connect from x", &ev), 0);
	assert_int_equal(ev.mta, MP_MTA_NONE);
	/* Nobody's line. */
	assert_int_equal(parse(reg, "Nov 28 14:10:04 mx cron[1]: result=ok", &ev), 0);
	mp_registry_free(reg);
}

static void
test_outcome_words(void **state)
{
	(void)state;
	struct mp_registry *reg = new_reg("auto");
	struct mp_event ev;
	static const struct {
		const char *word;
		int cls;
	} cases[] = {
		{ "sent", 2 }, { "Delivered", 2 }, { "OK", 2 }, { "Delivery", 2 },
		{ "deferred", 4 }, { "TempFail", 4 }, { "transient_failure", 4 },
		{ "TransientFailure", 4 }, { "bounced", 5 }, { "failed", 5 },
		{ "PermFail", 5 }, { "rejected", 5 }, { "expired", 5 },
		{ "Expiration", 5 },
	};
	char line[128];

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		snprintf(line, sizeof line, "Nov 28 14:10:02 mx acme[7]: result=%s", cases[i].word);
		assert_int_equal(parse(reg, line, &ev), 1);
		assert_int_equal(ev.cls, cases[i].cls);
		assert_int_equal(ev.code, 0);
	}
	/* An unknown word and no code: the pattern matched, so it is unmatched. */
	assert_int_equal(parse(reg, "Nov 28 14:10:02 mx acme[7]: result=maybe", &ev), -1);
	assert_string_equal(mp_mta_name(&names, ev.mta), "acme");
	mp_registry_free(reg);
}

static void
test_codes_validated(void **state)
{
	(void)state;
	struct mp_registry *reg = new_reg("auto");
	struct mp_event ev;

	/* 999 is not a code: class from the enhanced code. */
	assert_int_equal(parse(reg, "Nov 28 14:10:02 mx acme[7]: result=x code=999 dsn=5.1.1", &ev), 1);
	assert_int_equal(ev.code, 0);
	assert_int_equal(ev.cls, 5);
	assert_int_equal(ev.enhanced.cls, 5);
	/* 6.1.1 and 2500 are not codes, and "x" no outcome: unmatched. */
	assert_int_equal(parse(reg, "Nov 28 14:10:02 mx acme[7]: result=x code=2500 dsn=6.1.1", &ev), -1);
	/* The code wins over the outcome word (a 550 logged as "deferred"). */
	assert_int_equal(parse(reg, "Nov 28 14:10:02 mx acme[7]: result=deferred code=550", &ev), 1);
	assert_int_equal(ev.cls, 5);
	assert_int_equal(ev.outcome, MP_OUTCOME_DEFERRED);
	/* The marker without a parsable status: unmatched, counted for gw. */
	assert_int_equal(parse(reg, "Nov 28 14:10:03 gw1 gateway[9]: smtp-result: garbled", &ev), -1);
	assert_string_equal(mp_mta_name(&names, ev.mta), "gw");
	assert_int_equal(parse(reg, "Nov 28 14:10:03 gw1 gateway[9]: smtp-result: status=999", &ev), -1);
	mp_registry_free(reg);
}

static void
test_forced_format(void **state)
{
	(void)state;
	struct mp_registry *reg = new_reg("acme");
	struct mp_event ev;
	int ids[MP_MTA_MAX];

	assert_int_equal(mp_registry_mtas(reg, ids, MP_MTA_MAX), 1);
	assert_string_equal(mp_mta_name(&names, ids[0]), "acme");
	assert_int_equal(parse(reg,
	    "Nov 28 14:10:01 mx postfix/smtp[42]: 4A1: to=<u@example.com>, relay=mx[192.0.2.7]:25,"
	    " delay=1, delays=0/0/0/1, dsn=2.0.0, status=sent (250 2.0.0 Ok)", &ev), 0);
	assert_int_equal(parse(reg, "Nov 28 14:10:02 mx acme[7]: result=sent code=250", &ev), 1);
	mp_registry_free(reg);

	/* A built-in forced: the custom definitions are checked, not used. */
	reg = new_reg("postfix");
	assert_int_equal(mp_registry_mtas(reg, ids, MP_MTA_MAX), 1);
	assert_int_equal(ids[0], MP_MTA_POSTFIX);
	assert_int_equal(parse(reg, "Nov 28 14:10:02 mx acme[7]: result=sent code=250", &ev), 0);
	mp_registry_free(reg);
}

/* A name keeps its id in every registry, so a reload keeps the counters. */
static void
test_ids_stable(void **state)
{
	(void)state;
	struct mp_registry *a = new_reg("auto"), *b = new_reg("auto");
	int ia[MP_MTA_MAX], ib[MP_MTA_MAX];
	size_t na = mp_registry_mtas(a, ia, MP_MTA_MAX);

	assert_int_equal(na, MP_MTA_BUILTIN_COUNT + NDEFS);
	assert_int_equal(mp_registry_mtas(b, ib, MP_MTA_MAX), na);
	assert_memory_equal(ia, ib, na * sizeof ia[0]);
	for (size_t i = 0; i < NDEFS; i++)
		assert_string_equal(mp_mta_name(&names, ia[MP_MTA_BUILTIN_COUNT + i]), defs[i].mta);
	mp_registry_free(a);
	mp_registry_free(b);
}

/* Two parsers for one mta, one per direction, share its id. */
static void
test_both_directions(void **state)
{
	(void)state;
	static const char *const out_p[] = { "^OUT (?<code>\\d{3})" };
	static const char *const in_p[] = { "^IN (?<code>\\d{3})" };
	const struct mp_custom_def two[] = {
		{ .mta = "acme", .direction = MP_DIR_OUTBOUND, .patterns = out_p, .npatterns = 1 },
		{ .mta = "acme", .direction = MP_DIR_INBOUND, .patterns = in_p, .npatterns = 1 },
	};
	char err[256];
	struct mp_registry *reg = mp_registry_new_ex("acme", two, 2, &names, NULL, err, sizeof err);
	struct mp_event ev;
	int id;

	assert_non_null(reg);
	assert_int_equal(parse(reg, "OUT 250", &ev), 1);
	assert_int_equal(ev.direction, MP_DIR_OUTBOUND);
	id = ev.mta;
	assert_int_equal(parse(reg, "IN 550", &ev), 1);
	assert_int_equal(ev.direction, MP_DIR_INBOUND);
	assert_int_equal(ev.mta, id);
	assert_string_equal(mp_mta_name(&names, id), "acme");
	mp_registry_free(reg);
}

/* A registry without a table lent names its ids in one of its own: they
 * take none of the shared table's. */
static void
test_own_table(void **state)
{
	(void)state;
	static const char *const p[] = { "^OWN (?<code>\\d{3})" };
	const struct mp_custom_def d = { .mta = "owntable", .direction = MP_DIR_OUTBOUND,
	    .patterns = p, .npatterns = 1 };
	char err[256];
	struct mp_registry *reg = mp_registry_new_ex("auto", &d, 1, NULL, NULL, err, sizeof err);
	struct mp_event ev;

	assert_non_null(reg);
	assert_int_equal(parse(reg, "OWN 250", &ev), 1);
	assert_int_equal(ev.mta, MP_MTA_BUILTIN_COUNT);
	assert_string_equal(mp_mta_name(mp_registry_names(reg), ev.mta), "owntable");
	assert_string_not_equal(mp_mta_name(&names, ev.mta), "owntable");
	assert_string_equal(mp_mta_name(NULL, ev.mta), "unknown");
	mp_registry_free(reg);
}

/* (?J) lets alternatives share a group name; the one that matched counts. */
static void
test_duplicate_group_names(void **state)
{
	(void)state;
	static const char *const p[] = {
		"(?J)^(?:A (?<code>\\d{3})|B x=(?<code>\\d{3}))",
	};
	const struct mp_custom_def d = { .mta = "acme", .direction = MP_DIR_OUTBOUND,
	    .patterns = p, .npatterns = 1 };
	char err[256];
	struct mp_registry *reg = mp_registry_new_ex("acme", &d, 1, &names, NULL, err, sizeof err);
	struct mp_event ev;

	assert_non_null(reg);
	assert_int_equal(parse(reg, "A 250", &ev), 1);
	assert_int_equal(ev.code, 250);
	assert_int_equal(parse(reg, "B x=451", &ev), 1);
	assert_int_equal(ev.code, 451);
	mp_registry_free(reg);
}

/* One bad definition: the call fails with this field, pattern and text. */
static void
check_bad(const struct mp_custom_def *d, size_t n, int def, enum mp_def_field field,
    int pattern, const char *want)
{
	char err[512];
	struct mp_def_error where;
	struct mp_registry *reg = mp_registry_new_ex("auto", d, n, &names, &where, err, sizeof err);

	if (reg != NULL) {
		mp_registry_free(reg);
		fail_msg("accepted, wanted \"%s\"", want);
	}
	if (strstr(err, want) == NULL)
		fail_msg("error \"%s\" lacks \"%s\"", err, want);
	assert_int_equal(where.def, def);
	assert_int_equal(where.field, field);
	assert_int_equal(where.pattern, pattern);
}

static void
test_definition_errors(void **state)
{
	(void)state;
	static const char *const good[] = { "(?<code>\\d{3})" };
	static const char *const two[] = { "(?<code>\\d{3})", "(?<code>\\d{3}" };
	static const char *const unknown[] = { "(?<enhaced>\\d\\.\\d\\.\\d)" };
	static const char *const nogroups[] = { "(?<domain>\\S+) (\\d{3})" };
	static const char *const empty[] = { "" };
	struct mp_custom_def d[MP_CUSTOM_MAX + 1];

	for (size_t i = 0; i < MP_CUSTOM_MAX + 1; i++)
		d[i] = (struct mp_custom_def){ .mta = "acme", .direction = MP_DIR_OUTBOUND,
		    .patterns = good, .npatterns = 1 };

	d[0].mta = "Acme";
	check_bad(d, 1, 0, MP_DEF_MTA, -1, "mta \"Acme\": want a lowercase letter");
	d[0].mta = "";
	check_bad(d, 1, 0, MP_DEF_MTA, -1, "mta is missing or empty");
	d[0].mta = "exim";
	check_bad(d, 1, 0, MP_DEF_MTA, -1, "mta \"exim\" is a built-in parser's name");
	d[0].mta = "auto";
	check_bad(d, 1, 0, MP_DEF_MTA, -1, "mta \"auto\" is reserved");
	d[0].mta = "acme";
	check_bad(d, 2, 1, MP_DEF_MTA, -1,
	    "mta \"acme\" with direction outbound is defined twice (custom parser 1 has it too)");

	d[1].mta = "gw";
	d[1].patterns = two;
	d[1].npatterns = 2;
	check_bad(d, 2, 1, MP_DEF_PATTERNS, 1,
	    "mta \"gw\": pattern 2: pattern error at offset 13: missing closing parenthesis");
	d[1].patterns = unknown;
	d[1].npatterns = 1;
	check_bad(d, 2, 1, MP_DEF_PATTERNS, 0,
	    "mta \"gw\": pattern 1: named group (?<enhaced>...) is not code, enhanced, outcome or domain");
	d[1].patterns = nogroups;
	check_bad(d, 2, 1, MP_DEF_PATTERNS, 0,
	    "mta \"gw\": pattern 1: has none of the named groups");
	d[1].patterns = empty;
	check_bad(d, 2, 1, MP_DEF_PATTERNS, 0, "mta \"gw\": pattern 1: empty pattern");
	d[1].npatterns = 0;
	check_bad(d, 2, 1, MP_DEF_PATTERNS, -1, "mta \"gw\": want 1 to 32 patterns, not 0");
	d[1].patterns = good;
	d[1].npatterns = 1;
	d[1].tag = "gw[1]";
	check_bad(d, 2, 1, MP_DEF_TAG, -1, "mta \"gw\": tag \"gw[1]\" must be the program name");
	d[1].tag = NULL;
	d[1].match = "";
	check_bad(d, 2, 1, MP_DEF_MATCH, -1, "mta \"gw\": match must be 1 to 256 characters");
	d[1].match = NULL;
	d[1].direction = (enum mp_direction)7;
	check_bad(d, 2, 1, MP_DEF_PARSER, -1, "direction is not inbound or outbound");

	for (size_t i = 0; i < MP_CUSTOM_MAX + 1; i++)
		d[i].direction = i % 2 ? MP_DIR_INBOUND : MP_DIR_OUTBOUND;
	d[0].mta = "a";
	d[1].mta = "a";
	for (size_t i = 2; i < MP_CUSTOM_MAX + 1; i++)
		d[i].mta = "b";
	check_bad(d, MP_CUSTOM_MAX + 1, MP_CUSTOM_MAX, MP_DEF_PARSER, -1,
	    "too many custom parsers: at most 12");

	char err[256];
	struct mp_def_error where;
	assert_null(mp_registry_new_ex("nosuch", defs, NDEFS, &names, &where, err, sizeof err));
	assert_int_equal(where.field, MP_DEF_FORMAT);
	assert_string_equal(err, "unknown format \"nosuch\", want auto|postfix|exim|sendmail|opensmtpd"
	    " or a custom parser's mta");
}

/* Last: ids are never reused, so a names table (the daemon's: one per
 * process) names at most MP_CUSTOM_MAX. */
static void
test_ids_run_out(void **state)
{
	(void)state;
	static const char *const p[] = { "(?<code>\\d{3})" };
	char mta[MP_CUSTOM_MAX + 1][16], err[256];
	struct mp_def_error where;
	int ok = 0, refused = 0;

	for (int i = 0; i < MP_CUSTOM_MAX + 1; i++) {
		snprintf(mta[i], sizeof mta[i], "n%d", i);
		const struct mp_custom_def d = { .mta = mta[i], .direction = MP_DIR_OUTBOUND,
		    .patterns = p, .npatterns = 1 };
		struct mp_registry *reg = mp_registry_new_ex("auto", &d, 1, &names, &where, err,
		    sizeof err);
		if (reg != NULL) {
			ok++;
			mp_registry_free(reg);
			continue;
		}
		refused++;
		assert_non_null(strstr(err, "no id left"));
		assert_int_equal(where.field, MP_DEF_MTA);
		assert_int_equal(where.def, 0);
	}
	/* acme, jsonmta, gw and the a/b names never got ids: the "too many"
	 * registry was refused before ids were given. */
	assert_int_equal(ok, MP_CUSTOM_MAX - 3);
	assert_int_equal(refused, 4);
	/* Names given earlier still resolve, and keep working. */
	struct mp_registry *reg = new_reg("auto");
	mp_registry_free(reg);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_auto_beside_builtins),
		cmocka_unit_test(test_outcome_words),
		cmocka_unit_test(test_codes_validated),
		cmocka_unit_test(test_forced_format),
		cmocka_unit_test(test_ids_stable),
		cmocka_unit_test(test_both_directions),
		cmocka_unit_test(test_duplicate_group_names),
		cmocka_unit_test(test_own_table),
		cmocka_unit_test(test_definition_errors),
		cmocka_unit_test(test_ids_run_out),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
