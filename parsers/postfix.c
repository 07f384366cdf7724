/*
 * postfix.c - Postfix delivery results, expiries and rejects.
 *
 * Three line shapes count (everything else Postfix logs is progress):
 *
 *   QID: to=<rcpt>, relay=..., dsn=X.Y.Z, status=WORD (TEXT)
 *	from smtp, lmtp, local, virtual, pipe, error, retry, discard and
 *	qmgr; TEXT quotes the remote reply, if any, in one of three places
 *	(reply_in_text). qmgr's "from=<s>, status=expired, returned to
 *	sender" has the same marker and no recipient.
 *   NOQUEUE|QID: [milter-]reject: STAGE from host[addr][:port]: REPLY; ...
 *	from smtpd, postscreen, and cleanup for milters. The client is
 *	"host[addr]" ("unknown[addr]" without a verified name, postscreen's
 *	"[addr]:port" with none at all). REPLY is
 *	"550 5.7.1 text", or, for a milter at END-OF-MESSAGE, just
 *	"5.7.1 text": cleanup logs the reply without its code.
 *   QID: reject: header|body CONTENT from host[addr]; from=<> to=<>
 *	proto=P helo=<h>: 5.7.1 text
 *	from cleanup's header_checks and body_checks: the DSN code comes
 *	last, after whatever the offending header said.
 * A reject's domain is the client's (its name, else its address), never a
 * recipient's: the recipient is ours, and the question a reject answers is
 * who we refused.
 *
 * About 85% of a busy server's lines are none of these, so parse() first
 * looks for the markers with memchr/memmem and returns before any regex
 * runs. The regexes then only check the shape and locate the fields; the
 * reply codes themselves are read by codes.c at the positions where Postfix
 * quotes a reply, never by searching the line for three digits, so queue
 * IDs like 550ABC, ports like :25 and addresses like <550@example.com>
 * cannot pass for codes.
 *
 * Besides the status, a delivery line gives delay= and delays=a/b/c/d
 * (seconds), and relay= plus the service name in the tag, from which we
 * tell a delivery to the internet from one to a mailbox or to a content
 * filter on the loopback (postfix_destination).
 *
 * Receipts: smtpd's "QID: client=host[addr]" is the one line per message
 * accepted from a client, and is returned as an MP_EVENT_RECEIVED event.
 * qmgr's "QID: from=<s>, size=N, nrcpt=N (queue active)" is not used: qmgr
 * logs it again each time a deferred message comes back from the deferred
 * queue, and for mail from pickup and for bounces, so it would count one
 * message many times. smtpd logs client= once, when it creates the queue
 * file; a message that cleanup or a milter then rejects at end of data was
 * still counted as received (it was, until it was refused).
 *
 * soft_bounce: Postfix logs "dsn=4.x.x, status=deferred" (older releases
 * "status=SOFTBOUNCE") around the remote's unchanged "550 5.1.1" reply. We
 * report enhanced 4.x.x (the dsn= field wins) but code 550 and class 5xx
 * (the code wins), as the metric contract says: the remote refused for good
 * even though the message is still queued.
 */
#include "parser.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct postfix_state {
	const struct mp_re_env *env;
	pcre2_code *delivery;
	pcre2_code *reject;
	pcre2_code *content_reject;
};

/* 1: recipient, 2: dsn field, 3: status word. */
static const char delivery_re[] =
    "\\A[0-9A-Za-z]+: (?:to=<(.*?)>, )?(?:.*?, )?(?:dsn=([^,]*), )?"
    "status=([A-Za-z]+)";
/* 1: client name, 2: client address. Ends where the reply starts, right
 * after "]: " or "]:port: ". */
static const char reject_re[] =
    "\\A(?:NOQUEUE|[0-9A-Za-z]+): (?:milter-)?reject: [A-Z][A-Z-]* from "
    "([^\\[\\]]*)\\[([^\\]]*)\\](?::[0-9]+)?: ";
/* cleanup's header/body checks: the class of content is lower case. */
static const char content_reject_re[] =
    "\\A[0-9A-Za-z]+: reject: [a-z][a-z-]* ";

