/*
 * Fuzz target for the capture-file path of anomd -r: the input's bytes are
 * a pcap or pcapng file, opened with cap_source_open() (through a memfd
 * and /proc/self/fd, so nothing touches the disk), read to its end with
 * cap_source_dispatch() and fed to a fresh flow table by flowtab_frame(),
 * which is then flushed, as daemon/offline.c does.
 *
 * Promises checked besides not crashing: an open that fails gives -EINVAL
 * or -EPROTONOSUPPORT with a cause; a source that opens has a link type the
 * decoder supports; dispatch returns a count or -EIO with a cause and stops
 * at the end; every flow
 * record is sane (times in order, a packet, a known end, finite features),
 * and the table counts every frame it was given.
 *
 * Built with -DANOMD_LIBFUZZER and -fsanitize=fuzzer this is a libFuzzer
 * target; otherwise tests/fuzz/fuzz-main.h supplies a replay main.
 */
#include <sys/mman.h>

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "capture/capture.h"
#include "tests/fuzz/fuzz-util.h"

#define FUZZ_NAME "fuzz_pcap"
#define FUZZ_CORPUS "pcap"
#define FUZZ_DEFAULT_ITERS 4000

#define DISPATCH_BATCH 64 /* frames per dispatch, small to loop often */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct run {
	struct flowtab *ft;
	int dlt;
	uint64_t frames;
};

static unsigned long n_opened, n_refused, n_read_errors;
static uint64_t n_frames, n_records;

/* Stop at once on a broken promise, like a sanitizer does. */
static void
require(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_pcap: broken invariant: %s\n", what);
		abort();
	}
}

/* Check one flow record. */
static void
record_cb(const struct flow_record *r, void *arg)
{
	int i;

	(void)arg;
	require(r->ts_first_us <= r->ts_last_us, "record times in order");
	require(r->packets >= 1, "a record has a packet");
	require((unsigned)r->end < FLOW_END_COUNT, "a known end reason");
	for (i = 0; i < FEAT_COUNT; i++)
		require(isfinite(r->feat[i]), "every feature is finite");
	n_records++;
}

/* A frame was read: hand it to the table as anomd -r does. */
static void
frame_cb(const struct cap_frame *f, void *arg)
{
	struct run *run = arg;

	require(f->data != NULL || f->caplen == 0, "a frame has its bytes");
	flowtab_frame(run->ft, run->dlt, f);
	run->frames++;
}

/* Read the source to its end, checking what dispatch returns. */
static void
read_all(struct cap_source *src, struct run *run)
{
	char *cause = NULL;
	int eof = 0, n, rounds = 0;

	while (!eof) {
		n = cap_source_dispatch(
		    src, DISPATCH_BATCH, frame_cb, run, &eof, &cause);
		if (n < 0) {
			require(n == -EIO && cause != NULL,
			    "a read error is -EIO with a cause");
			free(cause);
			n_read_errors++;
			return;
		}
		require(n <= DISPATCH_BATCH, "dispatch hands over at most max");
		require(
		    n > 0 || eof, "a file source ends or hands over frames");
		require(++rounds < 1000000, "reading a file ends");
	}
}

/* A flow table as small as it comes, so eviction runs too. */
static struct flowtab *
table(void)
{
	struct flowtab_opts o;
	struct flowtab *ft;

	flowtab_opts_default(&o);
	o.memcap = 64 * 1024;
	o.host_memcap = 64 * 1024;
	o.seed = 1;
	ft = flowtab_create(&o, record_cb, NULL);
	require(ft != NULL, "the flow table is created");
	return ft;
}

/* Read b[len] as a capture file at path. */
static void
read_capture(const char *path)
{
	struct cap_source_opts so = {.file = path};
	struct cap_source *src = NULL;
	struct run run = {0};
	char *cause = NULL;
	int rc;

	if ((rc = cap_source_open(&src, &so, &cause)) != 0) {
		require(rc == -EINVAL || rc == -EPROTONOSUPPORT,
		    "a refused file is -EINVAL or -EPROTONOSUPPORT");
		require(src == NULL && cause != NULL &&
			strncmp(cause, "capture: ", 9) == 0,
		    "a refused file says why");
		free(cause);
		n_refused++;
		return;
	}
	n_opened++;
	run.dlt = cap_source_linktype(src);
	require(cap_linktype_supported(run.dlt), "an opened link type decodes");
	run.ft = table();
	read_all(src, &run);
	cap_source_close(src);
	flowtab_flush(run.ft, FLOW_END_FLUSH);
	require(flowtab_stats(run.ft)->frames == run.frames,
	    "the table counts every frame");
	require(flowtab_stats(run.ft)->flows_active == 0,
	    "a flushed table is empty");
	n_frames += run.frames;
	flowtab_free(run.ft);
}

/* The fuzz target: the input is a capture file. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[64];
	int fd;

	fd = memfd_create("fuzz_pcap", MFD_CLOEXEC);
	require(fd != -1, "memfd_create works");
	require(write(fd, data, size) == (ssize_t)size,
	    "the input is written to the memfd");
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	read_capture(path);
	close(fd);
	return 0;
}

#ifndef ANOMD_LIBFUZZER
/* Say how deep the run got. */
static void
fuzz_summary(void)
{
	printf("fuzz_pcap: %lu opened (%lu read errors), %lu refused; "
	       "%llu frames, %llu flow records\n",
	    n_opened, n_read_errors, n_refused, (unsigned long long)n_frames,
	    (unsigned long long)n_records);
	require(n_opened > 0 && n_frames > 0, "the corpus has frames to read");
}
#endif

#include "tests/fuzz/fuzz-main.h"
