/*
 * opstore.h - the counters of the operational families (parsers/ops.h).
 *
 * One flat array of 64-bit atomics, laid out from the family table: per
 * MTA, per family, per label combination, one counter, or a histogram's
 * buckets (+Inf last), sum (a double's bits) and count. Sized once by
 * opstore_new; recording takes no lock and allocates nothing. One writer
 * (the tailer thread), any number of readers, as in aggregate.h.
 *
 * The opt-in cipher family (--metrics.tls-cipher) keeps cipher names first
 * come, first served, at most OPSTORE_CIPHERS of them; later ones count
 * as cipher="other".
 */
#ifndef OPSTORE_H
#define OPSTORE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "parsers/mp.h"

#define OPSTORE_CIPHERS 64
/* Longest cipher name kept (OpenSSL's are under 50). */
#define OPSTORE_CIPHER_MAX 64

struct opstore;

/* ciphers: 0 leaves the cipher family off. NULL on allocation failure. */
struct opstore *opstore_new(int ciphers);
void opstore_free(struct opstore *s);

/* Count every op of ev (and its cipher, if on). ev->mta must be a valid
 * id; ops the table does not accept are skipped. A cipher series that
 * would start now (its counter is 0) is first offered to admit(ctx): it
 * returns 0 when the series cap is reached, and the session then counts as
 * cipher="other". Returns how many ops were counted. Writer only. */
unsigned opstore_record(struct opstore *s, const struct mp_event *ev,
    int (*admit)(void *ctx), void *ctx);

/* Cipher series in use (a named cipher with a nonzero count), for the
 * series cap after a state file was loaded. */
size_t opstore_cipher_series(const struct opstore *s);

/* The index of a label combination within family fam (label values as in
 * struct mp_op), for the readers below. */
unsigned opstore_combo(unsigned fam, const uint8_t label[MP_OP_LABELS]);

/* One counter of a counter family. Any thread. */
uint64_t opstore_counter(const struct opstore *s, int mta, unsigned fam, unsigned combo);

/* One histogram: buckets (not cumulative; nbounds + 1 of them, +Inf last)
 * into buckets[], the sum into *sum; returns the count. Any thread. */
uint64_t opstore_histogram(const struct opstore *s, int mta, unsigned fam, unsigned combo,
    uint64_t *buckets, double *sum);

/* The cipher family: cipher labels handed out so far (ids 1..n; id 0 is
 * "other"), a name, and a counter. Any thread. */
int opstore_ciphers_on(const struct opstore *s);
unsigned opstore_cipher_count(const struct opstore *s);
const char *opstore_cipher_name(const struct opstore *s, unsigned id);
uint64_t opstore_cipher_counter(const struct opstore *s, int mta, enum mp_direction dir,
    unsigned id);

/* The whole store as flat arrays, for the state file and the published
 * copy (aggregate_state.c): counters (every family and the cipher counters). */
_Atomic uint64_t *opstore_flat(struct opstore *s, size_t *n);

/* After the counters were written through opstore_flat (a load, a
 * publish): note again which MTA ids have any, since the readers skip
 * the others. */
void opstore_sync(struct opstore *s);

/* Cipher labels, for the state file: restore appends name as the next id
 * (returns it, or 0 if it cannot be one). */
unsigned opstore_cipher_restore(struct opstore *s, const char *name, size_t len);

size_t opstore_memory(const struct opstore *s);

#endif
