/*
 * custom.c - parsers defined by configuration, not C: an mta name, a
 * direction, an optional syslog tag and match literal that route lines
 * cheaply, and PCRE2 patterns whose named groups say where the status is:
 *
 *   code      the reply code ("550"); taken only if it is one (200..599)
 *   enhanced  the RFC 3463 code ("5.1.1"); taken only if it is one
 *   outcome   a word such as "delivered" or "TempFail" (see outcome_words)
 *   domain    the recipient or client domain, or an address ("u@dom")
 *
 * The class comes from code, else enhanced, else outcome, exactly as for
 * the built-in parsers (mp_event_set_class), so a custom MTA's counts mean
 * the same as Postfix's.
 *
 * A parser made here has no MTA id yet: the registry gives it the id of
 * its mta name once the whole config is known to be good (the id -> name
 * table, and why it outlives every registry: struct mp_mta_names, mp.h).
 */
#include "parsers/parser.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TAG_MAX_LEN 64
#define MATCH_MAX_LEN 256
#define PATTERNS_MAX 32

enum group {
	G_CODE = 0,
	G_ENHANCED,
	G_OUTCOME,
	G_DOMAIN,
	G_COUNT
};

static const char *const group_names[G_COUNT] = {
	[G_CODE] = "code",
	[G_ENHANCED] = "enhanced",
	[G_OUTCOME] = "outcome",
	[G_DOMAIN] = "domain",
};

/* One compiled pattern and the capture numbers of each named group: more
 * than one when (?J) lets alternatives share a name; the first that took
 * part in the match is used. */
struct pattern {
	pcre2_code *re;
	uint8_t ngroups[G_COUNT];
	uint8_t groups[G_COUNT][MP_RE_MAX_PAIRS];
};

struct mp_custom {
	char name[MP_CUSTOM_NAME_MAX + 1];
	int mta;
	enum mp_direction direction;
	char *tag;
	size_t tag_len;
	char *match;
	size_t match_len;
	const struct mp_re_env *env;
	size_t npatterns;
	struct pattern pat[];
};

/* Accepted outcome words, compared ignoring case and any '_', '-' or
 * space, so "TempFail", "temp_fail" and "TransientFailure" all work. The
 * README's "Custom parsers" section lists them; keep the two in step. */
static const struct {
	const char *word;
	enum mp_outcome outcome;
} outcome_words[] = {
	{ "sent", MP_OUTCOME_SENT },
	{ "delivered", MP_OUTCOME_SENT },
	{ "delivery", MP_OUTCOME_SENT },
	{ "success", MP_OUTCOME_SENT },
	{ "ok", MP_OUTCOME_SENT },
	{ "accepted", MP_OUTCOME_SENT },
	{ "relayed", MP_OUTCOME_SENT },
	{ "deferred", MP_OUTCOME_DEFERRED },
	{ "deferral", MP_OUTCOME_DEFERRED },
	{ "delayed", MP_OUTCOME_DEFERRED },
	{ "tempfail", MP_OUTCOME_DEFERRED },
	{ "tempfailure", MP_OUTCOME_DEFERRED },
	{ "transientfailure", MP_OUTCOME_DEFERRED },
	{ "bounced", MP_OUTCOME_BOUNCED },
	{ "bounce", MP_OUTCOME_BOUNCED },
	{ "failed", MP_OUTCOME_BOUNCED },
	{ "failure", MP_OUTCOME_BOUNCED },
	{ "permfail", MP_OUTCOME_BOUNCED },
	{ "permfailure", MP_OUTCOME_BOUNCED },
	{ "permanentfailure", MP_OUTCOME_BOUNCED },
	{ "expired", MP_OUTCOME_EXPIRED },
	{ "expiration", MP_OUTCOME_EXPIRED },
	{ "rejected", MP_OUTCOME_REJECTED },
	{ "rejection", MP_OUTCOME_REJECTED },
	{ "reject", MP_OUTCOME_REJECTED },
	{ "tempreject", MP_OUTCOME_TEMP_REJECTED },
	{ "temprejected", MP_OUTCOME_TEMP_REJECTED },
};

