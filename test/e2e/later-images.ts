import { defaultCacheDir, ensureNodeImage } from "../../clusters/images/builder.js";
import { ensureHostTools, HOST_TOOLS } from "../../clusters/images/host-tools.js";
import { ensureWorkloadImages, WORKLOAD_IMAGES } from "../../clusters/images/workloads.js";
import type { Progress } from "../../clusters/progress.js";
import { DEFAULT_KUBERNETES_VERSION, profileFor, TESTED_VERSIONS } from "../../clusters/versions.js";

/** The version of the other line, on which versions.test.ts runs a control-plane scenario. */
export const OTHER_VERSION: string = profileFor(DEFAULT_KUBERNETES_VERSION)!.line === profileFor("v1.29.15")!.line ? TESTED_VERSIONS.at(-1)! : "v1.29.15";

/** Workload images the first test files do not need. */
export const LATER_IMAGES: string[] = [WORKLOAD_IMAGES.traefik, WORKLOAD_IMAGES.ledger];

/**
 * What the e2e tests need only later, in the order background-builds.ts builds it: Traefik, the JVM image and Helm
 * first (the game days and the existing cluster's workload suite need them), the other line's node image last (only
 * versions.test.ts, which starts last, needs it). The global setup asks each whether it is built.
 */
export function laterBuilds(progress: Progress, cacheDir = defaultCacheDir()): { what: string; ensure: () => Promise<unknown> }[] {
  return [
    { what: LATER_IMAGES.join(", "), ensure: () => ensureWorkloadImages(LATER_IMAGES, cacheDir, progress) },
    { what: HOST_TOOLS.join(", "), ensure: () => ensureHostTools(HOST_TOOLS, cacheDir, progress) },
    { what: `the ${OTHER_VERSION} node image`, ensure: () => ensureNodeImage({ kubernetesVersion: OTHER_VERSION, cacheDir, progress }) },
  ];
}
