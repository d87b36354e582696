#!/usr/bin/env python3
"""Abuse the control socket of a running anomd; exit 0 if it coped.

usage: abuse.py SOCKET
Malformed JSON, wrong types, unknown commands, an oversized line, 200
concurrent clients and a subscriber that never reads.  Every well-behaved
client must still get a correct answer.  Bounded in count and time.
"""
import json
import socket
import sys

path = sys.argv[1]
failures = []


def connect():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(path)
    return s


def ask(s, raw):
    s.sendall(raw if isinstance(raw, bytes) else raw.encode())
    buf = b""
    while not buf.endswith(b"\n"):
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
    return json.loads(buf) if buf else None


def expect(what, reply, ok, code=None):
    good = reply is not None and reply.get("ok") == ok
    if good and code is not None:
        good = reply.get("error", {}).get("code") == code
    if not good:
        failures.append("%s: got %r" % (what, reply))


s = connect()
expect("malformed json", ask(s, "{not json\n"), False, "bad_json")
expect("usable after bad json", ask(s, '{"command":"version"}\n'), True)
expect("not an object", ask(s, "[1,2]\n"), False, "bad_request")
expect("command not a string", ask(s, '{"command":5}\n'), False, "bad_request")
expect("arguments not an object",
       ask(s, '{"command":"alerts","arguments":[]}\n'), False, "bad_request")
expect("unknown command", ask(s, '{"command":"rm -rf"}\n'), False,
       "unknown_command")
expect("wrong argument type",
       ask(s, '{"command":"alerts","arguments":{"limit":"ten"}}\n'), False,
       "bad_argument")
expect("limit out of range",
       ask(s, '{"command":"alerts","arguments":{"limit":100000}}\n'), False,
       "bad_argument")
expect("alert without id", ask(s, '{"command":"alert"}\n'), False,
       "bad_argument")
expect("missing alert", ask(s, '{"command":"alert","arguments":{"id":999999999}}\n'),
       False, "not_found")
# issue 9: every line gets a JSON answer, and nothing is trusted unchecked.
for what, raw, code in [
        ("empty line", b"\n", "bad_json"),
        ("invalid UTF-8", b'{"command":"st\xffatus"}\n', "bad_json"),
        ("escaped NUL", b'{"command":"status\\u0000x"}\n', "bad_request"),
        ("duplicate key", b'{"command":"status","command":"retrain"}\n',
         "bad_request"),
        ("src not an address",
         b'{"command":"alerts","arguments":{"src":"notanip"}}\n',
         "bad_argument"),
        ("src a CIDR",
         b'{"command":"alerts","arguments":{"src":"10.0.0.0/8"}}\n',
         "bad_argument"),
        ("fractional id", b'{"command":"alert","arguments":{"id":1.5}}\n',
         "bad_argument"),
        ("fractional limit",
         b'{"command":"alerts","arguments":{"limit":2.5}}\n',
         "bad_argument")]:
    expect(what, ask(s, raw), False, code)
expect("IPv4-mapped src", ask(
    s, '{"command":"alerts","arguments":{"src":"::ffff:192.0.2.7"}}\n'), True)
s.close()

# An oversized line gets too_long and the connection is closed.
s = connect()
try:
    s.sendall(b'{"command":"' + b"x" * (70 * 1024))
    expect("oversized line", ask(s, b""), False, "too_long")
except (BrokenPipeError, ConnectionResetError):
    failures.append("oversized line: connection reset before the reply")
s.close()

# A subscriber that never reads stays connected meanwhile.
lazy = connect()
lazy.sendall(b'{"command":"subscribe"}\n')

# 200 concurrent clients, all answered.
clients = [connect() for _ in range(200)]
for c in clients:
    c.sendall(b'{"command":"status"}\n')
answered = 0
for c in clients:
    r = ask(c, b"")
    if r and r.get("ok") and "state" in r.get("result", {}):
        answered += 1
    c.close()
if answered != 200:
    failures.append("only %d of 200 concurrent clients answered" % answered)

s = connect()
expect("well-behaved client after abuse", ask(s, '{"command":"stats"}\n'), True)
s.close()
lazy.close()

for f in failures:
    print("abuse:", f)
print("abuse: %d checks failed" % len(failures))
sys.exit(1 if failures else 0)
