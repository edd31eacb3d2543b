import { nodeShell, type NodeHandle } from "../../../clusters/contract.js";
import { parseDuration, type Duration } from "../../../clusters/errors.js";
import type { Observation, Probe } from "../../model/probe.js";
import type { ScenarioContext } from "../../model/context.js";

/** etcd's metrics endpoint as kubeadm configures it (plain HTTP on localhost of each control-plane node). */
const METRICS = "http://127.0.0.1:2381/metrics";

export type Histogram = { buckets: [number, number][]; count: number };

export function parseHistogram(text: string, name: string): Histogram {
  const buckets: [number, number][] = [];
  let count = 0;
  for (const line of text.split("\n")) {
    const b = new RegExp(`^${name}_bucket\\{le="([^"]+)"\\} ([\\d.e+]+)`).exec(line);
    if (b) buckets.push([b[1] === "+Inf" ? Infinity : Number(b[1]), Number(b[2])]);
    const c = new RegExp(`^${name}_count ([\\d.e+]+)`).exec(line);
    if (c) count = Number(c[1]);
  }
  return { buckets: buckets.sort((a, b) => a[0] - b[0]), count };
}

/** p99 of the observations between two cumulative histograms, as the upper bound of the bucket holding it. */
export function windowQuantile(before: Histogram, after: Histogram, q = 0.99): { seconds: number; samples: number } | undefined {
  const samples = after.count - before.count;
  if (samples <= 0) return undefined;
  for (const [le, cum] of after.buckets) {
    const prev = before.buckets.find(([l]) => l === le)?.[1] ?? 0;
    if (cum - prev >= q * samples) return { seconds: le, samples };
  }
  return { seconds: Infinity, samples };
}

export async function scrape(node: NodeHandle): Promise<string> {
  return (await node.exec(["curl", "-s", "--max-time", "10", METRICS], { timeout: "20s" })).stdout;
}

export const WAL_FSYNC = "etcd_disk_wal_fsync_duration_seconds";

/** WAL fsync p99 over a window (e.g. "15s") on one node, e.g. "p99 512ms over 9 fsyncs in 15s". */
export async function walFsyncP99(ctx: ScenarioContext, node: NodeHandle, window: Duration): Promise<{ ms: number; samples: number } | undefined> {
  const a = parseHistogram(await scrape(node), WAL_FSYNC);
  await ctx.clock.sleep(parseDuration(window));
  const b = parseHistogram(await scrape(node), WAL_FSYNC);
  const q = windowQuantile(a, b);
  return q && { ms: q.seconds * 1000, samples: q.samples };
}

const fmt = (q: { ms: number; samples: number } | undefined, windowMs: number) =>
  q
    ? `WAL fsync p99 ${Number.isFinite(q.ms) ? `≤ ${q.ms.toFixed(q.ms < 10 ? 1 : 0)}ms` : "> 8s"} over ${q.samples} fsyncs in ${windowMs / 1000}s`
    : `no fsync in ${windowMs / 1000}s`;

/** Symptom: WAL fsync p99 above `ms` on the first control plane, over a window. */
export function walFsyncP99Above(ms: number, window: Duration = "15s"): Probe {
  const windowMs = parseDuration(window);
  return {
    name: `etcd WAL fsync p99 > ${ms}ms`,
    expectation: `etcd_disk_wal_fsync_duration_seconds p99 above ${ms}ms over ${windowMs / 1000}s`,
    async check(ctx): Promise<Observation> {
      const q = await walFsyncP99(ctx, nodeShell(ctx.cluster).controlPlane(), window);
      return { ok: !!q && q.ms > ms, observed: fmt(q, windowMs) };
    },
  };
}

/** Health: WAL fsync p99 at or below `ms` on every control plane, over a window. */
export function walFsyncP99Below(ms: number, window: Duration = "15s"): Probe {
  const windowMs = parseDuration(window);
  return {
    name: `etcd WAL fsync p99 ≤ ${ms}ms`,
    expectation: `etcd_disk_wal_fsync_duration_seconds p99 at or below ${ms}ms on every member over ${windowMs / 1000}s`,
    async check(ctx): Promise<Observation> {
      const cps = nodeShell(ctx.cluster).nodes.filter((n) => n.role === "control-plane");
      const results = await Promise.all(cps.map(async (n) => [n.name, await walFsyncP99(ctx, n, window)] as const));
      const bad = results.filter(([, q]) => q && q.ms > ms);
      return { ok: bad.length === 0, observed: results.map(([n, q]) => `${n.replace(/^.*-(control-plane\d*)$/, "$1")}: ${fmt(q, windowMs)}`).join("; ") };
    },
  };
}

/** etcd_server_leader_changes_seen_total on every control plane, for the report. */
export async function leaderChanges(ctx: ScenarioContext): Promise<string> {
  const cps = nodeShell(ctx.cluster).nodes.filter((n) => n.role === "control-plane");
  const out = await Promise.all(
    cps.map(async (n) => {
      const m = /^etcd_server_leader_changes_seen_total ([\d.e+]+)/m.exec(await scrape(n).catch(() => ""));
      return `${n.name}: ${m ? Number(m[1]) : "?"}`;
    }),
  );
  return `leader changes seen: ${out.join(", ")}`;
}
