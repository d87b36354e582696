#!/usr/bin/env python3
"""Write the seed corpora of fuzz_pcap and fuzz_model.

usage: mkcorpus-files.py TOP MODEL

TOP is the top of the source tree; MODEL is a real model file trained by
anomd (see tests/fuzz/README for the command).  The pcap seeds are the first
packets of tests/data/sample.pcap as pcap and pcapng, plus hand-made files
near the edges of both formats.  The model seeds are MODEL itself plus
copies with one value changed and the id and checksum made valid again, so
that the loader's meaning checks are what refuses them.  The output is
committed; the script prints the EXTRA_DIST list for tests/fuzz/local.mk.
"""
import os
import struct
import sys

FNV_INIT = 0xcbf29ce484222325
FNV_PRIME = 0x100000001b3


def fnv1a(data, h=FNV_INIT):
    for b in data:
        h = ((h ^ b) * FNV_PRIME) & 0xffffffffffffffff
    return h


# ---- pcap -------------------------------------------------------------------

def sample_packets(top, count):
    """The first count (ts_sec, ts_usec, caplen, len, data) of sample.pcap."""
    with open(os.path.join(top, "tests", "data", "sample.pcap"), "rb") as f:
        d = f.read()
    assert struct.unpack("<I", d[:4])[0] == 0xa1b2c3d4
    out, off = [], 24
    while len(out) < count:
        ts, us, cl, wl = struct.unpack("<IIII", d[off:off + 16])
        out.append((ts, us, cl, wl, d[off + 16:off + 16 + cl]))
        off += 16 + cl
    return out


def pcap(pkts, link=1, magic=0xa1b2c3d4, endian="<", version=(2, 4),
         snaplen=262144):
    out = struct.pack(endian + "IHHiIII", magic, version[0], version[1], 0,
                      0, snaplen, link)
    for ts, us, cl, wl, data in pkts:
        out += struct.pack(endian + "IIII", ts, us, cl, wl) + data
    return out


def block(btype, body):
    body += bytes(-len(body) % 4)
    n = 12 + len(body)
    return struct.pack("<II", btype, n) + body + struct.pack("<I", n)


def opt(code, value):
    return struct.pack("<HH", code, len(value)) + value + \
        bytes(-len(value) % 4)


def shb():
    return block(0x0a0d0d0a, struct.pack("<IHHq", 0x1a2b3c4d, 1, 0, -1))


def idb(link, snaplen=262144, opts=b""):
    return block(1, struct.pack("<HHI", link, 0, snaplen) + opts)


def epb(iface, ts_units, cl, wl, data):
    return block(6, struct.pack("<IIIII", iface, ts_units >> 32,
                                ts_units & 0xffffffff, cl, wl) + data)


def pcapng(pkts):
    out = shb() + idb(1)
    for ts, us, cl, wl, data in pkts:
        out += epb(0, ts * 1000000 + us, cl, wl, data)
    return out


