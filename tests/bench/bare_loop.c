/*
 * bare_loop: the floor for `make bench`.  It reads a capture through
 * libpcap and only counts packets and bytes, so its rate is what libpcap
 * and the page cache cost; anomd's packets per second are judged against
 * it.  The counts go out through the callback's user pointer and are
 * printed, and libpcap calls the callback through a pointer, so the
 * compiler cannot drop the per-packet work.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include <pcap/pcap.h>

struct tally {
	uint64_t packets;
	uint64_t bytes;
};

static void
count_cb(u_char *user, const struct pcap_pkthdr *h, const u_char *data)
{
	struct tally *t = (struct tally *)user;

	(void)data;
	t->packets++;
	t->bytes += h->caplen;
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int
main(int argc, char **argv)
{
	char errbuf[PCAP_ERRBUF_SIZE];
	struct tally t = {0, 0};
	pcap_t *p;
	double t0, secs;
	int rc;

	if (argc != 2) {
		fprintf(stderr, "usage: bare_loop FILE.pcap\n");
		return 2;
	}
	t0 = now();
	if ((p = pcap_open_offline(argv[1], errbuf)) == NULL) {
		fprintf(stderr, "bare_loop: open %s: %s\n", argv[1], errbuf);
		return 1;
	}
	rc = pcap_loop(p, -1, count_cb, (u_char *)&t);
	if (rc == PCAP_ERROR)
		fprintf(stderr, "bare_loop: read %s: %s\n", argv[1],
		    pcap_geterr(p));
	pcap_close(p);
	secs = now() - t0;
	printf("packets %" PRIu64 "\nbytes %" PRIu64 "\nseconds %.6f\n"
	       "packets_per_s %.0f\n",
	    t.packets, t.bytes, secs, secs > 0 ? (double)t.packets / secs : 0);
	return rc == PCAP_ERROR ? 1 : 0;
}
