import type { ImagesMode } from "../../clusters/images/source.js";
import { nodeCommand, type ClusterFactory } from "../../clusters/contract.js";
import { renderCommand } from "../../clusters/exec.js";
import path from "node:path";
import { createInterface } from "node:readline/promises";
import { fileURLToPath } from "node:url";
import { AftershockError, formatDuration } from "../../clusters/errors.js";
import { doctor } from "../../clusters/host/doctor.js";
import { checkBuildableVersion, defaultCacheDir } from "../../clusters/images/builder.js";
import { describeVersion } from "../../clusters/versions.js";
import { CONFORMANCE_TIMEOUT_MS, conformanceEstimateMs, conformanceSpecsFor } from "../../clusters/conformance/specs.js";
import {
  checkInventory,
  checkReachable,
  describeTarget,
  existingCapabilities,
  existingClusters,
  refuseClusterFaults,
  targetContext,
  type ExistingTarget,
} from "../../clusters/existing.js";
import { planByNode } from "../engine/plan-by-node.js";
import { kindClusters } from "../../clusters/kind/provider.js";
import type { Progress } from "../../clusters/progress.js";
import { describePlan, loadAll, loadScenario, scenarioIds } from "../engine/registry.js";
import type { Scenario } from "../model/scenario.js";
import { consoleReporter } from "../reports/console.js";
import { esc, fileReporter, htmlReport, junitXml, type FileReport } from "../reports/files.js";
import { ReporterMultiplexer, type Reporter } from "../engine/reporter.js";
import { assertServes, runScenario, unserved, type RunOptions } from "../engine/runner.js";
import type { RunJournal } from "../engine/journal.js";
import { asExpected, expectedOutcome } from "../engine/outcomes.js";
import { runSuite, type RunReporting, type SuitePlan, type SuiteRunOptions } from "../engine/suite.js";
import { deadmanSecondsSwitch, runbookDelayMs, STOP_BEFORE_CONFORMANCE_ENV, stopBeforeConformance } from "../engine/test-hooks.js";
import { checkWorkload, checkWorkloadImages } from "../kit/workloads/team-workload.js";
import type { WorkloadConfig } from "../model/workload.js";
import { withWorkload } from "../kit/workloads/with-workload.js";
import { refusesWorkload } from "../model/scenario.js";
import { suitePlan, withRunbook, withVariant, type PlannedRun, type Shard } from "../engine/variants.js";
import {
  gitCommit,
  historyDir,
  historyRecord,
  readHistory,
  recordFileName,
  type HistoryRecord,
  repeatLine,
  repeatStats,
  summaryLine,
  trends,
  writeHistory,
  type TrendRow,
} from "../reports/history.js";
import { scoreSection, suiteSections } from "../reports/trends.js";
import { scoreLines, suiteScores } from "../reports/score.js";
import { DEFAULT_GATE_MIN_SCORE, GATE_FAILED_EXIT, gateReasons } from "../reports/gate.js";
import { metricsText } from "../reports/metrics.js";
import { versionMatrixLines, versionMatrixSection } from "../reports/versions.js";
import { versionSuffix } from "../kit/versions.js";
import { ensureHostTools } from "../../clusters/images/host-tools.js";
import { realClock } from "../../clusters/wait.js";
import { mkdir, writeFile } from "node:fs/promises";

export const REPORTS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "reports");
const KNOWN_REPORTERS = ["console", "json", "junit", "html"] as const;

export function parseReporters(v: string | undefined): (typeof KNOWN_REPORTERS)[number][] {
  const list = (v ?? "console,json,junit,html")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  const bad = list.filter((r) => !(KNOWN_REPORTERS as readonly string[]).includes(r));
  if (bad.length || !list.length)
    throw new AftershockError("E_BAD_INPUT", `unknown reporter "${bad.join(",")}"`, { hint: `use any of ${KNOWN_REPORTERS.join(", ")}` });
  return list as (typeof KNOWN_REPORTERS)[number][];
}

