/*
 * sendmail.c - Sendmail delivery results and rejects ("sm-mta[pid]:",
 * "sendmail[pid]:", "sm-msp-queue[pid]:").
 *
 * What counts, one event per line:
 *   QID: to=<a>[,<b>...], ..., mailer=M, ..., relay=R, dsn=X.Y.Z,
 *	[reply=CODE text, ]stat=Sent (...)|Deferred[: text]|TEXT
 *	one delivery attempt, however many recipients it names;
 *   QID|NOQUEUE: ruleset=check_*, arg1=..., relay=..., reject=CODE X.Y.Z text
 *   QID: Milter: ..., reject=CODE X.Y.Z text
 *	our reply to a client (inbound);
 *   QID: <rcpt>... TEXT
 *	our refusal of a recipient at RCPT ("User unknown", "No such user
 *	here", ...): the log states no code (see refusal()).
 * A reject's domain is the client's, from relay=: "name [ip]" gives the
 * name (which Sendmail looked up), "[ip]" the address. Milter and
 * "<rcpt>..." refusal lines name no client.
 * "QID: from=<s>, size=N, ..., nrcpts=N, ..." is a receipt
 * (MP_EVENT_RECEIVED) unless nrcpts=0: then every recipient was refused,
 * and those refusals were counted already.
 *
 * Codes: reply= (newer Sendmail releases: the first line of the remote
 * reply) is taken first; without it only "stat=Deferred: 451 4.3.0 ..."
 * quotes one. "stat=Sent (text)" carries the remote's text without its code, so a sent
 * line without reply= has code "" - we never invent the 250. enhanced is
 * dsn= when present. stat= is the last field and is often cut off by the
 * syslog line limit, so an unrecognised stat text takes its outcome from
 * dsn= before it is read as a failure.
 *
 * Not counted: "DSN: ..." and "postmaster notify: ..." (the bounce for a
 * result already counted), "stat=queued" (not an attempt), STARTTLS, AUTH,
 * lost input channel, did not issue MAIL/EXPN/VRFY/ETRN, SYSERR; several of
 * those report operational ops instead (ops.h; see session_ops).
 */
#include "parsers/find.h"
#include "parsers/parser.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LIT(s) (s), (sizeof(s) - 1)

/* The first ", " in [p, end), or NULL: mp_find(p, end - p, ", ", 2)
 * without its general set-up. (Eight bytes at a time with word masks
 * took more instructions than memchr here: fields are 10 to 30 bytes.) */
static const char *
comma_space(const char *p, const char *end)
{
	const char *c;

	while (p < end && (c = mp_memchr(p, ',', (size_t)(end - p))) != NULL) {
		if (end - c >= 2 && c[1] == ' ')
			return c;
		p = c + 1;
	}
	return NULL;
}

/* The value of "KEY=" at the start of s or after ", ", up to the next
 * ", " (or the end); NULL if the field is not there. A delivery line asks
 * for seven keys over about ten fields, and a memcmp call on every field
 * was a tenth of the Sendmail parser (callgrind): comparing the first
 * byte inline first skips the calls that cannot match (klen is at least
 * one, and the length check before it keeps p[0] inside s). */
static const char *
field(const char *s, size_t len, const char *key, size_t klen, size_t *vlen)
{
	const char *end = s + len, *p = s, *c;

	while (p < end) {
		if ((size_t)(end - p) >= klen && p[0] == key[0] && memcmp(p, key, klen) == 0 &&
		    (p == s || (p - s >= 2 && p[-2] == ',' && p[-1] == ' '))) {
			p += klen;
			c = comma_space(p, end);
			*vlen = (size_t)((c != NULL ? c : end) - p);
			return p;
		}
		c = comma_space(p, end);
		if (c == NULL)
			break;
		p = c + 2;
	}
	return NULL;
}

/*
 * One pass over a message finds where each of its ", "-separated fields
 * starts; the parsers then read every key from this index instead of
 * walking the line once per key with field() (a delivery line asks for
 * seven keys: that walk was a quarter of a Sendmail line's instructions,
 * callgrind, issue 20). Why the answers are field()'s exactly:
 *   - field() walks the same split: fields start at s and two bytes after
 *     each ", ", and ", " occurrences cannot overlap (", " at i needs
 *     s[i + 1] == ' ', at i + 1 needs s[i + 1] == ','), so every one is a
 *     separator and the split is unique;
 *   - a key matches at a field's start, and its value runs to the first
 *     ", " after the key: no key contains ',', so no ", " starts inside
 *     the key and that is the field's end;
 *   - field() wants the key's bytes inside the slice; inside the field is
 *     the same, since bytes past a field's end are ", " and no key
 *     contains them.
 * The pass notes, for each key the parsers read, the first field starting
 * with it (classify). At most SM_FIELDS fields are indexed; a line with
 * more (never written by Sendmail, but input is hostile) is read past the
 * index by field() from the first field not indexed, which is where
 * field() would be by then.
 * MP_SENDMAIL_REFERENCE builds the index empty, so every lookup is
 * field()'s walk from the start: tests/test_sendmail_fields.c compiles this
 * file so and compares both on every golden line, every prefix of it and
 * random lines.
 */
