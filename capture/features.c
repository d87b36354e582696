/*
 * The feature vector.  feat_desc[] is the single source of truth: vector
 * order, names, units and descriptions.  It drives the CSV header,
 * `anomd --list-features`, the man page's feature list and the model file's
 * feature-table hash, so a change here is seen everywhere.
 *
 * Directions: "fwd" is initiator to responder, "bwd" the reverse.  Times
 * are in milliseconds so that log1p spreads them well; payload sizes are L4
 * payload bytes by the headers; byte counts are wire bytes.
 */
#include <math.h>
#include <string.h>

#include "capture/capture-int.h"

#define L FX_LINEAR
#define G FX_LOG1P

static const struct feat_desc feat_desc[FEAT_COUNT] = {
    {"duration", "ms", G, "time from the first to the last packet"},
    {"fwd_packets", "packets", G, "packets from initiator to responder"},
    {"bwd_packets", "packets", G, "packets from responder to initiator"},
    {"fwd_bytes", "bytes", G, "wire bytes from initiator to responder"},
    {"bwd_bytes", "bytes", G, "wire bytes from responder to initiator"},
    {"fwd_payload_min", "bytes", G, "smallest forward L4 payload"},
    {"fwd_payload_mean", "bytes", G, "mean forward L4 payload"},
    {"fwd_payload_max", "bytes", G, "largest forward L4 payload"},
    {"fwd_payload_std", "bytes", G, "std. deviation of forward payloads"},
    {"bwd_payload_min", "bytes", G, "smallest backward L4 payload"},
    {"bwd_payload_mean", "bytes", G, "mean backward L4 payload"},
    {"bwd_payload_max", "bytes", G, "largest backward L4 payload"},
    {"bwd_payload_std", "bytes", G, "std. deviation of backward payloads"},
    {"fwd_iat_mean", "ms", G, "mean gap between forward packets"},
    {"fwd_iat_std", "ms", G, "std. deviation of forward gaps"},
    {"fwd_iat_max", "ms", G, "longest gap between forward packets"},
    {"bwd_iat_mean", "ms", G, "mean gap between backward packets"},
    {"bwd_iat_std", "ms", G, "std. deviation of backward gaps"},
    {"bwd_iat_max", "ms", G, "longest gap between backward packets"},
    {"syn_count", "packets", G, "TCP SYN without ACK, both ways"},
    {"synack_count", "packets", G, "TCP SYN with ACK, both ways"},
    {"fin_count", "packets", G, "TCP FIN, both ways"},
    {"rst_count", "packets", G, "TCP RST, both ways"},
    {"psh_count", "packets", G, "TCP PSH, both ways"},
    {"urg_count", "packets", G, "TCP URG, both ways"},
    {"handshake", "0/1", L, "TCP three-way handshake completed"},
    {"closed_by_initiator", "0/1", L, "first FIN or RST came from initiator"},
    {"closed_by_responder", "0/1", L, "first FIN or RST came from responder"},
    {"fwd_init_win", "bytes", G, "first TCP window from the initiator"},
    {"bwd_init_win", "bytes", G, "first TCP window from the responder"},
    {"fwd_hops", "hops", G, "initiator's distance: initial TTL guess - TTL"},
    {"bwd_hops", "hops", G, "responder's distance: initial TTL guess - TTL"},
    {"fwd_byte_share", "ratio", L, "forward share of all wire bytes"},
    {"proto_tcp", "0/1", L, "IP protocol is TCP"},
    {"proto_udp", "0/1", L, "IP protocol is UDP"},
    {"proto_icmp", "0/1", L, "IP protocol is ICMP or ICMPv6"},
    {"ipv6", "0/1", L, "flow is IPv6"},
    {"resp_port_wellknown", "0/1", L, "responder port below 1024"},
    {"resp_port_registered", "0/1", L, "responder port 1024 to 49151"},
    {"resp_port_dynamic", "0/1", L, "responder port 49152 or above"},
    {"icmp_errors", "packets", G, "ICMP errors that quote this flow"},
    {"fragments", "packets", G, "first fragments of fragmented packets"},
    {"continued", "0/1", L, "record covers part of a longer flow"},
    {"dns_queries", "messages", G, "DNS queries from the initiator"},
    {"dns_qname_len", "bytes", G, "longest DNS query name"},
    {"dns_qname_labels", "labels", G, "labels of the longest query name"},
    {"dns_qname_entropy", "bits", L, "highest byte entropy of a query name"},
    {"dns_qtype_class", "class", L,
	"first query's type: 0 none, 1 A/AAAA, 2 other common, 3 unusual"},
    {"init_flows_1s", "flows", G, "flows the initiator started, ~1 s"},
    {"init_flows_10s", "flows", G, "flows the initiator started, ~10 s"},
    {"init_flows_60s", "flows", G, "flows the initiator started, ~60 s"},
    {"init_dst_ports_1s", "ports", G, "distinct responder ports, last 1 s"},
    {"init_dst_ports_10s", "ports", G, "distinct responder ports, last 10 s"},
    {"init_dst_ports_60s", "ports", G, "distinct responder ports, last 60 s"},
    {"init_dst_hosts_1s", "hosts", G, "distinct responder hosts, last 1 s"},
    {"init_dst_hosts_10s", "hosts", G, "distinct responder hosts, last 10 s"},
    {"init_dst_hosts_60s", "hosts", G, "distinct responder hosts, last 60 s"},
    {"init_fail_share", "ratio", L, "initiator's recent flows that failed"},
    {"resp_flows_1s", "flows", G, "flows the responder received, ~1 s"},
    {"resp_flows_10s", "flows", G, "flows the responder received, ~10 s"},
    {"resp_flows_60s", "flows", G, "flows the responder received, ~60 s"},
    {"resp_src_hosts_1s", "hosts", G, "distinct initiators, last 1 s"},
    {"resp_src_hosts_10s", "hosts", G, "distinct initiators, last 10 s"},
    {"resp_src_hosts_60s", "hosts", G, "distinct initiators, last 60 s"},
};

