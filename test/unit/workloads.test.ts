import { describe, expect, it } from "vitest";
import type { KubernetesObject, V1Deployment, V1Service } from "@kubernetes/client-node";
import { CAPABILITIES, nodeShell, restrictTo, type ClusterAccess } from "../../clusters/contract.js";
import { existingCapabilities } from "../../clusters/existing.js";
import { KIND_CAPABILITIES } from "../../clusters/kind/provider.js";
import type { KubeApi } from "../../clusters/kube.js";
import { backOffDelays, type Termination } from "../../clusters/namespace-watch.js";
import { kubeSystemReady, nodesReady } from "../../harness/model/health.js";
import { defineScenario, SENTINEL_NAMESPACE } from "../../harness/model/scenario.js";
import { step } from "../../harness/kit/steps.js";
import { service as sentinelService, serviceAnswers, serviceDown } from "../../harness/kit/sentinels.js";
import {
  apply,
  containerExited,
  controlPlanesTakePods,
  deployment,
  ECHO_IMAGE,
  echoService,
  echoWorkload,
  endpointsEmpty,
  rolledOut,
  rolloutState,
  service,
  waitRolledOut,
} from "../../harness/kit/workloads/workloads.js";
import { ingress } from "../../harness/kit/workloads/ingress.js";
import { releaseIs } from "../../harness/kit/workloads/helm.js";
import { deleteRunNamespace } from "../../harness/engine/run-namespace.js";
import { FakeClock } from "./fake-clock.js";
import { Found, type ScenarioContext } from "../../harness/model/context.js";

/** A cluster whose API answers node and pod lists from fixtures; nothing runs. */
function apiCluster(nodes: [string, string][], pods: [string, string, boolean][], shellNodes?: string[]): ClusterAccess {
  const api = {
    core: {
      listNode: async () => ({ items: nodes.map(([name, ready]) => ({ metadata: { name }, status: { conditions: [{ type: "Ready", status: ready }] } })) }),
      listNamespacedPod: async () => ({
        items: pods.map(([name, phase, ready]) => ({
          metadata: { name },
          status: { phase, conditions: [{ type: "Ready", status: ready ? "True" : "False" }] },
        })),
      }),
    },
  } as unknown as KubeApi;
  const node = (name: string) => ({
    name,
    role: "worker" as const,
    exec: async () => {
      throw new Error("no");
    },
    sh: async () => {
      throw new Error("no");
    },
  });
  return {
    name: "c",
    runId: "00000001",
    kubernetesVersion: "v1.29.15",
    kubeconfigPath: "/dev/null",
    api,
    kubectl: async () => {
      throw new Error("kubectl is not used by typed probes");
    },
    ...(shellNodes ? { shell: { nodes: shellNodes.map(node), controlPlane: () => node(shellNodes[0]!), node } } : {}),
  };
}
const ctxOf = (cluster: ClusterAccess): ScenarioContext => ({
  cluster,
  clock: { now: () => 0, sleep: async () => {} },
  found: new Found(),
  evidence: () => {},
  namespace: "default",
});

describe("typed health probes", () => {
  it("nodes Ready reads the Ready condition of every Node, and names nodes known out of band but absent from the API", async () => {
    expect(
      await nodesReady().check(
        ctxOf(
          apiCluster(
            [
              ["a", "True"],
              ["b", "True"],
            ],
            [],
          ),
        ),
      ),
    ).toEqual({ ok: true, observed: "2 Ready" });
    expect(
      await nodesReady().check(
        ctxOf(
          apiCluster(
            [
              ["a", "True"],
              ["b", "Unknown"],
            ],
            [],
          ),
        ),
      ),
    ).toEqual({ ok: false, observed: "b=Unknown" });
    expect(await nodesReady().check(ctxOf(apiCluster([["a", "True"]], [], ["a", "b"])))).toEqual({ ok: false, observed: "b=absent" });
  });

  it("kube-system Ready wants every pod Running with condition Ready", async () => {
    expect(
      (
        await kubeSystemReady().check(
          ctxOf(
            apiCluster(
              [],
              [
                ["etcd", "Running", true],
                ["dns", "Running", true],
              ],
            ),
          ),
        )
      ).ok,
    ).toBe(true);
    const o = await kubeSystemReady().check(
      ctxOf(
        apiCluster(
          [],
          [
            ["etcd", "Running", true],
            ["dns", "Pending", false],
          ],
        ),
      ),
    );
    expect(o).toEqual({ ok: false, observed: "not ready: dns Pending" });
    expect((await kubeSystemReady().check(ctxOf(apiCluster([], [])))).ok).toBe(false);
  });
});

