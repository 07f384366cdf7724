/*
 * meaning.h - what an SMTP reply code or RFC 3463 enhanced status code
 * means, for the description label of maillog_smtp_code_info and
 * maillog_smtp_enhanced_code_info.
 *
 * The tables are generated at build time from parsers/smtp-codes.tsv (by
 * parsers/gen_smtp_codes.py), the one place the meanings are written down.
 */
#ifndef MEANING_H
#define MEANING_H

#include <stddef.h>

#include "parsers/mp.h"

#define MEANING_SUBJECTS 8
#define MEANING_BUFSZ 256

struct meaning_reply {
	int code;
	const char *description;
};

struct meaning_enhanced {
	int subject, detail;
	const char *description;
};

/* Generated tables, sorted by code. */
extern const struct meaning_reply meaning_replies[];
extern const size_t meaning_replies_count;
extern const struct meaning_enhanced meaning_enhanced_codes[];
extern const size_t meaning_enhanced_count;
extern const char *const meaning_classes[10];
extern const char *const meaning_subjects[MEANING_SUBJECTS];

/* The description of reply code `code` (200..599): the table's, or for a
 * code not listed its class meaning ("Other 5xx: Permanent failure ...").
 * Returns a static string or buf (at least MEANING_BUFSZ bytes). */
const char *meaning_reply(int code, char *buf, size_t len);

/* The description of enhanced code e (cls 2, 4 or 5): the table's entry for
 * X.subject.detail, or for a code not listed its subject and class ("Other
 * 5.7.x: Security or policy status; Permanent failure ..."). Returns a
 * static string or buf. */
const char *meaning_enhanced(const struct mp_enhanced *e, char *buf, size_t len);

#endif