export interface ScenarioCommandOptions {
  version: string;
  image?: string;
  /** --images: where the run's images come from (default auto). */
  images?: ImagesMode;
  keep: boolean;
  reporters: (typeof KNOWN_REPORTERS)[number][];
  gameDay: boolean;
  progress: Progress;
  /** pnpm suite: scenarios of one cluster shape run one after another on one cluster (SharedClusters). */
  share?: boolean;
  /** --kubeconfig: run on a cluster this tool did not create (namespace-scoped scenarios only). */
  existing?: ExistingTarget;
  /** --workload: a team's own workload in place of each scenario's demo Service (scenarios with a workloadSlot). */
  workload?: WorkloadConfig;
  /** --conformance: Kubernetes' curated conformance specs after verification (harness/engine/phases/conformance.ts). */
  conformance?: boolean;
  /** pnpm gameday: its own live reporter instead of the console's (which names everything), its own recovery, run id and namespace. */
  game?: { live: Reporter; manualRecovery: NonNullable<RunOptions["manualRecovery"]>; runId: string; namespace: string };
}

/**
 * Runs scenarios (or variants of them) one after another, as the engine's suite (runSuite) runs them; returns the
 * journals (written under reports/). Everything that can be refused is refused before a cluster exists.
 */
export async function runScenarios(runs: PlannedRun[], o: ScenarioCommandOptions): Promise<RunJournal[]> {
  const plan = await planSuite(runs, o);
  return runSuite(plan, () => runReporting(o));
}

/**
 * The suite's plan: its runs checked (the workload, the flags, the target's scopes and capabilities), the host checked
 * (the doctor) and the host tools built, in that order, before any cluster exists.
 */
export async function planSuite(runs: PlannedRun[], o: ScenarioCommandOptions): Promise<SuitePlan> {
  // A scenario that cannot take the workload is refused before Docker is touched.
  if (o.workload)
    for (const r of runs) {
      const why = refusesWorkload(r.scenario);
      if (why) throw new AftershockError("E_BAD_INPUT", why, { hint: "scenarios that take a workload say so in --dry-run" });
    }
  checkUpFront(o);
  for (const v of new Set(runs.flatMap((r) => (r.kubernetesVersion ? [r.kubernetesVersion] : [])))) checkUpFront({ ...o, version: v });
  const clusters = o.existing ? existingClusters(o.existing, o.progress) : kindClusters(o.progress, o.images);
  if (o.existing && runs.some((r) => r.scenario.scope === "cluster")) {
    const context = contextOrPlaceholder(o.existing);
    for (const r of runs) refuseClusterFaults(r.scenario, o.existing, context);
  }
  for (const r of runs) assertServes(clusters, r.scenario);
  // The workload's manifests are read and checked (they parse, its Service, no other namespace) before the doctor,
  // which may change the host (AFTERSHOCK_FIX_HOST=1), and before any build. A chart needs Helm to render: that
  // waits for the build below, as its images wait for Docker.
  const w = o.workload;
  if (w && w.deploy.kind !== "helm") await checkWorkload(w, undefined, { images: false });
  // Docker makes kind clusters and the workload images; a run on an existing cluster without images needs none.
  if (!o.existing || runs.some((r) => r.scenario.images.length)) await doctor({ progress: o.progress });
  // Its images are in the local Docker (asked once the doctor found Docker answering), before anything is built.
  if (w) await checkWorkloadImages(w);
  // Host tools (helm) are built before any cluster exists: a build failure leaves nothing behind.
  const tools = [...new Set([...runs.flatMap((r) => r.scenario.tools), ...(w?.deploy.kind === "helm" ? (["helm"] as const) : [])])];
  const built = await ensureHostTools(tools, defaultCacheDir(), o.progress);
  if (w?.deploy.kind === "helm") await checkWorkload(w, built.helm, { images: false });
  return {
    runs: w ? runs.map((r) => ({ ...r, scenario: withWorkload(r.scenario, w) })) : runs,
    clusters,
    // pnpm suite: runs of one shape (and version) share a cluster, one after another; --fresh-clusters opts out.
    share: !!o.share,
    kubernetesVersion: o.version,
    clock: realClock,
    run: runOptionsOf(o),
  };
}

/** What every run is given: --keep, --image, the game's or --game-day's recovery, --conformance's output directory. */
function runOptionsOf(o: ScenarioCommandOptions): SuiteRunOptions {
  return {
    keep: o.keep,
    ...(o.image ? { image: o.image } : {}),
    ...(o.game
      ? { manualRecovery: o.game.manualRecovery, runId: o.game.runId, namespace: o.game.namespace }
      : o.gameDay
        ? { manualRecovery: gameDayPrompt }
        : {}),
    // e2e.test's output and ginkgo's report beside the run's own reports.
    ...(o.conformance ? { conformance: { outDir: (r) => path.join(REPORTS_DIR, `${r.scenarioId}-${r.runId}`, "conformance") } } : {}),
  };
}

