import { existsSync } from "node:fs";
import { aptInstall, doctor } from "../../clusters/host/doctor.js";
import { findChromium } from "./helpers.js";
import { defaultCacheDir, ensureNodeImage } from "../../clusters/images/builder.js";
import { ensureLoadGeneratorImage, ensureWorkloadImages, WORKLOAD_IMAGES } from "../../clusters/images/workloads.js";
import { ensureHostTools, HOST_TOOLS } from "../../clusters/images/host-tools.js";
import { ConsoleProgress } from "../../clusters/progress.js";
import { DEFAULT_KUBERNETES_VERSION, profileFor, TESTED_VERSIONS } from "../../clusters/versions.js";

/** The version of the other line, on which versions.test.ts runs a control-plane scenario. */
export const OTHER_VERSION: string = profileFor(DEFAULT_KUBERNETES_VERSION)!.line === profileFor("v1.29.15")!.line ? TESTED_VERSIONS.at(-1)! : "v1.29.15";

/**
 * Before any e2e test: a working Docker engine, the offline node images (the default version's and OTHER_VERSION's), the workload images, the load
 * generator's image and the host tools (helm), built once and then cached, so no test file pays for a build while others run clusters beside it.
 */
export default async function setup(): Promise<void> {
  const progress = new ConsoleProgress();
  await doctor({ progress });
  await ensureNodeImage({ kubernetesVersion: DEFAULT_KUBERNETES_VERSION, cacheDir: defaultCacheDir(), progress });
  await ensureNodeImage({ kubernetesVersion: OTHER_VERSION, cacheDir: defaultCacheDir(), progress });
  await ensureWorkloadImages(Object.values(WORKLOAD_IMAGES), defaultCacheDir(), progress);
  await ensureLoadGeneratorImage(defaultCacheDir(), progress);
  await ensureHostTools(HOST_TOOLS, defaultCacheDir(), progress);
  // Debian packages two e2e files install on first use (the registry an "existing" cluster pushes to, and Chromium
  // for the report screenshots): installed here, before files run side by side and meet on dpkg's lock.
  if (!existsSync("/usr/bin/docker-registry")) await aptInstall(["docker-registry"], progress);
  findChromium();
}
