/*
 * Fuzz target for the frame decoder and the DNS question parser.
 *
 * Input: one byte choosing the link type (low nibble, an index into links[])
 * and whether the frame was snapped (high bit; bits 4-6 say by how much),
 * then the frame.  A UDP or TCP packet to or from port 53 also goes through
 * cap_dns_parse().  Besides not crashing, the target checks what the
 * decoder promises: payloads inside the frame, captured bytes never above
 * the wire bytes, DNS names that are the strings they claim to be.
 *
 * Every decoded IP packet then goes into one flow table kept across
 * inputs, at the smallest memcaps (64 KiB of flows, 64 KiB of hosts: a few
 * hundred flows and about seventy hosts), so the fuzzed traffic keeps
 * evicting flows and hosts; the last input byte moves the clock on by up
 * to 25 ms, so a flow outlives a few thousand inputs and timeouts fire
 * too.  Every record must be sane: times in order, at least one packet,
 * every feature finite.
 *
 * Built with -DANOMD_LIBFUZZER and -fsanitize=fuzzer this is a libFuzzer
 * target.  Otherwise a replay main runs every file of a corpus folder, then
 * a deterministic mutation loop over the corpus, so `make check` fuzzes a
 * little without libFuzzer; run it under the sanitizer build to catch reads
 * past the end (every input lives in an exactly-sized heap buffer).
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pcap/dlt.h>

#include "capture/capture.h"
#include "capture/capture-int.h"
#include "tests/fuzz/fuzz-util.h"

#define LINKTYPE_RAW 101

/* Index = low nibble of the first byte, modulo the count; keep the order. */
static const int links[] = {DLT_EN10MB, DLT_LINUX_SLL, DLT_LINUX_SLL2, DLT_RAW,
    LINKTYPE_RAW, DLT_IPV4, DLT_IPV6, DLT_NULL, DLT_LOOP};

#define NLINKS (sizeof(links) / sizeof(links[0]))

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Stop at once on a broken promise, like a sanitizer does. */
static void
require(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_decode: broken invariant: %s\n", what);
		abort();
	}
}

/* Run the DNS parser on a port-53 payload and check what it returns. */
static void
check_dns(const struct cap_pkt *p)
{
	struct cap_dns d;
	int rc;

	rc = cap_dns_parse(p->payload, p->payload_cap, p->proto == 6, &d);
	require(rc == 0 || rc == -EPROTO, "dns returns 0 or -EPROTO");
	if (rc != 0)
		return;
	require(d.name_len <= DNS_NAME_MAX - 2, "dns name within 253 bytes");
	require(strlen(d.name) == d.name_len, "dns name_len is its length");
	require(d.entropy >= 0 && d.entropy <= 8, "dns entropy in [0, 8]");
	require((d.name_len == 0) == (d.labels == 0), "dns labels match name");
}

/* Check a decoded packet against the frame it came from. */
static void
check_pkt(const struct cap_frame *f, const struct cap_pkt *p)
{
	const uint8_t *end = f->data + f->caplen;

	if (p->kind == PKT_MALFORMED) {
		require((unsigned)p->malformed < MAL_COUNT, "malformed reason");
		return;
	}
	require(p->kind == PKT_IP || p->kind == PKT_ARP || p->kind == PKT_OTHER,
	    "kind in range");
	if (p->kind != PKT_IP)
		return;
	require(p->ipver == 4 || p->ipver == 6, "ipver 4 or 6");
	require(p->frag <= 2 && !(p->frag == 2 && p->has_l4),
	    "later fragments have no L4");
	require(p->payload >= f->data && p->payload <= end &&
		p->payload_cap <= (size_t)(end - p->payload),
	    "payload inside the frame");
	require(
	    p->payload_cap <= p->payload_wire && p->payload_wire <= f->wirelen,
	    "payload_cap <= payload_wire <= wirelen");
	if (p->has_l4 && (p->proto == 6 || p->proto == 17) &&
	    (p->sport == 53 || p->dport == 53))
		check_dns(p);
}

/* Check one flow record. */
static void
check_record(const struct flow_record *r, void *arg)
{
	int i;

	(void)arg;
	require(r->ts_first_us <= r->ts_last_us, "record times in order");
	require(r->packets >= 1, "a record has a packet");
	require((unsigned)r->end < FLOW_END_COUNT, "a known end reason");
	for (i = 0; i < FEAT_COUNT; i++)
		require(isfinite(r->feat[i]), "every feature is finite");
}

/* The flow table every input goes through, made at the first one. */
static struct flowtab *
table(void)
{
	static struct flowtab *ft;
	struct flowtab_opts o;

	if (ft == NULL) {
		flowtab_opts_default(&o);
		o.memcap = 64 * 1024;
		o.host_memcap = 64 * 1024;
		o.seed = 1;
		o.to.active = 5;
		ft = flowtab_create(&o, check_record, NULL);
		require(ft != NULL, "the flow table is created");
	}
	return ft;
}

