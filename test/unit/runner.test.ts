import { DEFAULT_KUBERNETES_VERSION } from "../../clusters/versions.js";
import { mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it, vi } from "vitest";
import { conformanceSpecsFor } from "../../clusters/conformance/specs.js";
import { FakeClock } from "./fake-clock.js";
import { AftershockError } from "../../clusters/errors.js";
import { pendingTeardowns } from "../../clusters/teardown.js";
import type { RunResult } from "../../clusters/exec.js";
import type { Probe } from "../../harness/model/probe.js";
import { waitFor } from "../../harness/model/probe.js";
import { ReporterMultiplexer, type Reporter } from "../../harness/engine/reporter.js";
import { runScenario } from "../../harness/engine/runner.js";
import { EXIT_CODES, type RunJournal } from "../../harness/engine/journal.js";
import { defineScenario, type ScenarioDefinition, type Sentinel } from "../../harness/model/scenario.js";
import { step } from "../../harness/kit/steps.js";
import { faultNeutralised, runbookCutShort, variantsOf, withRunbook } from "../../harness/engine/variants.js";
import type { Clock } from "../../clusters/wait.js";
import type { ScenarioContext } from "../../harness/model/context.js";
import type { ClusterFactory, ManagedCluster } from "../../clusters/contract.js";
import type { KubeApi } from "../../clusters/kube.js";
import { SharedClusters } from "../../harness/engine/shared-clusters.js";

/** Namespace calls of the runner against a pretend API: created with labels, read back, deleted. */
function fakeNamespaceApi(log: string[]): KubeApi {
  const spaces = new Map<string, Record<string, string>>();
  const gone = () => Object.assign(new Error("not found"), { code: 404 });
  return {
    core: {
      createNamespace: async ({ body }: { body: { metadata: { name: string; labels: Record<string, string> } } }) => {
        log.push(`create namespace ${body.metadata.name}`);
        spaces.set(body.metadata.name, body.metadata.labels);
        return body;
      },
      readNamespace: async ({ name }: { name: string }) => {
        if (!spaces.has(name)) throw gone();
        return { metadata: { name, labels: spaces.get(name) } };
      },
      deleteNamespace: async ({ name }: { name: string }) => {
        log.push(`delete namespace ${name}`);
        spaces.delete(name);
        return {};
      },
      // The namespaces e2e.test leaves terminating (label e2e-run): none here.
      listNamespace: async ({ labelSelector }: { labelSelector?: string }) => {
        log.push(`list namespaces ${labelSelector ?? ""}`);
        return { items: [] };
      },
    },
  } as unknown as KubeApi;
}

/** A pretend cluster whose "state" the fake fault and runbook flip. Nothing here touches Docker. */
function fakeWorld() {
  const state = { broken: false, deleted: 0, data: new Set<string>(), log: [] as string[] };
  const ok = (stdout = ""): RunResult => ({ command: "fake", stdout, stderr: "", exitCode: 0, elapsedMs: 1 });
  const node = { name: "fake-control-plane", role: "control-plane" as const, exec: async () => ok(), sh: async () => ok() };
  const cluster: ManagedCluster = {
    name: "fake",
    runId: "f00d",
    kubernetesVersion: DEFAULT_KUBERNETES_VERSION,
    kubeconfigPath: "/dev/null",
    timings: { totalMs: 5 },
    api: fakeNamespaceApi(state.log),
    shell: { nodes: [node], controlPlane: () => node, node: () => node },
    kubectl: async () => ok(),
    delete: async () => {
      state.deleted++;
      state.log.push("delete");
    },
    howToReach: () => "kubectl …",
    sampleMemory: () => {
      state.log.push("sample memory");
      return {
        stop: async () => {
          state.log.push("stop sampling");
          return 777;
        },
      };
    },
  };
  const factory: ClusterFactory = {
    capabilities: ["node-shell"],
    create: async () => {
      state.log.push("create");
      return cluster;
    },
  };
  const healthy: Probe = { name: "healthy", expectation: "not broken", check: async () => ({ ok: !state.broken, observed: state.broken ? "broken" : "fine" }) };
  const symptom: Probe = {
    name: "symptom",
    expectation: "broken",
    check: async () => ({ ok: state.broken, observed: state.broken ? "bind: address already in use" : "all quiet" }),
  };
  const sentinel: Sentinel = {
    title: "one record",
    write: async () => {
      state.data.add("record");
    },
    probes: () => [
      {
        name: "record intact",
        expectation: "record present",
        kind: "sentinel",
        check: async () => ({ ok: state.data.has("record"), observed: state.data.has("record") ? "1/1 intact" : "1 missing (record)" }),
      },
    ],
  };
  return { state, factory, healthy, symptom, sentinel };
}

function scenarioFor(w: ReturnType<typeof fakeWorld>, over: Partial<ScenarioDefinition> = {}) {
  return defineScenario({
    id: "fake-incident",
    title: "t",
    summary: "s",
    source: { incident: "000", section: "x" },
    tags: ["unit"],
    cluster: { controlPlanes: 1, workers: 0 },
    setup: [w.sentinel],
    steadyState: [w.healthy],
    fault: {
      title: "break it",
      plan: ["break"],
      inject: async () => {
        w.state.broken = true;
      },
    },
    symptoms: { within: "1m", expect: [w.symptom] },
    runbook: [
      step("fix it", "fix", async () => {
        w.state.broken = false;
        return "fixed";
      }),
    ],
    verify: { within: "1m", expect: [w.healthy] },
    ...over,
  });
}

/** A runbook that tells the namespace the run gave it, and repairs the fake cluster when `fixes`. */
function seeNamespace(w: ReturnType<typeof fakeWorld>, fixes: boolean, seen: (namespace: string) => void) {
  return [
    step("fix it", "fix", async (ctx) => {
      seen(ctx.namespace);
      if (fixes) w.state.broken = false;
    }),
  ];
}

async function run(w: ReturnType<typeof fakeWorld>, over: Partial<ScenarioDefinition> = {}, reporters: Reporter[] = []): Promise<RunJournal> {
  return runScenario(scenarioFor(w, over), {
    clusters: w.factory,
    kubernetesVersion: DEFAULT_KUBERNETES_VERSION,
    clock: new FakeClock(),
    reporter: new ReporterMultiplexer(reporters, () => {}),
  });
}

