/*
 * test_dynload.c - the libraries the exporter dlopens (util/dynload.h).
 *
 * This program links libmicrohttpd, GnuTLS and libsystemd the ordinary way,
 * so the dynamic linker has loaded them before main. Then:
 * - each soname is one already loaded (RTLD_NOLOAD), so it names the very
 *   library the build links against;
 * - every name in a table is the symbol its header declares (a header that
 *   renamed a function by a macro, as some libraries do between versions,
 *   would make the loader fetch the old one);
 * - each loaded sym_NAME is NAME in that library, as dladdr(3) reports it.
 * (The pointers are not compared with &NAME: in this executable that may be
 * the address of its own PLT stub, not the library's function.)
 * Then dynload_open's failures: a library that is not there, a symbol that
 * is not in it, a table too long; each says which, and leaves the caller's
 * pointers as they were.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dlfcn.h>
#include <link.h>
#include <string.h>
#include <zlib.h>

#include "build_config.h"
#include "util/dynload.h"
#include "web/webdl.h"
#if HAVE_LIBSYSTEMD
#include "daemon/input/systemd_dl.h"
#endif

#define STR(x) #x
#define EXPANDED(x) STR(x)

/* The path the dynamic linker loaded soname from, before any loader ran. */
static const char *
linked_path(const char *soname)
{
	struct link_map *lm = NULL;
	void *h = dlopen(soname, RTLD_NOW | RTLD_NOLOAD);

	assert_non_null(h);
	assert_int_equal(dlinfo(h, RTLD_DI_LINKMAP, &lm), 0);
	dlclose(h);
	return lm->l_name;
}

static void
assert_from(const void *p, const char *name, const char *expanded, const char *path)
{
	Dl_info info;

	assert_string_equal(name, expanded);
	assert_non_null(p);
	assert_int_not_equal(dladdr(p, &info), 0);
	assert_non_null(info.dli_sname);
	assert_string_equal(info.dli_sname, name);
	assert_string_equal(info.dli_fname, path);
}

