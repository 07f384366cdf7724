/*
 * test_tailer_oom.c - the tailer out of memory: every allocation it makes
 * when a file is admitted (a path added, a resumed position, a new file
 * after a rotation) is failed in turn, and each must end in a refusal
 * with a reason or a source in error that recovers, never in an abort,
 * a leak or a lost or doubled line.
 *
 * The binary is linked with --wrap for malloc, calloc, realloc, strdup
 * and strndup (tests/meson.build), so every call the tailer makes goes
 * through fail_next() below; the allocations libc makes for itself (e.g.
 * realpath's) are not counted.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daemon/input/tailer.h"

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
char *__real_strdup(const char *s);
char *__real_strndup(const char *s, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);
char *__wrap_strdup(const char *s);
char *__wrap_strndup(const char *s, size_t n);

static int countdown;   /* 0: off; n: the n-th allocation from now fails */
static int injected;    /* the failure happened */

static int
fail_next(void)
{
	if (countdown > 0 && --countdown == 0) {
		injected = 1;
		errno = ENOMEM;
		return 1;
	}
	return 0;
}

void *
__wrap_malloc(size_t n)
{
	return fail_next() ? NULL : __real_malloc(n);
}

void *
__wrap_calloc(size_t n, size_t size)
{
	return fail_next() ? NULL : __real_calloc(n, size);
}

void *
__wrap_realloc(void *p, size_t n)
{
	return fail_next() ? NULL : __real_realloc(p, n);
}

char *
__wrap_strdup(const char *s)
{
	return fail_next() ? NULL : __real_strdup(s);
}

char *
__wrap_strndup(const char *s, size_t n)
{
	return fail_next() ? NULL : __real_strndup(s, n);
}

/* Fail the n-th allocation from now; 0 stops (and keeps `injected`). */
static void
inject(int n)
{
	countdown = n;
	if (n > 0)
		injected = 0;
}

static void
on_line(void *ctx, const char *line, size_t len, int source)
{
	unsigned *lines = ctx;

	(void)line;
	(void)len;
	(void)source;
	(*lines)++;
}

static int64_t
now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Run the set until `want` lines were counted or 3 s passed. */
static void
run_until(struct tail_set *ts, const unsigned *lines, unsigned want)
{
	int64_t end = now_ms() + 3000;

	while (*lines < want && now_ms() < end) {
		struct pollfd p = { .fd = tail_set_fd(ts), .events = POLLIN };
		int t = tail_set_timeout_ms(ts);
		poll(&p, 1, t < 0 || t > 20 ? 20 : t);
		tail_set_process(ts);
	}
}

static void
write_lines(const char *path, const char *mode, unsigned n)
{
	FILE *fp = fopen(path, mode);

	assert_non_null(fp);
	for (unsigned i = 0; i < n; i++)
		fprintf(fp, "line %u\n", i);
	assert_int_equal(fclose(fp), 0);
}

struct dir {
	char dir[64];
	char path[128];
	char rotated[128];
};

static void
make_dir(struct dir *d)
{
	strcpy(d->dir, "/tmp/test_tailer_oom.XXXXXX");
	assert_non_null(mkdtemp(d->dir));
	snprintf(d->path, sizeof d->path, "%s/mail.log", d->dir);
	snprintf(d->rotated, sizeof d->rotated, "%s/mail.log.1", d->dir);
}

static void
remove_dir(struct dir *d)
{
	unlink(d->path);
	unlink(d->rotated);
	assert_int_equal(rmdir(d->dir), 0);
}

static struct tail_set *
new_set(unsigned *lines)
{
	struct tail_opts o;
	struct tail_set *ts;

	tail_opts_defaults(&o);
	o.from_beginning = 1;
	o.reconcile_ms = 50;      /* a source in error is looked at again soon */
	o.rotate_wait_ms = 100;
	ts = tail_set_new(&o, on_line, lines);
	assert_non_null(ts);
	return ts;
}

/*
 * Fail the 1st, 2nd, ... allocation of tail_set_add (or of its resume
 * variant when pos is not NULL) until one runs without a failure. Each
 * time: either the path is refused with "out of memory" and the set is
 * unchanged, or the source is in error (its file could not get a line
 * buffer) and then follows the file once memory is back, every line once.
 */