#define SM_FIELDS 32

/* The keys the parsers read; keys[] holds their text. */
enum sm_key {
	K_TO, K_DSN, K_DELAY, K_XDELAY, K_REPLY, K_MAILER, K_RELAY, K_NRCPTS,
	K_SIZE, K_VERSION, K_CIPHER, K_VERIFY, K_COUNT
};
_Static_assert(K_COUNT <= 32, "a bit per key in fields.found");

static const struct { const char *s; size_t n; } keys[K_COUNT] = {
	[K_TO] = { LIT("to=") }, [K_DSN] = { LIT("dsn=") },
	[K_DELAY] = { LIT("delay=") }, [K_XDELAY] = { LIT("xdelay=") },
	[K_REPLY] = { LIT("reply=") }, [K_MAILER] = { LIT("mailer=") },
	[K_RELAY] = { LIT("relay=") }, [K_NRCPTS] = { LIT("nrcpts=") },
	[K_SIZE] = { LIT("size=") }, [K_VERSION] = { LIT("version=") },
	[K_CIPHER] = { LIT("cipher=") }, [K_VERIFY] = { LIT("verify=") },
};

struct fields {
	const char *s;
	size_t len;
	size_t n;	/* fields indexed */
	int whole;	/* all of [s, s + len) is indexed */
	/* bit k: key[k] and key_end[k] are set. One word is cleared per
	 * line, where clearing key[] compiled to a rep stos (its start-up is
	 * dear on short stores; the same in exim.c's keys, round 10). */
	uint32_t found;
	/* where the first field starting with each key starts, + 1 */
	size_t key[K_COUNT];
	/* ... and where that field ends */
	size_t key_end[K_COUNT];
	/* where the first field not indexed starts (without whole) */
	size_t rest;
};

#ifndef MP_SENDMAIL_REFERENCE
/* Note field [at, at + flen) of f->s under the key it starts with, if it
 * is one of keys[] and the first with it: one switch on the first byte,
 * then one compare of a constant length, which the compiler inlines (a
 * memcmp call per field was a third of the pass, callgrind). */
static void
classify(struct fields *f, size_t at, size_t flen)
{
	const char *p = f->s + at;
	int k = -1;

#define IS(lit) (flen >= sizeof(lit) - 1 && memcmp(p, lit, sizeof(lit) - 1) == 0)
	switch (p[0]) {
	case 't': k = IS("to=") ? K_TO : -1; break;
	case 'd': k = IS("dsn=") ? K_DSN : IS("delay=") ? K_DELAY : -1; break;
	case 'x': k = IS("xdelay=") ? K_XDELAY : -1; break;
	case 'r': k = IS("relay=") ? K_RELAY : IS("reply=") ? K_REPLY : -1; break;
	case 'm': k = IS("mailer=") ? K_MAILER : -1; break;
	case 'n': k = IS("nrcpts=") ? K_NRCPTS : -1; break;
	case 's': k = IS("size=") ? K_SIZE : -1; break;
	case 'v': k = IS("version=") ? K_VERSION : IS("verify=") ? K_VERIFY : -1; break;
	case 'c': k = IS("cipher=") ? K_CIPHER : -1; break;
	default: break;
	}
#undef IS
	if (k >= 0 && !(f->found >> k & 1)) {
		f->found |= (uint32_t)1 << k;
		f->key[k] = at + 1;
		f->key_end[k] = at + flen;
	}
}
#endif

/*
 * Index the fields of [s, s + len). With stop, indexing ends at the first
 * field after the first that starts with it (stat=, which is last and free
 * text): its number is returned, and f then holds the fields before it as
 * a whole slice ending at its ", ". Returns -1 if there is no such field
 * among those indexed (or stop is NULL).
 */
