import { DEFAULT_KUBERNETES_VERSION, isKubernetesVersionSyntax, profileFor, SUPPORTED_MINORS, type VersionProfile } from "../../clusters/versions.js";

export type { VersionProfile } from "../../clusters/versions.js";

/**
 * What the cluster's Kubernetes version takes from a runbook (the etcd tools, the kubeadm config API, the words its
 * API server refuses with, …), from the one place that knows (clusters/versions.ts). Scenarios ask this instead of
 * comparing version numbers. A version the offline builder does not make (an existing cluster's v1.33.1, say) gets
 * the profile of the nearest minor it makes (1.35 here); one that cannot be read, the default's.
 */
export function versionOf(ctx: { cluster: { kubernetesVersion: string } }): VersionProfile {
  const v = ctx.cluster.kubernetesVersion;
  const minor = Number(/^v?1\.(\d+)\./.exec(v)?.[1] ?? NaN);
  if (Number.isNaN(minor)) return profileFor(DEFAULT_KUBERNETES_VERSION)!;
  const own = isKubernetesVersionSyntax(v) ? profileFor(v) : undefined;
  if (own) return own;
  const nearest = [...SUPPORTED_MINORS].sort((a, b) => Math.abs(a - minor) - Math.abs(b - minor))[0]!;
  return profileFor(`v1.${nearest}.0`)!;
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
