import type {
  KubernetesObject,
  V1Container,
  V1ContainerState,
  V1Deployment,
  V1DeploymentStrategy,
  V1PodSpec,
  V1Service,
  V1TopologySpreadConstraint,
} from "@kubernetes/client-node";
import { AftershockError, parseDuration, type Duration } from "../../../clusters/errors.js";
import { apiErrorLine, apiStatus } from "../../../clusters/kube.js";
import { CONTROL_PLANE_ROLE, LABELS } from "../../../clusters/labels.js";
import { pollUntil } from "../../../clusters/wait.js";
import { backOffDelays, namespaceWatch } from "../../../clusters/namespace-watch.js";
import { podReady } from "../../model/health.js";
import type { Observation, Probe } from "../../model/probe.js";
import type { Sentinel } from "../../model/scenario.js";
import type { ScenarioContext } from "../../model/context.js";
import { app, type App } from "../targets.js";
import { createHash, randomBytes } from "node:crypto";

/**
 * Workload helpers for scenario authors: typed manifests applied into the run's namespace, rollouts waited
 * for, and probes on what the kubelet and the controllers report (through the API and a namespace watch).
 */

const FIELD_MANAGER = "aftershock";

// ---- images ------------------------------------------------------------------------------------------

/** The ref the cluster pulls a catalogue image by: the same on kind, the registry's copy on an existing cluster. */
export function imageRef(ctx: ScenarioContext, ref: string): string {
  return ctx.cluster.images?.refFor?.(ref) ?? ref;
}

/** Every container image in a pod template (or pod) rewritten with imageRef. */
function withImageRefs(ctx: ScenarioContext, o: KubernetesObject): KubernetesObject {
  const spec = (o as { spec?: { template?: { spec?: PodSpecLike }; containers?: unknown[] } }).spec;
  const pod: PodSpecLike | undefined = spec?.template?.spec ?? (spec?.containers ? (spec as PodSpecLike) : undefined);
  if (!pod) return o;
  const fix = (cs?: { image?: string }[]) => cs?.map((c) => (c.image ? { ...c, image: imageRef(ctx, c.image) } : c));
  const fixed: PodSpecLike = {
    ...pod,
    ...(pod.containers ? { containers: fix(pod.containers) } : {}),
    ...(pod.initContainers ? { initContainers: fix(pod.initContainers) } : {}),
  };
  return spec?.template?.spec
    ? ({ ...o, spec: { ...spec, template: { ...spec.template, spec: fixed } } } as KubernetesObject)
    : ({ ...o, spec: fixed } as KubernetesObject);
}
type PodSpecLike = { containers?: { image?: string }[]; initContainers?: { image?: string }[] };

// ---- manifests ----------------------------------------------------------------------------------------

/**
 * Server-side apply of typed objects into the run's namespace. Every object is put in `ctx.namespace`
 * (one naming another namespace is refused) and labelled as the run's.
 */
export function apply(ctx: ScenarioContext, ...objects: (KubernetesObject | Manifested)[]): Promise<string> {
  return applyInNamespace(ctx, ctx.namespace, ...objects.map((o) => ("manifest" in o ? o.manifest : o)));
}

/** A handle a builder returns with the manifest it made (deployment(), service(), ingress()): apply() writes the manifest. */
export interface Manifested {
  readonly manifest: KubernetesObject;
}

/**
 * apply() into one named namespace: for the harness's own, such as the sentinels of cluster-scoped scenarios
 * (harness/kit/sentinels.ts); a scenario's writes go through apply(). One naming another namespace is refused.
 */
export async function applyInNamespace(ctx: ScenarioContext, namespace: string, ...objects: KubernetesObject[]): Promise<string> {
  const out: string[] = [];
  for (const o of objects) {
    if (o.metadata?.namespace && o.metadata.namespace !== namespace) {
      throw new AftershockError(
        "E_UNSAFE_TARGET",
        namespace === ctx.namespace
          ? `${o.kind}/${o.metadata.name} names namespace ${o.metadata.namespace}; a scenario writes only to its own (${ctx.namespace})`
          : `${o.kind}/${o.metadata.name} names namespace ${o.metadata.namespace}; this write goes only to ${namespace}`,
      );
    }
    const body = {
      ...withImageRefs(ctx, o),
      metadata: { ...o.metadata, namespace, labels: { ...o.metadata?.labels, [LABELS.k8sManaged]: "true" } },
    } as KubernetesObject;
    try {
      await ctx.cluster.api.objects.patch(body, undefined, undefined, FIELD_MANAGER, true, "application/apply-patch+yaml");
    } catch (e) {
      throw new AftershockError("E_CLUSTER", `apply ${o.kind}/${o.metadata?.name} in ${namespace}: ${apiErrorLine(e)}`);
    }
    out.push(`${o.kind?.toLowerCase()}/${o.metadata?.name} applied`);
  }
  return out.join("\n");
}

