import type { V1Pod, V1PodSpec } from "@kubernetes/client-node";
import { nodeShell } from "../clusters/contract.js";
import { AftershockError, formatDuration } from "../clusters/errors.js";
import { apiErrorLine, apiStatus } from "../clusters/kube.js";
import { LABELS } from "../clusters/labels.js";
import { sh } from "../clusters/exec.js";
import { podReady, type Probe } from "./probes.js";
import { step, type Fault, type RunbookStep } from "./scenario.js";
import { ECHO_IMAGE } from "./sentinels.js";
import type { ScenarioContext } from "./types.js";

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
      ctx.found.stoppedOn = node.name;
      // A crash, not a shutdown: the container is stopped at once instead of after its grace period.
      const wait = components
        .map(
          (c) =>
            sh`crictl ps --name ${`^${c}$`} -q | xargs -r crictl stop --timeout 0 >/dev/null; until [[ -z $(crictl ps --name ${`^${c}$`} -q) ]]; do sleep 0.5; done`,
        )
        .join("\n");
      const r = await node.sh(
        `set -euo pipefail\nmkdir -p ${PARKED}\n${names.map((n) => sh`mv ${`${MANIFESTS}/${n}`} ${PARKED}/`).join("\n")}\n${wait}\nls ${MANIFESTS}`,
        { timeoutMs: 120_000 },
      );
      ctx.evidence("fault", `on ${node.name}: ${components.join(", ")} stopped; ${MANIFESTS} now holds: ${r.stdout.trim().split("\n").join(" ") || "nothing"}`);
    },
    rollback: step("put parked manifests back", `mv ${PARKED}/*.yaml ${MANIFESTS}/`, async (ctx) => {
      const node = stoppedOn(ctx);
      await node.sh(`shopt -s nullglob; for f in ${PARKED}/*.yaml; do mv "$f" ${MANIFESTS}/; done`, { timeoutMs: 30_000 });
    }),
  };
}

/** The control-plane node the fault stopped components on (the first one before the fault). */
const stoppedOn = (ctx: ScenarioContext) => (ctx.found.stoppedOn ? nodeShell(ctx.cluster).node(ctx.found.stoppedOn) : nodeShell(ctx.cluster).controlPlane());

/** Runbook: look for the component's container and manifest on the node where it stopped. */
export function findStoppedComponents(components: StaticComponent[]): RunbookStep {
  const ps = components.map((c) => `crictl ps -a --name ${c}`).join("; ");
  return step("look for the control-plane containers and their manifests", `${ps}; ls ${MANIFESTS}`, async (ctx) => {
    const node = stoppedOn(ctx);
    const r = await node.sh(
      `${components.map((c) => sh`echo "# crictl ps -a --name ${c}"; crictl ps -a --name ${`^${c}$`}`).join("\n")}\necho "# ls ${MANIFESTS}"; ls ${MANIFESTS}`,
    );
    return r.stdout;
  });
}

/** Runbook: put the manifests back and wait until the kubelet runs the components again. */
export function restoreStaticPods(components: StaticComponent[], budget = "3m"): RunbookStep {
  return step(
    `restore the ${components.join(" and ")} manifest${components.length > 1 ? "s" : ""}`,
    components.map((c) => `mv ${PARKED}/${c}.yaml ${MANIFESTS}/`).join("\n") + `\ncrictl ps --name '${components.join("|")}'   # until Running`,
    async (ctx) => {
      const node = stoppedOn(ctx);
      const wait = components.map((c) => sh`until [[ -n $(crictl ps --name ${`^${c}$`} --state running -q) ]]; do sleep 0.5; done`).join("\n");
      const r = await node.sh(
        `set -euo pipefail\n${components.map((c) => sh`mv ${`${PARKED}/${c}.yaml`} ${MANIFESTS}/`).join("\n")}\n${wait}\n${sh`crictl ps --name ${components.join("|")}`}`,
        { timeoutMs: 170_000 },
      );
      return r.stdout;
    },
    budget,
  );
}

// ---- work the control plane must do: a pod to schedule, a Deployment to fill, a deleted pod to replace --

/** How long a piece of work is given before "not done" counts as a symptom. */
const GRACE_MS = 15_000;

/** A per-window name: work asked for before the fault is not asked again after it. */
const windowName = (ctx: ScenarioContext, what: string) => `late-${what}-${((ctx.logsSince ?? 0) % 1e8).toString(36)}`;

const managed = { [LABELS.k8sManaged]: "true" };

/** What the probes ask the control plane to run: the preloaded echo server. */
const echoPod: V1PodSpec = { terminationGracePeriodSeconds: 1, containers: [{ name: "echo", image: ECHO_IMAGE, imagePullPolicy: "IfNotPresent" }] };

