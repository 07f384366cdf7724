/*
 * aggregate.c - lock-free counter store behind every log-derived family.
 *
 * Layout: the series are (packed key, value, created) slots kept densely
 * in the order they were made, and an open-addressing index of (key, slot
 * number) finds them, at most half full so probes stay short. A key packs
 * every label of every capped family into one 64-bit word (strings are
 * replaced by label ids from topk.c), so a lookup is a hash, a compare
 * and an add: no strings are built per line. Families whose labels are
 * only our enums live in fixed arrays beside the table, and so do the
 * overflow series, which must always be available.
 *
 * Publication: the single writer fills the next free slot and then moves
 * the published count past it with release order; readers load the count
 * with acquire order and read only the slots below it, so a reader never
 * sees a key without its counter. Slots are never moved or freed (series
 * never disappear), which is what makes the scheme safe without a lock;
 * the index is the writer's alone, so it may rehash it. Label names are
 * published the same way by topk.c.
 *
 * The struct and the key helpers are in aggregate_impl.h; saving,
 * loading and publishing a copy are in aggregate_state.c.
 */
#include "store/aggregate.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "parsers/reason.h"
#include "store/aggregate_impl.h"
#include "store/opstore.h"
#include "store/topk.h"
#include "util/zpages.h"

/* aggregate.h sizes its fixed reason array without the classifier's enum,
 * so its users need not include it; the two must agree. */
_Static_assert(REASON_COUNT == AGG_REASONS, "AGG_REASONS must equal REASON_COUNT");

const double agg_delay_bounds[AGG_DELAY_BUCKETS] = {
	0.1, 0.5, 1, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200, 14400,
	43200, 86400, 172800, 432000,
};

static int
class_index(unsigned cls)
{
	return cls == 2 ? 0 : cls == 4 ? 1 : 2;
}

static double
now_real(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void
agg_opts_defaults(struct agg_opts *o)
{
	o->max_series = AGG_DEFAULT_MAX_SERIES;
	o->domains_top = AGG_DEFAULT_DOMAINS_TOP;
	o->domains_inbound = 0;
	o->host_label = 0;
	o->tls_cipher = 0;
}

const char *
agg_stage_name(int stage)
{
	static const char *const names[AGG_STAGES] = {
		[MP_STAGE_BEFORE_QMGR] = "before_qmgr",
		[MP_STAGE_IN_QMGR] = "in_qmgr",
		[MP_STAGE_CONN_SETUP] = "conn_setup",
		[MP_STAGE_TRANSMISSION] = "transmission",
		[MP_STAGE_DELIVERY] = "delivery",
		[AGG_STAGE_TOTAL] = "total",
	};
	return stage >= 0 && stage < AGG_STAGES ? names[stage] : "unknown";
}

struct agg *
agg_new_opts(const struct agg_opts *o)
{
	struct agg *a;
	size_t size = 16;

	/* Slot numbers are 32 bits in the index. */
	if (o->max_series == 0 || o->max_series > UINT32_MAX / 4 ||
	    o->max_series > (SIZE_MAX / 4) / sizeof(struct agg_ix) ||
	    o->domains_top > AGG_MAX_DOMAINS_TOP)
		return NULL;
	while (size < o->max_series * 2)
		size <<= 1;
	/* From the kernel, zeroed and untouched (util/zpages.h): the delay
	 * histograms, the slots and the index cost a page fault only where
	 * something is counted. Not struct agg itself: it holds pointers,
	 * which LeakSanitizer finds only in memory from malloc. */
	if ((a = calloc(1, sizeof *a)) == NULL)
		return NULL;
	a->opts = *o;
	a->memory = sizeof *a + sizeof *a->dl + o->max_series * sizeof *a->slots +
	    size * sizeof *a->index;
	if ((a->dl = zpages_alloc(sizeof *a->dl)) == NULL ||
	    (a->slots = zpages_alloc(o->max_series * sizeof *a->slots)) == NULL ||
	    (a->index = zpages_alloc(size * sizeof *a->index)) == NULL)
		goto fail;
	a->index_size = size;  /* also what agg_free unmaps */
	a->mask = (size < AGG_INDEX_START ? size : AGG_INDEX_START) - 1;
	/* Four sketch counters per label: space-saving then finds every
	 * domain above a quarter of the label threshold's share. */
	for (int d = 0; d < MP_DIR_COUNT; d++) {
		unsigned top = d == MP_DIR_INBOUND && !o->domains_inbound ? 0 : o->domains_top;
		if ((a->domains[d] = topk_new(top, top * 4 < 16 ? 16 : top * 4)) == NULL)
			goto fail;
		a->memory += topk_memory(a->domains[d]);
	}
	if ((a->hosts = topk_new(o->host_label ? AGG_MAX_HOSTS : 0, 0)) == NULL)
		goto fail;
	a->memory += topk_memory(a->hosts);
	if ((a->ops = opstore_new(o->tls_cipher)) == NULL)
		goto fail;
	a->memory += opstore_memory(a->ops);
	for (int m = 0; m < MP_MTA_MAX; m++)
		atomic_init(&a->last_ts_us[m], -1);
	mp_epoch_cache_init(&a->ts, time, 0);
	a->start = now_real();
	return a;
fail:
	agg_free(a);
	return NULL;
}

struct agg *
agg_new(size_t max_series)
{
	struct agg_opts o;

	agg_opts_defaults(&o);
	o.max_series = max_series;
	return agg_new_opts(&o);
}

void
agg_free(struct agg *a)
{
	if (a == NULL)
		return;
	for (int d = 0; d < MP_DIR_COUNT; d++)
		topk_free(a->domains[d]);
	topk_free(a->hosts);
	opstore_free(a->ops);
	zpages_free(a->dl, sizeof *a->dl);
	zpages_free(a->slots, a->opts.max_series * sizeof *a->slots);
	zpages_free(a->index, a->index_size * sizeof *a->index);
	free(a);
}

const struct agg_opts *
agg_options(const struct agg *a)
{
	return &a->opts;
}

static void
inc(_Atomic uint64_t *c)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1,
	    memory_order_relaxed);
}

