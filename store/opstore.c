/*
 * opstore.c - counters of the operational families (opstore.h).
 */
#include "store/opstore.h"

#include <float.h>
#include <stdlib.h>
#include <string.h>

#include "store/mta_bits.h"
#include "store/topk.h"
#include "util/zpages.h"

/* What recording needs of a family, copied out of the table once so the
 * hot path makes no call to look it up. */
struct fam_layout {
	uint32_t slots;          /* per label combination */
	/* Counters from one value of label i to the next: slots times the
	 * values of the labels after it (0 past nlabels, whose only valid
	 * value is 0). A combination's first counter is then
	 * off[fam] + sum of label[i] * stride[i], the same as
	 * opstore_combo() * slots, in three multiply-adds without a loop. */
	uint32_t stride[MP_OP_LABELS];
	uint8_t nlabels;
	uint8_t nvalues[MP_OP_LABELS];
	uint8_t histogram;
	uint8_t nbounds;
	const double *bounds;
};

struct opstore {
	struct fam_layout fam[MP_OPF_COUNT];
	/* Offset of each family within one MTA's block, and the block size. */
	size_t off[MP_OPF_COUNT];
	size_t per_mta;
	size_t ncounters;       /* per_mta * MP_MTA_MAX + the cipher counters */
	_Atomic uint64_t *c;    /* ncounters */
	_Atomic uint64_t *cipher; /* into c: [MP_MTA_MAX][MP_DIR_COUNT][OPSTORE_CIPHERS + 1] */
	/* The MTA ids with a counter above 0 (store/mta_bits.h): readers
	 * skip the blocks of the others. */
	_Atomic uint32_t mtas;
	struct topk *ciphers;   /* NULL: the family is off */
	size_t memory;
};

/* Slots one label combination takes. */
static size_t
slots(const struct mp_op_family_desc *d)
{
	return d->histogram ? d->nbounds + 1 + 2 : 1;
}

struct opstore *
opstore_new(int ciphers)
{
	struct opstore *s = calloc(1, sizeof *s);
	size_t ncipher = (size_t)MP_MTA_MAX * MP_DIR_COUNT * (OPSTORE_CIPHERS + 1);

	if (s == NULL)
		return NULL;
	for (unsigned f = 1; f < MP_OPF_COUNT; f++) {
		const struct mp_op_family_desc *d = mp_op_family(f);
		struct fam_layout *l = &s->fam[f];

		l->slots = (uint32_t)slots(d);
		l->nlabels = (uint8_t)d->nlabels;
		for (unsigned i = 0; i < MP_OP_LABELS; i++)
			l->nvalues[i] = (uint8_t)(i < d->nlabels ? d->labels[i].nvalues : 1);
		for (unsigned i = MP_OP_LABELS, stride = l->slots; i-- > 0;) {
			if (i >= d->nlabels) {
				l->stride[i] = 0;
				continue;
			}
			l->stride[i] = stride;
			stride *= l->nvalues[i];
		}
		l->histogram = (uint8_t)d->histogram;
		l->nbounds = (uint8_t)d->nbounds;
		l->bounds = d->bounds;
		s->off[f] = s->per_mta;
		s->per_mta += slots(d) * mp_op_combinations(d);
	}
	s->ncounters = s->per_mta * MP_MTA_MAX + ncipher;
	if ((s->c = zpages_alloc(s->ncounters * sizeof *s->c)) == NULL)
		goto fail;
	s->cipher = s->c + s->per_mta * MP_MTA_MAX;
	s->memory = sizeof *s + s->ncounters * sizeof *s->c;
	if (ciphers) {
		if ((s->ciphers = topk_new(OPSTORE_CIPHERS, 0)) == NULL)
			goto fail;
		s->memory += topk_memory(s->ciphers);
	}
	return s;
fail:
	opstore_free(s);
	return NULL;
}

void
opstore_free(struct opstore *s)
{
	if (s == NULL)
		return;
	topk_free(s->ciphers);
	zpages_free(s->c, s->ncounters * sizeof *s->c);
	free(s);
}

unsigned
opstore_combo(unsigned fam, const uint8_t label[MP_OP_LABELS])
{
	const struct mp_op_family_desc *d = mp_op_family(fam);
	unsigned combo = 0;

	for (unsigned i = 0; d != NULL && i < d->nlabels; i++)
		combo = combo * d->labels[i].nvalues + label[i];
	return combo;
}

