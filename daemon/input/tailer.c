/*
 * tailer.c - follow log files through rename, copytruncate, delete and
 * symlink rotation with inotify, a slow reconcile timer as the safety net,
 * and one line splitter per open file.
 *
 * Objects:
 * - struct tail_source: one configured path. It owns the file currently at
 *   that path (`cur`) and a list of files that were rotated away from it and
 *   are still drained for rotate_wait (`old`).
 * - struct tail_file: one open fd with its offset, marker and line buffer.
 *   Files are tracked by fd, never by name, so a file keeps being read
 *   whatever it is renamed to, and however many rotations happen while it is
 *   draining.
 *
 * Watches: the directory of each path (creations, renames and deletions of
 * the basename), the directory of a symlink's target, and every open file
 * (writes, link-count changes, renames). A file watch is added through
 * /proc/self/fd/N, so it is the inode we hold, not whatever the name points
 * to by then.
 *
 * Work is driven by two flags per source: `need_path` (re-stat the name:
 * rotation, creation, deletion) and `need_read` (read every open file of the
 * source). Events set them; tail_set_process() clears them; the reconcile
 * timer sets them all, which is what makes the tailer correct even when
 * every event is lost.
 */
#include "daemon/input/tailer.h"

#include "daemon/input/envelope.h"
#include "daemon/input/linebuf.h"
#include "util/log.h"
#include "util/monoclock.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <glob.h>
#include <limits.h>
#include <malloc.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/*
 * The bytes before our offset kept to tell a file truncated and regrown
 * from the one we read. Mail log lines end alike ("... (in reply to RCPT TO
 * command))" is 31 bytes), so 32 bytes could match new content that put a
 * line end exactly where ours was; 256 reach back into the line's queue id
 * and timestamp, or into the line before.
 */
#define MARKER_LEN 256
#define MOVED_MAX 8
#define FILE_MASK (IN_MODIFY | IN_ATTRIB | IN_MOVE_SELF | IN_DELETE_SELF)
#define DIR_MASK (IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_ATTRIB | IN_ONLYDIR)
#define EPOLL_INOTIFY UINT32_MAX
#define STREAM_DRAIN_READS 64
/* A glob's files with every watch in place are re-checked only at every
 * SWEEP_EVERY-th reconcile (the pattern is globbed again then too): with
 * watches nothing is missed but on IN_Q_OVERFLOW, which re-checks all. */
#define SWEEP_EVERY 15

enum read_result {
	READ_EOF,   /* read(2) returned 0 */
	READ_AGAIN, /* EAGAIN: nothing more for now */
	READ_MORE,  /* stopped by the budget (or one read of a stream); more may wait */
	READ_ERROR,
	READ_NOMEM, /* no line buffer: nothing read, try again at the reconcile */
};

enum stream_kind {
	STREAM_NONE = 0, /* a rotatable regular file, read with pread */
	STREAM_POLLED,   /* a pipe, tty or socket in the epoll set: one read per readiness */
	STREAM_PLAIN,    /* stdin redirected from a regular file: read(2) to EOF */
};

struct tail_source;

struct tail_file {
	struct tail_source *src;
	struct tail_file *next;   /* in src->old */
	int fd;
	int wd;                   /* inotify watch of this inode, -1 if none */
	dev_t dev;
	ino_t ino;
	off_t offset;             /* bytes read so far */
	int64_t close_at;         /* monotonic ms; rotated files only */
	int64_t last_data;        /* monotonic ms of the last read that got bytes */
	int foreign;              /* rotated, then refilled by someone else: left unread */
	size_t mark_len;
	unsigned char mark[MARKER_LEN]; /* the bytes just before offset */
	struct lb lb;
	uint64_t overlong_counted; /* lb.overlong already in the source's counter */
	struct envelope env;      /* the container envelope of this file's lines */
};

/* A directory a glob watches: its path is the pattern's first `level`
 * components, so an entry named like component `level` may be a match. */
struct glob_dir {
	int wd;
	int level;
};

/* A file a glob's source stopped following while it still has a name (a
 * rotated file drained for rotate_wait, or a position from the state
 * file): where it was read to, so that a name matching the pattern later
 * resumes it there instead of reading it again as a new file. */
struct glob_seen {
	struct tail_pos pos;
	char *path;
	uint64_t turn;            /* dropped two turns after; state ones after the first scan */
};

struct tail_glob {
	char *pattern;            /* normalised: no "//", no trailing '/' */
	size_t *cut;              /* cut[L]: length of the first L components */
	int ncomp;
	int nlit;                 /* leading components without a wildcard */
	struct glob_dir *dirs;
	int ndirs, capdirs;
	int need_scan;
	int started;              /* the first scan ran */
	int from_state;           /* the state file knew it: an unlisted file is new */
	int degraded;             /* a directory watch failed: scan at every reconcile */
	int nchildren;
	struct glob_seen *seen;
	int nseen, capseen;
	struct input_files *files; /* a slot per file followed: its series */
};

struct tail_source {
	struct tail_set *ts;
	int index;
	struct tail_glob *glob;   /* a pattern: its files are sources of their own */
	struct tail_source *parent; /* a file of a pattern; index is the parent's */
	int covered;              /* the file at path is followed by another source */
	int gone;                 /* path does not exist (a glob's file is then removed) */
	int dead;                 /* removed at the end of this turn */
	char *path;
	char *dir;
	char *base;
	enum stream_kind stream;
	int stream_ready;         /* epoll said the stream is readable */
	int dir_wd;
	int tdir_wd;              /* directory of a symlink's target */
	char *tbase;              /* the target's basename, NULL if not a link */
	dev_t tdir_dev;
	ino_t tdir_ino;
	int need_path;
	int need_read;
	int warned_watch;         /* the watch-limit message was logged */
	int init_valid;           /* dev/ino present at tail_set_add time, not opened yet */
	int resume_valid;         /* the state file says where to start in init_dev/init_ino */
	off_t resume_offset;
	int resume_skipping;
	dev_t init_dev;
	ino_t init_ino;
	int nmoved;               /* the basename was renamed to these names */
	char (*moved)[NAME_MAX + 1]; /* MOVED_MAX names, allocated on first use */
	uint32_t moved_cookie;
	int moved_pending;
	struct tail_file *cur;
	struct tail_file *old;
	/* &own; for a glob's file, once it has opened a file (claim_slot),
	 * its slot in the glob's table: its own series. */
	struct input_status *st;
	struct input_status *sum; /* a glob's file: the glob's counters, else NULL */
	struct input_status own;
};

struct tail_set {
	struct tail_opts o;
	tail_line_fn fn;
	void *ctx;
	int ifd;
	int epfd;
	struct tail_source **src; /* the configured paths, by index */
	int n;
	struct tail_source **all; /* those and every glob's files: what is serviced */
	int nall, capall;
	uint64_t turn;
	unsigned reconciles;
	char *scratch;            /* LB_READ_SIZE: lent to files that hold no fragment */
	int next_start;           /* round-robin start, so no source starves */
	int pending;              /* a bounded read left work */
	int64_t next_reconcile;
	int64_t now;              /* monotonic ms of the current turn */
	_Atomic uint64_t overflows;  /* IN_Q_OVERFLOW seen, for the web thread */
};


static struct tail_source *held_by(struct tail_set *ts, const struct tail_source *self,
    dev_t dev, ino_t ino);
static struct glob_seen *seen_find(struct tail_glob *g, dev_t dev, ino_t ino);
static void seen_drop(struct tail_glob *g, struct glob_seen *e);
static void retire(struct tail_source *s, struct tail_file *f);
static void glob_event(struct tail_source *s, const struct inotify_event *ev);
static void glob_scan(struct tail_source *gs);
static void after_turn(struct tail_set *ts);
static int all_reserve(struct tail_set *ts);
static int add_glob(struct tail_source *s, const struct tail_pos *pos, int npos,
    char *err, size_t errlen);
static int split_path(struct tail_source *s);
static void source_free(struct tail_source *s);
static int resume_rotated(struct tail_source *s, const struct tail_pos *pos);
static void check_path(struct tail_source *s, size_t *budget);
static void resume_at(struct tail_file *f, off_t offset, int skipping);

/* Release: a read's lines are counted once they are in the store, and the
 * exposition reads the counts first, with acquire (web/expo.c,
 * render_all), so a count it shows covers lines the store already has. */
static void
stat_add(_Atomic uint64_t *c, uint64_t n)
{
	atomic_fetch_add_explicit(c, n, memory_order_release);
}

/* Count n in a source's counters and, for a glob's file, in the glob's
 * sum too (what /healthz, the state file and its activity check use). */
#define COUNT(s, field, n) do { \
		stat_add(&(s)->st->field, (n)); \
		if ((s)->sum != NULL) \
			stat_add(&(s)->sum->field, (n)); \
	} while (0)

static void
set_state(struct tail_source *s, enum input_state st)
{
	atomic_store_explicit(&s->own.state, (int)st, memory_order_relaxed);
	if (s->st != &s->own)
		atomic_store_explicit(&s->st->state, (int)st, memory_order_relaxed);
}

static enum input_state
get_state(const struct tail_source *s)
{
	return (enum input_state)atomic_load_explicit(&s->own.state, memory_order_relaxed);
}

/* Defaults: start at the end, 64 KiB lines, 2 s reconcile, 5 s rotate_wait
 * (fluent-bit's values), 4 MiB per turn. */
void
tail_opts_defaults(struct tail_opts *o)
{
	o->from_beginning = 0;
	o->max_line = 64 * 1024;
	o->reconcile_ms = 2000;
	o->rotate_wait_ms = 5000;
	o->max_bytes_per_turn = 4 * 1024 * 1024;
	o->envelope = NULL;
	o->max_files = TAIL_MAX_FILES;
}

/* ---- watches ---------------------------------------------------------- */

/* A watch descriptor is shared by every watch of the same inode, so it is
 * removed only when no file or directory of any source still uses it. */
static int
wd_in_use(const struct tail_set *ts, int wd)
{
	for (int i = 0; i < ts->nall; i++) {
		const struct tail_source *s = ts->all[i];
		if (s->dir_wd == wd || s->tdir_wd == wd)
			return 1;
		for (int k = 0; s->glob != NULL && k < s->glob->ndirs; k++)
			if (s->glob->dirs[k].wd == wd)
				return 1;
		if (s->cur != NULL && s->cur->wd == wd)
			return 1;
		for (const struct tail_file *f = s->old; f != NULL; f = f->next)
			if (f->wd == wd)
				return 1;
	}
	return 0;
}

