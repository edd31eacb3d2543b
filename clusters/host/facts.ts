import { existsSync, readFileSync, statSync } from "node:fs";
import os from "node:os";

/**
 * What kind of host this is, decided in one place, the way a Kubernetes version is: the cgroup hierarchy, who
 * runs Aftershock and whether it may reach Docker. Scenarios, the doctor, the image builder and cluster code ask
 * here; none of them tests /sys/fs/cgroup or the uid on its own. Read once per process (the answers do not
 * change under a running process); tests pass their own root to the pure readers.
 */
export type CgroupVersion = 1 | 2;

/** v2 (unified) when the root of the cgroup mount lists its controllers; v1 (legacy or hybrid) otherwise. */
export function readCgroupVersion(root = "/sys/fs/cgroup"): CgroupVersion {
  return existsSync(`${root}/cgroup.controllers`) ? 2 : 1;
}

export interface HostUser {
  uid: number;
  name: string;
  root: boolean;
  /** Member of the group that owns the Docker socket (so it may run containers without root). */
  dockerGroup: boolean;
}

/** The user this process runs as, and whether it is in the group of `socket` (by default Docker's socket). */
export function readHostUser(socket = "/var/run/docker.sock", groupFile = "/etc/group"): HostUser {
  const uid = process.getuid?.() ?? -1;
  const name = os.userInfo().username;
  let dockerGroup = false;
  try {
    const gid = statGid(socket);
    const groups = new Set<number>(process.getgroups?.() ?? []);
    if (gid !== undefined) dockerGroup = groups.has(gid);
    else {
      // No socket yet (engine not started): fall back to membership of a group named docker.
      const line = readFileSync(groupFile, "utf8")
        .split("\n")
        .find((l) => l.startsWith("docker:"));
      dockerGroup = !!line && (line.split(":")[3] ?? "").split(",").includes(name);
    }
  } catch {
    dockerGroup = false;
  }
  return { uid, name, root: uid === 0, dockerGroup };
}

function statGid(p: string): number | undefined {
  return existsSync(p) ? statSync(p).gid : undefined;
}

export interface HostFacts {
  cgroup: CgroupVersion;
  user: HostUser;
}

let cached: HostFacts | undefined;

/** This host's facts, read once per process. */
export function hostFacts(): HostFacts {
  cached ??= { cgroup: readCgroupVersion(), user: readHostUser() };
  return cached;
}

/** The cgroup version of this host (see hostFacts). */
export function hostCgroupVersion(): CgroupVersion {
  return hostFacts().cgroup;
}
