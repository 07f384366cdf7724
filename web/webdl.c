/*
 * webdl.c - libmicrohttpd and GnuTLS on first use (webdl.h).
 */
#include "web/webdl.h"

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

int
webdl_load(char *err, size_t errlen)
{
	/* libmicrohttpd first: it needs GnuTLS itself, so the second dlopen
	 * finds it loaded already. */
	static const struct dynload_lib libs[] = {
		{ WEBDL_MHD_SONAME, mhd_syms, sizeof mhd_syms / sizeof mhd_syms[0] },
		{ WEBDL_GNUTLS_SONAME, gnutls_syms, sizeof gnutls_syms / sizeof gnutls_syms[0] },
	};
	static struct dynload_once once = DYNLOAD_ONCE_INIT;

	return dynload_once(&once, libs, sizeof libs / sizeof libs[0], err, errlen);
}