/* The counter (or a histogram's first bucket) of one label combination. */
static _Atomic uint64_t *
slot(const struct opstore *s, int mta, unsigned fam, unsigned combo)
{
	return s->c + (size_t)mta * s->per_mta + s->off[fam] + (size_t)combo * s->fam[fam].slots;
}

static void
inc(_Atomic uint64_t *c)
{
	/* One writer: a load and a store, no locked read-modify-write. */
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1,
	    memory_order_relaxed);
}

static void
observe(const struct fam_layout *d, _Atomic uint64_t *h, double v)
{
	unsigned b = 0;
	uint64_t bits;
	double sum;

	while (b < d->nbounds && v > d->bounds[b])
		b++;
	inc(&h[b]);
	bits = atomic_load_explicit(&h[d->nbounds + 1], memory_order_relaxed);
	memcpy(&sum, &bits, sizeof sum);
	sum += v;
	memcpy(&bits, &sum, sizeof bits);
	atomic_store_explicit(&h[d->nbounds + 1], bits, memory_order_relaxed);
	/* The count last, with release: a reader that sees it sees the bucket. */
	atomic_store_explicit(&h[d->nbounds + 2],
	    atomic_load_explicit(&h[d->nbounds + 2], memory_order_relaxed) + 1,
	    memory_order_release);
}

/* A cipher name is letters, digits and "-_.:"; anything else is not one. */
static size_t
cipher_name(const char *in, size_t len)
{
	if (len == 0 || len > OPSTORE_CIPHER_MAX)
		return 0;
	for (size_t i = 0; i < len; i++) {
		char ch = in[i];
		if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		    (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '.' ||
		    ch == ':'))
			return 0;
	}
	return len;
}

static _Atomic uint64_t *
cipher_slot(const struct opstore *s, int mta, enum mp_direction dir, unsigned id)
{
	return &s->cipher[((size_t)mta * MP_DIR_COUNT + dir) * (OPSTORE_CIPHERS + 1) + id];
}

static void
record_cipher(struct opstore *s, const struct mp_event *ev, enum mp_direction dir,
    int (*admit)(void *), void *ctx)
{
	unsigned id = 0;

	if (s->ciphers == NULL || ev->tls_cipher == NULL)
		return;
	if (cipher_name(ev->tls_cipher, ev->tls_cipher_len) != 0 &&
	    !(ev->tls_cipher_len == 5 && memcmp(ev->tls_cipher, "other", 5) == 0))
		id = topk_observe(s->ciphers, ev->tls_cipher, ev->tls_cipher_len);
	/* A new (mta, direction, cipher) series counts against the cap. */
	if (id != 0 && atomic_load_explicit(cipher_slot(s, ev->mta, dir, id),
	    memory_order_relaxed) == 0 && admit != NULL && !admit(ctx))
		id = 0;
	inc(cipher_slot(s, ev->mta, dir, id));
}

size_t
opstore_cipher_series(const struct opstore *s)
{
	size_t n = 0;

	for (int mta = 0; mta < MP_MTA_MAX; mta++)
		for (int dir = 0; dir < MP_DIR_COUNT; dir++)
			for (unsigned id = 1; id <= OPSTORE_CIPHERS; id++)
				n += atomic_load_explicit(cipher_slot(s, mta,
				    (enum mp_direction)dir, id), memory_order_relaxed) != 0;
	return n;
}

unsigned
opstore_record(struct opstore *s, const struct mp_event *ev, int (*admit)(void *ctx),
    void *ctx)
{
	unsigned n = 0, nops = ev->nops < MP_OPS_MAX ? ev->nops : MP_OPS_MAX;
	_Atomic uint64_t *block;

	if (ev->mta < 0 || ev->mta >= MP_MTA_MAX)
		return 0;
	/* nops and the MTA's block read once, not on every pass. */
	block = s->c + (size_t)ev->mta * s->per_mta;
	for (unsigned i = 0; i < nops; i++) {
		const struct mp_op *op = &ev->ops[i];
		const struct fam_layout *d;
		_Atomic uint64_t *c;

		/* The same checks as mp_op_valid, from the copied layout. */
		if (op->family == MP_OPF_NONE || op->family >= MP_OPF_COUNT)
			continue;
		d = &s->fam[op->family];
		if (op->label[0] >= d->nvalues[0] || op->label[1] >= d->nvalues[1] ||
		    op->label[2] >= d->nvalues[2] ||
		    (d->histogram && !(op->value >= 0 && op->value <= DBL_MAX)))
			continue;
		_Static_assert(MP_OP_LABELS == 3, "three strides below");
		c = block + s->off[op->family] + (size_t)op->label[0] * d->stride[0] +
		    (size_t)op->label[1] * d->stride[1] + (size_t)op->label[2] * d->stride[2];
		if (d->histogram)
			observe(d, c, op->value);
		else
			inc(c);
		if (op->family == MP_OPF_TLS)
			record_cipher(s, ev, (enum mp_direction)op->label[0], admit, ctx);
		n++;
	}
	if (n > 0)
		mta_bits_set(&s->mtas, ev->mta);
	return n;
}

