#!/usr/bin/env python3
"""Detection quality report: per capture, flows, alerts, the share of attack
flows alerted, whether an alert names the attacker (or, for forged sources,
the victim), and false alerts on benign flows that were not used for
training.

usage: quality.py ANOMD SAMPLE.pcap SHARED_PCAPS_DIR [WORKDIR]

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
import os
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


def score(anomd, pcap, model, out):
    run([anomd, "-r", pcap, "-m", model, "--scores", out, "--db",
         out + ".db", "--seed", "1"])
    with open(out) as f:
        return list(csv.DictReader(f))


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


def main():
    anomd, sample, shared = sys.argv[1:4]
    work = sys.argv[4] if len(sys.argv) > 4 else tempfile.mkdtemp()
    os.makedirs(work, exist_ok=True)
    facts = sample_facts(sample)
    attacker, victim = facts["attacker"], facts["victim"]
    t_attack = float(facts["attack_start"])
    t_first = next(ts for ts, _ in list(read_pcap(sample))[1:2])
    cut = t_first + 0.7 * (t_attack - t_first)
    train = os.path.join(work, "train.pcap")
    split_pcap(sample, [(train, 0, cut)])
    model = os.path.join(work, "benign.model")
    r = run([anomd, "-r", train, "--train-only", "-m", model, "--seed", "1"])
    print(r.stdout.strip())
    rows = []
    # Held-out benign: the sample scored with the model, flows that start
    # after the training cut and end (a UDP idle timeout, 60 s, after their
    # last packet) before the scan, not touching the attacker.  Benign
    # flows that end during or after the scan are reported apart: host
    # context reads the victims' state when a flow ends, so flows to a
    # scanned server then look unusual too.
    s = score(anomd, sample, model, os.path.join(work, "sample.csv"))
    benign = [x for x in s if float(x["ts_first"]) >= cut and
              attacker not in (x["src_ip"], x["dst_ip"])]
    held = [x for x in benign if float(x["ts_last"]) + 60 < t_attack]
    later = [x for x in benign if x not in held]
    fa = sum(int(x["alert"]) for x in held)
    fl = sum(int(x["alert"]) for x in later)
    atk = [x for x in s if attacker in (x["src_ip"], x["dst_ip"])]
    named = any(x["alert"] == "1" for x in atk)
    rows.append(("sample (held-out benign, before scan)", len(held), fa, "-",
                 "-", "%d (%.3f %%)" % (fa, 100.0 * fa / max(len(held), 1))))
    rows.append(("sample (benign, during/after scan)", len(later), fl, "-",
                 "-", "%d (%.3f %%)" % (fl, 100.0 * fl / max(len(later), 1))))
    rows.append(("sample (scan from %s)" % attacker, len(atk),
                 sum(int(x["alert"]) for x in atk),
                 "%.1f %%" % (100.0 * sum(int(x["alert"]) for x in atk) /
                              max(len(atk), 1)),
                 "yes" if named else "NO", "-"))
    missing = [] if named else ["sample"]
    for name in sorted(LABELS):
        path = os.path.join(shared, name)
        if not os.path.exists(path):
            continue
        kind, attackers, victims, required = LABELS[name]
        s = score(anomd, path, model, os.path.join(work, name + ".csv"))
        who = attackers or victims
        if kind == "attack":
            atk, ben = s, []
        elif kind == "benign":
            atk, ben = [], s
        else:
            atk = [x for x in s if x["src_ip"] in who or x["dst_ip"] in who]
            ben = [x for x in s if x not in atk]
        alerts = sum(int(x["alert"]) for x in s)
        hit = sum(int(x["alert"]) for x in atk)
        if who:
            named = any(x["alert"] == "1" and
                        (x["src_ip"] in attackers + victims or
                         x["dst_ip"] in attackers + victims) for x in s)
        else:
            named = hit > 0
        if required and not named:
            missing.append(name)
        fa = sum(int(x["alert"]) for x in ben)
        rows.append((name, len(s), alerts,
                     "%.1f %%" % (100.0 * hit / len(atk)) if atk else "-",
                     ("yes" if named else "NO") if kind != "benign" else "-",
                     "%d of %d" % (fa, len(ben)) if ben else "-"))
    w = max(len(r[0]) for r in rows)
    print("%-*s %7s %7s %9s %7s  %s" % (w, "capture", "flows", "alerts",
                                         "attack%", "named", "false alerts"))
    for r in rows:
        print("%-*s %7s %7s %9s %7s  %s" % ((w,) + tuple(str(c) for c in r)))
    if missing:
        print("quality: no alert naming the attacker in: " + ", ".join(missing))
    return 0


if __name__ == "__main__":
    sys.exit(main())
