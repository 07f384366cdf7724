/*
 * fuzz_registry.c - every parser through the entry point the daemon uses.
 *
 * Each input is one log line, given to a registry per format: "auto" and
 * every name mp_format_names() lists, so a new parser is fuzzed as soon as
 * it is registered. Beyond what the sanitizers catch, the harness checks
 * the mp.h contract on every result: codes and classes in range, string
 * fields inside the line, a forced format never yielding another MTA's
 * event, and the same line always giving the same event.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parsers/mp.h"

#define MAX_FORMATS 16

static struct mp_registry *regs[MAX_FORMATS];
static char names[MAX_FORMATS][32];
static int nregs;

static void
die(const char *what, const char *fmt, int r)
{
	fprintf(stderr, "fuzz_registry: format %s: %s (result %d)\n", fmt, what, r);
	abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *s = mp_format_names();
	char err[256];

	(void)argc;
	(void)argv;
	while (*s && nregs < MAX_FORMATS) {
		size_t n = strcspn(s, "|");
		if (n == 0 || n >= sizeof names[0]) {
			fprintf(stderr, "fuzz_registry: bad format list '%s'\n", mp_format_names());
			abort();
		}
		memcpy(names[nregs], s, n);
		names[nregs][n] = '\0';
		if ((regs[nregs] = mp_registry_new(names[nregs], err, sizeof err)) == NULL) {
			fprintf(stderr, "fuzz_registry: %s: %s\n", names[nregs], err);
			abort();
		}
		/* The postfix registry also matches re-injecting smtpd names
		 * (--postfix.reinjection-syslog-name) against every tag. */
		if (strcmp(names[nregs], "postfix") == 0) {
			static const char *const reinject[] = { "postfix/amavis",
				"postfix-in/smtpd", "p" };

			if (mp_registry_set_reinjection(regs[nregs], reinject, 3, err,
			    sizeof err) < 0) {
				fprintf(stderr, "fuzz_registry: reinjection names: %s\n", err);
				abort();
			}
		}
		nregs++;
		s += n;
		if (*s == '|')
			s++;
	}
	if (nregs < 2 || strcmp(names[0], "auto") != 0) {
		fprintf(stderr, "fuzz_registry: expected 'auto|...', got '%s'\n", mp_format_names());
		abort();
	}
	return 0;
}

/* A string field is either absent or lies wholly inside the line. */
static int
inside(const char *p, size_t n, const uint8_t *line, size_t len)
{
	const char *b = (const char *)line;

	if (p == NULL)
		return n == 0;
	return p >= b && p <= b + len && n <= (size_t)(b + len - p);
}

static int
mta_of_format(const char *fmt)
{
	for (int m = 0; m < MP_MTA_BUILTIN_COUNT; m++)
		if (strcmp(mp_mta_name(NULL, m), fmt) == 0)
			return m;
	return MP_MTA_NONE;
}

static void
check(const char *fmt, int r, const struct mp_event *ev, const uint8_t *line, size_t len)
{
	int forced = strcmp(fmt, "auto") == 0 ? MP_MTA_NONE : mta_of_format(fmt);

	if (r < -1 || r > 1)
		die("result out of range", fmt, r);
	if (!inside(ev->hdr.host, ev->hdr.host_len, line, len) ||
	    !inside(ev->hdr.tag, ev->hdr.tag_len, line, len) ||
	    !inside(ev->hdr.msg, ev->hdr.msg_len, line, len))
		die("header field outside the line", fmt, r);
	/* Ops come with any result; each must fit its family's table. */
	if (ev->nops > MP_OPS_MAX)
		die("more ops than MP_OPS_MAX", fmt, r);
	for (unsigned i = 0; i < ev->nops; i++)
		if (!mp_op_valid(&ev->ops[i]))
			die("op outside its family's labels", fmt, r);
	if (!inside(ev->tls_cipher, ev->tls_cipher_len, line, len))
		die("TLS cipher outside the line", fmt, r);
	if (r == 0 && ev->nops == 0)
		return;
	if (ev->mta < 0 || ev->mta >= MP_MTA_MAX)
		die("event without a valid mta", fmt, r);
	if (forced != MP_MTA_NONE && ev->mta != forced)
		die("forced format produced another MTA's result", fmt, r);
	if (r <= 0)   /* no status: nothing more to check (ops were above) */
		return;
	if (!inside(ev->domain, ev->domain_len, line, len) ||
	    !inside(ev->reply, ev->reply_len, line, len))
		die("event string outside the line", fmt, r);
	if (ev->code != 0 && (ev->code < 200 || ev->code > 599))
		die("reply code out of 200..599", fmt, r);
	if (ev->enhanced.cls != 0 && ((ev->enhanced.cls != 2 && ev->enhanced.cls != 4 &&
	    ev->enhanced.cls != 5) || ev->enhanced.subject > 999 || ev->enhanced.detail > 999))
		die("enhanced code out of RFC 3463 range", fmt, r);
	if ((unsigned)ev->direction >= MP_DIR_COUNT || (unsigned)ev->outcome >= MP_OUTCOME_COUNT ||
	    (unsigned)ev->destination >= MP_DEST_COUNT)
		die("enum field out of range", fmt, r);
	if (ev->kind == MP_EVENT_STATUS && ev->cls != 2 && ev->cls != 4 && ev->cls != 5)
		die("status event without a class", fmt, r);
}

/* Field by field: struct padding is not part of an op. */
static int
same_ops(const struct mp_event *a, const struct mp_event *b)
{
	if (a->nops != b->nops)
		return 0;
	for (unsigned i = 0; i < a->nops; i++)
		if (a->ops[i].family != b->ops[i].family ||
		    memcmp(a->ops[i].label, b->ops[i].label, sizeof a->ops[i].label) != 0 ||
		    memcmp(&a->ops[i].value, &b->ops[i].value, sizeof a->ops[i].value) != 0)
			return 0;
	return 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	for (int i = 0; i < nregs; i++) {
		struct mp_event ev, again;
		int r = mp_registry_parse(regs[i], (const char *)data, size, &ev);

		check(names[i], r, &ev, data, size);
		/* Compiled patterns and match data are reused across lines: a
		 * second parse must not see anything the first one left behind. */
		if (mp_registry_parse(regs[i], (const char *)data, size, &again) != r ||
		    again.code != ev.code || again.cls != ev.cls || again.mta != ev.mta ||
		    again.enhanced.cls != ev.enhanced.cls ||
		    again.enhanced.subject != ev.enhanced.subject ||
		    again.enhanced.detail != ev.enhanced.detail ||
		    again.domain != ev.domain || again.domain_len != ev.domain_len ||
		    !same_ops(&again, &ev))
			die("second parse of the same line differs", names[i], r);
	}
	return 0;
}
