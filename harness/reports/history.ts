import { versionSuffix } from "../kit/versions.js";
import { existsSync, readFileSync, statSync } from "node:fs";
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { formatDuration } from "../../clusters/errors.js";
import { asExpected, expectedOutcome } from "../engine/outcomes.js";
import type { Outcome, RunJournal } from "../engine/journal.js";
import type { Shard } from "../engine/variants.js";
import { scoreRun } from "./score.js";

/**
 * The suite's memory: every `pnpm suite` appends one small JSON record (one file per suite run, named by its
 * start time) to reports/history/, or AFTERSHOCK_HISTORY_DIR. A CI caches and restores that directory, and
 * the suite's report compares this run with the last ones: trends, regressions, flaky and failing scenarios.
 */

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");

/** How many earlier suite runs a suite reads back, and how many earlier runs of one scenario its trends look at. */
export const HISTORY_RECORDS = 30;
export const TREND_RUNS = 10;

/** What users of one load stream saw during the fault. */
export interface HistoryLoad {
  name: string;
  /** Share of requests answered during the fault (inject to the end of the runbook), when that window was reached. */
  duringAvailability?: number;
  errorWindowMs: number;
}

/** One scenario run, compactly. */
export interface HistoryRun {
  id: string;
  /** The variant, or the runbook when the scenario has several ("runbook safe", "variant ha", "fault neutralised"). */
  name?: string;
  /** The Kubernetes version it ran on (absent in records written before runs carried one: VERSION_OF_UNVERSIONED_RUNS). */
  kubernetesVersion?: string;
  outcome: Outcome;
  expected: Outcome;
  asExpected: boolean;
  timeToDetectMs?: number;
  timeToConfirmMs?: number;
  timeToRecoverMs?: number;
  totalMs: number;
  /** The run's resilience score, 0–100 (score.ts); absent in records written before scores. */
  score?: number;
  load?: HistoryLoad[];
  /** How long each runbook step took, in order, when the whole runbook ran (a game day's debrief shows their medians). */
  runbookSteps?: { title: string; ms: number }[];
}

/** One suite run. */
export interface HistoryRecord {
  version: 1;
  /** ISO time the suite started. */
  startedAt: string;
  commit?: string;
  tag?: string;
  ids: string[];
  prove: boolean;
  shard?: Shard;
  repeat: number;
  runs: HistoryRun[];
}

/** A scenario run's name across suite runs: the id, and the variant or runbook, as the reports name it. */
export const runKey = (r: Pick<HistoryRun, "id" | "name" | "kubernetesVersion">): string =>
  (r.name ? `${r.id} (${r.name})` : r.id) + versionSuffix(r.kubernetesVersion);

export function historyRun(j: RunJournal): HistoryRun {
  const name = j.variant?.name ?? (j.runbook ? `runbook ${j.runbook}` : undefined);
  const t = j.timings;
  return {
    id: j.scenario.id,
    ...(name ? { name } : {}),
    ...(j.kubernetesVersion ? { kubernetesVersion: j.kubernetesVersion } : {}),
    outcome: j.outcome,
    expected: expectedOutcome(j),
    asExpected: asExpected(j),
    ...(t.timeToDetectMs !== undefined ? { timeToDetectMs: t.timeToDetectMs } : {}),
    ...(t.timeToConfirmMs !== undefined ? { timeToConfirmMs: t.timeToConfirmMs } : {}),
    ...(t.timeToRecoverMs !== undefined ? { timeToRecoverMs: t.timeToRecoverMs } : {}),
    totalMs: t.totalMs,
    score: scoreRun(j).score,
    ...(j.load?.length ? { load: j.load.map(historyLoad) } : {}),
    ...runbookStepTimes(j),
  };
}

/** The runbook's step times, when every step ran and succeeded (a failed or cut runbook's times are not a reference). */
function runbookStepTimes(j: RunJournal): Pick<HistoryRun, "runbookSteps"> {
  const steps = j.phases.find((p) => p.name === "runbook")?.steps ?? [];
  if (!steps.length || !steps.every((s) => s.ok)) return {};
  return { runbookSteps: steps.map((s) => ({ title: s.title, ms: s.endedAt - s.startedAt })) };
}

