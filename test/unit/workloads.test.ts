import { describe, expect, it } from "vitest";
import type { V1Deployment } from "@kubernetes/client-node";
import { nodeShell, restrictTo, type ClusterAccess } from "../../clusters/contract.js";
import type { KubeApi } from "../../clusters/kube.js";
import { backOffDelays, type Termination } from "../../harness/namespace-watch.js";
import { kubeSystemReady, nodesReady } from "../../harness/probes.js";
import { defineScenario, step } from "../../harness/scenario.js";
import { rolloutState } from "../../harness/workloads.js";
import type { ScenarioContext } from "../../harness/types.js";

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
  found: {},
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
      symptoms: { within: "1m", expect: [nodesReady()] },
      runbook: [step("s", "s", async () => {})],
      verify: { within: "1m", expect: [nodesReady()] },
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
