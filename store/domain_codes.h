/*
 * domain_codes.h - reply and enhanced codes per (recipient domain, class),
 * counted exactly: what `maillog_exporter report` shows as each deferring
 * or bouncing domain's main codes. The daemon has no such table (its
 * domain series are heavy hitters only, see topk.h); a report reads a
 * whole log once and can afford one entry per (domain, code) pair.
 *
 * A growable open-addressing table. It grows when a new pair appears,
 * never for a pair already counted. One writer, read after the writing.
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
	int used;
};

/* Zero-initialise; entries are e[0..cap), used or not. */
struct dc_table {
	struct dc_entry *e;
	size_t cap, n;                  /* slots, and used ones */
};

/* Count one (name[0..len), cls, code, e); len <= TOPK_NAME_MAX. Returns 0,
 * or -1 out of memory (the count is lost, the table intact). */
int dc_add(struct dc_table *t, const char *name, size_t len, unsigned cls, unsigned code,
    const struct mp_enhanced *e);
void dc_free(struct dc_table *t);

#endif
