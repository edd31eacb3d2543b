import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { loadAllYaml, loadYaml, type KubernetesObject, type V1Pod } from "@kubernetes/client-node";
import { AftershockError, formatDuration, parseDuration } from "../../../clusters/errors.js";
import { docker } from "../../../clusters/docker.js";
import { run } from "../../../clusters/exec.js";
import { apiErrorLine } from "../../../clusters/kube.js";
import type { LoadRecord, SloObjective, SloWindow } from "../load/load.js";
import type { LoadSecond } from "../load/load-series.js";
import { describeObjective, judge } from "../load/load.js";
import type { ScenarioContext } from "../types.js";
import type { App } from "../targets.js";

/**
 * A team's own workload under the incident (`--workload PATH`, or `aftershock.yaml` in the current directory):
 * what to deploy, the images it needs, the Service its users reach, the rate, and its SLO. A scenario that
 * declares a `workloadSlot` runs it in place of its demo Service: deployed in the run's namespace after setup,
 * its readiness part of the steady state, its users' traffic through the fault, judged in a verdict of its own
 * (the runbook's verdict stays the cluster's).
 */

/** The file a repository commits; `--workload DIR` looks for it in DIR. */
export const WORKLOAD_FILE = "aftershock.yaml";

export type WorkloadDeploy =
  { kind: "manifests"; dir: string } | { kind: "kustomize"; dir: string } | { kind: "helm"; chart: string; values: string[]; release: string };

export interface WorkloadConfig {
  /** kebab-case; the load stream's and the verdict's name. */
  name: string;
  /** Where the file was read from (absolute) and its directory, against which paths in it resolve. */
  file: string;
  dir: string;
  deploy: WorkloadDeploy;
  /** Local Docker images the workload runs (loaded into kind before it is deployed). */
  images: string[];
  readyWithinMs: number;
  users: {
    service: string;
    path: string;
    /** GET unless the file says; a body (and its Content-Type) goes with the methods that take one. */
    method: string;
    body?: { data: string; contentType?: string };
    /** Statuses that count as served (default any 2xx or 3xx). */
    expectStatus?: number[];
    rate: number;
    timeoutMs: number;
  };
  slo: { before: SloObjective; during?: SloObjective; after: SloObjective };
  /** Label selector of the pods a fault that picks a pod or node should hit (scenarios that pick one). */
  target?: string;
  /** A breached SLO makes the run's exit code WORKLOAD_BREACHED_EXIT (when the runbook's verdict passed). */
  failRunOnBreach: boolean;
}

/** The exit code of a run whose runbook passed and whose workload breached an SLO, with failRunOnBreach. */
export const WORKLOAD_BREACHED_EXIT = 8;

/** Seconds of its users' requests after the runbook that a workload's "after" window covers at least (as a load's own SLO after recovery does). */
export const WORKLOAD_AFTER_SECONDS = 10;

const KEBAB = /^[a-z0-9]+(-[a-z0-9]+)*$/;
const METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

