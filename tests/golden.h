/*
 * golden.h - the golden-file harness every parser test shares.
 *
 * A golden file (tests/data/<mta>/golden.txt) pairs each log line with the
 * event the registry must make of it:
 *
 *   LOG LINE
 *   => none | unmatched [mta=M] | received mta=M dir=D domain=X
 *      | mta=M dir=D outcome=O code=C enhanced=E class=K domain=X
 *   +> [kind=status|received] [dest=none|remote|local|filter]
 *      [attempted=yes|no] [delay=S|-] [stages=a/b/c/d/e]
 *      [reply=TEXT TO END OF LINE]
 *   op> FAMILY [label=value ...] [value=V] [cipher=C]
 *
 * The "+>" line is optional and asserts only the fields it names;
 * attempted=no is an event marked not_attempted (mp.h). Empty
 * values (code=, domain=) mean none; "-" in delay/stages means not stated.
 * "unmatched" carries mta= only when the MTA is not the file's own.
 *
 * "op>" lines (any number, after the "=>" line and its "+>") list the
 * operational ops (parsers/ops.h) the line must report, in order: the
 * family's metric name without "maillog_", its labels in table order, the
 * observation of a histogram, the cipher of a TLS op when the line names
 * one. A case without "op>" lines must report none.
 */
#ifndef TESTS_GOLDEN_H
#define TESTS_GOLDEN_H

#include <stddef.h>

#include "parsers/mp.h"

struct golden_case {
	char *line;
	size_t len;
	char *expect;   /* text after "=> " */
	char *extra;    /* text after "+> ", or NULL */
	char *ops;      /* every "op> " line's text, each ending in '\n', or NULL */
	int lineno;
};

struct golden_set {
	const char *path;
	int mta;        /* the file's own MTA, or MP_MTA_NONE for a mixed file */
	struct golden_case *cases;
	size_t ncases;
};

/* Read path into set (fails the test on a malformed file). Free with
 * golden_free. */
void golden_load(struct golden_set *set, const char *path, int mta);
void golden_free(struct golden_set *set);

/* Parse every case through a registry for format; print each mismatch.
 * Returns the number of mismatches. */
int golden_check(const struct golden_set *set, const char *format);

/* Every prefix of every line, and 20000 random splices of lines and bytes,
 * each from an exact-size heap copy: results stay in range, events have a
 * class, and fields point into the line. Fails the test otherwise. */
void golden_prefixes(const struct golden_set *set, const char *format);
void golden_soup(const struct golden_set *set, const char *format,
    uint32_t seed);

/* ev's ops as "op>" lines hold them (one per line, each ending in '\n'). */
void golden_render_ops(const struct mp_event *ev, char *out, size_t outlen);

/* Count the cases whose expectation starts with prefix ("mta=exim", ...). */
size_t golden_count(const struct golden_set *set, const char *prefix);

#endif