static long
index_fields(struct fields *f, const char *s, size_t len, const char *stop, size_t slen)
{
	f->s = s;
	f->len = len;
	f->n = 0;
	f->whole = 0;
	f->rest = 0;
	f->found = 0;
#ifdef MP_SENDMAIL_REFERENCE
	(void)stop, (void)slen;
	return -1;
#else
	const char *end = s + len, *p = s, *c;
	struct mp_byte_iter comma;

	/*
	 * The commas in order (find.h) instead of a memchr per comma. Each
	 * ", " found is comma_space(p, end) for the field start p before it:
	 * p is s or two bytes past the previous ", ", whose second byte is a
	 * space, so the iterator is never behind p.
	 */
	mp_byte_iter_init(&comma, s, len, ',');
	for (;;) {
		if (f->n > 0 && stop != NULL && (size_t)(end - p) >= slen &&
		    p[0] == stop[0] && memcmp(p, stop, slen) == 0) {
			f->len = (size_t)(p - s) - 2;
			f->whole = 1;
			return (long)f->n;
		}
		if (f->n == SM_FIELDS) {
			f->rest = (size_t)(p - s);
			return -1;
		}
		while ((c = mp_byte_next(&comma)) != NULL && !(end - c >= 2 && c[1] == ' '))
			;
		if (p < end)
			classify(f, (size_t)(p - s), (size_t)((c != NULL ? c : end) - p));
		f->n++;
		if (c == NULL) {
			f->whole = 1;
			return -1;
		}
		p = c + 2;
	}
#endif
}

/* field() on the indexed slice. */
static const char *
get(const struct fields *f, enum sm_key k, size_t *vlen)
{
	if (f->found >> k & 1) {
		*vlen = f->key_end[k] - (f->key[k] - 1) - keys[k].n;
		return f->s + f->key[k] - 1 + keys[k].n;
	}
	if (f->whole)
		return NULL;
	return field(f->s + f->rest, f->len - f->rest, keys[k].s, keys[k].n, vlen);
}

/* "HH:MM:SS" or "D+HH:MM:SS", in seconds; -1 if malformed. */
static double
hms(const char *s, size_t len)
{
	double days = 0, v[3];
	size_t i = 0, used;
	const char *plus;

#ifndef MP_SENDMAIL_REFERENCE
	/* "HH:MM:SS" exactly, as nearly every delay= and xdelay= is: read
	 * directly. The general path below took a memchr and three
	 * mp_decimal_at calls, 250 instructions a field (callgrind). With
	 * eight bytes that are six digits and two colons there is no '+'
	 * and no fraction, so both give the same integer seconds, exactly
	 * (test_sendmail_fields compares them on every byte at every
	 * place). */
	if (len == 8 && s[2] == ':' && s[5] == ':') {
		unsigned d[6] = {
			(unsigned)(unsigned char)s[0] - '0', (unsigned)(unsigned char)s[1] - '0',
			(unsigned)(unsigned char)s[3] - '0', (unsigned)(unsigned char)s[4] - '0',
			(unsigned)(unsigned char)s[6] - '0', (unsigned)(unsigned char)s[7] - '0',
		};

		if (d[0] <= 9 && d[1] <= 9 && d[2] <= 9 && d[3] <= 9 && d[4] <= 9 && d[5] <= 9)
			return (double)((d[0] * 10 + d[1]) * 3600 + (d[2] * 10 + d[3]) * 60 +
			    d[4] * 10 + d[5]);
	}
#endif
	plus = mp_memchr(s, '+', len);
	if (plus != NULL) {
		days = mp_decimal_at(s, (size_t)(plus - s), &used);
		if (days < 0 || used != (size_t)(plus - s))
			return -1;
		i = (size_t)(plus - s) + 1;
	}
	for (int k = 0; k < 3; k++) {
		v[k] = mp_decimal_at(s + i, len - i, &used);
		if (v[k] < 0 || used == 0)
			return -1;
		i += used;
		if (k < 2) {
			if (i >= len || s[i] != ':')
				return -1;
			i++;
		}
	}
	return days * 86400 + v[0] * 3600 + v[1] * 60 + v[2];
}

/* mailer= and relay=: where the attempt went. */
static enum mp_destination
destination(const struct fields *f)
{
	static const struct { const char *s; size_t n; } local[] = {
		{ LIT("local") }, { LIT("prog") }, { LIT("lmtp") }, { LIT("cyrus") },
		{ LIT("procmail") }, { LIT("maildrop") }, { LIT("mailbox") },
		{ LIT("*file*") }, { LIT("*include*") }, { LIT("dovecot") },
	};
	const char *mailer, *relay, *br, *close;
	size_t mlen, rlen;

	mailer = get(f, K_MAILER, &mlen);
	if (mailer == NULL)
		return MP_DEST_NONE;
	for (size_t i = 0; i < sizeof local / sizeof local[0]; i++)
		if (mp_find(mailer, mlen, local[i].s, local[i].n) != NULL)
			return MP_DEST_LOCAL;
	relay = get(f, K_RELAY, &rlen);
	if (relay != NULL) {
		/* "relay=localhost [127.0.0.1]" or "relay=[127.0.0.1] [127.0.0.1]" */
		br = mp_memchr(relay, '[', rlen);
		if (br != NULL) {
			close = mp_memchr(br, ']', (size_t)(relay + rlen - br));
			if (close != NULL && mp_is_loopback(br + 1,
			    (size_t)(close - br - 1)))
				return MP_DEST_FILTER;
		}
		if (rlen >= 9 && strncmp(relay, "localhost", 9) == 0)
			return MP_DEST_FILTER;
	}
	return MP_DEST_REMOTE;
}

