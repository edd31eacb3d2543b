#!/bin/bash
# lane.sh kind puts this first on kind's PATH as "docker", in front of Aftershock's wrapper (clusters/kind/docker-wrapper.sh).
# kind v0.33 gives a node 30 s after its `docker run` returns to log systemd's "Reached target Multi-User System"
# (pkg/cluster/internal/providers/docker/provision.go, createContainerWithWaitUntilSystemdReachesMultiUserSystem: a
# fixed timeout; on cgroup v2 that is the only line it accepts). Under qemu TCG systemd in the node needs longer, so a
# node's `docker run` returns here only once that line is in the node's log (or after AFTERSHOCK_VM_SYSTEMD_WAIT
# seconds, 600 by default); kind's own wait then finds it at once. Everything else passes straight through, to
# KIND_NODE_WAIT_NEXT (Aftershock's wrapper as lane.sh installs it, by default).
set -uo pipefail
"${KIND_NODE_WAIT_NEXT:-/opt/aftershock/wrapper-bin/docker}" "$@" || exit $?
[[ ${1:-} == run && " $* " == *" io.x-k8s.kind.role="* ]] || exit 0
name= prev=
for a in "$@"; do
  [[ $prev == --name ]] && name=$a
  prev=$a
done
[[ -n $name ]] || exit 0
t0=$(date +%s)
until /usr/bin/docker logs "$name" 2>&1 | grep -qE 'Reached target .*Multi-User System|detected cgroup v1'; do
  if (($(date +%s) - t0 >= ${AFTERSHOCK_VM_SYSTEMD_WAIT:-600})); then
    echo "kind-node-wait: $name: no multi-user line within ${AFTERSHOCK_VM_SYSTEMD_WAIT:-600}s" >&2
    exit 0
  fi
  sleep 2
done
echo "kind-node-wait: $name: systemd reached multi-user $(($(date +%s) - t0))s after docker run returned" >&2
