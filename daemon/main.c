/*
 * main.c - maillog_exporter: flags, start-up checks, the event loop and
 * shutdown.
 *
 * Threads: this one runs a poll loop over the tailer's inotify fd and a
 * signalfd, and is the only writer of the counters; libmicrohttpd's
 * internal polling thread serves /metrics from them read-only. What
 * --state.file adds to that loop (load, snapshots, the published copy) is
 * in persist.c.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store/aggregate.h"
#include "build_config.h"
#include "daemon/config.h"
#include "daemon/ingest.h"
#include "web/expo.h"
#include "web/http.h"
#include "daemon/input/journal.h"
#include "util/log.h"
#include "parsers/mp.h"
#include "daemon/notify.h"
#include "daemon/input/once.h"
#include "daemon/options.h"
#include "daemon/persist.h"
#include "daemon/privdrop.h"
#include "daemon/queue/queue.h"
#include "parsers/reason.h"
#include "daemon/report.h"
#include "daemon/input/envelope.h"
#include "daemon/input/tailer.h"
#include "daemon/input/syslog_listen.h"
#include "web/webconfig.h"

/* The per-line path (ingest.h), and the MTAs whose unmatched count
 * /metrics always shows (built-ins and the startup config's custom parsers;
 * read by the web thread, so never changed once it runs). */
struct pipeline {
	/* The names of the custom MTA ids: every registry this process builds
	 * gives its ids here, so a name keeps its id (and counters) across
	 * reloads, and the web thread reads names here, never from a registry
	 * that a reload may free (struct mp_mta_names, parsers/mp.h). */
	struct mp_mta_names names;
	struct ingest in;       /* in.history is NULL in --once */
	int mtas[MP_MTA_MAX];
	int nmtas;
	/* --maillog.envelope, for every file the tailer or --once reads;
	 * the counters are read by the web thread. */
	struct envelope_config envelope;
	struct envelope_stats envelope_stats;
};

/* The envelope config the inputs get: NULL for --maillog.envelope=none,
 * so plain logs pay nothing. */
static const struct envelope_config *
envelope_of(const struct pipeline *p)
{
	return p->envelope.mode == ENVELOPE_NONE ? NULL : &p->envelope;
}

/* --maillog.timezone: a name from the tz database, or a POSIX TZ string
 * (which always holds a digit, e.g. "CET-1CEST"). A misspelt zone would make
 * glibc fall back to UTC without a word, so check the zone file exists. */
static int
check_timezone(const char *tz, char *err, size_t errlen)
{
	char path[256];
	struct stat st;
	const char *name = tz[0] == ':' ? tz + 1 : tz;

	if (strpbrk(name, "0123456789") != NULL || strcmp(name, "UTC") == 0)
		return 0;
	if (strstr(name, "..") != NULL || strlen(name) > 200) {
		snprintf(err, errlen, "--maillog.timezone: '%.200s' is not a timezone name", tz);
		return -1;
	}
	snprintf(path, sizeof path, "/usr/share/zoneinfo/%s", name);
	if (stat(path, &st) < 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen,
		    "--maillog.timezone: unknown timezone '%.200s' (no such file %.200s;"
		    " try e.g. Europe/Berlin or UTC)", tz, path);
		return -1;
	}
	return 0;
}

/* With no --maillog.path, take the first default log that exists. None is
 * common on a fresh Debian 12: it logs to journald only, and there is no
 * mail log file until rsyslog (or Postfix's maillog_file) writes one. */
static const char *
find_default_log(void)
{
	for (const char *const *p = opts_default_paths; *p; p++)
		if (access(*p, F_OK) == 0)
			return *p;
	return NULL;
}

/* Is there a local journal to fall back to? Only a build with libsystemd
 * can read one; /run/log/journal (volatile) or /var/log/journal
 * (persistent) holds it on a host that runs systemd-journald. */
static int
journal_available(void)
{
#if HAVE_LIBSYSTEMD
	return access("/run/log/journal", F_OK) == 0 || access("/var/log/journal", F_OK) == 0;
#else
	return 0;
#endif
}

