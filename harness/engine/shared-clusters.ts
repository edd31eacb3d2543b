import { formatDuration, type Duration } from "../../clusters/errors.js";
import { registerTeardown } from "../../clusters/teardown.js";
import { LABELS } from "../../clusters/labels.js";
import { Found } from "../model/context.js";
import { kubeSystemReady, nodesReady } from "../model/health.js";
import { waitFor, type Probe } from "../model/probe.js";
import type { Outcome } from "./journal.js";
import type { Clock } from "../../clusters/wait.js";
import type { ClusterFactory, ClusterShape, ManagedCluster } from "../../clusters/contract.js";

/**
 * One cluster for many runs (`pnpm suite`, unless --fresh-clusters). The first run of a shape (and version)
 * creates it; each later run of the same shape gets it after a health gate: nodes Ready, kube-system Ready, and
 * no namespace of an earlier run left (each run deletes its own). The run's own steady state and its
 * "symptoms absent" check follow, as on a new cluster. A run that ends in anything but the outcome it was meant
 * to have (for a cluster-scoped run: passed, so verified healthy with both self-checks passed) gets the cluster
 * replaced before the next. Runs see a lease whose delete() only gives the cluster back; the cluster itself is
 * deleted when replaced, at close() (or the end of a scope that holds it with `await using`), or on Ctrl-C.
 */
export class SharedClusters implements ClusterFactory, AsyncDisposable {
  readonly capabilities: ClusterFactory["capabilities"];
  readonly target: string;
  readonly prepare: ClusterFactory["prepare"];
  private current?: { cluster: ManagedCluster; key: string; runs: number; unregister: () => void; scenarios: Set<string> };
  /** Clusters made so far (for the suite report). */
  readonly created: string[] = [];
  /** The scenario of the run whose create() comes next (beforeRunOf); create() records it on the cluster it hands out. */
  private nextScenario?: string;
  /** Whether the last create() handed out a cluster an earlier run had used. */
  lastReused = false;

  constructor(
    private readonly inner: ClusterFactory,
    private readonly clock: Clock,
    private readonly gateBudget: Duration = "2m",
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
        this.lastReused = true;
        this.recordNextScenario();
        return lease(this.current.cluster, `${gate.observed}; run ${this.current.runs} on this cluster`);
      }
      await this.retire(`health gate failed: ${gate.observed}`);
    } else if (this.current) {
      await this.retire("next run needs another shape");
    }
    this.lastReused = false;
    const cluster = await this.inner.create(shape);
    const unregister = registerTeardown(`shared cluster ${cluster.name}: delete`, () => cluster.delete());
    this.current = { cluster, key, runs: 1, unregister, scenarios: new Set() };
    this.recordNextScenario();
    this.created.push(cluster.name);
    return lease(cluster, "created for this run");
  }

  /**
   * After each run: a run that did not end as it was meant to (passed, or the outcome its variant declares,
   * e.g. data-lost for an incident's own runbook) may have left the cluster in any state, so it is replaced.
   */
  async afterRun(outcome: Outcome, expected: Outcome = "passed"): Promise<void> {
    if (outcome !== expected) await this.retire(`previous run ended ${outcome}`);
  }

  /**
   * Before a run of cluster-scoped `scenarioId`: a cluster that already had a run of it is replaced, so that repeats
   * (--repeat) are as independent as nights are. What its fault broke, the node's kubelet remembers: the crash-loop
   * back-off of a static pod is kept per container in the kubelet's memory and only forgotten after 10 quiet
   * minutes, which no health gate sees. Measured 2026-12-07: etcd-port-conflict four times on one cluster recovered
   * in 58.6 s, 48.3 s, 1m44s and 2m49s, the kubelet then at "back-off 5m0s restarting failed container=etcd".
   * Returns why it was replaced, or undefined.
   */
  async beforeRunOf(scenarioId: string): Promise<string | undefined> {
    // The next create() hands out the cluster this run gets; it records the scenario there.
    this.nextScenario = scenarioId;
    const c = this.current;
    if (!c || !c.scenarios.has(scenarioId)) return undefined;
    const why = `${scenarioId} already ran on ${c.cluster.name}, whose kubelets remember its fault (crash-loop back-off)`;
    await this.retire(why);
    return why;
  }

  private recordNextScenario(): void {
    if (this.nextScenario) this.current?.scenarios.add(this.nextScenario);
    this.nextScenario = undefined;
  }

  /** Replaces the current cluster before the next run (a run on it could not start from a healthy state). */
  async discard(why: string): Promise<void> {
    await this.retire(why);
  }

  /** Deletes the current cluster; harmless to repeat. [Symbol.asyncDispose] does the same. */
  async close(): Promise<void> {
    await this.retire("suite finished");
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
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
    const ctx = { cluster, clock: this.clock, found: new Found(), evidence: () => {}, namespace: "default" };
    try {
      for (const p of [nodesReady(), kubeSystemReady(), noRunNamespaces(), apiSettled()]) await waitFor(p, ctx, this.gateBudget);
      return { ok: true, observed: `health gate passed in ${formatDuration(this.clock.now() - t0)}` };
    } catch (e) {
      return { ok: false, observed: (e as Error).message };
    }
  }
}

/** Every namespace a run made (labelled managed by Aftershock) is gone: the earlier run cleaned up after itself. */
function noRunNamespaces(): Probe {
  return {
    name: "no earlier run's namespace",
    expectation: `no namespace labelled ${LABELS.k8sManaged}=true`,
    async check(ctx) {
      const list = await ctx.cluster.api.core.listNamespace({ labelSelector: `${LABELS.k8sManaged}=true` });
      const left = list.items.map((n) => `${n.metadata?.name} (${n.status?.phase ?? "?"})`);
      return left.length ? { ok: false, observed: `still there: ${left.join(", ")}` } : { ok: true, observed: "none left" };
    },
  };
}

/**
 * The API answers promptly again: five reads a second apart, each within a second. Right after a run's recovery
 * the API server can stall for seconds (seen once on v1.29.15 after controllers-down: a whole second of API
 * requests timed out before the next run's fault, which made that run inconclusive).
 */
function apiSettled(): Probe {
  return {
    name: "API answers promptly",
    expectation: "5 reads a second apart, each within 1s",
    async check(ctx) {
      const times: number[] = [];
      for (let i = 0; i < 5; i++) {
        const t0 = Date.now();
        await ctx.cluster.api.core.listNamespace({ limit: 1 });
        times.push(Date.now() - t0);
        if (i < 4) await ctx.clock.sleep(1000);
      }
      return { ok: times.every((t) => t < 1000), observed: `reads took ${times.map((t) => `${t}ms`).join(", ")}` };
    },
  };
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
