/*
 * queue.c - the queue collector thread and its published snapshot.
 *
 * Threads: the collector writes q->work, then copies it into q->pub under
 * q->mu; the web thread copies q->pub out under q->mu. The lock is held
 * for a memcpy of a few KiB, never across I/O, so a showq that hangs
 * delays nothing but the next snapshot (and that by QUEUE_TIMEOUT_MS at
 * most). Shutdown writes to a pipe the collector polls alongside every
 * socket and child it waits for.
 */
#include "daemon/queue/queue.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util/log.h"
#include "daemon/queue/spool.h"
#include "util/monoclock.h"

extern char **environ;

struct queue {
	struct queue_opts o;
	pthread_t thread;
	int running;
	int stop_pipe[2];
	_Atomic int stop;
	struct queue_board *board;       /* where snapshots are published; not owned */
	struct queue_snapshot work;      /* the collector's own */
	int present[QUEUE_NMTAS];        /* auto: found once, collected from then on */
	char exim_path[PATH_MAX];        /* resolved --exim.binary, "" if none */
	char last_err[QUEUE_NMTAS][QUEUE_NMETHODS][256];
};

void
queue_opts_defaults(struct queue_opts *o)
{
	memset(o, 0, sizeof *o);
	o->interval_s = QUEUE_DEFAULT_INTERVAL;
	o->select = QUEUE_SEL_AUTO;
	o->showq_path = QUEUE_DEFAULT_SHOWQ;
	o->postfix_dir = QUEUE_DEFAULT_POSTFIX_DIR;
	o->exim_spool = QUEUE_DEFAULT_EXIM_SPOOL;
	o->timeout_ms = QUEUE_TIMEOUT_MS;
}

static double
wall_now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_REALTIME, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Does path exist? EACCES counts: Postfix's public/ is group postdrop
 * only, and a socket there that we cannot see still means Postfix. */
static int
exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0 || errno == EACCES;
}

/* Find an executable: a name with a '/' as given, else in $PATH. */
static int
find_executable(const char *name, char *out, size_t outlen)
{
	const char *path = getenv("PATH");

	if (strchr(name, '/') != NULL) {
		snprintf(out, outlen, "%s", name);
		if (access(out, X_OK) == 0)
			return 0;
		out[0] = '\0';
		return -1;
	}
	if (path == NULL || *path == '\0')
		path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	while (*path) {
		const char *end = strchr(path, ':');
		size_t n = end ? (size_t)(end - path) : strlen(path);
		if (n > 0 && (size_t)snprintf(out, outlen, "%.*s/%s", (int)n, path, name) < outlen &&
		    access(out, X_OK) == 0)
			return 0;
		path += n + (end != NULL);
	}
	out[0] = '\0';
	return -1;
}

/* Printable excerpt of a child's output for a message. */
static void
excerpt(char *dst, size_t dstlen, const char *src, size_t n)
{
	size_t j = 0;

	for (size_t i = 0; i < n && j + 1 < dstlen && j < 120; i++)
		dst[j++] = (src[i] >= 0x20 && src[i] < 0x7f) ? src[i] : ' ';
	while (j > 0 && dst[j - 1] == ' ')
		j--;
	dst[j] = '\0';
}

/* Reap pid, waiting until deadline, then SIGKILL it. Returns its status. */
static int
reap(pid_t pid, int64_t deadline, int *killed)
{
	int status = 0;

	*killed = 0;
	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid || (r < 0 && errno != EINTR))
			return status;
		if (mono_ms() >= deadline && !*killed) {
			kill(pid, SIGKILL);
			*killed = 1;
			waitpid(pid, &status, 0);
			return status;
		}
		struct timespec ts = { 0, 10 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
}

