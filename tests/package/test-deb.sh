#!/bin/bash
# SPDX-License-Identifier: MIT
# test-deb.sh SRCDIR: builds the Debian packages from a copy of the tree
# (dpkg-buildpackage -us -uc -b, tests skipped: CI runs them itself), then
# checks what a system administrator gets: each package's file list, the
# conffile, the maintainer scripts that enable and start the service and
# purge its state, lintian with no error and no warning, and
# systemd-analyze verify on the unit as the package ships it.
set -u
src=$(cd "$1" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
fail() {
    echo "FAIL: $*"
    fails=$((fails + 1))
}

# The tracked files only: a developer's build directories and leftovers
# stay out of the package.
mkdir "$tmp/otad"
if git -C "$src" rev-parse --git-dir >/dev/null 2>&1; then
    (cd "$src" && git ls-files -z --cached --others --exclude-standard |
        tar --null -T - -cf -) | tar -C "$tmp/otad" -xf - || exit 1
else
    tar -C "$src" --exclude='./build*' --exclude=./.git -cf - . | tar -C "$tmp/otad" -xf - || exit 1
fi

echo "building the packages in $tmp"
start=$(date +%s)
if ! (cd "$tmp/otad" && DEB_BUILD_OPTIONS="nocheck parallel=2" \
    timeout 1200 dpkg-buildpackage -us -uc -b) >"$tmp/build.log" 2>&1; then
    tail -n 40 "$tmp/build.log"
    echo "FAIL: dpkg-buildpackage"
    exit 1
fi
echo "built in $(($(date +%s) - start)) s"

version=$(dpkg-parsechangelog -l "$src/debian/changelog" -S Version)
arch=$(dpkg --print-architecture)
deb_otad="$tmp/otad_${version}_${arch}.deb"
deb_tools="$tmp/otad-tools_${version}_${arch}.deb"
for d in "$deb_otad" "$deb_tools"; do
    [ -f "$d" ] || { fail "no $(basename "$d")"; ls "$tmp"; exit 1; }
done

# has DEB PATH...: each PATH is a regular file in DEB, or a directory if it
# ends in /.
has() {
    local deb=$1 path
    shift
    dpkg-deb -c "$deb" | awk '{print substr($1, 1, 1) " " $6}' >"$tmp/list"
    for path in "$@"; do
        case $path in
            */) grep -qxF "d .$path" "$tmp/list" || fail "$(basename "$deb") lacks directory $path" ;;
            *) grep -qxF -- "- .$path" "$tmp/list" || fail "$(basename "$deb") lacks $path" ;;
        esac
    done
}
# lacks DEB PATH...: no such entry in DEB.
lacks() {
    local deb=$1 path
    shift
    for path in "$@"; do
        dpkg-deb -c "$deb" | awk '{print $6}' | grep -qxF ".$path" &&
            fail "$(basename "$deb") has $path"
    done
}

has "$deb_otad" /usr/sbin/otad /lib/systemd/system/otad.service /etc/otad/otad.yaml \
    /usr/share/man/man8/otad.8.gz /usr/share/man/man5/otad.yaml.5.gz \
    /usr/lib/tmpfiles.d/otad.conf /usr/share/bash-completion/completions/otad \
    /usr/share/doc/otad/copyright /usr/share/doc/otad/NEWS.gz \
    /usr/share/doc/otad/examples/nginx-otad.conf
lacks "$deb_otad" /usr/bin/otad /usr/bin/otaget /usr/bin/otasign /usr/lib/systemd/system/otad.service
has "$deb_tools" /usr/bin/otaget /usr/bin/otasign \
    /usr/share/man/man1/otaget.1.gz /usr/share/man/man1/otasign.1.gz \
    /usr/share/bash-completion/completions/otaget /usr/share/bash-completion/completions/otasign \
    /usr/share/doc/otad-tools/copyright
lacks "$deb_tools" /usr/sbin/otad /lib/systemd/system/otad.service

dpkg-deb -x "$deb_otad" "$tmp/root"
dpkg-deb -e "$deb_otad" "$tmp/control"
grep -qxF /etc/otad/otad.yaml "$tmp/control/conffiles" || fail "/etc/otad/otad.yaml is no conffile"
[ -x "$tmp/root/usr/sbin/otad" ] || fail "/usr/sbin/otad is not executable"
grep -q '^ExecStart=/usr/sbin/otad ' "$tmp/root/lib/systemd/system/otad.service" ||
    fail "ExecStart is not /usr/sbin/otad"
grep -qx 'd /var/lib/otad/firmware 0755 root root -' "$tmp/root/usr/lib/tmpfiles.d/otad.conf" ||
    fail "tmpfiles.d does not make /var/lib/otad/firmware"
# Installation makes the firmware directory, then enables and starts otad.
grep -q 'systemd-tmpfiles.*--create.*otad.conf' "$tmp/control/postinst" ||
    fail "postinst does not create the firmware directory"
grep -q 'deb-systemd-helper .*enable .*otad.service' "$tmp/control/postinst" ||
    fail "postinst does not enable otad.service"