describe("scenario outcomes", () => {
  it("passes when the fault shows its symptoms and the runbook restores health and data", async () => {
    const w = fakeWorld();
    const j = await run(w);
    expect(j.outcome).toBe("passed");
    expect(j.exitCode).toBe(0);
    expect(j.phases.map((p) => p.name)).toEqual([
      "cluster",
      "setup",
      "steady-state",
      "symptoms-absent",
      "inject",
      "symptoms",
      "verify-fails",
      "runbook",
      "verify",
      "teardown",
    ]);
    expect(
      j.phases
        .filter((p) => p.name === "symptoms-absent" || p.name === "verify-fails")
        .map((p) => [p.name, p.status, p.probes.map((r) => [r.name, r.ok, r.held])]),
    ).toEqual([
      ["symptoms-absent", "passed", [["symptom", true, false]]],
      ["verify-fails", "passed", [["healthy", true, false]]],
    ]);
    expect(j.timings.timeToDetectMs).toBeGreaterThanOrEqual(0);
    expect(j.timings.timeToRecoverMs).toBeGreaterThanOrEqual(0);
    expect(j.evidence.some((e) => e.text.includes("bind: address already in use"))).toBe(true);
    expect(w.state.deleted).toBe(1);
  });

  it("is fault-not-reproduced when the symptoms never appear within their budget, and still deletes the cluster", async () => {
    const w = fakeWorld();
    const j = await run(w, { fault: { title: "neutralised", plan: [], inject: async () => {} } });
    expect(j.outcome).toBe("fault-not-reproduced");
    expect(j.exitCode).toBe(EXIT_CODES["fault-not-reproduced"]);
    expect(j.reason).toContain("symptom (last seen: all quiet)");
    expect(j.reason).toContain("within 1m00s");
    expect(j.phases.map((p) => p.name)).not.toContain("runbook");
    expect(w.state.deleted).toBe(1);
  });

  it("is not-recovered when the runbook leaves the cluster broken", async () => {
    const w = fakeWorld();
    const j = await run(w, { runbook: [step("look around", "ls", async () => "nothing to see")] });
    expect(j.outcome).toBe("not-recovered");
    expect(j.reason).toMatch(/not healthy: healthy \(.*expected not broken within/);
    expect(j.timings.timeToRecoverMs).toBeUndefined();
  });

  it("is not-recovered when a runbook step fails, naming the step", async () => {
    const w = fakeWorld();
    const j = await run(w, {
      runbook: [
        step("kill the zombie", "kill -9", async () => {
          throw new Error("no such process");
        }),
      ],
    });
    expect(j.outcome).toBe("not-recovered");
    expect(j.reason).toContain("runbook failed: no such process");
    expect(j.phases.find((p) => p.name === "runbook")!.steps[0]).toMatchObject({ title: "kill the zombie", ok: false, error: "no such process" });
  });

  it("is data-lost when health comes back but a sentinel does not", async () => {
    const w = fakeWorld();
    const j = await run(w, {
      runbook: [
        step("restore from nothing", "rm -rf", async () => {
          w.state.broken = false;
          w.state.data.clear();
        }),
      ],
    });
    expect(j.outcome).toBe("data-lost");
    expect(j.exitCode).toBe(5);
    expect(j.reason).toContain("1 missing (record)");
  });

  it("passes and reports data written after the recovery point as lost, without waiting for it", async () => {
    const w = fakeWorld();
    let late = false;
    const afterBackup: Sentinel = {
      title: "written after the snapshot",
      write: async () => {
        late = true;
      },
      probes: () => [
        {
          name: "late records",
          expectation: "present",
          kind: "recovery-point",
          check: async () => ({ ok: late, observed: late ? "10/10 intact" : "10 of 10 missing (late-000, …)" }),
        },
      ],
    };
    const j = await run(w, {
      setup: [w.sentinel, afterBackup],
      runbook: [
        step("restore the snapshot", "etcdutl snapshot restore", async () => {
          w.state.broken = false;
          late = false;
        }),
      ],
    });
    expect(j.outcome).toBe("passed");
    expect(j.recoveryPoint).toEqual(["late records: 10 of 10 missing (late-000, …)"]);
    expect(j.reason).toContain("lost by design (after the recovery point): late records: 10 of 10 missing");
    const verify = j.phases.find((p) => p.name === "verify")!;
    expect(verify.status).toBe("passed");
    expect(verify.endedAt - verify.startedAt).toBeLessThan(1000);
  });

  it("is aborted, not failed, when the steady state does not hold before the fault", async () => {
    const w = fakeWorld();
    w.state.broken = true;
    const j = await run(w);
    expect(j.outcome).toBe("aborted");
    expect(j.phases.map((p) => p.name)).not.toContain("inject");
    expect(w.state.deleted).toBe(1);
    // The probe is named once: the steady state's line names it, what was seen does not repeat it.
    const name = j.phases.find((p) => p.name === "steady-state")!.probes.find((p) => !p.ok)!.name;
    expect(j.reason).toContain(`steady state not met before the fault: ${name}: expected `);
    expect(j.reason!.split(`${name}:`).length).toBe(2);
  });

  it("is errored when the cluster cannot be created, with the cause", async () => {
    const w = fakeWorld();
    const j = await runScenario(scenarioFor(w), {
      clusters: {
        capabilities: [],
        create: async () => {
          throw new AftershockError("E_CLUSTER", "kind create cluster failed after 4m05s: ERROR: failed to init node");
        },
      },
      kubernetesVersion: DEFAULT_KUBERNETES_VERSION,
      clock: new FakeClock(),
    });
    expect(j.outcome).toBe("errored");
    expect(j.reason).toContain("failed to init node");
  });

  it("records the cluster's peak memory, sampled from creation until just before teardown", async () => {
    const w = fakeWorld();
    const j = await run(w);
    expect(j.peakMemoryMiB).toBe(777);
    expect(w.state.log).toEqual(["create", "sample memory", "stop sampling", "delete"]);
  });

  it("times every runbook step against its budget", async () => {
    const w = fakeWorld();
    const clock = new FakeClock();
    const j = await runScenario(
      scenarioFor(w, {
        runbook: [
          step("slow fix", "sleep", async () => {
            await clock.sleep(42_000);
            w.state.broken = false;
          }),
        ],
      }),
      { clusters: w.factory, kubernetesVersion: DEFAULT_KUBERNETES_VERSION, clock },
    );
    const s = j.phases.find((p) => p.name === "runbook")!.steps[0]!;
    expect(s.endedAt - s.startedAt).toBe(42_000);
    expect(j.timings.timeToRecoverMs).toBeGreaterThanOrEqual(42_000);
  });

  it("counts time to detect from the moment the fault begins (the start of injection), not from the end of a long injection", async () => {
    const w = fakeWorld();
    const clock = new FakeClock();
    const j = await runScenario(
      scenarioFor(w, {
        fault: {
          title: "break it slowly",
          plan: ["break"],
          inject: async () => {
            w.state.broken = true; // users see it from here on
            await clock.sleep(8_000); // the rest of a long injection (etcd-port-conflict's is about 8 s)
          },
        },
      }),
      { clusters: w.factory, kubernetesVersion: DEFAULT_KUBERNETES_VERSION, clock },
    );
    const inject = j.phases.find((p) => p.name === "inject")!;
    expect(j.timings.faultStartedAtMs).toBeLessThanOrEqual(inject.startedAt);
    expect(j.timings.timeToDetectMs).toBeGreaterThanOrEqual(8_000);
    expect(j.timings.timeToDetectMs).toBe(j.timings.firstSymptomAtMs! - j.timings.faultStartedAtMs!);
  });

  it("keeps the cluster when asked and says how to reach it", async () => {
    const w = fakeWorld();
    const j = await runScenario(scenarioFor(w), { clusters: w.factory, kubernetesVersion: DEFAULT_KUBERNETES_VERSION, clock: new FakeClock(), keep: true });
    expect(w.state.deleted).toBe(0);
    expect(j.kept).toContain("kubectl");
  });
});

describe("the run's checks on its own probes", () => {
  it("is inconclusive, before any fault, when a symptom already holds on the healthy cluster; it names the probe", async () => {
    const w = fakeWorld();
    const blind: Probe = { name: "etcd running", expectation: "a running etcd", check: async () => ({ ok: true, observed: "running 3f2a" }) };
    const j = await run(w, { symptoms: { within: "1m", expect: [w.symptom, blind] } });
    expect(j.outcome).toBe("inconclusive");
    expect(j.exitCode).toBe(EXIT_CODES.inconclusive);
    expect(j.reason).toBe("symptom probes already hold before the fault, so they cannot prove it happened: etcd running (running 3f2a)");
    const check = j.phases.find((p) => p.name === "symptoms-absent")!;
    expect(check.status).toBe("failed");
    expect(check.probes.map((r) => [r.name, r.ok, r.held])).toEqual([
      ["symptom", true, false],
      ["etcd running", false, true],
    ]);
    expect(j.phases.map((p) => p.name)).toEqual(["cluster", "setup", "steady-state", "symptoms-absent", "teardown"]);
    expect(w.state.broken, "the fault was never injected").toBe(false);
    expect(w.state.deleted).toBe(1);
  });

  it("with symptoms.absentWithin, asks again over fresh log windows until the healthy cluster shows no symptom, then goes on", async () => {
    const w = fakeWorld();
    const clock = new FakeClock();
    const windows: number[] = [];
    const spans: number[] = [];
    let asked = 0;
    // A disk still flushing after the cluster was made: slow for the first two askings, calm from the third.
    const settling: Probe = {
      name: "WAL fsync slow",
      expectation: "slow fsyncs",
      check: async (ctx) => {
        if (!w.state.broken) {
          windows.push(ctx.logsSince!);
          spans.push(ctx.clock.now() - ctx.logsSince!);
          // Reading the logs takes a second: the next window starts after this asking, not when the steady state began.
          await ctx.clock.sleep(1000);
        }
        asked++;
        return { ok: w.state.broken || asked <= 2, observed: w.state.broken || asked <= 2 ? "p99 4096ms" : "p99 8ms" };
      },
    };
    const j = await runScenario(scenarioFor(w, { symptoms: { within: "1m", absentWithin: "2m", expect: [w.symptom, settling] } }), {
      clusters: w.factory,
      kubernetesVersion: DEFAULT_KUBERNETES_VERSION,
      clock,
    });
    expect(j.outcome, j.reason).toBe("passed");
    expect(windows.length).toBe(3);
    expect(new Set(windows).size, "each asking reads log lines of a window of its own").toBe(3);
    expect(spans.slice(1), "each asking again reads the 15s since the asking before, not from the moment it asks (an empty window)").toEqual([15_000, 15_000]);
    expect(j.evidence.map((e) => e.text).find((t) => t.startsWith("symptoms-absent:"))).toMatch(
      /WAL fsync slow held at first \(p99 4096ms\); asked 3 times over 33\.0s/,
    );
  });

  it("asks a load's symptoms again for 45s unless the scenario says otherwise; other symptoms once", () => {
    const w = fakeWorld();
    const users: Probe = { name: "api: users see errors", reads: "api", expectation: "errors", check: async () => ({ ok: false, observed: "100% ok" }) };
    expect(scenarioFor(w).symptomsAbsentBudgetMs).toBe(0);
    expect(scenarioFor(w, { symptoms: { within: "1m", expect: [w.symptom, users] } }).symptomsAbsentBudgetMs).toBe(45_000);
    expect(scenarioFor(w, { symptoms: { within: "1m", absentWithin: "0s", expect: [w.symptom, users] } }).symptomsAbsentBudgetMs).toBe(0);
    expect(scenarioFor(w, { symptoms: { within: "1m", absentWithin: "2m", expect: [w.symptom] } }).symptomsAbsentBudgetMs).toBe(120_000);
  });

  it("with symptoms.absentWithin, is still inconclusive when a symptom holds for the whole budget, and says how long it asked", async () => {
    const w = fakeWorld();
    const stuck: Probe = { name: "WAL fsync slow", expectation: "slow fsyncs", check: async () => ({ ok: true, observed: "p99 4096ms" }) };
    const j = await runScenario(scenarioFor(w, { symptoms: { within: "1m", absentWithin: "1m", expect: [w.symptom, stuck] } }), {
      clusters: w.factory,
      kubernetesVersion: DEFAULT_KUBERNETES_VERSION,
      clock: new FakeClock(),
    });
    expect(j.outcome).toBe("inconclusive");
    expect(j.reason).toMatch(/WAL fsync slow \(p99 4096ms\) \(still after 1m00s of asking again\)$/);
    expect(w.state.broken, "the fault was never injected").toBe(false);
  });

  it("is inconclusive, before the runbook, when every verification probe holds on the broken cluster; the fault is rolled back", async () => {
    const w = fakeWorld();
    const blind: Probe = { name: "API server /readyz", expectation: "ok", check: async () => ({ ok: true, observed: "ok" }) };
    const j = await run(w, {
      fault: {
        title: "break it",
        plan: [],
        inject: async () => {
          w.state.broken = true;
        },
        rollback: step("unbreak", "x", async () => {
          w.state.log.push("rollback");
        }),
      },
      verify: { within: "1m", expect: [blind] },
    });
    expect(j.outcome).toBe("inconclusive");
    expect(j.exitCode).toBe(7);
    expect(j.reason).toBe("every verification probe holds on the broken cluster, so verification cannot prove recovery: API server /readyz (ok)");
    expect(j.phases.map((p) => `${p.name}:${p.status}`)).toEqual([
      "cluster:passed",
      "setup:passed",
      "steady-state:passed",
      "symptoms-absent:passed",
      "inject:passed",
      "symptoms:passed",
      "verify-fails:failed",
      "teardown:passed",
    ]);
    expect(w.state.log).toContain("rollback");
  });

  it("passes the verification check when at least one probe is unmet on the broken cluster, others may hold", async () => {
    const w = fakeWorld();
    const alwaysUp: Probe = { name: "nodes Ready", expectation: "Ready", check: async () => ({ ok: true, observed: "2 Ready" }) };
    const j = await run(w, { verify: { within: "1m", expect: [alwaysUp, w.healthy] } });
    expect(j.outcome).toBe("passed");
    expect(j.phases.find((p) => p.name === "verify-fails")!.probes.map((r) => [r.name, r.held])).toEqual([
      ["nodes Ready", true],
      ["healthy", false],
    ]);
  });

  it("the verification check leaves out data expected to be lost (recovery-point probes)", async () => {
    const w = fakeWorld();
    const lost: Probe = { name: "late records", expectation: "present", kind: "recovery-point", check: async () => ({ ok: false, observed: "gone" }) };
    const up: Probe = { name: "up", expectation: "up", check: async () => ({ ok: true, observed: "up" }) };
    const j = await run(w, { verify: { within: "1m", expect: [up, lost] } });
    expect(j.outcome, "a recovery-point probe being unmet does not make verification able to tell").toBe("inconclusive");
    expect(j.phases.find((p) => p.name === "verify-fails")!.probes.map((r) => r.name)).toEqual(["up"]);
  });

  it("asks log probes about lines since the steady-state check began, then since the fault, on the run's clock", async () => {
    const w = fakeWorld();
    const since: (number | undefined)[] = [];
    const log: Probe = {
      name: "log line",
      expectation: "a line",
      check: async (ctx) => {
        since.push(ctx.logsSince);
        // Asking takes the fake clock's time: the fault comes later than the steady-state check.
        await ctx.clock.sleep(5_000);
        return { ok: w.state.broken, observed: "" };
      },
    };
    const j = await run(w, { symptoms: { within: "1m", expect: [log] } });
    expect(j.outcome).toBe("passed");
    // The fake clock (FakeClock), not Date.now(): when the steady-state check began, then when the fault began.
    const steady = j.phases.find((p) => p.name === "steady-state")!;
    expect(since).toEqual([j.startedAt + steady.startedAt, j.startedAt + j.timings.faultStartedAtMs!]);
    expect(since[1]).toBeGreaterThan(since[0]!);
  });

  it("what the incident says still works during the fault is required within the budget, but is no signature", async () => {
    const w = fakeWorld();
    let writable = true;
    const writes: Probe = {
      name: "API accepts writes",
      expectation: "a write succeeds",
      check: async () => ({ ok: writable, observed: writable ? "wrote" : "refused" }),
    };
    const j = await run(w, { symptoms: { within: "1m", expect: [w.symptom], stillWorks: [writes] } });
    expect(j.outcome, "holding before the fault is fine for it").toBe("passed");
    expect(j.phases.find((p) => p.name === "symptoms-absent")!.probes.map((r) => r.name)).toEqual(["symptom"]);
    expect(j.phases.find((p) => p.name === "symptoms")!.probes.map((r) => r.name)).toEqual(["symptom", "API accepts writes"]);
    expect(j.evidence.map((e) => e.source)).toContain("still works: API accepts writes");
    const w2 = fakeWorld();
    writable = false;
    const k = await run(w2, { symptoms: { within: "1m", expect: [w2.symptom], stillWorks: [writes] } });
    expect(k.outcome).toBe("fault-not-reproduced");
    expect(k.reason).toContain("API accepts writes (last seen: refused)");
  });

  it("is what --dry-run shows, in the plan's order", async () => {
    const { describePlan } = await import("../../harness/engine/registry.js");
    const plan = describePlan(scenarioFor(fakeWorld()));
    expect(plan).toMatch(/self-check before the fault: each symptom below must be absent[^\n]*\nsymptoms \(within 1m\):/);
    expect(plan).toMatch(/self-check on the broken cluster, before the runbook: at least one of healthy must fail\nrunbook:/);
  });
});

describe("variants that must fail (pnpm suite --prove)", () => {
  it("the fault neutralised ends fault-not-reproduced; the runbook cut before its decisive step ends not-recovered", async () => {
    const w = fakeWorld();
    const s = scenarioFor(w, {
      runbook: [
        step("look", "ls", async () => "seen"),
        step("fix it", "fix", async () => {
          w.state.broken = false;
        }),
        step("check", "ok", async () => "fine"),
      ],
      decisiveStep: "fix it",
    });
    const opts = { clusters: w.factory, kubernetesVersion: DEFAULT_KUBERNETES_VERSION, clock: new FakeClock() };
    const neutral = faultNeutralised(s);
    expect((await runScenario(neutral.scenario, opts)).outcome).toBe(neutral.expected);
    w.state.broken = false;
    const cut = runbookCutShort(s);
    expect(cut.name).toBe('runbook cut before "fix it"');
    const j = await runScenario(cut.scenario, { ...opts, variant: { name: cut.name, expected: cut.expected } });
    expect(j.outcome).toBe("not-recovered");
    expect(j.variant).toEqual({ name: 'runbook cut before "fix it"', expected: "not-recovered" });
    expect(j.phases.find((p) => p.name === "runbook")!.steps.map((x) => x.title)).toEqual(["look"]);
    expect(variantsOf(s, true).map((v) => v.variant?.expected ?? "passed")).toEqual(["passed", "fault-not-reproduced", "not-recovered"]);
    expect(variantsOf(s, false)).toHaveLength(1);
  });

  it("an alternative runbook is a variant with its declared outcome: one that loses data ends data-lost, as expected, and the report puts both side by side", async () => {
    const { asExpected } = await import("../../harness/engine/outcomes.js");
    const { htmlReport } = await import("../../harness/reports/files.js");
    const w = fakeWorld();
    const s = scenarioFor(w, {
      runbookName: "safe",
      alternativeRunbooks: [
        {
          name: "wipe",
          summary: "reinstall from scratch",
          expect: "data-lost",
          steps: [
            step("wipe and reinstall", "rm -rf; install", async () => {
              w.state.data.clear();
              w.state.broken = false;
            }),
          ],
        },
      ],
    });
    expect(variantsOf(s, false).map((r) => [r.scenario.runbookName, r.variant?.expected ?? "passed"])).toEqual([
      ["safe", "passed"],
      ["wipe", "data-lost"],
    ]);
    expect(withRunbook(s, "safe")).toEqual({ scenario: s });
    expect(() => withRunbook(s, "yolo")).toThrow(/scenario fake-incident has no runbook "yolo"/);
    const opts = { clusters: w.factory, kubernetesVersion: DEFAULT_KUBERNETES_VERSION, clock: new FakeClock() };
    const safe = await runScenario(s, opts);
    expect([safe.outcome, safe.runbook]).toEqual(["passed", "safe"]);
    const wipe = withRunbook(s, "wipe");
    const lost = await runScenario(wipe.scenario, { ...opts, variant: wipe.variant! });
    expect([lost.outcome, lost.exitCode, lost.runbook, asExpected(lost)]).toEqual(["data-lost", 5, "wipe", true]);
    expect(lost.reason).toContain("record");
    expect(lost.phases.find((p) => p.name === "runbook")!.steps.map((x) => x.title)).toEqual(["wipe and reinstall"]);
    const html = htmlReport([safe, lost], "suite");
    expect(html).toContain("fake-incident: runbooks compared");
    expect(html).toMatch(/<td><a href="#[0-9a-f]+">wipe<\/a><\/td><td><span class="badge"[^>]*>data-lost<\/span><br><small>expected data-lost: as expected/);
    // One scenario without alternatives is unchanged: no runbook name in its journal.
    expect((await runScenario(scenarioFor(fakeWorld()), { ...opts, clusters: fakeWorld().factory })).runbook).toBeUndefined();
  });

  it("the suite's verdict per run: a variant that ends as expected passes, in JUnit too", async () => {
    const { asExpected } = await import("../../harness/engine/outcomes.js");
    const { junitXml } = await import("../../harness/reports/files.js");
    const w = fakeWorld();
    const opts = { clusters: w.factory, kubernetesVersion: DEFAULT_KUBERNETES_VERSION, clock: new FakeClock() };
    const s = scenarioFor(w);
    const neutral = faultNeutralised(s, { symptoms: "10s" });
    const asDeclared = await runScenario(neutral.scenario, { ...opts, variant: { name: neutral.name, expected: neutral.expected } });
    const unlabelled = await runScenario(neutral.scenario, opts);
    expect([asExpected(asDeclared), asExpected(unlabelled)]).toEqual([true, false]);
    const xml = junitXml([asDeclared, unlabelled], "suite");
    expect(xml).toMatch(/<testsuite name="fake-incident \(fault neutralised\)" tests="6" failures="0"/);
    expect(xml).toMatch(/<testsuite name="fake-incident" tests="6" failures="1"/);
  });

  it("a scenario's decisive step must be one of its runbook steps", () => {
    expect(() => scenarioFor(fakeWorld(), { decisiveStep: "pray" })).toThrow('decisiveStep names no runbook step: "pray"');
  });
});

describe("the node image", () => {
  it("is prepared before the run's timeline starts, and a build is recorded apart from cluster creation", async () => {
    const w = fakeWorld();
    const clock = new FakeClock();
    const clusters: ClusterFactory = {
      ...w.factory,
      prepare: async () => {
        await clock.sleep(600_000);
        w.state.log.push("prepare");
        return { ref: "aftershock.local/node:v1.29.15", built: true, ms: 600_000 };
      },
    };
    const j = await runScenario(scenarioFor(w), { clusters, kubernetesVersion: DEFAULT_KUBERNETES_VERSION, clock });
    expect(w.state.log[0]).toBe("prepare");
    expect(j.image).toEqual({ ref: "aftershock.local/node:v1.29.15", built: true, ms: 600_000 });
    expect(j.timings.totalMs).toBeLessThan(600_000);
    expect(j.phases[0]!.startedAt).toBe(0);
  });
});

describe("fault rollback", () => {
  const throttled = (w: ReturnType<typeof fakeWorld>) => ({
    title: "throttle it",
    plan: ["throttle"],
    inject: async () => {
      w.state.broken = true;
      w.state.log.push("inject");
    },
    rollback: step("lift the throttle", "unthrottle", async () => {
      w.state.log.push("rollback");
      return "lifted";
    }),
  });

  it("runs in teardown before the cluster is deleted when the runbook left the fault in place", async () => {
    const w = fakeWorld();
    const j = await run(w, { fault: throttled(w), runbook: [step("look around", "ls", async () => "nothing")] });
    expect(j.outcome).toBe("not-recovered");
    expect(w.state.log).toEqual(["create", "sample memory", "inject", "stop sampling", "rollback", "delete"]);
    const td = j.phases.find((p) => p.name === "teardown")!;
    expect(td.steps.map((s) => [s.title, s.ok, s.output])).toEqual([
      ["rollback: lift the throttle", true, "lifted"],
      ["delete cluster fake", true, undefined],
    ]);
    expect(j.timings.timeToRecoverMs, "a rollback is not recovery").toBeUndefined();
  });

  it("runs after a passing run as well (it must be harmless to repeat)", async () => {
    const w = fakeWorld();
    const j = await run(w, { fault: throttled(w) });
    expect(j.outcome).toBe("passed");
    expect(w.state.log.slice(-2)).toEqual(["rollback", "delete"]);
  });

  it("is not run when the fault was never injected, nor when the cluster is kept", async () => {
    const aborted = fakeWorld();
    aborted.state.broken = true;
    expect((await run(aborted, { fault: throttled(aborted) })).outcome).toBe("aborted");
    expect(aborted.state.log).not.toContain("rollback");
    const kept = fakeWorld();
    await runScenario(scenarioFor(kept, { fault: throttled(kept) }), {
      clusters: kept.factory,
      kubernetesVersion: DEFAULT_KUBERNETES_VERSION,
      clock: new FakeClock(),
      keep: true,
    });
    expect(kept.state.log).toContain("inject");
    expect(kept.state.log).not.toContain("rollback");
  });

  it("is registered for Ctrl-C above the cluster's deletion, so an interrupt lifts the fault first", async () => {
    const w = fakeWorld();
    let seen: string[] = [];
    const watching: Probe = {
      name: "symptom",
      expectation: "broken",
      check: async () => {
        seen = pendingTeardowns();
        return { ok: w.state.broken, observed: "" };
      },
    };
    await run(w, { fault: throttled(w), symptoms: { within: "1m", expect: [watching] } });
    expect(seen).toEqual([
      // The run's own end on Ctrl-C (Run.interrupt) comes last, once its teardown is done.
      "write the interrupted journal of fake-incident",
      "scenario fake-incident: delete cluster fake",
      "scenario fake-incident: rollback: lift the throttle",
    ]);
    expect(pendingTeardowns(), "both unregistered after the run").toEqual([]);
  });

  it("a failing rollback is reported and the cluster is deleted all the same", async () => {
    const w = fakeWorld();
    const j = await run(w, {
      fault: {
        ...throttled(w),
        rollback: step("lift the throttle", "unthrottle", async () => {
          throw new Error("no such cgroup");
        }),
      },
    });
    expect(j.outcome).toBe("passed");
    expect(w.state.deleted).toBe(1);
    expect(j.phases.find((p) => p.name === "teardown")!.steps[0]!.error).toBe("no such cgroup");
    expect(j.evidence.some((e) => e.text === "rollback: lift the throttle failed: no such cgroup")).toBe(true);
    expect(j.phases.find((p) => p.name === "teardown")!.steps.map((st) => [st.title, st.ok])).toEqual([
      ["rollback: lift the throttle", false],
      ["delete cluster fake", true],
    ]);
  });

  it("runs when inject fails half-way", async () => {
    const w = fakeWorld();
    const j = await run(w, {
      fault: {
        ...throttled(w),
        inject: async () => {
          w.state.log.push("inject");
          throw new Error("second node refused");
        },
      },
    });
    expect(j.outcome).toBe("errored");
    expect(w.state.log).toEqual(["create", "sample memory", "inject", "stop sampling", "rollback", "delete"]);
  });
});

describe("reporters", () => {
  it("a reporter that throws is disabled and reported once; the run and other reporters carry on", async () => {
    const w = fakeWorld();
    const seen: string[] = [];
    const warnings: string[] = [];
    const bad: Reporter = {
      name: "bad",
      onPhaseBegin: () => {
        throw new Error("disk full");
      },
    };
    const good: Reporter = { name: "good", onPhaseEnd: (p) => void seen.push(p.name) };
    const mux = new ReporterMultiplexer([bad, good], (m) => warnings.push(m));
    const j = await runScenario(scenarioFor(w), { clusters: w.factory, kubernetesVersion: DEFAULT_KUBERNETES_VERSION, clock: new FakeClock(), reporter: mux });
    expect(j.outcome).toBe("passed");
    expect(seen).toHaveLength(10);
    expect(warnings).toEqual(["reporter bad failed in onPhaseBegin and was disabled for this run: disk full"]);
  });
});

describe("waitFor", () => {
  it("names the probe, the expectation, the last observation and the budget when it times out", async () => {
    const clock = new FakeClock();
    const ctx = { clock } as unknown as ScenarioContext;
    const p: Probe = { name: "etcd running", expectation: "a running etcd container", check: async () => ({ ok: false, observed: "CrashLoopBackOff" }) };
    await expect(waitFor(p, ctx, "30s")).rejects.toThrow("etcd running: expected a running etcd container within 30.0s; last seen: CrashLoopBackOff");
  });
});

describe("defineScenario", () => {
  const w = fakeWorld();
  it.each([
    [{ id: "Not Kebab" }, /id must be kebab-case/],
    [{ symptoms: { within: "1m", expect: [] } }, /symptoms.expect needs at least one signature/],
    [{ symptoms: { within: "soon", expect: [w.symptom] } }, /symptoms.within is not a duration: "soon"/],
    [{ cluster: { controlPlanes: 2 as 1, workers: 0 } }, /cluster.controlPlanes must be 1 or 3/],
    [{ runbook: [] }, /runbook needs at least one step/],
    [
      { alternativeRunbooks: [{ name: "Bad Name", summary: "s", steps: [step("a", "a", async () => {})], expect: "passed" }] },
      /alternativeRunbooks\[0\]\.name must be kebab-case/,
    ],
    [{ alternativeRunbooks: [{ name: "default", summary: "s", steps: [step("a", "a", async () => {})], expect: "passed" }] }, /"default" is used twice/],
    [{ alternativeRunbooks: [{ name: "other", summary: "s", steps: [], expect: "passed" }] }, /alternativeRunbooks\[0\]\.steps needs at least one step/],
    [
      { alternativeRunbooks: [{ name: "other", summary: "s", steps: [step("a", "a", async () => {})], expect: "fine" as "passed" }] },
      /is not an outcome: "fine"/,
    ],
    [{ tools: ["kustomize" as "helm"] }, /tools names unknown tools: kustomize \(known: helm\)/],
    [{ tags: ["game-day"] }, /gameDay is required with the tag "game-day"/],
    [{ gameDay: { difficulty: "insane" as "hard", alert: "a", hints: ["h"], cause: [/x/] } }, /gameDay.difficulty must be one of easy, medium, hard/],
    [{ gameDay: { difficulty: "easy", alert: " ", hints: ["h"], cause: [/x/] } }, /gameDay.alert is required/],
    [{ gameDay: { difficulty: "easy", alert: "fake-incident is down", hints: ["h"], cause: [/x/] } }, /gameDay.alert names the scenario/],
    [{ gameDay: { difficulty: "easy", alert: "a", hints: [], cause: [/x/] } }, /gameDay.hints needs at least one hint/],
    [{ gameDay: { difficulty: "easy", alert: "a", hints: ["h"], cause: ["lsof" as unknown as RegExp] } }, /gameDay.cause needs at least one pattern/],
  ])("rejects %j", (over, msg) => {
    expect(() => scenarioFor(w, over as Partial<ScenarioDefinition>)).toThrow(msg);
  });
});

describe("game days: a person recovers, or gives up and the runbook does", () => {
  const game = (w: ReturnType<typeof fakeWorld>, manualRecovery: (ctx: ScenarioContext) => Promise<void | "runbook">, over: Partial<ScenarioDefinition> = {}) =>
    runScenario(scenarioFor(w, over), {
      clusters: w.factory,
      kubernetesVersion: DEFAULT_KUBERNETES_VERSION,
      clock: new FakeClock(),
      manualRecovery,
      runId: "0a0b0c0d",
      namespace: "as-0a0b0c0d-gameday",
    });

  it("a person who repairs the cluster passes; the runbook never runs", async () => {
    const w = fakeWorld();
    let runbookRan = false;
    const j = await game(
      w,
      async () => {
        w.state.broken = false;
      },
      { runbook: [step("fix it", "fix", async () => void (runbookRan = true))] },
    );
    expect(j.outcome).toBe("passed");
    expect(runbookRan).toBe(false);
    expect(j.phases.find((p) => p.name === "runbook")!.steps.map((st) => st.title)).toEqual(["manual recovery (game day)"]);
  });

  it("giving up ('runbook') runs the scenario's own runbook after the person's part, and says so", async () => {
    const w = fakeWorld();
    const j = await game(w, async () => "runbook");
    expect(j.outcome).toBe("passed");
    const rb = j.phases.find((p) => p.name === "runbook")!;
    expect(rb.steps.map((st) => [st.title, st.ok])).toEqual([
      ["manual recovery (game day)", true],
      ["fix it", true],
    ]);
    expect(rb.steps[0]!.output).toMatch(/gave up/);
  });

  it("a person who leaves it broken ends not-recovered", async () => {
    const w = fakeWorld();
    const j = await game(w, async () => {});
    expect(j.outcome).toBe("not-recovered");
  });

  it("a namespace-scoped game runs in the namespace it is given (no scenario id in its name)", async () => {
    const w = fakeWorld();
    let ns = "";
    const j = await game(
      w,
      async (ctx) => {
        ns = ctx.namespace;
        w.state.broken = false;
      },
      { scope: "namespace" },
    );
    expect(j.outcome).toBe("passed");
    expect(ns).toBe("as-0a0b0c0d-gameday");
    expect(w.state.log).toContain("create namespace as-0a0b0c0d-gameday");
  });
});

describe("capabilities, namespaces and shared clusters", () => {
  it("refuses a scenario its clusters cannot serve before anything is created", async () => {
    const w = fakeWorld();
    const s = scenarioFor(w, { needs: ["node-lifecycle"] });
    await expect(runScenario(s, { clusters: w.factory, kubernetesVersion: DEFAULT_KUBERNETES_VERSION, clock: new FakeClock() })).rejects.toThrow(
      /scenario fake-incident needs node-lifecycle, which this target does not offer/,
    );
    expect(w.state.log).toEqual([]);
  });

  it("gives a scenario only what it declared: an undeclared node shell is not there", async () => {
    const w = fakeWorld();
    let seen: unknown = "unset";
    const j = await run(w, {
      runbook: [
        step("fix it", "fix", async (ctx) => {
          seen = ctx.cluster.shell;
          w.state.broken = false;
        }),
      ],
    });
    expect(j.outcome).toBe("passed");
    expect(seen).toBeUndefined();
    const w2 = fakeWorld();
    await run(w2, {
      needs: ["node-shell"],
      runbook: [
        step("fix it", "fix", async (ctx) => {
          seen = ctx.cluster.shell?.nodes.length;
          w2.state.broken = false;
        }),
      ],
    });
    expect(seen).toBe(1);
  });

  it("runs a namespace-scoped scenario in its own labelled namespace, deleted before the cluster, also when the run fails", async () => {
    for (const fixes of [true, false]) {
      const w = fakeWorld();
      let ns = "";
      const j = await run(w, { scope: "namespace", runbook: seeNamespace(w, fixes, (n) => (ns = n)) });
      expect(j.outcome).toBe(fixes ? "passed" : "not-recovered");
      expect(ns).toMatch(/^as-[0-9a-f]{8}-fake-incident$/);
      expect(w.state.log.filter((l) => l.includes("namespace") || l === "delete")).toEqual([`create namespace ${ns}`, `delete namespace ${ns}`, "delete"]);
      expect(j.phases.find((p) => p.name === "teardown")!.steps.map((st) => st.title)).toContain(`delete namespace ${ns}`);
    }
  });

  it("keeps a cluster-scoped run in default on a cluster of its own, and in namespaces of its own (deleted at its end) on a shared one", async () => {
    const alone = fakeWorld();
    let ns = "";
    const j = await run(alone, { runbook: seeNamespace(alone, true, (n) => (ns = n)) });
    expect([j.outcome, ns]).toEqual(["passed", "default"]);
    expect(alone.state.log.filter((l) => l.includes("namespace"))).toEqual([]);
    for (const fixes of [true, false]) {
      const w = fakeWorld();
      const create = w.factory.create;
      w.factory.create = async (shape) => Object.create(await create(shape), { shared: { value: "health gate passed in 1.0s; run 2 on this cluster" } });
      const j2 = await run(w, { runbook: seeNamespace(w, fixes, (n) => (ns = n)) });
      expect(j2.outcome).toBe(fixes ? "passed" : "not-recovered");
      expect(ns).toMatch(/^as-[0-9a-f]{8}-fake-incident$/);
      expect(w.state.log.filter((l) => l.includes("namespace"))).toEqual([
        `create namespace ${ns}`,
        "create namespace aftershock-sentinels",
        "delete namespace aftershock-sentinels",
        `delete namespace ${ns}`,
      ]);
    }
  });

  it("shares one cluster between runs of a shape, and replaces it after a run that did not pass", async () => {
    const leftNamespaces: string[] = [];
    const made: string[] = [];
    const deleted: string[] = [];
    const inner: ClusterFactory = {
      capabilities: [],
      create: async (shape) => {
        const name = `c${made.length + 1}`;
        made.push(`${name}:${shape.controlPlanes}+${shape.workers}`);
        return {
          name,
          runId: "00000001",
          kubernetesVersion: DEFAULT_KUBERNETES_VERSION,
          kubeconfigPath: "/dev/null",
          timings: {},
          howToReach: () => "",
          api: {
            core: {
              listNamespace: async () => ({ items: leftNamespaces.map((n) => ({ metadata: { name: n }, status: { phase: "Terminating" } })) }),
              listNode: async () => ({ items: [{ metadata: { name: "n" }, status: { conditions: [{ type: "Ready", status: "True" }] } }] }),
              listNamespacedPod: async () => ({
                items: [{ metadata: { name: "p" }, status: { phase: "Running", conditions: [{ type: "Ready", status: "True" }] } }],
              }),
            },
          } as unknown as KubeApi,
          kubectl: async () => {
            throw new Error("unused");
          },
          delete: async () => {
            deleted.push(name);
          },
        };
      },
    };
    const shared = new SharedClusters(inner, new FakeClock());
    const shape = { controlPlanes: 1 as const, workers: 1, kubernetesVersion: DEFAULT_KUBERNETES_VERSION, runId: "00000001" };
    const a = await shared.create(shape);
    await a.delete();
    await shared.afterRun("passed");
    expect(shared.lastReused).toBe(false);
    const b = await shared.create(shape);
    expect([a.name, b.name, b.shared, shared.lastReused]).toEqual(["c1", "c1", "health gate passed in 4.0s; run 2 on this cluster", true]);
    expect(deleted).toEqual([]);
    await shared.afterRun("not-recovered");
    expect(deleted).toEqual(["c1"]);
    const c = await shared.create(shape);
    const d = await shared.create({ ...shape, workers: 2 });
    expect([c.name, d.name, deleted]).toEqual(["c2", "c3", ["c1", "c2"]]);
    await shared.close();
    expect(deleted).toEqual(["c1", "c2", "c3"]);
    expect(made).toEqual(["c1:1+1", "c2:1+1", "c3:1+2"]);
    expect(pendingTeardowns()).toEqual([]);
    // A namespace an earlier run left behind (its deletion failed) fails the gate: the next run gets a new cluster.
    const e = await shared.create(shape);
    await shared.afterRun("passed");
    leftNamespaces.push("as-00000001-etcd-port-conflict");
    const f = await shared.create(shape);
    expect([e.name, f.name, f.shared, shared.lastReused]).toEqual(["c4", "c5", "created for this run", false]);
    expect(deleted).toContain("c4");
    await shared.close();
    // A second run of one cluster-scoped scenario gets a new cluster (the kubelets remember its fault); another scenario does not.
    // (As runScenarios calls it: beforeRunOf, then the run's create.)
    leftNamespaces.length = 0;
    expect(await shared.beforeRunOf("etcd-port-conflict")).toBeUndefined();
    const g = await shared.create(shape);
    await shared.afterRun("passed");
    expect(await shared.beforeRunOf("apiserver-down")).toBeUndefined();
    const h = await shared.create(shape);
    await shared.afterRun("passed");
    expect(await shared.beforeRunOf("etcd-port-conflict")).toBe(
      `etcd-port-conflict already ran on ${g.name}, whose kubelets remember its fault (crash-loop back-off)`,
    );
    expect(deleted).toContain(g.name);
    const i = await shared.create(shape);
    expect([g.name === h.name, i.name !== g.name, i.shared]).toEqual([true, true, "created for this run"]);
    await shared.afterRun("passed");
    // The new cluster knows the run it was made for.
    expect(await shared.beforeRunOf("etcd-port-conflict")).toMatch(/^etcd-port-conflict already ran on /);
    await shared.close();
  });
});

/** An e2e.test stand-in: a script that copies a report in ginkgo's format where --ginkgo.junit-report says, and exits 0. */
function fakeE2eTest(failing: number[] = []): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), "runner-e2e-"));
  const cases = conformanceSpecsFor(DEFAULT_KUBERNETES_VERSION).map(
    (s, i) =>
      `<testcase name="[It] ${s.name}" status="${failing.includes(i) ? "failed" : "passed"}" time="1">${failing.includes(i) ? '<failure message="timed out waiting for the condition" type="failed"></failure>' : ""}</testcase>`,
  );
  writeFileSync(path.join(dir, "report.xml"), `<testsuites><testsuite name="Kubernetes e2e suite" time="60">${cases.join("")}</testsuite></testsuites>`);
  const script = path.join(dir, "e2e.test");
  writeFileSync(
    script,
    `#!/bin/sh\nfor a in "$@"; do case "$a" in --ginkgo.junit-report=*) cp '${dir}/report.xml' "\${a#--ginkgo.junit-report=}";; esac; done\necho "Ran the specs"\n`,
    {
      mode: 0o755,
    },
  );
  return script;
}

