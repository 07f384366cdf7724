/*
 * domain_codes.c - codes per (recipient domain, class) (see domain_codes.h).
 */
#include "store/domain_codes.h"

#include <stdlib.h>
#include <string.h>

static uint64_t
dc_hash(const char *name, size_t len, unsigned cls, unsigned code, const struct mp_enhanced *e)
{
	uint64_t h = 1469598103934665603ULL;   /* FNV-1a */

	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)name[i]) * 1099511628211ULL;
	h = (h ^ cls) * 1099511628211ULL;
	h = (h ^ code) * 1099511628211ULL;
	h = (h ^ ((uint64_t)e->cls << 32 | (uint64_t)e->subject << 16 | e->detail)) *
	    1099511628211ULL;
	return h;
}

static struct dc_entry *
dc_find(struct dc_table *t, const char *name, size_t len, unsigned cls, unsigned code,
    const struct mp_enhanced *e)
{
	size_t mask = t->cap - 1;

	for (size_t i = dc_hash(name, len, cls, code, e) & mask;; i = (i + 1) & mask) {
		struct dc_entry *x = &t->e[i];
		if (!x->used || (x->cls == cls && x->code == code && x->enh.cls == e->cls &&
		    x->enh.subject == e->subject && x->enh.detail == e->detail &&
		    strlen(x->name) == len && memcmp(x->name, name, len) == 0))
			return x;
	}
}

static int
dc_grow(struct dc_table *t)
{
	struct dc_table g = { .cap = t->cap ? t->cap * 2 : 256 };

	if ((g.e = calloc(g.cap, sizeof *g.e)) == NULL)
		return -1;
	for (size_t i = 0; i < t->cap; i++) {
		const struct dc_entry *x = &t->e[i];
		if (x->used)
			*dc_find(&g, x->name, strlen(x->name), x->cls, x->code, &x->enh) = *x;
	}
	g.n = t->n;
	free(t->e);
	*t = g;
	return 0;
}

int
dc_add(struct dc_table *t, const char *name, size_t len, unsigned cls, unsigned code,
    const struct mp_enhanced *e)
{
	struct dc_entry *x;

	if ((t->n + 1) * 2 > t->cap && dc_grow(t) < 0)
		return -1;
	x = dc_find(t, name, len, cls, code, e);
	if (!x->used) {
		memcpy(x->name, name, len);
		x->name[len] = '\0';
		x->cls = (uint8_t)cls;
		x->code = (uint16_t)code;
		x->enh = *e;
		x->used = 1;
		t->n++;
	}
	x->count++;
	return 0;
}

void
dc_free(struct dc_table *t)
{
	free(t->e);
	t->e = NULL;
	t->cap = t->n = 0;
}
