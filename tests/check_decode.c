/*
 * Frame decoder and DNS question parser.
 *
 * Frames are assembled layer by layer with a small builder that records
 * where each layer starts, so the expectations (where the headers end, how
 * long the payload is) come from the builder and the table rather than from
 * the decoder.  Every valid frame is then cut at every length: cut frames
 * must be malformed, and snapped frames must be malformed exactly when the
 * snap falls inside the headers.  Cut copies live in exactly-sized heap
 * buffers so a sanitizer build catches any read past the end.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <pcap/dlt.h>

#include "capture/capture.h"
#include "capture/capture-int.h"
#include "tests/check-util.h"

#define BLD_MAX_BYTES 512
#define LINKTYPE_RAW 101

/* A frame under construction, with the offsets of its layers. */
struct bld {
	uint8_t b[BLD_MAX_BYTES];
	size_t n;
	size_t ip; /* outer IP header */
	size_t th; /* transport header */
	size_t l4; /* end of the last header: where the payload starts */
	size_t end; /* end of the IP packet; Ethernet padding follows */
	size_t nh; /* the byte that names the next protocol */
	size_t udp; /* UDP header whose length finish() sets, or 0 */
	int ipver;
};

static const uint8_t A4[4] = {192, 0, 2, 1};
static const uint8_t B4[4] = {198, 51, 100, 2};
static const uint8_t A6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 1};
static const uint8_t B6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 2};

static void
put8(struct bld *b, unsigned v)
{
	ck_assert_msg(
	    b->n < BLD_MAX_BYTES, "test frame should fit the builder");
	b->b[b->n++] = (uint8_t)v;
}

static void
put16(struct bld *b, unsigned v)
{
	put8(b, v >> 8);
	put8(b, v);
}

static void
put32(struct bld *b, uint32_t v)
{
	put16(b, v >> 16);
	put16(b, v);
}

static void
putn(struct bld *b, const uint8_t *v, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		put8(b, v[i]);
}

static void
set16(struct bld *b, size_t off, unsigned v)
{
	b->b[off] = (uint8_t)(v >> 8);
	b->b[off + 1] = (uint8_t)v;
}

/* Name the next protocol in the previous IP or extension header. */
static void
set_next(struct bld *b, unsigned proto)
{
	b->b[b->nh] = (uint8_t)proto;
}

static void
bld_eth(struct bld *b, unsigned etype)
{
	static const uint8_t macs[12] = {2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1};

	putn(b, macs, sizeof(macs));
	put16(b, etype);
	b->l4 = b->n;
}

/* One VLAN tag; the previous header's type field holds its TPID. */
static void
bld_tag(struct bld *b, unsigned etype)
{
	put16(b, 100);
	put16(b, etype);
	b->l4 = b->n;
}

static void
bld_sll(struct bld *b, unsigned proto)
{
	static const uint8_t addr[8] = {2, 0, 0, 0, 0, 1};

	put16(b, 0); /* to us */
	put16(b, 1); /* ARPHRD_ETHER */
	put16(b, 6);
	putn(b, addr, sizeof(addr));
	put16(b, proto);
	b->l4 = b->n;
}

static void
bld_sll2(struct bld *b, unsigned proto)
{
	static const uint8_t addr[8] = {2, 0, 0, 0, 0, 1};

	put16(b, proto);
	put16(b, 0);
	put32(b, 2); /* ifindex */
	put16(b, 1); /* ARPHRD_ETHER */
	put8(b, 0);
	put8(b, 6);
	putn(b, addr, sizeof(addr));
	b->l4 = b->n;
}

/* A DLT_NULL/DLT_LOOP header: the family bytes as given. */
static void
bld_family(struct bld *b, uint32_t bytes)
{
	put32(b, bytes);
	b->l4 = b->n;
}

/* IPv4 with optlen bytes of options (NOPs, then end of list). */
static void
bld_ip4(struct bld *b, const uint8_t *src, const uint8_t *dst, size_t optlen)
{
	size_t i;

	b->ip = b->n;
	b->ipver = 4;
	put8(b, 0x40 | (5 + optlen / 4));
	put8(b, 0);
	put16(b, 0); /* total length: finish() */
	put16(b, 0x1234);
	put16(b, 0x4000); /* DF */
	put8(b, 64);
	b->nh = b->n;
	put8(b, 255);
	put16(b, 0);
	putn(b, src, 4);
	putn(b, dst, 4);
	for (i = 0; i < optlen; i++)
		put8(b, i + 1 < optlen ? 1 : 0);
	b->l4 = b->n;
}

/* Make the IPv4 packet a fragment at offset off8 (8-byte units). */
static void
ip4_frag(struct bld *b, unsigned off8, int more)
{
	set16(b, b->ip + 6, (more ? 0x2000 : 0) | off8);
}

static void
bld_ip6(struct bld *b, const uint8_t *src, const uint8_t *dst)
{
	b->ip = b->n;
	b->ipver = 6;
	put32(b, 0x60000000);
	put16(b, 0); /* payload length: finish() */
	b->nh = b->n;
	put8(b, 59);
	put8(b, 63);
	putn(b, src, 16);
	putn(b, dst, 16);
	b->l4 = b->n;
}

/* A hop-by-hop, routing or destination options header of units + 1 * 8. */
static void
bld_ext6(struct bld *b, unsigned type, unsigned units)
{
	size_t i;

	set_next(b, type);
	b->nh = b->n;
	put8(b, 59);
	put8(b, units);
	for (i = 2; i < (units + 1) * 8; i++)
		put8(b, 0); /* Pad1 options */
	b->l4 = b->n;
}

static void
bld_frag6(struct bld *b, unsigned off8, int more, uint32_t id)
{
	set_next(b, 44);
	b->nh = b->n;
	put8(b, 59);
	put8(b, 0);
	put16(b, off8 << 3 | (more ? 1 : 0));
	put32(b, id);
	b->l4 = b->n;
}

static void
bld_ah6(struct bld *b, unsigned len)
{
	size_t i;

	set_next(b, 51);
	b->nh = b->n;
	put8(b, 59);
	put8(b, len);
	for (i = 2; i < (len + 2) * 4; i++)
		put8(b, 0xaa);
	b->l4 = b->n;
}

/* TCP with optlen bytes of options: MSS, then NOPs. */
static void
bld_tcp(struct bld *b, unsigned sport, unsigned dport, unsigned flags,
    unsigned win, size_t optlen)
{
	static const uint8_t mss[4] = {2, 4, 0x05, 0xb4};
	size_t i;

	set_next(b, 6);
	b->th = b->n;
	put16(b, sport);
	put16(b, dport);
	put32(b, 1000);
	put32(b, 0);
	put8(b, (unsigned)((20 + optlen) / 4) << 4);
	put8(b, flags);
	put16(b, win);
	put32(b, 0); /* checksum, urgent pointer */
	for (i = 0; i < optlen; i++)
		put8(b, i < sizeof(mss) ? mss[i] : 1);
	b->l4 = b->n;
}

static void
bld_udp(struct bld *b, unsigned sport, unsigned dport)
{
	set_next(b, 17);
	b->th = b->udp = b->n;
	put16(b, sport);
	put16(b, dport);
	put32(b, 0); /* length: finish(); checksum */
	b->l4 = b->n;
}

static void
bld_icmp(struct bld *b, unsigned type, unsigned code, unsigned id)
{
	set_next(b, b->ipver == 4 ? 1 : 58);
	b->th = b->n;
	put8(b, type);
	put8(b, code);
	put16(b, 0);
	put16(b, id);
	put16(b, 1);
	b->l4 = b->n;
}

