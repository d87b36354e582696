/*
 * capture: packets in, flow records out.
 *
 * A cap_source reads packets from a pcap/pcapng file or a live interface.
 * cap_decode() turns one captured frame into a struct cap_pkt, checking every
 * length against the captured length.  A struct flowtab assembles decoded
 * packets into bidirectional flows, keeps per-host context, and emits one
 * struct flow_record (with its feature vector) for every ended or interim
 * flow.  Nothing here logs or exits: events are counted in struct cap_stats.
 */
#ifndef ANOMD_CAPTURE_H
#define ANOMD_CAPTURE_H

#include <stddef.h>
#include <stdint.h>

/* ---- Packet sources ---------------------------------------------------- */

struct cap_source;

struct cap_source_opts {
	const char *file; /* pcap/pcapng file ("-" = stdin), or NULL */
	const char *iface; /* live interface when file is NULL */
	int snaplen; /* bytes captured per packet (live) */
	int promisc; /* promiscuous mode (live) */
	int buffer_bytes; /* kernel buffer size, 0 = libpcap default */
	int immediate; /* immediate mode (live) */
	int timeout_ms; /* packet buffer timeout (live, not immediate) */
	const char *filter; /* BPF filter expression or NULL */
};

/* One captured frame as the source hands it over. */
struct cap_frame {
	uint64_t ts_us; /* packet timestamp, microseconds since the epoch */
	uint32_t caplen; /* bytes present in data */
	uint32_t wirelen; /* bytes on the wire */
	const uint8_t *data; /* valid until the callback returns */
};

typedef void (*cap_frame_cb)(const struct cap_frame *, void *arg);

/*
 * Open a source.  Returns 0 and sets *srcp, or -errno and, if cause is not
 * NULL, a malloc'd message (libpcap's own text where it has one) that the
 * caller frees.  An unsupported link type is refused with -EPROTONOSUPPORT
 * and a cause naming it.
 */
int cap_source_open(
    struct cap_source **srcp, const struct cap_source_opts *o, char **cause);
/* Close a source; NULL does nothing. */
void cap_source_close(struct cap_source *src);
/* The source's DLT_ link type. */
int cap_source_linktype(const struct cap_source *src);
/* Selectable descriptor of a live source (non-blocking), or -1. */
int cap_source_fd(const struct cap_source *src);
/*
 * Hand at most max frames (max <= 0: all available) to cb.  Returns the
 * number handed over, 0 at the end of a file or when a live source has
 * nothing now, or -EIO with *cause set on a read error.  *eof is set to 1 at
 * the end of a file.
 */
int cap_source_dispatch(struct cap_source *src, int max, cap_frame_cb cb,
    void *arg, int *eof, char **cause);
/* Kernel counters of a live source; returns -ENOTSUP for a file. */
int cap_source_kstats(
    struct cap_source *src, uint64_t *recv, uint64_t *drop, uint64_t *ifdrop);

/* ---- Decoding ---------------------------------------------------------- */

/* Why a frame was not decoded; names come from cap_malformed_name(). */
enum cap_malformed {
	MAL_LINK_SHORT, /* link-layer header truncated */
	MAL_VLAN_SHORT, /* 802.1Q/ad tag truncated */
	MAL_VLAN_DEPTH, /* too many stacked VLAN tags */
	MAL_IPV4_SHORT, /* IPv4 header truncated */
	MAL_IPV4_VERSION, /* IP version field does not match */
	MAL_IPV4_HLEN, /* IPv4 IHL below 5 or beyond the packet */
	MAL_IPV4_TOTLEN, /* IPv4 total length inconsistent */
	MAL_IPV6_SHORT, /* IPv6 header truncated */
	MAL_IPV6_PLEN, /* IPv6 payload length beyond the packet */
	MAL_IPV6_EXT, /* IPv6 extension header truncated */
	MAL_IPV6_EXT_DEPTH, /* IPv6 extension chain too long */
	MAL_TCP_SHORT, /* TCP header truncated */
	MAL_TCP_HLEN, /* TCP data offset invalid */
	MAL_UDP_SHORT, /* UDP header truncated */
	MAL_UDP_LEN, /* UDP length field inconsistent */
	MAL_ICMP_SHORT, /* ICMP/ICMPv6 header truncated */
	MAL_ARP_SHORT, /* ARP packet truncated */
	MAL_CAPLEN, /* captured length larger than wire length */
	MAL_COUNT
};

