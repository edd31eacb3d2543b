import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { zombieEtcdOnPort } from "../../harness/faults.js";
import { loadScenario } from "../../harness/registry.js";
import type { RunJournal } from "../../harness/runner.js";
import { defineScenario, step, type Scenario } from "../../harness/scenario.js";
import { leftovers, runOnKind } from "./helpers.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

function variant(base: Scenario, over: Partial<Scenario>): Scenario {
  return defineScenario({ ...base, ...over });
}

describe("etcd-port-conflict against a real cluster", () => {
  it("passes end to end: the incident's symptoms appear, the runbook restores the control plane, sentinels survive", async () => {
    const s = await loadScenario("etcd-port-conflict");
    const j = await runOnKind(s);
    expect(j.outcome, j.reason).toBe("passed");
    expect(j.exitCode).toBe(0);
    expect(j.phases.map((p) => `${p.name}:${p.status}`)).toEqual([
      "cluster:passed", "setup:passed", "steady-state:passed", "inject:passed", "symptoms:passed", "runbook:passed", "verify:passed", "teardown:passed",
    ]);
    const symptoms = j.phases.find((p) => p.name === "symptoms")!.probes;
    expect(symptoms.find((p) => p.name.startsWith("etcd log"))!.observed).toMatch(/listen tcp [\d.]+:2380: bind: address already in use/);
    expect(symptoms.find((p) => p.name.startsWith("API server /healthz"))!.observed).toContain("[-]etcd failed");
    expect(symptoms.find((p) => p.name.startsWith("kubelet reports"))!.observed).toMatch(/CrashLoopBackOff.*etcd/);
    const runbook = j.phases.find((p) => p.name === "runbook")!.steps;
    expect(runbook[0]!.output).toMatch(/^etcd\s+\d+\s+root.*:2380 \(LISTEN\)/m);
    const verify = j.phases.find((p) => p.name === "verify")!.probes;
    expect(verify.filter((p) => p.kind === "sentinel").map((p) => p.observed)).toEqual(["20/20 intact", "2/2 available"]);
    expect(j.timings.timeToDetectMs).toBeGreaterThan(0);
    expect(j.timings.timeToRecoverMs).toBeGreaterThan(0);
  });

  it("ends as not-recovered when the runbook never kills the squatter", async () => {
    const s = await loadScenario("etcd-port-conflict");
    const j = await runOnKind(variant(s, {
      runbook: [step("restart etcd's container and hope", "crictl stop <etcd>", async ({ cluster }) => {
        await cluster.controlPlane().sh("crictl stop $(crictl ps -a --name '^etcd$' -q | head -n1) || true");
      })],
      verify: { within: "90s", expect: s.verify.expect },
      verifyBudgetMs: 90_000,
    }));
    expect(j.outcome, j.reason).toBe("not-recovered");
    expect(j.exitCode).toBe(4);
    expect(j.reason).toMatch(/API server \/readyz|etcd healthy|nodes Ready|kube-system/);
  });

  it("ends as fault-not-reproduced when the fault does not take (zombie on a port etcd does not use)", async () => {
    const s = await loadScenario("etcd-port-conflict");
    const j = await runOnKind(variant(s, { fault: zombieEtcdOnPort({ port: 23805 }), symptoms: { within: "60s", expect: s.symptoms.expect }, symptomsBudgetMs: 60_000 }));
    expect(j.outcome, j.reason).toBe("fault-not-reproduced");
    expect(j.exitCode).toBe(3);
    expect(j.reason).toContain("bind: address already in use");
    expect(j.phases.map((p) => p.name)).not.toContain("runbook");
  });
});

describe("interrupting a run", () => {
  function startCli(): { child: ReturnType<typeof spawn>; output: () => string; exited: Promise<number | null> } {
    let out = "";
    // One process (no tsx wrapper), so signals reach the harness itself.
    const child = spawn(process.execPath, ["--import", "tsx", "harness/cli/main.ts", "scenario", "etcd-port-conflict", "--reporter", "console,json"], {
      cwd: root, env: { ...process.env, PATH: `${path.join(root, "node_modules", ".bin")}:${process.env.PATH}` }, stdio: ["ignore", "pipe", "pipe"],
    });
    child.stdout!.on("data", (d: Buffer) => { out += d.toString(); });
    child.stderr!.on("data", (d: Buffer) => { out += d.toString(); });
    const exited = new Promise<number | null>((res) => child.on("exit", (code) => res(code)));
    return { child, output: () => out, exited };
  }

  async function until(cond: () => boolean, budgetMs: number, what: string): Promise<void> {
    const deadline = Date.now() + budgetMs;
    while (!cond()) {
      if (Date.now() > deadline) throw new Error(`${what} not seen within ${budgetMs / 1000}s`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }

  it("Ctrl-C in the middle of the fault removes every container, volume and network and records the run as interrupted", async () => {
    const run = startCli();
    await until(() => run.output().includes("[symptoms]"), 10 * 60_000, "the symptoms phase");
    const runId = /Creating cluster as-([0-9a-f]{8})/.exec(run.output())![1]!;
    expect(await leftovers(runId)).not.toEqual([]);
    run.child.kill("SIGINT");
    const code = await run.exited;
    expect(code).toBe(130);
    expect(await leftovers(runId)).toEqual([]);
    const journal = JSON.parse(readFileSync(path.join(root, "reports", `etcd-port-conflict-${runId}`, "journal.json"), "utf8")) as RunJournal;
    expect(journal.outcome).toBe("interrupted");
    expect(journal.exitCode).toBe(130);
  });

  it("a harness killed with SIGKILL leaves nothing behind once its reaper notices", async () => {
    const run = startCli();
    await until(() => run.output().includes("[setup]"), 10 * 60_000, "the setup phase");
    const runId = /Creating cluster as-([0-9a-f]{8})/.exec(run.output())![1]!;
    run.child.kill("SIGKILL");
    await run.exited;
    const deadline = Date.now() + 60_000;
    let left = await leftovers(runId);
    while (left.length && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 2000));
      left = await leftovers(runId);
    }
    expect(left).toEqual([]);
  });
});

