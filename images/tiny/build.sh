#!/bin/bash
# Build the CloonixActors tiny test guest: a Debian cloud kernel plus a busybox initramfs
# with the virtio modules, iperf3 and the guest agent (see README.md).
#
#   images/tiny/build.sh [--force] OUTDIR
#
# Writes OUTDIR/vmlinuz, OUTDIR/initrd.img and OUTDIR/image.json. Runs as root (it installs its own
# Debian build dependencies with apt-get when they are missing, and creates /dev/console in the
# initramfs with mknod). Skips all work when the outputs exist and are newer than the inputs
# (this script, init, agent.sh, busybox, iperf3) unless --force is given.
# Environment: KERNEL_PACKAGE=linux-image-<ver>-cloud-amd64 pins the kernel package.
set -euo pipefail
export LC_ALL=C

usage() { echo "usage: $0 [--force] OUTDIR" >&2; exit 2; }
log() { echo "build.sh: $*" >&2; }
die() { echo "build.sh: error: $*" >&2; exit 1; }

force=0
outdir=
for a in "$@"; do
    case $a in
        --force|-f) force=1 ;;
        -h|--help) usage ;;
        -*) usage ;;
        *) [ -z "$outdir" ] || usage; outdir=$a ;;
    esac
done
[ -n "$outdir" ] || usage
[ "$(id -u)" = 0 ] || die "must run as root (apt-get, mknod)"

here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$outdir"
outdir=$(cd "$outdir" && pwd)

# Modules to load in the guest, in this order (dependencies are added and ordered automatically).
MODULES="virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci failover net_failover virtio_net virtio-rng virtio_console"
AGENT_PORT=org.cloonix.agent

inputs=("$here/build.sh" "$here/init" "$here/agent.sh")
for f in /bin/busybox /usr/bin/iperf3; do [ -e "$f" ] && inputs+=("$f"); done
for f in "$here/init" "$here/agent.sh"; do [ -r "$f" ] || die "missing $f"; done

print_sizes() {
    local f
    for f in vmlinuz initrd.img; do
        printf '  %-11s %9d bytes (%s)\n' "$f" "$(stat -c %s "$outdir/$f")" "$(du -h "$outdir/$f" | cut -f1)"
    done
    printf '  %-11s %s\n' image.json "$(cat "$outdir/image.json")"
}

up_to_date() {
    local o i
    for o in vmlinuz initrd.img image.json; do
        [ -s "$outdir/$o" ] || return 1
        for i in "${inputs[@]}"; do
            [ "$outdir/$o" -nt "$i" ] || return 1
        done
    done
    return 0
}

if [ "$force" = 0 ] && up_to_date; then
    log "up to date in $outdir (use --force to rebuild)"
    print_sizes
    exit 0
fi