#define LIT(s) (s), (sizeof(s) - 1)

static int
has_prefix(const char *s, size_t len, const char *p, size_t plen)
{
	return len >= plen && memcmp(s, p, plen) == 0;
}

static int
word_is(const char *s, size_t len, const char *w, size_t wlen)
{
	return len == wlen && memcmp(s, w, wlen) == 0;
}

/* Last occurrence of needle in s[0..len), or NULL. */
static const char *
rfind(const char *s, size_t len, const char *needle, size_t nlen)
{
	if (len < nlen)
		return NULL;
	for (size_t i = len - nlen + 1; i-- > 0;)
		if (s[i] == needle[0] && memcmp(s + i, needle, nlen) == 0)
			return s + i;
	return NULL;
}

/* The domain of an address "local@domain", as a pointer into it. */
static void
set_domain(struct mp_event *ev, const char *addr, size_t len)
{
	const char *at;

	if (addr == NULL || len == 0)
		return;
	at = rfind(addr, len, "@", 1);
	if (at == NULL || at + 1 == addr + len)
		return;
	ev->domain = at + 1;
	ev->domain_len = (size_t)(addr + len - ev->domain);
}

/* The client of a cleanup content reject: the " from host[addr]" right
 * before the last "; from=<" in s[0..len). A message from the local
 * pickup service ("from local;") names no client. */
static void
content_client(struct mp_event *ev, const char *s, size_t len)
{
	const char *trailer, *open, *name;

	trailer = rfind(s, len, LIT("; from=<"));
	if (trailer == NULL || trailer == s || trailer[-1] != ']')
		return;
	open = rfind(s, (size_t)(trailer - s), LIT("["));
	if (open == NULL)
		return;
	name = rfind(s, (size_t)(open - s), LIT(" from "));
	if (name == NULL)
		return;
	name += sizeof(" from ") - 1;
	if (memchr(name, ' ', (size_t)(open - name)) != NULL)
		return;
	mp_event_set_client(ev, name, (size_t)(open - name), open + 1,
	    (size_t)(trailer - 1 - open - 1));
}

/*
 * A reply code at s, and the enhanced code that follows it ("550 5.1.1",
 * "421-4.7.0" in a flattened multi-line reply). Returns the code or 0.
 */
static int
code_at(const char *s, size_t len, struct mp_enhanced *enh)
{
	int code = mp_parse_reply_code(s, len);

	enh->cls = 0;
	if (code != 0 && len > 4 && (s[3] == ' ' || s[3] == '-'))
		mp_parse_enhanced(s + 4, len - 4, enh);
	return code;
}

/*
 * The reply quoted in a delivery status's parenthesised text: at its very
 * start ("250 2.0.0 Ok: queued as ..."), or after "said: " or "refused to
 * talk to me: " (possibly behind "delivery temporarily suspended: "),
 * whichever comes first. Text that quotes no reply (connect errors,
 * "delivered to mailbox") gives 0.
 */
static int
reply_in_text(const char *t, size_t len, struct mp_enhanced *enh)
{
	const char *said, *refused, *p;
	size_t skip;

	int code;

	if ((code = code_at(t, len, enh)) != 0)
		return code;
	said = mp_find(t, len, LIT("said: "));
	refused = mp_find(t, len, LIT("refused to talk to me: "));
	if (said != NULL && (refused == NULL || said < refused)) {
		p = said;
		skip = sizeof("said: ") - 1;
	} else if (refused != NULL) {
		p = refused;
		skip = sizeof("refused to talk to me: ") - 1;
	} else {
		return 0;
	}
	p += skip;
	return code_at(p, (size_t)(t + len - p), enh);
}

/* The value of ", name=" in s[0..len), up to the next ',' or the end. */
static const char *
field(const char *s, size_t len, const char *name, size_t nlen, size_t *vlen)
{
	const char *p = mp_find(s, len, name, nlen), *end = s + len, *c;

	if (p == NULL)
		return NULL;
	p += nlen;
	c = memchr(p, ',', (size_t)(end - p));
	*vlen = (size_t)((c != NULL ? c : end) - p);
	return p;
}

