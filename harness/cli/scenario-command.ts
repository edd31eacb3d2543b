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
import { asExpected, expectedOutcome } from "../outcomes.js";
import { variantsOf, type PlannedRun } from "../variants.js";
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

/**
 * Clusters for scenarios: the kind provider, with an image given on the command line or built offline. A
 * kept cluster (--keep) is created detached: no reaper, no Ctrl-C teardown, labelled as kept for
 * `pnpm cluster list` and left alone by `pnpm gc`.
 */
export function kindClusters(progress: Progress): ClusterFactory {
  const provider = new KindProvider({ cacheDir: defaultCacheDir(), progress });
  return {
    prepare: (o) => provider.prepareImage(o),
    create: (s) => provider.create(
      { controlPlanes: s.controlPlanes, workers: s.workers, kubernetesVersion: s.kubernetesVersion, runId: s.runId, ...(s.image ? { image: s.image } : {}) },
      { detached: !!s.keep },
    ),
  };
}

/** Runs scenarios (or variants of them) one after another; returns the journals (written under reports/). */
export async function runScenarios(runs: PlannedRun[], o: ScenarioCommandOptions): Promise<RunJournal[]> {
  checkUpFront(o);
  await doctor({ progress: o.progress });
  const journals: RunJournal[] = [];
  const clusters = kindClusters(o.progress);
  for (const { scenario: s, variant } of runs) {
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
      current.reason = `interrupted (Ctrl-C or SIGTERM); ${o.keep ? "the cluster was kept (--keep)" : "the cluster was removed"}`;
      current.endedAt = Date.now();
      current.timings.totalMs = current.endedAt - current.startedAt;
      // The phase that was running when the signal came never ended on its own.
      for (const p of current.phases.filter((x) => x.endedAt === 0)) {
        p.endedAt = current.timings.totalMs;
        p.status = "failed";
        p.error = "interrupted";
      }
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
      ...(variant ? { variant } : {}),
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
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  await rl.question("> ");
  rl.close();
}

/** Everything about the options that can be checked before Docker is touched. */
export function checkUpFront(o: ScenarioCommandOptions, stdinIsTTY = !!process.stdin.isTTY): void {
  if (o.gameDay && !stdinIsTTY) throw new AftershockError("E_BAD_INPUT", "--game-day needs an interactive terminal (stdin is not a TTY)", { hint: "run it in a terminal, not a pipe or CI" });
  if (!o.image) checkBuildableVersion(o.version);
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
  const [j] = await runScenarios(variantsOf(s, false), o);
  return j!.exitCode;
}

/**
 * Runs every scenario (or those with `tag`, or those named). With `prove`, each one also runs twice more, as the nightly
 * proof that it can fail: fault neutralised (must end fault-not-reproduced) and runbook cut before its first
 * repairing step (must end not-recovered). The suite passes when every run ends as expected.
 */
export async function suiteCommand(tag: string | undefined, ids: string[], o: ScenarioCommandOptions & { prove: boolean }): Promise<number> {
  if (ids.length && tag) throw new AftershockError("E_BAD_INPUT", "give scenario ids or --tag, not both");
  const scenarios = ids.length ? await Promise.all(ids.map((id) => loadScenario(id))) : await loadAll(tag);
  const journals = await runScenarios(scenarios.flatMap((s) => variantsOf(s, o.prove)), o);
  const dir = path.join(REPORTS_DIR, `suite-${new Date().toISOString().replace(/[:.]/g, "-")}`);
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, "junit.xml"), junitXml(journals, `aftershock suite${tag ? ` (${tag})` : ""}`));
  await writeFile(path.join(dir, "report.html"), htmlReport(journals, `Aftershock suite${tag ? `: ${tag}` : ""}`));
  await writeFile(path.join(dir, "journals.json"), JSON.stringify(journals, null, 2));
  const label = (j: RunJournal) => `${j.scenario.id}${j.variant ? ` (${j.variant.name})` : ""}=${j.outcome}${asExpected(j) ? "" : ` (expected ${expectedOutcome(j)})`}`;
  process.stdout.write(`\nsuite: ${journals.map(label).join(", ")}\n  reports: ${path.relative(process.cwd(), dir)}/{junit.xml,report.html,journals.json}\n`);
  const wrong = journals.filter((j) => !asExpected(j));
  return wrong.length === 0 ? 0 : Math.max(1, ...wrong.map((j) => j.exitCode));
}
