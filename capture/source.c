/*
 * Packet sources: a thin layer over libpcap that hands frames over with
 * microsecond timestamps and refuses link types the decoder cannot read.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>

#include <pcap/pcap.h>

#include "capture/capture.h"

#define FILE_BUFFER (1u << 20) /* stdio buffer of a capture file */

struct cap_source {
	pcap_t *pcap;
	char *iobuf; /* a file's stdio buffer, freed after pcap_close */
	int dlt;
	int live;
	cap_frame_cb cb;
	void *arg;
};

/* Set *cause to a formatted message when the caller wants one. */
static void __attribute__((format(printf, 2, 3)))
set_cause(char **cause, const char *fmt, ...)
{
	va_list ap;

	if (cause == NULL)
		return;
	va_start(ap, fmt);
	if (vasprintf(cause, fmt, ap) < 0)
		*cause = NULL;
	va_end(ap);
}

/* Open and activate a live capture with the options in o. */
static pcap_t *
open_live(const struct cap_source_opts *o, char **cause)
{
	char errbuf[PCAP_ERRBUF_SIZE] = "";
	const char *detail;
	pcap_t *p;
	int rc;

	if ((p = pcap_create(o->iface, errbuf)) == NULL) {
		set_cause(cause, "capture: open %s: %s", o->iface, errbuf);
		return NULL;
	}
	pcap_set_snaplen(p, o->snaplen > 0 ? o->snaplen : 262144);
	pcap_set_promisc(p, o->promisc != 0);
	if (o->buffer_bytes > 0)
		pcap_set_buffer_size(p, o->buffer_bytes);
	pcap_set_immediate_mode(p, o->immediate != 0);
	/*
	 * Without immediate mode the kernel hands TPACKET_V3 blocks over when
	 * they are full or this old; the reader polls, so it only bounds
	 * latency.
	 */
	if (o->timeout_ms > 0)
		pcap_set_timeout(p, o->timeout_ms);
	pcap_set_tstamp_precision(p, PCAP_TSTAMP_PRECISION_MICRO);
	if ((rc = pcap_activate(p)) < 0) {
		/* libpcap's detail often repeats the status; say it once. */
		detail = pcap_geterr(p);
		if (*detail == '\0' ||
		    strcmp(detail, pcap_statustostr(rc)) == 0)
			detail = NULL;
		set_cause(cause, "capture: activate %s: %s%s%s", o->iface,
		    pcap_statustostr(rc), detail ? ": " : "",
		    detail ? detail : "");
		pcap_close(p);
		return NULL;
	}
	if (pcap_setnonblock(p, 1, errbuf) == -1) {
		set_cause(cause, "capture: %s: %s", o->iface, errbuf);
		pcap_close(p);
		return NULL;
	}
	return p;
}

/*
 * Open a capture file.  We open it ourselves to give it a 1 MiB stdio
 * buffer: libpcap reads a file record by record through stdio, whose
 * default buffer of one page costs a read(2) per 4 KiB, about a third of a
 * bare read loop's time.  Standard input keeps its own buffer.
 */