/** One run's reporters (the game's live one or the console, and the files), and the line naming the files written. */
function runReporting(o: ScenarioCommandOptions): RunReporting {
  const written: string[] = [];
  const files = o.reporters.filter((r): r is FileReport => r !== "console");
  const reporters: Reporter[] = [
    ...(o.game ? [o.game.live] : o.reporters.includes("console") ? [consoleReporter()] : []),
    ...(files.length ? [fileReporter(REPORTS_DIR, files, (f) => written.push(...f))] : []),
  ];
  return {
    reporter: new ReporterMultiplexer(reporters),
    ended: () => {
      if (written.length) process.stdout.write(`  reports: ${written.map((f) => path.relative(process.cwd(), f)).join(", ")}\n`);
    },
  };
}

/** Game day: the symptoms are live; a person recovers the cluster and presses Enter to start verification. */
async function gameDayPrompt(...[ctx, machines]: Parameters<NonNullable<Parameters<typeof runScenario>[1]["manualRecovery"]>>): Promise<void> {
  // The node shell's own command line (docker exec -it on kind, ssh -t on machines of one's own).
  const cp = machines.shell?.controlPlane();
  const line = cp?.shellCommand?.("tty");
  const shell = line ? `  ${renderCommand(nodeCommand(line, ["bash"])[0]!, nodeCommand(line, ["bash"]).slice(1))}\n` : "";
  const ns =
    ctx.namespace !== "default" ? `  kubectl config set-context --current --namespace ${ctx.namespace}   # the incident lives in this namespace\n` : "";
  process.stdout.write(
    `\nGame day: the incident is live. Recover it yourself, e.g.:\n${shell}  export KUBECONFIG=${ctx.cluster.kubeconfigPath}\n${ns}Press Enter when you think the cluster is recovered; verification starts then.\n`,
  );
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  await rl.question("> ");
  rl.close();
}

/** Everything about the options that can be checked before Docker is touched. */
export function checkUpFront(o: ScenarioCommandOptions, stdinIsTTY = !!process.stdin.isTTY): void {
  if (o.gameDay && !stdinIsTTY)
    throw new AftershockError("E_BAD_INPUT", "--game-day needs an interactive terminal (stdin is not a TTY)", {
      hint: "run it in a terminal, not a pipe or CI",
    });
  if (!o.image) checkBuildableVersion(o.version);
  runbookDelayMs();
  deadmanSecondsSwitch();
  if (stopBeforeConformance() && !o.conformance)
    throw new AftershockError("E_BAD_INPUT", `${STOP_BEFORE_CONFORMANCE_ENV} stops a component before conformance: it needs --conformance`, {
      hint: "it is a test switch; unset it for real runs",
    });
}

export async function scenarioCommand(
  id: string | undefined,
  flags: { list?: boolean; dryRun?: boolean; runbook?: string; variant?: string },
  o: ScenarioCommandOptions,
): Promise<number> {
  if (flags.list || !id) {
    for (const sid of scenarioIds()) {
      const s = await loadScenario(sid);
      process.stdout.write(`${s.id.padEnd(28)} incident ${s.source.incident.padEnd(4)} [${s.tags.join(", ")}]  ${s.title}\n`);
    }
    return id || flags.list ? 0 : 2;
  }
  const base = await loadScenario(id);
  if (flags.variant !== undefined && flags.runbook !== undefined) throw new AftershockError("E_BAD_INPUT", "give --variant or --runbook, not both");
  const v = flags.variant !== undefined ? withVariant(base, flags.variant) : undefined;
  const s = v?.scenario ?? base;
  const planned = v ?? withRunbook(s, flags.runbook ?? s.runbookName);
  if (flags.dryRun) {
    // The plan aims at the workload's pods as the run would: its manifests are read for the Service's selector
    // (a chart only when it is given target.selector, since rendering one needs Helm built).
    if (o.workload && o.workload.deploy.kind !== "helm") await checkWorkload(o.workload, undefined, { images: false });
    process.stdout.write(describePlan(o.workload ? withWorkload(s, o.workload) : s, planned.scenario.runbookName) + "\n");
    if (o.existing) process.stdout.write((await existingDryRun(planned.scenario, o.existing)) + "\n");
    if (!o.image) process.stdout.write(`version: ${describeVersion(o.version)}\n`);
    if (o.conformance) process.stdout.write(conformancePlanLine(o.version) + "\n");
    return 0;
  }
  const [j] = await runScenarios([planned], o);
  return j!.exitCode;
}

