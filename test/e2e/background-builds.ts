import { writeFileSync } from "node:fs";
import { defaultCacheDir, ensureNodeImage } from "../../clusters/images/builder.js";
import { ensureHostTools, HOST_TOOLS } from "../../clusters/images/host-tools.js";
import { ensureWorkloadImages } from "../../clusters/images/workloads.js";
import { ConsoleProgress } from "../../clusters/progress.js";
import { LATER_IMAGES, OTHER_VERSION } from "./later-images.js";

/**
 * What the e2e tests need only later, built by a child of the global setup at the lowest CPU and I/O priority while
 * the first test files run (it takes only the cycles their clusters leave idle). It holds the cache's build lock
 * while it builds, so a test that needs one of these before it is done waits for it; the others go on (see
 * clusters/images/build-lock.ts). Traefik, the JVM image and Helm first: the game days and the existing
 * cluster's workload suite need them, while only versions.test.ts, which starts last, needs the other line's node image.
 */
// Started in a session of its own (detached), it has a scheduler autogroup of its own, and with autogroups on (as
// here) a process's nice counts only inside its group: the group's own nice is what makes it yield to the tests.
try {
  writeFileSync("/proc/self/autogroup", "19");
} catch {
  /* no autogroups: the nice of the process is enough */
}
const progress = new ConsoleProgress();
const cacheDir = defaultCacheDir();
await ensureWorkloadImages(LATER_IMAGES, cacheDir, progress);
await ensureHostTools(HOST_TOOLS, cacheDir, progress);
await ensureNodeImage({ kubernetesVersion: OTHER_VERSION, cacheDir, progress });
