/*
 * persist.c - --state.file: the counters and read positions saved at
 * every snapshot, loaded at start-up, and the published copy the web
 * thread renders meanwhile.
 *
 * The main thread is the only writer of the counters and takes every
 * snapshot between two tail_set_process() calls, when the counters and
 * the read offsets describe the same line boundary. A snapshot is written
 * to disk first and only then copied into `pub`, the store the web thread
 * renders, so every value a scraper has seen is on disk: after a kill -9
 * the restart resumes from counters at least as high as any scrape, and
 * re-reads only lines no scrape has counted.
 *
 * A scrape asks for a fresh snapshot through view.refresh (want_fresh,
 * on the web thread): when the published one is over a second old and
 * anything was read since, it writes to `efd`, which the event loop polls
 * (persist_fd), and waits on `cond` for `seq` to move. The main thread
 * never writes more than once a second except for the final snapshot at
 * SIGTERM, so no client can make the daemon write faster than that.
 */
#include "daemon/persist.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "build_config.h"
#include "daemon/input/journal.h"
#include "store/aggregate.h"
#include "store/aggregate_state.h"
#include "store/state.h"
#include "util/log.h"
#include "util/monoclock.h"
#include "web/expo.h"

#define STATE_MIN_MS 1000   /* no two snapshots closer than this, but the last */
#define STATE_WAIT_MS 2000  /* how long a scrape waits for the one it asked for */

struct persist {
	const char *path;
	unsigned interval_ms;
	struct agg *live;             /* the pipeline's store (the main thread writes it) */
	struct agg *pub;              /* what the web thread renders */
	struct tail_set *ts;
	struct journal *journal;      /* --journal, or NULL */
	char saved_cursor[512];       /* the loaded cursor, until an entry is read */
	struct input_status pub_status[OPTS_MAX_PATHS + 1];  /* + the journal */
	struct state_buf buf;         /* reused: one allocation, grown once */
	struct tail_pos *pos;         /* reused for every source's positions */
	int pos_cap;
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

/* Body layout, version 3: the counters (agg_save); the sources (path, the
 * 8 input_status counters, the number of positions or UINT64_MAX for
 * standard input, and each position: dev, ino, offset, hash, hash_len,
 * skipping and, new in 3, the name a glob's file was followed under, ""
 * for a named path); then the journal: its cursor (empty
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
		int max = tail_set_max_positions(ps->ts, i);
		struct tail_pos *pos = ps->pos;
		int n;

		if (max > ps->pos_cap) {
			/* Out of memory: the snapshot is refused as incomplete. */
			if ((pos = realloc(ps->pos, sizeof *pos * (size_t)max)) == NULL) {
				b->oom = 1;
				return;
			}
			ps->pos = pos;
			ps->pos_cap = max;
		}
		n = tail_set_positions(ps->ts, i, pos, max);

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
			state_put_bytes(b, pos[j].path != NULL ? pos[j].path : "",
			    pos[j].path != NULL ? strlen(pos[j].path) : 0);
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
		atomic_store(&ps->pub_status[i].files, atomic_load(&st->files));
		atomic_store(&ps->pub_status[i].files_left_out, atomic_load(&st->files_left_out));
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

/*
 * Read the state file into a fresh store and the per-path positions.
 * When it is usable, *live is replaced by that store and rs filled;
 * when there is none to use (first start, corrupt, another version or
 * other options) the reason is logged and the caller starts fresh, as
 * --maillog.start says: nothing of a file that fails any check is used.
 * Returns 0 either way, or -1 with a reason in err when the store cannot
 * be allocated.
 */