/** --dry-run with --conformance: what runs after verification, and its estimate. */
export function conformancePlanLine(version: string): string {
  const specs = conformanceSpecsFor(version);
  return `conformance: after verification, ${specs.length} curated [Conformance] specs of ${version} with its e2e.test (built from k8s.io/kubernetes/test/e2e; estimated ${formatDuration(conformanceEstimateMs(specs))}, --ginkgo.timeout ${formatDuration(CONFORMANCE_TIMEOUT_MS)}); a failing spec ends the run not-recovered`;
}

/** The context in use, for a refusal's hint; a kubeconfig without one still gets the refusal (the hint names no context). */
function contextOrPlaceholder(t: ExistingTarget): string {
  try {
    return targetContext(t);
  } catch {
    return "<its context>";
  }
}

/**
 * --dry-run on a cluster this tool did not create: whether the run would be refused, and every command of the fault,
 * the runbook and the rollback with the node it runs on (roles read from the Nodes, read-only, when the API answers).
 */
async function existingDryRun(s: Scenario, t: ExistingTarget): Promise<string> {
  const context = contextOrPlaceholder(t);
  const lines = [`target: ${describeTarget(t)}, context ${context}`];
  try {
    refuseClusterFaults(s, t, context);
    lines.push(
      s.scope === "cluster" ? `cluster-scoped faults allowed on context ${context} (--allow-cluster-faults)` : "namespace-scoped: one namespace of its own",
    );
  } catch (e) {
    lines.push(`would be refused: ${(e as AftershockError).oneLine()}`);
  }
  const lacks = unserved({ capabilities: existingCapabilities(t) }, s);
  if (Array.isArray(lacks)) lines.push(`would be refused: needs ${lacks.join(", ")}, which ${describeTarget(t)} does not offer`);
  let nodes: { name: string; role: "control-plane" | "worker" | "unknown" }[] = [];
  if (t.inventory) {
    const roles = await checkReachable(t)
      .then((api) => checkInventory(t, api))
      .catch((e: unknown) => {
        lines.push(`roles unknown (the API did not answer the read-only check: ${e instanceof AftershockError ? e.oneLine() : String(e)})`);
        return undefined;
      });
    nodes = t.inventory.nodes.map((n) => ({ name: n.name, role: roles?.find((r) => r.name === n.name)?.role ?? "unknown" }));
  }
  if (s.scope === "cluster" || s.needs.includes("node-shell"))
    lines.push(
      "before the fault: preflight (etcdctl endpoint health --cluster in a control plane's etcd container, nodes Ready, Lease kube-system/aftershock-lock)" +
        (s.tags.includes("control-plane") || s.tags.includes("etcd") ? "; etcd snapshot to /var/lib/aftershock/snapshots/<run>.db" : "") +
        (s.fault.deadman ? "; a deadman on the fault's node" : ""),
    );
  return [...lines, planByNode(s, nodes)].join("\n");
}

/**
 * Runs every scenario (or those with `tag`, or those named). With `prove`, each one also runs twice more, as the nightly
 * proof that it can fail: fault neutralised (must end fault-not-reproduced) and runbook cut before its first
 * repairing step (must end not-recovered). `shard` keeps the scenarios of one part of the suite, `repeat` runs the
 * plan that many times. The suite passes when every run ends as expected; it appends a record to the history
 * (reports/history/) and its report compares this run with the earlier ones.
 */