# ---------------------------------------------------------------- build dependencies
apt_updated=0
apt_update_once() {
    if [ "$apt_updated" = 0 ]; then
        log "apt-get update"
        apt-get update -qq >&2
        apt_updated=1
    fi
}
pkg_installed() {
    [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true)" = installed ]
}
need_pkgs() {
    local missing=() p
    for p in "$@"; do pkg_installed "$p" || missing+=("$p"); done
    [ ${#missing[@]} -gt 0 ] || return 0
    log "installing ${missing[*]}"
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2; then
        apt_update_once
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
    fi
}
# busybox-static (not busybox: the guest has no libc for it), iperf3, cpio, kmod (modinfo, depmod),
# gzip, xz-utils/zstd (compressed modules), libc-bin (ldd, ldconfig).
need_pkgs busybox-static iperf3 cpio kmod gzip xz-utils zstd libc-bin
if ldd /bin/busybox >/dev/null 2>&1; then die "/bin/busybox is dynamically linked (install busybox-static)"; fi

# ---------------------------------------------------------------- kernel package
valid_kpkg() { [[ $1 =~ ^linux-image-[0-9][0-9a-z.+~-]*-cloud-amd64$ ]]; }

find_kernel_package() {
    local p
    # The metapackage depends on the newest ABI's package.
    p=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null \
        | sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*-cloud-amd64\)$/\1/p' | head -n1 || true)
    if [ -z "$p" ]; then
        # No metapackage: pick the highest versioned package name.
        p=$(apt-cache pkgnames linux-image- 2>/dev/null \
            | grep -E '^linux-image-[0-9][0-9a-z.+~-]*-cloud-amd64$' | sort -V | tail -n1 || true)
    fi
    printf '%s' "$p"
}

kpkg=${KERNEL_PACKAGE:-}
if [ -z "$kpkg" ]; then
    kpkg=$(find_kernel_package)
    if [ -z "$kpkg" ]; then apt_update_once; kpkg=$(find_kernel_package); fi
fi
[ -n "$kpkg" ] || die "no linux-image-*-cloud-amd64 package known to apt-cache"
valid_kpkg "$kpkg" || die "unexpected kernel package name '$kpkg'"
log "kernel package: $kpkg ($(apt-cache policy "$kpkg" | sed -n 's/^ *Candidate: //p'))"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tiny-build.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/deb" "$tmp/kroot" "$tmp/root"
# apt-get download drops privileges to _apt: let it write there (avoids the "unsandboxed" warning).
chmod 755 "$tmp"
if id _apt >/dev/null 2>&1; then chown _apt "$tmp/deb"; fi
(cd "$tmp/deb" && apt-get download -q "$kpkg" >&2)
deb=$(find "$tmp/deb" -maxdepth 1 -name '*.deb' -print -quit)
[ -n "$deb" ] || die "apt-get download produced no .deb"
dpkg -x "$deb" "$tmp/kroot"

kver=$(find "$tmp/kroot/lib/modules" -mindepth 1 -maxdepth 1 -type d -printf '%f\n' | sort -V | tail -n1)
{ [ -n "$kver" ] && [ -f "$tmp/kroot/boot/vmlinuz-$kver" ]; } || die "no kernel in $deb"
kmods=$tmp/kroot/lib/modules/$kver
log "kernel version: $kver"

# ---------------------------------------------------------------- initramfs tree
root=$tmp/root
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,lib,lib64,etc,proc,sys,dev,tmp,run,root,var/run}
chmod 1777 "$root/tmp"

# busybox with a symlink per applet (at the path busybox itself names)
install -m 0755 /bin/busybox "$root/bin/busybox"
nlinks=0
while read -r applet; do
    case $applet in ''|linuxrc|init|*/init|bin/busybox) continue ;; esac
    [ -e "$root/$applet" ] || [ -L "$root/$applet" ] && continue
    mkdir -p "$root/$(dirname "$applet")"
    ln -s /bin/busybox "$root/$applet"
    nlinks=$((nlinks + 1))
done < <(/bin/busybox --list-full)
log "busybox: $nlinks applet links"

# kernel modules, decompressed, with their dependencies, in load order
mdst=$root/lib/modules/$kver
mkdir -p "$mdst"
declare -A mod_file=() mod_state=()
order=()