static int
load_state(const struct options *o, struct agg **live, struct persist_resume *rs,
    char *err, size_t errlen)
{
	struct saved_source *saved = rs->src;
	struct saved_journal *journal = &rs->journal;
	const struct agg_opts *aopts = agg_options(*live);
	struct state_buf body;
	struct state_rd r;
	struct agg *a;
	char why[512];
	uint64_t nsrc;

	memset(rs, 0, sizeof *rs);
	switch (state_read(o->state_file, &body, why, sizeof why)) {
	case STATE_READ_MISSING:
		log_info("state: %s does not exist yet; starting fresh (files from their %s)",
		    o->state_file, o->from_beginning ? "beginning" : "end");
		return 0;
	case STATE_READ_BAD:
		log_warnx("state: %s; ignoring it and starting fresh with every counter at 0 "
		    "(files from their %s)", why, o->from_beginning ? "beginning" : "end");
		return 0;
	case STATE_READ_OK:
		break;
	}
	if ((a = agg_new_opts(aopts)) == NULL) {
		snprintf(err, errlen, "out of memory allocating %zu series", aopts->max_series);
		state_buf_free(&body);
		return -1;
	}
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
		/* Each position takes at least 48 bytes: a count the rest of
		 * the body cannot hold is corrupt, not an allocation to try. */
		if (n != UINT64_MAX && n > (r.len - r.off) / 48) {
			snprintf(why, sizeof why, "a source has %ju positions", (uintmax_t)n);
			goto bad;
		}
		tmp.npos = n == UINT64_MAX ? -1 : (int)n;
		if (tmp.npos > 0 && (tmp.pos = calloc((size_t)tmp.npos, sizeof *tmp.pos)) == NULL)
			goto oom_pos;
		size_t plen = 0, poff = 0, *plens = NULL;
		if (tmp.npos > 0 && (plens = calloc((size_t)tmp.npos, sizeof *plens)) == NULL) {
			free(tmp.pos);
			goto oom_pos;
		}
		for (int j = 0; j < tmp.npos; j++) {
			const char *pp = NULL;
			tmp.pos[j].dev = state_get_u64(&r);
			tmp.pos[j].ino = state_get_u64(&r);
			tmp.pos[j].offset = state_get_u64(&r);
			tmp.pos[j].hash = state_get_u64(&r);
			tmp.pos[j].hash_len = (uint32_t)state_get_u64(&r);
			tmp.pos[j].skipping = state_get_u64(&r) != 0;
			/* Format 2 has no names; its hashes cover at most 32 bytes,
			 * which pos_matches checks as they are. */
			if (body.version >= 3 && (pp = state_get_bytes(&r, &plens[j])) != NULL &&
			    plens[j] > 0) {
				tmp.pos[j].path = pp;   /* into the body, copied below */
				plen += plens[j] + 1;
			}
		}
		if (plen > 0 && (tmp.paths = malloc(plen)) == NULL) {
			free(plens);
			free(tmp.pos);
			goto oom_pos;
		}
		for (int j = 0; j < tmp.npos; j++) {
			const char *pp = tmp.pos[j].path;
			if (pp == NULL)
				continue;
			memcpy(tmp.paths + poff, pp, plens[j]);
			tmp.paths[poff + plens[j]] = '\0';
			tmp.pos[j].path = tmp.paths + poff;
			poff += plens[j] + 1;
		}
		free(plens);
		int used = 0;
		for (int k = 0; path != NULL && k < o->npaths; k++)
			if (strlen(o->paths[k]) == len && memcmp(o->paths[k], path, len) == 0 &&
			    !saved[k].known) {
				saved[k] = tmp;
				used = 1;
				break;
			}
		if (!used) {
			free(tmp.pos);
			free(tmp.paths);
		}
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
	agg_free(*live);
	*live = a;
	return 0;
oom_pos:
	snprintf(err, errlen, "out of memory reading %s", o->state_file);
	state_buf_free(&body);
	agg_free(a);
	persist_resume_free(rs);
	return -1;
bad:
	log_warnx("state: %s: %s; ignoring it and starting fresh with every counter at 0 "
	    "(files from their %s)", o->state_file, why, o->from_beginning ? "beginning" : "end");
	persist_resume_free(rs);
	memset(rs, 0, sizeof *rs);
	agg_free(a);
	state_buf_free(&body);
	return 0;
}