static void
explain_no_log(int journal_too)
{
	fprintf(stderr, "maillog_exporter: no mail log found; tried");
	for (const char *const *p = opts_default_paths; *p; p++)
		fprintf(stderr, " %s", *p);
	if (journal_too)
		fprintf(stderr, " and the systemd journal (no /run/log/journal or /var/log/journal%s)",
		    HAVE_LIBSYSTEMD ? "" : "; this build cannot read it");
	fprintf(stderr,
	    ".\nPoint the exporter at your log with --maillog.path=PATH. A system that logs only"
	    " to journald (Debian 12 without rsyslog) has no mail log file: read the journal"
	    " with --journal, install rsyslog, or set Postfix's maillog_file"
	    " (postconf -e maillog_file=/var/log/mail.log).\n");
}

/* "a, b" for the custom parsers reg holds, or "none". */
static const char *
custom_names(const struct mp_registry *reg, char *buf, size_t len)
{
	int ids[MP_MTA_MAX];
	size_t n = mp_registry_mtas(reg, ids, MP_MTA_MAX), used = 0;

	snprintf(buf, len, "none");
	for (size_t i = 0; i < n; i++) {
		size_t j;
		for (j = 0; j < i && ids[j] != ids[i]; j++)
			;
		if (ids[i] < MP_MTA_BUILTIN_COUNT || j < i)
			continue;  /* built-in, or a custom mta's second direction */
		int w = snprintf(buf + used, len - used, "%s%s", used ? ", " : "",
		    mp_mta_name(mp_registry_names(reg), ids[i]));
		if (w < 0 || (size_t)w >= len - used)
			break;
		used += (size_t)w;
	}
	return buf;
}

/* Built-ins always, then the custom parsers of the starting config. */
static void
set_mtas(struct pipeline *p)
{
	int ids[MP_MTA_MAX];
	size_t n = mp_registry_mtas(p->in.reg, ids, MP_MTA_MAX);

	p->nmtas = 0;
	for (int i = 0; i < MP_MTA_BUILTIN_COUNT; i++)
		p->mtas[p->nmtas++] = i;
	for (size_t i = 0; i < n; i++) {
		int j;
		for (j = 0; j < p->nmtas && p->mtas[j] != ids[i]; j++)
			;
		if (j == p->nmtas && p->nmtas < MP_MTA_MAX)
			p->mtas[p->nmtas++] = ids[i];
	}
}

/*
 * SIGHUP: build a registry from --config.file as it is now and swap it in.
 * A file that does not load is refused with its error and the running
 * parsers carry on, so a typo never stops the counting. The swap is safe
 * because only this thread parses lines; the web thread reads MTA names
 * from p->names, which outlives every registry. A custom parser that
 * is new in the file gets its maillog_unmatched_lines_total sample once
 * that count is nonzero.
 */
static void
reload(const struct options *o, struct pipeline *p)
{
	struct mp_registry *reg;
	struct reason_set *reasons;
	char err[512], names[256];

	if (o->config_file == NULL) {
		log_info("SIGHUP: no --config.file to reload; files are re-checked now");
		return;
	}
	if (config_registry(o->config_file, o->format, &p->names, &reg, err,
	    sizeof err) != CONFIG_OK ||
	    mp_registry_set_reinjection(reg, o->reinject, (size_t)o->nreinject, err,
	    sizeof err) < 0) {
		mp_registry_free(reg);
		log_errorx("SIGHUP: reload refused, the running parsers carry on: %s", err);
		return;
	}
	/* Parsers and reason rules are swapped together or not at all. */
	if (config_reasons(o->config_file, &reasons, err, sizeof err) != CONFIG_OK) {
		mp_registry_free(reg);
		log_errorx("SIGHUP: reload refused, the running parsers carry on: %s", err);
		return;
	}
	mp_registry_free(p->in.reg);
	p->in.reg = reg;
	reason_set_free(p->in.reasons);
	p->in.reasons = reasons;
	log_info("SIGHUP: reloaded %s; custom parsers: %s", o->config_file,
	    custom_names(reg, names, sizeof names));
}

/*
 * SIGHUP, second part: re-read --web.config.file. A file that does not
 * load is refused with its error and the running settings carry on, as
 * for --config.file. Users and headers change in place; a TLS change
 * restarts the HTTP server on the same socket (web_reload).
 */