async function ensure<T>(read: () => Promise<T>, create: () => Promise<unknown>): Promise<T | undefined> {
  try {
    return await read();
  } catch (e) {
    if (apiStatus(e) !== 404) throw e;
  }
  await create();
  return undefined;
}

const age = (t?: Date) => (t ? Date.now() - new Date(t).getTime() : 0);

/** A bare pod (the echo image) created in the window: scheduled to a node, or not. */
export function newPodScheduled(want: "scheduled" | "unscheduled"): Probe {
  return {
    name: want === "scheduled" ? "new pods are scheduled" : "new pods stay Pending",
    expectation:
      want === "scheduled" ? "a pod created since the fault gets a node" : `a pod created since the fault has no node after ${formatDuration(GRACE_MS)}`,
    async check(ctx) {
      const name = windowName(ctx, "pod");
      const ns = ctx.namespace;
      const pod = await ensure(
        () => ctx.cluster.api.core.readNamespacedPod({ name, namespace: ns }),
        () =>
          ctx.cluster.api.core.createNamespacedPod({
            namespace: ns,
            body: {
              metadata: { name, labels: managed },
              spec: echoPod,
            },
          }),
      );
      if (!pod) return { ok: false, observed: `created pod ${name}` };
      const node = pod.spec?.nodeName;
      const line = `pod ${name}: ${pod.status?.phase}${node ? ` on ${node}` : ", no node"} after ${formatDuration(age(pod.metadata?.creationTimestamp))}`;
      return want === "scheduled" ? { ok: !!node, observed: line } : { ok: !node && age(pod.metadata?.creationTimestamp) >= GRACE_MS, observed: line };
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
      const ns = ctx.namespace;
      const d = await ensure(
        () => ctx.cluster.api.apps.readNamespacedDeployment({ name, namespace: ns }),
        () =>
          ctx.cluster.api.apps.createNamespacedDeployment({
            namespace: ns,
            body: {
              metadata: { name, labels: managed },
              spec: {
                replicas,
                selector: { matchLabels: { app: name } },
                template: {
                  metadata: { labels: { app: name, ...managed } },
                  spec: echoPod,
                },
              },
            },
          }),
      );
      if (!d) return { ok: false, observed: `created deployment ${name}` };
      const pods = (await ctx.cluster.api.core.listNamespacedPod({ namespace: ns, labelSelector: `app=${name}` })).items;
      const ready = pods.filter(podReady).length;
      const line = `deployment ${name}: ${pods.length} pods, ${ready} Ready after ${formatDuration(age(d.metadata?.creationTimestamp))}`;
      return want === "filled"
        ? { ok: ready >= replicas, observed: line }
        : { ok: pods.length === 0 && age(d.metadata?.creationTimestamp) >= GRACE_MS, observed: line };
    },
  };
}

/** One pod of app=<app> deleted in the window: replaced (the Deployment back at its replicas) or not. */
export function deletedPodReplaced(app: string, want: "replaced" | "not-replaced"): Probe {
  const deleted = new Map<number, { name: string; at: number }>();
  return {
    name: want === "replaced" ? `deleted ${app} pods are replaced` : `deleted ${app} pods are not replaced`,
    expectation:
      want === "replaced"
        ? `after deleting a ${app} pod, ${app} is back at its replicas, all Ready`
        : `a ${app} pod deleted since the fault is not replaced after ${formatDuration(GRACE_MS)}`,
    async check(ctx) {
      const ns = ctx.namespace;
      const key = ctx.logsSince ?? 0;
      const d = await ctx.cluster.api.apps.readNamespacedDeployment({ name: app, namespace: ns });
      const want_ = d.spec?.replicas ?? 1;
      const list = async () => (await ctx.cluster.api.core.listNamespacedPod({ namespace: ns, labelSelector: `app=${app}` })).items;
      let gone = deleted.get(key);
      if (!gone) {
        const victim = (await list()).find((p: V1Pod) => !p.metadata?.deletionTimestamp);
        if (!victim) return { ok: false, observed: `no ${app} pod to delete` };
        await ctx.cluster.api.core.deleteNamespacedPod({ name: victim.metadata!.name!, namespace: ns, gracePeriodSeconds: 0 }).catch((e: unknown) => {
          throw new AftershockError("E_CLUSTER", `delete pod ${victim.metadata!.name}: ${apiErrorLine(e)}`);
        });
        deleted.set(key, (gone = { name: victim.metadata!.name!, at: Date.now() }));
      }
      const pods = (await list()).filter((p) => !p.metadata?.deletionTimestamp);
      const ready = pods.filter(podReady).length;
      const line = `deleted ${gone.name} ${formatDuration(Date.now() - gone.at)} ago; ${pods.length}/${want_} pods, ${ready} Ready`;
      return want === "replaced"
        ? { ok: pods.length === want_ && ready === want_, observed: line }
        : { ok: pods.length < want_ && Date.now() - gone.at >= GRACE_MS, observed: line };
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
