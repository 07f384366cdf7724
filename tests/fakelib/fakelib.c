/*
 * fakelib.c - a shared library with none of the functions the exporter
 * looks for, built under the sonames of libmicrohttpd and libsystemd
 * (tests/fakelib/mhd, tests/fakelib/systemd). Put first on
 * LD_LIBRARY_PATH, it is what dlopen finds: tests/blackbox/test_dynload.py
 * uses it to show which runs load a library (they fail, naming it) and
 * which never do.
 */
int maillog_exporter_fake_library(void);

int
maillog_exporter_fake_library(void)
{
	return 0;
}
