import type { V1Pod } from "@kubernetes/client-node";
import { formatDuration, type Duration } from "../../clusters/errors.js";
import { apiErrorLine } from "../../clusters/kube.js";
import type { LoadSecond } from "../load/load-series.js";
import { describeObjective, judge, type LoadRecord, type SloObjective, type SloWindow } from "../load/streams.js";
import type { App } from "./app.js";
import type { ScenarioContext } from "./context.js";

/**
 * A team's own workload under the incident (`--workload PATH`, or `aftershock.yaml` in the current directory):
 * what to deploy, the images it needs, the Service its users reach, the rate, and its SLO. A scenario that
 * declares a `workloadSlot` runs it in place of its demo Service: deployed in the run's namespace after setup,
 * its readiness part of the steady state, its users' traffic through the fault, judged in a verdict of its own
 * (the runbook's verdict stays the cluster's).
 *
 * Here: what the run model carries of it (the config, the slot, what is under test) and how it is judged. Reading
 * and checking a workload file is the kit's (harness/kit/workloads/team-workload.ts), and putting it into a
 * scenario too (with-workload.ts).
 */

export type WorkloadDeploy =
  { kind: "manifests"; dir: string } | { kind: "kustomize"; dir: string } | { kind: "helm"; chart: string; values: string[]; release: string };

export interface WorkloadConfig {
  /** kebab-case; the load stream's and the verdict's name. */
  name: string;
  /** Where the file was read from (absolute) and its directory, against which paths in it resolve. */
  file: string;
  dir: string;
  deploy: WorkloadDeploy;
  /** Local Docker images the workload runs (loaded into kind before it is deployed). */
  images: string[];
  readyWithinMs: number;
  users: {
    service: string;
    path: string;
    /** GET unless the file says; a body (and its Content-Type) goes with the methods that take one. */
    method: string;
    body?: { data: string; contentType?: string };
    /** Statuses that count as served (default any 2xx or 3xx). */
    expectStatus?: number[];
    rate: number;
    /** Per-request timeout, e.g. "2s". */
    timeout: Duration;
  };
  slo: { before: SloObjective; during?: SloObjective; after: SloObjective };
  /** Label selector of the pods a fault that picks a pod or node should hit (scenarios that pick one). */
  target?: string;
  /** A breached SLO makes the run's exit code WORKLOAD_BREACHED_EXIT (when the runbook's verdict passed). */
  failRunOnBreach: boolean;
}

/** The exit code of a run whose runbook passed and whose workload breached an SLO, with failRunOnBreach. */
export const WORKLOAD_BREACHED_EXIT = 8;

/** Seconds of its users' requests after the runbook that a workload's "after" window covers at least (as a load's own SLO after recovery does). */
export const WORKLOAD_AFTER_SECONDS = 10;

// ---- what a scenario carries of it -------------------------------------------------------------------------

/** What a scenario that takes a workload says about it: which of its demo Services the workload replaces. */
export interface WorkloadSlot {
  /** The demo Service (its setup item and its load stream, both named like it) the team's workload stands in for: its handle. */
  replaces: App;
  /** Images of the scenario's `images` that only the demo runs: not loaded when a workload replaces it. */
  images?: string[];
}

/** What the run of a scenario with a workload carries: the config and what the verdict needs. */
export interface WorkloadUnderTest {
  config: WorkloadConfig;
  /** Records the workload's pods before the fault and after verification. */
  observer: WorkloadObserver;
}

/** The pods matching any of the selectors in the run's namespace, each once. */
export async function podsOf(ctx: ScenarioContext, selectors: string[]): Promise<V1Pod[]> {
  const lists = await Promise.all(selectors.map((labelSelector) => ctx.cluster.api.core.listNamespacedPod({ namespace: ctx.namespace, labelSelector })));
  return [...new Map(lists.flatMap((l) => l.items).map((p) => [p.metadata?.uid ?? p.metadata?.name, p])).values()];
}

// ---- what happened to it: pods, PDBs, and the verdict ---------------------------------------------------------

interface PodSeen {
  name: string;
  node: string;
  restarts: number;
}

/** The workload's pods before the fault and at the end of the run, and its PodDisruptionBudgets at the end. */
export class WorkloadObserver {
  private start: PodSeen[] = [];
  /** The pod selectors of its Deployments, StatefulSets and DaemonSets (set when it is deployed). */
  selectors: string[] = [];
  /** Why it did not become ready within readyWithin, when it did not (its steady state is then not met). */
  notReady: string | undefined;
  constructor(readonly config: WorkloadConfig) {}

  async before(ctx: ScenarioContext): Promise<void> {
    this.start = await pods(ctx, this.selectors);
  }

  async after(ctx: ScenarioContext): Promise<WorkloadPods> {
    const end = await pods(ctx, this.selectors).catch(() => undefined);
    const pdbs = await ctx.cluster.api.objects
      .list("policy/v1", "PodDisruptionBudget", ctx.namespace)
      .then((l) =>
        l.items.map((b) => {
          const st = (b as { status?: { desiredHealthy?: number; currentHealthy?: number } }).status;
          const want = st?.desiredHealthy ?? 0;
          const have = st?.currentHealthy ?? 0;
          return { name: b.metadata?.name ?? "?", desiredHealthy: want, currentHealthy: have, held: have >= want };
        }),
      )
      .catch((e: unknown) => [{ name: `(could not read: ${apiErrorLine(e)})`, desiredHealthy: 0, currentHealthy: 0, held: false }]);
    if (!end) return { before: this.start.length, after: 0, restarts: 0, replaced: [], rescheduled: [], pdbs };
    const byName = new Map(this.start.map((p) => [p.name, p]));
    const restarts = end.reduce((a, p) => a + Math.max(0, p.restarts - (byName.get(p.name)?.restarts ?? 0)), 0);
    const replaced = this.start.filter((p) => !end.some((e) => e.name === p.name)).map((p) => p.name);
    const startNodes = new Set(this.start.map((p) => p.node));
    const rescheduled = end
      .filter((p) => !byName.has(p.name))
      .map((p) => `${p.name} on ${p.node}${startNodes.has(p.node) ? "" : " (a node it was not on before)"}`);
    return { before: this.start.length, after: end.length, restarts, replaced, rescheduled, pdbs };
  }
}