/* delay=N and delays=a/b/c/d: the four stages, in order. */
static void
delays(const char *s, size_t len, struct mp_event *ev)
{
	const char *v;
	size_t vlen, used;

	if ((v = field(s, len, LIT(", delay="), &vlen)) != NULL)
		ev->delay = mp_decimal_at(v, vlen, NULL);
	if ((v = field(s, len, LIT(", delays="), &vlen)) == NULL)
		return;
	for (int i = MP_STAGE_BEFORE_QMGR; i <= MP_STAGE_TRANSMISSION; i++) {
		ev->delay_stage[i] = mp_decimal_at(v, vlen, &used);
		if (ev->delay_stage[i] < 0 || used >= vlen || v[used] != '/')
			break;
		v += used + 1;
		vlen -= used + 1;
	}
}

/* Content filters by the names admins give their transports (pipe's
 * relay= is the transport name; a syslog_name may carry it too). */
static int
filter_name(const char *s, size_t len)
{
	static const char *const names[] = { "amavis", "spamassassin",
		"spamc", "dfilt", "rspamd", "clamsmtp", "mailscanner",
		"content_filter", "filter" };

	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (mp_find(s, len, names[i], strlen(names[i])) != NULL)
			return 1;
	return 0;
}

/* Ports that amavisd-new, its re-injection listener and rspamd's proxy
 * are conventionally run on. */
static int
filter_port(unsigned port)
{
	return (port >= 10024 && port <= 10030) || port == 11332;
}

/*
 * Where a delivery went, from relay= and the service in the tag
 * ("postfix/lmtp" -> "lmtp"; a tag without '/' names no service, as with
 * rsyslog's RFC 5424 "postfix"):
 *   relay=local, virtual, a pipe transport, an LMTP server: local;
 *   a loopback relay on a content-filter port, or any relay or syslog_name
 *   that names a filter: filter; smtp to another loopback port is a
 *   re-injection hop (a second instance), so a filter too;
 *   any other host, and smtp's relay=none (no MX could be reached): remote.
 * qmgr's expiry, error and retry name no destination.
 */
static enum mp_destination
postfix_destination(const struct mp_syslog *hdr, const char *relay,
    size_t rlen)
{
	const char *svc = NULL, *br, *addr, *close;
	size_t svc_len = 0, alen;
	unsigned port = 0;
	int lmtp, smtp;

	if (hdr->tag != NULL) {
		const char *slash = NULL;

		for (size_t i = 0; i < hdr->tag_len; i++)
			if (hdr->tag[i] == '/')
				slash = hdr->tag + i;
		if (slash != NULL) {
			svc = slash + 1;
			svc_len = (size_t)(hdr->tag + hdr->tag_len - svc);
			/* syslog_name parts: "postfix/amavis/smtp" */
			if (filter_name(hdr->tag, (size_t)(slash - hdr->tag)))
				return MP_DEST_FILTER;
		}
	}
	lmtp = svc != NULL && word_is(svc, svc_len, LIT("lmtp"));
	smtp = svc == NULL || word_is(svc, svc_len, LIT("smtp"));
	if (relay == NULL || (svc != NULL && (word_is(svc, svc_len, LIT("qmgr")) ||
	    word_is(svc, svc_len, LIT("error")) ||
	    word_is(svc, svc_len, LIT("retry")))))
		return MP_DEST_NONE;
	br = memchr(relay, '[', rlen);
	if (br == NULL) {
		if (word_is(relay, rlen, LIT("none")))
			return lmtp ? MP_DEST_LOCAL :
			    (smtp ? MP_DEST_REMOTE : MP_DEST_NONE);
		return filter_name(relay, rlen) ? MP_DEST_FILTER : MP_DEST_LOCAL;
	}
	addr = br + 1;
	close = memchr(addr, ']', (size_t)(relay + rlen - addr));
	if (close == NULL)
		return lmtp ? MP_DEST_LOCAL : MP_DEST_REMOTE;
	alen = (size_t)(close - addr);
	if (memchr(addr, '/', alen) != NULL)	/* a unix socket: "private/dovecot-lmtp" */
		return MP_DEST_LOCAL;
	if (close + 1 < relay + rlen && close[1] == ':')
		for (const char *p = close + 2; p < relay + rlen &&
		    *p >= '0' && *p <= '9' && port < 100000; p++)
			port = port * 10 + (unsigned)(*p - '0');
	if (mp_is_loopback(addr, alen) || mp_is_loopback(relay, (size_t)(br - relay))) {
		if (filter_port(port))
			return MP_DEST_FILTER;
		return lmtp || port == 24 ? MP_DEST_LOCAL : MP_DEST_FILTER;
	}
	return lmtp ? MP_DEST_LOCAL : MP_DEST_REMOTE;
}

