/*
 * exim.c - Exim deliveries, failures, deferrals and rejects, from Exim's own
 * mainlog ("2026-11-28 14:10:01 [pid] 1tAbCd-000123-Xy ...", as split off
 * by syslog.c) or through syslog ("exim[pid]: ...", with or without Exim's
 * own timestamp repeated inside the message).
 *
 * What counts, one event per line:
 *   MSGID => addr ... C="250 ..."	delivered (also "->": another address
 *					of the same delivery; ">>": cutthrough)
 *   MSGID ** addr ...: text		failed for good
 *   MSGID == addr ... defer (n): text	deferred
 *   [MSGID] H=... rejected RCPT|MAIL|after DATA|connection|EHLO ...: text
 *   [MSGID] H=... temporarily rejected ...
 *   MSGID F=<s> H=... [temporarily ]rejected by local_scan(): text
 * and "MSGID <= sender ..." is a receipt (MP_EVENT_RECEIVED).
 *
 * Codes: a delivery's code is that of the C="..." confirmation; a failure's
 * or deferral's is the remote reply quoted after "SMTP error from remote
 * mail server after <command>: " (or LMTP's "LMTP error after ...: "). A
 * multi-line reply is joined with a literal "\n" and the first line's code
 * is the one we take. Reject lines quote no reply of ours: the class comes
 * from the wording ("rejected" 5xx, "temporarily rejected" 4xx), and a code
 * is taken only where the reason starts with one (an ACL "message = 550
 * 5.7.1 ..." sets Exim's reply) or from a recipient callout ("... was: 550
 * 5.1.1 ..."), whose reply Exim passes on, and only when its class agrees
 * with the wording. A reject's domain is the client's: the host name
 * Exim looked up ("H=name [ip]", "H=name (helo) [ip]"), else its address
 * ("H=(helo) [ip]", "H=[ip]"); the HELO name is the client's own claim and
 * is never used. Local (-bs, "U=") rejects name no client.
 *
 * Not counted: the host-level copy of a post-DATA error
 * ("MSGID H=host [ip]: SMTP error from remote mail server after end of
 * data: 451 ..."), which repeats the per-recipient "==" line; "*>"
 * (delivery suppressed by -N); Completed, frozen, queue runs, connections,
 * authenticator failures and sender-verify notes that precede a reject.
 * Some of those report operational ops instead (ops.h: flags, sizes, TLS,
 * sessions; see session_ops). Exim's paniclog lines look like mainlog
 * lines, so no panic is read here.
 *
 * Hand-written scanners, no regex: every shape starts with a fixed marker
 * at a fixed place, so a few compares decide, and nothing is allocated.
 */
#include "parsers/find.h"
#include "parsers/parser.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LIT(s) (s), (sizeof(s) - 1)

/* [0-9A-Za-z] by table: three range compares were a branch each on an
 * id's mixed digits and letters. */
