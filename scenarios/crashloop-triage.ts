import type { V1Pod } from "@kubernetes/client-node";
import {
  forEach,
  kubectl,
  allRolledOut,
  appContainerPatch,
  type App,
  apply,
  backOffGrows,
  type Deployment,
  containerExited,
  containerWaiting,
  defineScenario,
  deployment,
  eventSeen,
  handOff,
  imageRef,
  kubectlIn,
  kubectlPatch,
  podReady,
  restartedAtLeast,
  rollBack,
  type ScenarioContext,
  step,
  waitRolledOut,
  WORKLOAD_IMAGES,
} from "../harness/kit/index.js";

/**
 * Five services, each released once healthy and then once broken, one per cause of CrashLoopBackOff the
 * incident lists. The runbook triages them the incident's way (describe → logs --previous → events),
 * names each one's cause from its exit code or reason, and applies the fix that cause calls for.
 */

const APP = WORKLOAD_IMAGES.app;
const healthz = { httpGet: { path: "/healthz", port: 8080 } };
const base = { image: APP, imagePullPolicy: "IfNotPresent", ports: [{ containerPort: 8080 }], readinessProbe: { ...healthz, periodSeconds: 2 } };

type Container = Parameters<typeof deployment>[1];

/**
 * A service released healthy, then broken (what its second release gets wrong: `cause`). The healthy release names
 * the Deployment and is the handle its probes and steps take; the broken release is another of the same Deployment.
 */
function released(name: string, cause: string, healthy: Container, broken: Container): Deployment & { cause: string; broken: Deployment } {
  const d = deployment(name, healthy);
  return { ...d, cause, broken: deployment(d, broken) };
}

// The new release reads a configuration file it was never given, and exits 1 at start.
const payments = released("payments", "application error", { ...base }, { ...base, env: [{ name: "CONFIG_FILE", value: "/etc/payments/config.yaml" }] });
const orders = released("orders", "missing reference", { ...base }, { ...base, envFrom: [{ configMapRef: { name: "orders-settings" } }] });
const catalog = released("catalog", "image cannot be pulled", { ...base }, { ...base, image: `${APP}.1` });
// The new release warms its caches for 20s before it opens the port; the liveness probe gives it 5s.
const search = released(
  "search",
  "liveness probe kills a slow start",
  { ...base, livenessProbe: { ...healthz, initialDelaySeconds: 5, periodSeconds: 3, failureThreshold: 2 } },
  { ...base, env: [{ name: "STARTUP_SECONDS", value: "20" }], livenessProbe: { ...healthz, initialDelaySeconds: 5, periodSeconds: 3, failureThreshold: 2 } },
);
const notifier = released(
  "notifier",
  "binary not found",
  { ...base, command: ["/bin/sh", "-c", "exec /app/server"] },
  { ...base, command: ["/bin/sh", "-c", "exec /app/notifier-server"] },
);
/** The five services, by handle, and their names (for titles and evidence). */
const SERVICES = [payments, orders, catalog, search, notifier];
const APPS = SERVICES.map((s) => s.app);

/** Pods of the app that are not Ready: the ones the triage looks at. */
async function failingPods(ctx: ScenarioContext, { app }: App): Promise<V1Pod[]> {
  const pods = await ctx.cluster.api.core.listNamespacedPod({ namespace: ctx.namespace, labelSelector: `app=${app}` });
  return pods.items.filter((p) => !podReady(p));
}

/** Each failing pod's name, app by app, for a command run on each (a pod that never ran has no --previous: shown, not thrown). */
const failingPod = {
  shows: "<pod>",
  each: "failing pod",
  values: async (ctx: ScenarioContext) => {
    const names: string[] = [];
    for (const app of SERVICES) for (const pod of await failingPods(ctx, app)) names.push(pod.metadata!.name!);
    return names;
  },
};

/** At most 3000 characters of one pod's output, as evidence. */
const head = (out: string) => out.slice(0, 3000);

/** The lines of `kubectl describe pod` that carry the verdict: states, reasons, exit codes, restarts, events. */
const describeVerdict = (text: string) =>
  text
    .split("\n")
    .filter((l) => /^\s*(State|Reason|Exit Code|Last State|Restart Count|Ready|Image|Message):|^\s+(Warning|Normal)\s/.test(l))
    .join("\n");

/**
 * The cause of one app's failure, from what the API says about its failing pods: reasons the kubelet gives
 * before a container runs, a kill for a failed liveness probe, else the exit code (the incident's table).
 */
