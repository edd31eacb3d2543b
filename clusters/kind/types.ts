import type { Capability, ImageLoader, NodeShell, Offering } from "../contract.js";
import type { Duration } from "../errors.js";
import type { RunOptions, RunResult } from "../exec.js";
import type { MemorySampler } from "../memory.js";

export interface ClusterSpec {
  controlPlanes: number; // 1 or 3
  workers: number;
  kubernetesVersion: string;
  /** A ready-made node image (e.g. kindest/node:v1.29.14 where a registry is reachable); built offline when absent. */
  image?: string;
  name?: string;
  /** How long to wait for every node to be Ready after kind returns (default "5m"). */
  readyBudget?: Duration;
  podSubnet?: string;
  /** Run id for the labels (8 hex digits); random when absent. */
  runId?: string;
  /** host:port of plain-HTTP registries the nodes' containerd may pull from (a user's registry, e.g. docker-registry). */
  insecureRegistries?: string[];
}

export interface CreateOptions {
  /** Leave what was created in place when creation fails, for debugging. */
  retainOnFailure?: boolean;
  /** The cluster outlives this process (pnpm cluster create): no reaper, and gc leaves it alone. */
  detached?: boolean;
  /** Where `kind export logs` goes when creation fails. */
  logsDir?: string;
}

export interface ClusterInfo {
  name: string;
  runId: string;
  ownerPid: number;
  ownerAlive: boolean;
  keep: boolean;
  nodes: string[];
}

/**
 * What a kind cluster offers besides the API, declared once: every optional capability. Its nodes are containers this
 * tool made, so it reaches them (docker exec), stops, removes and recreates them, loads images into them and starts
 * containers beside them on their network.
 */
export const KIND_CAPABILITIES = ["node-shell", "node-lifecycle", "node-reboot", "image-loading", "load-generator"] as const satisfies readonly Capability[];

/** A kind cluster: API access and the capabilities in KIND_CAPABILITIES. */
export interface Cluster extends Offering<(typeof KIND_CAPABILITIES)[number]>, NodeShell, ImageLoader, AsyncDisposable {
  readonly timings: Record<string, number>;
  /** kubectl with the cluster's admin credentials, run inside the first control-plane node still in service. */
  kubectl(args: string[], opts?: RunOptions): Promise<RunResult>;
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
