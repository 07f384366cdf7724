/*
 * history.c - the ring of time buckets (see history.h).
 *
 * Bucket i holds period p when p % nbuckets == i. A bucket says which
 * period it holds by its tag, p + 1; 0 means none. Periods are never
 * negative (hist_record drops them, and INT64_MAX, whose tag would
 * overflow), and with none as 0 the zeroed memory
 * calloc gives is a ring of empty buckets: hist_new writes no bucket, so
 * the pages of the ones never used are never touched. (The report's ring
 * is 9,600 hours, 768 KiB, of which a day's log uses 24 buckets; writing a
 * -1 into each bucket faulted all of it in, 130 page faults a run.)
 * When the writer meets a period newer than the one a bucket holds, it
 * recycles the bucket:
 *   1. it marks the bucket as holding no period (tag 0), relaxed, then
 *      issues a release fence, so no reader can see the zeroed counters
 *      under the old period;
 *   2. it zeroes the counters;
 *   3. it publishes the new period's tag with release order.
 * A reader loads the tag (acquire), reads the counters, issues an acquire
 * fence and loads the tag again. If either load differs from the tag of
 * the period it wants, the bucket was recycled meanwhile and reads as
 * zeros, which is right: the period it wanted is gone.
 */
#include "store/history.h"

#include <stdlib.h>

struct bucket {
	_Atomic int64_t tag;                              /* period + 1; 0: none */
	_Atomic uint64_t count[MP_DIR_COUNT][HIST_CLASSES];
};

struct hist {
	unsigned n, secs;
	int64_t latest;                 /* writer's copy */
	_Atomic int64_t latest_pub;
	_Atomic uint64_t dropped;
	struct bucket *b;
};

int
hist_class_index(int cls)
{
	return cls == 2 ? 0 : cls == 4 ? 1 : cls == 5 ? 2 : -1;
}

struct hist *
hist_new(unsigned nbuckets, unsigned bucket_s)
{
	struct hist *h;

	if (nbuckets == 0 || bucket_s == 0 || (h = calloc(1, sizeof *h)) == NULL)
		return NULL;
	if ((h->b = calloc(nbuckets, sizeof *h->b)) == NULL) {
		free(h);
		return NULL;
	}
	/* calloc's zeros: every bucket's tag is 0, none (see the top). */
	h->n = nbuckets;
	h->secs = bucket_s;
	h->latest = -1;
	atomic_init(&h->latest_pub, -1);
	return h;
}

void
hist_free(struct hist *h)
{
	if (h == NULL)
		return;
	free(h->b);
	free(h);
}

/* Floor division, so a time before 1970 still lands in the right period. */
static int64_t
period_of(const struct hist *h, int64_t t)
{
	int64_t s = (int64_t)h->secs;

	return t >= 0 ? t / s : -((-t + s - 1) / s);
}

static struct bucket *
slot(const struct hist *h, int64_t p)
{
	int64_t n = (int64_t)h->n;

	return &h->b[((p % n) + n) % n];
}

void
hist_record(struct hist *h, int64_t t, enum mp_direction dir, int cls)
{
	int ci = hist_class_index(cls);
	int64_t p = period_of(h, t);
	struct bucket *b;

	if (ci < 0 || (unsigned)dir >= MP_DIR_COUNT ||
	    (h->latest >= 0 && p <= h->latest - (int64_t)h->n) || p < 0 || p == INT64_MAX) {
		atomic_fetch_add_explicit(&h->dropped, 1, memory_order_relaxed);
		return;
	}
	b = slot(h, p);
	if (atomic_load_explicit(&b->tag, memory_order_relaxed) != p + 1) {
		atomic_store_explicit(&b->tag, 0, memory_order_relaxed);
		atomic_thread_fence(memory_order_release);
		for (int d = 0; d < MP_DIR_COUNT; d++)
			for (int c = 0; c < HIST_CLASSES; c++)
				atomic_store_explicit(&b->count[d][c], 0, memory_order_relaxed);
		atomic_store_explicit(&b->tag, p + 1, memory_order_release);
	}
	/* One writer: load and store, no locked add. */
	atomic_store_explicit(&b->count[dir][ci],
	    atomic_load_explicit(&b->count[dir][ci], memory_order_relaxed) + 1,
	    memory_order_relaxed);
	if (p > h->latest) {
		h->latest = p;
		atomic_store_explicit(&h->latest_pub, p, memory_order_relaxed);
	}
}

int64_t
hist_latest(const struct hist *h)
{
	return atomic_load_explicit(&h->latest_pub, memory_order_relaxed);
}

int
hist_get(const struct hist *h, int64_t period, uint64_t out[MP_DIR_COUNT][HIST_CLASSES])
{
	const struct bucket *b = slot(h, period);
	uint64_t v[MP_DIR_COUNT][HIST_CLASSES];

	for (int d = 0; d < MP_DIR_COUNT; d++)
		for (int c = 0; c < HIST_CLASSES; c++)
			out[d][c] = 0;
	if (period < 0 || period == INT64_MAX ||
	    atomic_load_explicit(&b->tag, memory_order_acquire) != period + 1)
		return 0;
	for (int d = 0; d < MP_DIR_COUNT; d++)
		for (int c = 0; c < HIST_CLASSES; c++)
			v[d][c] = atomic_load_explicit(&b->count[d][c], memory_order_relaxed);
	atomic_thread_fence(memory_order_acquire);
	if (atomic_load_explicit(&b->tag, memory_order_relaxed) != period + 1)
		return 0;
	for (int d = 0; d < MP_DIR_COUNT; d++)
		for (int c = 0; c < HIST_CLASSES; c++)
			out[d][c] = v[d][c];
	return 1;
}

void
hist_sum(const struct hist *h, int64_t now, unsigned n,
    uint64_t out[MP_DIR_COUNT][HIST_CLASSES])
{
	int64_t last = period_of(h, now);
	uint64_t v[MP_DIR_COUNT][HIST_CLASSES];

	if (n > h->n)
		n = h->n;
	for (unsigned i = 0; i < n; i++) {
		if (!hist_get(h, last - (int64_t)i, v))
			continue;
		for (int d = 0; d < MP_DIR_COUNT; d++)
			for (int c = 0; c < HIST_CLASSES; c++)
				out[d][c] += v[d][c];
	}
}

unsigned
hist_buckets(const struct hist *h)
{
	return h->n;
}

unsigned
hist_bucket_seconds(const struct hist *h)
{
	return h->secs;
}

uint64_t
hist_dropped(const struct hist *h)
{
	return atomic_load_explicit(&h->dropped, memory_order_relaxed);
}
