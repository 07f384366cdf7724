/*
 * options.h - command-line flags. The names are a contract (users put them
 * in unit files and scripts): the exporter-toolkit style `--group.name`,
 * GNU long options, `--flag=value` or `--flag value`.
 */
#ifndef OPTIONS_H
#define OPTIONS_H

#include <stddef.h>
#include <stdio.h>

#include "util/log.h"
#include "parsers/mp.h"

#define OPTS_MAX_PATHS 32
#define OPTS_MAX_MATCHES 32
#define OPTS_MAX_LISTEN 16   /* SL_MAX_LISTENERS */

struct options {
	const char *paths[OPTS_MAX_PATHS];   /* --maillog.path, in order */
	int npaths;
	int from_beginning;                  /* --maillog.start=beginning */
	const char *format;                  /* --maillog.format */
	const char *config_file;             /* --config.file, NULL = built-in parsers only */
	int check_config;                    /* --check-config */
	const char *timezone;                /* --maillog.timezone, NULL = process local */
	size_t max_line;                     /* --maillog.max-line-length */
	int envelope;                        /* --maillog.envelope, an enum envelope_mode (0 = auto) */
	unsigned max_files;                  /* --maillog.max-files, per glob */
	const char *listen_address;          /* --web.listen-address */
	const char *telemetry_path;          /* --web.telemetry-path */
	unsigned max_connections;            /* --web.max-connections */
	unsigned max_connections_per_ip;     /* --web.max-connections-per-ip */
	unsigned timeout_s;                  /* --web.timeout */
	const char *web_config_file;         /* --web.config.file, NULL = plain HTTP, no auth */
	size_t max_series;                   /* --metrics.max-series */
	unsigned domains_top;                /* --metrics.domains.top */
	int domains_inbound;                 /* --metrics.domains.inbound */
	int host_label;                      /* --metrics.host-label */
	int tls_cipher;                      /* --metrics.tls-cipher */
	const char *exim_paniclog;           /* --exim.paniclog, or NULL */
	enum log_level log_level;
	enum log_format log_format;
	int once;
	const char *state_file;              /* --state.file, NULL = no state across restarts */
	unsigned state_interval_s;           /* --state.interval */
	int journal;                         /* --journal */
	const char *journal_units[OPTS_MAX_MATCHES];   /* --journal.unit */
	int njournal_units;
	const char *journal_idents[OPTS_MAX_MATCHES];  /* --journal.identifier */
	int njournal_idents;
	const char *journal_dir;             /* --journal.directory, NULL = the system journal */
	const char *run_as;                  /* --run-as: user to become after start-up, NULL = stay */
	unsigned queue_interval_s;           /* --queue.interval, 0 = no queue sizes */
	int queue_mta;                       /* --queue.mta, an enum queue_select */
	const char *showq_path;              /* --postfix.showq-path */
	const char *postfix_queue_dir;       /* --postfix.queue-dir */
	const char *reinject[MP_REINJECT_MAX];  /* --postfix.reinjection-syslog-name */
	int nreinject;
	const char *exim_binary;             /* --exim.binary, NULL = exim4 or exim in PATH */
	const char *exim_spool_dir;          /* --exim.spool-dir */
	const char *syslog_listen[OPTS_MAX_LISTEN];   /* --syslog.listen, in order */
	int nsyslog_listen;
	unsigned syslog_max_connections;     /* --syslog.max-connections */
	size_t syslog_max_message;           /* --syslog.max-message-size */
	unsigned syslog_idle_timeout_s;      /* --syslog.idle-timeout, 0 = never */
};

enum opts_result {
	OPTS_OK = 0,     /* run */
	OPTS_HELP,       /* --help: print opts_usage() and exit 0 */
	OPTS_VERSION,    /* --version: print it and exit 0 */
	OPTS_ERROR,      /* err holds one line naming the flag; exit 2 */
};

/* Parse argv into o (defaults first). Strings point into argv. Checks every
 * value's syntax; what needs the system (does the path exist, can the port
 * be bound) is checked later, by whoever uses it. */
enum opts_result opts_parse(int argc, char **argv, struct options *o,
    char *err, size_t errlen);

/* The default log paths, tried in order when no --maillog.path is given.
 * NULL-terminated. */
extern const char *const opts_default_paths[];

/* Write the --help text to fp. */
void opts_usage(FILE *fp);

#endif
