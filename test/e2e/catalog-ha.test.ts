import { describe, it } from "vitest";
import { loadAll } from "../../harness/registry.js";
import { expectCatalogRunPasses } from "./helpers.js";

/**
 * The catalog's three control-plane scenarios that lose machines, once each, end to end on their own real
 * clusters (about 1.5 GiB each; hosts with less than 8 GiB can set AFTERSHOCK_SKIP_HA=1). One file, so two
 * such clusters never run at once, beside the single-control-plane files. etcd-disk-iops measures disk
 * latency and runs alone (catalog-alone.test.ts).
 */
const ids = (await loadAll()).filter((s) => s.cluster.controlPlanes === 3 && !s.tags.includes("performance")).map((s) => s.id);

describe.each(ids)("%s against a real cluster", (id) => {
  it("passes end to end, with both self-checks passed", async (t) => {
    await expectCatalogRunPasses(id, () => t.skip());
  });
});
