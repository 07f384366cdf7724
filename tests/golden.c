/*
 * golden.c - load golden files and check the parser registry against them;
 * see golden.h for the file format. Shared by test_golden.c (built once
 * per MTA) and the mixed-file test, so every MTA
 * is held to the same rules: labels, the extra fields, fields that point
 * into the line, and no read past an exact-size buffer.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/golden.h"

static char *
xstrndup(const char *s, size_t n)
{
	char *p = malloc(n + 1);

	assert_non_null(p);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

void
golden_load(struct golden_set *set, const char *path, int mta)
{
	FILE *f = fopen(path, "r");
	char buf[8192];
	size_t cap = 0;
	int lineno = 0;
	struct golden_case *pending = NULL, *last = NULL;

	memset(set, 0, sizeof *set);
	set->path = path;
	set->mta = mta;
	if (f == NULL)
		fail_msg("%s: cannot open", path);
	while (fgets(buf, sizeof buf, f) != NULL) {
		size_t n = strlen(buf);

		lineno++;
		while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
			buf[--n] = '\0';
		if (n == 0 || buf[0] == '#')
			continue;
		if (strncmp(buf, "=> ", 3) == 0) {
			if (pending == NULL)
				fail_msg("%s:%d: expectation without a line", path, lineno);
			pending->expect = xstrndup(buf + 3, n - 3);
			last = pending;
			pending = NULL;
			continue;
		}
		if (strncmp(buf, "op> ", 4) == 0) {
			struct golden_case *c = last != NULL ? last : NULL;
			size_t old;

			if (c == NULL)
				fail_msg("%s:%d: 'op>' must follow a '=>' line", path, lineno);
			old = c->ops != NULL ? strlen(c->ops) : 0;
			c->ops = realloc(c->ops, old + n - 4 + 2);
			assert_non_null(c->ops);
			memcpy(c->ops + old, buf + 4, n - 4);
			c->ops[old + n - 4] = '\n';
			c->ops[old + n - 4 + 1] = '\0';
			continue;
		}
		if (strncmp(buf, "+> ", 3) == 0) {
			if (last == NULL || last->extra != NULL)
				fail_msg("%s:%d: '+>' must follow a '=>' line", path, lineno);
			last->extra = xstrndup(buf + 3, n - 3);
			continue;
		}
		if (pending != NULL)
			fail_msg("%s:%d: line without an expectation", path, pending->lineno);
		if (set->ncases == cap) {
			cap = cap ? cap * 2 : 64;
			set->cases = realloc(set->cases, cap * sizeof *set->cases);
			assert_non_null(set->cases);
		}
		pending = &set->cases[set->ncases++];
		pending->line = xstrndup(buf, n);
		pending->len = n;
		pending->expect = NULL;
		pending->extra = NULL;
		pending->ops = NULL;
		pending->lineno = lineno;
		last = NULL;
	}
	fclose(f);
	if (pending != NULL)
		fail_msg("%s: last line has no expectation", path);
}

void
golden_free(struct golden_set *set)
{
	for (size_t i = 0; i < set->ncases; i++) {
		free(set->cases[i].line);
		free(set->cases[i].expect);
		free(set->cases[i].extra);
		free(set->cases[i].ops);
	}
	free(set->cases);
	memset(set, 0, sizeof *set);
}

size_t
golden_count(const struct golden_set *set, const char *prefix)
{
	size_t k = 0;

	for (size_t i = 0; i < set->ncases; i++)
		if (strncmp(set->cases[i].expect, prefix, strlen(prefix)) == 0)
			k++;
	return k;
}

/* Parse from a heap copy of exactly len bytes: no NUL after it. */
static int
parse_exact(struct mp_registry *reg, const char *line, size_t len,
    struct mp_event *ev, char **copy)
{
	*copy = malloc(len ? len : 1);
	assert_non_null(*copy);
	memcpy(*copy, line, len);
	return mp_registry_parse(reg, *copy, len, ev);
}

static void
render(const struct golden_set *set, int rc, const struct mp_event *ev,
    char *out, size_t outlen)
{
	char enh[MP_ENHANCED_BUFSZ];
	char code[8] = "";

	if (rc == 0) {
		snprintf(out, outlen, "none");
		return;
	}
	if (rc == -1) {
		if (ev->mta == set->mta)
			snprintf(out, outlen, "unmatched");
		else
			snprintf(out, outlen, "unmatched mta=%s",
			    mp_mta_name(NULL, ev->mta));
		return;
	}
	if (ev->kind == MP_EVENT_RECEIVED) {
		snprintf(out, outlen, "received mta=%s dir=%s domain=%.*s",
		    mp_mta_name(NULL, ev->mta), mp_direction_name(ev->direction),
		    (int)ev->domain_len, ev->domain ? ev->domain : "");
		return;
	}
	mp_format_enhanced(&ev->enhanced, enh);
	if (ev->code != 0)
		snprintf(code, sizeof code, "%u", ev->code);
	snprintf(out, outlen,
	    "mta=%s dir=%s outcome=%s code=%s enhanced=%s class=%uxx domain=%.*s",
	    mp_mta_name(NULL, ev->mta), mp_direction_name(ev->direction),
	    mp_outcome_name(ev->outcome), code, enh, ev->cls,
	    (int)ev->domain_len, ev->domain ? ev->domain : "");
}

