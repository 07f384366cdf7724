/*
 * dlopen_deps.c - not installed. Every function the exporter dlopens
 * (util/dynload.h), referenced the ordinary way, so that this program's
 * DT_NEEDED entries and versioned symbols say what the exporter needs at
 * run time. dpkg-shlibdeps cannot see a dlopen; debian/rules points it
 * here, and the package Depends on what these references need, with the
 * minimum versions the libraries' symbols files give them.
 *
 * Run, it prints the sonames and the number of functions of each.
 */
#include <stdio.h>

#include "build_config.h"
#include "web/webdl.h"
#if HAVE_LIBSYSTEMD
#include "daemon/input/systemd_dl.h"
#endif

typedef void (*any_fn)(void);

#define REFERENCE(name) (any_fn)name,
static const any_fn mhd_fns[] = { WEBDL_MHD_SYMBOLS(REFERENCE) };
static const any_fn gnutls_fns[] = { WEBDL_GNUTLS_SYMBOLS(REFERENCE) };
#if HAVE_LIBSYSTEMD
static const any_fn systemd_fns[] = { SYSTEMD_DL_SYMBOLS(REFERENCE) };
#endif
#undef REFERENCE

static size_t
count(const any_fn *fns, size_t n)
{
	size_t i, k = 0;

	for (i = 0; i < n; i++)
		k += fns[i] != NULL;
	return k;
}

int
main(void)
{
	printf("%s %zu\n", WEBDL_MHD_SONAME, count(mhd_fns, sizeof mhd_fns / sizeof mhd_fns[0]));
	/* gnutls_free is GnuTLS's variable, read like the rest. */
	printf("%s %zu\n", WEBDL_GNUTLS_SONAME,
	    count(gnutls_fns, sizeof gnutls_fns / sizeof gnutls_fns[0]) + (gnutls_free != NULL));
#if HAVE_LIBSYSTEMD
	printf("%s %zu\n", SYSTEMD_DL_SONAME,
	    count(systemd_fns, sizeof systemd_fns / sizeof systemd_fns[0]));
#endif
	return 0;
}