/* Short name of a malformed reason ("ipv4_short"). */
const char *cap_malformed_name(enum cap_malformed m);

enum cap_kind {
	PKT_IP, /* IPv4 or IPv6, decoded */
	PKT_ARP, /* ARP, counted only */
	PKT_OTHER, /* another ethertype, counted only */
	PKT_MALFORMED, /* see cap_pkt.malformed */
};

#define CAP_ADDR_LEN 16 /* IPv4 is stored as ::ffff:a.b.c.d */

/* A decoded packet.  Pointers refer into the frame. */
struct cap_pkt {
	enum cap_kind kind;
	enum cap_malformed malformed; /* when kind == PKT_MALFORMED */
	uint64_t ts_us;
	uint32_t wirelen;
	uint8_t ipver; /* 4 or 6 */
	uint8_t proto; /* IP protocol number (after IPv6 extensions) */
	uint8_t ttl; /* IPv4 TTL or IPv6 hop limit */
	uint8_t tcp_flags;
	uint8_t src[CAP_ADDR_LEN];
	uint8_t dst[CAP_ADDR_LEN];
	uint16_t sport, dport; /* TCP/UDP ports; ICMP: id and type<<8|code */
	uint16_t tcp_win;
	uint8_t icmp_type, icmp_code;
	uint8_t frag; /* 0 none, 1 first fragment, 2 later fragment */
	uint8_t has_l4; /* ports/flags valid */
	uint32_t ipid; /* IPv4 id or IPv6 fragment id (fragments) */
	uint32_t payload_wire; /* L4 payload length by the headers */
	const uint8_t *payload; /* L4 payload as captured */
	uint32_t payload_cap; /* bytes of payload present */
	/* ICMP errors: the offending packet's tuple, when it could be read. */
	uint8_t has_inner;
	uint8_t inner_proto;
	uint8_t inner_src[CAP_ADDR_LEN];
	uint8_t inner_dst[CAP_ADDR_LEN];
	uint16_t inner_sport, inner_dport;
};

/*
 * Decode one frame of link type dlt into *p.  Returns the kind (also stored
 * in p->kind).  A truncated or malformed frame gives PKT_MALFORMED and
 * p->malformed; nothing outside [data, data + caplen) is ever read.
 */
enum cap_kind cap_decode(int dlt, const struct cap_frame *f, struct cap_pkt *p);
/* Whether the link type is supported by cap_decode(). */
int cap_linktype_supported(int dlt);

/* ---- Features ---------------------------------------------------------- */

/* How the model should transform a feature before standardising it. */
enum feat_xform {
	FX_LINEAR, /* use as is */
	FX_LOG1P, /* heavy-tailed non-negative value: log(1 + x) */
};

struct feat_desc {
	const char *name;
	const char *unit;
	enum feat_xform xform;
	const char *doc;
};

#define FEAT_COUNT 64

/*
 * Whom a feature is about: the flow itself, its initiator's recent
 * activity, or its responder's.  Evidence carried by FG_RESP features is a
 * finding about the responder, not about the flow's initiator.
 */
enum feat_group {
	FG_FLOW, /* the flow's own packets */
	FG_INIT, /* the initiator's host context (init_*) */
	FG_RESP, /* the responder's host context (resp_flows_*, ...) */
};

/* The group of feature i (0 <= i < FEAT_COUNT), from its name. */
enum feat_group feat_group_of(int i);

/* The feature table: FEAT_COUNT entries in vector order. */
const struct feat_desc *feat_table(void);
/* Index of a feature by name, or -1. */
int feat_index(const char *name);
/*
 * A 64-bit FNV-1a hash of the features' semantics version and every name
 * and transform, in order: a model made for other features is refused.
 */
uint64_t feat_table_hash(void);

/* ---- Flows ------------------------------------------------------------- */

