/*
 * registry.c - the table of parsers, a registry of the ones a format
 * selects, and the per-line dispatch between them.
 *
 * Dispatch goes by the syslog tag, not by trying every parser in turn: the
 * tag is already split out by the header scanner, so picking the parser
 * costs a few byte compares, and a line can never be counted by two MTAs.
 */
#include "parsers/parser.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parsers/mta_names.h"

/* Every built-in parser, in the order ties are broken. New MTAs go here. */
static const struct mp_parser *const parser_table[] = {
	&mp_parser_postfix,
	&mp_parser_exim,
	&mp_parser_sendmail,
	&mp_parser_opensmtpd,
};
#define PARSER_COUNT (sizeof parser_table / sizeof parser_table[0])

/* Must list "auto" and every name in parser_table. */
static const char format_names[] = "auto|postfix|exim|sendmail|opensmtpd";

struct active_parser {
	const struct mp_parser *parser;
	void *state;
};

struct mp_registry {
	struct mp_re_env env;
	pcre2_jit_stack *jit_stack;
	size_t count;
	struct active_parser active[MP_MTA_MAX];
	size_t ncustom;
	struct mp_custom *custom[MP_CUSTOM_MAX];
	struct mp_mta_names *names;      /* the custom ids' names: lent, or own_names */
	struct mp_mta_names own_names;
	struct mp_settings settings;
};

/* Formats for --help and error messages. Static string. */
const char *
mp_format_names(void)
{
	return format_names;
}

static void
set_err(char *err, size_t errlen, const char *what, const char *detail)
{
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, "%s%s%s", what, detail ? ": " : "",
		    detail ? detail : "");
}

static int
activate(struct mp_registry *reg, const struct mp_parser *p, char *err,
    size_t errlen)
{
	struct active_parser *a = &reg->active[reg->count];
	char why[200];

	why[0] = '\0';
	a->state = NULL;
	if (p->init != NULL && p->init(&a->state, &reg->env, why, sizeof why) == -1) {
		char what[64];

		snprintf(what, sizeof what, "%s parser", p->name);
		set_err(err, errlen, what, why);
		return -1;
	}
	a->parser = p;
	reg->count++;
	return 0;
}

/*
 * Create a registry for format ("auto" or a parser's name); see mp.h. All
 * allocation happens here: the match data, a JIT stack big enough that a
 * 64 KiB line cannot exhaust it, and each parser's compiled patterns.
 * Returns NULL with a reason in err on failure; free with mp_registry_free.
 */
struct mp_registry *
mp_registry_new(const char *format, char *err, size_t errlen)
{
	return mp_registry_new_ex(format, NULL, 0, NULL, NULL, err, errlen);
}

static void
where_is(struct mp_def_error *where, enum mp_def_field field, int def)
{
	if (where != NULL) {
		where->field = field;
		where->def = def;
		where->pattern = -1;
	}
}

/*
 * Compile every custom definition into reg, in order, then keep the ones
 * format selects ("auto": all; a built-in's name: none; a custom name: that
 * one) and give those their ids. Sets *found when format is a custom name.
 * Returns 0, or -1 with err and where set.
 */
static int
add_custom(struct mp_registry *reg, const char *format,
    const struct mp_custom_def *defs, size_t ndefs, int *found,
    struct mp_def_error *where, char *err, size_t errlen)
{
	struct mp_custom *c;
	size_t keep = 0;

	if (ndefs > MP_CUSTOM_MAX) {
		snprintf(err, errlen, "too many custom parsers: at most %d", MP_CUSTOM_MAX);
		where_is(where, MP_DEF_PARSER, MP_CUSTOM_MAX);
		return -1;
	}
	for (size_t i = 0; i < ndefs; i++) {
		where_is(where, MP_DEF_NONE, (int)i);
		if (mp_custom_new(&c, &defs[i], &reg->env, where, err, errlen) < 0)
			return -1;
		reg->custom[reg->ncustom++] = c;
		/* One MTA may have an inbound and an outbound parser, under one
		 * name and so one id; two for the same direction is a mistake. */
		for (size_t j = 0; j < i; j++)
			if (strcmp(defs[j].mta, defs[i].mta) == 0 &&
			    defs[j].direction == defs[i].direction) {
				snprintf(err, errlen,
				    "mta \"%s\" with direction %s is defined twice (custom parser %zu has it too)",
				    defs[i].mta, mp_direction_name(defs[i].direction), j + 1);
				where_is(where, MP_DEF_MTA, (int)i);
				return -1;
			}
	}
	for (size_t i = 0; i < reg->ncustom; i++) {
		c = reg->custom[i];
		if (strcmp(format, "auto") == 0 || strcmp(format, mp_custom_label(c)) == 0) {
			*found |= strcmp(format, "auto") != 0;
			reg->custom[keep++] = c;
		} else {
			mp_custom_free(c);
		}
	}
	reg->ncustom = keep;
	for (size_t i = 0; i < reg->ncustom; i++) {
		int id = mp_mta_custom_id(reg->names, mp_custom_label(reg->custom[i]), err,
		    errlen);

		if (id < 0) {
			where_is(where, MP_DEF_MTA, -1);
			for (size_t j = 0; j < ndefs; j++)
				if (strcmp(defs[j].mta, mp_custom_label(reg->custom[i])) == 0)
					where_is(where, MP_DEF_MTA, (int)j);
			return -1;
		}
		mp_custom_set_mta(reg->custom[i], id);
	}
	return 0;
}

