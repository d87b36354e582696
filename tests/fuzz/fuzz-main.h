/*
 * A replay main for fuzz targets built without libFuzzer, shared by
 * fuzz_model and fuzz_pcap (fuzz_decode keeps its own, with mutations that
 * know its link-type byte).  Include it last from the target's .c after
 * defining:
 *
 *	FUZZ_NAME		"fuzz_x", for messages
 *	FUZZ_CORPUS		the folder under tests/fuzz/corpus
 *	FUZZ_DEFAULT_ITERS	mutated inputs per run
 *
 * and a function `static void fuzz_summary(void)` that prints what the run
 * reached.  A target that defines FUZZ_EXTRA_SEEDS also supplies
 * `static void fuzz_extra_seeds(void)`, which adds seeds made at run time
 * with fuzz_add_input() after the corpus is loaded.  main() runs every file of
 *the corpus (argv[1], or $ANOMD_TOP_SRCDIR/tests/fuzz/corpus/FUZZ_CORPUS), each
 *from an exactly sized heap copy so that an over-read shows under ASan, then a
 *seeded loop of mutations of them (ANOMD_FUZZ_SEED, ANOMD_FUZZ_ITERS).  An
 *input that aborts is written to FUZZ_NAME.crash in the current folder, ready
 * to be added to the corpus once fixed.
 */
#ifndef ANOMD_FUZZ_MAIN_H
#define ANOMD_FUZZ_MAIN_H

#ifndef ANOMD_LIBFUZZER

#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/fuzz/fuzz-util.h"

#define FUZZ_MAX_INPUT_BYTES 65536 /* larger corpus files are refused */
#define FUZZ_MAX_FILES 256
#define FUZZ_GROW_BYTES 256 /* mutations may add this much in all */
#define FUZZ_SLICE_BYTES 32 /* the most one insertion adds */
#define FUZZ_DEFAULT_SEED 0x616e6f6d64ULL

struct fuzz_input {
	uint8_t *b;
	size_t len;
};

static struct fuzz_input fuzz_in[FUZZ_MAX_FILES];
static size_t fuzz_nin;

static const uint8_t *fuzz_cur;
static size_t fuzz_cur_len;

/* On abort, save the input that caused it, then die as before. */
static void
fuzz_crash_cb(int sig)
{
	ssize_t w;
	int fd;

	fd = open(FUZZ_NAME ".crash", O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd != -1 && fuzz_cur != NULL) {
		w = write(fd, fuzz_cur, fuzz_cur_len);
		(void)w; /* a signal handler can do nothing more */
		close(fd);
	}
	signal(sig, SIG_DFL);
	raise(sig);
}

/* Run one input from an exactly-sized heap copy, so over-reads show. */
static void
fuzz_run_one(const uint8_t *b, size_t len)
{
	uint8_t *copy = malloc(len > 0 ? len : 1);

	if (copy == NULL) {
		perror(FUZZ_NAME ": malloc");
		exit(1);
	}
	memcpy(copy, b, len);
	fuzz_cur = b;
	fuzz_cur_len = len;
	LLVMFuzzerTestOneInput(copy, len);
	fuzz_cur = NULL;
	free(copy);
}

/* Read dir/name into the next slot, refusing files over the cap. */
static int
fuzz_load_one(const char *dir, const char *name)
{
	struct fuzz_input *in = &fuzz_in[fuzz_nin];
	char path[4096];
	struct stat st;
	FILE *fp;
	int rc = 0;

	if (fuzz_nin == FUZZ_MAX_FILES)
		return -ENOSPC;
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >=
	    sizeof(path))
		return -ENAMETOOLONG;
	if ((fp = fopen(path, "rb")) == NULL)
		return -errno;
	if (fstat(fileno(fp), &st) != 0 || !S_ISREG(st.st_mode) ||
	    st.st_size > FUZZ_MAX_INPUT_BYTES)
		rc = -EINVAL;
	else if ((in->b = malloc((size_t)st.st_size + 1)) == NULL)
		rc = -ENOMEM;
	else if (fread(in->b, 1, (size_t)st.st_size, fp) !=
	    (size_t)st.st_size) {
		free(in->b);
		rc = -EIO;
	}
	fclose(fp);
	if (rc != 0) {
		fprintf(stderr, FUZZ_NAME ": %s: %s\n", path, strerror(-rc));
		return rc;
	}
	in->len = (size_t)st.st_size;
	fuzz_nin++;
	return 0;
}

