/*
 * test_sendmail_fields.c - parsers/sendmail.c's one-pass field index
 * against the walk it replaces. This executable holds parsers/sendmail.c
 * twice: once as the daemon has it (mp_parser_sendmail, from the core
 * library) and once compiled with MP_SENDMAIL_REFERENCE
 * (mp_parser_sendmail_reference), where the index stays empty and every
 * key is found by field()'s walk from the start of the line, as before the
 * index. Both must fill the same event, byte for byte, with the same
 * return value: on every golden line (Sendmail's and the mixed file's),
 * every prefix of each, and random lines built from the fields Sendmail
 * writes, separators and junk, including lines with more fields than the
 * index holds; delay= and xdelay= values with every byte value at every
 * place of "HH:MM:SS" and of longer and shorter shapes; and queue ids of every length, with a byte of every value
 * at every place before the ": ", on messages shorter and longer than the
 * 32 bytes the fast build reads the id from at once.
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

extern const struct mp_parser mp_parser_sendmail_reference;

static size_t past_index;

static struct parser_diff diff = { &mp_parser_sendmail, &mp_parser_sendmail_reference, 0, 0 };

static void
check(const char *line, size_t n)
{
	parser_diff_line(&diff, line, n);
}

static void
test_golden(void **state)
{
	(void)state;
	parser_diff_goldens(&diff, TESTS_DIR "/data/sendmail/golden.txt", MP_MTA_SENDMAIL);
}

static uint32_t rng = 88172645u;

static uint32_t
next(void)
{
	return xorshift32(&rng);
}

/* Random messages from Sendmail's own fields, in any order and count,
 * with the separators cut or doubled now and then; a few hundred have
 * more fields than the index. Each is checked whole and at a random
 * length. */
static void
test_random(void **state)
{
	static const char *const start[] = {
		"4AS000w408662: to=", "4AS000w408662: to=<a@b.example>, ",
		"4AS000w408662: from=<s@x.example>, ", "STARTTLS=server, relay=",
		"STARTTLS=client, relay=h.example [192.0.2.1], ",
		"4AS000w408662: ruleset=check_rcpt, ", "NOQUEUE: ", "x: ",
	};
	static const char *const fld[] = {
		"to=<u@d.example>", "to=u@d,v@e", "to=", "ctladdr=root (0/0)",
		"delay=00:00:01", "delay=1+02:03:04", "delay=x", "xdelay=00:00:00",
		"xdelay=", "mailer=esmtp", "mailer=local", "mailer=", "pri=120",
		"relay=[127.0.0.1] [127.0.0.1]", "relay=mx.example.org.",
		"relay=localhost", "relay=mx.example [192.0.2.25]", "relay=",
		"dsn=2.0.0", "dsn=4.4.1", "dsn=5.1.1", "dsn=9.9", "dsn=",
		"reply=451 4.3.0 try, later", "reply=250 ok", "reply=",
		"stat=Sent (ok, queued as X)", "stat=Deferred: 451 4.3.0 no",
		"stat=Deferred: Connection refused by mx.example.", "stat=User unknown",
		"stat=queued", "stat=", "stat=Cannot send message for 5 days",
		"nrcpts=1", "nrcpts=0", "nrcpts=x", "size=123", "size=",
		"version=TLSv1.3", "version=", "cipher=TLS_AES_256_GCM_SHA384", "cipher=",
		"verify=OK", "verify=NO", "verify=FAIL", "bits=256/256", "class=0",
		"reject=550 5.7.1 no", "proto=ESMTP", "=", "", ",", " ", ", ", "to",
		"stat", "relay", "x=y,z", "a, b",
		/* Near misses of every key, short and long (classify() reads a
		 * field of eight bytes or more as one word): another byte in
		 * each place, upper case, bytes above 127, keys cut short. */
		"tO=<u@d.example>", "to:<u@d.example>", "t=", "dsn:2.0.0", "dsx=2.0.0",
		"Dsn=2.0.0", "delay:00:00:01", "delai=00:00:01", "xdelay:00:00:00",
		"xdelay=0", "xdela=", "relay:mx.example", "relax=mx.example", "relay",
		"reply:250 ok", "replz=250 ok", "reply=2", "mailer:esmtp", "mailed=esmtp",
		"mailer=", "nrcpts:1", "nrcpt=1", "size:123", "sizes=123", "size=1",
		"version:TLSv1.3", "versiom=TLSv1.3", "version", "verify:OK", "verifz=OK",
		"verif=OK", "cipher:TLS_AES", "ciphers=TLS_AES", "\xe4sn=2.0.0",
		"to=\xff\xfe", "\xf6" "ersion=TLSv1.3", "veri\xe6y=OK",
	};
	static const char *const sep[] = { ", ", ", ", ", ", ", ", ",", " ", ", , ", "" };
	char line[4096];

	(void)state;
	diff.compared = diff.events = past_index = 0;
	for (int i = 0; i < 200000; i++) {
		size_t n = 0, nf = next() % 12;
		int k;

		if (i % 500 == 0)
			nf = 30 + next() % 10;
		n += (size_t)snprintf(line, sizeof line, "Nov 28 00:00:00 relay sm-mta[1]: %s",
		    start[next() % (sizeof start / sizeof start[0])]);
		for (size_t f = 0; f < nf && n < sizeof line - 200; f++) {
			k = snprintf(line + n, sizeof line - n, "%s%s",
			    fld[next() % (sizeof fld / sizeof fld[0])],
			    f + 1 < nf ? sep[next() % (sizeof sep / sizeof sep[0])] : "");
			n += (size_t)k;
		}
		if (nf >= 30)
			past_index++;
		check(line, n);
		check(line, next() % (n + 1));
	}
	print_message("%zu lines, %zu events, %zu with more fields than the index\n",
	    diff.compared, diff.events, past_index);
	assert_true(diff.events > 1000);
}

