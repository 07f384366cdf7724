/*
 * topk.c - the space-saving sketch (Metwally, Agrawal, El Abbadi 2005)
 * behind the domain labels, and the pinned label table beside it.
 *
 * The sketch keeps `monitored` counters in a min-heap ordered by count and
 * a hash from name to counter. A name already monitored gets +1; a new
 * name takes a free counter or, when none is free, evicts the smallest one
 * and inherits its count as the error bound. count - error is then a
 * lower bound of the name's true frequency, so promoting on it means a
 * flood of distinct names can never push one of them to a label.
 *
 * Promoted names move to the label table, which is append-only: a slot is
 * written once, then published by a release store of the count, so the
 * web thread reads names without a lock. Both hashes use linear probing;
 * the sketch's deletes use backward-shift deletion, so there are no
 * tombstones and probes stay short forever.
 */
#include "store/topk.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "parsers/parser.h"

struct counter {
	char name[TOPK_NAME_MAX + 1];
	uint16_t len;
	uint64_t count;
	uint64_t error;
	unsigned heap_pos;
};

struct topk {
	unsigned labels;                 /* capacity of the label table */
	unsigned monitored;              /* sketch counters */
	uint64_t total;                  /* observations so far (writer only) */

	/* Label table: names[0] is id 1. */
	char (*names)[TOPK_NAME_MAX + 1];
	unsigned used;                   /* writer's copy of published */
	_Atomic unsigned published;
	int32_t *label_hash;             /* label index or -1 */
	size_t label_mask;

	/* Sketch. */
	struct counter *counters;
	unsigned *heap;                  /* counter indices, min-heap by count */
	unsigned heap_len;
	unsigned *free_list;             /* counters not in the heap */
	unsigned free_len;
	int32_t *sketch_hash;            /* counter index or -1 */
	size_t sketch_mask;

	size_t memory;
};

/* FNV-1a, then a final mix so linear probing sees spread low bits. */
static uint64_t
hash_name(const char *s, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 0x100000001b3ULL;
	}
	h ^= h >> 32;
	h *= 0xd6e8feb86659fd93ULL;
	h ^= h >> 32;
	return h;
}

static size_t
pow2_at_least(size_t n)
{
	size_t s = 16;

	while (s < n)
		s <<= 1;
	return s;
}

static void *
alloc(struct topk *t, size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);

	if (p != NULL)
		t->memory += (n ? n : 1) * size;
	return p;
}

struct topk *
topk_new(unsigned labels, unsigned monitored)
{
	struct topk *t = calloc(1, sizeof *t);

	if (t == NULL)
		return NULL;
	t->memory = sizeof *t;
	t->labels = labels;
	t->monitored = labels ? monitored : 0;
	t->label_mask = pow2_at_least((size_t)labels * 2) - 1;
	t->names = alloc(t, labels, sizeof *t->names);
	t->label_hash = alloc(t, t->label_mask + 1, sizeof *t->label_hash);
	if (t->names == NULL || t->label_hash == NULL)
		goto fail;
	memset(t->label_hash, 0xff, (t->label_mask + 1) * sizeof *t->label_hash);
	if (t->monitored) {
		t->sketch_mask = pow2_at_least((size_t)t->monitored * 2) - 1;
		t->counters = alloc(t, t->monitored, sizeof *t->counters);
		t->heap = alloc(t, t->monitored, sizeof *t->heap);
		t->free_list = alloc(t, t->monitored, sizeof *t->free_list);
		t->sketch_hash = alloc(t, t->sketch_mask + 1, sizeof *t->sketch_hash);
		if (t->counters == NULL || t->heap == NULL || t->free_list == NULL ||
		    t->sketch_hash == NULL)
			goto fail;
		memset(t->sketch_hash, 0xff, (t->sketch_mask + 1) * sizeof *t->sketch_hash);
		for (unsigned i = 0; i < t->monitored; i++)
			t->free_list[i] = t->monitored - 1 - i;
		t->free_len = t->monitored;
	}
	return t;
fail:
	topk_free(t);
	return NULL;
}