#undef L
#undef G

/* The feature table. */
const struct feat_desc *
feat_table(void)
{
	return feat_desc;
}

/* Index of a feature by name. */
int
feat_index(const char *name)
{
	int i;

	for (i = 0; i < FEAT_COUNT; i++)
		if (strcmp(feat_desc[i].name, name) == 0)
			return i;
	return -1;
}

/*
 * The group of a feature: its name's prefix says whom it is about, except
 * resp_port_*, which describe the flow's own destination port.
 */
enum feat_group
feat_group_of(int i)
{
	if (i < 0 || i >= FEAT_COUNT)
		return FG_FLOW;
	if (strncmp(feat_desc[i].name, "init_", 5) == 0)
		return FG_INIT;
	if (strncmp(feat_desc[i].name, "resp_", 5) == 0 &&
	    strncmp(feat_desc[i].name, "resp_port_", 10) != 0)
		return FG_RESP;
	return FG_FLOW;
}

/*
 * What the features mean beyond their names, counted up whenever that
 * changes so that older models are refused.  2: host context as of the
 * record's start, cold-start corrected counts, answered UDP exchanges.
 */
#define FEAT_SEMANTICS_VERSION 2

/*
 * FNV-1a over the semantics version and every name and transform, so a
 * model knows its features.
 */
uint64_t
feat_table_hash(void)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	const char *p;
	int i;

	h = (h ^ FEAT_SEMANTICS_VERSION) * 0x100000001b3ULL;
	for (i = 0; i < FEAT_COUNT; i++) {
		for (p = feat_desc[i].name; *p; p++)
			h = (h ^ (uint8_t)*p) * 0x100000001b3ULL;
		h = (h ^ (uint8_t)feat_desc[i].xform) * 0x100000001b3ULL;
	}
	return h;
}

/* Standard deviation from a count, a sum and a sum of squares. */
static float
stddev(double n, double sum, double sumsq)
{
	double var;

	if (n < 2)
		return 0.0f;
	var = (sumsq - sum * sum / n) / (n - 1);
	return var > 0 ? (float)sqrt(var) : 0.0f;
}

/* The per-direction features: payload and inter-arrival statistics. */
static void
dir_features(const struct flow_dir *d, float *pl, float *iat)
{
	double n = d->pkts, gaps = d->pkts > 1 ? d->pkts - 1 : 0;

	if (d->pkts == 0) {
		memset(pl, 0, 4 * sizeof(*pl));
		memset(iat, 0, 3 * sizeof(*iat));
		return;
	}
	pl[0] = d->pl_min;
	pl[1] = (float)((double)d->pl_sum / n);
	pl[2] = d->pl_max;
	pl[3] = stddev(n, (double)d->pl_sum, (double)d->pl_sumsq);
	iat[0] = gaps ? (float)((double)d->iat_sum / gaps / 1e3) : 0.0f;
	iat[1] = stddev(gaps, (double)d->iat_sum, d->iat_sumsq) / 1e3f;
	iat[2] = (float)d->iat_max / 1e3f;
}

