import { DEFAULT_KUBERNETES_VERSION, isKubernetesVersionSyntax, profileFor, TESTED_VERSIONS, type VersionProfile } from "../clusters/versions.js";

export type { VersionProfile } from "../clusters/versions.js";

/**
 * What the cluster's Kubernetes version takes from a runbook (the etcd tools, the kubeadm config API, the words its
 * API server refuses with, …), from the one place that knows (clusters/versions.ts). Scenarios ask this instead of
 * comparing version numbers. A version the offline builder does not make (an existing cluster's v1.33.1, say) gets
 * the profile of the tested version nearest to it by minor; one that cannot be read, the default's.
 */
export function versionOf(ctx: { cluster: { kubernetesVersion: string } }): VersionProfile {
  const v = ctx.cluster.kubernetesVersion;
  const minor = /^v?1\.(\d+)\./.exec(v)?.[1];
  if (minor === undefined) return profileFor(DEFAULT_KUBERNETES_VERSION)!;
  const own = isKubernetesVersionSyntax(v) ? profileFor(v) : undefined;
  if (own) return own;
  const nearest = [...TESTED_VERSIONS].sort((a, b) => Math.abs(minorOf(a) - Number(minor)) - Math.abs(minorOf(b) - Number(minor)))[0]!;
  return profileFor(nearest)!;
}

const minorOf = (v: string) => Number(/^v1\.(\d+)\./.exec(v)![1]);

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
