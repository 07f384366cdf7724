/*
 * main.c - maillog_exporter: flags, start-up checks, the event loop and
 * shutdown.
 *
 * Threads: this one runs a poll loop over the tailer's inotify fd and a
 * signalfd, and is the only writer of the counters; libmicrohttpd's
 * internal polling thread serves /metrics from them read-only.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store/aggregate.h"
#include "build_config.h"
#include "daemon/config.h"
#include "web/expo.h"
#include "web/http.h"
#include "daemon/input/journal.h"
#include "util/log.h"
#include "parsers/mp.h"
#include "daemon/notify.h"
#include "daemon/input/once.h"
#include "daemon/options.h"
#include "daemon/privdrop.h"
#include "daemon/queue/queue.h"
#include "parsers/reason.h"
#include "store/state.h"
#include "daemon/report.h"
#include "daemon/input/tailer.h"
#include "web/webconfig.h"
#include "util/monoclock.h"

/* What the per-line callback needs, and the MTAs whose unmatched count
 * /metrics always shows (built-ins and the startup config's custom parsers;
 * read by the web thread, so never changed once it runs). */
struct pipeline {
	/* The names of the custom MTA ids: every registry this process builds
	 * gives its ids here, so a name keeps its id (and counters) across
	 * reloads, and the web thread reads names here, never from a registry
	 * that a reload may free (struct mp_mta_names, parsers/mp.h). */
	struct mp_mta_names names;
	struct mp_registry *reg;
	struct reason_set *reasons;   /* classifies 4xx/5xx statuses; swapped by reload() */
	struct agg *agg;
	struct hist *history;   /* the status page's per-minute replies; NULL in --once */
	int mtas[MP_MTA_MAX];
	int nmtas;
	int panic_source;       /* the source index of --exim.paniclog, or -1 */
};

/* A line of Exim's panic log: each entry is one panic. Entries are single
 * lines but for indented continuations (a panic quoting a multi-line
 * message), which are not counted again. */
static void
count_panic(struct pipeline *p, const char *line, size_t len)
{
	struct mp_event ev;

	if (len == 0 || line[0] == ' ' || line[0] == '\t')
		return;
	memset(&ev, 0, sizeof ev);
	ev.mta = MP_MTA_EXIM;
	ev.nops = 1;
	ev.ops[0].family = MP_OPF_PANICS;
	agg_record_ops(p->agg, &ev);
}

