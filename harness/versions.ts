import { DEFAULT_KUBERNETES_VERSION, profileFor, type VersionProfile } from "../clusters/versions.js";

export type { VersionProfile } from "../clusters/versions.js";

/**
 * What the cluster's Kubernetes version takes from a runbook (the etcd tools, the kubeadm config API, …), from the
 * one place that knows (clusters/versions.ts). Scenarios ask this instead of comparing version numbers. A version
 * the offline builder does not know (an existing cluster's) gets the profile of the default version.
 */
export function versionOf(ctx: { cluster: { kubernetesVersion: string } }): VersionProfile {
  let p: VersionProfile | undefined;
  try {
    p = profileFor(ctx.cluster.kubernetesVersion);
  } catch {
    p = undefined;
  }
  return p ?? profileFor(DEFAULT_KUBERNETES_VERSION)!;
}

/** What runs recorded before runs carried a version ran on: every run then got v1.29.15. */
export const VERSION_OF_UNVERSIONED_RUNS = "v1.29.15";

/**
 * The part of a run's name that tells versions apart in reports, JUnit and history trends: nothing for the default
 * version (so names stay as they were), " @ v1.37.2" for any other.
 */
export function versionSuffix(version: string | undefined): string {
  const v = version ?? VERSION_OF_UNVERSIONED_RUNS;
  return v === DEFAULT_KUBERNETES_VERSION ? "" : ` @ ${v}`;
}
