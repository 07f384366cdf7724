/*
 * zpages.c - zeroed memory straight from the kernel (zpages.h).
 */
#include "util/zpages.h"

#include <errno.h>
#include <sys/mman.h>

void *
zpages_alloc(size_t size)
{
	void *p;

	/* The kernel rounds the length up to whole pages, munmap too. */
	if (size == 0)
		size = 1;
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

void
zpages_free(void *p, size_t size)
{
	int saved = errno;

	if (p == NULL)
		return;
	munmap(p, size == 0 ? 1 : size);
	errno = saved;
}
