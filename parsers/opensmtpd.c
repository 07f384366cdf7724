/*
 * opensmtpd.c - OpenSMTPD delivery results and rejects ("smtpd[pid]:"),
 * from the format strings of OpenSMTPD 6.x-7.8 (mta.c, mda.c, queue.c,
 * smtp_session.c), plus the 5.x shapes still found in old logs.
 *
 * What counts, one event per line:
 *   SESSID mta delivery evpid=E from=<s> to=<r> rcpt=<o|-> source="ip"
 *	relay="ip (name)" delay=1m2s result="Ok|TempFail|PermFail" stat="TEXT"
 *	a relayed recipient; TEXT is the remote's reply verbatim, or a local
 *	message with no code ("Connection refused");
 *   SESSID mda delivery evpid=E from=<s> to=<r> [rcpt=<o> ]user=U delay=D
 *	result=Ok stat=Delivered
 *	a local delivery: unquoted, and no SMTP code, whatever stat says;
 *   delivery|relay: Expire|Remove for EVPID: from=<s>, to=<r>, ...,
 *	stat=TEXT
 *	the queue giving up on an envelope (Expire) or an admin removing it;
 *   SESSID smtp failed-command command="CMD" result="550 5.7.1 text"
 *	our reply to a client (inbound). The line names no client (only the
 *	session's earlier "smtp connected address=" line does, and parsers
 *	keep no state between lines), so a reject has no domain: it counts
 *	as "other" in the inbound domain family;
 *   5.x: "relay|delivery: Ok|TempFail|PermFail for EVPID: ..., stat=TEXT"
 *	and "smtp-in: Failed command on session S: "CMD" => 550 text";
 *   6.0-6.3: "SESSID mta event=delivery ..." as above, and "SESSID smtp
 *	event=failed-command address=A host=H command=.. result=..", which
 *	names the client, so its reject has the client's domain.
 * "SESSID smtp message msgid=... nrcpt=N" is a receipt (MP_EVENT_RECEIVED).
 *
 * stat is always the last field and may itself hold quotes, so it is taken
 * to the end of the line, never to the next quote.
 */
#include "parsers/parser.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LIT(s) (s), (sizeof(s) - 1)

static int
word_is(const char *s, size_t len, const char *w, size_t wlen)
{
	return len == wlen && memcmp(s, w, wlen) == 0;
}

static int
is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/* The 16-hex-digit session id and its space: 17, or 0. */
static size_t
session_id(const char *s, size_t len)
{
	if (len < 17 || s[16] != ' ')
		return 0;
	for (size_t i = 0; i < 16; i++)
		if (!is_hex(s[i]))
			return 0;
	return 17;
}

/* " KEY=" in s[0..len) (or at its start); the value runs to the next
 * space, or for a quoted value to the closing quote. */
static const char *
field(const char *s, size_t len, const char *key, size_t klen, size_t *vlen)
{
	const char *end = s + len, *p, *q;

	for (p = s; (p = mp_find(p, (size_t)(end - p), key, klen)) != NULL; p++)
		if (p == s || p[-1] == ' ')
			break;
	if (p == NULL)
		return NULL;
	p += klen;
	if (p < end && *p == '"') {
		p++;
		q = memchr(p, '"', (size_t)(end - p));
	} else {
		q = memchr(p, ' ', (size_t)(end - p));
	}
	*vlen = (size_t)((q != NULL ? q : end) - p);
	return p;
}

/* stat= is last: to the end, less the closing quote if it was quoted. */
static int
stat_text(const char *s, size_t len, struct mp_event *ev)
{
	const char *end = s + len, *p = s;

	for (;;) {
		p = mp_find(p, (size_t)(end - p), "stat=", 5);
		if (p == NULL)
			return -1;
		if (p == s || p[-1] == ' ')
			break;
		p++;
	}
	p += 5;
	if (p < end && *p == '"') {
		p++;
		if (end > p && end[-1] == '"')
			end--;
	}
	ev->reply = p;
	ev->reply_len = (size_t)(end - p);
	return 0;
}

static void
address_domain(const char *v, size_t vlen, struct mp_event *ev)
{
	if (vlen >= 2 && v[0] == '<' && v[vlen - 1] == '>')
		mp_event_set_domain(ev, v + 1, vlen - 2);
	else
		mp_event_set_domain(ev, v, vlen);
}

