/*
 * test_codes.c - what is and is not an SMTP reply code or an RFC 3463
 * enhanced code, formatting, class derivation and label names.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "parsers/mp.h"

/* Parse s from an exact-size heap copy, so reads past len are caught. */
static int
reply(const char *s)
{
	size_t n = strlen(s);
	char *p = malloc(n ? n : 1);
	int code;

	memcpy(p, s, n);
	code = mp_parse_reply_code(p, n);
	free(p);
	return code;
}

static size_t
enhanced(const char *s, struct mp_enhanced *e)
{
	size_t n = strlen(s);
	char *p = malloc(n ? n : 1);
	size_t used;

	memcpy(p, s, n);
	used = mp_parse_enhanced(p, n, e);
	free(p);
	return used;
}

static void
test_reply_codes(void **state)
{
	static const struct {
		const char *s;
		int want;
	} cases[] = {
		{ "250", 250 }, { "250 2.0.0 Ok", 250 }, { "550-5.7.1 x", 550 },
		{ "200", 200 }, { "599", 599 }, { "421 ", 421 }, { "354 go", 354 },
		{ "550.", 550 }, { "550#5.1.0", 550 },
		{ "199", 0 }, { "600", 0 }, { "999", 0 }, { "099", 0 },
		{ "5500", 0 }, { "55", 0 }, { "5", 0 }, { "", 0 },
		{ "5.1.1", 0 }, { "55a", 0 }, { " 550", 0 }, { "abc", 0 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		if (reply(cases[i].s) != cases[i].want)
			fail_msg("\"%s\": got %d, want %d", cases[i].s,
			    reply(cases[i].s), cases[i].want);
	}
	assert_int_equal(mp_parse_reply_code(NULL, 3), 0);
	/* len bounds the parse, not the NUL */
	assert_int_equal(mp_parse_reply_code("5501", 3), 550);
	assert_int_equal(mp_parse_reply_code("550", 2), 0);
}

static void
test_enhanced_codes(void **state)
{
	static const struct {
		const char *s;
		size_t used;
		uint8_t cls;
		uint16_t subject, detail;
	} cases[] = {
		{ "5.1.1", 5, 5, 1, 1 },
		{ "2.0.0 Ok", 5, 2, 0, 0 },
		{ "4.7.28", 6, 4, 7, 28 },
		{ "5.7.26 DMARC", 6, 5, 7, 26 },
		{ "5.999.999", 9, 5, 999, 999 },
		{ "4.4.1)", 5, 4, 4, 1 },
		{ "5.1.1;", 5, 5, 1, 1 },
		{ "6.1.1", 0, 0, 0, 0 },
		{ "3.1.1", 0, 0, 0, 0 },
		{ "5.1234.1", 0, 0, 0, 0 },
		{ "5.1.1234", 0, 0, 0, 0 },
		{ "5.1.1.2", 0, 0, 0, 0 },
		{ "5.1.", 0, 0, 0, 0 },
		{ "5..1", 0, 0, 0, 0 },
		{ "5.1", 0, 0, 0, 0 },
		{ "550", 0, 0, 0, 0 },
		{ "5-1-1", 0, 0, 0, 0 },
		{ "", 0, 0, 0, 0 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct mp_enhanced e = { 9, 9, 9 };
		size_t used = enhanced(cases[i].s, &e);

		if (used != cases[i].used || e.cls != cases[i].cls ||
		    e.subject != cases[i].subject || e.detail != cases[i].detail)
			fail_msg("\"%s\": got %zu %u.%u.%u", cases[i].s, used,
			    e.cls, e.subject, e.detail);
	}
}

static void
test_format_enhanced(void **state)
{
	char buf[MP_ENHANCED_BUFSZ];
	struct mp_enhanced e = { 5, 7, 26 };
	struct mp_enhanced big = { 5, 999, 999 };
	struct mp_enhanced none = { 0, 0, 0 };
	struct mp_enhanced bad = { 5, 1000, 1 };

	(void)state;
	assert_int_equal(mp_format_enhanced(&e, buf), 6);
	assert_string_equal(buf, "5.7.26");
	assert_int_equal(mp_format_enhanced(&big, buf), 9);
	assert_string_equal(buf, "5.999.999");
	assert_int_equal(mp_format_enhanced(&none, buf), 0);
	assert_string_equal(buf, "");
	assert_int_equal(mp_format_enhanced(&bad, buf), 0);
	assert_string_equal(buf, "");
}

static void
test_set_class(void **state)
{
	struct mp_event ev;

	(void)state;
	memset(&ev, 0, sizeof ev);

	/* the code wins: soft_bounce "dsn=4.1.1 ... said: 550" */
	ev.code = 550;
	ev.enhanced = (struct mp_enhanced){ 4, 1, 1 };
	ev.outcome = MP_OUTCOME_DEFERRED;
	assert_int_equal(mp_event_set_class(&ev), 0);
	assert_int_equal(ev.cls, 5);

	/* then the enhanced code */
	ev.code = 0;
	assert_int_equal(mp_event_set_class(&ev), 0);
	assert_int_equal(ev.cls, 4);

	/* a 3xx code says nothing; fall through */
	ev.code = 354;
	ev.enhanced = (struct mp_enhanced){ 0, 0, 0 };
	ev.outcome = MP_OUTCOME_SENT;
	assert_int_equal(mp_event_set_class(&ev), 0);
	assert_int_equal(ev.cls, 2);

	/* then the outcome */
	ev.code = 0;
	static const struct {
		enum mp_outcome o;
		uint8_t cls;
	} outcomes[] = {
		{ MP_OUTCOME_SENT, 2 }, { MP_OUTCOME_DEFERRED, 4 },
		{ MP_OUTCOME_BOUNCED, 5 }, { MP_OUTCOME_EXPIRED, 5 },
		{ MP_OUTCOME_REJECTED, 5 }, { MP_OUTCOME_TEMP_REJECTED, 4 },
	};
	for (size_t i = 0; i < sizeof outcomes / sizeof outcomes[0]; i++) {
		ev.outcome = outcomes[i].o;
		assert_int_equal(mp_event_set_class(&ev), 0);
		assert_int_equal(ev.cls, outcomes[i].cls);
	}
	ev.outcome = MP_OUTCOME_NONE;
	assert_int_equal(mp_event_set_class(&ev), -1);
	assert_int_equal(ev.cls, 0);
}

static void
test_names(void **state)
{
	(void)state;
	assert_string_equal(mp_mta_name(NULL, MP_MTA_POSTFIX), "postfix");
	assert_string_equal(mp_mta_name(NULL, MP_MTA_EXIM), "exim");
	assert_string_equal(mp_mta_name(NULL, MP_MTA_SENDMAIL), "sendmail");
	assert_string_equal(mp_mta_name(NULL, MP_MTA_OPENSMTPD), "opensmtpd");
	assert_string_equal(mp_mta_name(NULL, MP_MTA_NONE), "unknown");
	assert_string_equal(mp_mta_name(NULL, MP_MTA_MAX), "unknown");
	assert_string_equal(mp_direction_name(MP_DIR_OUTBOUND), "outbound");
	assert_string_equal(mp_direction_name(MP_DIR_INBOUND), "inbound");
	assert_string_equal(mp_outcome_name(MP_OUTCOME_SENT), "sent");
	assert_string_equal(mp_outcome_name(MP_OUTCOME_EXPIRED), "expired");
	assert_string_equal(mp_outcome_name(MP_OUTCOME_TEMP_REJECTED),
	    "temp_rejected");
	assert_string_equal(mp_outcome_name((enum mp_outcome)99), "unknown");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reply_codes),
		cmocka_unit_test(test_enhanced_codes),
		cmocka_unit_test(test_format_enhanced),
		cmocka_unit_test(test_set_class),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
