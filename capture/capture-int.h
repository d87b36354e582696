/* Private interfaces of the capture module; only capture/ and its tests. */
#ifndef ANOMD_CAPTURE_INT_H
#define ANOMD_CAPTURE_INT_H

#include <endian.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "capture/capture.h"

/* ---- dns.c -------------------------------------------------------------- */

#define DNS_NAME_MAX 255 /* presentation-form bytes kept (RFC 1035) */

/* The first question of a DNS message. */
struct cap_dns {
	uint16_t qtype;
	uint8_t is_response;
	uint8_t labels; /* label count of the name */
	uint16_t name_len; /* length in presentation form, no final dot */
	float entropy; /* Shannon entropy of the name's bytes, bits */
	char name[DNS_NAME_MAX + 1];
};

/*
 * Parse the header and first question of a DNS message (UDP payload, or TCP
 * payload after the 2-byte length when tcp is 1).  Returns 0, or -EPROTO
 * when the bytes are not a well-formed DNS message with a question
 * (truncated, compression loops, label too long, qdcount 0).
 */
int cap_dns_parse(const uint8_t *msg, size_t len, int tcp, struct cap_dns *d);

/* ---- hash.c ------------------------------------------------------------- */

/* SipHash-1-3 of len bytes with a 128-bit key k[2]. */
uint64_t cap_siphash(const uint64_t k[2], const void *data, size_t len);

/* ---- Index-linked lists ------------------------------------------------ */

/*
 * Flows and hosts live in flat arrays and link to each other by 32-bit
 * index, which halves the cost of a link next to pointers.  An ilist is a
 * doubly linked list over such an array; the element's struct ilink sits at
 * a fixed offset.
 */
#define ILIST_NONE UINT32_MAX

struct ilink {
	uint32_t prev, next;
};

struct ilist {
	uint32_t head, tail; /* head is the oldest */
};

/* The link of element i. */
static inline struct ilink *
ilink_at(void *base, size_t esz, size_t off, uint32_t i)
{
	return (struct ilink *)((char *)base + (size_t)i * esz + off);
}

/* Append element i at the tail of l. */
static inline void
ilist_append(struct ilist *l, void *base, size_t esz, size_t off, uint32_t i)
{
	struct ilink *k = ilink_at(base, esz, off, i);

	k->prev = l->tail;
	k->next = ILIST_NONE;
	if (l->tail != ILIST_NONE)
		ilink_at(base, esz, off, l->tail)->next = i;
	else
		l->head = i;
	l->tail = i;
}

/* Unlink element i from l. */
static inline void
ilist_remove(struct ilist *l, void *base, size_t esz, size_t off, uint32_t i)
{
	struct ilink *k = ilink_at(base, esz, off, i);

	if (k->prev != ILIST_NONE)
		ilink_at(base, esz, off, k->prev)->next = k->next;
	else
		l->head = k->next;
	if (k->next != ILIST_NONE)
		ilink_at(base, esz, off, k->next)->prev = k->prev;
	else
		l->tail = k->prev;
	k->prev = k->next = ILIST_NONE;
}

/* ---- hostctx.c ---------------------------------------------------------- */

struct hostctx;

/* Host context read for one side of a flow. */
struct host_view {
	float flows[3]; /* decayed counts over ~1 s, 10 s, 60 s */
	float distinct_a[3]; /* initiator: responder ports; responder:
				initiators */
	float distinct_b[3]; /* initiator: responder hosts */
	float fail_share; /* initiator: share of recent flows that failed */
};

/*
 * Create a host table as large as memcap allows, hashing with key.  NULL
 * with errno EINVAL (memcap too small) or ENOMEM.
 */
struct hostctx *hostctx_create(size_t memcap, const uint64_t key[2]);
/* Free a host table; NULL does nothing. */
void hostctx_free(struct hostctx *hc);
/* Forget hosts idle for longer than the longest window. */
void hostctx_expire(struct hostctx *hc, uint64_t now_us);
/*
 * A flow starts: update both hosts, then fill *iv and *rv with the views of
 * the initiator and the responder just after counting it.  Returns where
 * the initiator's record is: a hint for hostctx_flow_end().
 */
uint32_t hostctx_flow_start(struct hostctx *hc, uint64_t now_us,
    const uint8_t *init, const uint8_t *resp, uint16_t resp_port,
    struct host_view *iv, struct host_view *rv);
/*
 * A flow ends: record whether it failed, for the initiator.  hint is what
 * hostctx_flow_start() returned for the flow (any value is safe: a record
 * that no longer holds init is looked up instead).
 */
void hostctx_flow_end(struct hostctx *hc, uint64_t now_us, const uint8_t *init,
    uint32_t hint, int failed);
/*
 * Read the context of the initiator and the responder at now_us into *iv
 * and *rv, with flow counts corrected for the table's cold start.
 */
void hostctx_read(struct hostctx *hc, uint64_t now_us, const uint8_t *init,
    const uint8_t *resp, struct host_view *iv, struct host_view *rv);
/*
 * The factor that corrects a count decayed with time constant tau_s after
 * the context has observed for t_s seconds: 1 / (1 - exp(-t / tau)), with t
 * at least HOSTCTX_WARM_MIN_S.
 */
float hostctx_warm_factor(float tau_s, float t_s);

#define HOSTCTX_WARM_MIN_S                                                     \
	5.0f /* shortest observation the correction assumes */

/*
 * A host view stored compactly for the life of a flow: the 16 values an
 * initiator and a responder view carry, each as a 16-bit float (6-bit
 * exponent, 10-bit mantissa, no sign; relative error below 0.05 %).
 */
struct host_view_pair {
	uint16_t v[16];
	uint32_t init_hint; /* hostctx_flow_start()'s return */
};

