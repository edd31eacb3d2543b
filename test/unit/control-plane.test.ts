import { describe, expect, it } from "vitest";
import { FakeClock } from "./fake-clock.js";
import type { V1Deployment, V1Pod } from "@kubernetes/client-node";
import type { ClusterAccess } from "../../clusters/contract.js";
import type { KubeApi } from "../../clusters/kube.js";
import { deletedPodReplaced, newDeploymentFilled, newPodScheduled } from "../../harness/kit/control-plane/control-plane.js";
import type { Clock } from "../../clusters/wait.js";
import { Found, type ScenarioContext } from "../../harness/model/context.js";
import { app } from "../../harness/kit/targets.js";

/** Wall time that advances only when a probe sleeps: the 15 s grace is tested without waiting. */
const clockAt = () => new FakeClock(Date.parse("2026-06-01T10:00:00Z"));

/**
 * A pretend API server with pretend controllers. Healthy, the scheduler gives a pod a node 1.4 s after it is
 * created, the controller manager gives a Deployment (or a worker Deployment short of pods) its pods 0.8 s
 * after, and those pods are Ready 2 s after they exist. Broken (scheduler and controller manager stopped),
 * nothing of that happens. Every API call first lets the controllers catch up with the clock.
 */
function fakeCluster(healthy: boolean) {
  const clock = clockAt();
  const pods = new Map<string, V1Pod>();
  const deployments = new Map<string, V1Deployment>();
  const calls: string[] = [];
  /** When each app last lost a pod: its controller replaces it 0.8 s later. */
  const lostAt = new Map<string, number>();
  let serial = 0;
  const gone = () => Object.assign(new Error("not found"), { code: 404 });
  const at = (o: { metadata?: { creationTimestamp?: Date } }) => o.metadata!.creationTimestamp!.getTime();
  const podOf = (name: string, app?: string, created = clock.now()): V1Pod => ({
    metadata: { name, labels: app ? { app } : {}, creationTimestamp: new Date(created) },
    spec: { containers: [] },
    status: { phase: "Pending" },
  });
  const catchUp = () => {
    if (!healthy) return;
    const now = clock.now();
    for (const [name, d] of deployments) {
      const mine = [...pods.values()].filter((p) => p.metadata?.labels?.app === name);
      const since = Math.max(at(d), lostAt.get(name) ?? 0);
      for (let i = mine.length; i < (d.spec?.replicas ?? 1) && now >= since + 800; i++) {
        const p = podOf(`${name}-${(serial++).toString(36)}`, name, since + 800);
        pods.set(p.metadata!.name!, p);
      }
    }
    for (const p of pods.values()) {
      if (!p.spec!.nodeName && now >= at(p) + 1400) p.spec!.nodeName = "as-1-worker";
      if (now >= at(p) + 2000) p.status = { phase: "Running", conditions: [{ type: "Ready", status: "True" }] };
    }
  };
  const call = (what: string) => {
    calls.push(what);
    catchUp();
  };
  const api = {
    core: {
      readNamespacedPod: async ({ name }: { name: string }) => {
        call(`read pod ${name}`);
        if (!pods.has(name)) throw gone();
        return structuredClone(pods.get(name)!);
      },
      createNamespacedPod: async ({ body }: { body: V1Pod }) => {
        call(`create pod ${body.metadata!.name}`);
        const p = { ...podOf(body.metadata!.name!), spec: { ...body.spec! } };
        pods.set(body.metadata!.name!, p);
        return structuredClone(p);
      },
      listNamespacedPod: async ({ labelSelector }: { labelSelector: string }) => {
        call(`list pods ${labelSelector}`);
        const app = labelSelector.replace(/^app=/, "");
        return { items: [...pods.values()].filter((p) => p.metadata?.labels?.app === app).map((p) => structuredClone(p)) };
      },
      deleteNamespacedPod: async ({ name }: { name: string }) => {
        call(`delete pod ${name}`);
        const app = pods.get(name)?.metadata?.labels?.app;
        if (!pods.delete(name)) throw gone();
        if (app) lostAt.set(app, clock.now());
        return {};
      },
    },
    apps: {
      readNamespacedDeployment: async ({ name }: { name: string }) => {
        call(`read deployment ${name}`);
        if (!deployments.has(name)) throw gone();
        return structuredClone(deployments.get(name)!);
      },
      createNamespacedDeployment: async ({ body }: { body: V1Deployment }) => {
        call(`create deployment ${body.metadata!.name}`);
        const d = { ...body, metadata: { ...body.metadata, creationTimestamp: new Date(clock.now()) } };
        deployments.set(body.metadata!.name!, d);
        return structuredClone(d);
      },
    },
  } as unknown as KubeApi;
  const cluster: ClusterAccess = {
    name: "as-1",
    runId: "00000001",
    kubernetesVersion: "v1.29.15",
    kubeconfigPath: "/dev/null",
    api,
    kubectl: async () => {
      throw new Error("kubectl is not used by these probes");
    },
  };
  const ctx: ScenarioContext = { cluster, clock, found: new Found(), evidence: () => {}, namespace: "run-ns", logsSince: clock.now() };
  /** A running two-replica Deployment `app` whose pods are old, Ready and placed. */
  const running = (app: string) => {
    const old = clock.now() - 600_000;
    deployments.set(app, { metadata: { name: app, creationTimestamp: new Date(old) }, spec: { replicas: 2, selector: {}, template: {} } });
    for (const n of [`${app}-a`, `${app}-b`]) {
      pods.set(n, {
        ...podOf(n, app, old),
        spec: { containers: [], nodeName: "as-1-worker" },
        status: { phase: "Running", conditions: [{ type: "Ready", status: "True" }] },
      });
    }
  };
  return { ctx, clock, calls, running };
}

