import { AftershockError, CommandError, formatDuration, ms, parseDuration, type Duration } from "../../clusters/errors.js";
import { apiErrorLine } from "../../clusters/kube.js";
import { pollUntil } from "../../clusters/wait.js";
import type { ScenarioContext } from "./context.js";

/**
 * What a probe is, and how one is asked: once (observe), until it holds within a budget (waitFor), or as an
 * observation that never throws, for the engine's records (observeWithin). The kit's probes are built on it.
 */

/** One observation: did the expectation hold, and what was actually seen. */
export interface Observation {
  ok: boolean;
  observed: string;
  /** Set on an unmet answer that waiting cannot change (e.g. data whose volume was replaced): waitFor stops there. */
  final?: boolean;
}

/**
 * A probe checks one expectation once. `waitFor` repeats it on an interval until it holds or its budget
 * runs out. `kind: "sentinel"` marks probes about data written before the fault (data-lost vs not-recovered).
 */
export interface Probe {
  readonly name: string;
  readonly expectation: string;
  /**
   * sentinel: data that must survive (its loss makes the run data-lost); recovery-point: data the runbook is
   * expected to lose (e.g. written after the last backup), reported by name and count but not failed.
   */
  readonly kind?: "sentinel" | "recovery-point" | "health";
  /** The load stream it reads (load probes): a team's workload in place of that stream's demo drops it. */
  readonly reads?: string;
  /** The demo app whose pods it looks at (node-failure probes): a team's workload in its place retargets it. */
  readonly aimsAt?: string;
  readonly retarget?: (to: { name: string; selector: string }) => Probe;
  check(ctx: ScenarioContext): Promise<Observation>;
}

export class ProbeTimeoutError extends AftershockError {
  /** What was seen, without the probe's name in front. */
  readonly seen: string;
  constructor(
    readonly probe: string,
    readonly expectation: string,
    readonly lastSeen: string,
    readonly budgetMs: number,
  ) {
    const seen = `expected ${expectation} within ${formatDuration(budgetMs)}; last seen: ${lastSeen || "nothing"}`;
    super("E_TIMEOUT", `${probe}: ${seen}`);
    this.seen = seen;
  }
}

/** waitFor's error for an observation that waiting would not change (Observation.final). */
export class ProbeFinalError extends AftershockError {
  constructor(
    readonly probe: string,
    /** What was seen, without the probe's name in front. */
    readonly seen: string,
  ) {
    super("E_PROBE", `${probe}: ${seen}`);
  }
}

/** The container runtime's answer to an exec of a program the image lacks (runc and crun word it alike). */
const NOT_IN_IMAGE = /executable file not found in \$PATH/;

/** Runs a check; a failing command counts as "not yet", with its error as what was seen. */
export async function observe(probe: Probe, ctx: ScenarioContext): Promise<Observation> {
  try {
    return await probe.check(ctx);
  } catch (e) {
    if (e instanceof CommandError)
      return {
        ok: false,
        observed: `${e.command.split(" ").slice(0, 6).join(" ")} … ${e.exitCode !== undefined ? `exit ${e.exitCode}` : "timed out"}: ${lastLine(e.stderrTail)}`,
        // A program the container's image does not have (kubectl exec, crictl exec) will not appear by waiting.
        ...(NOT_IN_IMAGE.test(e.stderrTail) ? { final: true } : {}),
      };
    // A capability the scenario did not declare (or the target lacks), or a command the node contract does not
    // promise, will not come by waiting.
    if (e instanceof AftershockError && (e.code === "E_CAPABILITY" || e.code === "E_NODE_CONTRACT")) return { ok: false, observed: e.message, final: true };
    return { ok: false, observed: e instanceof AftershockError ? e.message : apiErrorLine(e) };
  }
}

/** Waits until the probe holds, asking `every` so often, for at most `within`; a timeout names the budget and what was last seen. */
export function waitFor(probe: Probe, ctx: ScenarioContext, within: Duration, every: Duration = "2s"): Promise<Observation> {
  return waitWithin(probe, ctx, within, every);
}

async function waitWithin(probe: Probe, ctx: ScenarioContext, budget: Duration, interval: Duration = "2s"): Promise<Observation> {
  const seen = await pollUntil(
    probe.name,
    budget,
    interval,
    async () => {
      const o = await observe(probe, ctx);
      if (!o.ok && o.final) throw new ProbeFinalError(probe.name, `${o.observed} (final: waiting would not change it)`);
      return { ok: o.ok, seen: o.observed };
    },
    { clock: ctx.clock, onTimeout: (last) => new ProbeTimeoutError(probe.name, probe.expectation, last, parseDuration(budget)) },
  );
  return { ok: true, observed: seen };
}

/**
 * waitFor as an observation that never throws, for the engine's records: what was seen, without the probe's name
 * in front (the record and its line already carry it), whether the budget ran out or waiting would not help.
 */
export async function observeWithin(probe: Probe, ctx: ScenarioContext, budgetMs: number): Promise<Observation> {
  return waitWithin(probe, ctx, ms(budgetMs)).catch((e: unknown): Observation => ({
    ok: false,
    observed: e instanceof ProbeTimeoutError || e instanceof ProbeFinalError ? e.seen : (e as Error).message,
  }));
}

function lastLine(s: string): string {
  return s.trim().split("\n").filter(Boolean).pop()?.slice(0, 300) ?? "";
}
