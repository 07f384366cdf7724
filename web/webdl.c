/*
 * webdl.c - libmicrohttpd and GnuTLS on first use (webdl.h).
 */
#include "web/webdl.h"

#include <pthread.h>
#include <stdio.h>

#include "util/dynload.h"

#define WEBDL_DEFINE(name) __typeof__(name) *sym_##name;
WEBDL_MHD_SYMBOLS(WEBDL_DEFINE)
WEBDL_GNUTLS_SYMBOLS(WEBDL_DEFINE)
#undef WEBDL_DEFINE
__typeof__(gnutls_free) *sym_gnutls_free;

#define WEBDL_ENTRY(name) { #name, &sym_##name },
static const struct dynload_sym mhd_syms[] = { WEBDL_MHD_SYMBOLS(WEBDL_ENTRY) };
static const struct dynload_sym gnutls_syms[] = {
	WEBDL_GNUTLS_SYMBOLS(WEBDL_ENTRY)
	{ "gnutls_free", &sym_gnutls_free },
};
#undef WEBDL_ENTRY

static pthread_mutex_t load_lock = PTHREAD_MUTEX_INITIALIZER;
static int load_state;        /* 0: not tried, 1: loaded, -1: failed */
static char load_error[256];  /* the failure, repeated to every later caller */

int
webdl_load(char *err, size_t errlen)
{
	int state;

	pthread_mutex_lock(&load_lock);
	/* libmicrohttpd first: it needs GnuTLS itself, so the second dlopen
	 * finds it loaded already. */
	if (load_state == 0)
		load_state = dynload_open(WEBDL_MHD_SONAME, mhd_syms,
		    sizeof mhd_syms / sizeof mhd_syms[0], load_error, sizeof load_error) == 0 &&
		    dynload_open(WEBDL_GNUTLS_SONAME, gnutls_syms,
		    sizeof gnutls_syms / sizeof gnutls_syms[0], load_error,
		    sizeof load_error) == 0 ? 1 : -1;
	state = load_state;
	pthread_mutex_unlock(&load_lock);
	if (state < 0 && err != NULL)
		snprintf(err, errlen, "%s", load_error);
	return state > 0 ? 0 : -1;
}