static int
delivery(struct postfix_state *st, const struct mp_syslog *hdr, const char *m,
    size_t n, struct mp_event *ev)
{
	const struct mp_re_env *env = st->env;
	const char *to, *dsn, *status, *text, *relay, *end = m + n;
	size_t to_len, dsn_len, status_len, text_len = 0, relay_len = 0;
	struct mp_enhanced reply_enh;

	if (mp_re_match(st->delivery, env, m, n) == 0)
		return -1;
	mp_re_group(env, m, 1, &to, &to_len);
	mp_re_group(env, m, 2, &dsn, &dsn_len);
	mp_re_group(env, m, 3, &status, &status_len);

	if (word_is(status, status_len, LIT("sent")))
		ev->outcome = MP_OUTCOME_SENT;
	else if (word_is(status, status_len, LIT("deferred")) ||
	    word_is(status, status_len, LIT("SOFTBOUNCE")))
		ev->outcome = MP_OUTCOME_DEFERRED;
	else if (word_is(status, status_len, LIT("bounced")))
		ev->outcome = MP_OUTCOME_BOUNCED;
	else if (word_is(status, status_len, LIT("expired")))
		ev->outcome = MP_OUTCOME_EXPIRED;
	else if (word_is(status, status_len, LIT("deliverable")) ||
	    word_is(status, status_len, LIT("undeliverable")))
		return 0;	/* address verification probe: nothing delivered */
	else
		return -1;

	text = status + status_len;
	if (has_prefix(text, (size_t)(end - text), LIT(" ("))) {
		text += 2;
		text_len = (size_t)(end - text);
		if (text_len > 0 && text[text_len - 1] == ')')
			text_len--;
	}
	ev->code = (uint16_t)reply_in_text(text, text_len, &reply_enh);
	if (dsn == NULL ||
	    mp_parse_enhanced(dsn, dsn_len, &ev->enhanced) != dsn_len)
		ev->enhanced = reply_enh;
	ev->direction = MP_DIR_OUTBOUND;
	set_domain(ev, to, to_len);
	if (text_len > 0) {
		ev->reply = text;
		ev->reply_len = text_len;
	}
	delays(m, (size_t)(status - m), ev);
	relay = field(m, (size_t)(status - m), LIT(", relay="), &relay_len);
	ev->destination = postfix_destination(hdr, relay, relay_len);
	return mp_event_set_class(ev) == 0 ? 1 : -1;
}

/* An smtpd, postscreen or milter reject: the reply starts at r. */
static int
reply_reject(const char *m, size_t n, const char *r, struct mp_event *ev)
{
	const char *trailer;
	size_t rlen = (size_t)(m + n - r);
	int code;

	code = code_at(r, rlen, &ev->enhanced);
	if (code == 0)
		mp_parse_enhanced(r, rlen, &ev->enhanced);
	ev->code = (uint16_t)code;
	if (code != 0 || ev->enhanced.cls != 0) {
		if ((code != 0 ? code / 100 : ev->enhanced.cls) == 4)
			ev->outcome = MP_OUTCOME_TEMP_REJECTED;
		else
			ev->outcome = MP_OUTCOME_REJECTED;
	} else if (has_prefix(r, rlen, LIT("too many connections")) ||
	    has_prefix(r, rlen, LIT("all server ports busy"))) {
		/* postscreen hangs up with a 421 it does not log. */
		ev->outcome = MP_OUTCOME_TEMP_REJECTED;
	} else {
		return -1;
	}
	trailer = rfind(r, rlen, LIT("; from=<"));
	ev->reply = r;
	ev->reply_len = trailer != NULL ? (size_t)(trailer - r) : rlen;
	return 1;
}

