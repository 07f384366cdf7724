/*
 * summary.c - fold the aggregator's series for people (see summary.h).
 *
 * The status series carry mta, host and class besides the codes; a
 * person asks "how many 550s", so rows are summed over those. The fold is
 * a sort of a snapshot followed by one pass that merges equal keys: it
 * runs once per page view or report, never per line.
 */
#include "web/summary.h"

#include <stdlib.h>
#include <string.h>

#include "store/opstore.h"

static int
enh_cmp(const struct mp_enhanced *a, const struct mp_enhanced *b)
{
	if (a->cls != b->cls)
		return a->cls < b->cls ? -1 : 1;
	if (a->subject != b->subject)
		return a->subject < b->subject ? -1 : 1;
	return (a->detail > b->detail) - (a->detail < b->detail);
}

/* Key order: direction, class (domains), overflow, code, enhanced, domain. */
static int
key_cmp(const struct sum_row *a, const struct sum_row *b)
{
	int c;

	if (a->dir != b->dir)
		return a->dir < b->dir ? -1 : 1;
	if (a->cls != b->cls)
		return a->cls < b->cls ? -1 : 1;
	if (a->overflow != b->overflow)
		return a->overflow < b->overflow ? -1 : 1;
	if (a->code != b->code)
		return a->code < b->code ? -1 : 1;
	if ((c = enh_cmp(&a->enhanced, &b->enhanced)) != 0)
		return c;
	if (a->domain == NULL || b->domain == NULL)
		return (a->domain != NULL) - (b->domain != NULL);
	return strcmp(a->domain, b->domain);
}

static int
key_qsort(const void *x, const void *y)
{
	return key_cmp(x, y);
}

/* Ranked order: direction (and class for domains), then count desc, then key. */
static int
rank_qsort(const void *x, const void *y)
{
	const struct sum_row *a = x, *b = y;

	if (a->dir != b->dir)
		return a->dir < b->dir ? -1 : 1;
	if (a->cls != b->cls)
		return a->cls < b->cls ? -1 : 1;
	if (a->count != b->count)
		return a->count > b->count ? -1 : 1;
	return key_cmp(a, b);
}

/* Sort rows by key, merge equal keys, then rank. Returns the new count. */
static size_t
fold(struct sum_row *r, size_t n)
{
	size_t out = 0;

	if (n == 0)
		return 0;
	qsort(r, n, sizeof *r, key_qsort);
	for (size_t i = 1; i < n; i++) {
		if (key_cmp(&r[out], &r[i]) == 0)
			r[out].count += r[i].count;
		else
			r[++out] = r[i];
	}
	out++;
	qsort(r, out, sizeof *r, rank_qsort);
	return out;
}

/* An operational counter family summed over every MTA id, and over every
 * label combination or (combo >= 0) just that one. */
static uint64_t
op_total(const struct agg *a, unsigned fam, int combo)
{
	const struct mp_op_family_desc *d = mp_op_family(fam);
	uint64_t n = 0;

	for (int mta = 0; mta < MP_MTA_MAX; mta++)
		for (unsigned c = 0; c < mp_op_combinations(d); c++)
			if (combo < 0 || c == (unsigned)combo)
				n += opstore_counter(agg_ops(a), mta, fam, c);
	return n;
}

/* The combination of family fam whose only label is value v. */
static int
op_combo1(unsigned fam, unsigned v)
{
	uint8_t label[MP_OP_LABELS] = { (uint8_t)v, 0, 0 };

	return (int)opstore_combo(fam, label);
}

