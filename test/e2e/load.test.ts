import { describe, expect, it } from "vitest";
import { cli, expectLoadRecorded, expectSelfChecksPassed, leftovers, readJournal, runIdIn } from "./helpers.js";
import { loadScenario } from "../../harness/engine/registry.js";
import { variantOf } from "../../harness/model/scenario.js";

/**
 * Load through a fault, as a user runs it: node-notready-failover's partition variant from the CLI. A
 * partition inside the node cuts the pod off at once, so users see errors from the first seconds, long
 * before the node is NotReady; the run's load container goes with the run. (The scenario itself, with the
 * kubelet stopped, runs in catalog.test.ts; the 300s default-toleration variant is nightly: pnpm suite.)
 */
describe("node-notready-failover --variant partition, under load", () => {
  it("passes; users see errors within seconds of the partition, until the pod fails over", async () => {
    const r = await cli(["scenario", "node-notready-failover", "--variant", "partition", "--reporter", "console,json,html"]);
    expect(r.code, r.output.slice(-3000)).toBe(0);
    const runId = runIdIn(r.output);
    const j = readJournal("node-notready-failover", runId);
    expect(j.variant).toEqual({ name: "variant partition", expected: "passed" });
    expectSelfChecksPassed(j);
    expectLoadRecorded(variantOf(await loadScenario("node-notready-failover"), "partition"), j);
    const web = j.load![0]!;
    const injectAt = j.phases.find((p) => p.name === "inject")!.startedAt;
    expect(web.windows.during!.firstErrorAtMs! - injectAt, "errors start at once, not after the 40s grace period").toBeLessThan(10_000);
    expect(web.errorWindowMs).toBeGreaterThan(20_000);
    expect(r.output).toMatch(/load web \(vegeta, 20\/s GET http:\/\/[\d.]+:\d+\/\): \d+\/\d+ ok, p99 \d+ms, error window \d/);
    expect(await leftovers(runId)).toEqual([]);
  });
});