static void
reload_web(const struct options *o, struct web *web)
{
	struct webcfg *wc;
	char err[512];

	if (o->web_config_file == NULL)
		return;
	if (webcfg_load(o->web_config_file, &wc, err, sizeof err) < 0) {
		log_errorx("SIGHUP: web config reload refused, the running TLS, users and "
		    "headers carry on: %s", err);
		return;
	}
	if (web_reload(web, wc, err, sizeof err) < 0) {
		log_errorx("SIGHUP: web config reload refused, the running server carries on: %s",
		    err);
		return;
	}
	log_info("SIGHUP: reloaded %s (%s)", o->web_config_file,
	    web_is_tls(web) ? "https" : "http");
}

/* Exim's rejectlog: basename "rejectlog" (Debian's /var/log/exim4/rejectlog)
 * or the /var/log/exim/reject.log of other distributions. */
static int
is_exim_rejectlog(const char *path)
{
	static const char other[] = "/exim/reject.log";
	const char *base = strrchr(path, '/');
	size_t n = strlen(path);

	base = base ? base + 1 : path;
	return strcmp(base, "rejectlog") == 0 ||
	    (n >= sizeof other - 1 && strcmp(path + n - (sizeof other - 1), other) == 0);
}

/*
 * Exim writes every reject to its mainlog and again to its rejectlog (with
 * the message's headers after it). Following both would count each reject
 * twice, so when any other log is followed too (the mainlog, or the syslog
 * file Exim logs to), the rejectlog is dropped with a warning saying why.
 * A rejectlog followed alone is kept: its rejects are then counted once,
 * but it holds no deliveries, which the warning says.
 */
static void
drop_exim_rejectlogs(struct options *o)
{
	const char *other = NULL;
	int n = 0;

	for (int i = 0; i < o->npaths; i++)
		if (!is_exim_rejectlog(o->paths[i]) && other == NULL)
			other = o->paths[i];
	for (int i = 0; i < o->npaths; i++) {
		if (!is_exim_rejectlog(o->paths[i])) {
			o->paths[n++] = o->paths[i];
		} else if (other != NULL) {
			log_warnx("not following %s: it is Exim's rejectlog, which repeats the reject"
			    " lines Exim also writes to its mainlog, so following both would count"
			    " every reject twice; rejects are counted from %s", o->paths[i], other);
		} else {
			log_warnx("%s is Exim's rejectlog: its rejects are counted, but it holds no"
			    " deliveries; follow Exim's mainlog instead to count those too",
			    o->paths[i]);
			o->paths[n++] = o->paths[i];
		}
	}
	o->npaths = n;
}

static int
run_once(const struct options *o, struct pipeline *p)
{
	struct input_status status[OPTS_MAX_PATHS];
	struct expo_source sources[OPTS_MAX_PATHS] = { 0 };
	struct strbuf out = { 0 };
	int failed = 0;

	memset(status, 0, sizeof status);
	for (int i = 0; i < o->npaths; i++) {
		char err[512];
		sources[i].path = o->paths[i];
		sources[i].status = &status[i];
		/* Exim creates its panic log at its first panic: none is no
		 * panic, not an error (the daemon waits for it likewise). */
		if (i == p->in.panic_source && access(o->paths[i], F_OK) != 0 && errno == ENOENT) {
			log_info("%s does not exist: Exim has not panicked", o->paths[i]);
			atomic_store(&status[i].state, INPUT_STATE_WAITING);
			continue;
		}
		if (once_read(o->paths[i], o->max_line, envelope_of(p), ingest_line, &p->in, i,
		    &status[i], err, sizeof err) < 0) {
			log_errorx("%s", err);
			failed = 1;
		}
	}
	if (failed)
		return 1;

	struct expo_view view = {
		.agg = p->in.agg, .sources = sources, .nsources = o->npaths,
		.mtas = p->mtas, .nmtas = p->nmtas, .names = &p->names,
		.envelope = &p->envelope_stats,
	};
	if (expo_render(&view, &out) < 0) {
		strbuf_free(&out);
		log_errorx("out of memory rendering the metrics");
		return 1;
	}
	if (fwrite(out.data, 1, out.len, stdout) != out.len || fflush(stdout) != 0) {
		strbuf_free(&out);
		log_error("writing the metrics to stdout");
		return 1;
	}
	strbuf_free(&out);
	return 0;
}

