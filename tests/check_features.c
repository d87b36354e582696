/* Tests of features.c: the table, and the arithmetic on a small flow. */
#include <math.h>
#include <string.h>

#include <check.h>

#include "capture/capture-int.h"
#include "tests/check-util.h"

static struct flow_record rec;
static int nrec;

/* Keep the last record. */
static void
keep_cb(const struct flow_record *r, void *arg)
{
	(void)arg;
	rec = *r;
	nrec++;
}

START_TEST(test_table)
{
	const struct feat_desc *fd = feat_table();
	int i, j;

	for (i = 0; i < FEAT_COUNT; i++) {
		ck_assert_msg(fd[i].name && fd[i].unit && fd[i].doc,
		    "feature %d should have a name, unit and description", i);
		ck_assert_int_eq(feat_index(fd[i].name), i);
		for (j = 0; j < i; j++)
			ck_assert_msg(strcmp(fd[i].name, fd[j].name) != 0,
			    "feature names should be unique: %s", fd[i].name);
	}
	ck_assert_int_eq(feat_index("no_such_feature"), -1);
	ck_assert_msg(
	    feat_table_hash() == feat_table_hash() && feat_table_hash() != 0,
	    "the table hash should be stable");
}
END_TEST

/* One packet of the hand-worked flow. */
struct hp {
	uint64_t t_ms;
	int back; /* 1: responder to initiator */
	uint8_t flags;
	uint16_t payload, win;
	uint8_t ttl;
};

/*
 * A small HTTP-like TCP flow, worked out by hand below.  Wire length is
 * 66 + payload (74 for the SYNs, which carry options).
 */
static const struct hp flow1[] = {
    {0, 0, 0x02, 0, 64240, 64},
    {1, 1, 0x12, 0, 65160, 63},
    {2, 0, 0x10, 0, 502, 64},
    {3, 0, 0x18, 100, 502, 64},
    {10, 1, 0x18, 300, 509, 63},
    {12, 0, 0x11, 0, 502, 64},
    {13, 1, 0x11, 0, 509, 63},
    {14, 0, 0x10, 0, 502, 64},
};

/* Build and feed the flow; the record comes back in rec. */
static void
run_flow1(void)
{
	struct flowtab_opts o;
	struct flowtab *ft;
	struct cap_pkt p;
	size_t i;

	flowtab_opts_default(&o);
	o.seed = 7;
	ft = flowtab_create(&o, keep_cb, NULL);
	nrec = 0;
	for (i = 0; i < sizeof(flow1) / sizeof(flow1[0]); i++) {
		memset(&p, 0, sizeof(p));
		p.kind = PKT_IP;
		p.ipver = 4;
		p.proto = 6;
		p.has_l4 = 1;
		p.ts_us = 5000000 + flow1[i].t_ms * 1000;
		p.src[10] = p.src[11] = p.dst[10] = p.dst[11] = 0xff;
		p.src[15] = flow1[i].back ? 2 : 1;
		p.dst[15] = flow1[i].back ? 1 : 2;
		p.sport = flow1[i].back ? 80 : 43210;
		p.dport = flow1[i].back ? 43210 : 80;
		p.tcp_flags = flow1[i].flags;
		p.tcp_win = flow1[i].win;
		p.ttl = flow1[i].ttl;
		p.payload_wire = flow1[i].payload;
		p.wirelen = (flow1[i].flags & 0x02 ? 74 : 66) + p.payload_wire;
		flowtab_packet(ft, &p);
	}
	flowtab_expire(ft, 5000000 + 14000 + 2000000);
	flowtab_free(ft);
}