/**
 * A Deployment the scenario writes (deployment()), by handle: an App (the Deployment NAME, its pods labelled
 * app=NAME), which its probes and steps take, and the manifest apply() writes.
 */
export interface Deployment extends App, Manifested {
  readonly manifest: V1Deployment;
}

/**
 * A Deployment of one container named "app", labelled app=<name>, as scenario authors write most workloads; its
 * handle. Given a handle instead of a name, another release of that Deployment (the name is not written again).
 */
export function deployment(
  named: string | App,
  container: Omit<V1Container, "name">,
  opts: { replicas?: number; pod?: Omit<V1PodSpec, "containers">; strategy?: V1DeploymentStrategy } = {},
): Deployment {
  const name = typeof named === "string" ? named : named.app;
  return { app: name, manifest: deploymentManifest(name, container, opts) };
}

function deploymentManifest(
  name: string,
  container: Omit<V1Container, "name">,
  opts: { replicas?: number; pod?: Omit<V1PodSpec, "containers">; strategy?: V1DeploymentStrategy },
): V1Deployment {
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name, labels: { app: name } },
    spec: {
      replicas: opts.replicas ?? 1,
      revisionHistoryLimit: 5,
      ...(opts.strategy ? { strategy: opts.strategy } : {}),
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { terminationGracePeriodSeconds: 2, ...opts.pod, containers: [{ name: "app", ...container }] },
      },
    },
  };
}

/** A Service in the run's namespace, by name: what the Service probes take, and an Ingress's backend. */
export interface ServiceRef {
  readonly service: string;
}

/** A Service the scenario writes (service()), by handle: the Service probes take it, apply() writes its manifest. */
export interface Service extends ServiceRef, Manifested {
  readonly manifest: V1Service;
}

/**
 * A ClusterIP Service selecting app=<name> (or `selector`), port `port` to the container's `targetPort`; its handle.
 * Named after `of`: an app's handle (the Service named like its app), a Service's handle (another version of that
 * Service), or a new name.
 */
export function service(of: App | ServiceRef | string, port: number, targetPort: number | string, selector?: Record<string, string>): Service {
  const name = typeof of === "string" ? of : "app" in of ? of.app : of.service;
  return {
    service: name,
    manifest: {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name, labels: { app: name } },
      spec: { selector: selector ?? { app: name }, ports: [{ name: "http", port, targetPort: targetPort as never }] },
    },
  };
}

async function readDeployment(ctx: ScenarioContext, name: string, namespace = ctx.namespace): Promise<V1Deployment> {
  return ctx.cluster.api.apps.readNamespacedDeployment({ name, namespace });
}

/** Whether the Deployment's latest revision is fully rolled out, and a line saying where it stands. */
export function rolloutState(d: V1Deployment): Observation {
  const want = d.spec?.replicas ?? 1;
  const s = d.status ?? {};
  const current = (s.observedGeneration ?? 0) >= (d.metadata?.generation ?? 0);
  const ok = current && (s.updatedReplicas ?? 0) === want && (s.availableReplicas ?? 0) === want && (s.replicas ?? 0) === want && !s.unavailableReplicas;
  const progressing = s.conditions?.find((c) => c.type === "Progressing");
  return {
    ok,
    observed:
      `revision ${d.metadata?.annotations?.["deployment.kubernetes.io/revision"] ?? "?"}: ${s.updatedReplicas ?? 0}/${want} updated, ` +
      `${s.availableReplicas ?? 0} available, ${s.replicas ?? 0} total${progressing?.reason ? ` (${progressing.reason})` : ""}`,
  };
}

