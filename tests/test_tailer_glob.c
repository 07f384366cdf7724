/*
 * test_tailer_glob.c - a glob --maillog.path driven directly: discovery,
 * a file followed once whatever names reach it (a symlink, a rotated name
 * the glob matches too), the --maillog.max-files cap, positions of every
 * file resumed, and a watch the kernel refuses with ENOSPC.
 *
 * inotify_add_watch is wrapped (-Wl,--wrap, tests/meson.build) so the last
 * case can refuse watches as a full fs.inotify.max_user_watches does; that
 * limit is system-wide here, so it is not lowered for real.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "daemon/input/tailer.h"

int __real_inotify_add_watch(int fd, const char *path, uint32_t mask);
int __wrap_inotify_add_watch(int fd, const char *path, uint32_t mask);

static int refuse_watches;   /* 1: every watch fails with ENOSPC */

int
__wrap_inotify_add_watch(int fd, const char *path, uint32_t mask)
{
	if (refuse_watches) {
		errno = ENOSPC;
		return -1;
	}
	return __real_inotify_add_watch(fd, path, mask);
}

struct seen {
	unsigned lines;
	char last[256];
};

static void
on_line(void *ctx, const char *line, size_t len, int source)
{
	struct seen *s = ctx;

	(void)source;
	s->lines++;
	snprintf(s->last, sizeof s->last, "%.*s", (int)len, line);
}

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
append(const char *path, const char *tag, int n)
{
	FILE *f = fopen(path, "a");

	assert_non_null(f);
	for (int i = 0; i < n; i++)
		fprintf(f, "%s line %d\n", tag, i);
	fclose(f);
}

static struct tail_set *
new_set(struct seen *s, unsigned max_files)
{
	struct tail_opts o;
	struct tail_set *ts;

	tail_opts_defaults(&o);
	o.from_beginning = 1;
	o.reconcile_ms = 50;
	o.rotate_wait_ms = 100;
	o.max_files = max_files;
	ts = tail_set_new(&o, on_line, s);
	assert_non_null(ts);
	return ts;
}

/* Process until `want` lines, then a while longer, so a line read twice
 * shows. */
static void
run_until(struct tail_set *ts, struct seen *s, unsigned want)
{
	for (int64_t end = now_ms() + 5000; now_ms() < end && s->lines < want;) {
		tail_set_process(ts);
		usleep(2000);
	}
	for (int64_t end = now_ms() + 400; now_ms() < end;) {
		tail_set_process(ts);
		usleep(2000);
	}
	assert_int_equal(s->lines, want);
}

static char dir[64];

static void
path_of(char *out, size_t n, const char *name)
{
	snprintf(out, n, "%s/%s", dir, name);
}

static void
make_dir(void)
{
	snprintf(dir, sizeof dir, "/tmp/test_tailer_glob.XXXXXX");
	assert_non_null(mkdtemp(dir));
}

