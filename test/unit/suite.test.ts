import { describe, expect, it } from "vitest";
import { DEFAULT_KUBERNETES_VERSION } from "../../clusters/versions.js";
import type { RunResult } from "../../clusters/exec.js";
import type { KubeApi } from "../../clusters/kube.js";
import { pendingTeardowns, runTeardowns } from "../../clusters/teardown.js";
import type { RunJournal } from "../../harness/engine/journal.js";
import { runSuite, suiteOrder, type SuitePlan } from "../../harness/engine/suite.js";
import type { PlannedRun } from "../../harness/engine/variants.js";
import type { ClusterFactory, ManagedCluster } from "../../clusters/contract.js";
import { step } from "../../harness/kit/steps.js";
import { defineScenario, type ScenarioDefinition } from "../../harness/model/scenario.js";
import { FakeClock } from "./fake-clock.js";

/** Pretend clusters: each create() makes one, delete() counts; the fault breaks "the world" and the runbook mends it. */
function fakeWorld() {
  const state = { broken: false, created: [] as string[], deleted: [] as string[] };
  const ok = (): RunResult => ({ command: "fake", stdout: "", stderr: "", exitCode: 0, elapsedMs: 1 });
  const node = { name: "fake-control-plane", role: "control-plane" as const, exec: async () => ok(), sh: async () => ok() };
  const factory: ClusterFactory = {
    capabilities: ["node-shell"],
    create: async () => {
      const name = `fake-${state.created.length + 1}`;
      state.created.push(name);
      const cluster: ManagedCluster = {
        name,
        runId: "f00d",
        kubernetesVersion: DEFAULT_KUBERNETES_VERSION,
        kubeconfigPath: "/dev/null",
        timings: { totalMs: 5 },
        api: {} as KubeApi,
        shell: { nodes: [node], controlPlane: () => node, node: () => node },
        kubectl: async () => ok(),
        delete: async () => {
          state.deleted.push(name);
        },
        howToReach: () => "kubectl …",
      };
      return cluster;
    },
  };
  return { state, factory };
}

function scenario(w: ReturnType<typeof fakeWorld>, id: string, over: Partial<ScenarioDefinition> = {}) {
  return defineScenario({
    id,
    title: id,
    summary: "s",
    source: { incident: "000", section: "x" },
    tags: ["unit"],
    cluster: { controlPlanes: 1, workers: 0 },
    setup: [],
    steadyState: [{ name: "healthy", expectation: "not broken", check: async () => ({ ok: !w.state.broken, observed: String(w.state.broken) }) }],
    fault: {
      title: "break it",
      plan: ["break"],
      inject: async () => {
        w.state.broken = true;
      },
    },
    symptoms: {
      within: "1m",
      expect: [{ name: "symptom", expectation: "broken", check: async () => ({ ok: w.state.broken, observed: String(w.state.broken) }) }],
    },
    runbook: [
      step("fix it", "fix", async () => {
        w.state.broken = false;
      }),
    ],
    verify: {
      within: "1m",
      expect: [{ name: "healthy", expectation: "not broken", check: async () => ({ ok: !w.state.broken, observed: String(w.state.broken) }) }],
    },
    ...over,
  });
}

function plan(w: ReturnType<typeof fakeWorld>, runs: PlannedRun[], over: Partial<SuitePlan> = {}): SuitePlan {
  return { runs, clusters: w.factory, share: false, kubernetesVersion: DEFAULT_KUBERNETES_VERSION, run: { keep: false }, clock: new FakeClock(), ...over };
}

