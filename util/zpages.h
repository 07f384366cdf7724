/*
 * zpages.h - zeroed memory straight from the kernel, for big tables that
 * are mostly never touched.
 *
 * Why not calloc: below glibc's mmap threshold (128 KiB, and it rises
 * after a big block is freed) calloc takes memory from the heap and clears
 * it with memset, which touches every page; a page fault costs about 15 us
 * on the VM we measure on (docs/hacking.md, round 9). An anonymous mapping
 * is zero by definition and the kernel backs a page only when it is first
 * touched, so the counter store's 120 KiB of series slots cost one page
 * while a run makes 60 series.
 */
#ifndef ZPAGES_H
#define ZPAGES_H

#include <stddef.h>

/* size bytes of zeroed, page-aligned memory, or NULL (errno set): a
 * private anonymous mapping. size 0 gets one page. */
void *zpages_alloc(size_t size);

/* Give back what zpages_alloc(size) returned; NULL is ignored. */
void zpages_free(void *p, size_t size);

#endif
