import type { Observation, Probe } from "../../model/probe.js";
import { namespaceWatch, type Termination } from "../../../clusters/namespace-watch.js";
import type { ScenarioContext } from "../../model/context.js";
import type { App } from "../targets.js";
import { proxyGet } from "./workloads.js";

/**
 * What a JVM says about its memory, beside what the kernel says: the JVM's own view (heap used and max,
 * metaspace, code cache, direct buffers, threads) and the process's resident memory and cgroup usage, as the
 * workload's /memory endpoint reports them (a metrics agent's scrape). Sampled twice a second through the API
 * server's pod proxy while a scenario watches, so the last sample before an OOM kill shows the gap.
 */
export interface JvmMemory {
  heapUsed: number;
  heapCommitted: number;
  heapMax: number;
  nonHeapUsed: number;
  metaspaceUsed: number;
  codeCacheUsed: number;
  directUsed: number;
  threads: number;
  vmRss: number;
  cgroupUsage: number;
  cgroupLimit: number;
  cache: string;
  uptimeMs: number;
  inputArguments: string;
}

export interface JvmSample {
  at: number;
  pod: string;
  memory: JvmMemory;
}

const MiB = 1 << 20;
export const mib = (bytes: number) => `${Math.round(bytes / MiB)} MiB`;
const pct = (a: number, b: number) => `${Math.round((100 * a) / b)}%`;

/** Samples the /memory endpoint of every running pod of an app; stops by itself once nobody asked for 30s. */
class JvmMonitor {
  readonly samples: JvmSample[] = [];
  private timer?: NodeJS.Timeout;
  private lastUse = Date.now();
  private busy = false;

  constructor(
    private readonly ctx: ScenarioContext,
    private readonly app: string,
    private readonly port: number,
  ) {}

  touch(): this {
    this.lastUse = Date.now();
    if (!this.timer) {
      this.timer = setInterval(() => void this.sample(), 500);
      this.timer.unref();
    }
    return this;
  }

  private async sample(): Promise<void> {
    if (Date.now() - this.lastUse > 30_000) {
      clearInterval(this.timer);
      this.timer = undefined;
      return;
    }
    if (this.busy) return;
    this.busy = true;
    try {
      const w = await namespaceWatch(this.ctx.cluster.api, this.ctx.namespace);
      const running = w.podsOf(this.app).filter((p) => p.status?.containerStatuses?.some((c) => c.state?.running) && !p.metadata?.deletionTimestamp);
      await Promise.all(
        running.map(async (p) => {
          const pod = p.metadata!.name!;
          const r = await proxyGet(this.ctx, "pods", `${pod}:${this.port}`, "/memory");
          if (r.status !== 200) return;
          try {
            this.samples.push({ at: Date.now(), pod, memory: JSON.parse(r.body) as JvmMemory });
          } catch {
            // a half-written answer from a process being killed: skip it
          }
        }),
      );
      if (this.samples.length > 2000) this.samples.splice(0, this.samples.length - 2000);
    } catch {
      // the next tick tries again
    } finally {
      this.busy = false;
    }
  }

  /** The last sample of the container instance that ended with `t` (same pod, between its start and its end). */
  lastBefore(t: Termination): JvmSample | undefined {
    const from = t.startedAt?.getTime() ?? 0;
    const to = (t.finishedAt?.getTime() ?? Date.now()) + 1000;
    return this.samples.filter((s) => s.pod === t.pod && s.at >= from && s.at <= to).at(-1);
  }

  latest(pod: string): JvmSample | undefined {
    return this.samples.filter((s) => s.pod === pod).at(-1);
  }
}

const monitors = new WeakMap<ScenarioContext, Map<string, JvmMonitor>>();