static void
fail_each_allocation(const char *path, const struct tail_pos *pos, int npos, unsigned want)
{
	int refused = 0, in_error = 0;

	for (int n = 1;; n++) {
		unsigned lines = 0;
		char err[256] = "";
		struct tail_set *ts = new_set(&lines);
		int r;

		inject(n);
		r = pos != NULL ? tail_set_add_resume(ts, path, pos, npos, err, sizeof err) :
		    tail_set_add(ts, path, err, sizeof err);
		inject(0);
		if (!injected) {
			assert_int_equal(r, 0);
			tail_set_free(ts);
			break;
		}
		if (r < 0) {
			if (strstr(err, "out of memory") == NULL)
				fail_msg("allocation %d: refused with \"%s\"", n, err);
			assert_int_equal(tail_set_count(ts), 0);
			refused++;
		} else {
			const struct input_status *st = tail_set_status(ts, r);
			assert_int_equal(r, 0);
			assert_int_equal(atomic_load(&st->state), INPUT_STATE_ERROR);
			assert_true(atomic_load(&st->open_errors) >= 1);
			run_until(ts, &lines, want);
			assert_int_equal(atomic_load(&st->state), INPUT_STATE_FOLLOWING);
			in_error++;
		}
		/* Whatever was admitted reads every line once. */
		if (r >= 0)
			assert_int_equal(lines, want);
		tail_set_free(ts);
		if (n > 100)
			fail_msg("tail_set_add never ran without a failure");
	}
	/* Both outcomes were reached: the path's own allocations and its
	 * file's line buffer. */
	assert_true(refused > 0);
	assert_true(in_error > 0);
}

static void
test_add(void **state)
{
	struct dir d;

	(void)state;
	make_dir(&d);
	write_lines(d.path, "w", 5);
	fail_each_allocation(d.path, NULL, -1, 5);
	remove_dir(&d);
}

/*
 * A glob: fail the 1st, 2nd, ... allocation of tail_set_add of a pattern
 * matching two files (the pattern's own, its table of files, each file's
 * source, path buffer of its series and line buffer). Either it is
 * refused with "out of memory", or every line of both files is read once
 * (a file that could not be admitted is at the next scan); a file whose
 * series could not get a path counts in the glob's sum alone, and every
 * series that exists is exact.
 */
static void
test_add_glob(void **state)
{
	struct dir d;
	char pattern[160], a[160], b[160], path[4096];
	int refused = 0, admitted = 0;

	(void)state;
	make_dir(&d);
	snprintf(pattern, sizeof pattern, "%s/*.log", d.dir);
	snprintf(a, sizeof a, "%s/a.log", d.dir);
	snprintf(b, sizeof b, "%s/b.log", d.dir);
	write_lines(a, "w", 5);
	write_lines(b, "w", 7);
	for (int n = 1;; n++) {
		unsigned lines = 0;
		char err[256] = "";
		struct tail_set *ts = new_set(&lines);
		int r;

		inject(n);
		r = tail_set_add(ts, pattern, err, sizeof err);
		if (r < 0) {
			inject(0);
			if (strstr(err, "out of memory") == NULL)
				fail_msg("allocation %d: refused with \"%s\"", n, err);
			assert_int_equal(tail_set_count(ts), 0);
			refused++;
			tail_set_free(ts);
			continue;
		}
		/* The failure may come while the files are admitted, in the
		 * first turns: run with it armed, then without. */
		run_until(ts, &lines, 12);
		inject(0);
		if (!injected && n > 1 && refused > 0 && admitted > 0) {
			assert_int_equal(lines, 12);
			tail_set_free(ts);
			break;
		}
		run_until(ts, &lines, 12);
		assert_int_equal(lines, 12);
		assert_int_equal(atomic_load(&tail_set_status(ts, r)->lines), 12);
		const struct input_files *t = tail_set_files(ts, r);
		assert_non_null(t);
		for (int k = 0; k < t->nslots; k++) {
			struct input_status st;
			if (!input_files_read(t, k, path, sizeof path, &st))
				continue;
			if (strcmp(path, a) == 0)
				assert_int_equal(atomic_load(&st.lines), 5);
			else if (strcmp(path, b) == 0)
				assert_int_equal(atomic_load(&st.lines), 7);
			else
				fail_msg("a series for %s", path);
		}
		admitted++;
		tail_set_free(ts);
		if (n > 200)
			fail_msg("tail_set_add of a glob never ran without a failure");
	}
	assert_true(refused > 0);
	assert_true(admitted > 0);
	unlink(a);
	unlink(b);
	remove_dir(&d);
}

