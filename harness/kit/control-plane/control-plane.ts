import type { V1ObjectMeta, V1Pod, V1PodSpec } from "@kubernetes/client-node";
import { nodeShell } from "../../../clusters/contract.js";
import { AftershockError, formatDuration, ms, type Duration } from "../../../clusters/errors.js";
import { apiErrorLine, apiStatus } from "../../../clusters/kube.js";
import { LABELS } from "../../../clusters/labels.js";
import { sh } from "../../../clusters/exec.js";
import { pollUntil } from "../../../clusters/wait.js";
import { podReady } from "../../model/health.js";
import type { Probe } from "../../model/probe.js";
import { step } from "../steps.js";
import { inTurn, onNode } from "../commands.js";
import type { Fault, RunbookStep } from "../../model/scenario.js";
import { ECHO_IMAGE } from "../sentinels.js";
import { handOff, type ScenarioContext } from "../../model/context.js";
import type { App } from "../targets.js";

/**
 * The control plane's static pods stopped and started again, and what the cluster still does without them:
 * new pods, new Deployments and replacements for deleted pods are the work of the scheduler and the
 * controller manager; running pods and kube-proxy's rules are not.
 */

export type StaticComponent = "kube-apiserver" | "kube-controller-manager" | "kube-scheduler" | "etcd";

const MANIFESTS = "/etc/kubernetes/manifests";
const PARKED = "/etc/kubernetes/aftershock-stopped";

/**
 * Stops control-plane components on one control-plane node the way a dead process stays dead: their static
 * pod manifests are moved out of the kubelet's manifest directory, so the kubelet stops them and does not
 * restart them. The rollback moves back whatever is still parked (harmless to repeat).
 */
export function staticPodsStopped(components: StaticComponent[], o: { node?: (ctx: ScenarioContext) => string; why?: string } = {}): Fault {
  const names = components.map((c) => `${c}.yaml`);
  return {
    title: `${components.join(" and ")} stop${components.length === 1 ? "s" : ""}${o.why ? ` (${o.why})` : ""}`,
    plan: [
      `mkdir -p ${PARKED}`,
      ...names.map((n) => `mv ${MANIFESTS}/${n} ${PARKED}/   # the kubelet will not start it again`),
      `crictl stop --timeout 0 <${components.join(", ")} container>   # it dies at once, as in a crash`,
    ],
    async inject(ctx) {
      const node = o.node ? nodeShell(ctx.cluster).node(o.node(ctx)) : nodeShell(ctx.cluster).controlPlane();
      ctx.found.set(STOPPED_ON, node.name);
      // A crash, not a shutdown: the container is stopped at once instead of after its grace period.
      const wait = components
        .map(
          (c) =>
            sh`crictl ps --name ${`^${c}$`} -q | xargs -r crictl stop --timeout 0 >/dev/null; until [[ -z $(crictl ps --name ${`^${c}$`} -q) ]]; do sleep 0.5; done`,
        )
        .join("\n");
      const r = await node.sh(
        `set -euo pipefail\nmkdir -p ${PARKED}\n${names.map((n) => sh`mv ${`${MANIFESTS}/${n}`} ${PARKED}/`).join("\n")}\n${wait}\nls ${MANIFESTS}`,
        { timeout: "2m" },
      );
      ctx.evidence("fault", `on ${node.name}: ${components.join(", ")} stopped; ${MANIFESTS} now holds: ${r.stdout.trim().split("\n").join(" ") || "nothing"}`);
    },
    rollback: step("put parked manifests back", `mv ${PARKED}/*.yaml ${MANIFESTS}/`, async (ctx) => {
      const node = stoppedOn(ctx);
      await node.sh(`shopt -s nullglob; for f in ${PARKED}/*.yaml; do mv "$f" ${MANIFESTS}/; done`, { timeout: "30s" });
    }),
  };
}