/* The queue collector the flags ask for; started after the privilege drop. */
static struct queue *
new_queue(const struct options *o, struct queue_board *board)
{
	struct queue_opts qo;
	struct queue *q;

	queue_opts_defaults(&qo);
	qo.interval_s = o->queue_interval_s;
	qo.select = (enum queue_select)o->queue_mta;
	qo.showq_path = o->showq_path;
	qo.postfix_dir = o->postfix_queue_dir;
	qo.exim_binary = o->exim_binary;
	qo.exim_spool = o->exim_spool_dir;
	if ((q = queue_new(&qo, board)) == NULL)
		fatalx("out of memory allocating the queue collector");
	return q;
}

/* Journal entries per loop turn: a burst is drained over several turns,
 * each short enough to leave room for signals and snapshots. */
#define JOURNAL_TURN 4096

/* What the daemon runs, from its start to its stop. */
struct daemon {
	const struct options *o;
	struct pipeline *p;
	struct persist *ps;              /* --state.file, or NULL */
	struct tail_set *ts;
	struct journal *journal;         /* --journal, or NULL */
	struct sl_set *syslog;           /* --syslog.listen, or NULL */
	struct expo_source sources[OPTS_MAX_PATHS + 1];   /* + the journal */
	int nsources;
	struct queue_board queue_board;  /* outlives the web server and the collector */
	struct queue *queue;
	struct expo_view view;           /* what the web thread renders */
	struct web *web;
	int sfd;                         /* signalfd of SIGTERM, SIGINT, SIGHUP */
};

/* Block the signals before MHD starts its thread, so they are delivered
 * through the returned signalfd and never to the HTTP thread. */
static int
block_signals(void)
{
	sigset_t mask;
	int sfd;

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
		fatal("sigprocmask");
	if ((sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC)) < 0)
		fatal("signalfd");
	signal(SIGPIPE, SIG_IGN);
	return sfd;
}

/* Follow every --maillog.path, from where rs says when it knows. */
static void
open_files(struct daemon *d, const struct persist_resume *rs)
{
	const struct options *o = d->o;
	struct tail_opts topts;
	char err[512];

	tail_opts_defaults(&topts);
	topts.from_beginning = o->from_beginning;
	topts.max_line = o->max_line;
	topts.envelope = envelope_of(d->p);
	topts.max_files = o->max_files;
	if ((d->ts = tail_set_new(&topts, ingest_line, &d->p->in)) == NULL)
		fatal("cannot start following files: inotify_init1");
	tail_set_restore_overflows(d->ts, rs->journal.inotify_overflows);
	for (int i = 0; i < o->npaths; i++) {
		const struct saved_source *saved = &rs->src[i];
		int r = saved->known && saved->npos >= 0 ?
		    tail_set_add_resume(d->ts, o->paths[i], saved->pos, saved->npos, err,
			sizeof err) :
		    tail_set_add(d->ts, o->paths[i], err, sizeof err);
		if (r < 0)
			fatalx("--maillog.path=%s: %s", o->paths[i], err);
		if (saved->known)
			tail_set_restore_status(d->ts, i, &saved->status);
		d->sources[i].path = tail_set_path(d->ts, i);
		d->sources[i].status = tail_set_status(d->ts, i);
		d->sources[i].glob = tail_set_is_glob(d->ts, i);
		d->sources[i].files = tail_set_files(d->ts, i);
	}
	d->nsources = o->npaths;
}

