/* Small helpers shared by anomd and anomctl. */
#include <sys/socket.h>
#include <arpa/inet.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon/daemon.h"

static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

/* Format an address; IPv4-mapped addresses print as IPv4. */
const char *
addr_str(const uint8_t *addr, char buf[ADDR_STR_LEN])
{
	char *p = buf;
	int i, v;

	if (memcmp(addr, v4mapped, sizeof(v4mapped)) == 0) {
		/* inet_ntop() formats IPv4 through sprintf(): slow per row. */
		for (i = 12; i < 16; i++) {
			v = addr[i];
			if (v >= 100)
				*p++ = (char)('0' + v / 100);
			if (v >= 10)
				*p++ = (char)('0' + v / 10 % 10);
			*p++ = (char)('0' + v % 10);
			*p++ = i < 15 ? '.' : '\0';
		}
	} else
		inet_ntop(AF_INET6, addr, buf, ADDR_STR_LEN);
	return buf;
}

/* Format microseconds as seconds with six decimals. */
const char *
ts_str(uint64_t us, char buf[32])
{
	snprintf(
	    buf, 32, "%" PRIu64 ".%06" PRIu64, us / 1000000u, us % 1000000u);
	return buf;
}

/* ISO-8601 time with microseconds and offset, as Suricata writes it. */
const char *
iso_time(uint64_t us, char buf[64])
{
	time_t t = (time_t)(us / 1000000u);
	struct tm tm;

	gmtime_r(&t, &tm);
	snprintf(buf, 64, "%04d-%02d-%02dT%02d:%02d:%02d.%06u+0000",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
	    tm.tm_sec, (unsigned)(us % 1000000u));
	return buf;
}

/* The IANA keyword of an IP protocol, else its decimal number. */
const char *
proto_name(uint8_t proto, char buf[8])
{
	static const struct {
		uint8_t n;
		const char *name;
	} names[] = {{1, "ICMP"}, {2, "IGMP"}, {4, "IPv4"}, {6, "TCP"},
	    {17, "UDP"}, {41, "IPv6"}, {47, "GRE"}, {50, "ESP"}, {51, "AH"},
	    {58, "IPv6-ICMP"}, {89, "OSPFIGP"}, {103, "PIM"}, {112, "VRRP"},
	    {132, "SCTP"}, {136, "UDPLite"}};
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].n == proto)
			return names[i].name;
	snprintf(buf, 8, "%u", proto);
	return buf;
}

/* Parse an unsigned decimal number within [min, max]. */
int
parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (s == NULL || *s == '\0' || *s == '-' || *s == '+')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (*end != '\0')
		return -EINVAL;
	if (errno == ERANGE || v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

/* A 64-bit hash of n bytes (FNV-1a, then a finaliser); not keyed. */
uint64_t
key_hash(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint64_t h = 0xcbf29ce484222325ULL;
	size_t i;

	for (i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ULL;
	h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ULL;
	h = (h ^ (h >> 27)) * 0x94d049bb133111ebULL;
	return h ^ (h >> 31);
}

/* Set bit h % nbits of bits, counting it in *ones when it was clear. */
void
bitmap_mark(uint8_t *bits, size_t nbits, uint32_t *ones, uint64_t h)
{
	size_t b = (size_t)(h % nbits);
	uint8_t bit = (uint8_t)(1u << (b % 8));

	if (!(bits[b / 8] & bit)) {
		bits[b / 8] |= bit;
		(*ones)++;
	}
}
