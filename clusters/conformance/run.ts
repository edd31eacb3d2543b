import { createWriteStream, existsSync } from "node:fs";
import { mkdir, readFile, rm } from "node:fs/promises";
import path from "node:path";
import { AftershockError, CommandError, formatDuration, ms as duration, parseDuration, type Duration } from "../errors.js";
import { run as runCommand, type RunOptions, type RunResult } from "../exec.js";
import { conformancePassed, conformanceResult, parseGinkgoJUnit, type ConformanceResult } from "./junit.js";
import { CONFORMANCE_TIMEOUT_MS, conformanceEstimateMs, conformanceFocus, conformanceSpecsFor, e2eTestArgs } from "./specs.js";

/** Ours, around --ginkgo.timeout: time for the binary to start, write its report after an interruption, and exit. */
export const CONFORMANCE_GRACE_MS = 2 * 60_000;

/** A conformance run as the journal keeps it: the result, and how the binary ran. */
export interface ConformanceRecord extends ConformanceResult {
  kubernetesVersion: string;
  binary: string;
  ms: number;
  /** e2e.test's exit code; absent when it was killed at the end of its budget. */
  exitCode?: number;
  /** --ginkgo.timeout, and the estimate of the curated specs' time (clusters/conformance/specs.ts). */
  timeoutMs: number;
  estimateMs: number;
  /** Ginkgo's JUnit report and e2e.test's output. */
  files: { junit: string; log: string };
  /** Why there is no result to read (killed, or exited without a report): the run then did not pass. */
  error?: string;
  passed: number;
}

/** Whether a conformance run passed: a report was read, no spec or suite node failed. */
export const conformanceOk = (r: ConformanceRecord): boolean => !r.error && conformancePassed(r);

/**
 * Runs the curated conformance specs of `kubernetesVersion` with e2e.test against a cluster, on this host, and reads
 * ginkgo's report: --ginkgo.timeout (10 minutes) inside a budget of its own that adds CONFORMANCE_GRACE_MS. The
 * output goes line by line to `onLine` and to <outDir>/e2e.log, the report to <outDir>/junit-e2e.xml.
 *
 * A binary that cannot start is an error (AftershockError E_COMMAND); one that is killed at the end of its budget,
 * or exits without a report, gives a record with `error` (not passed) and the tail of its output.
 */
export async function runConformance(o: {
  binary: string;
  kubeconfig: string;
  context?: string;
  kubernetesVersion: string;
  outDir: string;
  /** --ginkgo.timeout (default CONFORMANCE_TIMEOUT_MS). */
  timeout?: Duration;
  onLine?: (line: string) => void;
  /** The command runner (tests). */
  exec?: (file: string, args: readonly string[], opts: RunOptions) => Promise<RunResult>;
}): Promise<ConformanceRecord> {
  const exec = o.exec ?? runCommand;
  const specs = conformanceSpecsFor(o.kubernetesVersion);
  const timeoutMs = o.timeout === undefined ? CONFORMANCE_TIMEOUT_MS : parseDuration(o.timeout);
  await mkdir(o.outDir, { recursive: true });
  const junit = path.join(o.outDir, "junit-e2e.xml");
  const log = path.join(o.outDir, "e2e.log");
  await rm(junit, { force: true });
  const args = e2eTestArgs({
    kubeconfig: o.kubeconfig,
    ...(o.context ? { context: o.context } : {}),
    focus: conformanceFocus(specs),
    junit,
    outputDir: o.outDir,
    timeout: duration(timeoutMs),
  });
  const out = createWriteStream(log);
  const tail: string[] = [];
  const base = {
    kubernetesVersion: o.kubernetesVersion,
    binary: o.binary,
    timeoutMs,
    estimateMs: conformanceEstimateMs(specs),
    files: { junit, log },
  };
  const started = performance.now();
  let exitCode: number | undefined;
  let error: string | undefined;
  try {
    const r = await exec(o.binary, args, {
      cwd: o.outDir,
      allowFailure: true,
      timeout: duration(timeoutMs + CONFORMANCE_GRACE_MS),
      onLine: (l) => {
        out.write(l + "\n");
        tail.push(l);
        if (tail.length > 20) tail.shift();
        o.onLine?.(l);
      },
    });
    exitCode = r.exitCode;
  } catch (e) {
    if (!(e instanceof CommandError)) throw e;
    // execa could not start it (no such file, not executable): nothing ran.
    if (e.exitCode === 127 && e.signal === undefined && !existsSync(o.binary))
      throw new AftershockError("E_COMMAND", `e2e.test could not be started: ${e.stderrTail.trim() || o.binary}`, { cause: e });
    if (e.exitCode !== undefined) throw new AftershockError("E_COMMAND", `e2e.test could not be started: ${e.message}`, { cause: e });
    error =
      e.code === "E_TIMEOUT"
        ? `e2e.test did not finish within ${formatDuration(timeoutMs + CONFORMANCE_GRACE_MS)} and was killed`
        : `e2e.test was killed by ${e.signal ?? "a signal"} after ${formatDuration(e.elapsedMs)}`;
  } finally {
    await new Promise<void>((resolve) => out.end(resolve));
  }
  const ms = performance.now() - started;
  const last = tail.slice(-3).join(" | ");
  let result: ConformanceResult | undefined;
  if (existsSync(junit)) {
    try {
      result = conformanceResult(parseGinkgoJUnit(await readFile(junit, "utf8")), specs);
    } catch (e) {
      error ??= `ginkgo's report ${junit} could not be read: ${(e as Error).message}`;
    }
  } else {
    error ??= `e2e.test exited ${exitCode} without writing its JUnit report${last ? `: ${last}` : ""}`;
  }
  result ??= { asked: specs.length, specs: [], passed: 0, failed: 0, skipped: 0, notRun: specs.map((s) => s.name), suiteFailures: [], notSelected: 0 };
  // A report whose specs all passed from a binary that still exited non-zero: ginkgo saw something the report does not say.
  if (!error && exitCode !== 0 && conformancePassed(result)) error = `e2e.test exited ${exitCode} although its report has no failure${last ? `: ${last}` : ""}`;
  return { ...base, ...result, ms, ...(exitCode !== undefined ? { exitCode } : {}), ...(error ? { error } : {}) };
}

