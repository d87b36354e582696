#!/bin/sh
# Install the Debian packages anomd needs to build and test, when missing.
# Run as root (or with sudo) on Debian 12 or later.  prometheus brings
# promtool, which tests/live.sh uses to lint /metrics.
set -eu

PKGS="build-essential autoconf automake pkg-config libpcap-dev libevent-dev
libsqlite3-dev libcjson-dev check libsystemd-dev libcap-ng-dev libhiredis-dev
clang-format sqlite3 mandoc tcpreplay iproute2 python3 python3-jsonschema procps
redis-server redis-tools"
# What the tests that would otherwise skip need: systemd-analyze (systemd.sh),
# man (man-db), promtool (prometheus), lintian (the package test).
PKGS="$PKGS systemd"
PKGS="$PKGS man-db"
PKGS="$PKGS prometheus"
PKGS="$PKGS lintian"
PKGS="$PKGS dpkg-dev debhelper"
PKGS="$PKGS chromium python3-html5lib"

missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
	echo "setup: missing packages:$missing; run as root or: sudo apt-get install$missing" >&2
	exit 1
fi
echo "setup: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
