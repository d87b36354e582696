#!/bin/sh
# The Debian package (issue 13): dpkg-buildpackage -us -uc -b builds it from
# a copy of the source (the tree stays clean), lintian reports no errors or
# warnings, dpkg -i installs it on this machine, the file list, the conffile,
# `anomd -t` on the installed configuration and the anomd user are right,
# and dpkg --purge removes the files and /var/lib/anomd.
#
# It is slow (a full package build) and installs a package, so it runs only
# with ANOMD_TEST_DEB=1, as root, from a git checkout: tests/run-all.sh sets
# it for the plain build's `make check` alone, so CI runs it once and a
# developer's `make check` skips it.  It also skips, rather than touch them,
# when anomd is already installed here (as a package or by make install).
set -u
top=${ANOMD_TOP_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
skip() {
	echo "skip: $*"
	exit 77
}
[ "${ANOMD_TEST_DEB:-}" = 1 ] ||
	skip "slow and installs a package: set ANOMD_TEST_DEB=1 (as root) to build, install and purge the .deb"
[ "$(id -u)" -eq 0 ] || skip "dpkg -i needs root"
[ -f "$top/debian/control" ] || skip "no debian/ in $top (a dist tarball)"
git -C "$top" rev-parse --is-inside-work-tree >/dev/null 2>&1 ||
	skip "$top is not a git checkout (the copy is made from git ls-files)"
# Rules-Requires-Root: no, so no fakeroot.
for c in dpkg-buildpackage dh lintian; do
	command -v "$c" >/dev/null 2>&1 ||
		skip "$c not installed (tests/setup.sh installs it)"
done
st=$(dpkg-query -W -f='${db:Status-Status}' anomd 2>/dev/null)
case $st in
"" | not-installed) ;;
*) skip "the anomd package is on this machine ($st); not replacing it" ;;
esac
for p in /usr/sbin/anomd /usr/bin/anomctl /etc/anomd /var/lib/anomd; do
	[ -e "$p" ] && skip "$p exists (make install?); not overwriting it"
done

fails=0
passes=0
ok() {
	passes=$((passes + 1))
	echo "ok: $*"
}
fail() {
	fails=$((fails + 1))
	echo "FAIL: $*"
}