/* --journal: open it at the saved cursor, or as --maillog.start says. */
static void
open_journal(struct daemon *d, const struct saved_journal *saved)
{
#if HAVE_LIBSYSTEMD
	const struct options *o = d->o;
	struct journal_opts jo;
	char err[512];

	if (!o->journal)
		return;
	journal_opts_defaults(&jo);
	if (o->njournal_units > 0 || o->njournal_idents > 0) {
		jo.nunits = o->njournal_units;
		jo.nidents = o->njournal_idents;
		memcpy(jo.units, o->journal_units, sizeof(char *) * (size_t)jo.nunits);
		memcpy(jo.idents, o->journal_idents, sizeof(char *) * (size_t)jo.nidents);
	}
	jo.directory = o->journal_dir;
	/* A state that knows the journal but has no cursor stopped before
	 * any entry existed: everything there now is new. */
	jo.from_beginning = o->from_beginning || (saved->known && saved->cursor[0] == '\0');
	jo.max_line = o->max_line;
	d->journal = journal_open(&jo, saved->known ? saved->cursor : NULL, ingest_line, &d->p->in,
	    d->nsources, err, sizeof err);
	if (d->journal == NULL)
		fatalx("--journal: %s", err);
	if (saved->known)
		journal_restore_status(d->journal, &saved->status);
	d->sources[d->nsources].path = "journal";
	d->sources[d->nsources].status = journal_status(d->journal);
	d->nsources++;
	log_info("reading the journal%s%s from %s", o->journal_dir ? " in " : "",
	    o->journal_dir ? o->journal_dir : "",
	    saved->cursor[0] ? "the state file's cursor" :
	    o->from_beginning ? "its beginning" : "its end");
#else
	(void)d;
	(void)saved;
#endif
}

/*
 * --syslog.listen: bind every listener before the privileges go (port 514
 * needs root). Its sockets are one more fd in the event loop, read on this
 * thread, so ingest_line keeps its one writer (store/aggregate.h): a
 * thread of its own would need a queue or a lock between it and the
 * counters, and the loop's bounded turns already keep a flood from
 * starving the files and signals.
 */
static void
open_listeners(struct daemon *d)
{
	const struct options *o = d->o;
	struct sl_opts so;
	char err[512];

	if (o->nsyslog_listen == 0)
		return;
	sl_opts_defaults(&so);
	so.max_connections = o->syslog_max_connections;
	so.max_message = o->syslog_max_message;
	so.idle_timeout_s = o->syslog_idle_timeout_s;
	/* Never the panic log's index: these are ordinary lines. */
	so.source = OPTS_MAX_PATHS + 1;
	if ((d->syslog = sl_set_new(&so, ingest_line, &d->p->in, err, sizeof err)) == NULL)
		fatalx("--syslog.listen: %s", err);
	for (int i = 0; i < o->nsyslog_listen; i++) {
		if (sl_set_add(d->syslog, o->syslog_listen[i], err, sizeof err) < 0)
			fatalx("--syslog.listen=%s: %s", o->syslog_listen[i], err);
		log_info("receiving syslog messages on %s", o->syslog_listen[i]);
	}
}

/* Make the queue collector and serve /metrics from the counters (with
 * --state.file, from what has been written). */
static void
start_web(struct daemon *d, struct webcfg *webcfg)
{
	const struct options *o = d->o;
	struct web_opts wopts;
	char err[512];

	queue_board_init(&d->queue_board);
	d->queue = new_queue(o, &d->queue_board);
	d->view = (struct expo_view){
		.queue = &d->queue_board,
		.agg = d->p->in.agg, .sources = d->sources,
		.nsources = d->nsources, .mtas = d->p->mtas, .nmtas = d->p->nmtas,
		.names = &d->p->names,
		.inotify_overflows = tail_set_overflows(d->ts),
		.history = d->p->in.history,
		.envelope = &d->p->envelope_stats,
	};
	if (d->syslog != NULL)
		d->view.syslog = sl_set_stats(d->syslog, &d->view.nsyslog);
	persist_view(d->ps, &d->view);
	web_opts_defaults(&wopts);
	wopts.listen_address = o->listen_address;
	wopts.telemetry_path = o->telemetry_path;
	wopts.connection_limit = o->max_connections;
	wopts.per_ip_limit = o->max_connections_per_ip;
	wopts.timeout_s = o->timeout_s;
	wopts.webcfg = webcfg;
	if ((d->web = web_start(&wopts, &d->view, err, sizeof err)) == NULL)
		fatalx("cannot serve HTTP: %s", err);
	log_info("maillog_exporter %s (revision %s) listening on %s (%s), serving %s",
	    MAILLOG_EXPORTER_VERSION, MAILLOG_EXPORTER_REVISION, o->listen_address,
	    web_is_tls(d->web) ? "https" : "http", o->telemetry_path);
}

/* Read the pending signals: SIGHUP reloads, SIGTERM and SIGINT stop.
 * Returns 1 to stop. */
