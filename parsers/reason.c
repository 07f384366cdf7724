/*
 * reason.c - classify a failed SMTP status into one reason of a closed set.
 *
 * Rules are kept as parsed conditions plus one compiled pattern each; a
 * classification walks them in order and stops at the first that holds.
 * The cheap conditions (code, enhanced code) are checked before the
 * pattern, so most rules cost two compares. Patterns run caselessly in
 * non-UTF mode (the log is bytes, not UTF-8) with a match limit, so a
 * careless user pattern slows nothing down for long.
 *
 * A failed status used to run most of the 48 built-in patterns before one
 * matched (a "policy" reply is near the end), which doubled the daemon's
 * CPU time. So each built-in pattern carries a few literals from
 * gen_reasons.py, one of which is in any text it matches. One pass over
 * a lower-cased copy of the reply finds which literals occur, with a hash
 * of each position's first three bytes into a small bucket table, and
 * only the rules whose literals occur run their pattern. The walk and its
 * order are unchanged, so the first rule that holds still wins; the
 * prefilter only skips patterns that cannot match. User rules have no
 * literals and always run theirs.
 */
#include "parsers/reason.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "util/le64.h"

/* Reply texts longer than this are matched on their first bytes only: a
 * reason is stated at the start, and it bounds the cost per status. */
#define REASON_TEXT_MAX 2048
/* Backtracking steps one match may take. */
#define REASON_MATCH_LIMIT 100000
#define ANY 0xffff
/* gen_reasons.py emits no literal shorter than this; the scan hashes this
 * many bytes at each position. */
#define LIT_MIN 3
#define LIT_BUCKETS 1024
#define LIT_NONE UINT32_MAX

static const char *const names[REASON_COUNT] = {
	[REASON_UNKNOWN_RECIPIENT] = "unknown_recipient",
	[REASON_MAILBOX_FULL] = "mailbox_full",
	[REASON_MESSAGE_TOO_BIG] = "message_too_big",
	[REASON_GREYLISTED] = "greylisted",
	[REASON_RATE_LIMITED] = "rate_limited",
	[REASON_BLOCKLISTED] = "blocklisted",
	[REASON_SPAM_CONTENT] = "spam_content",
	[REASON_AUTHENTICATION_FAILED] = "authentication_failed",
	[REASON_REVERSE_DNS] = "reverse_dns",
	[REASON_RELAY_DENIED] = "relay_denied",
	[REASON_SENDER_REJECTED] = "sender_rejected",
	[REASON_TLS_REQUIRED] = "tls_required",
	[REASON_DNS_FAILURE] = "dns_failure",
	[REASON_CONNECTION_FAILED] = "connection_failed",
	[REASON_LOCAL_ERROR] = "local_error",
	[REASON_POLICY] = "policy",
	[REASON_NOT_ATTEMPTED] = "not_attempted",
	[REASON_OTHER] = "other",
};

/* An inclusive range; lo = ANY means "any value". */
struct range {
	uint16_t lo, hi;
};

struct rule {
	enum reason reason;
	int has_code, has_enh;
	uint16_t code_digit[3];        /* 0..9 or ANY */
	struct range enh[3];           /* class, subject, detail */
	int has_pattern;
	const char *builtin;           /* a built-in's pattern (static), compiled at its first run */
	pcre2_code *re;                /* NULL: not compiled (yet) */
	int jit_pending;               /* re not JIT-compiled yet (rule_holds does it) */
	int filtered;                  /* re runs only if one of its literals occurs */
};

/* What finding a literal marks for its rule. */
#define LIT_MAYBE 1                /* from reason_builtin.literals: rs->maybe */
#define LIT_SURE 2                 /* from reason_builtin.sure: rs->sure */

/*
 * One prefilter literal while the index is built, chained in the bucket of
 * its first LIT_MIN bytes. A text in both lists of a rule is one entry with
 * both flags (most sure literals are also literals: two entries made the
 * scan's work twice as long).
 */