describe("capabilities", () => {
  it("a scenario sees only the capabilities it declared", () => {
    const c = apiCluster([], [], ["n1"]);
    expect(restrictTo(c, ["node-shell"]).shell?.nodes.map((n) => n.name)).toEqual(["n1"]);
    const apiOnly = restrictTo(c, []);
    expect(apiOnly.shell).toBeUndefined();
    expect(() => nodeShell(apiOnly)).toThrow(/no node shell.*needs: \["node-shell"\]/);
    expect(apiOnly.api).toBe(c.api);
  });

  it("each provider declares what it offers: kind everything, an existing cluster what its registry and machines give", () => {
    expect([...KIND_CAPABILITIES].sort()).toEqual([...CAPABILITIES].sort());
    const inventory = { file: "nodes.yaml", nodes: [] };
    expect(existingCapabilities({})).toEqual([]);
    expect(existingCapabilities({ registry: "r:5000" })).toEqual(["image-loading", "load-generator"]);
    expect(existingCapabilities({ registry: "r:5000", inventory })).toEqual(["image-loading", "load-generator", "node-shell", "node-reboot"]);
    expect(existingCapabilities({ inventory })).not.toContain("node-lifecycle");
  });

  it("defineScenario rejects unknown capabilities, images without image-loading, and a bad scope", () => {
    const base = {
      id: "x",
      title: "t",
      summary: "s",
      source: { incident: "003", section: "1" },
      tags: [],
      cluster: { controlPlanes: 1 as const, workers: 0 },
      setup: [],
      steadyState: [],
      fault: { title: "f", plan: [], inject: async () => {} },
      symptoms: { within: "1m" as const, expect: [nodesReady()] },
      runbook: [step("s", "s", async () => {})],
      verify: { within: "1m" as const, expect: [nodesReady()] },
    };
    expect(() => defineScenario({ ...base, needs: ["telepathy" as never] })).toThrow(/needs names unknown capabilities: telepathy/);
    expect(() => defineScenario({ ...base, images: ["aftershock.local/app:v1"] })).toThrow(/images need the "image-loading" capability/);
    expect(() => defineScenario({ ...base, scope: "galaxy" as never })).toThrow(/scope must be/);
    const s = defineScenario(base);
    expect([s.needs, s.scope, s.images]).toEqual([[], "cluster", []]);
  });
});

describe("workload helpers", () => {
  const dep = (over: Partial<NonNullable<V1Deployment["status"]>>, generation = 2): V1Deployment => ({
    metadata: { generation, annotations: { "deployment.kubernetes.io/revision": "2" } },
    spec: { replicas: 1, selector: {}, template: {} },
    status: { observedGeneration: 2, replicas: 1, updatedReplicas: 1, availableReplicas: 1, ...over },
  });

  it("a rollout is done only when the latest generation is observed and the updated pods are the only ones, all available", () => {
    expect(rolloutState(dep({})).ok).toBe(true);
    // A new revision crash-looping beside the old pod: 2 pods, the updated one unavailable.
    const stuck = rolloutState(dep({ replicas: 2, updatedReplicas: 1, availableReplicas: 1, unavailableReplicas: 1 }));
    expect(stuck).toEqual({ ok: false, observed: "revision 2: 1/1 updated, 1 available, 2 total" });
    expect(rolloutState(dep({}, 3)).ok).toBe(false);
  });

  it("reads the kubelet's back-off from successive terminations of one container", () => {
    const at = (s: number) => new Date(Date.UTC(2026, 10, 24, 3, 0, s));
    const t = (start: number, end: number, n: number): Termination => ({
      pod: "p",
      container: "app",
      exitCode: 1,
      reason: "Error",
      startedAt: at(start),
      finishedAt: at(end),
      restartCount: n,
    });
    expect(backOffDelays([t(0, 1, 1), t(11, 12, 2), t(32, 33, 3)])).toEqual([10, 20]);
    expect(backOffDelays([t(0, 1, 1)])).toEqual([]);
  });
});

/**
 * A cluster that records what is written through the API (server-side apply, namespaces), reports every
 * Deployment rolled out, answers Service reads with `clusterIP` and curl on the control-plane node with
 * `curl`. kubectl fails: nothing here may go through it.
 */
