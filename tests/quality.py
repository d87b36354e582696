#!/usr/bin/env python3
"""Detection quality report: per capture, flows, alerts, the share of attack
flows alerted, whether an alert names the attacker (or, for forged sources,
the victim), and false alerts on benign flows that were not used for
training.

usage: quality.py ANOMD SAMPLE.pcap SHARED_PCAPS_DIR [WORKDIR]
       quality.py --lab LABDIR ANOMD [SAMPLE.pcap SHARED_PCAPS_DIR] [WORKDIR]

--lab runs the lab protocol of tests/lab/README.md on LABDIR/A/A.pcap and
LABDIR/B/B.pcap (made by tests/make-lab.sh): train on A with --train-only,
score B with -m, and print per attack (detected, recall, AUC, latency), the
false alerts over every benign flow of B (first 5 minutes and the rest), and
incidents against attacks.  SAMPLE.pcap and SHARED_PCAPS_DIR default to
tests/data/sample.pcap and the shared captures beside the source tree
(../shared/data/pcaps); their table follows when they exist.

Every table puts a linear baseline beside the autoencoder: PCA keeping 95 %
of the variance of the same normalised features (log1p where anomd
--list-features says log1p, standardised by the training flows' mean and
std with a floor of 0.25, clipped to +-6), scored by the mean squared
reconstruction error, with its threshold at the 1 - 0.001 quantile of
out-of-sample errors from 5-fold cross-fitting on the training flows (max x
1.5 below 1000 flows, as anomd's rule).  It needs numpy (python3-numpy).

SAMPLE.pcap is a lab capture made by tests/make-sample.sh, with a SAMPLE.md
beside it holding a "<!-- quality: attacker=... attack_start=... -->" line
(tests/data has one).  A longer benign stretch gives a steadier false-alert
figure: BASELINE_SECONDS=1200 tests/make-sample.sh DIR/sample.pcap, then
write that line into DIR/SAMPLE.md from the attack times it prints.

The model is trained on benign traffic of our own making: the first 70 % of
the bundled sample's benign part (before the scan).  The remaining 30 % is
held out and scored to measure false alerts.  Every shared capture is then
scored with that model, on its own, as it is.  Labels come from
SOURCES.md (attacker and victim addresses); "attack-only" files count every
flow as attack traffic.
"""
import csv
import json
import os
import sqlite3
import struct
import subprocess
import sys
import tempfile

# file: (kind, attackers, victims, required)
#   kind "attack": every flow is attack traffic
#   kind "mixed": flows touching an attacker (or victim, when no attacker is
#                 given) are attack traffic, the rest benign
#   kind "benign": every flow is benign
#   required: the target "at least one alert naming the attacker/victim"
LABELS = {
    "sanders_synscan.pcapng": ("attack", ["172.16.0.8"], ["64.13.134.52"], True),
    "chappell_sec-nmapscan.pcapng": ("attack", ["10.0.0.66"], ["10.0.0.1"], True),
    "chappell_sec-dictionary2.pcapng": ("attack", ["69.181.135.56"], ["67.161.39.46"], True),
    "chappell_sec-macof.pcapng": ("attack", [], [], True),
    "chappell_sick-client.pcapng": ("attack", ["68.164.173.62", "69.64.34.124"], ["172.16.1.10"], True),
    "stopddos_pkt.TCP.synflood.spoofed.pcap": ("attack", [], ["10.10.10.10"], True),
    "stopddos_amp.dns.RRSIG.fragmented.pcap": ("attack", [], ["10.10.10.10"], True),
    "ndpi_dns-tunnel-iodine.pcap": ("attack", ["10.0.2.30"], ["10.0.2.20"], True),
    "ndpi_dns_exfiltration_dnscat2.pcap": ("attack", ["192.168.220.56"], ["192.168.203.167"], True),
    "ndpi_WebattackSQLinj_cicids2017.pcap": ("attack", ["172.16.0.1"], ["192.168.10.50"], True),
    "kihy_slowloris.pcap": ("attack", ["10.0.2.15"], ["192.168.56.102"], True),
    "sanders_arppoison.pcapng": ("mixed", ["172.16.0.105"], [], False),
    "chappell_arpsweep.pcapng": ("attack", ["192.168.0.102"], [], False),
    "sanders_http_espn_benign.pcapng": ("benign", [], [], False),
}


