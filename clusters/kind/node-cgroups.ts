import { existsSync } from "node:fs";
import { readdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";

/**
 * What keeps a node container from dying when it is removed, on cgroup v1 hosts, and how it is released first.
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
 *   reproduces it with the node's own runc.
 * - A blkio throttle under a node (etcd-disk-iops's fault, left in place by a run killed before its rollback)
 *   holds a writer's queued I/O in the kernel: the node cannot finish dying until that I/O has trickled out at the
 *   limit, minutes under a busy disk (seen in CI: a node with 2 MiB queued at 64 KiB/s not gone after 7 minutes).
 *   Lifted (0 is "no limit"), the queued I/O goes at once.
 *
 * Only the node container's own cgroup subtree is touched, found from the host by its full id under Docker's
 * cgroupfs or systemd layout.
 */
export const CGROUP_V1_ROOT = "/sys/fs/cgroup";

const THROTTLES = ["read_bps_device", "write_bps_device", "read_iops_device", "write_iops_device"] as const;

/** The node container's own cgroup directories under one controller's hierarchy (cgroupfs or systemd layout). */
export function nodeCgroupDirs(containerId: string, controllerRoot: string): string[] {
  return [path.join(controllerRoot, "docker", containerId), path.join(controllerRoot, "system.slice", `docker-${containerId}.scope`)].filter((d) =>
    existsSync(d),
  );
}

/** Calls `visit` on `dir` and every cgroup below it. */
async function walk(dir: string, visit: (d: string) => Promise<void>): Promise<void> {
  await visit(dir);
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  await Promise.all(entries.filter((e) => e.isDirectory()).map((e) => walk(path.join(dir, e.name), visit)));
}

/** Writes THAWED to every frozen (or freezing) freezer.state below `dir`; returns the cgroups thawed, relative to it. */
export async function thawBelow(dir: string): Promise<string[]> {
  const thawed: string[] = [];
  await walk(dir, async (d) => {
    const state = path.join(d, "freezer.state");
    if (!/FROZEN|FREEZING/.test(await readFile(state, "utf8").catch(() => ""))) return;
    await writeFile(state, "THAWED").catch(() => undefined);
    thawed.push(path.relative(dir, d) || ".");
  });
  return thawed;
}

/** Lifts every blkio throttle set below `dir` (writes "MAJ:MIN 0"); returns "<cgroup> (<limits>)" for each cgroup that had one. */
export async function unthrottleBelow(dir: string): Promise<string[]> {
  const lifted: string[] = [];
  await walk(dir, async (d) => {
    const had: string[] = [];
    for (const t of THROTTLES) {
      const file = path.join(d, `blkio.throttle.${t}`);
      for (const line of (await readFile(file, "utf8").catch(() => "")).split("\n")) {
        const m = /^(\d+:\d+)\s+(\d+)$/.exec(line.trim());
        if (!m || m[2] === "0") continue;
        await writeFile(file, `${m[1]} 0`).catch(() => undefined);
        had.push(`${t.replace("_device", "")} ${m[2]}`);
      }
    }
    if (had.length) lifted.push(`${path.relative(dir, d) || "."} (${had.join(", ")})`);
  });
  return lifted;
}

export interface Released {
  /** "<node id>: <cgroup>" for each freezer cgroup thawed. */
  thawed: string[];
  /** "<node id>: <cgroup> (<limits>)" for each blkio cgroup whose limits were lifted. */
  unthrottled: string[];
}

/** Thaws what is frozen and lifts the I/O limits set under the given node containers (full ids). */
export async function releaseNodes(containerIds: string[], root = CGROUP_V1_ROOT): Promise<Released> {
  const out: Released = { thawed: [], unthrottled: [] };
  for (const id of containerIds) {
    for (const dir of nodeCgroupDirs(id, path.join(root, "freezer"))) for (const c of await thawBelow(dir)) out.thawed.push(`${id.slice(0, 12)}: ${c}`);
    for (const dir of nodeCgroupDirs(id, path.join(root, "blkio")))
      for (const c of await unthrottleBelow(dir)) out.unthrottled.push(`${id.slice(0, 12)}: ${c}`);
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