/** The monitor of app's JVMs in this run (started on first use; sampling continues while probes ask). */
export function jvmMonitor(ctx: ScenarioContext, { app }: App, port = 8080): JvmMonitor {
  let byApp = monitors.get(ctx);
  if (!byApp) monitors.set(ctx, (byApp = new Map()));
  let m = byApp.get(app);
  if (!m) byApp.set(app, (m = new JvmMonitor(ctx, app, port)));
  return m.touch();
}

/** One line of a sample: heap against -Xmx, resident memory and cgroup usage against the limit, off-heap parts. */
export function describeSample(s: JvmSample): string {
  const m = s.memory;
  // The kernel kills on the cgroup's usage; VmRSS also counts shared library pages the cgroup may not.
  const used = m.cgroupUsage > 0 ? m.cgroupUsage : m.vmRss;
  return (
    `heap used ${mib(m.heapUsed)} of -Xmx ${mib(m.heapMax)} (${pct(m.heapUsed, m.heapMax)}); ` +
    `RSS ${mib(m.vmRss)}, cgroup usage ${mib(m.cgroupUsage)}${m.cgroupLimit > 0 ? ` of limit ${mib(m.cgroupLimit)} (${pct(used, m.cgroupLimit)})` : ""}; ` +
    `off-heap: direct buffers ${mib(m.directUsed)}, metaspace ${mib(m.metaspaceUsed)}, code cache ${mib(m.codeCacheUsed)}, ${m.threads} threads`
  );
}

/** Every OOMKilled termination of app's containers, oldest first, each with the JVM's last sample before it (if one was taken). */
async function oomKills(ctx: ScenarioContext, of: App): Promise<{ t: Termination; sample?: JvmSample }[]> {
  const monitor = jvmMonitor(ctx, of);
  const { app } = of;
  const w = await namespaceWatch(ctx.cluster.api, ctx.namespace);
  return w
    .terminationsOf(app)
    .filter((t) => t.reason === "OOMKilled")
    .map((t) => {
      const sample = monitor.lastBefore(t);
      return sample ? { t, sample } : { t };
    });
}

/** The last OOMKilled termination of app that has a sample (else the last one), with the JVM's last sample before it. */
export async function lastOomKill(ctx: ScenarioContext, of: App): Promise<{ t: Termination; sample?: JvmSample } | undefined> {
  const kills = await oomKills(ctx, of);
  return kills.filter((k) => k.sample).at(-1) ?? kills.at(-1);
}

/**
 * The container was OOMKilled while its heap had room: in the JVM's last sample before the kill, heap used
 * was at most `heapAtMost` of -Xmx, and resident memory (or the cgroup's usage) at least `rssAtLeast` of the
 * limit. The incident's gap between heap monitoring and the kernel's view.
 */
export function oomKilledWithHeapToSpare(of: App, o: { heapAtMost?: number; rssAtLeast?: number } = {}): Probe {
  const { app } = of;
  const heapAtMost = o.heapAtMost ?? 0.8;
  const rssAtLeast = o.rssAtLeast ?? 0.8;
  return {
    name: `${app} OOMKilled with heap to spare`,
    expectation: `an OOMKilled container of app=${app} whose last sample showed heap ≤ ${heapAtMost * 100}% of -Xmx and RSS ≥ ${rssAtLeast * 100}% of the limit`,
    async check(ctx): Promise<Observation> {
      const kills = await oomKills(ctx, of);
      if (!kills.length) {
        const monitor = jvmMonitor(ctx, of);
        const w = await namespaceWatch(ctx.cluster.api, ctx.namespace);
        const now = w
          .podsOf(app)
          .map((p) => monitor.latest(p.metadata?.name ?? ""))
          .find(Boolean);
        return { ok: false, observed: `no OOMKilled container yet${now ? `; now: ${describeSample(now)}` : ""}` };
      }
      const judged = kills.map(({ t, sample: s }) => {
        if (!s) return { t, ok: false, line: `${t.pod} killed at ${t.finishedAt?.toISOString() ?? "?"} (no sample of that instance)` };
        const m = s.memory;
        const used = Math.max(m.vmRss, m.cgroupUsage);
        const ok = m.heapUsed <= heapAtMost * m.heapMax && m.cgroupLimit > 0 && used >= rssAtLeast * m.cgroupLimit;
        // The kubelet records the end in whole seconds: "before" is the sample's place, the delta only roughly.
        const before = t.finishedAt
          ? `last sample before the kill (${((t.finishedAt.getTime() - s.at) / 1000).toFixed(1)}s from the recorded end)`
          : "last sample";
        return { t, ok, line: `${t.pod}: ${t.reason}, exit code ${t.exitCode}; ${before}: ${describeSample(s)}` };
      });
      const hit = judged.find((j) => j.ok);
      return { ok: !!hit, observed: (hit ?? judged.at(-1)!).line };
    },
  };
}