/** The control-plane node the fault stopped components on (the first one before the fault). */
const STOPPED_ON = handOff<string>("the node whose static pods stopped", "the fault staticPodsStopped");
const stoppedOn = (ctx: ScenarioContext) => {
  const node = ctx.found.get(STOPPED_ON);
  return node ? nodeShell(ctx.cluster).node(node) : nodeShell(ctx.cluster).controlPlane();
};

/** Runbook: look for the component's container and manifest on the node where it stopped. */
export function findStoppedComponents(components: StaticComponent[]): RunbookStep {
  const on = onNode(stoppedOn);
  return step(
    "look for the control-plane containers and their manifests",
    inTurn(...components.map((c) => on`crictl ps -a --name ${`^${c}$`}`), on`ls ${MANIFESTS}`),
  );
}

/** Runbook: put the manifests back and wait until the kubelet runs the components again. */
export function restoreStaticPods(components: StaticComponent[], budget: Duration = "3m"): RunbookStep {
  return step(
    `restore the ${components.join(" and ")} manifest${components.length > 1 ? "s" : ""}`,
    components.map((c) => `mv ${PARKED}/${c}.yaml ${MANIFESTS}/`).join("\n") + `\ncrictl ps --name '${components.join("|")}'   # until Running`,
    async (ctx) => {
      const node = stoppedOn(ctx);
      const wait = components.map((c) => sh`until [[ -n $(crictl ps --name ${`^${c}$`} --state running -q) ]]; do sleep 0.5; done`).join("\n");
      const r = await node.sh(
        `set -euo pipefail\n${components.map((c) => sh`mv ${`${PARKED}/${c}.yaml`} ${MANIFESTS}/`).join("\n")}\n${wait}\n${sh`crictl ps --name ${components.join("|")}`}`,
        { timeout: "170s" },
      );
      return r.stdout;
    },
    budget,
  );
}

// ---- work the control plane must do: a pod to schedule, a Deployment to fill, a deleted pod to replace --
//
// Each probe decides within one evaluation: it asks for the work (or finds what an earlier evaluation in the
// same window asked for) and looks again until the control plane has done it or the grace has passed without
// it. "Just asked" is never an answer, so asked once on a healthy cluster (the symptoms-absent check) a
// symptom is unmet because the work was done, and asked once on a broken one (verify-fails) a verification
// probe is unmet because it was not.

/** How long a piece of work is given before "not done" counts as a symptom. */
const GRACE_MS = 15_000;

/** How often a probe looks again while it waits for the work: one GET or LIST each time. */
const LOOK_MS = 1000;

/** A per-window name: work asked for before the fault is not asked again after it. */
const windowName = (ctx: ScenarioContext, what: string) => `late-${what}-${((ctx.logsSince ?? 0) % 1e8).toString(36)}`;

const managed = { [LABELS.k8sManaged]: "true" };

/** What the probes ask the control plane to run: the preloaded echo server. */
const echoPod: V1PodSpec = { terminationGracePeriodSeconds: 1, containers: [{ name: "echo", image: ECHO_IMAGE, imagePullPolicy: "IfNotPresent" }] };

/**
 * The window's object: read if an earlier evaluation asked for it, else created now. Returns when the work was
 * asked for, on ctx.clock (wall time in a run, as the API server's creation timestamps).
 */
async function askedAt(ctx: ScenarioContext, read: () => Promise<{ metadata?: V1ObjectMeta }>, create: () => Promise<unknown>): Promise<number> {
  try {
    const t = (await read()).metadata?.creationTimestamp;
    return t ? new Date(t).getTime() : ctx.clock.now();
  } catch (e) {
    if (apiStatus(e) !== 404) throw e;
  }
  const at = ctx.clock.now();
  await create();
  return at;
}

/** One look at a piece of work: whether the control plane has done it, and what was seen. */
interface Look {
  done: boolean;
  seen: string;
}

/**
 * Looks at work asked for at `since` every LOOK_MS until it is done or GRACE_MS old, and returns the last look
 * and the work's age then. Work already older than the grace gets one look. The wait ends at the grace, and
 * never later than GRACE_MS after this call whatever `since` says (plus LOOK_MS as pollUntil's safety margin,
 * and the last request's own deadline).
 */