static void
remove_dir(void)
{
	char cmd[128];

	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

/* A directory level that does not exist yet is waited for; a pattern
 * whose literal directory does not exist is refused. */
static void
test_discovery(void **state)
{
	struct seen s = { 0 };
	char pat[128], p[128], err[256];
	struct tail_set *ts;

	(void)state;
	make_dir();
	ts = new_set(&s, 100);
	snprintf(pat, sizeof pat, "%s/nope/*/mail.log", dir);
	assert_int_equal(tail_set_add(ts, pat, err, sizeof err), -1);
	assert_non_null(strstr(err, "does not exist"));
	snprintf(pat, sizeof pat, "%s/*/mail.log", dir);
	assert_int_equal(tail_set_add(ts, pat, err, sizeof err), 0);
	assert_true(tail_set_is_glob(ts, 0));
	assert_int_equal(atomic_load(&tail_set_status(ts, 0)->state), INPUT_STATE_WAITING);
	path_of(p, sizeof p, "h1");
	assert_int_equal(mkdir(p, 0755), 0);
	path_of(p, sizeof p, "h1/mail.log");
	append(p, "h1", 3);
	path_of(p, sizeof p, "h1/mail.log.1");        /* no match */
	append(p, "x", 5);
	run_until(ts, &s, 3);
	assert_int_equal(atomic_load(&tail_set_status(ts, 0)->files), 1);
	assert_int_equal(atomic_load(&tail_set_status(ts, 0)->state), INPUT_STATE_FOLLOWING);
	/* Deleted: drained and dropped. */
	path_of(p, sizeof p, "h1/mail.log");
	append(p, "h1", 2);
	assert_int_equal(unlink(p), 0);
	run_until(ts, &s, 5);
	for (int64_t end = now_ms() + 3000; now_ms() < end &&
	    atomic_load(&tail_set_status(ts, 0)->files) != 0;) {
		tail_set_process(ts);
		usleep(2000);
	}
	assert_int_equal(atomic_load(&tail_set_status(ts, 0)->files), 0);
	tail_set_free(ts);
	remove_dir();
}

/* One inode, three names: the file, a symlink to it, and after a rename
 * its rotated name; every one matches. Each line is counted once, and
 * the rotated file goes on from where it was read to. */
static void
test_dedupe_and_rotated_names(void **state)
{
	struct seen s = { 0 };
	char pat[128], log[128], link[128], rot[128], err[256];
	struct tail_set *ts;

	(void)state;
	make_dir();
	path_of(log, sizeof log, "mail.log");
	path_of(link, sizeof link, "mail.log.link");
	path_of(rot, sizeof rot, "mail.log.1");
	append(log, "a", 4);
	assert_int_equal(symlink(log, link), 0);
	ts = new_set(&s, 100);
	snprintf(pat, sizeof pat, "%s/mail.log*", dir);
	assert_int_equal(tail_set_add(ts, pat, err, sizeof err), 0);
	run_until(ts, &s, 4);
	assert_int_equal(atomic_load(&tail_set_status(ts, 0)->files), 1);
	assert_int_equal(rename(log, rot), 0);
	append(rot, "b", 2);
	append(log, "c", 3);
	run_until(ts, &s, 9);
	/* Past rotate_wait the rotated file is followed as mail.log.1. */
	for (int64_t end = now_ms() + 1000; now_ms() < end;) {
		tail_set_process(ts);
		usleep(2000);
	}
	append(rot, "d", 1);
	run_until(ts, &s, 10);
	assert_string_equal(s.last, "d line 0");

	/* Its position is saved once, under the name it is followed by. */
	struct tail_pos pos[16];
	int n = tail_set_positions(ts, 0, pos, 16);
	assert_true(n >= 2 && n <= tail_set_max_positions(ts, 0));
	int with_rot = 0;
	for (int i = 0; i < n; i++) {
		assert_non_null(pos[i].path);
		with_rot += strcmp(pos[i].path, rot) == 0;
	}
	assert_int_equal(with_rot, 1);
	tail_set_free(ts);
	remove_dir();
}

/* Past max_files: the rest are left out and counted; when one goes away,
 * the next is followed from its start. */
static void
test_cap(void **state)
{
	struct seen s = { 0 };
	char pat[128], p[128], err[256];
	struct tail_set *ts;

	(void)state;
	make_dir();
	for (int i = 0; i < 4; i++) {
		char name[16];
		snprintf(name, sizeof name, "f%d.log", i);
		path_of(p, sizeof p, name);
		append(p, name, 2);
	}
	ts = new_set(&s, 3);
	snprintf(pat, sizeof pat, "%s/f?.log", dir);
	assert_int_equal(tail_set_add(ts, pat, err, sizeof err), 0);
	run_until(ts, &s, 6);
	assert_int_equal(atomic_load(&tail_set_status(ts, 0)->files), 3);
	assert_int_equal(atomic_load(&tail_set_status(ts, 0)->files_left_out), 1);
	path_of(p, sizeof p, "f0.log");
	assert_int_equal(unlink(p), 0);
	run_until(ts, &s, 8);
	assert_int_equal(atomic_load(&tail_set_status(ts, 0)->files_left_out), 0);
	tail_set_free(ts);
	remove_dir();
}

/* Positions of several files, then a restart: each resumes where it was;
 * a file new since is read whole. */
static void
test_resume(void **state)
{
	struct seen s = { 0 };
	char pat[128], p[128], err[256];
	struct tail_set *ts;
	struct tail_pos pos[8];
	char paths[8][128];
	int n;

	(void)state;
	make_dir();
	for (int i = 0; i < 3; i++) {
		char name[16];
		snprintf(name, sizeof name, "f%d.log", i);
		path_of(p, sizeof p, name);
		append(p, name, 2 + i);
	}
	ts = new_set(&s, 10);
	snprintf(pat, sizeof pat, "%s/f*.log", dir);
	assert_int_equal(tail_set_add(ts, pat, err, sizeof err), 0);
	run_until(ts, &s, 2 + 3 + 4);
	n = tail_set_positions(ts, 0, pos, 8);
	assert_int_equal(n, 3);
	for (int i = 0; i < n; i++) {
		snprintf(paths[i], sizeof paths[i], "%s", pos[i].path);
		pos[i].path = paths[i];
	}
	tail_set_free(ts);

	path_of(p, sizeof p, "f1.log");
	append(p, "more", 5);
	path_of(p, sizeof p, "f9.log");
	append(p, "new", 7);
	s.lines = 0;
	ts = new_set(&s, 10);
	assert_int_equal(tail_set_add_resume(ts, pat, pos, n, err, sizeof err), 0);
	run_until(ts, &s, 5 + 7);
	tail_set_free(ts);
	remove_dir();
}

/* Every watch refused with ENOSPC: the warning names the limit and its
 * current value, and the files are still found and read, by the
 * reconcile. */
static void
test_enospc(void **state)
{
	struct seen s = { 0 };
	char pat[128], p[128], err[256], limit[32], want[96];
	char logpath[] = "/tmp/test_tailer_glob_log.XXXXXX";
	struct tail_set *ts;
	int saved, lfd;

	(void)state;
	make_dir();
	tail_watch_limit(limit, sizeof limit);
	assert_string_not_equal(limit, "unknown");
	lfd = mkstemp(logpath);
	assert_true(lfd >= 0);
	saved = dup(STDERR_FILENO);
	assert_int_equal(dup2(lfd, STDERR_FILENO), STDERR_FILENO);

	refuse_watches = 1;
	ts = new_set(&s, 10);
	snprintf(pat, sizeof pat, "%s/*/mail.log", dir);
	assert_int_equal(tail_set_add(ts, pat, err, sizeof err), 0);
	path_of(p, sizeof p, "h");
	assert_int_equal(mkdir(p, 0755), 0);
	path_of(p, sizeof p, "h/mail.log");
	append(p, "h", 3);
	run_until(ts, &s, 3);
	append(p, "h", 2);
	run_until(ts, &s, 5);
	tail_set_free(ts);
	refuse_watches = 0;

	fflush(stderr);
	assert_int_equal(dup2(saved, STDERR_FILENO), STDERR_FILENO);
	close(saved);
	char text[8192] = "";
	ssize_t got = pread(lfd, text, sizeof text - 1, 0);
	assert_true(got > 0);
	text[got] = '\0';
	close(lfd);
	unlink(logpath);
	snprintf(want, sizeof want, "fs.inotify.max_user_watches = %s", limit);
	assert_non_null(strstr(text, want));
	remove_dir();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_discovery),
		cmocka_unit_test(test_dedupe_and_rotated_names),
		cmocka_unit_test(test_cap),
		cmocka_unit_test(test_resume),
		cmocka_unit_test(test_enospc),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
