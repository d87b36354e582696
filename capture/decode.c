/*
 * Frame decoding: link layer, IPv4/IPv6, TCP/UDP/ICMP.
 *
 * Every layer works on a span: a pointer with the bytes captured from it and
 * the bytes that were on the wire from it.  A header is read only after a
 * check that the span holds it, so nothing outside the frame is read; the
 * wire length lets a length field be checked even when the frame was cut by
 * the snap length.  Headers cut by the snap make the frame malformed, while a
 * payload cut by the snap is fine and shows as payload_cap < payload_wire.
 *
 * Each decoder records why it gave up in p->malformed and returns -EPROTO.
 * ICMP errors decode the embedded packet with the same IP decoders on a span
 * whose wire length is unknown (SIZE_MAX), since the quote is cut by design.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include <pcap/dlt.h>

#include "capture/capture.h"

#define LINKTYPE_RAW 101 /* pcap files may carry it unmapped */
#define VLAN_MAX_DEPTH 4 /* stacked 802.1Q/ad tags before giving up */
#define IPV6_EXT_MAX_DEPTH 8 /* extension headers before giving up */

#define ETH_HDR_BYTES 14
#define VLAN_TAG_BYTES 4
#define SLL_HDR_BYTES 16
#define SLL2_HDR_BYTES 20
#define NULL_HDR_BYTES 4
#define ARP_BODY_BYTES 28
#define IPV4_HDR_BYTES 20
#define IPV6_HDR_BYTES 40
#define TCP_HDR_BYTES 20
#define UDP_HDR_BYTES 8
#define ICMP_MIN_BYTES 4
#define ICMP_HDR_BYTES 8
#define IPV6_FRAG_BYTES 8
#define QUOTE_L4_BYTES 8 /* of L4 header an ICMP error quotes (RFC 792) */

#define ETHERTYPE_IPV4 0x0800
#define ETHERTYPE_ARP 0x0806
#define ETHERTYPE_IPV6 0x86dd
#define ETHERTYPE_NONE 0 /* not an IP or ARP frame */

#define PROTO_HOPOPTS 0
#define PROTO_ICMP 1
#define PROTO_TCP 6
#define PROTO_UDP 17
#define PROTO_ROUTING 43
#define PROTO_FRAGMENT 44
#define PROTO_AH 51
#define PROTO_ICMPV6 58
#define PROTO_DSTOPTS 60

struct span {
	const uint8_t *b;
	size_t cap; /* bytes captured from b */
	size_t wire; /* bytes on the wire from b; never below cap */
};

static const char *const malformed_names[MAL_COUNT] = {
    [MAL_LINK_SHORT] = "link_short",
    [MAL_VLAN_SHORT] = "vlan_short",
    [MAL_VLAN_DEPTH] = "vlan_depth",
    [MAL_IPV4_SHORT] = "ipv4_short",
    [MAL_IPV4_VERSION] = "ipv4_version",
    [MAL_IPV4_HLEN] = "ipv4_hlen",
    [MAL_IPV4_TOTLEN] = "ipv4_totlen",
    [MAL_IPV6_SHORT] = "ipv6_short",
    [MAL_IPV6_PLEN] = "ipv6_plen",
    [MAL_IPV6_EXT] = "ipv6_ext",
    [MAL_IPV6_EXT_DEPTH] = "ipv6_ext_depth",
    [MAL_TCP_SHORT] = "tcp_short",
    [MAL_TCP_HLEN] = "tcp_hlen",
    [MAL_UDP_SHORT] = "udp_short",
    [MAL_UDP_LEN] = "udp_len",
    [MAL_ICMP_SHORT] = "icmp_short",
    [MAL_ARP_SHORT] = "arp_short",
    [MAL_CAPLEN] = "caplen",
};

/* Short name of a malformed reason. */
const char *
cap_malformed_name(enum cap_malformed m)
{
	if ((unsigned)m >= MAL_COUNT)
		return "unknown";
	return malformed_names[m];
}

/* Whether the link type is supported by cap_decode(). */
int
cap_linktype_supported(int dlt)
{
	switch (dlt) {
	case DLT_EN10MB:
	case DLT_LINUX_SLL:
	case DLT_LINUX_SLL2:
	case DLT_RAW:
	case LINKTYPE_RAW:
	case DLT_IPV4:
	case DLT_IPV6:
	case DLT_NULL:
	case DLT_LOOP:
		return 1;
	default:
		return 0;
	}
}