def pcap_seeds(top):
    pkts = sample_packets(top, 40)
    few = pkts[:6]
    ip = [(t, u, c - 14, w - 14, d[14:]) for t, u, c, w, d in few]
    nsec = [(t, u * 1000, c, w, d) for t, u, c, w, d in few]
    ng_mixed = shb() + idb(1) + \
        idb(101, 65535, opt(9, b"\x09") + opt(0, b"")) + \
        block(3, struct.pack("<I", few[2][3]) + few[2][4]) + \
        epb(1, few[0][0] * 10**9, ip[0][2], ip[0][3], ip[0][4]) + \
        block(0x0bad, b"custom") + \
        epb(0, few[1][0] * 10**6, few[1][2], few[1][3], few[1][4]) + \
        shb() + idb(113) + epb(0, 0, 16, 16, bytes(16))
    t, u, c, w, d = few[0]
    return {
        "sample-40.pcap": pcap(pkts),
        "sample-40.pcapng": pcapng(pkts),
        "sample-6-be-nsec.pcap": pcap(nsec, magic=0xa1b23c4d, endian=">"),
        "raw-ip.pcap": pcap(ip, link=101),
        "pcapng-mixed": ng_mixed,
        "header-only.pcap": pcap([]),
        "bad-version.pcap": pcap(few, version=(3, 0)),
        "unsupported-link.pcap": pcap(few, link=147),
        "truncated-record.pcap": pcap(few)[:24 + 16 + 10],
        "caplen-over-len.pcap": pcap([(t, u, c, c // 2, d)]),
        "caplen-huge.pcap": pcap([(t, u, 0xffffffff, w, d)]),
        "snaplen-small.pcap": pcap(few, snaplen=40),
        "ts-extremes.pcap": pcap([(0xffffffff, 999999999, c, w, d),
                                  (0, 0, c, w, d)]),
        "pcapng-truncated": pcapng(few)[:-7],
        "pcapng-bad-blocklen": pcapng(few[:1])[:-4] + b"\xff\xff\xff\x7f",
    }


# ---- model ------------------------------------------------------------------

class Model:
    """Format version 2 of model/file.c, as offsets into the file."""

    def __init__(self, buf):
        self.b = bytearray(buf)
        assert self.b[:8] == b"ANOMDMDL"
        assert struct.unpack_from("<I", self.b, 8)[0] == 2, "not version 2"
        dim, nl = struct.unpack_from("<II", self.b, 32)
        self.dim = dim
        off = 40 + 4 * (nl + 1)
        self.act = off
        off += 8  # act, clip
        self.xform = off
        off += dim
        self.mean = off
        self.p50 = off + 8 * dim
        self.p99 = off + 12 * dim
        off += 16 * dim
        self.group = off
        off += dim
        self.rule = off
        self.threshold = off + 12
        self.threshold_own = off + 16
        self.threshold_ctx = off + 20
        nparams = struct.unpack_from("<Q", self.b, off + 24)[0]
        self.params = off + 32
        self.core_end = self.params + 4 * nparams
        self.train = self.core_end
        self.holdout = self.core_end + 8
        self.dropped = self.core_end + 16
        self.oos = self.core_end + 24
        self.folds = self.core_end + 32
        self.id = self.core_end + 88
        self.note = self.id + 16

    def set(self, fmt, off, *v):
        struct.pack_into("<" + fmt, self.b, off, *v)
        return self

    def set_note(self, text):
        self.b[self.note:-8] = struct.pack("<I", len(text)) + text
        return self

    def seal(self):
        """Length, id and checksum made valid again."""
        struct.pack_into("<Q", self.b, 16, len(self.b))
        mid = "%016x" % fnv1a(self.b[32:self.core_end])
        self.b[self.id:self.id + 16] = mid.encode()
        struct.pack_into("<Q", self.b, len(self.b) - 8,
                         fnv1a(self.b[:-8]))
        return bytes(self.b)


def model_seeds(path):
    with open(path, "rb") as f:
        real = f.read()

    def m():
        return Model(real)

    x = m()
    p50 = struct.unpack_from("<f", x.b, x.p50 + 4 * 3)[0]
    return {
        "real": real,
        "pot-rule": m().set("I", x.rule, 1).seal(),
        "relu": m().set("I", x.act, 0).seal(),
        "elu-all-log": m().set("I", x.act, 2).set(
            "%dB" % x.dim, x.xform, *([1] * x.dim)).seal(),
        "note-longest": m().set_note(b"n" * 159).seal(),
        "note-empty": m().set_note(b"").seal(),
        "meaning-threshold-0": m().set("f", x.threshold, 0.0).seal(),
        "meaning-threshold-1e-45": m().set("f", x.threshold, 1e-45).seal(),
        "meaning-threshold-own-0": m().set("f", x.threshold_own, 0.0).seal(),
        "meaning-threshold-ctx-nan": m().set("f", x.threshold_ctx,
                                             float("nan")).seal(),
        "meaning-group-2": m().set("B", x.group + x.dim - 1, 2).seal(),
        "no-groups": m().set("%dB" % x.dim, x.group, *([0] * x.dim)).set(
            "f", x.threshold_ctx, 3.4028234663852886e38).seal(),
        "meaning-flags": m().set("I", 12, 1).seal(),
        "meaning-p99-below-p50": m().set("f", x.p99 + 12, p50 - 1).seal(),
        "meaning-train-0": m().set("Q", x.train, 0).seal(),
        "meaning-train-max": m().set("Q", x.train, 2**64 - 1).seal(),
        "meaning-dropped-max": m().set("Q", x.dropped, 2**64 - 1).seal(),
        # Found by fuzz_model: a weight of -1.7e38 loaded and every score
        # was NaN, so nothing could alert.
        "regress-huge-weight": m().set("f", x.params + 4 * 278,
                                       -1.7e38).seal(),
    }


def write(top, sub, seeds):
    out = os.path.join(top, "tests", "fuzz", "corpus", sub)
    os.makedirs(out, exist_ok=True)
    for name, data in sorted(seeds.items()):
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)
    return ["tests/fuzz/corpus/%s/%s" % (sub, n) for n in sorted(seeds)]


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    top, model = sys.argv[1], sys.argv[2]
    names = write(top, "pcap", pcap_seeds(top))
    names += write(top, "model", model_seeds(model))
    for n in names:
        print("\t" + n + " \\")


if __name__ == "__main__":
    main()
