import { AftershockError } from "../../../clusters/errors.js";
import { describeSummary, type LoadEntry, type LoadSpec, type LoadStream } from "../../load/streams.js";
import { percent, type LoadSummary } from "../../load/load-series.js";
import type { ScenarioContext } from "../../model/context.js";
import type { Probe } from "../../model/probe.js";
import { monitor } from "../../model/slo.js";
import type { App } from "../targets.js";

export type { LoadEntry, LoadSpec, LoadTarget, SloObjective } from "../../load/streams.js";
/** The SLO probe defineScenario adds for a load's "before" and "after" (harness/model/slo.ts). */
export { sloHolds } from "../../model/slo.js";

/**
 * What a scenario author writes about load: the load it declares (serviceLoad, apiLoad), a load started in a
 * fault (startLoad, stopLoad), and the probes that read what users saw. The streams that send the requests
 * are in harness/load/.
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
    ...(o.timeout ? { timeout: o.timeout } : {}),
    ...(o.k6 ? { k6: o.k6 } : {}),
    ...(o.awayFrom ? { awayFrom: o.awayFrom } : {}),
    slo: { before: { availability: 0.99, p99: "500ms" }, after: { availability: 0.99, p99: "500ms" }, ...o.slo },
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
    slo: { before: { availability: 0.99, p99: "1s" }, after: { availability: 0.99, p99: "1s" }, ...slo },
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