/* Record why the frame is malformed. */
static int
malformed(struct cap_pkt *p, enum cap_malformed m)
{
	p->malformed = m;
	return -EPROTO;
}

static uint16_t
get16(const uint8_t *b)
{
	return (uint16_t)(b[0] << 8 | b[1]);
}

static uint32_t
get32(const uint8_t *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 |
	    (uint32_t)b[2] << 8 | b[3];
}

/* Step over n bytes; the caller has checked that n <= s->cap. */
static void
span_skip(struct span *s, size_t n)
{
	s->b += n;
	s->cap -= n;
	s->wire -= n;
}

/* Drop what lies beyond wire bytes, such as Ethernet padding. */
static void
span_trim(struct span *s, size_t wire)
{
	if (wire < s->wire)
		s->wire = wire;
	if (s->cap > s->wire)
		s->cap = s->wire;
}

/* Ethernet with up to VLAN_MAX_DEPTH stacked 802.1Q/802.1ad tags. */
static int
link_ether(struct span *s, uint16_t *etype, struct cap_pkt *p)
{
	int depth;

	if (s->cap < ETH_HDR_BYTES)
		return malformed(p, MAL_LINK_SHORT);
	*etype = get16(s->b + 12);
	span_skip(s, ETH_HDR_BYTES);
	for (depth = 0;; depth++) {
		if (*etype != 0x8100 && *etype != 0x88a8 && *etype != 0x9100)
			return 0;
		if (depth == VLAN_MAX_DEPTH)
			return malformed(p, MAL_VLAN_DEPTH);
		if (s->cap < VLAN_TAG_BYTES)
			return malformed(p, MAL_VLAN_SHORT);
		*etype = get16(s->b + 2);
		span_skip(s, VLAN_TAG_BYTES);
	}
}

/*
 * Raw IP: the version nibble says which.  want is the version the link type
 * promises (4 or 6), or 0 when either may come.
 */
static int
link_raw(struct span *s, int want, uint16_t *etype, struct cap_pkt *p)
{
	int v;

	if (s->cap < 1)
		return malformed(
		    p, want == 6 ? MAL_IPV6_SHORT : MAL_IPV4_SHORT);
	v = s->b[0] >> 4;
	if ((want != 0 && v != want) || (v != 4 && v != 6))
		return malformed(p, MAL_IPV4_VERSION);
	*etype = v == 4 ? ETHERTYPE_IPV4 : ETHERTYPE_IPV6;
	return 0;
}

/* An address family value from DLT_NULL/DLT_LOOP as an ethertype. */
static uint16_t
family_etype(uint32_t af)
{
	switch (af) {
	case 2:
		return ETHERTYPE_IPV4;
	case 24: /* AF_INET6 on NetBSD, OpenBSD and BSD/OS */
	case 28: /* FreeBSD, DragonFly */
	case 30: /* macOS */
		return ETHERTYPE_IPV6;
	default:
		return ETHERTYPE_NONE;
	}
}

/*
 * BSD loopback: a 4-byte address family.  DLT_NULL stores it in the byte
 * order of the capturing host, which need not be ours, so both are tried.
 */
static int
link_null(struct span *s, int loop, uint16_t *etype, struct cap_pkt *p)
{
	uint32_t be, le;

	if (s->cap < NULL_HDR_BYTES)
		return malformed(p, MAL_LINK_SHORT);
	be = get32(s->b);
	le = (uint32_t)s->b[3] << 24 | (uint32_t)s->b[2] << 16 |
	    (uint32_t)s->b[1] << 8 | s->b[0];
	*etype = family_etype(be);
	if (*etype == ETHERTYPE_NONE && !loop)
		*etype = family_etype(le);
	span_skip(s, NULL_HDR_BYTES);
	return 0;
}

/* Linux cooked capture v1 or v2: a fixed header holding the protocol. */
static int
link_sll(struct span *s, size_t hlen, size_t proto_at, uint16_t *etype,
    struct cap_pkt *p)
{
	if (s->cap < hlen)
		return malformed(p, MAL_LINK_SHORT);
	*etype = get16(s->b + proto_at);
	span_skip(s, hlen);
	return 0;
}

