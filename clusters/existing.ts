import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { ClusterAccess, ImageLoader } from "./contract.js";
import { docker } from "./docker.js";
import { AftershockError } from "./errors.js";
import { run, which, type RunOptions } from "./exec.js";
import { buildGoComponent, builtKubectl, type GoComponent } from "./images/go-build.js";
import { kubernetesComponent } from "./images/recipes.js";
import { ensureLoadGeneratorImage, ensureWorkloadImages } from "./images/workloads.js";
import { inClusterSideContainers } from "./in-cluster-sides.js";
import { apiErrorLine, apiStatus, connectKube, type KubeApi } from "./kube.js";
import { LABELS, ownerHost } from "./labels.js";
import { isAlive } from "./process.js";
import type { Progress } from "./progress.js";
import { withStep } from "./progress.js";
import { DEFAULT_KUBERNETES_VERSION, kubernetesRelease, PINNED } from "./versions.js";

const MIN = 60_000;

/**
 * A cluster Aftershock did not create, reached only through a kubeconfig (a platform team's staging
 * cluster). It offers the API and nothing else: no node shell, no machines to lose. Workload images reach it
 * through a registry the user names (pushed from here with crane), and so does the load generator, which then
 * runs as a pod in the run's namespace; without a registry, it can do neither. It is never deleted: a run's
 * cleanup there is its namespace.
 */
export interface ExistingTarget {
  kubeconfig: string;
  context?: string;
  /** host:port of a registry this host can push to and the cluster's nodes can pull from (plain HTTP). */
  registry?: string;
}

export function describeTarget(t: ExistingTarget): string {
  return `the existing cluster of ${t.kubeconfig}${t.context ? ` (context ${t.context})` : ""}`;
}

/** crane (go-containerregistry, Apache-2.0): pushes a saved image to a registry without Docker's daemon config. */
export function craneComponent(): GoComponent {
  return {
    name: "crane",
    version: PINNED.crane,
    requires: [{ module: "github.com/google/go-containerregistry", version: PINNED.crane }],
    outputs: [{ pkg: "github.com/google/go-containerregistry/cmd/crane", bin: "crane" }],
    budgetMs: 4 * MIN,
  };
}

/** Where a locally built image lives in the user's registry: aftershock.local/app:v1 → <registry>/aftershock/app:v1. */
export function registryRef(registry: string, ref: string): string {
  return `${registry}/${ref.replace(new RegExp(`^${PINNED.localRegistry.replace(/\./g, "\\.")}/`), "aftershock/")}`;
}

/** kubectl for this host: the one on PATH, else the one built with the node image (built now if missing). */
export async function hostKubectl(cacheDir: string, progress: Progress): Promise<string> {
  const onPath = await which("kubectl");
  if (onPath) return onPath;
  const built = builtKubectl(cacheDir);
  if (built) return built;
  const kube = await buildGoComponent(await kubernetesComponent(kubernetesRelease(DEFAULT_KUBERNETES_VERSION)), cacheDir, progress);
  return kube.bins.kubectl!;
}

/** Checks the kubeconfig and that its API answers, before anything is written to the cluster. */
export async function checkReachable(t: ExistingTarget): Promise<KubeApi> {
  if (!existsSync(t.kubeconfig)) throw new AftershockError("E_BAD_INPUT", `--kubeconfig ${t.kubeconfig}: no such file`);
  const api = connectKube(t.kubeconfig, t.context, 10_000);
  try {
    await api.core.listNamespace({ limit: 1 });
  } catch (e) {
    throw new AftershockError("E_CLUSTER", `${describeTarget(t)} does not answer at ${api.server}: ${apiErrorLine(e)}`);
  }
  return api;
}

export interface ExistingCluster extends ClusterAccess {
  /** Does nothing: the cluster is not this tool's to delete. */
  delete(): Promise<void>;
  howToReach(): string;
  readonly timings: Record<string, number>;
  /** How the run got it (journal and reports; the run's teardown then gives it back instead of deleting it). */
  readonly shared: string;
}