/* The expected value of each named feature, worked out by hand. */
static const struct {
	const char *name;
	double want;
} expect1[] = {
    {"duration", 14},
    {"fwd_packets", 5},
    {"bwd_packets", 3},
    {"fwd_bytes", 74 + 66 + 166 + 66 + 66},
    {"bwd_bytes", 74 + 366 + 66},
    {"fwd_payload_min", 0},
    {"fwd_payload_mean", 20},
    {"fwd_payload_max", 100},
    {"fwd_payload_std", 44.72136}, /* sqrt((80^2 + 4 * 20^2) / 4) */
    {"bwd_payload_min", 0},
    {"bwd_payload_mean", 100},
    {"bwd_payload_max", 300},
    {"bwd_payload_std", 173.20508}, /* sqrt((100^2+200^2+100^2) / 2) */
    {"fwd_iat_mean", 3.5}, /* gaps 2, 1, 9, 2 ms */
    {"fwd_iat_std", 3.6968455}, /* sqrt(41 / 3) */
    {"fwd_iat_max", 9},
    {"bwd_iat_mean", 6}, /* gaps 9, 3 ms */
    {"bwd_iat_std", 4.2426407}, /* sqrt(18 / 1) */
    {"bwd_iat_max", 9},
    {"syn_count", 1},
    {"synack_count", 1},
    {"fin_count", 2},
    {"rst_count", 0},
    {"psh_count", 2},
    {"urg_count", 0},
    {"handshake", 1},
    {"closed_by_initiator", 1},
    {"closed_by_responder", 0},
    {"fwd_init_win", 64240},
    {"bwd_init_win", 65160},
    {"fwd_hops", 0}, /* TTL 64 */
    {"bwd_hops", 1}, /* TTL 63 */
    {"fwd_byte_share", 438.0 / 944.0},
    {"proto_tcp", 1},
    {"proto_udp", 0},
    {"resp_port_wellknown", 1},
    {"resp_port_dynamic", 0},
    {"continued", 0},
    {"dns_queries", 0},
    /* Host context is as of the flow's start (5 s), just after counting
     * it: the table's first flow, so counts are corrected for a 5 s cold
     * start (the shortest it assumes), 1 / (1 - exp(-5 / tau)). */
    {"init_flows_1s", 1.0067837},
    {"init_flows_10s", 2.5414941},
    {"init_flows_60s", 12.506944},
    {"init_dst_ports_1s", 1.0078948}, /* -64 ln(1 - 1/64) */
    {"init_dst_ports_10s", 1.0078948},
    {"init_dst_hosts_60s", 1.0078948},
    {"init_fail_share", 0}, /* nothing had ended yet */
    {"resp_flows_10s", 2.5414941},
    {"resp_src_hosts_1s", 1.0078948},
    {"resp_src_hosts_10s", 1.0078948},
};

START_TEST(test_hand_worked_flow)
{
	double tol;
	size_t i;
	int k;

	run_flow1();
	ck_assert_msg(nrec == 1, "the flow should end once, got %d", nrec);
	ck_assert_int_eq(rec.end, FLOW_END_FIN);
	ck_assert_int_eq(rec.packets, 8);
	ck_assert_int_eq(rec.bytes, 438 + 506);
	for (i = 0; i < sizeof(expect1) / sizeof(expect1[0]); i++) {
		k = feat_index(expect1[i].name);
		ck_assert_msg(k >= 0, "unknown feature %s", expect1[i].name);
		/* Host context is kept as 16-bit floats: 2^-11 relative. */
		tol = feat_group_of(k) == FG_FLOW ? 1e-4 : 5e-4;
		ck_assert_msg(fabs(rec.feat[k] - expect1[i].want) <=
			tol * fabs(expect1[i].want) + 1e-5,
		    "%s should be %g, got %g", expect1[i].name, expect1[i].want,
		    (double)rec.feat[k]);
	}
}
END_TEST

START_TEST(test_dns_features)
{
	static const uint8_t q[] = {0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0,
	    0, 3, 'w', 'w', 'w', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c',
	    'o', 'm', 0, 0, 16, 0, 1};
	struct flowtab_opts o;
	struct flowtab *ft;
	struct cap_pkt p;

	flowtab_opts_default(&o);
	o.seed = 3;
	ft = flowtab_create(&o, keep_cb, NULL);
	memset(&p, 0, sizeof(p));
	p.kind = PKT_IP;
	p.ipver = 4;
	p.proto = 17;
	p.has_l4 = 1;
	p.ts_us = 1000000;
	p.src[15] = 1;
	p.dst[15] = 2;
	p.sport = 33333;
	p.dport = 53;
	p.payload = q;
	p.payload_cap = p.payload_wire = sizeof(q);
	p.wirelen = 42 + sizeof(q);
	flowtab_packet(ft, &p);
	flowtab_flush(ft, FLOW_END_FLUSH);
	flowtab_free(ft);
	ck_assert_int_eq(rec.feat[feat_index("dns_queries")], 1);
	ck_assert_int_eq(rec.feat[feat_index("dns_qname_len")], 15);
	ck_assert_int_eq(rec.feat[feat_index("dns_qname_labels")], 3);
	ck_assert_msg(rec.feat[feat_index("dns_qtype_class")] == 3.0f,
	    "TXT should be an unusual query type");
	/* wwwexamplecom: counts 3, 2, 2 and six 1s of 13 -> 3.0270 bits,
	 * kept in steps of 1/32 bit. */
	ck_assert_msg(
	    fabs(rec.feat[feat_index("dns_qname_entropy")] - 3.0270) < 1.0 / 32,
	    "www.example.com should have an entropy of 3.027 bits, got %g",
	    (double)rec.feat[feat_index("dns_qname_entropy")]);
}
END_TEST

Suite *
features_suite(void)
{
	Suite *s = suite_create("features");
	TCase *tc = tcase_create("arithmetic");

	tcase_add_test(tc, test_table);
	tcase_add_test(tc, test_hand_worked_flow);
	tcase_add_test(tc, test_dns_features);
	suite_add_tcase(s, tc);
	return s;
}
