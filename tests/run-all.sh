#!/bin/sh
# The README's second command, and what CI runs: set up, build with warnings
# as errors, run the whole test suite plain and under AddressSanitizer and
# UndefinedBehaviorSanitizer, check formatting, then make distcheck.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
sh tests/setup.sh
jobs=$(nproc)
autoreconf -fi >/dev/null

echo "== plain build, warnings are errors"
rm -rf build-ci
mkdir -p build-ci
(cd build-ci && ../configure --quiet --enable-werror)
make -s -C build-ci -j"$jobs"
# Only this run builds, installs and purges the Debian package (tests/deb.sh).
ANOMD_TEST_DEB=1 make -s -C build-ci -j"$jobs" check ||
	{ cat build-ci/test-suite.log; exit 1; }

echo "== sanitizer build: -fsanitize=address,undefined"
rm -rf build-asan
mkdir -p build-asan
(cd build-asan && ../configure --quiet --enable-werror --enable-sanitizers)
make -s -C build-asan -j"$jobs"
ASAN_OPTIONS=abort_on_error=1:detect_leaks=1 \
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
CK_TIMEOUT_MULTIPLIER=10 \
	make -s -C build-asan -j"$jobs" check ||
	{ cat build-asan/test-suite.log; exit 1; }

echo "== format"
make -s -C build-ci check-format

echo "== distcheck"
make -s -C build-ci distcheck DISTCHECK_CONFIGURE_FLAGS=--enable-werror
# One closing line: test programs passed and failed over both builds.
pass=0
for log in build-ci/test-suite.log build-asan/test-suite.log; do
	n=$(awk '/^# PASS:/ { print $3 }' "$log")
	pass=$((pass + ${n:-0}))
done
echo "run-all: $pass passed, 0 failed"
