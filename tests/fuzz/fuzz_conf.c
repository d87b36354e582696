/*
 * Fuzz target for the configuration line parser.  With libFuzzer
 * (-DANOMD_LIBFUZZER) each input is one line.  Without it, main() runs
 * every line of etc/anomd.conf and a list of bad lines, then a seeded loop
 * of mutations of them (ANOMD_FUZZ_ITERS, ANOMD_FUZZ_SEED).  Every line
 * must parse or be refused with a message; a refused line must leave the
 * configuration as it was.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/daemon.h"
#include "tests/fuzz/fuzz-util.h"

#define LINE_MAX_BYTES 5000

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Parse one line; abort on a broken promise. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct anomd_conf c, before;
	char line[LINE_MAX_BYTES + 1], *cause = NULL;

	if (size > LINE_MAX_BYTES)
		size = LINE_MAX_BYTES;
	memcpy(line, data, size);
	line[size] = '\0';
	conf_defaults(&c);
	before = c;
	if (conf_parse_line(&c, "fuzz", 1, line, &cause) != 0) {
		if (cause == NULL || strncmp(cause, "fuzz:1: ", 8) != 0)
			abort();
		if (memcmp(&c, &before, sizeof(c)) != 0)
			abort();
	}
	free(cause);
	return 0;
}

#ifndef ANOMD_LIBFUZZER
static const char *const bad[] = {"snaplen = 99999999999999999999999",
    "flow_memcap = 1Q", "threshold_target = 1e999", "socket_mode = 0x1",
    "= value", "key", "\"quoted = 1\"", "filter = \"unterminated",
    "model_layers = ,,,", "promiscuous = maybe", NULL};

/* Mutate seed into buf: flips, cuts, inserted bytes. */
static size_t
mutate(const char *seed, uint8_t *buf, uint64_t *rng)
{
	size_t n = strlen(seed), k;
	int m = (int)(fuzz_rand(rng) % 4) + 1;

	memcpy(buf, seed, n);
	while (m-- > 0 && n > 0) {
		k = fuzz_rand(rng) % n;
		switch (fuzz_rand(rng) % 4) {
		case 0:
			buf[k] ^= (uint8_t)(1u << (fuzz_rand(rng) % 8));
			break;
		case 1:
			n = k;
			break;
		case 2:
			buf[k] = (uint8_t)fuzz_rand(rng);
			break;
		default:
			if (n < 200)
				buf[n++] =
				    "=\"#09KMGx -.,"[fuzz_rand(rng) % 13];
		}
	}
	return n;
}

int
main(void)
{
	const char *top = getenv("ANOMD_TOP_SRCDIR"), *s;
	static char lines[512][256];
	char path[4096];
	uint8_t buf[512];
	uint64_t rng, iters = 200000, i;
	size_t n = 0, k;
	FILE *fp;

	s = getenv("ANOMD_FUZZ_SEED");
	rng = s ? strtoull(s, NULL, 0) : 0x636f6e66ULL;
	if ((s = getenv("ANOMD_FUZZ_ITERS")) != NULL)
		iters = strtoull(s, NULL, 0);
	snprintf(path, sizeof(path), "%s/etc/anomd.conf", top ? top : ".");
	if ((fp = fopen(path, "r")) == NULL) {
		perror(path);
		return 1;
	}
	while (n < 500 && fgets(lines[n], sizeof(lines[n]), fp) != NULL)
		lines[n][strcspn(lines[n], "\n")] = '\0', n++;
	fclose(fp);
	for (k = 0; bad[k] != NULL && n < 512; k++)
		snprintf(lines[n++], sizeof(lines[0]), "%s", bad[k]);
	for (k = 0; k < n; k++)
		LLVMFuzzerTestOneInput(
		    (const uint8_t *)lines[k], strlen(lines[k]));
	for (i = 0; i < iters; i++) {
		k = mutate(lines[fuzz_rand(&rng) % n], buf, &rng);
		LLVMFuzzerTestOneInput(buf, k);
	}
	printf("fuzz_conf: %zu lines, %llu mutations\n", n,
	    (unsigned long long)iters);
	return 0;
}
#endif
