#!/usr/bin/env bash
# rootfs-fetch.sh - build the root filesystem the cntlab container runs in.
#
# Usage: ./rootfs-fetch.sh [--busybox] [--force] [DIR]      (DIR defaults to "rootfs")
#
# Online (default): downloads the Alpine minirootfs of this machine's architecture
# (uname -m), checks its SHA-256, unpacks it. Offline, --busybox, or an architecture
# with no pinned SHA-256: builds a tiny rootfs from the host's static busybox.
# Either way it adds the tools the tests need (copying host binaries plus their
# shared libraries when the rootfs lacks them) and records the kind in
# DIR/etc/cntlab-rootfs. Running it again is a no-op unless --force is given.
# Run as root, the files are shifted to uid 100000 (step 05's user namespace); run as
# an ordinary user, they are that user's own (09-rootless), with no sudo.
# Environment: ALPINE_VERSION ALPINE_BRANCH ALPINE_ARCH ALPINE_SHA256 ALPINE_MIRROR
#              ALPINE_URL (full URL, file:// works) CNTLAB_UID_SHIFT (0 = no shift)
set -euo pipefail

ALPINE_VERSION=${ALPINE_VERSION:-3.23.2}
ALPINE_BRANCH=${ALPINE_BRANCH:-${ALPINE_VERSION%.*}}
# Alpine's name for this machine's architecture (uname -m says aarch64 or arm64 for it).
case ${ALPINE_ARCH:=$(uname -m)} in
    amd64) ALPINE_ARCH=x86_64 ;;
    arm64) ALPINE_ARCH=aarch64 ;;
esac
# The published SHA-256 of each architecture's minirootfs of the pinned version. With
# another ALPINE_VERSION or architecture, give ALPINE_SHA256 or get the busybox rootfs.
PINNED_VERSION=3.23.2
declare -A PINNED_SHA256=(
    [x86_64]=b50bf42e519420ca2be48dd0efa22aa087c708d0602b67d413406533bef9dab5
    [aarch64]=0a6c278a906bb7dc1c14f3dae426b4494280cdc421697977459bd37f91287d09
)
if [ -z "${ALPINE_SHA256-}" ] && [ "$ALPINE_VERSION" = "$PINNED_VERSION" ]; then
    ALPINE_SHA256=${PINNED_SHA256[$ALPINE_ARCH]-}
