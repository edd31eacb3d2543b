import { AftershockError } from "../../clusters/errors.js";
import { describeObjective, describeSummary, judge, type LoadMonitor, type LoadSpec } from "../load/streams.js";
import type { ScenarioContext } from "./context.js";
import type { Probe } from "./probe.js";

/** A load's SLO as a probe: defineScenario adds one for each stream's "before" and "after" (the kit re-exports it). */

/** The run's load monitor, for a load probe; a scenario that declares no load has none. */
export function monitor(ctx: ScenarioContext): LoadMonitor {
  if (!ctx.load) throw new AftershockError("E_BAD_INPUT", "a load probe needs the scenario to declare load");
  return ctx.load;
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
