/*
 * options.c - parse and check the command line.
 *
 * Every rejection is one line that names the flag and says what is wrong,
 * because that line is all a user sees in `systemctl status`.
 */
#include "daemon/options.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "store/aggregate.h"
#include "web/listen.h"
#include "parsers/mp.h"
#include "daemon/queue/queue.h"
#include "daemon/input/syslog_listen.h"
#include "daemon/input/envelope.h"

const char *const opts_default_paths[] = {
	"/var/log/mail.log",
	"/var/log/maillog",
	"/var/log/exim4/mainlog",
	"/var/log/exim/main.log",
	NULL,
};

enum {
	OPT_PATH = 256,
	OPT_START,
	OPT_FORMAT,
	OPT_TIMEZONE,
	OPT_MAX_LINE,
	OPT_ENVELOPE,
	OPT_MAX_FILES,
	OPT_LISTEN,
	OPT_TELEMETRY,
	OPT_MAX_CONN,
	OPT_MAX_CONN_IP,
	OPT_TIMEOUT,
	OPT_WEB_CONFIG,
	OPT_MAX_SERIES,
	OPT_DOMAINS_TOP,
	OPT_DOMAINS_INBOUND,
	OPT_HOST_LABEL,
	OPT_TLS_CIPHER,
	OPT_EXIM_PANICLOG,
	OPT_LOG_LEVEL,
	OPT_LOG_FORMAT,
	OPT_ONCE,
	OPT_RUN_AS,
	OPT_CONFIG_FILE,
	OPT_CHECK_CONFIG,
	OPT_STATE_FILE,
	OPT_JOURNAL,
	OPT_JOURNAL_UNIT,
	OPT_JOURNAL_IDENT,
	OPT_JOURNAL_DIR,
	OPT_STATE_INTERVAL,
	OPT_QUEUE_INTERVAL,
	OPT_QUEUE_MTA,
	OPT_SHOWQ_PATH,
	OPT_POSTFIX_QUEUE_DIR,
	OPT_REINJECT,
	OPT_EXIM_BINARY,
	OPT_EXIM_SPOOL_DIR,
	OPT_SYSLOG_LISTEN,
	OPT_SYSLOG_MAX_CONN,
	OPT_SYSLOG_MAX_MESSAGE,
	OPT_SYSLOG_IDLE_TIMEOUT,
	OPT_VERSION,
	OPT_HELP,
};

