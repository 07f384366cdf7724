/*
 * aggregate.c - lock-free counter store for maillog_smtp_status_total.
 *
 * Layout: an open-addressing table of (packed key, value) slots, sized once
 * to a power of two at least twice max_series so probes stay short. A key
 * packs every label into one 64-bit word, so a lookup is a hash, a compare
 * and an add: no strings are built per line.
 *
 * Publication: the single writer claims an empty slot by storing the value
 * (0) first and the key second with release order; readers load the key
 * with acquire order and only then read the value, so a reader never sees a
 * key without its counter. Slots are never freed (series never disappear),
 * which is what makes the scheme safe without a lock.
 */
#include "aggregate.h"

#include <stdlib.h>
#include <string.h>

struct agg_slot {
	_Atomic uint64_t key;     /* packed key + 1; 0 = empty */
	_Atomic uint64_t value;
};

/* Overflow series: one per (mta, direction, class). */
#define N_CLASSES 3
#define N_OVERFLOW (MP_MTA_MAX * MP_DIR_COUNT * N_CLASSES)

struct agg {
	struct agg_slot *slots;
	size_t mask;                       /* table size - 1 */
	size_t max_series;
	size_t used;                       /* writer-only */
	_Atomic size_t used_published;     /* for readers */
	_Atomic uint64_t overflow[N_OVERFLOW];
	_Atomic uint64_t unmatched[MP_MTA_MAX + 1];  /* index 0 = MP_MTA_NONE */
	_Atomic uint64_t events[MP_MTA_MAX];
	_Atomic uint64_t dropped;
	_Atomic uint64_t generation;
};

/*
 * Key packing, low bit first:
 *   mta 5 | direction 1 | class 3 | code 10 | enh class 3 | subject 10 | detail 10
 * = 42 bits. Codes are 0 or 200..599 and enhanced parts are 0..999 by the
 * parser contract, so every field fits.
 */
static uint64_t
pack(int mta, unsigned dir, unsigned cls, unsigned code, const struct mp_enhanced *e)
{
	return (uint64_t)(unsigned)mta
	    | (uint64_t)dir << 5
	    | (uint64_t)cls << 6
	    | (uint64_t)code << 9
	    | (uint64_t)e->cls << 19
	    | (uint64_t)e->subject << 22
	    | (uint64_t)e->detail << 32;
}

static void
unpack(uint64_t k, struct agg_key *out)
{
	out->mta = (int)(k & 31);
	out->direction = (enum mp_direction)((k >> 5) & 1);
	out->cls = (uint8_t)((k >> 6) & 7);
	out->code = (uint16_t)((k >> 9) & 1023);
	out->enhanced.cls = (uint8_t)((k >> 19) & 7);
	out->enhanced.subject = (uint16_t)((k >> 22) & 1023);
	out->enhanced.detail = (uint16_t)((k >> 32) & 1023);
}

/* splitmix64 finaliser: cheap and spreads the low-entropy packed keys. */
static uint64_t
hash64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

static int
class_index(unsigned cls)
{
	return cls == 2 ? 0 : cls == 4 ? 1 : 2;
}

struct agg *
agg_new(size_t max_series)
{
	struct agg *a;
	size_t size = 16;

	if (max_series == 0 || max_series > (SIZE_MAX / 4) / sizeof(struct agg_slot))
		return NULL;
	while (size < max_series * 2)
		size <<= 1;
	if ((a = calloc(1, sizeof *a)) == NULL)
		return NULL;
	if ((a->slots = calloc(size, sizeof *a->slots)) == NULL) {
		free(a);
		return NULL;
	}
	a->mask = size - 1;
	a->max_series = max_series;
	return a;
}

void
agg_free(struct agg *a)
{
	if (a == NULL)
		return;
	free(a->slots);
	free(a);
}

/* Move the generation after the counter it announces, with release order:
 * a renderer that reads the new generation (acquire) and then the counters
 * sees at least that count, so it never caches a body missing it. */
static void
bump(struct agg *a)
{
	atomic_fetch_add_explicit(&a->generation, 1, memory_order_release);
}

static int
valid_event(const struct mp_event *ev)
{
	return ev->mta >= 0 && ev->mta < MP_MTA_MAX &&
	    (unsigned)ev->direction < MP_DIR_COUNT &&
	    (ev->cls == 2 || ev->cls == 4 || ev->cls == 5);
}