/** Waits until the Deployment's latest revision is rolled out (updated, available, old pods gone); in the run's namespace unless told. */
export async function waitRolledOut(ctx: ScenarioContext, { app: name }: App, within: Duration = "2m", namespace = ctx.namespace): Promise<string> {
  const seen = await pollUntil(
    `deployment/${name} rolled out`,
    within,
    "2s",
    async () => {
      try {
        const o = rolloutState(await readDeployment(ctx, name, namespace));
        return { ok: o.ok, seen: o.observed };
      } catch (e) {
        return { ok: false, seen: apiErrorLine(e) };
      }
    },
    { clock: ctx.clock },
  );
  return `deployment/${name} rolled out: ${seen}`;
}

/** kubectl in the run's namespace, as the on-call types it: what it printed; a failing command throws (the step fails). */
export async function kubectlIn(ctx: ScenarioContext, ...args: string[]): Promise<string> {
  return (await ctx.cluster.kubectl(["-n", ctx.namespace, ...args], { timeout: "1m" })).stdout.trim();
}

/** kubectl in the run's namespace for looking around: what it printed on stdout and stderr; a failure is shown, not thrown. */
export async function kubectlLook(ctx: ScenarioContext, ...args: string[]): Promise<string> {
  const r = await ctx.cluster.kubectl(["-n", ctx.namespace, ...args], { allowFailure: true, timeout: "1m" });
  return `${r.stdout}${r.stderr}`.trim();
}

/** `kubectl patch <target> --type=<type> -p <json>` in the run's namespace, as the on-call types it; kubectl's answer. */
export function kubectlPatch(ctx: ScenarioContext, target: string, patch: unknown, type: "strategic" | "merge" | "json" = "strategic"): Promise<string> {
  return kubectlIn(ctx, "patch", ...target.split("/"), `--type=${type}`, "-p", JSON.stringify(patch));
}

/** A strategic-merge patch of the container "app" (as deployment() names it) in a Deployment's pod template. */
export const appContainerPatch = (fields: Partial<V1Container>) => ({ spec: { template: { spec: { containers: [{ name: "app", ...fields }] } } } });

/** `kubectl rollout undo`: the Deployment back to its previous revision, as an on-call engineer rolls back. */
export function rollBack(ctx: ScenarioContext, { app: name }: App): Promise<string> {
  return kubectlIn(ctx, "rollout", "undo", `deployment/${name}`);
}

// ---- probes -------------------------------------------------------------------------------------------

function probe(name: string, expectation: string, check: (ctx: ScenarioContext) => Promise<Observation>): Probe {
  return { name, expectation, check };
}

/** The Deployment's latest revision is rolled out and its pods are Ready. */
export function rolledOut({ app: name }: App): Probe {
  return probe(`${name} rolled out`, `deployment/${name}: latest revision updated and available`, async (ctx) => {
    try {
      return rolloutState(await readDeployment(ctx, name));
    } catch (e) {
      return { ok: false, observed: apiErrorLine(e) };
    }
  });
}

/**
 * The Deployment's latest revision is stuck: the controller has seen it (observedGeneration is current) and
 * some replica is unavailable. Not merely "not rolled out yet", which holds for a moment after any change.
 */
export function rolloutStuck({ app: name }: App): Probe {
  return probe(`${name} rollout stuck`, `deployment/${name}: latest revision observed by the controller, some replica unavailable`, async (ctx) => {
    const d = await readDeployment(ctx, name);
    const s = d.status ?? {};
    const observed = (s.observedGeneration ?? 0) >= (d.metadata?.generation ?? 0);
    const unavailable = (s.unavailableReplicas ?? 0) > 0 || (s.availableReplicas ?? 0) < (d.spec?.replicas ?? 1);
    return { ok: observed && unavailable, observed: `${rolloutState(d).observed}${observed ? "" : " (not yet observed by the controller)"}` };
  });
}

/** Every Deployment given is rolled out (one probe for a group of workloads). */
export function allRolledOut(apps: readonly App[]): Probe {
  const names = apps.map((a) => a.app);
  return probe(
    names.length === 1 ? `${names[0]} rolled out` : `${names.length} deployments rolled out`,
    `${names.join(", ")}: latest revision of each updated and available`,
    async (ctx) => {
      const seen = await Promise.all(
        names.map(async (n) => {
          try {
            return { n, ...rolloutState(await readDeployment(ctx, n)) };
          } catch (e) {
            return { n, ok: false, observed: apiErrorLine(e) };
          }
        }),
      );
      const bad = seen.filter((s) => !s.ok);
      return { ok: !bad.length, observed: bad.length ? bad.map((s) => `${s.n}: ${s.observed}`).join("; ") : `${names.length}/${names.length} rolled out` };
    },
  );
}