static int
outcome_word(const char *w, size_t wlen, struct mp_event *ev)
{
	if (word_is(w, wlen, LIT("Ok")))
		ev->outcome = MP_OUTCOME_SENT;
	else if (word_is(w, wlen, LIT("TempFail")))
		ev->outcome = MP_OUTCOME_DEFERRED;
	else if (word_is(w, wlen, LIT("PermFail")) || word_is(w, wlen, LIT("Loop")))
		ev->outcome = MP_OUTCOME_BOUNCED;
	else if (word_is(w, wlen, LIT("Expire")))
		ev->outcome = MP_OUTCOME_EXPIRED;
	else if (word_is(w, wlen, LIT("Remove")))
		ev->outcome = MP_OUTCOME_BOUNCED;	/* never delivered, for good */
	else
		return -1;
	return 0;
}

/* relay="203.0.113.5 (mx.example.org)": a loopback relay is a filter. */
static enum mp_destination
relay_destination(const char *s, size_t len)
{
	const char *v;
	size_t vlen, n = 0;

	v = field(s, len, LIT("relay="), &vlen);
	if (v == NULL)
		return MP_DEST_REMOTE;
	while (n < vlen && v[n] != ' ' && v[n] != ',')
		n++;
	if (n >= 2 && v[0] == '[' && v[n - 1] == ']')
		return mp_is_loopback(v + 1, n - 2) ? MP_DEST_FILTER : MP_DEST_REMOTE;
	return mp_is_loopback(v, n) ? MP_DEST_FILTER : MP_DEST_REMOTE;
}

/*
 * "mta delivery" (remote: stat may quote the reply) or "mda delivery"
 * (local: no code); s starts after "delivery ".
 */
static int
delivery(const char *s, size_t len, int remote, struct mp_event *ev)
{
	const char *v;
	size_t vlen;

	v = field(s, len, LIT("result="), &vlen);
	if (v == NULL || outcome_word(v, vlen, ev) == -1 ||
	    ev->outcome == MP_OUTCOME_EXPIRED)
		return -1;
	if (stat_text(s, len, ev) == -1)
		return -1;
	if ((v = field(s, len, LIT("to="), &vlen)) != NULL)
		address_domain(v, vlen, ev);
	if ((v = field(s, len, LIT("delay="), &vlen)) != NULL)
		ev->delay = mp_units_duration_at(v, vlen, NULL);
	if (remote) {
		ev->code = (uint16_t)mp_reply_at(ev->reply, ev->reply_len,
		    &ev->enhanced);
		ev->destination = relay_destination(s, len);
	} else {
		ev->destination = MP_DEST_LOCAL;
	}
	ev->direction = MP_DIR_OUTBOUND;
	return mp_event_set_class(ev) == 0 ? 1 : -1;
}

/*
 * queue.c's "delivery|relay: WORD for EVPID: from=<..>, to=<..>, ...,
 * stat=TEXT" (WORD Expire or Remove; in 5.x also the results). s starts at
 * the WORD; remote says which queue ("relay", else "delivery": local).
 */
static int
queue_line(const char *s, size_t len, int remote, struct mp_event *ev)
{
	const char *sp = memchr(s, ' ', len), *v;
	size_t vlen;

	if (sp == NULL || !mp_has_prefix(sp, (size_t)(s + len - sp), LIT(" for ")))
		return 0;
	if (outcome_word(s, (size_t)(sp - s), ev) == -1)
		return -1;
	if (stat_text(s, len, ev) == -1)
		return -1;
	if ((v = field(s, len, LIT("to="), &vlen)) != NULL) {
		if (vlen > 0 && v[vlen - 1] == ',')
			vlen--;
		address_domain(v, vlen, ev);
	}
	if ((v = field(s, len, LIT("delay="), &vlen)) != NULL)
		ev->delay = mp_units_duration_at(v, vlen, NULL);
	/* 5.x relay results quote the remote's reply as mta delivery does;
	 * Expire and Remove say "Envelope expired" and the like: no code. */
	if (remote)
		ev->code = (uint16_t)mp_reply_at(ev->reply, ev->reply_len,
		    &ev->enhanced);
	ev->destination = remote ? relay_destination(s, len) : MP_DEST_LOCAL;
	ev->direction = MP_DIR_OUTBOUND;
	return mp_event_set_class(ev) == 0 ? 1 : -1;
}

/* Our reply to a client: text starts with the code. The refused command
 * (for RCPT, a recipient of ours) is not the domain of an inbound event:
 * that is the client's, which these lines do not state. */
static int
refused(const char *r, size_t rlen, struct mp_event *ev)
{
	int code = mp_reply_at(r, rlen, &ev->enhanced);

	if (code == 0)
		return -1;
	ev->code = (uint16_t)code;
	ev->direction = MP_DIR_INBOUND;
	ev->outcome = code / 100 == 4 ? MP_OUTCOME_TEMP_REJECTED :
	    MP_OUTCOME_REJECTED;
	ev->reply = r;
	ev->reply_len = rlen;
	return mp_event_set_class(ev) == 0 ? 1 : -1;
}

