import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { loadAllYaml, loadYaml, type KubernetesObject } from "@kubernetes/client-node";
import { AftershockError, asDuration, parseDuration, type Duration } from "../../../clusters/errors.js";
import { docker } from "../../../clusters/docker.js";
import { run } from "../../../clusters/exec.js";
import type { SloObjective } from "../../load/streams.js";
import type { WorkloadConfig, WorkloadDeploy } from "../../model/workload.js";

/**
 * A team's own workload (harness/model/workload.ts says what it is and how it is judged): its file read, checked
 * and rendered into the objects to apply.
 */

/** The file a repository commits; `--workload DIR` looks for it in DIR. */
export const WORKLOAD_FILE = "aftershock.yaml";

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
  const duration = (v: unknown, field: string, dflt: Duration): Duration => {
    try {
      return v === undefined ? dflt : asDuration(String(v));
    } catch {
      throw bad(field, `is not a duration: "${String(v)}"`);
    }
  };
  const within = (v: unknown, field: string, dflt: Duration): number => parseDuration(duration(v, field, dflt));
  const dirAt = (v: unknown, field: string): string => {
    const d = path.resolve(dir, str(v, field));
    if (!existsSync(d) || !statSync(d).isDirectory()) throw bad(field, `: no such directory (${path.relative(process.cwd(), d)})`);
    return d;
  };
  const objective = (v: unknown, field: string): SloObjective => {
    const o = obj(v, field);
    const a = Number(o.availability);
    if (!(a > 0 && a <= 1)) throw bad(`${field}.availability`, "must be a share between 0 and 1, e.g. 0.99");
    // The key before durations were written one way (a number of ms): refused, naming the key that replaced it.
    if (o.p99Ms !== undefined) throw bad(`${field}.p99Ms:`, `write p99: ${Number(o.p99Ms) > 0 ? `${Number(o.p99Ms)}ms` : "500ms"} (a duration)`);
    const p99 = o.p99 === undefined ? undefined : duration(o.p99, `${field}.p99`, "500ms");
    if (p99 !== undefined && !(parseDuration(p99) > 0)) throw bad(`${field}.p99`, `must be longer than 0, e.g. 500ms`);
    return { availability: a, ...(p99 !== undefined ? { p99 } : {}) };
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
  const dflt: SloObjective = { availability: 0.99, p99: "500ms" };
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
      timeout: duration(u.timeout, "users.timeout", "2s"),
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
        timeout: "1m",
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
