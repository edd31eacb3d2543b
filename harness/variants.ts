import type { VariantTag } from "./runner.js";
import type { Scenario } from "./scenario.js";

/** A scenario changed on purpose, and the outcome it must then end with. */
export interface Variant extends VariantTag {
  scenario: Scenario;
}

/**
 * The fault replaced by one that does nothing: the symptoms must never appear (fault-not-reproduced). Proves
 * the symptom probes cannot be satisfied by a healthy cluster over the whole budget, not only at one instant.
 */
export function faultNeutralised(s: Scenario, budgets: { symptomsMs?: number } = {}): Variant {
  return {
    name: "fault neutralised",
    expected: "fault-not-reproduced",
    scenario: {
      ...s,
      fault: { title: `(neutralised) ${s.fault.title}`, plan: ["# nothing is done"], inject: async () => {} },
      ...(budgets.symptomsMs ? { symptomsBudgetMs: budgets.symptomsMs } : {}),
    },
  };
}

/**
 * The runbook stopped just before the step its recovery hinges on (`decisiveStep`): verification must fail
 * (not-recovered). Proves the repair, not the passing of time, is what brings the cluster back.
 */
export function runbookCutShort(s: Scenario, budgets: { verifyMs?: number } = {}): Variant {
  const at = s.runbook.findIndex((x) => x.title === s.decisiveStep);
  const before = s.runbook.slice(0, at);
  return {
    name: `runbook cut before "${s.runbook[at]!.title}"`,
    expected: "not-recovered",
    scenario: {
      ...s,
      // An empty runbook is not valid for a scenario file, but is exactly "nothing repaired" here.
      runbook: before,
      ...(budgets.verifyMs ? { verifyBudgetMs: budgets.verifyMs } : {}),
    },
  };
}

/** A run the suite makes: a scenario as written, or one of its variants. */
export interface PlannedRun {
  scenario: Scenario;
  variant?: VariantTag;
}

/** What pnpm suite runs for one scenario: the scenario itself, and with --prove both ways it must fail. */
export function variantsOf(s: Scenario, prove: boolean): PlannedRun[] {
  const must = prove ? [faultNeutralised(s), runbookCutShort(s)] : [];
  return [{ scenario: s }, ...must.map(({ scenario, ...variant }) => ({ scenario, variant }))];
}