struct persist *
persist_new(const struct options *o, struct agg **live, struct persist_resume *rs,
    char *err, size_t errlen)
{
	struct persist *ps;
	struct agg_opts aopts = *agg_options(*live);

	if ((ps = calloc(1, sizeof *ps)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	ps->efd = -1;
	if (load_state(o, live, rs, err, errlen) < 0)
		goto fail;
	ps->path = o->state_file;
	ps->interval_ms = o->state_interval_s * 1000;
	ps->live = *live;
	if ((ps->pub = agg_new_opts(&aopts)) == NULL) {
		snprintf(err, errlen, "out of memory allocating %zu series", aopts.max_series);
		goto fail;
	}
	if ((ps->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0) {
		snprintf(err, errlen, "eventfd: %s", strerror(errno));
		goto fail;
	}
	pthread_mutex_init(&ps->mu, NULL);
	pthread_cond_init(&ps->cond, NULL);
	atomic_store(&ps->write_errors, rs->journal.write_errors);
	atomic_store(&ps->pub_overflows, rs->journal.inotify_overflows);
	snprintf(ps->saved_cursor, sizeof ps->saved_cursor, "%s", rs->journal.cursor);
	return ps;
fail:
	agg_free(ps->pub);
	free(ps);
	return NULL;
}

int
persist_start(struct persist *ps, struct tail_set *ts, struct journal *journal,
    struct expo_source *sources)
{
	int npaths = tail_set_count(ts);

	ps->ts = ts;
	ps->journal = journal;
	/* Without --journal now, a cursor saved by an earlier run is not
	 * carried on: this run has no position in the journal. */
	if (journal != NULL) {
		input_status_copy(&ps->pub_status[npaths], sources[npaths].status);
		sources[npaths].status = &ps->pub_status[npaths];
	} else {
		ps->saved_cursor[0] = '\0';
	}
	/* The web thread shows the published copies from the start: the
	 * restored counters, already on disk. */
	agg_publish(ps->pub, ps->live);
	for (int i = 0; i < npaths; i++) {
		input_status_copy(&ps->pub_status[i], tail_set_status(ts, i));
		sources[i].status = &ps->pub_status[i];
	}
	/* Write the starting positions at once: after a fresh start at the
	 * files' ends, a stop (or a kill) before anything is read must not
	 * leave no state, or the next start would seek the ends again and
	 * miss what was written meanwhile. */
	return snapshot(ps);
}

void
persist_view(struct persist *ps, struct expo_view *view)
{
	if (ps == NULL)
		return;
	view->agg = ps->pub;
	/* As of the last snapshot, so what a scrape saw is never more than a
	 * restart resumes from. */
	view->inotify_overflows = &ps->pub_overflows;
	view->state_write_errors = &ps->write_errors;
	view->refresh = want_fresh;
	view->refresh_ctx = ps;
}

int
persist_fd(const struct persist *ps)
{
	return ps != NULL ? ps->efd : -1;
}

int
persist_timeout_ms(const struct persist *ps, int timeout)
{
	int64_t due;

	if (ps == NULL)
		return timeout;
	due = atomic_load(&ps->last_ms) + (int64_t)ps->interval_ms - mono_ms();
	if (due < 0)
		due = 0;
	return timeout < 0 || due < timeout ? (int)due : timeout;
}

void
persist_tick(struct persist *ps, int asked)
{
	eventfd_t n = 0;
	int64_t since;

	if (ps == NULL)
		return;
	since = mono_ms() - atomic_load(&ps->last_ms);
	if (asked)
		eventfd_read(ps->efd, &n);
	publish_gauges(ps);
	if (since >= STATE_MIN_MS && activity(ps) != atomic_load(&ps->saved_sig) &&
	    (n || since >= (int64_t)ps->interval_ms))
		snapshot(ps);
	else if (since >= (int64_t)ps->interval_ms)
		atomic_store(&ps->last_ms, mono_ms());  /* nothing new: next period */
}

void
persist_finish(struct persist *ps)
{
	if (ps != NULL && activity(ps) != atomic_load(&ps->saved_sig) && snapshot(ps) == 0)
		log_info("state: saved to %s", ps->path);
}

void
persist_resume_free(struct persist_resume *rs)
{
	for (int i = 0; i < OPTS_MAX_PATHS; i++) {
		free(rs->src[i].pos);
		free(rs->src[i].paths);
		rs->src[i].pos = NULL;
		rs->src[i].paths = NULL;
		rs->src[i].npos = rs->src[i].npos < 0 ? -1 : 0;
	}
}

void
persist_free(struct persist *ps)
{
	if (ps == NULL)
		return;
	free(ps->pos);
	agg_free(ps->pub);
	state_buf_free(&ps->buf);
	close(ps->efd);
	pthread_cond_destroy(&ps->cond);
	pthread_mutex_destroy(&ps->mu);
	free(ps);
}
