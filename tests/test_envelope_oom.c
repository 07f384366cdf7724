/*
 * test_envelope_oom.c - the envelope's one allocation, a join buffer
 * growing on the line path (docs/hacking.md, "Out of memory"), failing:
 * a line that needed the buffer is counted as overlong and skipped (or,
 * when only the stream's time was to be put in front, passed on bare),
 * nothing is passed half, and the next line is whole once memory is back.
 * Linked with --wrap=realloc; the wrapper fails while `fail` is set.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/input/envelope.h"

void *__real_realloc(void *p, size_t n);
void *__wrap_realloc(void *p, size_t n);

static int fail;
static unsigned calls;

void *
__wrap_realloc(void *p, size_t n)
{
	calls++;
	return fail ? NULL : __real_realloc(p, n);
}

struct out {
	int n;
	char last[512];
};

static void
on_line(void *ctx, const char *line, size_t len, int source)
{
	struct out *o = ctx;
	(void)source;

	assert_true(len < sizeof o->last);
	memcpy(o->last, line, len);
	o->last[len] = '\0';
	o->n++;
}

static void
feed(struct envelope *e, const struct envelope_config *cfg, struct out *o, const char *s)
{
	envelope_line(e, cfg, s, strlen(s), on_line, o, 0);
}

static void
test_join_fails_then_recovers(void **state)
{
	struct envelope_stats st;
	struct envelope_config cfg = { .mode = ENVELOPE_AUTO, .max_line = 65536, .stats = &st };
	struct envelope e;
	struct out o = { 0 };
	(void)state;

	memset(&st, 0, sizeof st);
	memset(&e, 0, sizeof e);
	fail = 1;
	calls = 0;
	/* A CRI line in parts: the join cannot start. */
	feed(&e, &cfg, &o, "2026-12-06T18:29:08Z stdout P Dec 06 18:29:08 mail postfix/smtp[257]: ");
	feed(&e, &cfg, &o, "2026-12-06T18:29:08Z stdout F 4E8A04A6A0: status=sent (250 2.0.0 Ok)");
	assert_true(calls > 0);
	assert_int_equal(o.n, 0);
	assert_int_equal(atomic_load(&st.overlong[ENVELOPE_FORMAT_CRI]), 1);
	assert_int_equal(envelope_pending(&e), 0);
	/* A whole line with its own header needs no memory at all. */
	feed(&e, &cfg, &o, "2026-12-06T18:29:09Z stdout F Dec 06 18:29:09 mail postfix/smtp[257]: x");
	assert_int_equal(o.n, 1);
	/* A header-less line whose time cannot be put in front: passed bare. */
	feed(&e, &cfg, &o, "2026-12-06T18:29:10Z stdout F postfix/smtp[257]: bare");
	assert_int_equal(o.n, 2);
	assert_string_equal(o.last, "postfix/smtp[257]: bare");
	/* Memory back: the next joined line is whole. */
	fail = 0;
	feed(&e, &cfg, &o, "2026-12-06T18:29:11Z stdout P one ");
	feed(&e, &cfg, &o, "2026-12-06T18:29:11Z stdout F two");
	assert_int_equal(o.n, 3);
	assert_string_equal(o.last, "one two");
	envelope_fini(&e);

	/* Docker: every line is decoded into the buffer. */
	memset(&e, 0, sizeof e);
	fail = 1;
	feed(&e, &cfg, &o, "{\"log\":\"Dec 06 18:29:08 mail postfix/smtp[257]: \\u003cx\\u003e\\n\"}");
	assert_int_equal(o.n, 3);
	assert_int_equal(atomic_load(&st.overlong[ENVELOPE_FORMAT_DOCKER]), 1);
	fail = 0;
	feed(&e, &cfg, &o, "{\"log\":\"after \\u003cx\\u003e\\n\"}");
	assert_int_equal(o.n, 4);
	assert_string_equal(o.last, "after <x>");
	envelope_fini(&e);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_join_fails_then_recovers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
