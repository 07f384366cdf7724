/*
 * test_tailer.c - drive a struct tail_set in a temporary directory through
 * every rotation style, counting lines exactly: each test line carries a
 * unique id, and a line seen twice or never is a failure.
 *
 * The reconcile timer is set to a minute in most tests, so they pass only
 * if inotify events alone drive the tailer.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/log.h"
#include "daemon/input/tailer.h"

#define MAX_ID 200000

struct seen {
	unsigned char id[MAX_ID];
	uint64_t total;
	uint64_t dups;
	uint64_t junk;
	int last_source;
	unsigned hook_at;           /* call hook once, right after this line */
	void (*hook)(void *arg);
	void *hook_arg;
};

struct fixture {
	char dir[64];
	char path[128];
	struct seen *seen;
	struct tail_set *ts;
	struct tail_opts o;
};

static void
on_line(void *ctx, const char *line, size_t len, int source)
{
	struct seen *s = ctx;
	char tmp[64];
	unsigned id;

	s->last_source = source;
	if (len >= sizeof tmp || len < 6 || memcmp(line, "line ", 5) != 0) {
		s->junk++;
		return;
	}
	memcpy(tmp, line, len);
	tmp[len] = '\0';
	if (sscanf(tmp + 5, "%u", &id) != 1 || id >= MAX_ID) {
		s->junk++;
		return;
	}
	if (s->id[id])
		s->dups++;
	s->id[id] = 1;
	s->total++;
	if (s->hook != NULL && id == s->hook_at) {
		void (*hook)(void *) = s->hook;
		s->hook = NULL;
		hook(s->hook_arg);
	}
}

static int64_t
now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* One turn of a caller's event loop, waiting at most max_wait ms. */
static void
step(struct tail_set *ts, int max_wait)
{
	struct pollfd p = { .fd = tail_set_fd(ts), .events = POLLIN };
	int t = tail_set_timeout_ms(ts);

	if (t < 0 || t > max_wait)
		t = max_wait;
	poll(&p, 1, t);
	tail_set_process(ts);
}

static void
pump(struct tail_set *ts, int ms)
{
	int64_t end = now_ms() + ms;
	while (now_ms() < end)
		step(ts, 20);
}

/* Run until `want` lines were seen (or 5 s passed), then 150 ms more so a
 * line delivered twice would show up. */
static void
expect_total(struct fixture *f, uint64_t want)
{
	int64_t end = now_ms() + 5000;
	while (f->seen->total < want && now_ms() < end)
		step(f->ts, 50);
	pump(f->ts, 150);
	assert_int_equal(f->seen->dups, 0);
	assert_int_equal(f->seen->junk, 0);
	assert_int_equal(f->seen->total, want);
}

static void
assert_ids(const struct seen *s, unsigned from, unsigned to)
{
	for (unsigned i = from; i < to; i++) {
		if (!s->id[i])
			fail_msg("line %u never seen", i);
	}
}

static void
write_lines(int fd, unsigned from, unsigned to)
{
	char buf[64];
	for (unsigned i = from; i < to; i++) {
		int n = snprintf(buf, sizeof buf, "line %u\n", i);
		assert_int_equal(write(fd, buf, (size_t)n), n);
	}
}

static int
open_append(const char *path)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	return fd;
}

static void
append_lines(const char *path, unsigned from, unsigned to)
{
	int fd = open_append(path);
	write_lines(fd, from, to);
	close(fd);
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);

	if (f == NULL || (f->seen = calloc(1, sizeof *f->seen)) == NULL)
		return -1;
	strcpy(f->dir, "/tmp/test_tailer.XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(f->path, sizeof f->path, "%s/mail.log", f->dir);
	tail_opts_defaults(&f->o);
	f->o.from_beginning = 1;
	f->o.reconcile_ms = 60000;
	f->o.rotate_wait_ms = 400;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	tail_set_free(f->ts);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f->seen);
	free(f);
	return 0;
}

static int
start(struct fixture *f, const char *path)
{
	char err[256] = "";
	int idx;

	f->ts = tail_set_new(&f->o, on_line, f->seen);
	assert_non_null(f->ts);
	idx = tail_set_add(f->ts, path, err, sizeof err);
	if (idx < 0)
		fail_msg("tail_set_add: %s", err);
	return idx;
}

static uint64_t
counter(struct fixture *f, const _Atomic uint64_t *c)
{
	(void)f;
	return atomic_load(c);
}

