import { AftershockError, type Duration } from "./errors.js";
import { quote, type RunOptions, type RunResult } from "./exec.js";
import type { KubeApi } from "./kube.js";
import type { ImagesMode, Origin } from "./images/source.js";

/**
 * What a cluster offers a scenario, declared once (as Kubernetes' e2e-framework does): every target gives
 * API access; reaching nodes out of band, losing and replacing machines, and loading local images are
 * separate, optional capabilities. A scenario names the ones it needs, and the runner refuses, before
 * anything is created, a scenario its target cannot serve.
 */

export type NodeRole = "control-plane" | "worker";

/**
 * How a person's shell on this host runs a command on a node (the game-day shell): the local argv to spawn,
 * and how the command's words follow it. docker exec passes them on as arguments; ssh joins them into one
 * line that the node's shell parses, so each word must be quoted for a shell first.
 */
export interface NodeCommandLine {
  argv: string[];
  words: "argv" | "shell-line";
}

/** "tty": a terminal for a person (docker exec -it, ssh -t); "stdin": input piped in; "none": no input at all. */
export type NodeCommandMode = "tty" | "stdin" | "none";

/** A node reached out of band (docker exec on kind, ssh on machines of one's own): works while the API server or etcd is down. */
export interface NodeHandle {
  readonly name: string;
  readonly role: NodeRole;
  exec(argv: string[], opts?: RunOptions): Promise<RunResult>;
  /** Runs a bash script in the node. */
  sh(script: string, opts?: RunOptions): Promise<RunResult>;
  /** The command line a person's shell spawns to run something on the node (absent: the node cannot be reached interactively). */
  shellCommand?(mode: NodeCommandMode): NodeCommandLine;
}

/** The argv that runs `argv` on the node through `line` (words quoted for the node's shell where ssh joins them). */
export function nodeCommand(line: NodeCommandLine, argv: readonly string[]): string[] {
  return line.words === "argv" ? [...line.argv, ...argv] : [...line.argv, argv.map(quote).join(" ")];
}

/** Capability "node-shell": the cluster's machines, reached without the API. */
export interface NodeShell {
  readonly nodes: readonly NodeHandle[];
  /** The first control-plane node still in service. */
  controlPlane(): NodeHandle;
  node(name: string): NodeHandle;
}

/**
 * Capability "node-reboot": a node's machine restarts (kind: docker stop/start; machines of one's own: a
 * reboot over ssh, then the boot id must change). Every target that offers node-lifecycle offers this too.
 */
export interface NodeReboot {
  /**
   * Restarts the machine, as a reboot does: every process stops (systemd shuts down), what lives in memory
   * (/run, the containers) is gone, the disk and its files stay, and systemd boots again (perhaps on another address, as a DHCP lease can change).
   * Resolves once systemd inside is up again (what it starts then, containerd and the kubelet, is the node's own
   * business), with a line saying on which address it came back.
   */
  rebootNode(name: string): Promise<string>;
}

/**
 * Capability "node-lifecycle": a node's machine is lost for good, and a fresh one is provided in its place
 * (same name, image, network and labels; systemd and containerd running; nothing joined).
 */
export interface NodeLifecycle extends NodeReboot {
  /** Removes the machine and its disk; the Node object (and a control plane's etcd member) stay behind. */
  destroyNode(name: string): Promise<void>;
  provisionNode(name: string): Promise<NodeHandle>;
}

/** Capability "image-loading": images built on this machine are made available to the cluster's nodes. */
export interface ImageLoader {
  loadImages(refs: string[]): Promise<void>;
  /** The ref the cluster pulls a loaded image by (a registry's copy); the same ref when absent. */
  refFor?(ref: string): string;
}

/** A container started beside the cluster: its output arrives line by line until it is stopped. */
export interface SideContainerSpec {
  /** Short name, unique in the run (e.g. "load-web"); the container is named after the cluster and it. */
  name: string;
  image: string;
  /** A shell command line (the image has /bin/sh). */
  command: string;
  /** The run's namespace: where a side container that runs inside the cluster is made (placement "in-cluster"). */
  namespace: string;
  /** A line the container prints once it is working; start() fails with the budget when it does not appear. */
  ready: RegExp;
  readyBudget: Duration;
  onLine(line: string, stream: "stdout" | "stderr"): void;
  /**
   * Nodes an in-cluster side container must not run on (the one a fault takes away). Such a container then also
   * tolerates kubeadm's control-plane taint, so a cluster whose only other machines are control planes still has
   * a place for it. Beside the cluster it means nothing.
   */
  avoidNodes?: string[];
}

/**
 * A started side container (testcontainers' started container): whoever holds one in a scope writes `await using`
 * and it is stopped when the scope ends, however it ends. The run's labels and the reaper still remove it after a crash.
 */
export interface StartedSideContainer extends AsyncDisposable {
  readonly id: string;
  readonly name: string;
  /** Stops and removes the container and its volumes; harmless to repeat. [Symbol.asyncDispose] does the same. */
  stop(): Promise<void>;
}