function recordingCluster(o: { clusterIP?: string; serviceError?: unknown; curl?: string } = {}) {
  const applied: KubernetesObject[] = [];
  const calls: string[] = [];
  const api = {
    objects: {
      patch: async (body: KubernetesObject) => {
        applied.push(body);
        return body;
      },
    },
    core: {
      createNamespace: async ({ body }: { body: { metadata: { name: string } } }) => {
        calls.push(`create namespace ${body.metadata.name}`);
        if (calls.filter((c) => c === `create namespace ${body.metadata.name}`).length > 1) throw Object.assign(new Error("exists"), { code: 409 });
        return body;
      },
      readNamespacedService: async ({ name, namespace }: { name: string; namespace: string }) => {
        calls.push(`read service ${namespace}/${name}`);
        if (o.serviceError) throw o.serviceError;
        return { spec: { clusterIP: o.clusterIP ?? "10.96.0.42" } };
      },
    },
    apps: {
      readNamespacedDeployment: async ({ name, namespace }: { name: string; namespace: string }) => {
        calls.push(`read deployment ${namespace}/${name}`);
        const d = applied.find((a) => a.kind === "Deployment" && a.metadata?.name === name && a.metadata?.namespace === namespace) as V1Deployment | undefined;
        if (!d) throw Object.assign(new Error("not found"), { code: 404 });
        const n = d.spec?.replicas ?? 1;
        return { ...d, metadata: { ...d.metadata, generation: 1 }, status: { observedGeneration: 1, replicas: n, updatedReplicas: n, availableReplicas: n } };
      },
    },
  } as unknown as KubeApi;
  const cp = {
    name: "cp",
    role: "control-plane" as const,
    exec: async (argv: string[]) => {
      calls.push(`cp: ${argv.join(" ")}`);
      const out = o.curl ?? "echo ok\n200";
      return { command: argv.join(" "), stdout: out, stderr: "", exitCode: out.endsWith("200") ? 0 : 28, elapsedMs: 1 };
    },
    sh: async () => {
      throw new Error("no scripts");
    },
  };
  const cluster: ClusterAccess = {
    name: "c",
    runId: "00000001",
    kubernetesVersion: "v1.29.15",
    kubeconfigPath: "/dev/null",
    api,
    kubectl: async (args) => {
      throw new Error(`kubectl ${args.join(" ")}: everything goes through the typed API`);
    },
    shell: { nodes: [cp], controlPlane: () => cp, node: () => cp },
  };
  return { cluster, applied, calls };
}

/** ctxOf with a clock that moves on when slept on, so a wait that never holds runs out of budget at once. */
const ctxMoving = (cluster: ClusterAccess, over: Partial<ScenarioContext> = {}): ScenarioContext => {
  let t = 0;
  return { ...ctxOf(cluster), clock: { now: () => t, sleep: async (ms) => void (t += ms) }, ...over };
};

const byKind = <T extends KubernetesObject>(objects: KubernetesObject[], kind: string) => objects.filter((o) => o.kind === kind) as T[];

