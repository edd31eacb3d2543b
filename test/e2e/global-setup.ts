import { spawn } from "node:child_process";
import { openSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { doctor } from "../../clusters/host/doctor.js";
import { isBuilt } from "../../clusters/images/build-lock.js";
import { defaultCacheDir, ensureNodeImage } from "../../clusters/images/builder.js";
import { ensureLoadGeneratorImage, ensureWorkloadImages, WORKLOAD_IMAGES } from "../../clusters/images/workloads.js";
import { ConsoleProgress } from "../../clusters/progress.js";
import { DEFAULT_KUBERNETES_VERSION } from "../../clusters/versions.js";
import { LATER_IMAGES, laterBuilds, OTHER_VERSION } from "./later-images.js";

export { OTHER_VERSION };

const here = path.dirname(fileURLToPath(import.meta.url));

/**
 * Before any e2e test: a working Docker engine, the default version's offline node image, the small workload
 * images and the load generator's image, built once and then cached. On a machine that lacks the rest (Traefik,
 * the JVM image, Helm and the other line's node image: about 16 minutes of both cores), the
 * tests start at once and a child builds those beside them (background-builds.ts); the teardown ends it if the
 * tests end first.
 */
export default async function setup(): Promise<() => Promise<void>> {
  const progress = new ConsoleProgress();
  const cacheDir = defaultCacheDir();
  await readyForClusters(progress, cacheDir);

  // Two projects name this file: the second call finds the child started by the first.
  if (process.env.AFTERSHOCK_BACKGROUND_BUILDS) return async () => undefined;
  const missing: string[] = [];
  for (const { what, ensure } of laterBuilds(progress, cacheDir)) if (!(await isBuilt(ensure))) missing.push(what);
  if (!missing.length) return async () => undefined;

  const log = path.join(cacheDir, "background-builds.log");
  const out = openSync(log, "w");
  const child = spawn("ionice", ["-c", "3", "nice", "-n", "19", process.execPath, "--import", "tsx", path.join(here, "background-builds.ts")], {
    detached: true,
    stdio: ["ignore", out, out],
  });
  process.env.AFTERSHOCK_BACKGROUND_BUILDS = String(child.pid);
  const started = Date.now();
  let exit: number | null | undefined;
  child.on("exit", (code) => {
    exit = code;
    const took = `${Math.round((Date.now() - started) / 1000)}s`;
    if (code === 0) progress.info(`background builds done in ${took}`);
    else progress.warn(`background builds failed after ${took} (exit ${code}); a test that needs them builds them itself. Log ${log}:\n${tail(log)}`);
  });
  progress.info(
    `building ${missing.join("; ")} in the background at the lowest priority (pid ${child.pid}, log ${log}); a test that needs them first waits for the build lock`,
  );
  return async () => {
    if (exit !== undefined) return;
    progress.warn(`tests ended before the background builds: stopping them (pid ${child.pid})`);
    try {
      process.kill(-child.pid!, "SIGTERM");
    } catch {
      /* already gone */
    }
  };
}

/**
 * What every cluster test needs before it starts: the host checked, the default version's offline node image, the
 * small workload images and the load generator's image (each built once, then found in the cache). The SSH lane's
 * setup (ssh-machines-setup.ts) needs this and nothing of the background builds.
 */
export async function readyForClusters(progress: ConsoleProgress, cacheDir: string): Promise<void> {
  // Checks only (unless AFTERSHOCK_FIX_HOST=1): a host that needs a change stops here with one line naming
  // `pnpm run doctor --fix --tests`, which also installs what the e2e files need (docker-registry, chromium and
  // openssh-server).
  await doctor({ progress, tests: true });
  await ensureNodeImage({ kubernetesVersion: DEFAULT_KUBERNETES_VERSION, cacheDir, progress });
  const now = Object.values(WORKLOAD_IMAGES).filter((r) => !LATER_IMAGES.includes(r));
  await ensureWorkloadImages(now, cacheDir, progress);
  await ensureLoadGeneratorImage(cacheDir, progress);
}

function tail(file: string): string {
  return readFileSync(file, "utf8").trim().split("\n").slice(-15).join("\n");
}
