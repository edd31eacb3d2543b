import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { readFileSync } from "node:fs";
import { parse } from "yaml";
import {
  nodeCommandFeed,
  type Capability,
  type ClusterAccess,
  type ClusterFactory,
  type ImageLoader,
  type NodeShell,
  type Offers,
  type RunGuard,
} from "./contract.js";
import { apiLeaseStore } from "./cluster-lease.js";
import { matchInventory, type Inventory, type NodeFacts } from "./ssh/inventory.js";
import { sshGuard } from "./ssh/preflight.js";
import { closeSshSession, openSshSession, SSH_CAPABILITIES, sshNode, sshNodeShell, sshReboot } from "./ssh/ssh-node.js";
import { docker } from "./docker.js";
import { AftershockError } from "./errors.js";
import { run, which, type RunOptions } from "./exec.js";
import { defaultCacheDir } from "./images/builder.js";
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

/**
 * A cluster Aftershock did not create, reached through a kubeconfig (a platform team's staging cluster) and, with
 * --nodes, its machines over ssh (node-shell and node-reboot, never node-lifecycle: nothing here can make a machine).
 * Without --nodes it offers the API and nothing else. Workload images reach it
 * through a registry the user names (pushed from here with crane), and so does the load generator, which then
 * runs as a pod in the run's namespace; without a registry, it can do neither. It is never deleted: a run's
 * cleanup there is its namespace.
 */
export interface ExistingTarget {
  kubeconfig: string;
  context?: string;
  /** host:port of a registry this host can push to and the cluster's nodes can pull from (plain HTTP). */
  registry?: string;
  /** --nodes: how each machine is reached over ssh (read and checked before anything is created). */
  inventory?: Inventory;
  /** --allow-cluster-faults: the kubeconfig context the user allows cluster-scoped faults on (checked to be the one in use). */
  allowClusterFaults?: string;
}

/** The context a target is reached with: --context, else the kubeconfig's current-context (read from the file, no network). */
export function targetContext(t: Pick<ExistingTarget, "kubeconfig" | "context">): string {
  if (t.context) return t.context;
  let doc: { "current-context"?: unknown } | undefined;
  try {
    doc = parse(readFileSync(t.kubeconfig, "utf8")) as { "current-context"?: unknown };
  } catch (e) {
    throw new AftershockError("E_BAD_INPUT", `cannot read kubeconfig ${t.kubeconfig}: ${(e as Error).message.split("\n")[0]}`);
  }
  const ctx = doc?.["current-context"];
  if (typeof ctx !== "string" || !ctx)
    throw new AftershockError("E_BAD_INPUT", `kubeconfig ${t.kubeconfig} has no current-context`, { hint: "give --context NAME" });
  return ctx;
}

/**
 * --allow-cluster-faults must name the context in use exactly: a typo, or a kubeconfig whose current context moved to
 * production since the command was written, is refused (E_REFUSED, exit 2) before anything is created.
 */
export function checkAllowance(allow: string | undefined, context: string): void {
  if (allow !== undefined && allow !== context)
    throw new AftershockError("E_REFUSED", `--allow-cluster-faults ${allow} does not name the context in use, ${context}; nothing was run`, {
      hint: `the kubeconfig's context decides which cluster is hit: name it exactly (--allow-cluster-faults ${context}) or pick another with --context`,
    });
}

/** A scenario that changes the whole cluster, on a cluster this tool did not create: refused unless the run allowed it for this context. */
export function refuseClusterFaults(s: { id: string; scope: "cluster" | "namespace" }, t: ExistingTarget, context: string): void {
  if (s.scope !== "cluster") return;
  checkAllowance(t.allowClusterFaults, context);
  if (t.allowClusterFaults === undefined)
    throw new AftershockError(
      "E_REFUSED",
      `scenario ${s.id} changes the whole cluster, and ${describeTarget(t)} was not created by this tool; nothing was run`,
      {
        hint: `to allow it on this cluster, add --allow-cluster-faults ${context} (its context, exactly); --dry-run shows every command first`,
      },
    );
}

