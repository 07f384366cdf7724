/*
 * ops.c - the operational families' table (ops.h) and the word readers
 * parsers share to fill their labels.
 */
#include "parsers/ops.h"

#include <math.h>
#include <string.h>

#include "parsers/parser.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define VALUES(a) (a), N(a)

static const char *const cmd_values[] = {
	"connect", "helo", "ehlo", "starttls", "auth", "mail", "rcpt", "data",
	"end_of_message", "bdat", "rset", "noop", "vrfy", "etrn", "quit", "other",
};
static const char *const disconnect_values[] = {
	"quit", "no_quit", "timeout", "error", "other", "unknown",
};
static const char *const sasl_values[] = {
	"none", "PLAIN", "LOGIN", "CRAM-MD5", "DIGEST-MD5", "SCRAM-SHA-1",
	"SCRAM-SHA-256", "XOAUTH2", "OAUTHBEARER", "GSSAPI", "NTLM", "EXTERNAL",
	"other", "unknown",
};
/* enum mp_direction's order. */
static const char *const direction_values[] = { "outbound", "inbound" };
static const char *const protocol_values[] = {
	"SSLv3", "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3", "other",
};
static const char *const trust_values[] = {
	"anonymous", "untrusted", "trusted", "verified", "unknown",
};
static const char *const pass_values[] = { "new", "old" };
static const char *const test_values[] = {
	"pregreet", "dnsbl", "pipelining", "non_smtp_command", "bare_newline",
	"command_time_limit", "command_count_limit", "command_length_limit",
};
static const char *const list_values[] = { "allowlist", "denylist", "allowlist_veto" };
static const char *const action_values[] = {
	"reject", "discard", "hold", "redirect", "filter", "replace", "warning",
	"info", "bcc",
};
static const char *const source_values[] = { "header", "body", "milter" };
static const char *const bounce_values[] = { "non_delivery", "delay", "success" };
static const char *const bounce_to_values[] = { "sender", "postmaster" };
static const char *const flag_values[] = {
	"arrived", "delivered", "additional", "cutthrough", "failed", "deferred",
	"completed",
};

/* Message sizes from a one-line note to a large attachment; the default
 * message_size_limit of Postfix is 10 MB, of Exim 50 MB. */
static const double size_bounds[] = {
	1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864,
};
static const double rcpt_bounds[] = { 1, 2, 4, 8, 16, 32, 64, 128, 256, 1000 };
/* postscreen_dnsbl_threshold defaults to 1; sites weight lists 1..10. */
static const double rank_bounds[] = { 1, 2, 3, 4, 5, 6, 8, 10, 15, 20 };

#define COUNTER(nm, hp) .name = (nm), .help = (hp), .histogram = 0
#define HISTOGRAM(nm, hp, b) .name = (nm), .help = (hp), .histogram = 1, \
	.bounds = (b), .nbounds = N(b)
#define L(nm, v) { (nm), VALUES(v) }