/* The first recipient of "to=<a@b>,<c@d>" or "to=a@b,c@d". */
static void
first_recipient(const char *v, size_t vlen, struct mp_event *ev)
{
	const char *comma = mp_memchr(v, ',', vlen), *a = v;
	size_t n = comma != NULL ? (size_t)(comma - v) : vlen;

	if (n > 0 && a[0] == '<') {
		a++;
		n--;
		if (n > 0 && a[n - 1] == '>')
			n--;
	}
	mp_event_set_domain(ev, a, n);
}

/*
 * A deferral of a host this process already found failed: deliver.c's
 * mci_get() returns the cached status (Sendmail's host status cache, in
 * the process for a queue run, and on disk with HostStatusDirectory), and
 * the host is skipped without connecting. The log then repeats the cached
 * error, but logdelivery() has no connected address to add to relay=: the
 * real attempt logs "relay=mx.example.org. [192.0.2.25]" (or "[127.0.0.2]
 * [127.0.0.2]" for a literal), the skip "relay=mx.example.org." alone, as
 * the real sendmail 8.17 writes in tests/e2e/test_sendmail.py. A DNS
 * failure names no address either, so only a connection-level error, which
 * a real attempt always logs with its address, is taken for a skip: s is
 * the fields before stat=, st the stat text.
 */
static int
skipped_host(const struct fields *f, const char *st, size_t slen)
{
	static const struct { const char *s; size_t n; } errs[] = {
		{ LIT("Deferred: Connection refused by ") },
		{ LIT("Deferred: Connection reset by ") },
		{ LIT("Deferred: Connection timed out with ") },
	};
	const char *relay;
	size_t rlen;
	int conn = 0;

	for (size_t i = 0; i < sizeof errs / sizeof errs[0]; i++)
		if (mp_has_prefix(st, slen, errs[i].s, errs[i].n))
			conn = 1;
	if (!conn || (relay = get(f, K_RELAY, &rlen)) == NULL || rlen == 0)
		return 0;
	return mp_find(relay, rlen, " [", 2) == NULL;
}

static int
delivery(const char *s, size_t len, struct mp_event *ev)
{
	const char *end = s + len, *stat, *v, *st;
	size_t vlen, slen;
	struct mp_enhanced dsn = { 0, 0, 0 }, enh = { 0, 0, 0 };
	int code = 0;
	struct fields f;
	long i;

	/* The fields before stat=, which is last and free text. The first
	 * ", stat=" is the first field after the first that starts with
	 * "stat=", since every ", " ends a field (index_fields). */
	i = index_fields(&f, s, len, LIT("stat="));
	if (i > 0) {
		stat = s + f.len;
	} else {
		if (f.whole)
			return -1;
		/* More fields than the index holds before stat=, or the
		 * reference build: the plain walk. */
		stat = mp_find(s, len, LIT(", stat="));
		if (stat == NULL)
			return -1;
		f.len = (size_t)(stat - s);
		f.whole = 0;
		f.rest = 0;
		f.found = 0;
	}
	st = stat + 7;
	slen = (size_t)(end - st);
	len = (size_t)(stat - s);

	if ((v = get(&f, K_TO, &vlen)) != NULL)
		first_recipient(v, vlen, ev);
	if ((v = get(&f, K_DSN, &vlen)) != NULL &&
	    mp_parse_enhanced(v, vlen, &dsn) != vlen)
		dsn.cls = 0;
	if ((v = get(&f, K_DELAY, &vlen)) != NULL)
		ev->delay = hms(v, vlen);
	if ((v = get(&f, K_XDELAY, &vlen)) != NULL)
		ev->delay_stage[MP_STAGE_DELIVERY] = hms(v, vlen);
	/* reply= runs up to ", stat=": its text may hold commas. */
	if ((v = get(&f, K_REPLY, &vlen)) != NULL) {
		vlen = (size_t)(s + len - v);
		code = mp_reply_at(v, vlen, &enh);
		ev->reply = v;
		ev->reply_len = vlen;
	}

	if (mp_has_prefix(st, slen, LIT("queued")))
		return 0;
	if (mp_has_prefix(st, slen, LIT("Sent"))) {
		ev->outcome = MP_OUTCOME_SENT;
	} else if (mp_has_prefix(st, slen, LIT("Deferred"))) {
		ev->outcome = MP_OUTCOME_DEFERRED;
		if (code == 0 && mp_has_prefix(st, slen, LIT("Deferred: "))) {
			code = mp_reply_at(st + 10, slen - 10, &enh);
			if (code != 0) {
				ev->reply = st + 10;
				ev->reply_len = slen - 10;
			}
		}
	} else if (mp_has_prefix(st, slen, LIT("Cannot send message for "))) {
		ev->outcome = MP_OUTCOME_EXPIRED;
	} else if (dsn.cls == 2) {
		ev->outcome = MP_OUTCOME_SENT;
	} else if (dsn.cls == 4) {
		ev->outcome = MP_OUTCOME_DEFERRED;
	} else if (dsn.cls == 5 || slen >= 8) {
		/* "User unknown", "Service unavailable", "Host unknown ..." */
		ev->outcome = MP_OUTCOME_BOUNCED;
	} else {
		return -1;	/* a stat= cut off too short to read */
	}
	if (ev->reply == NULL) {
		ev->reply = st;
		ev->reply_len = slen;
		/* "Sent (text)": the remote's text, without its code */
		if (slen > 6 && mp_has_prefix(st, slen, LIT("Sent ("))) {
			ev->reply = st + 6;
			ev->reply_len = slen - 6;
			if (st[slen - 1] == ')')
				ev->reply_len--;
		}
	}
	ev->code = (uint16_t)code;
	ev->enhanced = dsn.cls != 0 ? dsn : (code != 0 ? enh : dsn);
	ev->direction = MP_DIR_OUTBOUND;
	ev->destination = destination(&f);
	if (ev->outcome == MP_OUTCOME_DEFERRED && code == 0 && skipped_host(&f, st, slen))
		ev->not_attempted = 1;
	return mp_event_set_class(ev) == 0 ? 1 : -1;
}