/* Strip the link layer of type dlt and say what follows it. */
static int
decode_link(int dlt, struct span *s, uint16_t *etype, struct cap_pkt *p)
{
	*etype = ETHERTYPE_NONE;
	switch (dlt) {
	case DLT_EN10MB:
		return link_ether(s, etype, p);
	case DLT_LINUX_SLL:
		return link_sll(s, SLL_HDR_BYTES, 14, etype, p);
	case DLT_LINUX_SLL2:
		return link_sll(s, SLL2_HDR_BYTES, 0, etype, p);
	case DLT_RAW:
	case LINKTYPE_RAW:
		return link_raw(s, 0, etype, p);
	case DLT_IPV4:
		return link_raw(s, 4, etype, p);
	case DLT_IPV6:
		return link_raw(s, 6, etype, p);
	case DLT_NULL:
		return link_null(s, 0, etype, p);
	case DLT_LOOP:
		return link_null(s, 1, etype, p);
	default:
		return 0; /* unsupported: counted as another link protocol */
	}
}

/* Store an IPv4 address as ::ffff:a.b.c.d. */
static void
map_v4(uint8_t *dst, const uint8_t *v4)
{
	memset(dst, 0, CAP_ADDR_LEN - 6);
	dst[10] = dst[11] = 0xff;
	memcpy(dst + 12, v4, 4);
}

/* The IPv4 header; leaves s on the IP payload, padding cut off. */
static int
decode_ipv4(struct span *s, struct cap_pkt *p)
{
	size_t hlen, tot;
	uint16_t off;

	if (s->cap < IPV4_HDR_BYTES)
		return malformed(p, MAL_IPV4_SHORT);
	if (s->b[0] >> 4 != 4)
		return malformed(p, MAL_IPV4_VERSION);
	hlen = (size_t)(s->b[0] & 0x0f) * 4;
	if (hlen < IPV4_HDR_BYTES || hlen > s->cap)
		return malformed(p, MAL_IPV4_HLEN);
	tot = get16(s->b + 2);
	if (tot < hlen || tot > s->wire)
		return malformed(p, MAL_IPV4_TOTLEN);
	p->ipver = 4;
	p->ipid = get16(s->b + 4);
	p->ttl = s->b[8];
	p->proto = s->b[9];
	map_v4(p->src, s->b + 12);
	map_v4(p->dst, s->b + 16);
	off = get16(s->b + 6);
	if ((off & 0x1fff) != 0)
		p->frag = 2;
	else if ((off & 0x2000) != 0)
		p->frag = 1;
	span_trim(s, tot);
	span_skip(s, hlen);
	return 0;
}

/* The IPv6 fragment header at s->b, known to be captured. */
static void
ipv6_frag(const uint8_t *h, struct cap_pkt *p)
{
	uint16_t off = get16(h + 2);

	p->ipid = get32(h + 4);
	if ((off & 0xfff8) != 0)
		p->frag = 2;
	else if ((off & 1) != 0)
		p->frag = 1;
}

/*
 * Walk the extension headers from next header p->proto, leaving p->proto on
 * the upper-layer protocol and s on its header.  A later fragment stops the
 * walk: what follows it belongs to the first fragment.
 */
static int
ipv6_ext(struct span *s, struct cap_pkt *p)
{
	size_t len;
	int depth;

	for (depth = 0;; depth++) {
		if (p->proto != PROTO_HOPOPTS && p->proto != PROTO_ROUTING &&
		    p->proto != PROTO_FRAGMENT && p->proto != PROTO_DSTOPTS &&
		    p->proto != PROTO_AH)
			return 0;
		if (depth == IPV6_EXT_MAX_DEPTH)
			return malformed(p, MAL_IPV6_EXT_DEPTH);
		if (s->cap < 2)
			return malformed(p, MAL_IPV6_EXT);
		if (p->proto == PROTO_FRAGMENT)
			len = IPV6_FRAG_BYTES;
		else if (p->proto == PROTO_AH)
			len = ((size_t)s->b[1] + 2) * 4;
		else
			len = ((size_t)s->b[1] + 1) * 8;
		if (len > s->cap)
			return malformed(p, MAL_IPV6_EXT);
		if (p->proto == PROTO_FRAGMENT)
			ipv6_frag(s->b, p);
		p->proto = s->b[0];
		span_skip(s, len);
		if (p->frag == 2)
			return 0;
	}
}