void
topk_free(struct topk *t)
{
	if (t == NULL)
		return;
	free(t->names);
	free(t->label_hash);
	free(t->counters);
	free(t->heap);
	free(t->free_list);
	free(t->sketch_hash);
	free(t);
}

unsigned
topk_count(const struct topk *t)
{
	return atomic_load_explicit(&t->published, memory_order_acquire);
}

const char *
topk_name(const struct topk *t, unsigned id)
{
	return t->names[id - 1];
}

size_t
topk_memory(const struct topk *t)
{
	return t->memory;
}

/* The label id of name, or 0. */
static unsigned
label_find(const struct topk *t, const char *name, size_t len, uint64_t h)
{
	for (size_t i = h & t->label_mask;; i = (i + 1) & t->label_mask) {
		int32_t x = t->label_hash[i];
		if (x < 0)
			return 0;
		if (strlen(t->names[x]) == len && memcmp(t->names[x], name, len) == 0)
			return (unsigned)x + 1;
	}
}

static unsigned
label_add(struct topk *t, const char *name, size_t len, uint64_t h)
{
	size_t i = h & t->label_mask;
	unsigned id = t->used;

	memcpy(t->names[id], name, len);
	t->names[id][len] = '\0';
	while (t->label_hash[i] >= 0)
		i = (i + 1) & t->label_mask;
	t->label_hash[i] = (int32_t)id;
	t->used++;
	atomic_store_explicit(&t->published, t->used, memory_order_release);
	return id + 1;
}

/* Sketch hash: the slot holding counter c's index, or of name if absent
 * (an empty slot). */
static size_t
sketch_slot(const struct topk *t, const char *name, size_t len, uint64_t h)
{
	size_t i = h & t->sketch_mask;

	for (;; i = (i + 1) & t->sketch_mask) {
		int32_t x = t->sketch_hash[i];
		if (x < 0)
			return i;
		const struct counter *c = &t->counters[x];
		if (c->len == len && memcmp(c->name, name, len) == 0)
			return i;
	}
}

/* Backward-shift deletion: move later members of the probe run into the
 * hole whenever their home slot is not between the hole and them. */
static void
sketch_delete(struct topk *t, size_t hole)
{
	size_t i = hole;

	t->sketch_hash[hole] = -1;
	for (;;) {
		i = (i + 1) & t->sketch_mask;
		int32_t x = t->sketch_hash[i];
		if (x < 0)
			return;
		const struct counter *c = &t->counters[x];
		size_t home = hash_name(c->name, c->len) & t->sketch_mask;
		/* Can x move to the hole? Only if its home is not cyclically
		 * in (hole, i]. */
		if (((i - home) & t->sketch_mask) >= ((i - hole) & t->sketch_mask)) {
			t->sketch_hash[hole] = x;
			t->sketch_hash[i] = -1;
			hole = i;
		}
	}
}

static void
heap_swap(struct topk *t, unsigned a, unsigned b)
{
	unsigned x = t->heap[a];

	t->heap[a] = t->heap[b];
	t->heap[b] = x;
	t->counters[t->heap[a]].heap_pos = a;
	t->counters[t->heap[b]].heap_pos = b;
}

static void
sift_up(struct topk *t, unsigned i)
{
	while (i > 0) {
		unsigned p = (i - 1) / 2;
		if (t->counters[t->heap[p]].count <= t->counters[t->heap[i]].count)
			break;
		heap_swap(t, i, p);
		i = p;
	}
}

static void
sift_down(struct topk *t, unsigned i)
{
	for (;;) {
		unsigned l = 2 * i + 1, r = l + 1, m = i;
		if (l < t->heap_len &&
		    t->counters[t->heap[l]].count < t->counters[t->heap[m]].count)
			m = l;
		if (r < t->heap_len &&
		    t->counters[t->heap[r]].count < t->counters[t->heap[m]].count)
			m = r;
		if (m == i)
			return;
		heap_swap(t, i, m);
		i = m;
	}
}