/*
 * mp_registry_new with custom parsers as well; see mp.h. The custom
 * definitions are all compiled first, so an error in any of them fails the
 * call whatever format is; ids are given last, so a refused config takes
 * none.
 */
struct mp_registry *
mp_registry_new_ex(const char *format, const struct mp_custom_def *defs,
    size_t ndefs, struct mp_mta_names *names, struct mp_def_error *where,
    char *err, size_t errlen)
{
	struct mp_registry *reg;
	int found = 0;

	if (format == NULL)
		format = "auto";
	where_is(where, MP_DEF_NONE, -1);
	reg = calloc(1, sizeof *reg);
	if (reg == NULL) {
		set_err(err, errlen, "out of memory", NULL);
		return NULL;
	}
	reg->env.md = pcre2_match_data_create(MP_RE_MAX_PAIRS, NULL);
	reg->env.mctx = pcre2_match_context_create(NULL);
	reg->jit_stack = pcre2_jit_stack_create(32 * 1024, 1024 * 1024, NULL);
	if (reg->env.md == NULL || reg->env.mctx == NULL ||
	    reg->jit_stack == NULL) {
		set_err(err, errlen, "out of memory", NULL);
		mp_registry_free(reg);
		return NULL;
	}
	pcre2_jit_stack_assign(reg->env.mctx, NULL, reg->jit_stack);
	reg->env.settings = &reg->settings;
	atomic_init(&reg->own_names.count, 0);
	reg->names = names != NULL ? names : &reg->own_names;

	if (add_custom(reg, format, defs, ndefs, &found, where, err, errlen) < 0) {
		mp_registry_free(reg);
		return NULL;
	}
	for (size_t i = 0; i < PARSER_COUNT; i++) {
		const struct mp_parser *p = parser_table[i];

		if (strcmp(format, "auto") != 0 && strcmp(format, p->name) != 0)
			continue;
		found = 1;
		if (activate(reg, p, err, errlen) == -1) {
			where_is(where, MP_DEF_NONE, -1);
			mp_registry_free(reg);
			return NULL;
		}
	}
	if (!found) {
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "unknown format \"%.40s\", want %s%s",
			    format, format_names,
			    ndefs > 0 ? " or a custom parser's mta" : "");
		where_is(where, MP_DEF_FORMAT, -1);
		mp_registry_free(reg);
		return NULL;
	}
	return reg;
}

/* Copy the re-injecting smtpd names into reg; see mp.h. Nothing changes
 * unless every name is good. */
int
mp_registry_set_reinjection(struct mp_registry *reg, const char *const *names,
    size_t n, char *err, size_t errlen)
{
	if (n > MP_REINJECT_MAX) {
		snprintf(err, errlen, "at most %d re-injecting smtpd names", MP_REINJECT_MAX);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(names[i]);

		if (len == 0 || len > MP_REINJECT_NAME_MAX) {
			snprintf(err, errlen, "re-injecting smtpd name '%.40s%s': want 1 to %d bytes",
			    names[i], len > 40 ? "..." : "", MP_REINJECT_NAME_MAX);
			return -1;
		}
	}
	for (size_t i = 0; i < n; i++) {
		reg->settings.reinject[i].len = strlen(names[i]);
		memcpy(reg->settings.reinject[i].name, names[i], reg->settings.reinject[i].len + 1);
	}
	reg->settings.nreinject = n;
	return 0;
}

/* The table reg's custom ids are named in; see mp.h. */
const struct mp_mta_names *
mp_registry_names(const struct mp_registry *reg)
{
	return reg->names;
}

/* The ids reg reports; see mp.h. */
size_t
mp_registry_mtas(const struct mp_registry *reg, int *out, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < reg->count && n < max; i++)
		out[n++] = reg->active[i].parser->mta;
	for (size_t i = 0; i < reg->ncustom && n < max; i++)
		out[n++] = mp_custom_mta(reg->custom[i]);
	return n;
}

