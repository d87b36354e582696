#!/usr/bin/env python3
"""Write the seed corpus of fuzz_decode into tests/fuzz/corpus/decode.

Each file is one input of the fuzz target: a byte choosing the link type
(an index into the table in fuzz_decode.c), then the frame.  Run it from the
top of the source tree after changing a frame; the output is committed.
"""
import os
import struct
import sys

EN10MB, SLL, SLL2, RAW, LINKTYPE_RAW, IPV4, IPV6, NULL, LOOP = range(9)

A4, B4 = bytes([192, 0, 2, 1]), bytes([198, 51, 100, 2])
A6 = bytes.fromhex("20010db8000000000000000000000001")
B6 = bytes.fromhex("20010db8000000000000000000000002")


def eth(etype, *tags):
    """Ethernet; tags are (tpid, ...) pairs already in wire order."""
    out = bytes.fromhex("020000000002020000000001")
    types = [etype] + list(tags)
    out += struct.pack("!H", types[0])
    for nxt in types[1:]:
        out += struct.pack("!HH", 100, nxt)
    return out


def sll(proto):
    return struct.pack("!HHH8sH", 0, 1, 6, bytes(8), proto)


def sll2(proto):
    return struct.pack("!HHIHBB8s", proto, 0, 2, 1, 0, 6, bytes(8))


def ip4(proto, body, src=A4, dst=B4, frag=0x4000, opts=b""):
    ihl = 5 + len(opts) // 4
    hdr = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, 0, 4 * ihl + len(body),
                      0x1234, frag, 64, proto, 0, src, dst)
    return hdr + opts + body


def ip6(nh, body, src=A6, dst=B6):
    return struct.pack("!IHBB16s16s", 0x60000000, len(body), nh, 63, src,
                       dst) + body


def ext6(nh, units=0):
    return struct.pack("!BB", nh, units) + bytes((units + 1) * 8 - 2)


def frag6(nh, off8, more, ident):
    return struct.pack("!BBHI", nh, 0, off8 << 3 | more, ident)


def tcp(sport, dport, flags, payload=b"", opts=b""):
    doff = (20 + len(opts)) // 4
    return struct.pack("!HHIIBBHHH", sport, dport, 1000, 0, doff << 4, flags,
                       8192, 0, 0) + opts + payload


def udp(sport, dport, payload=b""):
    return struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload


def icmp(typ, code, rest, payload=b""):
    return struct.pack("!BBH", typ, code, 0) + rest + payload


def dns(name, qtype, flags=0x0100, tail=b""):
    wire = b"".join(bytes([len(label)]) + label.encode()
                    for label in name.split(".") if label) + b"\0"
    return struct.pack("!HHHHHH", 0xbeef, flags, 1, 0, 0, 0) + wire + \
        struct.pack("!HH", qtype, 1) + tail


def dns_tcp(msg):
    return struct.pack("!H", len(msg)) + msg


QUERY = dns("www.example.com", 1)
TUNNEL = dns("3a7f9c0e1b2d4f6a8c0e2b4d6f8a1c3e5f7a9b1d.t.example.org", 10)
# A question name that is a pointer to a name after the question.
POINTER = struct.pack("!HHHHHH", 1, 0x0100, 1, 0, 0, 0) + \
    b"\xc0\x12" + struct.pack("!HH", 16, 1) + b"\x03foo\x00"
RESPONSE = dns("example.org", 28, 0x8180,
               b"\xc0\x0c\x00\x1c\x00\x01\x00\x00\x0e\x10\x00\x10" +
               A6)
QUOTE4 = ip4(17, udp(40000, 53, bytes(100)), src=A4, dst=B4)[:28]
QUOTE6 = ip6(6, tcp(40003, 443, 0x02), src=A6, dst=B6)[:48]
ARP = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, bytes(6), A4,
                  bytes(6), B4)