/*
 * Double the part of the index in use and put every series back into it.
 * The keys are read from the slots, so nothing is allocated: the part in
 * use is cleared and the doubled part's new half was never used.
 */
static void
grow_index(struct agg *a)
{
	memset(a->index, 0, (a->mask + 1) * sizeof *a->index);
	a->mask = a->mask * 2 + 1;
	for (size_t i = 0; i < a->used; i++) {
		uint64_t key = atomic_load_explicit(&a->slots[i].key, memory_order_relaxed);
		struct agg_ix *x = lookup(a, key);

		x->key = key;
		x->slot = (uint32_t)i;
	}
}

struct agg_slot *
agg_append(struct agg *a, uint64_t key, uint64_t value, int64_t created)
{
	struct agg_slot *s;
	struct agg_ix *x;

	if (a->used >= a->opts.max_series)
		return NULL;
	/* At most half full, as the whole index is at the cap. */
	if ((a->used + 1) * 2 > a->mask + 1 && a->mask + 1 < a->index_size)
		grow_index(a);
	if ((x = lookup(a, key))->key == key)
		return NULL;
	s = &a->slots[a->used];
	x->key = key;
	x->slot = (uint32_t)a->used;
	atomic_store_explicit(&s->key, key, memory_order_relaxed);
	atomic_store_explicit(&s->value, value, memory_order_relaxed);
	atomic_store_explicit(&s->created, created, memory_order_relaxed);
	a->used++;
	/* Release: a reader that sees the count sees the slot whole. */
	atomic_store_explicit(&a->used_published, a->used, memory_order_release);
	return s;
}

/* A new series of one event; the caller checked the cap. */
static void
claim(struct agg *a, uint64_t key)
{
	agg_append(a, key, 1, (int64_t)time(NULL));
}

/*
 * Count one event in the series k: +1 if it exists; else create it if it
 * and `extra` more series fit under the cap; else return -1 and let the
 * caller count it in its overflow series (dropped rises there).
 */
static int
count_key(struct agg *a, const struct agg_key *k, size_t extra)
{
	uint64_t key = pack(k) + 1;
	const struct agg_ix *x = lookup(a, key);

	if (x->key == key) {
		inc(&a->slots[x->slot].value);
		return 0;
	}
	if (a->used + a->cipher_series + 1 + extra > a->opts.max_series)
		return -1;
	claim(a, key);
	return 1;
}

/* Is there no series for k yet? */
static int
missing(const struct agg *a, const struct agg_key *k)
{
	uint64_t key = pack(k) + 1;

	return lookup(a, key)->key != key;
}

/*
 * maillog_smtp_status_total plus the code meanings: a new status series
 * is created only together with the *_code_info series its code and
 * enhanced code need, so a join on code always finds its description.
 */
