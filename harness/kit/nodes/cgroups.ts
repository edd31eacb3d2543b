import { cgroupOps, type CgroupOps } from "../../../clusters/host/cgroups.js";

/**
 * The cgroup operations of the cluster's nodes, for a scenario's node scripts and the text its plan shows. Kind
 * nodes are containers on this host and share its cgroup version (clusters/host/facts.ts decides it); the
 * scripts are POSIX sh functions (`ops.shell`) with the same names on v1 and v2.
 */
export function nodeCgroups(): CgroupOps {
  return cgroupOps();
}

export type { CgroupOps, IoLimit } from "../../../clusters/host/cgroups.js";
