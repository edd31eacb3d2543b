import type { Progress } from "../progress.js";
import { kubernetesRelease } from "../versions.js";
import { withBuildLock } from "./build-lock.js";
import { buildGoComponent } from "./go-build.js";
import { kubernetesE2eComponent } from "./recipes.js";
import type { Origin } from "./source.js";

/**
 * Kubernetes' e2e.test of a version (for --conformance), built from its Go module like the node image's binaries
 * and cached by version and recipe; nothing is downloaded but Go modules. Returns its path and how it was had.
 */
export async function ensureE2eTest(version: string, cacheDir: string, progress: Progress): Promise<{ path: string; origin: Origin }> {
  const rel = kubernetesRelease(version);
  const built = await withBuildLock(cacheDir, progress, async () => buildGoComponent(await kubernetesE2eComponent(rel), cacheDir, progress));
  const file = built.bins["e2e.test"]!;
  return {
    path: file,
    origin: {
      what: "e2e.test",
      ref: file,
      how: built.cached ? "cached" : "built",
      pin: `go test -c k8s.io/kubernetes/test/e2e@${rel.version}`,
      why: "--conformance: the conformance suite of the cluster's own release",
    },
  };
}
