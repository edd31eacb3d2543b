import { makeInformer, type CoreV1Event, type Informer, type ObjectCache, type V1Pod } from "@kubernetes/client-node";
import type { KubeApi } from "./kube.js";

/** One termination of a container, as the kubelet reported it in the pod's status. */
export interface Termination {
  pod: string;
  container: string;
  exitCode: number;
  reason: string;
  startedAt?: Date;
  finishedAt?: Date;
  /** The container's restart count when this termination was seen. */
  restartCount: number;
}

/**
 * Watches one namespace's pods and events (list + watch, re-established when the API drops it) and keeps
 * what the probes need between polls: every container termination seen (exit code, reason, start and end),
 * so the CrashLoopBackOff back-off shows in the evidence, and the events in order.
 */
export class NamespaceWatch {
  private readonly pods: Informer<V1Pod> & ObjectCache<V1Pod>;
  private readonly events: Informer<CoreV1Event> & ObjectCache<CoreV1Event>;
  private readonly terminations = new Map<string, Termination>();
  private stopped = false;
  private started?: Promise<void>;

  constructor(
    api: KubeApi,
    readonly namespace: string,
  ) {
    this.pods = makeInformer<V1Pod>(api.config, `/api/v1/namespaces/${namespace}/pods`, () => api.core.listNamespacedPod({ namespace }));
    this.events = makeInformer<CoreV1Event>(api.config, `/api/v1/namespaces/${namespace}/events`, () => api.core.listNamespacedEvent({ namespace }));
    const record = (p: V1Pod) => this.record(p);
    this.pods.on("add", record);
    this.pods.on("update", record);
    for (const inf of [this.pods, this.events] as unknown as Informer<V1Pod>[]) {
      // A dropped watch (API restart, timeout) is started again after a pause, until stop().
      inf.on("error", () => {
        if (!this.stopped)
          setTimeout(() => {
            if (!this.stopped) void inf.start().catch(() => {});
          }, 2000);
      });
    }
  }

  /** Starts both watches (idempotent); resolves once the first lists are in. */
  start(): Promise<void> {
    this.started ??= Promise.all([this.pods.start(), this.events.start()]).then(() => undefined);
    return this.started;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.allSettled([this.pods.stop(), this.events.stop()]);
  }

  /** Pods whose label `app` is `app` (all pods with no app given). */
  podsOf(app?: string): V1Pod[] {
    return this.pods.list().filter((p) => !app || p.metadata?.labels?.app === app);
  }

  /** Terminations of the containers of app's pods, oldest first. */
  terminationsOf(app: string): Termination[] {
    const names = new Set(this.podsOf(app).map((p) => p.metadata?.name));
    for (const p of this.podsOf(app)) this.record(p);
    return [...this.terminations.values()].filter((t) => names.has(t.pod)).sort((a, b) => (a.finishedAt?.getTime() ?? 0) - (b.finishedAt?.getTime() ?? 0));
  }

  /**
   * Events about app's pods (and its Deployment/ReplicaSets, by name prefix), oldest first; with `since` (ms, a
   * probe's log window), only those last seen from a second before it on.
   */
  eventsOf(app: string, since?: number): CoreV1Event[] {
    return this.events
      .list()
      .filter((e) => e.involvedObject?.name?.startsWith(`${app}-`) || e.involvedObject?.name === app)
      .filter((e) => !since || time(e) >= since - 1000)
      .sort((a, b) => time(a) - time(b));
  }

  private record(p: V1Pod): void {
    const pod = p.metadata?.name ?? "";
    for (const cs of p.status?.containerStatuses ?? []) {
      for (const t of [cs.lastState?.terminated, cs.state?.terminated]) {
        if (!t) continue;
        const key = `${pod}/${cs.name}/${t.containerID ?? t.finishedAt?.toISOString() ?? cs.restartCount}`;
        if (this.terminations.has(key)) continue;
        this.terminations.set(key, {
          pod,
          container: cs.name,
          exitCode: t.exitCode,
          reason: t.reason ?? "",
          restartCount: cs.restartCount,
          ...(t.startedAt ? { startedAt: new Date(t.startedAt) } : {}),
          ...(t.finishedAt ? { finishedAt: new Date(t.finishedAt) } : {}),
        });
      }
    }
  }
}

const time = (e: CoreV1Event) => new Date(e.lastTimestamp ?? e.eventTime ?? e.firstTimestamp ?? 0).getTime();

/**
 * Seconds between one termination and the next start of the same container: the kubelet's back-off
 * (10s, 20s, 40s, … up to 5m), read from the pod status.
 */
export function backOffDelays(ts: Termination[]): number[] {
  const byContainer = new Map<string, Termination[]>();
  for (const t of ts) byContainer.set(`${t.pod}/${t.container}`, [...(byContainer.get(`${t.pod}/${t.container}`) ?? []), t]);
  const longest = [...byContainer.values()].sort((a, b) => b.length - a.length)[0] ?? [];
  const delays: number[] = [];
  for (let i = 1; i < longest.length; i++) {
    const prev = longest[i - 1]!.finishedAt,
      next = longest[i]!.startedAt;
    if (prev && next) delays.push(Math.round((next.getTime() - prev.getTime()) / 1000));
  }
  return delays;
}

const watches = new WeakMap<KubeApi, Map<string, NamespaceWatch>>();

/** The watch of `namespace` through `api`, started on first use and shared by every probe of the run. */
export async function namespaceWatch(api: KubeApi, namespace: string): Promise<NamespaceWatch> {
  let byNs = watches.get(api);
  if (!byNs) watches.set(api, (byNs = new Map()));
  let w = byNs.get(namespace);
  if (!w) byNs.set(namespace, (w = new NamespaceWatch(api, namespace)));
  await w.start();
  return w;
}

/** Stops the watches opened through `api` (the runner calls this in teardown). */
export async function stopWatches(api: KubeApi): Promise<void> {
  const byNs = watches.get(api);
  if (!byNs) return;
  watches.delete(api);
  await Promise.all([...byNs.values()].map((w) => w.stop()));
}
