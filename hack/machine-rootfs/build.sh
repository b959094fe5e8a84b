#!/usr/bin/env bash
# build.sh: build, once per machine, the Debian root file system that
# internal/testing/machine boots as an EC2 instance ("machine"), and install
# the host tools those machines need.
#
#   hack/machine-rootfs/build.sh
#
# Environment:
#   MACHINE_ROOTFS_DIR  output dir, default
#                       $HOME/.cache/kapstan/machine-rootfs/$ROOTFS_VERSION
#   DEBIAN_MIRROR       default: the Debian URI in /etc/apt/sources.list.d,
#                       else http://deb.debian.org/debian
#   CI                  under CI=true nothing is ever skipped: a host tool
#                       that cannot be installed fails the build
#
# The last line of stdout is the rootfs dir; progress goes to stderr.
#
# The rootfs is a stock machine image: debootstrap's bookworm minbase plus
# systemd, dbus, containerd, runc, the CNI plugins, iptables, iproute2,
# ca-certificates, curl, kmod and procps (see notes/machines.md). It carries
# no containerd or kubelet configuration: nodeup installs and configures
# those from the asset mirror. Debian's containerd and runc stay in the image
# for now (containerd.service is enabled by the package and starts with its
# default configuration). Fixes baked in: systemd's DefaultTimeoutStopSec=10s
# (a clean stop takes about 13 s instead of 92 s), an empty /etc/machine-id
# (systemd makes one per machine at boot), no hostname and no resolv.conf
# (the machine package writes both per machine), and no cached .debs.
#
# The build runs in a temp dir next to the output and is renamed into place
# at the end, so an interrupted build never leaves a half rootfs. It takes
# 4 to 8 minutes (mostly download and unpack; 7.6 min measured on a busy
# 2-core VM) and 373 MB of disk; a cached rootfs returns in milliseconds.
set -euo pipefail

# ROOTFS_VERSION names the recipe; bump it whenever the packages or the
# fixes below change. internal/testing/machine.RootFSVersion must match
# (its tests check that).
ROOTFS_VERSION=bookworm-r1
SUITE=bookworm
PACKAGES=systemd,systemd-sysv,dbus,containerd,runc,containernetworking-plugins,iptables,iproute2,ca-certificates,curl,kmod,procps

OUT=${MACHINE_ROOTFS_DIR:-$HOME/.cache/kapstan/machine-rootfs/$ROOTFS_VERSION}

