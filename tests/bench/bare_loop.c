/*
 * bare_loop: the floor for `make bench`.  It reads a capture through
 * libpcap and only counts packets and bytes, so its rate is what libpcap
 * and the page cache cost; anomd's packets per second are judged against
 * it.  The counts go out through the callback's user pointer and are
 * printed, and libpcap calls the callback through a pointer, so the
 * compiler cannot drop the per-packet work.
 *
 * With -b it opens the file itself with a 1 MiB stdio buffer, as anomd
 * does, rather than through pcap_open_offline() and stdio's default
 * buffer of a page: the floor for anomd's own way of reading.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
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
	static char iobuf[1 << 20];
	struct tally t = {0, 0};
	const char *path;
	pcap_t *p;
	FILE *f;
	double t0, secs;
	int rc, big = argc == 3 && strcmp(argv[1], "-b") == 0;

	if (argc != 2 + big) {
		fprintf(stderr, "usage: bare_loop [-b] FILE.pcap\n");
		return 2;
	}
	path = argv[1 + big];
	t0 = now();
	if (big) {
		if ((f = fopen(path, "rb")) == NULL) {
			perror(path);
			return 1;
		}
		setvbuf(f, iobuf, _IOFBF, sizeof(iobuf));
		p = pcap_fopen_offline(f, errbuf);
	} else
		p = pcap_open_offline(path, errbuf);
	if (p == NULL) {
		fprintf(stderr, "bare_loop: open %s: %s\n", path, errbuf);
		return 1;
	}
	rc = pcap_loop(p, -1, count_cb, (u_char *)&t);
	if (rc == PCAP_ERROR)
		fprintf(
		    stderr, "bare_loop: read %s: %s\n", path, pcap_geterr(p));
	pcap_close(p);
	secs = now() - t0;
	printf("packets %" PRIu64 "\nbytes %" PRIu64 "\nseconds %.6f\n"
	       "packets_per_s %.0f\n",
	    t.packets, t.bytes, secs, secs > 0 ? (double)t.packets / secs : 0);
	return rc == PCAP_ERROR ? 1 : 0;
}