static const struct input_status *
status(struct fixture *f)
{
	return tail_set_status(f->ts, 0);
}

static void
test_append_partial(void **state)
{
	struct fixture *f = *state;

	append_lines(f->path, 0, 3);
	assert_int_equal(start(f, f->path), 0);
	expect_total(f, 3);
	assert_int_equal(atomic_load(&status(f)->state), INPUT_STATE_FOLLOWING);

	int fd = open_append(f->path);
	assert_int_equal(write(fd, "line 3", 6), 6);
	expect_total(f, 3);
	assert_int_equal(write(fd, "\r\nline 4\n\nline 5\n", 17), 17);
	expect_total(f, 6);
	close(fd);
	assert_ids(f->seen, 0, 6);
	assert_int_equal(counter(f, &status(f)->lines), 6);
	assert_true(atomic_load(&status(f)->last_read_unix) > 0);
	assert_string_equal(tail_set_path(f->ts, 0), f->path);
	assert_int_equal(tail_set_count(f->ts), 1);
}

static void
test_from_end(void **state)
{
	struct fixture *f = *state;
	int fd;

	f->o.from_beginning = 0;
	append_lines(f->path, 0, 5);
	fd = open_append(f->path);
	assert_int_equal(write(fd, "line 5", 6), 6);
	start(f, f->path);
	expect_total(f, 0);
	/* the line in progress at start is read whole once finished */
	assert_int_equal(write(fd, "\nline 6\n", 8), 8);
	expect_total(f, 2);
	assert_ids(f->seen, 5, 7);
	close(fd);
}

static void
test_rename_create_writer_on_both(void **state)
{
	struct fixture *f = *state;
	char old[160];
	int a, b;

	snprintf(old, sizeof old, "%s.1", f->path);
	a = open_append(f->path);
	write_lines(a, 0, 10);
	start(f, f->path);
	expect_total(f, 10);

	assert_int_equal(rename(f->path, old), 0);
	b = open_append(f->path);
	for (unsigned i = 10; i < 50; i += 2) {
		write_lines(a, i, i + 1);
		write_lines(b, i + 1, i + 2);
		if (i % 10 == 0)
			step(f->ts, 0);
	}
	expect_total(f, 50);
	assert_int_equal(atomic_load(&status(f)->rotations), 1);
	/* past rotate_wait the old file is closed; the new one still followed */
	pump(f->ts, (int)f->o.rotate_wait_ms + 100);
	write_lines(b, 50, 55);
	expect_total(f, 55);
	assert_ids(f->seen, 0, 55);
	assert_int_equal(atomic_load(&status(f)->dropped_fragments), 0);
	close(a);
	close(b);
}

static void
test_copytruncate(void **state)
{
	struct fixture *f = *state;

	append_lines(f->path, 0, 20);
	start(f, f->path);
	expect_total(f, 20);

	/* O_APPEND writer: the file restarts at 0 */
	assert_int_equal(truncate(f->path, 0), 0);
	pump(f->ts, 50);
	append_lines(f->path, 20, 25);
	expect_total(f, 25);
	assert_int_equal(atomic_load(&status(f)->truncations), 1);

	/* truncated and regrown past our offset before we look: the marker */
	assert_int_equal(truncate(f->path, 0), 0);
	append_lines(f->path, 1000, 1040);
	expect_total(f, 65);
	assert_ids(f->seen, 1000, 1040);
	assert_int_equal(atomic_load(&status(f)->truncations), 2);
}

/*
 * Truncated and regrown past our offset before we look, with the bytes
 * just before the offset the same as before: Postfix lines end alike
 * ("... (in reply to RCPT TO command))"), and lines of one length put a
 * line end exactly where the old one was. Only a marker longer than that
 * common tail tells the new content from the old; a 32-byte one lost the
 * new lines before the offset (1 torture run in 25).
 */
