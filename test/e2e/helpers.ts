import { execFileSync, spawn, spawnSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { mkdtemp, rm, writeFile, cp } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { docker } from "../../clusters/docker.js";
import { run } from "../../clusters/exec.js";
import { expect } from "vitest";
import { runObjects, type Cluster } from "../../clusters/kind/provider.js";
import { RecordingProgress } from "../../clusters/progress.js";
import { DEFAULT_KUBERNETES_VERSION } from "../../clusters/versions.js";
import { buildLockDir } from "../../clusters/images/build-lock.js";
import { defaultCacheDir } from "../../clusters/images/builder.js";
import { withLock } from "../../clusters/lock.js";
import { loadScenario } from "../../harness/engine/registry.js";
import { runScenario } from "../../harness/engine/runner.js";
import type { RunJournal } from "../../harness/engine/journal.js";
import type { Scenario } from "../../harness/model/scenario.js";
import { REPORTS_DIR, runScenarios } from "../../harness/cli/scenario-command.js";
import { kindClusters } from "../../clusters/kind/provider.js";
import { fileReporter } from "../../harness/reports/files.js";
import { ReporterMultiplexer } from "../../harness/engine/reporter.js";
import { realClock } from "../../clusters/wait.js";

const here = path.dirname(fileURLToPath(import.meta.url));
export const root = path.resolve(here, "../..");

/**
 * examples/shop copied to a temporary directory: `edits` change its files (by path inside it, e.g.
 * "aftershock.yaml", "k8s/web.yaml"), `files` are added.
 */
export function shopCopy(edits: Record<string, (text: string) => string> = {}, files: Record<string, string> = {}): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), "aftershock-shop-"));
  cpSync(path.join(root, "examples/shop"), dir, { recursive: true });
  for (const [f, edit] of Object.entries(edits)) writeFileSync(path.join(dir, f), edit(readFileSync(path.join(dir, f), "utf8")));
  for (const [f, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
    writeFileSync(path.join(dir, f), text);
  }
  return dir;
}

/** Builds the echo workload from source into a FROM-scratch image, the way a user's own image would be. */
export async function buildEchoImage(tag: string): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "aftershock-echo-"));
  try {
    await cp(path.join(here, "..", "..", "clusters", "images", "components", "echo"), dir, { recursive: true });
    await run("go", ["build", "-trimpath", "-o", "echo", "."], { cwd: dir, env: { CGO_ENABLED: "0", GOTOOLCHAIN: "local" }, timeout: "5m" });
    await writeFile(path.join(dir, "Dockerfile"), 'FROM scratch\nCOPY echo /echo\nENTRYPOINT ["/echo"]\nLABEL aftershock.built-by=aftershock-e2e\n');
    await docker.run(["build", "-q", "-t", tag, dir], { timeout: "5m" });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export async function apply(cluster: Cluster, manifest: string): Promise<void> {
  await cluster.kubectl(["apply", "-f", "-"], { input: manifest });
}

/** "<node> <status>" for every Node, sorted, as `kubectl get nodes` shows them with a kubeconfig from this host. */
export async function nodeStatuses(kubectl: string, kubeconfig: string): Promise<string[]> {
  const r = await run(kubectl, ["--kubeconfig", kubeconfig, "get", "nodes", "--no-headers"], { timeout: "30s" });
  return r.stdout
    .trim()
    .split("\n")
    .map((l) => l.split(/\s+/).slice(0, 2).join(" "))
    .sort();
}

/** Every Docker object carrying the run label. */
export async function leftovers(runId: string): Promise<string[]> {
  return (await runObjects(runId)).map((o) => `${o.kind} ${o.id.slice(0, 12)}`);
}

/** Names of the run's load generator containers (side containers labelled with the run), sorted. */
export async function loadContainers(runId: string): Promise<string[]> {
  const r = await docker.run(["ps", "-a", "--filter", `label=aftershock.run=${runId}`, "--filter", "label=aftershock.managed=side", "--format", "{{.Names}}"]);
  return r.stdout.split("\n").filter(Boolean).sort();
}

/** Debian's chromium; "" when there is none. */
export function findChromium(): string {
  // Installed by pnpm run doctor --fix --tests (the global setup's check asks for it); never installed from here.
  return spawnSync("sh", ["-c", "command -v chromium || command -v chromium-browser"], { encoding: "utf8" }).stdout.trim();
}

/** Flags for a headless Chromium that stays off the network, with its own profile under `dir`. */
export const headlessFlags = (dir: string): string[] => [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  `--user-data-dir=${path.join(dir, "profile")}`,
  "--window-size=1000,1000",
  "--hide-scrollbars",
];

/** The DOM headless Chromium builds from an HTML file. */
export function chromiumDom(chromium: string, html: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), "aftershock-dom-"));
  return execFileSync(chromium, [...headlessFlags(dir), "--dump-dom", `file://${html}`], { encoding: "utf8", timeout: 60_000 });
}

