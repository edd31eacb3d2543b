import { describe, expect, it } from "vitest";
import { CommandError } from "../../clusters/errors.js";
import { pollUntil } from "../../clusters/wait.js";
import { loadScenario } from "../../harness/engine/registry.js";
import { containerRunning, healthz } from "../../harness/kit/probes.js";
import { defineScenario, type Scenario } from "../../harness/model/scenario.js";
import { step } from "../../harness/kit/steps.js";
import { faultNeutralised, runbookCutShort } from "../../harness/engine/variants.js";
import { expectSelfChecksPassed, leftovers, loadContainers, readJournal, runIdIn, runOnKind, startCli, until } from "./helpers.js";

/**
 * Every outcome a run can end with, proven end to end on one cheap scenario (etcd-port-conflict, 1+1) against
 * real clusters. The passing run is in catalog.test.ts; each case here changes one thing about it.
 */

function variant(base: Scenario, over: Partial<Scenario>): Scenario {
  return defineScenario({ ...base, ...over });
}

const phaseNames = (j: { phases: { name: string }[] }) => j.phases.map((p) => p.name);

describe("etcd-port-conflict's outcome paths against real clusters", () => {
  it("fault-not-reproduced (exit 3) when the fault is neutralised: the symptoms never appear", async () => {
    const v = faultNeutralised(await loadScenario("etcd-port-conflict"), { symptoms: "30s" });
    const j = await runOnKind(v.scenario);
    expect(j.outcome, j.reason).toBe("fault-not-reproduced");
    expect(j.exitCode).toBe(3);
    expect(j.reason).toContain("bind: address already in use");
    expect(j.phases.find((p) => p.name === "symptoms-absent")!.status).toBe("passed");
    expect(phaseNames(j)).not.toContain("runbook");
  });

  it("not-recovered (exit 4) when the runbook stops before it kills the squatter", async () => {
    const v = runbookCutShort(await loadScenario("etcd-port-conflict"), { verify: "1m" });
    expect(v.name).toBe('runbook cut before "kill the zombie"');
    const j = await runOnKind(v.scenario);
    expect(j.outcome, j.reason).toBe("not-recovered");
    expect(j.exitCode).toBe(4);
    expectSelfChecksPassed(j);
    expect(j.phases.find((p) => p.name === "runbook")!.steps.map((x) => x.title)).toEqual(["find who holds :2380"]);
    expect(j.reason).toMatch(/API server \/readyz|etcd healthy|nodes Ready|kube-system/);
  });

  it("data-lost (exit 5) when the cluster recovers but the runbook also deleted a sentinel, named in the verdict", async () => {
    const s = await loadScenario("etcd-port-conflict");
    const j = await runOnKind(
      variant(s, {
        runbook: [
          ...s.runbook,
          step(
            "tidy up ConfigMaps that look stale (the mistake)",
            "kubectl delete configmap sentinel-007 -n aftershock-sentinels --ignore-not-found",
            // Right after the runbook the API server can still drop connections (a cold CI run here saw GOAWAY 19s
            // into the delete): the on-call types it again, for up to 90s. A delete that went through before its
            // connection dropped finds nothing the second time, which is fine.
            ({ cluster, clock }) =>
              pollUntil(
                "the mistaken delete of sentinel-007",
                "90s",
                "3s",
                async () => {
                  try {
                    const r = await cluster.kubectl(["delete", "configmap", "sentinel-007", "-n", "aftershock-sentinels", "--ignore-not-found"]);
                    return { ok: true, seen: r.stdout };
                  } catch (e) {
                    if (!(e instanceof CommandError)) throw e;
                    return { ok: false, seen: e.stderrTail.trim().split("\n").pop() ?? "" };
                  }
                },
                { clock },
              ),
          ),
        ],
        // Sentinels are waited for until the budget ends (they may come back with the API): keep it short here.
        verify: { within: "60s", expect: s.verify.expect },
      }),
    );
    expect(j.outcome, j.reason).toBe("data-lost");
    expect(j.exitCode).toBe(5);
    expect(j.reason).toContain("sentinel-007");
    expect(j.timings.timeToRecoverMs).toBeGreaterThan(0);
  });

  it("aborted (exit 6) when the steady state never holds before the fault; nothing is injected", async () => {
    const s = await loadScenario("etcd-port-conflict");
    const j = await runOnKind({ ...s, steadyState: [...s.steadyState, containerRunning("no-such-component")], steadyStateBudgetMs: 10_000 });
    expect(j.outcome, j.reason).toBe("aborted");
    expect(j.exitCode).toBe(6);
    expect(j.reason).toContain("no running no-such-component");
    expect(phaseNames(j)).not.toContain("inject");
  });

  it("inconclusive (exit 7) when a symptom probe is blind: it already holds on the healthy cluster", async () => {
    const s = await loadScenario("etcd-port-conflict");
    // Too loose a pattern: /healthz?verbose always has "[+]ping ok".
    const j = await runOnKind(variant(s, { symptoms: { within: "3m", expect: [...s.symptoms.expect, healthz(/ok/)] } }));
    expect(j.outcome, j.reason).toBe("inconclusive");
    expect(j.exitCode).toBe(7);
    expect(j.reason).toBe(
      // Its symptoms read a load, so the healthy cluster is asked again for 45s before the run gives up.
      "symptom probes already hold before the fault, so they cannot prove it happened: API server /healthz?verbose /ok/ (healthz check passed) (still after 45.0s of asking again)",
    );
    const check = j.phases.find((p) => p.name === "symptoms-absent")!;
    expect(check.probes.map((r) => [r.name, r.held])).toEqual([...s.symptoms.expect.map((p) => [p.name, false]), ["API server /healthz?verbose /ok/", true]]);
    expect(phaseNames(j)).toEqual(["cluster", "setup", "steady-state", "symptoms-absent", "teardown"]);
  });
});