export async function suiteCommand(tag: string | undefined, ids: string[], o: SuiteCommandOptions): Promise<number> {
  if (ids.length && tag) throw new AftershockError("E_BAD_INPUT", "give scenario ids or --tag, not both");
  const startedAt = new Date();
  const repeat = o.repeat ?? 1;
  const scenarios = await selectScenarios(tag, ids, o);
  // A version matrix runs the whole plan once per version, one version after another (clusters are per version).
  const versions = o.versions ?? [o.version];
  const plan = versions.flatMap((v) =>
    suitePlan(scenarios, { prove: o.prove, repeat, ...(o.shard ? { shard: o.shard } : {}) }).map((r) => ({ ...r, kubernetesVersion: v })),
  );
  if (!plan.length) {
    process.stdout.write(`suite: shard ${o.shard?.index}/${o.shard?.count} has no scenarios (${scenarios.length} selected); nothing to run\n`);
    return 0;
  }
  // An existing cluster is shared by nature (each run has a namespace of its own there); kind clusters are shared
  // by runs of one shape, unless --fresh-clusters.
  const journals = await runScenarios(plan, { ...o, share: !o.existing && !o.freshClusters });
  const record = historyRecord(journals, {
    startedAt,
    ...withCommit(gitCommit() ?? process.env.GITHUB_SHA),
    ...(tag ? { tag } : {}),
    ids,
    prove: o.prove,
    ...(o.shard ? { shard: o.shard } : {}),
    repeat,
  });
  const gateFailed = await reportSuite(journals, record, startedAt, o);
  const wrong = journals.filter((j) => !asExpected(j));
  if (wrong.length) return Math.max(1, ...wrong.map((j) => j.exitCode));
  return gateFailed ? GATE_FAILED_EXIT : 0;
}

/** pnpm suite's options: a scenario's, and the suite's own flags. */
export type SuiteCommandOptions = ScenarioCommandOptions & {
  prove: boolean;
  shard?: Shard;
  repeat?: number;
  versions?: string[];
  freshClusters?: boolean;
  /** --gate: the exit code follows the gate (gate.ts); --gate-min-score its threshold. */
  gate?: boolean;
  gateMinScore?: number;
};

/**
 * The scenarios of a suite: those named, or those with the tag (or all). Chosen by tag, those the existing cluster
 * cannot serve, or that take no workload when one is given, are left out and named.
 */
async function selectScenarios(tag: string | undefined, ids: string[], o: SuiteCommandOptions): Promise<Scenario[]> {
  let scenarios = ids.length ? await Promise.all(ids.map((id) => loadScenario(id))) : await loadAll(tag);
  if (o.existing && !ids.length) {
    // Chosen by tag (or all): run what the existing cluster can serve and say what is left out. Named by id, a
    // scenario it cannot serve is refused (by runScenarios, before anything runs).
    const { served, left } = servedScenarios(scenarios, existingClusters(o.existing, o.progress));
    if (!served.length)
      throw new AftershockError(
        "E_CAPABILITY",
        `none of the ${scenarios.length} selected scenarios can run on ${describeTarget(o.existing)}: ${leftOutText(left)}`,
      );
    if (left.length) process.stdout.write(`suite: ${left.length} of ${scenarios.length} selected scenarios left out: ${leftOutText(left)}\n`);
    scenarios = served;
  }
  if (o.workload && !ids.length) {
    // Chosen by tag (or all): the scenarios that take a workload run with it; the others are named.
    const left = scenarios.filter((s) => refusesWorkload(s));
    scenarios = scenarios.filter((s) => !refusesWorkload(s));
    if (!scenarios.length) throw new AftershockError("E_BAD_INPUT", `none of the selected scenarios takes a workload`);
    if (left.length) process.stdout.write(`suite: ${left.length} selected scenario(s) take no workload, left out: ${left.map((s) => s.id).join(", ")}\n`);
  }
  return scenarios;
}

/**
 * The suite's reports (combined JUnit and HTML, journals, metrics), its history record, and its summary on the
 * console. Returns whether --gate fails it (the gate's reasons are found on every suite: the metrics say whether it
 * would fail).
 */