/** Reads and validates a workload file (or DIR/aftershock.yaml); every mistake is one line naming the field. */
export function readWorkload(p: string): WorkloadConfig {
  const abs = path.resolve(p);
  if (!existsSync(abs)) throw new AftershockError("E_BAD_INPUT", `workload ${p}: no such file or directory`);
  const file = statSync(abs).isDirectory() ? path.join(abs, WORKLOAD_FILE) : abs;
  if (!existsSync(file)) throw new AftershockError("E_BAD_INPUT", `workload ${p}: no ${WORKLOAD_FILE} in it`, { hint: "see README, Your own workload" });
  const where = path.relative(process.cwd(), file) || file;
  const bad = (field: string, why: string) => new AftershockError("E_BAD_INPUT", `workload ${where}: ${field} ${why}`);
  let doc: Record<string, unknown>;
  const text = readText(file, () => bad("file", "cannot be read"));
  try {
    doc = loadYaml(text) as Record<string, unknown>;
  } catch (e) {
    throw bad("file", `is not YAML: ${(e as Error).message.split("\n")[0]}`);
  }
  if (!doc || typeof doc !== "object") throw bad("file", "must be a mapping");
  const dir = path.dirname(file);
  const obj = (v: unknown, field: string): Record<string, unknown> => {
    if (!v || typeof v !== "object" || Array.isArray(v)) throw bad(field, "must be a mapping");
    return v as Record<string, unknown>;
  };
  const str = (v: unknown, field: string): string => {
    if (typeof v !== "string" || !v.trim()) throw bad(field, "is required (a string)");
    return v;
  };
  const within = (v: unknown, field: string, dflt: string): number => {
    try {
      return parseDuration(v === undefined ? dflt : String(v));
    } catch {
      throw bad(field, `is not a duration: "${String(v)}"`);
    }
  };
  const dirAt = (v: unknown, field: string): string => {
    const d = path.resolve(dir, str(v, field));
    if (!existsSync(d) || !statSync(d).isDirectory()) throw bad(field, `: no such directory (${path.relative(process.cwd(), d)})`);
    return d;
  };
  const objective = (v: unknown, field: string): SloObjective => {
    const o = obj(v, field);
    const a = Number(o.availability);
    if (!(a > 0 && a <= 1)) throw bad(`${field}.availability`, "must be a share between 0 and 1, e.g. 0.99");
    if (o.p99Ms !== undefined && !(Number(o.p99Ms) > 0)) throw bad(`${field}.p99Ms`, "must be a number of milliseconds");
    return { availability: a, ...(o.p99Ms !== undefined ? { p99Ms: Number(o.p99Ms) } : {}) };
  };

  const name = str(doc.name, "name");
  if (!KEBAB.test(name)) throw bad("name", "must be kebab-case");
  const d = obj(doc.deploy, "deploy");
  const kinds = ["manifests", "kustomize", "helm"].filter((k) => d[k] !== undefined);
  if (kinds.length !== 1) throw bad("deploy", "needs exactly one of manifests (a directory), kustomize (a directory) or helm (chart, values)");
  let deploy: WorkloadDeploy;
  if (d.manifests !== undefined) deploy = { kind: "manifests", dir: dirAt(d.manifests, "deploy.manifests") };
  else if (d.kustomize !== undefined) {
    const k = dirAt(d.kustomize, "deploy.kustomize");
    if (!["kustomization.yaml", "kustomization.yml", "Kustomization"].some((f) => existsSync(path.join(k, f))))
      throw bad("deploy.kustomize", `: no kustomization.yaml in ${path.relative(process.cwd(), k)}`);
    deploy = { kind: "kustomize", dir: k };
  } else {
    const h = obj(d.helm, "deploy.helm");
    const chart = dirAt(h.chart, "deploy.helm.chart");
    // Rendering waits for Helm to be built; a directory that is no chart at all is known now.
    if (!existsSync(path.join(chart, "Chart.yaml"))) throw bad("deploy.helm.chart", `: no Chart.yaml in ${path.relative(process.cwd(), chart)}`);
    const values = ((h.values ?? []) as unknown[]).map((v, i) => {
      const f = path.resolve(dir, str(v, `deploy.helm.values[${i}]`));
      if (!existsSync(f)) throw bad(`deploy.helm.values[${i}]`, `: no such file (${path.relative(process.cwd(), f)})`);
      return f;
    });
    deploy = { kind: "helm", chart, values, release: h.release === undefined ? name : str(h.release, "deploy.helm.release") };
  }
  const images = doc.images === undefined ? [] : doc.images;
  if (!Array.isArray(images) || images.some((i) => typeof i !== "string" || !i)) throw bad("images", "must be a list of image references");
  const u = obj(doc.users, "users");
  const rate = u.rate === undefined ? 20 : Number(u.rate);
  if (!(rate >= 1 && rate <= 500)) throw bad("users.rate", "must be between 1 and 500 requests per second");
  const p0 = u.path === undefined ? "/" : str(u.path, "users.path");
  if (!p0.startsWith("/")) throw bad("users.path", "must start with /");
  const method = u.method === undefined ? "GET" : str(u.method, "users.method").toUpperCase();
  if (!METHODS.includes(method)) throw bad("users.method", `must be one of ${METHODS.join(", ")}`);
  if (u.body !== undefined && !["POST", "PUT", "PATCH"].includes(method)) throw bad("users.body", `goes with POST, PUT or PATCH, not ${method}`);
  const body =
    u.body === undefined
      ? undefined
      : { data: str(u.body, "users.body"), ...(u.contentType !== undefined ? { contentType: str(u.contentType, "users.contentType") } : {}) };
  const statuses = u.expectStatus === undefined ? undefined : ([] as unknown[]).concat(u.expectStatus).map(Number);
  if (statuses && (!statuses.length || statuses.some((c) => !Number.isInteger(c) || c < 100 || c > 599)))
    throw bad("users.expectStatus", "must be an HTTP status or a list of them, e.g. 201 or [200, 204]");
  const s = obj(doc.slo ?? {}, "slo");
  const dflt = { availability: 0.99, p99Ms: 500 };
  const slo = {
    before: s.before === undefined ? dflt : objective(s.before, "slo.before"),
    ...(s.during !== undefined ? { during: objective(s.during, "slo.during") } : {}),
    after: s.after === undefined ? dflt : objective(s.after, "slo.after"),
  };
  const t = doc.target === undefined ? undefined : obj(doc.target, "target");
  return {
    name,
    file,
    dir,
    deploy,
    images: images as string[],
    readyWithinMs: within(doc.readyWithin, "readyWithin", "3m"),
    users: {
      service: str(u.service, "users.service"),
      path: p0,
      method,
      ...(body ? { body } : {}),
      ...(statuses ? { expectStatus: statuses } : {}),
      rate,
      timeoutMs: within(u.timeout, "users.timeout", "2s"),
    },
    slo,
    ...(t ? { target: str(t.selector, "target.selector") } : {}),
    failRunOnBreach: doc.failRunOnBreach === undefined ? false : doc.failRunOnBreach === true,
  };
}