static const struct mp_op_family_desc families[MP_OPF_COUNT] = {
	[MP_OPF_SMTPD_CONNECTS] = { COUNTER("maillog_smtpd_connects_total",
	    "Client connections to the MTA's SMTP server (Postfix smtpd \"connect from\", "
	    "OpenSMTPD \"smtp connected\"; postscreen's are counted apart).") },
	[MP_OPF_SMTPD_DISCONNECTS] = { COUNTER("maillog_smtpd_disconnects_total",
	    "Client sessions that ended, by how: quit (the client said QUIT), no_quit "
	    "(it went away or was dropped without QUIT), timeout, error, other; unknown "
	    "when the line does not say (Postfix before 3.0)."),
	    .nlabels = 1, .labels = { L("reason", disconnect_values) } },
	[MP_OPF_SMTPD_LOST] = { COUNTER("maillog_smtpd_lost_connections_total",
	    "Client connections lost, by the SMTP command after which the client went "
	    "away (Postfix \"lost connection after DATA\", Sendmail \"lost input "
	    "channel ... after rcpt\")."),
	    .nlabels = 1, .labels = { L("stage", cmd_values) } },
	[MP_OPF_SMTPD_TIMEOUTS] = { COUNTER("maillog_smtpd_timeouts_total",
	    "Client sessions the server timed out, by the SMTP command after which the "
	    "client went silent (Postfix \"timeout after DATA\")."),
	    .nlabels = 1, .labels = { L("stage", cmd_values) } },
	[MP_OPF_SMTPD_AUTH_FAILURES] = { COUNTER("maillog_smtpd_auth_failures_total",
	    "SMTP AUTH attempts that failed, by SASL mechanism (unknown when the log "
	    "names none, as OpenSMTPD's). No user name is ever a label."),
	    .nlabels = 1, .labels = { L("method", sasl_values) } },
	[MP_OPF_SMTPD_ACCEPTED] = { COUNTER("maillog_smtpd_messages_accepted_total",
	    "Messages the SMTP server accepted from a client, by the SASL mechanism the "
	    "client authenticated with (none: not authenticated); Postfix smtpd "
	    "\"client=\", not counting a content filter handing a message back."),
	    .nlabels = 1, .labels = { L("sasl_method", sasl_values) } },
	[MP_OPF_SMTPD_FCRDNS_FAILURES] = { COUNTER("maillog_smtpd_fcrdns_failures_total",
	    "Clients whose reverse DNS name does not resolve back to their address "
	    "(forward-confirmed reverse DNS failed; Postfix \"hostname ... does not "
	    "resolve to address\", \"address not listed for hostname\").") },
	[MP_OPF_SMTPD_NO_MAIL] = { COUNTER("maillog_smtpd_sessions_without_mail_total",
	    "Client sessions that ended without a MAIL command (Sendmail \"did not issue "
	    "MAIL/EXPN/VRFY/ETRN\"): scanners and probes.") },
	[MP_OPF_TLS] = { COUNTER("maillog_tls_connections_total",
	    "TLS sessions established, inbound (we are the server) and outbound (we "
	    "are the client), by protocol version and by how far the peer's "
	    "certificate was trusted: anonymous (none), untrusted, trusted (chain "
	    "verified), verified (chain and name, or DANE), unknown (not logged)."),
	    .nlabels = 3, .labels = { L("direction", direction_values),
	    L("protocol", protocol_values), L("trust", trust_values) } },
	[MP_OPF_TLS_FAILURES] = { COUNTER("maillog_tls_failures_total",
	    "TLS handshakes that failed (Postfix \"SSL_accept error\", \"SSL_connect "
	    "error\", Sendmail STARTTLS errors)."),
	    .nlabels = 1, .labels = { L("direction", direction_values) } },
	[MP_OPF_PS_CONNECTS] = { COUNTER("maillog_postscreen_connects_total",
	    "Connections postscreen screened (CONNECT from).") },
	[MP_OPF_PS_PASSES] = { COUNTER("maillog_postscreen_passes_total",
	    "Clients postscreen handed to smtpd: new (PASS NEW, just passed the tests) "
	    "and old (PASS OLD, still cached as good)."),
	    .nlabels = 1, .labels = { L("kind", pass_values) } },
	[MP_OPF_PS_FAILURES] = { COUNTER("maillog_postscreen_test_failures_total",
	    "postscreen tests clients failed: pregreet (talked before the greeting), "
	    "dnsbl (DNSBL rank at or over the threshold), pipelining, non_smtp_command, "
	    "bare_newline, and the command time, count and length limits."),
	    .nlabels = 1, .labels = { L("test", test_values) } },
	[MP_OPF_PS_HANGUPS] = { COUNTER("maillog_postscreen_hangups_total",
	    "Clients that hung up on postscreen before its tests ended (HANGUP).") },
	[MP_OPF_PS_LISTS] = { COUNTER("maillog_postscreen_list_matches_total",
	    "Clients postscreen found on its access list: allowlist (WHITELISTED / "
	    "ALLOWLISTED), denylist (BLACKLISTED / DENYLISTED), allowlist_veto."),
	    .nlabels = 1, .labels = { L("list", list_values) } },
	[MP_OPF_PS_DNSBL_RANK] = { HISTOGRAM("maillog_postscreen_dnsbl_rank",
	    "Combined DNSBL score of clients postscreen logged \"DNSBL rank N\" for "
	    "(those at or over postscreen_dnsbl_threshold).", rank_bounds) },
	[MP_OPF_QMGR_SIZE] = { HISTOGRAM("maillog_qmgr_message_size_bytes",
	    "Size of messages Postfix's queue manager moved into the active queue "
	    "(qmgr \"from=<...>, size=N\"; a deferred message is counted again each "
	    "time it is retried).", size_bounds) },
	[MP_OPF_QMGR_RCPTS] = { HISTOGRAM("maillog_qmgr_message_recipients",
	    "Recipients of messages Postfix's queue manager moved into the active "
	    "queue (qmgr \"nrcpt=N\"; again at each retry).", rcpt_bounds) },
	[MP_OPF_QMGR_REMOVED] = { COUNTER("maillog_qmgr_messages_removed_total",
	    "Messages removed from the queue once every recipient was done (qmgr "
	    "\"removed\").") },
	[MP_OPF_QMGR_EXPIRED] = { COUNTER("maillog_qmgr_messages_expired_total",
	    "Messages returned to the sender because they stayed queued longer than "
	    "maximal_queue_lifetime (qmgr \"status=expired\").") },
	[MP_OPF_CLEANUP_PROCESSED] = { COUNTER("maillog_cleanup_messages_processed_total",
	    "Messages Postfix's cleanup wrote to the queue (\"message-id=\"), from every "
	    "source: smtpd, pickup, bounces, re-injection.") },
	[MP_OPF_CLEANUP_ACTIONS] = { COUNTER("maillog_cleanup_actions_total",
	    "Actions Postfix's cleanup took on a message, by action and by what "
	    "decided it: header_checks (header), body_checks (body) or a milter."),
	    .nlabels = 2, .labels = { L("action", action_values), L("source", source_values) } },
	[MP_OPF_BOUNCE] = { COUNTER("maillog_bounce_notifications_total",
	    "Delivery status notifications the MTA generated: non_delivery (a bounce), "
	    "delay (a delay warning), success (NOTIFY=SUCCESS), sent to the sender or "
	    "to the postmaster."),
	    .nlabels = 2, .labels = { L("kind", bounce_values), L("to", bounce_to_values) } },
	[MP_OPF_EXIM_MESSAGES] = { COUNTER("maillog_exim_messages_total",
	    "Exim main log lines by flag: arrived (<=), delivered (=>), additional "
	    "(-> another address of the same delivery), cutthrough (>>), failed (**), "
	    "deferred (==), completed (Completed)."),
	    .nlabels = 1, .labels = { L("flag", flag_values) } },
	[MP_OPF_RCVD_SIZE] = { HISTOGRAM("maillog_received_message_size_bytes",
	    "Size of messages received (Exim <= S=, Sendmail from= size=, OpenSMTPD "
	    "smtp message size=); Postfix's is maillog_qmgr_message_size_bytes.",
	    size_bounds) },
	[MP_OPF_RCVD_RCPTS] = { HISTOGRAM("maillog_received_message_recipients",
	    "Recipients of messages received (Sendmail nrcpts=, OpenSMTPD nrcpt=).",
	    rcpt_bounds) },
	[MP_OPF_PANICS] = { COUNTER("maillog_panics_total",
	    "Panics the MTA logged (Postfix \"panic:\", lines of Exim's paniclog): "
	    "something is badly wrong.") },
	[MP_OPF_FATALS] = { COUNTER("maillog_fatal_errors_total",
	    "Fatal errors the MTA logged (Postfix \"fatal:\"): a process gave up, "
	    "often on a configuration or permission error.") },
};