/* Take counter c out of the sketch (it was promoted). */
static void
sketch_remove(struct topk *t, unsigned c, size_t slot)
{
	unsigned pos = t->counters[c].heap_pos;

	sketch_delete(t, slot);
	t->heap_len--;
	if (pos != t->heap_len) {
		heap_swap(t, pos, t->heap_len);
		sift_down(t, pos);
		sift_up(t, pos);
	}
	t->free_list[t->free_len++] = c;
}

/*
 * Give name the next label id, as if the sketch had just promoted it: used
 * to restore the labels of a state file (state.c) in their original id
 * order, so the ids its counters were saved under mean the same names.
 * Returns the id, or 0 if name is empty, too long, already a label or the
 * table is full. Writer thread only, before or between observations.
 */
unsigned
topk_restore(struct topk *t, const char *name, size_t len)
{
	uint64_t h;

	if (len == 0 || len > TOPK_NAME_MAX || t->used >= t->labels ||
	    memchr(name, '\0', len) != NULL)
		return 0;
	h = hash_name(name, len);
	if (label_find(t, name, len, h) != 0)
		return 0;
	return label_add(t, name, len, h);
}

unsigned
topk_observe(struct topk *t, const char *name, size_t len)
{
	uint64_t h, need;
	unsigned id, c;
	size_t slot;

	if (len == 0 || len > TOPK_NAME_MAX || t->labels == 0)
		return 0;
	t->total++;
	h = hash_name(name, len);
	if ((id = label_find(t, name, len, h)) != 0)
		return id;
	if (t->used == t->labels)
		return 0;  /* no label left: the sketch has nothing to decide */
	if (t->monitored == 0)
		return label_add(t, name, len, h);

	slot = sketch_slot(t, name, len, h);
	if (t->sketch_hash[slot] >= 0) {
		c = (unsigned)t->sketch_hash[slot];
		t->counters[c].count++;
		sift_down(t, t->counters[c].heap_pos);
	} else {
		uint64_t floor = 0;
		if (t->free_len > 0) {
			c = t->free_list[--t->free_len];
			t->counters[c].heap_pos = t->heap_len;
			t->heap[t->heap_len++] = c;
		} else {
			/* Evict the least counted name; the newcomer inherits
			 * its count as the error bound. */
			c = t->heap[0];
			floor = t->counters[c].count;
			sketch_delete(t, sketch_slot(t, t->counters[c].name,
			    t->counters[c].len, hash_name(t->counters[c].name,
			    t->counters[c].len)));
			slot = sketch_slot(t, name, len, h);
		}
		memcpy(t->counters[c].name, name, len);
		t->counters[c].len = (uint16_t)len;
		t->counters[c].count = floor + 1;
		t->counters[c].error = floor;
		t->sketch_hash[slot] = (int32_t)c;
		sift_down(t, t->counters[c].heap_pos);
		sift_up(t, t->counters[c].heap_pos);
	}

	need = t->total / (2 * (uint64_t)t->labels);
	if (need < TOPK_MIN_HITS)
		need = TOPK_MIN_HITS;
	if (t->counters[c].count - t->counters[c].error < need)
		return 0;
	sketch_remove(t, c, sketch_slot(t, name, len, h));
	return label_add(t, name, len, h);
}

/*
 * An IPv6 literal (in[0..len), with at least one ':') into out in the
 * canonical text of RFC 5952 (lower case, longest zero run compressed), so
 * one client is one label however its log spelled it. inet_pton is the
 * syntax check: anything it refuses (a zone id, stray text) is not an
 * address. Returns the length written, or 0.
 */
static size_t
normalise_ipv6(const char *in, size_t len, char *out)
{
	char buf[INET6_ADDRSTRLEN];
	struct in6_addr a;

	if (len >= sizeof buf)
		return 0;
	memcpy(buf, in, len);
	buf[len] = '\0';
	if (inet_pton(AF_INET6, buf, &a) != 1 ||
	    inet_ntop(AF_INET6, &a, out, TOPK_NAME_MAX + 1) == NULL)
		return 0;
	return strlen(out);
}