/*
 * Hops from the sender: systems start TTLs at 64, 128 or 255 (a few old
 * ones at 32), so the distance is the next of those at or above the TTL,
 * minus the TTL.  Unlike the raw TTL it does not change with the sender's
 * operating system, and it shows crafted packets with odd TTLs.
 */
static float
hops(uint8_t ttl)
{
	static const int initial[] = {32, 64, 128, 255};
	size_t i;

	for (i = 0; i < sizeof(initial) / sizeof(initial[0]); i++)
		if (ttl <= initial[i])
			return (float)(initial[i] - ttl);
	return 0.0f;
}

/*
 * DNS query types by how ordinary they are: a number per type would put
 * TXT (16) between A (1) and AAAA (28), so the model sees classes instead,
 * ordered by how often tunnels and exfiltration use them.
 */
static float
qtype_class(uint16_t qtype)
{
	switch (qtype) {
	case 1: /* A */
	case 28: /* AAAA */
		return 1.0f;
	case 2: /* NS */
	case 5: /* CNAME */
	case 6: /* SOA */
	case 12: /* PTR */
	case 15: /* MX */
	case 33: /* SRV */
	case 43: /* DS */
	case 48: /* DNSKEY */
	case 64: /* SVCB */
	case 65: /* HTTPS */
		return 2.0f;
	default: /* TXT, NULL, ANY, AXFR and the rest */
		return 3.0f;
	}
}

/* The features of the transport and the ports. */
static void
proto_features(const struct flow *f, float *v)
{
	int ported = f->proto == 6 || f->proto == 17 || f->proto == 132;

	v[0] = f->proto == 6;
	v[1] = f->proto == 17;
	v[2] = f->proto == 1 || f->proto == 58;
	v[3] = f->ipver == 6;
	v[4] = ported && f->dport < 1024;
	v[5] = ported && f->dport >= 1024 && f->dport < 49152;
	v[6] = ported && f->dport >= 49152;
}

/* Copy one host view into three-window slots of v. */
static void
view_features(const struct host_view *hv, float *v, int initiator)
{
	memcpy(v, hv->flows, 3 * sizeof(*v));
	memcpy(v + 3, hv->distinct_a, 3 * sizeof(*v));
	if (initiator) {
		memcpy(v + 6, hv->distinct_b, 3 * sizeof(*v));
		v[9] = hv->fail_share;
	}
}

/* Fill the record from the flow and the host views. */
void
feat_compute(const struct flow *f, const struct host_view *iv,
    const struct host_view *rv, struct flow_record *rec)
{
	const struct flow_dir *a = &f->d[0], *b = &f->d[1];
	uint32_t last = a->last_off > b->last_off ? a->last_off : b->last_off;
	float *v = rec->feat;
	double all = (double)a->bytes + (double)b->bytes;

	rec->ts_first_us = f->first_us;
	rec->ts_last_us = f->first_us + last;
	rec->packets = (uint64_t)a->pkts + b->pkts;
	rec->bytes = a->bytes + b->bytes;
	v[0] = (float)(rec->ts_last_us - rec->ts_first_us) / 1e3f;
	v[1] = a->pkts;
	v[2] = b->pkts;
	v[3] = (float)a->bytes;
	v[4] = (float)b->bytes;
	dir_features(a, v + 5, v + 13);
	dir_features(b, v + 9, v + 16);
	v[19] = f->n_syn;
	v[20] = f->n_synack;
	v[21] = f->n_fin;
	v[22] = f->n_rst;
	v[23] = f->n_psh;
	v[24] = f->n_urg;
	v[25] = (f->tcp & TCPF_HANDSHAKE) != 0;
	v[26] = (f->tcp & TCPF_CLOSE_I) != 0;
	v[27] = (f->tcp & TCPF_CLOSE_R) != 0;
	v[28] = a->win0;
	v[29] = b->win0;
	v[30] = a->seen ? hops(a->ttl0) : 0.0f;
	v[31] = b->seen ? hops(b->ttl0) : 0.0f;
	v[32] = all > 0 ? (float)((double)a->bytes / all) : 0.0f;
	proto_features(f, v + 33);
	v[40] = f->icmp_err;
	v[41] = f->frags;
	v[42] = rec->end == FLOW_END_ACTIVE || f->interim;
	v[43] = f->dns_queries;
	v[44] = f->dns_len;
	v[45] = f->dns_labels;
	v[46] = (float)f->dns_entropy8 / 32.0f;
	v[47] = f->dns_queries ? qtype_class(f->dns_qtype) : 0.0f;
	view_features(iv, v + 48, 1);
	view_features(rv, v + 58, 0);
}