SEEDS = {
    "eth-tcp4-syn": (EN10MB, eth(0x0800) + ip4(6, tcp(40000, 80, 0x02,
                     opts=bytes.fromhex("020405b401010402")))),
    "eth-tcp4-opts": (EN10MB, eth(0x0800) + ip4(6, tcp(
        40001, 443, 0x18, b"hello"), opts=bytes.fromhex("01010100"))),
    "eth-udp4-dns": (EN10MB, eth(0x0800) + ip4(17, udp(33000, 53, QUERY))),
    "eth-udp4-dns-padded": (EN10MB, eth(0x0800) +
                            ip4(17, udp(33000, 53, dns("a.io", 1))) +
                            bytes(8)),
    "eth-udp6-dns-response": (EN10MB, eth(0x86dd) +
                              ip6(17, udp(53, 33001, RESPONSE), B6, A6)),
    "eth-tcp4-dns": (EN10MB, eth(0x0800) + ip4(6, tcp(40004, 53, 0x18,
                     dns_tcp(TUNNEL)))),
    "raw-udp4-dns-pointer": (RAW, ip4(17, udp(33002, 53, POINTER))),
    "vlan-udp4": (EN10MB, eth(0x8100, 0x0800) + ip4(17, udp(1000, 2000,
                  b"abcdef"))),
    "eth-vlan4-udp4": (EN10MB, eth(0x9100, 0x88a8, 0x8100, 0x8100, 0x0800) +
                       ip4(17, udp(1001, 2001, b"ab"))),
    "qinq-tcp6": (EN10MB, eth(0x88a8, 0x8100, 0x86dd) +
                  ip6(6, tcp(50000, 22, 0x10, b"ssh"))),
    "sll-udp4-ntp": (SLL, sll(0x0800) + ip4(17, udp(123, 123, bytes(48)))),
    "sll2-tcp6": (SLL2, sll2(0x86dd) + ip6(6, tcp(443, 50001, 0x11))),
    "linktype-raw-udp6-dns": (LINKTYPE_RAW, ip6(17, udp(33003, 53, QUERY))),
    "ipv4-echo": (IPV4, ip4(1, icmp(8, 0, struct.pack("!HH", 0x4242, 1),
                                    bytes(16)))),
    "ipv6-echo": (IPV6, ip6(58, icmp(128, 0, struct.pack("!HH", 0x77, 1),
                                     bytes(8)))),
    "null-udp4": (NULL, struct.pack("<I", 2) + ip4(17, udp(7, 7, b"x"))),
    "loop-tcp6": (LOOP, struct.pack("!I", 24) + ip6(6, tcp(5, 6, 0x04))),
    "eth-frag4-first": (EN10MB, eth(0x0800) + ip4(17, struct.pack(
        "!HHHH", 5000, 53, 1000, 0) + bytes(24), frag=0x2000)),
    "eth-frag4-later": (EN10MB, eth(0x0800) + ip4(17, bytes(40), frag=4)),
    "eth-ext6-tcp": (EN10MB, eth(0x86dd) + ip6(0, ext6(43) + ext6(44, 2) +
                     frag6(60, 0, 1, 0xabcdef01) + ext6(6, 1) +
                     tcp(40002, 80, 0x02, b"hi"))),
    "eth-ext6-later": (EN10MB, eth(0x86dd) + ip6(0, ext6(44) +
                       frag6(17, 100, 0, 0x01020304) + bytes(30))),
    "eth-icmp4-unreach": (EN10MB, eth(0x0800) + ip4(1, icmp(
        3, 3, bytes(4), QUOTE4), src=B4, dst=A4)),
    "eth-icmp6-unreach": (EN10MB, eth(0x86dd) + ip6(58, icmp(
        1, 4, bytes(4), QUOTE6), src=B6, dst=A6)),
    "eth-arp": (EN10MB, eth(0x0806) + ARP),
    "eth-gre4": (EN10MB, eth(0x0800) + ip4(47, bytes(8))),
}


def main():
    top = sys.argv[1] if len(sys.argv) > 1 else "."
    out = os.path.join(top, "tests", "fuzz", "corpus", "decode")
    os.makedirs(out, exist_ok=True)
    for name, (link, frame) in sorted(SEEDS.items()):
        with open(os.path.join(out, name), "wb") as f:
            f.write(bytes([link]) + frame)
    for name in sorted(SEEDS):
        print("\ttests/fuzz/corpus/decode/" + name + " \\")


if __name__ == "__main__":
    main()
