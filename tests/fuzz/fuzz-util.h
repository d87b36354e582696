/* Small helpers shared by the fuzz targets' replay mains. */
#ifndef ANOMD_FUZZ_UTIL_H
#define ANOMD_FUZZ_UTIL_H

#include <stdint.h>

/* splitmix64: small, seedable, good enough to pick mutations. */
static inline uint64_t
fuzz_rand(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

#endif
