import type { V1Deployment, V1Pod, V1Probe } from "@kubernetes/client-node";
import { AftershockError } from "../../../clusters/errors.js";
import { apiErrorLine } from "../../../clusters/kube.js";
import { podReady } from "../../model/health.js";
import type { Observation, Probe } from "../../model/probe.js";
import type { Fault } from "../../model/scenario.js";
import { aimAt, aimed, app as appNamed, type App, type PodTarget } from "../targets.js";
import { handOff, type ScenarioContext } from "../../model/context.js";
import { namespaceWatch } from "../../../clusters/namespace-watch.js";
import { kubectlPatch, rolloutState } from "./workloads.js";

/**
 * A release that breaks readiness (003 §5, the learnk8s Pod layer): the Deployment of a demo app, or of a team's
 * workload in its place, gets a readiness probe on a port its container does not listen on, and rolls out with
 * the strategy it ships. The fault records what it changed in `found` (RELEASE: deployment, selector, badPort), and the
 * probes and runbook steps read it there, so the same scenario works on either target.
 */

/** The Deployment whose pod template carries every label of the target's selector. */
export async function deploymentOf(ctx: ScenarioContext, t: PodTarget): Promise<V1Deployment> {
  if ("app" in t) return ctx.cluster.api.apps.readNamespacedDeployment({ name: t.app, namespace: ctx.namespace });
  const want = t.selector
    .split(",")
    .filter(Boolean)
    .map((kv) => kv.split("=") as [string, string]);
  const all = (await ctx.cluster.api.apps.listNamespacedDeployment({ namespace: ctx.namespace })).items;
  const hit = all.find((d) => want.every(([k, v]) => d.spec?.template?.metadata?.labels?.[k] === v));
  if (!hit)
    throw new AftershockError(
      "E_BAD_INPUT",
      `workload ${t.name}: no Deployment whose pods carry ${t.selector} (Deployments: ${all.map((d) => d.metadata?.name).join(", ") || "none"}); this scenario releases a Deployment`,
    );
  return hit;
}

/** The first port from 9090 up that the container does not declare: nothing there answers its readiness probe. */
function unservedPort(d: V1Deployment): number {
  const declared = new Set((d.spec?.template?.spec?.containers?.[0]?.ports ?? []).map((p) => p.containerPort));
  let port = 9090;
  while (declared.has(port)) port++;
  return port;
}

/** The probe with its handler moved to `port`: httpGet keeps its path, anything else becomes a TCP check there. */
function probeOn(p: V1Probe | undefined, port: number): V1Probe {
  const timing = {
    periodSeconds: p?.periodSeconds ?? 2,
    failureThreshold: p?.failureThreshold ?? 3,
    ...(p?.initialDelaySeconds ? { initialDelaySeconds: p.initialDelaySeconds } : {}),
  };
  return p?.httpGet ? { ...timing, httpGet: { ...p.httpGet, port: port as never } } : { ...timing, tcpSocket: { port: port as never } };
}

/** The fault: a release of the target's Deployment whose readiness probe asks a port nothing listens on. */
export function readinessOnWrongPort(target: PodTarget): Fault {
  return aimed(target, (to) => readinessOnWrongPortOf(to));
}

function readinessOnWrongPortOf(target: PodTarget): Fault {
  const { app, selector } = aimAt(target);
  return {
    title: `a release of ${app} whose readiness probe asks a port the app does not serve`,
    plan: [
      `kubectl patch deployment/${"app" in target ? target.app : "<its Deployment>"} --type=json   # readinessProbe of its first container → a port it does not listen on; rolled out with its own strategy`,
    ],
    async inject(ctx) {
      const d = await deploymentOf(ctx, target);
      const name = d.metadata!.name!;
      const container = d.spec!.template!.spec!.containers[0]!;
      const port = unservedPort(d);
      ctx.found.set(RELEASE, { deployment: name, selector, badPort: port });
      const was = container.readinessProbe;
      const op = was ? "replace" : "add";
      const strategy = d.spec?.strategy?.rollingUpdate;
      ctx.evidence(
        "fault",
        `deployment/${name} container ${container.name}: readiness ${was?.httpGet ? `httpGet ${was.httpGet.path ?? "/"} :${String(was.httpGet.port)}` : was?.tcpSocket ? `tcpSocket :${String(was.tcpSocket.port)}` : "none"} → :${port}; ` +
          `strategy ${d.spec?.strategy?.type ?? "RollingUpdate"}${strategy ? ` maxUnavailable ${String(strategy.maxUnavailable ?? "25%")}, maxSurge ${String(strategy.maxSurge ?? "25%")}` : ""}, ${d.spec?.replicas ?? 1} replica(s)`,
      );
      ctx.evidence(
        "fault",
        await kubectlPatch(ctx, `deployment/${name}`, [{ op, path: "/spec/template/spec/containers/0/readinessProbe", value: probeOn(was, port) }], "json"),
      );
    },
  };
}