/**
 * Nothing in the killed container's own log explains its end: `kubectl logs --previous` of an OOMKilled
 * container has lines, and none matching `explains` (an OutOfMemoryError, an exception).
 */
export function killedWithoutAWord({ app }: App, explains = /OutOfMemoryError|Exception|Killed|out of memory/i): Probe {
  return {
    name: `${app}'s log does not explain the kill`,
    expectation: `the log of an OOMKilled container of app=${app} (--previous) has no line matching ${explains}`,
    async check(ctx): Promise<Observation> {
      const w = await namespaceWatch(ctx.cluster.api, ctx.namespace);
      const pods = w.podsOf(app).filter((p) => p.status?.containerStatuses?.some((c) => c.lastState?.terminated?.reason === "OOMKilled"));
      if (!pods.length) return { ok: false, observed: `no container of app=${app} was OOMKilled` };
      const name = pods[0]!.metadata!.name!;
      let log: string;
      try {
        log = await ctx.cluster.api.core.readNamespacedPodLog({ name, namespace: ctx.namespace, previous: true, tailLines: 400 });
      } catch (e) {
        return { ok: false, observed: `kubectl logs ${name} --previous: ${(e as Error).message.slice(0, 200)}` };
      }
      const lines = log.trim().split("\n").filter(Boolean);
      const explaining = lines.find((l) => explains.test(l));
      return {
        ok: lines.length > 0 && !explaining,
        observed: explaining
          ? `${name} --previous says: ${explaining.slice(0, 300)}`
          : `${name} --previous: ${lines.length} lines, none matching; it ends: ${lines.slice(-2).join(" | ").slice(0, 400)}`,
      };
    },
  };
}

/** The app's running JVMs keep resident memory (and cgroup usage) under `fraction` of their limit (latest samples). */
export function residentUnderLimit(of: App, fraction = 0.9): Probe {
  const { app } = of;
  return {
    name: `${app} RSS under ${fraction * 100}% of its limit`,
    expectation: `every running container of app=${app}: max(VmRSS, cgroup usage) < ${fraction * 100}% of the memory limit`,
    async check(ctx): Promise<Observation> {
      const monitor = jvmMonitor(ctx, of);
      const w = await namespaceWatch(ctx.cluster.api, ctx.namespace);
      const pods = w.podsOf(app).filter((p) => !p.metadata?.deletionTimestamp && p.status?.containerStatuses?.some((c) => c.state?.running));
      const latest = pods.map((p) => monitor.latest(p.metadata!.name!)).filter((s): s is JvmSample => !!s && Date.now() - s.at < 10_000);
      if (!pods.length || latest.length < pods.length) return { ok: false, observed: `${pods.length} running pod(s), ${latest.length} with a recent sample` };
      const over = latest.filter((s) => s.memory.cgroupLimit <= 0 || Math.max(s.memory.vmRss, s.memory.cgroupUsage) >= fraction * s.memory.cgroupLimit);
      return { ok: !over.length, observed: latest.map((s) => `${s.pod}: ${describeSample(s)}; cache ${s.memory.cache}`).join("; ") };
    },
  };
}
