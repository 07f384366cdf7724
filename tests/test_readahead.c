/*
 * test_readahead.c - the reader thread of --once (daemon/input/readahead.c):
 * every byte of a plain file and of a gzip file arrives once and in order,
 * threaded and inline; a gzip file cut short ends in an error after the
 * bytes before the cut; stopping early while the ring is full returns; a
 * thread that cannot start leaves the reads inline (pthread_create is
 * wrapped, -Wl,--wrap=pthread_create, to fail on demand).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <zlib.h>

#include "daemon/input/readahead.h"

int __real_pthread_create(pthread_t *t, const pthread_attr_t *a, void *(*fn)(void *), void *arg);
int __wrap_pthread_create(pthread_t *t, const pthread_attr_t *a, void *(*fn)(void *), void *arg);

static int fail_thread;

int
__wrap_pthread_create(pthread_t *t, const pthread_attr_t *a, void *(*fn)(void *), void *arg)
{
	if (fail_thread)
		return 11; /* EAGAIN */
	return __real_pthread_create(t, a, fn, arg);
}

/* 1 MiB and a bit of bytes no block size divides, every byte value. */
#define DATA_LEN (16 * RA_BLOCK_SIZE + 12345)

static unsigned char *
make_data(void)
{
	unsigned char *d = malloc(DATA_LEN);
	uint32_t x = 99;

	assert_non_null(d);
	for (size_t i = 0; i < DATA_LEN; i++) {
		x = x * 1103515245u + 12345u;
		d[i] = (unsigned char)(x >> 16);
	}
	return d;
}

static char *
write_file(const unsigned char *d, size_t len, int gzip)
{
	static char path[64];

	snprintf(path, sizeof path, "/tmp/test_readahead.XXXXXX");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	if (gzip) {
		gzFile gz = gzdopen(fd, "wb");
		assert_non_null(gz);
		assert_int_equal(gzwrite(gz, d, (unsigned)len), (int)len);
		assert_int_equal(gzclose(gz), Z_OK);
	} else {
		assert_int_equal(write(fd, d, len), (ssize_t)len);
		close(fd);
	}
	return path;
}

static struct readahead *
open_ra(const char *path, int threaded, gzFile *gz)
{
	int fd = open(path, O_RDONLY);
	struct readahead *ra;

	assert_true(fd >= 0);
	*gz = gzdopen(fd, "rb");
	assert_non_null(*gz);
	ra = ra_start(*gz, threaded);
	assert_non_null(ra);
	return ra;
}

/* Read path through a readahead; returns the bytes read, the last ra_next
 * result in *rc and its message in err. */
static unsigned char *
read_all(const char *path, int threaded, int expect_threaded, size_t *got, int *rc, char *err,
    size_t errlen)
{
	unsigned char *out = malloc(DATA_LEN + RA_BLOCK_SIZE);
	gzFile gz;
	struct readahead *ra;
	const char *block;
	size_t n;

	assert_non_null(out);
	ra = open_ra(path, threaded, &gz);
	assert_int_equal(ra_threaded(ra), expect_threaded);
	*got = 0;
	while ((*rc = ra_next(ra, &block, &n, err, errlen)) == 1) {
		assert_true(n > 0 && n <= RA_BLOCK_SIZE);
		assert_true(*got + n <= DATA_LEN);
		memcpy(out + *got, block, n);
		*got += n;
	}
	/* After the end every call says 0 again, without waiting. */
	assert_int_equal(ra_next(ra, &block, &n, err, errlen), 0);
	assert_int_equal(n, 0);
	ra_stop(ra);
	gzclose(gz);
	return out;
}

static void
check_file(int gzip, int threaded, int expect_threaded)
{
	unsigned char *d = make_data();
	char *path = write_file(d, DATA_LEN, gzip);
	char err[160] = "";
	size_t got;
	int rc;
	unsigned char *out = read_all(path, threaded, expect_threaded, &got, &rc, err, sizeof err);

	assert_int_equal(rc, 0);
	assert_int_equal(got, DATA_LEN);
	assert_memory_equal(out, d, DATA_LEN);
	unlink(path);
	free(out);
	free(d);
}

static void
test_plain_threaded(void **state)
{
	(void)state;
	check_file(0, 1, 1);
}

static void
test_plain_inline(void **state)
{
	(void)state;
	check_file(0, 0, 0);
}

static void
test_gzip_threaded(void **state)
{
	(void)state;
	check_file(1, 1, 1);
}

static void
test_gzip_inline(void **state)
{
	(void)state;
	check_file(1, 0, 0);
}

/* A .gz cut in the middle: the bytes before the cut, then zlib's reason. */
static void
test_gzip_cut_short(void **state)
{
	unsigned char *d = make_data();
	char *path = write_file(d, DATA_LEN, 1);
	char err[160] = "";
	size_t got;
	int rc;
	struct stat st;
	(void)state;

	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(truncate(path, st.st_size / 2), 0);
	for (int threaded = 0; threaded <= 1; threaded++) {
		unsigned char *out = read_all(path, threaded, threaded, &got, &rc, err, sizeof err);
		assert_int_equal(rc, -1);
		assert_true(strstr(err, "unexpected end of file") != NULL);
		assert_true(got > 0 && got < DATA_LEN);
		assert_memory_equal(out, d, got);
		free(out);
	}
	unlink(path);
	free(d);
}

/* Stopping after one block, while the reader waits on a full ring or is
 * reading: ra_stop returns and frees (ASan checks the rest). */
static void
test_stop_early(void **state)
{
	unsigned char *d = make_data();
	char *path = write_file(d, DATA_LEN, 0);
	(void)state;

	for (int i = 0; i < 50; i++) {
		gzFile gz;
		struct readahead *ra = open_ra(path, 1, &gz);
		const char *block;
		size_t n;
		char err[160];

		if (i % 2)
			assert_int_equal(ra_next(ra, &block, &n, err, sizeof err), 1);
		ra_stop(ra);
		gzclose(gz);
	}
	ra_stop(NULL);
	unlink(path);
	free(d);
}

/* No thread: the same bytes, read in the caller's thread. */
static void
test_no_thread(void **state)
{
	(void)state;
	fail_thread = 1;
	check_file(1, 1, 0);
	fail_thread = 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_threaded),
		cmocka_unit_test(test_plain_inline),
		cmocka_unit_test(test_gzip_threaded),
		cmocka_unit_test(test_gzip_inline),
		cmocka_unit_test(test_gzip_cut_short),
		cmocka_unit_test(test_stop_early),
		cmocka_unit_test(test_no_thread),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