/**
 * What an existing cluster offers through a registry the user names (--registry), declared once: its workload images
 * pushed there, and load as pods in the run's namespace pulling the load generator from it.
 */
export const REGISTRY_CAPABILITIES = ["image-loading", "load-generator"] as const satisfies readonly Capability[];

/** What an existing cluster offers besides the API: the registry's capabilities with --registry, the machines' with --nodes. */
export function existingCapabilities(t: Pick<ExistingTarget, "registry" | "inventory">): Capability[] {
  return [...(t.registry ? REGISTRY_CAPABILITIES : []), ...(t.inventory ? SSH_CAPABILITIES : [])];
}

/** A cluster this tool did not create: the API, and image loading and in-cluster load through --registry if given. Never deleted. */
export function existingClusters(t: ExistingTarget, progress: Progress): ClusterFactory {
  return {
    capabilities: existingCapabilities(t),
    target: `${describeTarget(t)}${t.registry ? "" : " (no --registry)"}`,
    // Whole-cluster faults only where the run allowed them for the context in use (checked when the flags were read).
    scopes: t.allowClusterFaults !== undefined ? ["cluster", "namespace"] : ["namespace"],
    prepare: (o) => prepareExisting(t, o.workloadImages ?? [], defaultCacheDir(), progress, !!o.loadGenerator),
    create: (s) => openExisting(t, s.runId, defaultCacheDir(), progress),
  };
}

export function describeTarget(t: ExistingTarget): string {
  return `the existing cluster of ${t.kubeconfig}${t.context ? ` (context ${t.context})` : ""}${t.inventory ? ` with ${t.inventory.nodes.length} machines over ssh (--nodes ${t.inventory.file})` : ""}`;
}

/** The cluster's Nodes as the inventory check and the preflight read them. */
export async function nodeFacts(api: KubeApi): Promise<NodeFacts[]> {
  const list = await api.core.listNode();
  return list.items.map((n) => ({
    name: n.metadata?.name ?? "",
    labels: n.metadata?.labels ?? {},
    ready: n.status?.conditions?.find((c) => c.type === "Ready")?.status === "True",
  }));
}

/** The inventory checked against the cluster's Nodes (names and roles), before anything is written; E_BAD_INPUT on a mismatch. */
export async function checkInventory(t: ExistingTarget, api: KubeApi) {
  if (!t.inventory) return undefined;
  const facts = await nodeFacts(api).catch((e: unknown) => {
    throw new AftershockError("E_CLUSTER", `cannot list the Nodes of ${describeTarget(t)}: ${apiErrorLine(e)}`);
  });
  return matchInventory(t.inventory, facts);
}

