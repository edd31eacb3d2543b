import { beforeAll, describe, expect, it } from "vitest";
import { loadAll } from "../../harness/engine/registry.js";
import type { RunJournal } from "../../harness/engine/journal.js";
import { expectCatalogJournalPasses, runCatalogShared } from "./helpers.js";

/**
 * Every single-control-plane scenario of the catalog, once, end to end, as `pnpm suite` runs them: one real
 * cluster per shape, shared by the runs of that shape after its health gate (the three control-plane ones are
 * in catalog-ha.test.ts and catalog-alone.test.ts; etcd-port-conflict in keep.test.ts). Each run carries its own
 * proof that its probes can tell broken from healthy (the two self-checks), on a shared cluster as on a new one;
 * the variants that must fail (fault neutralised, runbook cut short) are the nightly `pnpm suite --prove`, and the
 * outcome paths are proven on etcd-port-conflict in outcomes.test.ts.
 */

// etcd-port-conflict runs through the CLI with --keep in keep.test.ts, as a user would.
// Namespace-scoped scenarios run as a suite on an existing cluster in existing.test.ts.
const scenarios = (await loadAll()).filter(
  (s) => s.cluster.controlPlanes === 1 && s.id !== "etcd-port-conflict" && s.scope !== "namespace" && !s.tags.includes("performance"),
);

describe("the single-control-plane catalog as one suite, clusters shared by shape", () => {
  let journals: RunJournal[] = [];
  beforeAll(async () => {
    journals = await runCatalogShared(scenarios);
  }, 60 * 60_000);

  it.each(scenarios.map((s) => [s.id, s] as const))("%s passes end to end, with both self-checks passed", (_id, s) => {
    expectCatalogJournalPasses(
      s,
      journals.find((j) => j.scenario.id === s.id),
    );
  });

  it("made one cluster per shape: every later run of a shape had the health gate passed on the shared one", () => {
    const shapes = new Set(scenarios.map((s) => `${s.cluster.controlPlanes}+${s.cluster.workers}`));
    // A run the shared cluster could not start healthy runs again on a new one ("created after an attempt …"): not a
    // cluster made for its shape, and a failure of that scenario's own test above (expectCatalogJournalPasses).
    const made = journals.filter((j) => j.cluster?.shared === "created for this run");
    expect(made.length, journals.map((j) => `${j.scenario.id}: ${j.cluster?.shared}`).join("\n")).toBe(shapes.size);
    expect(journals.filter((j) => j.cluster?.shared?.startsWith("health gate passed")).length).toBeGreaterThan(0);
  });
});