/* Does a refusal's text say it is temporary? Sendmail's own 4xx texts
 * ("Deferred: ...", "... temporarily unavailable", "try again later",
 * "Temporary lookup failure") all say so; the comparison ignores case. */
static int
temporary_text(const char *t, size_t len)
{
	static const char *const words[] = { "deferred", "temporar", "try again" };

	for (size_t w = 0; w < sizeof words / sizeof words[0]; w++) {
		size_t wl = strlen(words[w]);

		for (size_t i = 0; i + wl <= len; i++) {
			size_t k = 0;

			while (k < wl && (t[i + k] | 0x20) == words[w][k])
				k++;
			if (k == wl)
				return 1;
		}
	}
	return 0;
}

/* The client in a reject's relay=: "[ident@]name [ip][ (may be
 * forged)]" or "[ip]". */
static void
client(const char *s, size_t len, struct mp_event *ev)
{
	const char *v, *end, *p, *at, *name = NULL, *addr = NULL;
	size_t vlen, nlen = 0, alen = 0;

	if ((v = field(s, len, LIT("relay="), &vlen)) == NULL)
		return;
	end = v + vlen;
	p = mp_memchr(v, ' ', vlen);
	if ((at = mp_memchr(v, '@', (size_t)((p != NULL ? p : end) - v))) != NULL)
		v = at + 1;
	if (v < end && *v != '[') {
		name = v;
		nlen = (size_t)((p != NULL ? p : end) - v);
		v = p != NULL ? p + 1 : end;
	}
	if (v < end && *v == '[' &&
	    (p = mp_memchr(v + 1, ']', (size_t)(end - v - 1))) != NULL) {
		addr = v + 1;
		alen = (size_t)(p - addr);
	}
	mp_event_set_client(ev, name, nlen, addr, alen);
}

/* "... reject=550 5.7.1 <x>... Relaying denied": our reply, quoted. */
static int
reject(const char *s, size_t len, const char *r, struct mp_event *ev)
{
	const char *end = s + len;
	size_t rlen = (size_t)(end - r);
	int code;

	code = mp_reply_at(r, rlen, &ev->enhanced);
	if (code == 0)
		return -1;
	ev->code = (uint16_t)code;
	ev->direction = MP_DIR_INBOUND;
	ev->outcome = code / 100 == 4 ? MP_OUTCOME_TEMP_REJECTED :
	    MP_OUTCOME_REJECTED;
	ev->reply = r;
	ev->reply_len = rlen;
	/* relay= comes before reject=, whose text is the client's to fill. */
	client(s, (size_t)(r - s), ev);
	return mp_event_set_class(ev) == 0 ? 1 : -1;
}