static void
record_status(struct agg *a, int mta, const struct mp_event *ev, unsigned code,
    const struct mp_enhanced *enh, unsigned host)
{
	struct agg_key k = {
		.family = AGG_FAM_STATUS, .mta = mta, .direction = ev->direction,
		.cls = ev->cls, .code = (uint16_t)code, .enhanced = *enh, .host = (uint16_t)host,
	};
	struct agg_key ci = { .family = AGG_FAM_CODE_INFO, .code = (uint16_t)code };
	struct agg_key ei = { .family = AGG_FAM_ENHANCED_INFO, .enhanced = *enh };
	int new_ci, new_ei;
	uint64_t key = pack(&k) + 1;
	const struct agg_ix *x = lookup(a, key);

	if (x->key == key) {
		inc(&a->slots[x->slot].value);
		return;
	}
	new_ci = code != 0 && missing(a, &ci);
	new_ei = enh->cls != 0 && missing(a, &ei);
	if (a->used + 1 + (size_t)new_ci + (size_t)new_ei > a->opts.max_series) {
		inc(&a->status_over[mta][ev->direction][class_index(ev->cls)]);
		inc(&a->dropped);
		return;
	}
	/* Info first: slots are published in order, so a reader that sees
	 * the status series sees its meaning. */
	if (new_ci)
		claim(a, pack(&ci) + 1);
	if (new_ei)
		claim(a, pack(&ei) + 1);
	claim(a, key);
	a->status_used++;
	atomic_store_explicit(&a->status_published, a->status_used, memory_order_relaxed);
}

static void
record_outcome(struct agg *a, int mta, const struct mp_event *ev, unsigned host)
{
	enum mp_destination dest = (unsigned)ev->destination < MP_DEST_COUNT ?
	    ev->destination : MP_DEST_NONE;
	struct agg_key k = {
		.family = AGG_FAM_OUTCOME, .mta = mta, .outcome = ev->outcome,
		.destination = dest, .host = (uint16_t)host,
	};

	if (ev->outcome <= MP_OUTCOME_NONE || ev->outcome >= MP_OUTCOME_COUNT)
		return;
	/* Without the host label the family is bounded by its enums. */
	if (!a->opts.host_label) {
		inc(&a->outcome_fixed[mta][ev->outcome][dest]);
		return;
	}
	if (count_key(a, &k, 0) < 0) {
		inc(&a->outcome_fixed[mta][ev->outcome][dest]);
		inc(&a->dropped);
	}
}

static void
record_domain(struct agg *a, int mta, const struct mp_event *ev, unsigned host)
{
	char name[TOPK_NAME_MAX + 1];
	size_t len = 0;
	unsigned id = AGG_DOMAIN_OTHER;

	if (ev->direction == MP_DIR_INBOUND && !a->opts.domains_inbound)
		return;
	/* A missing or malformed domain is "other", so the family's sum per
	 * class stays equal to maillog_smtp_status_total's. With no domain
	 * labels (--metrics.domains.top=0, and the report, which ranks
	 * domains from its own exact table) every domain is "other": nothing
	 * to normalise or look up. */
	if (a->opts.domains_top > 0 && ev->domain != NULL && ev->domain_len > 0 &&
	    ev->domain_len < 1024)
		len = topk_normalise(ev->domain, ev->domain_len, name);
	/* A domain literally named "other" would be told from the bucket by
	 * nobody: it is the bucket. */
	if (len > 0 && !(len == 5 && memcmp(name, "other", 5) == 0))
		id = topk_observe(a->domains[ev->direction], name, len);
	struct agg_key k = {
		.family = AGG_FAM_DOMAIN, .mta = mta, .direction = ev->direction,
		.cls = ev->cls, .domain = (uint16_t)id, .host = (uint16_t)host,
	};
	_Atomic uint64_t *fixed = &a->domain_fixed[mta][ev->direction][class_index(ev->cls)];

	if (id == AGG_DOMAIN_OTHER && !a->opts.host_label) {
		inc(fixed);
		return;
	}
	if (count_key(a, &k, 0) < 0) {
		inc(fixed);
		inc(&a->dropped);
	}
}

