/*
 * The interface to capture on when the configuration names none: the one
 * the default route leaves through (/proc/net/route, then
 * /proc/net/ipv6_route), else the first interface that is up and not a
 * loopback (getifaddrs).  The /proc paths are parameters so that tests can
 * give fake tables.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <net/if.h>

#include <errno.h>
#include <ifaddrs.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/daemon.h"

#define IFACE_LINE_MAX 512 /* longer lines are not route lines */

/* Copy name into buf if it is a usable interface name; 1 if it was. */
static int
take_name(const char *name, char *buf, size_t len)
{
	size_t n = strlen(name);

	if (n == 0 || n >= IFNAMSIZ || n >= len || strcmp(name, "lo") == 0)
		return 0;
	memcpy(buf, name, n + 1);
	return 1;
}

/*
 * The IPv4 default route's interface from a /proc/net/route table: the
 * line with destination and mask 0 and the RTF_UP flag, lowest metric.
 */
static int
route4(const char *path, char *buf, size_t len)
{
	char line[IFACE_LINE_MAX], name[IFNAMSIZ + 1];
	unsigned long dst, gw, flags, mask, metric, best = ULONG_MAX;
	int refcnt, use, found = 0;
	FILE *fp;

	if ((fp = fopen(path, "re")) == NULL)
		return 0;
	while (fgets(line, sizeof(line), fp) != NULL) {
		if (sscanf(line, "%16s %lx %lx %lx %d %d %lu %lx", name, &dst,
			&gw, &flags, &refcnt, &use, &metric, &mask) != 8)
			continue; /* the header, or garbage */
		if (dst != 0 || mask != 0 || !(flags & 0x1) || metric >= best)
			continue;
		if (take_name(name, buf, len)) {
			best = metric;
			found = 1;
		}
	}
	fclose(fp);
	return found;
}

/*
 * The IPv6 default route's interface from a /proc/net/ipv6_route table:
 * destination ::/0, RTF_UP, not a reject route, lowest metric.
 */
static int
route6(const char *path, char *buf, size_t len)
{
	char line[IFACE_LINE_MAX], dst[33], src[33], gw[33], name[IFNAMSIZ + 1];
	unsigned int dlen, slen;
	unsigned long metric, ref, use, flags, best = ULONG_MAX;
	int found = 0;
	FILE *fp;

	if ((fp = fopen(path, "re")) == NULL)
		return 0;
	while (fgets(line, sizeof(line), fp) != NULL) {
		if (sscanf(line, "%32s %x %32s %x %32s %lx %lx %lx %lx %16s",
			dst, &dlen, src, &slen, gw, &metric, &ref, &use, &flags,
			name) != 10)
			continue;
		if (dlen != 0 || strspn(dst, "0") != 32 || !(flags & 0x1) ||
		    (flags & 0x200) || metric >= best)
			continue; /* 0x200: RTF_REJECT (the "lo" unreachable) */
		if (take_name(name, buf, len)) {
			best = metric;
			found = 1;
		}
	}
	fclose(fp);
	return found;
}

/* The first interface that is up, running and not a loopback. */
static int
first_up(char *buf, size_t len)
{
	struct ifaddrs *ifa, *p;
	int found = 0;

	if (getifaddrs(&ifa) == -1)
		return 0;
	for (p = ifa; p != NULL && !found; p = p->ifa_next) {
		if (p->ifa_name == NULL || !(p->ifa_flags & IFF_UP) ||
		    (p->ifa_flags & IFF_LOOPBACK))
			continue;
		found = take_name(p->ifa_name, buf, len);
	}
	freeifaddrs(ifa);
	return found;
}

/* Find the interface to capture on when none is configured. */
int
iface_default(const char *route4_path, const char *route6_path, char *buf,
    size_t len, const char **how)
{
	const char *dummy;

	if (how == NULL)
		how = &dummy;
	if (route4_path != NULL && route4(route4_path, buf, len)) {
		*how = "the IPv4 default route's";
		return 0;
	}
	if (route6_path != NULL && route6(route6_path, buf, len)) {
		*how = "the IPv6 default route's";
		return 0;
	}
	if (first_up(buf, len)) {
		*how = "the first interface up";
		return 0;
	}
	*how = "none";
	return -ENODEV;
}
