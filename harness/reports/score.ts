import { formatDuration } from "../../clusters/errors.js";
import type { LoadSummary } from "../load/load-series.js";
import type { LoadRecord, RecordedObjective } from "../load/streams.js";
import { DEFAULT_SCORE_WEIGHTS, type ScoreConfig, type ScorePartKind } from "../model/scenario.js";
import type { PhaseName, RunJournal } from "../engine/journal.js";
import { expectedOutcome } from "../engine/outcomes.js";
import { versionSuffix } from "../kit/versions.js";

/**
 * A run's resilience score: what users and operators care about, each part a value from 0 to 100 with a weight.
 *
 *   score = ⌊ Σ weightᵢ × valueᵢ / Σ weightᵢ ⌋          (0 when every weight is 0)
 *
 * The parts, and how each is valued:
 *   users      one per SLO verdict of a load stream, "during" and "after" the fault ("<load>/<window>"; "before"
 *              is the steady state: a run that breaks it is aborted and scored by the rule below). Met: 100.
 *              Breached: graded on the objective's numbers, the lower of availability and latency, each 100 at
 *              the objective falling linearly to 0 at twice the error budget spent (availability) or twice the
 *              p99 bound (latency), and never above 99: a breach is never a full mark.
 *   workload   the same for the team workload's SLO windows ("workload/<window>"), when --workload ran.
 *   detect     time to detect against symptoms.within (B): 100 up to B/2, falling linearly to 0 at B.
 *   recover    time to recover against every runbook step's budget plus verify.within (B): the same curve.
 *   data       0 when anything was lost: an entry of the journal's recoveryPoint (lost by design after the
 *              last backup), a sentinel that failed, or the outcome data-lost; it names what was lost. 100 when
 *              sentinels were checked and all survived. Absent when the run checked no data.
 *   self-check one each for symptoms-absent and verify-fails: 100 passed, 0 failed.
 *
 * An unexpected outcome: a part the run did not reach scores 0, since a run that stopped before it measured
 * nothing it can claim (not recovered: recover 0; fault not reproduced: detect, verify-fails and recover 0;
 * aborted: everything but what ran 0).
 *
 * Weights: DEFAULT_SCORE_WEIGHTS by kind, the scenario's `score.weights` over them, and `score.slos` by SLO
 * name ("web/during", or "web" for both windows) over both. Why this differs from Krkn, Litmus and Gremlin is
 * in the README ("Resilience score and the gate").
 */

export interface ScorePart {
  /** "web/during", "workload/after", "detect", "recover", "data", "symptoms-absent", "verify-fails": a metric label. */
  name: string;
  kind: ScorePartKind;
  /** 0–100, rounded down. */
  value: number;
  weight: number;
  /** Whether the part held: its SLO met, its time within the budget's first half, no data lost, the check passed. */
  ok: boolean;
  /** Why this value, for people. */
  detail: string;
}

export interface RunScore {
  /** 0–100, rounded down. */
  score: number;
  parts: ScorePart[];
}

/** The windows that score: users' experience through the fault and after recovery. */
const SCORED_WINDOWS = ["during", "after"] as const;

/** Rounds down, forgiving floating-point dust (99.99999… is 100). */
const floor = (x: number) => Math.floor(x + 1e-9);
const clamp01 = (x: number) => Math.min(1, Math.max(0, x));

/** 100 up to half the budget, falling linearly to 0 at the budget. */
export function budgetValue(ms: number, budgetMs: number): number {
  if (budgetMs <= 0) return ms <= 0 ? 100 : 0;
  return floor(100 * clamp01((budgetMs - ms) / (budgetMs / 2)));
}

/**
 * A breached SLO, graded: availability by the share of the error budget spent (100 at the objective, 0 at
 * twice the budget; an objective of 100% has none, so any error is 0), latency by how far p99 went over its
 * bound (0 at twice the bound); the lower of the two, at most 99.
 */
export function breachValue(s: LoadSummary | undefined, o: RecordedObjective | undefined): number {
  if (!s || !o || !s.requests) return 0;
  const budget = 1 - o.availability;
  const spent = budget > 0 ? (1 - s.availability) / budget : s.availability < 1 ? Infinity : 0;
  const avail = clamp01(2 - Math.max(1, spent));
  const lat = o.p99Ms === undefined || s.p99Ms <= o.p99Ms ? 1 : clamp01(2 - s.p99Ms / o.p99Ms);
  return Math.min(99, floor(100 * Math.min(avail, lat)));
}

function weightOf(config: ScoreConfig | undefined, kind: ScorePartKind, name?: string): number {
  const slos = config?.slos ?? {};
  if (name !== undefined) {
    if (slos[name] !== undefined) return slos[name];
    const stream = name.split("/")[0]!;
    if (slos[stream] !== undefined) return slos[stream];
  }
  return config?.weights?.[kind] ?? DEFAULT_SCORE_WEIGHTS[kind];
}

