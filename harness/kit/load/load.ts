import { AftershockError } from "../../../clusters/errors.js";
import type { Probe } from "../probes.js";
import type { ScenarioContext } from "../types.js";
import type { App } from "../targets.js";
import { describeObjective, describeSummary, judge, type LoadEntry, type LoadMonitor, type LoadSpec, type LoadStream } from "./streams.js";
import { percent, type LoadSummary } from "./load-series.js";

export * from "./streams.js";

/**
 * What a scenario author writes about load: the load it declares (serviceLoad, apiLoad), a load started in a
 * fault (startLoad, stopLoad), and the probes that read what users saw. The streams that send the requests
 * are in streams.ts.
 */

/**
 * Load on a demo app's Service in the run's namespace (default: 20 requests/s, 99% and p99 < 500ms before and
 * after), named like it unless told. The probes that read what its users saw take what this returns.
 */
export function serviceLoad({ app: service }: App, o: Partial<Omit<LoadSpec, "target">> & { path?: string; via?: LoadEntry } = {}): LoadSpec {
  return {
    name: o.name ?? service,
    target: { kind: "service", service, ...(o.path ? { path: o.path } : {}), ...(o.via ? { via: o.via } : {}) },
    rate: o.rate ?? 20,
    ...(o.timeoutMs ? { timeoutMs: o.timeoutMs } : {}),
    ...(o.k6 ? { k6: o.k6 } : {}),
    ...(o.awayFrom ? { awayFrom: o.awayFrom } : {}),
    slo: { before: { availability: 0.99, p99Ms: 500 }, after: { availability: 0.99, p99Ms: 500 }, ...o.slo },
  };
}

/**
 * Load on the API server: a list of ConfigMaps in the run's namespace (it reaches etcd), default 10 requests/s,
 * with a token of `serviceAccount` (a ServiceAccount of the run's namespace) when one is named.
 */
export function apiLoad(o: Partial<Omit<LoadSpec, "target">> & { path?: string; serviceAccount?: string } = {}): LoadSpec {
  const { path, serviceAccount, name, rate, slo, ...rest } = o;
  return {
    ...rest,
    name: name ?? "api",
    target: { kind: "api", path: path ?? "/api/v1/namespaces/{namespace}/configmaps?limit=5", ...(serviceAccount ? { serviceAccount } : {}) },
    rate: rate ?? 10,
    slo: { before: { availability: 0.99, p99Ms: 1000 }, after: { availability: 0.99, p99Ms: 1000 }, ...slo },
  };
}

/**
 * A load that starts after the steady state, in a fault (a client's flood), and joins the run's others: its
 * seconds are in the journal and on the report's chart beside them. The scenario must declare load of its
 * own (the users it hurts), so that the run has a monitor.
 */
export async function startLoad(ctx: ScenarioContext, spec: LoadSpec): Promise<string> {
  const m = monitor(ctx);
  if (m.streams.has(spec.name)) throw new AftershockError("E_BAD_INPUT", `load "${spec.name}" is already running`);
  return m.add(spec).start(ctx);
}

/** Stops a load started by startLoad (harmless when it is not running: a rollback may repeat). */
export async function stopLoad(ctx: ScenarioContext, { name }: LoadSpec): Promise<string> {
  const s = ctx.load?.streams.get(name);
  if (!s) return `load ${name} not running`;
  await s.stop();
  return `load ${name} stopped after ${s.series.size} requests`;
}

// ---- probes --------------------------------------------------------------------------------------------

function monitor(ctx: ScenarioContext): LoadMonitor {
  if (!ctx.load) throw new AftershockError("E_BAD_INPUT", "a load probe needs the scenario to declare load");
  return ctx.load;
}

/** Seconds since `ctx.logsSince` (the fault, once injected) whose requests have all come back. */
function sinceFault(ctx: ScenarioContext, name: string): { s: LoadStream; summary: LoadSummary } {
  const m = monitor(ctx);
  const s = m.stream(name);
  const from = (ctx.logsSince ?? m.t0) - m.t0;
  return { s, summary: s.series.summary(from, m.settled(s)) };
}

/** Symptom: users of the load's target see errors: some second since the fault had fewer than `below` of its requests succeed. */
export function usersSeeErrors({ name }: LoadSpec, below = 0.99): Probe {
  return {
    name: `${name}: users see errors`,
    reads: name,
    expectation: `a second since the fault with < ${percent(below)} of ${name}'s requests ok`,
    async check(ctx) {
      const { summary } = sinceFault(ctx, name);
      const w = summary.worst;
      const ok = !!w && w.ok / w.requests < below;
      return { ok, observed: describeSummary(summary) };
    },
  };
}

/** What still works: the target kept serving since the fault, for at least `forSeconds` of settled seconds. */
export function keepsServing({ name }: LoadSpec, o: { availability?: number; forSeconds?: number } = {}): Probe {
  const availability = o.availability ?? 0.99;
  const forSeconds = o.forSeconds ?? 20;
  return {
    name: `${name}: keeps serving`,
    reads: name,
    expectation: `≥ ${percent(availability)} of ${name}'s requests ok over ≥ ${forSeconds}s since the fault`,
    async check(ctx) {
      const { summary } = sinceFault(ctx, name);
      return { ok: summary.seconds >= forSeconds && summary.availability >= availability, observed: describeSummary(summary) };
    },
  };
}

/**
 * An SLO over the last `seconds` settled seconds (added by defineScenario: "before" to the steady state,
 * "after" to verification, where only seconds after the runbook count once it has run).
 */
export function sloHolds(spec: LoadSpec, window: "before" | "after", seconds = 10): Probe {
  const objective = spec.slo[window]!;
  return {
    name: `${spec.name}: SLO ${window === "before" ? "before the fault" : "after recovery"}`,
    reads: spec.name,
    expectation: `${describeObjective(objective)} over the last ${seconds}s of load`,
    async check(ctx) {
      const m = monitor(ctx);
      const s = m.stream(spec.name);
      const to = Math.floor(m.settled(s) / 1000) * 1000;
      const floor = window === "after" ? (m.marks.runbookEndMs ?? m.marks.injectMs ?? 0) : 0;
      const from = Math.max(floor, to - seconds * 1000);
      const summary = s.series.summary(from, to);
      if (summary.seconds < seconds * 0.8) return { ok: false, observed: `only ${summary.seconds}s of settled load so far (${describeSummary(summary)})` };
      const verdict = judge(summary, objective);
      if (window === "after" && verdict.ok && m.marks.runbookEndMs !== undefined) s.judgedAfter = { from, to };
      if (window === "before" && verdict.ok && m.marks.injectMs === undefined) s.judgedBefore = { from, to };
      return verdict;
    },
  };
}