async function classify(ctx: ScenarioContext, app: App): Promise<{ cause: string; evidence: string }> {
  const pods = await failingPods(ctx, app);
  const statuses = pods.flatMap((p) => p.status?.containerStatuses ?? []);
  const waiting = statuses.map((s) => s.state?.waiting).find((w) => w?.reason && w.reason !== "CrashLoopBackOff");
  if (waiting?.reason === "CreateContainerConfigError") return { cause: "missing reference", evidence: `${waiting.reason}: ${waiting.message}` };
  if (waiting?.reason === "ErrImagePull" || waiting?.reason === "ImagePullBackOff")
    return { cause: "image cannot be pulled", evidence: `${waiting.reason}: ${(waiting.message ?? "").slice(0, 200)}` };
  const events = await ctx.cluster.api.core.listNamespacedEvent({ namespace: ctx.namespace });
  const podNames = new Set(pods.map((p) => p.metadata?.name));
  const killed = events.items.find((e) => podNames.has(e.involvedObject?.name) && e.reason === "Killing" && /liveness probe/.test(e.message ?? ""));
  if (killed) return { cause: "liveness probe kills a slow start", evidence: `${killed.reason}: ${killed.message}` };
  const last = statuses.map((s) => s.lastState?.terminated ?? s.state?.terminated).find((t) => t);
  if (!last) return { cause: "unknown", evidence: `no termination and no waiting reason: ${statuses.map((s) => JSON.stringify(s.state)).join(" ")}` };
  const byCode: Record<number, string> = { 1: "application error", 126: "permission denied", 127: "binary not found", 137: "killed (OOMKilled or SIGKILL)" };
  return {
    cause: byCode[last.exitCode] ?? `exit code ${last.exitCode}`,
    evidence: `Last State: Terminated, Reason: ${last.reason}, Exit Code: ${last.exitCode}`,
  };
}

/** Each app's cause, as the classification step named it. */
const CAUSES = handOff<ReadonlyMap<string, string>>("each app's cause", 'the runbook step "name each cause from its exit code or reason"');

/** The apps the triage found with `cause` (set by the classification step). */
const withCause = (ctx: ScenarioContext, cause: string) => {
  const causes = ctx.found.need(CAUSES);
  return SERVICES.filter((a) => causes.get(a.app) === cause);
};

/** A fix step for one cause: applies `fix` to every app the triage gave that cause. */
function fixFor(cause: string, title: string, shows: string, fix: (ctx: ScenarioContext, app: Deployment) => Promise<string>) {
  return step(title, shows, async (ctx) => {
    const apps = withCause(ctx, cause);
    if (!apps.length) return `no workload was found with cause "${cause}"`;
    const out: string[] = [];
    for (const app of apps) out.push(`${app.app}: ${await fix(ctx, app)}`);
    return out.join("\n");
  });
}

