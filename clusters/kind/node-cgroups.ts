import { docker } from "../docker.js";
import type { Duration } from "../errors.js";
import { cgroupOps, parseReleased, type CgroupOps } from "../host/cgroups.js";
import { hostFacts } from "../host/facts.js";
import { run } from "../exec.js";

/**
 * What keeps a node container from dying when it is removed, and how it is released first.
 *
 * - A freezer cgroup left FROZEN under a node (a pod container's, by runc) keeps its processes in uninterruptible
 *   sleep, and `docker rm -f` of the node waits on them indefinitely (seen: "Deleting cluster" past 2m30s, `runc
 *   init` in state D under a FROZEN `cri-containerd-….scope`). Thawed, the node dies in seconds. Who leaves it so:
 *   runc itself. With the systemd cgroup driver on cgroup v1 it freezes a container that has device rules (any
 *   unprivileged one) around each cgroup Set (container create and update), while systemd applies the unit's
 *   properties over D-Bus, and thaws it after; a runc killed in between leaves the cgroup FROZEN, with what runs
 *   in it. Deleting a node kills every process in it at once, so a container being started or updated at that
 *   moment is caught. Measured on one node with 200 updates each: Debian's runc 1.1.5 (the 1.27–1.30 line) and the
 *   runc 1.3.7 built for 1.35+ both freeze an unprivileged pod's container every time and a privileged one
 *   (kube-proxy) never; upstream's cgroups code does the same today, so no runc version avoids it. cluster.test
 *   reproduces it with the node's own runc. On cgroup v2 a frozen task can be killed, but a cgroup left with
 *   cgroup.freeze 1 is thawed all the same (nothing is lost by it, and the released line says so).
 * - An I/O limit under a node (etcd-disk-iops's fault, left in place by a run killed before its rollback: a
 *   blkio throttle on v1, io.max on v2) holds a writer's queued I/O in the kernel: the node cannot finish dying
 *   until that I/O has trickled out at the limit, minutes under a busy disk (seen in CI: a node with 2 MiB queued
 *   at 64 KiB/s not gone after 7 minutes). Lifted, the queued I/O goes at once.
 *
 * The work is clusters/host/cgroups.ts's scripts, run INSIDE the node (`docker exec`): kind nodes run with a private
 * cgroup namespace, so the node's /sys/fs/cgroup is its own subtree and nothing of another container is in reach,
 * and a user in the docker group who cannot write the host's /sys/fs/cgroup can still release a node. A node that
 * cannot run a command any more (its init already killed, processes stuck) is released from the host's cgroupfs
 * instead, under the node's own cgroup in Docker's cgroupfs or systemd layout: directly as root, otherwise from a
 * short-lived privileged container of the node's own image with the host's cgroupfs mounted.
 */

export interface Released {
  /** "<node id>: <cgroup>" for each cgroup thawed. */
  thawed: string[];
  /** "<node id>: <cgroup> (<limits>)" for each cgroup whose I/O limits were lifted. */
  unthrottled: string[];
}

/** Where release scripts run. Tests give their own; the defaults use Docker and the host. */
export interface NodeRunner {
  /** Runs a script in the node with `sh -c`; its stdout, or undefined when the node cannot run it. */
  inNode(id: string, script: string): Promise<string | undefined>;
  /** Runs a script against the host's cgroupfs, mounted at the root it is given; its stdout, or undefined. */
  onHost(id: string, script: (root: string) => string): Promise<string | undefined>;
}

const BUDGET: Duration = "1m";
/** Where the helper container sees the host's cgroupfs. */
const HOST_CGROUP_IN_HELPER = "/host-cgroup";

export const dockerNodeRunner: NodeRunner = {
  async inNode(id, script) {
    const r = await docker.run(["exec", id, "sh", "-c", script], { allowFailure: true, timeout: BUDGET });
    return r.exitCode === 0 ? r.stdout : undefined;
  },
  async onHost(id, script) {
    // A container with no process left (stopped) has nothing to release.
    const state = await docker.run(["inspect", "--format", "{{.State.Pid}} {{.Image}}", id], { allowFailure: true, timeout: BUDGET });
    const [pid, image] = state.stdout.trim().split(" ");
    if (state.exitCode !== 0 || !image) return undefined;
    if (pid === "0") return "";
    if (hostFacts().user.root) {
      const r = await run("sh", ["-c", script("/sys/fs/cgroup")], { allowFailure: true, timeout: BUDGET });
      return r.exitCode === 0 ? r.stdout : undefined;
    }
    // Not root: Docker is. The node's own image is here and has sh; the helper has no labels of the run, so it is
    // never one of the run's objects, and --rm removes it.
    const r = await docker.run(
      [
        ...["run", "--rm", "--privileged", "--network", "none", "--cgroupns", "host"],
        ...["--volume", `/sys/fs/cgroup:${HOST_CGROUP_IN_HELPER}`, "--entrypoint", "sh", image],
        ...["-c", script(HOST_CGROUP_IN_HELPER)],
      ],
      { allowFailure: true, timeout: BUDGET },
    );
    return r.exitCode === 0 ? r.stdout : undefined;
  },
};

/** The node container's own cgroup, as seen from the host, under Docker's cgroupfs and systemd layouts. */
export function nodeCgroupsOnHost(containerId: string): string[] {
  return [`/docker/${containerId}`, `/system.slice/docker-${containerId}.scope`];
}

/** Thaws what is frozen and lifts the I/O limits set under the given node containers (full ids). */
export async function releaseNodes(containerIds: string[], opts: { ops?: CgroupOps; runner?: NodeRunner } = {}): Promise<Released> {
  const ops = opts.ops ?? cgroupOps();
  const runner = opts.runner ?? dockerNodeRunner;
  const out: Released = { thawed: [], unthrottled: [] };
  for (const id of containerIds) {
    const printed = (await runner.inNode(id, ops.release(["/"]))) ?? (await runner.onHost(id, (root) => ops.release(nodeCgroupsOnHost(id), root)));
    if (printed === undefined) continue;
    const r = parseReleased(printed);
    for (const c of r.thawed) out.thawed.push(`${id.slice(0, 12)}: ${c}`);
    for (const c of r.lifted) out.unthrottled.push(`${id.slice(0, 12)}: ${c}`);
  }
  return out;
}

/** One line for the console, or undefined when nothing was released. */
export function describeReleased(r: Released): string | undefined {
  const count = (n: number, noun: string) => `${n} ${noun}${n === 1 ? "" : "s"}`;
  const parts = [
    ...(r.thawed.length ? [`thawed ${count(r.thawed.length, "frozen cgroup")}: ${r.thawed.slice(0, 3).join(", ")}`] : []),
    ...(r.unthrottled.length ? [`lifted the I/O limits of ${count(r.unthrottled.length, "cgroup")}: ${r.unthrottled.slice(0, 3).join(", ")}`] : []),
  ];
  return parts.length ? `before removing the nodes: ${parts.join("; ")}` : undefined;
}
