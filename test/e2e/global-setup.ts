import { doctor } from "../../clusters/host/doctor.js";
import { defaultCacheDir, ensureNodeImage } from "../../clusters/images/builder.js";
import { ConsoleProgress } from "../../clusters/progress.js";
import { DEFAULT_KUBERNETES_VERSION } from "../../clusters/versions.js";

/** Before any e2e test: a working Docker engine and the offline node image (built once, then cached). */
export default async function setup(): Promise<void> {
  const progress = new ConsoleProgress();
  await doctor({ progress });
  await ensureNodeImage({ kubernetesVersion: DEFAULT_KUBERNETES_VERSION, cacheDir: defaultCacheDir(), progress });
}