const struct mp_op_family_desc *
mp_op_family(unsigned fam)
{
	if (fam == MP_OPF_NONE || fam >= MP_OPF_COUNT)
		return NULL;
	return &families[fam];
}

unsigned
mp_op_combinations(const struct mp_op_family_desc *d)
{
	unsigned n = 1;

	for (unsigned i = 0; i < d->nlabels; i++)
		n *= d->labels[i].nvalues;
	return n;
}

int
mp_op_valid(const struct mp_op *op)
{
	const struct mp_op_family_desc *d = mp_op_family(op->family);

	if (d == NULL)
		return 0;
	for (unsigned i = 0; i < MP_OP_LABELS; i++)
		if (op->label[i] >= (i < d->nlabels ? d->labels[i].nvalues : 1))
			return 0;
	return !d->histogram || (isfinite(op->value) && op->value >= 0);
}


static int
word_eq(const char *s, size_t len, const char *w)
{
	/* First byte before the call: most words are told apart by it. */
	return len > 0 && (s[0] | 0x20) == (w[0] | 0x20) && strlen(w) == len &&
	    mp_ascii_caseeq(s, w, len);
}

enum mp_cmd
mp_op_cmd(const char *s, size_t len)
{
	static const char *const words[MP_CMD_OTHER] = {
		"CONNECT", "HELO", "EHLO", "STARTTLS", "AUTH", "MAIL", "RCPT", "DATA",
		"END-OF-MESSAGE", "BDAT", "RSET", "NOOP", "VRFY", "ETRN", "QUIT",
	};

	for (unsigned i = 0; i < MP_CMD_OTHER; i++)
		if (word_eq(s, len, words[i]))
			return (enum mp_cmd)i;
	/* Sendmail and Postfix's older spellings. */
	if (word_eq(s, len, "MAIL FROM") || word_eq(s, len, "MAIL"))
		return MP_CMD_MAIL;
	if (word_eq(s, len, "RCPT TO"))
		return MP_CMD_RCPT;
	if (word_eq(s, len, "END OF MESSAGE") || word_eq(s, len, "END-OF-DATA"))
		return MP_CMD_END_OF_MESSAGE;
	return MP_CMD_OTHER;
}