describe("the echo Service: one builder, the sentinel and the run's workload", () => {
  it("the Service selects the Deployment's pods and sends port 80 to the echo server's 8080", () => {
    const [d, s] = echoWorkload("web", 3);
    expect(d.spec?.replicas).toBe(3);
    expect(d.spec?.selector.matchLabels).toEqual({ app: "web" });
    expect(d.spec?.template.metadata?.labels).toEqual({ app: "web" });
    expect(s.spec?.selector).toEqual(d.spec?.template.metadata?.labels);
    expect(s.spec?.type ?? "ClusterIP").toBe("ClusterIP");
    const c = d.spec!.template.spec!.containers[0]!;
    expect(c.image).toBe(ECHO_IMAGE);
    expect(c.ports).toEqual([{ containerPort: 8080 }]);
    expect(c.readinessProbe?.httpGet).toEqual({ path: "/", port: 8080 });
    expect(s.spec?.ports).toEqual([{ name: "http", port: 80, targetPort: 8080 }]);
    // The writer chooses the namespace; a spread is not there unless asked.
    expect([d.metadata?.namespace, s.metadata?.namespace]).toEqual([undefined, undefined]);
    expect(d.spec?.template.spec?.topologySpreadConstraints).toBeUndefined();
  });

  it("the sentinel writes it through the API into the sentinels' namespace, creating it, and waits for the rollout there", async () => {
    const { cluster, applied, calls } = recordingCluster();
    const evidence: [string, string][] = [];
    const s = sentinelService("web", 2);
    expect(s.title).toBe("Service web backed by 2 echo pods");
    await s.write(ctxMoving(cluster, { evidence: (k, line) => void evidence.push([k, line]) }));
    expect(SENTINEL_NAMESPACE).toBe("aftershock-sentinels");
    expect(applied.map((o) => `${o.kind} ${o.metadata?.namespace}/${o.metadata?.name}`)).toEqual([
      "Deployment aftershock-sentinels/web",
      "Service aftershock-sentinels/web",
    ]);
    expect(calls).toContain("create namespace aftershock-sentinels");
    expect(calls).toContain("read deployment aftershock-sentinels/web");
    expect(calls.some((c) => c.includes(" default/"))).toBe(false);
    expect(evidence).toEqual([["sentinels", "service web with 2 echo pods rolled out"]]);
    const [d] = byKind<V1Deployment>(applied, "Deployment");
    expect(d!.spec?.replicas).toBe(2);
    expect(d!.spec?.template.spec?.topologySpreadConstraints).toBeUndefined();
    expect(byKind<V1Service>(applied, "Service")[0]!.spec?.selector).toEqual({ app: "web" });
    expect(s.probes().map((p) => [p.name, p.expectation, p.kind])).toEqual([["Service web answers", "HTTP 200 from http://<ClusterIP of web>/", "sentinel"]]);

    // A second write finds the namespace there (409) and goes on.
    await s.write(ctxMoving(cluster));
    expect(applied).toHaveLength(4);
  });

  it("spreadOverWorkers spreads the sentinel's pods over the nodes by hostname, and only when asked", async () => {
    const { cluster, applied } = recordingCluster();
    await sentinelService("web", 2, { spreadOverWorkers: true }).write(ctxMoving(cluster));
    expect(byKind<V1Deployment>(applied, "Deployment")[0]!.spec?.template.spec?.topologySpreadConstraints).toEqual([
      { maxSkew: 1, topologyKey: "kubernetes.io/hostname", whenUnsatisfiable: "ScheduleAnyway", labelSelector: { matchLabels: { app: "web" } } },
    ]);
    const off = recordingCluster();
    await sentinelService("web", 2, { spreadOverWorkers: false }).write(ctxMoving(off.cluster));
    expect(byKind<V1Deployment>(off.applied, "Deployment")[0]!.spec?.template.spec?.topologySpreadConstraints).toBeUndefined();
  });

  it("echoService writes the same objects into the run's namespace, and nothing into the sentinels'", async () => {
    const sentinel = recordingCluster();
    await sentinelService("shop", 2).write(ctxMoving(sentinel.cluster));
    const run = recordingCluster();
    const evidence: string[] = [];
    await echoService("shop", 2).write(ctxMoving(run.cluster, { namespace: "as-00000001-x", evidence: (_k, line) => void evidence.push(line) }));
    expect(run.applied.map((o) => o.metadata?.namespace)).toEqual(["as-00000001-x", "as-00000001-x"]);
    expect(run.calls.filter((c) => c.startsWith("create namespace"))).toEqual([]);
    expect(run.applied.map((o) => ({ ...o, metadata: { ...o.metadata, namespace: "-" } }))).toEqual(
      sentinel.applied.map((o) => ({ ...o, metadata: { ...o.metadata, namespace: "-" } })),
    );
    expect(evidence).toEqual(["deployment/shop rolled out: revision ?: 2/2 updated, 2 available, 2 total"]);
  });

  it("serviceAnswers reads the ClusterIP through the API and curls it from the control-plane node", async () => {
    const { cluster, calls } = recordingCluster({ clusterIP: "10.96.7.7", curl: "echo from web-abc\n200" });
    expect(await serviceAnswers(sentinelService("web", 1)).check(ctxOf(cluster))).toEqual({ ok: true, observed: "echo from web-abc" });
    expect(calls).toEqual(["read service aftershock-sentinels/web", "cp: curl -s --max-time 4 -o /dev/stdout -w \n%{http_code} http://10.96.7.7/"]);

    const down = recordingCluster({ curl: "\n000" });
    expect(await serviceAnswers(sentinelService("web", 1)).check(ctxOf(down.cluster))).toEqual({
      ok: false,
      observed: "curl exit 28, HTTP 000 from 10.96.0.42",
    });
    expect(await serviceDown(sentinelService("web", 1)).check(ctxOf(down.cluster))).toEqual({ ok: true, observed: "curl exit 28, HTTP 000 from 10.96.0.42" });
  });

  it("an API that does not answer is not a Service that is down: the read throws, and nothing is curled", async () => {
    const { cluster, calls } = recordingCluster({
      serviceError: Object.assign(new Error("x"), { code: 503, body: { message: "etcdserver: leader changed" } }),
    });
    await expect(serviceDown(sentinelService("web", 1)).check(ctxOf(cluster))).rejects.toThrow(
      "read Service aftershock-sentinels/web: API 503: etcdserver: leader changed",
    );
    expect(calls.some((c) => c.startsWith("cp:"))).toBe(false);
  });
});