static void
release_wd(struct tail_set *ts, int wd)
{
	if (wd >= 0 && !wd_in_use(ts, wd))
		inotify_rm_watch(ts->ifd, wd);
}

/* The current fs.inotify.max_user_watches, as text, or "unknown". */
void
tail_watch_limit(char *out, size_t outlen)
{
	FILE *f = fopen("/proc/sys/fs/inotify/max_user_watches", "re");
	unsigned long v;

	if (f != NULL && fscanf(f, "%lu", &v) == 1)
		snprintf(out, outlen, "%lu", v);
	else
		snprintf(out, outlen, "unknown");
	if (f != NULL)
		fclose(f);
}

static int
add_watch(struct tail_source *s, const char *what, uint32_t mask)
{
	int wd = inotify_add_watch(s->ts->ifd, what, mask);
	/* A glob warns once for all its files, not once per file. */
	struct tail_source *w = s->parent != NULL ? s->parent : s;

	if (wd >= 0 || w->warned_watch)
		return wd;
	w->warned_watch = 1;
	if (errno == ENOSPC) {
		char limit[32];
		tail_watch_limit(limit, sizeof limit);
		log_warnx("cannot watch %s for %s: inotify watch limit reached "
		    "(fs.inotify.max_user_watches = %s); raise it with `sysctl "
		    "fs.inotify.max_user_watches=524288` (and in /etc/sysctl.d). Falling "
		    "back to checking it every %u ms", what, s->path, limit,
		    s->ts->o.reconcile_ms);
		errno = ENOSPC;
	}
	else
		log_warn("cannot watch %s for %s; falling back to checking the file "
		    "every %u ms", what, s->path, s->ts->o.reconcile_ms);
	return -1;
}

static void
watch_dirs(struct tail_source *s)
{
	struct stat lst, tst;
	char *real, *slash;

	if (s->dir_wd < 0)
		s->dir_wd = add_watch(s, s->dir, DIR_MASK);

	/*
	 * A symlinked path: its target may live in another directory, where
	 * the target's own rotation happens. Watch that directory too, and
	 * move the watch when the link is repointed somewhere else.
	 */
	if (lstat(s->path, &lst) < 0 || !S_ISLNK(lst.st_mode))
		return;
	if ((real = realpath(s->path, NULL)) == NULL)
		return;
	if ((slash = strrchr(real, '/')) != NULL) {
		free(s->tbase);
		/* Out of memory: the target's directory goes unwatched this
		 * time; the reconcile re-stats the path and tries again. */
		if ((s->tbase = strdup(slash + 1)) == NULL) {
			log_limited(LOG_LIMIT_OPEN, LOG_LEVEL_WARN, "cannot watch the directory "
			    "of %s's target: out of memory; retrying", s->path);
			free(real);
			return;
		}
		slash[slash == real ? 1 : 0] = '\0';
	}
	if (stat(real, &tst) == 0 && S_ISDIR(tst.st_mode) &&
	    (s->tdir_wd < 0 || tst.st_dev != s->tdir_dev || tst.st_ino != s->tdir_ino)) {
		int old = s->tdir_wd;
		s->tdir_wd = -1;
		release_wd(s->ts, old);
		s->tdir_wd = add_watch(s, real, DIR_MASK);
		s->tdir_dev = tst.st_dev;
		s->tdir_ino = tst.st_ino;
	}
	free(real);
}

/* ---- files ------------------------------------------------------------ */

/*
 * Count and report the overlong lines the splitter skipped since the last
 * call. The message goes out before the count, so a reader who sees the
 * count also finds the message in the log.
 */
static void
publish_overlong(struct tail_file *f)
{
	struct tail_source *s = f->src;

	if (f->lb.overlong == f->overlong_counted)
		return;
	log_limited(LOG_LIMIT_OVERLONG, LOG_LEVEL_WARN,
	    "%s: skipped a line longer than %zu bytes", s->path, s->ts->o.max_line);
	COUNT(s, overlong, f->lb.overlong - f->overlong_counted);
	f->overlong_counted = f->lb.overlong;
}

/*
 * Both line callbacks first publish a skip the splitter made before this
 * line: a scrape that sees the line counted then sees the skip too, even
 * inside one read turn (a 10 MiB line spans 160 chunks and the lines after
 * it are recorded before the turn ends). One compare per line.
 */
static void
on_line(void *ctx, const char *line, size_t len)
{
	struct tail_file *f = ctx;
	struct tail_source *s = f->src;

	if (f->lb.overlong != f->overlong_counted)
		publish_overlong(f);
	envelope_line(&f->env, s->ts->o.envelope, line, len, s->ts->fn, s->ts->ctx, s->index);
}

/* on_line for a file known to be plain (envelope_is_plain): the line goes
 * straight to the ingest function, without envelope_line's frame. */
static void
on_plain_line(void *ctx, const char *line, size_t len)
{
	struct tail_file *f = ctx;
	struct tail_source *s = f->src;

	if (f->lb.overlong != f->overlong_counted)
		publish_overlong(f);
	s->ts->fn(s->ts->ctx, line, len, s->index);
}

static void
file_close(struct tail_file *f)
{
	struct tail_set *ts = f->src->ts;
	int wd = f->wd;

	f->wd = -1;
	release_wd(ts, wd);
	if (f->fd >= 0 && f->src->stream == STREAM_NONE)
		close(f->fd);
	lb_fini(&f->lb);
	envelope_fini(&f->env);
	free(f);
}

/*
 * A glob's file gets its series (a slot of the glob's table) when it first
 * opens a file, not when its name is found: a name that only reaches a
 * file another source follows (a /var/log/containers symlink) never
 * follows anything and shows no series. The counts it made before (open
 * errors) carry over. There is a slot for every file the cap admits; only
 * files a restart finishes past a lowered cap find none, and count in the
 * glob's sum alone.
 */
static void
claim_slot(struct tail_source *s)
{
	struct input_status *st;

	if (s->parent == NULL || s->st != &s->own)
		return;
	st = input_files_claim(s->parent->glob->files, s->path, &s->own);
	if (st != NULL) {
		s->st = st;
		return;
	}
	log_limited(LOG_LIMIT_OPEN, LOG_LEVEL_WARN, "%s: %s has no series of its own "
	    "(more files than --maillog.max-files=%u, or out of memory); its lines count "
	    "in the glob's total only", s->parent->path, s->path, s->ts->o.max_files);
}

/* A new open file of s, reading fd (not owned until this succeeds).
 * Returns NULL, errno set, when its line buffer cannot be allocated. */
static struct tail_file *
file_new(struct tail_source *s, int fd, const struct stat *st)
{
	struct tail_file *f = calloc(1, sizeof *f);

	if (f == NULL)
		return NULL;
	claim_slot(s);
	if (lb_init(&f->lb, s->ts->o.max_line) < 0) {
		int saved = errno;
		free(f);
		errno = saved;
		return NULL;
	}
	f->src = s;
	f->fd = fd;
	f->wd = -1;
	f->dev = st->st_dev;
	f->ino = st->st_ino;
	f->last_data = s->ts->now;
	return f;
}

/* Remember the last MARKER_LEN bytes read, which are the bytes right
 * before the offset, to recognise a file truncated and regrown past that
 * offset between two looks. */
static void
update_marker(struct tail_file *f, const char *p, size_t n)
{
	if (n >= MARKER_LEN) {
		memcpy(f->mark, p + n - MARKER_LEN, MARKER_LEN);
		f->mark_len = MARKER_LEN;
		return;
	}
	size_t keep = f->mark_len + n > MARKER_LEN ? MARKER_LEN - n : f->mark_len;
	memmove(f->mark, f->mark + f->mark_len - keep, keep);
	memcpy(f->mark + keep, p, n);
	f->mark_len = keep + n;
}

/*
 * Read f until EOF or until *budget bytes are spent. Regular files are
 * read with pread at our own offset; a polled stream gets one read(2) per
 * readiness, because it is left blocking (it may be a shared terminal) and
 * only epoll knows that the read will not block.
 */
static enum read_result
file_read(struct tail_file *f, size_t *budget)
{
	struct tail_source *s = f->src;
	enum read_result r = READ_EOF;
	uint64_t lines = 0;
	int reads = 0;
	int lent = f->lb.buf == NULL && s->stream == STREAM_NONE;

	/* No fragment held: read through the set's buffer, so an idle or
	 * line-aligned file keeps none of its own. */
	if (lent)
		lb_lend(&f->lb, s->ts->scratch, LB_READ_SIZE);

	for (;;) {
		size_t avail;
		ssize_t n;
		char *p;

		if (*budget == 0) {
			r = READ_MORE;
			break;
		}
		if (s->stream == STREAM_POLLED && reads > 0) {
			r = READ_MORE;
			break;
		}
		p = lb_space(&f->lb, &avail);
		if (p == NULL) {
			log_limited(LOG_LIMIT_READ, LOG_LEVEL_WARN, "read %s: out of memory "
			    "for its line buffer; retrying", s->path);
			r = READ_NOMEM;
			break;
		}
		if (avail > *budget)
			avail = *budget;
		if (s->stream == STREAM_NONE)
			n = pread(f->fd, p, avail, f->offset);
		else
			n = read(f->fd, p, avail);
		reads++;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				r = READ_AGAIN;
				break;
			}
			COUNT(s, open_errors, 1);
			log_limited(LOG_LIMIT_READ, LOG_LEVEL_WARN, "read %s: %s",
			    s->path, strerror(errno));
			r = READ_ERROR;
			break;
		}
		if (n == 0)
			break;
		f->offset += n;
		f->last_data = s->ts->now;
		*budget -= (size_t)n;
		COUNT(s, bytes, (uint64_t)n);
		update_marker(f, p, (size_t)n);
		/* Per chunk, as once_read does: an auto-mode file's first
		 * line decides its kind inside on_line; later chunks of a
		 * plain file skip envelope_line. */
		lines += lb_commit(&f->lb, (size_t)n,
		    envelope_is_plain(&f->env, f->src->ts->o.envelope) ? on_plain_line : on_line, f);
	}
	publish_overlong(f); /* a skip with no line after it yet */
	if (lent) {
		size_t dropped = lb_unlend(&f->lb);
		if (dropped > 0) {
			/* Out of memory for the fragment: read it again later. */
			log_limited(LOG_LIMIT_READ, LOG_LEVEL_WARN, "read %s: out of memory "
			    "for its line buffer; retrying", s->path);
			f->offset -= (off_t)dropped;
			f->mark_len = 0;
			resume_at(f, f->offset, 0);
			r = READ_NOMEM;
		}
	}
	if (lines > 0) {
		int64_t t = (int64_t)time(NULL);
		COUNT(s, lines, lines);
		atomic_store_explicit(&s->st->last_read_unix, t, memory_order_relaxed);
		if (s->sum != NULL)
			atomic_store_explicit(&s->sum->last_read_unix, t, memory_order_relaxed);
	}
	return r;
}