/* "QID: to=..." with ids of 0 to 34 bytes, one byte of every value put at
 * every place of the id and of the ": " after it, and the message cut to
 * every length from 0 to 40 bytes and whole (the fast build reads the id
 * with one 32-byte mask when the message has 32 bytes, the reference a
 * byte at a time). */
static void
test_queue_ids(void **state)
{
	static const char rest[] = "to=<u@d.example>, delay=00:00:01, mailer=esmtp, "
	    "relay=mx.example [192.0.2.25], dsn=2.0.0, stat=Sent (ok)";
	static const char hdr[] = "Nov 28 00:00:00 relay sm-mta[1]: ";
	char line[512];
	size_t lines = 0, before;

	(void)state;
	before = diff.events;
	for (size_t idlen = 0; idlen <= 34; idlen++) {
		size_t h = sizeof hdr - 1, n = h;

		memcpy(line, hdr, h);
		for (size_t i = 0; i < idlen; i++)
			line[n++] = "4AS0w8Zz9"[i % 9];
		line[n++] = ':';
		line[n++] = ' ';
		memcpy(line + n, rest, sizeof rest - 1);
		n += sizeof rest - 1;
		for (size_t at = h; at < h + idlen + 2; at++) {
			char keep = line[at];

			for (int b = 0; b < 256; b++) {
				line[at] = (char)b;
				check(line, n);
				lines++;
			}
			line[at] = keep;
		}
		for (size_t cut = h; cut <= h + 40 && cut <= n; cut++) {
			check(line, cut);
			lines++;
		}
		check(line, n);
	}
	print_message("%zu queue-id lines, %zu events\n", lines, diff.events - before);
	assert_true(diff.events - before > 1000);
}

/* Delays: the fast build reads an exact "HH:MM:SS" directly, the
 * reference through the general D+HH:MM:SS path. Each shape gets every
 * byte value at every place, as delay= and as xdelay=, and every cut. */
static void
test_delays(void **state)
{
	static const char *const shapes[] = {
		"00:00:01", "23:59:59", "99:99:99", "96:07:43", "1+02:03:04", "0:00:01",
		"00:00:01.5", "00:00:015", "000:00:01", "00:0:01",
	};
	char line[512], val[32];
	size_t lines = 0, before = diff.events;

	(void)state;
	for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
		size_t vlen = strlen(shapes[k]);

		for (size_t at = 0; at <= vlen; at++) {
			for (int b = 0; b < 256; b++) {
				size_t n;

				memcpy(val, shapes[k], vlen);
				val[at] = (char)b;
				n = (size_t)snprintf(line, sizeof line,
				    "Nov 28 00:00:00 relay sm-mta[1]: 4AS000w408662: to=<u@d.example>, "
				    "delay=%.*s, xdelay=%.*s, mailer=esmtp, relay=mx.example "
				    "[192.0.2.25], dsn=2.0.0, stat=Sent (ok)",
				    (int)(at < vlen ? vlen : vlen + 1), val, (int)vlen, shapes[k]);
				check(line, n);
				n = (size_t)snprintf(line, sizeof line,
				    "Nov 28 00:00:00 relay sm-mta[1]: 4AS000w408662: to=<u@d.example>, "
				    "delay=00:00:09, xdelay=%.*s, mailer=esmtp, dsn=4.0.0, "
				    "stat=Deferred", (int)(at < vlen ? vlen : vlen + 1), val);
				check(line, n);
				lines += 2;
			}
		}
	}
	print_message("%zu delay lines, %zu events\n", lines, diff.events - before);
	assert_true(diff.events - before > 1000);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_golden),
		cmocka_unit_test(test_random),
		cmocka_unit_test(test_queue_ids),
		cmocka_unit_test(test_delays),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
