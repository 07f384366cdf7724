/*
 * reason.h - why a 4xx or 5xx happened: one reason from a small closed
 * set, for maillog_smtp_reason_total (README.md, "Metrics").
 *
 * The classifier is an ordered list of rules, first match wins. Each rule
 * has a reason and at least one condition: the 3-digit reply code
 * ("550", "5xx", "45x"), the enhanced code ("x.7.26", "5.7.20-24",
 * "x.2.x") and a PCRE2 pattern matched caselessly against the reply text.
 * A rule matches when every condition it has holds. The built-in rules
 * come from parsers/reasons.rules, compiled into the binary at build time
 * (gen_reasons.py); rules from --config.file's "reasons:" list are tried
 * before them. A status no rule matches is "other".
 *
 * A reason_set owns its compiled patterns and one PCRE2 match data block,
 * so classifying allocates nothing, and a set must be used by one thread
 * at a time (the tailer thread).
 */
#ifndef REASON_H
#define REASON_H

#include <stddef.h>

#include "parsers/mp.h"

/* The closed set, in label order. gen_reasons.py checks every rule's
 * reason against this list, so a new reason is added here, in
 * reason_name()'s table and in README.md, and nowhere else. */
enum reason {
	REASON_UNKNOWN_RECIPIENT = 0,
	REASON_MAILBOX_FULL,
	REASON_MESSAGE_TOO_BIG,
	REASON_GREYLISTED,
	REASON_RATE_LIMITED,
	REASON_BLOCKLISTED,
	REASON_SPAM_CONTENT,
	REASON_AUTHENTICATION_FAILED,
	REASON_REVERSE_DNS,
	REASON_RELAY_DENIED,
	REASON_SENDER_REJECTED,
	REASON_TLS_REQUIRED,
	REASON_DNS_FAILURE,
	REASON_CONNECTION_FAILED,
	REASON_LOCAL_ERROR,
	REASON_POLICY,
	/* Not from the reply: the parser's ev->not_attempted (the MTA did not
	 * try; the destination is in its retry wait after an earlier failure). */
	REASON_NOT_ATTEMPTED,
	REASON_OTHER,
	REASON_COUNT
};

/* The label value of r ("unknown_recipient", ...); "other" for anything
 * out of range. Static string. */
const char *reason_name(enum reason r);

/* The reason named name, or -1 if it is not one of the closed set. */
int reason_from_name(const char *name);

/* One rule as text: a built-in from reasons.rules or a user's from the
 * config file. NULL or "" means "no such condition"; at least one of
 * pattern, code and enhanced must be given. */
struct reason_def {
	const char *reason;
	const char *pattern;
	const char *code;
	const char *enhanced;
};

/* Which part of a user rule a reason_set_new error is about. */
enum reason_field {
	REASON_FIELD_RULE = 0,    /* the rule as a whole (no condition at all) */
	REASON_FIELD_REASON,
	REASON_FIELD_PATTERN,
	REASON_FIELD_CODE,
	REASON_FIELD_ENHANCED,
};
struct reason_error {
	size_t rule;              /* index into the user rules; SIZE_MAX: a built-in or memory */
	enum reason_field field;
};

/* The most user rules one set holds: a config that needs more is
 * describing something other than reasons. */
#define REASON_MAX_USER_RULES 1000

struct reason_set;

/* The built-in rules, generated from parsers/reasons.rules by
 * gen_reasons.py (reasons_table.c); line is the rule's line there.
 * literals, when not NULL, is a NULL-terminated list of lower-case strings
 * of which every text pattern matches contains at least one (derived from
 * the pattern at build time): a reply holding none of them cannot match,
 * so its pattern is not run. A literal with bounds counts only where
 * they hold: "\bARC\b" gives "arc", which "garcia" does not wake. */
struct reason_builtin {
	enum reason reason;
	const char *code, *enhanced, *pattern;
	unsigned line;
	const char *const *literals;   /* one of these is in any text the pattern matches */
	const char *const *sure;       /* any of these in a text makes the pattern match it */
	/* Per literal (NULL: 0 for all): REASON_WB_* bits, the \b's around it
	 * that must hold where it occurs for it to count, from a pattern's
	 * alternative such as "\bspam\b". */
	const unsigned char *literal_bounds, *sure_bounds;
};
#define REASON_WB_BEFORE 1             /* no word byte [a-z0-9_] just before it */
#define REASON_WB_AFTER 2              /* none just after it */
extern const struct reason_builtin reason_builtins[];
extern const size_t reason_builtins_count;

/*
 * Check the user rules (tried first, in order) and the built-in ones into
 * a new set. A user's pattern is compiled here, a built-in one the first
 * time it must run; each is JIT-compiled (where the platform allows it)
 * the first time it runs. On failure returns NULL, a one-line reason in err (for a
 * pattern, with the offset of the error in it) and, if where is not NULL,
 * which rule and field it is about. The caller frees the set with
 * reason_set_free (NULL is a no-op).
 */
struct reason_set *reason_set_new(const struct reason_def *user, size_t nuser,
    struct reason_error *where, char *err, size_t errlen);
void reason_set_free(struct reason_set *rs);

/* Number of user rules in rs (built-ins not counted). */
size_t reason_set_user_rules(const struct reason_set *rs);

/* Number of rules whose pattern is compiled by now (tests). */
size_t reason_set_compiled(const struct reason_set *rs);

/* Number of rules whose pattern is JIT-compiled by now (tests). */
size_t reason_set_jitted(const struct reason_set *rs);

/*
 * The reason of a failed status: code (0: none), enh (cls 0: none) and
 * the reply text (may be NULL). First matching rule wins; REASON_OTHER if
 * none does. Allocates only the first time a pattern runs (compiling it).
 */
enum reason reason_classify_reply(struct reason_set *rs, unsigned code,
    const struct mp_enhanced *enh, const char *text, size_t len);

/*
 * The reason of a status event of class 4 or 5, from its code, enhanced
 * code and reply text; REASON_NOT_ATTEMPTED, before any rule (user rules
 * included), for an event the parser marked not_attempted: that is what
 * the line says happened, whatever the earlier failure's text it repeats.
 * An event that quotes no reply text (Sendmail's "stat=Deferred:
 * Connection refused by ...") is matched on the whole message after the
 * syslog header instead. The daemon calls this for
 * non-2xx statuses only, so a delivery costs nothing here.
 */
enum reason reason_classify(struct reason_set *rs, const struct mp_event *ev);

#endif
