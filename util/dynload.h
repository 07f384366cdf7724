/*
 * dynload.h - load a shared library on first use (dlopen) and fill a table
 * of function pointers from it.
 *
 * Why: libmicrohttpd brings GnuTLS and nine more libraries, libsystemd
 * five; loading and relocating them, and GnuTLS's constructor, cost 6.4 ms
 * of the 8 ms a bare `main` linked against all of them takes (perf stat,
 * docs/hacking.md "Round 8"). `--once` and `report` need none of them, and
 * a daemon without --journal and outside systemd needs no libsystemd. So
 * they are loaded where a feature needs them (web/webdl.h,
 * daemon/input/systemd_dl.h) instead of by the dynamic linker at exec.
 *
 * Each caller declares its pointers with the library's own prototypes
 * (__typeof__ of the header's declaration), so every call through them is
 * type-checked as a direct call would be. The pointers are named sym_NAME,
 * as systemd names its dlopen'ed symbols.
 */
#ifndef DYNLOAD_H
#define DYNLOAD_H

#include <pthread.h>
#include <stddef.h>

struct dynload_sym {
	const char *name;   /* the symbol, as dlsym(3) looks it up */
	void *slot;         /* address of the function pointer to fill */
};

/*
 * dlopen soname (RTLD_NOW: every symbol the library itself needs resolved
 * now, not at a first call deep in a request) and look up every symbol of
 * syms into its slot. Returns 0, or -1 with a one-line reason in err
 * ("cannot load libX.so.N: ..." or "libX.so.N has no symbol F"); then the
 * library is closed again and no slot is written.
 */
int dynload_open(const char *soname, const struct dynload_sym *syms, size_t n, char *err,
    size_t errlen);

/* One library and its table, for dynload_once. */
struct dynload_lib {
	const char *soname;
	const struct dynload_sym *syms;
	size_t n;
};

/* Whether a set of libraries was loaded: one per set, DYNLOAD_ONCE_INIT. */
struct dynload_once {
	pthread_mutex_t lock;
	int state;                     /* 0: not tried, 1: loaded, -1: failed */
	char error[256];               /* the failure, repeated to every later caller */
};
#define DYNLOAD_ONCE_INIT { PTHREAD_MUTEX_INITIALIZER, 0, { 0 } }

/*
 * dynload_open each of libs in order, the first time any thread asks;
 * every later call returns the first call's answer, its error included,
 * without trying again (a library that was missing at start is not
 * looked for at every scrape). Returns 0, or -1 with the reason in err
 * (err may be NULL).
 */
int dynload_once(struct dynload_once *once, const struct dynload_lib *libs, size_t nlibs,
    char *err, size_t errlen);

#endif