/** What the bad release changed: its Deployment, its pods' selector, and the port its readiness probe now asks. */
const RELEASE = handOff<{ deployment: string; selector: string; badPort: number }>("the bad release", "the fault readinessOnWrongPort");

const released = (ctx: ScenarioContext) => ctx.found.need(RELEASE);

/** The pods of the Deployment's newest revision (its newest ReplicaSet's pod-template-hash). */
async function newestRevisionPods(ctx: ScenarioContext, deployment: string, selector: string): Promise<{ revision: string; pods: V1Pod[] }> {
  const { apps, core } = ctx.cluster.api;
  const d = await apps.readNamespacedDeployment({ name: deployment, namespace: ctx.namespace });
  const revision = d.metadata?.annotations?.["deployment.kubernetes.io/revision"] ?? "?";
  const sets = (await apps.listNamespacedReplicaSet({ namespace: ctx.namespace, labelSelector: selector })).items;
  const rs = sets.find(
    (r) => r.metadata?.ownerReferences?.some((o) => o.name === deployment) && r.metadata?.annotations?.["deployment.kubernetes.io/revision"] === revision,
  );
  const hash = rs?.metadata?.labels?.["pod-template-hash"];
  if (!hash) return { revision, pods: [] };
  const pods = (await core.listNamespacedPod({ namespace: ctx.namespace, labelSelector: `${selector},pod-template-hash=${hash}` })).items;
  return { revision, pods: pods.filter((p) => !p.metadata?.deletionTimestamp) };
}

/** Symptom: the new revision's pods run, and none of them becomes Ready. */
export function releaseNeverReady(target: PodTarget): Probe {
  return aimed(target, (to) => releaseNeverReadyOf(to));
}

function releaseNeverReadyOf(target: PodTarget): Probe {
  const { app } = aimAt(target);
  return {
    name: `${app}: new release Running but not Ready`,
    expectation: `pods of ${app}'s newest revision: some Running, none of them Ready`,
    async check(ctx): Promise<Observation> {
      const r = released(ctx);
      const { revision, pods } = await newestRevisionPods(ctx, r.deployment, r.selector);
      const running = pods.filter((p) => p.status?.phase === "Running");
      const ready = running.filter(podReady);
      return {
        ok: running.length > 0 && ready.length === 0,
        observed: `revision ${revision}: ${running.length} Running, ${ready.length} Ready${running.length ? `: ${running.map((p) => p.metadata?.name).join(", ")}` : ""}`,
      };
    },
  };
}

/** Symptom: the kubelet reports the readiness probe failing on the port the release asks, as an Unhealthy event. */
export function readinessProbeFailing(target: PodTarget): Probe {
  return aimed(target, (to) => readinessProbeFailingOf(to));
}

function readinessProbeFailingOf(target: PodTarget): Probe {
  const { app } = aimAt(target);
  return {
    name: `${app}: readiness probe failed on the released port`,
    expectation: `an Unhealthy event of ${app}'s pods, "Readiness probe failed" naming the released port, since the fault`,
    async check(ctx) {
      const r = released(ctx);
      const w = await namespaceWatch(ctx.cluster.api, ctx.namespace);
      const hit = w
        .eventsOf(r.deployment, ctx.logsSince)
        .find((e) => e.reason === "Unhealthy" && /Readiness probe failed/.test(e.message ?? "") && (e.message ?? "").includes(`:${r.badPort}`));
      return { ok: !!hit, observed: hit ? `${hit.involvedObject?.name}: ${hit.message}` : `no Unhealthy event naming :${r.badPort} yet` };
    },
  };
}

/** Verification: the Deployment the release changed is rolled out (its latest revision updated and available). */
export function releaseRolledOut(target: PodTarget): Probe {
  return aimed(target, (to) => releaseRolledOutOf(to));
}

function releaseRolledOutOf(target: PodTarget): Probe {
  const { app } = aimAt(target);
  return {
    name: `${app} rolled out`,
    expectation: `${app}'s Deployment: latest revision updated and available`,
    async check(ctx) {
      try {
        const r = ctx.found.get(RELEASE);
        return rolloutState(await deploymentOf(ctx, r ? appNamed(r.deployment) : target));
      } catch (e) {
        return { ok: false, observed: e instanceof AftershockError ? e.message : apiErrorLine(e) };
      }
    },
  };
}

/**
 * For runbook steps: the Deployment the release changed, by handle (the demo's, or the team's Deployment the fault
 * found in the cluster, so its name is read at run time), and its pods' selector.
 */
export function releasedDeployment(ctx: ScenarioContext): App & { selector: string } {
  const { deployment, selector } = released(ctx);
  return { app: deployment, selector };
}
