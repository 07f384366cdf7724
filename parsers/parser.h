/*
 * parser.h - what one MTA's parser provides to the registry (internal to
 * parsers/; the rest of the program sees only mp.h).
 *
 * A parser is a const table of callbacks. Its compiled patterns live in a
 * per-registry state made by init(), because the registry is per thread
 * and PCRE2 match data must not be shared; the registry lends every parser
 * its one match data block (struct mp_re_env) so nothing is allocated per
 * line. To add an MTA: write <mta>.c exporting one `const struct mp_parser`,
 * declare it below, and add it to the table in registry.c.
 */
#ifndef MP_PARSER_H
#define MP_PARSER_H

#include "parsers/mp.h"
#include "parsers/regex.h"

#include <string.h>

/* What mp_registry_set_reinjection gave: each name as the user wrote it
 * (a Postfix syslog_name, or a whole tag ending in "/smtpd"). */
struct mp_settings {
	size_t nreinject;
	struct {
		char name[MP_REINJECT_NAME_MAX + 1];
		size_t len;
	} reinject[MP_REINJECT_MAX];
};

/* How sure a parser is that a line is its own, from the header alone. */
enum mp_claim {
	MP_CLAIM_NO = 0,   /* someone else's line (another program's tag) */
	MP_CLAIM_MAYBE,    /* no tag to go by: try the parser if nobody is sure */
	MP_CLAIM_YES,      /* our tag: this parser decides */
};

struct mp_parser {
	const char *name;  /* --maillog.format value, and the mta label */
	int mta;           /* enum mp_mta, or a custom id */

	/* Compile patterns into a new *state. Returns 0, or -1 with a
	 * one-line reason in err. NULL for a parser that needs no state (a
	 * hand-written scanner): its state is then NULL. */
	int (*init)(void **state, const struct mp_re_env *env, char *err,
	    size_t errlen);
	void (*fini)(void *state);  /* must accept NULL; NULL when init is */

	/* Cheap: look at hdr->kind and hdr->tag only. */
	enum mp_claim (*claims)(const struct mp_syslog *hdr);

	/* Fill ev (already zeroed, ev->hdr set) from hdr->msg. Returns 1 for
	 * an event, 0 for "not a status line", -1 for a status marker that
	 * could not be parsed, as mp_registry_parse documents. */
	int (*parse)(void *state, const struct mp_syslog *hdr,
	    struct mp_event *ev);
};

extern const struct mp_parser mp_parser_postfix;
extern const struct mp_parser mp_parser_exim;
extern const struct mp_parser mp_parser_sendmail;
extern const struct mp_parser mp_parser_opensmtpd;

/*
 * Postfix's delivery pattern and the scanner that stands in for it on the
 * hot path (postfix.c): mp_postfix_delivery_scan finds the same three
 * groups (recipient, dsn, status; an unset one is NULL with length 0) as
 * PCRE2 finds with mp_postfix_delivery_re, and returns 1 for a match, 0
 * where the pattern cannot match, or -1 where only the pattern can tell.
 * Exported for test_postfix_scan's comparison with PCRE2.
 */
extern const char mp_postfix_delivery_re[];
int mp_postfix_delivery_scan(const char *m, size_t n, const char *grp[3], size_t glen[3]);

/*
 * Shared scanners, implemented in scan.c (see the comments there):
 * mp_reply_at: the reply code at s and its enhanced code, or 0;
 * mp_event_set_domain: ev->domain from "local@domain";
 * mp_event_set_client: ev->domain from a client's name, else its address;
 * mp_is_loopback: 127/8, ::1, IPv6:::1 or localhost;
 * mp_decimal_at: "0.87" as seconds, -1 if no number;
 * mp_units_duration_at: "1d2h3m4s" / "0.5s" as seconds, -1 if none;
 * mp_find: memmem for the short literals parsers look for;
 * mp_filter_name: whether a transport, router or tag names a content filter.
 */
int mp_reply_at(const char *s, size_t len, struct mp_enhanced *enh);
void mp_event_set_domain(struct mp_event *ev, const char *addr, size_t len);
void mp_event_set_client(struct mp_event *ev, const char *name, size_t nlen,
    const char *addr, size_t alen);
int mp_is_loopback(const char *a, size_t len);
double mp_decimal_at(const char *s, size_t len, size_t *used);
double mp_units_duration_at(const char *s, size_t len, size_t *used);
const char *mp_find(const char *s, size_t len, const char *lit, size_t n);

/*
 * Whether s[0..len) starts with p[0..plen). The first byte is compared
 * inline: most calls are one of a list of prefixes tried in turn, and most
 * fail on that byte without a memcmp call (postscreen's eighteen line
 * shapes, tried in order on every postscreen line, spent 2.5 % of a
 * Postfix log's CPU time in memcmp calls that failed at once: perf).
 */