/** Runs a one-off pod to completion and returns its logs (more reliable than kubectl run --rm -i). */
export async function podOutput(cluster: Cluster, name: string, image: string, script: string, node?: string): Promise<string> {
  await apply(
    cluster,
    `
apiVersion: v1
kind: Pod
metadata: {name: ${name}, namespace: default}
spec:
  restartPolicy: Never
  tolerations: [{operator: Exists}]
  ${node ? `nodeSelector: {kubernetes.io/hostname: ${node}}` : ""}
  containers:
  - name: main
    image: ${image}
    imagePullPolicy: Never
    command: ["bash", "-c", ${JSON.stringify(script)}]
`,
  );
  await cluster.kubectl(["wait", "--for=jsonpath={.status.phase}=Succeeded", `pod/${name}`, "--timeout=120s"], { timeout: "130s" });
  const logs = await cluster.kubectl(["logs", name]);
  await cluster.kubectl(["delete", "pod", name, "--wait=false"]);
  return logs.stdout;
}

const clusters = kindClusters(new RecordingProgress());

/**
 * Runs a scenario on a new kind cluster, the way the CLI does, and checks the run left nothing behind. Its
 * journal and HTML report go to reports/ like a CLI run's, so a failing test can be read afterwards.
 */
export async function runOnKind(s: Scenario): Promise<RunJournal> {
  const files = new ReporterMultiplexer([fileReporter(REPORTS_DIR, ["json", "html"])]);
  const j = await runScenario(s, { clusters, kubernetesVersion: DEFAULT_KUBERNETES_VERSION, clock: realClock, reporter: files });
  await files.flush();
  expect(j.cluster?.name).toBe(`as-${j.runId}`);
  expect(await leftovers(j.runId), "nothing left behind").toEqual([]);
  expectTeardownPassed(j);
  return j;
}

/**
 * What was wrong with the run's teardown, or undefined when it passed, every step of it (a fault's rollback, the
 * namespaces, the cluster): the phase's status and error, and each failed step with its error (the phase itself only
 * says "failed" when a step did).
 */
function teardownProblem(j: RunJournal): string | undefined {
  const teardown = j.phases.find((p) => p.name === "teardown");
  if (!teardown) return `${j.scenario.id}: no teardown phase`;
  const failed = teardown.steps.filter((s) => !s.ok).map((s) => `${s.title}: ${s.error}`);
  if (teardown.status === "passed" && teardown.error === undefined && failed.length === 0) return undefined;
  return `${j.scenario.id}: teardown ${teardown.status}${teardown.error ? ` (${teardown.error})` : ""}: ${failed.join("; ")}`;
}

function expectTeardownPassed(j: RunJournal): void {
  expect(teardownProblem(j), `${j.scenario.id}: teardown`).toBeUndefined();
}

/**
 * Runs scenarios as `pnpm suite` does (runScenarios, clusters shared by runs of one shape; no variants), then
 * checks that the runs left nothing behind: no container, volume or network of any of them, shared cluster
 * included. Journals and HTML reports go to reports/ like the CLI's.
 */
export async function runCatalogShared(scenarios: Scenario[]): Promise<RunJournal[]> {
  const journals = await runScenarios(
    scenarios.map((scenario) => ({ scenario })),
    { version: DEFAULT_KUBERNETES_VERSION, keep: false, reporters: ["json", "html"], gameDay: false, progress: new RecordingProgress(), share: true },
  );
  // A run the suite ran again on a new cluster because its first attempt did not start on the shared one: the first
  // attempt's failure is said here, loudly, and counts (expectCatalogJournalPasses fails the scenario's test on it).
  for (const j of journals.filter(wasRunAgain)) process.stderr.write(`FLAKE: ${j.scenario.id} was run again: ${j.cluster!.shared}\n`);
  // Every run is checked before anything fails, so one failing teardown does not hide another run's.
  const problems: string[] = [];
  for (const j of journals) {
    const left = await leftovers(j.runId);
    if (left.length) problems.push(`${j.scenario.id} (run ${j.runId}) left behind: ${left.join(", ")}`);
    const problem = teardownProblem(j);
    if (problem) problems.push(problem);
  }
  expect(problems, "every run left nothing behind and its teardown passed").toEqual([]);
  return journals;
}

