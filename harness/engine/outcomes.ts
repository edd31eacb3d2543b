import type { Outcome, RunJournal } from "./journal.js";

/** What a run was meant to end with: passed, unless it is a variant that declares otherwise. */
export function expectedOutcome(j: RunJournal): Outcome {
  return j.variant?.expected ?? "passed";
}

/** Did the run end as it was meant to (a suite's verdict per run)? */
export function asExpected(j: RunJournal): boolean {
  return j.outcome === expectedOutcome(j);
}
