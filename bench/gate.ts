/**
 * pnpm bench:gate [--scenario ID] [--runs N] [--delay-ms MS]
 *
 * Measures the nightly gate's false alarms on this machine's own spread (issue 33): runs one scenario N times
 * (default 10) with `pnpm suite ID --repeat N` into a history of its own, then
 *   - counts, for each of those runs, whether the regression rule (harness/reports/history.ts REGRESSION) would
 *     have flagged its time to detect or to recover against the other N − 1 (leave one out: the false alarms the
 *     rule raises on runs that are normal by construction);
 *   - runs `pnpm suite ID --gate` once more on that history: it should pass (exit 0);
 *   - runs it again with every runbook step delayed by MS (AFTERSHOCK_TEST_RUNBOOK_DELAY_MS, a test switch, default
 *     30 000): it should fail on the time to recover (exit 9), naming the band it left.
 * Appends one JSON line to bench/results.jsonl. Real clusters: about N + 2 runs of the scenario.
 */
import { mkdtemp, appendFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { run } from "../clusters/exec.js";
import { AftershockError } from "../clusters/errors.js";
import { exitOnError, int, parse } from "../harness/cli/args.js";
import { readHistory, regressionBand, REGRESSION_RULE, runKey } from "../harness/reports/history.js";
import { RUNBOOK_DELAY_ENV } from "../harness/engine/test-hooks.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.join(here, "..");
const USAGE = "pnpm bench:gate [--scenario ID] [--runs N] [--delay-ms MS]";

const { scenario, runs, delayMs } = (() => {
  try {
    const { values, positionals } = parse(process.argv.slice(2), { scenario: { type: "string" }, runs: { type: "string" }, "delay-ms": { type: "string" } });
    if (values.help) {
      process.stdout.write(`${USAGE}\n`);
      process.exit(0);
    }
    if (positionals.length) throw new AftershockError("E_BAD_INPUT", `unexpected argument "${positionals[0]}"`, { hint: USAGE });
    return {
      scenario: (values.scenario as string | undefined) ?? "etcd-port-conflict",
      runs: int("runs", values.runs as string | undefined, 10, 6, 50),
      delayMs: int("delay-ms", values["delay-ms"] as string | undefined, 30_000, 1_000, 600_000),
    };
  } catch (e) {
    return exitOnError("bench", e);
  }
})();

const secs = (ms: number | undefined) => (ms === undefined ? undefined : Math.round(ms / 100) / 10);

async function suite(args: string[], env: NodeJS.ProcessEnv): Promise<{ exitCode: number; ms: number; gateLines: string[] }> {
  const t0 = performance.now();
  const r = await run("pnpm", ["-s", "suite", scenario, ...args], {
    cwd: root,
    env: { ...process.env, ...env },
    allowFailure: true,
    timeout: "4h",
    onLine: (l) => process.stdout.write(`  ${l}\n`),
  });
  const out = r.stdout + r.stderr;
  return {
    exitCode: r.exitCode ?? 1,
    ms: performance.now() - t0,
    gateLines: out
      .split("\n")
      .filter((l) => /gate|regress|score/i.test(l))
      .slice(-12),
  };
}

async function main() {
  const dir = await mkdtemp(path.join(os.tmpdir(), "aftershock-gate-"));
  const env = { AFTERSHOCK_HISTORY_DIR: dir };
  const first = await suite(["--repeat", String(runs)], env);
  const history = await readHistory(dir);
  const all = history.flatMap((h) => h.runs).filter((r) => r.id === scenario);
  const key = all[0] ? runKey(all[0]) : scenario;
  const leaveOneOut = (pick: (r: (typeof all)[number]) => number | undefined) =>
    all.map((r, i) => {
      const v = pick(r);
      const band = regressionBand(all.filter((_, j) => j !== i).flatMap((o) => (pick(o) !== undefined ? [pick(o)!] : [])));
      return { value: secs(v), limit: secs(band?.limit), alarm: v !== undefined && band !== undefined && v > band.limit };
    });
  const detect = leaveOneOut((r) => r.timeToDetectMs);
  const recover = leaveOneOut((r) => r.timeToRecoverMs);
  const quiet = await suite(["--gate"], env);
  const delayed = await suite(["--gate"], { ...env, [RUNBOOK_DELAY_ENV]: String(delayMs) });
  const result = {
    bench: "gate",
    at: new Date().toISOString(),
    scenario: key,
    rule: REGRESSION_RULE,
    repeat: { runs, exitCode: first.exitCode, minutes: Math.round(first.ms / 6000) / 10, asExpected: all.filter((r) => r.asExpected).length },
    bandsOverAll: {
      detect: regressionBand(all.flatMap((r) => (r.timeToDetectMs !== undefined ? [r.timeToDetectMs] : []))),
      recover: regressionBand(all.flatMap((r) => (r.timeToRecoverMs !== undefined ? [r.timeToRecoverMs] : []))),
    },
    leaveOneOut: {
      detectFalseAlarms: detect.filter((d) => d.alarm).length,
      recoverFalseAlarms: recover.filter((d) => d.alarm).length,
      of: all.length,
      detect,
      recover,
    },
    gateOnHistory: { exitCode: quiet.exitCode, lines: quiet.gateLines },
    gateWithDelay: { delayMs, exitCode: delayed.exitCode, lines: delayed.gateLines },
    historyDir: dir,
  };
  await appendFile(path.join(here, "results.jsonl"), JSON.stringify(result) + "\n");
  console.log(JSON.stringify(result, null, 2));
}

main().catch((e: unknown) => exitOnError("bench", e));
