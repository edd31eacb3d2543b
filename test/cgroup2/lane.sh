#!/usr/bin/env bash
# pnpm test:cgroup2 — Aftershock's cgroup v2 operations on a real cgroup v2 kernel, in a VM (README section draft)
#
# The host may be cgroup v1 (this one is), so this lane boots a Debian bookworm VM whose kernel runs the unified
# hierarchy and tests the cgroup module there, against a kind-like node container (systemd as PID 1, privileged,
# private cgroup namespace). It needs only Debian apt: no registry, no internet beyond the Debian mirror.
#
#   1. Installs what is missing on the host with apt-get, and says what: qemu-system-x86 (qemu-system-x86_64),
#      qemu-utils (qemu-img), debootstrap, e2fsprogs (mkfs.ext4 -d), openssh-client.
#   2. Builds and caches a VM under ~/.cache/aftershock/vm/<key>/ (the key hashes this file's build section, the
#      suite and the mirror): a debootstrap rootfs with systemd, docker.io, openssh-server and Debian's cloud
#      kernel; the kernel and the initrd that initramfs-tools made in the chroot are taken out of /boot; the root
#      file system is one ext4 image written by mkfs.ext4 -d (no loop device, no partition table: root=/dev/vda).
#      The node-like container image is a plain tar of the same rootfs without the kernel, Docker and docs,
#      stored inside the disk at /opt/aftershock/node.tar. An ssh key pair is made for the lane. Once per disk a
#      warm step boots it, docker-imports that tar (slow under TCG), powers off and commits into the cached disk.
#   3. Boots the VM headless with qemu TCG (KVM does not work here), on a throw-away qcow2 overlay so the cached
#      disk stays clean; user-mode network restricted to the VM (restrict=on) with one forward, 127.0.0.1:<port>
#      to the VM's ssh. Waits for ssh and then Docker, each with a deadline. The VM is killed on exit, error,
#      Ctrl-C and TERM (checked); only a SIGKILL of the lane leaves it running (the next run then finds the port
#      taken and says so).
#   4. Runs test/cgroup2/*.test.ts (vitest, its own config) on the host; the tests drive the VM over ssh: load
#      start node containers, then freeze/thaw below + docker rm -f, io.max set/lift with a direct writer,
#      memory readings and an OOM kill, and once docker rm -f without the thaw (reported, not asserted).
#      It exits non-zero when a test fails; the last line is "tests: N passed, N failed, N skipped".
#
# Environment: AFTERSHOCK_VM_SMP (2), AFTERSHOCK_VM_MEM (6144 MiB), AFTERSHOCK_VM_PORT (2222),
# AFTERSHOCK_VM_KEEP=1 leaves the VM running after the tests (print how to reach it), AFTERSHOCK_DEBIAN_MIRROR.
# Subcommands: `lane.sh [all] [[--] vitest args]` (everything), `lane.sh build` (the cached, warmed disk only),
# `lane.sh boot` (build, boot, wait for Docker, leave the VM running).
#
# Measured on this host (Debian bookworm, cgroup v1, 2 cores, another image build using both; 2026-12-07):
#   host packages  qemu-system-x86 + qemu-utils from apt: 13s (debootstrap, e2fsprogs, ssh were there)
#   build, cold    debootstrap 191-312s (network and dpkg), then the disk 28s (cp -a of the 623 MB tree, the
#                  105 MB node tar, mkfs.ext4 -d of 796 MB): 3m48s in all the first time
#   warm, once     boot + docker import of the node tar (65s; the untrimmed 253 MB tar took 135s) + poweroff 6s
#                  + qemu-img commit: 168s
#   build, warm    0s (cache hit on ~/.cache/aftershock/vm/<key>/ready and warm)
#   boot           to ssh 35-128s (35, 50, 52, 57, 71, 87, 128), to Docker 68-157s
#   tests          node container start to systemd running 44-93s; freeze + thaw below + docker rm -f 112s
#                  (rm 6.1-7.3s); io.max 115-140s (0.5 MiB/s set, 0.50 measured, 68-120 MB/s unthrottled, the
#                  remaining 55 MiB 3.9-9s after the lift); memory + OOM kill 28-70s; the no-thaw run 26-60s
#   lane           387s from a warm cache (5 tests pass); 653s when the warm step runs first
# On cgroup v2, docker rm -f of a node whose pod cgroup is frozen returns anyway (6.7-12.7s, node gone): the
# kernel kills frozen tasks on SIGKILL. The thaw below is still asserted (frozen 0 after it): with the module's
# v2 cg_thaw_below made a no-op the freeze test fails ("expected [] to include 'kubepods/pod-frozen'").
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
say() { printf '[cgroup2-vm %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() {
  say "FAILED: $*"
  exit 1
}
t0=$(date +%s)
since() { echo $(($(date +%s) - $1)); }