find_module() { # name -> path of its .ko / .ko.xz / .ko.zst / .ko.gz in the extracted kernel
    local n=$1 alt f hit
    alt=${n//_/-}; [ "$alt" = "$n" ] && alt=${n//-/_}
    for f in "$n" "$alt"; do
        hit=$(find "$kmods/kernel" \( -name "$f.ko" -o -name "$f.ko.xz" -o -name "$f.ko.zst" \
            -o -name "$f.ko.gz" \) -print -quit)
        if [ -n "$hit" ]; then printf '%s' "$hit"; return 0; fi
    done
}
is_builtin() { # modules.builtin lists paths such as kernel/drivers/char/hw_random/rng-core.ko
    local n=${1//[-_]/[-_]}
    [ -f "$kmods/modules.builtin" ] && grep -qE "/$n\.ko\$" "$kmods/modules.builtin"
}
stage_module() { # name -> copies the uncompressed .ko into $mdst, sets mod_file[name]
    local n=$1 src base
    src=$(find_module "$n")
    if [ -z "$src" ]; then
        if is_builtin "$n"; then return 1; fi
        die "module $n not found in $kpkg"
    fi
    base=$(basename "$src"); base=${base%.ko*}
    case $src in
        *.ko.xz)  xz -dc "$src" >"$mdst/$base.ko" ;;
        *.ko.zst) zstd -qdc "$src" >"$mdst/$base.ko" ;;
        *.ko.gz)  gzip -dc "$src" >"$mdst/$base.ko" ;;
        *)        cp "$src" "$mdst/$base.ko" ;;
    esac
    mod_file[$n]=$base.ko
}
visit() { # depth-first: dependencies before the module
    local n=$1 d deps
    case ${mod_state[$n]:-} in ok|builtin) return 0 ;; active) die "module dependency cycle at $n" ;; esac
    mod_state[$n]=active
    if ! stage_module "$n"; then mod_state[$n]=builtin; log "module $n is built in"; return 0; fi
    deps=$(modinfo -F depends "$mdst/${mod_file[$n]}")
    for d in ${deps//,/ }; do visit "$d"; done
    mod_state[$n]=ok
    order+=("${mod_file[$n]}")
}
for m in $MODULES; do visit "$m"; done
printf '%s\n' "${order[@]}" >"$mdst/load-order"
for f in modules.order modules.builtin modules.builtin.modinfo; do
    [ -f "$kmods/$f" ] && cp "$kmods/$f" "$mdst/"
done
depmod -b "$root" "$kver" 2>/dev/null || log "depmod failed (busybox modprobe will not work; insmod does)"
log "modules (load order): ${order[*]}"

# iperf3 and every library ldd names, plus the dynamic loader
copy_with_libs() {
    local bin=$1 line lib
    install -D -m 0755 "$bin" "$root$bin"
    while read -r line; do
        case $line in
            *"=> not found"*) die "ldd: $bin: $line" ;;
            *"=> /"*) lib=${line#*=> }; lib=${lib%% (*} ;;
            /*) lib=${line%% (*} ;;
            *) continue ;;
        esac
        [ -e "$root$lib" ] || install -D -m 0755 "$(readlink -f "$lib")" "$root$lib"
    done < <(ldd "$bin")
}
copy_with_libs /usr/bin/iperf3
# a loader cache, so that libraries are found whatever the loader's built-in search path
printf '%s\n' /lib/x86_64-linux-gnu /usr/lib/x86_64-linux-gnu /lib /usr/lib >"$root/etc/ld.so.conf"
ldconfig -r "$root" 2>/dev/null || log "ldconfig -r failed (not fatal)"

# /init, the agent, a minimal /etc, and /dev/console for the kernel's initial stdio
install -m 0755 "$here/init" "$root/init"
install -m 0755 "$here/agent.sh" "$root/agent.sh"
echo "$AGENT_PORT" >"$root/etc/cloonix-agent-port"
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$root/etc/passwd"
printf 'root:x:0:\n' >"$root/etc/group"
printf '127.0.0.1 localhost\n::1 localhost\n' >"$root/etc/hosts"
printf 'hosts: files\n' >"$root/etc/nsswitch.conf"
echo tiny >"$root/etc/hostname"
mknod -m 0600 "$root/dev/console" c 5 1
mknod -m 0666 "$root/dev/null" c 1 3

# ---------------------------------------------------------------- pack and publish
(cd "$root" && find . -mindepth 1 | sort | cpio -o -H newc -R 0:0 --reproducible --quiet) \
    | gzip -9 -n >"$tmp/initrd.img"
install -m 0644 "$tmp/kroot/boot/vmlinuz-$kver" "$outdir/vmlinuz.new"
install -m 0644 "$tmp/initrd.img" "$outdir/initrd.img.new"
printf '{"kernel":"vmlinuz","initrd":"initrd.img","kernelVersion":"%s","agent":"%s"}\n' \
    "$kver" "$AGENT_PORT" >"$outdir/image.json.new"
mv -f "$outdir/vmlinuz.new" "$outdir/vmlinuz"
mv -f "$outdir/initrd.img.new" "$outdir/initrd.img"
mv -f "$outdir/image.json.new" "$outdir/image.json"
log "built in $outdir:"
print_sizes
