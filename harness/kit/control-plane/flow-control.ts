import type { V1FlowSchema, V1PriorityLevelConfiguration } from "@kubernetes/client-node";
import { apiErrorLine, apiStatus } from "../../../clusters/kube.js";
import { LABELS } from "../../../clusters/labels.js";
import type { Probe } from "../../model/probe.js";
import type { ScenarioContext } from "../../model/context.js";

/**
 * API Priority and Fairness as an operator reads it: the API server's own flow-control metrics by priority level
 * and flow schema, the requests it holds right now and who sent them (its APF debug endpoint), the FlowSchemas
 * and PriorityLevelConfigurations, and a priority level of its own for one client. In-band: all of it needs the
 * API server up, and the run's admin client is exempt from flow control, so it is answered during a flood.
 */

/** One sample of a metric, with its labels. */
export interface MetricSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const SAMPLE_RE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/;
const LABEL_RE = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/** Prometheus' text format, the samples of the metrics whose name starts with `prefix`. */
export function parseMetrics(text: string, prefix: string): MetricSample[] {
  const out: MetricSample[] = [];
  for (const line of text.split("\n")) {
    if (!line.startsWith(prefix)) continue;
    const m = SAMPLE_RE.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? "").matchAll(LABEL_RE)) labels[l[1]!] = l[2]!;
    const value = Number(m[3]);
    if (Number.isFinite(value)) out.push({ name: m[1]!, labels, value });
  }
  return out;
}

export interface FlowControlState {
  /** Requests executing now, by priority level. */
  executing: Map<string, number>;
  /** Requests waiting in queues now, by priority level. */
  waiting: Map<string, number>;
  /** Requests rejected since the API server started (429), by priority level. */
  rejected: Map<string, number>;
}

const sumBy = (samples: MetricSample[], name: string, label: string): Map<string, number> => {
  const m = new Map<string, number>();
  for (const s of samples) if (s.name === name) m.set(s.labels[label] ?? "?", (m.get(s.labels[label] ?? "?") ?? 0) + s.value);
  return m;
};

/** `kubectl get --raw /metrics`, the apiserver_flowcontrol_* gauges and counters summed by priority level. */
export async function flowControlState(ctx: ScenarioContext): Promise<FlowControlState> {
  const samples = parseMetrics(await ctx.cluster.api.raw("/metrics", "20s"), "apiserver_flowcontrol_");
  return {
    executing: sumBy(samples, "apiserver_flowcontrol_current_executing_requests", "priority_level"),
    waiting: sumBy(samples, "apiserver_flowcontrol_current_inqueue_requests", "priority_level"),
    rejected: sumBy(samples, "apiserver_flowcontrol_rejected_requests_total", "priority_level"),
  };
}

/** "workload-low 87 executing, 0 waiting, 0 rejected; …" for the levels that hold or rejected anything. */
export function describeFlowControl(s: FlowControlState): string {
  const levels = [...new Set([...s.executing.keys(), ...s.waiting.keys(), ...s.rejected.keys()])]
    .map((l) => ({ l, e: s.executing.get(l) ?? 0, w: s.waiting.get(l) ?? 0, r: s.rejected.get(l) ?? 0 }))
    .filter((x) => x.e + x.w + x.r > 0)
    .sort((a, b) => b.e + b.w - (a.e + a.w));
  return levels.map((x) => `${x.l}: ${x.e} executing, ${x.w} waiting, ${x.r} rejected`).join("; ") || "nothing executing or waiting";
}

export interface HeldRequest {
  priorityLevel: string;
  flowSchema: string;
  user: string;
  verb: string;
  path: string;
}

/**
 * `kubectl get --raw '/debug/api_priority_and_fairness/dump_requests?includeRequestDetails=1'`: every request the
 * API server holds now (queued or executing) with its priority level, flow schema and user.
 */
export async function heldRequests(ctx: ScenarioContext): Promise<HeldRequest[]> {
  const text = await ctx.cluster.api.raw("/debug/api_priority_and_fairness/dump_requests?includeRequestDetails=1", "20s");
  return parseDumpRequests(text);
}