static int
failed_command(const char *s, size_t len, struct mp_event *ev)
{
	const char *end = s + len, *r = NULL, *p;
	struct mp_enhanced enh;

	/* The command is the client's text and the result may quote a filter,
	 * so neither quote can be trusted to end a field: take the first
	 * "\" result=\"" that is followed by a reply code. */
	for (p = s; (p = mp_find(p, (size_t)(end - p), LIT("\" result=\""))) != NULL;
	    p++) {
		if (mp_reply_at(p + 10, (size_t)(end - p - 10), &enh) != 0) {
			r = p + 10;
			break;
		}
	}
	if (r == NULL)
		return -1;
	if (end > r && end[-1] == '"')
		end--;
	return refused(r, (size_t)(end - r), ev);
}

/*
 * 6.0-6.3: "smtp event=failed-command address=A host=H command="CMD"
 * result="550 text"" (smtp_session.c smtp_reply()). Unlike 6.4+, the line
 * names the client: its host name as smtpd resolved it, "<unknown>" when
 * it did not, else its address. s starts after "event=failed-command ".
 */
static int
failed_command_6x(const char *s, size_t len, struct mp_event *ev)
{
	const char *cmd = mp_find(s, len, LIT(" command=\"")), *a, *h;
	size_t head = cmd != NULL ? (size_t)(cmd - s) : len, alen = 0, hlen = 0;
	int r;

	a = field(s, head, LIT("address="), &alen);
	h = field(s, head, LIT("host="), &hlen);
	if ((r = failed_command(s, len, ev)) != 1)
		return r;
	if (h != NULL && word_is(h, hlen, LIT("<unknown>")))
		h = NULL;
	mp_event_set_client(ev, h, h != NULL ? hlen : 0, a, a != NULL ? alen : 0);
	return 1;
}

/* 5.x: "smtp-in: Failed command on session S: "CMD" => 550 text". */
static int
old_failed_command(const char *s, size_t len, struct mp_event *ev)
{
	const char *end = s + len, *q, *arrow;

	q = mp_find(s, len, LIT(": \""));
	arrow = mp_find(s, len, LIT("\" => "));
	if (q == NULL || arrow == NULL || arrow < q)
		return -1;
	arrow += 5;
	return refused(arrow, (size_t)(end - arrow), ev);
}

/*
 * Operational ops (ops.h), from the log_info() calls of smtp_session.c
 * and mta_session.c (OpenSMTPD 6.x-7.8). s starts after the session id.
 */

/* "TLSv1.3:TLS_AES_256_GCM_SHA384:256" (tls_to_text()/ssl_to_text()):
 * protocol, cipher, bits. The line states no verification result:
 * smtp_session.c logs a client certificate's apart ("smtp cert-check
 * result=verified|unchecked", and only when one was presented), and
 * mta_session.c none, so trust is unknown. */
static void
tls_op(const char *v, size_t vlen, enum mp_direction dir, struct mp_event *ev)
{
	const char *c1 = memchr(v, ':', vlen), *c2;

	if (c1 == NULL)
		return;
	c2 = memchr(c1 + 1, ':', (size_t)(v + vlen - c1 - 1));
	if (mp_event_add_op(ev, MP_OPF_TLS, dir,
	    mp_op_tls_protocol(v, (size_t)(c1 - v)), MP_TLST_UNKNOWN, 0) == 0 &&
	    c2 != NULL && c2 > c1 + 1) {
		ev->tls_cipher = c1 + 1;
		ev->tls_cipher_len = (size_t)(c2 - c1 - 1);
	}
}

/* 6.x's ssl_to_text(): "version=TLSv1.2, cipher=ECDHE-RSA-AES256-GCM-SHA384,
 * bits=256", the same facts as tls_to_text()'s, named. */
static void
tls_op_6x(const char *v, size_t vlen, enum mp_direction dir, struct mp_event *ev)
{
	const char *end = v + vlen, *ver, *c, *e;

	if (!mp_has_prefix(v, vlen, LIT("version=")))
		return;
	ver = v + 8;
	e = memchr(ver, ',', (size_t)(end - ver));
	if (e == NULL)
		return;
	c = mp_find(e, (size_t)(end - e), LIT(" cipher="));
	if (mp_event_add_op(ev, MP_OPF_TLS, dir, mp_op_tls_protocol(ver, (size_t)(e - ver)),
	    MP_TLST_UNKNOWN, 0) == 0 && c != NULL) {
		const char *ce;

		c += 8;
		ce = memchr(c, ',', (size_t)(end - c));
		if (ce == NULL)
			ce = end;
		if (ce > c) {
			ev->tls_cipher = c;
			ev->tls_cipher_len = (size_t)(ce - c);
		}
	}
}