/* The quote of an ICMP error: an IPv4 header and 8 bytes of L4. */
static void
bld_quote4(struct bld *b, unsigned proto, const uint8_t l4[8])
{
	put32(b, 0x45000080);
	put32(b, 0x77770000);
	put8(b, 1);
	put8(b, proto);
	put16(b, 0);
	putn(b, A4, 4);
	putn(b, B4, 4);
	putn(b, l4, 8);
}

static void
bld_quote6(struct bld *b, unsigned proto, const uint8_t l4[8])
{
	put32(b, 0x60000000);
	put16(b, 1000);
	put8(b, proto);
	put8(b, 1);
	putn(b, A6, 16);
	putn(b, B6, 16);
	putn(b, l4, 8);
}

static void
bld_data(struct bld *b, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		put8(b, 'a' + i % 26);
}

/* Set the IP and UDP length fields from what was built. */
static void
bld_finish(struct bld *b)
{
	if (b->ipver == 4)
		set16(b, b->ip + 2, (unsigned)(b->n - b->ip));
	else if (b->ipver == 6)
		set16(b, b->ip + 4, (unsigned)(b->n - b->ip - 40));
	if (b->udp != 0)
		set16(b, b->udp + 4, (unsigned)(b->n - b->udp));
	b->end = b->n;
}

/* ---- The frames ---------------------------------------------------- */

static void
f_eth_tcp4(struct bld *b)
{
	bld_eth(b, 0x0800);
	bld_ip4(b, A4, B4, 0);
	bld_tcp(b, 40000, 80, 0x18, 0x2000, 0);
	bld_data(b, 10);
}

static void
f_eth_tcp4_opts(struct bld *b)
{
	bld_eth(b, 0x0800);
	bld_ip4(b, A4, B4, 8);
	bld_tcp(b, 40001, 443, 0x02, 64240, 12);
	bld_data(b, 3);
}

static void
f_eth_udp4(struct bld *b)
{
	bld_eth(b, 0x0800);
	bld_ip4(b, A4, B4, 0);
	bld_udp(b, 5353, 53);
	bld_data(b, 4);
}

static void
f_vlan_udp4(struct bld *b)
{
	bld_eth(b, 0x8100);
	bld_tag(b, 0x0800);
	bld_ip4(b, A4, B4, 0);
	bld_udp(b, 1000, 2000);
	bld_data(b, 6);
}

static void
f_qinq_tcp6(struct bld *b)
{
	bld_eth(b, 0x88a8);
	bld_tag(b, 0x8100);
	bld_tag(b, 0x86dd);
	bld_ip6(b, A6, B6);
	bld_tcp(b, 50000, 22, 0x10, 501, 0);
	bld_data(b, 8);
}

static void
f_vlan4_udp4(struct bld *b)
{
	bld_eth(b, 0x9100);
	bld_tag(b, 0x88a8);
	bld_tag(b, 0x8100);
	bld_tag(b, 0x8100);
	bld_tag(b, 0x0800);
	bld_ip4(b, A4, B4, 0);
	bld_udp(b, 1001, 2001);
	bld_data(b, 2);
}

static void
f_sll_udp4(struct bld *b)
{
	bld_sll(b, 0x0800);
	bld_ip4(b, A4, B4, 0);
	bld_udp(b, 123, 123);
	bld_data(b, 48);
}

static void
f_sll2_tcp6(struct bld *b)
{
	bld_sll2(b, 0x86dd);
	bld_ip6(b, A6, B6);
	bld_tcp(b, 443, 50001, 0x11, 300, 0);
	bld_data(b, 1);
}

static void
f_raw_udp4(struct bld *b)
{
	bld_ip4(b, A4, B4, 0);
	bld_udp(b, 33000, 53);
	bld_data(b, 12);
}

static void
f_raw_udp6(struct bld *b)
{
	bld_ip6(b, A6, B6);
	bld_udp(b, 33001, 53);
	bld_data(b, 12);
}

static void
f_echo4(struct bld *b)
{
	bld_ip4(b, A4, B4, 0);
	bld_icmp(b, 8, 0, 0x4242);
	bld_data(b, 16);
}

static void
f_echo4_reply(struct bld *b)
{
	bld_eth(b, 0x0800);
	bld_ip4(b, B4, A4, 0);
	bld_icmp(b, 0, 0, 0x4242);
	bld_data(b, 16);
}

static void
f_echo6(struct bld *b)
{
	bld_ip6(b, A6, B6);
	bld_icmp(b, 128, 0, 0x77);
	bld_data(b, 8);
}

static void
f_echo6_reply(struct bld *b)
{
	bld_eth(b, 0x86dd);
	bld_ip6(b, B6, A6);
	bld_icmp(b, 129, 0, 0x77);
	bld_data(b, 8);
}

static void
f_null_le_udp4(struct bld *b)
{
	bld_family(b, 0x02000000);
	f_raw_udp4(b);
}

static void
f_null_be_tcp6(struct bld *b)
{
	bld_family(b, 30);
	bld_ip6(b, A6, B6);
	bld_tcp(b, 1, 2, 0x04, 0, 0);
}

static void
f_null_le_tcp6(struct bld *b)
{
	bld_family(b, 0x1c000000);
	bld_ip6(b, A6, B6);
	bld_tcp(b, 3, 4, 0x04, 0, 0);
}

static void
f_loop_udp4(struct bld *b)
{
	bld_family(b, 2);
	f_raw_udp4(b);
}

static void
f_loop_tcp6(struct bld *b)
{
	bld_family(b, 24);
	bld_ip6(b, A6, B6);
	bld_tcp(b, 5, 6, 0x02, 1, 0);
}

static void
f_frag4_first(struct bld *b)
{
	bld_eth(b, 0x0800);
	bld_ip4(b, A4, B4, 0);
	ip4_frag(b, 0, 1);
	bld_udp(b, 5000, 53);
	bld_data(b, 24);
	b->udp = 0;
	set16(b, b->th + 4, 1000); /* the whole datagram's length */
}

static void
f_frag4_later(struct bld *b)
{
	bld_eth(b, 0x0800);
	bld_ip4(b, A4, B4, 0);
	ip4_frag(b, 4, 0);
	set_next(b, 17);
	bld_data(b, 40);
}

static void
f_ext6_tcp(struct bld *b)
{
	bld_eth(b, 0x86dd);
	bld_ip6(b, A6, B6);
	bld_ext6(b, 0, 0);
	bld_ext6(b, 43, 2);
	bld_frag6(b, 0, 1, 0xabcdef01);
	bld_ext6(b, 60, 1);
	bld_tcp(b, 40002, 80, 0x02, 1024, 4);
	bld_data(b, 5);
}

static void
f_ext6_udp_ah(struct bld *b)
{
	bld_ip6(b, A6, B6);
	bld_ext6(b, 0, 0);
	bld_ext6(b, 60, 0);
	bld_ah6(b, 4);
	bld_udp(b, 4500, 4500);
	bld_data(b, 20);
}

static void
f_ext6_later(struct bld *b)
{
	bld_eth(b, 0x86dd);
	bld_ip6(b, A6, B6);
	bld_ext6(b, 0, 0);
	bld_frag6(b, 100, 0, 0x01020304);
	set_next(b, 60); /* the bytes after it are no header to walk */
	bld_data(b, 30);
}

/* depth destination options headers, then UDP. */
static void
ext6_chain(struct bld *b, int depth)
{
	int i;

	bld_ip6(b, A6, B6);
	for (i = 0; i < depth; i++)
		bld_ext6(b, 60, 0);
	bld_udp(b, 1, 2);
	bld_data(b, 1);
}

static void
f_ext6_depth8(struct bld *b)
{
	ext6_chain(b, 8);
}

static void
f_nonext6(struct bld *b)
{
	bld_ip6(b, A6, B6);
	bld_data(b, 4);
}

static void
f_gre4(struct bld *b)
{
	bld_eth(b, 0x0800);
	bld_ip4(b, A4, B4, 0);
	set_next(b, 47);
	bld_data(b, 8);
}

