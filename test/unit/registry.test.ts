import { mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { loadAll, loadScenario, scenarioIds } from "../../harness/engine/registry.js";
import { ownClusterReason } from "../../harness/engine/suite.js";

const HARNESS = path.resolve(import.meta.dirname, "../../harness");

describe("scenario registry", () => {
  it("loads every scenario in scenarios/, and each file's name is its id", async () => {
    const ids = scenarioIds();
    expect(ids).toContain("etcd-port-conflict");
    for (const id of ids) expect((await loadScenario(id)).id).toBe(id);
  });

  it("gives a cluster of its own in pnpm suite to a run that measures the disk or changes its nodes, and to no other", async () => {
    const own = (await loadAll()).filter((s) => ownClusterReason(s)).map((s) => `${s.id}: ${ownClusterReason(s)}`);
    expect(own).toEqual([
      "apiserver-client-flood: a run that measures the machine (disk, API latency) has it to itself",
      "etcd-disk-iops: a run that measures the machine (disk, API latency) has it to itself",
      "node-disk-pressure: a run whose setup changes its nodes (the worker's kubelet data on a 1024 MiB tmpfs, eviction below 30% free) gets a cluster of its own",
    ]);
  });

  it("rejects a file whose id differs from its name, in one line", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "scenarios-"));
    writeFileSync(path.join(dir, "wrong-name.ts"), `export default { id: "other", symptomsBudgetMs: 1, tags: [] };\n`);
    await expect(loadScenario("wrong-name", dir)).rejects.toThrow('scenarios/wrong-name.ts declares id "other"; the file name and the id must match');
  });

  it("rejects a file that does not export a defined scenario", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "scenarios-"));
    writeFileSync(path.join(dir, "plain-object.ts"), `export default { id: "plain-object" };\n`);
    await expect(loadScenario("plain-object", dir)).rejects.toThrow("scenarios/plain-object.ts must export default defineScenario({...})");
  });

  it("reports an invalid definition with the field at fault", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "scenarios-"));
    writeFileSync(
      path.join(dir, "no-symptoms.ts"),
      `import { defineScenario } from ${JSON.stringify(path.join(HARNESS, "kit", "index.ts"))};
export default defineScenario({ id: "no-symptoms", title: "t", summary: "s", source: { incident: "001", section: "x" }, tags: [],
  cluster: { controlPlanes: 1, workers: 0 }, setup: [], steadyState: [], fault: { title: "f", plan: [], inject: async () => {} },
  symptoms: { within: "1m", expect: [] }, runbook: [], verify: { within: "1m", expect: [] } });\n`,
    );
    await expect(loadScenario("no-symptoms", dir)).rejects.toThrow("scenario no-symptoms: symptoms.expect needs at least one signature");
  });
});