static void
observe_delay(struct agg_hist *h, double v)
{
	int b = 0;
	uint64_t bits;
	double sum;

	while (b < AGG_DELAY_BUCKETS && v > agg_delay_bounds[b])
		b++;
	inc(&h->buckets[b]);
	bits = atomic_load_explicit(&h->sum_bits, memory_order_relaxed);
	memcpy(&sum, &bits, sizeof sum);
	sum += v;
	memcpy(&bits, &sum, sizeof bits);
	atomic_store_explicit(&h->sum_bits, bits, memory_order_relaxed);
	atomic_store_explicit(&h->count,
	    atomic_load_explicit(&h->count, memory_order_relaxed) + 1, memory_order_release);
}

/* Delays are observed on final outcomes only: a deferral is retried and
 * would count the same message again, and a filter hop is followed by the
 * real delivery of the re-injected message. */
static void
record_delays(struct agg *a, int mta, const struct mp_event *ev)
{
	if ((ev->outcome != MP_OUTCOME_SENT && ev->outcome != MP_OUTCOME_BOUNCED &&
	    ev->outcome != MP_OUTCOME_EXPIRED) || ev->destination == MP_DEST_FILTER)
		return;
	/* NaN and absurd values (beyond a century) are not delays. */
	struct agg_hist *by_dest = a->dl->dest[mta][(unsigned)ev->destination < MP_DEST_COUNT ?
	    ev->destination : MP_DEST_NONE];
	int seen = 0;
	if (ev->delay >= 0 && ev->delay < 3.2e9) {
		observe_delay(&a->dl->total[mta][AGG_STAGE_TOTAL], ev->delay);
		observe_delay(&by_dest[AGG_STAGE_TOTAL], ev->delay);
		seen = 1;
	}
	for (int s = 0; s < MP_STAGE_COUNT; s++)
		if (ev->delay_stage[s] >= 0 && ev->delay_stage[s] < 3.2e9) {
			observe_delay(&a->dl->total[mta][s], ev->delay_stage[s]);
			observe_delay(&by_dest[s], ev->delay_stage[s]);
			seen = 1;
		}
	if (seen)
		mta_bits_set(&a->delay_mtas, mta);
}

/* The header's time in Unix microseconds, or -1. */
static int64_t
line_time_us(struct agg *a, const struct mp_time *t)
{
	int64_t s;

	if (t->mon == 0)
		return -1;
	s = mp_epoch_cached(&a->ts, t);
	if (s < 0)
		return -1;
	return s * 1000000 + (int64_t)t->usec;
}

/* The host label id of the line, or AGG_HOST_NONE. */
static unsigned
host_id(struct agg *a, const struct mp_event *ev)
{
	char name[TOPK_NAME_MAX + 1];
	size_t len;
	unsigned id;

	if (!a->opts.host_label || ev->hdr.host == NULL || ev->hdr.host_len == 0)
		return AGG_HOST_NONE;
	if (ev->hdr.host_len >= 1024 ||
	    (len = topk_normalise(ev->hdr.host, ev->hdr.host_len, name)) == 0 ||
	    (len == 5 && memcmp(name, "other", 5) == 0) ||
	    (id = topk_observe(a->hosts, name, len)) == 0)
		return AGG_HOST_OTHER;
	return id + 1;
}

static int
valid_event(const struct mp_event *ev)
{
	if (ev->mta < 0 || ev->mta >= MP_MTA_MAX || (unsigned)ev->direction >= MP_DIR_COUNT)
		return 0;
	if (ev->kind == MP_EVENT_RECEIVED)
		return 1;
	return ev->kind == MP_EVENT_STATUS && (ev->cls == 2 || ev->cls == 4 || ev->cls == 5);
}

void
agg_record(struct agg *a, const struct mp_event *ev)
{
	struct mp_enhanced enh = ev->enhanced;
	unsigned code = ev->code, host;
	int mta = ev->mta;
	int64_t ts;

	if (!valid_event(ev))
		return;
	inc(&a->matched[mta]);
	if ((ts = line_time_us(a, &ev->hdr.time)) >= 0)
		atomic_store_explicit(&a->last_ts_us[mta], ts, memory_order_relaxed);
	if (ev->kind == MP_EVENT_RECEIVED) {
		/* A filter handing a message back was counted when it came in. */
		if (ev->destination != MP_DEST_FILTER)
			inc(&a->received[mta]);
		bump(a);
		return;
	}

	/* The parser contract already guarantees well-formed codes; this is the
	 * last line of defence for the label set, so re-check rather than trust. */
	if (code != 0 && (code < 200 || code > 599))
		code = 0;
	if (!((enh.cls == 2 || enh.cls == 4 || enh.cls == 5) &&
	    enh.subject <= 999 && enh.detail <= 999))
		enh = (struct mp_enhanced){ 0, 0, 0 };

	inc(&a->events[mta]);
	host = host_id(a, ev);
	record_status(a, mta, ev, code, &enh, host);
	record_outcome(a, mta, ev, host);
	record_domain(a, mta, ev, host);
	record_delays(a, mta, ev);
	bump(a);
}