static void
f_unreach4(struct bld *b)
{
	static const uint8_t udp[8] = {0x9c, 0x40, 0, 53, 0, 0x6c, 0, 0};

	bld_eth(b, 0x0800);
	bld_ip4(b, B4, A4, 0);
	bld_icmp(b, 3, 3, 0);
	bld_quote4(b, 17, udp);
}

static void
f_unreach6(struct bld *b)
{
	static const uint8_t tcp[8] = {0x9c, 0x43, 0x01, 0xbb, 0, 0, 0, 1};

	bld_eth(b, 0x86dd);
	bld_ip6(b, B6, A6);
	bld_icmp(b, 1, 4, 0);
	bld_quote6(b, 6, tcp);
}

static void
f_timex4(struct bld *b)
{
	static const uint8_t echo[8] = {8, 0, 0, 0, 0x42, 0x42, 0, 1};

	bld_ip4(b, B4, A4, 0);
	bld_icmp(b, 11, 0, 0);
	bld_quote4(b, 1, echo);
}

static void
f_arp(struct bld *b)
{
	static const uint8_t body[28] = {0, 1, 8, 0, 6, 4, 0, 1, 2, 0, 0, 0, 0,
	    1, 192, 0, 2, 1, 0, 0, 0, 0, 0, 0, 192, 0, 2, 2};

	bld_eth(b, 0x0806);
	putn(b, body, sizeof(body));
	b->l4 = b->n;
}

static void
f_lldp(struct bld *b)
{
	bld_eth(b, 0x88cc);
	bld_data(b, 10);
}

static void
f_ieee8023(struct bld *b)
{
	bld_eth(b, 10); /* a length, not an ethertype */
	bld_data(b, 10);
}

static void
f_sll_llc(struct bld *b)
{
	bld_sll(b, 0x0004);
	bld_data(b, 5);
}

enum frame_id {
	C_ETH_TCP4,
	C_ETH_TCP4_OPTS,
	C_ETH_UDP4_PAD,
	C_VLAN_UDP4,
	C_QINQ_TCP6,
	C_VLAN4_UDP4,
	C_SLL_UDP4,
	C_SLL2_TCP6,
	C_RAW_UDP4,
	C_RAW_UDP6,
	C_ECHO4,
	C_ECHO4_REPLY,
	C_ECHO6,
	C_ECHO6_REPLY,
	C_NULL_LE_UDP4,
	C_NULL_BE_TCP6,
	C_NULL_LE_TCP6,
	C_LOOP_UDP4,
	C_LOOP_TCP6,
	C_FRAG4_FIRST,
	C_FRAG4_LATER,
	C_EXT6_TCP,
	C_EXT6_UDP_AH,
	C_EXT6_LATER,
	C_EXT6_DEPTH8,
	C_NONEXT6,
	C_GRE4,
	C_UNREACH4,
	C_UNREACH6,
	C_TIMEX4,
	C_ARP,
	C_LLDP,
	C_8023,
	C_SLL_LLC,
	C_COUNT
};

/* A valid frame and what the decoder should make of it. */
struct frame_case {
	const char *name;
	int dlt;
	void (*build)(struct bld *);
	size_t pad; /* Ethernet padding bytes after the IP packet */
	enum cap_kind kind;
	uint8_t ipver, proto, frag, has_l4;
	uint16_t sport, dport;
	uint32_t payload; /* L4 payload bytes */
};

static const struct frame_case frames[C_COUNT] = {
    [C_ETH_TCP4] = {"eth tcp4", DLT_EN10MB, f_eth_tcp4, 0, PKT_IP, 4, 6, 0, 1,
	40000, 80, 10},
    [C_ETH_TCP4_OPTS] = {"eth tcp4 options", DLT_EN10MB, f_eth_tcp4_opts, 0,
	PKT_IP, 4, 6, 0, 1, 40001, 443, 3},
    [C_ETH_UDP4_PAD] = {"eth udp4 padded", DLT_EN10MB, f_eth_udp4, 14, PKT_IP,
	4, 17, 0, 1, 5353, 53, 4},
    [C_VLAN_UDP4] = {"802.1Q udp4", DLT_EN10MB, f_vlan_udp4, 0, PKT_IP, 4, 17,
	0, 1, 1000, 2000, 6},
    [C_QINQ_TCP6] = {"802.1ad+802.1Q tcp6", DLT_EN10MB, f_qinq_tcp6, 0, PKT_IP,
	6, 6, 0, 1, 50000, 22, 8},
    [C_VLAN4_UDP4] = {"4 vlan tags", DLT_EN10MB, f_vlan4_udp4, 0, PKT_IP, 4, 17,
	0, 1, 1001, 2001, 2},
    [C_SLL_UDP4] = {"sll udp4", DLT_LINUX_SLL, f_sll_udp4, 0, PKT_IP, 4, 17, 0,
	1, 123, 123, 48},
    [C_SLL2_TCP6] = {"sll2 tcp6", DLT_LINUX_SLL2, f_sll2_tcp6, 0, PKT_IP, 6, 6,
	0, 1, 443, 50001, 1},
    [C_RAW_UDP4] = {"raw udp4", DLT_RAW, f_raw_udp4, 0, PKT_IP, 4, 17, 0, 1,
	33000, 53, 12},
    [C_RAW_UDP6] = {"linktype_raw udp6", LINKTYPE_RAW, f_raw_udp6, 0, PKT_IP, 6,
	17, 0, 1, 33001, 53, 12},
    [C_ECHO4] = {"ipv4 echo request", DLT_IPV4, f_echo4, 0, PKT_IP, 4, 1, 0, 1,
	0x4242, 8 << 8, 16},
    [C_ECHO4_REPLY] = {"eth echo reply", DLT_EN10MB, f_echo4_reply, 0, PKT_IP,
	4, 1, 0, 1, 0x4242, 8 << 8, 16},
    [C_ECHO6] = {"ipv6 echo request", DLT_IPV6, f_echo6, 0, PKT_IP, 6, 58, 0, 1,
	0x77, 128 << 8, 8},
    [C_ECHO6_REPLY] = {"eth echo6 reply", DLT_EN10MB, f_echo6_reply, 0, PKT_IP,
	6, 58, 0, 1, 0x77, 128 << 8, 8},
    [C_NULL_LE_UDP4] = {"null le udp4", DLT_NULL, f_null_le_udp4, 0, PKT_IP, 4,
	17, 0, 1, 33000, 53, 12},
    [C_NULL_BE_TCP6] = {"null be tcp6", DLT_NULL, f_null_be_tcp6, 0, PKT_IP, 6,
	6, 0, 1, 1, 2, 0},
    [C_NULL_LE_TCP6] = {"null le tcp6 (28)", DLT_NULL, f_null_le_tcp6, 0,
	PKT_IP, 6, 6, 0, 1, 3, 4, 0},
    [C_LOOP_UDP4] = {"loop udp4", DLT_LOOP, f_loop_udp4, 0, PKT_IP, 4, 17, 0, 1,
	33000, 53, 12},
    [C_LOOP_TCP6] = {"loop tcp6", DLT_LOOP, f_loop_tcp6, 0, PKT_IP, 6, 6, 0, 1,
	5, 6, 0},
    [C_FRAG4_FIRST] = {"ipv4 first fragment", DLT_EN10MB, f_frag4_first, 0,
	PKT_IP, 4, 17, 1, 1, 5000, 53, 24},
    [C_FRAG4_LATER] = {"ipv4 later fragment", DLT_EN10MB, f_frag4_later, 0,
	PKT_IP, 4, 17, 2, 0, 0, 0, 40},
    [C_EXT6_TCP] = {"ipv6 hop+rt+frag+dst tcp", DLT_EN10MB, f_ext6_tcp, 0,
	PKT_IP, 6, 6, 1, 1, 40002, 80, 5},
    [C_EXT6_UDP_AH] = {"ipv6 hop+dst+ah udp", DLT_RAW, f_ext6_udp_ah, 0, PKT_IP,
	6, 17, 0, 1, 4500, 4500, 20},
    [C_EXT6_LATER] = {"ipv6 later fragment", DLT_EN10MB, f_ext6_later, 0,
	PKT_IP, 6, 60, 2, 0, 0, 0, 30},
    [C_EXT6_DEPTH8] = {"ipv6 8 extension headers", DLT_RAW, f_ext6_depth8, 0,
	PKT_IP, 6, 17, 0, 1, 1, 2, 1},
    [C_NONEXT6] = {"ipv6 no next header", DLT_RAW, f_nonext6, 0, PKT_IP, 6, 59,
	0, 0, 0, 0, 4},
    [C_GRE4] = {"ipv4 gre", DLT_EN10MB, f_gre4, 0, PKT_IP, 4, 47, 0, 0, 0, 0,
	8},
    [C_UNREACH4] = {"icmp port unreachable", DLT_EN10MB, f_unreach4, 0, PKT_IP,
	4, 1, 0, 1, 0, 3 << 8 | 3, 28},
    [C_UNREACH6] = {"icmp6 port unreachable", DLT_EN10MB, f_unreach6, 0, PKT_IP,
	6, 58, 0, 1, 0, 1 << 8 | 4, 48},
    [C_TIMEX4] = {"icmp time exceeded", DLT_RAW, f_timex4, 0, PKT_IP, 4, 1, 0,
	1, 0, 11 << 8, 28},
    [C_ARP] = {"arp", DLT_EN10MB, f_arp, 0, PKT_ARP, 0, 0, 0, 0, 0, 0, 0},
    [C_LLDP] = {"lldp", DLT_EN10MB, f_lldp, 0, PKT_OTHER, 0, 0, 0, 0, 0, 0, 0},
    [C_8023] = {"802.3 length", DLT_EN10MB, f_ieee8023, 0, PKT_OTHER, 0, 0, 0,
	0, 0, 0, 0},
    [C_SLL_LLC] = {"sll 802.2", DLT_LINUX_SLL, f_sll_llc, 0, PKT_OTHER, 0, 0, 0,
	0, 0, 0, 0},
};