/** The debug endpoint's table: columns joined by "," and padded; the first line names them. */
export function parseDumpRequests(text: string): HeldRequest[] {
  const [header, ...rows] = text.split("\n").filter((l) => l.trim());
  if (!header) return [];
  const cols = header.split(",").map((c) => c.trim());
  const at = (name: string) => cols.indexOf(name);
  const [pl, fs, user, verb, path] = [at("PriorityLevelName"), at("FlowSchemaName"), at("UserName"), at("Verb"), at("APIPath")];
  return rows
    .map((r) => r.split(",").map((c) => c.trim()))
    .filter((c) => c.length >= cols.length)
    .map((c) => ({ priorityLevel: c[pl] ?? "?", flowSchema: c[fs] ?? "?", user: c[user] ?? "?", verb: c[verb] ?? "?", path: c[path] ?? "?" }));
}

/** The users holding the most requests, most first: "system:serviceaccount:ns:x 87 (LIST /api/v1/…; workload-low)". */
export function topClients(reqs: HeldRequest[], n = 3): { user: string; count: number; line: string }[] {
  const by = new Map<string, HeldRequest[]>();
  for (const r of reqs) by.set(r.user, [...(by.get(r.user) ?? []), r]);
  return [...by.entries()]
    .sort((a, b) => b[1].length - a[1].length)
    .slice(0, n)
    .map(([user, rs]) => ({
      user,
      count: rs.length,
      line: `${user}: ${rs.length} (${rs[0]!.verb} ${rs[0]!.path}; priority level ${rs[0]!.priorityLevel}, flow schema ${rs[0]!.flowSchema})`,
    }));
}

/** `kubectl get flowschemas,prioritylevelconfigurations`: name → "generation" of each, for "nothing else changed". */
export async function flowControlObjects(ctx: ScenarioContext): Promise<{ flowSchemas: V1FlowSchema[]; priorityLevels: V1PriorityLevelConfiguration[] }> {
  const fc = ctx.cluster.api.flowcontrol;
  const [fs, pl] = await Promise.all([fc.listFlowSchema(), fc.listPriorityLevelConfiguration()]);
  return { flowSchemas: fs.items, priorityLevels: pl.items };
}

/** One line per FlowSchema, in matching order: "precedence name → priority level". */
export function describeFlowSchemas(fs: V1FlowSchema[]): string {
  return [...fs]
    .sort((a, b) => (a.spec?.matchingPrecedence ?? 0) - (b.spec?.matchingPrecedence ?? 0))
    .map((f) => `${String(f.spec?.matchingPrecedence ?? "?").padStart(5)} ${f.metadata!.name} → ${f.spec?.priorityLevelConfiguration.name}`)
    .join("\n");
}

/** A fingerprint of every FlowSchema and PriorityLevelConfiguration but `except`: name@generation, sorted. */
export async function flowControlFingerprint(ctx: ScenarioContext, except: string[] = []): Promise<string[]> {
  const { flowSchemas, priorityLevels } = await flowControlObjects(ctx);
  return [
    ...flowSchemas.map((f) => `flowschema/${f.metadata!.name}@${f.metadata!.generation}`),
    ...priorityLevels.map((p) => `prioritylevel/${p.metadata!.name}@${p.metadata!.generation}`),
  ]
    .filter((x) => !except.some((e) => x.split("@")[0]!.endsWith(`/${e}`)))
    .sort();
}

export interface ClientLimit {
  /** Name of the new FlowSchema and PriorityLevelConfiguration. */
  name: string;
  /** The ServiceAccount it matches. */
  serviceAccount: { namespace: string; name: string };
  /** Nominal concurrency shares of the new level (default 1: the smallest). */
  shares?: number;
  /** Matching precedence of the FlowSchema (lower wins; default 1000, before "service-accounts" at 9000). */
  precedence?: number;
}

/**
 * A priority level of its own for one client, and a FlowSchema that sends every request of its ServiceAccount
 * there: a small share of the server's concurrency, nothing lent or borrowed, and what does not fit is rejected
 * (429) at once instead of waiting. Both are cluster-scoped: the scenario's rollback removes them (removeClientLimit).
 */
