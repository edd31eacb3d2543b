import { formatDuration } from "../../clusters/errors.js";
import { median, type HistoryRecord } from "../reports/history.js";
import type { Difficulty, Scenario } from "../model/scenario.js";

/** The game's arithmetic: the score, when hints come by themselves, and the time a player is measured against. */

export const HINT_COST = 15;
export const DATA_LOST_COST = 50;
/** A hint shows itself after this long without one (AFTERSHOCK_GAMEDAY_HINT_EVERY overrides it, e.g. "30s" in tests). */
export const HINT_EVERY_MS = 4 * 60_000;
/** The reference time when the nightly suite has not recovered the scenario yet. */
export const PAR_MS: Record<Difficulty, number> = { easy: 5 * 60_000, medium: 10 * 60_000, hard: 15 * 60_000 };

export const SCORE_RULE =
  `100 − ${HINT_COST} per hint asked for − 1 per full minute beyond the reference time − ${DATA_LOST_COST} if data was lost, never below 0; ` +
  "gave up, not recovered or aborted: 0 (hints that show themselves are free)";

/**
 * How a game ended: recovered (health back, data intact), data-lost (health back, data gone), gave-up (the runbook
 * ran), not-recovered (verification failed after all), aborted (q or Ctrl-C), not-started (the run ended before the page).
 */
export type GameOutcome = "recovered" | "data-lost" | "gave-up" | "not-recovered" | "aborted" | "not-started";

export interface Score {
  points: number;
  /** The formula with this game's numbers, e.g. "100 − 15 × 1 hint − 7 min beyond 28.5s = 78". */
  formula: string;
}

export function score(o: { outcome: GameOutcome; hintsAsked: number; recoverMs?: number; referenceMs: number }): Score {
  if ((o.outcome !== "recovered" && o.outcome !== "data-lost") || o.recoverMs === undefined) return { points: 0, formula: `${o.outcome}: 0` };
  const minutes = Math.max(0, Math.floor((o.recoverMs - o.referenceMs) / 60_000));
  const lost = o.outcome === "data-lost" ? DATA_LOST_COST : 0;
  const points = Math.max(0, 100 - HINT_COST * o.hintsAsked - minutes - lost);
  const formula =
    `100 − ${HINT_COST} × ${o.hintsAsked} hint${o.hintsAsked === 1 ? "" : "s"} − ${minutes} min beyond ${formatDuration(o.referenceMs)}` +
    `${lost ? ` − ${lost} (data lost)` : ""} = ${points}`;
  return { points, formula };
}

/** A hint as it came out: its number (1-based), when (epoch ms), and whether the player asked for it. */
export interface HintReveal {
  n: number;
  at: number;
  how: "asked" | "auto";
}

/** When the next hint shows itself: `everyMs` after the page or after the last hint, whichever is later; undefined once all are out. */
export function nextAutoHintAt(pagedAt: number, reveals: readonly HintReveal[], total: number, everyMs: number): number | undefined {
  if (reveals.length >= total) return undefined;
  return Math.max(pagedAt, reveals.at(-1)?.at ?? pagedAt) + everyMs;
}

/**
 * The time the player is measured against: the median time to recover of the suite's earlier runs, or the
 * difficulty's par. From the suite also the median time of each runbook step, for the debrief.
 */
export type Reference = { ms: number; source: "suite"; runs: number; steps?: ReferenceStep[] } | { ms: number; source: "par" };
export interface ReferenceStep {
  title: string;
  /** Median over the suite runs that timed this step. */
  ms: number;
  runs: number;
}

export function referenceTime(records: HistoryRecord[], s: Pick<Scenario, "id" | "alternativeRunbooks" | "runbookName">, difficulty: Difficulty): Reference {
  // The suite names a run of a scenario with several runbooks by its runbook; the default runbook is the reference.
  const name = s.alternativeRunbooks.length ? `runbook ${s.runbookName}` : undefined;
  const passed = records.flatMap((r) => r.runs).filter((r) => r.id === s.id && r.name === name && r.outcome === "passed");
  const times = passed.filter((r) => r.timeToRecoverMs !== undefined).map((r) => r.timeToRecoverMs!);
  const m = median(times);
  if (m === undefined) return { ms: PAR_MS[difficulty], source: "par" };
  const byTitle = new Map<string, number[]>();
  for (const step of passed.flatMap((r) => r.runbookSteps ?? [])) byTitle.set(step.title, [...(byTitle.get(step.title) ?? []), step.ms]);
  const steps = [...byTitle].map(([title, ms]) => ({ title, ms: median(ms)!, runs: ms.length }));
  return { ms: m, source: "suite", runs: times.length, ...(steps.length ? { steps } : {}) };
}

export const describeReference = (r: Reference): string =>
  r.source === "suite"
    ? `${formatDuration(r.ms)} (median time to recover of ${r.runs} nightly suite run${r.runs === 1 ? "" : "s"})`
    : `no suite history yet; par ${formatDuration(r.ms)}`;

/** A game clock: "04:07", "123:00". */
export function clock(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  return `${String(Math.floor(s / 60)).padStart(2, "0")}:${String(s % 60).padStart(2, "0")}`;
}
