/*
 * The first question of a DNS message, for the DNS features of a flow.
 *
 * Only the header and the first question's name and type are read.  A name
 * is held to RFC 1035: labels of at most 63 bytes and at most 255 bytes in
 * wire form, so the presentation form (no final dot) fits DNS_NAME_MAX.
 * Compression pointers have no business in the first question, yet some
 * stacks emit them, so they are followed up to DNS_MAX_JUMPS times; with the
 * length cap that also ends any pointer loop.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "capture/capture-int.h"

#define DNS_HDR_BYTES 12
#define DNS_TCP_PREFIX_BYTES 2
#define DNS_LABEL_MAX 63
#define DNS_WIRE_NAME_MAX 255
#define DNS_MAX_JUMPS 16

static uint16_t
get16(const uint8_t *b)
{
	return (uint16_t)(b[0] << 8 | b[1]);
}

/*
 * Append one label.  Bytes that would confuse a reader of the name (dots,
 * controls, non-ASCII) become '?' so the name stays one printable string.
 */
static void
name_append(struct cap_dns *d, const uint8_t *label, size_t len)
{
	size_t i;

	if (d->labels > 0)
		d->name[d->name_len++] = '.';
	for (i = 0; i < len; i++) {
		if (label[i] <= 0x20 || label[i] >= 0x7f || label[i] == '.')
			d->name[d->name_len++] = '?';
		else
			d->name[d->name_len++] = (char)label[i];
	}
	d->labels++;
}

/*
 * Read the name at *offp into d and move *offp past it (past the first
 * pointer when the name is compressed).
 */
static int
dns_name(const uint8_t *msg, size_t len, size_t *offp, struct cap_dns *d)
{
	size_t off = *offp, next = 0, wire = 1; /* the root label's byte */
	int jumps = 0;
	uint8_t c;

	for (;;) {
		if (off >= len)
			return -EPROTO;
		c = msg[off];
		if ((c & 0xc0) == 0xc0) {
			if (off + 1 >= len || ++jumps > DNS_MAX_JUMPS)
				return -EPROTO;
			if (next == 0)
				next = off + 2;
			off = (size_t)(c & 0x3f) << 8 | msg[off + 1];
			continue;
		}
		if ((c & 0xc0) != 0) /* reserved label types */
			return -EPROTO;
		if (c == 0)
			break;
		wire += 1 + (size_t)c;
		if (wire > DNS_WIRE_NAME_MAX || c > len - off - 1)
			return -EPROTO;
		name_append(d, msg + off + 1, c);
		off += 1 + (size_t)c;
	}
	*offp = next != 0 ? next : off + 1;
	return 0;
}

/* Shannon entropy of the name's bytes other than dots, in bits per byte. */
static float
name_entropy(const struct cap_dns *d)
{
	uint16_t count[256];
	uint64_t seen[4] = {0, 0, 0, 0}, w;
	size_t i, n = 0;
	double h = 0, q;
	unsigned c;
	int k;

	/*
	 * Only the bytes present are visited, in the order of their value,
	 * so the sum is the same as over all 256 counts, bit for bit; this
	 * runs on every DNS question, on the packet path.
	 */
	for (i = 0; i < d->name_len; i++) {
		c = (uint8_t)d->name[i];
		if (c == '.')
			continue;
		if (!(seen[c >> 6] & (1ull << (c & 63)))) {
			seen[c >> 6] |= 1ull << (c & 63);
			count[c] = 0;
		}
		count[c]++;
		n++;
	}
	for (k = 0; k < 4 && n > 0; k++)
		for (w = seen[k]; w != 0; w &= w - 1) {
			c = (unsigned)k * 64 + (unsigned)__builtin_ctzll(w);
			q = (double)count[c] / (double)n;
			h -= q * log2(q);
		}
	return (float)h;
}

/* Parse the header and the first question of a DNS message. */
int
cap_dns_parse(const uint8_t *msg, size_t len, int tcp, struct cap_dns *d)
{
	size_t off = DNS_HDR_BYTES;
	int rc;

	memset(d, 0, sizeof(*d));
	if (tcp) {
		if (len < DNS_TCP_PREFIX_BYTES)
			return -EPROTO;
		/* Several messages may share a segment: keep to the first. */
		if (get16(msg) < len - DNS_TCP_PREFIX_BYTES)
			len = get16(msg) + DNS_TCP_PREFIX_BYTES;
		msg += DNS_TCP_PREFIX_BYTES;
		len -= DNS_TCP_PREFIX_BYTES;
	}
	if (len < DNS_HDR_BYTES || get16(msg + 4) == 0)
		return -EPROTO;
	if ((rc = dns_name(msg, len, &off, d)) != 0)
		goto fail;
	if (off + 2 > len) {
		rc = -EPROTO;
		goto fail;
	}
	d->qtype = get16(msg + off);
	d->is_response = msg[2] >> 7;
	d->entropy = name_entropy(d);
	return 0;
fail:
	memset(d, 0, sizeof(*d));
	return rc;
}