/* Pack two views; unpack restores them (unused view fields are 0). */
void host_view_pack(const struct host_view *iv, const struct host_view *rv,
    struct host_view_pair *p);
void host_view_unpack(
    const struct host_view_pair *p, struct host_view *iv, struct host_view *rv);
uint64_t hostctx_evicted(const struct hostctx *hc);
uint64_t hostctx_active(const struct hostctx *hc);
uint64_t hostctx_capacity(const struct hostctx *hc);

/* ---- flowtab.c: a tracked flow ------------------------------------------ */

/* What one direction of a flow has sent since the record began. */
/*
 * One direction of a flow.  Times are microseconds after the record's
 * first_us in 32 bits: a record never spans FLOW_RECORD_MAX_US (an interim
 * record is cut before, whatever timeout_active says), which keeps a flow
 * within 200 bytes.
 */
struct flow_dir {
	uint64_t bytes; /* wire bytes */
	uint64_t pl_sum, pl_sumsq;
	double iat_sumsq;
	uint32_t pkts;
	uint32_t last_off; /* last packet, after first_us (0 before it) */
	uint32_t iat_sum; /* microseconds: at most last_off */
	uint32_t iat_max; /* microseconds */
	uint16_t pl_min, pl_max; /* L4 payload bytes, by the headers */
	uint16_t win0; /* first TCP window */
	uint8_t ttl0; /* first TTL / hop limit */
	uint8_t seen; /* win0/ttl0 are set */
};

/* The longest a record may span: its times fit 32 bits of microseconds. */
#define FLOW_RECORD_MAX_US 4294000000ull

enum flow_tcp_bits {
	TCPF_SYN = 1, /* initiator sent SYN */
	TCPF_SYNACK = 2, /* responder sent SYN-ACK */
	TCPF_HANDSHAKE = 4, /* initiator acked the SYN-ACK */
	TCPF_FIN_I = 8, /* FIN from the initiator */
	TCPF_FIN_R = 16, /* FIN from the responder */
	TCPF_RST = 32,
	TCPF_CLOSE_I = 64, /* the initiator closed first */
	TCPF_CLOSE_R = 128, /* the responder closed first */
};

/* Which list, and so which timeout, a flow is on. */
enum flow_class {
	FC_TCP_EST,
	FC_TCP_HALF,
	FC_TCP_CLOSED,
	FC_UDP,
	FC_UDP_ANSWERED, /* every request answered: a short linger */
	FC_ICMP,
	FC_OTHER,
	FC_COUNT
};

struct flow {
	uint8_t src[CAP_ADDR_LEN]; /* initiator */
	uint8_t dst[CAP_ADDR_LEN]; /* responder */
	uint16_t sport, dport;
	uint8_t proto, ipver;
	uint8_t tcp; /* enum flow_tcp_bits */
	uint8_t fclass; /* enum flow_class */
	/* on the list of its class, oldest first; free: next is the freelist */
	struct ilink lru;
	uint64_t id;
	uint64_t first_us; /* start of this record */
	struct flow_dir d[2]; /* 0: initiator to responder, 1: back */
	uint16_t n_syn, n_synack, n_fin, n_rst, n_psh, n_urg;
	uint16_t icmp_err, frags;
	uint16_t dns_queries, dns_qtype;
	uint8_t dns_len, dns_labels, dns_entropy8; /* entropy * 32 */
	uint8_t interim; /* an interim record was emitted before */
};

/* ---- addresses ---------------------------------------------------------- */

/* Whether two CAP_ADDR_LEN addresses are equal (two loads, no call). */
static inline int
addr_eq(const uint8_t *a, const uint8_t *b)
{
	uint64_t x[2], y[2];

	memcpy(x, a, 16);
	memcpy(y, b, 16);
	return ((x[0] ^ y[0]) | (x[1] ^ y[1])) == 0;
}

/* Whether an address is IPv4-mapped (::ffff:a.b.c.d). */
static inline int
addr_is_v4(const uint8_t *a)
{
	uint64_t x;
	uint32_t y;

	memcpy(&x, a, 8);
	memcpy(&y, a + 8, 4);
	return x == 0 && y == htobe32(0xffffu);
}

/* memcmp() order of two addresses: <0, 0 or >0. */
static inline int
addr_cmp(const uint8_t *a, const uint8_t *b)
{
	uint64_t x[2], y[2];

	memcpy(x, a, 16);
	memcpy(y, b, 16);
	x[0] = be64toh(x[0]), y[0] = be64toh(y[0]);
	if (x[0] != y[0])
		return x[0] < y[0] ? -1 : 1;
	x[1] = be64toh(x[1]), y[1] = be64toh(y[1]);
	return x[1] < y[1] ? -1 : x[1] > y[1];
}

/* ---- ring.c: a single-producer, single-consumer ring with a thread ---- */

struct ring;
typedef void (*ring_handler_fn)(void *slot, void *arg);

/*
 * Create a ring of nslots (a power of two) slots of slot_size bytes and
 * start a thread that calls fn(slot, arg) for each committed slot, in
 * order.  NULL with errno on failure.
 */
struct ring *ring_create(
    size_t slot_size, uint32_t nslots, ring_handler_fn fn, void *arg);
/* The next slot to fill; waits while the ring is full. */
void *ring_slot(struct ring *r);
/* Hand the slot from ring_slot() over. */
void ring_commit(struct ring *r);
/* Wait until every committed slot has been handled. */
void ring_sync(struct ring *r);
/* Stop the thread (dropping what it has not handled) and free. */
void ring_free(struct ring *r);

/*
 * Fill rec (key, times, counts and every feature) from flow f and the two
 * host views.
 */
void feat_compute(const struct flow *f, const struct host_view *iv,
    const struct host_view *rv, struct flow_record *rec);

#endif