def read_pcap(path):
    """Yield (ts_seconds, header+data bytes) of a classic pcap file."""
    with open(path, "rb") as f:
        gh = f.read(24)
        magic = struct.unpack("<I", gh[:4])[0]
        endian = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
        nano = magic in (0xA1B23C4D, 0x4D3CB2A1)
        yield gh
        while True:
            h = f.read(16)
            if len(h) < 16:
                return
            sec, frac, incl, _ = struct.unpack(endian + "IIII", h)
            data = f.read(incl)
            yield (sec + frac / (1e9 if nano else 1e6), h + data)


def split_pcap(src, parts):
    """Write packets of src into parts [(path, t0, t1)] by time."""
    it = read_pcap(src)
    gh = next(it)
    outs = [(open(p, "wb"), t0, t1) for p, t0, t1 in parts]
    for f, _, _ in outs:
        f.write(gh)
    for ts, raw in it:
        for f, t0, t1 in outs:
            if t0 <= ts < t1:
                f.write(raw)
    for f, _, _ in outs:
        f.close()


def run(args):
    r = subprocess.run(args, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit("quality: %s failed:\n%s" % (" ".join(args), r.stderr[-2000:]))
    return r


def read_csv(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def join_flows(rows, flows):
    """Attach each scores row's flow record (same flow_id and times)."""
    by = {(f["flow_id"], f["ts_first"], f["ts_last"]): f for f in flows}
    for x in rows:
        x["_flow"] = by.get((x["flow_id"], x["ts_first"], x["ts_last"]))
    return rows


def score(anomd, pcap, model, out, db=None):
    """Score pcap with model: the scores rows, each with its flow record."""
    run([anomd, "-r", pcap, "-m", model, "--scores", out, "--db",
         db or out + ".db", "--flows", out + ".flows.csv", "--seed", "1"])
    return join_flows(read_csv(out), read_csv(out + ".flows.csv"))


def train(anomd, pcap, model):
    """Train a model on pcap: anomd's output and the training flows."""
    flows = model + ".flows.csv"
    r = run([anomd, "-r", pcap, "--train-only", "-m", model, "--flows",
             flows, "--seed", "1"])
    return r.stdout.strip(), read_csv(flows)


# ------------------------------------------------------------ the PCA baseline
class PCA:
    """Linear baseline: PCA keeping 95 % of the variance of the normalised
    features, scored by mean squared reconstruction error."""

    def __init__(self, anomd, flows, var=0.95, rate=0.001, k=5, clip=6.0):
        import numpy as np
        self.np = np
        feats = []
        for ln in run([anomd, "--list-features"]).stdout.splitlines():
            f = ln.split()
            if len(f) >= 4 and f[0].isdigit():
                feats.append((f[1], f[3] == "log1p"))
        self.names = [n for n, _ in feats]
        self.log = np.array([lg for _, lg in feats])
        self.clip, self.var = clip, var
        raw = self.matrix(flows)
        t = self.xform(raw)
        self.mean = t.mean(axis=0)
        self.std = np.maximum(t.std(axis=0), 0.25)
        z = self.norm(raw)
        self.basis = self.fit(z)
        # out-of-sample errors by k-fold cross-fitting
        n = len(z)
        idx = np.random.default_rng(1).permutation(n)
        oos = np.empty(n)
        for i in range(k):
            test = idx[i::k]
            mask = np.ones(n, bool)
            mask[test] = False
            b = self.fit(z[mask])
            oos[test] = self.err(z[test], b)
        self.oos_n = n
        if n * rate >= 1.0:
            self.threshold = float(np.quantile(oos, 1.0 - rate))
            self.rule = "quantile %.3f of %d out-of-sample errors" % (
                1.0 - rate, n)
        else:
            self.threshold = float(oos.max() * 1.5)
            self.rule = "max x 1.5 of %d out-of-sample errors" % n
        self.components = self.basis[1].shape[1]

    def matrix(self, flows):
        np = self.np
        return np.array([[float(f[c]) for c in self.names] for f in flows],
                        dtype=np.float64).reshape(len(flows), len(self.names))

    def xform(self, raw):
        np = self.np
        return np.where(self.log, np.log1p(np.maximum(raw, 0.0)), raw)

    def norm(self, raw):
        np = self.np
        return np.clip((self.xform(raw) - self.mean) / self.std, -self.clip,
                       self.clip)

    def fit(self, z):
        np = self.np
        mu = z.mean(axis=0)
        _, sv, vt = np.linalg.svd(z - mu, full_matrices=False)
        ev = sv ** 2
        keep = int(np.searchsorted(np.cumsum(ev) / max(ev.sum(), 1e-12),
                                   self.var) + 1)
        return mu, vt[:min(keep, len(vt))].T

    def err(self, z, b):
        mu, w = b
        c = z - mu
        return ((c - c @ w @ w.T) ** 2).mean(axis=1)

    def score(self, rows):
        """Set x["pca"] and x["pca_alert"] on every row with a flow record."""
        have = [x for x in rows if x.get("_flow") is not None]
        if have:
            e = self.err(self.norm(self.matrix([x["_flow"] for x in have])),
                         self.basis)
            for x, v in zip(have, e):
                x["pca"] = float(v)
                x["pca_alert"] = int(v > self.threshold)
        for x in rows:
            x.setdefault("pca", 0.0)
            x.setdefault("pca_alert", 0)


def pca_or_none(anomd, flows):
    try:
        return PCA(anomd, flows)
    except ImportError:
        print("quality: numpy missing (apt-get install python3-numpy): "
              "no PCA baseline")
        return None


def sample_facts(sample):
    """Attacker, victim and scan start from tests/data/SAMPLE.md."""
    facts = {}
    md = os.path.join(os.path.dirname(sample), "SAMPLE.md")
    for line in open(md):
        if line.startswith("<!-- quality:"):
            for kv in line[len("<!-- quality:"):].split("-->")[0].split():
                k, v = kv.split("=")
                facts[k] = v
    return facts


def pct(a, n):
    return "%d (%.3f %%)" % (a, 100.0 * a / n) if n else "-"


def table(head, rows):
    w = [max(len(str(r[i])) for r in [head] + rows) for i in range(len(head))]
    for r in [head] + rows:
        print("  ".join(("%-*s" if i == 0 else "%*s") % (w[i], r[i])
                        for i in range(len(r))))


def shared_table(anomd, sample, shared, work):
    """The bundled sample and the shared captures; returns the captures in
    which no alert names the attacker."""
    facts = sample_facts(sample)
    attacker = facts["attacker"]
    os.makedirs(work, exist_ok=True)
    t_attack = float(facts["attack_start"])
    t_first = next(ts for ts, _ in list(read_pcap(sample))[1:2])
    cut = t_first + 0.7 * (t_attack - t_first)
    trainp = os.path.join(work, "train.pcap")
    split_pcap(sample, [(trainp, 0, cut)])
    model = os.path.join(work, "benign.model")
    out, tflows = train(anomd, trainp, model)
    print(out)
    pca = pca_or_none(anomd, tflows)
    if pca:
        print("PCA baseline: %d components of %d features keep 95 %% of the "
              "variance; threshold %.4g by %s" % (pca.components,
                                                  len(pca.names),
                                                  pca.threshold, pca.rule))
    rows = []

    def alerts(xs, col):
        return sum(int(x[col]) for x in xs)

    def row(name, xs, atk, ben, named, pnamed):
        r = [name, len(xs)]
        for col, nm in (("alert", named), ("pca_alert", pnamed)):
            if col == "pca_alert" and not pca:
                r += ["-"] * 4
                continue
            hit = alerts(atk, col)
            r += [alerts(xs, col),
                  "%.1f %%" % (100.0 * hit / len(atk)) if atk else "-",
                  nm if nm is not None else "-",
                  "%d of %d" % (alerts(ben, col), len(ben)) if ben else "-"]
        rows.append(r)

    # Held-out benign: the sample scored with the model, flows that start
    # after the training cut and end (a UDP idle timeout, 60 s, after their
    # last packet) before the scan, not touching the attacker.  Benign
    # flows that end during or after the scan are reported apart.
    s = score(anomd, sample, model, os.path.join(work, "sample.csv"))
    if pca:
        pca.score(s)
    benign = [x for x in s if float(x["ts_first"]) >= cut and
              attacker not in (x["src_ip"], x["dst_ip"])]
    held = [x for x in benign if float(x["ts_last"]) + 60 < t_attack]
    hid = set(map(id, held))
    later = [x for x in benign if id(x) not in hid]
    atk = [x for x in s if attacker in (x["src_ip"], x["dst_ip"])]
    named = any(x["alert"] == "1" for x in atk)
    pnamed = any(x["pca_alert"] for x in atk)
    row("sample (held-out benign, before scan)", held, [], held, None, None)
    row("sample (benign, during/after scan)", later, [], later, None, None)
    row("sample (scan from %s)" % attacker, atk, atk, [],
        "yes" if named else "NO", "yes" if pnamed else "NO")
    missing = [] if named else ["sample"]
    for name in sorted(LABELS):
        path = os.path.join(shared, name)
        if not os.path.exists(path):
            continue
        kind, attackers, victims, required = LABELS[name]
        s = score(anomd, path, model, os.path.join(work, name + ".csv"))
        if pca:
            pca.score(s)
        who = attackers or victims
        if kind == "attack":
            atk, ben = s, []
        elif kind == "benign":
            atk, ben = [], s
        else:
            atk = [x for x in s if x["src_ip"] in who or x["dst_ip"] in who]
            aid = set(map(id, atk))
            ben = [x for x in s if id(x) not in aid]
        nm = []
        for col in ("alert", "pca_alert"):
            if who:
                nm.append(any(int(x[col]) and
                              (x["src_ip"] in attackers + victims or
                               x["dst_ip"] in attackers + victims)
                              for x in s))
            else:
                nm.append(alerts(atk, col) > 0)
        if required and not nm[0]:
            missing.append(name)
        yn = [("yes" if v else "NO") if kind != "benign" else None
              for v in nm]
        row(name, s, atk, ben, yn[0], yn[1])
    print()
    table(["capture", "flows", "AE alerts", "attack%", "named",
           "false alerts", "PCA alerts", "attack%", "named", "false alerts"],
          rows)
    if missing:
        print("quality: no alert naming the attacker in: " + ", ".join(missing))
    return missing


# ------------------------------------------------------------ the lab protocol
def auc(pos, neg):
    """Area under the ROC curve of scores pos against neg (ties count
    half), by ranks."""
    import numpy as np
    if not pos or not neg:
        return float("nan")
    v = np.array(list(pos) + list(neg))
    order = v.argsort(kind="mergesort")
    ranks = np.empty(len(v))
    sv = v[order]
    i = 0
    while i < len(v):
        j = i
        while j + 1 < len(v) and sv[j + 1] == sv[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2.0 + 1
        i = j + 1
    rp = ranks[:len(pos)].sum()
    return float((rp - len(pos) * (len(pos) + 1) / 2.0) /
                 (len(pos) * len(neg)))


def in_net(addr, cidr):
    import ipaddress
    try:
        return ipaddress.ip_address(addr) in ipaddress.ip_network(cidr)
    except ValueError:
        return False


def rule_match(r, x):
    src, dst = x["src_ip"], x["dst_ip"]
    if "flows" in r:
        key = (src, int(x["src_port"]), dst, int(x["dst_port"]),
               int(x["proto"]))
        rev = (dst, int(x["dst_port"]), src, int(x["src_port"]),
               int(x["proto"]))
        fl = r.setdefault("_set", set(tuple(f) for f in r["flows"]))
        return key in fl or rev in fl
    if "host" in r:
        return r["host"] in (src, dst)
    return (r.get("src", src) == src and r.get("dst", dst) == dst and
            int(r.get("proto", x["proto"])) == int(x["proto"]) and
            int(r.get("dport", x["dst_port"])) == int(x["dst_port"]) and
            not ("src_not_in" in r and in_net(src, r["src_not_in"])))


def label(rows, labels):
    """x["_attack"] = the attack's name, or None for benign flows."""
    slack = labels.get("slack_seconds", 2.0)
    for x in rows:
        x["_attack"] = None
        t0, t1 = float(x["ts_first"]), float(x["ts_last"])
        for a in labels["attacks"]:
            if t0 > a["end"] + slack or t1 < a["start"] - slack:
                continue
            if any(rule_match(r, x) for r in a["match"]):
                x["_attack"] = a["name"]
                break


def emit_delays(anomd):
    """Seconds from a flow's last packet to its record, by end reason and
    protocol, from anomd's default configuration."""
    conf = {}
    for ln in run([anomd, "--dump-config"]).stdout.splitlines():
        f = ln.split("=")
        if len(f) == 2 and not ln.lstrip().startswith("#"):
            try:
                conf[f[0].strip()] = float(f[1])
            except ValueError:
                pass

    def delay(end, proto):
        if end in ("fin", "rst"):
            return conf.get("timeout_tcp_closed", 0.0)
        if end == "halfopen":
            return conf.get("timeout_tcp_halfopen", 0.0)
        if end == "idle":
            return conf.get({6: "timeout_tcp_idle", 17: "timeout_udp_idle",
                             1: "timeout_icmp_idle"}.get(
                                 proto, "timeout_other_idle"), 0.0)
        return 0.0
    return delay


def ae_ratio(x):
    """The detector's level of a flow: the scores CSV's level column (own
    over own_threshold, or a beacon contact's evidence over its threshold),
    else own/own_threshold when the CSV has them, else score/threshold."""
    if x.get("level") not in (None, ""):
        return float(x["level"])
    if x.get("own") not in (None, "") and x.get("own_threshold") not in (
            None, "") and float(x["own_threshold"]) > 0:
        return float(x["own"]) / float(x["own_threshold"])
    return float(x["score"]) / max(float(x["threshold"]), 1e-30)


def is_responder(x):
    return x.get("finding", "") == "responder"


def incidents(db):
    """Rows of the incidents table as dicts, or None without one."""
    if not os.path.exists(db):
        return None
    con = sqlite3.connect(db)
    try:
        cur = con.execute("SELECT * FROM incidents")
    except sqlite3.Error:
        return None
    cols = [c[0] for c in cur.description]
    out = [dict(zip(cols, r)) for r in cur.fetchall()]
    con.close()
    return out


def inc_times(i):
    """(first, last) of an incident in epoch seconds, whatever the unit."""
    def sec(v):
        v = float(v)
        return v / 1e6 if v > 1e14 else (v / 1e3 if v > 1e11 else v)
    f = next((i[c] for c in ("first_us", "first", "ts_first", "first_ts")
              if c in i), None)
    la = next((i[c] for c in ("last_us", "last", "ts_last", "last_ts")
               if c in i), f)
    return (sec(f), sec(la)) if f is not None else (None, None)


def inc_hosts(i):
    hs = set()
    for c in ("host", "initiator", "responder", "src_ip", "dst_ip"):
        if i.get(c):
            hs.add(str(i[c]))
    try:
        hs.update(str(p) for p in json.loads(i.get("peers") or "[]"))
    except (ValueError, TypeError):
        pass
    return hs


def lab_protocol(anomd, labdir, work):
    a_pcap = os.path.join(labdir, "A", "A.pcap")
    b_pcap = os.path.join(labdir, "B", "B.pcap")
    with open(os.path.join(labdir, "B", "labels.json")) as f:
        labels = json.load(f)
    model = os.path.join(work, "A.model")
    out, aflows = train(anomd, a_pcap, model)
    print("== lab protocol: train on %s, score %s" % (a_pcap, b_pcap))
    print(out)
    pca = pca_or_none(anomd, aflows)
    if pca:
        print("PCA baseline: %d components of %d features keep 95 %% of the "
              "variance of %d flows of A; threshold %.4g by %s" % (
                  pca.components, len(pca.names), len(aflows), pca.threshold,
                  pca.rule))
    db = os.path.join(work, "B.db")
    if os.path.exists(db):
        os.remove(db)
    rows = score(anomd, b_pcap, model, os.path.join(work, "B.csv"), db)
    if pca:
        pca.score(rows)
    label(rows, labels)
    delay = emit_delays(anomd)
    t0 = labels["first_packet"]
    for x in rows:
        x["_r"] = ae_ratio(x)
        x["_ae"] = x["alert"] == "1" and not is_responder(x)
        x["_t"] = float(x["ts_last"]) + delay(x["end"], int(x["proto"]))
    benign = [x for x in rows if x["_attack"] is None]
    stray = [x for x in benign if labels.get("attacker") in
             (x["src_ip"], x["dst_ip"])]
    if stray:
        print("quality: %d flows touch the attacker %s outside every "
              "labelled attack (counted as benign)" % (len(stray),
                                                       labels["attacker"]))
    responder = [x for x in rows if is_responder(x)]
    print("B: %d flows scored, %d benign, %d of attacks; %d blamed on their "
          "responder" % (len(rows), len(benign), len(rows) - len(benign),
                        len(responder)))

    def first(xs):
        return min((x["_t"] for x in xs), default=None)

    arow = []
    worst = {"ae": 1.0, "pca": 1.0}
    for a in labels["attacks"]:
        xs = [x for x in rows if x["_attack"] == a["name"]]
        vic = set(a["victims"])
        resp = [x for x in responder if x["dst_ip"] in vic and
                a["start"] - 2 <= float(x["ts_last"]) <= a["end"] + 120]
        r = [a["name"], len(xs)]
        for kind in ("ae", "pca"):
            if kind == "pca" and not pca:
                r += ["-"] * 4
                continue
            hit = [x for x in xs if (x["_ae"] if kind == "ae"
                                     else x["pca_alert"])]
            det = bool(hit) or (kind == "ae" and bool(resp))
            sc = "_r" if kind == "ae" else "pca"
            u = auc([x[sc] for x in xs], [x[sc] for x in benign])
            if u == u:
                worst[kind] = min(worst[kind], u)
            ft = first(hit + (resp if kind == "ae" else []))
            r += ["yes" if det else "NO",
                  "%.1f %%" % (100.0 * len(hit) / len(xs)) if xs else "-",
                  "%.4f" % u if u == u else "-",
                  "%.1f s" % (ft - a["start"]) if ft is not None else "-"]
        r.insert(6, len(resp))
        arow.append(r)
    print()
    print("per attack (AE: the scores CSV's level, own/own_threshold or "
          "for a beacon contact contacts/beacon_min_contacts; latency: attack start to the alerting flow's "
          "record, its last packet plus the end reason's timeout)")
    table(["attack", "flows", "AE det", "recall", "AUC", "latency",
           "blamed on resp.", "PCA det", "recall", "AUC", "latency"], arow)
    print("minimum per-attack AUC: AE %.4f, PCA %s" % (
        worst["ae"], "%.4f" % worst["pca"] if pca else "-"))

    cold = [x for x in benign if float(x["ts_first"]) < t0 + 300]
    rest = [x for x in benign if float(x["ts_first"]) >= t0 + 300]
    victims = set(v for a in labels["attacks"] for v in a["victims"])
    t_atk = min(a["start"] for a in labels["attacks"])
    to_vic = [x for x in benign if x["dst_ip"] in victims and
              float(x["ts_last"]) >= t_atk]
    brows = []
    for name, xs in (("all benign flows", benign),
                     ("first 5 minutes", cold), ("after 5 minutes", rest),
                     ("to a victim, from the first attack on", to_vic)):
        brows.append([name, len(xs),
                      pct(sum(x["_ae"] for x in xs), len(xs)),
                      pct(sum(is_responder(x) for x in xs), len(xs)),
                      pct(sum(x["pca_alert"] for x in xs), len(xs))
                      if pca else "-"])
    print()
    print("benign flows of B alerted")
    table(["benign", "flows", "AE flow alerts", "AE blamed on resp.",
           "PCA alerts"], brows)
    print("(AE blamed on resp.: client flows not alerted because the error "
          "is their responder's context; each responder episode raises one "
          "responder finding, not an alert on the client)")

    top = {}
    for x in benign:
        if x["_ae"]:
            k = "to %s:%s proto %s, end %s" % (x["dst_ip"], x["dst_port"],
                                               x["proto"], x["end"])
            top[k] = top.get(k, 0) + 1
    if top:
        print("AE false alerts by responder and end reason: " + "; ".join(
            "%s: %d" % kv for kv in sorted(top.items(),
                                           key=lambda kv: -kv[1])[:6]))

    inc = incidents(db)
    print()
    if inc is None:
        print("incidents: no incidents table in %s" % db)
        return
    slack = 120.0
    matched = {a["name"]: [] for a in labels["attacks"]}
    benign_inc = []
    for i in inc:
        f, la = inc_times(i)
        hs = inc_hosts(i)
        cands = [a for a in labels["attacks"]
                 if f is not None and f <= a["end"] + slack and
                 la >= a["start"] - slack and
                 hs & (set(a["attackers"]) | set(a["victims"]))]
        if not cands:
            benign_inc.append(i)
            continue
        # One attack per incident: the host in the role the incident gives
        # it (initiator: an attacker; responder: a victim) first, then the
        # attack that started nearest the incident's first alert.
        about = str(i.get("about", ""))
        role = "victims" if about in ("1", "responder") else "attackers"
        best = min(cands, key=lambda a: (not (hs & set(a[role])),
                                         abs(a["start"] - f)))
        matched[best["name"]].append(i)
    print("incidents: %d in B.db; %d about benign hosts or no attack" % (
        len(inc), len(benign_inc)))
    table(["attack", "incidents", "summaries"],
          [[n, len(v), " | ".join((x.get("summary") or "")[:70]
                                  for x in v[:2]) if v else "-"]
           for n, v in matched.items()])
    for i in benign_inc[:10]:
        print("  not an attack: %s %s" % (i.get("host", "?"),
                                          (i.get("summary") or "")[:100]))


def main():
    args = sys.argv[1:]
    if args and args[0] == "--lab":
        if len(args) < 3:
            sys.exit(__doc__)
        labdir, anomd = args[1], args[2]
        here = os.path.dirname(os.path.abspath(__file__))
        sample = args[3] if len(args) > 3 else os.path.join(
            here, "data", "sample.pcap")
        shared = args[4] if len(args) > 4 else os.path.join(
            here, "..", "..", "shared", "data", "pcaps")
        work = args[5] if len(args) > 5 else tempfile.mkdtemp()
        os.makedirs(work, exist_ok=True)
        lab_protocol(anomd, labdir, work)
        if os.path.exists(sample):
            print()
            print("== shared captures")
            shared_table(anomd, sample, shared, os.path.join(work, "shared"))
        return 0
    if len(args) < 3:
        sys.exit(__doc__)
    anomd, sample, shared = args[:3]
    work = args[3] if len(args) > 3 else tempfile.mkdtemp()
    os.makedirs(work, exist_ok=True)
    shared_table(anomd, sample, shared, work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
