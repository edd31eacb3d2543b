/**
 * pnpm bench:unit-busy [--runs N] [--hogs N]
 *
 * Issue 34's claim that the unit tests fail only for their own reasons: runs `pnpm test:unit` N times in a row
 * (default 3) while `stress-ng --cpu H` keeps H workers (default: one per core) spinning beside it, and records each
 * run's exit code, wall time and vitest's counts. The hog is started before the first run and stopped after the last
 * (its process group, on success, failure and Ctrl-C). Appends one JSON line to bench/results.jsonl; exits 1 if any
 * run failed. Needs stress-ng (Debian: apt-get install stress-ng).
 */
import { spawn } from "node:child_process";
import { appendFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { run } from "../clusters/exec.js";
import { AftershockError } from "../clusters/errors.js";
import { exitOnError, int, parse } from "../harness/cli/args.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.join(here, "..");
const USAGE = "pnpm bench:unit-busy [--runs N] [--hogs N]";

const { runs, hogs } = (() => {
  try {
    const { values, positionals } = parse(process.argv.slice(2), { runs: { type: "string" }, hogs: { type: "string" } });
    if (values.help) {
      process.stdout.write(`${USAGE}\n`);
      process.exit(0);
    }
    if (positionals.length) throw new AftershockError("E_BAD_INPUT", `unexpected argument "${positionals[0]}"`, { hint: USAGE });
    return {
      runs: int("runs", values.runs as string | undefined, 3, 1, 20),
      hogs: int("hogs", values.hogs as string | undefined, os.availableParallelism(), 1, 64),
    };
  } catch (e) {
    return exitOnError("bench", e);
  }
})();

/** The project's own closing line (test/summary-reporter.ts): "tests: N passed, N failed, N skipped". */
function counts(out: string): { passed: number; failed: number; skipped: number } {
  const m = /^tests: (\d+) passed, (\d+) failed, (\d+) skipped$/m.exec(out);
  return { passed: Number(m?.[1] ?? 0), failed: Number(m?.[2] ?? 0), skipped: Number(m?.[3] ?? 0) };
}

async function main(): Promise<void> {
  await run("stress-ng", ["--version"], { timeout: "10s" }).catch((e: unknown) => {
    throw new AftershockError("E_BAD_INPUT", "stress-ng is not installed", { hint: "apt-get install stress-ng", cause: e });
  });
  const hog = spawn("stress-ng", ["--cpu", String(hogs), "--timeout", "4h", "--quiet"], { detached: true, stdio: "ignore" });
  const stopHog = () => {
    try {
      process.kill(-hog.pid!, "SIGKILL");
    } catch {
      /* already gone */
    }
  };
  process.once("SIGINT", () => {
    stopHog();
    process.exit(130);
  });
  const results: { exitCode: number; seconds: number; passed: number; failed: number; skipped: number }[] = [];
  {
    // The hog is killed as this block ends, however it ends (on Ctrl-C by the handler above).
    using hog = new DisposableStack();
    hog.defer(stopHog);
    for (let i = 1; i <= runs; i++) {
      process.stdout.write(`• pnpm test:unit, run ${i} of ${runs}, beside stress-ng --cpu ${hogs} …\n`);
      const t0 = performance.now();
      const r = await run("pnpm", ["-s", "test:unit"], { cwd: root, allowFailure: true, timeout: "60m" });
      const seconds = Math.round((performance.now() - t0) / 100) / 10;
      const c = counts(r.stdout + r.stderr);
      results.push({ exitCode: r.exitCode ?? 1, seconds, ...c });
      process.stdout.write(`  run ${i}: exit ${r.exitCode}, ${seconds}s, ${c.passed} passed, ${c.failed} failed, ${c.skipped} skipped\n`);
      if (r.exitCode !== 0) process.stdout.write((r.stdout + r.stderr).split("\n").slice(-60).join("\n") + "\n");
    }
  }
  const load = os.loadavg()[0];
  await appendFile(
    path.join(here, "results.jsonl"),
    JSON.stringify({ bench: "unit-busy", at: new Date().toISOString(), cores: os.availableParallelism(), hogs, loadAfter: load, runs: results }) + "\n",
  );
  if (results.some((r) => r.exitCode !== 0)) process.exit(1);
}

main().catch((e: unknown) => exitOnError("bench", e));