const matches = (re: RegExp | string, s: string) => (typeof re === "string" ? s === re : re.test(s));
const show = (re: RegExp | string) => (typeof re === "string" ? re : String(re));

/** A container of app's pods terminated with this exit code (and reason, if given), as the kubelet reported. */
export function containerExited({ app }: App, exitCode: number, reason?: RegExp | string): Probe {
  return probe(
    `${app} exited ${exitCode}`,
    `a container of app=${app} terminated with exit code ${exitCode}${reason ? ` and reason ${show(reason)}` : ""}`,
    async (ctx) => {
      const w = await namespaceWatch(ctx.cluster.api, ctx.namespace);
      const ts = w.terminationsOf(app);
      const hit = ts.find((t) => t.exitCode === exitCode && (!reason || matches(reason, t.reason)));
      const last = ts.at(-1);
      return {
        ok: !!hit,
        observed: hit
          ? `${hit.pod}: exit code ${hit.exitCode} (${hit.reason}), restart ${hit.restartCount}`
          : last
            ? `last termination: exit code ${last.exitCode} (${last.reason})`
            : `no container of app=${app} has terminated`,
      };
    },
  );
}

/** A container of app's pods waits with this reason (CrashLoopBackOff, CreateContainerConfigError, ImagePullBackOff, …). */
export function containerWaiting({ app }: App, reason: RegExp | string): Probe {
  return probe(`${app} waiting ${show(reason)}`, `a container of app=${app} in state waiting with reason ${show(reason)}`, async (ctx) => {
    const w = await namespaceWatch(ctx.cluster.api, ctx.namespace);
    const states = w.podsOf(app).flatMap((p) => (p.status?.containerStatuses ?? []).map((cs) => ({ pod: p.metadata?.name, cs })));
    const hit = states.find(({ cs }) => cs.state?.waiting?.reason && matches(reason, cs.state.waiting.reason));
    return {
      ok: !!hit,
      observed: hit
        ? `${hit.pod}: ${hit.cs.state!.waiting!.reason}: ${(hit.cs.state!.waiting!.message ?? "").slice(0, 240)}`
        : states.map(({ pod, cs }) => `${pod}: ${stateOf(cs.state)}`).join("; ") || `no pod of app=${app}`,
    };
  });
}

function stateOf(s: V1ContainerState | undefined): string {
  if (s?.running) return "running";
  if (s?.waiting) return `waiting ${s.waiting.reason ?? ""}`;
  if (s?.terminated) return `terminated ${s.terminated.reason ?? ""} exit ${s.terminated.exitCode}`;
  return "unknown";
}

/** A container of app's pods restarted at least `n` times. */
export function restartedAtLeast({ app }: App, n: number): Probe {
  return probe(`${app} restarted ≥ ${n}`, `a container of app=${app} with restartCount ≥ ${n}`, async (ctx) => {
    const w = await namespaceWatch(ctx.cluster.api, ctx.namespace);
    const counts = w.podsOf(app).flatMap((p) => (p.status?.containerStatuses ?? []).map((cs) => cs.restartCount));
    const max = Math.max(0, ...counts);
    return { ok: max >= n, observed: `restartCount ${max}` };
  });
}

/**
 * The kubelet's back-off between restarts grows (CrashLoopBackOff): at least `restarts` waits seen, each
 * longer than the one before. What it saw (e.g. "back-off 10s → 20s → 40s") is the evidence.
 */
export function backOffGrows({ app }: App, restarts = 2): Probe {
  return probe(`${app} back-off grows`, `${restarts} successive waits between restarts of app=${app}, each longer than the last`, async (ctx) => {
    const w = await namespaceWatch(ctx.cluster.api, ctx.namespace);
    const delays = backOffDelays(w.terminationsOf(app));
    const growing = delays.length >= restarts && delays.every((d, i) => i === 0 || d > delays[i - 1]!);
    return { ok: growing, observed: delays.length ? `back-off ${delays.map((d) => `${d}s`).join(" → ")}` : "fewer than two terminations seen" };
  });
}

