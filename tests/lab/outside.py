#!/usr/bin/env python3
"""The lab's "outside" servers, run by tests/make-lab.sh inside a namespace.

outside.py dns ADDR SEED      authoritative for every name under the zone
                              the lab resolver forwards (t.example.net):
                              answers TXT (and A) queries with random data,
                              as a DNS tunnel's far end would
outside.py http ADDR:PORT...  one HTTP server per address: GET answers a
                              small JSON body (updates, beacon polls), PUT
                              and POST read the whole body (uploads, at most
                              64 MiB) and answer 201

Only standard library; stops after --max-seconds (default 7200).
"""
import http.server
import random
import socket
import socketserver
import struct
import sys
import threading
import time


def dns(addr, seed, deadline):
    rnd = random.Random(seed)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((addr, 53))
    s.settimeout(1.0)
    while time.time() < deadline:
        try:
            q, peer = s.recvfrom(1500)
        except socket.timeout:
            continue
        if len(q) < 17:
            continue
        qid, flags, qd = struct.unpack("!HHH", q[:6])
        if flags & 0x8000 or qd != 1:
            continue
        i = 12
        while i < len(q) and q[i] != 0:
            i += 1 + q[i]
        if i + 5 > len(q):
            continue
        question = q[12:i + 5]
        qtype = struct.unpack("!H", q[i + 1:i + 3])[0]
        hdr = struct.pack("!HHHHHH", qid, 0x8400 | (flags & 0x0100), 1, 1,
                          0, 0)
        if qtype == 16:  # TXT: a chunk of "downstream" data
            n = rnd.randint(60, 220)
            txt = bytes(rnd.choice(b"abcdefghijklmnopqrstuvwxyz0123456789")
                        for _ in range(n))
            rdata = bytes([len(txt)]) + txt
            ans = struct.pack("!HHHIH", 0xC00C, 16, 1, 0, len(rdata)) + rdata
        else:
            ans = struct.pack("!HHHIH", 0xC00C, 1, 1, 0, 4) + bytes(
                [198, 51, 100, rnd.randint(2, 250)])
        s.sendto(hdr + question + ans, peer)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, code, body):
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self.reply(200, b'{"status":"ok","next":%d}\n' % random.randint(1, 99))

    def do_PUT(self):
        left = int(self.headers.get("Content-Length") or 0)
        if left < 0 or left > 64 << 20:
            self.reply(413, b'{"status":"too large"}\n')
            return
        while left > 0:
            b = self.rfile.read(min(left, 65536))
            if not b:
                break
            left -= len(b)
        self.reply(201, b'{"status":"stored"}\n')

    do_POST = do_PUT


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


def main():
    deadline = time.time() + 7200
    args = sys.argv[1:]
    if "--max-seconds" in args:
        k = args.index("--max-seconds")
        deadline = time.time() + float(args[k + 1])
        del args[k:k + 2]
    if args[0] == "dns":
        dns(args[1], int(args[2]), deadline)
    elif args[0] == "http":
        for a in args[1:]:
            host, port = a.rsplit(":", 1)
            srv = Server((host, int(port)), Handler)
            threading.Thread(target=srv.serve_forever, daemon=True).start()
        while time.time() < deadline:
            time.sleep(1)
    else:
        sys.exit("usage: outside.py dns ADDR SEED | http ADDR:PORT...")


if __name__ == "__main__":
    main()