/**
 * Whether runScenarios ran this scenario a second time, on a new cluster, after its first attempt ended aborted or
 * inconclusive on the shared cluster; only the second attempt's journal comes back, and its cluster says so.
 */
export const wasRunAgain = (j: RunJournal): boolean => /^created after an attempt ended /.test(j.cluster?.shared ?? "");

/**
 * A catalog run's journal, as expectCatalogRunPasses checks it; on a shared cluster, a run after the first must
 * have had the health gate passed. A run that was run again after its first attempt failed fails here, naming the
 * first attempt's outcome and reason, even when the second passed: no test here is about re-runs, so a re-run is a
 * flake to be seen, not a pass. The one new cluster that is expected is named: a cluster-scoped scenario's second
 * run, on a cluster whose kubelets do not remember its fault.
 */
export function expectCatalogJournalPasses(s: Scenario, j: RunJournal | undefined): void {
  expect(j, `${s.id} ran`).toBeDefined();
  expect(wasRunAgain(j!) ? j!.cluster!.shared : "run once", `${s.id}: its first attempt failed and only a second one ran to the end`).toBe("run once");
  expectPassedRun(s, j!);
  expect(j!.cluster?.shared ?? "", `${s.id}: how it got its cluster`).toMatch(
    /^(created for this run|health gate passed in \S+; run \d+ on this cluster|created after \S+ already ran on \S+, whose kubelets remember its fault \(crash-loop back-off\)|a cluster of its own: .*)$/,
  );
}

/** The run's two checks on its own probes were made and passed: symptoms absent before, verify failing during. */
export function expectSelfChecksPassed(j: RunJournal): void {
  const absent = j.phases.find((p) => p.name === "symptoms-absent");
  expect(absent?.status, absent?.error).toBe("passed");
  expect(absent!.probes.length, "every symptom probe asked before the fault").toBeGreaterThan(0);
  expect(absent!.probes.filter((r) => r.held).map((r) => r.name)).toEqual([]);
  const fails = j.phases.find((p) => p.name === "verify-fails");
  expect(fails?.status, fails?.error).toBe("passed");
  expect(fails!.probes.filter((r) => !r.held).length, "some verification probe unmet on the broken cluster").toBeGreaterThan(0);
}

/**
 * The CLI as a user runs it (one process, no tsx wrapper, so signals reach the harness itself). `env` is added to this
 * process's (a PATH given there comes before node_modules/.bin and this process's PATH).
 */
