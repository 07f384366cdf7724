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

static int
dc_same(const struct dc_entry *x, const char *name, size_t len, unsigned cls, unsigned code,
    const struct mp_enhanced *e)
{
	return x->cls == cls && x->code == code && x->enh.cls == e->cls &&
	    x->enh.subject == e->subject && x->enh.detail == e->detail &&
	    strlen(x->name) == len && memcmp(x->name, name, len) == 0;
}

/* The slot of the pair, or the empty slot where it would go. The index is
 * never more than half full, so the probe ends. */
static uint32_t *
dc_find(const struct dc_table *t, const char *name, size_t len, unsigned cls, unsigned code,
    const struct mp_enhanced *e)
{
	size_t mask = t->cap - 1;

	for (size_t i = dc_hash(name, len, cls, code, e) & mask;; i = (i + 1) & mask) {
		uint32_t *s = &t->slot[i];
		if (*s == 0 || dc_same(&t->e[*s - 1], name, len, cls, code, e))
			return s;
	}
}

/* A new index of twice the slots (256 at first) with every pair in it;
 * only 4-byte slots move, never an entry. */
static int
dc_grow_index(struct dc_table *t)
{
	struct dc_table g = *t;

	g.cap = t->cap ? t->cap * 2 : 256;
	if (g.cap > (size_t)UINT32_MAX || (g.slot = calloc(g.cap, sizeof *g.slot)) == NULL)
		return -1;
	for (size_t i = 0; i < t->n; i++) {
		const struct dc_entry *x = &t->e[i];
		*dc_find(&g, x->name, strlen(x->name), x->cls, x->code, &x->enh) = (uint32_t)i + 1;
	}
	free(t->slot);
	t->slot = g.slot;
	t->cap = g.cap;
	return 0;
}

int
dc_add(struct dc_table *t, const char *name, size_t len, unsigned cls, unsigned code,
    const struct mp_enhanced *e)
{
	struct dc_entry *x;
	uint32_t *s;

	if ((t->n + 1) * 2 > t->cap && dc_grow_index(t) < 0)
		return -1;
	s = dc_find(t, name, len, cls, code, e);
	if (*s != 0) {
		t->e[*s - 1].count++;
		return 0;
	}
	if (t->n == t->ecap) {
		size_t ecap = t->ecap ? t->ecap * 2 : 64;
		struct dc_entry *ne = realloc(t->e, ecap * sizeof *ne);

		if (ne == NULL)
			return -1;
		t->e = ne;
		t->ecap = ecap;
	}
	x = &t->e[t->n];
	memset(x, 0, sizeof *x);
	memcpy(x->name, name, len);
	x->name[len] = '\0';
	x->cls = (uint8_t)cls;
	x->code = (uint16_t)code;
	x->enh = *e;
	x->count = 1;
	*s = (uint32_t)++t->n;
	return 0;
}

void
dc_free(struct dc_table *t)
{
	free(t->e);
	free(t->slot);
	*t = (struct dc_table){ 0 };
}