/** The objects the workload deploys, as the cluster will get them (manifests read, a chart templated by helm). */
export async function renderWorkload(w: WorkloadConfig, helmBinary?: string): Promise<KubernetesObject[]> {
  const where = path.relative(process.cwd(), w.file);
  const parse = (text: string, from: string): KubernetesObject[] => {
    try {
      return (loadAllYaml(text) as (KubernetesObject | null)[]).filter((o): o is KubernetesObject => !!o && typeof o === "object");
    } catch (e) {
      throw new AftershockError("E_BAD_INPUT", `workload ${where}: ${from} is not valid YAML: ${(e as Error).message.split("\n")[0]}`);
    }
  };
  switch (w.deploy.kind) {
    case "manifests": {
      const files = listYaml(w.deploy.dir);
      if (!files.length) throw new AftershockError("E_BAD_INPUT", `workload ${where}: deploy.manifests has no .yaml files`);
      return files.flatMap((f) => parse(readText(f, unreadable(where, f)), path.relative(process.cwd(), f)));
    }
    case "kustomize":
      // Built by the cluster's kubectl when it is deployed; before the cluster only its files are checked.
      return listYaml(w.deploy.dir).flatMap((f) => (path.basename(f).startsWith("kustomization") ? [] : parse(readText(f, unreadable(where, f)), f)));
    case "helm": {
      if (!helmBinary) throw new AftershockError("E_BAD_INPUT", `workload ${where}: rendering a chart needs helm`);
      const r = await run(helmBinary, ["template", w.deploy.release, w.deploy.chart, ...w.deploy.values.flatMap((v) => ["-f", v])], {
        allowFailure: true,
        timeoutMs: 60_000,
      });
      if (r.exitCode !== 0) {
        // helm ends with advice ("Use --debug flag …"); the line that says what is wrong starts with "Error:".
        const lines = (r.stderr || r.stdout).trim().split("\n");
        const why = lines.find((l) => l.startsWith("Error: "))?.slice("Error: ".length) ?? lines.at(-1);
        throw new AftershockError("E_BAD_INPUT", `workload ${where}: the chart does not render: ${why}`);
      }
      return parse(r.stdout, "helm template");
    }
  }
}

