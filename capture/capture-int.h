/* Private interfaces of the capture module; only capture/ and its tests. */
#ifndef ANOMD_CAPTURE_INT_H
#define ANOMD_CAPTURE_INT_H

#include <stddef.h>
#include <stdint.h>

#include "capture/capture.h"

/* ---- dns.c -------------------------------------------------------------- */

#define DNS_NAME_MAX 255 /* presentation-form bytes kept (RFC 1035) */

/* The first question of a DNS message. */
struct cap_dns {
	uint16_t qtype;
	uint8_t is_response;
	uint8_t labels;       /* label count of the name */
	uint16_t name_len;    /* length in presentation form, no final dot */
	float entropy;        /* Shannon entropy of the name's bytes, bits */
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

/* ---- hostctx.c ---------------------------------------------------------- */

struct hostctx;

/* Host context read for one side of a flow. */
struct host_view {
	float flows[3];      /* decayed counts over ~1 s, 10 s, 60 s */
	float distinct_a[3]; /* initiator: responder ports; responder: initiators */
	float distinct_b[3]; /* initiator: responder hosts */
	float fail_share;    /* initiator: share of recent flows that failed */
};

struct hostctx *hostctx_create(size_t memcap, const uint64_t key[2]);
void hostctx_free(struct hostctx *hc);
/* A flow starts: update both hosts. */
void hostctx_flow_start(struct hostctx *hc, uint64_t now_us,
    const uint8_t *init, const uint8_t *resp, uint16_t resp_port);
/* A flow ends: record whether it failed, for the initiator. */
void hostctx_flow_end(struct hostctx *hc, uint64_t now_us,
    const uint8_t *init, int failed);
/* Read the context of the initiator and the responder at now_us. */
void hostctx_read(struct hostctx *hc, uint64_t now_us, const uint8_t *init,
    const uint8_t *resp, struct host_view *iv, struct host_view *rv);
uint64_t hostctx_evicted(const struct hostctx *hc);
uint64_t hostctx_active(const struct hostctx *hc);
uint64_t hostctx_capacity(const struct hostctx *hc);

#endif