enum trunc_check {
	TRUNC_NONE,    /* the file still holds what we read */
	TRUNC_REWOUND, /* the current file was truncated: read again from 0 */
	TRUNC_FOREIGN, /* a rotated file was truncated or overwritten: leave it */
};

/*
 * copytruncate, step by step:
 * 1. logrotate copies mail.log to mail.log.1, then truncates mail.log to 0;
 * 2. the writer keeps its fd and appends: with O_APPEND from 0, without it
 *    at its old offset, leaving a hole of NULs (skipped by the splitter);
 * 3. we see size < offset: rewind to 0. Lines written between 1 and the
 *    truncation in 1 are in neither place we read: logrotate's documented
 *    loss, which is why create-mode rotation is recommended;
 * 4. if the file regrew past our offset before we looked, the size check
 *    cannot tell; the marker (the MARKER_LEN bytes before our offset)
 *    no longer matches, so we rewind all the same.
 * The fragment held for the old content is dropped without counting: its
 * end went to the copy, not to us.
 *
 * All of this holds for the current file only. A rotated-away file that
 * shrinks or changes under our offset no longer holds our log: only the
 * writer appends to it until it reopens, so whatever else writes there is
 * someone else's content, such as a by-hand copytruncate done seconds after
 * a rename rotation:
 * 1. logrotate renames mail.log (inode A) to mail.log.1; we drain A;
 * 2. the writer reopens mail.log (inode B); we read B;
 * 3. an admin runs `cp mail.log mail.log.1 && : > mail.log`: cp truncates
 *    A and fills it with B's lines, which we have already read from B;
 * 4. rewinding A would count those lines a second time.
 * So a rotated file is marked foreign and left: never read again, closed
 * at once by expire_old(), its unterminated last line dropped and counted
 * there as for any rotated file.
 */
static enum trunc_check
check_truncated(struct tail_file *f)
{
	struct tail_source *s = f->src;
	struct stat st;
	unsigned char now[MARKER_LEN];
	int rewind = 0;

	if (f->foreign)
		return TRUNC_FOREIGN;
	if (s->stream != STREAM_NONE || fstat(f->fd, &st) < 0)
		return TRUNC_NONE;
	if (st.st_nlink == 0 && f == s->cur)
		s->need_path = 1;
	if (st.st_size < f->offset) {
		rewind = 1;
	} else if (st.st_size > f->offset && f->mark_len > 0 &&
	    (off_t)f->mark_len <= f->offset) {
		ssize_t n = pread(f->fd, now, f->mark_len, f->offset - (off_t)f->mark_len);
		if (n >= 0 && ((size_t)n != f->mark_len || memcmp(now, f->mark, f->mark_len) != 0))
			rewind = 1;
	}
	if (!rewind)
		return TRUNC_NONE;
	if (f != s->cur) {
		f->foreign = 1;
		f->close_at = 0;
		log_warnx("%s: the rotated file we were still draining (inode %ju) was "
		    "truncated or overwritten (size %jd, %jd bytes read); it no longer "
		    "holds this log, so it is not read again and its new content is "
		    "not counted", s->path, (uintmax_t)f->ino, (intmax_t)st.st_size,
		    (intmax_t)f->offset);
		return TRUNC_FOREIGN;
	}
	log_info("%s was truncated (size %jd < offset %jd or content replaced); "
	    "reading it again from the start", s->path, (intmax_t)st.st_size,
	    (intmax_t)f->offset);
	COUNT(s, truncations, 1);
	f->offset = 0;
	f->mark_len = 0;
	lb_reset(&f->lb);
	envelope_fini(&f->env);
	return TRUNC_REWOUND;
}

/*
 * Where to start reading a file that existed when it was added and
 * --maillog.start=end: after its last '\n', so the line being written right
 * now is read whole once it is finished. If no '\n' is found within a
 * maximum line's length, we are inside an overlong line: start at the end
 * and skip to the next '\n'.
 */
static void
seek_to_end(struct tail_file *f, off_t size)
{
	size_t avail;
	char *p;
	off_t from;
	ssize_t n;
	char *nl;

	lb_lend(&f->lb, f->src->ts->scratch, LB_READ_SIZE);
	p = lb_space(&f->lb, &avail);
	from = size > (off_t)avail ? size - (off_t)avail : 0;
	f->offset = size;
	if (size == 0 || p == NULL) {
		lb_unlend(&f->lb);
		return;
	}
	n = pread(f->fd, p, (size_t)(size - from), from);
	if (n <= 0)
		return;
	nl = memrchr(p, '\n', (size_t)n);
	if (nl != NULL) {
		f->offset = from + (nl - p) + 1;
		update_marker(f, p, (size_t)(nl - p) + 1);
	} else if (from == 0) {
		f->offset = 0;
	} else {
		f->offset = from + n;
		update_marker(f, p, (size_t)n);
		lb_skip_line(&f->lb);
	}
	lb_unlend(&f->lb);
}

/* FNV-1a 64: a short content hash, not a defence against an adversary
 * (whoever can write the log can write any line). */
