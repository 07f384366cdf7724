/*
 * aggregate_impl.h - the inside of struct agg, shared by the two files
 * that implement it: aggregate.c (counting and reading) and
 * aggregate_state.c (the state file and the published copy). Nothing
 * outside store/aggregate*.c includes it.
 *
 * The helpers are static inline so the hot path (agg_record) keeps them
 * inlined as when they were file-local.
 */
#ifndef AGGREGATE_IMPL_H
#define AGGREGATE_IMPL_H

#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "parsers/epoch_cache.h"
#include "parsers/mp.h"
#include "store/aggregate.h"
#include "store/mta_bits.h"

struct opstore;
struct topk;

/* A series. The store keeps them densely, in the order they were made,
 * and never moves or frees one: readers walk slots[0, used_published). */
struct agg_slot {
	_Atomic uint64_t key;     /* packed key + 1 */
	_Atomic uint64_t value;
	_Atomic int64_t created;  /* Unix seconds */
};

/* The writer's way from a key to its series: open addressing over (key,
 * slot number). Readers never look here, so the writer may rehash it. */
struct agg_ix {
	uint64_t key;             /* packed key + 1; 0 = empty */
	uint32_t slot;            /* into struct agg's slots */
};

/* Entries of the index in use at first: 64 of 16 bytes, one page. */
#define AGG_INDEX_START 64

#define N_CLASSES 3     /* status classes 2, 4, 5 (class_index) */

struct agg_hist {
	_Atomic uint64_t buckets[AGG_DELAY_BUCKETS + 1];
	_Atomic uint64_t sum_bits;   /* a double, written by the one writer */
	_Atomic uint64_t count;
};

/* Delay histograms per MTA id and stage (maillog_delivery_delay_seconds),
 * and the same by where the delivery went (maillog_delivery_delay_by_
 * destination_seconds): index MP_DEST_NONE (expiry), REMOTE, LOCAL;
 * filter hops are never observed. */
struct agg_delays {
	struct agg_hist total[MP_MTA_MAX][AGG_STAGES];
	struct agg_hist dest[MP_MTA_MAX][MP_DEST_COUNT][AGG_STAGES];
};

struct agg {
	struct agg_opts opts;
	/* The series, densely (at most max_series of them), and the index
	 * that finds them. The index is allocated whole (a power of two at
	 * least twice max_series) but used from its start, mask + 1 entries,
	 * doubled as series come, so that a run with 60 series touches one of
	 * its pages instead of one page of a sparse table per series (a page
	 * fault costs about 15 us, docs/hacking.md, round 9); growing needs no
	 * allocation, so counting never fails for memory. */
	struct agg_slot *slots;
	struct agg_ix *index;
	size_t mask;                       /* entries of the index in use - 1 */
	size_t index_size;                 /* entries allocated */
	size_t used;                       /* writer-only */
	size_t cipher_series;              /* maillog_tls_ciphers_total series, against the cap too */
	_Atomic size_t cipher_published;
	_Atomic size_t used_published;     /* for readers */
	_Atomic size_t status_published;   /* status series, for readers */
	size_t status_used;
	double start;

	/* Overflow series, and the fixed families. */
	_Atomic uint64_t status_over[MP_MTA_MAX][MP_DIR_COUNT][N_CLASSES];
	_Atomic uint64_t outcome_fixed[MP_MTA_MAX][MP_OUTCOME_COUNT][MP_DEST_COUNT];
	_Atomic uint64_t domain_fixed[MP_MTA_MAX][MP_DIR_COUNT][N_CLASSES];
	_Atomic uint64_t reasons[MP_MTA_MAX][MP_DIR_COUNT][2][AGG_REASONS];  /* class 4, 5 */
	_Atomic uint64_t unmatched[MP_MTA_MAX + 1];  /* index 0 = MP_MTA_NONE */
	_Atomic uint64_t events[MP_MTA_MAX];
	_Atomic uint64_t matched[MP_MTA_MAX];
	_Atomic uint64_t received[MP_MTA_MAX];
	_Atomic int64_t last_ts_us[MP_MTA_MAX];     /* -1: none yet */
	/* The delay histograms (struct agg_delays): 80 KiB for 16 MTA ids, of
	 * which a run uses an MTA's 4 KiB; from util/zpages.h, so the rest is
	 * never touched (calloc would clear it all). */
	struct agg_delays *dl;
	/* The MTA ids that have observed a delay (store/mta_bits.h): a
	 * render reads the 384 histograms of those only. */
	_Atomic uint32_t delay_mtas;
	_Atomic uint64_t dropped;
	_Atomic uint64_t generation;

	/* Label ids for strings from the log. */
	struct topk *domains[MP_DIR_COUNT];
	struct topk *hosts;

	/* The operational families (ops.h): fixed arrays, own module. */
	struct opstore *ops;