static enum mp_outcome
outcome_word(const char *s, size_t len)
{
	char w[24];
	size_t n = 0;

	for (size_t i = 0; i < len; i++) {
		char ch = s[i];
		if (ch == '_' || ch == '-' || ch == ' ')
			continue;
		if (n == sizeof w - 1)
			return MP_OUTCOME_NONE;
		w[n++] = (ch >= 'A' && ch <= 'Z') ? (char)(ch - 'A' + 'a') : ch;
	}
	w[n] = '\0';
	for (size_t i = 0; i < sizeof outcome_words / sizeof outcome_words[0]; i++)
		if (strcmp(w, outcome_words[i].word) == 0)
			return outcome_words[i].outcome;
	return MP_OUTCOME_NONE;
}

static void
where_set(struct mp_def_error *where, enum mp_def_field field, int pattern)
{
	if (where != NULL) {
		where->field = field;
		where->pattern = pattern;
	}
}

/* A label value that reads well in PromQL and in --maillog.format. */
static int
check_name(const char *name, char *err, size_t errlen)
{
	size_t len = name ? strlen(name) : 0;

	if (len == 0) {
		snprintf(err, errlen, "mta is missing or empty");
		return -1;
	}
	if (len > MP_CUSTOM_NAME_MAX || name[0] < 'a' || name[0] > 'z' ||
	    strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_-.") != len) {
		snprintf(err, errlen,
		    "mta \"%.40s\": want a lowercase letter, then lowercase letters, digits, '_', '-' or '.'"
		    " (at most %d in all): it becomes the mta label value", name, MP_CUSTOM_NAME_MAX);
		return -1;
	}
	for (int i = 0; i < MP_MTA_BUILTIN_COUNT; i++)
		if (strcmp(name, mp_mta_name(NULL, i)) == 0) {
			snprintf(err, errlen, "mta \"%s\" is a built-in parser's name", name);
			return -1;
		}
	if (strcmp(name, "auto") == 0 || strcmp(name, "unknown") == 0) {
		snprintf(err, errlen, "mta \"%s\" is reserved", name);
		return -1;
	}
	return 0;
}

/* Record each named group's capture numbers; refuse names we do not know
 * (a typo such as "(?<enhaced>" would otherwise silently capture nothing)
 * and patterns that could never give a class. */
static int
map_groups(struct pattern *p, char *why, size_t whylen)
{
	uint32_t count = 0, entry = 0;
	PCRE2_SPTR table = NULL;

	pcre2_pattern_info(p->re, PCRE2_INFO_NAMECOUNT, &count);
	pcre2_pattern_info(p->re, PCRE2_INFO_NAMEENTRYSIZE, &entry);
	pcre2_pattern_info(p->re, PCRE2_INFO_NAMETABLE, &table);
	for (uint32_t i = 0; i < count; i++) {
		PCRE2_SPTR e = table + (size_t)i * entry;
		int num = (e[0] << 8) | e[1];
		const char *name = (const char *)e + 2;
		int g;

		for (g = 0; g < G_COUNT && strcmp(name, group_names[g]) != 0; g++)
			;
		if (g == G_COUNT) {
			snprintf(why, whylen,
			    "named group (?<%.40s>...) is not code, enhanced, outcome or domain", name);
			return -1;
		}
		p->groups[g][p->ngroups[g]++] = (uint8_t)num;
	}
	if (p->ngroups[G_CODE] + p->ngroups[G_ENHANCED] + p->ngroups[G_OUTCOME] == 0) {
		snprintf(why, whylen,
		    "has none of the named groups (?<code>...), (?<enhanced>...), (?<outcome>...):"
		    " a match could never say which class to count");
		return -1;
	}
	return 0;
}

/*
 * Check def and compile it into *out, without an id (the registry gives
 * one, mp_custom_set_mta, once the whole registry is known to be good, so
 * a refused config never takes an id). Returns 0, or -1 with a reason in
 * err; where then names the field and pattern. *out is freed with
 * mp_custom_free.
 */