async function untilDone(ctx: ScenarioContext, what: string, since: number, look: () => Promise<Look>): Promise<Look & { ageMs: number }> {
  const { clock } = ctx;
  const start = clock.now();
  const end = Math.min(since + GRACE_MS, start + GRACE_MS);
  let last: Look & { ageMs: number } = { done: false, seen: "never looked", ageMs: 0 };
  await pollUntil(
    what,
    ms(Math.max(0, end - start) + LOOK_MS),
    ms(LOOK_MS),
    async () => {
      const l = await look();
      const now = clock.now();
      last = { ...l, ageMs: Math.max(0, now - since) };
      return { ok: l.done || now >= end, seen: l.seen };
    },
    { clock },
  );
  return last;
}

const plural = (n: number, what: string) => `${n} ${what}${n === 1 ? "" : "s"}`;

/** A bare pod (the echo image) created in the window: scheduled to a node, or not. */
export function newPodScheduled(want: "scheduled" | "unscheduled"): Probe {
  return {
    name: want === "scheduled" ? "new pods are scheduled" : "new pods stay Pending",
    expectation:
      want === "scheduled" ? "a pod created since the fault gets a node" : `a pod created since the fault has no node after ${formatDuration(GRACE_MS)}`,
    async check(ctx) {
      const name = windowName(ctx, "pod");
      const namespace = ctx.namespace;
      const since = await askedAt(
        ctx,
        () => ctx.cluster.api.core.readNamespacedPod({ name, namespace }),
        () => ctx.cluster.api.core.createNamespacedPod({ namespace, body: { metadata: { name, labels: managed }, spec: echoPod } }),
      );
      const l = await untilDone(ctx, `pod ${name} gets a node`, since, async () => {
        const pod = await ctx.cluster.api.core.readNamespacedPod({ name, namespace });
        const node = pod.spec?.nodeName;
        return { done: !!node, seen: `pod ${name}: ${pod.status?.phase ?? "?"}${node ? ` on ${node}` : ", no node"}` };
      });
      const observed = `${l.seen} after ${formatDuration(l.ageMs)}`;
      return { ok: want === "scheduled" ? l.done : !l.done, observed };
    },
  };
}

/** A Deployment created in the window: its pods exist and are Ready, or none exist. */
export function newDeploymentFilled(want: "filled" | "empty", replicas = 2): Probe {
  return {
    name: want === "filled" ? "new Deployments get pods" : "new Deployments get no pods",
    expectation:
      want === "filled"
        ? `a Deployment created since the fault has ${replicas} Ready pods`
        : `a Deployment created since the fault has no pods after ${formatDuration(GRACE_MS)}`,
    async check(ctx) {
      const name = windowName(ctx, "deploy");
      const namespace = ctx.namespace;
      const since = await askedAt(
        ctx,
        () => ctx.cluster.api.apps.readNamespacedDeployment({ name, namespace }),
        () =>
          ctx.cluster.api.apps.createNamespacedDeployment({
            namespace,
            body: {
              metadata: { name, labels: managed },
              spec: {
                replicas,
                selector: { matchLabels: { app: name } },
                template: { metadata: { labels: { app: name, ...managed } }, spec: echoPod },
              },
            },
          }),
      );
      // "filled" is done when every pod is Ready; for "empty" any pod at all shows the controllers at work.
      const l = await untilDone(ctx, `deployment ${name} gets pods`, since, async () => {
        const pods = (await ctx.cluster.api.core.listNamespacedPod({ namespace, labelSelector: `app=${name}` })).items;
        const ready = pods.filter(podReady).length;
        return { done: want === "filled" ? ready >= replicas : pods.length > 0, seen: `deployment ${name}: ${plural(pods.length, "pod")}, ${ready} Ready` };
      });
      const observed = `${l.seen} after ${formatDuration(l.ageMs)}`;
      return { ok: want === "filled" ? l.done : !l.done, observed };
    },
  };
}