async function reportSuite(journals: RunJournal[], record: HistoryRecord, startedAt: Date, o: SuiteCommandOptions): Promise<boolean> {
  const store = historyDir();
  const earlier = await readHistory(store);
  const rows = trends(earlier, record);
  const stats = repeatStats(record.runs);
  const scores = suiteScores(journals);
  const gate = { enforced: !!o.gate, minScore: o.gateMinScore ?? DEFAULT_GATE_MIN_SCORE, reasons: [] as string[] };
  gate.reasons = gateReasons(journals, scores, rows, gate.minScore);
  const clustersLine = o.existing ? "" : `<h2>Clusters</h2>\n<p>${esc(suiteNumbers(journals))}</p>\n`;
  const dir = await writeSuiteReports(
    journals,
    record,
    clustersLine + versionMatrixSection(journals) + suiteSections(rows, earlier.length, stats, scoreSection(scores, gate)),
    metricsText({ journals, scores, gate, startedAt }),
  );
  const saved = await writeHistory(store, record);
  const rel = (f: string) => path.relative(process.cwd(), f);
  process.stdout.write(
    `\nsuite: ${journals.map(label).join(", ")}\n${record.repeat > 1 ? stats.map((s) => `  ${repeatLine(s)}\n`).join("") : ""}${clusterUse(journals, o.existing)}` +
      `  reports: ${rel(dir)}/{junit.xml,report.html,journals.json,metrics.prom}\n  history: ${rel(saved)} (compared with ${earlier.length} earlier suite run${earlier.length === 1 ? "" : "s"})\n` +
      `${versionMatrixLines(journals)}${trendLines(rows)}${scoreLines(scores)}${o.gate ? gateLines(gate.reasons, gate.minScore) : ""}${summaryLine(record.runs)}\n`,
  );
  return !!o.gate && gate.reasons.length > 0;
}

/** With --gate: one line per reason it failed, or one line saying it passed. */
export function gateLines(reasons: string[], minScore: number): string {
  if (!reasons.length) return `gate: passed (every run as expected, every scenario scored ≥ ${minScore}, no time regressed)\n`;
  return `gate: FAILED, ${reasons.length} reason${reasons.length === 1 ? "" : "s"}:\n${reasons.map((r) => `gate: ${r}\n`).join("")}`;
}

/** reports/suite-<time>[-shard-i-of-n]/: the combined JUnit and HTML (with `more` under the summary), the journals and the metrics. */
async function writeSuiteReports(journals: RunJournal[], r: HistoryRecord, more: string, metrics: string): Promise<string> {
  const dir = path.join(REPORTS_DIR, `suite-${recordFileName(r).replace(/\.json$/, "")}`);
  await mkdir(dir, { recursive: true });
  const name = [r.tag, r.shard ? `shard ${r.shard.index}/${r.shard.count}` : ""].filter(Boolean).join(", ");
  await writeFile(path.join(dir, "junit.xml"), junitXml(journals, `aftershock suite${name ? ` (${name})` : ""}`));
  await writeFile(path.join(dir, "report.html"), htmlReport(journals, `Aftershock suite${name ? `: ${name}` : ""}`, more));
  await writeFile(path.join(dir, "journals.json"), JSON.stringify(journals, null, 2));
  await writeFile(path.join(dir, "metrics.prom"), metrics);
  return dir;
}

const label = (j: RunJournal) =>
  `${j.scenario.id}${j.variant ? ` (${j.variant.name})` : ""}${versionSuffix(j.kubernetesVersion)}=${j.outcome}${asExpected(j) ? "" : ` (expected ${expectedOutcome(j)})`}`;

/** One console line per scenario key with a trend flag (regression, flaky, failing), saying why. */
export function trendLines(rows: TrendRow[]): string {
  return rows
    .filter((r) => r.flags.length)
    .map((r) => `  ${r.key}: ${r.flags.join(", ")}${r.regressions.length ? ` (${r.regressions.join("; ")})` : ""}\n`)
    .join("");
}

const withCommit = (commit: string | undefined) => (commit ? { commit } : {});

/**
 * Scenarios the target can serve (its scopes and capabilities, as runScenarios checks them), and the others, each
 * with the reason it is left out.
 */
export function servedScenarios(
  scenarios: Scenario[],
  target: Pick<ClusterFactory, "capabilities" | "scopes">,
): { served: Scenario[]; left: { id: string; why: string }[] } {
  const served: Scenario[] = [];
  const left: { id: string; why: string }[] = [];
  for (const s of scenarios) {
    const why = unserved(target, s);
    if (why === "whole-cluster") left.push({ id: s.id, why: "needs a cluster of its own" });
    else if (why) left.push({ id: s.id, why: `needs ${why.join(", ")}${why.includes("image-loading") ? " (give --registry)" : ""}` });
    else served.push(s);
  }
  return { served, left };
}

/** "needs a cluster of its own: a, b; needs image-loading (give --registry): c" */
export function leftOutText(left: { id: string; why: string }[]): string {
  const by = new Map<string, string[]>();
  for (const l of left) by.set(l.why, [...(by.get(l.why) ?? []), l.id]);
  return [...by].map(([why, ids]) => `${why}: ${ids.join(", ")}`).join("; ");
}