static const char *
dest_name(enum mp_destination d)
{
	switch (d) {
	case MP_DEST_REMOTE:
		return "remote";
	case MP_DEST_LOCAL:
		return "local";
	case MP_DEST_FILTER:
		return "filter";
	default:
		return "none";
	}
}

static void
seconds(double v, char *buf, size_t len)
{
	if (v < 0)
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%g", v);
}

/*
 * Check the fields an "+>" line names against ev. Returns 0 or -1 with
 * what differed in why.
 */
static int
check_extra(const char *extra, const struct mp_event *ev, char *why,
    size_t whylen)
{
	char got[1200], want[1024];
	const char *p = extra;

	while (*p != '\0') {
		const char *sp, *eq = strchr(p, '=');
		size_t klen, vlen;

		if (eq == NULL) {
			snprintf(why, whylen, "bad '+>' item: %s", p);
			return -1;
		}
		klen = (size_t)(eq - p);
		if (klen == 5 && memcmp(p, "reply", 5) == 0) {
			snprintf(want, sizeof want, "%s", eq + 1);
			snprintf(got, sizeof got, "%.*s", (int)ev->reply_len,
			    ev->reply ? ev->reply : "");
			if (strcmp(want, got) != 0) {
				snprintf(why, whylen, "reply: want \"%.400s\" got \"%.400s\"", want, got);
				return -1;
			}
			return 0;
		}
		sp = strchr(eq, ' ');
		vlen = sp != NULL ? (size_t)(sp - eq - 1) : strlen(eq + 1);
		snprintf(want, sizeof want, "%.*s", (int)vlen, eq + 1);
		if (klen == 4 && memcmp(p, "kind", 4) == 0) {
			snprintf(got, sizeof got, "%s",
			    ev->kind == MP_EVENT_RECEIVED ? "received" : "status");
		} else if (klen == 4 && memcmp(p, "dest", 4) == 0) {
			snprintf(got, sizeof got, "%s", dest_name(ev->destination));
		} else if (klen == 9 && memcmp(p, "attempted", 9) == 0) {
			snprintf(got, sizeof got, "%s", ev->not_attempted ? "no" : "yes");
		} else if (klen == 5 && memcmp(p, "delay", 5) == 0) {
			seconds(ev->delay, got, sizeof got);
		} else if (klen == 6 && memcmp(p, "stages", 6) == 0) {
			size_t n = 0;

			for (int i = 0; i < MP_STAGE_COUNT; i++) {
				seconds(ev->delay_stage[i], got + n, sizeof got - n);
				n = strlen(got);
				if (i + 1 < MP_STAGE_COUNT && n + 1 < sizeof got)
					got[n++] = '/';
				got[n] = '\0';
			}
		} else {
			snprintf(why, whylen, "unknown '+>' key: %.*s", (int)klen, p);
			return -1;
		}
		if (strcmp(want, got) != 0) {
			snprintf(why, whylen, "%.*s: want %.100s got %.100s", (int)klen, p,
			    want, got);
			return -1;
		}
		p = sp != NULL ? sp + 1 : eq + 1 + vlen;
	}
	return 0;
}

/*
 * The ops of ev as "op>" lines write them, one per line: the family's name
 * without "maillog_", then label=value for each label, value=V for a
 * histogram, and cipher=C on a TLS op whose line names its cipher.
 */
void
golden_render_ops(const struct mp_event *ev, char *out, size_t outlen)
{
	size_t n = 0;

	out[0] = '\0';
	for (unsigned i = 0; i < ev->nops && n < outlen; i++) {
		const struct mp_op *op = &ev->ops[i];
		const struct mp_op_family_desc *d = mp_op_family(op->family);

		if (d == NULL || !mp_op_valid(op)) {
			n += (size_t)snprintf(out + n, outlen - n, "INVALID family=%u\n", op->family);
			continue;
		}
		n += (size_t)snprintf(out + n, outlen - n, "%s", d->name + strlen("maillog_"));
		for (unsigned l = 0; l < d->nlabels && n < outlen; l++)
			n += (size_t)snprintf(out + n, outlen - n, " %s=%s", d->labels[l].name,
			    d->labels[l].values[op->label[l]]);
		if (d->histogram && n < outlen)
			n += (size_t)snprintf(out + n, outlen - n, " value=%.15g", op->value);
		if (op->family == MP_OPF_TLS && ev->tls_cipher != NULL && n < outlen)
			n += (size_t)snprintf(out + n, outlen - n, " cipher=%.*s",
			    (int)ev->tls_cipher_len, ev->tls_cipher);
		if (n < outlen)
			n += (size_t)snprintf(out + n, outlen - n, "\n");
	}
}