static const unsigned char alnum[256] = {
	['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1,
	['7'] = 1, ['8'] = 1, ['9'] = 1,
	['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1, ['G'] = 1,
	['H'] = 1, ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1, ['M'] = 1, ['N'] = 1,
	['O'] = 1, ['P'] = 1, ['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1, ['U'] = 1,
	['V'] = 1, ['W'] = 1, ['X'] = 1, ['Y'] = 1, ['Z'] = 1,
	['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1, ['g'] = 1,
	['h'] = 1, ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1,
	['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1, ['s'] = 1, ['t'] = 1, ['u'] = 1,
	['v'] = 1, ['w'] = 1, ['x'] = 1, ['y'] = 1, ['z'] = 1,
};

#ifdef MP_EXIM_REFERENCE
static int
is_alnum(char c)
{
	return alnum[(unsigned char)c];
}

static size_t
alnum_run(const char *s, size_t len)
{
	size_t i = 0;

	while (i < len && is_alnum(s[i]))
		i++;
	return i;
}

/*
 * The length of an Exim message id at s, followed by a space: the classic
 * "1tAbCd-0001Ab-Xy" (6-6-2) or the 4.97+ "1tixMn-00000000C5j-1wRa"
 * (6-11-4). 0 if there is none. (The reference build's version: runs of
 * [0-9A-Za-z] measured one byte at a time.)
 */
static size_t
message_id(const char *s, size_t len)
{
	size_t a, b, c;

	a = alnum_run(s, len);
	if (a != 6 || a >= len || s[a] != '-')
		return 0;
	b = alnum_run(s + a + 1, len - a - 1);
	if ((b != 6 && b != 11) || a + 1 + b >= len || s[a + 1 + b] != '-')
		return 0;
	c = alnum_run(s + a + b + 2, len - a - b - 2);
	if ((c != 2 && c != 4) || a + b + c + 2 >= len || s[a + b + c + 2] != ' ')
		return 0;
	return a + b + c + 2;
}
#else
/* Whether s[0..n) is all [0-9A-Za-z]: every byte looked at, no early exit. */
static int
all_alnum(const char *s, size_t n)
{
	unsigned ok = 1;

	for (size_t i = 0; i < n; i++)
		ok &= alnum[(unsigned char)s[i]];
	return (int)ok;
}

/*
 * The length of an Exim message id at s, followed by a space: the classic
 * "1tAbCd-0001Ab-Xy" (6-6-2) or the 4.97+ "1tixMn-00000000C5j-1wRa"
 * (6-11-4); as before, any part lengths 6, 6 or 11, 2 or 4. 0 if there is
 * none.
 *
 * The id was three runs of [0-9A-Za-z] measured a byte at a time, whose
 * data-dependent ends were a third of exim_parse's own samples (perf).
 * Where each part must end is known, so the separators are checked first
 * and each part is checked whole. It is the runs' answer: a run of exactly
 * k bytes is k alnum bytes followed by a non-alnum one, and '-' and ' ' are
 * not alnum, so s[6] == '-' with s[0..6) alnum is "the first run is 6 and
 * ends at '-'"; the second part is 6 long if s[13] == '-' (then it cannot
 * be 11: s[13] would have to be alnum) and else 11 if s[18] == '-'; the
 * third likewise with ' ' at 2 or 4. test_exim_keys compares this with the
 * reference build's runs on random ids of near-miss shapes.
 */
static size_t
message_id(const char *s, size_t len)
{
	size_t b, c, q;

	if (len < 17 || s[6] != '-' || !all_alnum(s, 6))
		return 0;
	if (s[13] == '-')
		b = 6;
	else if (len >= 22 && s[18] == '-')
		b = 11;
	else
		return 0;
	if (!all_alnum(s + 7, b))
		return 0;
	q = 8 + b;	/* the third part's start */
	if (q + 2 < len && s[q + 2] == ' ')
		c = 2;
	else if (q + 4 < len && s[q + 4] == ' ')
		c = 4;
	else
		return 0;
	return all_alnum(s + q, c) ? q + c : 0;
}
#endif

/*
 * The " KEY=" fields of a delivery, failure, deferral or arrival, found in
 * one pass. A key's value was field(s, len, " KEY="): mp_find, the first
 * occurrence of " KEY=" in the slice, then up to the next space (now
 * key_field); a "=>" line asked for ten keys
 * (and "<=" for as many), each a pass over the line calling memchr at
 * every space: together more than half of an Exim line's instructions
 * (callgrind, issue 20). keys_index visits each space of the message once
 * and notes, for each key below, the first place " KEY=" starts; since
 * every occurrence starts at a space, that is mp_find's answer over the
 * whole message. A lookup in a shorter slice [s, s + lim) (Exim's own
 * fields before C=" or S=, or the part before a failure's ": ") takes it
 * if the key ends within lim: an earlier occurrence inside the slice
 * would have been noted first, so otherwise there is none, as mp_find
 * says. The value still ends at the next space within the slice. Keys are
 * plain text, not quoting-aware, exactly as field() and mp_find were.
 * Only lines with a delivery or arrival marker are indexed.
 * MP_EXIM_REFERENCE builds the lookups on mp_find again:
 * tests/test_exim_keys.c compiles this file so and compares both on every
 * golden line, every prefix and random lines.
 */
enum ex_key {
	EK_C, EK_X, EK_CV, EK_DN, EK_T, EK_R, EK_H, EK_QT, EK_DT, EK_S, EK_A,
	EK_P, EK_I, EK_COUNT
};

static const struct { const char *s; size_t n; } ex_keys[EK_COUNT] = {
	[EK_C] = { LIT(" C=\"") }, [EK_X] = { LIT(" X=") }, [EK_CV] = { LIT(" CV=") },
	[EK_DN] = { LIT(" DN=") }, [EK_T] = { LIT(" T=") }, [EK_R] = { LIT(" R=") },
	[EK_H] = { LIT(" H=") }, [EK_QT] = { LIT(" QT=") }, [EK_DT] = { LIT(" DT=") },
	[EK_S] = { LIT(" S=") }, [EK_A] = { LIT(" A=") }, [EK_P] = { LIT(" P=") },
	[EK_I] = { LIT(" I=[") },
};

/*
 * Where each key was first found. Only at[e] with bit e of `found` set
 * holds anything: clearing thirteen pointers for every line compiled to a
 * `rep stos`, whose start-up the samples after it showed as 6 % of
 * exim_parse (perf annotate, round 10); one word is cleared instead.
 */
struct keys {
	const char *s;
	size_t len;
	uint32_t found;			/* bit e: at[e] is set */
	const char *at[EK_COUNT + 1];	/* the first " KEY="; [EK_COUNT]: scratch */
};
_Static_assert(EK_COUNT <= 32, "a bit per key in keys.found");

/*
 * The key a space starts, from the three bytes after it, without a
 * branch: which key it can be is found by a hash of its first two bytes
 * (KEY_SLOT: no two keys share a slot, and a clash would fail the build
 * through -Woverride-init), and one masked compare of the three bytes
 * says whether it is. A switch on the letter was a jump through a table
 * at every space of a delivery line, with the next key's letter to
 * guess (perf annotate: the samples at the jump were a fifth of
 * exim_parse's). " C=" is a key only before a quote and " I=" before a
 * bracket, as in Exim's log; the two-letter keys need their '='.
 */
#ifndef MP_EXIM_REFERENCE
#define KEY_SLOT(c1, c2) (((unsigned)(c1) ^ (unsigned)(c2) * 3u) & 31u)
#define KEY1(c, e) [KEY_SLOT(c, '=')] = \
	{ (uint32_t)(c) | (uint32_t)'=' << 8, 0xffffu, (uint32_t)1 << (e), e }
#define KEY1Q(c, q, e) [KEY_SLOT(c, '=')] = \
	{ (uint32_t)(c) | (uint32_t)'=' << 8 | (uint32_t)(q) << 16, 0xffffffu, (uint32_t)1 << (e), e }
#define KEY2(c1, c2, e) [KEY_SLOT(c1, c2)] = \
	{ (uint32_t)(c1) | (uint32_t)(c2) << 8 | (uint32_t)'=' << 16, 0xffffffu, (uint32_t)1 << (e), e }

/* An empty slot is all zero: it matches every w, but its bit is 0. */
static const struct key_pat {
	uint32_t pat, mask;
	uint32_t bit;			/* 1 << e */
	uint32_t e;
} key_pats[32] = {
	KEY1('X', EK_X), KEY1('T', EK_T), KEY1('R', EK_R), KEY1('H', EK_H),
	KEY1('S', EK_S), KEY1('A', EK_A), KEY1('P', EK_P),
	KEY1Q('C', '"', EK_C), KEY1Q('I', '[', EK_I),
	KEY2('C', 'V', EK_CV), KEY2('D', 'T', EK_DT), KEY2('D', 'N', EK_DN),
	KEY2('Q', 'T', EK_QT),
};
#endif

static void
keys_index(struct keys *k, const char *s, size_t len)
{
	k->s = s;
	k->len = len;
	k->found = 0;
#ifndef MP_EXIM_REFERENCE
	const unsigned char *end = (const unsigned char *)s + len, *p;
	struct mp_byte_iter sp;

	/* Every space, in order, as the memchr loop found them (find.h). */
	mp_byte_iter_init(&sp, s, len, ' ');
	while ((p = (const unsigned char *)mp_byte_next(&sp)) != NULL) {
		size_t r = (size_t)(end - p);
		uint32_t w, bit, fresh;
		const struct key_pat *kp;

		if (r < 3)
			break;
		/* The third byte past the space only when the message has it:
		 * 0 in its place matches no key that needs one. */
		w = (uint32_t)p[1] | (uint32_t)p[2] << 8 | (r >= 4 ? (uint32_t)p[3] << 16 : 0);
		kp = &key_pats[KEY_SLOT(p[1], p[2])];
		/* Only a key's first place is kept; a later one, or none,
		 * writes to the spare slot at[EK_COUNT]. The slot is chosen
		 * by a mask, not by ?:, which GCC made a branch. */
		bit = kp->bit & -(uint32_t)((w & kp->mask) == kp->pat);
		fresh = -(uint32_t)((bit & ~k->found) != 0);
		k->at[EK_COUNT ^ ((EK_COUNT ^ kp->e) & fresh)] = (const char *)p;
		k->found |= bit;
	}
#endif
}

/* mp_find(k->s, lim, " KEY=") */
static const char *
key_at(const struct keys *k, size_t lim, enum ex_key e)
{
#ifdef MP_EXIM_REFERENCE
	return mp_find(k->s, lim, ex_keys[e].s, ex_keys[e].n);
#else
	const char *p;

	if (!(k->found >> e & 1))
		return NULL;
	p = k->at[e];
	return (size_t)(p - k->s) + ex_keys[e].n <= lim ? p : NULL;
#endif
}

/* The value of " KEY=" in k->s[0..lim), up to the next space. */
static const char *
key_field(const struct keys *k, size_t lim, enum ex_key e, size_t *vlen)
{
	const char *p = key_at(k, lim, e), *end = k->s + lim, *sp;

	if (p == NULL)
		return NULL;
	p += ex_keys[e].n;
	sp = mp_memchr(p, ' ', (size_t)(end - p));
	*vlen = (size_t)((sp != NULL ? sp : end) - p);
	return p;
}

/* QT= (time on the queue) and DT= (this delivery), log_selector
 * +queue_time and +deliver_time. */
static void
times(const struct keys *k, size_t len, struct mp_event *ev)
{
	const char *v;
	size_t vlen;

	if ((v = key_field(k, len, EK_QT, &vlen)) != NULL)
		ev->delay = mp_units_duration_at(v, vlen, NULL);
	if ((v = key_field(k, len, EK_DT, &vlen)) != NULL)
		ev->delay_stage[MP_STAGE_DELIVERY] =
		    mp_units_duration_at(v, vlen, NULL);
}

/*
 * The recipient that follows a delivery marker: "user@dom", or a local
 * part, file or pipe followed by the "<user@dom>" it came from. Sets
 * ev->domain; returns the end of the address part.
 */
static const char *
recipient(const char *a, size_t len, struct mp_event *ev)
{
	const char *end = a + len, *sp, *p;
	size_t n;

	/* n counts bytes, never negative: gcc -O2 cannot tell that of a
	 * pointer difference after p-- and warns on the memchr bound. */
	sp = mp_memchr(a, ' ', len);
	n = sp != NULL ? (size_t)(sp - a) : len;
	if (n > 0 && a[n - 1] == ':')	/* "** user@dom: Unrouteable address" */
		n--;
	p = a + n;
	if (mp_memchr(a, '@', n) != NULL && a[0] != '|' &&
	    a[0] != '/') {
		/* Exim brackets an address it prints with its angle brackets
		 * kept ("== <user@dom> R=..."), as some real mainlogs show. */
		if (a[0] == '<' && p - a > 2 && p[-1] == '>')
			mp_event_set_domain(ev, a + 1, (size_t)(p - a - 2));
		else
			mp_event_set_domain(ev, a, (size_t)(p - a));
		return p;
	}
	if (sp != NULL && sp + 1 < end && sp[1] == '<') {
		const char *gt = mp_memchr(sp + 2, '>', (size_t)(end - sp - 2));

		if (gt != NULL) {
			mp_event_set_domain(ev, sp + 2, (size_t)(gt - sp - 2));
			return gt + 1;
		}
	}
	return p;
}

/* A content filter's transport or router (see mp_filter_name). */
static int
filter_name(const char *s, size_t len)
{
	return mp_filter_name(s, len);
}

/*
 * Where a delivery went: no H= means a local transport (appendfile, pipe,
 * autoreply), unless the transport is an SMTP one that reached no host; an LMTP transport is local wherever it runs; a host on the
 * loopback is a content filter or re-injection hop; any other host is
 * remote. Router and transport names are the admin's, so a filter is also
 * recognised by name.
 */
static enum mp_destination
destination(const struct keys *k, size_t len)
{
	const char *s = k->s, *t, *r, *h, *br, *close;
	size_t tlen = 0, rlen = 0, hlen;

	t = key_field(k, len, EK_T, &tlen);
	r = key_field(k, len, EK_R, &rlen);
	if ((t != NULL && filter_name(t, tlen)) ||
	    (r != NULL && filter_name(r, rlen)))
		return MP_DEST_FILTER;
	if (t != NULL && mp_contains4(t, tlen, "lmtp"))
		return MP_DEST_LOCAL;
	h = key_at(k, len, EK_H);
	if (h == NULL) {
		/* A failure before any host answered ("defer (111): Connection
		 * refused") names only the transport. */
		if (t != NULL && mp_contains4(t, tlen, "smtp"))
			return MP_DEST_REMOTE;
		return t != NULL || r != NULL ? MP_DEST_LOCAL : MP_DEST_NONE;
	}
	h += 3;
	hlen = (size_t)(s + len - h);
	br = mp_find(h, hlen, " [", 2);
	if (br != NULL) {
		br += 2;
		close = mp_memchr(br, ']', (size_t)(s + len - br));
		if (close != NULL && mp_is_loopback(br, (size_t)(close - br)))
			return MP_DEST_FILTER;
	}
	return MP_DEST_REMOTE;
}

/*
 * The remote reply in a failure or deferral: after "error from remote mail
 * server after CMD: ", "LMTP error after CMD: " or "PRDR error after CMD: ",
 * skipping an older
 * Exim's "host NAME [ip]: " in front of it. Sets code, enhanced, reply.
 */
static void
remote_reply(const char *s, size_t len, struct mp_event *ev)
{
	const char *end = s + len, *p, *c;

	p = mp_find(s, len, LIT("error from remote mail server after "));
	if (p == NULL)
		p = mp_find(s, len, LIT("LMTP error after "));
	/* The smtp transport's per-recipient reply to a PRDR data phase
	 * (transports/smtp.c: "%s error after %s: %s", "PRDR" or "LMTP"). */
	if (p == NULL)
		p = mp_find(s, len, LIT("PRDR error after "));
	if (p == NULL)
		return;
	c = mp_find(p, (size_t)(end - p), ": ", 2);
	if (c == NULL)
		return;
	c += 2;
	if (mp_has_prefix(c, (size_t)(end - c), LIT("host "))) {
		const char *d = mp_find(c, (size_t)(end - c), "]: ", 3);

		if (d != NULL)
			c = d + 3;
	}
	ev->code = (uint16_t)mp_reply_at(c, (size_t)(end - c), &ev->enhanced);
	ev->reply = c;
	ev->reply_len = (size_t)(end - c);
}

/* "=> addr ... C="250 ..."" and "->", ">>". */
static int
delivered(const struct keys *k, struct mp_event *ev)
{
	const char *a = k->s, *c, *end = a + k->len, *q;
	size_t len = k->len;

	if (len == 0 || a[0] == ' ')
		return -1;
	recipient(a, len, ev);
	ev->outcome = MP_OUTCOME_SENT;
	c = key_at(k, len, EK_C);
	if (c != NULL) {
		c += 4;
		q = mp_memchr(c, '"', (size_t)(end - c));
		ev->reply = c;
		ev->reply_len = (size_t)((q != NULL ? q : end) - c);
		ev->code = (uint16_t)mp_reply_at(c, ev->reply_len, &ev->enhanced);
	}
	ev->destination = destination(k, len);
	times(k, len, ev);
	return mp_event_set_class(ev) == 0 ? 1 : -1;
}

/* "** addr ...: text" and "== addr ... defer (n): text". */
static int
failed(const struct keys *k, enum mp_outcome outcome, struct mp_event *ev)
{
	const char *a = k->s, *after, *end = a + k->len, *colon;
	size_t len = k->len;

	if (len == 0 || a[0] == ' ')
		return -1;
	after = recipient(a, len, ev);
	ev->outcome = outcome;
	/* The text follows the first ": " after the address's fields. */
	colon = mp_find(after, (size_t)(end - after), ": ", 2);
	if (colon != NULL) {
		ev->reply = colon + 2;
		ev->reply_len = (size_t)(end - colon - 2);
	}
	remote_reply(after, (size_t)(end - after), ev);
	/* deliver.c and the smtp transport defer without routing or
	 * connecting while an earlier failure's retry time is not reached:
	 * "routing defer (-52): retry time not reached", "defer (-53): retry
	 * time not reached for any host[ for 'domain']". */
	if (outcome == MP_OUTCOME_DEFERRED && ev->reply != NULL &&
	    mp_has_prefix(ev->reply, ev->reply_len, LIT("retry time not reached")))
		ev->not_attempted = 1;
	ev->destination = destination(k, colon != NULL ? (size_t)(colon - a) : len);
	times(k, len, ev);
	return mp_event_set_class(ev) == 0 ? 1 : -1;
}

/*
 * The client of a reject, from the "H=" that starts s[0..len), that
 * follows a synchronization error's "rejected connection from ", or, for
 * a bad EHLO, from "rejected EHLO from ": "name [ip]", "name (helo) [ip]",
 * "(helo) [ip]" or "[ip]", each maybe followed by ":port". Only those
 * fixed places: an "H=" anywhere else is in a quoted address or the reason.
 */
static void
client(const char *s, size_t len, struct mp_event *ev)
{
	const char *end = s + len, *v, *name = NULL, *addr = NULL, *p, *q;
	size_t nlen = 0, alen = 0;

	if (mp_has_prefix(s, len, LIT("H=")))
		v = s + 2;
	else if (mp_has_prefix(s, len, LIT("F=")) && (v = mp_find(s, len, LIT(" H="))) != NULL)
		v += 3;	/* local_scan's "F=<sender> H=..." */
	else if (mp_has_prefix(s, len, LIT("SMTP protocol synchronization error")) &&
	    (v = mp_find(s, len, LIT(": rejected connection from H="))) != NULL)
		v += sizeof(": rejected connection from H=") - 1;
	else if (mp_has_prefix(s, len, LIT("rejected ")) &&
	    (v = mp_find(s, len, LIT(" from "))) != NULL)
		v += 6;
	else
		return;
	if (v < end && *v != '(' && *v != '[') {
		name = v;
		p = mp_memchr(v, ' ', (size_t)(end - v));
		nlen = (size_t)((p != NULL ? p : end) - v);
		v = p != NULL ? p + 1 : end;
	}
	if (v < end && *v == '(') {
		p = mp_find(v, (size_t)(end - v), ") ", 2);
		v = p != NULL ? p + 2 : end;
	}
	if (v < end && *v == '[' &&
	    (q = mp_memchr(v + 1, ']', (size_t)(end - v - 1))) != NULL) {
		addr = v + 1;
		alen = (size_t)(q - addr);
	}
	mp_event_set_client(ev, name, nlen, addr, alen);
}

/*
 * A reject. r points at "rejected " (after an optional "temporarily ").
 * The stage word is not needed for the count; the client gives the
 * domain, and a callout's quoted reply the code.
 */
static int
rejected(const char *s, size_t len, const char *r, int temporary,
    struct mp_event *ev)
{
	const char *end = s + len, *p, *colon, *was;
	struct mp_enhanced enh;
	int code;

	ev->direction = MP_DIR_INBOUND;
	ev->outcome = temporary ? MP_OUTCOME_TEMP_REJECTED : MP_OUTCOME_REJECTED;
	p = r + sizeof("rejected ") - 1;
	colon = mp_find(p, (size_t)(end - p), ": ", 2);
	/* The client is named before the reason, which is free text. */
	client(s, (size_t)((colon != NULL ? colon : end) - s), ev);
	if (colon != NULL) {
		ev->reply = colon + 2;
		ev->reply_len = (size_t)(end - colon - 2);
		/* An ACL message may set the reply itself ("message = 550 5.7.1
		 * ..."), and a callout's reply is passed on. */
		was = mp_find(ev->reply, ev->reply_len, LIT(" was: "));
		if (mp_parse_reply_code(ev->reply, ev->reply_len) != 0)
			was = ev->reply;
		else if (was != NULL)
			was += sizeof(" was: ") - 1;
		if (was != NULL) {
			code = mp_reply_at(was, (size_t)(end - was), &enh);
			if (code != 0 && (code / 100 == 4) == temporary) {
				ev->code = (uint16_t)code;
				ev->enhanced = enh;
			}
		}
	}
	return mp_event_set_class(ev) == 0 ? 1 : -1;
}

/*
 * receive.c's verdict of local_scan() after DATA: "F=<sender> H=... [P=...]
 * [temporarily ]rejected by local_scan(): text". It starts with the sender,
 * not the client, so it is recognised by its whole marker.
 */
static int
local_scan_reject(const char *s, size_t len)
{
	const char *colon;

	/* The prefix first: this is asked of every line that is no
	 * delivery, and the search ran over each whole line before. */
	if (!mp_has_prefix(s, len, LIT("F=")))
		return 0;
	colon = mp_find(s, len, ": ", 2);
	return colon != NULL &&
	    mp_find(s, (size_t)(colon + 2 - s), LIT(" rejected by local_scan(): ")) != NULL;
}

/*
 * " rejected " or " temporarily rejected " in the host/sender part, that is
 * before the first ": " (which starts the reason, or in a host-level error
 * line the remote's text, where "rejected" may well appear).
 */
static const char *
reject_marker(const char *s, size_t len, int *temporary)
{
	const char *colon, *r;
	size_t lim;

	/* Exim's reject lines start with the client ("H=", "U=" for -bs) or,
	 * for a bad EHLO, with the verdict itself. */
	if (!mp_has_prefix(s, len, LIT("H=")) && !mp_has_prefix(s, len, LIT("U=")) &&
	    !mp_has_prefix(s, len, LIT("rejected ")) &&
	    !mp_has_prefix(s, len, LIT("SMTP protocol synchronization error")) &&
	    !local_scan_reject(s, len))
		return NULL;
	colon = mp_find(s, len, ": ", 2);
	lim = colon != NULL ? (size_t)(colon - s) : len;
	r = mp_find(s, lim, LIT(" rejected "));
	if (r == NULL && mp_has_prefix(s, lim, LIT("rejected ")))
		r = s - 1;
	if (r == NULL) {
		/* "SMTP protocol synchronization error (...): rejected
		 * connection from H=[ip] ...": Exim sends 554 and hangs up. */
		if (colon != NULL && mp_has_prefix(s, len,
		    LIT("SMTP protocol synchronization error")) &&
		    mp_has_prefix(colon + 2, (size_t)(s + len - colon - 2),
		    LIT("rejected ")))
			r = colon + 1;
		else
			return NULL;
	}
	*temporary = r - s >= 12 && memcmp(r - 12, " temporarily", 12) == 0;
	if (!*temporary && r - s == 11 && memcmp(s, "temporarily", 11) == 0)
		*temporary = 1;
	return r + 1;
}

/*
 * Operational ops (ops.h). Shapes from Exim's sources (smtp_in.c,
 * receive.c, daemon.c, tls-openssl.c, tls-gnu.c of 4.8x-4.98) and real
 * mainlogs; each is noted where it is read. None of these lines is a
 * status, so they never change what exim_parse returns.
 */

/* Where the fields Exim writes itself end: at the first of the free-text
 * fields that follow them (" S=" on "<=" lines, where the message-id and
 * subject come next; " C=\"" on deliveries). Fields are looked up in
 * s[0..that), so that a subject, a reply or a message-id cannot supply
 * one. */
static size_t
own_fields_len(const struct keys *k, enum ex_key stop)
{
	const char *p = key_at(k, k->len, stop);

	return p != NULL ? (size_t)(p - k->s) : k->len;
}

/*
 * X=TLS1.3:ECDHE_X25519__RSA_PSS_RSAE_SHA256__AES_256_GCM:256 (GnuTLS) or
 * X=TLSv1.2:ECDHE-RSA-AES256-GCM-SHA384:256 (OpenSSL): protocol, cipher,
 * bits. Trust from CV= (log_selector tls_certificate_verified, on by
 * default): "yes" the chain verified against a CA, "dane" against DANE
 * TLSA records, "no" not verified.
 *
 * Outbound, Exim checks the server's name as well as its chain
 * (tls_verify_cert_hostnames defaults to every host), so CV=yes is
 * verified; CV=no is untrusted (a server always presents a certificate);
 * no CV= at all is unknown (the selector is off).
 *
 * Inbound, Exim asks a client for a certificate only for hosts in
 * tls_verify_hosts or tls_try_verify_hosts, both unset by default, and it
 * checks a client certificate's chain, never its name (spec, "Encrypted
 * SMTP connections using TLS/SSL"): so CV=yes is trusted, not verified.
 * Without a DN= (log_selector tls_peerdn, the client's certificate
 * subject) no certificate was presented as far as the log tells, and CV=no
 * or no CV= is anonymous; with a DN=, CV=no is untrusted and no CV= is
 * unknown.
 */
static void
tls_op(const struct keys *k, size_t lim, enum mp_direction dir, struct mp_event *ev)
{
	const char *x, *c1, *c2, *cv, *dn;
	size_t xlen, cvlen, dnlen;
	enum mp_tls_trust trust;

	x = key_field(k, lim, EK_X, &xlen);
	if (x == NULL || (c1 = mp_memchr(x, ':', xlen)) == NULL)
		return;
	c2 = mp_memchr(c1 + 1, ':', (size_t)(x + xlen - c1 - 1));
	cv = key_field(k, lim, EK_CV, &cvlen);
	dn = key_field(k, lim, EK_DN, &dnlen);
	if (cv != NULL && cvlen == 4 && memcmp(cv, "dane", 4) == 0)
		trust = MP_TLST_VERIFIED;
	else if (cv != NULL && cvlen == 3 && memcmp(cv, "yes", 3) == 0)
		trust = dir == MP_DIR_OUTBOUND ? MP_TLST_VERIFIED : MP_TLST_TRUSTED;
	else if (cv != NULL && cvlen == 2 && memcmp(cv, "no", 2) == 0)
		trust = dir == MP_DIR_OUTBOUND || dn != NULL ? MP_TLST_UNTRUSTED :
		    MP_TLST_ANONYMOUS;
	else if (cv != NULL || dir == MP_DIR_OUTBOUND || dn != NULL)
		trust = MP_TLST_UNKNOWN;
	else
		trust = MP_TLST_ANONYMOUS;
	if (mp_event_add_op(ev, MP_OPF_TLS, dir,
	    mp_op_tls_protocol(x, (size_t)(c1 - x)), trust, 0) == 0 &&
	    c2 != NULL && c2 > c1 + 1) {
		ev->tls_cipher = c1 + 1;
		ev->tls_cipher_len = (size_t)(c2 - c1 - 1);
	}
}

/*
 * The ops of a "<=" line: the size (S=), TLS (X=), and, for a message
 * from an SMTP client (P=smtp, esmtp, esmtps, esmtpa, esmtpsa and their
 * utf8 variants: every P= holding "smtp", but not local-smtp and
 * local-esmtp, "exim -bs" from a local process), the SASL mechanism it
 * authenticated with. A= is "A=NAME[:ID]", NAME being the admin's name
 * for the authenticator instance (dovecot_plain, fixed_login, ...), not
 * its public_name: the log never states the mechanism, so an
 * authenticated client counts as unknown, and the ID (a user) is never
 * read. A content filter's hand-back (handed_back()) is no accepted
 * message.
 */
static void
arrival_ops(const struct keys *k, int hand_back, struct mp_event *ev)
{
	size_t lim = own_fields_len(k, EK_S), vlen, used;
	const char *v;
	double size;

	if ((v = key_field(k, k->len, EK_S, &vlen)) != NULL &&
	    (size = mp_decimal_at(v, vlen, &used)) >= 0 && used == vlen)
		mp_event_add_op(ev, MP_OPF_RCVD_SIZE, 0, 0, 0, size);
	tls_op(k, lim, MP_DIR_INBOUND, ev);
	if (hand_back)		/* accepted once already, when it first came in */
		return;
	if (key_field(k, lim, EK_A, &vlen) != NULL)
		mp_event_add_op(ev, MP_OPF_SMTPD_ACCEPTED, MP_SASL_UNKNOWN, 0, 0, 0);
	else if ((v = key_field(k, lim, EK_P, &vlen)) != NULL &&
	    mp_contains4(v, vlen, "smtp") &&
	    !mp_has_prefix(v, vlen, LIT("local")))
		mp_event_add_op(ev, MP_OPF_SMTPD_ACCEPTED, MP_SASL_NONE, 0, 0, 0);
}

/* Ports amavisd-new's re-injection listener and its kin are run on
 * (README.exim_v4_app_dual: daemon_smtp_ports = 25 : 10025). */
static int
filter_port(unsigned port)
{
	return (port >= 10024 && port <= 10030) || port == 11332;
}

/*
 * Whether a "<=" arrival (x: the text after "<=") is a content filter
 * handing a message back, which was counted when it first arrived. Only
 * a client on the loopback can be one, and Exim has no XFORWARD, so what
 * else the line says decides:
 *   A= (the client authenticated): webmail or an application on the mail
 *   host, which a filter never is: a receipt;
 *   I=[addr]:port (log_selector +incoming_interface): a re-injection port
 *   (10024-10030, 11332) is a hand-back, any other (25, 587) a receipt;
 *   neither: a hand-back, as the loopback address is all there is.
 */
static int
handed_back(const struct keys *k)
{
	const char *x = k->s;
	size_t xlen = k->len, lim = own_fields_len(k, EK_S), vlen;
	const char *h = mp_find(x, xlen, " [", 2), *close, *v;
	unsigned port = 0;

	if (h == NULL || mp_find(x, (size_t)(h - x), " H=", 3) == NULL ||
	    (close = mp_memchr(h + 2, ']', (size_t)(x + xlen - h - 2))) == NULL ||
	    !mp_is_loopback(h + 2, (size_t)(close - h - 2)))
		return 0;
	if (key_field(k, lim, EK_A, &vlen) != NULL)
		return 0;
	v = key_field(k, lim, EK_I, &vlen);
	if (v == NULL || (close = mp_memchr(v, ']', vlen)) == NULL ||
	    close + 1 >= v + vlen || close[1] != ':')
		return 1;
	for (const char *p = close + 2; p < v + vlen && *p >= '0' && *p <= '9' &&
	    port < 100000; p++)
		port = port * 10 + (unsigned)(*p - '0');
	return port == 0 || filter_port(port);
}

/* The text after the client's address in an "SMTP connection from ..."
 * line: past the last ']' (the client's own HELO name, in parentheses
 * before its address, is free text). */
static const char *
after_client(const char *s, size_t len)
{
	const char *p = memrchr(s, ']', len);

	return p != NULL ? p + 1 : s;
}

/*
 * "SMTP connection [Ci=N ]from ..." (smtp_get_connection_info() plus):
 *   "(TCP/IP connection count = N)"   daemon.c, log_selector smtp_connection
 *   "[D=5s ]closed by QUIT"           smtp_in.c, smtp_connection
 *   "lost while reading message data[ (header)]"  receive.c
 *   "lost[ D=5s]"                     smtp_in.c: gone between commands
 */
static void
connection_ops(const char *s, size_t len, struct mp_event *ev)
{
	const char *end = s + len, *t = after_client(s, len);
	size_t tlen = (size_t)(end - t);

	if (mp_find(t, tlen, LIT(" (TCP/IP connection count = ")) != NULL)
		mp_event_add_op(ev, MP_OPF_SMTPD_CONNECTS, 0, 0, 0, 0);
	else if (tlen >= 15 && memcmp(end - 15, " closed by QUIT", 15) == 0)
		mp_event_add_op(ev, MP_OPF_SMTPD_DISCONNECTS, MP_DISC_QUIT, 0, 0, 0);
	else if (mp_find(t, tlen, LIT(" lost while reading message data")) != NULL)
		mp_event_add_op(ev, MP_OPF_SMTPD_LOST, MP_CMD_DATA, 0, 0, 0);
	else if ((tlen >= 5 && memcmp(end - 5, " lost", 5) == 0) ||
	    mp_find(t, tlen, LIT(" lost D=")) != NULL)
		mp_event_add_op(ev, MP_OPF_SMTPD_LOST, MP_CMD_OTHER, 0, 0, 0);
}

/*
 * The ops of a line that is no delivery and no reject, after its message
 * id if it has one. Returns nothing: a line that is none of these shapes
 * adds no op.
 */
/* "connection from " or, with 4.98's log_selector +connection_id,
 * "connection Ci=N from ": the length of that prefix at s, or 0. */
static size_t
connection_from(const char *s, size_t len)
{
	size_t i = sizeof("connection ") - 1;

	if (!mp_has_prefix(s, len, LIT("connection ")))
		return 0;
	if (mp_has_prefix(s + i, len - i, LIT("Ci="))) {
		i += 3;
		while (i < len && s[i] >= '0' && s[i] <= '9')
			i++;
		if (i >= len || s[i] != ' ')
			return 0;
		i++;
	}
	return mp_has_prefix(s + i, len - i, LIT("from ")) ? i + 5 : 0;
}

static void
session_ops(const char *m, size_t n, struct mp_event *ev)
{
	const char *sp;

	if (mp_has_prefix(m, n, LIT("SMTP ")) && connection_from(m + 5, n - 5) != 0) {
		connection_ops(m, n, ev);
	} else if (mp_has_prefix(m, n, LIT("SMTP connection lost after final dot "))) {
		/* receive.c: the client went away before our reply to "." */
		mp_event_add_op(ev, MP_OPF_SMTPD_LOST, MP_CMD_END_OF_MESSAGE, 0, 0, 0);
	} else if (mp_has_prefix(m, n,
	    LIT("unexpected disconnection while reading SMTP command from "))) {
		/* smtp_in.c: EOF where a command was due */
		mp_event_add_op(ev, MP_OPF_SMTPD_LOST, MP_CMD_OTHER, 0, 0, 0);
	} else if (mp_has_prefix(m, n, LIT("SMTP command timeout on connection from ")) ||
	    mp_has_prefix(m, n, LIT("SMTP command timeout on TLS connection from "))) {
		/* smtp_in.c smtp_command_timeout_exit(): which command was
		 * due is not said */
		mp_event_add_op(ev, MP_OPF_SMTPD_TIMEOUTS, MP_CMD_OTHER, 0, 0, 0);
	} else if (mp_has_prefix(m, n,
	    LIT("SMTP data timeout (message abandoned) on connection from "))) {
		/* smtp_in.c smtp_data_timeout_exit(): inside DATA */
		mp_event_add_op(ev, MP_OPF_SMTPD_TIMEOUTS, MP_CMD_DATA, 0, 0, 0);
	} else if (mp_has_prefix(m, n, LIT("TLS error on ")) &&
	    connection_from(m + 13, n - 13) != 0) {
		/* tls-openssl.c/tls-gnu.c tls_error() as a server:
		 * "TLS error on connection from (helo) [ip] (recv): ..." */
		mp_event_add_op(ev, MP_OPF_TLS_FAILURES, MP_DIR_INBOUND, 0, 0, 0);
	} else if (mp_has_prefix(m, n, LIT("TLS error on connection to "))) {
		/* tls_error() as a client before 4.9x: "... to NAME [ip] (...)" */
		mp_event_add_op(ev, MP_OPF_TLS_FAILURES, MP_DIR_OUTBOUND, 0, 0, 0);
	} else if (mp_has_prefix(m, n, LIT("H=")) &&
	    (sp = mp_find(m, n, LIT("] TLS error on connection ("))) != NULL &&
	    mp_find(m, (size_t)(sp - m), ": ", 2) == NULL) {
		/* tls_error() as a client since 4.9x: "H=NAME [ip] TLS error
		 * on connection (recv): ..."; before any ": ", which would
		 * start a reject's or an error's free text. */
		mp_event_add_op(ev, MP_OPF_TLS_FAILURES, MP_DIR_OUTBOUND, 0, 0, 0);
	} else if ((sp = mp_memchr(m, ' ', n)) != NULL &&
	    mp_has_prefix(sp, (size_t)(m + n - sp), LIT(" authenticator failed for "))) {
		/* smtp_in.c: "NAME authenticator failed for HOST: 535
		 * Incorrect authentication data (set_id=USER)". NAME is the
		 * instance's, not the mechanism. */
		mp_event_add_op(ev, MP_OPF_SMTPD_AUTH_FAILURES, MP_SASL_UNKNOWN, 0, 0, 0);
	}
}

/*
 * log.c's write_syslog() sends a line longer than its MAX_SYSLOG_LEN, or
 * one holding a newline, as numbered parts: "[1\\3] first...", "[2\\3] ...".
 * The length of "[K\\N] " for part K of N, 0 when m starts otherwise.
 */
static size_t
syslog_part(const char *m, size_t n, unsigned *part)
{
	size_t i = 1;
	unsigned k = 0;

	if (n < 6 || m[0] != '[')
		return 0;
	while (i < n && i < 6 && m[i] >= '0' && m[i] <= '9')
		k = k * 10 + (unsigned)(m[i++] - '0');
	if (i == 1 || i >= n || m[i] != '\\')
		return 0;
	for (i++; i < n && i < 12 && m[i] >= '0' && m[i] <= '9'; i++)
		;
	if (i + 1 >= n || m[i] != ']' || m[i + 1] != ' ' || m[i - 1] == '\\')
		return 0;
	*part = k;
	return i + 2;
}

/* "=>", ">>", "->", "**", "==" or "<=": a line whose keys are indexed. */
static int
is_marker(const char *a)
{
	switch (a[0]) {
	case '=': return a[1] == '>' || a[1] == '=';
	case '>': return a[1] == '>';
	case '-': return a[1] == '>';
	case '*': return a[1] == '*';
	case '<': return a[1] == '=';
	default: return 0;
	}
}

static int
exim_parse(void *state, const struct mp_syslog *hdr, struct mp_event *ev)
{
	struct mp_syslog inner;
	const char *m = hdr->msg, *r;
	size_t n = hdr->msg_len, id, skip;
	unsigned part;
	int temporary;

	(void)state;
	if (m == NULL)
		return 0;
	/* A split line through syslog: the first part holds the marker and,
	 * nearly always, the code (a reply cut off at the split counts with
	 * code ""); the later parts are its tail, no line of their own. */
	if (hdr->kind != MP_HDR_EXIM && (skip = syslog_part(m, n, &part)) != 0) {
		if (part != 1)
			return 0;
		m += skip;
		n -= skip;
	}
	/* Through syslog, Exim still writes its own timestamp (and [pid])
	 * unless syslog_timestamp is off. */
	if (hdr->kind != MP_HDR_EXIM && n >= 20 && m[0] >= '0' && m[0] <= '9' &&
	    m[4] == '-' && m[10] == ' ') {
		mp_syslog_parse(m, n, &inner);
		if (inner.kind == MP_HDR_EXIM) {
			m = inner.msg;
			n = inner.msg_len;
		}
	}
	if (m == NULL || n == 0)
		return 0;
	id = message_id(m, n);
	if (id != 0) {
		const char *a = m + id + 1;
		size_t alen = n - id - 1;

		if (alen >= 3 && a[2] == ' ' && is_marker(a)) {
			const char *x = a + 3;
			size_t xlen = alen - 3;
			struct keys k;

			keys_index(&k, x, xlen);

			if (a[0] == '=' && a[1] == '>') {
				mp_event_add_op(ev, MP_OPF_EXIM_MESSAGES, MP_EXIM_DELIVERED, 0, 0, 0);
				tls_op(&k, own_fields_len(&k, EK_C), MP_DIR_OUTBOUND, ev);
				return delivered(&k, ev);
			}
			if (a[0] == '>' && a[1] == '>') {
				mp_event_add_op(ev, MP_OPF_EXIM_MESSAGES, MP_EXIM_CUTTHROUGH, 0, 0, 0);
				tls_op(&k, own_fields_len(&k, EK_C), MP_DIR_OUTBOUND, ev);
				return delivered(&k, ev);
			}
			/* "->" is another recipient of the "=>" before it, over
			 * the same connection: its X= is that session's again,
			 * so it is no new TLS session. */
			if (a[0] == '-' && a[1] == '>') {
				mp_event_add_op(ev, MP_OPF_EXIM_MESSAGES, MP_EXIM_ADDITIONAL, 0, 0, 0);
				return delivered(&k, ev);
			}
			if (a[0] == '*' && a[1] == '*') {
				mp_event_add_op(ev, MP_OPF_EXIM_MESSAGES, MP_EXIM_FAILED, 0, 0, 0);
				return failed(&k, MP_OUTCOME_BOUNCED, ev);
			}
			if (a[0] == '=' && a[1] == '=') {
				mp_event_add_op(ev, MP_OPF_EXIM_MESSAGES, MP_EXIM_DEFERRED, 0, 0, 0);
				return failed(&k, MP_OUTCOME_DEFERRED, ev);
			}
			if (a[0] == '<' && a[1] == '=') {
				mp_event_add_op(ev, MP_OPF_EXIM_MESSAGES, MP_EXIM_ARRIVED, 0, 0, 0);
				int back = handed_back(&k);

				arrival_ops(&k, back, ev);
				ev->kind = MP_EVENT_RECEIVED;
				ev->direction = MP_DIR_INBOUND;
				if (back)
					ev->destination = MP_DEST_FILTER;
				return 1;
			}
		}
		/* "MSGID Completed" (deliver.c; "Completed QT=2s" with
		 * +queue_time_overall) */
		if (mp_has_prefix(a, alen, LIT("Completed")) &&
		    (alen == 9 || a[9] == ' ')) {
			mp_event_add_op(ev, MP_OPF_EXIM_MESSAGES, MP_EXIM_COMPLETED, 0, 0, 0);
			return 0;
		}
		m = a;
		n = alen;
	}
	r = reject_marker(m, n, &temporary);
	if (r != NULL)
		return rejected(m, n, r, temporary, ev);
	session_ops(m, n, ev);
	return 0;
}

/* Ours: Exim's own mainlog header, or an "exim"/"exim4" syslog tag. */
static enum mp_claim
exim_claims(const struct mp_syslog *hdr)
{
	if (hdr->kind == MP_HDR_EXIM)
		return MP_CLAIM_YES;
	if (hdr->tag == NULL)
		return MP_CLAIM_MAYBE;
	if ((hdr->tag_len == 4 && memcmp(hdr->tag, "exim", 4) == 0) ||
	    (hdr->tag_len == 5 && memcmp(hdr->tag, "exim4", 5) == 0))
		return MP_CLAIM_YES;
	return MP_CLAIM_NO;
}

#ifdef MP_EXIM_REFERENCE
#define mp_parser_exim mp_parser_exim_reference
#endif
const struct mp_parser mp_parser_exim = {
	.name = "exim",
	.mta = MP_MTA_EXIM,
	/* No init/fini: the scanners above need no compiled state. */
	.claims = exim_claims,
	.parse = exim_parse,
};
