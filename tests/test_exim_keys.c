/*
 * test_exim_keys.c - parsers/exim.c's one-pass key index against the
 * searches it replaces. This executable holds parsers/exim.c twice: once
 * as the daemon has it (mp_parser_exim, from the core library) and once
 * compiled with MP_EXIM_REFERENCE (mp_parser_exim_reference), where every
 * " KEY=" is found by mp_find over the slice, as before the index. Both
 * must fill the same event, byte for byte, with the same return value: on
 * every golden line (Exim's and the mixed file's), every prefix of each,
 * and random lines built from the keys Exim writes, in any order, repeated,
 * inside quoted text, cut short, with and without a message id.
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
#include "tests/golden.h"
#include "tests/parser_diff.h"
#include "tests/xorshift.h"

extern const struct mp_parser mp_parser_exim_reference;

static struct parser_diff diff = { &mp_parser_exim, &mp_parser_exim_reference, 0, 0 };

static void
check(const char *line, size_t n)
{
	parser_diff_line(&diff, line, n);
}

static void
test_golden(void **state)
{
	(void)state;
	parser_diff_goldens(&diff, TESTS_DIR "/data/exim/golden.txt", MP_MTA_EXIM);
}

static uint32_t rng = 88172645u;

static uint32_t
next(void)
{
	return xorshift32(&rng);
}

/*
 * A message id, or a near miss: three parts of 5 to 7, 5 to 12 and 1 to 5
 * bytes (the real ones are 6-6-2 and 6-11-4), mostly [0-9A-Za-z] with now
 * and then a byte that is not, joined by '-' or now and then '_', ended by
 * a space or not. The parser finds ids by where their parts must end
 * (message_id); the reference build measures runs, as it did before.
 */
static void
random_id(char *id, size_t size)
{
	static const char alnum[] =
	    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
	static const size_t lens[3][8] = {
		{ 6, 6, 6, 6, 6, 5, 7, 6 }, { 6, 11, 6, 11, 5, 7, 10, 12 }, { 2, 4, 2, 4, 1, 3, 5, 2 },
	};
	size_t n = 0;

	for (int part = 0; part < 3; part++) {
		size_t len = lens[part][next() % 8];

		for (size_t i = 0; i < len && n + 2 < size; i++)
			id[n++] = next() % 40 ? alnum[next() % (sizeof alnum - 1)] : "-_ ."[next() % 4];
		if (n + 2 < size)
			id[n++] = part < 2 ? (next() % 16 ? '-' : '_') : (next() % 16 ? ' ' : 'x');
	}
	id[n] = '\0';
}

/* Random lines: a mainlog header, a message id and a marker, then Exim's
 * keys and their values in any order, repeated, quoted, glued together or
 * cut; each is checked whole and at a random length. */
static void
test_random(void **state)
{
	static const char *const start[] = {
		"=> ", "-> ", ">> ", "** ", "== ", "<= ", "=>", "<> ", "Completed ",
		"H=mx.example [192.0.2.1] rejected RCPT <a@b>: ",
	};
	static const char *const fld[] = {
		"u@d.example", "<u@d.example>", "user <u@d.example>", "|/bin/prog", "/var/mail/u",
		"R=dnslookup", "R=amavis", "T=remote_smtp", "T=lmtp", "T=", "T=smtp_filter",
		"H=mx.example [192.0.2.25]", "H=localhost [127.0.0.1]", "H=[::1]", "H=",
		"X=TLS1.3:TLS_AES_256_GCM_SHA384:256", "X=TLSv1.2", "X=", "CV=yes", "CV=no",
		"CV=dane", "CV=", "DN=\"CN=x\"", "DN=", "C=\"250 2.0.0 OK id=1\"",
		"C=\"250 OK T=x H=y\"", "C=\"", "C=", "QT=2s", "QT=1m3s", "QT=", "DT=0s",
		"DT=x", "S=1234", "S=", "S=12x", "A=plain:u", "A=", "P=esmtps", "P=local-smtp",
		"P=", "I=[127.0.0.1]:10025", "I=[127.0.0.1]:25", "I=[", "I=", "id=x@y",
		"K", "=", "\"", " ", "", "[", "]", "defer (-53): retry time not reached",
		"SMTP error from remote mail server after RCPT TO:<u@d>: 550 5.1.1 no",
		"F=<s@x>", "U=exim", "mailbox is full: ",
		/* Near misses of the keys: wrong third byte, no '=', case,
		 * bytes above 127 (the index hashes the two after a space). */
		"C=x", "C=[", "I=\"", "I=127", "CV", "CVx", "Cv=", "DT", "DTx=", "DX=", "D=",
		"DN\"", "Q=", "QT", "QX=", "x=", "c=\"x\"", "t=", "\xd8=", "\xc3T=", "\xff\xff=",
	};
	static const char *const sep[] = { " ", " ", " ", " ", "  ", "", ": " };
	char line[4096];

	(void)state;
	diff.compared = diff.events = 0;
	for (int i = 0; i < 200000; i++) {
		size_t n = 0, nf = next() % 14;
		int k;

		char id[40];

		if (next() % 2)
			random_id(id, sizeof id);
		else
			snprintf(id, sizeof id, "%s", next() % 2 ? "1tAbCd-000123-Xy " :
			    "1tixMn-00000000C5j-1wRa ");
		n += (size_t)snprintf(line, sizeof line, "2026-11-28 14:10:01 %s%s",
		    next() % 8 ? id : "",
		    start[next() % (sizeof start / sizeof start[0])]);
		for (size_t f = 0; f < nf && n < sizeof line - 200; f++) {
			k = snprintf(line + n, sizeof line - n, "%s%s",
			    fld[next() % (sizeof fld / sizeof fld[0])],
			    f + 1 < nf ? sep[next() % (sizeof sep / sizeof sep[0])] : "");
			n += (size_t)k;
		}
		check(line, n);
		check(line, next() % (n + 1));
	}
	print_message("%zu lines, %zu events\n", diff.compared, diff.events);
	assert_true(diff.events > 1000);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_golden),
		cmocka_unit_test(test_random),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
