import { describe, expect, it } from "vitest";
import { awayFrom, inClusterSideContainers } from "../../clusters/in-cluster-sides.js";
import type { KubeApi } from "../../clusters/kube.js";
import { pendingTeardowns } from "../../clusters/teardown.js";

describe("an in-cluster side pod kept off the nodes a fault takes away", () => {
  it("asks nothing of the scheduler when no node is named", () => {
    expect(awayFrom(undefined)).toEqual({});
    expect(awayFrom([])).toEqual({});
  });

  it("requires any node but the named ones (by Node name, not a hostname label) and may run on a control plane", () => {
    const spec = awayFrom(["w1"]);
    expect(spec.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms).toEqual([
      { matchFields: [{ key: "metadata.name", operator: "NotIn", values: ["w1"] }] },
    ]);
    expect(spec.tolerations).toEqual([{ key: "node-role.kubernetes.io/control-plane", operator: "Exists", effect: "NoSchedule" }]);
  });
});

describe("a started side pod released by its scope", () => {
  it("is deleted, and off the Ctrl-C teardown, when the scope that holds it with `await using` ends", async () => {
    const calls: string[] = [];
    const api = {
      core: {
        createNamespacedPod: async (o: { namespace: string; body: { metadata: { name: string } } }) => void calls.push(`create ${o.body.metadata.name}`),
        readNamespacedPod: async () => ({ status: { phase: "Running" } }),
        deleteNamespacedPod: async (o: { name: string }) => void calls.push(`delete ${o.name}`),
      },
      follow: async (_path: string, onLine: (l: string) => void) => {
        onLine('{"timestamp":1}');
        return { stop: () => void calls.push("follow stopped") };
      },
    } as unknown as KubeApi;
    const sides = inClusterSideContainers({ api, runId: "0123abcd", imageRef: (r) => r, publish: async () => {} });
    const spec = { name: "load-web", image: "img", command: "true", namespace: "ns", ready: /timestamp/, readyBudget: "5s" as const, onLine: () => {} };
    {
      await using side = await sides.start(spec);
      expect(side.name).toBe("aftershock-load-web");
      expect(pendingTeardowns()).toContain("delete side pod ns/aftershock-load-web");
      expect(calls).toEqual(["create aftershock-load-web"]);
    }
    expect(calls).toEqual(["create aftershock-load-web", "follow stopped", "delete aftershock-load-web"]);
    expect(pendingTeardowns()).not.toContain("delete side pod ns/aftershock-load-web");
  });
});
