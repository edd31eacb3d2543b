import { describe, expect, it } from "vitest";
import { awayFrom } from "../../clusters/in-cluster-sides.js";

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