if [[ $# -gt 0 ]]; then
  echo "usage: $0" >&2
  exit 2
fi

log() { echo "machine-rootfs: $(date +%H:%M:%S) $*" >&2; }
die() { echo "machine-rootfs: $*" >&2; exit 1; }

# Host tools: debootstrap builds the rootfs; runc, ip and mount run the
# machines (internal/testing/machine). command -> Debian package.
declare -A TOOLS=([debootstrap]=debootstrap [runc]=runc [ip]=iproute2 [mount]=mount)

missing_tools() {
  local c
  for c in "${!TOOLS[@]}"; do
    command -v "$c" >/dev/null 2>&1 || echo "$c"
  done
}

ensure_tools() {
  local missing pkgs=() c
  missing=$(missing_tools)
  [[ -z $missing ]] && return 0
  for c in $missing; do pkgs+=("${TOOLS[$c]}"); done
  if [[ $(id -u) -ne 0 ]]; then
    die "missing ${missing//$'\n'/ }; as root run: apt-get install -y ${pkgs[*]}"
  fi
  log "installing ${pkgs[*]}"
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y "${pkgs[@]}" >&2; then
    log "apt-get install failed; updating the package lists and retrying"
    apt-get update >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y "${pkgs[@]}" >&2 ||
      die "could not install ${pkgs[*]}${CI:+ (CI=$CI: nothing is skipped)}"
  fi
  missing=$(missing_tools)
  [[ -z $missing ]] || die "still missing after apt-get install: ${missing//$'\n'/ }"
}

done_already() {
  [[ -x $OUT/sbin/init && -f $OUT/etc/kapstan-machine-image ]] &&
    grep -qx "version=$ROOTFS_VERSION" "$OUT/etc/kapstan-machine-image"
}

ensure_tools

if done_already; then
  echo "$OUT"
  exit 0
fi

[[ $(id -u) -eq 0 ]] || die "debootstrap needs root; run: sudo $0"

PARENT=$(dirname "$OUT")
mkdir -p "$PARENT"
# One build per output dir at a time; a second run waits, then finds it done.
exec 9>"$OUT.lock"
flock 9
if done_already; then
  echo "$OUT"
  exit 0
fi

mirror() {
  if [[ -n ${DEBIAN_MIRROR:-} ]]; then
    echo "$DEBIAN_MIRROR"
    return
  fi
  # The deb822 stanza whose Suites name $SUITE (not the security one).
  local uri
  uri=$(awk -v s="$SUITE" '
    /^URIs:/ { u = $2 }
    /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == s) { print u; exit } }
    /^$/ { u = "" }' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
  echo "${uri:-http://deb.debian.org/debian}"
}

STAGE=$(mktemp -d "$PARENT/.build.$ROOTFS_VERSION.XXXXXX") # same filesystem as $OUT, for mv
DEBOOTSTRAP_PID=
cleanup() {
  # Stop an unfinished debootstrap and everything it started (its own
  # process group), and let it unmount what it mounted.
  if [[ -n $DEBOOTSTRAP_PID ]] && kill -0 "$DEBOOTSTRAP_PID" 2>/dev/null; then
    kill -TERM -- "-$DEBOOTSTRAP_PID" "$DEBOOTSTRAP_PID" 2>/dev/null || true
    wait "$DEBOOTSTRAP_PID" 2>/dev/null || true
  fi
  # debootstrap mounts proc and sys in the target; an interrupted run can
  # leave them, so unmount before removing anything.
  local m
  awk -v d="$STAGE/" 'index($2, d) == 1 { print $2 }' /proc/self/mounts | sort -r |
    while read -r m; do umount -l "$m" 2>/dev/null || true; done
  rm -rf --one-file-system "$STAGE"
}
trap cleanup EXIT
trap 'exit 130' INT # so the EXIT trap cleans up on Ctrl-C too
trap 'exit 143' TERM

ROOT=$STAGE/rootfs
M=$(mirror)
log "debootstrap $SUITE minbase from $M into $ROOT (4-8 min)"
# In the background, in its own process group, so an INT or TERM runs the
# cleanup at once (dpkg in the chroot ignores Ctrl-C) and stops it there.
setsid nice -n 10 debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$ROOT" "$M" \
  >"$STAGE/debootstrap.log" 2>&1 </dev/null &
DEBOOTSTRAP_PID=$!
wait "$DEBOOTSTRAP_PID" ||
  { tail -n 30 "$STAGE/debootstrap.log" >&2; die "debootstrap failed (log above)"; }
DEBOOTSTRAP_PID=

log "applying the machine fixes"
rm -f "$ROOT"/var/cache/apt/archives/*.deb "$ROOT"/var/cache/apt/*.bin
: >"$ROOT/etc/machine-id"
rm -f "$ROOT/var/lib/dbus/machine-id"
rm -f "$ROOT/etc/hostname"
rm -f "$ROOT/etc/resolv.conf"
: >"$ROOT/etc/resolv.conf"
mkdir -p "$ROOT/etc/systemd/system.conf.d"
cat >"$ROOT/etc/systemd/system.conf.d/10-kapstan-machine.conf" <<'EOF'
# kapstan test machine: stop leftover processes after 10 s, not 90 s, so a
# clean shutdown takes seconds (notes/machines.md, fix 5).
[Manager]
DefaultTimeoutStopSec=10s
EOF
{
  echo "version=$ROOTFS_VERSION"
  echo "suite=$SUITE"
  echo "packages=$PACKAGES"
  echo "mirror=$M"
  echo "built=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
} >"$ROOT/etc/kapstan-machine-image"

# Each step above is in the stage; only this rename publishes it.
rm -rf --one-file-system "$OUT" # a stale or broken earlier attempt
mv "$ROOT" "$OUT"
done_already || die "installed rootfs fails its check: $OUT"
log "done ($(du -sh "$OUT" 2>/dev/null | cut -f1))"
echo "$OUT"