static void
count_line(void *ctx, const char *line, size_t len, int source)
{
	struct pipeline *p = ctx;
	struct mp_event ev;
	int r;

	/* The tailer counts lines per source itself. */
	if (source == p->panic_source) {
		count_panic(p, line, len);
		return;
	}
	r = mp_registry_parse(p->reg, line, len, &ev);
	if (ev.nops > 0)
		agg_record_ops(p->agg, &ev);
	if (r > 0) {
		/* Statuses and receipts alike: agg_record dispatches on ev.kind. */
		agg_record(p->agg, &ev);
		/* Only failures are classified: a 2xx line runs no pattern. */
		if (ev.kind == MP_EVENT_STATUS && ev.cls != 2)
			agg_record_reason(p->agg, &ev, reason_classify(p->reasons, &ev));
		/* The chart counts by when the line arrived, not by the log's
		 * timestamp: "the last hour" is the last hour of this exporter's
		 * life, whatever clock the log's writer had, and a backlog read
		 * at start-up shows as the minute it was read. The coarse clock
		 * is a vDSO read, no system call per line. */
		if (p->history != NULL && ev.kind == MP_EVENT_STATUS) {
			struct timespec now;
			clock_gettime(CLOCK_REALTIME_COARSE, &now);
			hist_record(p->history, (int64_t)now.tv_sec, ev.direction, ev.cls);
		}
	} else if (r < 0) {
		char ex[4 * 160 + 4];
		agg_unmatched(p->agg, ev.mta);
		log_limited(LOG_LIMIT_UNMATCHED, LOG_LEVEL_WARN,
		    "%s line has a status marker but no status could be read from it"
		    " (counted in maillog_unmatched_lines_total): %s",
		    mp_mta_name(mp_registry_names(p->reg), ev.mta),
		    log_excerpt(ex, line, len, 160));
	}
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
	size_t n = mp_registry_mtas(p->reg, ids, MP_MTA_MAX);

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
	mp_registry_free(p->reg);
	p->reg = reg;
	reason_set_free(p->reasons);
	p->reasons = reasons;
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


/* ---- --state.file ------------------------------------------------------ */

/*
 * The snapshot machinery. This thread is the only writer of the counters
 * and takes every snapshot between two tail_set_process() calls, when
 * the counters and the read offsets describe the same line boundary. A
 * snapshot is written to disk first and only then copied into `pub`, the
 * store the web thread renders, so every value a scraper has seen is on
 * disk: after a kill -9 the restart resumes from counters at least as
 * high as any scrape, and re-reads only lines no scrape has counted.
 *
 * A scrape asks for a fresh snapshot through view.refresh (want_fresh,
 * on the web thread): when the published one is over a second old and
 * anything was read since, it writes to `efd`, which this loop polls, and
 * waits on `cond` for `seq` to move. This thread never writes more than
 * once a second except for the final snapshot at SIGTERM, so no client
 * can make the daemon write faster than that.
 */
#define STATE_MIN_MS 1000
/* Journal entries per loop turn: a burst is drained over several turns,
 * each short enough to leave room for signals and snapshots. */
#define JOURNAL_TURN 4096
#define STATE_WAIT_MS 2000

struct persist {
	const char *path;
	unsigned interval_ms;
	struct agg *live;             /* the pipeline's store (this thread writes it) */
	struct agg *pub;              /* what the web thread renders */
	struct tail_set *ts;
	struct journal *journal;      /* --journal, or NULL */
	char saved_cursor[512];       /* the loaded cursor, until an entry is read */
	const struct options *o;
	struct input_status pub_status[OPTS_MAX_PATHS + 1];  /* + the journal */
	struct state_buf buf;         /* reused: one allocation, grown once */
	int efd;
	pthread_mutex_t mu;
	pthread_cond_t cond;
	uint64_t seq;                 /* snapshots published (under mu) */
	_Atomic int64_t last_ms;      /* monotonic ms of the last write */
	_Atomic uint64_t saved_sig;   /* activity signature at the last write */
	int failing;                  /* the last write failed (logged once per streak) */
	_Atomic uint64_t write_errors; /* failed writes, every one (the web thread reads) */
	_Atomic uint64_t pub_overflows; /* inotify overflows as of the last snapshot written */
};

/* Moves whenever a counter can have moved: every counted line was read
 * (bytes), and every other count comes with an error, a rotation or a
 * truncation. Safe from any thread. */
static uint64_t
status_activity(const struct input_status *st)
{
	return atomic_load_explicit(&st->bytes, memory_order_relaxed) +
	    atomic_load_explicit(&st->open_errors, memory_order_relaxed) +
	    atomic_load_explicit(&st->rotations, memory_order_relaxed) +
	    atomic_load_explicit(&st->truncations, memory_order_relaxed) +
	    atomic_load_explicit(&st->overlong, memory_order_relaxed);
}

static uint64_t
activity(const struct persist *ps)
{
	uint64_t sig = 0;

	for (int i = 0; i < tail_set_count(ps->ts); i++)
		sig += status_activity(tail_set_status(ps->ts, i));
#if HAVE_LIBSYSTEMD
	if (ps->journal != NULL)
		sig += status_activity(journal_status(ps->journal));
#endif
	return sig;
}

static void
put_status(struct state_buf *b, const struct input_status *st)
{
	state_put_u64(b, atomic_load(&st->lines));
	state_put_u64(b, atomic_load(&st->bytes));
	state_put_u64(b, atomic_load(&st->overlong));
	state_put_u64(b, atomic_load(&st->rotations));
	state_put_u64(b, atomic_load(&st->truncations));
	state_put_u64(b, atomic_load(&st->open_errors));
	state_put_u64(b, atomic_load(&st->dropped_fragments));
	state_put_u64(b, (uint64_t)atomic_load(&st->last_read_unix));
}

static void
get_status(struct state_rd *r, struct input_status *st)
{
	atomic_store(&st->lines, state_get_u64(r));
	atomic_store(&st->bytes, state_get_u64(r));
	atomic_store(&st->overlong, state_get_u64(r));
	atomic_store(&st->rotations, state_get_u64(r));
	atomic_store(&st->truncations, state_get_u64(r));
	atomic_store(&st->open_errors, state_get_u64(r));
	atomic_store(&st->dropped_fragments, state_get_u64(r));
	atomic_store(&st->last_read_unix, (int64_t)state_get_u64(r));
}

/* Body layout, version 2: the counters (agg_save); the sources (path, the
 * 8 input_status counters, the number of positions or UINT64_MAX for
 * standard input, and each position); then the journal: its cursor (empty
 * when there is none) and its 8 counters; then the process counters that
 * must not go back at a restart: inotify overflows and failed writes. */
static void
build_body(struct persist *ps)
{
	struct state_buf *b = &ps->buf;
	const char *cursor = ps->saved_cursor;
	struct input_status none;

	state_buf_reset(b);
	agg_save(ps->live, b);
	state_put_u64(b, (uint64_t)tail_set_count(ps->ts));
	for (int i = 0; i < tail_set_count(ps->ts); i++) {
		const char *path = tail_set_path(ps->ts, i);
		struct tail_pos pos[TAIL_POS_MAX];
		int n = tail_set_positions(ps->ts, i, pos, TAIL_POS_MAX);

		state_put_bytes(b, path, strlen(path));
		put_status(b, tail_set_status(ps->ts, i));
		state_put_u64(b, n < 0 ? UINT64_MAX : (uint64_t)n);
		for (int j = 0; j < n; j++) {
			state_put_u64(b, pos[j].dev);
			state_put_u64(b, pos[j].ino);
			state_put_u64(b, pos[j].offset);
			state_put_u64(b, pos[j].hash);
			state_put_u64(b, pos[j].hash_len);
			state_put_u64(b, (uint64_t)pos[j].skipping);
		}
	}
	memset(&none, 0, sizeof none);
#if HAVE_LIBSYSTEMD
	/* Until this run reads an entry, the position is the loaded one. */
	if (ps->journal != NULL && journal_cursor(ps->journal) != NULL)
		cursor = journal_cursor(ps->journal);
	state_put_bytes(b, cursor, strlen(cursor));
	put_status(b, ps->journal != NULL ? journal_status(ps->journal) : &none);
#else
	state_put_bytes(b, cursor, strlen(cursor));
	put_status(b, &none);
#endif
	state_put_u64(b, atomic_load(tail_set_overflows(ps->ts)));
	state_put_u64(b, atomic_load(&ps->write_errors));
}

/* The per-source gauges stay live in the published copy: they are not
 * counters, and /healthz must show the state now. */
static void
publish_gauges(struct persist *ps)
{
	for (int i = 0; i < tail_set_count(ps->ts); i++) {
		const struct input_status *st = tail_set_status(ps->ts, i);
		atomic_store(&ps->pub_status[i].state, atomic_load(&st->state));
	}
}

static const struct input_status *
journal_st(const struct persist *ps)
{
#if HAVE_LIBSYSTEMD
	if (ps->journal != NULL)
		return journal_status(ps->journal);
#else
	(void)ps;
#endif
	return NULL;
}

/* Write a snapshot and publish it. Returns 0, or -1 if it could not be
 * written (the published copy then stays at the previous snapshot). */
static int
snapshot(struct persist *ps)
{
	char err[512];
	int64_t t0 = mono_ms();
	struct timespec a, z;
	uint64_t sig = activity(ps);

	clock_gettime(CLOCK_MONOTONIC, &a);
	build_body(ps);
	atomic_store(&ps->last_ms, t0);
	if (state_write(ps->path, &ps->buf, err, sizeof err) < 0) {
		atomic_fetch_add_explicit(&ps->write_errors, 1, memory_order_relaxed);
		if (!ps->failing)
			log_errorx("state: %s; /metrics keeps showing the last snapshot written, "
			    "retrying every %u s", err, ps->interval_ms / 1000);
		ps->failing = 1;
		return -1;
	}
	clock_gettime(CLOCK_MONOTONIC, &z);
	if (ps->failing)
		log_info("state: %s written again", ps->path);
	ps->failing = 0;
	log_debug("state: wrote %zu bytes to %s in %.3f ms", ps->buf.len, ps->path,
	    (double)(z.tv_sec - a.tv_sec) * 1e3 + (double)(z.tv_nsec - a.tv_nsec) / 1e6);
	agg_publish(ps->pub, ps->live);
	atomic_store(&ps->pub_overflows, atomic_load(tail_set_overflows(ps->ts)));
	for (int i = 0; i < tail_set_count(ps->ts); i++)
		input_status_copy(&ps->pub_status[i], tail_set_status(ps->ts, i));
	if (journal_st(ps) != NULL)
		input_status_copy(&ps->pub_status[tail_set_count(ps->ts)], journal_st(ps));
	atomic_store(&ps->saved_sig, sig);
	pthread_mutex_lock(&ps->mu);
	ps->seq++;
	pthread_cond_broadcast(&ps->cond);
	pthread_mutex_unlock(&ps->mu);
	return 0;
}

/* view.refresh, on the web thread. */
static void
want_fresh(void *ctx)
{
	struct persist *ps = ctx;
	struct timespec dl;
	uint64_t seq;

	if (mono_ms() - atomic_load(&ps->last_ms) < STATE_MIN_MS ||
	    activity(ps) == atomic_load(&ps->saved_sig))
		return;
	pthread_mutex_lock(&ps->mu);
	seq = ps->seq;
	if (eventfd_write(ps->efd, 1) == 0) {
		clock_gettime(CLOCK_REALTIME, &dl);
		dl.tv_sec += STATE_WAIT_MS / 1000;
		while (ps->seq == seq)
			if (pthread_cond_timedwait(&ps->cond, &ps->mu, &dl) != 0)
				break;
	}
	pthread_mutex_unlock(&ps->mu);
}

/* What the state file says about one --maillog.path. */
struct saved_source {
	int known;
	int npos;                     /* -1: standard input, not resumable */
	struct tail_pos pos[TAIL_POS_MAX];
	struct input_status status;
};

/* What the state file says about the journal, and the process counters
 * that live outside the store. */
struct saved_journal {
	int known;
	char cursor[512];             /* "" = none */
	struct input_status status;
	uint64_t inotify_overflows;
	uint64_t write_errors;
};

/*
 * Read the state file into a fresh store and the per-path positions.
 * Returns the store, or NULL with the reason logged when there is none to
 * use (first start, corrupt, another version or other options): the
 * caller then starts fresh, as --maillog.start says. Nothing of a file
 * that fails any check is used.
 */
static struct agg *
load_state(const struct options *o, const struct agg_opts *aopts,
    struct saved_source *saved, struct saved_journal *journal)
{
	struct state_buf body;
	struct state_rd r;
	struct agg *a;
	char err[512], why[512];
	uint64_t nsrc;

	memset(saved, 0, sizeof *saved * OPTS_MAX_PATHS);
	memset(journal, 0, sizeof *journal);
	switch (state_read(o->state_file, &body, err, sizeof err)) {
	case STATE_READ_MISSING:
		log_info("state: %s does not exist yet; starting fresh (files from their %s)",
		    o->state_file, o->from_beginning ? "beginning" : "end");
		return NULL;
	case STATE_READ_BAD:
		log_warnx("state: %s; ignoring it and starting fresh with every counter at 0 "
		    "(files from their %s)", err, o->from_beginning ? "beginning" : "end");
		return NULL;
	case STATE_READ_OK:
		break;
	}
	if ((a = agg_new_opts(aopts)) == NULL)
		fatalx("out of memory allocating %zu series", aopts->max_series);
	state_rd_init(&r, body.data, body.len);
	if (agg_load(a, &r, why, sizeof why) < 0)
		goto bad;
	nsrc = state_get_u64(&r);
	for (uint64_t i = 0; i < nsrc && !r.bad; i++) {
		struct saved_source tmp = { .known = 1 };
		size_t len;
		const char *path = state_get_bytes(&r, &len);
		uint64_t n;
		get_status(&r, &tmp.status);
		n = state_get_u64(&r);
		if (n != UINT64_MAX && n > TAIL_POS_MAX) {
			snprintf(why, sizeof why, "a source has %ju positions", (uintmax_t)n);
			goto bad;
		}
		tmp.npos = n == UINT64_MAX ? -1 : (int)n;
		for (int j = 0; j < tmp.npos; j++) {
			tmp.pos[j].dev = state_get_u64(&r);
			tmp.pos[j].ino = state_get_u64(&r);
			tmp.pos[j].offset = state_get_u64(&r);
			tmp.pos[j].hash = state_get_u64(&r);
			tmp.pos[j].hash_len = (uint32_t)state_get_u64(&r);
			tmp.pos[j].skipping = state_get_u64(&r) != 0;
		}
		for (int k = 0; path != NULL && k < o->npaths; k++)
			if (strlen(o->paths[k]) == len && memcmp(o->paths[k], path, len) == 0)
				saved[k] = tmp;
	}
	size_t clen;
	const char *cursor = state_get_bytes(&r, &clen);
	if (cursor != NULL && clen >= sizeof journal->cursor) {
		snprintf(why, sizeof why, "its journal cursor is %zu bytes long", clen);
		goto bad;
	}
	if (cursor != NULL) {
		memcpy(journal->cursor, cursor, clen);
		journal->cursor[clen] = '\0';
	}
	get_status(&r, &journal->status);
	journal->known = 1;
	journal->inotify_overflows = state_get_u64(&r);
	journal->write_errors = state_get_u64(&r);
	if (r.bad || r.off != r.len) {
		snprintf(why, sizeof why, "its sections do not add up to its length");
		goto bad;
	}
	state_buf_free(&body);
	log_info("state: resuming from %s (%zu bytes)", o->state_file, r.len + 32);
	return a;
bad:
	log_warnx("state: %s: %s; ignoring it and starting fresh with every counter at 0 "
	    "(files from their %s)", o->state_file, why, o->from_beginning ? "beginning" : "end");
	memset(saved, 0, sizeof *saved * OPTS_MAX_PATHS);
	memset(journal, 0, sizeof *journal);
	agg_free(a);
	state_buf_free(&body);
	return NULL;
}

static int
run_once(const struct options *o, struct pipeline *p)
{
	struct input_status status[OPTS_MAX_PATHS];
	struct expo_source sources[OPTS_MAX_PATHS];
	struct strbuf out = { 0 };
	int failed = 0;

	memset(status, 0, sizeof status);
	for (int i = 0; i < o->npaths; i++) {
		char err[512];
		sources[i].path = o->paths[i];
		sources[i].status = &status[i];
		/* Exim creates its panic log at its first panic: none is no
		 * panic, not an error (the daemon waits for it likewise). */
		if (i == p->panic_source && access(o->paths[i], F_OK) != 0 && errno == ENOENT) {
			log_info("%s does not exist: Exim has not panicked", o->paths[i]);
			atomic_store(&status[i].state, INPUT_STATE_WAITING);
			continue;
		}
		if (once_read(o->paths[i], o->max_line, count_line, p, i, &status[i],
		    err, sizeof err) < 0) {
			log_errorx("%s", err);
			failed = 1;
		}
	}
	if (failed)
		return 1;

	struct expo_view view = {
		.agg = p->agg, .sources = sources, .nsources = o->npaths,
		.mtas = p->mtas, .nmtas = p->nmtas, .names = &p->names,
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

static int
run_daemon(const struct options *o, struct pipeline *p, struct webcfg *webcfg)
{
	struct tail_opts topts;
	struct tail_set *ts;
	struct expo_source sources[OPTS_MAX_PATHS + 1];
	struct web_opts wopts;
	struct web *web;
	sigset_t mask;
	struct privdrop pd = { .name = "" };
	int sfd;
	char err[512];

	/* Block the signals before MHD starts its thread, so they are delivered
	 * through the signalfd here and never to the HTTP thread. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
		fatal("sigprocmask");
	if ((sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC)) < 0)
		fatal("signalfd");
	signal(SIGPIPE, SIG_IGN);

	/* --run-as: resolve the user before anything is opened; switch after. */
	if (o->run_as && privdrop_lookup(o->run_as, &pd, err, sizeof err) < 0)
		fatalx("%s", err);

	/* --state.file: the saved counters replace the empty store before a
	 * line is read, and the saved positions decide where each file starts. */
	static struct saved_source saved[OPTS_MAX_PATHS];
	static struct saved_journal saved_journal;
	static struct persist ps;
	struct journal *journal = NULL;
	int nsources = o->npaths;
	if (o->state_file != NULL) {
		struct agg *loaded = load_state(o, agg_options(p->agg), saved, &saved_journal);
		struct agg_opts aopts = *agg_options(p->agg);
		if (loaded != NULL) {
			agg_free(p->agg);
			p->agg = loaded;
		}
		ps.path = o->state_file;
		ps.interval_ms = o->state_interval_s * 1000;
		ps.live = p->agg;
		ps.o = o;
		if ((ps.pub = agg_new_opts(&aopts)) == NULL)
			fatalx("out of memory allocating %zu series", aopts.max_series);
		if ((ps.efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0)
			fatal("eventfd");
		pthread_mutex_init(&ps.mu, NULL);
		pthread_cond_init(&ps.cond, NULL);
	}

	tail_opts_defaults(&topts);
	topts.from_beginning = o->from_beginning;
	topts.max_line = o->max_line;
	if ((ts = tail_set_new(&topts, count_line, p)) == NULL)
		fatal("cannot start following files: inotify_init1");
	tail_set_restore_overflows(ts, saved_journal.inotify_overflows);
	atomic_store(&ps.write_errors, saved_journal.write_errors);
	atomic_store(&ps.pub_overflows, saved_journal.inotify_overflows);
	for (int i = 0; i < o->npaths; i++) {
		int r = saved[i].known && saved[i].npos >= 0 ?
		    tail_set_add_resume(ts, o->paths[i], saved[i].pos, saved[i].npos, err,
			sizeof err) :
		    tail_set_add(ts, o->paths[i], err, sizeof err);
		if (r < 0)
			fatalx("--maillog.path=%s: %s", o->paths[i], err);
		if (saved[i].known)
			tail_set_restore_status(ts, i, &saved[i].status);
		sources[i].path = tail_set_path(ts, i);
		sources[i].status = tail_set_status(ts, i);
	}
#if HAVE_LIBSYSTEMD
	if (o->journal) {
		struct journal_opts jo;
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
		jo.from_beginning = o->from_beginning ||
		    (saved_journal.known && saved_journal.cursor[0] == '\0');
		jo.max_line = o->max_line;
		journal = journal_open(&jo, saved_journal.known ? saved_journal.cursor : NULL,
		    count_line, p, nsources, err, sizeof err);
		if (journal == NULL)
			fatalx("--journal: %s", err);
		if (saved_journal.known)
			journal_restore_status(journal, &saved_journal.status);
		sources[nsources].path = "journal";
		sources[nsources].status = journal_status(journal);
		nsources++;
		snprintf(ps.saved_cursor, sizeof ps.saved_cursor, "%s", saved_journal.cursor);
		log_info("reading the journal%s%s from %s", o->journal_dir ? " in " : "",
		    o->journal_dir ? o->journal_dir : "",
		    saved_journal.cursor[0] ? "the state file's cursor" :
		    o->from_beginning ? "its beginning" : "its end");
	}
#endif
	ps.journal = journal;
	if (o->state_file != NULL) {
		ps.ts = ts;
		if (journal != NULL) {
			input_status_copy(&ps.pub_status[o->npaths], sources[o->npaths].status);
			sources[o->npaths].status = &ps.pub_status[o->npaths];
		}
		/* The web thread shows the published copies from the start: the
		 * restored counters, already on disk. */
		agg_publish(ps.pub, ps.live);
		for (int i = 0; i < o->npaths; i++) {
			input_status_copy(&ps.pub_status[i], tail_set_status(ts, i));
			sources[i].status = &ps.pub_status[i];
		}
		/* Write the starting positions at once: after a fresh start at the
		 * files' ends, a stop (or a kill) before anything is read must not
		 * leave no state, or the next start would seek the ends again and
		 * miss what was written meanwhile. A state file that cannot be
		 * written stops the start: better now than silently at each write. */
		if (snapshot(&ps) < 0)
			fatalx("--state.file=%s cannot be written (see the error above)",
			    o->state_file);
	}

	struct queue_board queue_board;   /* outlives the web server and the collector */
	queue_board_init(&queue_board);
	struct queue *queue = new_queue(o, &queue_board);
	struct expo_view view = {
		.queue = &queue_board,
		.agg = o->state_file ? ps.pub : p->agg, .sources = sources,
		.nsources = nsources, .mtas = p->mtas, .nmtas = p->nmtas,
		.names = &p->names,
		/* With --state.file, as of the last snapshot, so what a scrape
		 * saw is never more than a restart resumes from. */
		.inotify_overflows = o->state_file ? &ps.pub_overflows : tail_set_overflows(ts),
		.state_write_errors = o->state_file ? &ps.write_errors : NULL,
		.history = p->history,
		.refresh = o->state_file ? want_fresh : NULL,
		.refresh_ctx = &ps,
	};
	web_opts_defaults(&wopts);
	wopts.listen_address = o->listen_address;
	wopts.telemetry_path = o->telemetry_path;
	wopts.connection_limit = o->max_connections;
	wopts.per_ip_limit = o->max_connections_per_ip;
	wopts.timeout_s = o->timeout_s;
	wopts.webcfg = webcfg;
	if ((web = web_start(&wopts, &view, err, sizeof err)) == NULL)
		fatalx("cannot serve HTTP: %s", err);

	log_info("maillog_exporter %s (revision %s) listening on %s (%s), serving %s",
	    MAILLOG_EXPORTER_VERSION, MAILLOG_EXPORTER_REVISION, o->listen_address,
	    web_is_tls(web) ? "https" : "http", o->telemetry_path);
	for (int i = 0; i < o->npaths; i++)
		log_info("following %s from %s", o->paths[i],
		    saved[i].known ? "where the state file says" :
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
	if (queue_start(queue, err, sizeof err) < 0)
		fatalx("%s", err);
	if (geteuid() == 0)
		log_warnx("running as root; the exporter only needs to read the mail log"
		    " (group adm on Debian) and bind an unprivileged port");
	notify_ready();

	for (;;) {
		struct pollfd pfd[4] = {
			{ .fd = tail_set_fd(ts), .events = POLLIN },
			{ .fd = sfd, .events = POLLIN },
			{ .fd = o->state_file ? ps.efd : -1, .events = POLLIN },
			{ .fd = -1, .events = POLLIN },
		};
		int timeout = tail_set_timeout_ms(ts);
#if HAVE_LIBSYSTEMD
		if (journal != NULL) {
			int jt = journal_timeout_ms(journal);
			pfd[3].fd = journal_fd(journal);
			if (jt >= 0 && (timeout < 0 || jt < timeout))
				timeout = jt;
		}
#endif
		if (o->state_file != NULL) {
			int64_t due = atomic_load(&ps.last_ms) + (int64_t)ps.interval_ms - mono_ms();
			if (due < 0)
				due = 0;
			if (timeout < 0 || due < timeout)
				timeout = (int)due;
		}
		int n = poll(pfd, 4, timeout);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			fatal("poll");
		}
		tail_set_process(ts);
#if HAVE_LIBSYSTEMD
		/* Every wake-up, not only when the fd is readable: a turn that
		 * ended on the budget must go on (its timeout was 0). */
		if (journal != NULL)
			journal_process(journal, JOURNAL_TURN);
#endif
		agg_touch(p->agg);
		if (o->state_file != NULL) {
			eventfd_t asked = 0;
			int64_t since = mono_ms() - atomic_load(&ps.last_ms);
			if (pfd[2].revents & POLLIN)
				eventfd_read(ps.efd, &asked);
			publish_gauges(&ps);
			/* Between two tail_set_process() calls: a line boundary. */
			if (since >= STATE_MIN_MS && activity(&ps) != atomic_load(&ps.saved_sig) &&
			    (asked || since >= (int64_t)ps.interval_ms))
				snapshot(&ps);
			else if (since >= (int64_t)ps.interval_ms)
				atomic_store(&ps.last_ms, mono_ms());  /* nothing new: next period */
		}
		if (pfd[1].revents & POLLIN) {
			struct signalfd_siginfo si;
			int stop = 0;
			while (read(sfd, &si, sizeof si) == (ssize_t)sizeof si) {
				if (si.ssi_signo == SIGHUP) {
					notify_reloading();
					reload(o, p);
					reload_web(o, web);
					notify_ready();
				} else {
					stop = 1;
				}
			}
			if (stop)
				break;
		}
	}

	/* Graceful stop: count the lines already written, then stop serving. */
	notify_stopping();
	log_info("stopping: reading what is left, then closing the HTTP server");
	tail_set_drain(ts);
#if HAVE_LIBSYSTEMD
	if (journal != NULL)
		journal_process(journal, UINT_MAX);
#endif
	if (o->state_file != NULL && activity(&ps) != atomic_load(&ps.saved_sig) &&
	    snapshot(&ps) == 0)
		log_info("state: saved to %s", o->state_file);
	web_stop(web);
	queue_free(queue);   /* abandons a showq read or exim -bpc under way */
	queue_board_destroy(&queue_board);
#if HAVE_LIBSYSTEMD
	journal_close(journal);
#endif
	tail_set_free(ts);
	close(sfd);
	if (o->state_file != NULL) {
		agg_free(ps.pub);
		state_buf_free(&ps.buf);
		close(ps.efd);
		pthread_cond_destroy(&ps.cond);
		pthread_mutex_destroy(&ps.mu);
	}
	return 0;
}

int
main(int argc, char **argv)
{
	struct options o;
	struct pipeline p = { .reg = NULL };   /* p.names empty */
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

	if (o.timezone) {
		if (check_timezone(o.timezone, err, sizeof err) < 0) {
			fprintf(stderr, "maillog_exporter: %s\n", err);
			return 2;
		}
		setenv("TZ", o.timezone, 1);
	}
	tzset();

	switch (config_registry(o.config_file, o.format, &p.names, &p.reg, err,
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
	if (mp_registry_set_reinjection(p.reg, o.reinject, (size_t)o.nreinject, err,
	    sizeof err) < 0) {
		fprintf(stderr, "maillog_exporter: --postfix.reinjection-syslog-name: %s\n", err);
		mp_registry_free(p.reg);
		return 2;
	}
	if (config_reasons(o.config_file, &p.reasons, err, sizeof err) != CONFIG_OK) {
		fprintf(stderr, "maillog_exporter: %s\n", err);
		mp_registry_free(p.reg);
		return 1;
	}
	/* A bad web config stops the start, like a bad --config.file: serving
	 * without the TLS or auth the file asks for would be worse. */
	struct webcfg *webcfg = NULL;
	if (o.web_config_file != NULL &&
	    webcfg_load(o.web_config_file, &webcfg, err, sizeof err) < 0) {
		fprintf(stderr, "maillog_exporter: --web.config.file: %s\n", err);
		reason_set_free(p.reasons);
		mp_registry_free(p.reg);
		return 1;
	}
	if (o.check_config) {
		char names[256];
		if (o.web_config_file != NULL)
			printf("%s: web configuration OK\n", o.web_config_file);
		webcfg_free(webcfg);
		if (o.config_file != NULL)
			printf("%s: configuration OK; custom parsers: %s\n", o.config_file,
			    custom_names(p.reg, names, sizeof names));
		else
			printf("configuration OK (no --config.file: built-in parsers only)\n");
		reason_set_free(p.reasons);
		mp_registry_free(p.reg);
		return 0;
	}
	set_mtas(&p);
	if (o.config_file != NULL) {
		char names[256];
		log_info("custom parsers from %s: %s", o.config_file,
		    custom_names(p.reg, names, sizeof names));
	}
#if !HAVE_LIBSYSTEMD
	if (o.journal) {
		fprintf(stderr, "maillog_exporter: --journal: this build cannot read the journal: "
		    "libsystemd was not found when it was built (install libsystemd-dev and "
		    "rebuild), or follow a log file with --maillog.path\n");
		reason_set_free(p.reasons);
		mp_registry_free(p.reg);
		webcfg_free(webcfg);
		return 2;
	}
#endif
	drop_exim_rejectlogs(&o);
	if (o.npaths == 0 && !o.journal) {
		const char *def = find_default_log();
		if (def != NULL) {
			o.paths[o.npaths++] = def;
		} else if (!o.once && journal_available()) {
			/* Issue 2's promise: with no log file, follow the journal. */
			log_warnx("no mail log file (tried /var/log/mail.log and the other defaults);"
			    " reading the systemd journal instead, as --journal would");
			o.journal = 1;
		} else {
			explain_no_log(!o.once);
			reason_set_free(p.reasons);
			mp_registry_free(p.reg);
			webcfg_free(webcfg);
			return 1;
		}
	}
	p.panic_source = -1;
	if (o.exim_paniclog != NULL) {
		const char *why = o.npaths == OPTS_MAX_PATHS ? "too many paths to follow" : NULL;
		for (int i = 0; i < o.npaths && why == NULL; i++)
			if (strcmp(o.paths[i], o.exim_paniclog) == 0)
				why = "it is also a --maillog.path";
		if (why != NULL) {
			fprintf(stderr, "maillog_exporter: --exim.paniclog=%s: %s\n",
			    o.exim_paniclog, why);
			reason_set_free(p.reasons);
			mp_registry_free(p.reg);
			webcfg_free(webcfg);
			return 2;
		}
		p.panic_source = o.npaths;
		o.paths[o.npaths++] = o.exim_paniclog;
	}
	struct agg_opts aopts;
	agg_opts_defaults(&aopts);
	aopts.max_series = o.max_series;
	aopts.domains_top = o.domains_top;
	aopts.domains_inbound = o.domains_inbound;
	aopts.host_label = o.host_label;
	aopts.tls_cipher = o.tls_cipher;
	if ((p.agg = agg_new_opts(&aopts)) == NULL)
		fatalx("out of memory allocating %zu series", o.max_series);
	p.history = NULL;
	if (!o.once && (p.history = hist_new(HIST_PAGE_BUCKETS, HIST_PAGE_SECONDS)) == NULL)
		fatalx("out of memory allocating the status page's history");

	if (o.once) {
		webcfg_free(webcfg);
		webcfg = NULL;
	}
	rc = o.once ? run_once(&o, &p) : run_daemon(&o, &p, webcfg);

	hist_free(p.history);
	agg_free(p.agg);
	reason_set_free(p.reasons);
	mp_registry_free(p.reg);
	return rc;
}