describe("runSuite", () => {
  it("runs the plan one run after another, each reported and ended", async () => {
    const w = fakeWorld();
    const ended: string[] = [];
    const journals = await runSuite(plan(w, [{ scenario: scenario(w, "a") }, { scenario: scenario(w, "b") }]), (r) => ({
      reporter: {},
      ended: (j) => void ended.push(`${r.scenario.id}=${j.outcome}`),
    }));
    expect(journals.map((j) => `${j.scenario.id}=${j.outcome}`)).toEqual(["a=passed", "b=passed"]);
    expect(ended).toEqual(["a=passed", "b=passed"]);
    expect(w.state.deleted).toEqual(["fake-1", "fake-2"]);
    expect(pendingTeardowns()).toEqual([]);
  });

  it("on shared clusters, a run that measures the machine gets a cluster of its own, and its journal says why", async () => {
    const w = fakeWorld();
    const journals = await runSuite(plan(w, [{ scenario: scenario(w, "disk", { tags: ["performance"] }) }], { share: true }), () => ({ reporter: {} }));
    expect(journals.map((j) => [j.outcome, j.cluster?.shared])).toEqual([
      ["passed", "a cluster of its own: a run that measures the machine (disk, API latency) has it to itself"],
    ]);
  });

  it("on shared clusters, the shared cluster is deleted when runSuite throws (its scope holds it with `await using`), and the error is the body's own", async () => {
    const w = fakeWorld();
    // The reporting throws after the run: no afterRun replaces the cluster, only the scope's end deletes it.
    const failing = runSuite(plan(w, [{ scenario: scenario(w, "a") }], { share: true }), () => ({
      reporter: {},
      ended: () => {
        throw new Error("the report could not be written");
      },
    }));
    await expect(failing).rejects.toEqual(new Error("the report could not be written"));
    expect([w.state.created, w.state.deleted, pendingTeardowns()]).toEqual([["fake-1"], ["fake-1"], []]);
  });

  it("Ctrl-C ends the running run through the run: its teardown, then the interrupted journal to the reporters; no further run starts", async () => {
    const w = fakeWorld();
    let release!: () => void;
    const hang = new Promise<void>((r) => (release = r));
    let injecting!: () => void;
    const injected = new Promise<void>((r) => (injecting = r));
    const slow = scenario(w, "slow", {
      fault: {
        title: "break it slowly",
        plan: ["break"],
        inject: async () => {
          injecting();
          await hang;
        },
      },
    });
    let stopping = false;
    const ends: RunJournal[] = [];
    const suite = runSuite(plan(w, [{ scenario: slow }, { scenario: scenario(w, "next") }], { stopping: () => stopping }), () => ({
      reporter: { onRunEnd: (j) => void ends.push(structuredClone(j)) },
    }));
    await injected;
    expect(pendingTeardowns()).toEqual(["write the interrupted journal of slow", "scenario slow: delete cluster fake-1"]);
    // What the SIGINT handler does (harness/engine/signals.ts).
    stopping = true;
    await runTeardowns();
    expect(w.state.deleted).toEqual(["fake-1"]);
    expect(ends.map((j) => [j.outcome, j.exitCode, j.reason])).toEqual([["interrupted", 130, "interrupted (Ctrl-C or SIGTERM); the cluster was removed"]]);
    expect(ends[0]!.phases.map((p) => [p.name, p.status, p.error])).toEqual([
      ["cluster", "passed", undefined],
      ["setup", "passed", undefined],
      ["steady-state", "passed", undefined],
      ["symptoms-absent", "passed", undefined],
      ["inject", "failed", "interrupted"],
    ]);
    // The fault's step returns after the signal: the run records nothing more and the next run does not start.
    release();
    const journals = await suite;
    expect(journals.map((j) => [j.scenario.id, j.outcome, j.phases.at(-1)?.name, j.phases.at(-1)?.error])).toEqual([
      ["slow", "interrupted", "inject", "interrupted"],
    ]);
    expect(ends).toHaveLength(1);
    expect(w.state.created).toEqual(["fake-1"]);
  });
});

describe("suiteOrder", () => {
  it("groups runs by shape (runs with a cluster of their own last in theirs) and versions in the order given", () => {
    const w = fakeWorld();
    const s = (id: string, workers: number, tags = ["unit"]) => scenario(w, id, { cluster: { controlPlanes: 1, workers }, tags });
    const runs: PlannedRun[] = [
      { scenario: s("b1", 1), kubernetesVersion: "v1.37.2" },
      { scenario: s("a1", 1), kubernetesVersion: "v1.29.15" },
      { scenario: s("p1", 1, ["performance"]), kubernetesVersion: "v1.29.15" },
      { scenario: s("a0", 0), kubernetesVersion: "v1.29.15" },
      { scenario: s("a1b", 1), kubernetesVersion: "v1.29.15" },
    ];
    expect(suiteOrder(runs, DEFAULT_KUBERNETES_VERSION).map((r) => r.scenario.id)).toEqual(["b1", "a0", "a1", "a1b", "p1"]);
  });
});
