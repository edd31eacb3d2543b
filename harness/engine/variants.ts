import { AftershockError, parseDuration, type Duration } from "../../clusters/errors.js";
import type { VariantTag } from "./journal.js";
import { variantOf, type Scenario } from "../model/scenario.js";

/** A scenario changed on purpose, and the outcome it must then end with. */
export interface Variant extends VariantTag {
  scenario: Scenario;
}

/**
 * The fault replaced by one that does nothing: the symptoms must never appear (fault-not-reproduced). Proves
 * the symptom probes cannot be satisfied by a healthy cluster over the whole budget, not only at one instant.
 */
export function faultNeutralised(s: Scenario, budgets: { symptoms?: Duration } = {}): Variant {
  return {
    name: "fault neutralised",
    expected: "fault-not-reproduced",
    scenario: {
      ...s,
      fault: { title: `(neutralised) ${s.fault.title}`, plan: ["# nothing is done"], inject: async () => {} },
      ...(budgets.symptoms ? { symptomsBudgetMs: parseDuration(budgets.symptoms) } : {}),
    },
  };
}

/**
 * The runbook stopped just before the step its recovery hinges on (`decisiveStep`): verification must fail
 * (not-recovered). Proves the repair, not the passing of time, is what brings the cluster back.
 */
export function runbookCutShort(s: Scenario, budgets: { verify?: Duration } = {}): Variant {
  const at = s.runbook.findIndex((x) => x.title === s.decisiveStep);
  const before = s.runbook.slice(0, at);
  return {
    name: `runbook cut before "${s.runbook[at]!.title}"`,
    expected: "not-recovered",
    scenario: {
      ...s,
      // An empty runbook is not valid for a scenario file, but is exactly "nothing repaired" here.
      runbook: before,
      ...(budgets.verify ? { verifyBudgetMs: parseDuration(budgets.verify) } : {}),
    },
  };
}

/** A run the suite makes: a scenario as written, or one of its variants. */
export interface PlannedRun {
  scenario: Scenario;
  variant?: VariantTag;
  /** A suite's version matrix: the Kubernetes version of this run (else the command's one). */
  kubernetesVersion?: string;
}

/**
 * The scenario with one of its runbooks (--runbook NAME): its own is the scenario as written; an alternative
 * is a variant that must end with the outcome it declares. An unknown name is a one-line error.
 */
export function withRunbook(s: Scenario, name: string): PlannedRun {
  if (name === s.runbookName) return { scenario: s };
  const alt = s.alternativeRunbooks.find((a) => a.name === name);
  if (!alt) {
    const known = [s.runbookName, ...s.alternativeRunbooks.map((a) => a.name)];
    throw new AftershockError("E_BAD_INPUT", `scenario ${s.id} has no runbook "${name}"`, {
      hint: s.alternativeRunbooks.length ? `its runbooks: ${known.join(", ")}` : "it has one runbook; leave out --runbook",
    });
  }
  return {
    scenario: { ...s, runbook: alt.steps, runbookName: alt.name, decisiveStep: alt.decisiveStep ?? alt.steps[0]!.title },
    variant: { name: `runbook ${alt.name}`, expected: alt.expect },
  };
}

/**
 * What pnpm suite runs for one scenario: the scenario itself, each alternative runbook (expecting its declared
 * outcome), each variant (expecting to pass), and with --prove both ways the scenario must fail.
 */
export function variantsOf(s: Scenario, prove: boolean): PlannedRun[] {
  const must = prove ? [faultNeutralised(s), runbookCutShort(s)] : [];
  return [
    { scenario: s },
    ...s.alternativeRunbooks.map((a) => withRunbook(s, a.name)),
    ...s.variants.map((v) => withVariant(s, v.name)),
    ...must.map(({ scenario, ...variant }) => ({ scenario, variant })),
  ];
}

/** The scenario as one of its variants (--variant NAME): a changed setup that must pass as well. */
export function withVariant(s: Scenario, name: string): PlannedRun {
  return { scenario: variantOf(s, name), variant: { name: `variant ${name}`, expected: "passed" } };
}

/** One part of a suite split over machines (--shard i/n): index counts from 1. */
export interface Shard {
  index: number;
  count: number;
}

export const MAX_SHARDS = 64;

/** `--shard i/n` with 1 ≤ i ≤ n ≤ 64; anything else is a one-line error. */
export function parseShard(v: string): Shard {
  const m = /^(\d+)\/(\d+)$/.exec(v);
  const [index, count] = m ? [Number(m[1]), Number(m[2])] : [0, 0];
  if (!m || index < 1 || count < index || count > MAX_SHARDS)
    throw new AftershockError("E_BAD_INPUT", `--shard must be i/n with 1 ≤ i ≤ n ≤ ${MAX_SHARDS}, e.g. 2/4, got "${v}"`);
  return { index, count };
}

/**
 * The scenarios of one shard: every scenario id, sorted (by code unit, not locale), is dealt round-robin, the
 * k-th (from 0) to shard k mod n + 1. Sharding whole scenarios keeps each one's runbooks, variants and repeats
 * on one machine; the same ids give the same split everywhere, and the n shards together run each id once.
 */
export function shardScenarios<T extends { id: string }>(scenarios: T[], shard: Shard | undefined): T[] {
  if (!shard) return scenarios;
  const ids = [...new Set(scenarios.map((s) => s.id))].sort();
  const mine = new Set(ids.filter((_, k) => k % shard.count === shard.index - 1));
  return scenarios.filter((s) => mine.has(s.id));
}

/** The plan run `times` times over, whole passes one after another (so repeats of one run are spread over the suite). */
export function repeatRuns(runs: PlannedRun[], times: number): PlannedRun[] {
  return Array.from({ length: times }, () => runs).flat();
}

/** What pnpm suite runs: the shard's scenarios, each with its runbooks and variants (and with --prove its must-fail runs), `repeat` times. */
export function suitePlan(scenarios: Scenario[], o: { prove: boolean; shard?: Shard; repeat?: number }): PlannedRun[] {
  return repeatRuns(
    shardScenarios(scenarios, o.shard).flatMap((s) => variantsOf(s, o.prove)),
    o.repeat ?? 1,
  );
}
