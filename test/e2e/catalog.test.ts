import os from "node:os";
import { describe, expect, it } from "vitest";
import { loadScenario } from "../../harness/registry.js";
import type { Scenario } from "../../harness/scenario.js";
import { runOnKind } from "./helpers.js";

/**
 * Every scenario of the control-plane catalog must be able to fail in the two ways that matter: its
 * symptom checks do not pass on a cluster where the fault never happened, and its verification does not
 * pass when the runbook stops before the step that fixes things. (etcd-port-conflict has its own file.)
 * Budgets are shortened so each run ends soon after it has proven the point.
 */

/** How many runbook steps each scenario keeps when cut short: everything before the step that repairs. */
const CUT_SHORT: Record<string, { keep: number; missing: string }> = {
  "control-plane-manifests-lost": { keep: 2, missing: "the etcd manifest is never regenerated" },
  "etcd-disk-iops": { keep: 0, missing: "the I/O limit is never lifted" },
  "etcd-storage-lost": { keep: 1, missing: "the snapshot is never restored" },
  "worker-nodes-reset": { keep: 2, missing: "the workers never join again" },
  "control-plane-node-lost": { keep: 4, missing: "no replacement machine joins" },
  "control-plane-quorum-lost": { keep: 5, missing: "no replacement machines join" },
};

// Three control planes need about 6 GiB, as in ha.test.ts.
const skipHa = process.env.AFTERSHOCK_SKIP_HA === "1" || os.totalmem() < 8 * 2 ** 30;

describe.each(Object.entries(CUT_SHORT))("%s against a real cluster", (id, cut) => {
  it("ends as fault-not-reproduced when its fault is neutralised", async (t) => {
    const s = await loadScenario(id);
    if (skipHa && s.cluster.controlPlanes > 1) t.skip();
    const j = await runOnKind({
      ...s,
      fault: { title: `(neutralised) ${s.fault.title}`, plan: [], inject: async () => {} },
      symptomsBudgetMs: 45_000,
    });
    expect(j.outcome, j.reason).toBe("fault-not-reproduced");
    expect(j.exitCode).toBe(3);
    const symptoms = j.phases.find((p) => p.name === "symptoms")!;
    expect(symptoms.probes.filter((p) => !p.ok).length, "at least one signature never appeared").toBeGreaterThan(0);
    expect(j.phases.map((p) => p.name)).not.toContain("runbook");
  });

  it(`ends as not-recovered when its runbook is cut short (${cut.missing})`, async (t) => {
    const s = await loadScenario(id);
    if (skipHa && s.cluster.controlPlanes > 1) t.skip();
    expect(s.runbook.length).toBeGreaterThan(cut.keep);
    const j = await runOnKind({ ...s, runbook: s.runbook.slice(0, cut.keep), verifyBudgetMs: 60_000 });
    expect(j.outcome, j.reason).toBe("not-recovered");
    expect(j.exitCode).toBe(4);
    expect(j.phases.find((p) => p.name === "symptoms")!.status).toBe("passed");
    expect(j.phases.find((p) => p.name === "runbook")!.steps.map((x) => x.title)).toEqual(s.runbook.slice(0, cut.keep).map((x) => x.title));
    expect(j.phases.find((p) => p.name === "verify")!.status).toBe("failed");
    // The fault is still in place when the run ends; its rollback (if any) undoes it before deletion.
    if (s.fault.rollback) expect(j.phases.find((p) => p.name === "teardown")!.steps.map((x) => x.title)).toEqual([`rollback: ${s.fault.rollback.title}`]);
  });
});
