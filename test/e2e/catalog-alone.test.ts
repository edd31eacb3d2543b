import { beforeAll, describe, it } from "vitest";
import { loadAll } from "../../harness/engine/registry.js";
import { afterBackgroundBuilds, expectCatalogRunPasses } from "./helpers.js";

/**
 * Scenarios that measure performance (etcd-disk-iops: WAL fsync latency, slow API writes; apiserver-client-flood:
 * the API latency of a client beside a flood that takes both cores) run with no other cluster on the machine:
 * beside another one, a healthy etcd's fsync p99 was 32 ms and it logged missed heartbeats, which no verdict about
 * a throttled disk should depend on, and a flood would slow every other file's runs. This file runs in its own group.
 */
const ids = (await loadAll()).filter((s) => s.tags.includes("performance")).map((s) => s.id);

beforeAll(afterBackgroundBuilds);

describe.each(ids)("%s against a real cluster", (id) => {
  it("passes end to end, with both self-checks passed", async (t) => {
    await expectCatalogRunPasses(id, (why) => t.skip(why));
  });
});