/** An event with this reason (and message matching `message`) about app's pods or its Deployment. */
export function eventSeen({ app }: App, reason: string, message?: RegExp): Probe {
  return probe(
    `${app} event ${reason}${message ? ` ${message.source}` : ""}`,
    `an event about app=${app} with reason ${reason}${message ? ` and message matching ${message}` : ""}, last seen within the run's log window`,
    async (ctx) => {
      const w = await namespaceWatch(ctx.cluster.api, ctx.namespace);
      // Like log probes: only what happened since the window began (the steady-state check before the fault,
      // the fault afterwards), so a readiness blip while the healthy release started does not count.
      const evs = w.eventsOf(app, ctx.logsSince);
      const hit = evs.find((e) => e.reason === reason && (!message || message.test(e.message ?? "")));
      return {
        ok: !!hit,
        observed: hit
          ? `${hit.reason} (×${hit.count ?? 1}): ${(hit.message ?? "").slice(0, 300)}`
          : `${evs.length} events in the window, none ${reason}${evs.length ? `; last: ${evs.at(-1)!.reason}` : ""}`,
      };
    },
  );
}

/** The Service has no ready endpoint (its selector matches no Ready pod). */
export function endpointsEmpty({ service }: ServiceRef): Probe {
  return probe(`Service ${service} has no endpoints`, `Endpoints of ${service}: no ready address`, async (ctx) => {
    try {
      const ep = await ctx.cluster.api.core.readNamespacedEndpoints({ name: service, namespace: ctx.namespace });
      const ready = (ep.subsets ?? []).flatMap((s) => s.addresses ?? []);
      return { ok: ready.length === 0, observed: ready.length ? `${ready.length} ready: ${ready.map((a) => a.ip).join(", ")}` : "no ready addresses" };
    } catch (e) {
      return { ok: false, observed: apiErrorLine(e) };
    }
  });
}

export { WORKLOAD_IMAGES } from "../../../clusters/images/workloads.js";

/** The Service has at least one ready endpoint (an API error is not an answer: it does not hold). */
export function endpointsReady({ service }: ServiceRef): Probe {
  return probe(`Service ${service} has endpoints`, `Endpoints of ${service}: at least one ready address`, async (ctx) => {
    try {
      const ep = await ctx.cluster.api.core.readNamespacedEndpoints({ name: service, namespace: ctx.namespace });
      const ready = (ep.subsets ?? []).flatMap((s) => s.addresses ?? []);
      return { ok: ready.length > 0, observed: ready.length ? `${ready.length} ready: ${ready.map((a) => a.ip).join(", ")}` : "no ready addresses" };
    } catch (e) {
      return { ok: false, observed: apiErrorLine(e) };
    }
  });
}

/** Every pod of app is Running but none is Ready (a readiness probe that never passes). */
export function podsRunningNotReady({ app }: App): Probe {
  return probe(`${app} pods Running but not Ready`, `pods of app=${app}: some Running, none of them Ready`, async (ctx) => {
    const pods = (await ctx.cluster.api.core.listNamespacedPod({ namespace: ctx.namespace, labelSelector: `app=${app}` })).items;
    const running = pods.filter((p) => p.status?.phase === "Running" && !p.metadata?.deletionTimestamp);
    const ready = running.filter(podReady);
    return {
      ok: running.length > 0 && ready.length === 0,
      observed: `${running.length} Running, ${ready.length} Ready: ${running.map((p) => p.metadata?.name).join(", ") || "none"}`,
    };
  });
}

/** A line matching `pattern` in the log of app's pods, written since the run's log window began (typed log read). */
export function podLogMatches({ app }: App, pattern: RegExp): Probe {
  return probe(`${app} logs ${pattern.source}`, `a log line of app=${app} matching ${pattern}`, async (ctx) => {
    const pods = await ctx.cluster.api.core.listNamespacedPod({ namespace: ctx.namespace, labelSelector: `app=${app}` });
    const sinceSeconds = ctx.logsSince ? Math.max(1, Math.ceil((ctx.clock.now() - ctx.logsSince) / 1000)) : undefined;
    for (const p of pods.items) {
      const log = await ctx.cluster.api.core.readNamespacedPodLog({
        name: p.metadata!.name!,
        namespace: ctx.namespace,
        tailLines: 2000,
        ...(sinceSeconds ? { sinceSeconds } : {}),
      });
      const line = log.split("\n").find((l) => pattern.test(l));
      if (line) return { ok: true, observed: line.trim().slice(0, 400) };
    }
    return { ok: false, observed: `no line of ${pods.items.length} ${app} pod(s) matches ${pattern}` };
  });
}