/* The fuzz target: decode one input as described above. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint64_t clock_us = 1000000;
	struct cap_frame f;
	struct cap_pkt p;
	enum cap_kind k;

	if (size < 1 || size - 1 > UINT32_MAX / 2)
		return 0;
	clock_us += (uint64_t)data[size - 1] * 100u;
	f.ts_us = clock_us;
	f.data = data + 1;
	f.caplen = (uint32_t)(size - 1);
	f.wirelen = f.caplen;
	if (data[0] & 0x80)
		f.wirelen += 1 + ((data[0] >> 4) & 7) * 211u;
	k = cap_decode(links[(data[0] & 0x0f) % NLINKS], &f, &p);
	require(k == p.kind, "return value is p->kind");
	check_pkt(&f, &p);
	if (k == PKT_IP)
		flowtab_packet(table(), &p);
	return 0;
}

#ifndef ANOMD_LIBFUZZER

#define FUZZ_MAX_INPUT_BYTES 65536 /* larger corpus files are refused */
#define FUZZ_MAX_FILES 4096
#define FUZZ_GROW_BYTES 64 /* mutations may add this much */
#define FUZZ_DEFAULT_ITERS 200000
#define FUZZ_DEFAULT_SEED 0x616e6f6d64ULL

struct input {
	uint8_t *b;
	size_t len;
};

struct corpus {
	struct input in[FUZZ_MAX_FILES];
	size_t n;
};

/* Run one input from an exactly-sized heap copy, so over-reads show. */
static void
run_one(const uint8_t *b, size_t len)
{
	uint8_t *copy = malloc(len > 0 ? len : 1);

	if (copy == NULL) {
		perror("fuzz_decode: malloc");
		exit(1);
	}
	memcpy(copy, b, len);
	LLVMFuzzerTestOneInput(copy, len);
	free(copy);
}

/* Read one corpus file, refusing anything over FUZZ_MAX_INPUT_BYTES. */
static int
read_input(const char *path, struct input *in)
{
	struct stat st;
	FILE *fp;
	int rc = 0;

	if ((fp = fopen(path, "rb")) == NULL)
		return -errno;
	if (fstat(fileno(fp), &st) != 0 || !S_ISREG(st.st_mode) ||
	    st.st_size > FUZZ_MAX_INPUT_BYTES) {
		rc = -EINVAL;
		goto out;
	}
	in->len = (size_t)st.st_size;
	if ((in->b = malloc(in->len + 1)) == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	if (fread(in->b, 1, in->len, fp) != in->len) {
		free(in->b);
		rc = -EIO;
	}
out:
	fclose(fp);
	return rc;
}

/* Skip dot files. */
static int
visible(const struct dirent *de)
{
	return de->d_name[0] != '.';
}

/* Read dir/name into the next free slot of c. */
static int
load_one(const char *dir, const char *name, struct corpus *c)
{
	char path[4096];
	int rc;

	if (c->n == FUZZ_MAX_FILES)
		return -ENOSPC;
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >=
	    sizeof(path))
		return -ENAMETOOLONG;
	if ((rc = read_input(path, &c->in[c->n])) != 0) {
		fprintf(stderr, "fuzz_decode: %s: %s\n", path, strerror(-rc));
		return rc;
	}
	c->n++;
	return 0;
}

/* Load every file of dir, in name order so runs are repeatable. */
static int
load_corpus(const char *dir, struct corpus *c)
{
	struct dirent **names;
	int i, n, rc = 0;

	if ((n = scandir(dir, &names, visible, alphasort)) < 0)
		return -errno;
	for (i = 0; i < n; i++) {
		if (rc == 0)
			rc = load_one(dir, names[i]->d_name, c);
		free(names[i]);
	}
	free(names);
	return rc;
}

/* A value below n (n > 0). */
static size_t
below(uint64_t *s, size_t n)
{
	return (size_t)(fuzz_rand(s) % n);
}

/* Overwrite a 16-bit field at a random offset with a boundary length. */
static void
mutate_len16(uint64_t *s, uint8_t *b, size_t len)
{
	size_t off = below(s, len - 1), v;
	static const size_t fixed[] = {
	    0, 1, 4, 7, 8, 19, 20, 39, 40, 0x7fff, 0xffff};

	switch (below(s, 3)) {
	case 0:
		v = fixed[below(s, sizeof(fixed) / sizeof(fixed[0]))];
		break;
	case 1: /* the bytes left from here, give or take one */
		v = len - off + below(s, 3) - 1;
		break;
	default:
		v = below(s, len + 64);
		break;
	}
	b[off] = (uint8_t)(v >> 8);
	b[off + 1] = (uint8_t)v;
}