function sloPart(
  kind: "users" | "workload",
  name: string,
  verdict: { objective: string; target?: RecordedObjective; ok: boolean; observed: string },
  summary: LoadSummary | undefined,
  config: ScoreConfig | undefined,
): ScorePart {
  const value = verdict.ok ? 100 : breachValue(summary, verdict.target);
  return {
    name,
    kind,
    value,
    weight: weightOf(config, kind, name),
    ok: verdict.ok,
    detail: `${verdict.ok ? "met" : "breached"} (${verdict.objective}): ${verdict.observed}`,
  };
}

/** Everything the score says about one run. */
export function scoreRun(j: RunJournal): RunScore {
  const config = j.scoring?.config;
  const parts: ScorePart[] = [];
  const phase = (n: PhaseName) => j.phases.find((p) => p.name === n);
  const workloadName = j.workload?.name;

  // Users: the load streams' SLO verdicts; the team workload's stream is scored through its own verdict below.
  for (const l of j.load ?? []) {
    if (l.name === workloadName) continue;
    // `?? []`: a journal written by hand or by an older version may have a stream without verdicts.
    for (const v of l.slos ?? []) if (isScored(v.window)) parts.push(sloPart("users", `${l.name}/${v.window}`, v, l.windows[v.window], config));
  }
  if (j.workload) {
    const rec: LoadRecord | undefined = j.load?.find((l) => l.name === workloadName);
    for (const v of j.workload.slos) {
      if (!isScored(v.window)) continue;
      const target = rec?.slos.find((x) => x.window === v.window)?.target;
      parts.push(sloPart("workload", `workload/${v.window}`, { ...v, ...(target ? { target } : {}) }, rec?.windows[v.window], config));
    }
  }

  const t = j.timings;
  const detectBudget = j.scoring?.detectBudgetMs ?? phase("symptoms")?.budgetMs;
  if (detectBudget !== undefined)
    parts.push(timePart("detect", t.timeToDetectMs, detectBudget, `not detected (${j.outcome})`, weightOf(config, "detect")));
  const recoverBudget = j.scoring?.recoverBudgetMs ?? phase("verify")?.budgetMs;
  if (recoverBudget !== undefined)
    parts.push(timePart("recover", t.timeToRecoverMs, recoverBudget, `not recovered (${j.outcome})`, weightOf(config, "recover")));

  const data = dataPart(j, weightOf(config, "data"));
  if (data) parts.push(data);

  for (const name of ["symptoms-absent", "verify-fails"] as const) {
    const p = phase(name);
    parts.push({
      name,
      kind: "self-check",
      value: p?.status === "passed" ? 100 : 0,
      weight: weightOf(config, "self-check"),
      ok: p?.status === "passed",
      detail: !p ? `not reached (${j.outcome})` : p.status === "passed" ? "passed" : `failed: ${p.error ?? ""}`,
    });
  }

  const total = parts.reduce((a, p) => a + p.weight, 0);
  const score = total ? floor(parts.reduce((a, p) => a + p.weight * p.value, 0) / total) : 0;
  return { score, parts };
}

const isScored = (w: string): w is (typeof SCORED_WINDOWS)[number] => (SCORED_WINDOWS as readonly string[]).includes(w);

function timePart(name: "detect" | "recover", ms: number | undefined, budgetMs: number, missing: string, weight: number): ScorePart {
  const budget = `budget ${formatDuration(budgetMs)}, full marks up to ${formatDuration(budgetMs / 2)}`;
  if (ms === undefined) return { name, kind: name, value: 0, weight, ok: false, detail: `${missing}; ${budget}` };
  const value = budgetValue(ms, budgetMs);
  return { name, kind: name, value, weight, ok: value === 100, detail: `${formatDuration(ms)}; ${budget}` };
}

/** Data kept: 0 and what was lost, 100 when sentinels were checked and survived, undefined when nothing checked data. */
function dataPart(j: RunJournal, weight: number): ScorePart | undefined {
  const checked = j.phases.find((p) => p.name === "verify")?.probes.filter((p) => p.kind === "sentinel" || p.kind === "recovery-point") ?? [];
  const lost = [
    ...(j.recoveryPoint ?? []).map((x) => `lost by design, after the recovery point: ${x}`),
    ...checked.filter((p) => p.kind === "sentinel" && !p.ok).map((p) => `${p.name}: ${p.observed}`),
  ];
  if (j.outcome === "data-lost" && !lost.length) lost.push(j.reason);
  if (lost.length) return { name: "data", kind: "data", value: 0, weight, ok: false, detail: `lost: ${lost.join("; ")}` };
  if (!checked.length) return undefined;
  return { name: "data", kind: "data", value: 100, weight, ok: true, detail: `${checked.length} sentinel check${checked.length === 1 ? "" : "s"}, nothing lost` };
}

