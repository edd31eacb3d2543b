import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import type { RunJournal } from "../../harness/engine/journal.js";
import { cli, leftovers, shopCopy } from "./helpers.js";

/**
 * A team's own workload under an incident, as a team runs it: `pnpm scenario etcd-port-conflict --workload
 * examples/shop` (a web front of two replicas with a PodDisruptionBudget, and the store it depends on). The
 * runbook's verdict is the cluster's; the workload gets its own, in the console, the journal and JUnit.
 */
describe("pnpm scenario etcd-port-conflict --workload examples/shop", () => {
  it("passes, deploys the workload in place of the demo, and judges its SLO apart", async () => {
    const r = await cli(["scenario", "etcd-port-conflict", "--workload", "examples/shop", "--reporter", "console,json,junit"]);
    expect(r.code, r.output.slice(-3000)).toBe(0);
    expect(r.output).toMatch(/^ {2}workload shop \(Service web\): SLO HELD \(does not fail the run\)$/m);
    const jsonFile = /(reports\/[a-z0-9-]+\/journal\.json)/.exec(r.output)![1]!;
    const j = JSON.parse(readFileSync(jsonFile, "utf8")) as RunJournal;
    expect(j.outcome).toBe("passed");
    expect(j.workload?.slos.map((s) => `${s.window}:${s.ok}`)).toEqual(["before:true", "during:true", "after:true"]);
    expect(j.workload?.pods).toMatchObject({ before: 4, after: 4, replaced: [] });
    expect(j.workload?.pods.pdbs).toEqual([{ name: "web", desiredHealthy: 1, currentHealthy: 2, held: true }]);
    // Its users' traffic ran through the fault: a second-by-second series across before, during and after.
    const shop = j.load!.find((l) => l.name === "shop")!;
    expect(shop.target).toMatch(/^GET http:\/\/\S+:\d+\/cart$/);
    expect(shop.windows.during!.requests).toBeGreaterThan(0);
    // The demo Service it replaced was never deployed.
    expect(j.phases.find((p) => p.name === "setup")!.steps.map((s) => s.title)).not.toContain("Service shop: 2 echo pods");
    const junit = readFileSync(jsonFile.replace(/journal\.json$/, "junit.xml"), "utf8");
    for (const w of ["before", "during", "after"]) expect(junit).toContain(`name="workload shop: SLO ${w}"`);
    expect(await leftovers(j.runId)).toEqual([]);
  });
});

/**
 * The same example with one web replica instead of two, under node-notready-failover: the kubelet stops on the
 * node that runs it, and its users are cut off until the 30 s toleration runs out and the pod starts elsewhere.
 * The runbook still passes (the cluster recovers); the workload breaches its "during" SLO, and with
 * --fail-on-workload-slo the exit code says so (8).
 */
describe("pnpm scenario node-notready-failover --workload (one web replica) --fail-on-workload-slo", () => {
  it("passes the runbook, breaches the workload's SLO during the fault, and exits 8", async () => {
    const dir = shopCopy({ "k8s/web.yaml": (t) => t.replace("replicas: 2", "replicas: 1") });
    const r = await cli(["scenario", "node-notready-failover", "--workload", dir, "--fail-on-workload-slo", "--reporter", "console,json"]);
    expect(r.code, r.output.slice(-3000)).toBe(8);
    const j = JSON.parse(readFileSync(/(reports\/[a-z0-9-]+\/journal\.json)/.exec(r.output)![1]!, "utf8")) as RunJournal;
    expect(j.outcome).toBe("passed");
    expect(j.workload?.held).toBe(false);
    expect(j.workload?.slos.find((s) => s.window === "during")?.ok).toBe(false);
    expect(j.workload?.errorWindowMs).toBeGreaterThan(5000);
    // The fault hit the node that ran the workload's pod, and the pod was replaced on another node.
    expect(j.evidence.find((e) => e.source === "fault")?.text).toMatch(/^kubelet stopped on \S+/);
    expect(j.workload?.pods.rescheduled.length).toBeGreaterThan(0);
    expect(await leftovers(j.runId)).toEqual([]);
  });
});

/**
 * A workload that never becomes ready (its web pods probe readiness on a port nothing listens on, readyWithin
 * 20s): known only once it is deployed, so the run is aborted at its steady state (exit 6), says which object was
 * not ready, and leaves nothing behind.
 */
describe("pnpm scenario etcd-port-conflict --workload (never ready)", () => {
  it("aborts at the steady state, naming the object that was not ready, and leaves nothing behind", async () => {
    const dir = shopCopy({
      "k8s/web.yaml": (t) => t.replace("httpGet: { path: /healthz, port: 8080 }", "httpGet: { path: /healthz, port: 9999 }"),
      "aftershock.yaml": (t) => t.replace(/^readyWithin: 2m/m, "readyWithin: 20s"),
    });
    const r = await cli(["scenario", "etcd-port-conflict", "--workload", dir, "--reporter", "console,json"]);
    expect(r.code, r.output.slice(-3000)).toBe(6);
    const j = JSON.parse(readFileSync(/(reports\/[a-z0-9-]+\/journal\.json)/.exec(r.output)![1]!, "utf8")) as RunJournal;
    expect(j.outcome).toBe("aborted");
    expect(j.reason).toMatch(/^steady state not met before the fault: workload shop: pods ready: .*Deployment\/web not ready within readyWithin 20\.0s/);
    // The fault was never injected.
    expect(j.phases.map((p) => p.name)).not.toContain("inject");
    expect(await leftovers(j.runId)).toEqual([]);
  });
});