static void
test_copytruncate_same_tail(void **state)
{
	struct fixture *f = *state;
	const char *tail = ": said 550 5.1.1 (in reply to RCPT TO command))\n";
	char buf[64];
	int w;

	w = open_append(f->path);
	for (unsigned i = 10; i < 30; i++) {
		int n = snprintf(buf, sizeof buf, "line %u%s", i, tail);
		assert_int_equal(write(w, buf, (size_t)n), n);
	}
	start(f, f->path);
	expect_total(f, 20);

	/* the same number of lines of the same length, then more: the
	 * tailer does not run between the truncate and the regrowth */
	assert_int_equal(ftruncate(w, 0), 0);
	for (unsigned i = 40; i < 65; i++) {
		int n = snprintf(buf, sizeof buf, "line %u%s", i, tail);
		assert_int_equal(write(w, buf, (size_t)n), n);
	}
	expect_total(f, 45);
	assert_ids(f->seen, 40, 65);
	assert_int_equal(atomic_load(&status(f)->truncations), 1);
	close(w);
}

static void
test_copytruncate_no_append(void **state)
{
	struct fixture *f = *state;
	int w;

	/* a writer without O_APPEND keeps its offset: a NUL hole, then lines */
	w = open(f->path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	assert_true(w >= 0);
	write_lines(w, 0, 10);
	start(f, f->path);
	expect_total(f, 10);
	assert_int_equal(truncate(f->path, 0), 0);
	pump(f->ts, 50);
	write_lines(w, 10, 13);
	expect_total(f, 13);
	assert_int_equal(atomic_load(&status(f)->truncations), 1);
	assert_int_equal(atomic_load(&status(f)->overlong), 0);
	close(w);
}

static void
test_delete_recreate(void **state)
{
	struct fixture *f = *state;
	int a;

	a = open_append(f->path);
	write_lines(a, 0, 10);
	start(f, f->path);
	expect_total(f, 10);

	assert_int_equal(unlink(f->path), 0);
	write_lines(a, 10, 13);   /* the writer has not reopened yet */
	pump(f->ts, 30);
	assert_int_equal(atomic_load(&status(f)->state), INPUT_STATE_WAITING);
	append_lines(f->path, 13, 20);
	write_lines(a, 20, 22);
	expect_total(f, 22);
	assert_ids(f->seen, 0, 22);
	assert_int_equal(atomic_load(&status(f)->state), INPUT_STATE_FOLLOWING);
	assert_int_equal(atomic_load(&status(f)->rotations), 1);
	close(a);
	pump(f->ts, (int)f->o.rotate_wait_ms + 100);
	append_lines(f->path, 22, 25);
	expect_total(f, 25);
}

static void
test_symlink_repoint(void **state)
{
	struct fixture *f = *state;
	char tdir[128], a[160], b[160], b1[160], tmp[160];
	int wa;

	snprintf(tdir, sizeof tdir, "%s/targets", f->dir);
	assert_int_equal(mkdir(tdir, 0755), 0);
	snprintf(a, sizeof a, "%s/a.log", tdir);
	snprintf(b, sizeof b, "%s/b.log", tdir);
	snprintf(b1, sizeof b1, "%s/b.log.1", tdir);
	snprintf(tmp, sizeof tmp, "%s/mail.log.tmp", f->dir);

	wa = open_append(a);
	write_lines(wa, 0, 5);
	assert_int_equal(symlink("targets/a.log", f->path), 0);
	start(f, f->path);
	expect_total(f, 5);

	/* repoint atomically, as `ln -sfn` does: a new link renamed over */
	append_lines(b, 5, 10);
	assert_int_equal(symlink("targets/b.log", tmp), 0);
	assert_int_equal(rename(tmp, f->path), 0);
	write_lines(wa, 10, 12); /* the old target is still drained */
	expect_total(f, 12);
	assert_int_equal(atomic_load(&status(f)->rotations), 1);

	/* the target itself rotates in its own directory */
	assert_int_equal(rename(b, b1), 0);
	append_lines(b, 12, 20);
	expect_total(f, 20);

	/* a broken link is waited for */
	assert_int_equal(unlink(b), 0);
	pump(f->ts, 50);
	assert_int_equal(atomic_load(&status(f)->state), INPUT_STATE_WAITING);
	append_lines(b, 20, 25);
	expect_total(f, 25);
	assert_ids(f->seen, 0, 25);
	close(wa);
}

/*
 * The rotation that comes while the tailer is draining the file it held.
 * Nothing runs the tailer between the writes and the first rotation (as
 * when it was stopped, or an inotify overflow hid the events), so the turn
 * that notices the new file must first drain the old one; the second
 * rotation happens from the line callback in the middle of that drain,
 * deterministically inside the window:
 * 1. the tailer holds A with lines 10..19 unread;
 * 2. rotation 1 puts B (lines 20..29) at the name;
 * 3. the tailer sees B, then reads A; at line 15,
 * 4. rotation 2 replaces B with C (lines 30..39).
 * B was seen before rotation 2, so it must be read: the tailer holds it
 * from the moment it saw it, not from when it finished draining A.
 */
struct swap {
	struct fixture *f;
	int as_link;             /* 1: repoint a link; 0: delete and recreate */
	int wb;                  /* the writer's fd of B, kept open to the end */
};

static void
put_at_name(struct fixture *f, int as_link, const char *target_base)
{
	char target[160], tmp[160], rel[64];

	if (!as_link) {
		assert_int_equal(unlink(f->path), 0);
		return;
	}
	snprintf(target, sizeof target, "%s/%s", f->dir, target_base);
	snprintf(tmp, sizeof tmp, "%s.tmp", f->path);
	snprintf(rel, sizeof rel, "%s", target_base);
	close(open_append(target));
	assert_int_equal(symlink(rel, tmp), 0);
	assert_int_equal(rename(tmp, f->path), 0);
}

static void
second_rotation(void *arg)
{
	struct swap *w = arg;

	put_at_name(w->f, w->as_link, "c.log");
	append_lines(w->f->path, 30, 40);
}

static void
rotate_twice_while_draining(struct fixture *f, int as_link)
{
	struct swap w = { .f = f, .as_link = as_link };
	char a[160];
	int wa;

	snprintf(a, sizeof a, "%s/a.log", f->dir);
	wa = open_append(as_link ? a : f->path);
	if (as_link)
		assert_int_equal(symlink("a.log", f->path), 0);
	write_lines(wa, 0, 10);
	start(f, f->path);
	expect_total(f, 10);

	write_lines(wa, 10, 20);
	put_at_name(f, as_link, "b.log");
	w.wb = open_append(f->path);
	write_lines(w.wb, 20, 30);
	f->seen->hook_at = 15;
	f->seen->hook = second_rotation;
	f->seen->hook_arg = &w;

	expect_total(f, 40);
	assert_null(f->seen->hook);
	assert_ids(f->seen, 0, 40);
	assert_int_equal(atomic_load(&status(f)->rotations), 2);
	close(wa);
	close(w.wb);
}

static void
test_delete_twice_while_draining(void **state)
{
	rotate_twice_while_draining(*state, 0);
}

static void
test_symlink_twice_while_draining(void **state)
{
	rotate_twice_while_draining(*state, 1);
}

static void
test_absent_at_start(void **state)
{
	struct fixture *f = *state;
	char err[256] = "", bad[160];

	f->o.from_beginning = 0;
	start(f, f->path);
	assert_int_equal(atomic_load(&status(f)->state), INPUT_STATE_WAITING);
	pump(f->ts, 30);
	/* created later: read from 0 even with start=end */
	append_lines(f->path, 0, 7);
	expect_total(f, 7);
	assert_int_equal(atomic_load(&status(f)->state), INPUT_STATE_FOLLOWING);

	snprintf(bad, sizeof bad, "%s/no/such/dir/mail.log", f->dir);
	assert_int_equal(tail_set_add(f->ts, bad, err, sizeof err), -1);
	assert_non_null(strstr(err, "does not exist"));
	assert_int_equal(tail_set_add(f->ts, f->dir, err, sizeof err), -1);
	assert_non_null(strstr(err, "directory"));
}

static void
test_error_then_regular(void **state)
{
	struct fixture *f = *state;

	/* a FIFO at the path cannot be followed: state ERROR, never exits */
	assert_int_equal(mkfifo(f->path, 0644), 0);
	start(f, f->path);
	assert_int_equal(atomic_load(&status(f)->state), INPUT_STATE_ERROR);
	assert_true(atomic_load(&status(f)->open_errors) >= 1);
	pump(f->ts, 30);
	/* replaced by a regular file: picked up by the directory watch */
	assert_int_equal(unlink(f->path), 0);
	append_lines(f->path, 0, 4);
	expect_total(f, 4);
	assert_int_equal(atomic_load(&status(f)->state), INPUT_STATE_FOLLOWING);
}

static void
test_stdin_pipe(void **state)
{
	struct fixture *f = *state;
	int p[2], saved;

	assert_int_equal(pipe(p), 0);
	saved = dup(STDIN_FILENO);
	assert_true(saved >= 0);
	assert_int_equal(dup2(p[0], STDIN_FILENO), STDIN_FILENO);
	close(p[0]);
	start(f, "-");
	write_lines(p[1], 0, 10);
	expect_total(f, 10);
	assert_int_equal(write(p[1], "line 10\nline 1", 14), 14);
	expect_total(f, 11);
	close(p[1]);
	pump(f->ts, 100);
	assert_int_equal(atomic_load(&status(f)->state), INPUT_STATE_EOF);
	assert_int_equal(atomic_load(&status(f)->dropped_fragments), 1);
	assert_int_equal(f->seen->total, 11);
	tail_set_free(f->ts);
	f->ts = NULL;
	assert_int_equal(dup2(saved, STDIN_FILENO), STDIN_FILENO);
	close(saved);
}

/* Called on line 2, the first after the overlong one: a scrape that sees
 * it counted must see the skip too, though both fall in one read turn. */
static void
overlong_before_next_line(void *arg)
{
	struct fixture *f = arg;

	assert_int_equal(atomic_load(&status(f)->overlong), 1);
}

static void
test_overlong_line(void **state)
{
	struct fixture *f = *state;
	char big[5000];
	int fd;

	f->o.max_line = 1024;
	memset(big, 'x', sizeof big);
	fd = open_append(f->path);
	write_lines(fd, 0, 2);
	for (int i = 0; i < 50; i++)
		assert_int_equal(write(fd, big, sizeof big), (ssize_t)sizeof big);
	assert_int_equal(write(fd, "\n", 1), 1);
	write_lines(fd, 2, 4);
	f->seen->hook_at = 2;
	f->seen->hook = overlong_before_next_line;
	f->seen->hook_arg = f;
	start(f, f->path);
	expect_total(f, 4);
	assert_null(f->seen->hook);	/* the check ran */
	assert_int_equal(atomic_load(&status(f)->overlong), 1);
	close(fd);
}

static void
test_many_rotations_in_rotate_wait(void **state)
{
	struct fixture *f = *state;
	char name[160];
	unsigned id = 0;

	f->o.rotate_wait_ms = 3000;
	append_lines(f->path, id, id + 10);
	id += 10;
	start(f, f->path);
	expect_total(f, 10);

	/* a burst: five rotations with no chance for the tailer to look */
	for (int r = 1; r <= 5; r++) {
		append_lines(f->path, id, id + 10);
		id += 10;
		snprintf(name, sizeof name, "%s.%d", f->path, r);
		assert_int_equal(rename(f->path, name), 0);
		append_lines(name, id, id + 1);
		id++;
	}
	append_lines(f->path, id, id + 10);
	id += 10;
	expect_total(f, id);

	/* and five more with the tailer running between them */
	for (int r = 6; r <= 10; r++) {
		append_lines(f->path, id, id + 10);
		id += 10;
		step(f->ts, 0);
		snprintf(name, sizeof name, "%s.%d", f->path, r);
		assert_int_equal(rename(f->path, name), 0);
		step(f->ts, 0);
	}
	append_lines(f->path, id, id + 10);
	id += 10;
	expect_total(f, id);
	assert_ids(f->seen, 0, id);
	assert_int_equal(atomic_load(&status(f)->rotations), 10);
}

/*
 * A rotated-away file refilled in place. After a rename rotation the
 * tailer drains mail.log.1 for rotate_wait; an admin then does a by-hand
 * copytruncate, `cp mail.log mail.log.1 && : > mail.log`, which
 * overwrites that very inode with lines the tailer has already read from
 * the live file. The rotated file no longer holds our log: it must be
 * left, never rewound, whether cp makes it shorter than our offset (the
 * size check) or longer (the marker check).
 */
static void
refill_rotated(struct fixture *f, unsigned live_lines)
{
	char old[160];
	unsigned live_end = 25 + live_lines;
	int a, b, c;

	f->o.rotate_wait_ms = 5000;
	snprintf(old, sizeof old, "%s.1", f->path);
	a = open_append(f->path);
	write_lines(a, 0, 20);
	start(f, f->path);
	expect_total(f, 20);

	assert_int_equal(rename(f->path, old), 0);
	write_lines(a, 20, 25);  /* the writer has not reopened yet */
	b = open_append(f->path);
	write_lines(b, 25, live_end);
	expect_total(f, live_end);
	assert_int_equal(atomic_load(&status(f)->rotations), 1);

	/* cp mail.log mail.log.1: the same inode, truncated and refilled */
	c = open(old, O_WRONLY | O_TRUNC | O_CLOEXEC);
	assert_true(c >= 0);
	write_lines(c, 25, live_end);
	close(c);
	/* : > mail.log, and the writer goes on (O_APPEND, from 0) */
	assert_int_equal(truncate(f->path, 0), 0);
	pump(f->ts, 50);
	write_lines(b, live_end, live_end + 10);
	expect_total(f, live_end + 10);
	assert_ids(f->seen, 0, live_end + 10);
	assert_int_equal(atomic_load(&status(f)->truncations), 1);
	/* the abandoned file is closed at once, not kept for rotate_wait */
	pump(f->ts, 100);
	char fdlink[64], target[PATH_MAX];
	for (int fd = 3; fd < 1024; fd++) {
		snprintf(fdlink, sizeof fdlink, "/proc/self/fd/%d", fd);
		ssize_t n = readlink(fdlink, target, sizeof target - 1);
		if (n <= 0)
			continue;
		target[n] = '\0';
		if (strcmp(target, old) == 0 && fd != a)
			fail_msg("the tailer still holds %s", old);
	}
	close(a);
	close(b);
}

static void
test_rotated_refilled_shorter(void **state)
{
	refill_rotated(*state, 5);
}

static void
test_rotated_refilled_longer(void **state)
{
	refill_rotated(*state, 60);
}

static void
test_bounded_turn(void **state)
{
	struct fixture *f = *state;

	f->o.max_bytes_per_turn = 1000;
	append_lines(f->path, 0, 20000);
	start(f, f->path);
	tail_set_process(f->ts);
	assert_true(f->seen->total > 0);
	assert_true(f->seen->total < 20000);
	assert_true(atomic_load(&status(f)->bytes) <= 1000);
	assert_int_equal(tail_set_timeout_ms(f->ts), 0);
	expect_total(f, 20000);
	assert_true(tail_set_timeout_ms(f->ts) > 0);
}

static void
test_drain(void **state)
{
	struct fixture *f = *state;

	f->o.max_bytes_per_turn = 100;
	append_lines(f->path, 0, 5000);
	start(f, f->path);
	tail_set_drain(f->ts);
	assert_int_equal(f->seen->total, 5000);
	assert_int_equal(f->seen->dups, 0);
}

static void
test_reconcile_without_events(void **state)
{
	struct fixture *f = *state;
	char other[160];

	/* Two sources and a short reconcile: the extra re-checks the timer
	 * forces must not read anything twice, and each line must report the
	 * source it came from. */
	f->o.reconcile_ms = 50;
	snprintf(other, sizeof other, "%s/other.log", f->dir);
	append_lines(f->path, 0, 5);
	append_lines(other, 5, 10);
	start(f, f->path);
	char err[128];
	assert_int_equal(tail_set_add(f->ts, other, err, sizeof err), 1);
	expect_total(f, 10);
	assert_true(tail_set_timeout_ms(f->ts) <= 50);
	append_lines(other, 10, 12);
	expect_total(f, 12);
	assert_int_equal(f->seen->last_source, 1);
	assert_string_equal(input_state_name(INPUT_STATE_WAITING), "waiting");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_append_partial, setup, teardown),
		cmocka_unit_test_setup_teardown(test_from_end, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rename_create_writer_on_both, setup, teardown),
		cmocka_unit_test_setup_teardown(test_copytruncate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_copytruncate_same_tail, setup, teardown),
		cmocka_unit_test_setup_teardown(test_copytruncate_no_append, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delete_recreate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_symlink_repoint, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delete_twice_while_draining, setup, teardown),
		cmocka_unit_test_setup_teardown(test_symlink_twice_while_draining, setup, teardown),
		cmocka_unit_test_setup_teardown(test_absent_at_start, setup, teardown),
		cmocka_unit_test_setup_teardown(test_error_then_regular, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stdin_pipe, setup, teardown),
		cmocka_unit_test_setup_teardown(test_overlong_line, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_rotations_in_rotate_wait, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rotated_refilled_shorter, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rotated_refilled_longer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bounded_turn, setup, teardown),
		cmocka_unit_test_setup_teardown(test_drain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reconcile_without_events, setup, teardown),
	};
	log_setup(LOG_LEVEL_WARN, LOG_FORMAT_LOGFMT);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