static void
sessions(struct sum_sessions *ss, const struct agg *a)
{
	const struct mp_op_family_desc *tls = mp_op_family(MP_OPF_TLS);
	unsigned per_dir = mp_op_combinations(tls) / MP_DIR_COUNT;

	ss->connects = op_total(a, MP_OPF_SMTPD_CONNECTS, -1);
	ss->disconnects = op_total(a, MP_OPF_SMTPD_DISCONNECTS, -1);
	ss->no_quit = ss->disconnects - op_total(a, MP_OPF_SMTPD_DISCONNECTS,
	    op_combo1(MP_OPF_SMTPD_DISCONNECTS, MP_DISC_QUIT));
	ss->lost = op_total(a, MP_OPF_SMTPD_LOST, -1);
	ss->timeouts = op_total(a, MP_OPF_SMTPD_TIMEOUTS, -1);
	ss->auth_failures = op_total(a, MP_OPF_SMTPD_AUTH_FAILURES, -1);
	/* The TLS family's first label is the direction. */
	for (int mta = 0; mta < MP_MTA_MAX; mta++)
		for (unsigned c = 0; c < mp_op_combinations(tls); c++)
			ss->tls[c / per_dir == MP_DIR_INBOUND ? MP_DIR_INBOUND : MP_DIR_OUTBOUND] +=
			    opstore_counter(agg_ops(a), mta, MP_OPF_TLS, c);
	ss->tls_failures = op_total(a, MP_OPF_TLS_FAILURES, -1);
	ss->panics = op_total(a, MP_OPF_PANICS, -1);
	ss->fatals = op_total(a, MP_OPF_FATALS, -1);
	ss->ps_connects = op_total(a, MP_OPF_PS_CONNECTS, -1);
	for (unsigned k = 0; k < MP_PS_PASS_COUNT; k++)
		ss->ps_passes[k] = op_total(a, MP_OPF_PS_PASSES, op_combo1(MP_OPF_PS_PASSES, k));
	ss->ps_test_failures = op_total(a, MP_OPF_PS_FAILURES, -1);
	ss->ps_hangups = op_total(a, MP_OPF_PS_HANGUPS, -1);
}

int
summary_build(struct summary *s, const struct agg *a)
{
	size_t cap = agg_capacity(a), n;
	struct agg_series *ser;

	memset(s, 0, sizeof *s);
	if ((ser = malloc(cap * sizeof *ser)) == NULL ||
	    (s->codes = calloc(cap, sizeof *s->codes)) == NULL ||
	    (s->enhanced = calloc(cap, sizeof *s->enhanced)) == NULL ||
	    (s->domains = calloc(cap, sizeof *s->domains)) == NULL) {
		free(ser);
		return -1;
	}

	n = agg_snapshot_family(a, AGG_FAM_STATUS, ser, cap);
	for (size_t i = 0; i < n; i++) {
		const struct agg_key *k = &ser[i].key;
		int over = k->code == AGG_CODE_OVERFLOW;

		s->cls[k->direction][SUMMARY_CLASS_INDEX(k->cls)] += ser[i].value;
		s->codes[s->ncodes++] = (struct sum_row){ .dir = k->direction,
		    .code = over ? 0 : k->code, .overflow = over, .count = ser[i].value };
		s->enhanced[s->nenhanced++] = (struct sum_row){ .dir = k->direction,
		    .enhanced = over ? (struct mp_enhanced){ 0, 0, 0 } : k->enhanced,
		    .overflow = over, .count = ser[i].value };
	}
	s->ncodes = fold(s->codes, s->ncodes);
	s->nenhanced = fold(s->enhanced, s->nenhanced);
	for (int d = 0; d < MP_DIR_COUNT; d++) {
		for (int c = 0; c < 3; c++)
			s->dir_total[d] += s->cls[d][c];
		s->total += s->dir_total[d];
	}

	n = agg_snapshot_family(a, AGG_FAM_OUTCOME, ser, cap);
	for (size_t i = 0; i < n; i++)
		if ((unsigned)ser[i].key.outcome < MP_OUTCOME_COUNT)
			s->outcomes[ser[i].key.outcome] += ser[i].value;

	n = agg_snapshot_family(a, AGG_FAM_DOMAIN, ser, cap);
	for (size_t i = 0; i < n; i++) {
		const struct agg_key *k = &ser[i].key;
		if (k->direction != MP_DIR_OUTBOUND || (k->cls != 4 && k->cls != 5))
			continue;
		s->domains[s->ndomains++] = (struct sum_row){ .dir = k->direction,
		    .cls = k->cls, .domain = agg_domain_name(a, k->direction, k->domain),
		    .count = ser[i].value };
	}
	s->ndomains = fold(s->domains, s->ndomains);

	for (int m = 0; m < MP_MTA_MAX; m++) {
		s->received += agg_received_count(a, m);
		for (int d = 0; d < MP_DIR_COUNT; d++)
			for (int r = 0; r < REASON_COUNT; r++) {
				uint64_t n4 = agg_reason_count(a, m, (enum mp_direction)d, 4, r);
				uint64_t n5 = agg_reason_count(a, m, (enum mp_direction)d, 5, r);
				uint64_t n = n4 + n5;
				s->reason_cls[d][0][r] += n4;
				s->reason_cls[d][1][r] += n5;
				s->reasons[d][r] += n;
				s->reason_total[d] += n;
			}
	}
	sessions(&s->sess, a);
	free(ser);
	return 0;
}