/*
 * "smtp disconnected reason=R": smtp_io() writes quit (after our 221),
 * disconnect (the client closed first), timeout, "io-error: TEXT"
 * (quoted); smtp_tls_init() tls-accept-failed; smtp_cert_init_cb()
 * ca-failure; 6.x's smtp_cert_verify_cb() (with a doubled space before
 * "reason=") the certificate check's no-client-cert, cert-invalid, no-ca,
 * cert-check-failed when the listener requires a verified client.
 */
static void
disconnect_ops(const char *s, size_t len, struct mp_event *ev)
{
	const char *v;
	size_t vlen;

	while (len > 0 && *s == ' ') {
		s++;
		len--;
	}
	if ((v = field(s, len, LIT("reason="), &vlen)) == NULL)
		return;
	if (word_is(v, vlen, LIT("quit"))) {
		mp_event_add_op(ev, MP_OPF_SMTPD_DISCONNECTS, MP_DISC_QUIT, 0, 0, 0);
	} else if (word_is(v, vlen, LIT("disconnect"))) {
		mp_event_add_op(ev, MP_OPF_SMTPD_DISCONNECTS, MP_DISC_NO_QUIT, 0, 0, 0);
	} else if (word_is(v, vlen, LIT("timeout"))) {
		/* the command that was due is not said */
		mp_event_add_op(ev, MP_OPF_SMTPD_DISCONNECTS, MP_DISC_TIMEOUT, 0, 0, 0);
		mp_event_add_op(ev, MP_OPF_SMTPD_TIMEOUTS, MP_CMD_OTHER, 0, 0, 0);
	} else if (mp_has_prefix(v, vlen, LIT("io-error"))) {
		mp_event_add_op(ev, MP_OPF_SMTPD_DISCONNECTS, MP_DISC_ERROR, 0, 0, 0);
		/* io.c's TLS errors: "io-error: handshake failed: ..." */
		if (mp_has_prefix(v, vlen, LIT("io-error: handshake failed")))
			mp_event_add_op(ev, MP_OPF_TLS_FAILURES, MP_DIR_INBOUND, 0, 0, 0);
	} else {
		mp_event_add_op(ev, MP_OPF_SMTPD_DISCONNECTS, MP_DISC_OTHER, 0, 0, 0);
		if (word_is(v, vlen, LIT("no-client-cert")) ||
		    word_is(v, vlen, LIT("cert-invalid")) ||
		    word_is(v, vlen, LIT("no-ca")) ||
		    word_is(v, vlen, LIT("cert-check-failed")))
			mp_event_add_op(ev, MP_OPF_TLS_FAILURES, MP_DIR_INBOUND, 0, 0, 0);
	}
}

/* "smtp message msgid=M size=N nrcpt=N proto=P": size and recipients. */
static void
message_ops(const char *s, size_t len, struct mp_event *ev)
{
	const char *v;
	size_t vlen, used;
	double n;

	if ((v = field(s, len, LIT("size="), &vlen)) != NULL &&
	    (n = mp_decimal_at(v, vlen, &used)) >= 0 && used == vlen)
		mp_event_add_op(ev, MP_OPF_RCVD_SIZE, 0, 0, 0, n);
	if ((v = field(s, len, LIT("nrcpt="), &vlen)) != NULL &&
	    (n = mp_decimal_at(v, vlen, &used)) >= 0 && used == vlen)
		mp_event_add_op(ev, MP_OPF_RCVD_RCPTS, 0, 0, 0, n);
}

/*
 * The session lines: "smtp connected address=A host=H", "smtp
 * disconnected reason=R", "smtp authentication user=U result=ok|permfail|
 * tempfail" (the mechanism is not logged: unknown), "smtp tls ciphers=C"
 * and "mta tls ciphers=C".
 */
