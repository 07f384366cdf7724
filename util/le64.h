/*
 * le64.h - eight bytes as a little-endian 64-bit number, on any host: the
 * state file's integers (store/state.c) and the reason scan's eight-byte
 * heads (parsers/reason.c). Byte by byte, so no alignment is assumed;
 * compilers turn both loops into one load or store on little-endian hosts.
 */
#ifndef UTIL_LE64_H
#define UTIL_LE64_H

#include <stdint.h>

static inline uint64_t
le64_get(const unsigned char *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static inline void
le64_put(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

#endif