/* Insert a copy of a random slice at a random offset (len grows). */
static size_t
mutate_insert(uint64_t *s, uint8_t *b, size_t len)
{
	uint8_t slice[FUZZ_GROW_BYTES / 4];
	size_t from = below(s, len), at = below(s, len + 1);
	size_t n = 1 + below(s, sizeof(slice));

	if (n > len - from)
		n = len - from;
	memcpy(slice, b + from, n);
	memmove(b + at + n, b + at, len - at);
	memcpy(b + at, slice, n);
	return len + n;
}

/* Apply one random mutation to b (room for FUZZ_GROW_BYTES more). */
static size_t
mutate_once(uint64_t *s, uint8_t *b, size_t len, size_t room)
{
	static const uint8_t bytes[] = {0, 1, 0x7f, 0x80, 0xff, 0x40, 0x45,
	    0x4f, 0x60, 0x06, 0x11, 0x2c, 0x3a, 0x3b, 0xc0};

	if (len < 2)
		return len;
	switch (below(s, 6)) {
	case 0:
		b[below(s, len)] ^= (uint8_t)(1u << below(s, 8));
		break;
	case 1:
		b[below(s, len)] = bytes[below(s, sizeof(bytes))];
		break;
	case 2:
		mutate_len16(s, b, len);
		break;
	case 3:
		return 1 + below(s, len - 1); /* truncate */
	case 4:
		if (len + FUZZ_GROW_BYTES / 4 <= room)
			return mutate_insert(s, b, len);
		break;
	default:
		b[0] = (uint8_t)fuzz_rand(s); /* another link type or a snap */
		break;
	}
	return len;
}

/* Run iters mutated corpus inputs; each gets 1 to 4 mutations. */
static void
mutate_loop(const struct corpus *c, uint64_t seed, unsigned long iters)
{
	uint8_t *buf;
	size_t len, room, max = 0, i;
	unsigned long it;
	int m;

	for (i = 0; i < c->n; i++)
		if (c->in[i].len > max)
			max = c->in[i].len;
	room = max + 4 * FUZZ_GROW_BYTES;
	if ((buf = malloc(room)) == NULL) {
		perror("fuzz_decode: malloc");
		exit(1);
	}
	for (it = 0; it < iters; it++) {
		i = below(&seed, c->n);
		len = c->in[i].len;
		memcpy(buf, c->in[i].b, len);
		for (m = 1 + (int)below(&seed, 4); m > 0; m--)
			len = mutate_once(&seed, buf, len, room);
		run_one(buf, len);
	}
	free(buf);
}

/* An unsigned number from the environment, or def. */
static uint64_t
env_u64(const char *name, uint64_t def)
{
	const char *v = getenv(name);
	char *end;
	uint64_t x;

	if (v == NULL || *v == '\0')
		return def;
	errno = 0;
	x = strtoull(v, &end, 0);
	if (errno != 0 || *end != '\0') {
		fprintf(stderr, "fuzz_decode: bad %s=%s\n", name, v);
		exit(1);
	}
	return x;
}

int
main(int argc, char **argv)
{
	static struct corpus c;
	char dir[4096];
	const char *top = getenv("ANOMD_TOP_SRCDIR");
	uint64_t seed = env_u64("ANOMD_FUZZ_SEED", FUZZ_DEFAULT_SEED);
	unsigned long iters = env_u64("ANOMD_FUZZ_ITERS", FUZZ_DEFAULT_ITERS);
	struct cap_stats st;
	size_t i;
	int rc;

	snprintf(dir, sizeof(dir), "%s/tests/fuzz/corpus/decode",
	    top != NULL ? top : ".");
	if (argc > 1)
		snprintf(dir, sizeof(dir), "%s", argv[1]);
	if ((rc = load_corpus(dir, &c)) != 0 || c.n == 0) {
		fprintf(stderr, "fuzz_decode: corpus %s: %s\n", dir,
		    rc != 0 ? strerror(-rc) : "empty");
		return 1;
	}
	for (i = 0; i < c.n; i++)
		run_one(c.in[i].b, c.in[i].len);
	printf("fuzz_decode: replayed %zu inputs from %s\n", c.n, dir);
	mutate_loop(&c, seed, iters);
	printf("fuzz_decode: %lu mutated inputs, seed %#" PRIx64
	       " (ANOMD_FUZZ_SEED, ANOMD_FUZZ_ITERS)\n",
	    iters, seed);
	st = *flowtab_stats(table());
	flowtab_flush(table(), FLOW_END_FLUSH);
	printf("fuzz_decode: flow table: %" PRIu64 " flows, %" PRIu64
	       " evicted, %" PRIu64 " hosts evicted\n",
	    st.flows_created, st.flows_evicted, st.hosts_evicted);
	flowtab_free(table());
	for (i = 0; i < c.n; i++)
		free(c.in[i].b);
	return 0;
}

#endif /* !ANOMD_LIBFUZZER */