/* Every pointer an event holds points into the line it came from. */
static void
assert_inside(const struct mp_event *ev, const char *line, size_t len)
{
	if (ev->domain != NULL)
		assert_true(ev->domain >= line &&
		    ev->domain + ev->domain_len <= line + len);
	if (ev->reply != NULL)
		assert_true(ev->reply >= line &&
		    ev->reply + ev->reply_len <= line + len);
	assert_true(ev->hdr.msg >= line &&
	    ev->hdr.msg + ev->hdr.msg_len <= line + len);
	if (ev->tls_cipher != NULL)
		assert_true(ev->tls_cipher >= line &&
		    ev->tls_cipher + ev->tls_cipher_len <= line + len);
}

static void
assert_sane(int rc, const struct mp_event *ev)
{
	assert_true(rc >= -1 && rc <= 1);
	if (rc == 1 && ev->kind == MP_EVENT_STATUS) {
		assert_true(ev->cls == 2 || ev->cls == 4 || ev->cls == 5);
		assert_true(ev->code == 0 || (ev->code >= 200 && ev->code <= 599));
	}
	if (rc != 0 || ev->nops > 0)
		assert_true(ev->mta >= 0 && ev->mta < MP_MTA_BUILTIN_COUNT);
	assert_true(ev->nops <= MP_OPS_MAX);
	for (unsigned i = 0; i < ev->nops; i++)
		assert_true(mp_op_valid(&ev->ops[i]));
}

int
golden_check(const struct golden_set *set, const char *format)
{
	char err[256], got[512], why[1400], ops[1024];
	struct mp_registry *reg = mp_registry_new(format, err, sizeof err);
	int failures = 0;

	if (reg == NULL)
		fail_msg("mp_registry_new(%s): %s", format, err);
	for (size_t i = 0; i < set->ncases; i++) {
		const struct golden_case *c = &set->cases[i];
		struct mp_event ev;
		char *copy;
		int rc = parse_exact(reg, c->line, c->len, &ev, &copy);

		render(set, rc, &ev, got, sizeof got);
		why[0] = '\0';
		if (rc == 1 || ev.nops > 0)
			assert_inside(&ev, copy, c->len);
		assert_sane(rc, &ev);
		golden_render_ops(&ev, ops, sizeof ops);
		if (strcmp(got, c->expect) != 0)
			snprintf(why, sizeof why, "want: %.600s\n  got:  %.500s", c->expect, got);
		else if (c->extra != NULL && rc == 1)
			check_extra(c->extra, &ev, why, sizeof why);
		else if (c->extra != NULL)
			snprintf(why, sizeof why, "'+>' on a line that yields no event");
		if (why[0] == '\0' && strcmp(ops, c->ops != NULL ? c->ops : "") != 0)
			snprintf(why, sizeof why, "ops: want:\n%.600s  got:\n%.600s",
			    c->ops != NULL ? c->ops : "(none)\n", ops[0] ? ops : "(none)\n");
		free(copy);
		if (why[0] != '\0') {
			print_error("%s:%d (format %s)\n  line: %s\n  %s\n", set->path,
			    c->lineno, format, c->line, why);
			failures++;
		}
	}
	mp_registry_free(reg);
	print_message("%s: %zu golden lines, %d mismatches (format %s)\n",
	    set->path, set->ncases, failures, format);
	return failures;
}

void
golden_prefixes(const struct golden_set *set, const char *format)
{
	char err[256];
	struct mp_registry *reg = mp_registry_new(format, err, sizeof err);

	assert_non_null(reg);
	for (size_t i = 0; i < set->ncases; i++) {
		const struct golden_case *c = &set->cases[i];

		for (size_t n = 0; n <= c->len; n++) {
			struct mp_event ev;
			char *copy;
			int rc = parse_exact(reg, c->line, n, &ev, &copy);

			assert_sane(rc, &ev);
			if (rc == 1 || ev.nops > 0)
				assert_inside(&ev, copy, n);
			free(copy);
		}
	}
	mp_registry_free(reg);
}

void
golden_soup(const struct golden_set *set, const char *format, uint32_t seed)
{
	char err[256], buf[600];
	struct mp_registry *reg = mp_registry_new(format, err, sizeof err);
	uint32_t x = seed ? seed : 2463534242u;

	assert_non_null(reg);
	assert_true(set->ncases > 0);
	for (int iter = 0; iter < 20000; iter++) {
		size_t n = 0;
		struct mp_event ev;
		char *copy;
		int rc;

		while (n < sizeof buf - 200) {
			x ^= x << 13;
			x ^= x >> 17;
			x ^= x << 5;
			if (x % 3 == 0) {
				const struct golden_case *g = &set->cases[x % set->ncases];
				size_t off = (x >> 8) % g->len;
				size_t k = (x >> 16) % 120;

				if (k > g->len - off)
					k = g->len - off;
				memcpy(buf + n, g->line + off, k);
				n += k;
			} else {
				buf[n++] = (char)(x >> 24);
			}
			if ((x & 0xf) == 0)
				break;
		}
		rc = parse_exact(reg, buf, n, &ev, &copy);
		assert_sane(rc, &ev);
		if (rc == 1 || ev.nops > 0)
			assert_inside(&ev, copy, n);
		free(copy);
	}
	mp_registry_free(reg);
}