describe("handles: builders return them, probes and steps take them", () => {
  const shop = deployment("shop", { image: ECHO_IMAGE }, { replicas: 2 });
  const shopService = service(shop, 80, 8080);

  it("the name is written once: the Service, an Ingress and the probes take it from the Deployment's handle", () => {
    expect(shopService.manifest.metadata?.name).toBe("shop");
    expect(shopService.manifest.spec?.selector).toEqual(shop.manifest.spec?.template.metadata?.labels);
    expect(ingress({ namespace: "ns" } as ScenarioContext, shopService, "/shop", 80).manifest.spec?.rules?.[0]?.http?.paths[0]?.backend.service?.name).toBe(
      "shop",
    );
    expect([rolledOut(shop).name, endpointsEmpty(shopService).expectation, containerExited(shop, 1).name]).toEqual([
      "shop rolled out",
      "Endpoints of shop: no ready address",
      "shop exited 1",
    ]);
    // Another release of the same Deployment takes its handle, not its name again.
    expect(deployment(shop, { image: "other" }).manifest.metadata).toEqual(shop.manifest.metadata);
  });

  it("apply() writes a handle's manifest, not the handle", async () => {
    const { cluster, applied } = recordingCluster();
    const ctx = ctxMoving(cluster, { namespace: "as-00000001-x" });
    await apply(ctx, shop, shopService);
    expect(applied.map((o) => [o.kind, o.metadata?.name, "manifest" in o])).toEqual([
      ["Deployment", "shop", false],
      ["Service", "shop", false],
    ]);
    expect(await waitRolledOut(ctx, shop)).toBe("deployment/shop rolled out: revision ?: 2/2 updated, 2 available, 2 total");
  });

  it("a mistyped name, or the wrong kind of handle, does not compile (pnpm typecheck)", () => {
    const wrong = () => [
      // @ts-expect-error a name is not a handle: "shp" cannot reach a probe
      rolledOut("shp"),
      // @ts-expect-error a Deployment's handle is not a Service's
      endpointsEmpty(shop),
      // @ts-expect-error a Service's handle is not a Deployment's
      containerExited(shopService, 1),
      // @ts-expect-error a Helm release is named once, by helmRelease(), and taken by handle
      releaseIs("blob-store", "deployed"),
    ];
    expect(typeof wrong).toBe("function");
  });
});

