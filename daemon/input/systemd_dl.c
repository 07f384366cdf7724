/*
 * systemd_dl.c - libsystemd on first use (systemd_dl.h).
 */
#include "daemon/input/systemd_dl.h"

#include "util/dynload.h"

#define SYSTEMD_DL_DEFINE(name) __typeof__(name) *sym_##name;
SYSTEMD_DL_SYMBOLS(SYSTEMD_DL_DEFINE)
#undef SYSTEMD_DL_DEFINE

#define SYSTEMD_DL_ENTRY(name) { #name, &sym_##name },
static const struct dynload_sym syms[] = { SYSTEMD_DL_SYMBOLS(SYSTEMD_DL_ENTRY) };
#undef SYSTEMD_DL_ENTRY

int
systemd_dl_load(char *err, size_t errlen)
{
	static const struct dynload_lib lib = { SYSTEMD_DL_SONAME, syms,
	    sizeof syms / sizeof syms[0] };
	static struct dynload_once once = DYNLOAD_ONCE_INIT;

	return dynload_once(&once, &lib, 1, err, errlen);
}