/* Build frame c into b. */
static void
build(const struct frame_case *c, struct bld *b)
{
	size_t i;

	memset(b, 0, sizeof(*b));
	c->build(b);
	bld_finish(b);
	for (i = 0; i < c->pad; i++)
		put8(b, 0);
}

/*
 * Decode the first caplen bytes of b as a frame of wirelen bytes, from an
 * exactly-sized heap copy so that a read past caplen trips the sanitizer.
 * The copy stays allocated until the next call, for payload pointers.
 */
static enum cap_kind
decode(int dlt, const uint8_t *b, size_t caplen, size_t wirelen,
    struct cap_pkt *p, uint8_t **copy)
{
	struct cap_frame f;
	enum cap_kind k;

	free(*copy);
	*copy = malloc(caplen);
	ck_assert_msg(*copy != NULL || caplen == 0, "malloc should work");
	if (caplen > 0)
		memcpy(*copy, b, caplen);
	f.ts_us = 1234567;
	f.caplen = (uint32_t)caplen;
	f.wirelen = (uint32_t)wirelen;
	f.data = *copy;
	memset(p, 0xa5, sizeof(*p));
	k = cap_decode(dlt, &f, p);
	ck_assert_msg(k == p->kind, "return value should equal p->kind");
	if (k == PKT_MALFORMED)
		ck_assert_msg((unsigned)p->malformed < MAL_COUNT,
		    "a malformed frame should carry a reason");
	return k;
}

/* ---- Valid frames --------------------------------------------------- */

START_TEST(test_valid_frames)
{
	const struct frame_case *c = &frames[_i];
	struct cap_pkt p;
	struct bld b;
	uint8_t *copy = NULL;

	build(c, &b);
	decode(c->dlt, b.b, b.n, b.n, &p, &copy);
	ck_assert_msg(p.kind == c->kind,
	    "%s should decode as kind %d, got %d "
	    "(%s)",
	    c->name, c->kind, p.kind, cap_malformed_name(p.malformed));
	ck_assert_msg(p.ts_us == 1234567 && p.wirelen == b.n,
	    "%s: time and wire length should be copied", c->name);
	if (c->kind != PKT_IP)
		goto out;
	ck_assert_msg(p.ipver == c->ipver && p.proto == c->proto,
	    "%s should be IPv%u proto %u, got %u/%u", c->name, c->ipver,
	    c->proto, p.ipver, p.proto);
	ck_assert_msg(p.frag == c->frag && p.has_l4 == c->has_l4,
	    "%s should have frag %u has_l4 %u, got %u %u", c->name, c->frag,
	    c->has_l4, p.frag, p.has_l4);
	ck_assert_msg(p.sport == c->sport && p.dport == c->dport,
	    "%s should have ports %u %u, got %u %u", c->name, c->sport,
	    c->dport, p.sport, p.dport);
	ck_assert_msg(p.payload_wire == c->payload &&
		p.payload_cap == c->payload && b.end - b.l4 == c->payload,
	    "%s should have %u payload bytes, got %u wire %u captured", c->name,
	    c->payload, p.payload_wire, p.payload_cap);
	ck_assert_msg(p.payload == copy + b.l4,
	    "%s: payload should start where the headers end", c->name);
out:
	free(copy);
}
END_TEST

/*
 * Cut frame c at every length.  Cut to n on the wire too, it is malformed
 * (a shorter IP length field never matches); only Ethernet padding and the
 * body of a non-IP frame may go.  Snapped to n, it is malformed while the
 * snap is inside the headers, and decodes with a shorter payload after.
 */
START_TEST(test_truncation_sweep)
{
	const struct frame_case *c = &frames[_i];
	size_t n, valid_from, got;
	struct cap_pkt p;
	struct bld b;
	uint8_t *copy = NULL;
	enum cap_kind k;

	build(c, &b);
	valid_from = c->kind == PKT_OTHER ? b.l4 : b.end;
	for (n = 0; n < b.n; n++) {
		k = decode(c->dlt, b.b, n, n, &p, &copy);
		ck_assert_msg(k == (n < valid_from ? PKT_MALFORMED : c->kind),
		    "%s cut to %zu of %zu bytes should be %s, got kind %d",
		    c->name, n, b.n, n < valid_from ? "malformed" : "valid", k);
		k = decode(c->dlt, b.b, n, b.n, &p, &copy);
		ck_assert_msg(k == (n < b.l4 ? PKT_MALFORMED : c->kind),
		    "%s snapped at %zu (headers end at %zu) should be %s, "
		    "got kind %d",
		    c->name, n, b.l4, n < b.l4 ? "malformed" : "valid", k);
		if (k != PKT_IP)
			continue;
		got = (n < b.end ? n : b.end) - b.l4;
		ck_assert_msg(p.payload_cap == got &&
			p.payload_wire == c->payload && p.sport == c->sport &&
			p.dport == c->dport,
		    "%s snapped at %zu should keep its key and payload %u with "
		    "%zu captured, got %u with %u",
		    c->name, n, c->payload, got, p.payload_wire, p.payload_cap);
	}
	free(copy);
}
END_TEST

/* ---- Malformed frames ---------------------------------------------- */

static void
f_vlan5_udp4(struct bld *b)
{
	bld_eth(b, 0x8100);
	bld_tag(b, 0x8100);
	bld_tag(b, 0x8100);
	bld_tag(b, 0x8100);
	bld_tag(b, 0x8100);
	bld_tag(b, 0x0800);
	bld_ip4(b, A4, B4, 0);
	bld_udp(b, 1, 2);
}