static pcap_t *
open_file(struct cap_source *src, const char *path, char *errbuf)
{
	FILE *f;
	pcap_t *p;

	if (strcmp(path, "-") == 0)
		return pcap_open_offline_with_tstamp_precision(
		    path, PCAP_TSTAMP_PRECISION_MICRO, errbuf);
	if ((f = fopen(path, "rb")) == NULL) {
		snprintf(
		    errbuf, PCAP_ERRBUF_SIZE, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if ((src->iobuf = malloc(FILE_BUFFER)) != NULL)
		setvbuf(f, src->iobuf, _IOFBF, FILE_BUFFER);
	/*
	 * Only the thread that dispatches reads this stream, and libpcap
	 * calls fread() twice per packet: skip stdio's per-call lock, which
	 * glibc takes as soon as the process has a second thread.
	 */
	__fsetlocking(f, FSETLOCKING_BYCALLER);
	p = pcap_fopen_offline_with_tstamp_precision(
	    f, PCAP_TSTAMP_PRECISION_MICRO, errbuf);
	if (p == NULL)
		fclose(f);
	return p;
}

/* Compile and install the BPF filter, if any. */
static int
set_filter(pcap_t *p, const char *what, const char *filter, char **cause)
{
	struct bpf_program prog;

	if (filter == NULL || *filter == '\0')
		return 0;
	if (pcap_compile(p, &prog, filter, 1, PCAP_NETMASK_UNKNOWN) == -1) {
		set_cause(cause, "capture: filter \"%s\": %s", filter,
		    pcap_geterr(p));
		return -EINVAL;
	}
	if (pcap_setfilter(p, &prog) == -1) {
		set_cause(
		    cause, "capture: %s: set filter: %s", what, pcap_geterr(p));
		pcap_freecode(&prog);
		return -EINVAL;
	}
	pcap_freecode(&prog);
	return 0;
}

/* Open a file or live source and check its link type. */
int
cap_source_open(
    struct cap_source **srcp, const struct cap_source_opts *o, char **cause)
{
	char errbuf[PCAP_ERRBUF_SIZE] = "";
	struct cap_source *src;
	const char *what = o->file ? o->file : o->iface;
	const char *dname;
	int rc;

	*srcp = NULL;
	if (what == NULL) {
		set_cause(cause, "capture: no file or interface given");
		return -EINVAL;
	}
	if ((src = calloc(1, sizeof(*src))) == NULL)
		return -ENOMEM;
	if (o->file != NULL) {
		src->pcap = open_file(src, o->file, errbuf);
		if (src->pcap == NULL)
			set_cause(
			    cause, "capture: read %s: %s", o->file, errbuf);
	} else {
		src->pcap = open_live(o, cause);
		src->live = 1;
	}
	if (src->pcap == NULL) {
		rc = o->file ? -EINVAL : -EIO;
		goto fail;
	}
	src->dlt = pcap_datalink(src->pcap);
	if (!cap_linktype_supported(src->dlt)) {
		dname = pcap_datalink_val_to_name(src->dlt);
		set_cause(cause, "capture: %s: unsupported link type %d (%s)",
		    what, src->dlt, dname ? dname : "unknown");
		rc = -EPROTONOSUPPORT;
		goto fail;
	}
	if ((rc = set_filter(src->pcap, what, o->filter, cause)) != 0)
		goto fail;
	*srcp = src;
	return 0;
fail:
	cap_source_close(src);
	return rc;
}

/* Close the source and free it. */
void
cap_source_close(struct cap_source *src)
{
	if (src == NULL)
		return;
	if (src->pcap != NULL)
		pcap_close(src->pcap);
	free(src->iobuf);
	free(src);
}

/* The DLT_ link type. */
int
cap_source_linktype(const struct cap_source *src)
{
	return src->dlt;
}

/* Selectable descriptor of a live source. */
int
cap_source_fd(const struct cap_source *src)
{
	return src->live ? pcap_get_selectable_fd(src->pcap) : -1;
}

/* libpcap callback: convert the header and pass the frame on. */
static void
frame_cb(u_char *user, const struct pcap_pkthdr *h, const u_char *bytes)
{
	struct cap_source *src = (struct cap_source *)user;
	struct cap_frame f;

	f.ts_us = h->ts.tv_sec < 0
	    ? 0
	    : (uint64_t)h->ts.tv_sec * 1000000u + (uint64_t)h->ts.tv_usec;
	f.caplen = h->caplen;
	f.wirelen = h->len;
	f.data = bytes;
	src->cb(&f, src->arg);
}

/* Hand up to max frames to cb. */
int
cap_source_dispatch(struct cap_source *src, int max, cap_frame_cb cb, void *arg,
    int *eof, char **cause)
{
	int n;

	*eof = 0;
	src->cb = cb;
	src->arg = arg;
	n = pcap_dispatch(
	    src->pcap, max > 0 ? max : -1, frame_cb, (u_char *)src);
	if (n == PCAP_ERROR) {
		set_cause(cause, "capture: read: %s", pcap_geterr(src->pcap));
		return -EIO;
	}
	if (n == PCAP_ERROR_BREAK)
		return 0;
	if (n == 0 && !src->live)
		*eof = 1;
	return n;
}

/* Kernel counters of a live capture. */
int
cap_source_kstats(
    struct cap_source *src, uint64_t *recv, uint64_t *drop, uint64_t *ifdrop)
{
	struct pcap_stat ps;

	if (!src->live)
		return -ENOTSUP;
	if (pcap_stats(src->pcap, &ps) == -1)
		return -EIO;
	*recv = ps.ps_recv;
	*drop = ps.ps_drop;
	*ifdrop = ps.ps_ifdrop;
	return 0;
}