/* opstore's admit(): a new cipher series takes a place under the cap,
 * or its session counts as cipher="other" and as a dropped series. */
static int
admit_cipher(void *ctx)
{
	struct agg *a = ctx;

	if (a->used + a->cipher_series + 1 > a->opts.max_series) {
		inc(&a->dropped);
		return 0;
	}
	a->cipher_series++;
	atomic_store_explicit(&a->cipher_published, a->cipher_series, memory_order_relaxed);
	return 1;
}

void
agg_record_ops(struct agg *a, const struct mp_event *ev)
{
	if (ev->nops > 0 && opstore_record(a->ops, ev, admit_cipher, a) > 0)
		bump(a);
}

const struct opstore *
agg_ops(const struct agg *a)
{
	return a->ops;
}

void
agg_record_reason(struct agg *a, const struct mp_event *ev, int reason)
{
	if (!valid_event(ev) || ev->kind != MP_EVENT_STATUS || ev->cls == 2)
		return;
	if (reason < 0 || reason >= AGG_REASONS)
		reason = AGG_REASONS - 1;
	inc(&a->reasons[ev->mta][ev->direction][ev->cls == 5][reason]);
	bump(a);
}

uint64_t
agg_reason_count(const struct agg *a, int mta, enum mp_direction dir, unsigned cls,
    int reason)
{
	if (mta < 0 || mta >= MP_MTA_MAX || (unsigned)dir >= MP_DIR_COUNT ||
	    (cls != 4 && cls != 5) || reason < 0 || reason >= AGG_REASONS)
		return 0;
	return atomic_load_explicit(&a->reasons[mta][dir][cls == 5][reason],
	    memory_order_relaxed);
}

void
agg_unmatched(struct agg *a, int mta)
{
	if (mta < MP_MTA_NONE || mta >= MP_MTA_MAX)
		mta = MP_MTA_NONE;
	inc(&a->unmatched[mta + 1]);
	bump(a);
}

/* The fixed series of a family, as keys: overflow series carry "other"
 * in their unbounded labels (and host="other" when there is a host label). */
static size_t
snapshot_fixed(const struct agg *a, enum agg_family fam, struct agg_series *out,
    size_t n, size_t max)
{
	static const uint8_t classes[N_CLASSES] = { 2, 4, 5 };
	uint16_t host = a->opts.host_label ? AGG_HOST_OTHER : AGG_HOST_NONE;

	for (int m = 0; m < MP_MTA_MAX; m++) {
		if (fam == AGG_FAM_OUTCOME) {
			for (int o = 0; o < MP_OUTCOME_COUNT; o++)
				for (int d = 0; d < MP_DEST_COUNT && n < max; d++) {
					uint64_t v = atomic_load_explicit(&a->outcome_fixed[m][o][d],
					    memory_order_relaxed);
					if (v == 0)
						continue;
					out[n].key = (struct agg_key){ .family = fam, .mta = m,
					    .outcome = (enum mp_outcome)o,
					    .destination = (enum mp_destination)d, .host = host };
					out[n].value = v;
					out[n++].created = a->start;
				}
			continue;
		}
		if (fam != AGG_FAM_STATUS && fam != AGG_FAM_DOMAIN)
			return n;
		for (int d = 0; d < MP_DIR_COUNT; d++)
			for (int c = 0; c < N_CLASSES && n < max; c++) {
				uint64_t v = atomic_load_explicit(fam == AGG_FAM_STATUS ?
				    &a->status_over[m][d][c] : &a->domain_fixed[m][d][c],
				    memory_order_relaxed);
				if (v == 0)
					continue;
				out[n].key = (struct agg_key){ .family = fam, .mta = m,
				    .direction = (enum mp_direction)d, .cls = classes[c],
				    .host = host };
				if (fam == AGG_FAM_STATUS)
					out[n].key.code = AGG_CODE_OVERFLOW;
				else
					out[n].key.domain = AGG_DOMAIN_OTHER;
				out[n].value = v;
				out[n++].created = a->start;
			}
	}
	return n;
}