/*
 * "QID: <addr>... TEXT": err.c's usrerr() while LogUsrErrs is set, which
 * srvrsmtp.c sets for RCPT (and for the argv recipients of a command-line
 * submission): our refusal of that recipient, whatever TEXT says ("User
 * unknown", "No such user here" from a virtusertable error:nouser,
 * "Cannot mail directly to programs", an aliasing loop ...). usrerr logs
 * the text without the reply code it sent (errtxt), so the code and
 * enhanced code are ""; the class is 5xx, or 4xx when the text says the
 * refusal is temporary, as the texts of 4xx replies do. A ruleset's
 * refusal (check_rcpt) is logged as "ruleset=..., reject=CODE ..."
 * instead and counted there; at delivery time LogUsrErrs is off, so a
 * queue run logs no line of this form. Anything that is not "<addr>...
 * TEXT" with some TEXT is not one.
 */
static int
refusal(const char *s, size_t len, struct mp_event *ev)
{
	const char *end = s + len, *gt = mp_find(s, len, ">... ", 5), *t;
	size_t tlen;

	if (gt == NULL)
		return 0;
	t = gt + 5;
	tlen = (size_t)(end - t);
	if (tlen == 0)
		return 0;
	ev->direction = MP_DIR_INBOUND;
	ev->outcome = temporary_text(t, tlen) ? MP_OUTCOME_TEMP_REJECTED :
	    MP_OUTCOME_REJECTED;
	ev->reply = t;
	ev->reply_len = tlen;
	return mp_event_set_class(ev) == 0 ? 1 : -1;
}

/* "from=<s>, size=N, class=C, nrcpts=N, ...": a receipt, unless no
 * recipient was accepted. A client on the loopback is the submission
 * program (MSP, submit.cf's FEATURE(msp, [127.0.0.1])) relaying a message
 * whose own from= line ("relay=user@localhost") was counted already:
 * marked MP_DEST_FILTER. Sendmail's from= line states neither
 * authentication nor an original queue ID, and the daemon= name does not
 * tell either (real logs show the MSP's relay at daemon=MTA-v4 and at
 * Debian's submission daemon, MSP-v4), so an SMTP submission by webmail
 * over the loopback cannot be told from it and is not counted. */
static int
received(const char *s, size_t len, struct mp_event *ev)
{
	const char *v, *relay, *br, *close, *size;
	size_t vlen, rlen, slen, used;
	double n;
	struct fields f;

	index_fields(&f, s, len, NULL, 0);
	v = get(&f, K_NRCPTS, &vlen);
	if (v == NULL || (vlen == 1 && v[0] == '0'))
		return 0;
	ev->kind = MP_EVENT_RECEIVED;
	ev->direction = MP_DIR_INBOUND;
	if ((size = get(&f, K_SIZE, &slen)) != NULL &&
	    (n = mp_decimal_at(size, slen, &used)) >= 0 && used == slen)
		mp_event_add_op(ev, MP_OPF_RCVD_SIZE, 0, 0, 0, n);
	if ((n = mp_decimal_at(v, vlen, &used)) >= 0 && used == vlen)
		mp_event_add_op(ev, MP_OPF_RCVD_RCPTS, 0, 0, 0, n);
	relay = get(&f, K_RELAY, &rlen);
	if (relay != NULL && (br = mp_memchr(relay, '[', rlen)) != NULL &&
	    (close = mp_memchr(br, ']', (size_t)(relay + rlen - br))) != NULL &&
	    mp_is_loopback(br + 1, (size_t)(close - br - 1)))
		ev->destination = MP_DEST_FILTER;
	return 1;
}

/*
 * Operational ops (ops.h), from the sm_syslog() calls of srvrsmtp.c,
 * collect.c and tls.c/sm_tls.c (8.12-8.18); none of these lines is a
 * status, so they never change what sendmail_parse returns.
 */

static int
has_suffix(const char *s, size_t len, const char *x, size_t xlen)
{
	return len >= xlen && memcmp(s + len - xlen, x, xlen) == 0;
}

/*
 * ${verify} (op.me, "tls_version, cipher, ... verify"; cf/README,
 * "STARTTLS"), onto ops.h's trust levels:
 *   OK        the peer's certificate chain verified. Sendmail checks no
 *             name against it (that is left to rulesets on
 *             ${cn_subject}), so it is trusted, not verified;
 *   FAIL      a certificate was presented and did not verify: untrusted;
 *   NO        no certificate was presented, NOT none was asked for,
 *   NONE      STARTTLS was not performed: anonymous, all three;
 *   TEMP, PROTOCOL, SOFTWARE  a temporary, protocol or handshake error,
 *             and any word newer releases add: unknown.
 */
static enum mp_tls_trust
verify_trust(const char *v, size_t n)
{
	if (n == 2 && memcmp(v, "OK", 2) == 0)
		return MP_TLST_TRUSTED;
	if (n == 4 && memcmp(v, "FAIL", 4) == 0)
		return MP_TLST_UNTRUSTED;
	if ((n == 2 && memcmp(v, "NO", 2) == 0) ||
	    (n == 3 && memcmp(v, "NOT", 3) == 0) ||
	    (n == 4 && memcmp(v, "NONE", 4) == 0))
		return MP_TLST_ANONYMOUS;
	return MP_TLST_UNKNOWN;
}