struct lit {
	const char *s;                 /* lower-case, static (the built-in table) */
	size_t len;
	uint64_t head;                 /* its first min(len, 8) bytes, as le64_get() reads them */
	uint64_t head_mask;            /* the bits of head that belong to it */
	uint32_t key;                  /* its first LIT_MIN bytes, as key() reads them */
	uint32_t rule;                 /* index into reason_set.rules */
	unsigned flags;                /* LIT_MAYBE, LIT_SURE */
	unsigned bounds;               /* REASON_WB_* */
	uint32_t next;                 /* next in the bucket, or LIT_NONE */
};

/* A literal as scan() reads it: the literals of one key are contiguous in
 * reason_set.glits, so a key's group is one run of adjacent entries. */
struct glit {
	uint64_t head;                 /* as struct lit */
	uint64_t head_mask;
	const char *s;
	uint32_t rule;
	uint32_t len;
	uint16_t flags;
	uint16_t bounds;
};

/* A key's group in reason_set.keys, an open-addressed table; count 0: empty. */
struct key_slot {
	uint32_t key;
	uint32_t first;                /* index of its first literal in glits */
	uint32_t count;
};

#define KEY_SLOTS 2048             /* a power of two, at least twice the keys */

struct reason_set {
	struct rule *rules;
	size_t nrules, nuser;
	pcre2_match_data *md;
	pcre2_match_context *mctx;
	struct glit *glits;
	struct key_slot keys[KEY_SLOTS];
	/* Bit tri_bit(key) is set for every literal's key: see scan(). 8 KiB,
	 * filled once by index_literals. */
	uint64_t tri[65536 / 64];
	unsigned char *maybe;          /* per rule: one of its literals occurs in the reply */
	unsigned char *sure;           /* per rule: one of its sure literals occurs */
};

/* A reply being classified. The lower-cased copy and the scan are made
 * only when a filtered rule's code and enhanced conditions hold, so a
 * status decided by a code-only rule never pays for them. */
struct reply {
	const char *text;
	size_t len;
	int scanned;                   /* lower and rs->maybe are filled in */
	/* + 8: scan() reads 8 bytes at every place a literal may start, and
	 * zeroes the 8 after the text so those reads are defined. */
	unsigned char lower[REASON_TEXT_MAX + 8];
};

const char *
reason_name(enum reason r)
{
	return (unsigned)r < REASON_COUNT ? names[r] : "other";
}

int
reason_from_name(const char *name)
{
	for (int i = 0; i < REASON_COUNT; i++)
		if (strcmp(names[i], name) == 0)
			return i;
	return -1;
}

/* "550", "5xx", "45x": three characters, each a digit or x. The first
 * must be 4, 5 or x: only failures are classified. */
static int
parse_code(const char *s, struct rule *r)
{
	if (strlen(s) != 3 || !(s[0] == '4' || s[0] == '5' || s[0] == 'x' || s[0] == 'X'))
		return -1;
	for (int i = 0; i < 3; i++) {
		if (s[i] == 'x' || s[i] == 'X')
			r->code_digit[i] = ANY;
		else if (s[i] >= '0' && s[i] <= '9')
			r->code_digit[i] = (uint16_t)(s[i] - '0');
		else
			return -1;
	}
	r->has_code = 1;
	return 0;
}

/* One part of an enhanced condition: "x", "7", "20-24" (0..999). */
static int
parse_part(const char *s, size_t n, struct range *out)
{
	unsigned v[2] = { 0, 0 };
	int k = 0, digits = 0;

	if (n == 1 && (s[0] == 'x' || s[0] == 'X')) {
		out->lo = out->hi = ANY;
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		if (s[i] >= '0' && s[i] <= '9') {
			if (++digits > 3)
				return -1;
			v[k] = v[k] * 10 + (unsigned)(s[i] - '0');
		} else if (s[i] == '-' && k == 0 && digits > 0) {
			k = 1;
			digits = 0;
		} else {
			return -1;
		}
	}
	if (digits == 0)
		return -1;
	if (k == 0)
		v[1] = v[0];
	if (v[1] < v[0])
		return -1;
	out->lo = (uint16_t)v[0];
	out->hi = (uint16_t)v[1];
	return 0;
}