/**
 * Capability "load-generator": containers started beside the cluster, on its network and with its run's
 * labels, so they are removed with the run (and by the reaper if the run is killed); on a cluster this tool did
 * not create, pods in the run's namespace, removed with it. Used for load.
 */
export interface SideContainers {
  /**
   * beside: containers on the cluster's Docker network (kind), reaching Services through a NodePort as users
   * outside do. in-cluster: pods in the run's namespace (a cluster this tool did not create), reaching Services by
   * their cluster DNS name and the API server as kubernetes.default.svc.
   */
  readonly placement: "beside" | "in-cluster";
  /** A node's address on the cluster's network, as a side container reaches it. */
  nodeAddress(node: string): Promise<string>;
  /** host:port of the API server as clients reach it: the load balancer in front of several control planes. */
  apiServerAddress(): Promise<string>;
  start(spec: SideContainerSpec): Promise<StartedSideContainer>;
}

/**
 * What a run must do on a cluster it did not create before it may break anything (machines reached over ssh): a
 * preflight (etcd healthy with quorum to spare, nodes Ready, the cluster's lock), an etcd snapshot before a
 * control-plane fault, and a deadman switch on a node before a fault there. Not a capability: the scenario never
 * sees it; the runner uses it.
 */
export interface RunGuard {
  /** Throws AftershockError E_PREFLIGHT naming the reason; returns what was checked, for the journal. */
  preflight(o: { etcdMembersLost: number }): Promise<string>;
  /** Saves an etcd snapshot on a control-plane node; returns its path, size and node. */
  snapshotEtcd(): Promise<string>;
  /** Arms a node-side undo that runs after `seconds` unless disarmed. */
  armDeadman(o: { node: string; tag: string; undo: string; seconds: number }): Promise<{ line: string; disarm(): Promise<void> }>;
  /** Releases the lock (teardown); harmless to repeat. */
  release(): Promise<void>;
}

/**
 * One command a node ran out of band, as it ran: the node, the command line with where it went (`ssh root@10.0.0.11 …`
 * on machines of one's own), and how it ended (an exit code; none when it was killed or ran out of its budget).
 */
export interface NodeCommandRecord {
  node: string;
  command: string;
  exitCode?: number;
  elapsedMs: number;
}

/** Every node command of a target as it runs (machines reached over ssh): the run lists them in its journal and report. */
export interface NodeCommandFeed {
  /** Calls `fn` for each command from now on; returns what stops it. */
  listen(fn: (c: NodeCommandRecord) => void): () => void;
}

/** A feed and the function its node handles call. */
export function nodeCommandFeed(): NodeCommandFeed & { emit(c: NodeCommandRecord): void } {
  const listeners = new Set<(c: NodeCommandRecord) => void>();
  return {
    listen(fn) {
      listeners.add(fn);
      return () => void listeners.delete(fn);
    },
    emit(c) {
      for (const fn of listeners) fn(c);
    },
  };
}

export const CAPABILITIES = ["node-shell", "node-lifecycle", "node-reboot", "image-loading", "load-generator"] as const;
export type Capability = (typeof CAPABILITIES)[number];

/** Each capability as a small interface: the field of a cluster that carries it, and its type. */
interface CapabilityFields {
  "node-shell": { readonly shell: NodeShell };
  "node-lifecycle": { readonly lifecycle: NodeLifecycle };
  "node-reboot": { readonly reboot: NodeReboot };
  "image-loading": { readonly images: ImageLoader };
  "load-generator": { readonly sides: SideContainers };
}

/**
 * What a provider that declares capabilities `C` must carry (e2e-framework's small interfaces, put together): a
 * provider writes its list once, as a constant, and types what it hands out as `Offers<(typeof LIST)[number]>`, so
 * the list the runner checks a scenario's needs against and the fields the cluster has cannot drift apart.
 */
export type Offers<C extends Capability> = UnionToIntersection<CapabilityFields[C]>;
/** A cluster that carries capabilities `C` (and the API, as every target does). */
export type Offering<C extends Capability> = Omit<ClusterAccess, keyof CapabilityFields[Capability]> & Offers<C>;
type UnionToIntersection<U> = (U extends unknown ? (u: U) => void : never) extends (i: infer I) => void ? I : never;

/** Every target: the API in band, with the cluster's kubeconfig; the optional capabilities where offered. */
export interface ClusterAccess {
  readonly name: string;
  readonly runId: string;
  readonly kubernetesVersion: string;
  readonly kubeconfigPath: string;
  /** The kubeconfig context to use, when not its current one (an existing cluster reached with --context). */
  readonly kubeContext?: string;
  readonly api: KubeApi;
  /** kubectl with the cluster's credentials, as an on-call engineer types it (runbook steps show its output). */
  kubectl(args: string[], opts?: RunOptions): Promise<RunResult>;
  readonly shell?: NodeShell;
  readonly lifecycle?: NodeLifecycle;
  /** Reboots only (machines reached over ssh); a target with `lifecycle` reboots through it. */
  readonly reboot?: NodeReboot;
  readonly images?: ImageLoader;
  readonly sides?: SideContainers;
  /** Present on a cluster this tool did not create whose machines it reaches: see RunGuard. */
  readonly guard?: RunGuard;
  /** Every command its node handles run (machines reached over ssh), for the run's journal; the guard's included. */
  readonly nodeCommands?: NodeCommandFeed;
}