/*
 * tls.c: "STARTTLS=server|client, relay=R, version=V, verify=X,
 * cipher=C, bits=N/M" for a session set up, and "STARTTLS=server, error:
 * accept failed=..." / "STARTTLS=client, error: connect failed=..." for a
 * handshake that failed. s starts after "STARTTLS=".
 */
static void
starttls_ops(const char *s, size_t len, struct mp_event *ev)
{
	enum mp_direction dir;
	const char *v, *cipher, *verify;
	size_t vlen, clen, verlen;
	enum mp_tls_trust trust;
	struct fields f;

	if (mp_has_prefix(s, len, LIT("server, ")))
		dir = MP_DIR_INBOUND;
	else if (mp_has_prefix(s, len, LIT("client, ")))
		dir = MP_DIR_OUTBOUND;
	else
		return;
	s += 8;
	len -= 8;
	if (mp_has_prefix(s, len, LIT("error: accept failed=")) ||
	    mp_has_prefix(s, len, LIT("error: connect failed="))) {
		mp_event_add_op(ev, MP_OPF_TLS_FAILURES, dir, 0, 0, 0);
		return;
	}
	if (!mp_has_prefix(s, len, LIT("relay=")))
		return;
	index_fields(&f, s, len, NULL, 0);
	if ((v = get(&f, K_VERSION, &vlen)) == NULL)
		return;
	cipher = get(&f, K_CIPHER, &clen);
	verify = get(&f, K_VERIFY, &verlen);
	trust = verify != NULL ? verify_trust(verify, verlen) : MP_TLST_UNKNOWN;
	if (mp_event_add_op(ev, MP_OPF_TLS, dir, mp_op_tls_protocol(v, vlen),
	    trust, 0) == 0 && cipher != NULL && clen > 0) {
		ev->tls_cipher = cipher;
		ev->tls_cipher_len = clen;
	}
}

/*
 * srvrsmtp.c: "lost input channel from CLIENT to DAEMON after CMD", CMD
 * being the command table's lower-case name of the last command, or
 * "startup" before any (the client went away at the greeting, Postfix's
 * "after CONNECT").
 */
static void
lost_ops(const char *s, size_t len, struct mp_event *ev)
{
	const char *end = s + len, *a = NULL, *p;
	enum mp_cmd stage;

	for (p = s; (p = mp_find(p, (size_t)(end - p), LIT(" after "))) != NULL; p++)
		a = p + 7;
	if (a == NULL)
		return;
	if ((size_t)(end - a) == 7 && memcmp(a, "startup", 7) == 0)
		stage = MP_CMD_CONNECT;
	else
		stage = mp_op_cmd(a, (size_t)(end - a));
	mp_event_add_op(ev, MP_OPF_SMTPD_LOST, stage, 0, 0, 0);
}

/*
 * The lines about a client's session, after the queue id if there is one:
 *   STARTTLS=...                                  tls.c, see starttls_ops
 *   AUTH failure (MECH): text (code) detail[, relay=R]  srvrsmtp.c
 *   lost input channel from C to D after CMD      srvrsmtp.c
 *   C did not issue MAIL/EXPN/VRFY/ETRN during connection to D  srvrsmtp.c
 *   timeout waiting for input from C during server cmd read  srvrsmtp.c
 *   timeout waiting for input from C during message collect  collect.c
 * "... during client ..." timeouts are ours as the client: not smtpd.
 */
static void
session_ops(const char *s, size_t len, struct mp_event *ev)
{
	const char *p;

	if (mp_has_prefix(s, len, LIT("STARTTLS="))) {
		starttls_ops(s + 9, len - 9, ev);
	} else if (mp_has_prefix(s, len, LIT("AUTH failure ("))) {
		p = mp_memchr(s + 14, ')', len - 14);
		if (p != NULL)
			mp_event_add_op(ev, MP_OPF_SMTPD_AUTH_FAILURES,
			    mp_op_sasl(s + 14, (size_t)(p - s - 14)), 0, 0, 0);
	} else if (mp_has_prefix(s, len, LIT("lost input channel from "))) {
		lost_ops(s, len, ev);
	} else if (mp_has_prefix(s, len, LIT("timeout waiting for input from "))) {
		if (has_suffix(s, len, LIT(" during server cmd read")))
			mp_event_add_op(ev, MP_OPF_SMTPD_TIMEOUTS, MP_CMD_OTHER, 0, 0, 0);
		else if (has_suffix(s, len, LIT(" during message collect")))
			mp_event_add_op(ev, MP_OPF_SMTPD_TIMEOUTS, MP_CMD_DATA, 0, 0, 0);
	} else if ((p = mp_find(s, len,
	    LIT(" did not issue MAIL/EXPN/VRFY/ETRN during connection to "))) != NULL &&
	    mp_memchr(s, ',', (size_t)(p - s)) == NULL) {
		mp_event_add_op(ev, MP_OPF_SMTPD_NO_MAIL, 0, 0, 0, 0);
	}
}

