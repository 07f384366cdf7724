/*
 * xorshift.h - the tests' random numbers: Marsaglia's 32-bit xorshift,
 * deterministic from each test's own seed, so a failure repeats.
 */
#ifndef TESTS_XORSHIFT_H
#define TESTS_XORSHIFT_H

#include <stdint.h>

static inline uint32_t
xorshift32(uint32_t *state)
{
	*state ^= *state << 13;
	*state ^= *state >> 17;
	*state ^= *state << 5;
	return *state;
}

#endif