enum flow_end {
	FLOW_END_IDLE, /* idle timeout */
	FLOW_END_FIN, /* TCP FIN both ways */
	FLOW_END_RST, /* TCP reset */
	FLOW_END_HALFOPEN, /* TCP SYN with no progress */
	FLOW_END_ACTIVE, /* interim record; the flow goes on */
	FLOW_END_EVICT, /* evicted at the memcap */
	FLOW_END_FLUSH, /* end of the input */
	FLOW_END_SHUTDOWN, /* the daemon stops */
	FLOW_END_ANSWERED, /* UDP request/response exchange answered */
	FLOW_END_COUNT
};

const char *flow_end_name(enum flow_end e);

/* One ended or interim flow.  src is the initiator. */
struct flow_record {
	uint64_t id; /* unique within a flowtab, from 1 */
	uint64_t ts_first_us, ts_last_us;
	uint8_t ipver, proto;
	uint8_t src[CAP_ADDR_LEN], dst[CAP_ADDR_LEN];
	uint16_t sport, dport;
	uint64_t packets, bytes; /* both ways, wire bytes */
	enum flow_end end;
	float feat[FEAT_COUNT];
};

typedef void (*flow_emit_cb)(const struct flow_record *, void *arg);

/* Timeouts in seconds. */
struct flow_timeouts {
	uint32_t tcp_idle; /* established TCP */
	uint32_t tcp_halfopen; /* SYN seen, no handshake */
	uint32_t tcp_closed; /* linger after FIN both ways or RST */
	uint32_t udp_idle;
	uint32_t udp_answered; /* linger once every request was answered */
	uint32_t icmp_idle;
	uint32_t other_idle;
	uint32_t active; /* emit an interim record this often */
};

struct flowtab_opts {
	size_t memcap; /* bytes of flow state, at least 64 KiB */
	size_t host_memcap; /* bytes of host state, at least 64 KiB */
	struct flow_timeouts to;
	uint64_t seed; /* hash seed; 0 = random from getrandom() */
	/*
	 * Deliver records from a second thread: host context, features and
	 * the callback run there, in the same order and with the same
	 * results.  flowtab_flush(), flowtab_sync() and flowtab_stats()
	 * wait for it; the caller must not touch what the callback uses
	 * between them.
	 */
	int threaded;
};

/* Counters; all monotonic except the current sizes. */
struct cap_stats {
	uint64_t frames, bytes;
	uint64_t ip, arp, other_link;
	uint64_t malformed[MAL_COUNT];
	uint64_t fragments_later; /* non-first fragments (counted, no flow) */
	uint64_t icmp_errors_matched;
	uint64_t flows_created;
	uint64_t flows_ended[FLOW_END_COUNT];
	uint64_t flows_evicted;
	uint64_t hosts_evicted;
	uint64_t flows_active, hosts_active; /* current */
	uint64_t flows_max, hosts_max; /* capacities from the memcaps */
};

struct flowtab;

/* Fill o with the default timeouts and memcaps. */
void flowtab_opts_default(struct flowtab_opts *o);
/*
 * Create a flow table.  Records go to cb(rec, arg) as flows end.  Returns
 * NULL with errno = EINVAL when a memcap is too small.
 */
struct flowtab *flowtab_create(
    const struct flowtab_opts *o, flow_emit_cb cb, void *arg);
/*
 * Free a table without emitting (records of a threaded table not yet
 * delivered are dropped); NULL does nothing.
 */
void flowtab_free(struct flowtab *ft);
/* Decode-and-account one frame: the usual entry point. */
void flowtab_frame(struct flowtab *ft, int dlt, const struct cap_frame *f);
/* Account one decoded packet (kind PKT_IP); expires by packet time. */
void flowtab_packet(struct flowtab *ft, const struct cap_pkt *p);
/* Expire flows idle at time now_us (packet or wall clock). */
void flowtab_expire(struct flowtab *ft, uint64_t now_us);
/*
 * Emit every open flow with the given end reason and empty the table; with
 * threaded delivery, return once every record has been delivered.
 */
void flowtab_flush(struct flowtab *ft, enum flow_end why);
/* With threaded delivery, wait until every record so far is delivered. */
void flowtab_sync(struct flowtab *ft);
/* The table's counters. */
const struct cap_stats *flowtab_stats(struct flowtab *ft);
/*
 * Bytes of state one tracked flow costs: the flow, its bucket share and the
 * host context kept from its start.
 */
size_t flowtab_bytes_per_flow(void);

#endif