size_t
agg_snapshot_family(const struct agg *a, enum agg_family fam, struct agg_series *out,
    size_t max)
{
	size_t n = 0, used = agg_slots_published(a);

	for (size_t i = 0; i < used && n < max; i++) {
		uint64_t k = atomic_load_explicit(&a->slots[i].key, memory_order_relaxed);
		if ((enum agg_family)((k - 1) & 7) != fam)
			continue;
		unpack(k - 1, &out[n].key);
		out[n].value = atomic_load_explicit(&a->slots[i].value, memory_order_relaxed);
		out[n].created = (double)atomic_load_explicit(&a->slots[i].created,
		    memory_order_relaxed);
		n++;
	}
	return snapshot_fixed(a, fam, out, n, max);
}

size_t
agg_snapshot(const struct agg *a, struct agg_series *out, size_t max)
{
	return agg_snapshot_family(a, AGG_FAM_STATUS, out, max);
}

size_t
agg_capacity(const struct agg *a)
{
	return a->opts.max_series + MP_MTA_MAX * MP_OUTCOME_COUNT * MP_DEST_COUNT;
}

size_t
agg_series_count(const struct agg *a)
{
	return atomic_load_explicit(&a->status_published, memory_order_relaxed);
}

size_t
agg_total_series(const struct agg *a)
{
	return atomic_load_explicit(&a->used_published, memory_order_relaxed) +
	    atomic_load_explicit(&a->cipher_published, memory_order_relaxed);
}

const char *
agg_domain_name(const struct agg *a, enum mp_direction dir, unsigned id)
{
	if (id == AGG_DOMAIN_OTHER || (unsigned)dir >= MP_DIR_COUNT ||
	    id > topk_count(a->domains[dir]))
		return "other";
	return topk_name(a->domains[dir], id);
}

const char *
agg_host_name(const struct agg *a, unsigned id)
{
	if (id == AGG_HOST_NONE)
		return "";
	if (id == AGG_HOST_OTHER || id - 1 > topk_count(a->hosts))
		return "other";
	return topk_name(a->hosts, id - 1);
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
agg_matched_count(const struct agg *a, int mta)
{
	if (mta < 0 || mta >= MP_MTA_MAX)
		return 0;
	return atomic_load_explicit(&a->matched[mta], memory_order_relaxed);
}

uint64_t
agg_received_count(const struct agg *a, int mta)
{
	if (mta < 0 || mta >= MP_MTA_MAX)
		return 0;
	return atomic_load_explicit(&a->received[mta], memory_order_relaxed);
}

uint64_t
agg_dropped_series(const struct agg *a)
{
	return atomic_load_explicit(&a->dropped, memory_order_relaxed);
}

double
agg_last_timestamp(const struct agg *a, int mta)
{
	int64_t us;

	if (mta < 0 || mta >= MP_MTA_MAX)
		return -1;
	us = atomic_load_explicit(&a->last_ts_us[mta], memory_order_relaxed);
	return us < 0 ? -1 : (double)us / 1e6;
}

static int
read_hist(const struct agg_hist *h, struct agg_histogram *out)
{
	uint64_t bits;

	if (atomic_load_explicit(&h->count, memory_order_acquire) == 0)
		return -1;
	for (int b = 0; b <= AGG_DELAY_BUCKETS; b++)
		out->buckets[b] = atomic_load_explicit(&h->buckets[b], memory_order_relaxed);
	bits = atomic_load_explicit(&h->sum_bits, memory_order_relaxed);
	memcpy(&out->sum, &bits, sizeof out->sum);
	return 0;
}

int
agg_delay_histogram(const struct agg *a, int mta, int stage, struct agg_histogram *out)
{
	if (mta < 0 || mta >= MP_MTA_MAX || stage < 0 || stage >= AGG_STAGES ||
	    !mta_bits_has(&a->delay_mtas, mta))
		return -1;
	return read_hist(&a->dl->total[mta][stage], out);
}

int
agg_delay_histogram_dest(const struct agg *a, int mta, enum mp_destination dest, int stage,
    struct agg_histogram *out)
{
	if (mta < 0 || mta >= MP_MTA_MAX || stage < 0 || stage >= AGG_STAGES ||
	    (unsigned)dest >= MP_DEST_COUNT || !mta_bits_has(&a->delay_mtas, mta))
		return -1;
	return read_hist(&a->dl->dest[mta][dest][stage], out);
}

double
agg_start_time(const struct agg *a)
{
	return a->start;
}

size_t
agg_memory(const struct agg *a)
{
	return a->memory;
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