const historyLoad = (l: NonNullable<RunJournal["load"]>[number]): HistoryLoad => ({
  name: l.name,
  ...(l.windows.during ? { duringAvailability: l.windows.during.availability } : {}),
  errorWindowMs: l.errorWindowMs,
});

/** What a suite run knows about itself before its runs are added (the record's fields, with the start as a Date). */
export type SuiteMeta = Omit<HistoryRecord, "version" | "startedAt" | "runs"> & { startedAt: Date };

export function historyRecord(journals: RunJournal[], m: SuiteMeta): HistoryRecord {
  return {
    version: 1,
    startedAt: m.startedAt.toISOString(),
    ...(m.commit ? { commit: m.commit } : {}),
    ...(m.tag ? { tag: m.tag } : {}),
    ids: m.ids,
    prove: m.prove,
    ...(m.shard ? { shard: m.shard } : {}),
    repeat: m.repeat,
    runs: journals.map(historyRun),
  };
}

// ---- the store -----------------------------------------------------------------------------------------

/** reports/history/, or AFTERSHOCK_HISTORY_DIR. */
export function historyDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.AFTERSHOCK_HISTORY_DIR ? path.resolve(env.AFTERSHOCK_HISTORY_DIR) : path.join(ROOT, "reports", "history");
}

/** 2025-01-31T02-00-00-000Z.json (-shard-2-of-4 when sharded): names sort as the times do. */
export function recordFileName(r: Pick<HistoryRecord, "startedAt" | "shard">): string {
  return `${r.startedAt.replace(/[:.]/g, "-")}${r.shard ? `-shard-${r.shard.index}-of-${r.shard.count}` : ""}.json`;
}

export async function writeHistory(dir: string, r: HistoryRecord): Promise<string> {
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, recordFileName(r));
  await writeFile(file, JSON.stringify(r) + "\n");
  return file;
}

/** A record from a file's text, or why it is not one. */
export function parseRecord(text: string): HistoryRecord | { error: string } {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    return { error: `not JSON (${(e as Error).message.split("\n")[0]})` };
  }
  const r = v as Partial<HistoryRecord> | null;
  if (!r || typeof r !== "object" || r.version !== 1) return { error: "not a version 1 history record" };
  if (typeof r.startedAt !== "string" || !Array.isArray(r.runs)) return { error: "no startedAt or runs" };
  const bad = r.runs.findIndex(
    (x: Partial<HistoryRun> | null) => !x || typeof x.id !== "string" || typeof x.outcome !== "string" || typeof x.asExpected !== "boolean",
  );
  if (bad >= 0) return { error: `run ${bad + 1} has no id, outcome or asExpected` };
  return r as HistoryRecord;
}

/**
 * The last `last` records of the store, oldest first. A missing directory is an empty history; a file that is
 * not a record is skipped with one warning line.
 */
export async function readHistory(dir: string, last = HISTORY_RECORDS, warn: (line: string) => void = stderrLine): Promise<HistoryRecord[]> {
  const names = existsSync(dir) ? (await readdir(dir)).filter((n) => n.endsWith(".json")).sort() : [];
  const records: HistoryRecord[] = [];
  for (const name of names.reverse()) {
    if (records.length >= last) break;
    const file = path.join(dir, name);
    const r = await readFile(file, "utf8").then(parseRecord, (e: Error) => ({ error: `unreadable (${e.message})` }));
    if ("error" in r) warn(`history: skipped ${file}: ${r.error}`);
    else records.push(r);
  }
  return records.reverse();
}

const stderrLine = (line: string) => void process.stderr.write(`aftershock: ${line}\n`);

/** The checked-out commit, read from .git (a worktree's too) without running git; undefined when there is none. */
export function gitCommit(root = ROOT): string | undefined {
  try {
    let gitDir = path.join(root, ".git");
    if (statSync(gitDir).isFile())
      gitDir = path.resolve(
        root,
        readFileSync(gitDir, "utf8")
          .replace(/^gitdir:\s*/, "")
          .trim(),
      );
    const head = readFileSync(path.join(gitDir, "HEAD"), "utf8").trim();
    const ref = /^ref: (\S+)$/.exec(head)?.[1];
    if (!ref) return /^[0-9a-f]{40,64}$/.test(head) ? head : undefined;
    const commonFile = path.join(gitDir, "commondir");
    const common = existsSync(commonFile) ? path.resolve(gitDir, readFileSync(commonFile, "utf8").trim()) : gitDir;
    for (const d of [gitDir, common]) if (existsSync(path.join(d, ref))) return readFileSync(path.join(d, ref), "utf8").trim();
    const packed = readFileSync(path.join(common, "packed-refs"), "utf8").split("\n");
    return packed.find((l) => l.endsWith(` ${ref}`))?.split(" ")[0];
  } catch {
    return undefined;
  }
}

