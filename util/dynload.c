/*
 * dynload.c - dlopen a library and fill a table of function pointers
 * (dynload.h).
 */
#include "util/dynload.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* dlsym gives a void *; POSIX requires it to convert to a function
 * pointer, ISO C does not allow the cast. Copying the bytes is the way
 * that holds under -Wpedantic, given both have one size. */
_Static_assert(sizeof(void *) == sizeof(void (*)(void)),
    "a data pointer and a function pointer must have one size for dlsym");

#define MAX_SYMS 64

int
dynload_open(const char *soname, const struct dynload_sym *syms, size_t n, char *err,
    size_t errlen)
{
	void *found[MAX_SYMS];
	const char *why;
	void *h;
	size_t i;

	if (n > MAX_SYMS) {
		snprintf(err, errlen, "cannot load %s: %zu symbols asked, at most %d",
		    soname, n, MAX_SYMS);
		return -1;
	}
	if ((h = dlopen(soname, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		why = dlerror();
		snprintf(err, errlen, "cannot load %s: %s", soname, why ? why : "unknown error");
		return -1;
	}
	/* Every symbol first, then the slots: a library missing one leaves
	 * the caller's table as it was. */
	for (i = 0; i < n; i++) {
		(void)dlerror();
		found[i] = dlsym(h, syms[i].name);
		if (found[i] == NULL) {
			/* dlerror() would repeat both names. */
			snprintf(err, errlen, "%s has no symbol %s", soname, syms[i].name);
			dlclose(h);
			return -1;
		}
	}
	for (i = 0; i < n; i++)
		memcpy(syms[i].slot, &found[i], sizeof found[i]);
	/* h is never closed: the pointers stay valid for the process's life. */
	return 0;
}

int
dynload_once(struct dynload_once *once, const struct dynload_lib *libs, size_t nlibs,
    char *err, size_t errlen)
{
	int state;

	pthread_mutex_lock(&once->lock);
	if (once->state == 0) {
		once->state = 1;
		for (size_t i = 0; i < nlibs && once->state > 0; i++)
			if (dynload_open(libs[i].soname, libs[i].syms, libs[i].n, once->error,
			    sizeof once->error) < 0)
				once->state = -1;
	}
	state = once->state;
	pthread_mutex_unlock(&once->lock);
	if (state < 0 && err != NULL)
		snprintf(err, errlen, "%s", once->error);
	return state > 0 ? 0 : -1;
}