size_t
summary_reason_rank(const struct summary *s, enum mp_direction dir,
    enum reason order[REASON_COUNT])
{
	size_t n = 0;

	/* Insertion sort of at most 18: stable, so ties keep the set's order.
	 * not_attempted goes last whatever its count: it repeats failures
	 * already listed, once per queue run, so it must not top the table. */
	for (int r = 0; r < REASON_COUNT; r++) {
		size_t i = n;
		if (s->reasons[dir][r] == 0 || r == REASON_NOT_ATTEMPTED)
			continue;
		while (i > 0 && s->reasons[dir][order[i - 1]] < s->reasons[dir][r]) {
			order[i] = order[i - 1];
			i--;
		}
		order[i] = (enum reason)r;
		n++;
	}
	if (s->reasons[dir][REASON_NOT_ATTEMPTED] != 0)
		order[n++] = REASON_NOT_ATTEMPTED;
	return n;
}

/* Kept in step with README.md's table under maillog_smtp_reason_total,
 * shortened to what a person on the page needs to act. */
static const char *const reason_meanings[REASON_COUNT] = {
	[REASON_UNKNOWN_RECIPIENT] = "the mailbox does not exist or is disabled",
	[REASON_MAILBOX_FULL] = "the recipient is over quota",
	[REASON_MESSAGE_TOO_BIG] = "the message exceeds a size limit",
	[REASON_GREYLISTED] = "greylisting: clears by itself when the sender retries",
	[REASON_RATE_LIMITED] = "too much, too fast: the receiver throttles the sender",
	[REASON_BLOCKLISTED] = "the sending IP or domain is on a blocklist or has a bad reputation",
	[REASON_SPAM_CONTENT] = "the message looked like spam or carried a virus",
	[REASON_AUTHENTICATION_FAILED] = "SPF, DKIM, DMARC or ARC failed, or SMTP AUTH was refused",
	[REASON_REVERSE_DNS] = "the sending IP has no PTR record, or one that does not match",
	[REASON_RELAY_DENIED] = "the server will not relay this mail",
	[REASON_SENDER_REJECTED] = "the envelope sender was refused",
	[REASON_TLS_REQUIRED] = "TLS was required and not used, or failed",
	[REASON_DNS_FAILURE] = "a DNS lookup failed or the domain does not exist",
	[REASON_CONNECTION_FAILED] = "connection refused, timed out or lost",
	[REASON_LOCAL_ERROR] = "the receiving system's own trouble (storage, configuration)",
	[REASON_POLICY] = "another explicit policy refusal",
	/* Parenthesised: one element made of two literals, on purpose
	 * (clang's -Wstring-concatenation). */
	[REASON_NOT_ATTEMPTED] = ("not tried: the destination is in its retry wait after an "
	    "earlier failure, already counted"),
	[REASON_OTHER] = "no rule recognised the reply",
};

const char *
summary_reason_meaning(enum reason r)
{
	if ((unsigned)r >= REASON_COUNT)
		return reason_meanings[REASON_OTHER];
	return reason_meanings[r];
}

int
summary_reason_harmless(enum reason r)
{
	return r == REASON_GREYLISTED;
}

int
summary_reason_not_attempted(enum reason r)
{
	return r == REASON_NOT_ATTEMPTED;
}

const char *
summary_outcome_name(enum mp_outcome o)
{
	switch (o) {
	case MP_OUTCOME_SENT: return "delivered";
	case MP_OUTCOME_DEFERRED: return "deferred";
	case MP_OUTCOME_BOUNCED: return "bounced";
	case MP_OUTCOME_EXPIRED: return "expired";
	case MP_OUTCOME_REJECTED: return "rejected";
	case MP_OUTCOME_TEMP_REJECTED: return "temp_rejected";
	default: return "none";
	}
}

void
summary_fini(struct summary *s)
{
	free(s->codes);
	free(s->enhanced);
	free(s->domains);
	s->codes = s->enhanced = s->domains = NULL;
	s->ncodes = s->nenhanced = s->ndomains = 0;
}