/**
 * Which runs had which cluster: one line per cluster, saying which scenarios shared it. On an existing cluster
 * nothing was created: one line says so.
 */
export function clusterUse(journals: RunJournal[], existing?: ExistingTarget): string {
  if (existing) {
    const n = journals.length;
    return `no cluster created: ${n} run${n === 1 ? "" : "s"} on ${describeTarget(existing)}, each in a namespace of its own\n`;
  }
  const by = new Map<string, RunJournal[]>();
  for (const j of journals) if (j.cluster) by.set(j.cluster.name, [...(by.get(j.cluster.name) ?? []), j]);
  const lines = [...by.entries()].map(([name, js]) => {
    // Repeated runs of one scenario (--repeat) are counted, not listed: "crashloop-triage ×25".
    const counts = new Map<string, number>();
    for (const j of js) {
      const label = j.scenario.id + (j.variant ? ` (${j.variant.name})` : "");
      counts.set(label, (counts.get(label) ?? 0) + 1);
    }
    const runs = [...counts].map(([label, n]) => (n > 1 ? `${label} ×${n}` : label)).join(", ");
    return `  cluster ${name}: ${runs}${js.length > 1 ? ` (shared by ${js.length} runs)` : ""}`;
  });
  return `${suiteNumbers(journals)}\n${lines.join("\n")}\n`;
}

/**
 * The suite's own numbers: clusters created and the time spent creating them (a run on a shared cluster spends
 * only its health gate), and the time per run. "3 clusters created in 2m41s for 9 runs (6 on a shared cluster,
 * gates 14.2s in all); a run took 1m12s median (48.0s–4m03s), 11m02s in all"
 */
export function suiteNumbers(journals: RunJournal[]): string {
  const c = suiteCounts(journals);
  const n = c.clustersCreated;
  return (
    `${n} cluster${n === 1 ? "" : "s"} created in ${formatDuration(c.createMs)} for ${c.runs} run${c.runs === 1 ? "" : "s"}` +
    (c.sharedRuns ? ` (${c.sharedRuns} on a shared cluster, gates ${formatDuration(c.gateMs)} in all)` : "") +
    (c.runs
      ? `; a run took ${formatDuration(c.medianRunMs)} median (${formatDuration(c.minRunMs)}–${formatDuration(c.maxRunMs)}), ${formatDuration(c.totalRunMs)} in all`
      : "")
  );
}

/** The numbers behind suiteNumbers, for pnpm bench:suite. */
export interface SuiteCounts {
  runs: number;
  clustersCreated: number;
  /** Time the runs that made a cluster spent creating it. */
  createMs: number;
  /** Runs on a cluster an earlier run made, and the time their health gates took. */
  sharedRuns: number;
  gateMs: number;
  medianRunMs: number;
  minRunMs: number;
  maxRunMs: number;
  totalRunMs: number;
}

/** A cluster's first run made it (its cluster phase is the creation); the later ones got it after a gate. */
export function byClusterUse(journals: RunJournal[]): { made: RunJournal[]; reused: RunJournal[] } {
  const seen = new Set<string>();
  const made: RunJournal[] = [];
  const reused: RunJournal[] = [];
  for (const j of journals) {
    if (!j.cluster) continue;
    (seen.has(j.cluster.name) ? reused : made).push(j);
    seen.add(j.cluster.name);
  }
  return { made, reused };
}

export function suiteCounts(journals: RunJournal[]): SuiteCounts {
  const { made, reused } = byClusterUse(journals);
  const sum = (js: RunJournal[], f: (j: RunJournal) => number | undefined) => js.reduce((a, j) => a + (f(j) ?? 0), 0);
  const totals = journals.map((j) => j.timings.totalMs).sort((a, b) => a - b);
  return {
    runs: journals.length,
    clustersCreated: made.length,
    createMs: sum(made, (j) => j.timings.clusterCreateMs),
    sharedRuns: reused.length,
    gateMs: sum(reused, (j) => j.timings.clusterCreateMs),
    medianRunMs: totals.length ? totals[Math.floor((totals.length - 1) / 2)]! : 0,
    minRunMs: totals[0] ?? 0,
    maxRunMs: totals.at(-1) ?? 0,
    totalRunMs: sum(journals, (j) => j.timings.totalMs),
  };
}