describe("deleteRunNamespace: the teardown of a run's namespace", () => {
  const status = (code: number, message: string) => Object.assign(new Error(message), { code, body: { message } });
  const ours = (deleting = false) => ({
    metadata: { name: "ns", labels: { "aftershock.io/run-id": "r1" }, ...(deleting ? { deletionTimestamp: new Date() } : {}) },
    status: { phase: deleting ? "Terminating" : "Active" },
  });
  /** An API whose reads and deletes answer from scripts, one entry a call (the last repeats); a function throws. */
  function scripted(reads: (object | Error)[], deletes: (object | Error)[] = [{}]) {
    const calls = { read: 0, delete: 0 };
    const next = async (list: (object | Error)[], i: number) => {
      const r = list[Math.min(i, list.length - 1)]!;
      if (r instanceof Error) throw r;
      return r;
    };
    const api = {
      core: {
        readNamespace: () => next(reads, calls.read++),
        deleteNamespace: () => next(deletes, calls.delete++),
      },
    } as unknown as KubeApi;
    return { api, calls };
  }

  it("reads again after the API's errors right after a recovery, deletes once, and waits until it is gone", async () => {
    const { api, calls } = scripted([status(503, "etcdserver: leader changed"), ours(), ours(true), status(404, "not found")]);
    const clock = new FakeClock();
    expect(await deleteRunNamespace(api, "ns", "r1", "1m", { clock })).toBe("namespace ns deleted in 3.0s");
    expect(calls).toEqual({ read: 4, delete: 1 });
  });

  it("sends the delete again when the API failed it, and never when the namespace is already terminating", async () => {
    const refused = scripted([ours(), ours(), ours(true), status(404, "gone")], [Object.assign(new Error("connect ECONNREFUSED"), {}), {}]);
    expect(await deleteRunNamespace(refused.api, "ns", "r1", "1m", { clock: new FakeClock() })).toMatch(/^namespace ns deleted in /);
    expect(refused.calls.delete).toBe(2);
    const terminating = scripted([ours(true), status(404, "gone")]);
    await deleteRunNamespace(terminating.api, "ns", "r1", "1m", { clock: new FakeClock() });
    expect(terminating.calls.delete).toBe(0);
  });

  it("says so when the namespace was already gone", async () => {
    const { api, calls } = scripted([status(404, "not found")]);
    expect(await deleteRunNamespace(api, "ns", "r1", "1m", { clock: new FakeClock() })).toBe("namespace ns already gone");
    expect(calls.delete).toBe(0);
  });

  it("leaves a namespace of another run alone, without retrying", async () => {
    const other = { metadata: { name: "ns", labels: { "aftershock.io/run-id": "r2" } } };
    const { api, calls } = scripted([other]);
    await expect(deleteRunNamespace(api, "ns", "r1", "1m", { clock: new FakeClock() })).rejects.toMatchObject({ code: "E_UNSAFE_TARGET" });
    expect(calls).toEqual({ read: 1, delete: 0 });
  });

  it("ends at its budget naming the last thing seen: the namespace's own conditions, or the API's error", async () => {
    const stuck = {
      ...ours(true),
      status: {
        phase: "Terminating",
        conditions: [{ type: "NamespaceContentRemaining", message: "Some resources are remaining: pods. has 1 resource instances" }],
      },
    };
    await expect(deleteRunNamespace(scripted([stuck]).api, "ns", "r1", "30s", { clock: new FakeClock() })).rejects.toThrow(
      /namespace ns gone within 30.0s; last seen: Terminating: Some resources are remaining: pods\. has 1 resource instances/,
    );
    await expect(
      deleteRunNamespace(scripted([status(500, "etcdserver: request timed out")]).api, "ns", "r1", "30s", { clock: new FakeClock() }),
    ).rejects.toThrow(/last seen: reading it: API 500: etcdserver: request timed out/);
  });
});

describe("control planes take pods", () => {
  it("removes kubeadm's taint through a read-modify-write that reads again on a conflict (409) instead of failing the setup", async () => {
    const taint = { key: "node-role.kubernetes.io/control-plane", effect: "NoSchedule" };
    const other = { key: "example.com/keep", effect: "NoSchedule" };
    const stored = { metadata: { name: "cp3", resourceVersion: "1" }, spec: { taints: [taint, other] } };
    const replaced: unknown[] = [];
    let conflicts = 2;
    const api = {
      core: {
        listNode: async () => ({ items: [structuredClone(stored)] }),
        readNode: async () => structuredClone({ ...stored, metadata: { ...stored.metadata, resourceVersion: String(3 - conflicts) } }),
        replaceNode: async (o: { body: { spec: { taints: unknown[] } } }) => {
          if (conflicts-- > 0) throw Object.assign(new Error("Conflict"), { code: 409 });
          replaced.push(o.body.spec.taints);
          return o.body;
        },
      },
    } as unknown as KubeApi;
    const cluster = { ...apiCluster([], []), api };
    const said: string[] = [];
    await controlPlanesTakePods().write({ ...ctxOf(cluster), evidence: (_: string, t: string) => void said.push(t) });
    expect(replaced).toEqual([[other]]);
    expect(said).toEqual(["kubectl taint nodes cp3 node-role.kubernetes.io/control-plane:NoSchedule-"]);
  });

  it("gives up on an error that is not a conflict", async () => {
    const api = {
      core: {
        listNode: async () => ({
          items: [{ metadata: { name: "cp1" }, spec: { taints: [{ key: "node-role.kubernetes.io/control-plane", effect: "NoSchedule" }] } }],
        }),
        replaceNode: async () => {
          throw Object.assign(new Error("Forbidden"), { code: 403 });
        },
      },
    } as unknown as KubeApi;
    await expect(controlPlanesTakePods().write(ctxOf({ ...apiCluster([], []), api }))).rejects.toThrow("Forbidden");
  });
});
