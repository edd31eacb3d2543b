import { defaultCacheDir } from "../../clusters/images/builder.js";
import { ConsoleProgress } from "../../clusters/progress.js";
import { readyForClusters } from "./global-setup.js";

/**
 * The SSH lane's global setup (pnpm test:ssh, ssh-machines.vitest.config.ts): what every cluster test needs first
 * (the host checked, the default node image, the small workload images and the load generator's), and none of the
 * background builds of the default e2e projects (Traefik, the JVM image, Helm, the other line's node image), which
 * no scenario of this lane uses.
 */
export default async function setup(): Promise<void> {
  await readyForClusters(new ConsoleProgress(), defaultCacheDir());
}