/*
 * The ':' of "QID: " when m starts with one (letters and digits, then ": ",
 * the ':' within the first 32 bytes), else NULL. With 32 bytes the first
 * byte that is no letter or digit comes from one mask (find.h), and it
 * must be that ':': every line asks this, and the byte loop over a 14- to
 * 20-byte id was 3 % of the instructions on a Sendmail log (callgrind).
 * The reference build (test_sendmail_fields) keeps the loop: a memchr for
 * the ':' and every byte before it checked.
 */
static const char *
queue_id_end(const char *m, size_t n)
{
	const char *colon;

#if !defined(MP_SENDMAIL_REFERENCE)
	if (n >= 32) {
		uint32_t other = ~mp_alnum_mask32(m);
		size_t i = other != 0 ? (size_t)__builtin_ctz(other) : 32;

		/* i < 32 and m[i] == ':' : the first ':' in 32 bytes, with
		 * nothing but letters and digits before it. */
		if (i == 0 || i == 32 || m[i] != ':' || i + 1 >= n || m[i + 1] != ' ')
			return NULL;
		return m + i;
	}
#endif
	colon = mp_memchr(m, ':', n < 32 ? n : 32);
	if (colon == NULL || colon == m || colon + 1 >= m + n || colon[1] != ' ')
		return NULL;
	for (const char *p = m; p < colon; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') ||
		    (*p >= 'A' && *p <= 'Z')))
			return NULL;
	return colon;
}

static int
sendmail_parse(void *state, const struct mp_syslog *hdr, struct mp_event *ev)
{
	const char *m = hdr->msg, *colon, *s, *r, *end;
	size_t n = hdr->msg_len, len;

	(void)state;
	if (m == NULL || n < 8)
		return 0;
	end = m + n;
	/* Connection-stage rulesets log before there is an envelope, with
	 * no queue ID at all. */
	if (mp_has_prefix(m, n, LIT("ruleset=")) || mp_has_prefix(m, n, LIT("Milter"))) {
		r = mp_find(m, n, LIT("reject="));
		if (r == NULL || r[-1] != ' ')
			return 0;
		return reject(m, n, r + 7, ev);
	}
	/* "QID: " or "NOQUEUE: "; queue IDs are 14-20 characters. Session
	 * lines (STARTTLS=, ...) may come without one (NOQID). */
	if ((colon = queue_id_end(m, n)) == NULL) {
		session_ops(m, n, ev);
		return 0;
	}
	s = colon + 2;
	len = (size_t)(end - s);
	if (mp_has_prefix(s, len, LIT("to=")))
		return delivery(s, len, ev);
	if (mp_has_prefix(s, len, LIT("DSN: ")) ||
	    mp_has_prefix(s, len, LIT("postmaster notify: ")))
		return 0;
	if ((r = mp_find(s, len, LIT("reject="))) != NULL &&
	    (r == s || r[-1] == ' '))
		return reject(s, len, r + 7, ev);
	if (mp_has_prefix(s, len, LIT("from=")))
		return received(s, len, ev);
	if (len > 2 && s[0] == '<')
		return refusal(s, len, ev);
	session_ops(s, len, ev);
	return 0;
}

/* Ours: "sm-mta", "sm-msp-queue" and other "sm-" instances, "sendmail". */
static enum mp_claim
sendmail_claims(const struct mp_syslog *hdr)
{
	if (hdr->kind == MP_HDR_EXIM)
		return MP_CLAIM_NO;
	if (hdr->tag == NULL)
		return MP_CLAIM_MAYBE;
	if (mp_has_prefix(hdr->tag, hdr->tag_len, LIT("sm-")) ||
	    (hdr->tag_len == 8 && memcmp(hdr->tag, "sendmail", 8) == 0))
		return MP_CLAIM_YES;
	return MP_CLAIM_NO;
}

#ifdef MP_SENDMAIL_REFERENCE
#define mp_parser_sendmail mp_parser_sendmail_reference
#endif
const struct mp_parser mp_parser_sendmail = {
	.name = "sendmail",
	.mta = MP_MTA_SENDMAIL,
	/* No init/fini: the scanners above need no compiled state. */
	.claims = sendmail_claims,
	.parse = sendmail_parse,
};