/* "x.7.26", "5.7.20-24", "4.x.x": class 4, 5 or x, then two parts. */
static int
parse_enhanced(const char *s, struct rule *r)
{
	const char *p = s;

	for (int i = 0; i < 3; i++) {
		const char *dot = strchr(p, '.');
		size_t n = dot != NULL && i < 2 ? (size_t)(dot - p) : strlen(p);

		if ((i < 2 && dot == NULL) || n == 0 || parse_part(p, n, &r->enh[i]) < 0)
			return -1;
		p += n + (i < 2);
	}
	if (r->enh[0].lo != ANY && !(r->enh[0].lo == r->enh[0].hi &&
	    (r->enh[0].lo == 4 || r->enh[0].lo == 5)))
		return -1;
	r->has_enh = 1;
	return 0;
}

static uint32_t
key(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16;
}

/*
 * key(p) for scan(), which asks it at every place of a reply: one 4-byte
 * load, the fourth byte masked off. scan() reads reply.lower, whose 8
 * bytes past the text are zeroed, so the load at the last place (p[3] is
 * lower[n]) stays inside it. key()'s three byte loads, shifts and ors
 * were most of the filter's cost: this made a Postfix reply's whole
 * classification 259 -> 211 ns (Exim 196 -> 160, Sendmail 133 -> 119;
 * docs/hacking.md, round 14).
 */
static inline uint32_t
key_at(const unsigned char *p)
{
#if defined(__BYTE_ORDER__) && defined(__ORDER_LITTLE_ENDIAN__) && \
    defined(__ORDER_BIG_ENDIAN__)
	uint32_t v;

	memcpy(&v, p, 4);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	v = __builtin_bswap32(v);
#endif
	return v & 0xffffffu;
#else
	return key(p);
#endif
}


static uint32_t
bucket(uint32_t key)
{
	return (key * 2654435761u) >> 22;  /* Fibonacci hashing: the top 10 bits */
}

/* The filter bit of a key: the top 16 bits of the same product. */
static uint32_t
tri_bit(uint32_t key)
{
	return (key * 2654435761u) >> 16;
}

/* The home slot of a key in reason_set.keys: the top 11 bits of the same
 * product as bucket(). */
static uint32_t
key_slot(uint32_t key)
{
	_Static_assert(KEY_SLOTS == 1u << 11, "key_slot() yields 11 bits");
	return (key * 2654435761u) >> 21;
}

/* A literal's place in the sort: by key, then by index (deterministic). */
struct lit_order {
	uint32_t key;
	uint32_t index;
};

static int
by_key(const void *a, const void *b)
{
	const struct lit_order *x = a, *y = b;

	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	return x->index < y->index ? -1 : x->index > y->index;
}

/*
 * Lay the literals out for scan(): grouped by key in rs->glits, each key's
 * group found through rs->keys. Fails (-1) only on memory or if the keys
 * would fill more than half the table.
 */
static int
group_literals(struct reason_set *rs, const struct lit *lits, size_t n)
{
	struct lit_order *order = malloc(n * sizeof *order);
	size_t nkeys = 0;

	if (order == NULL || (rs->glits = calloc(n, sizeof *rs->glits)) == NULL) {
		free(order);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		order[i].key = lits[i].key;
		order[i].index = (uint32_t)i;
	}
	qsort(order, n, sizeof *order, by_key);
	for (size_t i = 0, slot = 0; i < n; i++) {
		const struct lit *l = &lits[order[i].index];
		struct glit *g = &rs->glits[i];

		g->head = l->head;
		g->head_mask = l->head_mask;
		g->s = l->s;
		g->rule = l->rule;
		g->len = (uint32_t)l->len;
		g->flags = (uint16_t)l->flags;
		g->bounds = (uint16_t)l->bounds;
		if (i == 0 || l->key != order[i - 1].key) {
			/* A new key: its group starts here, in the first free
			 * slot from its home. */
			if (++nkeys > KEY_SLOTS / 2) {
				free(order);
				return -1;
			}
			slot = key_slot(l->key);
			while (rs->keys[slot].count != 0)
				slot = (slot + 1) & (KEY_SLOTS - 1);
			rs->keys[slot].key = l->key;
			rs->keys[slot].first = (uint32_t)i;
		}
		rs->keys[slot].count++;
	}
	free(order);
	return 0;
}