/* Add a copy of b[len] to the inputs; 0 or -errno. */
static int __attribute__((unused)) fuzz_add_input(const uint8_t *b, size_t len)
{
	struct fuzz_input *in = &fuzz_in[fuzz_nin];

	if (fuzz_nin == FUZZ_MAX_FILES || len > FUZZ_MAX_INPUT_BYTES)
		return -ENOSPC;
	if ((in->b = malloc(len + 1)) == NULL)
		return -ENOMEM;
	memcpy(in->b, b, len);
	in->len = len;
	fuzz_nin++;
	return 0;
}

/* Skip dot files. */
static int
fuzz_visible(const struct dirent *de)
{
	return de->d_name[0] != '.';
}

/* Load every file of dir, in name order so runs are repeatable. */
static int
fuzz_load_corpus(const char *dir)
{
	struct dirent **names;
	int i, n, rc = 0;

	if ((n = scandir(dir, &names, fuzz_visible, alphasort)) < 0)
		return -errno;
	for (i = 0; i < n; i++) {
		if (rc == 0)
			rc = fuzz_load_one(dir, names[i]->d_name);
		free(names[i]);
	}
	free(names);
	return rc;
}

/* A value below n (n > 0). */
static size_t
fuzz_below(uint64_t *s, size_t n)
{
	return (size_t)(fuzz_rand(s) % n);
}

/* Overwrite 4 bytes at a random offset with a boundary value. */
static void
fuzz_mutate_u32(uint64_t *s, uint8_t *b, size_t len)
{
	static const uint32_t fixed[] = {0, 1, 2, 0x7f, 0x80, 0xff, 0xffff,
	    0x10000, 0x40000, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff};
	size_t off = fuzz_below(s, len - 3);
	uint32_t v;
	int i, be = (int)fuzz_below(s, 2);

	switch (fuzz_below(s, 3)) {
	case 0:
		v = fixed[fuzz_below(s, sizeof(fixed) / sizeof(fixed[0]))];
		break;
	case 1: /* the bytes left from here, give or take a little */
		v = (uint32_t)(len - off + fuzz_below(s, 9) - 4);
		break;
	default:
		v = (uint32_t)fuzz_rand(s);
		break;
	}
	for (i = 0; i < 4; i++)
		b[off + (size_t)(be ? 3 - i : i)] = (uint8_t)(v >> (8 * i));
}

/* Insert a copy of a random slice at a random offset (len grows). */
static size_t
fuzz_mutate_insert(uint64_t *s, uint8_t *b, size_t len)
{
	uint8_t slice[FUZZ_SLICE_BYTES];
	size_t from = fuzz_below(s, len), at = fuzz_below(s, len + 1);
	size_t n = 1 + fuzz_below(s, sizeof(slice));

	if (n > len - from)
		n = len - from;
	memcpy(slice, b + from, n);
	memmove(b + at + n, b + at, len - at);
	memcpy(b + at, slice, n);
	return len + n;
}