suite=bookworm
mirror="${AFTERSHOCK_DEBIAN_MIRROR:-$(sed -n 's/^ *debianMirror: "\(.*\)",$/\1/p' "$repo/clusters/versions.ts")}"
[ -n "$mirror" ] || die "no Debian mirror (clusters/versions.ts PINNED.debianMirror)"
smp="${AFTERSHOCK_VM_SMP:-2}"
mem="${AFTERSHOCK_VM_MEM:-6144}"
port="${AFTERSHOCK_VM_PORT:-2222}"
cache_root="${HOME}/.cache/aftershock/vm"

# ---- 1. host packages -------------------------------------------------------------------------------------------
need_host_packages() {
  local missing=()
  command -v qemu-system-x86_64 >/dev/null || missing+=(qemu-system-x86)
  command -v qemu-img >/dev/null || missing+=(qemu-utils)
  command -v debootstrap >/dev/null || missing+=(debootstrap)
  command -v mkfs.ext4 >/dev/null || missing+=(e2fsprogs)
  command -v ssh >/dev/null || missing+=(openssh-client)
  if [ ${#missing[@]} -gt 0 ]; then
    [ "$(id -u)" = 0 ] || die "missing host packages (${missing[*]}); run as root or: apt-get install ${missing[*]}"
    say "installing host packages with apt-get: ${missing[*]}"
    local t=$(date +%s)
    DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y --no-install-recommends "${missing[@]}" >&2 ||
      { timeout 300 apt-get update >&2 && DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y --no-install-recommends "${missing[@]}" >&2; } ||
      die "apt-get install ${missing[*]}"
    say "installed ${missing[*]} in $(since "$t")s"
  fi
}

# ---- 2. the cached VM -------------------------------------------------------------------------------------------
# Everything between these markers goes into the cache key.
# BUILD-BEGIN
packages=systemd,systemd-sysv,udev,dbus,kmod,iproute2,procps,openssh-server,docker.io,linux-image-cloud-amd64,initramfs-tools
# What the node container image leaves out of the rootfs: the files of the kernel, Docker, containerd, runc, ssh and
# the initramfs tools (from dpkg's lists), udev's hardware database, docs and apt's lists. systemd, coreutils,
# util-linux and their libraries stay.
node_drop_packages='^(linux-image-.*|docker\.io|containerd|runc|tini|openssh-.*|initramfs-tools.*|klibc-utils|libklibc|busybox|perl)$'
node_excludes=(./boot ./usr/lib/modules ./usr/lib/firmware ./usr/share/doc ./usr/share/man ./usr/share/locale
  ./usr/share/info ./usr/share/zoneinfo ./var/cache/apt ./var/lib/apt/lists ./var/cache/debconf ./usr/lib/udev/hwdb.bin
  ./usr/lib/udev/hwdb.d ./opt/aftershock)
configure_rootfs() {
  local r=$1 pub=$2
  echo aftershock-vm >"$r/etc/hostname"
  printf '127.0.0.1 localhost\n127.0.1.1 aftershock-vm\n' >"$r/etc/hosts"
  printf '/dev/vda / ext4 rw,relatime 0 0\n' >"$r/etc/fstab"
  # Static address on qemu's user network (no DHCP wait); nothing waits for "online".
  mkdir -p "$r/etc/systemd/network"
  printf '[Match]\nName=eth0\n[Network]\nAddress=10.0.2.15/24\nGateway=10.0.2.2\n' >"$r/etc/systemd/network/10-eth0.network"
  chroot "$r" systemctl enable systemd-networkd.service >/dev/null 2>&1
  chroot "$r" systemctl mask systemd-networkd-wait-online.service apt-daily.timer apt-daily-upgrade.timer \
    e2scrub_all.timer fstrim.timer man-db.timer systemd-timesyncd.service >/dev/null 2>&1 || true
  install -d -m 700 "$r/root/.ssh"
  install -m 600 "$pub" "$r/root/.ssh/authorized_keys"
  printf 'UseDNS no\nPermitRootLogin prohibit-password\n' >"$r/etc/ssh/sshd_config.d/aftershock.conf"
  rm -f "$r"/var/cache/apt/archives/*.deb
}
make_node_tar() {
  local r=$1 out=$2
  # The node container runs none of the VM's services: no Docker, no sshd, no networkd inside it.
  local w="$r/etc/systemd/system"
  local -a drop=(./etc/systemd/system/multi-user.target.wants/docker.service
    ./etc/systemd/system/sockets.target.wants/docker.socket
    ./etc/systemd/system/multi-user.target.wants/containerd.service
    ./etc/systemd/system/multi-user.target.wants/ssh.service ./etc/systemd/system/sshd.service
    ./etc/systemd/system/multi-user.target.wants/systemd-networkd.service
    ./etc/systemd/system/sockets.target.wants/systemd-networkd.socket)
  [ -d "$w" ] || die "no $w"
  local pkg f list="$out.exclude"
  printf '%s\n' "${node_excludes[@]}" "${drop[@]}" >"$list"
  # Files (not directories) of the dropped packages; /bin, /sbin and /lib are /usr's (merged /usr).
  for pkg in $(chroot "$r" dpkg-query -W -f='${Package}\n' | grep -E "$node_drop_packages"); do
    while IFS= read -r f; do
      case $f in /boot/* | /lib/modules/* | /usr/lib/modules/*) continue ;; esac
      [ -d "$r$f" ] && continue
      echo ".$f"
      case $f in /bin/* | /sbin/* | /lib/* | /lib64/*) echo "./usr$f" ;; esac
    done < <(chroot "$r" dpkg-query -L "$pkg")
  done >>"$list"
  tar -C "$r" --numeric-owner --no-wildcards --exclude-from="$list" -cf "$out" .
  rm -f "$list"
}
# BUILD-END

vm_key() {
  { sed -n '/^# BUILD-BEGIN/,/^# BUILD-END/p' "${BASH_SOURCE[0]}"; echo "$suite $mirror"; } | sha256sum | cut -c1-12
}

# The debootstrap tree is cached on its own (by the package list, suite and mirror): changing how the disk is made
# from it does not download again.
rootfs_key() { echo "$packages $suite $mirror" | sha256sum | cut -c1-12; }

build_vm() {
  local key dir
  key=$(vm_key)
  dir="$cache_root/$key"
  vm_dir=$dir
  if [ -f "$dir/ready" ]; then
    say "VM disk cached: $dir"
    return
  fi
  need_host_packages
  local tb=$(date +%s) t
  mkdir -p "$cache_root"
  local base="$cache_root/rootfs-$(rootfs_key)"
  if [ ! -f "$base/.ready" ]; then
    rm -rf "$base.tmp"
    say "debootstrap $suite from $mirror (${packages//,/ })"
    t=$(date +%s)
    timeout 1800 debootstrap --variant=minbase --include="$packages" "$suite" "$base.tmp" "$mirror" >"$cache_root/debootstrap.log" 2>&1 ||
      { tail -30 "$cache_root/debootstrap.log" >&2; die "debootstrap (log: $cache_root/debootstrap.log)"; }
    rm -f "$base.tmp"/var/cache/apt/archives/*.deb
    [ -n "$(ls "$base.tmp"/boot/initrd.img-* 2>/dev/null)" ] || {
      say "no initrd from the kernel's postinst; running update-initramfs in the chroot"
      mount -t proc proc "$base.tmp/proc"
      chroot "$base.tmp" update-initramfs -c -k all >&2 || { umount "$base.tmp/proc"; die "update-initramfs"; }
      umount "$base.tmp/proc"
    }
    touch "$base.tmp/.ready"
    rm -rf "$base"
    mv "$base.tmp" "$base"
    say "debootstrap done in $(since "$t")s: $base ($(du -sh "$base" | cut -f1))"
  else
    say "debootstrap tree cached: $base"
  fi
  local work="$cache_root/build-$key-$$"
  rm -rf "$work"
  mkdir -p "$work"
  t=$(date +%s)
  cp -a "$base" "$work/root"
  rm -f "$work/root/.ready"
  ssh-keygen -q -t ed25519 -N '' -C aftershock-cgroup2-lane -f "$work/id_ed25519"
  configure_rootfs "$work/root" "$work/id_ed25519.pub"
  cp "$(ls "$work"/root/boot/vmlinuz-* | head -1)" "$work/vmlinuz"
  cp "$(ls "$work"/root/boot/initrd.img-* | head -1)" "$work/initrd.img"
  mkdir -p "$work/root/opt/aftershock"
  make_node_tar "$work/root" "$work/node.tar"
  mv "$work/node.tar" "$work/root/opt/aftershock/node.tar"
  say "node image tar: $(du -h "$work/root/opt/aftershock/node.tar" | cut -f1), rootfs $(du -sh "$work/root" | cut -f1), in $(since "$t")s"
  t=$(date +%s)
  truncate -s 8G "$work/disk.raw"
  mkfs.ext4 -q -F -L aftershock-vm -d "$work/root" "$work/disk.raw" || die "mkfs.ext4 -d"
  say "disk image (ext4, 8G sparse, $(du -h "$work/disk.raw" | cut -f1) used) in $(since "$t")s"
  rm -rf "$work/root"
  rm -rf "$dir"
  mv "$work" "$dir"
  touch "$dir/ready"
  say "VM built in $(since "$tb")s: $dir"
}

# ---- 3. boot ----------------------------------------------------------------------------------------------------
qemu_pid=""
run_dir=""
cleanup() {
  local rc=$?
  if [ -n "$qemu_pid" ] && kill -0 "$qemu_pid" 2>/dev/null; then
    if [ "${AFTERSHOCK_VM_KEEP:-}" = 1 ] && [ $rc = 0 ]; then
      say "leaving the VM running (pid $qemu_pid): ssh -p $port -i $vm_dir/id_ed25519 root@127.0.0.1; kill $qemu_pid"
      return
    fi
    kill "$qemu_pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$qemu_pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$qemu_pid" 2>/dev/null || true
    say "VM stopped"
  fi
  [ -n "$run_dir" ] && [ "${AFTERSHOCK_VM_KEEP:-}" != 1 ] && rm -f "$run_dir/overlay.qcow2"
  return $rc
}

vm_ssh() {
  timeout "${SSH_TIMEOUT:-60}" ssh -q -p "$port" -i "$vm_dir/id_ed25519" -o StrictHostKeyChecking=no \
    -o UserKnownHostsFile=/dev/null -o ConnectTimeout=5 -o BatchMode=yes root@127.0.0.1 "$@"
}

boot_vm() {
  run_dir="$vm_dir/run"
  mkdir -p "$run_dir"
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then die "127.0.0.1:$port is taken (another VM? set AFTERSHOCK_VM_PORT)"; fi
  rm -f "$run_dir/overlay.qcow2" "$run_dir/console.log"
  qemu-img create -q -f qcow2 -b "$vm_dir/disk.raw" -F raw "$run_dir/overlay.qcow2"
  trap cleanup EXIT
  trap 'exit 130' INT TERM
  local tb=$(date +%s)
  say "booting: qemu TCG, $smp vCPUs, ${mem} MiB, ssh on 127.0.0.1:$port (console: $run_dir/console.log)"
  qemu-system-x86_64 -name aftershock-cgroup2 -accel tcg,thread=multi -cpu max -smp "$smp" -m "$mem" \
    -display none -monitor none -serial "file:$run_dir/console.log" -no-reboot \
    -kernel "$vm_dir/vmlinuz" -initrd "$vm_dir/initrd.img" \
    -append "root=/dev/vda rw console=ttyS0 apparmor=0 net.ifnames=0 systemd.unified_cgroup_hierarchy=1 panic=-1" \
    -drive "file=$run_dir/overlay.qcow2,if=virtio,format=qcow2,cache=unsafe,discard=unmap" \
    -nic "user,model=virtio-net-pci,restrict=on,hostfwd=tcp:127.0.0.1:$port-:22" \
    </dev/null >"$run_dir/qemu.log" 2>&1 &
  qemu_pid=$!
  local deadline=$(($(date +%s) + ${AFTERSHOCK_VM_SSH_DEADLINE:-300}))
  until SSH_TIMEOUT=15 vm_ssh true 2>/dev/null; do
    kill -0 "$qemu_pid" 2>/dev/null || { cat "$run_dir/qemu.log" >&2; tail -20 "$run_dir/console.log" >&2; die "qemu exited"; }
    [ "$(date +%s)" -lt "$deadline" ] || { tail -30 "$run_dir/console.log" >&2; die "no ssh within ${AFTERSHOCK_VM_SSH_DEADLINE:-300}s"; }
    sleep 2
  done
  boot_ssh=$(since "$tb")
  say "ssh up after ${boot_ssh}s: $(vm_ssh 'uname -r; cat /sys/fs/cgroup/cgroup.controllers' | tr '\n' ' ')"
  deadline=$(($(date +%s) + ${AFTERSHOCK_VM_DOCKER_DEADLINE:-300}))
  until vm_ssh docker info >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$deadline" ] || { vm_ssh 'systemctl status docker --no-pager; journalctl -u docker --no-pager | tail -20' >&2 || true; die "no Docker within ${AFTERSHOCK_VM_DOCKER_DEADLINE:-300}s"; }
    sleep 3
  done
  boot_docker=$(since "$tb")
  say "Docker up after ${boot_docker}s: $(vm_ssh "docker info --format '{{.ServerVersion}} cgroup v{{.CgroupVersion}} {{.CgroupDriver}} {{.Driver}}'")"
}

# ---- 2b. warm: the node image loaded into the VM's Docker, once -----------------------------------------------
# docker import runs at about 1-2 MB/s under TCG, so the first run imports the node tar, powers the VM off and
# commits the overlay into the cached disk; later runs boot with the image already there.
NODE_IMAGE=aftershock.local/cgroup2-node:1 # the test's IMAGE
warm_vm() {
  [ -f "$vm_dir/warm" ] && return
  say "warming the cached disk: importing the node image into the VM's Docker (once per disk)"
  local tw=$(date +%s) t
  boot_vm
  t=$(date +%s)
  SSH_TIMEOUT=900 vm_ssh "docker import --change 'CMD [\"/sbin/init\"]' --change 'ENV container=docker' /opt/aftershock/node.tar $NODE_IMAGE >/dev/null" ||
    die "docker import in the VM"
  say "docker import of the node image ($(vm_ssh 'du -h /opt/aftershock/node.tar' | cut -f1)) in $(since "$t")s"
  t=$(date +%s)
  SSH_TIMEOUT=30 vm_ssh 'sync; systemctl --no-block poweroff' || true
  for _ in $(seq 1 180); do kill -0 "$qemu_pid" 2>/dev/null || break; sleep 1; done
  kill -0 "$qemu_pid" 2>/dev/null && die "the VM did not power off within 180s"
  wait "$qemu_pid" 2>/dev/null || true
  qemu_pid=""
  say "VM powered off in $(since "$t")s"
  qemu-img commit -q "$run_dir/overlay.qcow2" || die "qemu-img commit"
  rm -f "$run_dir/overlay.qcow2"
  touch "$vm_dir/warm"
  say "warm disk in $(since "$tw")s"
}

# ---- 4. tests ---------------------------------------------------------------------------------------------------
run_tests() {
  export AFTERSHOCK_VM_SSH_PORT=$port AFTERSHOCK_VM_SSH_KEY="$vm_dir/id_ed25519"
  say "running test/cgroup2 (vitest $*)"
  (cd "$repo" && timeout 1800 node_modules/.bin/vitest run --config test/cgroup2/vitest.config.ts "$@")
}

# `pnpm test:cgroup2 -t thaw` and `lane.sh all -- -t thaw` both hand "-t thaw" to vitest.
cmd=all
case "${1:-}" in build | boot | all) cmd=$1 && shift ;; esac
[ "${1:-}" != -- ] || shift
case "$cmd" in
  build)
    build_vm
    warm_vm
    ;;
  boot)
    build_vm
    warm_vm
    AFTERSHOCK_VM_KEEP=1
    boot_vm
    ;;
  all)
    build_vm
    warm_vm
    boot_vm
    run_tests "$@"
    say "lane done in $(since "$t0")s (boot to ssh ${boot_ssh}s, to Docker ${boot_docker}s)"
    ;;
esac