int
queue_exim_bpc(const char *binary, int timeout_ms, int stop_fd, uint64_t *count,
    char *err, size_t errlen)
{
	char *const argv[] = { (char *)binary, (char *)"-bpc", NULL };
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, dflt;
	int64_t deadline = mono_ms() + timeout_ms;
	char out[256], shown[128];
	size_t got = 0;
	int pfd[2], rc, killed, stopped = 0;
	pid_t pid;

	if (pipe2(pfd, O_CLOEXEC) < 0) {
		snprintf(err, errlen, "exim -bpc: pipe: %s", strerror(errno));
		return -1;
	}
	/* The daemon blocks SIGTERM and friends and ignores SIGPIPE; exim
	 * must start with neither. */
	sigemptyset(&none);
	sigemptyset(&dflt);
	sigaddset(&dflt, SIGPIPE);
	posix_spawnattr_init(&attr);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &dflt);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, pfd[1], 1);
	posix_spawn_file_actions_adddup2(&fa, pfd[1], 2);
	rc = posix_spawn(&pid, binary, &fa, &attr, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	close(pfd[1]);
	if (rc != 0) {
		close(pfd[0]);
		snprintf(err, errlen, "%.200s -bpc: %s", binary, strerror(rc));
		return -1;
	}
	/* Read until EOF, the deadline or shutdown; keep the first bytes. */
	for (;;) {
		struct pollfd p[2] = { { .fd = pfd[0], .events = POLLIN },
		                       { .fd = stop_fd, .events = POLLIN } };
		int64_t left = deadline - mono_ms();
		if (left <= 0)
			break;
		int n = poll(p, 2, (int)left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || p[1].revents) {
			stopped = 1;
			break;
		}
		if (p[0].revents == 0)
			continue;
		char tmp[512];
		ssize_t r = read(pfd[0], tmp, sizeof tmp);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		size_t keep = (size_t)r < sizeof out - 1 - got ? (size_t)r : sizeof out - 1 - got;
		memcpy(out + got, tmp, keep);
		got += keep;
	}
	close(pfd[0]);
	int status = reap(pid, stopped ? 0 : deadline, &killed);
	out[got] = '\0';
	excerpt(shown, sizeof shown, out, got);
	if (killed) {
		snprintf(err, errlen, "%.200s -bpc: %s", binary, stopped ?
		    "abandoned at shutdown" : "no answer in time; killed");
		return -1;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		snprintf(err, errlen, "%.200s -bpc: exit status %d: %s", binary,
		    WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), shown);
		return -1;
	}
	/* The whole output must be one number (and a newline). */
	size_t n = got;
	while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == ' ' || out[n - 1] == '\r'))
		n--;
	uint64_t v = 0;
	size_t i = 0;
	for (; i < n && i < 18 && out[i] >= '0' && out[i] <= '9'; i++)
		v = v * 10 + (uint64_t)(out[i] - '0');
	if (n == 0 || i != n) {
		snprintf(err, errlen, "%.200s -bpc: not a message count: '%s'", binary, shown);
		return -1;
	}
	*count = v;
	return 0;
}

/* Log a method's failure when it changes, and its recovery once. */
static void
note(struct queue *q, enum queue_mta m, enum queue_method meth, int ok, const char *err)
{
	char *last = q->last_err[m][meth];

	q->work.success[m][meth] = (signed char)ok;
	if (ok) {
		if (last[0])
			log_info("queue: %s %s works again", queue_mta_name(m), queue_method_name(meth));
		last[0] = '\0';
	} else if (strcmp(last, err) != 0) {
		log_warnx("queue: %s %s failed (maillog_queue_collect_success is 0): %s",
		    queue_mta_name(m), queue_method_name(meth), err);
		snprintf(last, sizeof q->last_err[0][0], "%s", err);
	}
}

static void
collect_postfix(struct queue *q)
{
	static const enum showq_queue walked[] = {
		SHOWQ_Q_INCOMING, SHOWQ_Q_ACTIVE, SHOWQ_Q_DEFERRED, SHOWQ_Q_HOLD, SHOWQ_Q_MAILDROP,
	};
	struct showq_stats st;
	char err[512];
	double now = wall_now();
	int r = showq_collect(q->o.showq_path, q->o.timeout_ms, q->stop_pipe[0], (int64_t)now,
	    &st, err, sizeof err);

	note(q, QUEUE_MTA_POSTFIX, QUEUE_M_SHOWQ, r == 0, err);
	if (r == 0) {
		q->work.postfix = st;
		q->work.postfix_hist = 1;
	} else if (r == SHOWQ_UNREACHABLE) {
		int ok = 1;
		memset(&st, 0, sizeof st);
		for (size_t i = 0; ok && i < sizeof walked / sizeof walked[0]; i++)
			ok = spool_count_files(q->o.postfix_dir, showq_queue_name(walked[i]),
			    &q->stop, &st.messages[walked[i]], err, sizeof err) == 0;
		note(q, QUEUE_MTA_POSTFIX, QUEUE_M_SPOOL, ok, err);
		if (ok) {
			r = 0;
			q->work.postfix = st;
			q->work.postfix_hist = 0;   /* ages and sizes only come from showq */
		}
	}
	if (r == 0) {
		q->work.have[QUEUE_MTA_POSTFIX] = 1;
		q->work.timestamp[QUEUE_MTA_POSTFIX] = now;
	}
}

