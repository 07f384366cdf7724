/*
 * parser_diff.h - the differential check behind test_exim_keys.c and
 * test_sendmail_fields.c: a parser as the daemon has it against the same
 * file compiled as its reference (the slower code it replaced). Both must
 * return the same and fill the same event, member by member, on every line
 * given; a difference fails the cmocka test with the line.
 */
#ifndef TESTS_PARSER_DIFF_H
#define TESTS_PARSER_DIFF_H

#include <stddef.h>

#include "parsers/parser.h"

struct parser_diff {
	const struct mp_parser *index;      /* as the daemon has it */
	const struct mp_parser *reference;  /* the same file, built as the reference */
	size_t compared;                    /* lines checked */
	size_t events;                      /* of those, lines that gave an event */
};

/* Both parsers on line[0..n), each on an exact-size heap copy, so a read
 * past the end shows in the sanitizer build. */
void parser_diff_line(struct parser_diff *d, const char *line, size_t n);

/* Every golden line of path (tests/golden.h), and every prefix of each. */
void parser_diff_golden(struct parser_diff *d, const char *path, int mta);

/* The counts reset, then the MTA's golden file (path, lines of mta) and the
 * mixed one; prints the counts and fails unless over 100 lines gave an
 * event (so a golden file that went missing or empty cannot pass). */
void parser_diff_goldens(struct parser_diff *d, const char *path, int mta);

#endif
