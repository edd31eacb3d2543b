import { spawn } from "node:child_process";
import { LABELS } from "../labels.js";
import { randomBytes } from "node:crypto";
import { chmod, copyFile, mkdir, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { ClusterFactory, NodeHandle, NodeLifecycle, NodeRole } from "../contract.js";
import { docker } from "../docker.js";
import { kindNodeRunArgs, nodeHandle, provisionNode, rebootNode, trustRegistry, waitNodesReady, type ContainerInspect } from "./nodes.js";
import { removeRunResources, runObjects } from "./run-objects.js";
import { KIND_CAPABILITIES, type Cluster, type ClusterInfo, type ClusterSpec, type CreateOptions, type Provider } from "./types.js";

export { KIND_CAPABILITIES, type Cluster, type ClusterInfo, type ClusterSpec, type CreateOptions, type Provider } from "./types.js";
export { kindNodeRunArgs, waitNodesReady, type ContainerInspect } from "./nodes.js";
export { removeRunResources, runObjects } from "./run-objects.js";
import { connectKube, type KubeApi } from "../kube.js";
import { AftershockError, CommandError, formatDuration, parseDuration, type Duration } from "../errors.js";
import { run, which, type RunOptions, type RunResult } from "../exec.js";
import { defaultCacheDir, ensureNodeImage } from "../images/builder.js";
import { buildGoComponent, builtKubectl } from "../images/go-build.js";
import { kindComponent } from "../images/recipes.js";
import { ensureE2eTest } from "../images/e2e-test.js";
import { ensureWorkloadImages, LOAD_GENERATOR_IMAGE } from "../images/workloads.js";
import { OWN_NODE_IMAGES, ownImage } from "../images/own.js";
import { publishedImages, type Published } from "../images/published.js";
import {
  cachedKind,
  chooseNodeImage,
  kindNotPublished,
  describeOrigins,
  downloadKind,
  publishedKind,
  pullPinned,
  type ImagesMode,
  type Origin,
} from "../images/source.js";
import { hostFacts } from "../host/facts.js";
import { kindSideContainers } from "./side-containers.js";
import type { Progress } from "../progress.js";
import { withStep } from "../progress.js";
import { registerTeardown } from "../teardown.js";
import { isAlive } from "../process.js";
import { sampleRunMemory, type MemorySampler } from "../memory.js";
import { pollUntil } from "../wait.js";
import { describeReleased, releaseNodes, type Released } from "./node-cgroups.js";
import { PINNED, profileFor } from "../versions.js";
import { checkClusterName } from "../input-checks.js";

const here = path.dirname(fileURLToPath(import.meta.url));

export function kindConfig(spec: ClusterSpec): string {
  const nodes = [...Array.from({ length: spec.controlPlanes }, () => "- role: control-plane"), ...Array.from({ length: spec.workers }, () => "- role: worker")];
  // From 1.35 the kubelet refuses to start on cgroup v1 unless told otherwise (KEP-5573); kind applies this to the
  // KubeletConfiguration kubeadm uploads, so joined nodes get it too.
  const patches = profileFor(spec.kubernetesVersion)?.kubeletFailCgroupV1Off
    ? ["kubeadmConfigPatches:", "- |", "  kind: KubeletConfiguration", "  failCgroupV1: false"]
    : [];
  return [
    "kind: Cluster",
    "apiVersion: kind.x-k8s.io/v1alpha4",
    "networking:",
    `  podSubnet: ${spec.podSubnet ?? "10.244.0.0/16"}`,
    ...patches,
    "nodes:",
    ...nodes,
    "",
  ].join("\n");
}

/**
 * What the docker wrapper runs in place of kind's load balancer image (AFTERSHOCK_IMAGE_ALIAS, "<kind's name>=<ours>"):
 * kind names it under an upstream name, which stays the user's; Aftershock's balancer is in the host's Docker under
 * its own name whenever the offline node image was built. Only clusters with several control planes have one.
 * Without our image (a node image from a registry, --image) kind runs and, if need be, pulls the image it names.
 */
export function loadBalancerAlias(spec: Pick<ClusterSpec, "controlPlanes" | "kubernetesVersion">, ourImagePresent: boolean): string | undefined {
  const lb = profileFor(spec.kubernetesVersion)?.loadBalancer;
  if (spec.controlPlanes < 2 || !lb || !ourImagePresent) return undefined;
  return `${lb.kindName}=${lb.localImage}`;
}

/** What a run's cluster needs, had before any container exists: see KindProvider.prepareImage. */
export interface PreparedImages {
  /** The node image kind runs. */
  ref: string;
  /** True when the node image was built for this run (minutes, outside its timeline). */
  built: boolean;
  ms: number;
  mode: ImagesMode;
  /** How each image and tool was had, for the console, the journal and the report. */
  origins: Origin[];
  kindBinary: string;
  /** Aftershock's images the node image lacks, loaded into the cluster once it is up. */
  toLoad: string[];
  /** Asked with `conformance: true`: Kubernetes' e2e.test of the version (built from its Go module, cached). */
  e2eTest?: string;
}

/** What attach() needs of a kind cluster whose containers exist. */
interface AttachOptions {
  name: string;
  runId: string;
  /** Its Kubernetes version. */
  version: string;
  kubeconfigPath: string;
  /** The kind binary and the environment it runs with (the docker wrapper, the run's labels). */
  kindBin: string;
  env: Record<string, string>;
  timings: Record<string, number>;
  /** Removes the cluster (and its reaper); called once, by the Cluster's delete(). */
  onDelete: () => Promise<void>;
}

/** What the actions of KindProvider.create hand on, once its config is written: kind's ActionContext. */
interface Creating {
  runId: string;
  name: string;
  spec: ClusterSpec;
  prepared: PreparedImages;
  timings: Record<string, number>;
  kindBin: string;
  env: Record<string, string>;
  kubeconfigPath: string;
  configPath: string;
  /** "1 control plane + 2 workers", for the status line. */
  shape: string;
  reaper: { kill(): void } | undefined;
  /** Deletes the cluster and everything of its run, then stops the reaper. */
  cleanup: () => Promise<void>;
  /** Takes the cleanup off the Ctrl-C teardown. */
  unregister: () => void;
}

export class KindProvider implements Provider {
  private readonly cacheDir: string;
  private readonly progress: Progress;
  private readonly images: ImagesMode;
  private readonly published: Published;
  private readonly prepared = new Map<string, Promise<PreparedImages & { told?: boolean }>>();
  private readonly e2eTests = new Map<string, Promise<{ path: string; origin: Origin }>>();

  constructor(opts: { cacheDir?: string; progress: Progress; images?: ImagesMode; published?: Published }) {
    this.cacheDir = opts.cacheDir ?? defaultCacheDir();
    this.progress = opts.progress;
    this.images = opts.images ?? "auto";
    this.published = opts.published ?? publishedImages();
  }

  /** The docker wrapper kind runs through, and the real docker it forwards to. */
  private async kindEnv(runId: string, name: string, keep: boolean): Promise<Record<string, string>> {
    const realDocker = await which("docker");
    if (!realDocker) throw new AftershockError("E_DOCKER_MISSING", "docker is not on PATH", { hint: "run pnpm run doctor" });
    const binDir = path.join(this.cacheDir, "wrapper-bin");
    await mkdir(binDir, { recursive: true });
    const target = path.join(binDir, "docker");
    await copyFile(path.join(here, "docker-wrapper.sh"), target);
    await chmod(target, 0o755);
    return {
      PATH: `${binDir}:${process.env.PATH ?? ""}`,
      AFTERSHOCK_REAL_DOCKER: realDocker,
      AFTERSHOCK_RUN_ID: runId,
      AFTERSHOCK_OWNER_PID: keep ? "0" : String(process.pid),
      AFTERSHOCK_KEEP: String(keep),
      KIND_EXPERIMENTAL_DOCKER_NETWORK: name,
    };
  }

  /**
   * Everything a run's cluster needs before any container exists, each had the way --images says (chosen once, in
   * the provider): the node image and kind (pulled and downloaded where published, else built), Aftershock's own
   * images a pulled node image lacks, the workload images and the load generator, and with `conformance` Kubernetes'
   * e2e.test of the version (always built: no registry publishes it as a Go module's build). Bad input and a pull that
   * cannot work fail here, with nothing created. Asked again for the same run, it answers from memory.
   */
  async prepareImage(o: {
    kubernetesVersion: string;
    image?: string;
    workloadImages?: string[];
    loadGenerator?: boolean;
    conformance?: boolean;
  }): Promise<PreparedImages> {
    const t0 = performance.now();
    const key = JSON.stringify([o.kubernetesVersion, o.image ?? ""]);
    let p = this.prepared.get(key);
    if (!p) {
      p = this.prepareNode(o);
      this.prepared.set(key, p);
      p.catch(() => this.prepared.delete(key));
    }
    const node = await p;
    const origins = [...node.origins];
    if (o.loadGenerator) origins.push(await ownImage(LOAD_GENERATOR_IMAGE, this.images, this.published, this.cacheDir, this.progress));
    await ensureWorkloadImages(o.workloadImages ?? [], this.cacheDir, this.progress);
    let e2eTest: string | undefined;
    if (o.conformance) {
      let e = this.e2eTests.get(o.kubernetesVersion);
      if (!e) {
        e = ensureE2eTest(o.kubernetesVersion, this.cacheDir, this.progress);
        this.e2eTests.set(o.kubernetesVersion, e);
        e.catch(() => this.e2eTests.delete(o.kubernetesVersion));
      }
      const got = await e;
      e2eTest = got.path;
      origins.push(got.origin);
    }
    if (origins.length > node.origins.length || !node.told) {
      node.told = true;
      this.progress.info(describeOrigins(this.images, origins).join("\n"));
    }
    // This call's own time: the node part counts once, in the call that waited for it (a later call finds it done).
    return { ...node, origins, ms: performance.now() - t0, ...(e2eTest ? { e2eTest } : {}) };
  }

  private async prepareNode(o: { kubernetesVersion: string; image?: string }): Promise<PreparedImages & { told?: boolean }> {
    const t0 = performance.now();
    const origins: Origin[] = [];
    const node = await this.prepareNodeImage(o, origins);
    // A node image that is not Aftershock's (kind's own, or one given) lacks the project's images: they are built
    // here (or pulled where a team republished them) and loaded into the cluster once it is up.
    const preloaded = ((await docker.imageLabels(node.ref))?.["aftershock.preloaded"] ?? "").split(",");
    const toLoad = OWN_NODE_IMAGES.filter((r) => !preloaded.includes(r));
    for (const ref of toLoad) origins.push(await ownImage(ref, this.images, this.published, this.cacheDir, this.progress));
    return { ref: node.ref, built: node.built, ms: performance.now() - t0, mode: this.images, origins, kindBinary: node.kindBinary, toLoad };
  }

  private async prepareNodeImage(
    o: { kubernetesVersion: string; image?: string },
    origins: Origin[],
  ): Promise<{ ref: string; built: boolean; kindBinary: string }> {
    const kindVersion = profileFor(o.kubernetesVersion)?.kind ?? PINNED.kind;
    if (o.image) {
      const present = await docker.imageExists(o.image);
      if (!present) {
        const pulled = await withStep(this.progress, `Pulling ${o.image}`, "5m", () => docker.run(["pull", o.image!], { allowFailure: true, timeout: "5m" }));
        if (pulled.exitCode !== 0) {
          throw new AftershockError(
            "E_BAD_INPUT",
            `image ${o.image} is not on this machine and could not be pulled: ${pulled.stderr.trim().split("\n").pop() ?? ""}`,
            { hint: "leave out --image to build the offline node image" },
          );
        }
      }
      origins.push({ what: "node image", ref: o.image, how: present ? "present" : "pulled", why: "--image" });
      return { ref: o.image, built: false, kindBinary: await this.kindBinary(kindVersion, origins) };
    }
    const choice = chooseNodeImage(this.images, o.kubernetesVersion, hostFacts().cgroup, this.published);
    if (choice.action === "refuse") throw new AftershockError("E_IMAGES", choice.message, { hint: choice.hint });
    let whyBuild = choice.why;
    if (choice.action === "pull") {
      const kindEntry = publishedKind(choice.entry.kind, this.published);
      if (!kindEntry && this.images === "pull") throw kindNotPublished(choice.entry, this.published);
      const pulled = await withStep(this.progress, `Pulling ${choice.entry.ref}`, "10m", (s) =>
        pullPinned(choice.entry.ref, { answerWithin: "30s", total: "10m", onLine: (l) => s.detail(l) }),
      );
      if (pulled.ok) {
        origins.push({ what: "node image", ref: choice.entry.ref, how: "pulled", ...(pulled.digest ? { pin: pulled.digest } : {}), why: choice.why });
        return { ref: choice.entry.ref, built: false, kindBinary: await this.kindBinary(choice.entry.kind, origins) };
      }
      if (this.images === "pull") throw new AftershockError("E_IMAGES", `--images pull: ${choice.entry.ref} could not be pulled: ${pulled.reason}`);
      whyBuild = `${choice.entry.ref.split("@")[0]} could not be pulled (${pulled.reason})`;
      this.progress.info(`building the node image instead: ${whyBuild}`);
    }
    const img = await ensureNodeImage({ kubernetesVersion: o.kubernetesVersion, cacheDir: this.cacheDir, progress: this.progress });
    const recipe = (await docker.imageLabels(img.ref))?.["aftershock.build-key"];
    origins.push({ what: "node image", ref: img.ref, how: img.cached ? "cached" : "built", ...(recipe ? { pin: `build key ${recipe}` } : {}), why: whyBuild });
    origins.push({ what: "kind", ref: img.kindBinary, how: "built", pin: `sigs.k8s.io/kind@${kindVersion}`, why: "built with the node image" });
    return { ref: img.ref, built: !img.cached, kindBinary: img.kindBinary };
  }

  /**
   * kind at `version` for a run whose node image was pulled: its published binary (downloaded once, checked by
   * sha256) unless --images build, else compiled from its Go module. Under --images pull a kind that is not
   * published, or cannot be downloaded, fails the run.
   */
  private async kindBinary(version: string, origins: Origin[]): Promise<string> {
    const entry = this.images === "build" ? undefined : publishedKind(version, this.published);
    if (entry) {
      const got = await downloadKind(entry, this.cacheDir, this.progress);
      if ("path" in got) {
        origins.push({
          what: "kind",
          ref: got.path,
          how: got.how === "cached" ? "present" : "downloaded",
          pin: `sha256 ${entry.sha256}`,
          why: `published at ${entry.url}`,
        });
        return got.path;
      }
      if (this.images === "pull") throw new AftershockError("E_IMAGES", `--images pull: kind ${version} could not be downloaded: ${got.reason}`);
      this.progress.info(`building kind ${version} instead: ${got.reason}`);
    } else if (this.images === "pull") {
      throw new AftershockError("E_IMAGES", `--images pull: kind ${version} is not published in ${this.published.source}`);
    }
    const bin = (await buildGoComponent(kindComponent(version), this.cacheDir, this.progress)).bins.kind!;
    origins.push({
      what: "kind",
      ref: bin,
      how: "built",
      pin: `sigs.k8s.io/kind@${version}`,
      why: entry ? "the download failed" : "not published for this version",
    });
    return bin;
  }

  /**
   * kind for a cluster that exists (open, delete): a downloaded copy in the cache when there is one, else the one
   * built here (compiled if need be). Never asks the network: deleting a cluster must work offline.
   */
  private async kindAtHand(version: string): Promise<string> {
    const entry = publishedKind(version, this.published);
    const downloaded = entry && cachedKind(entry, this.cacheDir);
    return downloaded ?? (await buildGoComponent(kindComponent(version), this.cacheDir, this.progress)).bins.kind!;
  }

  /** An existing cluster of this tool's (e.g. one kept with --keep), reached again by name. */
  async open(name: string): Promise<Cluster> {
    const info = (await this.list()).find((c) => c.name === name);
    if (!info) throw new AftershockError("E_BAD_INPUT", `no Aftershock cluster named ${name}`, { hint: "see pnpm cluster list" });
    const version = (await docker.run(["exec", info.nodes[0]!, "cat", "/kind/version"])).stdout.trim();
    const kindBin = await this.kindAtHand(profileFor(version)?.kind ?? PINNED.kind);
    const env = await this.kindEnv(info.runId, name, info.keep);
    const kubeconfigPath = path.join(this.cacheDir, "clusters", name, "kubeconfig");
    const onDelete = () => this.destroy(name, info.runId, kindBin, env);
    return this.attach({ name, runId: info.runId, version, kubeconfigPath, kindBin, env, timings: {}, onDelete });
  }

  /**
   * A new kind cluster, as kind's own create does it: a pipeline of small actions (check the spec → the images →
   * the config → kind create → attach and load → wait for Ready). Any failure after the config deletes what was
   * made (and exports kind's logs first when asked), unless retainOnFailure keeps it for debugging.
   */
  async create(spec: ClusterSpec, opts: CreateOptions = {}): Promise<Cluster> {
    const { runId, name } = await this.checkNew(spec);
    const timings: Record<string, number> = {};
    const t0 = performance.now();
    const prepared = await this.prepareImage({ kubernetesVersion: spec.kubernetesVersion, ...(spec.image ? { image: spec.image } : {}) });
    timings.imageMs = performance.now() - t0;
    const c = await this.configure(spec, opts, { runId, name, prepared, timings });
    try {
      await this.kindCreate(c);
      const cluster = await this.attachCreated(c);
      await this.waitReady(cluster, spec.readyBudget ?? "5m", timings);
      timings.totalMs = performance.now() - t0;
      return cluster;
    } catch (e) {
      throw await this.failedCreate(c, opts, e);
    }
  }

  /** Action "check": the spec's shape and run id, the cluster's name, and no cluster of that name yet. */
  private async checkNew(spec: ClusterSpec): Promise<{ runId: string; name: string }> {
    if (![1, 3].includes(spec.controlPlanes)) throw new AftershockError("E_BAD_INPUT", `control planes must be 1 or 3, got ${spec.controlPlanes}`);
    if (spec.workers < 0 || !Number.isInteger(spec.workers))
      throw new AftershockError("E_BAD_INPUT", `workers must be a whole number ≥ 0, got ${spec.workers}`);
    if (spec.runId !== undefined && !/^[0-9a-f]{8}$/.test(spec.runId))
      throw new AftershockError("E_BAD_INPUT", `run id must be 8 hex digits, got "${spec.runId}"`);
    const runId = spec.runId ?? randomBytes(4).toString("hex");
    const name = spec.name ?? `as-${runId}`;
    checkClusterName(name);
    if ((await docker.ids("container", [`label=io.x-k8s.kind.cluster=${name}`])).length) {
      throw new AftershockError("E_BAD_INPUT", `a cluster named ${name} already exists`, { hint: "pick another --name or delete it first" });
    }
    return { runId, name };
  }

  /**
   * Action "config": kind's config file and the kubeconfig's place, the environment kind runs with (the docker wrapper,
   * the load balancer's image), then the reaper and the Ctrl-C teardown, so anything made from here on is removed.
   */
  private async configure(
    spec: ClusterSpec,
    opts: CreateOptions,
    o: { runId: string; name: string; prepared: PreparedImages; timings: Record<string, number> },
  ): Promise<Creating> {
    const { runId, name } = o;
    const dir = path.join(this.cacheDir, "clusters", name);
    await mkdir(dir, { recursive: true });
    const kubeconfigPath = path.join(dir, "kubeconfig");
    const configPath = path.join(dir, "kind.yaml");
    await writeFile(configPath, kindConfig(spec));
    const env = await this.kindEnv(runId, name, !!opts.detached);
    const lb = spec.controlPlanes > 1 ? profileFor(spec.kubernetesVersion)?.loadBalancer : undefined;
    if (lb) {
      const alias = loadBalancerAlias(spec, await docker.imageExists(lb.localImage));
      if (alias) env.AFTERSHOCK_IMAGE_ALIAS = alias;
      else this.progress.info(`${lb.localImage} is not built here: kind runs its own load balancer image ${lb.kindName} (and pulls it if missing)`);
    }
    const kindBin = o.prepared.kindBinary;
    const reaper = opts.detached ? undefined : this.startReaper(runId, env.AFTERSHOCK_REAL_DOCKER!);
    const cleanup = async () => {
      await this.destroy(name, runId, kindBin, env);
      reaper?.kill();
    };
    const unregister = opts.detached ? () => {} : registerTeardown(`delete cluster ${name}`, cleanup);
    const shape = `${spec.controlPlanes} control plane${spec.controlPlanes > 1 ? "s" : ""} + ${spec.workers} worker${spec.workers === 1 ? "" : "s"}`;
    return { ...o, spec, kindBin, env, kubeconfigPath, configPath, shape, reaper, cleanup, unregister };
  }

  /** Action "create": `kind create cluster` with the config, not waiting (the nodes' readiness is waited for below). */
  private async kindCreate(c: Creating): Promise<void> {
    const { name, kindBin, env, timings } = c;
    const t1 = performance.now();
    const output: string[] = [];
    const args = ["create", "cluster", "--name", name, "--image", c.prepared.ref, "--config", c.configPath, "--kubeconfig", c.kubeconfigPath];
    await withStep(this.progress, `Creating cluster ${name} (${c.shape}, ${c.prepared.ref})`, "10m", (s) =>
      run(kindBin, [...args, "--wait", "0s", "--retain"], {
        env,
        timeout: "10m",
        onLine: (l) => {
          output.push(l);
          s.detail(l.replace(/^\s*[✓✗•]\s*/u, ""));
        },
      }).catch((e: unknown) => {
        throw e instanceof CommandError
          ? new AftershockError("E_CLUSTER", `kind create cluster failed after ${formatDuration(e.elapsedMs)}: ${summarizeKindFailure(output)}`, { cause: e })
          : e;
      }),
    );
    timings.kindCreateMs = performance.now() - t1;
  }

  /** Action "attach": the Cluster of the containers kind made, its nodes told to trust the insecure registries, the images it lacks loaded. */
  private async attachCreated(c: Creating): Promise<Cluster> {
    const { name, runId, spec, kindBin, env, timings, kubeconfigPath } = c;
    const onDelete = async () => {
      c.unregister();
      await c.cleanup();
    };
    const cluster = await this.attach({ name, runId, version: spec.kubernetesVersion, kubeconfigPath, kindBin, env, timings, onDelete });
    for (const r of spec.insecureRegistries ?? []) await trustRegistry(cluster.nodes, r);
    if (c.prepared.toLoad.length) await cluster.loadImages(c.prepared.toLoad);
    return cluster;
  }

  /** Action "wait": every node Ready within the budget. */
  private async waitReady(cluster: Cluster, budget: Duration, timings: Record<string, number>): Promise<void> {
    const t2 = performance.now();
    await withStep(this.progress, `Waiting for ${cluster.nodes.length} nodes = Ready`, budget, () => waitNodesReady(cluster, budget));
    timings.nodesReadyMs = performance.now() - t2;
  }

  /** After a failed action: keep what was made (retainOnFailure), or export kind's logs if asked and delete it; the error to throw. */
  private async failedCreate(c: Creating, opts: CreateOptions, e: unknown): Promise<unknown> {
    const { name, kindBin, env } = c;
    if (opts.retainOnFailure) {
      this.progress.warn(`keeping ${name} for debugging (--keep); delete it with: pnpm cluster delete ${name}`);
      c.unregister();
      c.reaper?.kill();
    } else {
      if (opts.logsDir) {
        await run(kindBin, ["export", "logs", opts.logsDir, "--name", name], { env, timeout: "2m", allowFailure: true }).catch(() => undefined);
      }
      c.unregister();
      await c.cleanup().catch((x: unknown) => this.progress.warn(`cleanup after failed create: ${String(x)}`));
    }
    if (e instanceof AftershockError && e.code !== "E_COMMAND") return e;
    return new AftershockError("E_CLUSTER", `creating cluster ${name} failed: ${(e as Error).message}`, { cause: e });
  }

  private startReaper(runId: string, realDocker: string): { kill(): void } {
    const child = spawn("bash", [path.join(here, "reaper.sh"), runId, String(process.pid), realDocker], { detached: true, stdio: "ignore" });
    child.unref();
    return {
      kill: () => {
        try {
          child.kill("SIGKILL");
        } catch {
          /* already gone */
        }
      },
    };
  }

  /** The Cluster of a kind cluster whose containers exist (created or opened again); `onDelete` removes it. */
  private async attach(o: AttachOptions): Promise<Cluster> {
    const { name, runId, version, kubeconfigPath, kindBin, env, timings, onDelete } = o;
    const nodes = await this.nodesOf(name, runId);
    if (!nodes.some((n) => n.role === "control-plane"))
      throw new AftershockError("E_CLUSTER", `cluster ${name} has no control-plane container labelled with run ${runId}`);
    // Nodes destroyed or provisioned during this run are not used for kubectl and default probes: a
    // destroyed one is gone, a provisioned one has no admin credentials until the runbook joins it.
    const outOfService = new Set<string>();
    const lifecycle = this.lifecycleOf(name, runId, nodes, outOfService, (n) => cluster.node(n));
    let deleted = false;
    let api: KubeApi | undefined;
    const kubectlCmd = await this.kubectlCommand(version);
    const cluster: Cluster = {
      name,
      runId,
      kubernetesVersion: version,
      kubeconfigPath,
      nodes,
      timings,
      controlPlane: () => {
        const cp = nodes.find((n) => n.role === "control-plane" && !outOfService.has(n.name));
        if (!cp) throw new AftershockError("E_CLUSTER", `cluster ${name} has no control-plane node in service (lost: ${[...outOfService].join(", ")})`);
        return cp;
      },
      node: (n) => {
        const h = nodes.find((x) => x.name === n || x.name === `${name}-${n}`);
        if (!h) throw new AftershockError("E_UNSAFE_TARGET", `${n} is not a node of cluster ${name} (nodes: ${nodes.map((x) => x.name).join(", ")})`);
        return h;
      },
      kubectl: (args, opts) => cluster.controlPlane().exec(["kubectl", "--kubeconfig=/etc/kubernetes/admin.conf", ...args], opts),
      get api() {
        return (api ??= connectKube(kubeconfigPath));
      },
      get shell() {
        return cluster;
      },
      get images() {
        return cluster;
      },
      sides: kindSideContainers({ cluster: name, runId, nodes: () => nodes }),
      lifecycle,
      reboot: lifecycle,
      sampleMemory: () => sampleRunMemory(runId),
      loadImages: async (refs) => {
        await withStep(this.progress, `Loading ${refs.join(", ")} into ${name}`, "5m", () =>
          run(kindBin, ["load", "docker-image", "--name", name, ...refs], { env, timeout: "5m" }),
        );
      },
      delete: async () => {
        if (deleted) return;
        deleted = true;
        await onDelete();
      },
      howToReach: () =>
        [
          `cluster ${name} is up (run ${runId}); it stays until you delete it:`,
          `  export KUBECONFIG=${kubeconfigPath}`,
          `  ${kubectlCmd} get nodes`,
          `  docker exec -it ${nodes[0]!.name} bash        # out-of-band shell on the first control plane`,
          `  pnpm cluster delete ${name}`,
        ].join("\n"),
      [Symbol.asyncDispose]: () => cluster.delete(),
    };
    return cluster;
  }

  /** Node lifecycle on kind: destroy a node and its disk, a fresh machine in its place, a reboot. */
  private lifecycleOf(name: string, runId: string, nodes: NodeHandle[], outOfService: Set<string>, node: (n: string) => NodeHandle): NodeLifecycle {
    // A frozen or I/O-limited cgroup under the node would keep `docker stop`/`rm -f` waiting.
    const release = async (n: string) => releaseNodes(await docker.ids("container", [`name=^${n}$`]));
    return {
      destroyNode: async (n) => {
        const h = node(n);
        await this.assertOwned(h.name, runId);
        await withStep(this.progress, `Destroying node ${h.name} and its disk`, "1m", async () => {
          await release(h.name);
          return docker.run(["rm", "--force", "--volumes", h.name], { timeout: "1m" });
        });
        outOfService.add(h.name);
      },
      provisionNode: async (n) => {
        const old = node(n);
        const fresh = await withStep(this.progress, `Provisioning a fresh machine for ${old.name}`, "3m", () => provisionNode(name, runId, old, nodes));
        nodes[nodes.indexOf(old)] = fresh;
        outOfService.add(fresh.name);
        return fresh;
      },
      rebootNode: async (n) => {
        const h = node(n);
        await this.assertOwned(h.name, runId);
        const a = await withStep(this.progress, `Rebooting ${h.name}`, "4m", async () => {
          await release(h.name);
          return rebootNode(h);
        });
        return a.before === a.after ? `back on ${a.after}` : `back on ${a.after} (was ${a.before})`;
      },
    };
  }

  /** kubectl for people on this host: the one on PATH, else the one built with the node image. */
  private kubectlCommand(version: string): Promise<string> {
    return kubectlForPeople(this.cacheDir, version);
  }

  /** The node containers of a run, sorted by name (first control plane first). */
  private async nodesOf(name: string, runId: string): Promise<NodeHandle[]> {
    const ids = await docker.run([
      "ps",
      "-a",
      "--filter",
      `label=io.x-k8s.kind.cluster=${name}`,
      "--filter",
      `label=${LABELS.run}=${runId}`,
      "--format",
      '{{.Names}}\t{{.Label "io.x-k8s.kind.role"}}',
    ]);
    return ids.stdout
      .split("\n")
      .filter(Boolean)
      .map((l) => l.split("\t") as [string, string])
      .filter(([, role]) => role === "control-plane" || role === "worker")
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([n, role]) => nodeHandle(n, role as NodeRole));
  }

  /**
   * `pnpm cluster replace-node`: a fresh, unjoined machine for a node of an Aftershock cluster whose
   * container is gone (a game-day player's stand-in for racking a new server).
   */
  async replaceLostNode(cluster: string, node: string): Promise<NodeHandle> {
    const info = (await this.list()).find((c) => c.name === cluster);
    if (!info) throw new AftershockError("E_BAD_INPUT", `no Aftershock cluster named ${cluster}`, { hint: "see pnpm cluster list" });
    const m = new RegExp(`^${cluster}-(control-plane|worker)\\d*$`).exec(node);
    if (!m) throw new AftershockError("E_BAD_INPUT", `${node} is not a node name of ${cluster} (expected ${cluster}-control-plane[N] or ${cluster}-worker[N])`);
    const nodes = await this.nodesOf(cluster, info.runId);
    return withStep(this.progress, `Provisioning a fresh machine for ${node}`, "3m", () =>
      provisionNode(cluster, info.runId, nodeHandle(node, m[1] as NodeRole), nodes),
    );
  }

  /** Refuses to touch a container that does not carry this run's label. */
  private async assertOwned(container: string, runId: string): Promise<void> {
    const r = await docker.run(["inspect", "--format", `{{index .Config.Labels "${LABELS.run}"}}`, container], { allowFailure: true });
    if (r.exitCode !== 0) throw new AftershockError("E_CLUSTER", `node ${container} does not exist`);
    if (r.stdout.trim() !== runId) throw new AftershockError("E_UNSAFE_TARGET", `container ${container} is not part of run ${runId}; refusing to touch it`);
  }

  /** Deletes the cluster and then everything else carrying the run label; verifies nothing is left. */
  private async destroy(name: string, runId: string, kindBin: string, env: Record<string, string>): Promise<void> {
    await withStep(this.progress, `Deleting cluster ${name}`, "10m", async () => {
      const said = (r: Released) => {
        const line = describeReleased(r);
        if (line) this.progress.info(line);
      };
      // A pod cgroup left frozen, or an I/O limit (blkio or io.max), would keep `docker rm -f` of its node waiting:
      // released before kind deletes.
      said(await releaseNodes(await docker.ids("container", [`label=${LABELS.run}=${runId}`])));
      await run(kindBin, ["delete", "cluster", "--name", name], { env, timeout: "2m", allowFailure: true });
      await removeRunResources(runId, "7m", said);
      await rm(path.join(this.cacheDir, "clusters", name), { recursive: true, force: true });
    });
  }

  async list(): Promise<ClusterInfo[]> {
    const r = await docker.run([
      "ps",
      "-a",
      "--filter",
      `label=${LABELS.managed}=cluster`,
      "--format",
      `{{.Names}}\t{{.Label "io.x-k8s.kind.cluster"}}\t{{.Label "${LABELS.run}"}}\t{{.Label "${LABELS.ownerPid}"}}\t{{.Label "${LABELS.keep}"}}`,
    ]);
    const byName = new Map<string, ClusterInfo>();
    for (const l of r.stdout.split("\n").filter(Boolean)) {
      const [node, cluster, runId, pid, keep] = l.split("\t") as [string, string, string, string, string];
      const c = byName.get(cluster) ?? { name: cluster, runId, ownerPid: Number(pid), ownerAlive: isAlive(Number(pid)), keep: keep === "true", nodes: [] };
      c.nodes.push(node);
      byName.set(cluster, c);
    }
    return [...byName.values()];
  }

  async deleteByName(name: string): Promise<void> {
    const info = (await this.list()).find((c) => c.name === name);
    if (!info) {
      const foreign = await docker.ids("container", [`label=io.x-k8s.kind.cluster=${name}`]);
      if (foreign.length)
        throw new AftershockError("E_UNSAFE_TARGET", `cluster ${name} was not created by Aftershock (no aftershock.run label); refusing to delete it`);
      throw new AftershockError("E_BAD_INPUT", `no Aftershock cluster named ${name}`, { hint: "see pnpm cluster list" });
    }
    const kindBin = await this.kindAtHand(PINNED.kind);
    await this.destroy(name, info.runId, kindBin, await this.kindEnv(info.runId, name, info.keep));
  }
}

