/*
 * ops.h - operational activity a line reports besides (or instead of) an
 * SMTP status: connections, TLS, SASL, postscreen, queue manager, cleanup,
 * bounce notices, Exim's message flags. These are the families users of
 * postfix_exporter and exim_exporter graph (README "Operational
 * families"), for every MTA whose log carries the same facts.
 *
 * A parser adds up to MP_OPS_MAX ops to the event of any line, whatever
 * mp_registry_parse returns for it. Every label of every op family is a
 * closed set named here, so the families are bounded by construction
 * (MP_MTA_MAX MTAs times the label values below) and cost nothing against
 * the series cap. Nothing from the log (user names, addresses, reply text)
 * becomes an op label; the one exception, the TLS cipher, is opt-in
 * (--metrics.tls-cipher) and capped where it is counted.
 *
 * This table is the one description of the families: the counter store
 * sizes itself from it, the exposition names and labels from it, and the
 * golden tests name ops by it.
 */
#ifndef MP_OPS_H
#define MP_OPS_H

#include <stddef.h>
#include <stdint.h>

enum mp_op_family {
	MP_OPF_NONE = 0,
	MP_OPF_SMTPD_CONNECTS,        /* a client connected to the SMTP server */
	MP_OPF_SMTPD_DISCONNECTS,     /* reason */
	MP_OPF_SMTPD_LOST,            /* stage: lost connection after ... */
	MP_OPF_SMTPD_TIMEOUTS,        /* stage: timeout after ... */
	MP_OPF_SMTPD_AUTH_FAILURES,   /* method */
	MP_OPF_SMTPD_ACCEPTED,        /* sasl_method: a message accepted from a client */
	MP_OPF_SMTPD_FCRDNS_FAILURES, /* forward-confirmed reverse DNS failed */
	MP_OPF_SMTPD_NO_MAIL,         /* a session that never issued MAIL */
	MP_OPF_TLS,                   /* direction, protocol, trust */
	MP_OPF_TLS_FAILURES,          /* direction: handshake or verification failed */
	MP_OPF_PS_CONNECTS,           /* postscreen CONNECT */
	MP_OPF_PS_PASSES,             /* kind: PASS NEW / PASS OLD */
	MP_OPF_PS_FAILURES,           /* test */
	MP_OPF_PS_HANGUPS,            /* HANGUP before the tests ended */
	MP_OPF_PS_LISTS,              /* list: allow/deny list matches */
	MP_OPF_PS_DNSBL_RANK,         /* histogram: combined DNSBL score */
	MP_OPF_QMGR_SIZE,             /* histogram: size of a message qmgr takes in */
	MP_OPF_QMGR_RCPTS,            /* histogram: its recipient count */
	MP_OPF_QMGR_REMOVED,          /* qmgr removed a message (all recipients done) */
	MP_OPF_QMGR_EXPIRED,          /* qmgr returned a message: queue lifetime over */
	MP_OPF_CLEANUP_PROCESSED,     /* cleanup wrote a queue file (message-id=) */
	MP_OPF_CLEANUP_ACTIONS,       /* action, source */
	MP_OPF_BOUNCE,                /* kind, to: notices the MTA generated */
	MP_OPF_EXIM_MESSAGES,         /* flag: <= => -> >> ** == Completed */
	MP_OPF_RCVD_SIZE,             /* histogram: size of a received message */
	MP_OPF_RCVD_RCPTS,            /* histogram: its recipient count */
	MP_OPF_PANICS,                /* the MTA logged a panic */
	MP_OPF_FATALS,                /* the MTA logged a fatal error */
	MP_OPF_COUNT
};

/* Label value sets. Each enum's order is its value list's order in ops.c. */

/* stage of maillog_smtpd_lost_connections_total / _timeouts_total: the
 * SMTP command (or state) after which the session ended. */
enum mp_cmd {
	MP_CMD_CONNECT = 0, MP_CMD_HELO, MP_CMD_EHLO, MP_CMD_STARTTLS,
	MP_CMD_AUTH, MP_CMD_MAIL, MP_CMD_RCPT, MP_CMD_DATA,
	MP_CMD_END_OF_MESSAGE, MP_CMD_BDAT, MP_CMD_RSET, MP_CMD_NOOP,
	MP_CMD_VRFY, MP_CMD_ETRN, MP_CMD_QUIT,
	MP_CMD_OTHER,      /* a command not listed here ("UNKNOWN", XCLIENT, ...) */
	MP_CMD_COUNT
};

/* reason of maillog_smtpd_disconnects_total. */
enum mp_disconnect {
	MP_DISC_QUIT = 0,  /* the client said QUIT */
	MP_DISC_NO_QUIT,   /* the session ended without QUIT (client went away, or we hung up) */
	MP_DISC_TIMEOUT,
	MP_DISC_ERROR,
	MP_DISC_OTHER,
	MP_DISC_UNKNOWN,   /* the line does not say (Postfix before 3.0) */
	MP_DISC_COUNT
};