static const struct option long_opts[] = {
	{ "maillog.path", required_argument, NULL, OPT_PATH },
	{ "maillog.start", required_argument, NULL, OPT_START },
	{ "maillog.format", required_argument, NULL, OPT_FORMAT },
	{ "maillog.timezone", required_argument, NULL, OPT_TIMEZONE },
	{ "maillog.max-line-length", required_argument, NULL, OPT_MAX_LINE },
	{ "maillog.envelope", required_argument, NULL, OPT_ENVELOPE },
	{ "maillog.max-files", required_argument, NULL, OPT_MAX_FILES },
	{ "web.listen-address", required_argument, NULL, OPT_LISTEN },
	{ "web.telemetry-path", required_argument, NULL, OPT_TELEMETRY },
	{ "web.max-connections", required_argument, NULL, OPT_MAX_CONN },
	{ "web.max-connections-per-ip", required_argument, NULL, OPT_MAX_CONN_IP },
	{ "web.timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "web.config.file", required_argument, NULL, OPT_WEB_CONFIG },
	{ "metrics.max-series", required_argument, NULL, OPT_MAX_SERIES },
	{ "metrics.domains.top", required_argument, NULL, OPT_DOMAINS_TOP },
	{ "metrics.domains.inbound", no_argument, NULL, OPT_DOMAINS_INBOUND },
	{ "metrics.host-label", no_argument, NULL, OPT_HOST_LABEL },
	{ "metrics.tls-cipher", no_argument, NULL, OPT_TLS_CIPHER },
	{ "exim.paniclog", required_argument, NULL, OPT_EXIM_PANICLOG },
	{ "log.level", required_argument, NULL, OPT_LOG_LEVEL },
	{ "log.format", required_argument, NULL, OPT_LOG_FORMAT },
	{ "once", no_argument, NULL, OPT_ONCE },
	{ "run-as", required_argument, NULL, OPT_RUN_AS },
	{ "config.file", required_argument, NULL, OPT_CONFIG_FILE },
	{ "check-config", no_argument, NULL, OPT_CHECK_CONFIG },
	{ "state.file", required_argument, NULL, OPT_STATE_FILE },
	{ "journal", no_argument, NULL, OPT_JOURNAL },
	{ "journal.unit", required_argument, NULL, OPT_JOURNAL_UNIT },
	{ "journal.identifier", required_argument, NULL, OPT_JOURNAL_IDENT },
	{ "journal.directory", required_argument, NULL, OPT_JOURNAL_DIR },
	{ "syslog.listen", required_argument, NULL, OPT_SYSLOG_LISTEN },
	{ "syslog.max-connections", required_argument, NULL, OPT_SYSLOG_MAX_CONN },
	{ "syslog.max-message-size", required_argument, NULL, OPT_SYSLOG_MAX_MESSAGE },
	{ "syslog.idle-timeout", required_argument, NULL, OPT_SYSLOG_IDLE_TIMEOUT },
	{ "state.interval", required_argument, NULL, OPT_STATE_INTERVAL },
	{ "queue.interval", required_argument, NULL, OPT_QUEUE_INTERVAL },
	{ "queue.mta", required_argument, NULL, OPT_QUEUE_MTA },
	{ "postfix.showq-path", required_argument, NULL, OPT_SHOWQ_PATH },
	{ "postfix.queue-dir", required_argument, NULL, OPT_POSTFIX_QUEUE_DIR },
	{ "postfix.reinjection-syslog-name", required_argument, NULL, OPT_REINJECT },
	{ "exim.binary", required_argument, NULL, OPT_EXIM_BINARY },
	{ "exim.spool-dir", required_argument, NULL, OPT_EXIM_SPOOL_DIR },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

void
opts_usage(FILE *fp)
{
	fprintf(fp,
"Usage: maillog_exporter [FLAGS]\n"
"       maillog_exporter report [--json] FILE...   (a summary of whole logs; report --help)\n"
"Follow mail-server logs and export SMTP status codes as Prometheus metrics.\n"
"\n"
"Input:\n"
"  --maillog.path=PATH         log to follow; repeatable; '-' is standard input.\n"
"                              Default: the first that exists of /var/log/mail.log,\n"
"                              /var/log/maillog, /var/log/exim4/mainlog, /var/log/exim/main.log\n"
"  --maillog.start=end|beginning\n"
"                              where to start in a file that exists at startup (default end,\n"
"                              like tail -f; beginning counts what the file already holds)\n"
"  --journal                   read the systemd journal (as well as any --maillog.path)\n"
"  --journal.unit=UNIT         only entries of this unit; repeatable (default: the\n"
"                              postfix, exim4, sendmail and opensmtpd units)\n"
"  --journal.identifier=ID     or of this SYSLOG_IDENTIFIER; repeatable (default: those\n"
"                              of the four MTAs, e.g. postfix/smtp, exim4, sm-mta, smtpd)\n"
"  --journal.directory=DIR     read the journal files in DIR instead of the system's\n"
"  --maillog.format=FORMAT     %s, or a custom parser's mta\n"
"                              (default auto: decided per line)\n"
"  --maillog.timezone=TZ       timezone of syslog timestamps without an offset\n"
"                              (default: the process's local time)\n"
"  --maillog.max-line-length=BYTES\n"
"                              longer lines are skipped and counted (default 65536)\n"
"  --maillog.envelope=auto|none|cri|docker\n"
"                              container runtime envelope to take off each line: CRI\n"
"                              (Kubernetes, containerd, CRI-O) or Docker json-file;\n"
"                              auto (default) decides per file by its first line\n"
"  --maillog.max-files=N       files one glob --maillog.path follows at once; more are\n"
"                              left out and counted (default 400)\n"
"  --postfix.reinjection-syslog-name=NAME\n"
"                              the syslog_name of a Postfix smtpd that takes mail back from\n"
"                              a content filter without XFORWARD (e.g. postfix/amavis, or\n"
"                              the whole tag postfix/amavis/smtpd): its client= lines are no\n"
"                              new receipts; repeatable. Needs tags with the instance, not\n"
"                              RFC 5424's bare \"postfix\" (README, messages received)\n"
"\n", mp_format_names());
	fprintf(fp,
"Syslog listener (off unless --syslog.listen is given; docs/operations.md):\n"
"  --syslog.listen=ADDR        receive syslog messages: udp://HOST:PORT, tcp://HOST:PORT\n"
"                              (octet-counted or LF-framed) or unixgram:PATH; repeatable,\n"
"                              off by default; HOST must be given (0.0.0.0 or [::] for\n"
"                              every interface: no authentication, see docs/security.md)\n"
"  --syslog.max-connections=N  TCP connections open at once; more are closed (default %u)\n"
"  --syslog.max-message-size=BYTES\n"
"                              longer messages are skipped and counted (default %u)\n"
"  --syslog.idle-timeout=SECONDS\n"
"                              close a TCP connection silent this long, 0 = never\n"
"                              (default %u)\n"
"\n", SL_DEFAULT_MAX_CONNECTIONS, SL_DEFAULT_MAX_MESSAGE, SL_DEFAULT_IDLE_TIMEOUT_S);
	/* Several calls: one string literal this long is past what C17
	 * promises compilers accept (-Woverlength-strings). */
	fprintf(fp,
"Web:\n"
"  --web.listen-address=[HOST]:PORT  (default %s: all interfaces, the exporter convention)\n"
"  --web.telemetry-path=PATH   (default /metrics)\n"
"  --web.max-connections=N     concurrent HTTP connections (default 64)\n"
"  --web.max-connections-per-ip=N  (default 8)\n"
"  --web.timeout=SECONDS       idle connection timeout (default 10)\n"
"  --web.config.file=PATH      TLS, basic auth and extra headers, in the exporter-toolkit\n"
"                              format (node_exporter's web config file works); SIGHUP\n"
"                              reloads it (README \"TLS and basic auth\")\n"
"\n"
"Metrics:\n"
"  --metrics.max-series=N      cap on the series whose labels come from the log (codes,\n"
"                              domains, hosts) across all families; past it new label sets\n"
"                              are counted in an overflow series, \"other\" (default %d)\n"
"  --metrics.domains.top=N     remote domains with their own series in\n"
"                              maillog_domain_status_total, 0 to %d; the rest count as\n"
"                              \"other\" (default %d)\n"
"  --metrics.domains.inbound   also count inbound statuses by client name or IP (off: it\n"
"                              publishes client identities)\n"
"  --metrics.host-label        add the syslog hostname as label host (for central log\n"
"                              servers holding many MTAs in one file)\n"
"  --metrics.tls-cipher        also count TLS sessions by cipher, in\n"
"                              maillog_tls_ciphers_total (at most 64 cipher names)\n"
"  --exim.paniclog=PATH        also follow Exim's panic log (Debian:\n"
"                              /var/log/exim4/paniclog); each entry counts in\n"
"                              maillog_panics_total{mta=\"exim\"}\n"
"\n"
"State:\n"
"  --state.file=PATH           keep counters and read offsets in PATH across restarts\n"
"                              (off by default; README \"State and restarts\")\n"
"  --state.interval=SECONDS    write it this often when anything changed (default 10;\n"
"                              also on SIGTERM, and before a scrape, at most once a second)\n"
"\n"
"Queue sizes (README \"Queue sizes\"):\n"
"  --queue.interval=SECONDS    collect them this often in the background (default 30;\n"
"                              0 turns collection off)\n"
"  --queue.mta=auto|postfix|exim|none\n"
"                              whose queues (default auto: each MTA whose showq socket,\n"
"                              queue directory or spool exists)\n"
"  --postfix.showq-path=PATH   (default /var/spool/postfix/public/showq; needs group postdrop)\n"
"  --postfix.queue-dir=PATH    counted when showq cannot be reached (default /var/spool/postfix)\n"
"  --exim.binary=PATH          run as 'PATH -bpc' (default exim4, else exim, from PATH;\n"
"                              never run when not found)\n"
"  --exim.spool-dir=PATH       Exim's spool_directory; input/ is read for frozen messages\n"
"                              (default /var/spool/exim4)\n"
"\n"
"Other:\n"
"  --log.level=debug|info|warn|error   (default info)\n"
"  --log.format=logfmt|json    (default logfmt); the exporter's own messages go to stderr\n"
"  --once                      read every --maillog.path (plain or gzip) from its beginning to\n"
"                              EOF, print the metrics to stdout and exit; no HTTP server\n"
"  --run-as=USER               when started as root: become USER (and its groups) after\n"
"                              binding the port and opening the logs; USER must be able to\n"
"                              read the logs after a rotation (group adm on Debian)\n"
"  --config.file=PATH          YAML file of custom parsers (README \"Custom parsers\");\n"
"                              SIGHUP reloads it\n"
"  --check-config              check --config.file and the flags, print \"configuration OK\"\n"
"                              and exit 0, or print the problem and exit 1\n"
"  --version, --help\n",
	    WEB_DEFAULT_LISTEN, AGG_DEFAULT_MAX_SERIES,
	    AGG_MAX_DOMAINS_TOP, AGG_DEFAULT_DOMAINS_TOP);
}

static enum opts_result
fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return OPTS_ERROR;
}

/* Parse a decimal number in [min, max]. Returns 0 or -1. */
static int
parse_uint(const char *s, unsigned long long min, unsigned long long max,
    unsigned long long *out)
{
	char *end;
	unsigned long long v;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/* Accept "10" and Go-duration style "10s" for seconds, as the Go exporters
 * take durations there, from lo to hi. */
static int
parse_seconds_in(const char *s, unsigned lo, unsigned hi, unsigned *out)
{
	char buf[32];
	size_t n = strlen(s);
	unsigned long long v;

	if (n == 0 || n >= sizeof buf)
		return -1;
	memcpy(buf, s, n + 1);
	if (buf[n - 1] == 's')
		buf[n - 1] = '\0';
	if (parse_uint(buf, lo, hi, &v) < 0)
		return -1;
	*out = (unsigned)v;
	return 0;
}

/* Timeouts and the state interval: 1 s to an hour. */
static int
parse_seconds(const char *s, unsigned *out)
{
	return parse_seconds_in(s, 1, 3600, out);
}

static void
set_defaults(struct options *o)
{
	memset(o, 0, sizeof *o);
	o->format = "auto";
	o->max_line = 65536;
	o->max_files = 400;
	o->listen_address = WEB_DEFAULT_LISTEN;
	o->telemetry_path = "/metrics";
	o->max_connections = 64;
	o->max_connections_per_ip = 8;
	o->timeout_s = 10;
	o->max_series = AGG_DEFAULT_MAX_SERIES;
	o->domains_top = AGG_DEFAULT_DOMAINS_TOP;
	o->log_level = LOG_LEVEL_INFO;
	o->log_format = LOG_FORMAT_LOGFMT;
	o->state_interval_s = 10;
	o->queue_interval_s = QUEUE_DEFAULT_INTERVAL;
	o->queue_mta = QUEUE_SEL_AUTO;
	o->showq_path = QUEUE_DEFAULT_SHOWQ;
	o->postfix_queue_dir = QUEUE_DEFAULT_POSTFIX_DIR;
	o->exim_spool_dir = QUEUE_DEFAULT_EXIM_SPOOL;
	o->syslog_max_connections = SL_DEFAULT_MAX_CONNECTIONS;
	o->syslog_max_message = SL_DEFAULT_MAX_MESSAGE;
	o->syslog_idle_timeout_s = SL_DEFAULT_IDLE_TIMEOUT_S;
}

/* --queue.interval: 0 (off) is allowed and the top is a day. */
static int
parse_interval(const char *s, unsigned *out)
{
	return parse_seconds_in(s, 0, 86400, out);
}

/* The flag as the user wrote it, for error messages. */
static const char *
flag_name(int c)
{
	for (const struct option *lo = long_opts; lo->name; lo++)
		if (lo->val == c)
			return lo->name;
	return "?";
}

enum opts_result
opts_parse(int argc, char **argv, struct options *o, char *err, size_t errlen)
{
	unsigned long long v;
	int c;

	set_defaults(o);
	opterr = 0;
	optind = 0;  /* glibc: 0 also resets its internal state, so tests can call us twice */
	/* The leading '-' returns non-option arguments in order instead of
	 * permuting them, so "maillog_exporter foo" is reported, not ignored. */
	while ((c = getopt_long(argc, argv, "-:", long_opts, NULL)) != -1) {
		const char *arg = optarg;
		switch (c) {
		case OPT_PATH:
			if (*arg == '\0')
				return fail(err, errlen, "--maillog.path: empty path");
			if (o->npaths == OPTS_MAX_PATHS)
				return fail(err, errlen, "--maillog.path: at most %d paths",
				    OPTS_MAX_PATHS);
			for (int i = 0; i < o->npaths; i++)
				if (strcmp(o->paths[i], arg) == 0)
					return fail(err, errlen,
					    "--maillog.path: %s given twice (its lines would be counted twice)",
					    arg);
			o->paths[o->npaths++] = arg;
			break;
		case OPT_START:
			if (strcmp(arg, "end") == 0)
				o->from_beginning = 0;
			else if (strcmp(arg, "beginning") == 0)
				o->from_beginning = 1;
			else
				return fail(err, errlen,
				    "--maillog.start: '%s' is not end or beginning", arg);
			break;
		case OPT_FORMAT:
			o->format = arg;
			break;
		case OPT_TIMEZONE:
			if (*arg == '\0')
				return fail(err, errlen, "--maillog.timezone: empty timezone");
			o->timezone = arg;
			break;
		case OPT_MAX_LINE:
			if (parse_uint(arg, 256, 16u << 20, &v) < 0)
				return fail(err, errlen,
				    "--maillog.max-line-length: '%s' is not a number of bytes from 256 to 16777216",
				    arg);
			o->max_line = (size_t)v;
			break;
		case OPT_ENVELOPE: {
			enum envelope_mode m;
			if (envelope_mode_parse(arg, &m) < 0)
				return fail(err, errlen,
				    "--maillog.envelope: '%s' is not auto, none, cri or docker", arg);
			o->envelope = (int)m;
			break;
		}
		case OPT_MAX_FILES:
			if (parse_uint(arg, 1, 100000, &v) < 0)
				return fail(err, errlen,
				    "--maillog.max-files: '%s' is not a number of files from 1 to 100000",
				    arg);
			o->max_files = (unsigned)v;
			break;
		case OPT_LISTEN: {
			char why[200];
			if (web_check_listen_address(arg, why, sizeof why) < 0)
				return fail(err, errlen, "--web.listen-address: %s", why);
			o->listen_address = arg;
			break;
		}
		case OPT_TELEMETRY:
			if (arg[0] != '/' || strlen(arg) > 200 || strpbrk(arg, "?# \t\r\n") != NULL)
				return fail(err, errlen,
				    "--web.telemetry-path: '%s' must be a path starting with '/' (no spaces, '?' or '#')",
				    arg);
			if (strcmp(arg, "/") == 0 || strcmp(arg, "/healthz") == 0)
				return fail(err, errlen,
				    "--web.telemetry-path: '%s' is taken by the landing page or health check",
				    arg);
			o->telemetry_path = arg;
			break;
		case OPT_MAX_CONN:
			if (parse_uint(arg, 1, 10000, &v) < 0)
				return fail(err, errlen,
				    "--web.max-connections: '%s' is not a number from 1 to 10000", arg);
			o->max_connections = (unsigned)v;
			break;
		case OPT_MAX_CONN_IP:
			if (parse_uint(arg, 1, 10000, &v) < 0)
				return fail(err, errlen,
				    "--web.max-connections-per-ip: '%s' is not a number from 1 to 10000",
				    arg);
			o->max_connections_per_ip = (unsigned)v;
			break;
		case OPT_TIMEOUT:
			if (parse_seconds(arg, &o->timeout_s) < 0)
				return fail(err, errlen,
				    "--web.timeout: '%s' is not a number of seconds from 1 to 3600", arg);
			break;
		case OPT_WEB_CONFIG:
			if (*arg == '\0')
				return fail(err, errlen, "--web.config.file: empty path");
			o->web_config_file = arg;
			break;
		case OPT_MAX_SERIES:
			if (parse_uint(arg, 1, 1000000, &v) < 0)
				return fail(err, errlen,
				    "--metrics.max-series: '%s' is not a number from 1 to 1000000", arg);
			o->max_series = (size_t)v;
			break;
		case OPT_DOMAINS_TOP:
			if (parse_uint(arg, 0, AGG_MAX_DOMAINS_TOP, &v) < 0)
				return fail(err, errlen,
				    "--metrics.domains.top: '%s' is not a number from 0 to %d", arg,
				    AGG_MAX_DOMAINS_TOP);
			o->domains_top = (unsigned)v;
			break;
		case OPT_DOMAINS_INBOUND:
			o->domains_inbound = 1;
			break;
		case OPT_HOST_LABEL:
			o->host_label = 1;
			break;
		case OPT_TLS_CIPHER:
			o->tls_cipher = 1;
			break;
		case OPT_EXIM_PANICLOG:
			if (*arg == '\0')
				return fail(err, errlen, "--exim.paniclog: empty path");
			o->exim_paniclog = arg;
			break;
		case OPT_LOG_LEVEL:
			if (log_parse_level(arg, &o->log_level) < 0)
				return fail(err, errlen,
				    "--log.level: '%s' is not debug, info, warn or error", arg);
			break;
		case OPT_LOG_FORMAT:
			if (log_parse_format(arg, &o->log_format) < 0)
				return fail(err, errlen, "--log.format: '%s' is not logfmt or json", arg);
			break;
		case OPT_ONCE:
			o->once = 1;
			break;
		case OPT_RUN_AS:
			if (*arg == '\0' || strlen(arg) > 63 || strpbrk(arg, ":/ \t\r\n") != NULL)
				return fail(err, errlen, "--run-as: '%.100s' is not a user name", arg);
			o->run_as = arg;
			break;
		case OPT_CONFIG_FILE:
			if (*arg == '\0')
				return fail(err, errlen, "--config.file: empty path");
			o->config_file = arg;
			break;
		case OPT_CHECK_CONFIG:
			o->check_config = 1;
			break;
		case OPT_STATE_FILE:
			if (*arg == '\0')
				return fail(err, errlen, "--state.file: empty path");
			if (strlen(arg) > 4000)
				return fail(err, errlen, "--state.file: path longer than 4000 bytes");
			o->state_file = arg;
			break;
		case OPT_JOURNAL:
			o->journal = 1;
			break;
		case OPT_JOURNAL_UNIT:
		case OPT_JOURNAL_IDENT: {
			const char **list = c == OPT_JOURNAL_UNIT ? o->journal_units : o->journal_idents;
			int *n = c == OPT_JOURNAL_UNIT ? &o->njournal_units : &o->njournal_idents;
			if (*arg == '\0' || strlen(arg) > 255 || strpbrk(arg, "=\n") != NULL)
				return fail(err, errlen, "--%s: '%.100s' is not a name (1 to 255 "
				    "bytes, no '=' or newline)", flag_name(c), arg);
			if (*n == OPTS_MAX_MATCHES)
				return fail(err, errlen, "--%s: at most %d", flag_name(c),
				    OPTS_MAX_MATCHES);
			list[(*n)++] = arg;
			break;
		}
		case OPT_JOURNAL_DIR:
			if (*arg == '\0')
				return fail(err, errlen, "--journal.directory: empty path");
			o->journal_dir = arg;
			break;
		case OPT_STATE_INTERVAL:
			if (parse_seconds(arg, &o->state_interval_s) < 0)
				return fail(err, errlen,
				    "--state.interval: '%s' is not a number of seconds from 1 to 3600", arg);
			break;
		case OPT_QUEUE_INTERVAL:
			if (parse_interval(arg, &o->queue_interval_s) < 0)
				return fail(err, errlen, "--queue.interval: '%.100s' is not a number of "
				    "seconds from 0 (off) to 86400", arg);
			break;
		case OPT_QUEUE_MTA:
			if (strcmp(arg, "auto") == 0)
				o->queue_mta = QUEUE_SEL_AUTO;
			else if (strcmp(arg, "postfix") == 0)
				o->queue_mta = QUEUE_SEL_POSTFIX;
			else if (strcmp(arg, "exim") == 0)
				o->queue_mta = QUEUE_SEL_EXIM;
			else if (strcmp(arg, "none") == 0)
				o->queue_mta = QUEUE_SEL_NONE;
			else
				return fail(err, errlen,
				    "--queue.mta: '%.100s' is not auto, postfix, exim or none", arg);
			break;
		case OPT_SHOWQ_PATH:
			/* sockaddr_un holds 107 bytes and a NUL. */
			if (*arg == '\0' || strlen(arg) > 107)
				return fail(err, errlen, "--postfix.showq-path: '%.120s' is not a socket "
				    "path of 1 to 107 bytes", arg);
			o->showq_path = arg;
			break;
		case OPT_REINJECT:
			if (*arg == '\0' || strlen(arg) > MP_REINJECT_NAME_MAX ||
			    strpbrk(arg, " \t\r\n,[]:") != NULL)
				return fail(err, errlen, "--postfix.reinjection-syslog-name: '%.100s' is "
				    "not a syslog_name (1 to %d bytes, no spaces, ',', '[', ']' or ':'; "
				    "repeat the flag for each name)", arg, MP_REINJECT_NAME_MAX);
			if (o->nreinject == MP_REINJECT_MAX)
				return fail(err, errlen, "--postfix.reinjection-syslog-name: at most %d",
				    MP_REINJECT_MAX);
			o->reinject[o->nreinject++] = arg;
			break;
		case OPT_POSTFIX_QUEUE_DIR:
		case OPT_EXIM_BINARY:
		case OPT_EXIM_SPOOL_DIR:
			if (*arg == '\0' || strlen(arg) > 4000)
				return fail(err, errlen, "--%s: %s", flag_name(c),
				    *arg ? "path longer than 4000 bytes" : "empty path");
			if (c == OPT_POSTFIX_QUEUE_DIR)
				o->postfix_queue_dir = arg;
			else if (c == OPT_EXIM_BINARY)
				o->exim_binary = arg;
			else
				o->exim_spool_dir = arg;
			break;
		case OPT_SYSLOG_LISTEN: {
			struct sl_addr a;
			char why[400];
			if (o->nsyslog_listen == OPTS_MAX_LISTEN)
				return fail(err, errlen, "--syslog.listen: at most %d listeners",
				    OPTS_MAX_LISTEN);
			if (sl_parse_address(arg, &a, why, sizeof why) < 0)
				return fail(err, errlen, "--syslog.listen: %s", why);
			o->syslog_listen[o->nsyslog_listen++] = arg;
			break;
		}
		case OPT_SYSLOG_MAX_CONN:
			if (parse_uint(arg, 1, 10000, &v) < 0)
				return fail(err, errlen,
				    "--syslog.max-connections: '%s' is not a number from 1 to 10000", arg);
			o->syslog_max_connections = (unsigned)v;
			break;
		case OPT_SYSLOG_MAX_MESSAGE:
			if (parse_uint(arg, SL_MIN_MESSAGE, SL_MAX_MESSAGE, &v) < 0)
				return fail(err, errlen, "--syslog.max-message-size: '%s' is not a number"
				    " of bytes from %u to %u", arg, SL_MIN_MESSAGE, SL_MAX_MESSAGE);
			o->syslog_max_message = (size_t)v;
			break;
		case OPT_SYSLOG_IDLE_TIMEOUT:
			if (parse_seconds_in(arg, 0, 86400, &o->syslog_idle_timeout_s) < 0)
				return fail(err, errlen, "--syslog.idle-timeout: '%s' is not a number of"
				    " seconds from 0 (never) to 86400", arg);
			break;
		case OPT_VERSION:
			return OPTS_VERSION;
		case OPT_HELP:
			return OPTS_HELP;
		case 1:
			return fail(err, errlen,
			    "unexpected argument '%s': logs are given with --maillog.path (see --help)",
			    arg);
		case ':':
			return fail(err, errlen, "--%s needs a value", flag_name(optopt));
		case '?':
		default:
			if (optopt >= OPT_PATH)
				return fail(err, errlen, "--%s takes no value", flag_name(optopt));
			return fail(err, errlen, "unknown flag '%s' (see --help)",
			    argv[optind - 1] ? argv[optind - 1] : "?");
		}
	}
	if (!o->journal && (o->njournal_units || o->njournal_idents || o->journal_dir))
		return fail(err, errlen, "--journal.unit, --journal.identifier and "
		    "--journal.directory need --journal");
	if (o->once && o->journal)
		return fail(err, errlen, "--journal: not with --once, which reads files to their "
		    "end and has no journal position to stop at");
	if (o->once && o->nsyslog_listen > 0)
		return fail(err, errlen, "--syslog.listen: not with --once, which reads files to"
		    " their end and exits");
	if (o->once && o->state_file != NULL)
		return fail(err, errlen, "--state.file: not with --once, which reads every file "
		    "whole and keeps nothing");
	return OPTS_OK;
}
