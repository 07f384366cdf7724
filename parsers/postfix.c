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
 *	last, after whatever the offending header said. Older releases
 *	logged no code ("...: Message content rejected"): class 5xx, code "".
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
 * qmgr's "QID: from=<s>, size=N, nrcpt=N (queue active)" is no receipt (it
 * only feeds the qmgr size and recipient ops): qmgr logs it again each
 * time a deferred message comes back from the deferred queue, and for mail
 * from pickup and for bounces, so it would count one message many times. smtpd logs client= once, when it creates the queue
 * file; a message that cleanup or a milter then rejects at end of data was
 * still counted as received (it was, until it was refused). A content
 * filter handing a message back is told by what smtpd logs, not by the
 * loopback address (reinjected()).
 *
 * Operational ops (ops.h) come from the session and queue lines around
 * these: smtpd's connect/disconnect/lost/timeout, SASL and FCrDNS warnings,
 * TLS handshakes, postscreen's verdicts, qmgr, cleanup's actions, bounce
 * notices, fatal and panic. Each shape is matched by hand (prefix compares
 * picked by the program in the tag), never by a regex, and each function
 * below names the Postfix source that writes it. A line with ops and no
 * status returns 0 with the ops set.
 *
 * soft_bounce: Postfix logs "dsn=4.x.x, status=deferred" (older releases
 * "status=SOFTBOUNCE") around the remote's unchanged "550 5.1.1" reply. We
 * report enhanced 4.x.x (the dsn= field wins) but code 550 and class 5xx
 * (the code wins), as the metric contract says: the remote refused for good
 * even though the message is still queued.
 */
#include "parsers/find.h"
#include "parsers/parser.h"

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
const char mp_postfix_delivery_re[] =
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
word_is(const char *s, size_t len, const char *w, size_t wlen)
{
	return len == wlen && memcmp(s, w, wlen) == 0;
}

/* Last occurrence of needle in s[0..len), or NULL. The candidates are
 * found by memrchr on the first byte (';' or ','): a byte loop here was a
 * sixth of postfix_parse's own time on reject and qmgr lines (perf). */
