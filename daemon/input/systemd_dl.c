/*
 * systemd_dl.c - libsystemd on first use (systemd_dl.h).
 */
#include "daemon/input/systemd_dl.h"

#include <pthread.h>
#include <stdio.h>

#include "util/dynload.h"

#define SYSTEMD_DL_DEFINE(name) __typeof__(name) *sym_##name;
SYSTEMD_DL_SYMBOLS(SYSTEMD_DL_DEFINE)
#undef SYSTEMD_DL_DEFINE

#define SYSTEMD_DL_ENTRY(name) { #name, &sym_##name },
static const struct dynload_sym syms[] = { SYSTEMD_DL_SYMBOLS(SYSTEMD_DL_ENTRY) };
#undef SYSTEMD_DL_ENTRY

static pthread_mutex_t load_lock = PTHREAD_MUTEX_INITIALIZER;
static int load_state;        /* 0: not tried, 1: loaded, -1: failed */
static char load_error[256];  /* the failure, repeated to every later caller */

int
systemd_dl_load(char *err, size_t errlen)
{
	int state;

	pthread_mutex_lock(&load_lock);
	if (load_state == 0)
		load_state = dynload_open(SYSTEMD_DL_SONAME, syms, sizeof syms / sizeof syms[0],
		    load_error, sizeof load_error) == 0 ? 1 : -1;
	state = load_state;
	pthread_mutex_unlock(&load_lock);
	if (state < 0 && err != NULL)
		snprintf(err, errlen, "%s", load_error);
	return state > 0 ? 0 : -1;
}