void
agg_record(struct agg *a, const struct mp_event *ev)
{
	struct mp_enhanced enh = ev->enhanced;
	unsigned code = ev->code;
	uint64_t key, stored;
	size_t i;

	if (!valid_event(ev))
		return;
	/* The parser contract already guarantees well-formed codes; this is the
	 * last line of defence for the label set, so re-check rather than trust. */
	if (code != 0 && (code < 200 || code > 599))
		code = 0;
	if (!((enh.cls == 2 || enh.cls == 4 || enh.cls == 5) &&
	    enh.subject <= 999 && enh.detail <= 999))
		enh = (struct mp_enhanced){ 0, 0, 0 };

	atomic_fetch_add_explicit(&a->events[ev->mta], 1, memory_order_relaxed);
	key = pack(ev->mta, ev->direction, ev->cls, code, &enh) + 1;
	for (i = hash64(key) & a->mask;; i = (i + 1) & a->mask) {
		stored = atomic_load_explicit(&a->slots[i].key, memory_order_relaxed);
		if (stored == key) {
			atomic_fetch_add_explicit(&a->slots[i].value, 1, memory_order_relaxed);
			bump(a);
			return;
		}
		if (stored == 0)
			break;
	}
	if (a->used >= a->max_series) {
		int o = (ev->mta * MP_DIR_COUNT + (int)ev->direction) * N_CLASSES +
		    class_index(ev->cls);
		atomic_fetch_add_explicit(&a->overflow[o], 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&a->dropped, 1, memory_order_relaxed);
		bump(a);
		return;
	}
	atomic_store_explicit(&a->slots[i].value, 1, memory_order_relaxed);
	atomic_store_explicit(&a->slots[i].key, key, memory_order_release);
	a->used++;
	atomic_store_explicit(&a->used_published, a->used, memory_order_relaxed);
	bump(a);
}

void
agg_unmatched(struct agg *a, int mta)
{
	if (mta < MP_MTA_NONE || mta >= MP_MTA_MAX)
		mta = MP_MTA_NONE;
	atomic_fetch_add_explicit(&a->unmatched[mta + 1], 1, memory_order_relaxed);
	bump(a);
}

size_t
agg_snapshot(const struct agg *a, struct agg_series *out, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i <= a->mask && n < max; i++) {
		uint64_t k = atomic_load_explicit(&a->slots[i].key, memory_order_acquire);
		if (k == 0)
			continue;
		unpack(k - 1, &out[n].key);
		out[n].value = atomic_load_explicit(&a->slots[i].value, memory_order_relaxed);
		n++;
	}
	for (int o = 0; o < N_OVERFLOW && n < max; o++) {
		uint64_t v = atomic_load_explicit(&a->overflow[o], memory_order_relaxed);
		if (v == 0)
			continue;
		static const uint8_t classes[N_CLASSES] = { 2, 4, 5 };
		out[n].key = (struct agg_key){
			.mta = o / (MP_DIR_COUNT * N_CLASSES),
			.direction = (enum mp_direction)((o / N_CLASSES) % MP_DIR_COUNT),
			.cls = classes[o % N_CLASSES],
			.code = AGG_CODE_OVERFLOW,
		};
		out[n].value = v;
		n++;
	}
	return n;
}

size_t
agg_capacity(const struct agg *a)
{
	return a->max_series + N_OVERFLOW;
}

size_t
agg_series_count(const struct agg *a)
{
	return atomic_load_explicit(&a->used_published, memory_order_relaxed);
}

uint64_t
agg_unmatched_count(const struct agg *a, int mta)
{
	if (mta < MP_MTA_NONE || mta >= MP_MTA_MAX)
		return 0;
	return atomic_load_explicit(&a->unmatched[mta + 1], memory_order_relaxed);
}

uint64_t
agg_events_count(const struct agg *a, int mta)
{
	if (mta < 0 || mta >= MP_MTA_MAX)
		return 0;
	return atomic_load_explicit(&a->events[mta], memory_order_relaxed);
}

uint64_t
agg_dropped_series(const struct agg *a)
{
	return atomic_load_explicit(&a->dropped, memory_order_relaxed);
}

uint64_t
agg_generation(const struct agg *a)
{
	return atomic_load_explicit(&a->generation, memory_order_acquire);
}

void
agg_touch(struct agg *a)
{
	bump(a);
}