/* Index the built-in rules' literals for scan(). Rule i of the table is
 * rs->rules[rs->nuser + i]. */
static int
index_literals(struct reason_set *rs)
{
	uint32_t head[LIT_BUCKETS];    /* first literal of each bucket, or LIT_NONE */
	struct lit *lits;
	size_t n = 0;
	int rc;

	_Static_assert(LIT_BUCKETS == 1u << 10, "bucket() yields 10 bits");
	for (size_t i = 0; i < LIT_BUCKETS; i++)
		head[i] = LIT_NONE;
	for (size_t i = 0; i < reason_builtins_count; i++) {
		for (const char *const *l = reason_builtins[i].literals; l != NULL && *l != NULL; l++)
			n++;
		for (const char *const *l = reason_builtins[i].sure; l != NULL && *l != NULL; l++)
			n++;
	}
	if (n == 0)
		return 0;
	if (n >= LIT_NONE || (lits = calloc(n, sizeof *lits)) == NULL)
		return -1;
	n = 0;
	for (size_t i = 0; i < 2 * reason_builtins_count; i++) {
		int sure = i >= reason_builtins_count;
		const struct reason_builtin *bi = &reason_builtins[i % reason_builtins_count];
		const char *const *l = sure ? bi->sure : bi->literals;
		const unsigned char *wb = sure ? bi->sure_bounds : bi->literal_bounds;
		size_t r = rs->nuser + i % reason_builtins_count;

		/* Sure literals only shorten a filtered rule's work. */
		if (sure && bi->literals == NULL)
			continue;
		for (size_t li = 0; l != NULL && l[li] != NULL; li++) {
			struct lit *x = &lits[n];
			const char *ls = l[li];
			size_t len = strlen(ls);
			unsigned bounds = wb != NULL ? wb[li] : 0;
			unsigned char hd[8] = { 0 };
			uint32_t b, k;

			/* The generator never emits a shorter one; never trust it
			 * to the point of reading past a literal. */
			if (len < LIT_MIN) {
				free(lits);
				return -1;
			}
			k = key((const unsigned char *)ls);
			b = bucket(k);
			/* The same text for the same rule, under the same
			 * bounds: one entry, both flags. */
			for (uint32_t j = head[b]; j != LIT_NONE; j = lits[j].next) {
				if (lits[j].rule == r && lits[j].len == len &&
				    lits[j].bounds == bounds && memcmp(lits[j].s, ls, len) == 0) {
					lits[j].flags |= sure ? LIT_SURE : LIT_MAYBE;
					x = NULL;
					break;
				}
			}
			if (x == NULL)
				continue;
			memcpy(hd, ls, len < 8 ? len : 8);
			x->s = ls;
			x->bounds = bounds;
			x->len = len;
			x->flags = sure ? LIT_SURE : LIT_MAYBE;
			x->head = le64_get(hd);
			x->head_mask = len >= 8 ? UINT64_MAX : ((uint64_t)1 << (8 * len)) - 1;
			x->rule = (uint32_t)r;
			x->key = k;
			x->next = head[b];
			rs->tri[tri_bit(x->key) >> 6] |= (uint64_t)1 << (tri_bit(x->key) & 63);
			head[b] = (uint32_t)n++;
			rs->rules[r].filtered = rs->rules[r].has_pattern;
		}
	}
	rc = group_literals(rs, lits, n);
	free(lits);
	return rc;
}

static int
set_error(struct reason_error *where, size_t rule, enum reason_field field)
{
	if (where != NULL) {
		where->rule = rule;
		where->field = field;
	}
	return -1;
}

