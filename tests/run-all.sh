#!/bin/sh
# The README's second command, and what CI runs: set up, build with warnings
# as errors, run the whole test suite plain and under AddressSanitizer and
# UndefinedBehaviorSanitizer, check formatting, then make distcheck.  It
# closes with what the tests did: every skipped test with its reason, every
# part a passing test skipped, and one line CI reads:
#   run-all: N passed, N failed, N skipped
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
sh tests/setup.sh
jobs=$(nproc)
autoreconf -fi >/dev/null
failed_steps=""

# The shared captures by an absolute path, so that distcheck's nested build
# (and any build folder) finds them too; Makefile.am keeps this value.
if [ -z "${ANOMD_SHARED_DATA:-}" ] && [ -d "$top/../shared/data" ]; then
	ANOMD_SHARED_DATA=$(cd "$top/../shared/data" && pwd)
fi
[ -n "${ANOMD_SHARED_DATA:-}" ] && export ANOMD_SHARED_DATA

echo "== plain build, warnings are errors"
rm -rf build-ci
mkdir -p build-ci
(cd build-ci && ../configure --quiet --enable-werror)
make -s -C build-ci -j"$jobs"
# Only this run builds, installs and purges the Debian package (tests/deb.sh).
ANOMD_TEST_DEB=1 make -s -C build-ci -j"$jobs" check ||
	failed_steps="$failed_steps check"

echo "== sanitizer build: -fsanitize=address,undefined"
rm -rf build-asan
mkdir -p build-asan
(cd build-asan && ../configure --quiet --enable-werror --enable-sanitizers)
make -s -C build-asan -j"$jobs"
ASAN_OPTIONS=abort_on_error=1:detect_leaks=1 \
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
CK_TIMEOUT_MULTIPLIER=10 \
	make -s -C build-asan -j"$jobs" check ||
	failed_steps="$failed_steps asan-check"

echo "== format"
make -s -C build-ci check-format || failed_steps="$failed_steps format"

echo "== distcheck"
if [ -z "$failed_steps" ]; then
	make -s -C build-ci distcheck \
	    DISTCHECK_CONFIGURE_FLAGS=--enable-werror ||
		failed_steps="$failed_steps distcheck"
else
	echo "distcheck not run: earlier steps failed"
fi

# The summary, from automake's logs (tests/summary.sh); a failed step that
# is not a test (format, distcheck) counts as a failure too.
summary=$(sh "$top/tests/summary.sh" build-ci build-asan)
echo "$summary" | sed '$d'
for s in $failed_steps; do
	case $s in
	check) cat build-ci/test-suite.log ;;
	asan-check) cat build-asan/test-suite.log ;;
	esac
	echo "failed: step $s"
done
set -- $(echo "$summary" | tail -1)
pass=$1 fail=$3 skip=$5
for s in $failed_steps; do
	case $s in
	format | distcheck) fail=$((fail + 1)) ;;
	esac
done
echo "run-all: $pass passed, $fail failed, $skip skipped"
[ -z "$failed_steps" ]