enum mp_sasl
mp_op_sasl(const char *s, size_t len)
{
	for (unsigned i = MP_SASL_PLAIN; i < MP_SASL_OTHER; i++)
		if (word_eq(s, len, sasl_values[i]))
			return (enum mp_sasl)i;
	return len == 0 ? MP_SASL_UNKNOWN : MP_SASL_OTHER;
}

/* s[0..2] are, caselessly, the letters of w ("tls", "ssl"; lower case). */
static int
three_letters(const char *s, const char *w)
{
	/* c | 0x20 equals a lower-case letter only when c is that letter in
	 * either case ('T' and 't' give 't', no other byte does). */
	return (s[0] | 0x20) == w[0] && (s[1] | 0x20) == w[1] && (s[2] | 0x20) == w[2];
}

/*
 * The protocol a TLS line names: OpenSSL writes "TLSv1.2", GnuTLS and Exim
 * "TLS1.2". The words it knows, caselessly, are TLS[v]1, TLS[v]1.0 to
 * TLS[v]1.3, SSLv3 and SSL3.0; anything else is MP_TLSP_OTHER.
 *
 * Read by position, not by comparing a list of words: the list cost 260
 * instructions a STARTTLS line (four words of seven bytes compared byte by
 * byte), 4 % of a Sendmail log's whole run (callgrind).
 * test_ops.c checks it against that list on every word, every near miss and
 * random strings of the same bytes.
 */
enum mp_tls_protocol
mp_op_tls_protocol(const char *s, size_t len)
{
	static const enum mp_tls_protocol minor[4] = {
		MP_TLSP_TLSV1, MP_TLSP_TLSV1_1, MP_TLSP_TLSV1_2, MP_TLSP_TLSV1_3,
	};
	size_t v;

	if (len < 4)
		return MP_TLSP_OTHER;
	if (three_letters(s, "ssl")) {
		if ((len == 5 && (s[3] | 0x20) == 'v' && s[4] == '3') ||
		    (len == 6 && s[3] == '3' && s[4] == '.' && s[5] == '0'))
			return MP_TLSP_SSLV3;
		return MP_TLSP_OTHER;
	}
	if (!three_letters(s, "tls"))
		return MP_TLSP_OTHER;
	v = (s[3] | 0x20) == 'v';              /* "TLSv1" or "TLS1": the 1 is at 3 + v */
	if (len == 4 + v && s[3 + v] == '1')
		return MP_TLSP_TLSV1;
	if (len == 6 + v && s[3 + v] == '1' && s[4 + v] == '.' &&
	    s[5 + v] >= '0' && s[5 + v] <= '3')
		return minor[s[5 + v] - '0'];
	return MP_TLSP_OTHER;
}