/** Runs one evaluation and says how long it took on the fake clock. */
async function timed(c: ReturnType<typeof fakeCluster>, check: (ctx: ScenarioContext) => Promise<{ ok: boolean; observed: string }>) {
  const t = c.clock.now();
  const o = await check(c.ctx);
  return { ...o, tookMs: c.clock.now() - t };
}

describe("control-plane work probes decide within one evaluation", () => {
  it("new pods stay Pending: on a healthy cluster, unmet because the pod got a node (not because it was just created)", async () => {
    const c = fakeCluster(true);
    const o = await timed(c, newPodScheduled("unscheduled").check);
    expect(o.ok).toBe(false);
    expect(o.observed).toMatch(/^pod late-pod-\w+: Running on as-1-worker after 2\.0s$/);
    expect(o.observed).not.toMatch(/created/);
    expect(o.tookMs).toBeLessThan(3000);
  });

  it("new pods stay Pending: on a broken cluster, met once the pod has had no node for the whole grace, and no later", async () => {
    const c = fakeCluster(false);
    const o = await timed(c, newPodScheduled("unscheduled").check);
    expect(o).toMatchObject({ ok: true, observed: expect.stringMatching(/^pod late-pod-\w+: Pending, no node after 15\.0s$/) });
    expect(o.tookMs).toBeGreaterThanOrEqual(15_000);
    expect(o.tookMs).toBeLessThanOrEqual(16_000);
    // Cheap: one look a second, not a busy loop.
    expect(c.calls.filter((x) => x.startsWith("read pod")).length).toBeLessThanOrEqual(18);
  });

  it("new pods are scheduled: met on a healthy cluster, unmet on a broken one; a pod older than the grace gets one look", async () => {
    const healthy = fakeCluster(true);
    expect(await timed(healthy, newPodScheduled("scheduled").check)).toMatchObject({
      ok: true,
      observed: expect.stringMatching(/on as-1-worker after 2\.0s$/),
    });

    const broken = fakeCluster(false);
    expect(await timed(broken, newPodScheduled("scheduled").check)).toMatchObject({ ok: false, observed: expect.stringMatching(/no node after 15\.0s$/) });
    // The same window asked again (verify-fails after the symptoms, or a waitFor repeat): decided at once.
    const again = await timed(broken, newPodScheduled("scheduled").check);
    expect(again).toMatchObject({ ok: false, tookMs: 0 });
    expect(broken.calls.filter((x) => x.startsWith("create pod"))).toHaveLength(1);
  });

  it("new Deployments get no pods: unmet on a healthy cluster as soon as pods exist, met on a broken one after the grace", async () => {
    const healthy = await timed(fakeCluster(true), newDeploymentFilled("empty").check);
    expect(healthy).toMatchObject({ ok: false, observed: expect.stringMatching(/^deployment late-deploy-\w+: 2 pods, 0 Ready after 1\.0s$/) });

    const broken = await timed(fakeCluster(false), newDeploymentFilled("empty").check);
    expect(broken).toMatchObject({ ok: true, observed: expect.stringMatching(/: 0 pods, 0 Ready after 15\.0s$/) });
    expect(broken.tookMs).toBeLessThanOrEqual(16_000);
  });

  it("new Deployments get pods: met on a healthy cluster once they are Ready, unmet on a broken one", async () => {
    expect(await timed(fakeCluster(true), newDeploymentFilled("filled").check)).toMatchObject({
      ok: true,
      observed: expect.stringMatching(/: 2 pods, 2 Ready after 3\.0s$/),
    });
    expect(await timed(fakeCluster(false), newDeploymentFilled("filled").check)).toMatchObject({
      ok: false,
      observed: expect.stringMatching(/: 0 pods, 0 Ready after 15\.0s$/),
    });
  });

  it("deleted pods are not replaced: unmet on a healthy cluster naming the replacement, met on a broken one after the grace", async () => {
    const h = fakeCluster(true);
    h.running("worker");
    const healthy = await timed(h, deletedPodReplaced(app("worker"), "not-replaced").check);
    expect(healthy).toMatchObject({
      ok: false,
      observed: expect.stringMatching(/^deleted worker-a; after 1\.0s: replaced by worker-\w+; 2\/2 pods, 1 Ready$/),
    });

    const b = fakeCluster(false);
    b.running("worker");
    const broken = await timed(b, deletedPodReplaced(app("worker"), "not-replaced").check);
    expect(broken).toMatchObject({ ok: true, observed: "deleted worker-a; after 15.0s: no replacement; 1/2 pods, 1 Ready" });
    expect(broken.tookMs).toBeLessThanOrEqual(16_000);
    expect(b.calls.filter((x) => x.startsWith("delete pod"))).toEqual(["delete pod worker-a"]);
  });

  it("deleted pods are replaced: met on a healthy cluster once back at its replicas, unmet on a broken one", async () => {
    const h = fakeCluster(true);
    h.running("worker");
    expect(await timed(h, deletedPodReplaced(app("worker"), "replaced").check)).toMatchObject({
      ok: true,
      observed: expect.stringMatching(/^deleted worker-a; after 3\.0s: replaced by worker-\w+; 2\/2 pods, 2 Ready$/),
    });
    const b = fakeCluster(false);
    b.running("worker");
    const probe = deletedPodReplaced(app("worker"), "replaced");
    expect(await timed(b, probe.check)).toMatchObject({ ok: false, observed: "deleted worker-a; after 15.0s: no replacement; 1/2 pods, 1 Ready" });
    // Asked again in the same window: no second deletion, one look.
    expect(await timed(b, probe.check)).toMatchObject({ ok: false, tookMs: 0 });
    expect(b.calls.filter((x) => x.startsWith("delete pod"))).toHaveLength(1);
  });
});
