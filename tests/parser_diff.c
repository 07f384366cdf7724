/*
 * parser_diff.c - one parser against its reference build, event by event
 * (see parser_diff.h).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "tests/golden.h"
#include "tests/parser_diff.h"

void
parser_diff_line(struct parser_diff *d, const char *line, size_t n)
{
	char *a = malloc(n ? n : 1), *b = malloc(n ? n : 1);
	struct mp_syslog ha, hb;
	struct mp_event ea, eb;
	int ra, rb;

	assert_non_null(a);
	assert_non_null(b);
	memcpy(a, line, n);
	memcpy(b, line, n);
	mp_syslog_parse(a, n, &ha);
	mp_syslog_parse(b, n, &hb);
	memset(&ea, 0, sizeof ea);
	memset(&eb, 0, sizeof eb);
	ea.hdr = ha;
	eb.hdr = hb;
	ra = d->index->parse(NULL, &ha, &ea);
	rb = d->reference->parse(NULL, &hb, &eb);
	/* Pointers into a and b differ by b - a. */
#define AT(p) ((p) == NULL ? -1 : (long)((p) - b))
#define AT_A(p) ((p) == NULL ? -1 : (long)((p) - a))
	/* Member by member: struct copies (ev->enhanced = dsn) carry
	 * padding bytes, which differ between the two calls. */
	int same = ra == rb && ea.kind == eb.kind && ea.mta == eb.mta &&
	    ea.direction == eb.direction && ea.outcome == eb.outcome &&
	    ea.code == eb.code && ea.enhanced.cls == eb.enhanced.cls &&
	    ea.enhanced.subject == eb.enhanced.subject &&
	    ea.enhanced.detail == eb.enhanced.detail && ea.cls == eb.cls &&
	    ea.destination == eb.destination && AT_A(ea.domain) == AT(eb.domain) &&
	    ea.domain_len == eb.domain_len && AT_A(ea.reply) == AT(eb.reply) &&
	    ea.reply_len == eb.reply_len && ea.not_attempted == eb.not_attempted &&
	    memcmp(&ea.delay, &eb.delay, sizeof ea.delay) == 0 &&
	    memcmp(ea.delay_stage, eb.delay_stage, sizeof ea.delay_stage) == 0 &&
	    ea.nops == eb.nops && AT_A(ea.tls_cipher) == AT(eb.tls_cipher) &&
	    ea.tls_cipher_len == eb.tls_cipher_len;

	for (unsigned o = 0; same && o < ea.nops && o < MP_OPS_MAX; o++)
		same = ea.ops[o].family == eb.ops[o].family &&
		    memcmp(ea.ops[o].label, eb.ops[o].label, sizeof ea.ops[o].label) == 0 &&
		    memcmp(&ea.ops[o].value, &eb.ops[o].value, sizeof ea.ops[o].value) == 0;
#undef AT
#undef AT_A
	if (!same)
		fail_msg("\"%.*s\": index %d, walk %d, events differ", (int)n, a, ra, rb);
	d->compared++;
	d->events += ra == 1;
	free(a);
	free(b);
}

void
parser_diff_golden(struct parser_diff *d, const char *path, int mta)
{
	struct golden_set set;

	golden_load(&set, path, mta);
	assert_true(set.ncases > 0);
	for (size_t i = 0; i < set.ncases; i++)
		for (size_t n = 0; n <= set.cases[i].len; n++)
			parser_diff_line(d, set.cases[i].line, n);
	golden_free(&set);
}

void
parser_diff_goldens(struct parser_diff *d, const char *path, int mta)
{
	d->compared = d->events = 0;
	parser_diff_golden(d, path, mta);
	parser_diff_golden(d, TESTS_DIR "/data/mixed/golden.txt", MP_MTA_NONE);
	print_message("%zu lines and prefixes, %zu events\n", d->compared, d->events);
	assert_true(d->events > 100);
}