static int
handle_signals(struct daemon *d)
{
	struct signalfd_siginfo si;
	int stop = 0;

	while (read(d->sfd, &si, sizeof si) == (ssize_t)sizeof si) {
		if (si.ssi_signo == SIGHUP) {
			notify_reloading();
			reload(d->o, d->p);
			reload_web(d->o, d->web);
			notify_ready();
		} else {
			stop = 1;
		}
	}
	return stop;
}

/* Read, count and snapshot until a signal says stop. */
static void
event_loop(struct daemon *d)
{
	for (;;) {
		struct pollfd pfd[5] = {
			{ .fd = tail_set_fd(d->ts), .events = POLLIN },
			{ .fd = d->sfd, .events = POLLIN },
			{ .fd = persist_fd(d->ps), .events = POLLIN },
			{ .fd = -1, .events = POLLIN },
			{ .fd = d->syslog != NULL ? sl_set_fd(d->syslog) : -1, .events = POLLIN },
		};
		int timeout = tail_set_timeout_ms(d->ts);
		if (d->syslog != NULL) {
			int st = sl_set_timeout_ms(d->syslog);
			if (st >= 0 && (timeout < 0 || st < timeout))
				timeout = st;
		}
#if HAVE_LIBSYSTEMD
		if (d->journal != NULL) {
			int jt = journal_timeout_ms(d->journal);
			pfd[3].fd = journal_fd(d->journal);
			if (jt >= 0 && (timeout < 0 || jt < timeout))
				timeout = jt;
		}
#endif
		timeout = persist_timeout_ms(d->ps, timeout);
		if (poll(pfd, 5, timeout) < 0) {
			if (errno == EINTR)
				continue;
			fatal("poll");
		}
		tail_set_process(d->ts);
		if (d->syslog != NULL)
			sl_set_process(d->syslog);
#if HAVE_LIBSYSTEMD
		/* Every wake-up, not only when the fd is readable: a turn that
		 * ended on the budget must go on (its timeout was 0). */
		if (d->journal != NULL)
			journal_process(d->journal, JOURNAL_TURN);
#endif
		agg_touch(d->p->in.agg);
		/* Between two tail_set_process() calls: a line boundary. */
		persist_tick(d->ps, (pfd[2].revents & POLLIN) != 0);
		if ((pfd[1].revents & POLLIN) && handle_signals(d))
			return;
	}
}

/* Graceful stop: count the lines already written, then stop serving. */
static void
shut_down(struct daemon *d)
{
	notify_stopping();
	log_info("stopping: reading what is left, then closing the HTTP server");
	tail_set_drain(d->ts);
#if HAVE_LIBSYSTEMD
	if (d->journal != NULL)
		journal_process(d->journal, UINT_MAX);
#endif
	/* What the listeners hold: nothing is read any more, a TCP sender's
	 * last unterminated message is counted, and the unixgram sockets go. */
	sl_set_close(d->syslog);
	persist_finish(d->ps);
	web_stop(d->web);
	sl_set_free(d->syslog);   /* the web thread read its counters until now */
	queue_free(d->queue);   /* abandons a showq read or exim -bpc under way */
	queue_board_destroy(&d->queue_board);
#if HAVE_LIBSYSTEMD
	journal_close(d->journal);
#endif
	tail_set_free(d->ts);
	close(d->sfd);
	persist_free(d->ps);
}