static void
collect_exim(struct queue *q)
{
	char err[512];
	uint64_t n = 0, messages = 0, frozen = 0;
	double now = wall_now();
	int bpc = -1, spool;

	if (q->exim_path[0]) {
		bpc = queue_exim_bpc(q->exim_path, q->o.timeout_ms, q->stop_pipe[0], &n, err,
		    sizeof err);
		note(q, QUEUE_MTA_EXIM, QUEUE_M_EXIM_BPC, bpc == 0, err);
	}
	spool = spool_count_exim(q->o.exim_spool, &q->stop, &messages, &frozen, err, sizeof err);
	note(q, QUEUE_MTA_EXIM, QUEUE_M_SPOOL, spool == 0, err);
	if (spool == 0) {
		q->work.exim_frozen = frozen;
		q->work.exim_have_frozen = 1;
	}
	if (bpc == 0 || spool == 0) {
		q->work.exim_messages = bpc == 0 ? n : messages;
		q->work.have[QUEUE_MTA_EXIM] = 1;
		q->work.timestamp[QUEUE_MTA_EXIM] = now;
	}
}

/* Which MTAs to collect now: the one chosen, or in auto mode each whose
 * socket, queue directory or spool exists (once seen, always). */
static void
detect(struct queue *q)
{
	if (q->o.select == QUEUE_SEL_POSTFIX || q->o.select == QUEUE_SEL_EXIM) {
		q->present[QUEUE_MTA_POSTFIX] = q->o.select == QUEUE_SEL_POSTFIX;
		q->present[QUEUE_MTA_EXIM] = q->o.select == QUEUE_SEL_EXIM;
		return;
	}
	if (!q->present[QUEUE_MTA_POSTFIX] &&
	    (exists(q->o.showq_path) || exists(q->o.postfix_dir))) {
		q->present[QUEUE_MTA_POSTFIX] = 1;
		log_info("queue: collecting Postfix's queue sizes every %us", q->o.interval_s);
	}
	if (!q->present[QUEUE_MTA_EXIM] && exists(q->o.exim_spool)) {
		q->present[QUEUE_MTA_EXIM] = 1;
		log_info("queue: collecting Exim's queue sizes every %us", q->o.interval_s);
	}
}

static void
publish(struct queue *q)
{
	queue_board_publish(q->board, &q->work);
}

static void *
run(void *arg)
{
	struct queue *q = arg;

	/* Resolved once, after the privilege drop: never spawn an exim that
	 * is not installed. */
	if (find_executable(q->o.exim_binary ? q->o.exim_binary : "exim4", q->exim_path,
	    sizeof q->exim_path) < 0 && q->o.exim_binary == NULL)
		find_executable("exim", q->exim_path, sizeof q->exim_path);
	while (!q->stop) {
		detect(q);
		for (int m = 0; m < QUEUE_NMTAS && !q->stop; m++) {
			if (!q->present[m])
				continue;
			int64_t t0 = mono_ms();
			if (m == QUEUE_MTA_POSTFIX)
				collect_postfix(q);
			else
				collect_exim(q);
			q->work.duration[m] = (double)(mono_ms() - t0) / 1000.0;
			publish(q);
		}
		struct pollfd p = { .fd = q->stop_pipe[0], .events = POLLIN };
		int64_t until = mono_ms() + (int64_t)q->o.interval_s * 1000;
		while (!q->stop && mono_ms() < until)
			if (poll(&p, 1, (int)(until - mono_ms())) > 0)
				break;
	}
	return NULL;
}

struct queue *
queue_new(const struct queue_opts *o, struct queue_board *board)
{
	struct queue *q = calloc(1, sizeof *q);

	if (q == NULL)
		return NULL;
	q->o = *o;
	q->board = board;
	queue_snapshot_init(&q->work);
	q->stop_pipe[0] = q->stop_pipe[1] = -1;
	return q;
}

int
queue_start(struct queue *q, char *err, size_t errlen)
{
	if (q->o.interval_s == 0 || q->o.select == QUEUE_SEL_NONE || q->running)
		return 0;
	if (pipe2(q->stop_pipe, O_CLOEXEC) < 0) {
		snprintf(err, errlen, "queue collector: pipe: %s", strerror(errno));
		return -1;
	}
	int rc = pthread_create(&q->thread, NULL, run, q);
	if (rc != 0) {
		snprintf(err, errlen, "queue collector: pthread_create: %s", strerror(rc));
		return -1;
	}
	q->running = 1;
	return 0;
}

void
queue_free(struct queue *q)
{
	if (q == NULL)
		return;
	if (q->running) {
		q->stop = 1;
		if (write(q->stop_pipe[1], "x", 1) < 0)
			log_warn("queue collector: waking it to stop");
		pthread_join(q->thread, NULL);
	}
	for (int i = 0; i < 2; i++)
		if (q->stop_pipe[i] >= 0)
			close(q->stop_pipe[i]);
	free(q);
}