/** One pod of app=<app> deleted in the window: replaced (the Deployment back at its replicas) or not. */
export function deletedPodReplaced({ app }: App, want: "replaced" | "not-replaced"): Probe {
  /** Per window: the pod deleted, when, and the pods there were then (a replacement is a pod not among them). */
  const deleted = new Map<number, { name: string; at: number; before: Set<string> }>();
  return {
    name: want === "replaced" ? `deleted ${app} pods are replaced` : `deleted ${app} pods are not replaced`,
    expectation:
      want === "replaced"
        ? `after deleting a ${app} pod, ${app} is back at its replicas, all Ready`
        : `a ${app} pod deleted since the fault is not replaced after ${formatDuration(GRACE_MS)}`,
    async check(ctx) {
      const namespace = ctx.namespace;
      const key = ctx.logsSince ?? 0;
      const d = await ctx.cluster.api.apps.readNamespacedDeployment({ name: app, namespace });
      const replicas = d.spec?.replicas ?? 1;
      const list = async () => (await ctx.cluster.api.core.listNamespacedPod({ namespace, labelSelector: `app=${app}` })).items;
      let gone = deleted.get(key);
      if (!gone) {
        const pods = await list();
        const victim = pods.find((p: V1Pod) => !p.metadata?.deletionTimestamp);
        if (!victim) return { ok: false, observed: `no ${app} pod to delete` };
        const victimName = victim.metadata!.name!;
        const at = ctx.clock.now();
        await ctx.cluster.api.core.deleteNamespacedPod({ name: victimName, namespace, gracePeriodSeconds: 0 }).catch((e: unknown) => {
          throw new AftershockError("E_CLUSTER", `delete pod ${victimName}: ${apiErrorLine(e)}`);
        });
        deleted.set(key, (gone = { name: victimName, at, before: new Set(pods.map((p) => p.metadata?.name ?? "")) }));
      }
      const { before } = gone;
      // "replaced" is done when the app is back at its replicas, all Ready; "not-replaced" is decided (unmet)
      // as soon as any new pod exists.
      const l = await untilDone(ctx, `deleted pod ${gone.name} replaced`, gone.at, async () => {
        const pods = (await list()).filter((p) => !p.metadata?.deletionTimestamp);
        const fresh = pods.map((p) => p.metadata?.name ?? "").filter((n) => !before.has(n));
        const ready = pods.filter(podReady).length;
        return {
          done: want === "replaced" ? pods.length === replicas && ready === replicas : fresh.length > 0,
          seen: `${fresh.length ? `replaced by ${fresh.join(", ")}` : "no replacement"}; ${pods.length}/${replicas} pods, ${ready} Ready`,
        };
      });
      const observed = `deleted ${gone.name}; after ${formatDuration(l.ageMs)}: ${l.seen}`;
      return { ok: want === "replaced" ? l.done : !l.done, observed };
    },
  };
}

/** Whether the API server takes a new pod (created and deleted again, with a short timeout). */
export function apiAcceptsPods(want: boolean): Probe {
  return {
    name: want ? "API accepts new pods" : "new pods cannot be created",
    expectation: want ? "a pod is created through the API (and deleted)" : "creating a pod through the API fails",
    async check(ctx) {
      const name = `probe-${Date.now().toString(36)}`;
      try {
        await ctx.cluster.api.core.createNamespacedPod({
          namespace: ctx.namespace,
          body: { metadata: { name, labels: managed }, spec: echoPod },
        });
      } catch (e) {
        return { ok: !want, observed: `create pod ${name}: ${apiErrorLine(e)}` };
      }
      await ctx.cluster.api.core.deleteNamespacedPod({ name, namespace: ctx.namespace, gracePeriodSeconds: 0 }).catch(() => undefined);
      return { ok: want, observed: `pod ${name} created (and deleted)` };
    },
  };
}