fi
ALPINE_SHA256=${ALPINE_SHA256-}
ALPINE_URL=${ALPINE_URL:-${ALPINE_MIRROR:-https://dl-cdn.alpinelinux.org/alpine}/v${ALPINE_BRANCH}/releases/${ALPINE_ARCH}/alpine-minirootfs-${ALPINE_VERSION}-${ALPINE_ARCH}.tar.gz}
# Only root can give files away: an ordinary user's rootfs stays the user's.
if [ "$(id -u)" -eq 0 ]; then UID_SHIFT=${CNTLAB_UID_SHIFT:-100000}; else UID_SHIFT=${CNTLAB_UID_SHIFT:-0}; fi
HOST_BUSYBOX=/bin/busybox
# Everything the steps and tests run inside the container.
REQUIRED_TOOLS=(hostname ps mount ipcs ipcmk ipcrm id ip nc httpd unshare wget
                timeout seq tail chmod touch sha256sum sleep cat)

die() { echo "rootfs-fetch: $*" >&2; exit 1; }
say() { echo "rootfs-fetch: $*"; }

# True if DIR holds something, even a dangling symlink (Alpine's links are absolute).
present() { [ -e "$1" ] || [ -L "$1" ]; }

# The kernel resolves a path only inside the container's root, so must we.
inside_build() {
    case "$(realpath -m -- "$1")" in "$BUILD"/*) return 0 ;; *) return 1 ;; esac
}

# Refuse anything that rm -rf could turn into a disaster.
check_target() {
    [ "$TARGET" != / ] || die "refusing to use / as DIR"
    [ ! -L "$DIR" ] || die "$DIR is a symlink; give the real directory"
    if present "$DIR"; then
        [ -d "$DIR" ] || die "$DIR exists and is not a directory"
        # Only replace a directory we built (it has our marker) or an empty one.
        [ -f "$DIR/etc/cntlab-rootfs" ] || [ -z "$(ls -A -- "$DIR")" ] ||
            die "$DIR was not built by rootfs-fetch; remove it yourself"
    fi
}

# Host busybox must be static: a dynamic one would need the host's libc inside.
require_static_busybox() {
    [ -x "$HOST_BUSYBOX" ] || die "$HOST_BUSYBOX not found: install busybox-static"
    if ldd "$HOST_BUSYBOX" >/dev/null 2>&1; then
        die "$HOST_BUSYBOX is dynamically linked: install busybox-static"
    fi
}

build_busybox_rootfs() {
    local applet
    require_static_busybox
    mkdir -p "$BUILD"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,root,etc}
    chmod 1777 "$BUILD/tmp"
    chmod 0700 "$BUILD/root"
    cp "$HOST_BUSYBOX" "$BUILD/bin/busybox"
    # Relative links (usr/bin/tail -> ../../bin/busybox) stay valid after pivot_root;
    # that is why "busybox --install -s" (absolute host paths) is not used.
    while read -r applet; do
        present "$BUILD/$applet" || ln -sr "$BUILD/bin/busybox" "$BUILD/$applet"
    done < <("$HOST_BUSYBOX" --list-full)
    printf '%s\n' 'root:x:0:0:root:/root:/bin/sh' 'nobody:x:65534:65534:nobody:/:/bin/false' >"$BUILD/etc/passwd"
    printf '%s\n' 'root:x:0:' 'nogroup:x:65534:' >"$BUILD/etc/group"
    echo cntlab >"$BUILD/etc/hostname"
    echo busybox >"$BUILD/etc/cntlab-rootfs"
}

# Kept to the one curl call: its failure means "offline", which is not fatal.
download_alpine() {
    curl --fail --silent --show-error --location --connect-timeout 5 --max-time 120 \
        -o "$BUILD.tar.gz" "$ALPINE_URL"
}

build_alpine_rootfs() {
    local actual
    # Check before extracting: never unpack bytes we did not expect.
    actual=$(sha256sum "$BUILD.tar.gz" | cut -d' ' -f1)
    if [ "$actual" != "$ALPINE_SHA256" ]; then
        # A wrong hash is an attack signal, not a reason to fall back to busybox.
        die "SHA-256 mismatch for $ALPINE_URL
  expected: $ALPINE_SHA256
  actual:   $actual"
    fi
    mkdir -p "$BUILD"
    tar -xzf "$BUILD.tar.gz" -C "$BUILD" --numeric-owner
    rm -f -- "$BUILD.tar.gz"
    present "$BUILD/bin/sh" || die "the Alpine tarball has no /bin/sh"
    echo "alpine $ALPINE_VERSION" >"$BUILD/etc/cntlab-rootfs"
}

# Copy host file SRC to absolute path DEST inside the rootfs, never clobbering
# the rootfs's own files and never following its symlinks out to the host.
copy_into_build() {
    local src=$1 dest=$BUILD$2
    if present "$dest"; then return 0; fi
    inside_build "$dest" || die "refusing to write outside the rootfs: $2"
    mkdir -p "$(dirname -- "$dest")"
    cp -L -- "$src" "$dest"
}

# Give the rootfs the host's NAME: a standalone binary plus every library ldd
# lists (same absolute paths, loader included), else a host busybox applet.
add_host_tool() {
    local name=$1 bin lib
    bin=$(type -P "$name" || true)
    if [ -n "$bin" ] && [ "$(realpath "$bin")" != "$(realpath "$HOST_BUSYBOX")" ]; then
        copy_into_build "$bin" "/usr/bin/$name"
        while read -r lib; do
            copy_into_build "$lib" "$lib"
        done < <(ldd "$bin" 2>/dev/null | grep -o '/[^ ]*' || true)
    elif grep -qxF -- "$name" < <("$HOST_BUSYBOX" --list); then
        # Alpine's own busybox is a different build, so bring ours alongside it.
        present "$BUILD/bin/busybox.static" || cp "$HOST_BUSYBOX" "$BUILD/bin/busybox.static"
        mkdir -p "$BUILD/usr/bin"
        ln -sr "$BUILD/bin/busybox.static" "$BUILD/usr/bin/$name"
    fi
}

# True if NAME is an executable file in one of the PATH dirs, following links
# the way the kernel will after chroot/pivot_root (absolute = inside the rootfs).
tool_resolves() {
    local d p t _
    for d in bin sbin usr/bin usr/sbin; do
        p=$BUILD/$d/$1
        for _ in 1 2 3 4 5 6 7 8; do  # a few hops, no loops
            [ -L "$p" ] || break
            t=$(readlink -- "$p")
            case $t in /*) p=$BUILD$t ;; *) p=$(dirname -- "$p")/$t ;; esac
        done
        if [ -f "$p" ] && [ -x "$p" ] && inside_build "$p"; then return 0; fi
    done
    return 1
}

add_missing_tools() {
    local tool missing=()
    for tool in "${REQUIRED_TOOLS[@]}"; do tool_resolves "$tool" || add_host_tool "$tool"; done
    for tool in "${REQUIRED_TOOLS[@]}"; do tool_resolves "$tool" || missing+=("$tool"); done
    [ ${#missing[@]} -eq 0 ] || die "rootfs lacks required tools: ${missing[*]}"
}

# Step 05 runs the container in a user namespace mapping "0 100000 65536":
# container uid N is host uid 100000+N. Shifting every owner by 100000 makes the
# container's root own its rootfs. Steps 01-04 run as real root and do not care.
# uids >= 65536 are outside the map and stay as they are (they show as nobody).
shift_ownership() {
    local uid gid mode path setids=()
    [ "$UID_SHIFT" -ne 0 ] || return 0
    # chown clears setuid/setgid bits: remember them to restore afterwards.
    while IFS= read -r -d '' path; do setids+=("$path"); done \
        < <(find "$BUILD" -type f -perm /6000 -printf '%m %p\0')
    # The few files not owned by 0:0 one by one, then all root files in one go.
    while IFS=' ' read -r -d '' uid gid path; do
        if [ "$uid" -lt 65536 ]; then uid=$((uid + UID_SHIFT)); fi
        if [ "$gid" -lt 65536 ]; then gid=$((gid + UID_SHIFT)); fi
        chown -h "$uid:$gid" -- "$path"
    done < <(find "$BUILD" \( ! -uid 0 -o ! -gid 0 \) -printf '%U %G %p\0')
    find "$BUILD" -uid 0 -gid 0 -print0 | xargs -0r chown -h "$UID_SHIFT:$UID_SHIFT" --
    for path in "${setids[@]}"; do
        mode=${path%% *}
        chmod "$mode" -- "${path#* }"
    done
}

main() {
    local kind=alpine force=no
    DIR=rootfs
    while [ $# -gt 0 ]; do
        case $1 in
            --busybox) kind=busybox ;;
            --force) force=yes ;;
            -h | --help) sed -n '2,12s/^# \{0,1\}//p' "$0"; exit 0 ;;
            -*) die "unknown option $1 (see --help)" ;;
            *) DIR=$1 ;;
        esac
        shift
    done
    [ -n "$DIR" ] || die "empty DIR"
    if [ "$force" = no ] && present "$DIR/bin/sh"; then
        say "$DIR already holds a $(cat "$DIR/etc/cntlab-rootfs" 2>/dev/null || echo unknown) rootfs (use --force to rebuild)"
        exit 0
    fi
    TARGET=$(realpath -m -- "$DIR")
    check_target
    [[ $UID_SHIFT =~ ^[0-9]+$ ]] || die "CNTLAB_UID_SHIFT must be a number"
    [ "$(id -u)" -eq 0 ] || [ "$UID_SHIFT" -eq 0 ] ||
        die "CNTLAB_UID_SHIFT=$UID_SHIFT needs root (only root can give files to uid $UID_SHIFT)"

    # Build next to DIR, then mv: a half-built rootfs is never left as DIR.
    BUILD=$TARGET.tmp.$$
    trap 'rm -rf -- "$BUILD" "$BUILD.tar.gz"' EXIT
    if [ "$kind" = alpine ] && [ -z "$ALPINE_SHA256" ]; then
        # Never unpack bytes we cannot check.
        say "no pinned SHA-256 for Alpine $ALPINE_VERSION on $ALPINE_ARCH (pinned: ${!PINNED_SHA256[*]} for $PINNED_VERSION; set ALPINE_SHA256 to use it); building a busybox rootfs instead"
        kind=busybox
    fi
    if [ "$kind" = alpine ] && ! download_alpine; then
        say "could not download $ALPINE_URL (offline?); building a busybox rootfs instead"
        kind=busybox
    fi
    if [ "$kind" = alpine ]; then build_alpine_rootfs; else build_busybox_rootfs; fi
    add_missing_tools
    shift_ownership
    rm -rf -- "$TARGET"
    mv -- "$BUILD" "$TARGET"
    local owner="$UID_SHIFT:$UID_SHIFT"
    if [ "$UID_SHIFT" -eq 0 ]; then owner="$(id -un):$(id -gn), not shifted"; fi
    say "built a $(cat "$TARGET/etc/cntlab-rootfs") rootfs in $TARGET (owned by $owner)"
}

main "$@"