/** A StatefulSet in the run's namespace, by handle (one a chart writes is named in it, not by the scenario's manifests). */
export interface StatefulSetRef {
  readonly statefulSet: string;
}

/** The handle of a StatefulSet the scenario does not write itself (a chart's, named after its release). */
export const statefulSet = (name: string): StatefulSetRef => ({ statefulSet: name });

/** The StatefulSet has `replicas` pods Ready on its latest revision (current revision = update revision). */
export function statefulSetReady({ statefulSet: name }: StatefulSetRef, replicas: number): Probe {
  return probe(`${name} ${replicas}/${replicas} ready`, `statefulset/${name}: ${replicas} replicas Ready on its latest revision`, async (ctx) => {
    try {
      const s = await ctx.cluster.api.apps.readNamespacedStatefulSet({ name, namespace: ctx.namespace });
      const st = s.status;
      const current = (st?.observedGeneration ?? 0) >= (s.metadata?.generation ?? 0) && st?.currentRevision === st?.updateRevision;
      const ready = st?.readyReplicas ?? 0;
      return {
        ok: current && (s.spec?.replicas ?? 1) === replicas && ready === replicas && (st?.replicas ?? 0) === replicas,
        observed: `spec.replicas ${s.spec?.replicas ?? 1}, ${ready} ready, ${st?.replicas ?? 0} total${current ? "" : ` (rolling: ${st?.currentRevision} → ${st?.updateRevision})`}`,
      };
    } catch (e) {
      return { ok: false, observed: apiErrorLine(e) };
    }
  });
}

/**
 * HTTP through the Service, as a client in the cluster reaches it: a GET on the Service's port through the
 * API server's service proxy (no node access needed). Holds when the answer has the status and matches `body`.
 */
export function answersThroughService({ service }: ServiceRef, path = "/", expect: { status?: number; body?: RegExp } = {}): Probe {
  const status = expect.status ?? 200;
  return probe(
    `Service ${service} answers ${status}`,
    `GET ${path} through Service ${service}: HTTP ${status}${expect.body ? ` matching ${expect.body}` : ""}`,
    async (ctx) => {
      const r = await proxyGet(ctx, "services", `${service}:http`, path);
      return { ok: r.status === status && (!expect.body || expect.body.test(r.body)), observed: `HTTP ${r.status}: ${r.body.trim().slice(0, 200)}` };
    },
  );
}

/**
 * GET through the API server's proxy to a pod ("name:port") or a Service ("name:portName"): the status (0
 * when nothing answered) and the body. `path` is one segment (e.g. "/memory").
 */