/* SASL mechanisms (method / sasl_method labels), in IANA's spelling. */
enum mp_sasl {
	MP_SASL_NONE = 0,  /* not authenticated */
	MP_SASL_PLAIN, MP_SASL_LOGIN, MP_SASL_CRAM_MD5, MP_SASL_DIGEST_MD5,
	MP_SASL_SCRAM_SHA_1, MP_SASL_SCRAM_SHA_256, MP_SASL_XOAUTH2,
	MP_SASL_OAUTHBEARER, MP_SASL_GSSAPI, MP_SASL_NTLM, MP_SASL_EXTERNAL,
	MP_SASL_OTHER,     /* a mechanism not listed here */
	MP_SASL_UNKNOWN,   /* authenticated (or tried), the line names no mechanism */
	MP_SASL_COUNT
};

enum mp_tls_protocol {
	MP_TLSP_SSLV3 = 0, MP_TLSP_TLSV1, MP_TLSP_TLSV1_1, MP_TLSP_TLSV1_2,
	MP_TLSP_TLSV1_3, MP_TLSP_OTHER, MP_TLSP_COUNT
};

/* Postfix's trust levels; other MTAs' verification results map onto them. */
enum mp_tls_trust {
	MP_TLST_ANONYMOUS = 0,  /* no peer certificate (or not asked for) */
	MP_TLST_UNTRUSTED,      /* a certificate whose chain did not verify */
	MP_TLST_TRUSTED,        /* chain verified, name not checked or not matched */
	MP_TLST_VERIFIED,       /* chain and name verified (or DANE/fingerprint match) */
	MP_TLST_UNKNOWN,        /* the line does not say */
	MP_TLST_COUNT
};

enum mp_ps_pass { MP_PS_PASS_NEW = 0, MP_PS_PASS_OLD, MP_PS_PASS_COUNT };

enum mp_ps_test {
	MP_PS_PREGREET = 0, MP_PS_DNSBL, MP_PS_PIPELINING, MP_PS_NON_SMTP,
	MP_PS_BARE_NEWLINE, MP_PS_TIME_LIMIT, MP_PS_COUNT_LIMIT,
	MP_PS_LENGTH_LIMIT, MP_PS_TEST_COUNT
};

enum mp_ps_list {
	MP_PS_ALLOWLIST = 0, MP_PS_DENYLIST, MP_PS_ALLOWLIST_VETO, MP_PS_LIST_COUNT
};

enum mp_cleanup_action {
	MP_CLA_REJECT = 0, MP_CLA_DISCARD, MP_CLA_HOLD, MP_CLA_REDIRECT,
	MP_CLA_FILTER, MP_CLA_REPLACE, MP_CLA_WARNING, MP_CLA_INFO, MP_CLA_BCC,
	MP_CLA_COUNT
};

enum mp_cleanup_source {
	MP_CLS_HEADER = 0, MP_CLS_BODY, MP_CLS_MILTER, MP_CLS_COUNT
};

enum mp_bounce_kind {
	MP_BOUNCE_NON_DELIVERY = 0, MP_BOUNCE_DELAY, MP_BOUNCE_SUCCESS,
	MP_BOUNCE_KIND_COUNT
};
enum mp_bounce_to { MP_BOUNCE_TO_SENDER = 0, MP_BOUNCE_TO_POSTMASTER, MP_BOUNCE_TO_COUNT };

enum mp_exim_flag {
	MP_EXIM_ARRIVED = 0,   /* <= */
	MP_EXIM_DELIVERED,     /* => */
	MP_EXIM_ADDITIONAL,    /* -> */
	MP_EXIM_CUTTHROUGH,    /* >> */
	MP_EXIM_FAILED,        /* ** */
	MP_EXIM_DEFERRED,      /* == */
	MP_EXIM_COMPLETED,     /* Completed */
	MP_EXIM_FLAG_COUNT
};

/* One op: a family and its label values (indexes into the family's label
 * value lists); value is the observation of a histogram family. */
#define MP_OP_LABELS 3
struct mp_op {
	uint8_t family;
	uint8_t label[MP_OP_LABELS];
	double value;
};
#define MP_OPS_MAX 4

/* A family as the store and the exposition see it. */
struct mp_op_label {
	const char *name;
	const char *const *values;
	unsigned nvalues;
};
struct mp_op_family_desc {
	const char *name;      /* full sample name; a counter's ends in _total */
	const char *help;
	int histogram;         /* 0: counter (+1 per op); 1: histogram of value */
	unsigned nlabels;      /* besides mta */
	struct mp_op_label labels[MP_OP_LABELS];
	const double *bounds;  /* histogram upper bounds, ascending, without +Inf */
	unsigned nbounds;
};

/* The description of family fam (1..MP_OPF_COUNT-1), or NULL. */
const struct mp_op_family_desc *mp_op_family(unsigned fam);

/* Number of label combinations of a family (1 with no labels). */
unsigned mp_op_combinations(const struct mp_op_family_desc *d);

/* Check an op against the table: family in range, every label value in
 * range, a histogram's value finite and >= 0. Returns 1 if valid. */
int mp_op_valid(const struct mp_op *op);

/* Readers of the words MTAs log, case-insensitively. Unknown words give
 * the "other" value. */
enum mp_cmd mp_op_cmd(const char *s, size_t len);           /* "DATA", "END-OF-MESSAGE", "rcpt" */
enum mp_sasl mp_op_sasl(const char *s, size_t len);         /* "PLAIN", "cram-md5" */
enum mp_tls_protocol mp_op_tls_protocol(const char *s, size_t len); /* "TLSv1.3", "TLS1.3" */

#endif