/* A cleanup header/body check reject: the code follows the last ": " that
 * is followed by one, so a header value with colons in it cannot fool us. */
static int
content_reject(const char *m, size_t n, const char *from, struct mp_event *ev)
{
	const char *end = m + n;
	size_t k = (size_t)(end - from);
	int code = 0;

	while (k-- > 1) {
		const char *p = from + k - 1;

		if (p[0] != ':' || p[1] != ' ')
			continue;
		p += 2;
		code = code_at(p, (size_t)(end - p), &ev->enhanced);
		if (code == 0)
			mp_parse_enhanced(p, (size_t)(end - p), &ev->enhanced);
		if (code != 0 || ev->enhanced.cls != 0) {
			ev->code = (uint16_t)code;
			if ((code != 0 ? code / 100 : ev->enhanced.cls) == 4)
				ev->outcome = MP_OUTCOME_TEMP_REJECTED;
			else
				ev->outcome = MP_OUTCOME_REJECTED;
			content_client(ev, from, (size_t)(p - from));
			ev->reply = p;
			ev->reply_len = (size_t)(end - p);
			return 1;
		}
	}
	return -1;
}

static int
reject(struct postfix_state *st, const char *m, size_t n, struct mp_event *ev)
{
	const struct mp_re_env *env = st->env;
	const char *r, *name, *addr;
	size_t rlen, nlen, alen;
	int res;

	ev->direction = MP_DIR_INBOUND;
	if (mp_re_match(st->reject, env, m, n) > 0) {
		mp_re_group(env, m, 0, &r, &rlen);
		mp_re_group(env, m, 1, &name, &nlen);
		mp_re_group(env, m, 2, &addr, &alen);
		res = reply_reject(m, n, r + rlen, ev);
		if (res == 1)
			mp_event_set_client(ev, name, nlen, addr, alen);
	} else if (mp_re_match(st->content_reject, env, m, n) > 0) {
		mp_re_group(env, m, 0, &r, &rlen);
		res = content_reject(m, n, r + rlen, ev);
	} else {
		return -1;
	}
	if (res == 1 && mp_event_set_class(ev) == -1)
		return -1;
	return res;
}

/*
 * smtpd's "QID: client=host[addr]", logged once when a client's message is
 * given a queue file: a receipt (see the head of this file for why this
 * line and not qmgr's from=). A client on the loopback is marked
 * MP_DEST_FILTER: that is a content filter handing a message back, which
 * was already counted when it first came in.
 */
static int
received(const struct mp_syslog *hdr, const char *act, size_t rest,
    struct mp_event *ev)
{
	const char *br, *addr, *close;

	/* Only smtpd logs it; rsyslog's RFC 5424 "postfix" names no service. */
	if (hdr->tag != NULL && memchr(hdr->tag, '/', hdr->tag_len) != NULL &&
	    (hdr->tag_len < 6 ||
	    memcmp(hdr->tag + hdr->tag_len - 6, "/smtpd", 6) != 0))
		return 0;
	act += sizeof("client=") - 1;
	rest -= sizeof("client=") - 1;
	br = memchr(act, '[', rest);
	if (br == NULL)
		return 0;
	addr = br + 1;
	close = memchr(addr, ']', (size_t)(act + rest - addr));
	if (close == NULL)
		return 0;
	ev->kind = MP_EVENT_RECEIVED;
	ev->direction = MP_DIR_INBOUND;
	if (mp_is_loopback(addr, (size_t)(close - addr)))
		ev->destination = MP_DEST_FILTER;
	return 1;
}

/*
 * Can this line's program log a delivery result? Only the delivery agents
 * and the queue manager (expiry) write "status=". The program is the tag's
 * last component, whatever the instance or service name before it
 * ("postfix-out/smtp", "postfix/amavis/smtp"). A tag without a '/' (rsyslog's
 * RFC 5424 "postfix", or none) does not say, so the line is searched. This
 * keeps the search for "status=" away from the postscreen, smtpd and cleanup
 * lines that are most of a log.
 */