// ---- statistics ----------------------------------------------------------------------------------------

/** The middle value (the mean of the two middle ones for an even count); undefined for none. */
export function median(xs: number[]): number | undefined {
  if (!xs.length) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export interface Spread {
  min: number;
  median: number;
  max: number;
  /** How many runs had a value. */
  n: number;
}

export function spread(xs: number[]): Spread | undefined {
  const m = median(xs);
  return m === undefined ? undefined : { min: Math.min(...xs), median: m, max: Math.max(...xs), n: xs.length };
}

const values = (runs: HistoryRun[], k: "timeToDetectMs" | "timeToRecoverMs") => runs.flatMap((r) => (r[k] === undefined ? [] : [r[k]]));

/** The runs of one scenario key, in the order given. */
function byKey(runs: HistoryRun[]): Map<string, HistoryRun[]> {
  const m = new Map<string, HistoryRun[]>();
  for (const r of runs) m.set(runKey(r), [...(m.get(runKey(r)) ?? []), r]);
  return m;
}

/** A suite's runs of one scenario key (several with --repeat): how many ended as expected, and the spread of its times. */
export interface RepeatStats {
  key: string;
  runs: number;
  passes: number;
  passRate: number;
  detect?: Spread;
  recover?: Spread;
}

export function repeatStats(runs: HistoryRun[]): RepeatStats[] {
  return [...byKey(runs)].map(([key, rs]) => {
    const passes = rs.filter((r) => r.asExpected).length;
    const detect = spread(values(rs, "timeToDetectMs"));
    const recover = spread(values(rs, "timeToRecoverMs"));
    return { key, runs: rs.length, passes, passRate: passes / rs.length, ...(detect ? { detect } : {}), ...(recover ? { recover } : {}) };
  });
}

/** 1 → "100%", 0.98 → "98%", 2/3 → "66.7%". */
export const rate = (x: number): string => `${Math.round(x * 1000) / 10}%`;

/** The suite's last console line: "suite: 50 scenario runs, 0 not as expected (pass rate 100%)". */
export function summaryLine(runs: Pick<HistoryRun, "asExpected">[]): string {
  const wrong = runs.filter((r) => !r.asExpected).length;
  const n = runs.length;
  return `suite: ${n} scenario run${n === 1 ? "" : "s"}, ${wrong} not as expected${n ? ` (pass rate ${rate((n - wrong) / n)})` : ""}`;
}

// ---- trends --------------------------------------------------------------------------------------------

export type TrendFlag = "regression" | "flaky" | "failing";

/** One scenario key over its last runs: the earlier ones from the history, then this suite's. */
export interface TrendRow {
  key: string;
  /** Oldest first: up to TREND_RUNS earlier runs, then this suite's runs. */
  runs: HistoryRun[];
  earlier: number;
  passRate: number;
  medianRecoverMs?: number;
  flags: TrendFlag[];
  /** Why each regression was flagged, e.g. "time to recover 65.0s > 2 × 30.0s, the median of 4 earlier runs". */
  regressions: string[];
}

/**
 * When a time to detect or to recover is a regression: further above the earlier runs' median than their own
 * spread explains. The spread is the median absolute deviation (MAD) scaled by 1.4826, which estimates the
 * standard deviation of normal noise but, unlike it, ignores up to half the runs being odd: one slow night
 * (a busy machine) does not widen the band for good, nor does a run that already regressed. Its floor is the
 * larger of 2 s (probes are asked every 2 s, so times move in steps of that much; identical earlier times
 * would otherwise make any later second a regression) and 10% of the median. A regression is more than
 * K × spread above the median (3: about 0.1% of normal noise goes beyond, one-sided). Fewer than MIN_EARLIER
 * earlier values say nothing: the MAD of 3 or 4 runs is one run's whim. It replaces "more than 2× the
 * median", which with a 4 s median fired at 8.1 s (noise for a 2 s poll) and with a 5 min one waited for 10.
 */
export const REGRESSION = { minEarlier: 5, k: 3, madScale: 1.4826, floorMs: 2000, floorShare: 0.1 } as const;

/** The regression rule, as the report's caption states it. */
export const REGRESSION_RULE =
  `this run's time to detect or to recover is above the median of the earlier runs' + ${REGRESSION.k} × their spread ` +
  `(1.4826 × the median absolute deviation, at least ${REGRESSION.floorMs / 1000}s and ${REGRESSION.floorShare * 100}% of the median; ` +
  `at least ${REGRESSION.minEarlier} earlier runs with a value; with --repeat, this run's median is compared)`;

/** The band the earlier values allow: their median, spread and the limit above which a value is a regression. */
export interface RegressionBand {
  median: number;
  spread: number;
  limit: number;
  n: number;
}

export function regressionBand(earlier: number[]): RegressionBand | undefined {
  const m = median(earlier);
  if (m === undefined || earlier.length < REGRESSION.minEarlier) return undefined;
  const mad = median(earlier.map((x) => Math.abs(x - m)))!;
  const spread = Math.max(REGRESSION.madScale * mad, REGRESSION.floorMs, REGRESSION.floorShare * m);
  return { median: m, spread, limit: m + REGRESSION.k * spread, n: earlier.length };
}

/**
 * Trends for every scenario key of the current suite run. Flags: regression (REGRESSION_RULE), flaky (not as
 * expected in some but not all of the runs shown), failing (a run of this suite did not end as expected).
 */
export function trends(history: HistoryRecord[], current: HistoryRecord, window = TREND_RUNS): TrendRow[] {
  const past = byKey(history.flatMap((r) => r.runs));
  return [...byKey(current.runs)].map(([key, now]) => {
    const earlier = (past.get(key) ?? []).slice(-window);
    const runs = [...earlier, ...now];
    const passes = runs.filter((r) => r.asExpected).length;
    const regressions = (["timeToDetectMs", "timeToRecoverMs"] as const).flatMap((k) => regression(k, values(earlier, k), values(now, k)));
    const flags: TrendFlag[] = [
      ...(regressions.length ? (["regression"] as const) : []),
      ...(passes > 0 && passes < runs.length ? (["flaky"] as const) : []),
      ...(now.some((r) => !r.asExpected) ? (["failing"] as const) : []),
    ];
    const medianRecoverMs = median(values(runs, "timeToRecoverMs"));
    return {
      key,
      runs,
      earlier: earlier.length,
      passRate: passes / runs.length,
      ...(medianRecoverMs !== undefined ? { medianRecoverMs } : {}),
      flags,
      regressions,
    };
  });
}

const METRIC = { timeToDetectMs: "time to detect", timeToRecoverMs: "time to recover" } as const;

/** [why] when this run's value (the median of this suite's) is above the earlier values' band, else []. */
function regression(k: keyof typeof METRIC, earlier: number[], now: number[]): string[] {
  const band = regressionBand(earlier);
  const value = median(now);
  if (!band || value === undefined || value <= band.limit) return [];
  return [
    `${METRIC[k]} ${formatDuration(value)} > ${formatDuration(band.limit)} (median ${formatDuration(band.median)} + ${REGRESSION.k} × spread ${formatDuration(band.spread)} of ${band.n} earlier runs)`,
  ];
}

/** "5.1s / 5.3s / 6.0s" (min / median / max), "—" without values. */
export const spreadText = (s: Spread | undefined): string => (s ? `${formatDuration(s.min)} / ${formatDuration(s.median)} / ${formatDuration(s.max)}` : "—");

/** One console line per scenario key of a repeated suite. */
export function repeatLine(s: RepeatStats): string {
  return `${s.key}: ${s.runs} run${s.runs === 1 ? "" : "s"}, ${s.passes} as expected (pass rate ${rate(s.passRate)}), detect ${spreadText(s.detect)}, recover ${spreadText(s.recover)} (min / median / max)`;
}