static int
run_daemon(const struct options *o, struct pipeline *p, struct webcfg *webcfg)
{
	/* Static: large, and all zero (nothing to resume) without a state file. */
	static struct persist_resume resume;
	struct daemon d = { .o = o, .p = p };
	struct privdrop pd = { .name = "" };
	char err[512];

	d.sfd = block_signals();
	/* --run-as: resolve the user before anything is opened; switch after. */
	if (o->run_as && privdrop_lookup(o->run_as, &pd, err, sizeof err) < 0)
		fatalx("%s", err);
	/* --state.file: the saved counters replace the empty store before a
	 * line is read, and the saved positions decide where each file starts. */
	if (o->state_file != NULL &&
	    (d.ps = persist_new(o, &p->in.agg, &resume, err, sizeof err)) == NULL)
		fatalx("%s", err);
	open_files(&d, &resume);
	persist_resume_free(&resume);
	open_journal(&d, &resume.journal);
	open_listeners(&d);
	/* A state file that cannot be written stops the start: better now
	 * than silently at each write. */
	if (d.ps != NULL && persist_start(d.ps, d.ts, d.journal, d.sources) < 0)
		fatalx("--state.file=%s cannot be written (see the error above)", o->state_file);
	start_web(&d, webcfg);
	for (int i = 0; i < o->npaths; i++)
		log_info("following %s from %s", o->paths[i],
		    resume.src[i].known ? "where the state file says" :
		    o->from_beginning ? "its beginning" : "its end");
	/* The port is bound and the logs are open: root is no longer needed.
	 * Already being USER (systemd's User=) is fine too. */
	if (o->run_as && (geteuid() == 0 || geteuid() != pd.uid)) {
		if (privdrop_apply(&pd, err, sizeof err) < 0)
			fatalx("%s", err);
		log_info("switched to user %s (uid %u, gid %u) and its groups", pd.name,
		    (unsigned)pd.uid, (unsigned)pd.gid);
	}
	/* Queue sizes are collected as the user the exporter runs as. */
	if (queue_start(d.queue, err, sizeof err) < 0)
		fatalx("%s", err);
	if (geteuid() == 0)
		log_warnx("running as root; the exporter only needs to read the mail log"
		    " (group adm on Debian) and bind an unprivileged port");
	notify_ready();
	event_loop(&d);
	shut_down(&d);
	return 0;
}

