/*
 * domain_codes.h - reply and enhanced codes per (recipient domain, class),
 * counted exactly: what `maillog_exporter report` shows as each deferring
 * or bouncing domain's main codes. The daemon has no such table (its
 * domain series are heavy hitters only, see topk.h); a report reads a
 * whole log once and can afford one entry per (domain, code) pair.
 *
 * The pairs are kept densely, in the order first seen, in e[0..n); an
 * open-addressing index of 4-byte slots finds them. A new pair is appended
 * and an index that would be more than half full is rebuilt twice as
 * large; a pair already counted only has its count incremented. The entries
 * are large (a domain can be 253 bytes) and were the table's slots
 * themselves, half of them empty by design: a report of a million Postfix
 * lines took 109 page faults placing them at random in each new table,
 * about 1.6 ms on the VM docs/hacking.md measures on (round 8). One writer,
 * read after the writing.
 */
#ifndef DOMAIN_CODES_H
#define DOMAIN_CODES_H

#include <stddef.h>
#include <stdint.h>

#include "parsers/mp.h"
#include "store/topk.h"

struct dc_entry {
	char name[TOPK_NAME_MAX + 1];   /* the normalised domain, or "other" */
	uint8_t cls;                    /* 4 or 5 */
	uint16_t code;                  /* 0 = the line quoted none */
	struct mp_enhanced enh;         /* cls 0 = none */
	uint64_t count;
};

/* Zero-initialise. Every one of e[0..n) is a pair counted at least once. */
struct dc_table {
	struct dc_entry *e;
	size_t n, ecap;                 /* pairs, and room in e */
	uint32_t *slot;                 /* index + 1 into e; 0 = empty */
	size_t cap;                     /* slots: 0, or a power of two >= 2 n */
};

/* Count one (name[0..len), cls, code, e); len <= TOPK_NAME_MAX. Returns 0,
 * or -1 out of memory (the count is lost, the table intact). */
int dc_add(struct dc_table *t, const char *name, size_t len, unsigned cls, unsigned code,
    const struct mp_enhanced *e);
void dc_free(struct dc_table *t);

#endif
