import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readdirSync } from "node:fs";
import { chmod, copyFile, mkdir, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { docker } from "../docker.js";
import { AftershockError, CommandError, formatDuration } from "../errors.js";
import { run, which, type RunOptions, type RunResult } from "../exec.js";
import { defaultCacheDir, ensureNodeImage } from "../images/builder.js";
import { buildGoComponent } from "../images/go-build.js";
import { kindComponent } from "../images/recipes.js";
import type { Progress } from "../progress.js";
import { withStep } from "../progress.js";
import { registerTeardown } from "../teardown.js";
import { isAlive } from "../process.js";
import { sampleRunMemory, type MemorySampler } from "../memory.js";
import { pollUntil } from "../wait.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const MIN = 60_000;

export interface ClusterSpec {
  controlPlanes: number; // 1 or 3
  workers: number;
  kubernetesVersion: string;
  /** A ready-made node image (e.g. kindest/node:v1.29.14 where a registry is reachable); built offline when absent. */
  image?: string;
  name?: string;
  /** How long to wait for every node to be Ready after kind returns (default 5m). */
  readyBudgetMs?: number;
  podSubnet?: string;
  /** Run id for the labels (8 hex digits); random when absent. */
  runId?: string;
}

export interface CreateOptions {
  /** Leave what was created in place when creation fails, for debugging. */
  retainOnFailure?: boolean;
  /** The cluster outlives this process (pnpm cluster create): no reaper, and gc leaves it alone. */
  detached?: boolean;
  /** Where `kind export logs` goes when creation fails. */
  logsDir?: string;
}

export type NodeRole = "control-plane" | "worker";

/** A node container, reached out of band with docker exec; works while the API server is down. */
export interface NodeHandle {
  readonly name: string;
  readonly role: NodeRole;
  exec(argv: string[], opts?: RunOptions): Promise<RunResult>;
  /** Runs a bash script in the node. */
  sh(script: string, opts?: RunOptions): Promise<RunResult>;
}

export interface ClusterInfo {
  name: string;
  runId: string;
  ownerPid: number;
  ownerAlive: boolean;
  keep: boolean;
  nodes: string[];
}

/** Small optional capability, as in e2e-framework: providers that can load local images into nodes. */
export interface ImageLoader {
  loadImages(refs: string[]): Promise<void>;
}

/**
 * Small optional capability: losing a node for good and providing a fresh machine in its place. kind
 * cannot add a node to a running cluster; this does what kind does for one node (same image, network,
 * labels and name) and stops before kubeadm, which is the runbook's business.
 */
export interface NodeLifecycle {
  /**
   * Removes the node's container and its /var volume: the machine and its disk are gone. The Node object
   * and, for a control plane, its etcd member stay behind, as after a hardware failure.
   */
  destroyNode(name: string): Promise<void>;
  /**
   * Starts an empty machine for a lost node: same name, image, network and labels as its role's
   * siblings; systemd and containerd running, images preloaded, nothing joined. Until the cluster is
   * attached again, kubectl and default probes keep using a surviving control plane.
   */
  provisionNode(name: string): Promise<NodeHandle>;
}

export interface Cluster extends ImageLoader, AsyncDisposable {
  readonly name: string;
  readonly runId: string;
  readonly kubernetesVersion: string;
  readonly kubeconfigPath: string;
  readonly nodes: readonly NodeHandle[];
  readonly timings: Record<string, number>;
  controlPlane(): NodeHandle;
  node(name: string): NodeHandle;
  /** kubectl with the cluster's admin credentials, run inside the first control-plane node still in service. */
  kubectl(args: string[], opts?: RunOptions): Promise<RunResult>;
  readonly lifecycle: NodeLifecycle;
  delete(): Promise<void>;
  howToReach(): string;
  /** Peak memory of the cluster's containers (nodes and load balancer) from `docker stats`. */
  sampleMemory(): MemorySampler;
}

export interface Provider {
  create(spec: ClusterSpec, opts?: CreateOptions): Promise<Cluster>;
  list(): Promise<ClusterInfo[]>;
  deleteByName(name: string): Promise<void>;
}

const NAME_RE = /^[a-z0-9][a-z0-9-]{0,30}$/;

export function kindConfig(spec: ClusterSpec): string {
  const nodes = [
    ...Array.from({ length: spec.controlPlanes }, () => "- role: control-plane"),
    ...Array.from({ length: spec.workers }, () => "- role: worker"),
  ];
  return [
    "kind: Cluster",
    "apiVersion: kind.x-k8s.io/v1alpha4",
    "networking:",
    `  podSubnet: ${spec.podSubnet ?? "10.244.0.0/16"}`,
    "nodes:",
    ...nodes,
    "",
  ].join("\n");
}


export class KindProvider implements Provider {
  private readonly cacheDir: string;
  private readonly progress: Progress;

  constructor(opts: { cacheDir?: string; progress: Progress }) {
    this.cacheDir = opts.cacheDir ?? defaultCacheDir();
    this.progress = opts.progress;
  }

  /** The docker wrapper kind runs through, and the real docker it forwards to. */
  private async kindEnv(runId: string, name: string, keep: boolean): Promise<Record<string, string>> {
    const realDocker = await which("docker");
    if (!realDocker) throw new AftershockError("E_DOCKER_MISSING", "docker is not on PATH", { hint: "run pnpm doctor" });
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
   * The node image for a run, before any container exists: a given image must be there (or be pulled now),
   * otherwise the offline image is found or built. Bad input fails here, with nothing created.
   */
  async prepareImage(o: { kubernetesVersion: string; image?: string }): Promise<{ ref: string; built: boolean; ms: number }> {
    const t0 = performance.now();
    if (o.image) {
      await buildGoComponent(kindComponent(), this.cacheDir, this.progress);
      if (!(await docker.imageExists(o.image))) {
        const pulled = await withStep(this.progress, `Pulling ${o.image}`, 5 * MIN, () => docker.run(["pull", o.image!], { allowFailure: true, timeoutMs: 5 * MIN }));
        if (pulled.exitCode !== 0) {
          throw new AftershockError("E_BAD_INPUT", `image ${o.image} is not on this machine and could not be pulled: ${pulled.stderr.trim().split("\n").pop() ?? ""}`,
            { hint: "leave out --image to build the offline node image" });
        }
      }
      return { ref: o.image, built: false, ms: performance.now() - t0 };
    }
    const img = await ensureNodeImage({ kubernetesVersion: o.kubernetesVersion, cacheDir: this.cacheDir, progress: this.progress });
    return { ref: img.ref, built: !img.cached, ms: performance.now() - t0 };
  }

  /** An existing cluster of this tool's (e.g. one kept with --keep), reached again by name. */
  async open(name: string): Promise<Cluster> {
    const info = (await this.list()).find((c) => c.name === name);
    if (!info) throw new AftershockError("E_BAD_INPUT", `no Aftershock cluster named ${name}`, { hint: "see pnpm cluster list" });
    const kindBin = (await buildGoComponent(kindComponent(), this.cacheDir, this.progress)).bins.kind!;
    const env = await this.kindEnv(info.runId, name, info.keep);
    const version = (await docker.run(["exec", info.nodes[0]!, "cat", "/kind/version"])).stdout.trim();
    const kubeconfigPath = path.join(this.cacheDir, "clusters", name, "kubeconfig");
    return this.attach(name, info.runId, version, kubeconfigPath, kindBin, env, {}, () => this.destroy(name, info.runId, kindBin, env));
  }

  async create(spec: ClusterSpec, opts: CreateOptions = {}): Promise<Cluster> {
    if (![1, 3].includes(spec.controlPlanes)) throw new AftershockError("E_BAD_INPUT", `control planes must be 1 or 3, got ${spec.controlPlanes}`);
    if (spec.workers < 0 || !Number.isInteger(spec.workers)) throw new AftershockError("E_BAD_INPUT", `workers must be a whole number ≥ 0, got ${spec.workers}`);
    if (spec.runId !== undefined && !/^[0-9a-f]{8}$/.test(spec.runId)) throw new AftershockError("E_BAD_INPUT", `run id must be 8 hex digits, got "${spec.runId}"`);
    const runId = spec.runId ?? randomBytes(4).toString("hex");
    const name = spec.name ?? `as-${runId}`;
    if (!NAME_RE.test(name)) throw new AftershockError("E_BAD_INPUT", `cluster name "${name}" must be lower-case letters, digits and dashes (≤ 31)`);
    if ((await docker.ids("container", [`label=io.x-k8s.kind.cluster=${name}`])).length) {
      throw new AftershockError("E_BAD_INPUT", `a cluster named ${name} already exists`, { hint: "pick another --name or delete it first" });
    }
    const timings: Record<string, number> = {};
    const t0 = performance.now();

    const { ref: image } = await this.prepareImage({ kubernetesVersion: spec.kubernetesVersion, ...(spec.image ? { image: spec.image } : {}) });
    const kindBin = (await buildGoComponent(kindComponent(), this.cacheDir, this.progress)).bins.kind!;
    timings.imageMs = performance.now() - t0;

    const dir = path.join(this.cacheDir, "clusters", name);
    await mkdir(dir, { recursive: true });
    const kubeconfigPath = path.join(dir, "kubeconfig");
    const configPath = path.join(dir, "kind.yaml");
    await writeFile(configPath, kindConfig(spec));
    const env = await this.kindEnv(runId, name, !!opts.detached);
    const reaper = opts.detached ? undefined : this.startReaper(runId, env.AFTERSHOCK_REAL_DOCKER!);
    const cleanup = async () => {
      await this.destroy(name, runId, kindBin, env);
      reaper?.kill();
    };
    const unregister = opts.detached ? () => {} : registerTeardown(`delete cluster ${name}`, cleanup);

    const shape = `${spec.controlPlanes} control plane${spec.controlPlanes > 1 ? "s" : ""} + ${spec.workers} worker${spec.workers === 1 ? "" : "s"}`;
    try {
      const t1 = performance.now();
      const output: string[] = [];
      await withStep(this.progress, `Creating cluster ${name} (${shape}, ${image})`, 10 * MIN, (s) =>
        run(kindBin, ["create", "cluster", "--name", name, "--image", image, "--config", configPath, "--kubeconfig", kubeconfigPath, "--wait", "0s", "--retain"], {
          env, timeoutMs: 10 * MIN, onLine: (l) => { output.push(l); s.detail(l.replace(/^\s*[✓✗•]\s*/u, "")); },
        }).catch((e: unknown) => {
          throw e instanceof CommandError ? new AftershockError("E_CLUSTER", `kind create cluster failed after ${formatDuration(e.elapsedMs)}: ${summarizeKindFailure(output)}`, { cause: e }) : e;
        }));
      timings.kindCreateMs = performance.now() - t1;
      const cluster = await this.attach(name, runId, spec.kubernetesVersion, kubeconfigPath, kindBin, env, timings, async () => {
        unregister();
        await cleanup();
      });
      const budget = spec.readyBudgetMs ?? 5 * MIN;
      const t2 = performance.now();
      await withStep(this.progress, `Waiting for ${cluster.nodes.length} nodes = Ready`, budget, () => waitNodesReady(cluster, budget));
      timings.nodesReadyMs = performance.now() - t2;
      timings.totalMs = performance.now() - t0;
      return cluster;
    } catch (e) {
      if (opts.retainOnFailure) {
        this.progress.warn(`keeping ${name} for debugging (--keep); delete it with: pnpm cluster delete ${name}`);
        unregister();
        reaper?.kill();
      } else {
        if (opts.logsDir) {
          await run(kindBin, ["export", "logs", opts.logsDir, "--name", name], { env, timeoutMs: 2 * MIN, allowFailure: true }).catch(() => undefined);
        }
        unregister();
        await cleanup().catch((c: unknown) => this.progress.warn(`cleanup after failed create: ${String(c)}`));
      }
      if (e instanceof AftershockError && e.code !== "E_COMMAND") throw e;
      throw new AftershockError("E_CLUSTER", `creating cluster ${name} failed: ${(e as Error).message}`, { cause: e });
    }
  }

  private startReaper(runId: string, realDocker: string): { kill(): void } {
    const child = spawn("bash", [path.join(here, "reaper.sh"), runId, String(process.pid), realDocker], { detached: true, stdio: "ignore" });
    child.unref();
    return { kill: () => { try { child.kill("SIGKILL"); } catch { /* already gone */ } } };
  }

  private async attach(name: string, runId: string, version: string, kubeconfigPath: string, kindBin: string, env: Record<string, string>, timings: Record<string, number>, onDelete: () => Promise<void>): Promise<Cluster> {
    const nodes = await this.nodesOf(name, runId);
    if (!nodes.some((n) => n.role === "control-plane")) throw new AftershockError("E_CLUSTER", `cluster ${name} has no control-plane container labelled with run ${runId}`);
    // Nodes destroyed or provisioned during this run are not used for kubectl and default probes: a
    // destroyed one is gone, a provisioned one has no admin credentials until the runbook joins it.
    const outOfService = new Set<string>();
    const lifecycle: NodeLifecycle = {
      destroyNode: async (n) => {
        const h = cluster.node(n);
        await this.assertOwned(h.name, runId);
        await withStep(this.progress, `Destroying node ${h.name} and its disk`, MIN, () => docker.run(["rm", "--force", "--volumes", h.name], { timeoutMs: MIN }));
        outOfService.add(h.name);
      },
      provisionNode: async (n) => {
        const old = cluster.node(n);
        const fresh = await withStep(this.progress, `Provisioning a fresh machine for ${old.name}`, 3 * MIN, () => this.provision(name, runId, old, nodes));
        nodes[nodes.indexOf(old)] = fresh;
        outOfService.add(fresh.name);
        return fresh;
      },
    };
    let deleted = false;
    const kubectlCmd = await this.kubectlCommand(version);
    const cluster: Cluster = {
      name, runId, kubernetesVersion: version, kubeconfigPath, nodes, timings,
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
      lifecycle,
      sampleMemory: () => sampleRunMemory(runId),
      loadImages: async (refs) => {
        await withStep(this.progress, `Loading ${refs.join(", ")} into ${name}`, 5 * MIN, () =>
          run(kindBin, ["load", "docker-image", "--name", name, ...refs], { env, timeoutMs: 5 * MIN }));
      },
      delete: async () => {
        if (deleted) return;
        deleted = true;
        await onDelete();
      },
      howToReach: () => [
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

  /** kubectl for people on this host: the one on PATH, else the one built with the node image. */
  private async kubectlCommand(version: string): Promise<string> {
    if (await which("kubectl")) return "kubectl";
    const goDir = path.join(this.cacheDir, "go");
    const built = existsSync(goDir) ? readdirSync(goDir).filter((d) => d.startsWith(`kubernetes-${version}-`)).map((d) => path.join(goDir, d, "bin", "kubectl")).find((f) => existsSync(f)) : undefined;
    return built ?? "kubectl";
  }

  /** The node containers of a run, sorted by name (first control plane first). */
  private async nodesOf(name: string, runId: string): Promise<NodeHandle[]> {
    const ids = await docker.run(["ps", "-a", "--filter", `label=io.x-k8s.kind.cluster=${name}`, "--filter", `label=aftershock.run=${runId}`, "--format", '{{.Names}}\t{{.Label "io.x-k8s.kind.role"}}']);
    return ids.stdout.split("\n").filter(Boolean)
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
    return withStep(this.progress, `Provisioning a fresh machine for ${node}`, 3 * MIN, () => this.provision(cluster, info.runId, nodeHandle(node, m[1] as NodeRole), nodes));
  }

  /** Refuses to touch a container that does not carry this run's label. */
  private async assertOwned(container: string, runId: string): Promise<void> {
    const r = await docker.run(["inspect", "--format", '{{index .Config.Labels "aftershock.run"}}', container], { allowFailure: true });
    if (r.exitCode !== 0) throw new AftershockError("E_CLUSTER", `node ${container} does not exist`);
    if (r.stdout.trim() !== runId) throw new AftershockError("E_UNSAFE_TARGET", `container ${container} is not part of run ${runId}; refusing to touch it`);
  }

  /**
   * Creates a node container the way kind does, copying image, labels, network, environment and security
   * options from a sibling of the same role, then waits for systemd and containerd inside it.
   */
  private async provision(cluster: string, runId: string, lost: NodeHandle, nodes: readonly NodeHandle[]): Promise<NodeHandle> {
    if ((await docker.run(["inspect", lost.name], { allowFailure: true })).exitCode === 0) {
      throw new AftershockError("E_CLUSTER", `node ${lost.name} still exists; destroy it before provisioning a replacement`);
    }
    let template: string | undefined;
    for (const n of nodes.filter((x) => x.role === lost.role && x.name !== lost.name)) {
      const r = await docker.run(["inspect", "--format", "{{json .}}", n.name], { allowFailure: true });
      if (r.exitCode === 0) { template = r.stdout; break; }
    }
    if (!template) throw new AftershockError("E_CLUSTER", `no surviving ${lost.role} node in ${cluster} to copy a machine from`);
    const args = kindNodeRunArgs(JSON.parse(template) as ContainerInspect, lost.name, runId);
    await docker.run(["run", ...args], { timeoutMs: MIN });
    const fresh = nodeHandle(lost.name, lost.role);
    await pollUntil(`fresh node ${lost.name}: containerd not ready`, 2 * MIN, 1000, async () => {
      const r = await fresh.sh("systemctl is-active containerd && crictl --timeout 5s info >/dev/null && ctr -n k8s.io images ls -q | grep -c pause", { allowFailure: true, timeoutMs: 20_000 });
      return { ok: r.exitCode === 0, seen: (r.stderr || r.stdout).trim().split("\n").pop() ?? "" };
    });
    return fresh;
  }

  /** Deletes the cluster and then everything else carrying the run label; verifies nothing is left. */
  private async destroy(name: string, runId: string, kindBin: string, env: Record<string, string>): Promise<void> {
    await withStep(this.progress, `Deleting cluster ${name}`, 7 * MIN, async () => {
      await run(kindBin, ["delete", "cluster", "--name", name], { env, timeoutMs: 2 * MIN, allowFailure: true });
      await removeRunResources(runId, 4 * MIN);
      await rm(path.join(this.cacheDir, "clusters", name), { recursive: true, force: true });
    });
  }

  async list(): Promise<ClusterInfo[]> {
    const r = await docker.run(["ps", "-a", "--filter", "label=aftershock.managed=cluster", "--format",
      '{{.Names}}\t{{.Label "io.x-k8s.kind.cluster"}}\t{{.Label "aftershock.run"}}\t{{.Label "aftershock.owner-pid"}}\t{{.Label "aftershock.keep"}}']);
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
      if (foreign.length) throw new AftershockError("E_UNSAFE_TARGET", `cluster ${name} was not created by Aftershock (no aftershock.run label); refusing to delete it`);
      throw new AftershockError("E_BAD_INPUT", `no Aftershock cluster named ${name}`, { hint: "see pnpm cluster list" });
    }
    const kindBin = (await buildGoComponent(kindComponent(), this.cacheDir, this.progress)).bins.kind!;
    await this.destroy(name, info.runId, kindBin, await this.kindEnv(info.runId, name, info.keep));
  }
}

/** The lines of kind's output that say what went wrong, without its Go stack trace. */
export function summarizeKindFailure(lines: string[]): string {
  const wanted = lines.filter((l) => /^ERROR: |error execution phase|timed out waiting|\[kubelet-check\] .*(failed|unhealthy)|unable to|not found/i.test(l.trim()));
  const picked = (wanted.length ? wanted : lines.slice(-3)).map((l) => l.trim()).map((l) => (l.length > 300 ? l.slice(0, 297) + "..." : l));
  return [...new Set(picked)].slice(0, 4).join(" | ") || "no output";
}

/**
 * Removes every container, network and volume labelled with the run, retrying until nothing is left or
 * `budgetMs` runs out: a node whose processes are stuck in the kernel (e.g. on throttled I/O) can take a
 * minute to die after SIGKILL, and `docker rm -f` gives up on it after a few seconds in the meantime.
 */
/** Every container, network and volume labelled with the run, in the order they have to be removed. */
export async function runObjects(runId: string): Promise<{ kind: "container" | "network" | "volume"; id: string }[]> {
  const filter = `label=aftershock.run=${runId}`;
  const out: { kind: "container" | "network" | "volume"; id: string }[] = [];
  for (const kind of ["container", "network", "volume"] as const) for (const id of await docker.ids(kind, [filter])) out.push({ kind, id });
  return out;
}

const REMOVE = { container: ["rm", "-f", "-v"], network: ["network", "rm"], volume: ["volume", "rm", "-f"] } as const;

/**
 * Removes every container, network and volume labelled with the run, retrying until nothing is left or
 * `budgetMs` runs out: a node whose processes are stuck in the kernel (e.g. on throttled I/O) can take a
 * minute to die after SIGKILL, and `docker rm -f` gives up on it after a few seconds in the meantime.
 */
export async function removeRunResources(runId: string, budgetMs = 4 * MIN): Promise<{ containers: number; volumes: number; networks: number }> {
  const filter = `label=aftershock.run=${runId}`;
  // What there was to remove; when this returns, all of it is gone.
  const before = await runObjects(runId);
  const count = (kind: string) => before.filter((o) => o.kind === kind).length;
  await pollUntil(`run ${runId}'s containers, networks and volumes were not all removed`, budgetMs, 5000, async () => {
    const errors: string[] = [];
    // Listed again for each kind: removing a container with -v also removes its volumes.
    for (const kind of ["container", "network", "volume"] as const) {
      const ids = await docker.ids(kind, [filter]);
      if (!ids.length) continue;
      const r = await docker.run([...REMOVE[kind], ...ids], { timeoutMs: 2 * MIN, allowFailure: true });
      if (r.exitCode !== 0) errors.push(`${kind}s: ${r.stderr.trim().split("\n").pop()}`);
    }
    const left = (await runObjects(runId)).map((o) => `${o.kind} ${o.id.slice(0, 12)}`);
    return { ok: left.length === 0, seen: `${left.join(", ")}${errors.length ? ` (${errors.join("; ")})` : ""}` };
  }).catch((e: unknown) => {
    throw e instanceof AftershockError ? new AftershockError("E_CLUSTER", e.message, { cause: e }) : e;
  });
  return { containers: count("container"), volumes: count("volume"), networks: count("network") };
}

/** The parts of `docker inspect` a kind node's run arguments are rebuilt from. */
export interface ContainerInspect {
  Config: { Image: string; Labels: Record<string, string> | null; Env: string[] | null; Tty: boolean };
  HostConfig: {
    Privileged: boolean;
    SecurityOpt: string[] | null;
    Tmpfs: Record<string, string> | null;
    Binds: string[] | null;
    RestartPolicy: { Name: string; MaximumRetryCount: number };
    CgroupnsMode?: string;
    PortBindings: Record<string, { HostIp: string; HostPort: string }[]> | null;
  };
  Mounts: { Type: string; Destination: string }[];
  NetworkSettings: { Networks: Record<string, unknown> };
}

/** `docker run` arguments for a node named `name`, copied from a sibling node (as kind's docker provider creates nodes). */
export function kindNodeRunArgs(sibling: ContainerInspect, name: string, runId: string): string[] {
  const labels = sibling.Config.Labels ?? {};
  if (labels["aftershock.run"] !== runId) throw new AftershockError("E_UNSAFE_TARGET", `template node is not part of run ${runId}`);
  const networks = Object.keys(sibling.NetworkSettings.Networks);
  if (networks.length !== 1) throw new AftershockError("E_CLUSTER", `template node is on ${networks.length} networks, expected 1`);
  const h = sibling.HostConfig;
  const args = ["--detach", "--hostname", name, "--name", name, "--network", networks[0]!];
  if (sibling.Config.Tty) args.push("--tty");
  if (h.Privileged) args.push("--privileged");
  for (const o of h.SecurityOpt ?? []) if (!o.startsWith("label=")) args.push("--security-opt", o);
  for (const dir of Object.keys(h.Tmpfs ?? {})) args.push("--tmpfs", dir);
  for (const b of h.Binds ?? []) args.push("--volume", b);
  if (sibling.Mounts.some((m) => m.Type === "volume" && m.Destination === "/var")) {
    args.push("--mount", `type=volume,dst=/var,volume-label=aftershock.run=${runId},volume-label=aftershock.managed=cluster`);
  }
  if (h.RestartPolicy.Name && h.RestartPolicy.Name !== "no") {
    args.push("--restart", h.RestartPolicy.Name === "on-failure" ? `on-failure:${h.RestartPolicy.MaximumRetryCount}` : h.RestartPolicy.Name);
  }
  if (h.CgroupnsMode) args.push(`--cgroupns=${h.CgroupnsMode}`);
  for (const [port, binds] of Object.entries(h.PortBindings ?? {})) {
    const container = port.replace(/\/tcp$/, "");
    for (const b of binds) args.push("--publish", b.HostIp ? `${b.HostIp}::${container}` : container);
  }
  for (const e of sibling.Config.Env ?? []) if (!e.startsWith("PATH=")) args.push("--env", e);
  for (const [k, v] of Object.entries(labels)) args.push("--label", `${k}=${v}`);
  args.push(sibling.Config.Image);
  return args;
}

function nodeHandle(name: string, role: NodeRole): NodeHandle {
  const exec = (argv: string[], opts: RunOptions = {}) =>
    run("docker", ["exec", ...(opts.input !== undefined ? ["-i"] : []), name, ...argv], { timeoutMs: 2 * MIN, ...opts });
  return { name, role, exec, sh: (script, opts) => exec(["bash", "-c", script], opts) };
}

interface NodeList {
  items: { metadata: { name: string }; status?: { conditions?: { type: string; status: string; message?: string }[] } }[];
}

/** Polls until every node container is a Ready Node; the timeout names what was still not Ready. */
export async function waitNodesReady(cluster: Cluster, budgetMs: number): Promise<void> {
  await pollUntil("nodes did not become Ready", budgetMs, 2000, async () => {
    try {
      const r = await cluster.kubectl(["get", "nodes", "-o", "json"], { timeoutMs: 20_000 });
      const list = JSON.parse(r.stdout) as NodeList;
      const notReady = cluster.nodes.filter((n) => {
        const item = list.items.find((i) => i.metadata.name === n.name);
        return item?.status?.conditions?.find((c) => c.type === "Ready")?.status !== "True";
      });
      return { ok: !notReady.length, seen: `not Ready: ${notReady.map((n) => n.name).join(", ")}` };
    } catch (e) {
      return { ok: false, seen: e instanceof CommandError ? e.stderrTail.trim().split("\n").pop() ?? e.message : String(e) };
    }
  });
}