static void
session_ops(const char *s, size_t len, struct mp_event *ev)
{
	const char *v, *p, *end = s + len;
	size_t vlen;

	if (mp_has_prefix(s, len, LIT("smtp connected address=")) ||
	    mp_has_prefix(s, len, LIT("smtp event=connected address="))) {
		mp_event_add_op(ev, MP_OPF_SMTPD_CONNECTS, 0, 0, 0, 0);
	} else if (mp_has_prefix(s, len, LIT("smtp disconnected "))) {
		disconnect_ops(s + 18, len - 18, ev);
	} else if (mp_has_prefix(s, len, LIT("smtp event=closed "))) {
		/* 6.x: "smtp event=closed address=A host=H reason=R" */
		disconnect_ops(s + 18, len - 18, ev);
	} else if (mp_has_prefix(s, len, LIT("smtp authentication user=")) ||
	    mp_has_prefix(s, len, LIT("smtp event=authentication user="))) {
		/* the user name is strnvis()ed (no spaces): result is last */
		for (v = NULL, p = s; (p = mp_find(p, (size_t)(end - p), LIT(" result="))) != NULL; p++)
			v = p + 8;
		if (v != NULL && (word_is(v, (size_t)(end - v), LIT("permfail")) ||
		    word_is(v, (size_t)(end - v), LIT("tempfail"))))
			mp_event_add_op(ev, MP_OPF_SMTPD_AUTH_FAILURES, MP_SASL_UNKNOWN, 0, 0, 0);
	} else if (mp_has_prefix(s, len, LIT("smtp tls ciphers="))) {
		v = field(s, len, LIT("ciphers="), &vlen);
		tls_op(v, vlen, MP_DIR_INBOUND, ev);
	} else if (mp_has_prefix(s, len, LIT("smtp event=starttls "))) {
		/* 6.x: "smtp event=starttls [address=A host=H ]ciphers="C"" */
		v = field(s, len, LIT("ciphers="), &vlen);
		if (v != NULL)
			tls_op_6x(v, vlen, MP_DIR_INBOUND, ev);
	} else if (mp_has_prefix(s, len, LIT("mta tls ciphers="))) {
		v = field(s, len, LIT("ciphers="), &vlen);
		tls_op(v, vlen, MP_DIR_OUTBOUND, ev);
	}
}

static int
opensmtpd_parse(void *state, const struct mp_syslog *hdr, struct mp_event *ev)
{
	const char *m = hdr->msg, *s;
	size_t n = hdr->msg_len, id, len;

	(void)state;
	if (m == NULL || n < 10)
		return 0;
	id = session_id(m, n);
	if (id != 0) {
		s = m + id;
		len = n - id;
		if (mp_has_prefix(s, len, LIT("mta delivery ")))
			return delivery(s + 13, len - 13, 1, ev);
		if (mp_has_prefix(s, len, LIT("mda delivery ")))
			return delivery(s + 13, len - 13, 0, ev);
		if (mp_has_prefix(s, len, LIT("smtp failed-command ")))
			return failed_command(s + 20, len - 20, ev);
		/* 6.0-6.3 wrote "event=" before the event's name; "smtp
		 * event=message" is logged once per recipient, not per
		 * message, so it is no receipt (parsers keep no state to tell
		 * the first of a message's lines). */
		if (mp_has_prefix(s, len, LIT("mta event=delivery ")))
			return delivery(s + 19, len - 19, 1, ev);
		if (mp_has_prefix(s, len, LIT("smtp event=failed-command ")))
			return failed_command_6x(s + 26, len - 26, ev);
		if (mp_has_prefix(s, len, LIT("smtp message "))) {
			message_ops(s + 13, len - 13, ev);
			ev->kind = MP_EVENT_RECEIVED;
			ev->direction = MP_DIR_INBOUND;
			return 1;
		}
		session_ops(s, len, ev);
		return 0;
	}
	if (mp_has_prefix(m, n, LIT("relay: ")))
		return queue_line(m + 7, n - 7, 1, ev);
	if (mp_has_prefix(m, n, LIT("delivery: ")))
		return queue_line(m + 10, n - 10, 0, ev);
	if (mp_has_prefix(m, n, LIT("smtp-in: Failed command on session ")))
		return old_failed_command(m, n, ev);
	return 0;
}

/* Ours: the tag "smtpd" exactly. Postfix's smtpd logs as "postfix/smtpd"
 * (or "postfix-NAME/smtpd"), never as a bare "smtpd". */
static enum mp_claim
opensmtpd_claims(const struct mp_syslog *hdr)
{
	if (hdr->kind == MP_HDR_EXIM)
		return MP_CLAIM_NO;
	if (hdr->tag == NULL)
		return MP_CLAIM_MAYBE;
	return word_is(hdr->tag, hdr->tag_len, LIT("smtpd")) ? MP_CLAIM_YES :
	    MP_CLAIM_NO;
}

const struct mp_parser mp_parser_opensmtpd = {
	.name = "opensmtpd",
	.mta = MP_MTA_OPENSMTPD,
	/* No init/fini: the scanners above need no compiled state. */
	.claims = opensmtpd_claims,
	.parse = opensmtpd_parse,
};
