/*
 * mta_bits.h - a bit per MTA id saying "this id has counted something".
 *
 * Why: the store's delay histograms (80 KiB) and the operational
 * families' counters (48 KiB) have a block per MTA id, from zeroed pages
 * (util/zpages.h) that a run touches only for the one or two ids it
 * counts for. A render reads every id, and reading a never-touched page
 * still faults it in (about 15 us here, docs/hacking.md, round 9); with
 * the bit, readers skip the ids that never counted.
 *
 * Order: the one writer sets a bit with release after the counts it
 * announces; a reader tests it with acquire before reading them. After
 * counts are written some other way (a state file's load, a publish), the
 * owner recomputes the bits from the counts and stores them with
 * mta_bits_store.
 */
#ifndef MTA_BITS_H
#define MTA_BITS_H

#include <stdatomic.h>
#include <stdint.h>

#include "parsers/mp.h"

_Static_assert(MP_MTA_MAX <= 32, "a bit per MTA id in a uint32_t");

/* Note that id mta (0 <= mta < MP_MTA_MAX) has counted. One writer: a
 * load and, the first time only, a store. */
static inline void
mta_bits_set(_Atomic uint32_t *bits, int mta)
{
	uint32_t b = atomic_load_explicit(bits, memory_order_relaxed);

	if (!(b >> mta & 1))
		atomic_store_explicit(bits, b | (uint32_t)1 << mta, memory_order_release);
}

/* Has id mta (0 <= mta < MP_MTA_MAX) counted anything? */
static inline int
mta_bits_has(const _Atomic uint32_t *bits, int mta)
{
	return atomic_load_explicit(bits, memory_order_acquire) >> mta & 1;
}

/* Replace every bit (recomputed from the counts). */
static inline void
mta_bits_store(_Atomic uint32_t *bits, uint32_t value)
{
	atomic_store_explicit(bits, value, memory_order_release);
}

#endif