/**
 * A file's text; a file that cannot be read (permissions, a directory named .yaml) is the caller's one-line error,
 * not node's EACCES with a stack trace.
 */
function readText(file: string, cannot: () => AftershockError): string {
  try {
    return readFileSync(file, "utf8");
  } catch (e) {
    const err = cannot();
    throw new AftershockError(err.code, `${err.message} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, { cause: e });
  }
}

const unreadable = (where: string, f: string) => () =>
  new AftershockError("E_BAD_INPUT", `workload ${where}: ${path.relative(process.cwd(), f)} cannot be read`);

function listYaml(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && /\.(ya?ml)$/.test(e.name))
    .map((e) => path.join(e.parentPath, e.name))
    .sort();
}

/**
 * Everything about a workload that can be known before a cluster exists: it renders, its Service is among its
 * objects, no object names another namespace, and its images are in the local Docker (`images: false`: not
 * asked, for --dry-run, which needs no Docker). One line each, exit 2. Defaults `target` to the Service's selector.
 */
export async function checkWorkload(w: WorkloadConfig, helmBinary?: string, o: { images?: boolean } = {}): Promise<KubernetesObject[]> {
  const where = path.relative(process.cwd(), w.file);
  const objects = await renderWorkload(w, helmBinary);
  const elsewhere = objects.filter((o) => o.metadata?.namespace);
  if (elsewhere.length)
    throw new AftershockError(
      "E_BAD_INPUT",
      `workload ${where}: ${elsewhere[0]!.kind}/${elsewhere[0]!.metadata!.name} names namespace ${elsewhere[0]!.metadata!.namespace}; a workload is deployed into the run's own namespace, leave namespace out`,
    );
  if (w.deploy.kind !== "kustomize" && !objects.some((o) => o.kind === "Service" && o.metadata?.name === w.users.service)) {
    const services = objects.filter((o) => o.kind === "Service").map((o) => o.metadata?.name);
    throw new AftershockError(
      "E_BAD_INPUT",
      `workload ${where}: users.service "${w.users.service}" is not a Service it deploys (${services.length ? `its Services: ${services.join(", ")}` : "it deploys no Service"})`,
    );
  }
  // The pods a fault aims at, unless the file says: those behind the Service its users reach.
  const svc = objects.find((o) => o.kind === "Service" && o.metadata?.name === w.users.service) as { spec?: { selector?: Record<string, string> } } | undefined;
  if (!w.target && svc?.spec?.selector) w.target = labelSelector(svc.spec.selector);
  if (o.images !== false) await checkWorkloadImages(w);
  return objects;
}

/** The workload's images are in the local Docker (no registry is reached to pull them); one line naming the first missing. */
export async function checkWorkloadImages(w: WorkloadConfig): Promise<void> {
  const where = path.relative(process.cwd(), w.file);
  for (const image of w.images) {
    const r = await docker.run(["image", "inspect", "--format", "{{.Id}}", image], { allowFailure: true });
    if (r.exitCode !== 0)
      throw new AftershockError("E_BAD_INPUT", `workload ${where}: image ${image} is not in the local Docker`, {
        hint: "build it first (docker build -t …); no registry is reached to pull it",
      });
  }
}

/** Labels as a label selector: { app: "web", tier: "front" } → "app=web,tier=front". */
export const labelSelector = (labels: Record<string, string>): string =>
  Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(",");

// ---- what a scenario carries of it -------------------------------------------------------------------------

/** What a scenario that takes a workload says about it: which of its demo Services the workload replaces. */
export interface WorkloadSlot {
  /** The demo Service (its setup item and its load stream, both named like it) the team's workload stands in for: its handle. */
  replaces: App;
  /** Images of the scenario's `images` that only the demo runs: not loaded when a workload replaces it. */
  images?: string[];
}

/** What the run of a scenario with a workload carries: the config and what the verdict needs. */
export interface WorkloadUnderTest {
  config: WorkloadConfig;
  /** Records the workload's pods before the fault and after verification. */
  observer: WorkloadObserver;
}

/** The pods matching any of the selectors in the run's namespace, each once. */
export async function podsOf(ctx: ScenarioContext, selectors: string[]): Promise<V1Pod[]> {
  const lists = await Promise.all(selectors.map((labelSelector) => ctx.cluster.api.core.listNamespacedPod({ namespace: ctx.namespace, labelSelector })));
  return [...new Map(lists.flatMap((l) => l.items).map((p) => [p.metadata?.uid ?? p.metadata?.name, p])).values()];
}

// ---- what happened to it: pods, PDBs, and the verdict ---------------------------------------------------------

interface PodSeen {
  name: string;
  node: string;
  restarts: number;
}

/** The workload's pods before the fault and at the end of the run, and its PodDisruptionBudgets at the end. */
export class WorkloadObserver {
  private start: PodSeen[] = [];
  /** The pod selectors of its Deployments, StatefulSets and DaemonSets (set when it is deployed). */
  selectors: string[] = [];
  /** Why it did not become ready within readyWithin, when it did not (its steady state is then not met). */
  notReady: string | undefined;
  constructor(readonly config: WorkloadConfig) {}

  async before(ctx: ScenarioContext): Promise<void> {
    this.start = await pods(ctx, this.selectors);
  }

  async after(ctx: ScenarioContext): Promise<WorkloadPods> {
    const end = await pods(ctx, this.selectors).catch(() => undefined);
    const pdbs = await ctx.cluster.api.objects
      .list("policy/v1", "PodDisruptionBudget", ctx.namespace)
      .then((l) =>
        l.items.map((b) => {
          const st = (b as { status?: { desiredHealthy?: number; currentHealthy?: number } }).status;
          const want = st?.desiredHealthy ?? 0;
          const have = st?.currentHealthy ?? 0;
          return { name: b.metadata?.name ?? "?", desiredHealthy: want, currentHealthy: have, held: have >= want };
        }),
      )
      .catch((e: unknown) => [{ name: `(could not read: ${apiErrorLine(e)})`, desiredHealthy: 0, currentHealthy: 0, held: false }]);
    if (!end) return { before: this.start.length, after: 0, restarts: 0, replaced: [], rescheduled: [], pdbs };
    const byName = new Map(this.start.map((p) => [p.name, p]));
    const restarts = end.reduce((a, p) => a + Math.max(0, p.restarts - (byName.get(p.name)?.restarts ?? 0)), 0);
    const replaced = this.start.filter((p) => !end.some((e) => e.name === p.name)).map((p) => p.name);
    const startNodes = new Set(this.start.map((p) => p.node));
    const rescheduled = end
      .filter((p) => !byName.has(p.name))
      .map((p) => `${p.name} on ${p.node}${startNodes.has(p.node) ? "" : " (a node it was not on before)"}`);
    return { before: this.start.length, after: end.length, restarts, replaced, rescheduled, pdbs };
  }
}

async function pods(ctx: ScenarioContext, selectors: string[]): Promise<PodSeen[]> {
  return (await podsOf(ctx, selectors))
    .filter((p) => !p.metadata?.deletionTimestamp)
    .map((p) => ({
      name: p.metadata?.name ?? "?",
      node: p.spec?.nodeName ?? "?",
      restarts: (p.status?.containerStatuses ?? []).reduce((a, c) => a + (c.restartCount ?? 0), 0),
    }));
}

export interface WorkloadPods {
  before: number;
  after: number;
  /** Container restarts since the fault, summed. */
  restarts: number;
  /** Pods there before the fault and gone at the end. */
  replaced: string[];
  /** Pods made since, with their node. */
  rescheduled: string[];
  pdbs: { name: string; desiredHealthy: number; currentHealthy: number; held: boolean }[];
}

/** The workload's own verdict, kept apart from the runbook's. */
export interface WorkloadVerdict {
  name: string;
  service: string;
  held: boolean;
  slos: { window: SloWindow; objective: string; ok: boolean; observed: string }[];
  /** From the first second with an error to the end of the last, after the fault. */
  errorWindowMs: number;
  worstSecond?: LoadSecond;
  /** End of the runbook → first second from which every request was served again (undefined: never, in the run). */
  servedAgainAfterMs?: number;
  pods: WorkloadPods;
  failRunOnBreach: boolean;
}

/** The verdict from the workload's load record (its windows), the runbook's end, and its pods. */
export function workloadVerdict(w: WorkloadConfig, rec: LoadRecord | undefined, runbookEndMs: number | undefined, pods: WorkloadPods): WorkloadVerdict {
  const slos: WorkloadVerdict["slos"] = [];
  for (const window of ["before", "during", "after"] as const) {
    const objective = w.slo[window];
    if (!objective) continue;
    // "before" as the steady state judged it (its last settled window), as the run's own load SLOs are recorded.
    const judged = window === "before" ? rec?.slos.find((x) => x.window === "before") : undefined;
    const summary = rec?.windows[window];
    const { ok, observed } = judged ?? (summary?.requests ? judge(summary, objective) : { ok: false, observed: "no requests in this window" });
    slos.push({ window, objective: describeObjective(objective), ok, observed });
  }
  let servedAgainAfterMs: number | undefined;
  if (rec && runbookEndMs !== undefined) {
    const after = rec.series.filter((x) => x.t >= runbookEndMs - 1000);
    const lastBad = [...after].reverse().find((x) => x.ok < x.requests);
    const firstGood = lastBad ? after.find((x) => x.t > lastBad.t && x.ok === x.requests) : after.find((x) => x.ok === x.requests);
    if (firstGood) servedAgainAfterMs = Math.max(0, firstGood.t - runbookEndMs);
  }
  return {
    name: w.name,
    service: w.users.service,
    held: slos.every((s) => s.ok) && pods.pdbs.every((p) => p.held),
    slos,
    errorWindowMs: rec?.errorWindowMs ?? 0,
    // The worst second users had since the fault (the load's start-up seconds are not theirs).
    ...(rec?.windows.during?.worst ? { worstSecond: rec.windows.during.worst } : {}),
    ...(servedAgainAfterMs !== undefined ? { servedAgainAfterMs } : {}),
    pods,
    failRunOnBreach: w.failRunOnBreach,
  };
}

/** Console lines of the verdict. */
export function workloadLines(v: WorkloadVerdict): string[] {
  const lines = [`workload ${v.name} (Service ${v.service}): SLO ${v.held ? "HELD" : "BREACHED"}${v.failRunOnBreach ? "" : " (does not fail the run)"}`];
  for (const s of v.slos) lines.push(`  ${s.window.padEnd(6)} ${s.ok ? "met     " : "breached"} ${s.objective}: ${s.observed}`);
  lines.push(
    `  users' error window ${formatDuration(v.errorWindowMs)}` +
      (v.worstSecond ? `, worst second +${formatDuration(v.worstSecond.t)}: ${v.worstSecond.ok}/${v.worstSecond.requests} ok` : "") +
      `, served again ${v.servedAgainAfterMs === undefined ? "not within the run" : `${formatDuration(v.servedAgainAfterMs)} after the runbook`}`,
  );
  const p = v.pods;
  lines.push(
    `  pods ${p.before} → ${p.after}, ${p.restarts} restart${p.restarts === 1 ? "" : "s"}` +
      (p.replaced.length ? `, replaced: ${p.replaced.join(", ")}` : "") +
      (p.rescheduled.length ? `, new: ${p.rescheduled.join(", ")}` : ""),
  );
  for (const b of p.pdbs)
    lines.push(`  PodDisruptionBudget ${b.name}: ${b.currentHealthy} healthy of ${b.desiredHealthy} wanted — ${b.held ? "held" : "not held"}`);
  return lines;
}