int
mp_custom_new(struct mp_custom **out, const struct mp_custom_def *def,
    const struct mp_re_env *env, struct mp_def_error *where, char *err,
    size_t errlen)
{
	struct mp_custom *c;
	char why[256];

	*out = NULL;
	if (check_name(def->mta, err, errlen) < 0) {
		where_set(where, MP_DEF_MTA, -1);
		return -1;
	}
	if (def->direction != MP_DIR_INBOUND && def->direction != MP_DIR_OUTBOUND) {
		snprintf(err, errlen, "mta \"%s\": direction is not inbound or outbound", def->mta);
		where_set(where, MP_DEF_PARSER, -1);
		return -1;
	}
	if (def->tag != NULL && (def->tag[0] == '\0' || strlen(def->tag) > TAG_MAX_LEN ||
	    strpbrk(def->tag, " \t[]:") != NULL)) {
		snprintf(err, errlen,
		    "mta \"%s\": tag \"%.70s\" must be the program name a syslog line carries before"
		    " \"[pid]:\" (1 to %d characters, no spaces, '[', ']' or ':')",
		    def->mta, def->tag, TAG_MAX_LEN);
		where_set(where, MP_DEF_TAG, -1);
		return -1;
	}
	if (def->match != NULL && (def->match[0] == '\0' || strlen(def->match) > MATCH_MAX_LEN)) {
		snprintf(err, errlen, "mta \"%s\": match must be 1 to %d characters",
		    def->mta, MATCH_MAX_LEN);
		where_set(where, MP_DEF_MATCH, -1);
		return -1;
	}
	if (def->npatterns == 0 || def->npatterns > PATTERNS_MAX) {
		snprintf(err, errlen, "mta \"%s\": want 1 to %d patterns, not %zu",
		    def->mta, PATTERNS_MAX, def->npatterns);
		where_set(where, MP_DEF_PATTERNS, -1);
		return -1;
	}

	c = calloc(1, sizeof *c + def->npatterns * sizeof c->pat[0]);
	if (c == NULL) {
		snprintf(err, errlen, "out of memory");
		where_set(where, MP_DEF_NONE, -1);
		return -1;
	}
	memcpy(c->name, def->mta, strlen(def->mta) + 1);
	c->mta = MP_MTA_NONE;
	c->direction = def->direction;
	c->env = env;
	if ((def->tag != NULL && (c->tag = strdup(def->tag)) == NULL) ||
	    (def->match != NULL && (c->match = strdup(def->match)) == NULL)) {
		mp_custom_free(c);
		snprintf(err, errlen, "out of memory");
		where_set(where, MP_DEF_NONE, -1);
		return -1;
	}
	c->tag_len = c->tag ? strlen(c->tag) : 0;
	c->match_len = c->match ? strlen(c->match) : 0;

	for (size_t i = 0; i < def->npatterns; i++) {
		struct pattern *p = &c->pat[i];
		const char *pat = def->patterns[i];

		c->npatterns = i + 1;
		why[0] = '\0';
		if (pat == NULL || pat[0] == '\0')
			snprintf(why, sizeof why, "empty pattern");
		else if (mp_re_compile(&p->re, pat, 0, why, sizeof why) == 0)
			(void)map_groups(p, why, sizeof why);
		if (why[0] != '\0') {
			snprintf(err, errlen, "mta \"%s\": pattern %zu: %s", def->mta, i + 1, why);
			where_set(where, MP_DEF_PATTERNS, (int)i);
			mp_custom_free(c);
			return -1;
		}
	}
	*out = c;
	return 0;
}

/* Free c and its compiled patterns. NULL is a no-op. Its id and name stay
 * taken in the registry's names table. */
void
mp_custom_free(struct mp_custom *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->npatterns; i++)
		pcre2_code_free(c->pat[i].re);
	free(c->tag);
	free(c->match);
	free(c);
}

/* Set the id the registry gave c's name (mp_mta_custom_id). */
void
mp_custom_set_mta(struct mp_custom *c, int mta)
{
	c->mta = mta;
}

