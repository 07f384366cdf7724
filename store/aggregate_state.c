/*
 * aggregate_state.c - save and load of the counter store for
 * --state.file, and agg_publish, the copy the web thread renders: all
 * three walk every counter of struct agg (aggregate_impl.h) the same way,
 * as flat arrays.
 */
#include "store/aggregate_state.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "store/aggregate_impl.h"
#include "store/opstore.h"
#include "store/state.h"
#include "store/topk.h"

/* Every fixed family, as flat arrays of 64-bit atomics, in file order. The
 * element count of each is written too, so a build with other dimensions
 * (more MTAs, another bucket layout) refuses the file instead of
 * misreading it. */
struct flat {
	_Atomic uint64_t *p;
	size_t n;
};

#define FLAT(x) { (_Atomic uint64_t *)(void *)&(x), sizeof (x) / sizeof(_Atomic uint64_t) }

static size_t
flats(struct agg *a, struct flat *out)
{
	struct flat f[] = {
		FLAT(a->status_over), FLAT(a->outcome_fixed), FLAT(a->domain_fixed),
		FLAT(a->reasons), FLAT(a->unmatched), FLAT(a->events), FLAT(a->matched),
		FLAT(a->received), FLAT(a->last_ts_us), FLAT(a->dl->total), FLAT(a->dropped),
		FLAT(a->dl->dest), { NULL, 0 },
	};
	_Static_assert(sizeof(_Atomic int64_t) == sizeof(_Atomic uint64_t), "flat int64");
	_Static_assert(sizeof(struct agg_hist) % sizeof(_Atomic uint64_t) == 0, "flat hist");
	f[sizeof f / sizeof f[0] - 1].p = opstore_flat(a->ops, &f[sizeof f / sizeof f[0] - 1].n);
	memcpy(out, f, sizeof f);
	return sizeof f / sizeof f[0];
}

#define AGG_FLATS 13
/* The reasons state files of format version 2 hold before not_attempted:
 * the same closed set without it, "other" last. */
#define AGG_REASONS_V2 17

static void
save_labels(const struct topk *t, struct state_buf *b)
{
	unsigned n = topk_count(t);

	state_put_u64(b, n);
	for (unsigned id = 1; id <= n; id++) {
		const char *name = topk_name(t, id);
		state_put_bytes(b, name, strlen(name));
	}
}

void
agg_save(const struct agg *ca, struct state_buf *b)
{
	struct agg *a = (struct agg *)(uintptr_t)ca;  /* read-only: flats() only takes addresses */
	struct flat f[AGG_FLATS];
	size_t nf = flats(a, f);
	uint64_t bits;

	state_put_u64(b, a->opts.max_series);
	state_put_u64(b, a->opts.domains_top);
	state_put_u64(b, (uint64_t)a->opts.domains_inbound);
	state_put_u64(b, (uint64_t)a->opts.host_label);
	state_put_u64(b, (uint64_t)a->opts.tls_cipher);
	memcpy(&bits, &a->start, sizeof bits);
	state_put_u64(b, bits);
	state_put_u64(b, nf);
	/* Sparse: most of the fixed arrays are zeros (MTAs and stages never
	 * seen), and the file stays a few KiB. */
	for (size_t i = 0; i < nf; i++) {
		size_t nz = 0;
		state_put_u64(b, f[i].n);
		for (size_t j = 0; j < f[i].n; j++)
			nz += atomic_load_explicit(&f[i].p[j], memory_order_relaxed) != 0;
		state_put_u64(b, nz);
		for (size_t j = 0; j < f[i].n && nz > 0; j++) {
			uint64_t v = atomic_load_explicit(&f[i].p[j], memory_order_relaxed);
			if (v == 0)
				continue;
			state_put_u64(b, j);
			state_put_u64(b, v);
			nz--;
		}
	}
	for (int d = 0; d < MP_DIR_COUNT; d++)
		save_labels(a->domains[d], b);
	save_labels(a->hosts, b);
	state_put_u64(b, opstore_cipher_count(a->ops));
	for (unsigned id = 1; id <= opstore_cipher_count(a->ops); id++) {
		const char *name = opstore_cipher_name(a->ops, id);
		state_put_bytes(b, name, strlen(name));
	}
	size_t used = agg_slots_published(a);

	state_put_u64(b, used);
	for (size_t i = 0; i < used; i++) {
		state_put_u64(b, atomic_load_explicit(&a->slots[i].key, memory_order_relaxed));
		state_put_u64(b, atomic_load_explicit(&a->slots[i].value, memory_order_relaxed));
		state_put_u64(b, (uint64_t)atomic_load_explicit(&a->slots[i].created,
		    memory_order_relaxed));
	}
}