static const char *
rfind(const char *s, size_t len, const char *needle, size_t nlen)
{
	size_t span;

	if (nlen == 0 || len < nlen)
		return len < nlen ? NULL : s + len;
	span = len - nlen + 1;	/* the places a match can start: s[0..span) */
	while (span > 0) {
		const char *p = memrchr(s, needle[0], span);

		if (p == NULL)
			return NULL;
		if (memcmp(p, needle, nlen) == 0)
			return p;
		span = (size_t)(p - s);
	}
	return NULL;
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
	if (mp_memchr(name, ' ', (size_t)(open - name)) != NULL)
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
	c = mp_memchr(p, ',', (size_t)(end - p));
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
	return mp_filter_name(s, len);
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
	br = mp_memchr(relay, '[', rlen);
	if (br == NULL) {
		if (word_is(relay, rlen, LIT("none")))
			return lmtp ? MP_DEST_LOCAL :
			    (smtp ? MP_DEST_REMOTE : MP_DEST_NONE);
		return filter_name(relay, rlen) ? MP_DEST_FILTER : MP_DEST_LOCAL;
	}
	addr = br + 1;
	close = mp_memchr(addr, ']', (size_t)(relay + rlen - addr));
	if (close == NULL)
		return lmtp ? MP_DEST_LOCAL : MP_DEST_REMOTE;
	alen = (size_t)(close - addr);
	if (mp_memchr(addr, '/', alen) != NULL)	/* a unix socket: "private/dovecot-lmtp" */
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
is_alpha(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

/* The pattern's tail at t: "dsn=([^,]*), status=([A-Za-z]+)", or failing
 * that "status=([A-Za-z]+)" (the dsn group is optional and greedy, so it
 * is tried first). [^,]* stops at the first ',' after "dsn=", and the
 * pattern then needs ", status=" right there. */
static int
delivery_tail(const char *m, size_t n, size_t t, const char *grp[3], size_t glen[3])
{
	size_t v, e;
	const char *c;

	if (n - t >= 4 && memcmp(m + t, "dsn=", 4) == 0) {
		v = t + 4;
		c = mp_memchr(m + v, ',', n - v);
		e = c != NULL ? (size_t)(c - m) : n;
		if (n - e >= 10 && memcmp(m + e, ", status=", 9) == 0 && is_alpha(m[e + 9])) {
			grp[1] = m + v;
			glen[1] = e - v;
			t = e + 2;
			goto status;
		}
	}
	if (n - t < 8 || memcmp(m + t, "status=", 7) != 0 || !is_alpha(m[t + 7]))
		return 0;
	grp[1] = NULL;
	glen[1] = 0;
status:
	grp[2] = m + t + 7;
	for (e = t + 7; e < n && is_alpha(m[e]); e++)
		;
	glen[2] = e - (t + 7);
	return 1;
}

/* "(?:.*?, )?" and the tail from p: the lazy ".*?, " is tried first, ending
 * at each ", " from p on in turn, and the group skipped only after none of
 * them led to a match. Every try is O(1) but for the dsn value's memchr,
 * which stops at the next ',', so the whole walk is one pass. */
static int
delivery_rest(const char *m, size_t n, size_t p, const char *grp[3], size_t glen[3])
{
	const char *c;

	for (size_t i = p; i < n && (c = mp_memchr(m + i, ',', n - i)) != NULL;) {
		i = (size_t)(c - m) + 1;
		if (i < n && m[i] == ' ' && delivery_tail(m, n, i + 1, grp, glen))
			return 1;
	}
	return delivery_tail(m, n, p, grp, glen);
}

/*
 * mp_postfix_delivery_re without PCRE2 (see parser.h). The pattern cost
 * 2,200 instructions a delivery line, a fifth of the Postfix parser's
 * time (callgrind), and its work is one pass over "key=value, " fields.
 * Walked in the order PCRE2 backtracks, so the groups are the ones PCRE2
 * returns (DOTALL, so no byte is special):
 *   1. "\A[0-9A-Za-z]+: ": the queue ID runs to the first other byte,
 *      which must start ": ";
 *   2. "(?:to=<(.*?)>, )?": greedy, so tried first; the lazy recipient ends
 *      at the first ">, ". If the rest matches from there, done. If it
 *      does not, PCRE2 would go on to the next ">, " and then to the
 *      group skipped: -1 hands that rare line to the pattern itself;
 *   3. without "to=<...>, " at all (none there, or no ">, " after it):
 *      delivery_rest from the queue ID's end, which is the whole search.
 * test_postfix_scan compares it with PCRE2 on hand-made edge cases and on
 * random lines built from the pattern's own pieces.
 */
int
mp_postfix_delivery_scan(const char *m, size_t n, const char *grp[3], size_t glen[3])
{
	size_t i = 0, p;
	const char *q;

	grp[0] = NULL;
	glen[0] = 0;
	/* The queue id's end from a mask of 32 bytes (find.h): the byte
	 * loop's exit mispredicted on ids of every length. */
	if (n >= 32) {
		uint32_t other = ~mp_alnum_mask32(m);

		i = other != 0 ? (size_t)__builtin_ctz(other) : 32;
	}
	while (i < n && ((m[i] >= '0' && m[i] <= '9') || is_alpha(m[i])))
		i++;
	if (i == 0 || n - i < 2 || m[i] != ':' || m[i + 1] != ' ')
		return 0;
	p = i + 2;
	if (n - p >= 4 && memcmp(m + p, "to=<", 4) == 0 &&
	    (q = mp_find(m + p + 4, n - p - 4, ">, ", 3)) != NULL) {
		grp[0] = m + p + 4;
		glen[0] = (size_t)(q - grp[0]);
		if (delivery_rest(m, n, (size_t)(q - m) + 3, grp, glen))
			return 1;
		return -1;
	}
	return delivery_rest(m, n, p, grp, glen);
}

static int
delivery(struct postfix_state *st, const struct mp_syslog *hdr, const char *m,
    size_t n, struct mp_event *ev)
{
	const struct mp_re_env *env = st->env;
	const char *to, *dsn, *status, *text, *relay, *end = m + n;
	size_t to_len, dsn_len, status_len, text_len = 0, relay_len = 0;
	struct mp_enhanced reply_enh;
	const char *grp[3];
	size_t glen[3];
	int r = mp_postfix_delivery_scan(m, n, grp, glen);

	if (r == 0)
		return -1;
	if (r > 0) {
		to = grp[0], to_len = glen[0];
		dsn = grp[1], dsn_len = glen[1];
		status = grp[2], status_len = glen[2];
	} else {
		if (mp_re_match(st->delivery, env, m, n) == 0)
			return -1;
		mp_re_group(env, m, 1, &to, &to_len);
		mp_re_group(env, m, 2, &dsn, &dsn_len);
		mp_re_group(env, m, 3, &status, &status_len);
	}

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
	if (mp_has_prefix(text, (size_t)(end - text), LIT(" ("))) {
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
	mp_event_set_domain(ev, to, to_len);
	if (text_len > 0) {
		ev->reply = text;
		ev->reply_len = text_len;
	}
	/* qmgr's defer of a destination it has marked dead (qmgr_defer.c:
	 * "delivery temporarily suspended: " and the reason of the failure
	 * that marked it): nothing was tried this time. */
	if (ev->outcome == MP_OUTCOME_DEFERRED &&
	    mp_has_prefix(text, text_len, LIT("delivery temporarily suspended: ")))
		ev->not_attempted = 1;
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
	} else if (mp_has_prefix(r, rlen, LIT("too many connections")) ||
	    mp_has_prefix(r, rlen, LIT("all server ports busy"))) {
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

/*
 * Where the text of a cleanup action starts: after the ": " that follows
 * the trailer cleanup writes itself ("; from=<s> to=<r>[ proto=P
 * helo=<h>]: TEXT", cleanup_message.c cleanup_act_log), so a header's own
 * colons are never taken for it. NULL if there is no such trailer.
 */
static const char *
action_text(const char *s, size_t len)
{
	const char *end = s + len, *trailer, *last, *c;

	trailer = rfind(s, len, LIT("; from=<"));
	if (trailer == NULL)
		return NULL;
	last = mp_find(trailer, (size_t)(end - trailer), LIT(" helo=<"));
	if (last == NULL)
		last = mp_find(trailer, (size_t)(end - trailer), LIT(" to=<"));
	if (last == NULL || (c = mp_find(last, (size_t)(end - last), LIT(">: "))) == NULL ||
	    c + 3 == end)
		return NULL;
	return c + 3;
}

/*
 * A cleanup header/body check reject. The reply is the action's text:
 * "5.7.1 text", or in the older form before Postfix logged the DSN code
 * (2.x) just "Message content rejected": no code, and a header_checks
 * REJECT is permanent, so class 5xx with code and enhanced code "". A line
 * whose trailer cannot be found falls back to the last ": " followed by a
 * code.
 */
static int
content_reject(const char *m, size_t n, const char *from, struct mp_event *ev)
{
	const char *end = m + n, *t = action_text(from, (size_t)(end - from));
	size_t k = (size_t)(end - from);
	int code = 0;

	if (t != NULL) {
		code = code_at(t, (size_t)(end - t), &ev->enhanced);
		if (code == 0)
			mp_parse_enhanced(t, (size_t)(end - t), &ev->enhanced);
		ev->code = (uint16_t)code;
		if (code != 0 || ev->enhanced.cls != 0)
			ev->outcome = (code != 0 ? code / 100 : ev->enhanced.cls) == 4 ?
			    MP_OUTCOME_TEMP_REJECTED : MP_OUTCOME_REJECTED;
		else
			ev->outcome = MP_OUTCOME_REJECTED;
		content_client(ev, from, (size_t)(t - from));
		ev->reply = t;
		ev->reply_len = (size_t)(end - t);
		return 1;
	}
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

static void
add_op(struct mp_event *ev, unsigned fam, unsigned l0, unsigned l1)
{
	(void)mp_event_add_op(ev, fam, l0, l1, 0, 0);
}

/*
 * The mechanism of smtpd_sasl_proto.c's "client=NAME[ADDR], sasl_method=M,
 * sasl_username=U[, sasl_sender=S][, orig_queue_id=Q, orig_client=C]"; s
 * is the text after the client. The user name is never looked at.
 */
static enum mp_sasl
sasl_method(const char *s, size_t len)
{
	const char *m = mp_find(s, len, LIT(", sasl_method=")), *c;

	if (m == NULL)
		return MP_SASL_NONE;
	m += sizeof(", sasl_method=") - 1;
	c = mp_memchr(m, ',', (size_t)(s + len - m));
	return mp_op_sasl(m, (size_t)((c != NULL ? c : s + len) - m));
}

/*
 * Whether an smtpd client= line is a content filter handing back a message
 * that was already received, from what Postfix says, never from the
 * client's address alone (webmail and applications on the mail host
 * submit over the loopback too, and those are receipts):
 * 1. XFORWARD: smtpd.c's mail_open_stream() and smtpd_sasl_proto.c's
 *    smtpd_sasl_mail_log() log "QID: client=NAMADDR[, sasl_method=M,
 *    sasl_username=U[, sasl_sender=S]][, orig_queue_id=ID][, orig_client=
 *    NAMADDR]", the last two only when the client forwarded the message's
 *    queue ID (XFORWARD IDENT) or its client (XFORWARD NAME, ADDR, PORT,
 *    PROTO or HELO), as amavisd-new does (smtpd.h's HAVE_FORWARDED_IDENT
 *    and HAVE_FORWARDED_CLIENT_ATTR; Postfix 2.x to 3.x, postfix/src/smtpd/
 *    in the Postfix source). s is the text after the client.
 * 2. The instance: the tag is one the admin named with
 *    --postfix.reinjection-syslog-name (an smtpd on 127.0.0.1:10025 with
 *    "-o syslog_name=postfix/amavis" logs as "postfix/amavis/smtpd"),
 *    given as the syslog_name or as the whole tag. rsyslog's RFC 5424
 *    "postfix" has no '/' and names no instance, so only XFORWARD tells
 *    there.
 */
static int
reinjected(const struct mp_settings *set, const struct mp_syslog *hdr,
    const char *s, size_t len)
{
	size_t plen;

	if (mp_find(s, len, LIT(", orig_queue_id=")) != NULL ||
	    mp_find(s, len, LIT(", orig_client=")) != NULL)
		return 1;
	if (set == NULL || set->nreinject == 0 || hdr->tag == NULL ||
	    mp_memchr(hdr->tag, '/', hdr->tag_len) == NULL)
		return 0;
	/* received() has checked that the tag ends in "/smtpd". */
	plen = hdr->tag_len - (sizeof("/smtpd") - 1);
	for (size_t i = 0; i < set->nreinject; i++) {
		const char *n = set->reinject[i].name;
		size_t nlen = set->reinject[i].len;

		if ((nlen == hdr->tag_len || nlen == plen) &&
		    memcmp(n, hdr->tag, nlen) == 0)
			return 1;
	}
	return 0;
}

/*
 * smtpd's "QID: client=host[addr]", logged once when a client's message is
 * given a queue file: a receipt (see the head of this file for why this
 * line and not qmgr's from=), whatever the client's address. A content
 * filter handing a message back (reinjected()) is marked MP_DEST_FILTER
 * and adds no accepted op: the message was counted when it first came in.
 */
static int
received(const struct postfix_state *st, const struct mp_syslog *hdr,
    const char *act, size_t rest, struct mp_event *ev)
{
	const char *br, *addr, *close;
	size_t after;

	/* Only smtpd logs it; rsyslog's RFC 5424 "postfix" names no service. */
	if (hdr->tag != NULL && mp_memchr(hdr->tag, '/', hdr->tag_len) != NULL &&
	    (hdr->tag_len < 6 ||
	    memcmp(hdr->tag + hdr->tag_len - 6, "/smtpd", 6) != 0))
		return 0;
	act += sizeof("client=") - 1;
	rest -= sizeof("client=") - 1;
	br = mp_memchr(act, '[', rest);
	if (br == NULL)
		return 0;
	addr = br + 1;
	close = mp_memchr(addr, ']', (size_t)(act + rest - addr));
	if (close == NULL)
		return 0;
	ev->kind = MP_EVENT_RECEIVED;
	ev->direction = MP_DIR_INBOUND;
	after = (size_t)(act + rest - close);
	if (reinjected(st->env->settings, hdr, close, after)) {
		ev->destination = MP_DEST_FILTER;
		return 1;
	}
	add_op(ev, MP_OPF_SMTPD_ACCEPTED, sasl_method(close, after), 0);
	return 1;
}

/*
 * The program that logged a line: the tag's last component, whatever the
 * instance or service name before it ("postfix-out/smtp",
 * "postfix/submission/smtpd", "postfix/amavis/smtp"). A tag without a '/'
 * (rsyslog's RFC 5424 "postfix") or no tag at all does not say: PROG_ANY,
 * and every shape below is tried on it.
 */
enum prog {
	PROG_ANY = 0, PROG_SMTPD, PROG_SMTP, PROG_POSTSCREEN, PROG_QMGR,
	PROG_CLEANUP, PROG_BOUNCE, PROG_DELIVERY, PROG_OTHER
};

static enum prog
program_of(const struct mp_syslog *hdr)
{
	const char *p;
	size_t n;

	if (hdr->tag == NULL)
		return PROG_ANY;
	/* p just past the last '/' of "postfix/smtp" (or "postfix-out/smtp",
	 * a second instance), a few bytes from the end: a byte loop, not a
	 * memrchr call, on every line. */
	for (p = hdr->tag + hdr->tag_len; p > hdr->tag && p[-1] != '/'; p--)
		;
	if (p == hdr->tag)
		return PROG_ANY;
	n = (size_t)(hdr->tag + hdr->tag_len - p);
	if (n == 0)
		return PROG_OTHER;
	/* By first byte, then the whole word: this was a walk over fourteen
	 * names on every line, with a branch per name that the line's
	 * program made unpredictable (a tenth of postfix_parse, perf). */
#define IS(w) word_is(p, n, LIT(w))
	switch (p[0]) {
	case 's':
		return IS("smtpd") ? PROG_SMTPD : IS("smtp") ? PROG_SMTP : PROG_OTHER;
	case 'l':
		return IS("lmtp") ? PROG_SMTP : IS("local") ? PROG_DELIVERY : PROG_OTHER;
	case 'p':
		return IS("postscreen") ? PROG_POSTSCREEN : IS("pipe") ? PROG_DELIVERY : PROG_OTHER;
	case 'q':
		return IS("qmgr") ? PROG_QMGR : PROG_OTHER;
	case 'o':
		return IS("oqmgr") ? PROG_QMGR : PROG_OTHER;
	case 'c':
		return IS("cleanup") ? PROG_CLEANUP : PROG_OTHER;
	case 'b':
		return IS("bounce") ? PROG_BOUNCE : PROG_OTHER;
	case 'v':
		return IS("virtual") ? PROG_DELIVERY : PROG_OTHER;
	case 'e':
		return IS("error") ? PROG_DELIVERY : PROG_OTHER;
	case 'r':
		return IS("retry") ? PROG_DELIVERY : PROG_OTHER;
	case 'd':
		return IS("discard") ? PROG_DELIVERY : PROG_OTHER;
	default:
		return PROG_OTHER;
	}
#undef IS
}

/*
 * Can this line's program log a delivery result? Only the delivery agents
 * and the queue manager (expiry) write "status=". This keeps the search for
 * "status=" away from the postscreen, smtpd and cleanup lines that are
 * most of a log.
 */
static int
may_log_status(enum prog prog)
{
	return prog == PROG_ANY || prog == PROG_SMTP || prog == PROG_QMGR ||
	    prog == PROG_DELIVERY;
}

/* The word at s (up to a space or the end), as its length. */
static size_t
word_len(const char *s, size_t len)
{
	const char *sp = mp_memchr(s, ' ', len);

	return sp != NULL ? (size_t)(sp - s) : len;
}

/*
 * smtpd's forward-confirmed reverse DNS failures (smtpd_peer.c), the text
 * after "warning: ":
 *   hostname NAME does not resolve to address ADDR[: REASON]	(2.8 and later)
 *   ADDR: hostname NAME verification failed: REASON		(before 2.8)
 *   ADDR: address not listed for hostname NAME		(before 2.8)
 * REASON is the resolver's ("Name or service not known", "Temporary
 * failure in name resolution"): either way the name did not confirm.
 */
static int
fcrdns_failure(const char *w, size_t n)
{
	const char *sp, *rest;

	if (mp_has_prefix(w, n, LIT("hostname ")))
		return mp_find(w, n, LIT(" does not resolve to address ")) != NULL;
	if ((sp = mp_memchr(w, ' ', n)) == NULL || sp == w || sp[-1] != ':')
		return 0;
	rest = sp + 1;
	n -= (size_t)(rest - w);
	return mp_has_prefix(rest, n, LIT("address not listed for hostname ")) ||
	    (mp_has_prefix(rest, n, LIT("hostname ")) &&
	    mp_find(rest, n, LIT(" verification failed")) != NULL);
}

/*
 * smtpd's failed AUTH (smtpd_sasl_glue.c), after "warning: ":
 *   NAME[ADDR]: SASL METHOD authentication failed: REASON
 * Cyrus SASL's own "SASL authentication failure: ..." warning about the
 * same attempt names no client and is not counted, so each attempt counts
 * once. REASON may hold a base64 challenge, never a label.
 */
static void
sasl_failure(const char *w, size_t n, struct mp_event *ev)
{
	const char *sp = mp_memchr(w, ' ', n), *method;
	size_t mlen, left;

	if (sp == NULL || sp == w || sp[-1] != ':' ||
	    mp_memchr(w, '[', (size_t)(sp - w)) == NULL)
		return;
	method = sp + 1;
	left = (size_t)(w + n - method);
	if (!mp_has_prefix(method, left, LIT("SASL ")))
		return;
	method += 5;
	left -= 5;
	mlen = word_len(method, left);
	if (!mp_has_prefix(method + mlen, left - mlen, LIT(" authentication failed")))
		return;
	add_op(ev, MP_OPF_SMTPD_AUTH_FAILURES, mp_op_sasl(method, mlen), 0);
}

/*
 * Diagnostics (msg_warn, msg_error, msg_fatal, msg_panic) never carry a
 * status: a "warning: ... status=..." talks about one. Some report ops:
 *   fatal: TEXT, panic: TEXT	any program with a tag (an untagged
 *				"fatal:" could be anybody's)
 *   warning: ...		smtpd's FCrDNS and SASL failures, above
 * "warning: TLS library problem: ..." is not a failed handshake of its
 * own: it follows the "SSL_accept error" line it explains (tls_misc.c
 * tls_print_errors), which is the one counted.
 */
static void
diagnostic(const struct mp_syslog *hdr, enum prog prog, const char *m,
    size_t n, struct mp_event *ev)
{
	if (mp_has_prefix(m, n, LIT("fatal: "))) {
		if (hdr->tag != NULL)
			add_op(ev, MP_OPF_FATALS, 0, 0);
		return;
	}
	if (mp_has_prefix(m, n, LIT("panic: "))) {
		if (hdr->tag != NULL)
			add_op(ev, MP_OPF_PANICS, 0, 0);
		return;
	}
	if ((prog != PROG_SMTPD && prog != PROG_ANY) ||
	    !mp_has_prefix(m, n, LIT("warning: ")))
		return;
	m += sizeof("warning: ") - 1;
	n -= sizeof("warning: ") - 1;
	if (fcrdns_failure(m, n))
		add_op(ev, MP_OPF_SMTPD_FCRDNS_FAILURES, 0, 0);
	else
		sasl_failure(m, n, ev);
}

/*
 * "disconnect from NAME[ADDR] ehlo=1 mail=1 rcpt=0/1 quit=1 commands=3/4"
 * (smtpd.c, 3.0 and later): each command's successes[/attempts], always
 * ending in "commands=". quit=N with N > 0: the client said QUIT; stats
 * without it: it went away or was dropped. Before 3.0 the line ends at the
 * client: unknown.
 */
static enum mp_disconnect
disconnect_reason(const char *s, size_t len)
{
	const char *q = mp_find(s, len, LIT(" quit="));

	if (q != NULL) {
		q += sizeof(" quit=") - 1;
		return q < s + len && *q >= '1' && *q <= '9' ?
		    MP_DISC_QUIT : MP_DISC_NO_QUIT;
	}
	return mp_find(s, len, LIT(" commands=")) != NULL ?
	    MP_DISC_NO_QUIT : MP_DISC_UNKNOWN;
}

/*
 * "lost connection after CMD from NAME[ADDR]" and "timeout after CMD from
 * NAME[ADDR]" (smtpd.c, CMD being state->where: CONNECT, EHLO, STARTTLS,
 * DATA, END-OF-MESSAGE, UNKNOWN, ...; 3.x adds " (N bytes)" after DATA and
 * BDAT). s is the text after "after ".
 */
static void
after_cmd(const char *s, size_t len, unsigned fam, struct mp_event *ev)
{
	size_t cmd_len = word_len(s, len);

	if (cmd_len == 0 || mp_find(s + cmd_len, len - cmd_len, LIT(" from ")) == NULL)
		return;
	add_op(ev, fam, mp_op_cmd(s, cmd_len), 0);
}

/*
 * TLS sessions (tls_server.c, tls_client.c):
 *   TRUST TLS connection established from NAME[ADDR]: PROTO with cipher
 *	CIPHER (N/N bits)[ key-exchange ...]		smtpd, inbound
 *   TRUST TLS connection established to NAME[ADDR]:PORT: PROTO with cipher
 *	CIPHER (N/N bits)[ ...]				smtp/lmtp, outbound
 * TRUST is Anonymous (no certificate), Untrusted, Trusted (chain
 * verified) or Verified (name matched too, or DANE); the server side never
 * says Verified. want_from / want_to say which side the program is.
 */
static int
tls_established(const char *m, size_t n, int want_from, int want_to,
    struct mp_event *ev)
{
	static const struct { const char *s; size_t n; enum mp_tls_trust t; } trusts[] = {
		{ LIT("Anonymous "), MP_TLST_ANONYMOUS }, { LIT("Untrusted "), MP_TLST_UNTRUSTED },
		{ LIT("Trusted "), MP_TLST_TRUSTED }, { LIT("Verified "), MP_TLST_VERIFIED },
	};
	const char *p = NULL, *with, *proto, *cipher, *end = m + n;
	enum mp_tls_trust trust = MP_TLST_UNKNOWN;
	enum mp_direction dir;
	size_t left;

	for (size_t i = 0; i < sizeof trusts / sizeof trusts[0] && p == NULL; i++)
		if (mp_has_prefix(m, n, trusts[i].s, trusts[i].n)) {
			p = m + trusts[i].n;
			trust = trusts[i].t;
		}
	if (p == NULL || !mp_has_prefix(p, (size_t)(end - p),
	    LIT("TLS connection established ")))
		return 0;
	p += sizeof("TLS connection established ") - 1;
	left = (size_t)(end - p);
	if (want_from && mp_has_prefix(p, left, LIT("from ")))
		dir = MP_DIR_INBOUND;
	else if (want_to && mp_has_prefix(p, left, LIT("to ")))
		dir = MP_DIR_OUTBOUND;
	else
		return 0;
	if ((with = mp_find(p, left, LIT(" with cipher "))) == NULL)
		return 0;
	for (proto = with; proto > p && proto[-1] != ' '; proto--)
		;
	cipher = with + sizeof(" with cipher ") - 1;
	(void)mp_event_add_op(ev, MP_OPF_TLS, dir,
	    mp_op_tls_protocol(proto, (size_t)(with - proto)), trust, 0);
	ev->tls_cipher = cipher;
	ev->tls_cipher_len = word_len(cipher, (size_t)(end - cipher));
	if (ev->tls_cipher_len == 0)
		ev->tls_cipher = NULL;
	return 1;
}

/*
 * smtpd's session lines (smtpd.c): connect, disconnect, lost connection,
 * timeout; its TLS handshakes (tls_server.c): established, or
 * "SSL_accept error from NAME[ADDR]: -1|lost connection|ERRNO TEXT", a
 * msg_info, one per failed handshake.
 */
static int
smtpd_session(const char *m, size_t n, struct mp_event *ev)
{
	if (mp_has_prefix(m, n, LIT("connect from "))) {
		if (mp_memchr(m, '[', n) != NULL)
			add_op(ev, MP_OPF_SMTPD_CONNECTS, 0, 0);
	} else if (mp_has_prefix(m, n, LIT("disconnect from "))) {
		add_op(ev, MP_OPF_SMTPD_DISCONNECTS, disconnect_reason(m, n), 0);
	} else if (mp_has_prefix(m, n, LIT("lost connection after "))) {
		m += sizeof("lost connection after ") - 1;
		after_cmd(m, n - (sizeof("lost connection after ") - 1),
		    MP_OPF_SMTPD_LOST, ev);
	} else if (mp_has_prefix(m, n, LIT("timeout after "))) {
		after_cmd(m + sizeof("timeout after ") - 1,
		    n - (sizeof("timeout after ") - 1), MP_OPF_SMTPD_TIMEOUTS, ev);
	} else if (mp_has_prefix(m, n, LIT("SSL_accept error from "))) {
		add_op(ev, MP_OPF_TLS_FAILURES, MP_DIR_INBOUND, 0);
	} else {
		return tls_established(m, n, 1, 0, ev);
	}
	return 1;
}

/* smtp's and lmtp's: TLS established, or "SSL_connect error to
 * NAME[ADDR]:PORT: ..." (tls_client.c). */
static int
smtp_session(const char *m, size_t n, struct mp_event *ev)
{
	if (mp_has_prefix(m, n, LIT("SSL_connect error to "))) {
		add_op(ev, MP_OPF_TLS_FAILURES, MP_DIR_OUTBOUND, 0);
		return 1;
	}
	return tls_established(m, n, 0, 1, ev);
}

/*
 * postscreen (postscreen_early.c, postscreen_smtpd.c, postscreen.c), the
 * client always "[ADDR]:PORT":
 *   CONNECT from [ADDR]:PORT to [ADDR]:PORT
 *   PASS NEW|OLD [ADDR]:PORT
 *   PREGREET N after T from [ADDR]:PORT: TEXT
 *   COMMAND PIPELINING from [ADDR]:PORT after CMD: TEXT
 *   NON-SMTP COMMAND from [ADDR]:PORT after CMD: TEXT
 *   BARE NEWLINE from [ADDR]:PORT after CMD
 *   COMMAND TIME|COUNT|LENGTH LIMIT from [ADDR]:PORT after CMD
 *   HANGUP after T from [ADDR]:PORT in TEST
 *   WHITELISTED|BLACKLISTED|WHITELIST VETO [ADDR]:PORT
 *	(3.6 renamed them ALLOWLISTED, DENYLISTED, ALLOWLIST VETO)
 */
static const struct ps_shape {
	const char *s;
	size_t n;
	unsigned fam, label;
} ps_shapes[] = {
	{ LIT("CONNECT from ["), MP_OPF_PS_CONNECTS, 0 },
	{ LIT("PASS NEW ["), MP_OPF_PS_PASSES, MP_PS_PASS_NEW },
	{ LIT("PASS OLD ["), MP_OPF_PS_PASSES, MP_PS_PASS_OLD },
	{ LIT("PREGREET "), MP_OPF_PS_FAILURES, MP_PS_PREGREET },
	{ LIT("COMMAND PIPELINING from ["), MP_OPF_PS_FAILURES, MP_PS_PIPELINING },
	{ LIT("NON-SMTP COMMAND from ["), MP_OPF_PS_FAILURES, MP_PS_NON_SMTP },
	{ LIT("BARE NEWLINE from ["), MP_OPF_PS_FAILURES, MP_PS_BARE_NEWLINE },
	{ LIT("COMMAND TIME LIMIT from ["), MP_OPF_PS_FAILURES, MP_PS_TIME_LIMIT },
	{ LIT("COMMAND COUNT LIMIT from ["), MP_OPF_PS_FAILURES, MP_PS_COUNT_LIMIT },
	{ LIT("COMMAND LENGTH LIMIT from ["), MP_OPF_PS_FAILURES, MP_PS_LENGTH_LIMIT },
	{ LIT("HANGUP after "), MP_OPF_PS_HANGUPS, 0 },
	{ LIT("WHITELISTED ["), MP_OPF_PS_LISTS, MP_PS_ALLOWLIST },
	{ LIT("ALLOWLISTED ["), MP_OPF_PS_LISTS, MP_PS_ALLOWLIST },
	{ LIT("BLACKLISTED ["), MP_OPF_PS_LISTS, MP_PS_DENYLIST },
	{ LIT("DENYLISTED ["), MP_OPF_PS_LISTS, MP_PS_DENYLIST },
	{ LIT("WHITELIST VETO ["), MP_OPF_PS_LISTS, MP_PS_ALLOWLIST_VETO },
	{ LIT("ALLOWLIST VETO ["), MP_OPF_PS_LISTS, MP_PS_ALLOWLIST_VETO },
};

/*
 * "DNSBL rank N for [ADDR]:PORT": postscreen logs it only when N reached
 * postscreen_dnsbl_threshold, right before failing the client's dnsbl test
 * (postscreen_early.c: below the threshold the test passes silently), so
 * the line is both the rank and a dnsbl failure.
 */
static int
ps_dnsbl_rank(const char *m, size_t n, struct mp_event *ev)
{
	const char *v = m + sizeof("DNSBL rank ") - 1;
	size_t used, left = n - (sizeof("DNSBL rank ") - 1);
	double rank = mp_decimal_at(v, left, &used);

	if (rank < 0 || !mp_has_prefix(v + used, left - used, LIT(" for [")))
		return 0;
	(void)mp_event_add_op(ev, MP_OPF_PS_DNSBL_RANK, 0, 0, 0, rank);
	add_op(ev, MP_OPF_PS_FAILURES, MP_PS_DNSBL, 0);
	return 1;
}

static int
postscreen_session(const char *m, size_t n, struct mp_event *ev)
{
	if (mp_has_prefix(m, n, LIT("DNSBL rank ")))
		return ps_dnsbl_rank(m, n, ev);
	for (size_t i = 0; i < sizeof ps_shapes / sizeof ps_shapes[0]; i++) {
		const struct ps_shape *s = &ps_shapes[i];

		if (!mp_has_prefix(m, n, s->s, s->n))
			continue;
		/* PREGREET and HANGUP name the client further on. */
		if (s->s[s->n - 1] != '[' &&
		    mp_find(m + s->n, n - s->n, LIT(" from [")) == NULL)
			return 0;
		add_op(ev, s->fam, s->label, 0);
		return 1;
	}
	return 0;
}

/* Lines without a queue ID that report ops, by program. */
static int
session_ops(enum prog prog, const char *m, size_t n, struct mp_event *ev)
{
	switch (prog) {
	case PROG_SMTPD:
		return smtpd_session(m, n, ev);
	case PROG_SMTP:
		return smtp_session(m, n, ev);
	case PROG_POSTSCREEN:
		return postscreen_session(m, n, ev);
	case PROG_ANY:
		return smtpd_session(m, n, ev) || smtp_session(m, n, ev) ||
		    postscreen_session(m, n, ev);
	default:
		return 0;
	}
}

/*
 * What decided a cleanup action: the class word cleanup_act_log and the
 * header/body checks write after the action ("header", "body"; later
 * releases "mime-header" and "nested-header" for attachment and nested
 * message headers, counted as header). -1 if none.
 */
static int
cleanup_source(const char *s, size_t len)
{
	size_t w = word_len(s, len);

	if (w == len)
		return -1;
	if (word_is(s, w, LIT("header")) || word_is(s, w, LIT("mime-header")) ||
	    word_is(s, w, LIT("nested-header")))
		return MP_CLS_HEADER;
	if (word_is(s, w, LIT("body")))
		return MP_CLS_BODY;
	return -1;
}

/*
 * cleanup's actions (cleanup_message.c cleanup_act_log, cleanup_milter.c):
 *   QID: ACTION: header|body CONTENT from CLIENT; from=<> to=<> ...[: TEXT]
 *	ACTION from header_checks/body_checks: reject, warning (WARN),
 *	hold, discard, redirect, filter, replace, info (INFO), bcc (BCC);
 *	PREPEND, and milter_header_checks' "milter-header-ACTION", have no
 *	label of their own and are not counted.
 *   QID: milter-reject|milter-hold|milter-discard: END-OF-MESSAGE from
 *	NAME[ADDR]: TEXT; from=<> ...	a milter's verdict at end of data
 * act is the text after "QID: ". Returns 1 if it counted one.
 */
static int
cleanup_action(enum prog prog, const char *act, size_t rest,
    struct mp_event *ev)
{
	static const struct { const char *s; size_t n; enum mp_cleanup_action a; } actions[] = {
		{ LIT("reject: "), MP_CLA_REJECT }, { LIT("warning: "), MP_CLA_WARNING },
		{ LIT("hold: "), MP_CLA_HOLD }, { LIT("discard: "), MP_CLA_DISCARD },
		{ LIT("redirect: "), MP_CLA_REDIRECT }, { LIT("filter: "), MP_CLA_FILTER },
		{ LIT("replace: "), MP_CLA_REPLACE }, { LIT("info: "), MP_CLA_INFO },
		{ LIT("bcc: "), MP_CLA_BCC },
	};
	static const struct { const char *s; size_t n; enum mp_cleanup_action a; } milter[] = {
		{ LIT("milter-reject: "), MP_CLA_REJECT }, { LIT("milter-hold: "), MP_CLA_HOLD },
		{ LIT("milter-discard: "), MP_CLA_DISCARD },
	};

	if (prog != PROG_CLEANUP && prog != PROG_ANY)
		return 0;
	for (size_t i = 0; i < sizeof actions / sizeof actions[0]; i++) {
		int src;

		if (!mp_has_prefix(act, rest, actions[i].s, actions[i].n))
			continue;
		src = cleanup_source(act + actions[i].n, rest - actions[i].n);
		if (src < 0)
			return 0;
		add_op(ev, MP_OPF_CLEANUP_ACTIONS, actions[i].a, (unsigned)src);
		return 1;
	}
	for (size_t i = 0; i < sizeof milter / sizeof milter[0]; i++) {
		if (!mp_has_prefix(act, rest, milter[i].s, milter[i].n))
			continue;
		/* Untagged, smtpd's own milter-reject (NOQUEUE, before DATA
		 * ends) is not cleanup's: only END-OF-MESSAGE is. */
		if (prog == PROG_ANY && !mp_has_prefix(act + milter[i].n,
		    rest - milter[i].n, LIT("END-OF-MESSAGE ")))
			return 0;
		add_op(ev, MP_OPF_CLEANUP_ACTIONS, milter[i].a, MP_CLS_MILTER);
		return 1;
	}
	return 0;
}

/*
 * qmgr's "QID: from=<SENDER>, size=N, nrcpt=M (queue active)"
 * (qmgr_message.c): the message's size and recipient count, each time qmgr
 * takes it in (see the head of this file for why it is no receipt). Read
 * from the end, so a sender with ", size=" in it changes nothing.
 */
static int
qmgr_active(const char *act, size_t rest, struct mp_event *ev)
{
	const char *end = act + rest, *sz, *nr;
	double size, rcpts;
	size_t used;

	if (rest == 0 || end[-1] != ')' ||
	    (sz = rfind(act, rest, LIT(", size="))) == NULL)
		return 0;
	sz += sizeof(", size=") - 1;
	size = mp_decimal_at(sz, (size_t)(end - sz), &used);
	nr = sz + used;
	if (size < 0 || !mp_has_prefix(nr, (size_t)(end - nr), LIT(", nrcpt=")))
		return 0;
	nr += sizeof(", nrcpt=") - 1;
	rcpts = mp_decimal_at(nr, (size_t)(end - nr), &used);
	if (rcpts < 0 || !mp_has_prefix(nr + used, (size_t)(end - nr - used),
	    LIT(" (queue ")))
		return 0;
	(void)mp_event_add_op(ev, MP_OPF_QMGR_SIZE, 0, 0, 0, size);
	(void)mp_event_add_op(ev, MP_OPF_QMGR_RCPTS, 0, 0, 0, rcpts);
	return 1;
}

/*
 * bounce's notices (bounce_notify_service.c, bounce_warn_service.c,
 * bounce_trace_service.c): "QID: WHO KIND notification: NEWQID".
 */
static int
bounce_notice(const char *act, size_t rest, struct mp_event *ev)
{
	static const struct { const char *s; size_t n; unsigned kind, to; } notices[] = {
		{ LIT("sender non-delivery notification: "), MP_BOUNCE_NON_DELIVERY, MP_BOUNCE_TO_SENDER },
		{ LIT("postmaster non-delivery notification: "), MP_BOUNCE_NON_DELIVERY, MP_BOUNCE_TO_POSTMASTER },
		{ LIT("sender delay notification: "), MP_BOUNCE_DELAY, MP_BOUNCE_TO_SENDER },
		{ LIT("postmaster delay notification: "), MP_BOUNCE_DELAY, MP_BOUNCE_TO_POSTMASTER },
		{ LIT("sender delivery status notification: "), MP_BOUNCE_SUCCESS, MP_BOUNCE_TO_SENDER },
	};

	for (size_t i = 0; i < sizeof notices / sizeof notices[0]; i++)
		if (mp_has_prefix(act, rest, notices[i].s, notices[i].n)) {
			add_op(ev, MP_OPF_BOUNCE, notices[i].kind, notices[i].to);
			return 1;
		}
	return 0;
}

/*
 * Queue-file lines that report ops and no status, by program; act is the
 * text after "QID: ". cleanup's "message-id=" is logged once per message
 * (cleanup_message.c: the header's, or "message-id=<>" when there is none);
 * its "resent-message-id=" comes besides it and is not counted.
 */
static int
queue_ops(enum prog prog, const char *act, size_t rest, struct mp_event *ev)
{
	int any = prog == PROG_ANY;

	if ((any || prog == PROG_CLEANUP) && mp_has_prefix(act, rest, LIT("message-id="))) {
		add_op(ev, MP_OPF_CLEANUP_PROCESSED, 0, 0);
		return 1;
	}
	if (cleanup_action(prog, act, rest, ev))
		return 1;
	if (any || prog == PROG_QMGR) {
		if (word_is(act, rest, LIT("removed"))) {
			add_op(ev, MP_OPF_QMGR_REMOVED, 0, 0);
			return 1;
		}
		if (mp_has_prefix(act, rest, LIT("from=<")) && qmgr_active(act, rest, ev))
			return 1;
	}
	return (any || prog == PROG_BOUNCE) && bounce_notice(act, rest, ev);
}

static int
postfix_parse(void *state, const struct mp_syslog *hdr, struct mp_event *ev)
{
	struct postfix_state *st = state;
	const char *m = hdr->msg, *colon, *act = NULL;
	size_t n = hdr->msg_len, rest = 0;
	enum prog prog;
	int r;

	if (m == NULL || n < 8)
		return 0;
	prog = program_of(hdr);
	/* Diagnostics ("warning: ... status=...") are never results. */
	if (mp_has_prefix(m, n, LIT("warning: ")) || mp_has_prefix(m, n, LIT("error: ")) ||
	    mp_has_prefix(m, n, LIT("fatal: ")) || mp_has_prefix(m, n, LIT("panic: "))) {
		diagnostic(hdr, prog, m, n, ev);
		return 0;
	}
	/* The action follows the queue ID (at most ~20 bytes) or NOQUEUE. */
	colon = mp_memchr(m, ':', n < 32 ? n : 32);
	if (colon != NULL && colon + 1 < m + n && colon[1] == ' ') {
		act = colon + 2;
		rest = (size_t)(m + n - act);
		if (mp_has_prefix(act, rest, LIT("reject: ")) ||
		    mp_has_prefix(act, rest, LIT("milter-reject: "))) {
			(void)cleanup_action(prog, act, rest, ev);
			return reject(st, m, n, ev);
		}
		if (mp_has_prefix(act, rest, LIT("client=")))
			return received(st, hdr, act, rest, ev);
		if (queue_ops(prog, act, rest, ev))
			return 0;
	}
	/* Session lines have no queue ID, but an IPv6 client or a short
	 * host name can put ": " in the first 32 bytes: try them anyway. */
	if (session_ops(prog, m, n, ev))
		return 0;
	if (!may_log_status(prog) || mp_find(m, n, LIT("status=")) == NULL)
		return 0;
	r = delivery(st, hdr, m, n, ev);
	/* qmgr's "QID: from=<s>, status=expired, returned to sender". */
	if (r == 1 && ev->outcome == MP_OUTCOME_EXPIRED && act != NULL &&
	    (prog == PROG_QMGR || prog == PROG_ANY) &&
	    mp_has_prefix(act, rest, LIT("from=<")))
		add_op(ev, MP_OPF_QMGR_EXPIRED, 0, 0);
	return r;
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
	return mp_has_prefix(hdr->tag, hdr->tag_len, LIT("postfix")) ?
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
	if (mp_re_compile(&st->delivery, mp_postfix_delivery_re, 0, err, errlen) == -1 ||
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
