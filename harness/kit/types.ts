import type { ImagesMode, Origin } from "../../clusters/images/source.js";
import type { Capability, ClusterAccess } from "../../clusters/contract.js";
import type { Clock } from "../../clusters/wait.js";
import type { LoadMonitor } from "./load/streams.js";

export type { Capability, ClusterAccess, ImageLoader, NodeHandle, NodeLifecycle, NodeReboot, NodeShell } from "../../clusters/contract.js";
export { nodeLifecycle, nodeReboot, nodeShell } from "../../clusters/contract.js";

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

export type { Clock } from "../../clusters/wait.js";
export { realClock } from "../../clusters/wait.js";

/** Something seen while the scenario ran: a log line, a probe answer, a step's output. */
export interface Evidence {
  at: number;
  source: string;
  text: string;
}

/** What every fault, probe and step receives. `found` carries values from one runbook step to the next. */
export interface ScenarioContext {
  readonly cluster: ClusterAccess;
  readonly clock: Clock;
  readonly found: Record<string, string>;
  /** The run's own namespace (scenarios with scope "namespace"): every write of theirs goes there. */
  readonly namespace: string;
  /**
   * Wall-clock time (ms since epoch) from which log and journal probes count lines: the fault's injection
   * once it is injected; before that, the start of the steady-state check (the symptoms-absent check asks
   * the same question of the healthy cluster over the same kind of window).
   */
  logsSince?: number;
  /** The run's load streams (scenarios that declare load), for load probes. */
  readonly load?: LoadMonitor;
  evidence(source: string, text: string): void;
}