/** A cluster a run was handed: access, plus how to let it go and how to tell a person to reach it. */
export interface ManagedCluster extends ClusterAccess {
  delete(): Promise<void>;
  /** Starts sampling the memory of the cluster's containers; stop() gives the peak in MiB. */
  sampleMemory?(): { stop(): Promise<number> };
  howToReach(): string;
  readonly timings: Record<string, number>;
  /** Set when the run got a cluster it did not make (another run's in pnpm suite, or an existing one): how it got it. */
  readonly shared?: string;
}

export interface ClusterShape {
  controlPlanes: 1 | 3;
  workers: number;
}

/** The one thing the engine needs from clusters/: make a cluster of a shape, hand it back. */
export interface ClusterFactory {
  /**
   * Optional: find or build the node image before the run's timeline starts, so a cold build (minutes) is
   * not reported as cluster-create time.
   */
  prepare?(o: {
    kubernetesVersion: string;
    image?: string;
    workloadImages?: string[];
    loadGenerator?: boolean;
    /** --conformance: Kubernetes' e2e.test of the version too, returned as `e2eTest`. */
    conformance?: boolean;
  }): Promise<{ ref: string; built: boolean; ms: number; mode?: ImagesMode; origins?: Origin[]; e2eTest?: string }>;
  create(shape: ClusterShape & { kubernetesVersion: string; image?: string; runId: string; keep?: boolean }): Promise<ManagedCluster>;
  /** What every cluster it makes offers besides the API (checked against a scenario's needs before anything exists). */
  readonly capabilities: readonly Capability[];
  /** For messages: "a kind cluster", "the cluster in ~/.kube/config", … */
  readonly target?: string;
  /** Which scenario scopes its clusters take (default both): an existing cluster takes only namespace-scoped ones. */
  readonly scopes?: readonly ("cluster" | "namespace")[];
}

/**
 * The same cluster with only the capabilities in `allowed`: a scenario sees what it declared and nothing
 * more, so a scenario that forgets to declare node access fails on kind too, not first on someone's cluster.
 */
export function restrictTo<T extends ClusterAccess>(c: T, allowed: readonly Capability[]): ClusterAccess {
  return {
    name: c.name,
    runId: c.runId,
    kubernetesVersion: c.kubernetesVersion,
    kubeconfigPath: c.kubeconfigPath,
    ...(c.kubeContext ? { kubeContext: c.kubeContext } : {}),
    get api() {
      return c.api;
    },
    kubectl: (args, opts) => c.kubectl(args, opts),
    ...(allowed.includes("node-shell") && c.shell ? { shell: c.shell } : {}),
    ...(allowed.includes("node-lifecycle") && c.lifecycle ? { lifecycle: c.lifecycle } : {}),
    ...((allowed.includes("node-reboot") || allowed.includes("node-lifecycle")) && (c.reboot ?? c.lifecycle) ? { reboot: (c.reboot ?? c.lifecycle)! } : {}),
    ...(allowed.includes("image-loading") && c.images ? { images: c.images } : {}),
    ...(allowed.includes("load-generator") && c.sides ? { sides: c.sides } : {}),
  };
}

/** The node shell, or a one-line error naming the capability the scenario did not declare or the target lacks. */
export function nodeShell(c: ClusterAccess): NodeShell {
  if (!c.shell)
    throw new AftershockError(
      "E_CAPABILITY",
      `cluster ${c.name}: no node shell (the scenario must declare needs: ["node-shell"], and the target must offer it)`,
    );
  return c.shell;
}

export function nodeLifecycle(c: ClusterAccess): NodeLifecycle {
  if (!c.lifecycle)
    throw new AftershockError(
      "E_CAPABILITY",
      `cluster ${c.name}: cannot replace machines (the scenario must declare needs: ["node-lifecycle"], and the target must offer it)`,
    );
  return c.lifecycle;
}

export function nodeReboot(c: ClusterAccess): NodeReboot {
  const r = c.reboot ?? c.lifecycle;
  if (!r)
    throw new AftershockError(
      "E_CAPABILITY",
      `cluster ${c.name}: cannot reboot machines (the scenario must declare needs: ["node-reboot"], and the target must offer it)`,
    );
  return r;
}

export function sideContainers(c: ClusterAccess): SideContainers {
  if (!c.sides)
    throw new AftershockError(
      "E_CAPABILITY",
      `cluster ${c.name}: cannot start containers beside it (the scenario must declare needs: ["load-generator"], and the target must offer it)`,
    );
  return c.sides;
}
