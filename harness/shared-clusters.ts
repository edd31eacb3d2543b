import { formatDuration } from "../clusters/errors.js";
import { registerTeardown } from "../clusters/teardown.js";
import { kubeSystemReady, nodesReady, waitFor } from "./probes.js";
import type { Outcome } from "./runner.js";
import type { Clock, ClusterFactory, ClusterShape, ManagedCluster } from "./types.js";

/**
 * One cluster for many namespace-scoped runs (`pnpm suite`). The first run of a shape creates it; each later
 * run of the same shape gets it after a health gate (nodes Ready, kube-system Ready); a run that ends in
 * anything but `passed` gets it replaced before the next. Runs see a lease whose delete() only gives the
 * cluster back; the cluster itself is deleted when replaced, at close(), or on Ctrl-C.
 */
export class SharedClusters implements ClusterFactory {
  readonly capabilities: ClusterFactory["capabilities"];
  readonly target: string;
  readonly prepare: ClusterFactory["prepare"];
  private current?: { cluster: ManagedCluster; key: string; runs: number; unregister: () => void };
  /** Clusters made so far (for the suite report). */
  readonly created: string[] = [];

  constructor(
    private readonly inner: ClusterFactory,
    private readonly clock: Clock,
    private readonly gateBudgetMs = 2 * 60_000,
  ) {
    this.capabilities = inner.capabilities;
    this.target = `a shared ${inner.target ?? "cluster"}`;
    this.prepare = inner.prepare?.bind(inner);
  }

  async create(shape: Parameters<ClusterFactory["create"]>[0]): Promise<ManagedCluster> {
    const key = shapeKey(shape);
    if (this.current && this.current.key === key) {
      const gate = await this.healthGate(this.current.cluster);
      if (gate.ok) {
        this.current.runs++;
        return lease(this.current.cluster, `${gate.observed}; run ${this.current.runs} on this cluster`);
      }
      await this.retire(`health gate failed: ${gate.observed}`);
    } else if (this.current) {
      await this.retire("next run needs another shape");
    }
    const cluster = await this.inner.create(shape);
    const unregister = registerTeardown(`shared cluster ${cluster.name}: delete`, () => cluster.delete());
    this.current = { cluster, key, runs: 1, unregister };
    this.created.push(cluster.name);
    return lease(cluster, "created for this run");
  }

  /** Called after each run: anything but passed leaves the cluster suspect, so it is replaced. */
  /**
   * After each run: a run that did not end as it was meant to (passed, or the outcome its variant declares,
   * e.g. data-lost for an incident's own runbook) may have left the cluster in any state, so it is replaced.
   */
  async afterRun(outcome: Outcome, expected: Outcome = "passed"): Promise<void> {
    if (outcome !== expected) await this.retire(`previous run ended ${outcome}`);
  }

  async close(): Promise<void> {
    await this.retire("suite finished");
  }

  private async retire(_why: string): Promise<void> {
    const c = this.current;
    if (!c) return;
    this.current = undefined;
    c.unregister();
    await c.cluster.delete();
  }

  private async healthGate(cluster: ManagedCluster): Promise<{ ok: boolean; observed: string }> {
    const t0 = this.clock.now();
    const ctx = { cluster, clock: this.clock, found: {}, evidence: () => {}, namespace: "default" };
    try {
      for (const p of [nodesReady(), kubeSystemReady()]) await waitFor(p, ctx, this.gateBudgetMs);
      return { ok: true, observed: `health gate passed in ${formatDuration(this.clock.now() - t0)}` };
    } catch (e) {
      return { ok: false, observed: (e as Error).message };
    }
  }
}

function shapeKey(s: ClusterShape & { kubernetesVersion: string; image?: string }): string {
  return `${s.controlPlanes}+${s.workers}@${s.kubernetesVersion}${s.image ? `/${s.image}` : ""}`;
}

/** The shared cluster as one run sees it: deleting it only gives it back. */
function lease(c: ManagedCluster, how: string): ManagedCluster {
  return Object.create(c, {
    delete: { value: async () => {} },
    shared: { value: how, enumerable: true },
    api: { get: () => c.api },
  }) as ManagedCluster;
}
