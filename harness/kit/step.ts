import { AftershockError, parseDuration, type Duration } from "../../clusters/errors.js";
import type { ScenarioContext } from "../model/context.js";
import type { RunbookStep } from "../model/scenario.js";

/**
 * A named runbook step; `run` may return text to keep as evidence. Where the step shows the very command it runs,
 * give that command once (kit/commands.ts: kubectl`…`, onControlPlane`…`): step(title, command, budget).
 */
export function step(title: string, command: { readonly shows: string; run(ctx: ScenarioContext): Promise<string> }, budget?: Duration): RunbookStep;
export function step(title: string, shows: string, run: (ctx: ScenarioContext) => Promise<string | void>, budget?: Duration): RunbookStep;
export function step(
  title: string,
  what: string | { readonly shows: string; run(ctx: ScenarioContext): Promise<string> },
  runOrBudget?: ((ctx: ScenarioContext) => Promise<string | void>) | Duration,
  budget: Duration = "2m",
): RunbookStep {
  if (typeof what !== "string")
    return { title, shows: what.shows, budgetMs: parseDuration(typeof runOrBudget === "string" ? runOrBudget : budget), run: (ctx) => what.run(ctx) };
  if (typeof runOrBudget !== "function") throw new AftershockError("E_BAD_INPUT", `step "${title}": shows a command but runs nothing`);
  return { title, shows: what, budgetMs: parseDuration(budget), run: runOrBudget };
}