/** crane (go-containerregistry, Apache-2.0): pushes a saved image to a registry without Docker's daemon config. */
export function craneComponent(): GoComponent {
  return {
    name: "crane",
    version: PINNED.crane,
    requires: [{ module: "github.com/google/go-containerregistry", version: PINNED.crane }],
    outputs: [{ pkg: "github.com/google/go-containerregistry/cmd/crane", bin: "crane" }],
    budget: "4m",
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
  const api = connectKube(t.kubeconfig, t.context, "10s");
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
  readonly shell?: NodeShell;
  readonly guard?: RunGuard;
  readonly timings: Record<string, number>;
  /** How the run got it (journal and reports; the run's teardown then gives it back instead of deleting it). */
  readonly shared: string;
}

/**
 * The run's view of an existing cluster: API, host kubectl, image loading through the registry if one was named, and,
 * with an inventory, its machines over ssh (node shell, reboots, the run guard). Nothing is written to the cluster here.
 */
export async function openExisting(t: ExistingTarget, runId: string, cacheDir: string, progress: Progress): Promise<ExistingCluster> {
  const t0 = performance.now();
  const api = await checkReachable(t);
  const kubectlBin = await hostKubectl(cacheDir, progress);
  const auth = ["--kubeconfig", t.kubeconfig, ...(t.context ? ["--context", t.context] : [])];
  const version = await api.core.listNode().then(
    (n) => n.items[0]?.status?.nodeInfo?.kubeletVersion ?? "",
    () => "",
  );
  const registry = t.registry ? registryOffers(t.registry, api, runId, cacheDir, progress) : undefined;
  const name = t.context ?? api.config.getCurrentContext();
  const machines = t.inventory ? await openMachines(t, api, runId) : undefined;
  return {
    name,
    runId,
    kubernetesVersion: version || "unknown",
    kubeconfigPath: t.kubeconfig,
    ...(t.context ? { kubeContext: t.context } : {}),
    api,
    kubectl: (args: string[], opts?: RunOptions) => run(kubectlBin, [...auth, ...args], opts),
    ...(registry ? { images: registry.images, sides: registry.sides } : {}),
    ...(machines ? { shell: machines.shell, reboot: machines.reboot, guard: machines.guard, nodeCommands: machines.commands } : {}),
    timings: { totalMs: performance.now() - t0 },
    // Nothing of the cluster is deleted: the lock is released and the ssh connections closed.
    delete: async () => {
      await machines?.close();
    },
    shared: "an existing cluster, not created by this tool and never deleted by it",
    howToReach: () => `${describeTarget(t)}: ${kubectlBin} ${auth.join(" ")} get namespaces`,
  };
}

/**
 * The inventory's machines: checked against the Nodes, each one asked to answer over ssh (in parallel, within the
 * connect budget), then the node shell, reboots and the guard. Nothing is written to the cluster or the machines.
 */
async function openMachines(
  t: ExistingTarget,
  api: KubeApi,
  runId: string,
): Promise<Offers<(typeof SSH_CAPABILITIES)[number]> & { guard: RunGuard; commands: ReturnType<typeof nodeCommandFeed>; close(): Promise<void> }> {
  const inv = t.inventory!;
  const roles = (await checkInventory(t, api))!;
  const session = await openSshSession(runId);
  // Every command on the machines, the guard's too, is heard by the run (its journal and report list them).
  const commands = nodeCommandFeed();
  const handles = inv.nodes.map((n) => sshNode(n, roles.find((r) => r.name === n.name)!.role, session, commands.emit));
  try {
    const answers = await Promise.allSettled(handles.map((h) => h.exec(["true"], { timeout: "30s" })));
    const silent = answers.flatMap((a, i) => (a.status === "rejected" ? [`${handles[i]!.name} (${(a.reason as Error).message})`] : []));
    if (silent.length) throw new AftershockError("E_CLUSTER", `not reachable over ssh: ${silent.join("; ")}`, { hint: `check --nodes ${inv.file}` });
  } catch (e) {
    await closeSshSession(session, inv.nodes);
    throw e;
  }
  const shell = sshNodeShell(t.context ?? api.config.getCurrentContext(), handles);
  const guard = sshGuard({
    runId,
    shell,
    listNodes: async () => (await nodeFacts(api)).map((n) => ({ name: n.name, ready: n.ready })),
    leases: apiLeaseStore(api),
  });
  return {
    shell,
    reboot: sshReboot(inv.nodes, shell, session),
    guard,
    commands,
    close: async () => {
      await guard.release().catch(() => undefined);
      await closeSshSession(session, inv.nodes);
    },
  };
}

/** REGISTRY_CAPABILITIES: images pushed to the registry, and load inside the cluster (pods in the run's namespace, their image pushed there first). */
function registryOffers(registry: string, api: KubeApi, runId: string, cacheDir: string, progress: Progress): Offers<(typeof REGISTRY_CAPABILITIES)[number]> {
  const images = registryLoader(registry, cacheDir, progress);
  return { images, sides: inClusterSideContainers({ api, runId, imageRef: (ref) => images.refFor(ref), publish: (ref) => images.loadImages([ref]) }) };
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
          await withStep(progress, `Pushing ${ref} to ${registryRef(registry, ref)}`, "5m", async () => {
            await docker.run(["save", "-o", tar, ref], { timeout: "5m" });
            await run(crane, ["push", "--insecure", tar, registryRef(registry, ref)], { timeout: "5m" });
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
  // The inventory against the Nodes, before any image is built or anything created.
  await checkInventory(t, await checkReachable(t));
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