/* The IPv6 header and its extension chain; leaves s on the L4 header. */
static int
decode_ipv6(struct span *s, struct cap_pkt *p)
{
	size_t plen;

	if (s->cap < IPV6_HDR_BYTES)
		return malformed(p, MAL_IPV6_SHORT);
	if (s->b[0] >> 4 != 6)
		return malformed(p, MAL_IPV4_VERSION);
	plen = get16(s->b + 4);
	if (plen == 0) /* jumbogram or offloaded send: trust the frame */
		plen = s->wire - IPV6_HDR_BYTES;
	else if (plen > s->wire - IPV6_HDR_BYTES)
		return malformed(p, MAL_IPV6_PLEN);
	p->ipver = 6;
	p->proto = s->b[6];
	p->ttl = s->b[7];
	memcpy(p->src, s->b + 8, CAP_ADDR_LEN);
	memcpy(p->dst, s->b + 24, CAP_ADDR_LEN);
	span_trim(s, IPV6_HDR_BYTES + plen);
	span_skip(s, IPV6_HDR_BYTES);
	return ipv6_ext(s, p);
}

/* What is left of s is the L4 payload. */
static void
set_payload(struct cap_pkt *p, const struct span *s)
{
	p->payload = s->b;
	p->payload_cap = (uint32_t)s->cap;
	p->payload_wire = (uint32_t)s->wire;
}

/* The echo request type if type is an echo request or reply, else -1. */
static int
icmp_echo_type(uint8_t proto, uint8_t type)
{
	if (proto == PROTO_ICMP && (type == 0 || type == 8))
		return 8;
	if (proto == PROTO_ICMPV6 && (type == 128 || type == 129))
		return 128;
	return -1;
}

/* Whether an ICMP type quotes the packet that caused it. */
static int
icmp_is_error(uint8_t proto, uint8_t type)
{
	if (proto == PROTO_ICMP)
		return type == 3 || type == 4 || type == 5 || type == 11 ||
		    type == 12;
	return type >= 1 && type <= 4;
}

/*
 * The flow key of an ICMP message: an echo is keyed by its identifier and
 * the request type, so that a request and its reply share a flow.  h holds
 * ICMP_HDR_BYTES when the message is an echo.
 */
static void
icmp_key(uint8_t proto, const uint8_t *h, uint16_t *sport, uint16_t *dport)
{
	int req = icmp_echo_type(proto, h[0]);

	if (req >= 0) {
		*sport = get16(h + 4);
		*dport = (uint16_t)(req << 8 | h[1]);
	} else {
		*sport = 0;
		*dport = (uint16_t)(h[0] << 8 | h[1]);
	}
}

/* The ports of a quoted L4 header, or -1 unless all 8 bytes are there. */
static int
inner_ports(
    const struct span *s, uint8_t proto, uint16_t *sport, uint16_t *dport)
{
	switch (proto) {
	case PROTO_TCP:
	case PROTO_UDP:
		if (s->cap < QUOTE_L4_BYTES)
			return -1;
		*sport = get16(s->b);
		*dport = get16(s->b + 2);
		return 0;
	case PROTO_ICMP:
	case PROTO_ICMPV6:
		if (s->cap < QUOTE_L4_BYTES)
			return -1;
		icmp_key(proto, s->b, sport, dport);
		return 0;
	default:
		return 0;
	}
}

/*
 * The packet an ICMP error quotes, best effort: a quote that is cut short
 * or garbled leaves has_inner at 0 and is no reason to drop the error.
 */
static void
decode_inner(const struct span *s, struct cap_pkt *p)
{
	struct span is = {s->b, s->cap, SIZE_MAX};
	struct cap_pkt in;
	int rc;

	memset(&in, 0, sizeof(in));
	if (p->proto == PROTO_ICMP)
		rc = decode_ipv4(&is, &in);
	else
		rc = decode_ipv6(&is, &in);
	if (rc != 0 || in.frag == 2 ||
	    inner_ports(&is, in.proto, &in.sport, &in.dport) != 0)
		return;
	p->has_inner = 1;
	p->inner_proto = in.proto;
	memcpy(p->inner_src, in.src, CAP_ADDR_LEN);
	memcpy(p->inner_dst, in.dst, CAP_ADDR_LEN);
	p->inner_sport = in.sport;
	p->inner_dport = in.dport;
}