/*
 * Check one rule into r; what names it in messages. A user's pattern is
 * compiled here, so a mistake in it stops the start with its offset. A
 * built-in pattern (lazy) is compiled the first time it must run, by
 * rule_holds: compiling all of them was 2 M of the 3.7 M instructions of
 * `--once` on an empty log (0.4 ms of its 4 ms), and most of them never
 * run in a process (a sure literal decides most replies, and a host sees
 * few kinds of failure). test_reasons compiles every built-in pattern, so
 * the only way one fails at run time is memory.
 */
static int
compile_rule(struct rule *r, const struct reason_def *d, const char *what, int lazy,
    char *err, size_t errlen, enum reason_field *field)
{
	int reason = d->reason != NULL ? reason_from_name(d->reason) : -1;
	int has_pattern = d->pattern != NULL && d->pattern[0] != '\0';

	memset(r, 0, sizeof *r);
	if (reason < 0) {
		*field = REASON_FIELD_REASON;
		snprintf(err, errlen, "%s: reason \"%.40s\" is not one of unknown_recipient, "
		    "mailbox_full, message_too_big, greylisted, rate_limited, blocklisted, "
		    "spam_content, authentication_failed, reverse_dns, relay_denied, "
		    "sender_rejected, tls_required, dns_failure, connection_failed, "
		    "local_error, policy, not_attempted, other", what, d->reason ? d->reason : "");
		return -1;
	}
	r->reason = (enum reason)reason;
	if (d->code != NULL && d->code[0] != '\0' && parse_code(d->code, r) < 0) {
		*field = REASON_FIELD_CODE;
		snprintf(err, errlen, "%s: code \"%.40s\" is not a failure code pattern "
		    "(want 3 characters, digits or x, starting with 4, 5 or x: 550, 5xx, 45x)",
		    what, d->code);
		return -1;
	}
	if (d->enhanced != NULL && d->enhanced[0] != '\0' && parse_enhanced(d->enhanced, r) < 0) {
		*field = REASON_FIELD_ENHANCED;
		snprintf(err, errlen, "%s: enhanced \"%.40s\" is not an enhanced code pattern "
		    "(want CLASS.SUBJECT.DETAIL, class 4, 5 or x, each other part a number, "
		    "a range such as 20-24, or x: 5.7.1, x.7.20-24, 4.x.x)", what, d->enhanced);
		return -1;
	}
	if (!has_pattern && !r->has_code && !r->has_enh) {
		*field = REASON_FIELD_RULE;
		snprintf(err, errlen, "%s: no condition (give pattern, code or enhanced)", what);
		return -1;
	}
	if (has_pattern) {
		int code;
		PCRE2_SIZE off;

		r->has_pattern = 1;
		if (lazy) {
			r->builtin = d->pattern;
			return 0;
		}
		r->re = pcre2_compile((PCRE2_SPTR)d->pattern, PCRE2_ZERO_TERMINATED,
		    PCRE2_CASELESS, &code, &off, NULL);
		if (r->re == NULL) {
			PCRE2_UCHAR msg[160];
			pcre2_get_error_message(code, msg, sizeof msg);
			*field = REASON_FIELD_PATTERN;
			snprintf(err, errlen, "%s: pattern: %s at offset %zu", what,
			    (const char *)msg, (size_t)off);
			return -1;
		}
		/*
		 * JIT-compiled at its first match, not here: most patterns
		 * never run in a process, and compiling all of them was a
		 * millisecond of every start, a tenth of --once's fixed cost
		 * then. Each pattern compiles at most once, so the per-line
		 * path still allocates nothing after its first few failures.
		 */
		r->jit_pending = 1;
	}
	return 0;
}

