#!/usr/bin/env python3
"""Write labels.json for a capture made by tests/make-lab.sh.

usage: labels.py CAPTURE.pcap EVENTS.tsv META.json OUT.json

EVENTS.tsv has one attack a line, tab-separated: name, tool, command,
attackers (comma-separated, or "spoofed"), victims, protocol, ports, wall
clock start and end (epoch seconds around the command), a tshark display
filter for the attack's packets, its flow rules as JSON and, optionally,
how long its packets may outlast the command (seconds; default 2: a SYN
flood's SYN-ACK retransmissions go on for a minute).  The exact start and
end are taken from the capture: the first and last packet that the filter
matches within the wall-clock window (2 s before, that long after).  A rule
{"flows_from": FILTER} is expanded into the list of 5-tuples of the packets
FILTER matches in that window ("flows": [[src, sport, dst, dport, proto]]).

labels.json: {"capture", "first_packet", "last_packet", meta..., "attacks":
[{name, tool, command, attackers, victims, protocol, ports, start, end,
start_utc, end_utc, start_offset, packets, match: [rule...]}]}.  A flow is
part of an attack when one of its rules matches the flow and the flow's
first..last packet overlaps start - slack .. end + slack (slack: 2 s).
Rules: {"host": A} (either end is A); {"src": A, "dst": B, "proto": P,
"dport": N, "src_not_in": CIDR}, any subset, matched in the initiator's
direction; {"flows": [...]} (either direction).
"""
import datetime
import json
import subprocess
import sys

SLACK = 2.0


def tshark(pcap, flt, fields):
    args = ["tshark", "-r", pcap, "-Y", flt, "-T", "fields",
            "-E", "separator=/t"]
    for f in fields:
        args += ["-e", f]
    r = subprocess.run(args, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit("labels: tshark -Y '%s' failed: %s" % (flt, r.stderr[-500:]))
    return [ln.split("\t") for ln in r.stdout.splitlines() if ln]


def utc(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%S.%fZ")


def main():
    pcap, events, meta, out = sys.argv[1:5]
    rows = tshark(pcap, "frame", ["frame.time_epoch"])
    first, last = float(rows[0][0]), float(rows[-1][0])
    doc = {"capture": pcap, "first_packet": first, "last_packet": last,
           "first_packet_utc": utc(first), "slack_seconds": SLACK}
    with open(meta) as f:
        doc.update(json.load(f))
    attacks = []
    for line in open(events):
        if not line.strip():
            continue
        f = line.rstrip("\n").split("\t")
        (name, tool, cmd, atk, vic, proto, ports, ws, we, flt,
         rules) = f[:11]
        after = float(f[11]) if len(f) > 11 and f[11] else SLACK
        win = "frame.time_epoch >= %.3f && frame.time_epoch <= %.3f" % (
            float(ws) - SLACK, float(we) + after)
        ts = [float(r[0]) for r in
              tshark(pcap, "(%s) && %s" % (flt, win), ["frame.time_epoch"])]
        a = {"name": name, "tool": tool, "command": cmd,
             "attackers": atk.split(",") if atk else [],
             "victims": vic.split(",") if vic else [],
             "protocol": proto, "ports": ports, "filter": flt,
             "packets": len(ts)}
        if ts:
            a.update(start=ts[0], end=ts[-1], start_utc=utc(ts[0]),
                     end_utc=utc(ts[-1]), start_offset=round(ts[0] - first, 3))
        else:
            a.update(start=float(ws), end=float(we), start_utc=utc(float(ws)),
                     end_utc=utc(float(we)), start_offset=None,
                     note="no packet matched the filter in the capture")
        match = []
        for r in json.loads(rules):
            if "flows_from" in r:
                fl = set()
                for src, sp, dst, dp, p in tshark(
                        pcap, "(%s) && %s" % (r["flows_from"], win),
                        ["ip.src", "udp.srcport", "ip.dst", "udp.dstport",
                         "ip.proto"]):
                    fl.add((src, int(sp or 0), dst, int(dp or 0), int(p)))
                match.append({"flows": sorted(list(x) for x in fl)})
            else:
                match.append(r)
        a["match"] = match
        attacks.append(a)
    doc["attacks"] = attacks
    with open(out, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