static void
f_ext6_depth9(struct bld *b)
{
	ext6_chain(b, 9);
}

static const struct {
	const char *name;
	int dlt;
	void (*build)(struct bld *);
	enum cap_malformed why;
} bad_frames[] = {
    {"5 vlan tags", DLT_EN10MB, f_vlan5_udp4, MAL_VLAN_DEPTH},
    {"9 ipv6 extension headers", DLT_RAW, f_ext6_depth9, MAL_IPV6_EXT_DEPTH},
};

START_TEST(test_bad_frames)
{
	struct cap_pkt p;
	struct bld b;
	uint8_t *copy = NULL;

	memset(&b, 0, sizeof(b));
	bad_frames[_i].build(&b);
	bld_finish(&b);
	decode(bad_frames[_i].dlt, b.b, b.n, b.n, &p, &copy);
	ck_assert_msg(
	    p.kind == PKT_MALFORMED && p.malformed == bad_frames[_i].why,
	    "%s should be malformed (%s), got kind %d (%s)",
	    bad_frames[_i].name, cap_malformed_name(bad_frames[_i].why), p.kind,
	    cap_malformed_name(p.malformed));
	free(copy);
}
END_TEST

enum layer {
	AT_FRAME,
	AT_IP,
	AT_TH
};

/* A valid frame with one field overwritten (big-endian, width bytes). */
static const struct {
	const char *name;
	enum frame_id base;
	enum layer at;
	size_t off;
	int width;
	uint32_t val;
	enum cap_kind kind;
	enum cap_malformed why;
} mutations[] = {
    {"ipv4 version 5", C_ETH_TCP4, AT_IP, 0, 1, 0x55, PKT_MALFORMED,
	MAL_IPV4_VERSION},
    {"ipv4 ihl 4", C_ETH_TCP4, AT_IP, 0, 1, 0x44, PKT_MALFORMED, MAL_IPV4_HLEN},
    {"ipv4 ihl 15 past the frame", C_ETH_TCP4, AT_IP, 0, 1, 0x4f, PKT_MALFORMED,
	MAL_IPV4_HLEN},
    {"ipv4 total length 0", C_ETH_TCP4, AT_IP, 2, 2, 0, PKT_MALFORMED,
	MAL_IPV4_TOTLEN},
    {"ipv4 total length 19", C_ETH_TCP4, AT_IP, 2, 2, 19, PKT_MALFORMED,
	MAL_IPV4_TOTLEN},
    {"ipv4 total length one past", C_ETH_TCP4, AT_IP, 2, 2, 51, PKT_MALFORMED,
	MAL_IPV4_TOTLEN},
    {"ipv4 total length one short", C_ETH_TCP4, AT_IP, 2, 2, 49, PKT_IP, 0},
    {"ipv6 under the ipv4 ethertype", C_ETH_TCP4, AT_FRAME, 12, 2, 0x86dd,
	PKT_MALFORMED, MAL_IPV4_VERSION},
    {"ipv4 under the ipv6 ethertype", C_QINQ_TCP6, AT_IP, 0, 1, 0x45,
	PKT_MALFORMED, MAL_IPV4_VERSION},
    {"tcp offset 4", C_ETH_TCP4, AT_TH, 12, 1, 0x40, PKT_MALFORMED,
	MAL_TCP_HLEN},
    {"tcp offset 15 past the frame", C_ETH_TCP4, AT_TH, 12, 1, 0xf0,
	PKT_MALFORMED, MAL_TCP_HLEN},
    {"tcp offset 7 inside the segment", C_ETH_TCP4, AT_TH, 12, 1, 0x70, PKT_IP,
	0},
    {"udp length 0", C_RAW_UDP4, AT_TH, 4, 2, 0, PKT_MALFORMED, MAL_UDP_LEN},
    {"udp length 7", C_RAW_UDP4, AT_TH, 4, 2, 7, PKT_MALFORMED, MAL_UDP_LEN},
    {"udp length 8", C_RAW_UDP4, AT_TH, 4, 2, 8, PKT_IP, 0},
    {"udp length one past", C_RAW_UDP4, AT_TH, 4, 2, 21, PKT_MALFORMED,
	MAL_UDP_LEN},
    {"ipv4 version 5 on DLT_RAW", C_RAW_UDP4, AT_IP, 0, 1, 0x55, PKT_MALFORMED,
	MAL_IPV4_VERSION},
    {"ipv6 payload length one past", C_RAW_UDP6, AT_IP, 4, 2, 21, PKT_MALFORMED,
	MAL_IPV6_PLEN},
    {"ipv6 payload length 0 takes the frame", C_RAW_UDP6, AT_IP, 4, 2, 0,
	PKT_IP, 0},
    {"hop-by-hop length past the frame", C_EXT6_TCP, AT_IP, 41, 1, 255,
	PKT_MALFORMED, MAL_IPV6_EXT},
    {"ipv6 on DLT_IPV4", C_ECHO4, AT_IP, 0, 1, 0x60, PKT_MALFORMED,
	MAL_IPV4_VERSION},
    {"ipv4 on DLT_IPV6", C_ECHO6, AT_IP, 0, 1, 0x45, PKT_MALFORMED,
	MAL_IPV4_VERSION},
    {"echo of 4 bytes", C_ECHO4, AT_IP, 2, 2, 24, PKT_MALFORMED,
	MAL_ICMP_SHORT},
    {"icmp of 3 bytes", C_ECHO4, AT_IP, 2, 2, 23, PKT_MALFORMED,
	MAL_ICMP_SHORT},
    {"unreachable of 4 bytes", C_UNREACH4, AT_IP, 2, 2, 24, PKT_IP, 0},
    {"null: unknown family", C_NULL_LE_UDP4, AT_FRAME, 0, 4, 0x07000000,
	PKT_OTHER, 0},
    {"loop: family in host order", C_LOOP_UDP4, AT_FRAME, 0, 4, 0x02000000,
	PKT_OTHER, 0},
};

START_TEST(test_mutations)
{
	const struct frame_case *c = &frames[mutations[_i].base];
	size_t off = mutations[_i].off;
	struct cap_pkt p;
	struct bld b;
	uint8_t *copy = NULL;
	int i;

	build(c, &b);
	if (mutations[_i].at == AT_IP)
		off += b.ip;
	else if (mutations[_i].at == AT_TH)
		off += b.th;
	for (i = 0; i < mutations[_i].width; i++)
		b.b[off + i] = (uint8_t)(mutations[_i].val >>
		    (8 * (mutations[_i].width - 1 - i)));
	decode(c->dlt, b.b, b.n, b.n, &p, &copy);
	ck_assert_msg(p.kind == mutations[_i].kind,
	    "%s should give kind %d, got %d (%s)", mutations[_i].name,
	    mutations[_i].kind, p.kind, cap_malformed_name(p.malformed));
	if (p.kind == PKT_MALFORMED)
		ck_assert_msg(p.malformed == mutations[_i].why,
		    "%s should be %s, got %s", mutations[_i].name,
		    cap_malformed_name(mutations[_i].why),
		    cap_malformed_name(p.malformed));
	free(copy);
}
END_TEST

START_TEST(test_caplen_over_wirelen)
{
	struct cap_pkt p;
	struct bld b;
	uint8_t *copy = NULL;

	build(&frames[C_ETH_TCP4], &b);
	decode(DLT_EN10MB, b.b, b.n, b.n - 1, &p, &copy);
	ck_assert_msg(p.kind == PKT_MALFORMED && p.malformed == MAL_CAPLEN,
	    "caplen above wirelen should be malformed (caplen)");
	free(copy);
}
END_TEST

/* ---- Fields of particular frames ------------------------------------- */