/**
 * Clusters for scenarios: the kind provider, with an image given on the command line or built offline. A
 * kept cluster (--keep) is created detached: no reaper, no Ctrl-C teardown, labelled as kept for
 * `pnpm cluster list` and left alone by `pnpm gc`.
 */
export function kindClusters(progress: Progress, images: ImagesMode = "auto"): ClusterFactory {
  const provider = new KindProvider({ cacheDir: defaultCacheDir(), progress, images });
  return {
    capabilities: KIND_CAPABILITIES,
    target: "a kind cluster",
    prepare: (o) => provider.prepareImage(o),
    create: (s) =>
      provider.create(
        { controlPlanes: s.controlPlanes, workers: s.workers, kubernetesVersion: s.kubernetesVersion, runId: s.runId, ...(s.image ? { image: s.image } : {}) },
        { detached: !!s.keep },
      ),
  };
}

/** kubectl for people on this host: "kubectl" when one is on PATH, else the path of the one built with the node image. */
export async function kubectlForPeople(cacheDir: string, version: string): Promise<string> {
  if (await which("kubectl")) return "kubectl";
  return builtKubectl(cacheDir, version) ?? builtKubectl(cacheDir) ?? "kubectl";
}

/** The lines of kind's output that say what went wrong, without its Go stack trace. */
export function summarizeKindFailure(lines: string[]): string {
  const wanted = lines.filter((l) =>
    /^ERROR: |error execution phase|timed out waiting|\[kubelet-check\] .*(failed|unhealthy)|unable to|not found/i.test(l.trim()),
  );
  const picked = (wanted.length ? wanted : lines.slice(-3)).map((l) => l.trim()).map((l) => (l.length > 300 ? l.slice(0, 297) + "..." : l));
  return [...new Set(picked)].slice(0, 4).join(" | ") || "no output";
}