/*
 * A byte of a host name as it is kept: letters lower-cased, digits, '-'
 * and '.' as they are, 0 for any byte no host name holds (':' included,
 * which sends the name to normalise_ipv6). One load a byte, in place of
 * a lower-casing and three range checks: this runs for every status's
 * domain, and the table cut a quarter of its instructions (295 -> 219 a
 * call on an Exim log, callgrind).
 */
static const unsigned char name_byte[256] = {
	['-'] = '-', ['.'] = '.',
	['0'] = '0', ['1'] = '1', ['2'] = '2', ['3'] = '3', ['4'] = '4',
	['5'] = '5', ['6'] = '6', ['7'] = '7', ['8'] = '8', ['9'] = '9',
	['A'] = 'a', ['B'] = 'b', ['C'] = 'c', ['D'] = 'd', ['E'] = 'e', ['F'] = 'f',
	['G'] = 'g', ['H'] = 'h', ['I'] = 'i', ['J'] = 'j', ['K'] = 'k', ['L'] = 'l',
	['M'] = 'm', ['N'] = 'n', ['O'] = 'o', ['P'] = 'p', ['Q'] = 'q', ['R'] = 'r',
	['S'] = 's', ['T'] = 't', ['U'] = 'u', ['V'] = 'v', ['W'] = 'w', ['X'] = 'x',
	['Y'] = 'y', ['Z'] = 'z',
	['a'] = 'a', ['b'] = 'b', ['c'] = 'c', ['d'] = 'd', ['e'] = 'e', ['f'] = 'f',
	['g'] = 'g', ['h'] = 'h', ['i'] = 'i', ['j'] = 'j', ['k'] = 'k', ['l'] = 'l',
	['m'] = 'm', ['n'] = 'n', ['o'] = 'o', ['p'] = 'p', ['q'] = 'q', ['r'] = 'r',
	['s'] = 's', ['t'] = 't', ['u'] = 'u', ['v'] = 'v', ['w'] = 'w', ['x'] = 'x',
	['y'] = 'y', ['z'] = 'z',
};

/* Is out[from, to) a DNS label: 1..63 bytes, no '-' at either end? (The
 * bytes are name_byte's and not '.': the caller split on them.) */
static int
label_ok(const char *out, size_t from, size_t to)
{
	return to > from && to - from <= 63 && out[from] != '-' && out[to - 1] != '-';
}

size_t
topk_normalise(const char *in, size_t len, char *out)
{
	size_t label = 0;              /* where the current label starts in out */
	struct in_addr a4;

	if (len >= 2 && in[0] == '[' && in[len - 1] == ']') {
		in++;
		len -= 2;
	}
	/* RFC 5321's address-literal tag, which Sendmail and OpenSMTPD also
	 * write outside brackets. */
	/* The first byte first: almost no domain starts with 'i', and this
	 * runs on every line with a domain. */
	if (len > 5 && (in[0] | 0x20) == 'i' && mp_ascii_caseeq(in, "ipv6:", 5)) {
		in += 5;
		len -= 5;
		if (memchr(in, ':', len) == NULL)
			return 0;
	}
	if (len > 0 && in[len - 1] == '.')
		len--;
	if (len == 0 || len > TOPK_NAME_MAX)
		return 0;
	/* Labels are checked at their ends, so the loop does one load, one
	 * test and one store a byte; out[i] is always in[i]'s byte. */
	for (size_t i = 0; i < len; i++) {
		unsigned char c = name_byte[(unsigned char)in[i]];

		if (c == 0)
			return memchr(in, ':', len) != NULL ? normalise_ipv6(in, len, out) : 0;
		out[i] = (char)c;
		if (c == '.') {
			if (!label_ok(out, label, i))
				return 0;
			label = i + 1;
		}
	}
	if (!label_ok(out, label, len))
		return 0;
	out[len] = '\0';
	/* No top-level domain is all digits (RFC 3696 section 2), so a name
	 * ending in one is an IPv4 address or nothing: "1.2.3.4.5" and
	 * "300.1.1.1" never become labels. */
	while (label < len && out[label] >= '0' && out[label] <= '9')
		label++;
	if (label == len && inet_pton(AF_INET, out, &a4) != 1)
		return 0;
	return len;
}
