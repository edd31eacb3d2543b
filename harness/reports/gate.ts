import type { RunJournal } from "../engine/journal.js";
import { asExpected, expectedOutcome } from "../engine/outcomes.js";
import { versionSuffix } from "../kit/versions.js";
import type { TrendRow } from "./history.js";
import { partText, type SuiteScores } from "./score.js";

/**
 * The nightly gate (`pnpm suite --gate`): a suite fails it for any of three reasons, each one line:
 *   - a run ended otherwise than it was meant to (the suite's verdict already);
 *   - a scenario key meant to pass scored under the threshold (its mean over this suite's runs);
 *   - a time to detect or to recover regressed beyond what the key's own history explains (history.ts,
 *     REGRESSION: median + 3 × the scaled MAD of its earlier runs, not a fixed multiple).
 * Without --gate the same reasons are computed (the metrics file says whether the gate would fail) but the
 * exit code stays the suite's.
 */

export const DEFAULT_GATE_MIN_SCORE = 80;
/** The suite's exit code when only the gate fails (every run ended as expected): apart from every outcome's. */
export const GATE_FAILED_EXIT = 9;

export function gateReasons(journals: RunJournal[], scores: SuiteScores, rows: TrendRow[], minScore: number): string[] {
  const outcomes = journals
    .filter((j) => !asExpected(j))
    .map((j) => `${runLabel(j)}: ended ${j.outcome}, expected ${expectedOutcome(j)} (${j.reason})`);
  const low = scores.keys
    .filter((k) => k.counted && k.score < minScore)
    .map((k) => {
      // The parts that cost the most: weight × what they fell short of 100.
      const cost = (p: { weight: number; value: number }) => p.weight * (100 - p.value);
      const worst = k.parts.filter((p) => p.value < 100).sort((a, b) => cost(b) - cost(a));
      return `${k.key}: score ${k.score} < ${minScore}${worst.length ? `; lowest: ${worst.slice(0, 3).map(partText).join("; ")}` : ""}`;
    });
  const slower = rows.flatMap((r) => r.regressions.map((why) => `${r.key}: ${why}`));
  return [...outcomes, ...low, ...slower];
}

const runLabel = (j: RunJournal) =>
  `${j.scenario.id}${j.variant ? ` (${j.variant.name})` : j.runbook ? ` (runbook ${j.runbook})` : ""}${versionSuffix(j.kubernetesVersion)}`;
