# Sourced by .ci/run: installs and starts what the real-filesystem backend tests need, and
# cleans up after them. Each test suite makes (and removes) its own loopback btrfs filesystem
# or ZFS pool, named cachevol-test-*; this file only provides the tools and the ZFS service
# (the zfs-fuse daemon, unless OpenZFS is already running), and removes what a killed test run
# left behind.
#
# Try it by hand: bash -c '. .ci/linux-backends.sh; backends_setup; zpool list; backends_cleanup'

# The pid of the zfs-fuse daemon this script started (empty when it started none).
CACHEVOL_ZFS_FUSE_PID=""

# zfs, zpool, zfs-fuse, losetup and mkfs.btrfs live in sbin, which some environments leave out.
case ":$PATH:" in *:/usr/sbin:*) ;; *) export PATH="$PATH:/usr/sbin:/sbin" ;; esac

backends_zfs_ready() {
  zpool list >/dev/null 2>&1
}

backends_setup() {
  local need=()
  command -v btrfs >/dev/null 2>&1 || need+=(btrfs-progs)
  command -v losetup >/dev/null 2>&1 || need+=(mount)
  # The benchmark's smoke run compares against a tar + zstd restore.
  command -v zstd >/dev/null 2>&1 || need+=(zstd)
  # The dir backend's tests set and read extended attributes (user.*, trusted.overlay.*).
  command -v setfattr >/dev/null 2>&1 || need+=(attr)
  # Its full-disk tests make a small ext4 filesystem.
  command -v mkfs.ext4 >/dev/null 2>&1 || need+=(e2fsprogs)
  # The CLI's real-tools test builds a C project twice through `cachevol run` with ccache.
  command -v gcc >/dev/null 2>&1 || need+=(gcc libc6-dev)
  command -v ccache >/dev/null 2>&1 || need+=(ccache)
  # The CLI's container cache test runs Debian's Docker engine (dockerd, started per job by
  # cachevol itself, never as a service) and builds an image FROM scratch with busybox-static:
  # no registry, no network.
  command -v dockerd >/dev/null 2>&1 || need+=(docker.io)
  [ -x /bin/busybox ] && ! grep -q ld-linux /bin/busybox 2>/dev/null || need+=(busybox-static)
  # The git mirror tests serve a generated repository with `git daemon` (part of Debian's git).
  command -v git >/dev/null 2>&1 || need+=(git)
  # The Buildkite plugin's hooks are checked with shellcheck.
  command -v shellcheck >/dev/null 2>&1 || need+=(shellcheck)
  # Multi-host tests make network namespaces, a bridge and veth pairs (test-support/fleet-net.ts).
  command -v ip >/dev/null 2>&1 || need+=(iproute2)
  # OpenZFS with its module loaded is fine as it is; otherwise use zfs-fuse.
  if ! backends_zfs_ready && ! command -v zfs-fuse >/dev/null 2>&1; then need+=(zfs-fuse); fi
  if [ ${#need[@]} -gt 0 ]; then
    echo "::: installing ${need[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  fi
  modprobe loop 2>/dev/null || true
  modprobe btrfs 2>/dev/null || true
  if ! backends_zfs_ready; then
    echo "::: starting zfs-fuse"
    modprobe fuse 2>/dev/null || true
    mkdir -p /var/run/zfs /var/lock/zfs
    zfs-fuse --no-daemon --no-kstat-mount >"${TMPDIR:-/tmp}/cachevol-zfs-fuse.log" 2>&1 &
    CACHEVOL_ZFS_FUSE_PID=$!
    local _
    for _ in $(seq 1 100); do
      backends_zfs_ready && break
      kill -0 "$CACHEVOL_ZFS_FUSE_PID" 2>/dev/null || break
      sleep 0.1
    done
    if ! backends_zfs_ready; then
      # Not fatal here: the ZFS test suites fail under CI=true and say why.
      echo "::: WARNING: zfs-fuse did not come up; its log:"
      cat "${TMPDIR:-/tmp}/cachevol-zfs-fuse.log" || true
    fi
  fi
}

# The start time of process $1 (field 22 of /proc/<pid>/stat), empty when it is gone.
backends_start_time() {
  local stat
  stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 0
  stat="${stat##*) }"
  # shellcheck disable=SC2086
  set -- $stat
  echo "${20}"
}

# Network namespaces of test fleets (test-support/fleet-net.ts) whose process was killed: each
# fleet's claim, $TMPDIR/cachevol-netns-<prefix>.owner, holds "<pid> <start time>"; a fleet whose
# process is still running (another run's) is left alone.
backends_cleanup_netns() {
  local claim prefix pid started ns p
  command -v ip >/dev/null 2>&1 || return 0
  for claim in "${TMPDIR:-/tmp}"/cachevol-netns-cvn*.owner; do
    [ -f "$claim" ] || continue
    prefix="${claim##*/cachevol-netns-}"
    prefix="${prefix%.owner}"
    read -r pid started <"$claim" || true
    if [ -n "$pid" ] && [ -n "$started" ] && [ "$(backends_start_time "$pid")" = "$started" ]; then continue; fi
    for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^${prefix}-[a-z0-9]+$" || true); do
      echo "::: removing leftover network namespace $ns"
      for p in $(ip netns pids "$ns" 2>/dev/null || true); do kill -9 "$p" 2>/dev/null || true; done
      ip netns delete "$ns" || true
    done
    rm -f "$claim"
  done
}

backends_cleanup() {
  # Pools, mounts and loop devices left by a test run that was killed: test resources are
  # named cachevol-test-* and live under the system temp directory.
  local pool mnt dev dir _
  backends_cleanup_netns
  if backends_zfs_ready; then
    for pool in $(zpool list -H -o name 2>/dev/null | grep '^cachevol-test-' || true); do
      echo "::: destroying leftover pool $pool"
      # zfs-fuse can report "busy" for a moment after unmounting: retry briefly.
      for _ in 1 2 3 4 5; do zpool destroy -f "$pool" 2>/dev/null && break; sleep 1; done
    done
  fi
  for mnt in $(awk '$2 ~ /cachevol-test-/ {print $2}' /proc/mounts 2>/dev/null | sort -r || true); do
    umount -l "$mnt" || true
  done
  for dev in $(losetup -a 2>/dev/null | grep 'cachevol-test-' | cut -d: -f1 || true); do
    losetup -d "$dev" || true
  done
  for dir in "${TMPDIR:-/tmp}"/cachevol-test-*; do
    [ -e "$dir" ] || continue
    # Never delete through a mount that is still there.
    if awk -v d="$dir" 'index($2, d) == 1 {found = 1} END {exit !found}' /proc/mounts; then continue; fi
    rm -rf --one-file-system "$dir" || true
  done
  if [ -n "$CACHEVOL_ZFS_FUSE_PID" ]; then
    echo "::: stopping zfs-fuse (pid $CACHEVOL_ZFS_FUSE_PID)"
    kill "$CACHEVOL_ZFS_FUSE_PID" 2>/dev/null || true
    for _ in $(seq 1 100); do
      kill -0 "$CACHEVOL_ZFS_FUSE_PID" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$CACHEVOL_ZFS_FUSE_PID" 2>/dev/null; then kill -9 "$CACHEVOL_ZFS_FUSE_PID" 2>/dev/null || true; fi
    CACHEVOL_ZFS_FUSE_PID=""
  fi
}
