import type { RunOptions, RunResult } from "../clusters/exec.js";

/** What a scenario may touch: nodes out of band (docker exec) and the API in band (kubectl). */
export interface NodeAccess {
  readonly name: string;
  readonly role: "control-plane" | "worker";
  exec(argv: string[], opts?: RunOptions): Promise<RunResult>;
  sh(script: string, opts?: RunOptions): Promise<RunResult>;
}

/** Optional capability: a node's machine is lost for good, and a fresh one is provided in its place (not joined). */
export interface NodeLifecycle {
  destroyNode(name: string): Promise<void>;
  provisionNode(name: string): Promise<NodeAccess>;
}

export interface ClusterAccess {
  readonly name: string;
  readonly runId: string;
  readonly kubernetesVersion: string;
  readonly kubeconfigPath: string;
  readonly nodes: readonly NodeAccess[];
  controlPlane(): NodeAccess;
  node(name: string): NodeAccess;
  kubectl(args: string[], opts?: RunOptions): Promise<RunResult>;
  readonly lifecycle?: NodeLifecycle;
}

export interface ManagedCluster extends ClusterAccess {
  delete(): Promise<void>;
  /** Starts sampling the memory of the cluster's containers; stop() gives the peak in MiB. */
  sampleMemory?(): { stop(): Promise<number> };
  howToReach(): string;
  readonly timings: Record<string, number>;
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
  prepare?(o: { kubernetesVersion: string; image?: string }): Promise<{ ref: string; built: boolean; ms: number }>;
  create(shape: ClusterShape & { kubernetesVersion: string; image?: string; runId: string; keep?: boolean }): Promise<ManagedCluster>;
}

/** Injected time, so the engine's budgets can be tested without waiting. */
export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const realClock: Clock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
};

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
  /**
   * Wall-clock time (ms since epoch) from which log and journal probes count lines: the fault's injection
   * once it is injected; before that, the start of the steady-state check (the symptoms-absent check asks
   * the same question of the healthy cluster over the same kind of window).
   */
  logsSince?: number;
  evidence(source: string, text: string): void;
}