static uint64_t
fnv1a(const unsigned char *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* Does fd still hold, right before pos->offset, the bytes that were hashed
 * when pos was saved? */
static int
pos_matches(int fd, const struct tail_pos *pos)
{
	unsigned char buf[TAIL_POS_HASH_LEN];
	struct stat st;

	if (fstat(fd, &st) < 0 || (uint64_t)st.st_size < pos->offset ||
	    pos->hash_len > TAIL_POS_HASH_LEN || pos->hash_len > pos->offset)
		return 0;
	if (pos->hash_len > 0 && pread(fd, buf, pos->hash_len,
	    (off_t)(pos->offset - pos->hash_len)) != (ssize_t)pos->hash_len)
		return 0;
	return fnv1a(buf, pos->hash_len) == pos->hash;
}

/* Start f at a saved offset, with its marker, as if we had read to there. */
static void
resume_at(struct tail_file *f, off_t offset, int skipping)
{
	unsigned char buf[MARKER_LEN];
	size_t n = offset < MARKER_LEN ? (size_t)offset : MARKER_LEN;

	f->offset = offset;
	if (n > 0 && pread(f->fd, buf, n, offset - (off_t)n) == (ssize_t)n)
		update_marker(f, (const char *)buf, n);
	if (skipping)
		lb_skip_line(&f->lb);
}

static void
log_open_error(struct tail_source *s, const char *what)
{
	COUNT(s, open_errors, 1);
	log_limited(LOG_LIMIT_OPEN, LOG_LEVEL_WARN, "cannot %s %s: %s; retrying",
	    what, s->path, strerror(errno));
}

/* Open whatever file is at s->path right now. Returns the fd with *st
 * filled in, or -1 with the state set to WAITING (it vanished) or ERROR. */
static int
open_path(struct tail_source *s, struct stat *st)
{
	int fd;

	fd = open(s->path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		if (errno == ENOENT || errno == ENOTDIR) {
			set_state(s, INPUT_STATE_WAITING);
		} else {
			log_open_error(s, "open");
			set_state(s, INPUT_STATE_ERROR);
		}
		return -1;
	}
	int bad_stat = fstat(fd, st) < 0;
	if (bad_stat || !S_ISREG(st->st_mode)) {
		if (!bad_stat) {
			COUNT(s, open_errors, 1);
			log_limited(LOG_LIMIT_OPEN, LOG_LEVEL_WARN, "cannot follow %s: "
			    "not a regular file; retrying", s->path);
		} else {
			log_open_error(s, "stat");
		}
		set_state(s, INPUT_STATE_ERROR);
		close(fd);
		return -1;
	}
	return fd;
}

/* Make fd, just opened at s->path by open_path(), the current file s->cur,
 * which takes ownership of fd. Out of memory, the file is refused for now
 * (the source is in error, fd closed) and the next reconcile tries again,
 * from the same start position. */
static void
follow_fd(struct tail_source *s, int fd, const struct stat *st)
{
	struct tail_set *ts = s->ts;
	char proc[64];
	struct glob_seen *seen = NULL;

	/* A file is followed once, whatever names reach it: another source
	 * (a symlink, a glob matching rotated names) already reads it. This
	 * one waits; it looks again when that source lets the file go. */
	if (held_by(ts, s, st->st_dev, st->st_ino) != NULL) {
		close(fd);
		if (!s->covered)
			log_debug("%s is a file already followed under another name", s->path);
		s->covered = 1;
		set_state(s, INPUT_STATE_WAITING);
		return;
	}
	s->covered = 0;
	if (s->parent != NULL)
		seen = seen_find(s->parent->glob, st->st_dev, st->st_ino);

	struct tail_file *f = file_new(s, fd, st);
	if (f == NULL) {
		log_open_error(s, "allocate a line buffer to follow");
		set_state(s, INPUT_STATE_ERROR);
		close(fd);
		return;
	}
	if (seen != NULL) {
		/* Read before under another name, or by the run before the
		 * restart: go on from there if it still holds those bytes. */
		if (pos_matches(fd, &seen->pos))
			resume_at(f, (off_t)seen->pos.offset, seen->pos.skipping);
		else
			log_info("%s was truncated or replaced since it was last read; "
			    "reading it from the start", s->path);
		seen_drop(s->parent->glob, seen);
	} else if (s->init_valid && s->resume_valid &&
	    st->st_dev == s->init_dev && st->st_ino == s->init_ino)
		resume_at(f, s->resume_offset, s->resume_skipping);
	else if (s->init_valid && !ts->o.from_beginning &&
	    st->st_dev == s->init_dev && st->st_ino == s->init_ino)
		seek_to_end(f, st->st_size);
	s->init_valid = 0;
	s->resume_valid = 0;

	snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
	f->wd = inotify_add_watch(ts->ifd, proc, FILE_MASK);
	if (f->wd < 0 && errno == ENOENT)
		f->wd = add_watch(s, s->path, FILE_MASK);
	else if (f->wd < 0)
		f->wd = add_watch(s, proc, FILE_MASK);
	s->cur = f;
	s->need_read = 1;
	set_state(s, INPUT_STATE_FOLLOWING);
	log_info("following %s from offset %jd", s->path, (intmax_t)f->offset);
}

static struct tail_file *
find_open(struct tail_source *s, dev_t dev, ino_t ino, struct tail_file ***link)
{
	for (struct tail_file **pp = &s->old; *pp != NULL; pp = &(*pp)->next) {
		if ((*pp)->dev == dev && (*pp)->ino == ino) {
			*link = pp;
			return *pp;
		}
	}
	return NULL;
}

/* The file left the path (renamed, deleted or the link repointed): keep
 * its fd and drain it for rotate_wait, since the writer may still append
 * until it reopens its log. */
static void
demote(struct tail_source *s, struct tail_file *f, const char *why)
{
	struct tail_file **pp = &s->old;

	while (*pp != NULL)
		pp = &(*pp)->next;
	f->next = NULL;
	f->close_at = s->ts->now + (int64_t)s->ts->o.rotate_wait_ms;
	*pp = f;
	COUNT(s, rotations, 1);
	log_info("%s %s; draining the old file for %u ms", s->path, why,
	    s->ts->o.rotate_wait_ms);
}

/*
 * The basename was renamed to a name in the same directory (IN_MOVED_FROM
 * and IN_MOVED_TO with one cookie). If the file now under that name is one
 * we never opened, it is a file that was created at our path and rotated
 * away again before we looked (several rotations in one burst): read it
 * from the start, like any file new to us, and let it drain.
 */
static void
adopt_moved(struct tail_source *s)
{
	struct tail_file **pp;
	char name[PATH_MAX];
	struct stat st;

	for (int i = 0; i < s->nmoved; i++) {
		if (snprintf(name, sizeof name, "%s/%s", s->dir, s->moved[i]) >= (int)sizeof name)
			continue;
		int fd = open(name, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
		if (fd < 0)
			continue;
		if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
		    (s->cur != NULL && s->cur->dev == st.st_dev && s->cur->ino == st.st_ino) ||
		    find_open(s, st.st_dev, st.st_ino, &pp) != NULL ||
		    held_by(s->ts, s, st.st_dev, st.st_ino) != NULL ||
		    (s->init_valid && s->init_dev == st.st_dev && s->init_ino == st.st_ino)) {
			close(fd);
			continue;
		}
		struct tail_file *f = file_new(s, fd, &st);
		if (f == NULL) {
			log_limited(LOG_LIMIT_OPEN, LOG_LEVEL_WARN, "%s: cannot read %s, rotated "
			    "before it could be opened: out of memory; its lines are not counted",
			    s->path, name);
			close(fd);
			continue;
		}
		snprintf(name, sizeof name, "/proc/self/fd/%d", fd);
		f->wd = inotify_add_watch(s->ts->ifd, name, FILE_MASK);
		demote(s, f, "was rotated before it could be opened");
		s->need_read = 1;
	}
	s->nmoved = 0;
}

/*
 * Compare the name with the file we hold, step by step:
 * 1. stat the path (following a symlink to its target);
 * 2. it is gone (ENOENT): the file we hold was renamed or deleted, or the
 *    link is broken. Keep draining it (demote) and wait for the name to
 *    come back; the directory watch tells us at once when it does;
 * 3. it is the inode we hold: nothing to do (truncation is checked when
 *    reading);
 * 4. it is another inode: rotation (rename+create, delete+recreate, or the
 *    link repointed). Open the new file at once, before anything else;
 * 5. then read the file we hold to EOF, so lines come in order as far as
 *    the budget allows, and demote it;
 * 6. the new inode is one we still drain (a file renamed back): take it
 *    back as the current file, with its offset, so nothing is read twice;
 * 7. otherwise follow the fd opened in 4, from offset 0: a file new to us
 *    is read whole.
 *
 * Why 4 comes before 5, the race it closes:
 * 1. we hold mail.log = inode A, with megabytes unread (we were stopped,
 *    or a burst came in);
 * 2. the log rotates: the name is now inode B, and the writer fills B;
 * 3. we stat the name and see B, then spend the whole budget reading A;
 * 4. meanwhile the log rotates again: B is deleted (delete+recreate) or
 *    the link is repointed to C (symlink swap);
 * 5. had we opened the name only now, we would get C, and B, seen but
 *    never opened, would be lost: unlinked, or left behind under a name
 *    we never follow.
 * Holding B's fd from step 4 on keeps it readable whatever happens to
 * its name, exactly as the fd of A is.
 */
static void
check_path(struct tail_source *s, size_t *budget)
{
	struct tail_file **pp;
	struct stat st;
	int fd;

	watch_dirs(s);
	if (s->nmoved > 0)
		adopt_moved(s);
	if (stat(s->path, &st) < 0) {
		if (errno != ENOENT && errno != ENOTDIR) {
			log_open_error(s, "stat");
			if (s->cur == NULL)
				set_state(s, INPUT_STATE_ERROR);
			return;
		}
		if (s->cur != NULL) {
			file_read(s->cur, budget);
			demote(s, s->cur, "was renamed or deleted");
			s->cur = NULL;
		}
		s->gone = 1;
		set_state(s, INPUT_STATE_WAITING);
		return;
	}
	s->gone = 0;
	if (s->cur != NULL && s->cur->dev == st.st_dev && s->cur->ino == st.st_ino)
		return;
	fd = open_path(s, &st);
	if (fd >= 0 && s->cur != NULL && s->cur->dev == st.st_dev && s->cur->ino == st.st_ino) {
		/* renamed back between the stat and the open: no rotation */
		close(fd);
		return;
	}
	if (s->cur != NULL) {
		file_read(s->cur, budget);
		demote(s, s->cur, "was rotated (the name is another file now)");
		s->cur = NULL;
	}
	if (fd < 0)
		return;
	struct tail_file *back = find_open(s, st.st_dev, st.st_ino, &pp);
	if (back != NULL) {
		close(fd);
		*pp = back->next;
		back->next = NULL;
		back->close_at = 0;
		s->cur = back;
		set_state(s, INPUT_STATE_FOLLOWING);
		return;
	}
	follow_fd(s, fd, &st);
}

/*
 * Files rotated away are closed when rotate_wait has passed and they are
 * drained. An unterminated last line is dropped then and counted in
 * dropped_fragments: its newline can no longer arrive, and a line counts
 * only once its newline has arrived.
 */
static void
expire_old(struct tail_source *s, size_t *budget)
{
	struct tail_file **pp = &s->old;

	while (*pp != NULL) {
		struct tail_file *f = *pp;
		if (f->close_at > s->ts->now) {
			pp = &f->next;
			continue;
		}
		enum read_result r = check_truncated(f) == TRUNC_FOREIGN ? READ_EOF :
		    file_read(f, budget);
		if (r == READ_MORE || r == READ_NOMEM) {
			/* Out of memory: keep it, unread, for the reconcile. */
			s->need_read = r == READ_MORE;
			s->ts->pending |= r == READ_MORE;
			pp = &f->next;
			continue;
		}
		if (lb_has_fragment(&f->lb) && !f->lb.skipping) {
			COUNT(s, dropped_fragments, 1);
			log_limited(LOG_LIMIT_READ, LOG_LEVEL_WARN,
			    "%s: dropped an unterminated last line (%zu bytes) of a "
			    "rotated file", s->path, lb_fragment_len(&f->lb));
		}
		*pp = f->next;
		if (s->parent != NULL && !f->foreign)
			retire(s, f);
		file_close(f);
	}
}

static void
service_stream(struct tail_source *s, size_t *budget)
{
	struct tail_file *f = s->cur;
	enum read_result r;

	if (f == NULL)
		return;
	if (s->stream == STREAM_POLLED && !s->stream_ready)
		return;
	s->stream_ready = 0;
	r = file_read(f, budget);
	if (r == READ_MORE) {
		if (s->stream == STREAM_PLAIN)
			s->ts->pending = 1;
		return;
	}
	if (r == READ_AGAIN)
		return;
	if (lb_has_fragment(&f->lb) && !f->lb.skipping)
		COUNT(s, dropped_fragments, 1);
	if (s->stream == STREAM_POLLED)
		epoll_ctl(s->ts->epfd, EPOLL_CTL_DEL, f->fd, NULL);
	log_info("%s: end of input", s->path);
	set_state(s, INPUT_STATE_EOF);
	s->cur = NULL;
	file_close(f);
}

static void
service(struct tail_source *s, size_t *budget)
{
	struct tail_set *ts = s->ts;

	if (s->stream != STREAM_NONE) {
		service_stream(s, budget);
		return;
	}
	if (s->glob != NULL) {
		if (s->glob->need_scan) {
			s->glob->need_scan = 0;
			glob_scan(s);
		}
		return;
	}
	if (s->need_path) {
		s->need_path = 0;
		check_path(s, budget);
	}
	if (s->need_read) {
		s->need_read = 0;
		for (struct tail_file *f = s->old; f != NULL; f = f->next) {
			if (check_truncated(f) != TRUNC_FOREIGN && file_read(f, budget) == READ_MORE)
				s->need_read = 1;
		}
		if (s->cur != NULL) {
			check_truncated(s->cur);
			if (file_read(s->cur, budget) == READ_MORE)
				s->need_read = 1;
		}
		if (s->need_read || s->need_path)
			ts->pending = 1;
	}
	expire_old(s, budget);
	/* A glob's file whose name is gone and that has nothing left to
	 * drain is dropped (at the end of the turn); it comes back as a new
	 * file if the name matches again. */
	if (s->parent != NULL && s->gone && s->cur == NULL && s->old == NULL)
		s->dead = 1;
}

/* ---- events ----------------------------------------------------------- */

static void
dir_event(struct tail_source *s, const struct inotify_event *ev)
{
	if (ev->len == 0 || strcmp(ev->name, s->base) != 0) {
		if ((ev->mask & IN_MOVED_TO) && s->moved_pending &&
		    ev->cookie == s->moved_cookie && strlen(ev->name) <= NAME_MAX) {
			if (s->moved == NULL &&
			    (s->moved = malloc(sizeof *s->moved * MOVED_MAX)) == NULL) {
				/* The reconcile still finds the renamed file
				 * through the fd we hold; only a file created
				 * and rotated away unseen is missed. */
				s->moved_pending = 0;
				s->need_path = 1;
				return;
			}
			if (s->nmoved == MOVED_MAX)
				adopt_moved(s);
			strcpy(s->moved[s->nmoved++], ev->name);
			s->moved_pending = 0;
			s->need_path = 1;
		}
		return;
	}
	if (ev->mask & IN_MOVED_FROM) {
		s->moved_cookie = ev->cookie;
		s->moved_pending = 1;
	}
	s->need_path = 1;
	s->need_read = 1;
}

static void
mark_all(struct tail_set *ts)
{
	for (int i = 0; i < ts->nall; i++) {
		ts->all[i]->need_path = 1;
		ts->all[i]->need_read = 1;
		if (ts->all[i]->glob != NULL)
			ts->all[i]->glob->need_scan = 1;
	}
}

/*
 * The reconcile timer. Named paths are re-checked every time, as the
 * safety net for every event inotify may not deliver. A glob's files are
 * re-checked only when some watch of theirs is missing (ENOSPC, a file
 * system without events) or a rotation is under way, and all of them at
 * every SWEEP_EVERY-th reconcile, with the pattern globbed again: so a
 * thousand idle files cost a few pointer tests every reconcile_ms, not a
 * thousand stat(2) calls. Line buffers of files idle for a whole interval
 * are given back here too.
 */
static void
reconcile(struct tail_set *ts)
{
	int sweep = ++ts->reconciles % SWEEP_EVERY == 0;
	int released = 0;

	for (int i = 0; i < ts->nall; i++) {
		struct tail_source *s = ts->all[i];

		if (s->glob != NULL) {
			if (sweep || s->glob->degraded)
				s->glob->need_scan = 1;
			continue;
		}
		if (s->parent == NULL || sweep || s->dir_wd < 0 || s->cur == NULL ||
		    s->cur->wd < 0 || s->old != NULL || s->covered) {
			s->need_path = 1;
			s->need_read = 1;
		}
		if (s->stream != STREAM_NONE)
			continue;
		if (s->cur != NULL && s->cur->lb.buf != NULL &&
		    ts->now - s->cur->last_data >= (int64_t)ts->o.reconcile_ms &&
		    lb_release(&s->cur->lb) == 0)
			released++;
	}
#ifdef __GLIBC__
	/* Freed buffers sit between live allocations; hand their pages back. */
	if (released > 0)
		malloc_trim(0);
#endif
}

static void
handle_event(struct tail_set *ts, const struct inotify_event *ev)
{
	if (ev->mask & IN_Q_OVERFLOW) {
		log_warnx("inotify queue overflow; re-checking every file");
		stat_add(&ts->overflows, 1);
		mark_all(ts);
		return;
	}
	for (int i = 0; i < ts->nall; i++) {
		struct tail_source *s = ts->all[i];

		if (s->glob != NULL) {
			glob_event(s, ev);
			continue;
		}
		if (ev->mask & IN_IGNORED) {
			if (s->dir_wd == ev->wd)
				s->dir_wd = -1;
			if (s->tdir_wd == ev->wd)
				s->tdir_wd = -1;
			if (s->cur != NULL && s->cur->wd == ev->wd)
				s->cur->wd = -1;
			for (struct tail_file *f = s->old; f != NULL; f = f->next)
				if (f->wd == ev->wd)
					f->wd = -1;
			continue;
		}
		if (s->dir_wd == ev->wd)
			dir_event(s, ev);
		if (s->tdir_wd == ev->wd && s->tbase != NULL && ev->len > 0 &&
		    strcmp(ev->name, s->tbase) == 0) {
			s->need_path = 1;
			s->need_read = 1;
		}
		int hit = s->cur != NULL && s->cur->wd == ev->wd;
		for (struct tail_file *f = s->old; f != NULL && !hit; f = f->next)
			hit = f->wd == ev->wd;
		if (hit) {
			s->need_read = 1;
			if (ev->mask & (IN_ATTRIB | IN_MOVE_SELF | IN_DELETE_SELF))
				s->need_path = 1;
		}
	}
}

static void
read_events(struct tail_set *ts)
{
	_Alignas(struct inotify_event) char buf[8192 + sizeof(struct inotify_event) + NAME_MAX + 1];
	struct epoll_event evs[16];
	int n;

	n = epoll_wait(ts->epfd, evs, 16, 0);
	for (int i = 0; i < n; i++) {
		if (evs[i].data.u32 != EPOLL_INOTIFY && (int)evs[i].data.u32 < ts->n)
			ts->src[evs[i].data.u32]->stream_ready = 1;
	}

	for (;;) {
		ssize_t len = read(ts->ifd, buf, sizeof buf);
		if (len < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				log_warn("reading inotify events");
			return;
		}
		if (len == 0)
			return;
		for (char *p = buf; p < buf + len;) {
			const struct inotify_event *ev = (const struct inotify_event *)(void *)p;
			handle_event(ts, ev);
			p += sizeof(struct inotify_event) + ev->len;
		}
	}
}

/* ---- globs ------------------------------------------------------------ */

/*
 * A glob is a source of its own (its index, its counters, its path label
 * is the pattern) whose files are sources too: each matching file is
 * followed exactly as a named path is, through every kind of rotation,
 * and adds to the pattern's counters. What a glob adds:
 * - discovery: glob(3) at start, again whenever a directory the pattern
 *   goes through gets an entry matching the next component (a new host
 *   directory, a new log), and at every SWEEP_EVERY-th reconcile;
 * - a file is followed once, whatever reaches it: a match whose inode an
 *   open file of any source already has (a symlink to it, the rotated name
 *   of a file still drained) is left to that source;
 * - a file that stops being followed while it still has a name (drained
 *   after a rotation) is remembered with its offset for two turns, and the
 *   pattern is globbed again at once: if a name of it matches (mail.log.1
 *   under mail.log*), it is followed from that offset, never re-read. So
 *   a glob that also matches rotated names follows each inode from where
 *   it was, under whatever matching name it has, until it leaves the
 *   pattern or is deleted;
 * - at most opts.max_files files; the rest are left out and counted.
 */

static int
all_reserve(struct tail_set *ts)
{
	struct tail_source **n;
	int ncap;

	if (ts->nall < ts->capall)
		return 0;
	ncap = ts->capall ? ts->capall * 2 : 16;
	if ((n = realloc(ts->all, sizeof *n * (size_t)ncap)) == NULL)
		return -1;
	ts->all = n;
	ts->capall = ncap;
	return 0;
}

/* The source other than self with (dev, ino) open, as its current file or
 * one it still drains, or NULL. */
static struct tail_source *
held_by(struct tail_set *ts, const struct tail_source *self, dev_t dev, ino_t ino)
{
	for (int i = 0; i < ts->nall; i++) {
		struct tail_source *s = ts->all[i];
		if (s == self || s->dead || s->stream != STREAM_NONE)
			continue;
		if (s->cur != NULL && s->cur->dev == dev && s->cur->ino == ino)
			return s;
		for (const struct tail_file *f = s->old; f != NULL; f = f->next)
			if (f->dev == dev && f->ino == ino)
				return s;
	}
	return NULL;
}

static struct glob_seen *
seen_find(struct tail_glob *g, dev_t dev, ino_t ino)
{
	for (int i = 0; i < g->nseen; i++)
		if (g->seen[i].pos.dev == (uint64_t)dev && g->seen[i].pos.ino == (uint64_t)ino)
			return &g->seen[i];
	return NULL;
}

static void
seen_drop(struct tail_glob *g, struct glob_seen *e)
{
	free(e->path);
	*e = g->seen[--g->nseen];
}

/* Remember pos (path copied). Returns 0, or -1 out of memory. */
static int
seen_add(struct tail_glob *g, const struct tail_pos *pos, const char *path, uint64_t turn)
{
	struct glob_seen *e = seen_find(g, (dev_t)pos->dev, (ino_t)pos->ino);
	char *p = path != NULL ? strdup(path) : NULL;

	if (path != NULL && p == NULL)
		return -1;
	if (e == NULL) {
		if (g->nseen == g->capseen) {
			int ncap = g->capseen ? g->capseen * 2 : 8;
			struct glob_seen *n = realloc(g->seen, sizeof *n * (size_t)ncap);
			if (n == NULL) {
				free(p);
				return -1;
			}
			g->seen = n;
			g->capseen = ncap;
		}
		e = &g->seen[g->nseen++];
	} else {
		free(e->path);
	}
	e->pos = *pos;
	e->pos.path = NULL;
	e->path = p;
	e->turn = turn;
	return 0;
}

static int file_position(const struct tail_file *f, struct tail_pos *p);

/* f, a file of glob file s, is closed after draining. If it still has a
 * name, remember where it was read to and glob again, so a matching name
 * of it goes on from there (see above). */
static void
retire(struct tail_source *s, struct tail_file *f)
{
	struct tail_source *g = s->parent;
	struct tail_set *ts = s->ts;
	struct tail_pos pos;
	struct stat st;

	if (fstat(f->fd, &st) < 0 || st.st_nlink == 0 || file_position(f, &pos) < 0)
		return;
	if (seen_add(g->glob, &pos, s->path, ts->turn) < 0) {
		log_limited(LOG_LIMIT_OPEN, LOG_LEVEL_WARN, "%s: out of memory remembering "
		    "where a rotated file was read to; if a name of it matches again it "
		    "is read from its start", g->path);
		return;
	}
	g->glob->need_scan = 1;
	for (int i = 0; i < ts->nall; i++)
		if (ts->all[i]->parent == g && ts->all[i]->covered)
			ts->all[i]->need_path = 1;
	ts->pending = 1;
}

/* The name of component `level` of g's pattern, into buf. */
static const char *
glob_comp(const struct tail_glob *g, int level, char *buf, size_t buflen)
{
	size_t from = level == 0 ? g->cut[0] : g->cut[level] + 1, to = g->cut[level + 1];

	if (to - from >= buflen)
		to = from + buflen - 1;
	memcpy(buf, g->pattern + from, to - from);
	buf[to - from] = '\0';
	return buf;
}

/* The directory of the pattern's first `level` components, into buf. */
static const char *
glob_prefix(const struct tail_glob *g, int level, char *buf, size_t buflen)
{
	size_t n = g->cut[level];

	if (n == 0)
		return ".";
	if (n >= buflen)
		n = buflen - 1;
	memcpy(buf, g->pattern, n);
	buf[n] = '\0';
	return buf;
}

static void
glob_watch(struct tail_source *s, const char *dir, int level)
{
	struct tail_glob *g = s->glob;
	int wd = add_watch(s, dir, DIR_MASK);

	if (wd < 0) {
		g->degraded = 1;
		return;
	}
	for (int i = 0; i < g->ndirs; i++)
		if (g->dirs[i].wd == wd)
			return;
	if (g->ndirs == g->capdirs) {
		int ncap = g->capdirs ? g->capdirs * 2 : 8;
		struct glob_dir *n = realloc(g->dirs, sizeof *n * (size_t)ncap);
		if (n == NULL) {
			/* Watched but not known as ours: scan at every reconcile. */
			g->degraded = 1;
			return;
		}
		g->dirs = n;
		g->capdirs = ncap;
	}
	g->dirs[g->ndirs].wd = wd;
	g->dirs[g->ndirs].level = level;
	g->ndirs++;
}

/* An event on a directory the pattern goes through: an entry named like
 * the next component appeared (glob again), or, above the files' own
 * directories, went away (re-check every file: theirs went with it). */
static void
glob_event(struct tail_source *s, const struct inotify_event *ev)
{
	struct tail_glob *g = s->glob;
	char comp[NAME_MAX + 1];

	for (int i = 0; i < g->ndirs; i++) {
		int level = g->dirs[i].level;
		if (g->dirs[i].wd != ev->wd)
			continue;
		if (ev->mask & IN_IGNORED) {
			g->dirs[i] = g->dirs[--g->ndirs];
			return;
		}
		if (ev->len == 0 || fnmatch(glob_comp(g, level, comp, sizeof comp), ev->name,
		    FNM_PERIOD) != 0)
			return;
		if (ev->mask & (IN_CREATE | IN_MOVED_TO))
			g->need_scan = 1;
		if (level < g->ncomp - 1 && (ev->mask & (IN_DELETE | IN_MOVED_FROM))) {
			struct tail_set *ts = s->ts;
			for (int k = 0; k < ts->nall; k++)
				if (ts->all[k]->parent == s)
					ts->all[k]->need_path = 1;
		}
		return;
	}
}

/* A file of glob g at path (st: what the scan saw, NULL if not there).
 * Returns it, or NULL out of memory (logged). */
static struct tail_source *
child_new(struct tail_source *g, const char *path, const struct stat *st)
{
	struct tail_set *ts = g->ts;
	struct tail_source *s;

	if (all_reserve(ts) < 0 || (s = calloc(1, sizeof *s)) == NULL)
		goto oom;
	s->ts = ts;
	s->index = g->index;
	s->parent = g;
	s->st = &s->own;
	s->sum = g->st;
	s->dir_wd = -1;
	s->tdir_wd = -1;
	if ((s->path = strdup(path)) == NULL || split_path(s) < 0) {
		source_free(s);
		goto oom;
	}
	/* At start, a file follows --maillog.start as a named path does;
	 * one that appears later (or that the state file did not list) is
	 * all new and read from its start. */
	if (st != NULL && !g->glob->started && !g->glob->from_state) {
		s->init_valid = 1;
		s->init_dev = st->st_dev;
		s->init_ino = st->st_ino;
	}
	set_state(s, INPUT_STATE_WAITING);
	s->need_path = 1;
	s->need_read = 1;
	ts->all[ts->nall++] = s;
	g->glob->nchildren++;
	ts->pending = 1;
	return s;
oom:
	log_limited(LOG_LIMIT_OPEN, LOG_LEVEL_WARN, "%s: cannot follow %s: out of memory; "
	    "retrying at the next scan", g->path, path);
	g->glob->degraded = 1;
	return NULL;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/*
 * Glob the pattern: watch every directory it goes through, and follow
 * each matching regular file that no source follows yet, up to
 * max_files. Runs at start, on directory events and at the sweep; never
 * per line.
 */
static void
glob_scan(struct tail_source *gs)
{
	struct tail_glob *g = gs->glob;
	struct tail_set *ts = gs->ts;
	char buf[PATH_MAX];
	const char **have = NULL;
	int nhave = 0;
	uint64_t left = 0;
	glob_t gb;
	int r;

	for (int level = g->nlit; level < g->ncomp; level++) {
		const char *dir = glob_prefix(g, level, buf, sizeof buf);
		if (level == g->nlit) {
			glob_watch(gs, dir, level);
			continue;
		}
		if (glob(dir, GLOB_ONLYDIR | GLOB_NOSORT, NULL, &gb) != 0)
			continue;
		for (size_t i = 0; i < gb.gl_pathc; i++)
			glob_watch(gs, gb.gl_pathv[i], level);
		globfree(&gb);
	}

	r = glob(g->pattern, 0, NULL, &gb);
	if (r == GLOB_NOSPACE) {
		log_limited(LOG_LIMIT_OPEN, LOG_LEVEL_WARN, "%s: out of memory globbing; "
		    "retrying", gs->path);
		g->degraded = 1;
		return;
	}
	if (r != 0)
		gb.gl_pathc = 0;
	if (gb.gl_pathc > 0 && g->nchildren > 0 &&
	    (have = malloc(sizeof *have * (size_t)g->nchildren)) != NULL) {
		for (int i = 0; i < ts->nall && nhave < g->nchildren; i++)
			if (ts->all[i]->parent == gs)
				have[nhave++] = ts->all[i]->path;
		qsort(have, (size_t)nhave, sizeof *have, cmp_str);
	}
	for (size_t i = 0; i < gb.gl_pathc; i++) {
		const char *m = gb.gl_pathv[i];
		struct stat st;
		int known = 0;

		if (have != NULL)
			known = bsearch(&m, have, (size_t)nhave, sizeof *have, cmp_str) != NULL;
		else
			for (int k = 0; k < ts->nall && !known; k++)
				known = ts->all[k]->parent == gs && strcmp(ts->all[k]->path, m) == 0;
		if (known || stat(m, &st) < 0 || !S_ISREG(st.st_mode) ||
		    held_by(ts, NULL, st.st_dev, st.st_ino) != NULL)
			continue;
		if ((unsigned)g->nchildren >= ts->o.max_files) {
			left++;
			continue;
		}
		child_new(gs, m, &st);
	}
	if (r == 0)
		globfree(&gb);
	free(have);
	atomic_store_explicit(&gs->st->files_left_out, left, memory_order_relaxed);
	if (left > 0)
		log_limited(LOG_LIMIT_GLOB, LOG_LEVEL_ERROR, "%s: %ju matching files are not "
		    "followed: already following --maillog.max-files=%u files for this pattern",
		    gs->path, (uintmax_t)left, ts->o.max_files);
	g->started = 1;
}

/*
 * End of a turn: forget rotated files no name picked up, drop the files of
 * globs that are gone, and set each glob's gauges and state.
 */
static void
after_turn(struct tail_set *ts)
{
	for (int i = 0; i < ts->nall;) {
		struct tail_source *s = ts->all[i];
		if (s->glob != NULL) {
			for (int k = 0; k < s->glob->nseen;) {
				if (s->glob->seen[k].turn + 2 <= ts->turn)
					seen_drop(s->glob, &s->glob->seen[k]);
				else
					k++;
			}
		}
		if (!s->dead) {
			i++;
			continue;
		}
		ts->all[i] = ts->all[--ts->nall];
		s->parent->glob->nchildren--;
		/* Gone for good: its series goes with it (docs/metrics.md). */
		if (s->st != &s->own)
			input_files_release(s->parent->glob->files, s->st);
		s->st = &s->own;
		if (atomic_load_explicit(&s->parent->st->files_left_out, memory_order_relaxed) > 0)
			s->parent->glob->need_scan = 1;
		int wd = s->dir_wd, twd = s->tdir_wd;
		s->dir_wd = s->tdir_wd = -1;
		release_wd(ts, wd);
		release_wd(ts, twd);
		log_info("%s: %s is gone and drained; no longer followed", s->parent->path, s->path);
		source_free(s);
		ts->pending = 1;
	}
	for (int i = 0; i < ts->n; i++) {
		struct tail_source *g = ts->src[i];
		uint64_t files = 0;
		if (g->glob == NULL)
			continue;
		for (int k = 0; k < ts->nall; k++)
			files += ts->all[k]->parent == g && ts->all[k]->cur != NULL;
		atomic_store_explicit(&g->st->files, files, memory_order_relaxed);
		set_state(g, files > 0 ? INPUT_STATE_FOLLOWING : INPUT_STATE_WAITING);
		if (g->glob->need_scan)
			ts->pending = 1;
	}
}

/*
 * Split the pattern into components: cut[L] is the length of the prefix
 * made of the first L ("/" alone for L = 0 of an absolute pattern, "" of
 * a relative one). Returns 0, or -1 out of memory.
 */
static int
glob_parse(struct tail_glob *g, const char *pattern)
{
	size_t len = strlen(pattern), o = 0;
	char *p = malloc(len + 1);

	if (p == NULL)
		return -1;
	for (size_t i = 0; i < len; i++)
		if (pattern[i] != '/' || o == 0 || p[o - 1] != '/')
			p[o++] = pattern[i];
	while (o > 1 && p[o - 1] == '/')
		o--;
	p[o] = '\0';
	g->pattern = p;
	if ((g->cut = malloc(sizeof *g->cut * (o + 2))) == NULL)
		return -1;
	g->ncomp = 0;
	g->cut[0] = p[0] == '/' ? 1 : 0;
	g->nlit = -1;
	for (size_t i = g->cut[0]; i < o;) {
		size_t e = i;
		while (e < o && p[e] != '/')
			e++;
		if (g->nlit < 0 && strcspn(p + i, "*?[") < e - i)
			g->nlit = g->ncomp;
		g->cut[++g->ncomp] = e;
		i = e + 1;
	}
	if (g->nlit < 0)
		g->nlit = g->ncomp;
	return 0;
}

/* The file of glob g followed under path, made if there is none (for a
 * saved position whose file no name of the pattern reaches now). */
static struct tail_source *
child_at(struct tail_source *g, const char *path)
{
	struct tail_set *ts = g->ts;

	for (int i = 0; i < ts->nall; i++)
		if (ts->all[i]->parent == g && strcmp(ts->all[i]->path, path) == 0)
			return ts->all[i];
	return child_new(g, path, NULL);
}

static int
add_glob(struct tail_source *s, const struct tail_pos *pos, int npos, char *err, size_t errlen)
{
	struct tail_set *ts = s->ts;
	struct tail_glob *g;
	char buf[PATH_MAX];
	const char *root;
	struct stat st;
	size_t budget = 0;

	if ((g = calloc(1, sizeof *g)) == NULL)
		goto oom;
	s->glob = g;
	if (glob_parse(g, s->path) < 0 ||
	    (g->files = input_files_new((int)ts->o.max_files)) == NULL)
		goto oom;
	root = glob_prefix(g, g->nlit, buf, sizeof buf);
	if (stat(root, &st) < 0 || !S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "cannot follow %s: directory %s %s", s->path, root,
		    errno == ENOENT || errno == 0 ? "does not exist" : strerror(errno));
		return -1;
	}
	if (npos >= 0) {
		g->from_state = 1;
		for (int i = 0; i < npos; i++)
			if (seen_add(g, &pos[i], pos[i].path, 0) < 0)
				goto oom;
	}
	ts->src[ts->n++] = s;
	ts->all[ts->nall++] = s;
	set_state(s, INPUT_STATE_WAITING);
	glob_scan(s);
	/* Open every match now, claiming the saved positions of files found
	 * under a matching name. */
	for (int i = 0; i < ts->nall; i++)
		if (ts->all[i]->parent == s) {
			check_path(ts->all[i], &budget);
			ts->all[i]->need_path = 0;
		}
	/* Saved files no matching name reaches (rotated to a name outside
	 * the pattern while we were stopped): finish them where they are. */
	while (g->nseen > 0) {
		struct glob_seen *e = &g->seen[g->nseen - 1];
		struct tail_source *c = e->path != NULL ? child_at(s, e->path) : NULL;
		int r = c != NULL ? resume_rotated(c, &e->pos) : 0;
		if (r == 0)
			log_warnx("%s: the file we were reading as %s when we stopped (inode %ju) "
			    "is gone; the lines it got after offset %ju are not counted", s->path,
			    e->path != NULL ? e->path : "?", (uintmax_t)e->pos.ino,
			    (uintmax_t)e->pos.offset);
		if (c != NULL && c->cur == NULL && c->old == NULL)
			c->dead = 1;
		seen_drop(g, e);
	}
	after_turn(ts);
	log_info("%s: following %ju matching files", s->path,
	    (uintmax_t)atomic_load(&s->st->files));
	ts->pending = 1;
	return 0;
oom:
	snprintf(err, errlen, "cannot follow %s: out of memory", s->path);
	return -1;
}

/* ---- the set ---------------------------------------------------------- */

/*
 * Create the set: a non-blocking inotify fd inside an epoll fd, so stdin
 * can join later. Zero option values get their defaults. Returns NULL with
 * errno set when inotify or epoll is unavailable; the caller decides whether
 * that is fatal. Free with tail_set_free().
 */
struct tail_set *
tail_set_new(const struct tail_opts *opts, tail_line_fn fn, void *ctx)
{
	struct tail_set *ts = calloc(1, sizeof *ts);
	struct epoll_event ev;

	if (ts == NULL)
		return NULL;
	if (opts != NULL)
		ts->o = *opts;
	else
		tail_opts_defaults(&ts->o);
	if (ts->o.max_line == 0)
		ts->o.max_line = 64 * 1024;
	if (ts->o.reconcile_ms == 0)
		ts->o.reconcile_ms = 2000;
	if (ts->o.max_bytes_per_turn == 0)
		ts->o.max_bytes_per_turn = 4 * 1024 * 1024;
	ts->fn = fn;
	ts->ctx = ctx;
	ts->epfd = -1;
	if ((ts->scratch = malloc(LB_READ_SIZE)) == NULL) {
		free(ts);
		return NULL;
	}
	ts->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (ts->ifd < 0)
		goto fail;
	ts->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (ts->epfd < 0)
		goto fail;
	memset(&ev, 0, sizeof ev);
	ev.events = EPOLLIN;
	ev.data.u32 = EPOLL_INOTIFY;
	if (epoll_ctl(ts->epfd, EPOLL_CTL_ADD, ts->ifd, &ev) < 0)
		goto fail;
	ts->now = mono_ms();
	ts->next_reconcile = ts->now + ts->o.reconcile_ms;
	return ts;
fail:;
	int saved = errno;
	if (ts->ifd >= 0)
		close(ts->ifd);
	if (ts->epfd >= 0)
		close(ts->epfd);
	free(ts->scratch);
	free(ts);
	errno = saved;
	return NULL;
}

/* Close the files of a source out of the set (or never in it), free it. */
static void
source_free(struct tail_source *s)
{
	while (s->old != NULL) {
		struct tail_file *f = s->old;
		s->old = f->next;
		file_close(f);
	}
	if (s->cur != NULL)
		file_close(s->cur);
	s->cur = NULL;
	free(s->path);
	free(s->dir);
	free(s->base);
	free(s->tbase);
	free(s->moved);
	if (s->glob != NULL) {
		for (int i = 0; i < s->glob->nseen; i++)
			free(s->glob->seen[i].path);
		free(s->glob->seen);
		free(s->glob->dirs);
		free(s->glob->cut);
		free(s->glob->pattern);
		input_files_free(s->glob->files);
		free(s->glob);
	}
	free(s);
}

/* Close every file (stdin is left open), watch and fd. NULL is a no-op. */
void
tail_set_free(struct tail_set *ts)
{
	if (ts == NULL)
		return;
	/* Last first, and out of the set before its files are closed, so
	 * release_wd() only looks at sources still alive. */
	while (ts->nall > 0) {
		struct tail_source *s = ts->all[--ts->nall];
		source_free(s);
	}
	free(ts->all);
	free(ts->src);
	free(ts->scratch);
	close(ts->ifd);
	close(ts->epfd);
	free(ts);
}

static int
add_stdin(struct tail_set *ts, struct tail_source *s, char *err, size_t errlen)
{
	struct epoll_event ev;
	struct stat st;

	if (fstat(STDIN_FILENO, &st) < 0) {
		snprintf(err, errlen, "standard input: %s", strerror(errno));
		return -1;
	}
	memset(&ev, 0, sizeof ev);
	ev.events = EPOLLIN;
	ev.data.u32 = (uint32_t)s->index;
	if (!S_ISREG(st.st_mode) && epoll_ctl(ts->epfd, EPOLL_CTL_ADD, STDIN_FILENO, &ev) == 0)
		s->stream = STREAM_POLLED;
	else
		s->stream = STREAM_PLAIN;
	if ((s->cur = file_new(s, STDIN_FILENO, &st)) == NULL) {
		if (s->stream == STREAM_POLLED)
			epoll_ctl(ts->epfd, EPOLL_CTL_DEL, STDIN_FILENO, NULL);
		snprintf(err, errlen, "standard input: out of memory");
		return -1;
	}
	s->stream_ready = 1;
	set_state(s, INPUT_STATE_FOLLOWING);
	return 0;
}

/* s->dir and s->base from s->path. Returns 0, or -1 out of memory. */
static int
split_path(struct tail_source *s)
{
	const char *slash = strrchr(s->path, '/');

	if (slash == NULL) {
		s->dir = strdup(".");
		s->base = strdup(s->path);
	} else {
		s->dir = slash == s->path ? strdup("/") : strndup(s->path, (size_t)(slash - s->path));
		s->base = strdup(slash + 1);
	}
	return s->dir == NULL || s->base == NULL ? -1 : 0;
}

/*
 * A path whose directory does not exist is refused rather than waited for:
 * watching the nearest existing ancestor would follow every mkdir below it,
 * and a missing log directory is far more often a typo than a log that is
 * about to appear. A missing file in an existing directory is waited for.
 */
static int add(struct tail_set *ts, const char *path, const struct tail_pos *pos, int npos,
    char *err, size_t errlen);

int
tail_set_add(struct tail_set *ts, const char *path, char *err, size_t errlen)
{
	return add(ts, path, NULL, -1, err, errlen);
}

int
tail_set_add_resume(struct tail_set *ts, const char *path, const struct tail_pos *pos,
    int npos, char *err, size_t errlen)
{
	return add(ts, path, pos, npos, err, errlen);
}

/*
 * A saved file that is no longer at the path: look for its inode among the
 * directory's entries (mail.log.1 after a rename rotation) and, if it still
 * holds the saved bytes, finish it from the saved offset as a rotated file
 * being drained. Returns 1 if found and adopted, 0 if not, -1 out of
 * memory.
 */
static int
resume_rotated(struct tail_source *s, const struct tail_pos *pos)
{
	DIR *d = opendir(s->dir);
	struct dirent *de;
	int found = 0;

	if (d == NULL)
		return 0;
	while (!found && (de = readdir(d)) != NULL) {
		char name[PATH_MAX];
		struct stat st;
		int fd;
		if ((uint64_t)de->d_ino != pos->ino)
			continue;
		if ((size_t)snprintf(name, sizeof name, "%s/%s", s->dir, de->d_name) >= sizeof name)
			continue;
		fd = open(name, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
		if (fd < 0)
			continue;
		if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_dev != pos->dev ||
		    (uint64_t)st.st_ino != pos->ino) {
			close(fd);
			continue;
		}
		found = 1;
		if (!pos_matches(fd, pos)) {
			log_warnx("%s: %s (the file we were reading, rotated while we were "
			    "stopped) no longer holds what we read; its unread lines are not "
			    "counted", s->path, name);
			close(fd);
			break;
		}
		struct tail_file *f = file_new(s, fd, &st);
		if (f == NULL) {
			close(fd);
			found = -1;
			break;
		}
		resume_at(f, (off_t)pos->offset, pos->skipping);
		f->close_at = s->ts->now + (int64_t)s->ts->o.rotate_wait_ms;
		f->next = s->old;
		s->old = f;
		s->need_read = 1;
		log_info("%s was rotated to %s while we were stopped; finishing it from "
		    "offset %ju", s->path, name, (uintmax_t)pos->offset);
	}
	closedir(d);
	return found;
}

/* Apply the saved positions of a source before its path is first opened.
 * Returns 0, or -1 out of memory. */
static int
resume_source(struct tail_source *s, const struct tail_pos *pos, int npos,
    const struct stat *cur, int cur_valid)
{
	int at_path = 0, r;

	for (int i = 0; i < npos; i++) {
		if (cur_valid && (uint64_t)cur->st_dev == pos[i].dev &&
		    (uint64_t)cur->st_ino == pos[i].ino) {
			int fd = open(s->path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
			at_path = 1;
			s->resume_valid = 1;
			s->resume_offset = 0;
			s->resume_skipping = 0;
			if (fd >= 0 && pos_matches(fd, &pos[i])) {
				s->resume_offset = (off_t)pos[i].offset;
				s->resume_skipping = pos[i].skipping;
			} else {
				log_info("%s was truncated or replaced while we were stopped; "
				    "reading it from the start", s->path);
			}
			if (fd >= 0)
				close(fd);
		} else if ((r = resume_rotated(s, &pos[i])) < 0) {
			return -1;
		} else if (r == 0) {
			log_warnx("%s: the file we were reading when we stopped (inode %ju) is "
			    "gone; the lines it got after offset %ju are not counted", s->path,
			    (uintmax_t)pos[i].ino, (uintmax_t)pos[i].offset);
		}
	}
	/* The file at the path is not one we knew: it is new since, read it all. */
	if (!at_path)
		s->init_valid = 0;
	return 0;
}

static int
add(struct tail_set *ts, const char *path, const struct tail_pos *pos, int npos,
    char *err, size_t errlen)
{
	struct tail_source *s, **nsrc;
	struct stat st;

	if (path == NULL || *path == '\0') {
		snprintf(err, errlen, "empty log path");
		return -1;
	}
	/* Out of memory, the path is refused with a reason, like a bad one:
	 * the caller decides whether that stops it. */
	nsrc = realloc(ts->src, sizeof *nsrc * (size_t)(ts->n + 1));
	if (nsrc == NULL) {
		snprintf(err, errlen, "cannot follow %s: out of memory", path);
		return -1;
	}
	ts->src = nsrc;
	if (all_reserve(ts) < 0) {
		snprintf(err, errlen, "cannot follow %s: out of memory", path);
		return -1;
	}
	if ((s = calloc(1, sizeof *s)) == NULL) {
		snprintf(err, errlen, "cannot follow %s: out of memory", path);
		return -1;
	}
	s->ts = ts;
	s->index = ts->n;
	s->dir_wd = -1;
	s->tdir_wd = -1;
	s->st = &s->own;
	ts->now = mono_ms();
	if ((s->path = strdup(path)) == NULL)
		goto oom;

	if (strcmp(path, "-") == 0) {
		if (add_stdin(ts, s, err, errlen) < 0)
			goto fail;
		ts->src[ts->n++] = s;
		ts->all[ts->nall++] = s;
		return s->index;
	}
	if (strpbrk(path, "*?[") != NULL) {
		if (add_glob(s, pos, npos, err, errlen) < 0)
			goto fail;
		return s->index;
	}

	if (split_path(s) < 0)
		goto oom;
	if (stat(s->dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "cannot follow %s: directory %s %s", path, s->dir,
		    errno == ENOENT || errno == 0 ? "does not exist" : strerror(errno));
		goto fail;
	}
	if (stat(path, &st) == 0) {
		if (S_ISDIR(st.st_mode)) {
			snprintf(err, errlen, "cannot follow %s: it is a directory", path);
			goto fail;
		}
		s->init_valid = 1;
		s->init_dev = st.st_dev;
		s->init_ino = st.st_ino;
	}
	if (npos >= 0 &&
	    resume_source(s, pos, npos < TAIL_POS_MAX ? npos : TAIL_POS_MAX, &st, s->init_valid) < 0)
		goto oom;
	ts->src[ts->n++] = s;
	ts->all[ts->nall++] = s;
	set_state(s, INPUT_STATE_WAITING);
	s->need_path = 1;
	s->need_read = 1;
	size_t budget = 0;
	check_path(s, &budget);
	s->need_path = 0;
	if (get_state(s) == INPUT_STATE_WAITING)
		log_info("%s does not exist yet; waiting for it", path);
	ts->pending = 1;
	return s->index;
oom:
	snprintf(err, errlen, "cannot follow %s: out of memory", path);
fail:
	source_free(s);
	return -1;
}

/* The epoll fd; see tailer.h. */
int
tail_set_fd(const struct tail_set *ts)
{
	return ts->epfd;
}

/* 0 while a bounded turn left work behind; otherwise the time to the next
 * reconcile or rotate_wait expiry, so the caller never polls files. */
int
tail_set_timeout_ms(const struct tail_set *ts)
{
	int64_t now = mono_ms();
	int64_t next = ts->next_reconcile;

	if (ts->pending)
		return 0;
	for (int i = 0; i < ts->nall; i++)
		for (const struct tail_file *f = ts->all[i]->old; f != NULL; f = f->next)
			if (f->close_at < next)
				next = f->close_at;
	if (next <= now)
		return 0;
	if (next - now > INT_MAX)
		return INT_MAX;
	return (int)(next - now);
}

static void
run(struct tail_set *ts, size_t budget)
{
	ts->pending = 0;
	ts->now = mono_ms();
	read_events(ts);
	ts->now = mono_ms();
	if (ts->now >= ts->next_reconcile) {
		reconcile(ts);
		ts->next_reconcile = ts->now + ts->o.reconcile_ms;
	}
	ts->turn++;
	if (ts->nall == 0)
		return;
	/* Files a glob adds in this loop are serviced in it or the next turn
	 * (glob_scan sets pending). */
	int nall = ts->nall;
	int start = ts->next_start % nall;
	ts->next_start = start + 1;
	for (int k = 0; k < nall; k++)
		service(ts->all[(start + k) % nall], &budget);
	after_turn(ts);
}

/* One turn: events, the reconcile when due, then every source with work,
 * round-robin, within max_bytes_per_turn. */
void
tail_set_process(struct tail_set *ts)
{
	run(ts, ts->o.max_bytes_per_turn);
}

/*
 * Drain at shutdown: everything readable now, whatever its size. A polled
 * stream is read while it stays readable, up to a bound, since a writer
 * that never stops would otherwise keep us here forever.
 */
void
tail_set_drain(struct tail_set *ts)
{
	run(ts, SIZE_MAX);
	for (int i = 0; i < ts->n; i++) {
		struct tail_source *s = ts->src[i];
		if (s->stream != STREAM_POLLED)
			continue;
		for (int k = 0; k < STREAM_DRAIN_READS && s->cur != NULL; k++) {
			struct pollfd p = { .fd = s->cur->fd, .events = POLLIN };
			if (poll(&p, 1, 0) <= 0)
				break;
			size_t budget = SIZE_MAX;
			s->stream_ready = 1;
			service_stream(s, &budget);
		}
	}
	for (int i = 0; i < ts->nall; i++) {
		struct tail_source *s = ts->all[i];
		if (s->stream != STREAM_NONE || s->cur == NULL)
			continue;
		size_t budget = SIZE_MAX;
		file_read(s->cur, &budget);
	}
}

/* Number of sources added. */
int
tail_set_count(const struct tail_set *ts)
{
	return ts->n;
}

/* The live counters of a source (owned by the set), NULL if out of range. */
const struct input_status *
tail_set_status(const struct tail_set *ts, int source)
{
	if (source < 0 || source >= ts->n)
		return NULL;
	return ts->src[source]->st;
}

/* The inotify queue overflow counter (owned by the set): the web thread
 * reads it for maillog_inotify_overflows_total. */
const _Atomic uint64_t *
tail_set_overflows(const struct tail_set *ts)
{
	return &ts->overflows;
}

/* Carry the count of a previous run over (--state.file), before the set
 * reads anything, so the counter stays monotonic across restarts. */
void
tail_set_restore_overflows(struct tail_set *ts, uint64_t v)
{
	atomic_store_explicit(&ts->overflows, v, memory_order_relaxed);
}

/* The path as given to tail_set_add (owned by the set), NULL if out of range. */
const char *
tail_set_path(const struct tail_set *ts, int source)
{
	if (source < 0 || source >= ts->n)
		return NULL;
	return ts->src[source]->path;
}

static int
file_position(const struct tail_file *f, struct tail_pos *p)
{
	unsigned char buf[TAIL_POS_HASH_LEN];
	/* Before the parts of a line the envelope is still joining, so a
	 * restart reads the whole line again. */
	uint64_t joining = envelope_pending(&f->env);
	off_t off = f->offset - (off_t)lb_fragment_len(&f->lb) - (off_t)joining;
	size_t n = off < TAIL_POS_HASH_LEN ? (size_t)off : TAIL_POS_HASH_LEN;

	if (n > 0 && pread(f->fd, buf, n, off - (off_t)n) != (ssize_t)n)
		return -1;
	p->dev = (uint64_t)f->dev;
	p->ino = (uint64_t)f->ino;
	p->offset = (uint64_t)off;
	p->hash_len = (uint32_t)n;
	p->hash = fnv1a(buf, n);
	p->skipping = joining > 0 ? 0 : f->lb.skipping;
	return 0;
}

static int
source_positions(const struct tail_source *s, const char *path, struct tail_pos *out, int max)
{
	int n = 0;

	for (const struct tail_file *f = s->old; f != NULL && n < max; f = f->next)
		if (file_position(f, &out[n]) == 0)
			out[n++].path = path;
	if (s->cur != NULL && n < max && file_position(s->cur, &out[n]) == 0)
		out[n++].path = path;
	return n;
}

/* Rotated files first, oldest first, then the current one: the order a
 * restart finishes them in. A file whose hash bytes cannot be read (an I/O
 * error) is left out, and is then read again from 0 or lost on restart. */
int
tail_set_positions(const struct tail_set *ts, int source, struct tail_pos *out, int max)
{
	const struct tail_source *s;
	int n = 0;

	if (source < 0 || source >= ts->n)
		return -1;
	s = ts->src[source];
	if (s->stream != STREAM_NONE)
		return -1;
	if (s->glob == NULL)
		return source_positions(s, NULL, out, max);
	for (int i = 0; i < ts->nall && n < max; i++)
		if (ts->all[i]->parent == s && !ts->all[i]->dead)
			n += source_positions(ts->all[i], ts->all[i]->path, out + n, max - n);
	return n;
}

/* Every file open for source, and for a glob the rotated ones of each of
 * its files: at most two per file but during a burst of rotations, and
 * never more than max_files * (MOVED_MAX + 1) + TAIL_POS_MAX. */
int
tail_set_max_positions(const struct tail_set *ts, int source)
{
	const struct tail_source *s;
	int n = 0;

	if (source < 0 || source >= ts->n)
		return 0;
	s = ts->src[source];
	for (int i = 0; i < ts->nall; i++) {
		const struct tail_source *c = ts->all[i];
		if (c != s && c->parent != s)
			continue;
		n += c->cur != NULL;
		for (const struct tail_file *f = c->old; f != NULL; f = f->next)
			n++;
	}
	return n;
}

const struct input_files *
tail_set_files(const struct tail_set *ts, int source)
{
	if (source < 0 || source >= ts->n || ts->src[source]->glob == NULL)
		return NULL;
	return ts->src[source]->glob->files;
}

int
tail_set_is_glob(const struct tail_set *ts, int source)
{
	return source >= 0 && source < ts->n && ts->src[source]->glob != NULL;
}

void
tail_set_restore_status(struct tail_set *ts, int source, const struct input_status *saved)
{
	struct tail_source *s;
	int state;

	if (source < 0 || source >= ts->n)
		return;
	s = ts->src[source];
	state = atomic_load_explicit(&s->st->state, memory_order_relaxed);
	input_status_copy(s->st, saved);
	atomic_store_explicit(&s->st->state, state, memory_order_relaxed);
}