static int
may_log_status(const struct mp_syslog *hdr)
{
	static const struct { const char *s; size_t n; } programs[] = {
		{ LIT("smtp") }, { LIT("lmtp") }, { LIT("local") }, { LIT("virtual") },
		{ LIT("pipe") }, { LIT("error") }, { LIT("retry") }, { LIT("discard") },
		{ LIT("qmgr") }, { LIT("oqmgr") },
	};
	const char *slash, *prog;
	size_t plen;

	if (hdr->tag == NULL ||
	    (slash = memrchr(hdr->tag, '/', hdr->tag_len)) == NULL)
		return 1;
	prog = slash + 1;
	plen = (size_t)(hdr->tag + hdr->tag_len - prog);
	for (size_t i = 0; i < sizeof programs / sizeof programs[0]; i++)
		if (plen == programs[i].n && memcmp(prog, programs[i].s, plen) == 0)
			return 1;
	return 0;
}

static int
postfix_parse(void *state, const struct mp_syslog *hdr, struct mp_event *ev)
{
	struct postfix_state *st = state;
	const char *m = hdr->msg, *colon, *act;
	size_t n = hdr->msg_len, rest;

	if (m == NULL || n < 8)
		return 0;
	/* Diagnostics ("warning: ... status=...") are never results. */
	if (has_prefix(m, n, LIT("warning: ")) || has_prefix(m, n, LIT("error: ")) ||
	    has_prefix(m, n, LIT("fatal: ")) || has_prefix(m, n, LIT("panic: ")))
		return 0;
	/* The action follows the queue ID (at most ~20 bytes) or NOQUEUE. */
	colon = memchr(m, ':', n < 32 ? n : 32);
	if (colon != NULL && colon + 1 < m + n && colon[1] == ' ') {
		act = colon + 2;
		rest = (size_t)(m + n - act);
		if (has_prefix(act, rest, LIT("reject: ")) ||
		    has_prefix(act, rest, LIT("milter-reject: ")))
			return reject(st, m, n, ev);
		if (has_prefix(act, rest, LIT("client=")))
			return received(hdr, act, rest, ev);
	}
	if (!may_log_status(hdr) || mp_find(m, n, LIT("status=")) == NULL)
		return 0;
	return delivery(st, hdr, m, n, ev);
}

/* Ours: a tag whose first component starts with "postfix" ("postfix/smtp",
 * "postfix-out/smtp", "postfix/submission/smtpd", and rsyslog's RFC 5424
 * "postfix" with the service dropped). */
static enum mp_claim
postfix_claims(const struct mp_syslog *hdr)
{
	if (hdr->kind == MP_HDR_EXIM)
		return MP_CLAIM_NO;
	if (hdr->tag == NULL)
		return MP_CLAIM_MAYBE;
	return has_prefix(hdr->tag, hdr->tag_len, LIT("postfix")) ?
	    MP_CLAIM_YES : MP_CLAIM_NO;
}

static void
postfix_fini(void *state)
{
	struct postfix_state *st = state;

	if (st == NULL)
		return;
	pcre2_code_free(st->delivery);
	pcre2_code_free(st->reject);
	pcre2_code_free(st->content_reject);
	free(st);
}

static int
postfix_init(void **state, const struct mp_re_env *env, char *err,
    size_t errlen)
{
	struct postfix_state *st;

	*state = NULL;
	if ((st = calloc(1, sizeof *st)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	st->env = env;
	if (mp_re_compile(&st->delivery, delivery_re, 0, err, errlen) == -1 ||
	    mp_re_compile(&st->reject, reject_re, 0, err, errlen) == -1 ||
	    mp_re_compile(&st->content_reject, content_reject_re, 0, err,
	    errlen) == -1) {
		postfix_fini(st);
		return -1;
	}
	*state = st;
	return 0;
}

const struct mp_parser mp_parser_postfix = {
	.name = "postfix",
	.mta = MP_MTA_POSTFIX,
	.init = postfix_init,
	.fini = postfix_fini,
	.claims = postfix_claims,
	.parse = postfix_parse,
};