/* Apply one random mutation to b[len] (capacity room). */
static size_t
fuzz_mutate_once(uint64_t *s, uint8_t *b, size_t len, size_t room)
{
	static const uint8_t bytes[] = {0, 1, 2, 0x7f, 0x80, 0xfe, 0xff};
	size_t a, n;

	if (len < 4)
		return len;
	switch (fuzz_below(s, 7)) {
	case 0:
		b[fuzz_below(s, len)] ^= (uint8_t)(1u << fuzz_below(s, 8));
		break;
	case 1:
		b[fuzz_below(s, len)] = bytes[fuzz_below(s, sizeof(bytes))];
		break;
	case 2:
	case 3:
		fuzz_mutate_u32(s, b, len);
		break;
	case 4:
		return 1 + fuzz_below(s, len - 1); /* truncate */
	case 5:
		if (len + FUZZ_SLICE_BYTES <= room)
			return fuzz_mutate_insert(s, b, len);
		break;
	default: /* copy a slice over another place */
		a = fuzz_below(s, len);
		n = 1 + fuzz_below(s, FUZZ_SLICE_BYTES);
		if (n > len - a)
			n = len - a;
		memmove(b + fuzz_below(s, len - n + 1), b + a, n);
		break;
	}
	return len;
}

/* Run iters mutated corpus inputs; each gets 1 to 4 mutations. */
static void
fuzz_mutate_loop(uint64_t seed, unsigned long iters)
{
	size_t len, room, max = 0, i;
	unsigned long it;
	uint8_t *buf;
	int m;

	for (i = 0; i < fuzz_nin; i++)
		if (fuzz_in[i].len > max)
			max = fuzz_in[i].len;
	room = max + FUZZ_GROW_BYTES;
	if ((buf = malloc(room)) == NULL) {
		perror(FUZZ_NAME ": malloc");
		exit(1);
	}
	for (it = 0; it < iters; it++) {
		i = fuzz_below(&seed, fuzz_nin);
		len = fuzz_in[i].len;
		memcpy(buf, fuzz_in[i].b, len);
		for (m = 1 + (int)fuzz_below(&seed, 4); m > 0; m--)
			len = fuzz_mutate_once(&seed, buf, len, room);
		fuzz_run_one(buf, len);
	}
	free(buf);
}

/* An unsigned number from the environment, or def. */
static uint64_t
fuzz_env_u64(const char *name, uint64_t def)
{
	const char *v = getenv(name);
	char *end;
	uint64_t x;

	if (v == NULL || *v == '\0')
		return def;
	errno = 0;
	x = strtoull(v, &end, 0);
	if (errno != 0 || *end != '\0') {
		fprintf(stderr, FUZZ_NAME ": bad %s=%s\n", name, v);
		exit(1);
	}
	return x;
}

int
main(int argc, char **argv)
{
	const char *top = getenv("ANOMD_TOP_SRCDIR");
	uint64_t seed = fuzz_env_u64("ANOMD_FUZZ_SEED", FUZZ_DEFAULT_SEED);
	unsigned long iters =
	    fuzz_env_u64("ANOMD_FUZZ_ITERS", FUZZ_DEFAULT_ITERS);
	char dir[4096];
	size_t i;
	int rc;

	signal(SIGABRT, fuzz_crash_cb);
	snprintf(dir, sizeof(dir), "%s/tests/fuzz/corpus/" FUZZ_CORPUS,
	    top != NULL ? top : ".");
	if (argc > 1)
		snprintf(dir, sizeof(dir), "%s", argv[1]);
	if ((rc = fuzz_load_corpus(dir)) != 0 || fuzz_nin == 0) {
		fprintf(stderr, FUZZ_NAME ": corpus %s: %s\n", dir,
		    rc != 0 ? strerror(-rc) : "empty");
		return 1;
	}
#ifdef FUZZ_EXTRA_SEEDS
	fuzz_extra_seeds();
#endif
	for (i = 0; i < fuzz_nin; i++)
		fuzz_run_one(fuzz_in[i].b, fuzz_in[i].len);
	printf(FUZZ_NAME ": replayed %zu inputs (%s and any made here)\n",
	    fuzz_nin, dir);
	fuzz_mutate_loop(seed, iters);
	printf(FUZZ_NAME ": %lu mutated inputs, seed %#" PRIx64
			 " (ANOMD_FUZZ_SEED, ANOMD_FUZZ_ITERS)\n",
	    iters, seed);
	fuzz_summary();
	for (i = 0; i < fuzz_nin; i++)
		free(fuzz_in[i].b);
	return 0;
}

#endif /* !ANOMD_LIBFUZZER */
#endif