struct reason_set *
reason_set_new(const struct reason_def *user, size_t nuser, struct reason_error *where,
    char *err, size_t errlen)
{
	struct reason_set *rs;
	size_t total = nuser + reason_builtins_count;
	enum reason_field field = REASON_FIELD_RULE;
	char what[64];

	if (nuser > REASON_MAX_USER_RULES) {
		snprintf(err, errlen, "%zu reason rules: more than %d", nuser,
		    REASON_MAX_USER_RULES);
		set_error(where, REASON_MAX_USER_RULES, REASON_FIELD_RULE);
		return NULL;
	}
	if ((rs = calloc(1, sizeof *rs)) == NULL ||
	    (rs->rules = calloc(total, sizeof *rs->rules)) == NULL ||
	    (rs->md = pcre2_match_data_create(1, NULL)) == NULL ||
	    (rs->mctx = pcre2_match_context_create(NULL)) == NULL) {
		snprintf(err, errlen, "out of memory");
		set_error(where, SIZE_MAX, REASON_FIELD_RULE);
		reason_set_free(rs);
		return NULL;
	}
	pcre2_set_match_limit(rs->mctx, REASON_MATCH_LIMIT);
	rs->nuser = nuser;
	for (size_t i = 0; i < nuser; i++, rs->nrules++) {
		snprintf(what, sizeof what, "reason rule %zu", i + 1);
		if (compile_rule(&rs->rules[i], &user[i], what, 0, err, errlen, &field) < 0) {
			set_error(where, i, field);
			reason_set_free(rs);
			return NULL;
		}
	}
	for (size_t i = 0; i < reason_builtins_count; i++, rs->nrules++) {
		const struct reason_builtin *b = &reason_builtins[i];
		struct reason_def d = { reason_name(b->reason), b->pattern, b->code, b->enhanced };

		snprintf(what, sizeof what, "parsers/reasons.rules:%u", b->line);
		if (compile_rule(&rs->rules[nuser + i], &d, what, 1, err, errlen, &field) < 0) {
			set_error(where, SIZE_MAX, field);
			reason_set_free(rs);
			return NULL;
		}
	}
	if ((rs->maybe = calloc(rs->nrules, 1)) == NULL ||
	    (rs->sure = calloc(rs->nrules, 1)) == NULL || index_literals(rs) < 0) {
		snprintf(err, errlen, "out of memory");
		set_error(where, SIZE_MAX, REASON_FIELD_RULE);
		reason_set_free(rs);
		return NULL;
	}
	return rs;
}

void
reason_set_free(struct reason_set *rs)
{
	if (rs == NULL)
		return;
	for (size_t i = 0; i < rs->nrules; i++)
		pcre2_code_free(rs->rules[i].re);
	free(rs->rules);
	free(rs->glits);
	free(rs->maybe);
	free(rs->sure);
	pcre2_match_data_free(rs->md);
	pcre2_match_context_free(rs->mctx);
	free(rs);
}

size_t
reason_set_user_rules(const struct reason_set *rs)
{
	return rs->nuser;
}

size_t
reason_set_compiled(const struct reason_set *rs)
{
	size_t n = 0;

	for (size_t i = 0; i < rs->nrules; i++)
		n += rs->rules[i].re != NULL;
	return n;
}

size_t
reason_set_jitted(const struct reason_set *rs)
{
	size_t n = 0;

	for (size_t i = 0; i < rs->nrules; i++) {
		size_t jit = 0;
		if (rs->rules[i].re != NULL &&
		    pcre2_pattern_info(rs->rules[i].re, PCRE2_INFO_JITSIZE, &jit) == 0 && jit > 0)
			n++;
	}
	return n;
}

static int
in_range(const struct range *r, unsigned v)
{
	return r->lo == ANY || (v >= r->lo && v <= r->hi);
}

/*
 * Whether the \b's a literal asks for hold around t[i, i + len) in a text
 * of n bytes: the byte before (after) it is no word byte, or there is none.
 * PCRE2's \b without UCP: a word byte is [A-Za-z0-9_]; t is lower-cased,
 * and the pattern runs on the same n bytes, so their ends are its ends.
 */