describe("interrupting a run", () => {
  it("Ctrl-C in the middle of the fault removes every container, volume and network and records the run as interrupted", async () => {
    const run = startCli(["scenario", "etcd-port-conflict", "--reporter", "console,json"]);
    await until(() => run.output().includes("[symptoms]"), 10 * 60_000, "the symptoms phase");
    const runId = runIdIn(run.output());
    expect(await leftovers(runId)).not.toEqual([]);
    expect(await loadContainers(runId), "the load generators run through the fault").toEqual([`as-${runId}-load-api`, `as-${runId}-load-shop`]);
    run.child.kill("SIGINT");
    expect(await run.exited).toBe(130);
    expect(await leftovers(runId)).toEqual([]);
    const journal = readJournal("etcd-port-conflict", runId);
    expect(journal.outcome).toBe("interrupted");
    expect(journal.exitCode).toBe(130);
    const cut = journal.phases.at(-1)!;
    expect([cut.status, cut.error], `the phase the signal cut short (${cut.name}) is closed as interrupted`).toEqual(["failed", "interrupted"]);
    expect(cut.endedAt).toBeGreaterThanOrEqual(cut.startedAt);
  });

  it("a harness killed with SIGKILL leaves nothing behind once its reaper notices", async () => {
    const run = startCli(["scenario", "etcd-port-conflict", "--reporter", "console,json"]);
    // Killed once the load generators run: they are removed by the same reaper as the cluster.
    await until(() => run.output().includes("✓ start load shop"), 10 * 60_000, "the load generators");
    const runId = runIdIn(run.output());
    expect(await loadContainers(runId)).toEqual([`as-${runId}-load-api`, `as-${runId}-load-shop`]);
    run.child.kill("SIGKILL");
    await run.exited;
    let left = await leftovers(runId);
    await until(async () => (left = await leftovers(runId)).length === 0, 60_000, "the reaper's cleanup").catch(() => undefined);
    expect(left).toEqual([]);
  });
});