static int
load_labels(struct topk *t, struct state_rd *r)
{
	uint64_t n = state_get_u64(r);

	for (uint64_t i = 0; i < n && !r->bad; i++) {
		size_t len;
		const char *name = state_get_bytes(r, &len);
		if (name == NULL || topk_restore(t, name, len) != i + 1)
			return -1;
	}
	return r->bad ? -1 : 0;
}

/* A saved key must name labels this store can show. */
static int
key_valid(const struct agg *a, uint64_t k)
{
	struct agg_key key;

	if (k == 0)
		return 0;
	unpack(k - 1, &key);
	if ((unsigned)key.family >= AGG_FAM_COUNT || key.mta >= MP_MTA_MAX ||
	    pack(&key) != k - 1)
		return 0;
	if (key.family == AGG_FAM_DOMAIN && key.domain > topk_count(a->domains[key.direction]))
		return 0;
	return key.host <= topk_count(a->hosts) + 1;
}

int
agg_load(struct agg *a, struct state_rd *r, char *err, size_t errlen)
{
	struct flat f[AGG_FLATS];
	size_t nf = flats(a, f);
	uint64_t v[5], bits, nslots, nciphers;

	for (int i = 0; i < 5; i++)
		v[i] = state_get_u64(r);
	if (!r->bad && (v[0] != a->opts.max_series || v[1] != a->opts.domains_top ||
	    v[2] != (uint64_t)a->opts.domains_inbound || v[3] != (uint64_t)a->opts.host_label ||
	    v[4] != (uint64_t)a->opts.tls_cipher)) {
		snprintf(err, errlen, "it was saved with other --metrics.* options "
		    "(max-series %ju, domains.top %ju, domains.inbound %s, host-label %s, "
		    "tls-cipher %s), under which its series mean something else",
		    (uintmax_t)v[0], (uintmax_t)v[1], v[2] ? "on" : "off", v[3] ? "on" : "off",
		    v[4] ? "on" : "off");
		return -1;
	}
	bits = state_get_u64(r);
	memcpy(&a->start, &bits, sizeof bits);
	if (state_get_u64(r) != nf && !r->bad)
		goto layout;
	for (size_t i = 0; i < nf && !r->bad; i++) {
		uint64_t nz, n = state_get_u64(r);
		/* A file from before not_attempted was added (17 reasons, other
		 * last) is read into the 18: every cell keeps its reason, other
		 * moves to the end, so an upgrade keeps the counts. */
		int old_reasons = f[i].p == (_Atomic uint64_t *)(void *)&a->reasons &&
		    n == f[i].n / AGG_REASONS * AGG_REASONS_V2;
		if (n != f[i].n && !old_reasons && !r->bad)
			goto layout;
		if ((nz = state_get_u64(r)) > n)
			goto corrupt;
		for (uint64_t j = 0; j < nz && !r->bad; j++) {
			uint64_t idx = state_get_u64(r), val = state_get_u64(r);
			if (idx >= n)
				goto corrupt;
			if (old_reasons)
				idx = idx / AGG_REASONS_V2 * AGG_REASONS +
				    (idx % AGG_REASONS_V2 == AGG_REASONS_V2 - 1 ?
				    AGG_REASONS - 1 : idx % AGG_REASONS_V2);
			atomic_store_explicit(&f[i].p[idx], val, memory_order_relaxed);
		}
	}
	for (int d = 0; d < MP_DIR_COUNT; d++)
		if (load_labels(a->domains[d], r) < 0)
			goto corrupt;
	if (load_labels(a->hosts, r) < 0)
		goto corrupt;
	nciphers = state_get_u64(r);
	for (uint64_t i = 0; i < nciphers && !r->bad; i++) {
		size_t len;
		const char *name = state_get_bytes(r, &len);
		if (name == NULL || opstore_cipher_restore(a->ops, name, len) != i + 1)
			goto corrupt;
	}
	nslots = state_get_u64(r);
	if (nslots > a->opts.max_series)
		goto corrupt;
	for (uint64_t i = 0; i < nslots && !r->bad; i++) {
		uint64_t k = state_get_u64(r), val = state_get_u64(r);
		int64_t created = (int64_t)state_get_u64(r);
		if (r->bad || !key_valid(a, k))
			goto corrupt;
		if (agg_append(a, k, val, created) == NULL)
			goto corrupt;  /* a key twice */
		if ((enum agg_family)((k - 1) & 7) == AGG_FAM_STATUS)
			a->status_used++;
	}
	if (r->bad)
		goto corrupt;
	atomic_store_explicit(&a->status_published, a->status_used, memory_order_relaxed);
	a->cipher_series = opstore_cipher_series(a->ops);
	atomic_store_explicit(&a->cipher_published, a->cipher_series, memory_order_relaxed);
	if (a->used + a->cipher_series > a->opts.max_series)
		goto corrupt;
	agg_sync_delay_mtas(a);
	opstore_sync(a->ops);
	bump(a);
	return 0;
layout:
	snprintf(err, errlen, "its counters have another layout (a different exporter version)");
	return -1;
corrupt:
	snprintf(err, errlen, "its counter section is inconsistent");
	return -1;
}