int
main(int argc, char **argv)
{
	struct options o;
	struct pipeline p = { .nmtas = 0 };   /* p.names empty; no hooks: in.on_event NULL */
	char err[512];
	int rc;

	/* A subcommand, with flags of its own. */
	if (argc > 1 && strcmp(argv[1], "report") == 0)
		return report_main(argc - 1, argv + 1, stdout);

	switch (opts_parse(argc, argv, &o, err, sizeof err)) {
	case OPTS_OK:
		break;
	case OPTS_HELP:
		opts_usage(stdout);
		return 0;
	case OPTS_VERSION:
		printf("maillog_exporter %s (revision %s)\n", MAILLOG_EXPORTER_VERSION,
		    MAILLOG_EXPORTER_REVISION);
		return 0;
	case OPTS_ERROR:
		fprintf(stderr, "maillog_exporter: %s\n", err);
		return 2;
	}
	log_setup(o.log_level, o.log_format);
	p.envelope = (struct envelope_config){ .mode = (enum envelope_mode)o.envelope,
	    .max_line = o.max_line, .stats = &p.envelope_stats };
	if (o.envelope == ENVELOPE_CRI)
		atomic_store(&p.envelope_stats.shown[ENVELOPE_FORMAT_CRI], 1);
	else if (o.envelope == ENVELOPE_DOCKER)
		atomic_store(&p.envelope_stats.shown[ENVELOPE_FORMAT_DOCKER], 1);

	if (o.timezone) {
		if (check_timezone(o.timezone, err, sizeof err) < 0) {
			fprintf(stderr, "maillog_exporter: %s\n", err);
			return 2;
		}
		setenv("TZ", o.timezone, 1);
	}
	tzset();

	switch (config_registry(o.config_file, o.format, &p.names, &p.in.reg, err,
	    sizeof err)) {
	case CONFIG_OK:
		break;
	case CONFIG_BAD_FORMAT:
		fprintf(stderr, "maillog_exporter: --maillog.format: %s\n", err);
		return o.check_config ? 1 : 2;
	case CONFIG_BAD_FILE:
		fprintf(stderr, "maillog_exporter: %s\n", err);
		return 1;
	}
	/* opts_parse checked each name, so this cannot fail but for a bug. */
	if (mp_registry_set_reinjection(p.in.reg, o.reinject, (size_t)o.nreinject, err,
	    sizeof err) < 0) {
		fprintf(stderr, "maillog_exporter: --postfix.reinjection-syslog-name: %s\n", err);
		mp_registry_free(p.in.reg);
		return 2;
	}
	if (config_reasons(o.config_file, &p.in.reasons, err, sizeof err) != CONFIG_OK) {
		fprintf(stderr, "maillog_exporter: %s\n", err);
		mp_registry_free(p.in.reg);
		return 1;
	}
	/* A bad web config stops the start, like a bad --config.file: serving
	 * without the TLS or auth the file asks for would be worse. */
	struct webcfg *webcfg = NULL;
	if (o.web_config_file != NULL &&
	    webcfg_load(o.web_config_file, &webcfg, err, sizeof err) < 0) {
		fprintf(stderr, "maillog_exporter: --web.config.file: %s\n", err);
		reason_set_free(p.in.reasons);
		mp_registry_free(p.in.reg);
		return 1;
	}
	if (o.check_config) {
		char names[256];
		if (o.web_config_file != NULL)
			printf("%s: web configuration OK\n", o.web_config_file);
		webcfg_free(webcfg);
		if (o.config_file != NULL)
			printf("%s: configuration OK; custom parsers: %s\n", o.config_file,
			    custom_names(p.in.reg, names, sizeof names));
		else
			printf("configuration OK (no --config.file: built-in parsers only)\n");
		reason_set_free(p.in.reasons);
		mp_registry_free(p.in.reg);
		return 0;
	}
	set_mtas(&p);
	if (o.config_file != NULL) {
		char names[256];
		log_info("custom parsers from %s: %s", o.config_file,
		    custom_names(p.in.reg, names, sizeof names));
	}
#if !HAVE_LIBSYSTEMD
	if (o.journal) {
		fprintf(stderr, "maillog_exporter: --journal: this build cannot read the journal: "
		    "libsystemd was not found when it was built (install libsystemd-dev and "
		    "rebuild), or follow a log file with --maillog.path\n");
		reason_set_free(p.in.reasons);
		mp_registry_free(p.in.reg);
		webcfg_free(webcfg);
		return 2;
	}
#endif
	drop_exim_rejectlogs(&o);
	if (o.npaths == 0 && !o.journal && o.nsyslog_listen == 0) {
		const char *def = find_default_log();
		if (def != NULL) {
			o.paths[o.npaths++] = def;
		} else if (!o.once && journal_available()) {
			/* With no log file, follow the journal: a fresh Debian has no rsyslog
			 * (docs/operations.md). */
			log_warnx("no mail log file (tried /var/log/mail.log and the other defaults);"
			    " reading the systemd journal instead, as --journal would");
			o.journal = 1;
		} else {
			explain_no_log(!o.once);
			reason_set_free(p.in.reasons);
			mp_registry_free(p.in.reg);
			webcfg_free(webcfg);
			return 1;
		}
	}
	p.in.panic_source = -1;
	if (o.exim_paniclog != NULL) {
		const char *why = o.npaths == OPTS_MAX_PATHS ? "too many paths to follow" : NULL;
		for (int i = 0; i < o.npaths && why == NULL; i++)
			if (strcmp(o.paths[i], o.exim_paniclog) == 0)
				why = "it is also a --maillog.path";
		if (why != NULL) {
			fprintf(stderr, "maillog_exporter: --exim.paniclog=%s: %s\n",
			    o.exim_paniclog, why);
			reason_set_free(p.in.reasons);
			mp_registry_free(p.in.reg);
			webcfg_free(webcfg);
			return 2;
		}
		p.in.panic_source = o.npaths;
		o.paths[o.npaths++] = o.exim_paniclog;
	}
	struct agg_opts aopts;
	agg_opts_defaults(&aopts);
	aopts.max_series = o.max_series;
	aopts.domains_top = o.domains_top;
	aopts.domains_inbound = o.domains_inbound;
	aopts.host_label = o.host_label;
	aopts.tls_cipher = o.tls_cipher;
	if ((p.in.agg = agg_new_opts(&aopts)) == NULL)
		fatalx("out of memory allocating %zu series", o.max_series);
	p.in.history = NULL;
	if (!o.once && (p.in.history = hist_new(HIST_PAGE_BUCKETS, HIST_PAGE_SECONDS)) == NULL)
		fatalx("out of memory allocating the status page's history");

	if (o.once) {
		webcfg_free(webcfg);
		webcfg = NULL;
	}
	rc = o.once ? run_once(&o, &p) : run_daemon(&o, &p, webcfg);

	hist_free(p.in.history);
	agg_free(p.in.agg);
	reason_set_free(p.in.reasons);
	mp_registry_free(p.in.reg);
	return rc;
}