/* Free reg and everything it compiled. NULL is a no-op. */
void
mp_registry_free(struct mp_registry *reg)
{
	if (reg == NULL)
		return;
	for (size_t i = 0; i < reg->count; i++)
		if (reg->active[i].parser->fini != NULL)
			reg->active[i].parser->fini(reg->active[i].state);
	for (size_t i = 0; i < reg->ncustom; i++)
		mp_custom_free(reg->custom[i]);
	pcre2_jit_stack_free(reg->jit_stack);
	pcre2_match_context_free(reg->env.mctx);
	pcre2_match_data_free(reg->env.md);
	free(reg);
}

/* Everything a parser fills but the ops. */
static void
clear_status(struct mp_event *ev)
{
	ev->mta = MP_MTA_NONE;
	ev->direction = MP_DIR_OUTBOUND;
	ev->outcome = MP_OUTCOME_NONE;
	ev->code = 0;
	ev->enhanced.cls = 0;
	ev->enhanced.subject = 0;
	ev->enhanced.detail = 0;
	ev->cls = 0;
	ev->kind = MP_EVENT_STATUS;
	ev->destination = MP_DEST_NONE;
	ev->domain = NULL;
	ev->domain_len = 0;
	ev->reply = NULL;
	ev->reply_len = 0;
	ev->not_attempted = 0;
	ev->delay = -1;
	for (int i = 0; i < MP_STAGE_COUNT; i++)
		ev->delay_stage[i] = -1;
}

static void
clear_event(struct mp_event *ev)
{
	clear_status(ev);
	ev->nops = 0;
	ev->tls_cipher = NULL;
	ev->tls_cipher_len = 0;
}

/* After a parser returned r: a line that is no status loses whatever the
 * parser filled on its way to deciding so, but keeps its ops (and the MTA
 * they are about). */
static void
settle(struct mp_event *ev, int r, int mta)
{
	if (r == 0 && ev->nops == 0)
		clear_event(ev);      /* clean for the next parser to try */
	else if (r == 0)
		clear_status(ev);
	if (r != 0 || ev->nops > 0)
		ev->mta = mta;
}

/* Run one parser on an event that is clear: mp_registry_parse clears it
 * first, and settle() leaves it clear whenever the next parser may try. */
static int
run(const struct active_parser *a, struct mp_event *ev)
{
	int r;

	r = a->parser->parse(a->state, &ev->hdr, ev);
	settle(ev, r, a->parser->mta);
	return r;
}

static int
run_custom(const struct mp_custom *c, struct mp_event *ev)
{
	int r;

	r = mp_custom_parse(c, &ev->hdr, ev);
	settle(ev, r, mp_custom_mta(c));
	return r;
}

/*
 * Parse one line; see mp.h for the contract. The header is parsed once and
 * kept in ev->hdr whatever the result. A parser whose tag the line carries
 * decides alone; a line with no tag at all (a bare message, or RFC 5424
 * with a nil APP-NAME) is offered to the parsers that would take it, in
 * table order, until one recognises it.
 *
 * Custom parsers fit in around that: 1. one whose tag the line carries
 * decides alone, before the built-ins (the admin routed that tag to it);
 * 2. a built-in whose tag it is decides; 3. custom parsers without a tag
 * are tried in definition order (their match literal, when they have one,
 * makes the line theirs); 4. the built-ins that would take an untagged
 * line. With no custom parsers, steps 1 and 3 cost nothing.
 */
int
mp_registry_parse(struct mp_registry *reg, const char *line, size_t len,
    struct mp_event *ev)
{
	enum mp_claim claim[MP_MTA_MAX];
	enum mp_route route[MP_CUSTOM_MAX];
	int r;

	clear_event(ev);
	mp_syslog_parse(line, len, &ev->hdr);
	for (size_t i = 0; i < reg->ncustom; i++) {
		route[i] = mp_custom_route(reg->custom[i], &ev->hdr);
		if (route[i] == MP_ROUTE_TAG)
			return run_custom(reg->custom[i], ev);
	}
	for (size_t i = 0; i < reg->count; i++) {
		claim[i] = reg->active[i].parser->claims(&ev->hdr);
		if (claim[i] == MP_CLAIM_YES)
			return run(&reg->active[i], ev);
	}
	for (size_t i = 0; i < reg->ncustom; i++) {
		if (route[i] != MP_ROUTE_TRY)
			continue;
		if ((r = run_custom(reg->custom[i], ev)) != 0 || ev->nops > 0)
			return r;
	}
	for (size_t i = 0; i < reg->count; i++) {
		if (claim[i] != MP_CLAIM_MAYBE)
			continue;
		if ((r = run(&reg->active[i], ev)) != 0 || ev->nops > 0)
			return r;
	}
	return 0;
}
