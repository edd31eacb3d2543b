import { describe, expect, it } from "vitest";
import { compareSuites, comparisonTable } from "../../bench/suite.js";
import type { RunJournal } from "../../harness/engine/journal.js";

function journal(id: string, cluster: string, o: Partial<RunJournal["timings"]> & { outcome?: RunJournal["outcome"] } = {}): RunJournal {
  const { outcome = "passed", ...timings } = o;
  return {
    runId: "0a1b2c3d",
    scenario: { id, title: "t", summary: "s", source: { incident: "002", section: "x" }, tags: [] },
    kubernetesVersion: "v1.29.15",
    cluster: { name: cluster, kubernetesVersion: "v1.29.15", nodes: [] },
    startedAt: 0,
    endedAt: 0,
    outcome,
    exitCode: 0,
    reason: "",
    phases: [],
    evidence: [],
    timings: { totalMs: 60_000, clusterCreateMs: 1_000, ...timings },
  };
}

describe("pnpm bench:suite", () => {
  it("puts each run's outcome, detect and recover with shared clusters beside the same run on a fresh one", () => {
    const shared = [
      journal("etcd-port-conflict", "as-1", { clusterCreateMs: 40_000, timeToDetectMs: 3_000, timeToRecoverMs: 20_000 }),
      journal("controllers-down", "as-1", { clusterCreateMs: 1_500, timeToDetectMs: 5_000, timeToRecoverMs: 30_000 }),
    ];
    const fresh = [
      journal("etcd-port-conflict", "as-2", { clusterCreateMs: 38_000, timeToDetectMs: 3_200, timeToRecoverMs: 21_000 }),
      journal("controllers-down", "as-3", { clusterCreateMs: 39_000, timeToDetectMs: 5_100, outcome: "not-recovered" }),
    ];
    const c = compareSuites(shared, fresh);
    expect(c.shared).toMatchObject({ runs: 2, clustersCreated: 1, createMs: 40_000, sharedRuns: 1, gateMs: 1_500 });
    expect(c.fresh).toMatchObject({ runs: 2, clustersCreated: 2, createMs: 77_000, sharedRuns: 0 });
    // The run key names a version other than the default, as the trends do.
    expect(c.runs.map((r) => [r.key, r.shared?.cluster, r.fresh?.cluster])).toEqual([
      ["etcd-port-conflict @ v1.29.15", "made", "made"],
      ["controllers-down @ v1.29.15", "shared", "made"],
    ]);
    const table = comparisonTable(c);
    expect(table).toContain("| controllers-down @ v1.29.15 | passed (shared) | 5.0s | 30.0s | not-recovered | 5.1s | – |");
    expect(table).toContain("| --fresh-clusters | 2 | 2 | 1m17s | 0 (0ms) |");
  });
});