export async function limitClient(ctx: ScenarioContext, l: ClientLimit): Promise<string> {
  const labels = { [LABELS.k8sManaged]: "true" };
  const fc = ctx.cluster.api.flowcontrol;
  const level: V1PriorityLevelConfiguration = {
    apiVersion: "flowcontrol.apiserver.k8s.io/v1",
    kind: "PriorityLevelConfiguration",
    metadata: { name: l.name, labels },
    spec: {
      type: "Limited",
      limited: { nominalConcurrencyShares: l.shares ?? 1, lendablePercent: 0, borrowingLimitPercent: 0, limitResponse: { type: "Reject" } },
    },
  };
  const schema: V1FlowSchema = {
    apiVersion: "flowcontrol.apiserver.k8s.io/v1",
    kind: "FlowSchema",
    metadata: { name: l.name, labels },
    spec: {
      matchingPrecedence: l.precedence ?? 1000,
      priorityLevelConfiguration: { name: l.name },
      distinguisherMethod: { type: "ByUser" },
      rules: [
        {
          subjects: [{ kind: "ServiceAccount", serviceAccount: l.serviceAccount }],
          resourceRules: [{ verbs: ["*"], apiGroups: ["*"], resources: ["*"], namespaces: ["*"], clusterScope: true }],
          nonResourceRules: [{ verbs: ["*"], nonResourceURLs: ["*"] }],
        },
      ],
    },
  };
  await fc.createPriorityLevelConfiguration({ body: level });
  await fc.createFlowSchema({ body: schema });
  return `prioritylevelconfiguration.flowcontrol.apiserver.k8s.io/${l.name} created (Limited, ${l.shares ?? 1} share, lend 0%, borrow 0%, limitResponse Reject)\nflowschema.flowcontrol.apiserver.k8s.io/${l.name} created (precedence ${l.precedence ?? 1000}, ServiceAccount ${l.serviceAccount.namespace}/${l.serviceAccount.name} → ${l.name})`;
}

/** Deletes the FlowSchema and priority level limitClient made (harmless when they are not there). */
export async function removeClientLimit(ctx: ScenarioContext, name: string): Promise<string> {
  const fc = ctx.cluster.api.flowcontrol;
  const out: string[] = [];
  for (const [kind, del] of [
    ["flowschema", () => fc.deleteFlowSchema({ name })],
    ["prioritylevelconfiguration", () => fc.deletePriorityLevelConfiguration({ name })],
  ] as const) {
    await del().then(
      () => out.push(`${kind}/${name} deleted`),
      (e: unknown) => out.push(apiStatus(e) === 404 ? `${kind}/${name} not there` : `${kind}/${name}: ${apiErrorLine(e)}`),
    );
  }
  return out.join("\n");
}

/** Symptom: the API server holds at least `min` requests of one priority level at once (executing or waiting). */
export function priorityLevelBusy(level: string, min: number): Probe {
  return {
    name: `${level} holds ≥ ${min} requests`,
    expectation: `apiserver_flowcontrol_current_executing_requests + current_inqueue_requests of priority level ${level} ≥ ${min}`,
    async check(ctx) {
      const s = await flowControlState(ctx);
      const held = (s.executing.get(level) ?? 0) + (s.waiting.get(level) ?? 0);
      return { ok: held >= min, observed: `${level}: ${held} held (${describeFlowControl(s)})` };
    },
  };
}

/** The client's own priority level rejects: its rejected_requests_total has grown past `min`. */
export function priorityLevelRejects(level: string, min = 1): Probe {
  return {
    name: `${level} rejects the flood`,
    expectation: `apiserver_flowcontrol_rejected_requests_total of priority level ${level} ≥ ${min}`,
    async check(ctx) {
      const s = await flowControlState(ctx);
      const r = s.rejected.get(level) ?? 0;
      return { ok: r >= min, observed: `${level}: ${r} rejected, ${s.executing.get(level) ?? 0} executing, ${s.waiting.get(level) ?? 0} waiting` };
    },
  };
}
