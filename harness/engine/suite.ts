import type { ClusterFactory } from "../../clusters/contract.js";
import type { Clock } from "../../clusters/wait.js";
import type { Scenario } from "../model/scenario.js";
import type { RunJournal } from "./journal.js";
import { expectedOutcome } from "./outcomes.js";
import type { ReporterHooks } from "./reporter.js";
import { runScenario, type RunOptions } from "./runner.js";
import { SharedClusters } from "./shared-clusters.js";
import { isStopping } from "./signals.js";
import type { PlannedRun } from "./variants.js";

/** What every run of a suite gets from the plan; the rest (clusters, version, clock, reporter, variant) is the suite's. */
export type SuiteRunOptions = Omit<RunOptions, "clusters" | "kubernetesVersion" | "clock" | "reporter" | "variant">;

/** A suite, planned and checked: the runs, where they go, and what each run is given. */
export interface SuitePlan {
  runs: readonly PlannedRun[];
  /** Where the runs' clusters come from: kind, or a cluster this tool did not create. */
  clusters: ClusterFactory;
  /** Runs of one cluster shape (and version) share a cluster, one after another (pnpm suite without --fresh-clusters). */
  share: boolean;
  /** The version of a run that names none. */
  kubernetesVersion: string;
  run: SuiteRunOptions;
  clock: Clock;
  /** Whether Ctrl-C or SIGTERM came: no further run starts (default: the process's signal handlers say). */
  stopping?: () => boolean;
}

/** One run's reporting: its hooks, and what to do once the run has ended and its reports are written. */
export interface RunReporting {
  reporter: ReporterHooks;
  ended?(journal: RunJournal): void | Promise<void>;
}

/**
 * Runs a suite's runs one after another and returns their journals. With `share`, runs of one shape share a cluster
 * (SharedClusters): grouped by shape, versions in the order given; a run that needs a cluster of its own
 * (ownClusterReason) gets one; a second run of a cluster-scoped scenario gets a new cluster; a run the shared cluster
 * could not start healthy runs again on a new one; a run that did not end as meant has its cluster replaced.
 * Ctrl-C ends the running run through its own teardown (runScenario writes its "interrupted" journal); no further
 * run starts.
 */
export async function runSuite(plan: SuitePlan, report: (run: PlannedRun) => RunReporting): Promise<RunJournal[]> {
  const stopping = plan.stopping ?? isStopping;
  // The shared cluster is deleted as this function ends, however it ends.
  await using shared = plan.share ? new SharedClusters(plan.clusters, plan.clock) : undefined;
  const runOne = async (r: PlannedRun, clusters: ClusterFactory): Promise<RunJournal> => {
    const { reporter, ended } = report(r);
    const journal = await runScenario(r.scenario, {
      ...plan.run,
      clusters,
      kubernetesVersion: r.kubernetesVersion ?? plan.kubernetesVersion,
      clock: plan.clock,
      reporter,
      ...(r.variant ? { variant: r.variant } : {}),
    });
    await ended?.(journal);
    return journal;
  };
  const journals: RunJournal[] = [];
  for (const run of shared ? suiteOrder(plan.runs, plan.kubernetesVersion) : plan.runs) {
    // After Ctrl-C the teardowns run; no further run starts (seen: a suite created the next run's cluster meanwhile).
    if (stopping()) break;
    journals.push(shared ? await onShared(run, shared, plan.clusters, runOne) : await runOne(run, plan.clusters));
  }
  return journals;
}

type RunOne = (r: PlannedRun, clusters: ClusterFactory) => Promise<RunJournal>;

/** One run of a suite whose clusters are shared: on a cluster of its own, on the shared one, or again on a new one. */
async function onShared(run: PlannedRun, shared: SharedClusters, own: ClusterFactory, runOne: RunOne): Promise<RunJournal> {
  // A scenario that measures the disk (tag "performance") gets a cluster of its own: on v1.29.15 etcd-disk-iops
  // found WAL fsyncs of 5 s before its fault on the cluster control-plane-quorum-lost had just rebuilt.
  // So does one whose setup changes its nodes (changesNodes): no later run should inherit them.
  const why = ownClusterReason(run.scenario);
  if (why) {
    // Nor does an idle shared cluster run beside it (its etcd and API servers would be noise in what it measures).
    await shared.discard(why);
    const j = await runOne(run, own);
    if (j.cluster) j.cluster = { ...j.cluster, shared: `a cluster of its own: ${why}` };
    return j;
  }
  // A cluster-scoped scenario's fault breaks the cluster's own components: a second run of it gets a new cluster.
  const again = run.scenario.scope === "cluster" ? await shared.beforeRunOf(run.scenario.id) : undefined;
  let j = await runOne(run, shared);
  if (again && j.cluster) j.cluster = { ...j.cluster, shared: `created after ${again}` };
  if (shared.lastReused && notStarted(j)) {
    // The cluster an earlier run left could not give this one a healthy start: that says nothing about this
    // scenario, so it runs again on a new cluster, and its journal says why.
    const first = `${j.outcome} on the shared cluster ${j.cluster?.name ?? ""} (${j.reason}); run again on a new cluster`;
    await shared.discard(first);
    j = await runOne(run, shared);
    j.cluster = { ...j.cluster!, shared: `created after an attempt ended ${first}` };
  }
  // A cluster-scoped run leaves its cluster to the next only when it passed (verified healthy, both self-checks
  // passed); a namespace-scoped one when it ended as meant (e.g. data-lost in its own namespace).
  await shared.afterRun(j.outcome, run.scenario.scope === "cluster" ? "passed" : expectedOutcome(j));
  return j;
}

/**
 * The order of a suite on shared clusters: grouped by cluster shape (a stable sort: within a shape, in the order
 * planned), so that each shape needs one cluster; a version matrix runs one version after the other, in the order
 * given (a shared cluster has one version).
 */
export function suiteOrder(runs: readonly PlannedRun[], defaultVersion: string): PlannedRun[] {
  const versions = [...new Set(runs.map((r) => r.kubernetesVersion ?? defaultVersion))];
  const own = (r: PlannedRun) => (ownClusterReason(r.scenario) ? 1 : 0);
  // Runs with a cluster of their own come after the others of their shape, so that they do not split a shape's runs.
  return [...runs]
    .sort(
      (a, b) =>
        a.scenario.cluster.controlPlanes - b.scenario.cluster.controlPlanes || a.scenario.cluster.workers - b.scenario.cluster.workers || own(a) - own(b),
    )
    .sort((a, b) => versions.indexOf(a.kubernetesVersion ?? defaultVersion) - versions.indexOf(b.kubernetesVersion ?? defaultVersion));
}

/** Why a run of `pnpm suite` gets a cluster of its own (and hands it to no one), or undefined when it can share one. */
export function ownClusterReason(s: Pick<Scenario, "tags" | "changesNodes">): string | undefined {
  if (s.tags.includes("performance")) return "a run that measures the machine (disk, API latency) has it to itself";
  if (s.changesNodes) return `a run whose setup changes its nodes (${s.changesNodes}) gets a cluster of its own`;
  return undefined;
}

/** A run that never reached its fault because the cluster was not as a new one is: steady state unmet, or a symptom already there. */
const notStarted = (j: RunJournal) => (j.outcome === "aborted" || j.outcome === "inconclusive") && !j.phases.some((p) => p.name === "inject") && !j.variant;