void
agg_publish(struct agg *dst, const struct agg *csrc)
{
	struct agg *src = (struct agg *)(uintptr_t)csrc;
	struct flat fd[AGG_FLATS], fs[AGG_FLATS];
	size_t nf = flats(dst, fd);

	flats(src, fs);
	for (size_t i = 0; i < nf; i++)
		for (size_t j = 0; j < fd[i].n; j++)
			atomic_store_explicit(&fd[i].p[j],
			    atomic_load_explicit(&fs[i].p[j], memory_order_relaxed),
			    memory_order_relaxed);
	/* Labels before the series that use them, as agg_record does. */
	for (int d = 0; d < MP_DIR_COUNT; d++)
		for (unsigned id = topk_count(dst->domains[d]) + 1;
		    id <= topk_count(src->domains[d]); id++) {
			const char *name = topk_name(src->domains[d], id);
			topk_restore(dst->domains[d], name, strlen(name));
		}
	for (unsigned id = topk_count(dst->hosts) + 1; id <= topk_count(src->hosts); id++) {
		const char *name = topk_name(src->hosts, id);
		topk_restore(dst->hosts, name, strlen(name));
	}
	for (unsigned id = opstore_cipher_count(dst->ops) + 1;
	    id <= opstore_cipher_count(src->ops); id++) {
		const char *name = opstore_cipher_name(src->ops, id);
		opstore_cipher_restore(dst->ops, name, strlen(name));
	}
	/* dst is filled only from src, and both only append: slot i is the
	 * same series in both. The values of those dst has, then the new ones
	 * (agg_append publishes each after its value). */
	for (size_t i = 0; i < src->used; i++) {
		const struct agg_slot *s = &src->slots[i];
		uint64_t v = atomic_load_explicit(&s->value, memory_order_relaxed);

		if (i < dst->used)
			atomic_store_explicit(&dst->slots[i].value, v, memory_order_relaxed);
		else
			agg_append(dst, atomic_load_explicit(&s->key, memory_order_relaxed), v,
			    atomic_load_explicit(&s->created, memory_order_relaxed));
	}
	dst->status_used = src->status_used;
	dst->cipher_series = src->cipher_series;
	atomic_store_explicit(&dst->cipher_published, dst->cipher_series, memory_order_relaxed);
	atomic_store_explicit(&dst->status_published, dst->status_used, memory_order_relaxed);
	dst->start = src->start;
	/* The counts were copied as flat arrays: note again which MTA ids
	 * have any, as after a load. */
	agg_sync_delay_mtas(dst);
	opstore_sync(dst->ops);
	bump(dst);
}