tmp=$(mktemp -d)
had_user=no
getent passwd anomd >/dev/null && had_user=yes
installed=no
cleanup() {
	[ $installed = yes ] && dpkg --purge anomd >/dev/null 2>&1
	if [ $had_user = no ] && getent passwd anomd >/dev/null; then
		userdel anomd 2>/dev/null
		getent group anomd >/dev/null && groupdel anomd 2>/dev/null
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# The copy: tracked files as they are in the work tree, plus untracked ones
# that are not ignored, so uncommitted packaging changes are tested too.
before=$(git -C "$top" status --porcelain --ignored)
ver=$(dpkg-parsechangelog -l "$top/debian/changelog" -S Version)
src=$tmp/anomd-${ver%-*}
mkdir -p "$src"
(cd "$top" && git ls-files -co --exclude-standard |
	while IFS= read -r f; do [ -e "$f" ] && printf '%s\n' "$f"; done |
	tar -cf - -T -) | tar -C "$src" -xf - ||
	{ echo "FAIL: cannot copy the source to $src"; exit 1; }

# The tests around this one already ran: the package build skips its own
# `make check` (nocheck).  The outer make's variables stay out of it.
echo "building the package in $tmp (about a minute)"
if (cd "$src" && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u ANOMD_TEST_DEB \
    DEB_BUILD_OPTIONS="nocheck parallel=$(nproc)" \
    dpkg-buildpackage -us -uc -b) >"$tmp/build.log" 2>&1; then
	ok "dpkg-buildpackage -us -uc -b"
else
	tail -40 "$tmp/build.log"
	echo "FAIL: dpkg-buildpackage -us -uc -b (log above)"
	exit 1
fi
deb=$(ls "$tmp"/anomd_"$ver"_*.deb 2>/dev/null | head -1)
changes=$(ls "$tmp"/anomd_"$ver"_*.changes 2>/dev/null | head -1)
[ -n "$deb" ] && [ -n "$changes" ] ||
	{ echo "FAIL: no .deb or .changes in $tmp"; exit 1; }

if out=$(lintian --fail-on error,warning "$changes" 2>&1) &&
    ! echo "$out" | grep -q '^[EW]:'; then
	ok "lintian: no errors or warnings"
else
	fail "lintian:"
	echo "$out"
fi

# The source tree is as it was.
if [ "$(git -C "$top" status --porcelain --ignored)" = "$before" ]; then
	ok "the source tree is untouched"
else
	fail "the build changed $top: $(git -C "$top" status --porcelain --ignored)"
fi

if dpkg -i "$deb" >"$tmp/install.log" 2>&1; then
	installed=yes
	ok "dpkg -i $(basename "$deb")"
else
	cat "$tmp/install.log"
	echo "FAIL: dpkg -i"
	exit 1
fi

dpkg -L anomd >"$tmp/files"
for f in /usr/sbin/anomd /usr/bin/anomctl /usr/lib/sysusers.d/anomd.conf \
    /etc/anomd/anomd.conf /usr/share/man/man8/anomd.8.gz \
    /usr/share/man/man8/anomctl.8.gz /usr/share/man/man5/anomd.conf.5.gz \
    /usr/share/doc/anomd/copyright; do
	if grep -qx "$f" "$tmp/files" && [ -f "$f" ]; then
		ok "installed $f"
	else
		fail "dpkg -L anomd lacks $f (or it is missing on disk)"
	fi
done
unit=$(grep -E '/lib/systemd/system/anomd\.service$' "$tmp/files" | head -1)
if [ -n "$unit" ] && [ -f "$unit" ] &&
    grep -qx 'ExecStart=/usr/sbin/anomd' "$unit"; then
	ok "installed $unit, starting /usr/sbin/anomd"
else
	fail "no anomd.service under a lib/systemd/system, or a wrong ExecStart"
fi
if dpkg-query -W -f='${Conffiles}\n' anomd | grep -q '^ /etc/anomd/anomd.conf '; then
	ok "/etc/anomd/anomd.conf is a conffile"
else
	fail "/etc/anomd/anomd.conf is not a conffile"
fi
if out=$(/usr/sbin/anomd -c /etc/anomd/anomd.conf -t 2>&1); then
	ok "anomd -t accepts the installed configuration"
else
	fail "anomd -t on /etc/anomd/anomd.conf: $out"
fi
if /usr/bin/anomctl -h 2>&1 | grep -q '^usage: anomctl'; then
	ok "anomctl -h runs"
else
	fail "anomctl -h does not print its usage"
fi
pw=$(getent passwd anomd)
case $pw in
anomd:*:/var/lib/anomd:*nologin) ok "user anomd: $pw" ;;
*) fail "user anomd missing or wrong: '$pw'" ;;
esac
getent group anomd >/dev/null && ok "group anomd" || fail "no group anomd"

# dh_installsystemd enabled the unit (deb-systemd-helper works without a
# running systemd).
wants=/etc/systemd/system/multi-user.target.wants/anomd.service
[ -L "$wants" ] && ok "anomd.service enabled" || fail "no $wants"

# Installed again (as an upgrade would), an edited conffile stays edited.
echo "# local edit by deb.sh" >>/etc/anomd/anomd.conf
if dpkg -i "$deb" >"$tmp/reinstall.log" 2>&1 &&
    grep -qx '# local edit by deb.sh' /etc/anomd/anomd.conf; then
	ok "reinstalled over itself, the edited conffile kept"
else
	cat "$tmp/reinstall.log"
	fail "reinstall failed or lost the edit in /etc/anomd/anomd.conf"
fi

# What the daemon leaves behind, for purge to remove.
mkdir -p /var/lib/anomd
: >/var/lib/anomd/anomd.db
if dpkg --purge anomd >"$tmp/purge.log" 2>&1; then
	installed=no
	ok "dpkg --purge anomd"
else
	cat "$tmp/purge.log"
	fail "dpkg --purge anomd"
fi
left=""
while IFS= read -r f; do
	[ -f "$f" ] && left="$left $f"
done <"$tmp/files"
for d in /etc/anomd /var/lib/anomd "$wants"; do
	{ [ -e "$d" ] || [ -L "$d" ]; } && left="$left $d"
done
[ -z "$left" ] && ok "purge removed every file, /etc/anomd, /var/lib/anomd and the enablement link" ||
	fail "left after purge:$left"
st=$(dpkg-query -W -f='${db:Status-Status}' anomd 2>/dev/null)
[ -z "$st" ] || [ "$st" = not-installed ] && ok "dpkg forgot anomd" ||
	fail "anomd is still known to dpkg: $st"
# By choice (debian/anomd.postrm), the user stays after purge.
getent passwd anomd >/dev/null && ok "user anomd kept after purge (policy)" ||
	fail "user anomd was removed by purge"

echo "deb: $passes passed, $fails failed"
[ "$fails" -eq 0 ]
