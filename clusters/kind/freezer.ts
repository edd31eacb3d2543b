import { existsSync } from "node:fs";
import { readdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";

/**
 * cgroup v1 hosts: a freezer cgroup left FROZEN under a node (a pod container's, by runc) keeps its processes in
 * uninterruptible sleep, and `docker rm -f` of the node then waits on them indefinitely (seen: "Deleting cluster"
 * past 2m30s, `runc init` in state D under a FROZEN `cri-containerd-….scope`). Thawing them first lets the node
 * die in seconds. Only the node container's own cgroup subtree is touched, found from the host by its full id
 * under Docker's cgroupfs or systemd layout.
 */
export const FREEZER_ROOT = "/sys/fs/cgroup/freezer";

export function nodeFreezerDirs(containerId: string, root = FREEZER_ROOT): string[] {
  return [path.join(root, "docker", containerId), path.join(root, "system.slice", `docker-${containerId}.scope`)].filter((d) => existsSync(d));
}

/** Writes THAWED to every frozen (or freezing) freezer.state below `dir`; returns the cgroups thawed, relative to it. */
export async function thawBelow(dir: string): Promise<string[]> {
  const thawed: string[] = [];
  const walk = async (d: string): Promise<void> => {
    const state = path.join(d, "freezer.state");
    const s = await readFile(state, "utf8").catch(() => "");
    if (/FROZEN|FREEZING/.test(s)) {
      await writeFile(state, "THAWED").catch(() => undefined);
      thawed.push(path.relative(dir, d) || ".");
    }
    const entries = await readdir(d, { withFileTypes: true }).catch(() => []);
    await Promise.all(entries.filter((e) => e.isDirectory()).map((e) => walk(path.join(d, e.name))));
  };
  await walk(dir);
  return thawed;
}

/** Thaws everything frozen under the given node containers (full ids); returns "<node id>: <cgroup>" for each. */
export async function thawNodes(containerIds: string[], root = FREEZER_ROOT): Promise<string[]> {
  if (!existsSync(root)) return [];
  const out: string[] = [];
  for (const id of containerIds) for (const dir of nodeFreezerDirs(id, root)) for (const c of await thawBelow(dir)) out.push(`${id.slice(0, 12)}: ${c}`);
  return out;
}