static void
test_web_tables_are_the_linked_functions(void **state)
{
	const char *mhd = linked_path(WEBDL_MHD_SONAME);
	const char *gnutls = linked_path(WEBDL_GNUTLS_SONAME);
	char err[256] = "";
	void *p;

	(void)state;
	assert_int_equal(webdl_load(err, sizeof err), 0);
	assert_string_equal(err, "");
#define FROM_MHD(name) memcpy(&p, &sym_##name, sizeof p); \
	assert_from(p, #name, EXPANDED(name), mhd);
#define FROM_GNUTLS(name) memcpy(&p, &sym_##name, sizeof p); \
	assert_from(p, #name, EXPANDED(name), gnutls);
	WEBDL_MHD_SYMBOLS(FROM_MHD)
	WEBDL_GNUTLS_SYMBOLS(FROM_GNUTLS)
	/* A variable: its address, and the value the linked program reads. */
	assert_from((const void *)sym_gnutls_free, "gnutls_free", "gnutls_free", gnutls);
	assert_true(*sym_gnutls_free == gnutls_free);
	/* A second call answers from the first. */
	assert_int_equal(webdl_load(err, sizeof err), 0);
}

static void
test_systemd_table_is_the_linked_functions(void **state)
{
	(void)state;
#if HAVE_LIBSYSTEMD
	const char *systemd = linked_path(SYSTEMD_DL_SONAME);
	char err[256] = "";
	void *p;

	assert_int_equal(systemd_dl_load(err, sizeof err), 0);
	assert_string_equal(err, "");
#define FROM_SYSTEMD(name) memcpy(&p, &sym_##name, sizeof p); \
	assert_from(p, #name, EXPANDED(name), systemd);
	SYSTEMD_DL_SYMBOLS(FROM_SYSTEMD)
	assert_int_equal(systemd_dl_load(NULL, 0), 0);
#else
	skip();
#endif
}

static __typeof__(zlibVersion) *my_zlibVersion;
static __typeof__(crc32) *my_crc32;

static void
test_fills_every_slot(void **state)
{
	struct dynload_sym syms[] = {
		{ "zlibVersion", &my_zlibVersion },
		{ "crc32", &my_crc32 },
	};
	char err[128] = "";

	(void)state;
	my_zlibVersion = NULL;
	my_crc32 = NULL;
	assert_int_equal(dynload_open("libz.so.1", syms, 2, err, sizeof err), 0);
	assert_ptr_equal(my_zlibVersion, zlibVersion);
	assert_ptr_equal(my_crc32, crc32);
	assert_string_equal(my_zlibVersion(), zlibVersion());
}

static void
test_missing_library(void **state)
{
	struct dynload_sym syms[] = { { "zlibVersion", &my_zlibVersion } };
	char err[256] = "";
	const char *prefix = "cannot load libmaillog-exporter-absent.so.7: ";

	(void)state;
	my_zlibVersion = NULL;
	assert_int_equal(dynload_open("libmaillog-exporter-absent.so.7", syms, 1, err,
	    sizeof err), -1);
	assert_memory_equal(err, prefix, strlen(prefix));
	/* dlerror's reason follows, not an empty one. */
	assert_true(strlen(err) > strlen(prefix) + 5);
	assert_null(my_zlibVersion);
}

static void
test_missing_symbol_leaves_every_slot(void **state)
{
	/* The first symbol exists: it must not be written either. */
	struct dynload_sym syms[] = {
		{ "zlibVersion", &my_zlibVersion },
		{ "maillog_exporter_no_such_function", &my_crc32 },
	};
	char err[256] = "";

	(void)state;
	my_zlibVersion = NULL;
	my_crc32 = NULL;
	assert_int_equal(dynload_open("libz.so.1", syms, 2, err, sizeof err), -1);
	assert_string_equal(err, "libz.so.1 has no symbol maillog_exporter_no_such_function");
	assert_null(my_zlibVersion);
	assert_null(my_crc32);
}

static void
test_too_many_symbols(void **state)
{
	struct dynload_sym syms[65];
	char err[256] = "";
	size_t i;

	(void)state;
	for (i = 0; i < 65; i++)
		syms[i] = (struct dynload_sym){ "zlibVersion", &my_zlibVersion };
	my_zlibVersion = NULL;
	assert_int_equal(dynload_open("libz.so.1", syms, 65, err, sizeof err), -1);
	assert_string_equal(err, "cannot load libz.so.1: 65 symbols asked, at most 64");
	assert_null(my_zlibVersion);
	/* 64 is allowed. */
	assert_int_equal(dynload_open("libz.so.1", syms, 64, err, sizeof err), 0);
	assert_ptr_equal(my_zlibVersion, zlibVersion);
}

static void
test_short_error_buffer(void **state)
{
	struct dynload_sym syms[] = { { "maillog_exporter_no_such_function", &my_crc32 } };
	char err[12];

	(void)state;
	memset(err, 'x', sizeof err);
	assert_int_equal(dynload_open("libz.so.1", syms, 1, err, sizeof err), -1);
	assert_string_equal(err, "libz.so.1 h");
}

/* A set whose second library is missing fails as a whole, naming it, and
 * keeps that answer: a later call, even with a set that would load, gets
 * the same error and loads nothing (the once decides, not the list). */
static void
test_once_keeps_the_first_answer(void **state)
{
	const struct dynload_sym z[] = { { "zlibVersion", &my_zlibVersion } };
	const struct dynload_sym c[] = { { "crc32", &my_crc32 } };
	const struct dynload_lib failing[] = {
		{ "libz.so.1", z, 1 },
		{ "libmaillog-exporter-absent.so.7", c, 1 },
	};
	const struct dynload_lib loading[] = { { "libz.so.1", c, 1 } };
	static struct dynload_once once = DYNLOAD_ONCE_INIT;
	char err[256] = "", again[256] = "";

	(void)state;
	my_zlibVersion = NULL;
	my_crc32 = NULL;
	assert_int_equal(dynload_once(&once, failing, 2, err, sizeof err), -1);
	assert_non_null(strstr(err, "cannot load libmaillog-exporter-absent.so.7: "));
	assert_ptr_equal(my_zlibVersion, zlibVersion);   /* the first one did load */
	assert_int_equal(dynload_once(&once, loading, 1, again, sizeof again), -1);
	assert_string_equal(again, err);
	assert_null(my_crc32);
	assert_int_equal(dynload_once(&once, loading, 1, NULL, 0), -1);
}

/* A set that loads fills every table, and later calls say so at once. */
static void
test_once_loads_each_library_in_order(void **state)
{
	const struct dynload_sym z[] = { { "zlibVersion", &my_zlibVersion } };
	const struct dynload_sym c[] = { { "crc32", &my_crc32 } };
	const struct dynload_lib libs[] = { { "libz.so.1", z, 1 }, { "libz.so.1", c, 1 } };
	static struct dynload_once once = DYNLOAD_ONCE_INIT;

	(void)state;
	my_zlibVersion = NULL;
	my_crc32 = NULL;
	assert_int_equal(dynload_once(&once, libs, 2, NULL, 0), 0);
	assert_ptr_equal(my_zlibVersion, zlibVersion);
	assert_ptr_equal(my_crc32, crc32);
	my_crc32 = NULL;
	assert_int_equal(dynload_once(&once, libs, 2, NULL, 0), 0);
	assert_null(my_crc32);   /* not loaded again */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_web_tables_are_the_linked_functions),
		cmocka_unit_test(test_systemd_table_is_the_linked_functions),
		cmocka_unit_test(test_fills_every_slot),
		cmocka_unit_test(test_missing_library),
		cmocka_unit_test(test_missing_symbol_leaves_every_slot),
		cmocka_unit_test(test_too_many_symbols),
		cmocka_unit_test(test_short_error_buffer),
		cmocka_unit_test(test_once_keeps_the_first_answer),
		cmocka_unit_test(test_once_loads_each_library_in_order),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