/* Decode frame id whole; the copy is the caller's to free. */
static void
decode_case(enum frame_id id, struct bld *b, struct cap_pkt *p, uint8_t **copy)
{
	build(&frames[id], b);
	decode(frames[id].dlt, b->b, b->n, b->n, p, copy);
	ck_assert_msg(
	    p->kind == frames[id].kind, "%s should decode", frames[id].name);
}

START_TEST(test_ipv4_fields)
{
	static const uint8_t a[16] = {[10] = 0xff, 0xff, 192, 0, 2, 1};
	static const uint8_t d[16] = {[10] = 0xff, 0xff, 198, 51, 100, 2};
	struct cap_pkt p;
	struct bld b;
	uint8_t *copy = NULL;

	decode_case(C_ETH_TCP4, &b, &p, &copy);
	ck_assert_msg(memcmp(p.src, a, 16) == 0 && memcmp(p.dst, d, 16) == 0,
	    "IPv4 addresses should be stored as ::ffff:a.b.c.d");
	ck_assert_msg(p.ttl == 64 && p.ipid == 0x1234,
	    "ttl and id should be read, got %u %u", p.ttl, p.ipid);
	ck_assert_msg(p.tcp_flags == 0x18 && p.tcp_win == 0x2000,
	    "tcp flags and window should be read, got %#x %u", p.tcp_flags,
	    p.tcp_win);
	ck_assert_msg(p.has_inner == 0, "tcp has no inner tuple");
	free(copy);
}
END_TEST

START_TEST(test_options_skipped)
{
	struct cap_pkt p;
	struct bld b;
	uint8_t *copy = NULL;

	decode_case(C_ETH_TCP4_OPTS, &b, &p, &copy);
	ck_assert_uint_eq(b.l4, 14 + 28 + 32);
	ck_assert_msg(p.payload == copy + 14 + 28 + 32 && p.payload_cap == 3,
	    "the payload should follow IPv4 and TCP options");
	ck_assert_msg(p.tcp_flags == 0x02 && p.tcp_win == 64240,
	    "SYN and window should be read past the options");
	free(copy);
}
END_TEST

START_TEST(test_ipv6_fields)
{
	struct cap_pkt p;
	struct bld b;
	uint8_t *copy = NULL;

	decode_case(C_QINQ_TCP6, &b, &p, &copy);
	ck_assert_msg(memcmp(p.src, A6, 16) == 0 && memcmp(p.dst, B6, 16) == 0,
	    "IPv6 addresses should be copied");
	ck_assert_msg(p.ttl == 63, "ttl should be the hop limit");
	ck_assert_msg(p.ipid == 0 && p.frag == 0,
	    "an unfragmented IPv6 packet has no id");
	free(copy);
}
END_TEST

START_TEST(test_padding_ignored)
{
	struct cap_pkt p;
	struct bld b;
	uint8_t *copy = NULL;

	decode_case(C_ETH_UDP4_PAD, &b, &p, &copy);
	ck_assert_uint_eq(b.n, 60);
	ck_assert_msg(p.payload_wire == 4 && p.payload_cap == 4,
	    "Ethernet padding should not count as payload, got %u/%u",
	    p.payload_wire, p.payload_cap);
	ck_assert_msg(p.wirelen == 60, "wirelen should stay the frame's");
	free(copy);
}
END_TEST

START_TEST(test_fragment_ids)
{
	struct cap_pkt p;
	struct bld b;
	uint8_t *copy = NULL;

	decode_case(C_FRAG4_FIRST, &b, &p, &copy);
	ck_assert_msg(p.frag == 1 && p.ipid == 0x1234 && p.dport == 53,
	    "a first fragment keeps its ports despite a UDP length past it");
	decode_case(C_FRAG4_LATER, &b, &p, &copy);
	ck_assert_msg(p.frag == 2 && p.has_l4 == 0 && p.ipid == 0x1234 &&
		p.payload == copy + b.ip + 20,
	    "a later fragment has only the IP payload");
	decode_case(C_EXT6_TCP, &b, &p, &copy);
	ck_assert_msg(p.frag == 1 && p.ipid == 0xabcdef01,
	    "an IPv6 first fragment should give the fragment id");
	decode_case(C_EXT6_LATER, &b, &p, &copy);
	ck_assert_msg(p.frag == 2 && p.ipid == 0x01020304 && p.proto == 60,
	    "an IPv6 later fragment gives the id and the next header");
	free(copy);
}
END_TEST

/* An echo request and its reply should fall into one flow. */
START_TEST(test_echo_pairs)
{
	static const enum frame_id pair[2][2] = {
	    {C_ECHO4, C_ECHO4_REPLY}, {C_ECHO6, C_ECHO6_REPLY}};
	struct cap_pkt q, r;
	struct bld b;
	uint8_t *copy = NULL;
	int i;

	for (i = 0; i < 2; i++) {
		decode_case(pair[i][0], &b, &q, &copy);
		decode_case(pair[i][1], &b, &r, &copy);
		ck_assert_msg(q.sport == r.sport && q.dport == r.dport,
		    "echo request and reply should share sport/dport");
		ck_assert_msg(q.icmp_type != r.icmp_type && q.icmp_code == 0,
		    "icmp_type should stay the real type");
	}
	free(copy);
}
END_TEST

START_TEST(test_icmp_inner)
{
	static const uint8_t a[16] = {[10] = 0xff, 0xff, 192, 0, 2, 1};
	static const uint8_t d[16] = {[10] = 0xff, 0xff, 198, 51, 100, 2};
	struct cap_pkt p;
	struct bld b;
	uint8_t *copy = NULL;

	decode_case(C_UNREACH4, &b, &p, &copy);
	ck_assert_msg(p.has_inner && p.inner_proto == 17 &&
		memcmp(p.inner_src, a, 16) == 0 &&
		memcmp(p.inner_dst, d, 16) == 0 && p.inner_sport == 40000 &&
		p.inner_dport == 53,
	    "port unreachable should give the quoted UDP tuple");
	ck_assert_msg(p.icmp_type == 3 && p.icmp_code == 3,
	    "type and code should be read");
	decode_case(C_UNREACH6, &b, &p, &copy);
	ck_assert_msg(p.has_inner && p.inner_proto == 6 &&
		memcmp(p.inner_src, A6, 16) == 0 &&
		memcmp(p.inner_dst, B6, 16) == 0 && p.inner_sport == 40003 &&
		p.inner_dport == 443,
	    "ICMPv6 unreachable should give the quoted TCP tuple");
	decode_case(C_TIMEX4, &b, &p, &copy);
	ck_assert_msg(p.has_inner && p.inner_proto == 1 &&
		p.inner_sport == 0x4242 && p.inner_dport == 8 << 8,
	    "a quoted echo should be keyed like the echo flow");
	free(copy);
}
END_TEST

/* A quote cut short is no reason to drop the ICMP error. */
START_TEST(test_icmp_inner_cut)
{
	struct cap_pkt p;
	struct bld b;
	uint8_t *copy = NULL;
	size_t n;

	build(&frames[C_UNREACH4], &b);
	for (n = b.l4; n < b.n; n++) {
		decode(DLT_EN10MB, b.b, n, b.n, &p, &copy);
		ck_assert_msg(p.kind == PKT_IP && p.has_inner == 0,
		    "a quote snapped at %zu should leave has_inner 0", n);
	}
	b.b[b.l4 + 6] = 0x00;
	b.b[b.l4 + 7] = 0x10; /* the quote is a later fragment */
	decode(DLT_EN10MB, b.b, b.n, b.n, &p, &copy);
	ck_assert_msg(p.kind == PKT_IP && p.has_inner == 0,
	    "a quoted later fragment has no ports to match");
	b.b[b.l4] = 0x65; /* quoted version 6 inside ICMPv4 */
	decode(DLT_EN10MB, b.b, b.n, b.n, &p, &copy);
	ck_assert_msg(p.kind == PKT_IP && p.has_inner == 0,
	    "a quote of the wrong IP version is ignored");
	free(copy);
}
END_TEST