static inline int
mp_has_prefix(const char *s, size_t len, const char *p, size_t plen)
{
	return len >= plen && (plen == 0 || (s[0] == p[0] && memcmp(s, p, plen) == 0));
}
int mp_filter_name(const char *s, size_t len);

/*
 * Whether the 4 bytes at lit occur in s[0..len): mp_find(s, len, lit, 4) !=
 * NULL, for the short values it is asked of on every Exim delivery and
 * arrival (the transport "remote_smtp" for "lmtp" and "smtp", the protocol
 * "esmtps" for "smtp"). mp_find's set-up for a haystack of fewer than 16
 * places cost 96 to 135 instructions a call there (callgrind, round 10);
 * this is a 4-byte compare at each place. Longer values go to mp_find.
 * test_scan compares the two.
 */
static inline int
mp_contains4(const char *s, size_t len, const char *lit)
{
	uint32_t want, v;

	if (len > 32)
		return mp_find(s, len, lit, 4) != NULL;
	memcpy(&want, lit, 4);
	for (size_t i = 0; i + 4 <= len; i++) {
		memcpy(&v, s + i, 4);
		if (v == want)
			return 1;
	}
	return 0;
}

/*
 * s[0..n) equals w[0..n), ASCII letters in either case: strncasecmp(s, w, n)
 * == 0 in the C locale the exporter runs in, inlined. Why: STARTTLS lines
 * name their protocol ("TLSv1.3"), looked up among twelve spellings on
 * nearly every Sendmail line, and each strncasecmp call cost 45
 * instructions for 4 to 7 bytes (callgrind): 2.3 % of a Sendmail log's
 * CPU time (perf).
 */
static inline int
mp_ascii_caseeq(const char *s, const char *w, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned a = (unsigned char)s[i], b = (unsigned char)w[i];

		if (a != b && ((a | 0x20) != (b | 0x20) || (a | 0x20) - 'a' > 'z' - 'a'))
			return 0;
	}
	return 1;
}

/* Add an op (ops.h) to ev: family fam with label values l0..l2 (0 for a
 * label the family does not have) and, for a histogram, value. Returns 0,
 * or -1 (nothing added) when ev already holds MP_OPS_MAX ops. Label values
 * are checked where the op is counted (a bad one is a parser bug the golden
 * and fuzz tests catch). */
static inline int
mp_event_add_op(struct mp_event *ev, unsigned fam, unsigned l0, unsigned l1,
    unsigned l2, double value)
{
	struct mp_op *op;

	/* Not checked against the table here, on the hot path: the store
	 * checks every op it counts, and the golden and fuzz tests check
	 * every op a parser makes with mp_op_valid. */
	if (ev->nops >= MP_OPS_MAX || fam >= MP_OPF_COUNT || l0 > 255 || l1 > 255 || l2 > 255)
		return -1;
	op = &ev->ops[ev->nops++];
	op->family = (uint8_t)fam;
	op->label[0] = (uint8_t)l0;
	op->label[1] = (uint8_t)l1;
	op->label[2] = (uint8_t)l2;
	op->value = value;
	return 0;
}

/*
 * Custom parsers (custom.c): made from a struct mp_custom_def at run time,
 * so they carry state the const struct mp_parser table cannot.
 *
 * mp_custom_new: check def and compile its patterns into *out (no id yet).
 * Returns 0, or -1 with a reason in err and the field in where.
 * mp_custom_set_mta: give c the id the registry got for its mta name
 * (mp_mta_custom_id, mta_names.h); mp_custom_label is that name.
 * mp_custom_route: how the registry offers c a line (see registry.c).
 * mp_custom_parse: as struct mp_parser's parse; 0 also when the line lacks
 * c's match literal, -1 when it has it but no pattern yields a status.
 */
struct mp_custom;

enum mp_route {
	MP_ROUTE_NO = 0,  /* c has a tag and the line another */
	MP_ROUTE_TAG,     /* the line carries c's tag: c decides alone */
	MP_ROUTE_TRY,     /* c has no tag: try it (its match literal, if any, decides) */
};

int mp_custom_new(struct mp_custom **out, const struct mp_custom_def *def,
    const struct mp_re_env *env, struct mp_def_error *where, char *err,
    size_t errlen);
void mp_custom_free(struct mp_custom *c);
void mp_custom_set_mta(struct mp_custom *c, int mta);
int mp_custom_mta(const struct mp_custom *c);
const char *mp_custom_label(const struct mp_custom *c);
enum mp_route mp_custom_route(const struct mp_custom *c,
    const struct mp_syslog *hdr);
int mp_custom_parse(const struct mp_custom *c, const struct mp_syslog *hdr,
    struct mp_event *ev);

#endif