/* ICMP or ICMPv6: 8 header bytes, or 4 when the message is that short. */
static int
decode_icmp(struct span *s, struct cap_pkt *p)
{
	size_t hlen;

	if (s->cap < ICMP_MIN_BYTES)
		return malformed(p, MAL_ICMP_SHORT);
	hlen = s->wire >= ICMP_HDR_BYTES ? ICMP_HDR_BYTES : ICMP_MIN_BYTES;
	if (s->cap < hlen)
		return malformed(p, MAL_ICMP_SHORT);
	p->icmp_type = s->b[0];
	p->icmp_code = s->b[1];
	if (hlen < ICMP_HDR_BYTES && icmp_echo_type(p->proto, s->b[0]) >= 0)
		return malformed(p, MAL_ICMP_SHORT);
	icmp_key(p->proto, s->b, &p->sport, &p->dport);
	p->has_l4 = 1;
	span_skip(s, hlen);
	set_payload(p, s);
	if (icmp_is_error(p->proto, p->icmp_type))
		decode_inner(s, p);
	return 0;
}

/* TCP: ports, flags and window; options are skipped. */
static int
decode_tcp(struct span *s, struct cap_pkt *p)
{
	size_t hlen;

	if (s->cap < TCP_HDR_BYTES)
		return malformed(p, MAL_TCP_SHORT);
	hlen = (size_t)(s->b[12] >> 4) * 4;
	if (hlen < TCP_HDR_BYTES || hlen > s->cap)
		return malformed(p, MAL_TCP_HLEN);
	p->sport = get16(s->b);
	p->dport = get16(s->b + 2);
	p->tcp_flags = s->b[13];
	p->tcp_win = get16(s->b + 14);
	p->has_l4 = 1;
	span_skip(s, hlen);
	set_payload(p, s);
	return 0;
}

/*
 * UDP.  The length field covers the whole datagram, so in a first fragment
 * it may exceed what this fragment carries.
 */
static int
decode_udp(struct span *s, struct cap_pkt *p)
{
	size_t ulen;

	if (s->cap < UDP_HDR_BYTES)
		return malformed(p, MAL_UDP_SHORT);
	ulen = get16(s->b + 4);
	if (ulen < UDP_HDR_BYTES || (p->frag == 0 && ulen > s->wire))
		return malformed(p, MAL_UDP_LEN);
	p->sport = get16(s->b);
	p->dport = get16(s->b + 2);
	p->has_l4 = 1;
	if (p->frag == 0)
		span_trim(s, ulen);
	span_skip(s, UDP_HDR_BYTES);
	set_payload(p, s);
	return 0;
}

/* The transport header, when this packet has one we read. */
static int
decode_l4(struct span *s, struct cap_pkt *p)
{
	if (p->frag == 2) {
		set_payload(p, s);
		return 0;
	}
	switch (p->proto) {
	case PROTO_TCP:
		return decode_tcp(s, p);
	case PROTO_UDP:
		return decode_udp(s, p);
	case PROTO_ICMP:
		if (p->ipver == 4)
			return decode_icmp(s, p);
		break;
	case PROTO_ICMPV6:
		if (p->ipver == 6)
			return decode_icmp(s, p);
		break;
	}
	set_payload(p, s);
	return 0;
}

/* The network layer named by etype, then the transport layer. */
static int
decode_net(uint16_t etype, struct span *s, struct cap_pkt *p)
{
	int rc;

	switch (etype) {
	case ETHERTYPE_IPV4:
		rc = decode_ipv4(s, p);
		break;
	case ETHERTYPE_IPV6:
		rc = decode_ipv6(s, p);
		break;
	case ETHERTYPE_ARP:
		if (s->cap < ARP_BODY_BYTES)
			return malformed(p, MAL_ARP_SHORT);
		p->kind = PKT_ARP;
		return 0;
	default:
		p->kind = PKT_OTHER;
		return 0;
	}
	if (rc != 0 || (rc = decode_l4(s, p)) != 0)
		return rc;
	p->kind = PKT_IP;
	return 0;
}

/*
 * Decode one frame.  An unsupported link type gives PKT_OTHER, like an
 * unknown ethertype: callers check cap_linktype_supported() once up front.
 */
enum cap_kind
cap_decode(int dlt, const struct cap_frame *f, struct cap_pkt *p)
{
	struct span s = {f->data, f->caplen, f->wirelen};
	uint16_t etype;

	memset(p, 0, sizeof(*p));
	p->ts_us = f->ts_us;
	p->wirelen = f->wirelen;
	p->kind = PKT_MALFORMED;
	if (f->caplen > f->wirelen)
		(void)malformed(p, MAL_CAPLEN);
	else if (decode_link(dlt, &s, &etype, p) == 0)
		(void)decode_net(etype, &s, p); /* sets p->kind on success */
	return p->kind;
}