	/* Header times to epoch seconds, a conversion per minute, not per
	 * line (writer only). */
	struct mp_epoch_cache ts;

	size_t memory;
};

/*
 * Key packing, low bit first:
 *   family 3 | mta 4 | direction 1 | class 3 | code 10 | enh class 3 |
 *   subject 10 | detail 10 | host 13
 * = 57 bits. The outcome family keeps its outcome in the class field and
 * its destination in the code field; the domain family its domain id in
 * the code field (ids are at most AGG_MAX_DOMAINS_TOP < 1024, host ids at
 * most AGG_MAX_HOSTS + 1 < 8192).
 */
static inline uint64_t
pack(const struct agg_key *k)
{
	unsigned cls = k->cls, code = k->code;

	if (k->family == AGG_FAM_OUTCOME) {
		cls = (unsigned)k->outcome;
		code = (unsigned)k->destination;
	} else if (k->family == AGG_FAM_DOMAIN) {
		code = k->domain;
	}
	return (uint64_t)k->family
	    | (uint64_t)(unsigned)k->mta << 3
	    | (uint64_t)k->direction << 7
	    | (uint64_t)cls << 8
	    | (uint64_t)code << 11
	    | (uint64_t)k->enhanced.cls << 21
	    | (uint64_t)k->enhanced.subject << 24
	    | (uint64_t)k->enhanced.detail << 34
	    | (uint64_t)k->host << 44;
}

static inline void
unpack(uint64_t x, struct agg_key *k)
{
	memset(k, 0, sizeof *k);
	k->family = (enum agg_family)(x & 7);
	k->mta = (int)((x >> 3) & 15);
	k->direction = (enum mp_direction)((x >> 7) & 1);
	k->host = (uint16_t)((x >> 44) & 8191);
	unsigned cls = (unsigned)((x >> 8) & 7), code = (unsigned)((x >> 11) & 1023);
	switch (k->family) {
	case AGG_FAM_OUTCOME:
		k->outcome = (enum mp_outcome)cls;
		k->destination = (enum mp_destination)code;
		break;
	case AGG_FAM_DOMAIN:
		k->cls = (uint8_t)cls;
		k->domain = (uint16_t)code;
		break;
	default:
		k->cls = (uint8_t)cls;
		k->code = (uint16_t)code;
		k->enhanced.cls = (uint8_t)((x >> 21) & 7);
		k->enhanced.subject = (uint16_t)((x >> 24) & 1023);
		k->enhanced.detail = (uint16_t)((x >> 34) & 1023);
	}
}

/* splitmix64 finaliser: cheap and spreads the low-entropy packed keys. */
static inline uint64_t
hash64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

/* Move the generation after the counter it announces, with release order:
 * a renderer that reads the new generation (acquire) and then the counters
 * sees at least that count, so it never caches a body missing it. */
static inline void
bump(struct agg *a)
{
	/* One writer: a load and a store, not a locked read-modify-write,
	 * which costs tens of cycles a line for nothing. */
	atomic_store_explicit(&a->generation,
	    atomic_load_explicit(&a->generation, memory_order_relaxed) + 1,
	    memory_order_release);
}

/* The index entry holding key, or the empty one where it would go. The
 * index is never full: at most half of the entries in use hold a key. */
static inline struct agg_ix *
lookup(const struct agg *a, uint64_t key)
{
	for (size_t i = hash64(key) & a->mask;; i = (i + 1) & a->mask) {
		struct agg_ix *x = &a->index[i];
		if (x->key == key || x->key == 0)
			return x;
	}
}

/*
 * Add the series key (absent so far) with its value and creation time:
 * fills the next slot, indexes it and publishes it. Returns the slot, or
 * NULL when max_series slots are used or the key is already there. The
 * writer only; counting checks the cap before, aggregate_state.c's loader
 * and agg_publish take the NULL as a corrupt section.
 */
struct agg_slot *agg_append(struct agg *a, uint64_t key, uint64_t value, int64_t created);

/* Set delay_mtas from the histograms themselves (after a load or a
 * publish wrote them). */
static inline void
agg_sync_delay_mtas(struct agg *a)
{
	uint32_t bits = 0;

	for (int m = 0; m < MP_MTA_MAX; m++)
		for (int s = 0; s < AGG_STAGES; s++) {
			int any = atomic_load_explicit(&a->dl->total[m][s].count,
			    memory_order_relaxed) != 0;
			for (int d = 0; d < MP_DEST_COUNT; d++)
				any |= atomic_load_explicit(&a->dl->dest[m][d][s].count,
				    memory_order_relaxed) != 0;
			if (any)
				bits |= (uint32_t)1 << m;
		}
	mta_bits_store(&a->delay_mtas, bits);
}

/* The number of series a reader may read: every slot below it is whole. */
static inline size_t
agg_slots_published(const struct agg *a)
{
	return atomic_load_explicit(&a->used_published, memory_order_acquire);
}

#endif
