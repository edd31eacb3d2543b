import path from "node:path";
import type { Progress } from "../progress.js";
import { PINNED } from "../versions.js";
import { withBuildLock } from "./build-lock.js";
import { buildGoComponent, type GoComponent } from "./go-build.js";

/**
 * Programs a scenario runs on this host against the cluster (as an operator would from a laptop), built
 * from their Go modules like everything else. A scenario names the ones it needs in `tools`.
 */
export const HOST_TOOLS = ["helm"] as const;
export type HostTool = (typeof HOST_TOOLS)[number];

/** Helm 3 (Apache-2.0) from helm.sh/helm/v3. */
export function helmComponent(): GoComponent {
  return {
    name: "helm",
    version: PINNED.helm,
    requires: [{ module: "helm.sh/helm/v3", version: PINNED.helm }],
    outputs: [{ pkg: "helm.sh/helm/v3/cmd/helm", bin: "helm" }],
    ldflags: `-X helm.sh/helm/v3/internal/version.version=${PINNED.helm}`,
    budget: "8m",
  };
}

/** Builds (or finds in the cache) every named tool; returns each one's path. */
export async function ensureHostTools(tools: readonly HostTool[], cacheDir: string, progress: Progress): Promise<Partial<Record<HostTool, string>>> {
  return withBuildLock(cacheDir, progress, async () => {
    const out: Partial<Record<HostTool, string>> = {};
    if (tools.includes("helm")) out.helm = (await buildGoComponent(helmComponent(), cacheDir, progress)).bins.helm!;
    return out;
  });
}

/** Where Helm keeps its own configuration, cache and data for Aftershock's runs (never the user's ~/.config/helm). */
export const helmHome = (cacheDir: string) => path.join(cacheDir, "helm-home");
