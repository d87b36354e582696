/*
 * A small seeded PRNG: xoshiro256** with its state filled by splitmix64.
 * Training must give the same model for the same seed on every build, so
 * the module never touches rand() or the clock.
 */
#include <math.h>
#include <stdint.h>

#include "model/model-int.h"

/* Advance a splitmix64 state and return its next output. */
uint64_t
model_splitmix64(uint64_t *state)
{
	uint64_t z;

	z = (*state += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Seed the generator; any seed, zero included, gives a non-zero state. */
void
model_rng_seed(struct model_rng *r, uint64_t seed)
{
	int i;

	for (i = 0; i < 4; i++)
		r->s[i] = model_splitmix64(&seed);
}

static inline uint64_t
rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

/* The next 64 random bits. */
uint64_t
model_rng_next(struct model_rng *r)
{
	uint64_t *s = r->s;
	uint64_t result, t;

	result = rotl(s[1] * 5, 7) * 9;
	t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

/* Uniform in [0, 1): the top 24 bits fill a float mantissa exactly. */
float
model_rng_float(struct model_rng *r)
{
	return (float)(model_rng_next(r) >> 40) * 0x1.0p-24f;
}

/* Uniform in [0, bound) by Lemire's multiply-and-reject. */
uint64_t
model_rng_below(struct model_rng *r, uint64_t bound)
{
	unsigned __int128 m;
	uint64_t lo, floor;

	m = (unsigned __int128)model_rng_next(r) * bound;
	lo = (uint64_t)m;
	if (lo < bound) {
		floor = -bound % bound;
		while (lo < floor) {
			m = (unsigned __int128)model_rng_next(r) * bound;
			lo = (uint64_t)m;
		}
	}
	return (uint64_t)(m >> 64);
}

/* Shuffle idx[n] in place. */
void
model_rng_shuffle(struct model_rng *r, uint32_t *idx, size_t n)
{
	size_t i, j;
	uint32_t t;

	for (i = n; i > 1; i--) {
		j = (size_t)model_rng_below(r, i);
		t = idx[i - 1];
		idx[i - 1] = idx[j];
		idx[j] = t;
	}
}

/* A standard normal deviate; only synthetic data uses it. */
double
model_rng_normal(struct model_rng *r)
{
	double u1, u2;

	/* 53-bit uniforms; u1 in (0, 1] keeps log finite. */
	u1 = ((double)(model_rng_next(r) >> 11) + 1.0) * 0x1.0p-53;
	u2 = (double)(model_rng_next(r) >> 11) * 0x1.0p-53;
	return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}