int
mp_custom_mta(const struct mp_custom *c)
{
	return c->mta;
}

const char *
mp_custom_label(const struct mp_custom *c)
{
	return c->name;
}

/* Cheap: compares the tag only; the match literal is looked for in parse. */
enum mp_route
mp_custom_route(const struct mp_custom *c, const struct mp_syslog *hdr)
{
	if (c->tag == NULL)
		return MP_ROUTE_TRY;
	if (hdr->tag != NULL && hdr->tag_len == c->tag_len &&
	    memcmp(hdr->tag, c->tag, c->tag_len) == 0)
		return MP_ROUTE_TAG;
	return MP_ROUTE_NO;
}

static int
group(const struct mp_custom *c, const struct pattern *p, enum group g,
    const char *s, const char **v, size_t *vlen)
{
	for (int i = 0; i < p->ngroups[g]; i++)
		if (mp_re_group(c->env, s, p->groups[g][i], v, vlen) == 0)
			return 0;
	return -1;
}

/* Fill ev from the groups of p's match in s. Returns 1, or -1 when no
 * group gives a class (a "999" code and no outcome word, say). */
static int
fill(const struct mp_custom *c, const struct pattern *p, const char *s,
    struct mp_event *ev)
{
	const char *v;
	size_t vlen;
	struct mp_enhanced e;

	ev->code = 0;
	ev->enhanced.cls = 0;
	ev->enhanced.subject = 0;
	ev->enhanced.detail = 0;
	ev->outcome = MP_OUTCOME_NONE;
	ev->domain = NULL;
	ev->domain_len = 0;
	ev->direction = c->direction;
	if (group(c, p, G_CODE, s, &v, &vlen) == 0 && vlen == 3)
		ev->code = (uint16_t)mp_parse_reply_code(v, vlen);
	if (group(c, p, G_ENHANCED, s, &v, &vlen) == 0 &&
	    mp_parse_enhanced(v, vlen, &e) == vlen && vlen > 0)
		ev->enhanced = e;
	if (group(c, p, G_OUTCOME, s, &v, &vlen) == 0)
		ev->outcome = outcome_word(v, vlen);
	if (group(c, p, G_DOMAIN, s, &v, &vlen) == 0 && vlen > 0) {
		if (memchr(v, '@', vlen) != NULL) {
			mp_event_set_domain(ev, v, vlen);
		} else {
			ev->domain = v;
			ev->domain_len = vlen;
		}
	}
	if (mp_event_set_class(ev) < 0)
		return -1;
	if (ev->outcome == MP_OUTCOME_NONE) {
		int in = c->direction == MP_DIR_INBOUND;
		ev->outcome = ev->cls == 2 ? MP_OUTCOME_SENT :
		    ev->cls == 4 ? (in ? MP_OUTCOME_TEMP_REJECTED : MP_OUTCOME_DEFERRED) :
		    (in ? MP_OUTCOME_REJECTED : MP_OUTCOME_BOUNCED);
	}
	return 1;
}

/*
 * Match the message (the whole line when it has no syslog header) against
 * c's patterns in order; the first that yields a status wins. Without its
 * match literal the line is not c's (0). A line that has the literal, or
 * that a pattern matched, but that gave no status is -1: counted as
 * unmatched, never silently dropped.
 */
int
mp_custom_parse(const struct mp_custom *c, const struct mp_syslog *hdr,
    struct mp_event *ev)
{
	const char *s = hdr->msg;
	size_t len = hdr->msg_len;
	int matched = 0;

	if (c->match != NULL && memmem(s, len, c->match, c->match_len) == NULL)
		return 0;
	for (size_t i = 0; i < c->npatterns; i++) {
		if (mp_re_match(c->pat[i].re, c->env, s, len) == 0)
			continue;
		matched = 1;
		if (fill(c, &c->pat[i], s, ev) == 1)
			return 1;
	}
	return (matched || c->match != NULL) ? -1 : 0;
}