export function startCli(
  args: string[],
  env: NodeJS.ProcessEnv = {},
  entry = "harness/cli/main.ts",
): { child: ReturnType<typeof spawn>; output: () => string; exited: Promise<number | null> } {
  let out = "";
  const child = spawn(process.execPath, ["--import", "tsx", entry, ...args], {
    cwd: root,
    env: { ...process.env, ...env, PATH: [env.PATH, path.join(root, "node_modules", ".bin"), process.env.PATH].filter(Boolean).join(":") },
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout!.on("data", (d: Buffer) => {
    out += d.toString();
  });
  child.stderr!.on("data", (d: Buffer) => {
    out += d.toString();
  });
  const exited = new Promise<number | null>((res) => child.on("exit", (code) => res(code)));
  return { child, output: () => out, exited };
}

/** Runs the CLI (or another entry, such as a bench) to the end within a budget; returns its exit code and everything it printed. */
export async function cli(
  args: string[],
  budgetMs = 15 * 60_000,
  env: NodeJS.ProcessEnv = {},
  entry?: string,
): Promise<{ code: number | null; output: string }> {
  const r = startCli(args, env, entry);
  const timer = setTimeout(() => r.child.kill("SIGINT"), budgetMs);
  const code = await r.exited;
  clearTimeout(timer);
  return { code, output: r.output() };
}

/** The run id the CLI printed when it created its cluster. */
export function runIdIn(output: string): string {
  const m = /Creating cluster as-([0-9a-f]{8})/.exec(output);
  if (!m) throw new Error(`no "Creating cluster as-…" line in:\n${output.slice(-2000)}`);
  return m[1]!;
}

export function readJournal(scenario: string, runId: string): RunJournal {
  return JSON.parse(readFileSync(path.join(root, "reports", `${scenario}-${runId}`, "journal.json"), "utf8")) as RunJournal;
}

/** Waits for a condition, polling; fails naming what was awaited and the budget. */
export async function until(cond: () => boolean | Promise<boolean>, budgetMs: number, what: string): Promise<void> {
  const deadline = Date.now() + budgetMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`${what} not seen within ${budgetMs / 1000}s`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** Why three-control-plane clusters are left out on this machine, if they are (each takes about 1.5 GiB). */
export function haSkipReason(): string | undefined {
  if (process.env.AFTERSHOCK_SKIP_HA === "1") return "AFTERSHOCK_SKIP_HA=1";
  const gib = os.totalmem() / 2 ** 30;
  return gib < 8 ? `this machine has ${gib.toFixed(1)} GiB of memory, under the 8 GiB three control planes need` : undefined;
}

/** One catalog scenario, once, end to end: passed, both self-checks passed, every symptom seen, data intact. */
export async function expectCatalogRunPasses(id: string, skip: (why: string) => void): Promise<void> {
  const s = await loadScenario(id);
  const why = s.cluster.controlPlanes > 1 ? haSkipReason() : undefined;
  if (why) skip(why);
  expectPassedRun(s, await runOnKind(s));
}

/** Passed end to end: every phase, both self-checks, every symptom seen, sentinels intact, load recorded with its SLOs met. */
export function expectPassedRun(s: Scenario, j: RunJournal): void {
  expect(j.outcome, `${s.id}: ${j.reason}`).toBe("passed");
  expect(j.exitCode).toBe(0);
  expect(j.phases.map((p) => `${p.name}:${p.status}`)).toEqual([
    "cluster:passed",
    "setup:passed",
    "steady-state:passed",
    "symptoms-absent:passed",
    "inject:passed",
    "symptoms:passed",
    "verify-fails:passed",
    "runbook:passed",
    "verify:passed",
    "teardown:passed",
  ]);
  expectSelfChecksPassed(j);
  const seen = j.phases
    .find((p) => p.name === "symptoms")!
    .probes.map((p) => p.name)
    .sort();
  expect(seen).toEqual([...s.symptoms.expect, ...(s.symptoms.stillWorks ?? [])].map((p) => p.name).sort());
  expect(j.phases.find((p) => p.name === "verify")!.probes.filter((p) => p.kind === "sentinel" && !p.ok)).toEqual([]);
  expect(j.timings.timeToDetectMs).toBeGreaterThan(0);
  expect(j.timings.timeToRecoverMs).toBeGreaterThan(0);
  expectLoadRecorded(s, j);
}

/** A scenario with load: every stream ran through the fault, second by second, and its SLOs before and after were met. */
export function expectLoadRecorded(s: Scenario, j: RunJournal): void {
  // Every declared stream; a fault may start one of its own (a client's flood), which has no constant rate to check.
  expect((j.load ?? []).map((l) => l.name).filter((n) => s.load.some((x) => x.name === n))).toEqual(s.load.map((l) => l.name));
  for (const l of (j.load ?? []).filter((x) => s.load.some((y) => y.name === x.name))) {
    const spec = s.load.find((x) => x.name === l.name)!;
    // Constant rate: about `rate` requests in every second the load ran (a few seconds at the edges are partial).
    expect(l.requests, `${l.name}: requests`).toBeGreaterThan(spec.rate * l.series.length * 0.8);
    expect(l.series.length, `${l.name}: seconds of load`).toBeGreaterThan(20);
    expect(Object.keys(l.windows).sort(), `${l.name}: windows`).toEqual(["after", "before", "during"]);
    expect(l.windows.during!.requests, `${l.name}: requests during the fault`).toBeGreaterThan(0);
    expect(
      l.slos.filter((x) => x.window !== "during").map((x) => `${x.window}:${x.ok ? "met" : `breached (${x.observed})`}`),
      `${l.name}: SLOs before and after`,
    ).toEqual((["before", "after"] as const).filter((w) => spec.slo[w]).map((w) => `${w}:met`));
  }
}

/**
 * Waits until no process is building into the image cache (the global setup's background builds): for the files
 * that must have the machine to themselves. Budget: the hook's.
 */
export async function afterBackgroundBuilds(): Promise<void> {
  await withLock(buildLockDir(defaultCacheDir()), new RecordingProgress(), async () => undefined, "19m", "building images in the background");
}