START_TEST(test_linktypes)
{
	static const int yes[] = {DLT_EN10MB, DLT_LINUX_SLL, DLT_LINUX_SLL2,
	    DLT_RAW, LINKTYPE_RAW, DLT_IPV4, DLT_IPV6, DLT_NULL, DLT_LOOP};
	static const int no[] = {-1, DLT_PPP, DLT_IEEE802_11,
	    DLT_IEEE802_11_RADIO, DLT_USB_LINUX, 100000};
	struct cap_pkt p;
	struct bld b;
	uint8_t *copy = NULL;
	size_t i;

	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		ck_assert_msg(cap_linktype_supported(yes[i]),
		    "link type %d should be supported", yes[i]);
	for (i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		ck_assert_msg(!cap_linktype_supported(no[i]),
		    "link type %d should not be supported", no[i]);
	build(&frames[C_ETH_TCP4], &b);
	decode(DLT_IEEE802_11, b.b, b.n, b.n, &p, &copy);
	ck_assert_msg(p.kind == PKT_OTHER,
	    "an unsupported link type should decode as other");
	free(copy);
}
END_TEST

START_TEST(test_malformed_names)
{
	const char *a, *b;
	int i, j;

	for (i = 0; i < MAL_COUNT; i++) {
		a = cap_malformed_name((enum cap_malformed)i);
		ck_assert_msg(
		    a != NULL && *a != '\0' && strcmp(a, "unknown") != 0,
		    "reason %d should have a name", i);
		for (j = 0; j < i; j++) {
			b = cap_malformed_name((enum cap_malformed)j);
			ck_assert_msg(strcmp(a, b) != 0,
			    "names should be distinct: %s", a);
		}
	}
	ck_assert_str_eq(cap_malformed_name(MAL_IPV4_SHORT), "ipv4_short");
	ck_assert_str_eq(cap_malformed_name(MAL_COUNT), "unknown");
	ck_assert_str_eq(
	    cap_malformed_name((enum cap_malformed) - 1), "unknown");
}
END_TEST

Suite *
decode_suite(void)
{
	Suite *s = suite_create("decode");
	TCase *tc;

	tc = tcase_create("frames");
	tcase_add_loop_test(tc, test_valid_frames, 0, C_COUNT);
	tcase_add_test(tc, test_ipv4_fields);
	tcase_add_test(tc, test_options_skipped);
	tcase_add_test(tc, test_ipv6_fields);
	tcase_add_test(tc, test_padding_ignored);
	tcase_add_test(tc, test_fragment_ids);
	tcase_add_test(tc, test_echo_pairs);
	tcase_add_test(tc, test_icmp_inner);
	tcase_add_test(tc, test_linktypes);
	tcase_add_test(tc, test_malformed_names);
	suite_add_tcase(s, tc);

	tc = tcase_create("malformed");
	tcase_add_loop_test(
	    tc, test_bad_frames, 0, sizeof(bad_frames) / sizeof(bad_frames[0]));
	tcase_add_loop_test(
	    tc, test_mutations, 0, sizeof(mutations) / sizeof(mutations[0]));
	tcase_add_test(tc, test_caplen_over_wirelen);
	tcase_add_test(tc, test_icmp_inner_cut);
	suite_add_tcase(s, tc);

	tc = tcase_create("truncation");
	tcase_add_loop_test(tc, test_truncation_sweep, 0, C_COUNT);
	suite_add_tcase(s, tc);
	return s;
}

/* ---- DNS ------------------------------------------------------------ */

/*
 * A DNS message with one question: name in wire form (length-prefixed
 * labels, no root byte), then QTYPE and QCLASS IN.  With tcp, the 2-byte
 * length comes first.  Returns the length.
 */
static size_t
dns_msg(uint8_t *m, size_t cap, int tcp, unsigned flags, unsigned qdcount,
    const char *wname, size_t wlen, unsigned qtype)
{
	size_t n = tcp ? 2 : 0, start = n;

	ck_assert_msg(n + 12 + wlen + 5 <= cap, "test message should fit");
	memset(m, 0, cap);
	m[n] = 0xbe;
	m[n + 1] = 0xef;
	m[n + 2] = (uint8_t)(flags >> 8);
	m[n + 3] = (uint8_t)flags;
	m[n + 5] = (uint8_t)qdcount;
	n += 12;
	memcpy(m + n, wname, wlen);
	n += wlen;
	m[n++] = 0;
	m[n++] = (uint8_t)(qtype >> 8);
	m[n++] = (uint8_t)qtype;
	m[n++] = 0;
	m[n++] = 1;
	if (tcp) {
		m[0] = (uint8_t)((n - start) >> 8);
		m[1] = (uint8_t)(n - start);
	}
	return n;
}

#define WNAME(s) (s), sizeof(s) - 1

/* Parse from an exactly-sized heap copy; pre-fill d with a sentinel. */
static int
dns_parse(const uint8_t *m, size_t len, int tcp, struct cap_dns *d)
{
	uint8_t *copy = malloc(len);
	int rc;

	ck_assert_msg(copy != NULL || len == 0, "malloc should work");
	if (len > 0)
		memcpy(copy, m, len);
	memset(d, 0xa5, sizeof(*d));
	rc = cap_dns_parse(copy, len, tcp, d);
	free(copy);
	return rc;
}

START_TEST(test_dns_query)
{
	uint8_t m[512];
	struct cap_dns d;
	size_t n;
	/* w:3 e:2 m:2 and six letters once, 13 letters. */
	double h = 3.0 / 13 * log2(13.0 / 3) + 2 * (2.0 / 13 * log2(13.0 / 2)) +
	    6 * (1.0 / 13 * log2(13.0));

	n = dns_msg(
	    m, sizeof(m), 0, 0x0100, 1, WNAME("\003www\007example\003com"), 1);
	ck_assert_int_eq(dns_parse(m, n, 0, &d), 0);
	ck_assert_str_eq(d.name, "www.example.com");
	ck_assert_msg(d.name_len == 15 && d.labels == 3 && d.qtype == 1 &&
		d.is_response == 0,
	    "a query for www.example.com A should give 15 bytes, 3 labels");
	ck_assert_double_eq_tol(h, 3.0269868, 1e-6);
	ck_assert_double_eq_tol(d.entropy, h, 1e-5);
}
END_TEST

START_TEST(test_dns_response_and_tcp)
{
	uint8_t m[512];
	struct cap_dns d;
	size_t n;

	n = dns_msg(m, sizeof(m), 0, 0x8400, 1, WNAME("\002a1\002io"), 28);
	ck_assert_int_eq(dns_parse(m, n, 0, &d), 0);
	ck_assert_msg(
	    d.is_response == 1 && d.qtype == 28, "QR should mark a response");
	n = dns_msg(m, sizeof(m), 1, 0x0100, 1, WNAME("\002a1\002io"), 15);
	ck_assert_int_eq(dns_parse(m, n, 1, &d), 0);
	ck_assert_msg(d.qtype == 15 && strcmp(d.name, "a1.io") == 0,
	    "the TCP length prefix should be skipped");
	ck_assert_int_eq(dns_parse(m, 1, 1, &d), -EPROTO);
	m[0] = 0;
	m[1] = 11; /* the prefix cuts the message inside the header */
	ck_assert_int_eq(dns_parse(m, n, 1, &d), -EPROTO);
}
END_TEST

START_TEST(test_dns_tunnel_name)
{
	uint8_t m[512];
	struct cap_dns d, ref;
	size_t n;

	n = dns_msg(m, sizeof(m), 0, 0x0100, 1,
	    WNAME("\0503a7f9c0e1b2d4f6a8c0e2b4d6f8a1c3e5f7a9b1d"
		  "\001t\007example\003org"),
	    10);
	ck_assert_int_eq(dns_parse(m, n, 0, &d), 0);
	ck_assert_str_eq(
	    d.name, "3a7f9c0e1b2d4f6a8c0e2b4d6f8a1c3e5f7a9b1d.t.example.org");
	ck_assert_msg(d.qtype == 10 && d.labels == 4 && d.name_len == 54,
	    "a NULL query should give its type, labels and length");
	ck_assert_double_eq_tol(d.entropy, 4.3736247, 1e-5);
	n = dns_msg(
	    m, sizeof(m), 0, 0x0100, 1, WNAME("\003www\007example\003com"), 1);
	ck_assert_int_eq(dns_parse(m, n, 0, &ref), 0);
	ck_assert_msg(d.entropy > ref.entropy + 1,
	    "a hex-encoded name should look more random than a word name");
}
END_TEST

/* The message is whole once QTYPE is in; QCLASS is not needed. */
START_TEST(test_dns_truncation)
{
	uint8_t m[512];
	struct cap_dns d;
	size_t n, need, i;
	int tcp;

	for (tcp = 0; tcp < 2; tcp++) {
		n = dns_msg(m, sizeof(m), tcp, 0x0100, 1,
		    WNAME("\003www\007example\003com"), 1);
		need = n - 2;
		for (i = 0; i < n; i++)
			ck_assert_msg(dns_parse(m, i, tcp, &d) ==
				(i < need ? -EPROTO : 0),
			    "a message cut to %zu bytes (tcp %d) should %s", i,
			    tcp, i < need ? "fail" : "parse");
	}
	ck_assert_int_eq(cap_dns_parse(NULL, 0, 0, &d), -EPROTO);
}
END_TEST

START_TEST(test_dns_limits)
{
	char name[300];
	uint8_t m[512];
	struct cap_dns d;
	size_t n, len;
	int i;

	/* Labels of 63 and 64 bytes. */
	memset(name, 'x', sizeof(name));
	name[0] = 63;
	n = dns_msg(m, sizeof(m), 0, 0, 1, name, 64, 1);
	ck_assert_msg(dns_parse(m, n, 0, &d) == 0 && d.name_len == 63,
	    "a 63-byte label should parse");
	name[0] = 64;
	n = dns_msg(m, sizeof(m), 0, 0, 1, name, 65, 1);
	ck_assert_msg(dns_parse(m, n, 0, &d) == -EPROTO,
	    "a 64-byte label should be refused");
	/* 255 and 256 bytes in wire form: 3 labels of 63 and one of 61/62. */
	for (i = 0, len = 0; i < 4; i++) {
		name[len] = i < 3 ? 63 : 61;
		len += 1 + (size_t)(uint8_t)name[len];
	}
	n = dns_msg(m, sizeof(m), 0, 0, 1, name, len, 1);
	ck_assert_msg(dns_parse(m, n, 0, &d) == 0 && d.name_len == 253 &&
		strlen(d.name) == 253 && d.labels == 4,
	    "a 255-byte name should parse to 253 characters");
	name[len - 62] = 62;
	n = dns_msg(m, sizeof(m), 0, 0, 1, name, len + 1, 1);
	ck_assert_msg(dns_parse(m, n, 0, &d) == -EPROTO,
	    "a 256-byte name should be refused");
}
END_TEST

START_TEST(test_dns_bad)
{
	uint8_t m[512];
	struct cap_dns d, zero;
	size_t n;

	memset(&zero, 0, sizeof(zero));
	n = dns_msg(m, sizeof(m), 0, 0x0100, 0, WNAME("\001a"), 1);
	ck_assert_msg(
	    dns_parse(m, n, 0, &d) == -EPROTO, "qdcount 0 should be refused");
	ck_assert_msg(memcmp(&d, &zero, sizeof(d)) == 0,
	    "a refused message should leave nothing half parsed");
	n = dns_msg(m, sizeof(m), 0, 0x0100, 1, WNAME("\001a\101b"), 1);
	ck_assert_msg(dns_parse(m, n, 0, &d) == -EPROTO,
	    "a reserved label type (0x40) should be refused");
	ck_assert_msg(memcmp(&d, &zero, sizeof(d)) == 0,
	    "a refused name should leave nothing half parsed");
	n = dns_msg(m, sizeof(m), 0, 0x0100, 1, WNAME("\003a.b\001\n"), 1);
	ck_assert_int_eq(dns_parse(m, n, 0, &d), 0);
	ck_assert_msg(strcmp(d.name, "a?b.?") == 0 && d.labels == 2,
	    "dots and controls inside labels should show as '?', got %s",
	    d.name);
	n = dns_msg(m, sizeof(m), 0, 0x0100, 1, "", 0, 2);
	ck_assert_int_eq(dns_parse(m, n, 0, &d), 0);
	ck_assert_msg(d.name[0] == '\0' && d.name_len == 0 && d.labels == 0 &&
		d.entropy == 0 && d.qtype == 2,
	    "the root name should be empty with entropy 0");
}
END_TEST

/*
 * A question whose name is a chain of jumps pointers: the first pointer is
 * the name at offset 12, QTYPE follows it, and the chain then runs from
 * offset 18 to a final "foo".
 */
static size_t
dns_chain(uint8_t *m, int jumps)
{
	size_t n = 18;
	int i;

	memset(m, 0, 12);
	m[5] = 1;
	m[12] = 0xc0;
	m[13] = 18;
	m[14] = 0;
	m[15] = 16; /* TXT */
	m[16] = 0;
	m[17] = 1;
	for (i = 1; i < jumps; i++, n += 2) {
		m[n] = 0xc0;
		m[n + 1] = (uint8_t)(n + 2);
	}
	memcpy(m + n, "\003foo", 5);
	return n + 5;
}

START_TEST(test_dns_compression)
{
	uint8_t m[512];
	struct cap_dns d;
	size_t n;

	n = dns_chain(m, 1);
	ck_assert_msg(dns_parse(m, n, 0, &d) == 0 && d.qtype == 16 &&
		strcmp(d.name, "foo") == 0,
	    "a pointer should be followed and QTYPE read after it");
	n = dns_chain(m, 16);
	ck_assert_msg(dns_parse(m, n, 0, &d) == 0 && strcmp(d.name, "foo") == 0,
	    "16 jumps should be followed");
	n = dns_chain(m, 17);
	ck_assert_msg(
	    dns_parse(m, n, 0, &d) == -EPROTO, "17 jumps should be refused");
	m[13] = 12; /* points at itself */
	ck_assert_msg(dns_parse(m, n, 0, &d) == -EPROTO,
	    "a pointer loop should be refused");
	m[13] = 200; /* past the end */
	ck_assert_msg(dns_parse(m, n, 0, &d) == -EPROTO,
	    "a pointer past the message should be refused");
	m[13] = 20; /* a label, then a pointer back to it */
	memcpy(m + 20, "\001a\300\024", 4);
	ck_assert_msg(dns_parse(m, 24, 0, &d) == -EPROTO,
	    "a loop through a label should be refused");
}
END_TEST

Suite *
dns_suite(void)
{
	Suite *s = suite_create("dns");
	TCase *tc = tcase_create("question");

	tcase_add_test(tc, test_dns_query);
	tcase_add_test(tc, test_dns_response_and_tcp);
	tcase_add_test(tc, test_dns_tunnel_name);
	tcase_add_test(tc, test_dns_truncation);
	tcase_add_test(tc, test_dns_limits);
	tcase_add_test(tc, test_dns_bad);
	tcase_add_test(tc, test_dns_compression);
	suite_add_tcase(s, tc);
	return s;
}