/** "recover 0 ×2 (not recovered …)": a part for a reason line. */
export const partText = (p: ScorePart): string => `${p.name} ${p.value} ×${p.weight} (${p.detail})`;

// ---- roll-ups ------------------------------------------------------------------------------------------

/** One scenario key's runs in a suite: the scenario, its variant or runbook, its version, and their mean score. */
export interface KeyScore {
  key: string;
  scenario: string;
  /** The variant or runbook ("variant ha", "runbook restore"); "" as written. */
  variant: string;
  version: string;
  /** Whether its runs are meant to pass: only those count in the roll-ups and the gate's threshold. */
  counted: boolean;
  runs: number;
  /** Mean of the runs' scores, one decimal. */
  score: number;
  /** Per part name, the mean value and the weight (of the last run), in the order of the first run's parts. */
  parts: { name: string; kind: ScorePartKind; value: number; weight: number; ok: boolean; detail: string }[];
}

export interface SuiteScores {
  keys: KeyScore[];
  /** Mean score of the counted runs per Kubernetes version, in the order first seen. */
  versions: { version: string; score: number; runs: number }[];
  /** Mean score of every counted run; undefined when no run is meant to pass. */
  catalog?: number;
}

const mean = (xs: number[]) => Math.round((xs.reduce((a, x) => a + x, 0) / xs.length) * 10) / 10;

/** The variant label of a run (the history's name): "variant ha", "runbook restore", "fault neutralised"; "" as written. */
export const variantLabel = (j: RunJournal): string => j.variant?.name ?? (j.runbook ? `runbook ${j.runbook}` : "");
export const versionOfRun = (j: RunJournal): string => j.kubernetesVersion ?? j.cluster?.kubernetesVersion ?? "";

/**
 * The suite's scores: per scenario key (scenario, variant, version), per version and for the catalog. Runs meant
 * to end otherwise than passed (--prove's neutralised fault and cut runbook, a runbook that loses data by
 * design) are scored and shown but left out of the version and catalog means: their low score is their point.
 */
export function suiteScores(journals: RunJournal[]): SuiteScores {
  const by = new Map<string, { j: RunJournal; s: RunScore }[]>();
  for (const j of journals) {
    const v = variantLabel(j);
    const key = `${j.scenario.id}${v ? ` (${v})` : ""}${versionSuffix(j.kubernetesVersion)}`;
    by.set(key, [...(by.get(key) ?? []), { j, s: scoreRun(j) }]);
  }
  const keys: KeyScore[] = [...by].map(([key, rs]) => {
    const first = rs[0]!.j;
    const names = [...new Set(rs.flatMap((r) => r.s.parts.map((p) => p.name)))];
    const parts = names.map((name) => {
      const ps = rs.flatMap((r) => r.s.parts.filter((p) => p.name === name));
      const last = ps.at(-1)!;
      return { name, kind: last.kind, value: mean(ps.map((p) => p.value)), weight: last.weight, ok: ps.every((p) => p.ok), detail: last.detail };
    });
    return {
      key,
      scenario: first.scenario.id,
      variant: variantLabel(first),
      version: versionOfRun(first),
      counted: expectedOutcome(first) === "passed",
      runs: rs.length,
      score: mean(rs.map((r) => r.s.score)),
      parts,
    };
  });
  const counted = [...by.values()].flat().filter((r) => expectedOutcome(r.j) === "passed");
  const versions = [...new Set(counted.map((r) => versionOfRun(r.j)))].map((version) => {
    const rs = counted.filter((r) => versionOfRun(r.j) === version);
    return { version, score: mean(rs.map((r) => r.s.score)), runs: rs.length };
  });
  return { keys, versions, ...(counted.length ? { catalog: mean(counted.map((r) => r.s.score)) } : {}) };
}

/** The console's score lines: one per scenario key, then per version and the catalog. */
export function scoreLines(s: SuiteScores): string {
  const lines = s.keys.map((k) => {
    const low = k.parts.filter((p) => p.value < 100).map((p) => `${p.name} ${p.value}`);
    return `  score ${k.key}: ${k.score}${k.counted ? "" : " (meant to fail: not in the roll-ups)"}${low.length ? ` — below 100: ${low.join(", ")}` : ""}\n`;
  });
  const versions = s.versions.length > 1 ? s.versions.map((v) => `  score ${v.version || "(no version)"}: ${v.score} over ${v.runs} run${v.runs === 1 ? "" : "s"}\n`) : [];
  const catalog = s.catalog !== undefined ? `  resilience score of the catalog: ${s.catalog} (mean of ${s.keys.filter((k) => k.counted).reduce((a, k) => a + k.runs, 0)} runs meant to pass)\n` : "";
  return lines.join("") + versions.join("") + catalog;
}