/* A saved position whose file was rotated away while we were stopped:
 * resuming it allocates its file too. */
static void
test_add_resume_rotated(void **state)
{
	struct dir d;
	struct tail_pos pos[TAIL_POS_MAX];
	unsigned lines = 0;
	char err[256];
	struct tail_set *ts;
	int npos;

	(void)state;
	make_dir(&d);
	write_lines(d.path, "w", 3);
	ts = new_set(&lines);
	assert_int_equal(tail_set_add(ts, d.path, err, sizeof err), 0);
	run_until(ts, &lines, 3);
	assert_int_equal(lines, 3);
	npos = tail_set_positions(ts, 0, pos, TAIL_POS_MAX);
	assert_int_equal(npos, 1);
	tail_set_free(ts);
	/* While stopped: 2 more lines, the rotation, 4 lines in the new file. */
	write_lines(d.path, "a", 2);
	assert_int_equal(rename(d.path, d.rotated), 0);
	write_lines(d.path, "w", 4);
	fail_each_allocation(d.path, pos, npos, 2 + 4);
	remove_dir(&d);
}

static void
test_add_stdin(void **state)
{
	int p[2], saved;

	(void)state;
	assert_int_equal(pipe(p), 0);
	saved = dup(STDIN_FILENO);
	assert_true(saved >= 0);
	assert_int_equal(dup2(p[0], STDIN_FILENO), STDIN_FILENO);
	close(p[0]);
	for (int n = 1;; n++) {
		unsigned lines = 0;
		char err[256] = "";
		struct tail_set *ts = new_set(&lines);
		int r;

		inject(n);
		r = tail_set_add(ts, "-", err, sizeof err);
		inject(0);
		tail_set_free(ts);
		if (!injected) {
			assert_int_equal(r, 0);
			break;
		}
		assert_int_equal(r, -1);
		assert_non_null(strstr(err, "out of memory"));
		assert_true(n < 100);
	}
	close(p[1]);
	assert_int_equal(dup2(saved, STDIN_FILENO), STDIN_FILENO);
	close(saved);
}

/* A rotation while running: the new file cannot get its line buffer. The
 * old file is drained, the source is in error, and the new file is read
 * whole once memory is back. */
static void
test_rotation(void **state)
{
	struct dir d;
	unsigned lines = 0;
	char err[256];
	struct tail_set *ts;
	const struct input_status *st;

	(void)state;
	make_dir(&d);
	write_lines(d.path, "w", 3);
	ts = new_set(&lines);
	assert_int_equal(tail_set_add(ts, d.path, err, sizeof err), 0);
	st = tail_set_status(ts, 0);
	run_until(ts, &lines, 3);
	assert_int_equal(lines, 3);
	write_lines(d.path, "a", 2);
	assert_int_equal(rename(d.path, d.rotated), 0);
	write_lines(d.path, "w", 4);
	/*
	 * Fail the first allocation of every turn for a while. Which one that
	 * is depends on timing: the old file's line buffer when it was given
	 * back while idle (the file is then kept, unread, for a later turn),
	 * or the new file's (the source is in error until a later look).
	 * Either way nothing may be lost or read twice.
	 */
	int failed = 0, errored = 0;
	inject(1);
	for (int64_t end = now_ms() + 1000; now_ms() < end;) {
		tail_set_process(ts);
		errored |= atomic_load(&st->state) == INPUT_STATE_ERROR;
		if (countdown == 0) {
			failed++;
			inject(1);
		}
		usleep(5000);
	}
	inject(0);
	assert_true(failed > 0);
	(void)errored;
	run_until(ts, &lines, 3 + 2 + 4);
	assert_int_equal(lines, 3 + 2 + 4);
	assert_int_equal(atomic_load(&st->state), INPUT_STATE_FOLLOWING);
	tail_set_free(ts);
	remove_dir(&d);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_add),
		cmocka_unit_test(test_add_glob),
		cmocka_unit_test(test_add_resume_rotated),
		cmocka_unit_test(test_add_stdin),
		cmocka_unit_test(test_rotation),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
