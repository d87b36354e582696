#!/bin/sh
# The README's first command: set up, build, and run anomd on the bundled
# sample capture.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
sh tests/setup.sh
if [ ! -f build/Makefile ]; then
	autoreconf -fi >/dev/null
	mkdir -p build
	(cd build && ../configure --quiet)
fi
make -s -C build -j"$(nproc)" anomd
echo "== anomd -r tests/data/sample.pcap --baseline 200"
# The sample has 240 s of benign traffic before the scan: learn from 200.
exec build/anomd -r tests/data/sample.pcap --baseline 200 "$@"