export default defineScenario({
  id: "crashloop-triage",
  title: "Five releases in CrashLoopBackOff, triaged by exit code and fixed by cause",
  summary:
    "CrashLoopBackOff is a symptom with many causes, and the restart back-off (growing to five minutes) makes " +
    "guessing expensive. Five services each get a bad release, one per cause the incident lists: an application " +
    "that exits 1, a ConfigMap reference that does not exist, an image that cannot be pulled, a liveness probe that " +
    "kills a slow start, and a command whose binary is missing (exit 127). The runbook triages them in the incident's " +
    "order (describe, logs --previous, events), names each cause from the exit code or reason, and applies that " +
    "cause's fix: roll back, create the reference, fix the image, add a startup probe, fix the command.",
  source: { incident: "003", section: "1. CrashLoopBackOff debugging (exit codes, describe → logs --previous → events)" },
  tags: ["workload", "crashloop", "nightly", "game-day"],
  gameDay: {
    difficulty: "medium",
    alert:
      "Five services degraded after this afternoon's deploys: payments, orders, catalog, search and notifier have pods that " +
      "are not Ready and keep restarting or never start.",
    hints: [
      "Triage one pod at a time: kubectl get pods, then kubectl describe pod <pod>: State, Last State, Reason, Exit Code.",
      "Read them like a table: exit 1 is the app failing, 127 a command not found, CreateContainerConfigError a missing ConfigMap or Secret, ErrImagePull an image tag, a kill after 'Liveness probe failed' a probe too eager. kubectl logs <pod> --previous and kubectl get events --sort-by=.lastTimestamp tell the rest.",
      "Fix each at its cause: roll back (kubectl rollout undo), create the missing ConfigMap, point at an image tag that exists, add a startup probe, fix the command.",
    ],
    cause: [/describe\s+(pod|po)\b/, /logs\b.*(--previous|-p\b)/, /get\s+events/],
  },
  cluster: { controlPlanes: 1, workers: 1 },
  scope: "namespace",
  needs: ["image-loading"],
  images: [APP],

  setup: [
    {
      title: `five services (${APPS.join(", ")}) released healthy`,
      async write(ctx) {
        await apply(ctx, ...SERVICES);
        for (const a of SERVICES) await waitRolledOut(ctx, a, "2m");
        ctx.evidence("setup", `${APPS.length} deployments rolled out: ${APPS.join(", ")}`);
      },
      probes: () => [],
    },
  ],
  steadyState: [allRolledOut(SERVICES)],

  fault: {
    title: "a bad release of each service, one cause each",
    plan: [
      `kubectl set env deployment/payments CONFIG_FILE=/etc/payments/config.yaml   # the file is never mounted`,
      `kubectl patch deployment/orders   # envFrom: configMapRef orders-settings, which does not exist`,
      `kubectl set image deployment/catalog app=${APP}.1   # a tag that was never pushed`,
      `kubectl set env deployment/search STARTUP_SECONDS=20   # liveness: initialDelaySeconds 5, 3s × 2 failures`,
      `kubectl patch deployment/notifier   # command: sh -c "exec /app/notifier-server" (no such binary)`,
    ],
    async inject(ctx) {
      await apply(ctx, ...SERVICES.map((a) => a.broken));
      ctx.evidence("fault", `rolled out the broken release of ${APPS.join(", ")}`);
    },
  },

  symptoms: {
    within: "3m",
    expect: [
      containerExited(payments, 1),
      containerWaiting(payments, "CrashLoopBackOff"),
      backOffGrows(payments, 3),
      containerWaiting(orders, "CreateContainerConfigError"),
      eventSeen(orders, "Failed", /configmap "orders-settings" not found/),
      containerWaiting(catalog, /^(ErrImagePull|ImagePullBackOff)$/),
      eventSeen(search, "Unhealthy", /Liveness probe failed/),
      eventSeen(search, "Killing", /failed liveness probe/),
      restartedAtLeast(search, 1),
      containerExited(notifier, 127),
      backOffGrows(notifier, 3),
    ],
  },

  runbook: [
    step("list the pods", kubectl`get pods -o wide`),
    step(
      "describe each failing pod (state, last state, exit code)",
      forEach(failingPod, (pod) => kubectl.look`describe pod ${pod}`.keep((out) => head(describeVerdict(out)))),
    ),
    step(
      "read the log of the previous crash",
      forEach(failingPod, (pod) => kubectl.look`logs ${pod} --previous --tail=20`.keep(head)),
    ),
    step(
      "read the pod's events in order",
      forEach(failingPod, (pod) => kubectl.look`get events --field-selector=involvedObject.name=${pod} --sort-by=.lastTimestamp`.keep(head)),
    ),
    step(
      "name each cause from its exit code or reason",
      "exit 1: application error · 127: binary not found · 126: permission · 137: OOMKilled/SIGKILL\n" +
        "CreateContainerConfigError: missing ConfigMap/Secret · ErrImagePull: image · Killing (liveness): probe too early",
      async (ctx) => {
        const rows: string[] = [];
        const causes = new Map<string, string>();
        for (const app of SERVICES) {
          const { cause, evidence } = await classify(ctx, app);
          causes.set(app.app, cause);
          rows.push(`${app.app.padEnd(9)} ${cause.padEnd(34)} ${evidence}`);
        }
        ctx.found.set(CAUSES, causes);
        return rows.join("\n");
      },
    ),
    fixFor("application error", "roll back the release that exits 1", "kubectl rollout undo deployment/<app>", (ctx, app) => rollBack(ctx, app)),
    fixFor(
      "missing reference",
      "create the ConfigMap the pod refers to",
      "kubectl create configmap <name from the event> --from-literal=…",
      async (ctx, app) => {
        const pods = await failingPods(ctx, app);
        const message =
          pods
            .flatMap((p) => p.status?.containerStatuses ?? [])
            .map((s) => s.state?.waiting?.message ?? "")
            .find((m) => /configmap ".+" not found/.test(m)) ?? "";
        const name = /configmap "(.+)" not found/.exec(message)?.[1];
        if (!name) throw new Error(`no missing ConfigMap named in the pod status: ${message || "no message"}`);
        await apply(ctx, { apiVersion: "v1", kind: "ConfigMap", metadata: { name }, data: { LOG_LEVEL: "info" } } as never);
        return `configmap/${name} created`;
      },
    ),
    fixFor("image cannot be pulled", "point the image at a tag that exists", `kubectl set image deployment/<app> app=${APP}`, (ctx, app) =>
      kubectlIn(ctx, "set", "image", `deployment/${app.app}`, `app=${imageRef(ctx, APP)}`),
    ),
    fixFor(
      "liveness probe kills a slow start",
      "give the slow starter a startup probe",
      "kubectl patch deployment/<app>   # startupProbe: /healthz every 2s, up to 60s",
      (ctx, app) => kubectlPatch(ctx, `deployment/${app.app}`, appContainerPatch({ startupProbe: { ...healthz, periodSeconds: 2, failureThreshold: 30 } })),
    ),
    fixFor(
      "binary not found",
      "fix the command to name the binary the image has",
      `kubectl patch deployment/<app>   # command: sh -c "exec /app/server"`,
      (ctx, app) => kubectlPatch(ctx, `deployment/${app.app}`, appContainerPatch({ command: ["/bin/sh", "-c", "exec /app/server"] })),
    ),
    step(
      "wait for every rollout",
      "kubectl rollout status deployment/<app> --timeout=2m",
      async (ctx) => {
        const out: string[] = [];
        for (const app of SERVICES) out.push(await waitRolledOut(ctx, app, "2m"));
        return out.join("\n");
      },
      "6m",
    ),
  ],
  decisiveStep: "roll back the release that exits 1",

  verify: {
    within: "3m",
    expect: [allRolledOut(SERVICES)],
  },
});