async function pods(ctx: ScenarioContext, selectors: string[]): Promise<PodSeen[]> {
  return (await podsOf(ctx, selectors))
    .filter((p) => !p.metadata?.deletionTimestamp)
    .map((p) => ({
      name: p.metadata?.name ?? "?",
      node: p.spec?.nodeName ?? "?",
      restarts: (p.status?.containerStatuses ?? []).reduce((a, c) => a + (c.restartCount ?? 0), 0),
    }));
}

export interface WorkloadPods {
  before: number;
  after: number;
  /** Container restarts since the fault, summed. */
  restarts: number;
  /** Pods there before the fault and gone at the end. */
  replaced: string[];
  /** Pods made since, with their node. */
  rescheduled: string[];
  pdbs: { name: string; desiredHealthy: number; currentHealthy: number; held: boolean }[];
}

/** The workload's own verdict, kept apart from the runbook's. */
export interface WorkloadVerdict {
  name: string;
  service: string;
  held: boolean;
  slos: { window: SloWindow; objective: string; ok: boolean; observed: string }[];
  /** From the first second with an error to the end of the last, after the fault. */
  errorWindowMs: number;
  worstSecond?: LoadSecond;
  /** End of the runbook → first second from which every request was served again (undefined: never, in the run). */
  servedAgainAfterMs?: number;
  pods: WorkloadPods;
  failRunOnBreach: boolean;
}

/** The verdict from the workload's load record (its windows), the runbook's end, and its pods. */
export function workloadVerdict(w: WorkloadConfig, rec: LoadRecord | undefined, runbookEndMs: number | undefined, pods: WorkloadPods): WorkloadVerdict {
  const slos: WorkloadVerdict["slos"] = [];
  for (const window of ["before", "during", "after"] as const) {
    const objective = w.slo[window];
    if (!objective) continue;
    // "before" as the steady state judged it (its last settled window), as the run's own load SLOs are recorded.
    const judged = window === "before" ? rec?.slos.find((x) => x.window === "before") : undefined;
    const summary = rec?.windows[window];
    const { ok, observed } = judged ?? (summary?.requests ? judge(summary, objective) : { ok: false, observed: "no requests in this window" });
    slos.push({ window, objective: describeObjective(objective), ok, observed });
  }
  let servedAgainAfterMs: number | undefined;
  if (rec && runbookEndMs !== undefined) {
    const after = rec.series.filter((x) => x.t >= runbookEndMs - 1000);
    const lastBad = [...after].reverse().find((x) => x.ok < x.requests);
    const firstGood = lastBad ? after.find((x) => x.t > lastBad.t && x.ok === x.requests) : after.find((x) => x.ok === x.requests);
    if (firstGood) servedAgainAfterMs = Math.max(0, firstGood.t - runbookEndMs);
  }
  return {
    name: w.name,
    service: w.users.service,
    held: slos.every((s) => s.ok) && pods.pdbs.every((p) => p.held),
    slos,
    errorWindowMs: rec?.errorWindowMs ?? 0,
    // The worst second users had since the fault (the load's start-up seconds are not theirs).
    ...(rec?.windows.during?.worst ? { worstSecond: rec.windows.during.worst } : {}),
    ...(servedAgainAfterMs !== undefined ? { servedAgainAfterMs } : {}),
    pods,
    failRunOnBreach: w.failRunOnBreach,
  };
}

/** Console lines of the verdict. */
export function workloadLines(v: WorkloadVerdict): string[] {
  const lines = [`workload ${v.name} (Service ${v.service}): SLO ${v.held ? "HELD" : "BREACHED"}${v.failRunOnBreach ? "" : " (does not fail the run)"}`];
  for (const s of v.slos) lines.push(`  ${s.window.padEnd(6)} ${s.ok ? "met     " : "breached"} ${s.objective}: ${s.observed}`);
  lines.push(
    `  users' error window ${formatDuration(v.errorWindowMs)}` +
      (v.worstSecond ? `, worst second +${formatDuration(v.worstSecond.t)}: ${v.worstSecond.ok}/${v.worstSecond.requests} ok` : "") +
      `, served again ${v.servedAgainAfterMs === undefined ? "not within the run" : `${formatDuration(v.servedAgainAfterMs)} after the runbook`}`,
  );
  const p = v.pods;
  lines.push(
    `  pods ${p.before} → ${p.after}, ${p.restarts} restart${p.restarts === 1 ? "" : "s"}` +
      (p.replaced.length ? `, replaced: ${p.replaced.join(", ")}` : "") +
      (p.rescheduled.length ? `, new: ${p.rescheduled.join(", ")}` : ""),
  );
  for (const b of p.pdbs)
    lines.push(`  PodDisruptionBudget ${b.name}: ${b.currentHealthy} healthy of ${b.desiredHealthy} wanted — ${b.held ? "held" : "not held"}`);
  return lines;
}