/** One line for a conformance run: "57 of 57 passed in 4m12s" or what went wrong. */
export function conformanceSummary(r: ConformanceRecord): string {
  const parts = [
    `${r.passed} of ${r.asked} passed`,
    ...(r.failed ? [`${r.failed} failed`] : []),
    ...(r.skipped ? [`${r.skipped} skipped themselves`] : []),
    ...(r.notRun.length ? [`${r.notRun.length} not run`] : []),
    ...(r.specs.some((s) => s.unlisted) ? [`${r.specs.filter((s) => s.unlisted).length} ran unlisted`] : []),
  ];
  const trouble = [...r.suiteFailures.map((f) => `${f.node} ${f.state}${f.message ? `: ${f.message}` : ""}`), ...(r.error ? [r.error] : [])];
  return `${parts.join(", ")} in ${formatDuration(r.ms)} (Kubernetes ${r.kubernetesVersion} e2e.test)${trouble.length ? `; ${trouble.join("; ")}` : ""}`;
}

/** The lines people read: the summary, then each spec that did not pass, then the names that were not run. */
export function conformanceLines(r: ConformanceRecord): string[] {
  const lines = [`conformance after recovery: ${conformanceOk(r) ? "passed" : "FAILED"}, ${conformanceSummary(r)}`];
  for (const s of r.specs.filter((x) => x.state !== "passed"))
    lines.push(`  ${s.state === "skipped" ? "·" : "✗"} ${s.state}${s.unlisted ? " (unlisted)" : ""}: ${s.name}${s.message ? ` — ${s.message}` : ""}`);
  for (const n of r.notRun) lines.push(`  ? not run: ${n}`);
  return lines;
}

/** Why a run that did not pass failed, for the run's reason: the failed specs by name, or what stopped the suite. */
export function conformanceFailure(r: ConformanceRecord): string {
  const failed = r.specs.filter((s) => s.state !== "passed" && s.state !== "skipped" && s.state !== "pending");
  const named = failed.slice(0, 5).map((s) => `${s.name}${s.message ? ` (${s.message.split("\n")[0]!.slice(0, 160)})` : ""}`);
  const more = failed.length > 5 ? [`and ${failed.length - 5} more`] : [];
  const suite = r.suiteFailures.map((f) => `${f.node} ${f.state}${f.message ? ` (${f.message.split("\n")[0]!.slice(0, 200)})` : ""}`);
  const what = [
    ...suite,
    ...(failed.length ? [`${failed.length} of ${r.asked} specs ${failed.length === 1 ? "fails" : "fail"}: ${[...named, ...more].join("; ")}`] : []),
    ...(r.error ? [r.error] : []),
  ];
  return `Kubernetes conformance after recovery failed: ${what.join("; ") || "ginkgo reported the suite as failed"}`;
}
