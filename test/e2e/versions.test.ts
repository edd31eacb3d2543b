import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { DEFAULT_KUBERNETES_VERSION, profileFor } from "../../clusters/versions.js";
import { cli, expectSelfChecksPassed, leftovers, readJournal, root, runIdIn } from "./helpers.js";
import { OTHER_VERSION } from "./global-setup.js";

/**
 * The catalog runs on the default version (catalog*.test.ts); this runs a control-plane scenario on the other line
 * of versions through the CLI, as a user types it: a different kind, containerd and etcd under the same runbook.
 */
describe(`etcd-storage-lost on ${OTHER_VERSION} (the default is ${DEFAULT_KUBERNETES_VERSION})`, () => {
  it("passes end to end, the version in the console, journal and JUnit, the runbook's own etcdutl commands in the journal", async () => {
    const r = await cli(["scenario", "etcd-storage-lost", "--k8s-version", OTHER_VERSION], 20 * 60_000);
    expect(r.code, r.output.slice(-3000)).toBe(0);
    const profile = profileFor(OTHER_VERSION)!;
    expect(r.output).toContain(`Kubernetes ${OTHER_VERSION} (line ${profile.line}`);
    const runId = runIdIn(r.output);
    const j = readJournal("etcd-storage-lost", runId);
    expect(j.outcome).toBe("passed");
    expect(j.kubernetesVersion).toBe(OTHER_VERSION);
    expect(j.cluster?.kubernetesVersion).toBe(OTHER_VERSION);
    expectSelfChecksPassed(j);
    const steps = j.phases.find((p) => p.name === "runbook")!.steps;
    expect(steps.every((s) => s.ok)).toBe(true);
    // What the runbook ran, from the node: etcdutl's own answers (a table of the snapshot, then the restored member).
    expect(steps.find((s) => s.title === "check the snapshot")?.output).toMatch(/HASH.*REVISION.*TOTAL KEYS/s);
    const junit = readFileSync(path.join(root, "reports", `etcd-storage-lost-${runId}`, "junit.xml"), "utf8");
    expect(junit).toContain(`<property name="kubernetesVersion" value="${OTHER_VERSION}"/>`);
    expect(await leftovers(runId)).toEqual([]);
  });
});