grep -q '_dh_action=start' "$tmp/control/postinst" &&
    grep -q "deb-systemd-invoke \$_dh_action 'otad.service'" "$tmp/control/postinst" ||
    fail "postinst does not start otad.service"
# A purge removes the state.
# shellcheck disable=SC2016 # the script's text, unexpanded
grep -q 'rm -rf "$DPKG_ROOT/var/lib/otad" "$DPKG_ROOT/var/lib/private/otad"' "$tmp/control/postrm" ||
    fail "postrm does not remove /var/lib/otad on purge"

# The daemon as packaged runs: its version is the package's.
out=$("$tmp/root/usr/sbin/otad" --version 2>&1)
case $out in
    *"$version"*) ;;
    *) fail "otad --version says '$out', the package is $version" ;;
esac

# Lintian on both packages: no error, no warning (each override is
# commented in debian/). A lintian that fails to run fails here too.
lintian --fail-on error,warning --tag-display-limit 0 "$tmp"/otad_*.changes \
    >"$tmp/lintian.log" 2>&1 || fail "lintian exited $?"
cat "$tmp/lintian.log"
n=$(grep -cE '^[EW]: ' "$tmp/lintian.log")
[ "$n" = 0 ] || fail "lintian: $n errors and warnings"

# The unit as installed, in the unpacked package: --root resolves ExecStart
# there, MANPATH its Documentation= pages. The units it is ordered after
# and /bin/kill (ExecReload=) come from systemd and procps on the target
# system, so from this machine's.
mkdir -p "$tmp/root/bin"
cp -n /bin/kill "$tmp/root/bin/"
cp -rn /lib/systemd/system/. "$tmp/root/lib/systemd/system/"
if ! MANPATH="$tmp/root/usr/share/man" systemd-analyze verify --root="$tmp/root" \
    /lib/systemd/system/otad.service >"$tmp/verify.log" 2>&1; then
    fail "systemd-analyze verify"
fi
if [ -s "$tmp/verify.log" ]; then
    cat "$tmp/verify.log"
    fail "systemd-analyze verify printed warnings"
fi

# Installed and purged for real, into a scratch root: dpkg --root runs the
# maintainer scripts with DPKG_ROOT set, which systemd-tmpfiles and
# deb-systemd-helper honour. Their start of the service depends on the
# machine's systemd, not on the root: skipped where this machine itself
# has an otad.service that it would restart.
inst="$tmp/inst"
if [ -d /run/systemd/system ] && systemctl cat otad.service >/dev/null 2>&1; then
    echo "skipped the install into a scratch root: this machine runs otad.service"
else
    mkdir -p "$inst/var/lib/dpkg/info" "$inst/var/lib/dpkg/updates"
    : >"$inst/var/lib/dpkg/status"
    dpkg_root() {
        dpkg --root="$inst" --force-script-chrootless --force-not-root \
            --log=/dev/null "$@" >>"$tmp/dpkg.log" 2>&1
    }
    dpkg_root --force-depends -i "$deb_otad" || { cat "$tmp/dpkg.log"; fail "dpkg -i otad"; }
    [ -x "$inst/usr/sbin/otad" ] || fail "installed: no /usr/sbin/otad"
    [ -d "$inst/var/lib/otad/firmware" ] || fail "installed: no /var/lib/otad/firmware"
    [ "$(stat -c %a "$inst/var/lib/otad/firmware" 2>/dev/null)" = 755 ] ||
        fail "installed: /var/lib/otad/firmware is not mode 755"
    [ -L "$inst/etc/systemd/system/multi-user.target.wants/otad.service" ] ||
        fail "installed: otad.service is not enabled"
    dpkg-query --admindir="$inst/var/lib/dpkg" -W -f='${Conffiles}\n' otad |
        grep -q '^ /etc/otad/otad.yaml [0-9a-f]\{32\}$' || fail "installed: otad.yaml is no conffile"
    # What a running service and its administrator leave behind.
    mkdir -p "$inst/var/lib/private/otad"
    : >"$inst/var/lib/private/otad/devices.db"
    : >"$inst/var/lib/otad/firmware/app.bin"
    dpkg_root --remove otad || { cat "$tmp/dpkg.log"; fail "dpkg --remove otad"; }
    [ -e "$inst/var/lib/otad/firmware/app.bin" ] || fail "removed: the firmware is gone already"
    [ -e "$inst/etc/otad/otad.yaml" ] || fail "removed: the conffile is gone already"
    dpkg_root --purge otad || { cat "$tmp/dpkg.log"; fail "dpkg --purge otad"; }
    for p in /var/lib/otad /var/lib/private/otad /etc/otad/otad.yaml \
        /etc/systemd/system/multi-user.target.wants/otad.service; do
        [ ! -e "$inst$p" ] && [ ! -L "$inst$p" ] || fail "purged: $p is still there"
    done
fi

if [ "$fails" = 0 ]; then
    echo "package checks passed"
fi
[ "$fails" = 0 ]
