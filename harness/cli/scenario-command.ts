import path from "node:path";
import { createInterface } from "node:readline/promises";
import { fileURLToPath } from "node:url";
import { AftershockError } from "../../clusters/errors.js";
import { doctor } from "../../clusters/host/doctor.js";
import { checkBuildableVersion, defaultCacheDir } from "../../clusters/images/builder.js";
import { KindProvider } from "../../clusters/kind/provider.js";
import type { Progress } from "../../clusters/progress.js";
import { registerTeardown } from "../../clusters/teardown.js";
import { describePlan, loadAll, loadScenario, scenarioIds } from "../registry.js";
import { consoleReporter } from "../reporters/console.js";
import { fileReporter, htmlReport, junitXml, type FileReport } from "../reporters/files.js";
import { ReporterMultiplexer, type Reporter } from "../reporters/reporter.js";
import { runScenario, EXIT_CODES, type RunJournal } from "../runner.js";
import type { Scenario } from "../scenario.js";
import { realClock, type ClusterFactory } from "../types.js";
import { mkdir, writeFile } from "node:fs/promises";

export const REPORTS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "reports");
const KNOWN_REPORTERS = ["console", "json", "junit", "html"] as const;

export function parseReporters(v: string | undefined): (typeof KNOWN_REPORTERS)[number][] {
  const list = (v ?? "console,json,junit,html").split(",").map((s) => s.trim()).filter(Boolean);
  const bad = list.filter((r) => !(KNOWN_REPORTERS as readonly string[]).includes(r));
  if (bad.length || !list.length) throw new AftershockError("E_BAD_INPUT", `unknown reporter "${bad.join(",")}"`, { hint: `use any of ${KNOWN_REPORTERS.join(", ")}` });
  return list as (typeof KNOWN_REPORTERS)[number][];
}

export interface ScenarioCommandOptions {
  version: string;
  image?: string;
  keep: boolean;
  reporters: (typeof KNOWN_REPORTERS)[number][];
  gameDay: boolean;
  progress: Progress;
}

/** Clusters for scenarios: the kind provider, with an image given on the command line or built offline. */
export function kindClusters(progress: Progress): ClusterFactory {
  const provider = new KindProvider({ cacheDir: defaultCacheDir(), progress });
  return { create: (s) => provider.create({ controlPlanes: s.controlPlanes, workers: s.workers, kubernetesVersion: s.kubernetesVersion, runId: s.runId, ...(s.image ? { image: s.image } : {}) }) };
}

/** Runs scenarios one after another; returns the journals (written under reports/). */
export async function runScenarios(scenarios: Scenario[], o: ScenarioCommandOptions): Promise<RunJournal[]> {
  if (!o.image) checkBuildableVersion(o.version);
  await doctor({ progress: o.progress });
  const journals: RunJournal[] = [];
  const clusters = kindClusters(o.progress);
  for (const s of scenarios) {
    let current: RunJournal | undefined;
    const written: string[] = [];
    const files = o.reporters.filter((r): r is FileReport => r !== "console");
    const reporters: Reporter[] = [
      { name: "tracker", onRunBegin: (j) => { current = j; } },
      ...(o.reporters.includes("console") ? [consoleReporter()] : []),
      ...(files.length ? [fileReporter(REPORTS_DIR, files, (f) => written.push(...f))] : []),
    ];
    const mux = new ReporterMultiplexer(reporters);
    // If the run is interrupted, the cluster teardown (registered later) runs first, then this writes the journal.
    const unregister = registerTeardown(`write the interrupted journal of ${s.id}`, async () => {
      if (!current) return;
      current.outcome = "interrupted";
      current.exitCode = EXIT_CODES.interrupted;
      current.reason = "interrupted (Ctrl-C or SIGTERM); the cluster was removed";
      current.endedAt = Date.now();
      current.timings.totalMs = current.endedAt - current.startedAt;
      mux.onRunEnd(current);
      await mux.flush();
    });
    const journal = await runScenario(s, {
      clusters,
      kubernetesVersion: o.version,
      ...(o.image ? { image: o.image } : {}),
      clock: realClock,
      reporter: mux,
      keep: o.keep,
      ...(o.gameDay ? { manualRecovery: gameDayPrompt } : {}),
    });
    unregister();
    await mux.flush();
    if (written.length) process.stdout.write(`  reports: ${written.map((f) => path.relative(process.cwd(), f)).join(", ")}\n`);
    journals.push(journal);
  }
  return journals;
}

/** Game day: the symptoms are live; a person recovers the cluster and presses Enter to start verification. */
async function gameDayPrompt(ctx: Parameters<NonNullable<Parameters<typeof runScenario>[1]["manualRecovery"]>>[0]): Promise<void> {
  const cp = ctx.cluster.controlPlane().name;
  process.stdout.write(`\nGame day: the incident is live. Recover it yourself, e.g.:\n  docker exec -it ${cp} bash\n  export KUBECONFIG=${ctx.cluster.kubeconfigPath}\nPress Enter when you think the cluster is recovered; verification starts then.\n`);
  if (!process.stdin.isTTY) throw new AftershockError("E_BAD_INPUT", "--game-day needs an interactive terminal");
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  await rl.question("> ");
  rl.close();
}

export async function scenarioCommand(id: string | undefined, flags: { list?: boolean; dryRun?: boolean }, o: ScenarioCommandOptions): Promise<number> {
  if (flags.list || !id) {
    for (const sid of scenarioIds()) {
      const s = await loadScenario(sid);
      process.stdout.write(`${s.id.padEnd(28)} incident ${s.source.incident.padEnd(4)} [${s.tags.join(", ")}]  ${s.title}\n`);
    }
    return id || flags.list ? 0 : 2;
  }
  const s = await loadScenario(id);
  if (flags.dryRun) {
    process.stdout.write(describePlan(s) + "\n");
    return 0;
  }
  const [j] = await runScenarios([s], o);
  return j!.exitCode;
}

export async function suiteCommand(tag: string | undefined, o: ScenarioCommandOptions): Promise<number> {
  const scenarios = await loadAll(tag);
  const journals = await runScenarios(scenarios, { ...o, keep: false });
  const dir = path.join(REPORTS_DIR, `suite-${new Date().toISOString().replace(/[:.]/g, "-")}`);
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, "junit.xml"), junitXml(journals, `aftershock suite${tag ? ` (${tag})` : ""}`));
  await writeFile(path.join(dir, "report.html"), htmlReport(journals, `Aftershock suite${tag ? `: ${tag}` : ""}`));
  await writeFile(path.join(dir, "journals.json"), JSON.stringify(journals, null, 2));
  process.stdout.write(`\nsuite: ${journals.map((j) => `${j.scenario.id}=${j.outcome}`).join(", ")}\n  reports: ${path.relative(process.cwd(), dir)}/{junit.xml,report.html,journals.json}\n`);
  return journals.every((j) => j.outcome === "passed") ? 0 : Math.max(...journals.map((j) => j.exitCode));
}