void
opstore_sync(struct opstore *s)
{
	uint32_t bits = 0;

	for (int mta = 0; mta < MP_MTA_MAX; mta++) {
		int any = 0;
		for (size_t i = 0; i < s->per_mta && !any; i++)
			any = atomic_load_explicit(&s->c[(size_t)mta * s->per_mta + i],
			    memory_order_relaxed) != 0;
		for (int dir = 0; dir < MP_DIR_COUNT && !any; dir++)
			for (unsigned id = 0; id <= OPSTORE_CIPHERS && !any; id++)
				any = atomic_load_explicit(cipher_slot(s, mta,
				    (enum mp_direction)dir, id), memory_order_relaxed) != 0;
		if (any)
			bits |= (uint32_t)1 << mta;
	}
	mta_bits_store(&s->mtas, bits);
}

uint64_t
opstore_counter(const struct opstore *s, int mta, unsigned fam, unsigned combo)
{
	const struct mp_op_family_desc *d = mp_op_family(fam);

	if (d == NULL || d->histogram || mta < 0 || mta >= MP_MTA_MAX ||
	    combo >= mp_op_combinations(d) || !mta_bits_has(&s->mtas, mta))
		return 0;
	return atomic_load_explicit(slot(s, mta, fam, combo), memory_order_relaxed);
}

uint64_t
opstore_histogram(const struct opstore *s, int mta, unsigned fam, unsigned combo,
    uint64_t *buckets, double *sum)
{
	const struct mp_op_family_desc *d = mp_op_family(fam);
	_Atomic uint64_t *h;
	uint64_t count, bits;

	*sum = 0;
	if (d == NULL || !d->histogram || mta < 0 || mta >= MP_MTA_MAX ||
	    combo >= mp_op_combinations(d) || !mta_bits_has(&s->mtas, mta))
		return 0;
	h = slot(s, mta, fam, combo);
	count = atomic_load_explicit(&h[d->nbounds + 2], memory_order_acquire);
	for (unsigned b = 0; b <= d->nbounds; b++)
		buckets[b] = atomic_load_explicit(&h[b], memory_order_relaxed);
	bits = atomic_load_explicit(&h[d->nbounds + 1], memory_order_relaxed);
	memcpy(sum, &bits, sizeof *sum);
	return count;
}

int
opstore_ciphers_on(const struct opstore *s)
{
	return s->ciphers != NULL;
}

unsigned
opstore_cipher_count(const struct opstore *s)
{
	return s->ciphers != NULL ? topk_count(s->ciphers) : 0;
}

const char *
opstore_cipher_name(const struct opstore *s, unsigned id)
{
	if (id == 0 || s->ciphers == NULL || id > topk_count(s->ciphers))
		return "other";
	return topk_name(s->ciphers, id);
}

uint64_t
opstore_cipher_counter(const struct opstore *s, int mta, enum mp_direction dir, unsigned id)
{
	if (mta < 0 || mta >= MP_MTA_MAX || (unsigned)dir >= MP_DIR_COUNT ||
	    id > OPSTORE_CIPHERS || !mta_bits_has(&s->mtas, mta))
		return 0;
	return atomic_load_explicit(cipher_slot(s, mta, dir, id), memory_order_relaxed);
}

_Atomic uint64_t *
opstore_flat(struct opstore *s, size_t *n)
{
	*n = s->ncounters;
	return s->c;
}

unsigned
opstore_cipher_restore(struct opstore *s, const char *name, size_t len)
{
	if (s->ciphers == NULL || cipher_name(name, len) == 0)
		return 0;
	return topk_restore(s->ciphers, name, len);
}

size_t
opstore_memory(const struct opstore *s)
{
	return s->memory;
}