static int
bounds_hold(const unsigned char *t, size_t n, size_t i, size_t len, unsigned bounds)
{
	static const unsigned char word[256] = {
		['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1,
		['7'] = 1, ['8'] = 1, ['9'] = 1, ['_'] = 1,
		['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1, ['g'] = 1,
		['h'] = 1, ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1,
		['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1, ['s'] = 1, ['t'] = 1, ['u'] = 1,
		['v'] = 1, ['w'] = 1, ['x'] = 1, ['y'] = 1, ['z'] = 1,
	};

	if (bounds & REASON_WB_BEFORE && i > 0 && word[t[i - 1]])
		return 0;
	if (bounds & REASON_WB_AFTER && i + len < n && word[t[i + len]])
		return 0;
	return 1;
}

/*
 * Mark in rs->maybe every rule one of whose literals occurs in the reply
 * (and in rs->sure every rule one of whose sure literals does): one pass;
 * a literal is compared only when its first three bytes (its key) are the
 * ones at that position.
 *
 * Most positions start no literal at all, so each position first tests one
 * bit of rs->tri, indexed by a hash of its three bytes (tri_bit): the bit
 * is set for every literal's key, so a clear bit proves no literal starts
 * there and skipping the lookup changes nothing. A filter on the first two
 * bytes alone (the previous one) let 23 % of a reply's positions through,
 * since English is made of the same pairs as the literals; on three bytes
 * 8 % pass on the benchmark's replies.
 *
 * A position that passes looks its key up in rs->keys (open addressing,
 * linear probing from key_slot; an empty slot ends the probe: the key is
 * no literal's) and compares the key's group, adjacent in rs->glits. The
 * literals were a chain per hash bucket, mixing keys, and walking it was
 * half the scan's samples (perf), mostly loads of scattered nodes.
 *
 * Whole groups of literals share a key ("relay access denied", "relay
 * access not allowed", ... 24 under "rel"): a Postfix
 * benchmark reply met 42 memcmp calls, and those calls were a third of the
 * scan's time (perf). So the eight bytes at the position are loaded once and
 * compared with each literal's head under its mask first; memcmp runs only
 * on a literal longer than eight whose head matched, for its bytes past the
 * eighth. The load may reach past the text's end: lower[] has 8 bytes more
 * than the longest text and they are zeroed here, and the length check
 * comes before the compare, so bytes past the end never decide a match.
 * (test_reasons: literals at the very start and end of a reply, replies of
 * two and three bytes, upper case, a reply cut at REASON_TEXT_MAX.)
 *
 * A literal from a "\bspam\b" alternative (REASON_WB_*) counts only where
 * its \b's hold (bounds_hold): "spam" in "spamhaus" is no \bspam\b, and
 * "arc" in "garcia" wakes no \bARC\b (test_bounds_random).
 */
static void
scan(struct reason_set *rs, struct reply *rp)
{
	const unsigned char *t = rp->lower;
	size_t n = rp->len;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)rp->text[i];
		rp->lower[i] = c >= 'A' && c <= 'Z' ? (unsigned char)(c + 'a' - 'A') : c;
	}
	memset(rp->lower + n, 0, 8);
	memset(rs->maybe, 0, rs->nrules);
	memset(rs->sure, 0, rs->nrules);
	for (size_t i = 0; i + LIT_MIN <= n; i++) {
		uint32_t k3 = key_at(t + i), b = tri_bit(k3);
		uint64_t w;

		if (!(rs->tri[b >> 6] & (uint64_t)1 << (b & 63)))
			continue;
		w = le64_get(t + i);
		for (uint32_t h = key_slot(k3); rs->keys[h].count != 0; h = (h + 1) & (KEY_SLOTS - 1)) {
			const struct key_slot *ks = &rs->keys[h];

			if (ks->key != k3)
				continue;
			for (const struct glit *l = rs->glits + ks->first,
			    *e = l + ks->count; l < e; l++) {
				unsigned want;

				if ((w & l->head_mask) != l->head || l->len > n - i)
					continue;
				want = (l->flags & LIT_MAYBE && !rs->maybe[l->rule] ? LIT_MAYBE : 0) |
				    (l->flags & LIT_SURE && !rs->sure[l->rule] ? LIT_SURE : 0);
				if (want == 0 ||
				    (l->len > 8 && memcmp(t + i + 8, l->s + 8, l->len - 8) != 0) ||
				    (l->bounds != 0 && !bounds_hold(t, n, i, l->len, l->bounds)))
					continue;
				if (want & LIT_MAYBE)
					rs->maybe[l->rule] = 1;
				if (want & LIT_SURE)
					rs->sure[l->rule] = 1;
			}
			break;
		}
	}
	rp->scanned = 1;
}

/*
 * A built-in pattern's first run (compile_rule says why it waits). Only
 * memory can fail it (test_reasons compiles every built-in): the rule
 * then does not hold for this reply, the next rule decides, and the next
 * reply that needs the pattern tries again.
 */
static int
compile_builtin(struct rule *r)
{
	int code;
	PCRE2_SIZE off;

	r->re = pcre2_compile((PCRE2_SPTR)r->builtin, PCRE2_ZERO_TERMINATED, PCRE2_CASELESS,
	    &code, &off, NULL);
	if (r->re == NULL)
		return -1;
	r->jit_pending = 1;
	return 0;
}

static int
rule_holds(struct reason_set *rs, size_t i, unsigned code,
    const struct mp_enhanced *enh, struct reply *rp)
{
	struct rule *r = &rs->rules[i];

	if (r->has_code) {
		unsigned d[3] = { code / 100, code / 10 % 10, code % 10 };
		if (code == 0)
			return 0;
		for (int i = 0; i < 3; i++)
			if (r->code_digit[i] != ANY && r->code_digit[i] != d[i])
				return 0;
	}
	if (r->has_enh && (enh == NULL || enh->cls == 0 || !in_range(&r->enh[0], enh->cls) ||
	    !in_range(&r->enh[1], enh->subject) || !in_range(&r->enh[2], enh->detail)))
		return 0;
	if (r->has_pattern) {
		if (rp->text == NULL)
			return 0;
		if (r->filtered) {
			if (!rp->scanned)
				scan(rs, rp);
			if (!rs->maybe[i])
				return 0;
			/*
			 * A sure literal is the whole of one top-level
			 * alternative of the pattern (gen_reasons.py,
			 * sufficient_literals): the pattern runs caselessly
			 * and unanchored over the same rp->len bytes the scan
			 * read, so it would match where the literal starts.
			 * The winning rule's match was two thirds of a failed
			 * status's cost (callgrind), and this skips it. The
			 * one difference: a text so hostile that PCRE2 would
			 * give up at REASON_MATCH_LIMIT before reaching the
			 * literal is classified by it here, as it should be.
			 * test_reasons checks every sure literal on every
			 * golden reply against the pattern itself.
			 */
			if (rs->sure[i])
				return 1;
		}
		if (r->re == NULL && compile_builtin(r) < 0)
			return 0;
		if (r->jit_pending) {
			/* Without JIT (some platforms, SELinux) the
			 * interpreter runs: same answers, only slower. */
			(void)pcre2_jit_compile(r->re, PCRE2_JIT_COMPLETE);
			r->jit_pending = 0;
		}
		return pcre2_match(r->re, (PCRE2_SPTR)rp->text, rp->len, 0, 0, rs->md,
		    rs->mctx) >= 0;
	}
	return 1;
}

enum reason
reason_classify_reply(struct reason_set *rs, unsigned code, const struct mp_enhanced *enh,
    const char *text, size_t len)
{
	struct reply rp;

	rp.text = text;
	rp.len = text != NULL && len > REASON_TEXT_MAX ? REASON_TEXT_MAX : len;
	rp.scanned = 0;
	for (size_t i = 0; i < rs->nrules; i++)
		if (rule_holds(rs, i, code, enh, &rp))
			return rs->rules[i].reason;
	return REASON_OTHER;
}

enum reason
reason_classify(struct reason_set *rs, const struct mp_event *ev)
{
	const char *text = ev->reply;
	size_t len = ev->reply_len;

	if (ev->not_attempted)
		return REASON_NOT_ATTEMPTED;
	if (text == NULL) {
		text = ev->hdr.msg;
		len = ev->hdr.msg_len;
	}
	return reason_classify_reply(rs, ev->code, &ev->enhanced, text, len);
}
