import { mkdir, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { formatDuration, parseDuration, type Duration } from "../../../clusters/errors.js";
import { run, type RunResult } from "../../../clusters/exec.js";
import { defaultCacheDir } from "../../../clusters/images/builder.js";
import { ensureHostTools, helmHome } from "../../../clusters/images/host-tools.js";
import { ConsoleProgress } from "../../../clusters/progress.js";
import type { Probe } from "../../model/probe.js";
import type { ScenarioContext } from "../../model/context.js";

/**
 * Helm as an operator runs it from a laptop: the binary built from helm.sh/helm/v3, the cluster's
 * kubeconfig, the run's namespace. Charts are written by the scenario (files in a directory), never fetched.
 */

/** A chart as files: Chart.yaml, values.yaml and templates/*, by path inside the chart. */
export type ChartFiles = Record<string, string>;

/** Writes a chart to a directory of its own (name-version) and returns the directory, for `helm install/upgrade`. */
export async function writeChart(name: string, version: string, files: ChartFiles): Promise<string> {
  const dir = path.join(os.tmpdir(), "aftershock-charts", `${name}-${version}`);
  for (const [file, text] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, file)), { recursive: true });
    await writeFile(path.join(dir, file), text);
  }
  return dir;
}

/** The helm binary: built before the run (pnpm scenario and suite do), found in the cache once per process. */
let helmBinary: Promise<string> | undefined;

/** `helm <args>` against the run's cluster and namespace; a failure is returned (exit code, stderr), not thrown. */
export async function helmRun(ctx: ScenarioContext, args: string[], timeout: Duration = "5m"): Promise<RunResult> {
  const cacheDir = defaultCacheDir();
  const helm = await (helmBinary ??= ensureHostTools(["helm"], cacheDir, new ConsoleProgress()).then((t) => t.helm!));
  const home = helmHome(cacheDir);
  const auth = ["--kubeconfig", ctx.cluster.kubeconfigPath, ...(ctx.cluster.kubeContext ? ["--kube-context", ctx.cluster.kubeContext] : [])];
  return run(helm, [...args, ...auth, "--namespace", ctx.namespace], {
    allowFailure: true,
    timeout,
    env: { HELM_CONFIG_HOME: path.join(home, "config"), HELM_CACHE_HOME: path.join(home, "cache"), HELM_DATA_HOME: path.join(home, "data") },
  });
}

/** `helm <args>` as a runbook step types it: what it printed; a failure throws with helm's own message. */
export async function helm(ctx: ScenarioContext, ...args: string[]): Promise<string> {
  const t0 = Date.now();
  const r = await helmRun(ctx, args);
  if (r.exitCode !== 0)
    throw new Error(`helm ${args.slice(0, 2).join(" ")} exited ${r.exitCode} after ${formatDuration(Date.now() - t0)}: ${lastLines(r.stderr || r.stdout)}`);
  return `${r.stdout}${r.stderr}`.trim();
}

const lastLines = (s: string, n = 3) => s.trim().split("\n").slice(-n).join(" | ");

interface ReleaseStatus {
  status: string;
  chart: string;
  revision: number;
  description: string;
}

/** A release's state as `helm status -o json` and `helm history` give it (status, chart name-version, revision). */
export async function releaseStatus(ctx: ScenarioContext, release: string): Promise<ReleaseStatus | undefined> {
  const r = await helmRun(ctx, ["history", release, "--max", "1", "-o", "json"], "1m");
  if (r.exitCode !== 0) return undefined;
  const [last] = JSON.parse(r.stdout) as { revision: number; status: string; chart: string; description: string }[];
  return last && { status: last.status, chart: last.chart, revision: last.revision, description: last.description };
}

const describe = (s: ReleaseStatus | undefined, release: string) =>
  s ? `revision ${s.revision} ${s.status} (${s.chart}): ${s.description.slice(0, 300)}` : `no release ${release}`;

/** A Helm release in the run's namespace, by handle: named once (helmRelease()), taken by its probes. */
export interface HelmRelease {
  readonly release: string;
}

/** The handle of the Helm release a scenario installs under this name. */
export const helmRelease = (name: string): HelmRelease => ({ release: name });

/** The release's latest revision has this status (deployed, failed, …), of this chart if given (name-version). */
export function releaseIs({ release }: HelmRelease, status: string, chart?: string): Probe {
  return {
    name: `release ${release} ${status}${chart ? ` (${chart})` : ""}`,
    expectation: `helm history ${release}: latest revision ${status}${chart ? ` with chart ${chart}` : ""}`,
    async check(ctx) {
      const s = await releaseStatus(ctx, release);
      return { ok: s?.status === status && (!chart || s.chart === chart), observed: describe(s, release) };
    },
  };
}
