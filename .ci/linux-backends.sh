# Sourced by .ci/run: installs and starts what the real-filesystem backend tests need, and
# cleans up after them. Each test suite makes (and removes) its own loopback btrfs filesystem
# or ZFS pool; this file only provides the tools and the zfs-fuse daemon.

CACHEVOL_STARTED_ZFS_FUSE=0

backends_setup() {
  local need=()
  command -v btrfs >/dev/null 2>&1 || need+=(btrfs-progs)
  command -v zfs >/dev/null 2>&1 || need+=(zfs-fuse)
  command -v losetup >/dev/null 2>&1 || need+=(mount)
  if [ ${#need[@]} -gt 0 ]; then
    echo "::: installing ${need[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  fi
  modprobe loop 2>/dev/null || true
  modprobe btrfs 2>/dev/null || true
  if ! pgrep -x zfs-fuse >/dev/null 2>&1; then
    echo "::: starting zfs-fuse"
    mkdir -p /var/run/zfs /var/lock/zfs
    zfs-fuse --no-daemon >/tmp/cachevol-zfs-fuse.log 2>&1 &
    CACHEVOL_STARTED_ZFS_FUSE=1
    for _ in $(seq 1 50); do zpool list >/dev/null 2>&1 && break; sleep 0.2; done
  fi
}

backends_cleanup() {
  # Pools and filesystems left by a test run that was killed: test resources are named
  # cachevol-test-* and live under the system temp directory.
  if command -v zpool >/dev/null 2>&1; then
    for pool in $(zpool list -H -o name 2>/dev/null | grep '^cachevol-test-' || true); do
      zpool destroy -f "$pool" || true
    done
  fi
  for mnt in $(awk '$2 ~ /cachevol-test-/ {print $2}' /proc/mounts 2>/dev/null || true); do
    umount -l "$mnt" || true
  done
  for dev in $(losetup -a 2>/dev/null | grep 'cachevol-test-' | cut -d: -f1 || true); do
    losetup -d "$dev" || true
  done
  if [ "$CACHEVOL_STARTED_ZFS_FUSE" = 1 ]; then
    echo "::: stopping zfs-fuse"
    pkill -x zfs-fuse || true
  fi
}
