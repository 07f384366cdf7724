/*
 * test_input_files.c - the table of a glob's files (store/input_stats.h):
 * claims, releases and the cap, and a reader thread that copies slots
 * while a writer claims and frees them as fast as it can: every copy it
 * accepts must be one file's whole path with that same file's counters.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/input_stats.h"

static void
test_claim_release_cap(void **state)
{
	struct input_files *t = input_files_new(2);
	struct input_status init, got;
	char path[PATH_MAX], longp[1000];
	struct input_status *a, *b;

	(void)state;
	assert_non_null(t);
	memset(&init, 0, sizeof init);
	atomic_store(&init.open_errors, 3);
	atomic_store(&init.state, INPUT_STATE_FOLLOWING);
	a = input_files_claim(t, "/h/a/mail.log", &init);
	assert_non_null(a);
	b = input_files_claim(t, "/h/b/mail.log", &init);
	assert_non_null(b);
	/* The cap: no third slot. */
	assert_null(input_files_claim(t, "/h/c/mail.log", &init));
	atomic_fetch_add(&a->lines, 11);
	assert_int_equal(input_files_read(t, 0, path, sizeof path, &got), 1);
	assert_string_equal(path, "/h/a/mail.log");
	assert_int_equal(atomic_load(&got.lines), 11);
	assert_int_equal(atomic_load(&got.open_errors), 3);
	assert_int_equal(atomic_load(&got.state), INPUT_STATE_FOLLOWING);
	/* Released: the slot reads as free, then serves another file from
	 * the counts it is given, with a path longer than its first buffer. */
	input_files_release(t, a);
	assert_int_equal(input_files_read(t, 0, path, sizeof path, &got), 0);
	memset(longp, 'x', sizeof longp - 1);
	longp[0] = '/';
	longp[sizeof longp - 1] = '\0';
	memset(&init, 0, sizeof init);
	a = input_files_claim(t, longp, &init);
	assert_non_null(a);
	assert_int_equal(input_files_read(t, 0, path, sizeof path, &got), 1);
	assert_string_equal(path, longp);
	assert_int_equal(atomic_load(&got.lines), 0);
	/* A short buffer gets a truncated, terminated copy. */
	assert_int_equal(input_files_read(t, 1, path, 5, &got), 1);
	assert_string_equal(path, "/h/b");
	assert_int_equal(input_files_read(t, 2, path, sizeof path, &got), 0);
	input_files_free(t);
	input_files_free(NULL);
}

#define SLOTS 4
#define ROUNDS 200000
/* The writer goes on past ROUNDS until the reader has checked this many
 * copies (bounded by ROUNDS_MAX): on a loaded machine the reader thread
 * may not run at all during the first ROUNDS, and a test that waited on
 * time instead would pass or fail by the scheduler. */
#define MIN_CHECKED 1000
#define ROUNDS_MAX (ROUNDS * 100)

static _Atomic int done;
static _Atomic uint64_t checked;

/* File n's path: a length that crosses INPUT_FILE_PATH_SMALL now and
 * then, so buffers are replaced under the reader too. */
static size_t
make_path(char *buf, size_t n)
{
	size_t len = (size_t)snprintf(buf, PATH_MAX, "/var/log/hosts/%zu/", n);
	size_t want = 20 + (n * 37) % 400;

	while (len < want)
		buf[len++] = (char)('a' + n % 26);
	buf[len] = '\0';
	return len;
}

static void *
writer(void *arg)
{
	struct input_files *t = arg;
	struct input_status *held[SLOTS] = { 0 };
	char path[PATH_MAX];

	for (size_t n = 1; n <= ROUNDS ||
	    (atomic_load(&checked) < MIN_CHECKED && n <= ROUNDS_MAX); n++) {
		struct input_status init;
		size_t k = n % SLOTS;
		size_t len = make_path(path, n);
		if (held[k] != NULL)
			input_files_release(t, held[k]);
		memset(&init, 0, sizeof init);
		atomic_store(&init.lines, n);
		atomic_store(&init.bytes, len);
		held[k] = input_files_claim(t, path, &init);
		if (held[k] == NULL)
			fail_msg("claim %zu failed", n);
	}
	atomic_store(&done, 1);
	return NULL;
}

static void *
reader(void *arg)
{
	const struct input_files *t = arg;
	char path[PATH_MAX], want[PATH_MAX];
	struct input_status st;

	while (!atomic_load(&done)) {
		for (int i = 0; i < t->nslots; i++) {
			if (!input_files_read(t, i, path, sizeof path, &st))
				continue;
			size_t n = (size_t)atomic_load(&st.lines);
			size_t len = make_path(want, n);
			if (strcmp(path, want) != 0 || atomic_load(&st.bytes) != len) {
				fprintf(stderr, "slot %d: path %s with the counts of file %zu\n",
				    i, path, n);
				abort();
			}
			atomic_fetch_add(&checked, 1);
		}
	}
	return NULL;
}

static void
test_reader_never_sees_a_torn_slot(void **state)
{
	struct input_files *t = input_files_new(SLOTS);
	pthread_t w, r;

	(void)state;
	assert_non_null(t);
	assert_int_equal(pthread_create(&r, NULL, reader, t), 0);
	assert_int_equal(pthread_create(&w, NULL, writer, t), 0);
	pthread_join(w, NULL);
	pthread_join(r, NULL);
	/* The reader did check copies while slots changed (not a test that
	 * cannot fail). */
	assert_true(atomic_load(&checked) >= MIN_CHECKED);
	fprintf(stderr, "%ju consistent copies\n", (uintmax_t)atomic_load(&checked));
	input_files_free(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_claim_release_cap),
		cmocka_unit_test(test_reader_never_sees_a_torn_slot),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
