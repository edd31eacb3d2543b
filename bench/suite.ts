/**
 * pnpm bench:suite [--run] [SUITE ARGS…] | pnpm bench:suite --shared DIR --fresh DIR
 *
 * The suite's own numbers, with clusters shared (pnpm suite's default) and with a cluster per run
 * (--fresh-clusters): clusters created, time spent creating them, time per run, and for every run the outcome,
 * time to detect and time to recover side by side, so a run that followed another on a shared cluster can be
 * compared with the same run on a fresh one. With --run it runs `pnpm suite SUITE ARGS…` twice (shared first,
 * then --fresh-clusters); with --shared/--fresh it reads two suites' reports (reports/suite-…/journals.json).
 * Prints a table and appends one JSON line ("bench": "suite") to bench/results.jsonl.
 */
import { spawn } from "node:child_process";
import { appendFile, readFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { formatDuration } from "../clusters/errors.js";
import { byClusterUse, suiteCounts, type SuiteCounts } from "../harness/cli/scenario-command.js";
import { historyRun, runKey } from "../harness/reports/history.js";
import type { RunJournal } from "../harness/engine/journal.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "..");

export interface RunSide {
  outcome: string;
  /** "made" when the run created its cluster, "shared" when it got one an earlier run made. */
  cluster: "made" | "shared" | "none";
  detectMs?: number;
  recoverMs?: number;
  totalMs: number;
}

export interface SuiteComparison {
  shared: SuiteCounts;
  fresh: SuiteCounts;
  runs: { key: string; shared?: RunSide; fresh?: RunSide }[];
}

function sides(journals: RunJournal[]): Map<string, RunSide> {
  const { made, reused } = byClusterUse(journals);
  const out = new Map<string, RunSide>();
  for (const j of journals) {
    const t = j.timings;
    out.set(runKey(historyRun(j)), {
      outcome: j.outcome,
      cluster: made.includes(j) ? "made" : reused.includes(j) ? "shared" : "none",
      ...(t.timeToDetectMs !== undefined ? { detectMs: t.timeToDetectMs } : {}),
      ...(t.timeToRecoverMs !== undefined ? { recoverMs: t.timeToRecoverMs } : {}),
      totalMs: t.totalMs,
    });
  }
  return out;
}

export function compareSuites(shared: RunJournal[], fresh: RunJournal[]): SuiteComparison {
  const a = sides(shared);
  const b = sides(fresh);
  const keys = [...new Set([...a.keys(), ...b.keys()])];
  return {
    shared: suiteCounts(shared),
    fresh: suiteCounts(fresh),
    runs: keys.map((key) => ({ key, ...(a.has(key) ? { shared: a.get(key)! } : {}), ...(b.has(key) ? { fresh: b.get(key)! } : {}) })),
  };
}

const d = (ms?: number) => (ms === undefined ? "–" : formatDuration(ms));

export function comparisonTable(c: SuiteComparison): string {
  const counts = (label: string, s: SuiteCounts) =>
    `| ${label} | ${s.runs} | ${s.clustersCreated} | ${d(s.createMs)} | ${s.sharedRuns} (${d(s.gateMs)}) | ${d(s.medianRunMs)} | ${d(s.totalRunMs)} |`;
  const side = (s?: RunSide) => (s ? `${s.outcome}${s.cluster === "shared" ? " (shared)" : ""} | ${d(s.detectMs)} | ${d(s.recoverMs)}` : "– | – | –");
  return [
    "| clusters | runs | created | creating | on a shared cluster (gates) | run median | runs in all |",
    "| --- | --- | --- | --- | --- | --- | --- |",
    counts("shared (default)", c.shared),
    counts("--fresh-clusters", c.fresh),
    "",
    "| run | shared: outcome | detect | recover | fresh: outcome | detect | recover |",
    "| --- | --- | --- | --- | --- | --- | --- |",
    ...c.runs.map((r) => `| ${r.key} | ${side(r.shared)} | ${side(r.fresh)} |`),
  ].join("\n");
}

async function journalsOf(dir: string): Promise<RunJournal[]> {
  return JSON.parse(await readFile(path.join(dir, "journals.json"), "utf8")) as RunJournal[];
}

/** Runs pnpm suite with these arguments, its output passed through; returns its report directory. */
function runSuite(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn("pnpm", ["-s", "suite", ...args], { cwd: root, stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (b: Buffer) => {
      process.stdout.write(b);
      out += b.toString();
    });
    child.on("error", reject);
    child.on("close", (code) => {
      const dir = /reports: (\S+)\/\{junit\.xml/.exec(out)?.[1];
      if (dir) resolve(path.resolve(root, dir));
      else reject(new Error(`pnpm suite ${args.join(" ")} exited ${code} without a report`));
    });
  });
}

async function main(argv: string[]) {
  let sharedDir: string | undefined;
  let freshDir: string | undefined;
  const suiteArgs: string[] = [];
  let runBoth = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--shared" || a === "--fresh") {
      const v = argv[++i];
      if (!v) throw new Error(`${a} needs a report directory`);
      if (a === "--shared") sharedDir = v;
      else freshDir = v;
    } else if (a === "--run") runBoth = true;
    else if (a === "--fresh-clusters") throw new Error("--fresh-clusters is the bench's second pass; leave it out");
    else suiteArgs.push(a);
  }
  if (runBoth) {
    sharedDir = await runSuite(suiteArgs);
    freshDir = await runSuite([...suiteArgs, "--fresh-clusters"]);
  }
  if (!sharedDir || !freshDir) throw new Error("give --run [suite args], or --shared DIR and --fresh DIR (reports/suite-…)");
  const c = compareSuites(await journalsOf(sharedDir), await journalsOf(freshDir));
  process.stdout.write(`\n${comparisonTable(c)}\n`);
  const line = JSON.stringify({
    bench: "suite",
    at: new Date().toISOString(),
    machine: { cpus: os.cpus().length, memGiB: Math.round(os.totalmem() / 2 ** 30) },
    suiteArgs,
    reports: { shared: path.relative(root, sharedDir), fresh: path.relative(root, freshDir) },
    ...c,
  });
  await appendFile(path.join(here, "results.jsonl"), line + "\n");
  process.stdout.write(`appended to bench/results.jsonl\n`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  main(process.argv.slice(2)).catch((e: unknown) => {
    process.stderr.write(`bench:suite: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(2);
  });
}