export async function proxyGet(ctx: ScenarioContext, kind: "pods" | "services", target: string, path: string): Promise<{ status: number; body: string }> {
  const req = { name: target, namespace: ctx.namespace, path: path.replace(/^\//, "") };
  try {
    const body =
      kind === "pods"
        ? await ctx.cluster.api.core.connectGetNamespacedPodProxyWithPath(req)
        : await ctx.cluster.api.core.connectGetNamespacedServiceProxyWithPath(req);
    return { status: 200, body: typeof body === "string" ? body : JSON.stringify(body) };
  } catch (e) {
    return { status: apiStatus(e) ?? 0, body: apiErrorLine(e) };
  }
}

/**
 * The app's pods have run without a restart for `lasting`: every pod of the latest rollout Ready, its
 * container running for that long with restartCount 0. Holds only after the time has passed.
 */
export function runsWithoutRestart({ app }: App, lasting: Duration): Probe {
  const seconds = parseDuration(lasting) / 1000;
  return probe(`${app} runs ${seconds}s without a restart`, `pods of app=${app}: Ready, restartCount 0, running for ≥ ${seconds}s`, async (ctx) => {
    const pods = (await ctx.cluster.api.core.listNamespacedPod({ namespace: ctx.namespace, labelSelector: `app=${app}` })).items.filter(
      (p) => !p.metadata?.deletionTimestamp,
    );
    if (!pods.length) return { ok: false, observed: `no pod of app=${app}` };
    const rows = pods.map((p) => {
      const cs = p.status?.containerStatuses?.[0];
      const since = cs?.state?.running?.startedAt ? Math.round((Date.now() - new Date(cs.state.running.startedAt).getTime()) / 1000) : undefined;
      const ready = podReady(p);
      return {
        name: p.metadata?.name,
        ok: ready && cs?.restartCount === 0 && since !== undefined && since >= seconds,
        since,
        restarts: cs?.restartCount ?? 0,
        ready,
      };
    });
    return {
      ok: rows.every((r) => r.ok),
      observed: rows
        .map((r) => `${r.name}: ${r.since === undefined ? "not running" : `running ${r.since}s`}, ${r.restarts} restarts${r.ready ? "" : ", not Ready"}`)
        .join("; "),
    };
  });
}

/** What of `expected` (name → content or digest) is missing from `seen`, and what is there with other content. */
export function lostByName(expected: Map<string, string>, seen: Map<string, string>): { missing: string[]; changed: string[] } {
  return {
    missing: [...expected.keys()].filter((k) => !seen.has(k)),
    changed: [...expected.entries()].filter(([k, v]) => seen.has(k) && seen.get(k) !== v).map(([k]) => k),
  };
}

/**
 * Files with random content written into a pod's volume before the fault (like a registry's blobs), named
 * by their digest. Afterwards every one must be there with the same digest; the lost ones are named. Written
 * and read with kubectl exec (busybox in the workload image), as an operator would check them.
 */
export function filesInVolume(o: { pod: string; container?: string; dir: string; count: number; bytes?: number; what?: string }): Sentinel {
  const digests = new Map<string, string>();
  const what = o.what ?? "files";
  const exec = (ctx: ScenarioContext, script: string, input?: string) =>
    ctx.cluster.kubectl(["-n", ctx.namespace, "exec", ...(input ? ["-i"] : []), o.pod, ...(o.container ? ["-c", o.container] : []), "--", "sh", "-c", script], {
      timeout: "1m",
      allowFailure: true,
      ...(input ? { input } : {}),
    });
  return {
    title: `${o.count} ${what} with random content in ${o.pod}:${o.dir}, named by digest`,
    async write(ctx) {
      digests.clear();
      const lines: string[] = [];
      for (let i = 0; i < o.count; i++) {
        const content = randomBytes(o.bytes ?? 32 * 1024);
        const digest = createHash("sha256").update(content).digest("hex");
        const name = `sha256-${digest.slice(0, 16)}`;
        digests.set(name, digest);
        lines.push(`${name} ${content.toString("base64")}`);
      }
      const r = await exec(
        ctx,
        `mkdir -p ${o.dir} && cd ${o.dir} && while read n c; do echo "$c" | base64 -d > "$n"; done && sync && ls | wc -l`,
        lines.join("\n") + "\n",
      );
      if (r.exitCode !== 0 || Number(r.stdout.trim()) < o.count)
        throw new AftershockError(
          "E_CLUSTER",
          `writing ${what} into ${o.pod}:${o.dir} failed (exit ${r.exitCode}): ${(r.stderr || r.stdout).trim().slice(-300)}`,
        );
      ctx.evidence("sentinels", `wrote ${o.count} ${what} to ${o.pod}:${o.dir}: ${[...digests.keys()].slice(0, 3).join(", ")}, …`);
    },
    probes: () => [
      {
        name: `${o.count} ${what} intact`,
        expectation: `all ${o.count} ${what} in ${o.pod}:${o.dir} with their original sha256`,
        kind: "sentinel",
        async check(ctx) {
          const r = await exec(ctx, `cd ${o.dir} 2>/dev/null && sha256sum * 2>/dev/null; true`);
          if (r.exitCode !== 0) return { ok: false, observed: `kubectl exec ${o.pod}: exit ${r.exitCode}: ${(r.stderr || r.stdout).trim().slice(-200)}` };
          const seen = new Map(
            r.stdout
              .trim()
              .split("\n")
              .filter(Boolean)
              .map((l) => l.trim().split(/\s+/).reverse() as [string, string]),
          );
          const { missing, changed } = lostByName(digests, seen);
          const ok = !missing.length && !changed.length;
          return {
            ok,
            observed: ok
              ? `${digests.size}/${digests.size} intact`
              : `${missing.length + changed.length} of ${digests.size} ${what} lost` +
                (missing.length ? `; missing: ${missing.join(", ")}` : "") +
                (changed.length ? `; changed: ${changed.join(", ")}` : ""),
            // The pod answered and the files are not there: they will not come back by waiting.
            final: !ok,
          };
        },
      },
    ],
  };
}

/** The echo HTTP server, preloaded on every node of the clusters Aftershock makes (clusters/images/builder.ts). */
export const ECHO_IMAGE = "aftershock.local/echo:v1";

/** Spreads the app's pods over the nodes, one per node as far as it can (never leaves one unscheduled for it). */
export function spreadOverNodes({ app }: App): V1TopologySpreadConstraint {
  return { maxSkew: 1, topologyKey: "kubernetes.io/hostname", whenUnsatisfiable: "ScheduleAnyway", labelSelector: { matchLabels: { app } } };
}

/**
 * The echo server's Deployment (port 8080, readiness on /, labelled app=<name>) and a ClusterIP Service named
 * like it, port 80 to 8080. `pod` adds to the pod spec (tolerations, spreading, affinity). No namespace: the
 * writer puts them in one.
 */
export function echoWorkload(of: string | App, replicas: number, pod: Omit<V1PodSpec, "containers"> = {}): [V1Deployment, V1Service] {
  const name = typeof of === "string" ? of : of.app;
  return [
    deploymentManifest(
      name,
      {
        image: ECHO_IMAGE,
        imagePullPolicy: "IfNotPresent",
        ports: [{ containerPort: 8080 }],
        readinessProbe: { httpGet: { path: "/", port: 8080 as never }, periodSeconds: 2 },
      },
      { replicas, pod },
    ),
    service(name, 80, 8080).manifest,
  ];
}

/** echoService's setup item, and the handle of the app it makes (for its load, its probes, a fault aimed at its pods). */
export interface EchoService extends Sentinel, App {}

/**
 * echoWorkload in the run's namespace, rolled out: what load is aimed at. `pod` adds to the pod spec
 * (tolerations, spreading, affinity); given as a function, it gets the app's handle (spreadOverNodes(self)).
 */
export function echoService(
  name: string,
  replicas: number,
  pod: Omit<V1PodSpec, "containers"> | ((self: App) => Omit<V1PodSpec, "containers">) = {},
): EchoService {
  const self = app(name);
  return {
    app: name,
    title: `Service ${name}: ${replicas} echo pods`,
    deploys: name,
    async write(ctx) {
      await apply(ctx, ...echoWorkload(name, replicas, typeof pod === "function" ? pod(self) : pod));
      ctx.evidence("setup", await waitRolledOut(ctx, self));
    },
    probes: () => [],
  };
}

/**
 * Setup for clusters of control planes only: every control-plane Node takes ordinary pods, as in a small
 * cluster whose machines run its services too (kubeadm's NoSchedule taint removed through the API). A machine
 * joined later has the taint again.
 */
export function controlPlanesTakePods(): Sentinel {
  return {
    title: `control planes take pods (taint ${CONTROL_PLANE_ROLE}:NoSchedule removed)`,
    async write(ctx) {
      const { core } = ctx.cluster.api;
      const untainted: string[] = [];
      for (const listed of (await core.listNode({ labelSelector: CONTROL_PLANE_ROLE })).items) {
        const name = listed.metadata!.name!;
        // A read-modify-write: replace fails on a stale resourceVersion (409) rather than dropping another's change,
        // and a node's object changes often (its controllers and kubelet write it; seen on 2026-12-07 on a third
        // control plane just joined). So read it again and try again, a few times.
        for (let attempt = 1; ; attempt++) {
          const node = attempt === 1 ? listed : await core.readNode({ name });
          const taints = node.spec?.taints ?? [];
          const kept = taints.filter((t) => t.key !== CONTROL_PLANE_ROLE);
          if (kept.length === taints.length) break;
          try {
            await core.replaceNode({ name, body: { ...node, spec: { ...node.spec, taints: kept } } });
            untainted.push(name);
            break;
          } catch (e) {
            if (apiStatus(e) !== 409 || attempt >= 10) throw e;
            await ctx.clock.sleep(200 * attempt);
          }
        }
      }
      ctx.evidence("setup", `kubectl taint nodes ${untainted.join(" ") || "(none tainted)"} ${CONTROL_PLANE_ROLE}:NoSchedule-`);
    },
    probes: () => [],
  };
}