describe("--conformance: Kubernetes' conformance specs after verification", () => {
  async function conformanceRun(w: ReturnType<typeof fakeWorld>, e2eTest: string | undefined, over: Partial<ScenarioDefinition> = {}) {
    const outDir = mkdtempSync(path.join(os.tmpdir(), "runner-conformance-"));
    const asked: unknown[] = [];
    const clusters: ClusterFactory = {
      ...w.factory,
      prepare: async (o) => {
        asked.push(o);
        return { ref: "node", built: false, ms: 1, ...(e2eTest ? { e2eTest } : {}) };
      },
    };
    const j = await runScenario(scenarioFor(w, over), {
      clusters,
      kubernetesVersion: DEFAULT_KUBERNETES_VERSION,
      clock: new FakeClock(),
      conformance: { outDir: () => outDir },
    });
    return { j, asked, outDir };
  }

  it("runs after verify and before the sentinels' verdict; the run passes when every spec passes, its time to recover untouched", async () => {
    const w = fakeWorld();
    const { j, asked, outDir } = await conformanceRun(w, fakeE2eTest());
    expect(asked).toEqual([expect.objectContaining({ kubernetesVersion: DEFAULT_KUBERNETES_VERSION, conformance: true })]);
    expect(j.outcome).toBe("passed");
    expect(j.phases.map((p) => p.name).slice(-3)).toEqual(["verify", "conformance", "teardown"]);
    const phase = j.phases.find((p) => p.name === "conformance")!;
    expect(phase.steps.map((s) => [s.title, s.ok])).toEqual([
      [`e2e.test ${DEFAULT_KUBERNETES_VERSION}: 57 curated [Conformance] specs`, true],
      ["the e2e namespaces deleted", true],
    ]);
    expect(phase.steps[1]!.output).toBe("0 e2e namespaces gone in 0ms");
    expect([j.conformance!.passed, j.conformance!.asked, j.conformance!.files.junit]).toEqual([57, 57, path.join(outDir, "junit-e2e.xml")]);
    expect(j.timings.timeToRecoverMs).toBeLessThanOrEqual(phase.startedAt);
    expect(j.evidence.find((e) => e.source === "conformance")!.text).toMatch(/^conformance after recovery: passed, 57 of 57 passed in /);
  });

  it("is not-recovered when a spec fails, naming it; the cluster still goes", async () => {
    const w = fakeWorld();
    const { j } = await conformanceRun(w, fakeE2eTest([5]));
    const name = conformanceSpecsFor(DEFAULT_KUBERNETES_VERSION)[5]!.name;
    expect(j.outcome).toBe("not-recovered");
    expect(j.exitCode).toBe(EXIT_CODES["not-recovered"]);
    expect(j.reason).toBe(`Kubernetes conformance after recovery failed: 1 of 57 specs fails: ${name} (timed out waiting for the condition)`);
    expect(j.phases.find((p) => p.name === "conformance")!.status).toBe("failed");
    expect(w.state.deleted).toBe(1);
  });

  it("does not run on a cluster that verification found unhealthy", async () => {
    const w = fakeWorld();
    const { j } = await conformanceRun(w, fakeE2eTest(), { runbook: [step("look around", "ls", async () => "nothing to see")] });
    expect(j.outcome).toBe("not-recovered");
    expect(j.phases.map((p) => p.name)).not.toContain("conformance");
    expect(j.conformance).toBeUndefined();
  });

  it("refuses, before anything is created, a target that gives no e2e.test", async () => {
    const w = fakeWorld();
    await expect(conformanceRun(w, undefined)).rejects.toThrow(/^--conformance: this target gives no e2e\.test to run the conformance specs with$/);
    expect(w.state.log).not.toContain("create");
  });

  it("with the test switch, parks the component's manifest on every control plane first and says so", async () => {
    vi.stubEnv("AFTERSHOCK_TEST_STOP_BEFORE_CONFORMANCE", "kube-controller-manager");
    try {
      const w = fakeWorld();
      const { j } = await conformanceRun(w, fakeE2eTest());
      expect(j.phases.find((p) => p.name === "conformance")!.steps[0]!.output).toBe(
        "fake-control-plane: /etc/kubernetes/manifests/kube-controller-manager.yaml parked",
      );
      expect(j.evidence.find((e) => e.source === "test switch")!.text).toMatch(
        /^kube-controller-manager stopped before conformance, the cluster left broken on purpose/,
      );
    } finally {
      vi.unstubAllEnvs();
    }
  });
});
