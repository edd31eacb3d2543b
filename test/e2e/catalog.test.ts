import { describe, it } from "vitest";
import { loadAll } from "../../harness/registry.js";
import { expectCatalogRunPasses } from "./helpers.js";

/**
 * Every single-control-plane scenario of the catalog, once, end to end on its own real cluster (the three
 * control-plane ones are in catalog-ha.test.ts and catalog-alone.test.ts; etcd-port-conflict in keep.test.ts). Each run carries its
 * own proof that its probes can tell broken from healthy (the two self-checks); the variants that must fail
 * (fault neutralised, runbook cut short) are the nightly `pnpm suite --prove`, and the outcome paths are
 * proven on etcd-port-conflict in outcomes.test.ts.
 */

// etcd-port-conflict runs through the CLI with --keep in keep.test.ts, as a user would.
// Namespace-scoped scenarios run as a suite on an existing cluster in existing.test.ts.
const ids = (await loadAll())
  .filter((s) => s.cluster.controlPlanes === 1 && s.id !== "etcd-port-conflict" && s.scope !== "namespace" && !s.tags.includes("performance"))
  .map((s) => s.id);

describe.each(ids)("%s against a real cluster", (id) => {
  it("passes end to end, with both self-checks passed", async (t) => {
    await expectCatalogRunPasses(id, () => t.skip());
  });
});