/** The run's view of an existing cluster: API, host kubectl, and image loading through the registry if one was named. */
export async function openExisting(t: ExistingTarget, runId: string, cacheDir: string, progress: Progress): Promise<ExistingCluster> {
  const t0 = performance.now();
  const api = await checkReachable(t);
  const kubectlBin = await hostKubectl(cacheDir, progress);
  const auth = ["--kubeconfig", t.kubeconfig, ...(t.context ? ["--context", t.context] : [])];
  const version = await api.core.listNode().then(
    (n) => n.items[0]?.status?.nodeInfo?.kubeletVersion ?? "",
    () => "",
  );
  const loader = t.registry ? registryLoader(t.registry, cacheDir, progress) : undefined;
  // With a registry, load runs inside the cluster: pods in the run's namespace, their image pushed there first.
  const sides = loader ? inClusterSideContainers({ api, runId, imageRef: (ref) => loader.refFor(ref), publish: (ref) => loader.loadImages([ref]) }) : undefined;
  const name = t.context ?? api.config.getCurrentContext();
  return {
    name,
    runId,
    kubernetesVersion: version || "unknown",
    kubeconfigPath: t.kubeconfig,
    ...(t.context ? { kubeContext: t.context } : {}),
    api,
    kubectl: (args: string[], opts?: RunOptions) => run(kubectlBin, [...auth, ...args], opts),
    ...(loader ? { images: loader } : {}),
    ...(sides ? { sides } : {}),
    timings: { totalMs: performance.now() - t0 },
    delete: async () => {},
    shared: "an existing cluster, not created by this tool and never deleted by it",
    howToReach: () => `${describeTarget(t)}: ${kubectlBin} ${auth.join(" ")} get namespaces`,
  };
}

function registryLoader(registry: string, cacheDir: string, progress: Progress): ImageLoader & { refFor(ref: string): string } {
  return {
    refFor: (ref) => registryRef(registry, ref),
    async loadImages(refs) {
      const crane = (await buildGoComponent(craneComponent(), cacheDir, progress)).bins.crane!;
      const dir = await mkdtemp(path.join(os.tmpdir(), "aftershock-push-"));
      try {
        for (const ref of refs) {
          const tar = path.join(dir, "image.tar");
          await withStep(progress, `Pushing ${ref} to ${registryRef(registry, ref)}`, 5 * MIN, async () => {
            await docker.run(["save", "-o", tar, ref], { timeoutMs: 5 * MIN });
            await run(crane, ["push", "--insecure", tar, registryRef(registry, ref)], { timeoutMs: 5 * MIN });
          });
        }
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
  };
}

/** Builds or finds what a run on an existing cluster needs on this host: workload images, the load generator, crane, kubectl. */
export async function prepareExisting(
  t: ExistingTarget,
  workloadImages: string[],
  cacheDir: string,
  progress: Progress,
  loadGenerator = false,
): Promise<{ ref: string; built: boolean; ms: number }> {
  const t0 = performance.now();
  await checkReachable(t);
  await ensureWorkloadImages(workloadImages, cacheDir, progress);
  if (t.registry && loadGenerator) await ensureLoadGeneratorImage(cacheDir, progress);
  if (t.registry && (workloadImages.length || loadGenerator)) await buildGoComponent(craneComponent(), cacheDir, progress);
  await hostKubectl(cacheDir, progress);
  return { ref: describeTarget(t), built: false, ms: performance.now() - t0 };
}

/**
 * Removes the namespaces of dead runs from an existing cluster (after a crash): only namespaces labelled as
 * Aftershock's, owned by a process of this host that is gone (or all of this host's with `all`).
 */
export async function gcExisting(t: ExistingTarget, all: boolean, progress: Progress): Promise<string[]> {
  const api = await checkReachable(t);
  const host = ownerHost();
  const spaces = await api.core.listNamespace({ labelSelector: `${LABELS.k8sManaged}=true` });
  const removed: string[] = [];
  for (const ns of spaces.items) {
    const owner = ns.metadata?.labels?.[LABELS.k8sOwner] ?? "";
    const [h, pid] = [owner.slice(0, owner.lastIndexOf(".")), Number(owner.slice(owner.lastIndexOf(".") + 1))];
    if (h !== host || (!all && isAlive(pid))) continue;
    const name = ns.metadata!.name!;
    await api.core.deleteNamespace({ name }).catch((e: unknown) => {
      if (apiStatus(e) !== 404) throw e;
    });
    progress.info(`deleted namespace ${name} (run ${ns.metadata?.labels?.[LABELS.k8sRun]}, owner ${owner})`);
    removed.push(name);
  }
  return removed;
}
