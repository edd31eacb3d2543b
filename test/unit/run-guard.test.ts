import { describe, expect, it } from "vitest";
import { FakeClock } from "./fake-clock.js";
import { nodeCommandFeed, nodeShell, type ManagedCluster, type RunGuard } from "../../clusters/contract.js";
import { AftershockError } from "../../clusters/errors.js";
import type { RunResult } from "../../clusters/exec.js";
import type { KubeApi } from "../../clusters/kube.js";
import { DEFAULT_KUBERNETES_VERSION } from "../../clusters/versions.js";
import { loadScenario } from "../../harness/engine/registry.js";
import { ReporterMultiplexer } from "../../harness/engine/reporter.js";
import { runScenario } from "../../harness/engine/runner.js";
import { DEADMAN_SECONDS_ENV, deadmanSecondsSwitch } from "../../harness/engine/test-hooks.js";
import { ZOMBIE_UNDO } from "../../harness/kit/faults.js";
import { nodeCommandsLine } from "../../harness/reports/console.js";
import { htmlReport } from "../../harness/reports/files.js";
import type { Probe } from "../../harness/model/probe.js";
import { defineScenario, type ScenarioDefinition } from "../../harness/model/scenario.js";
import { step } from "../../harness/kit/steps.js";
import type { Clock } from "../../clusters/wait.js";

/** The runner with a guard (a cluster this tool did not create, machines over ssh): preflight, snapshot, deadman. */

function world(o: { preflight?: () => Promise<string>; rollbackFails?: boolean } = {}) {
  const log: string[] = [];
  const state = { broken: false };
  const ok = (): RunResult => ({ command: "fake", stdout: "", stderr: "", exitCode: 0, elapsedMs: 1 });
  // As the ssh handles do: each command heard with where it went.
  const commands = nodeCommandFeed();
  const heard = (argv: string[], exitCode = 0) => commands.emit({ node: "cp-1", command: `ssh root@10.0.0.11 ${argv.join(" ")}`, exitCode, elapsedMs: 5 });
  const node = {
    name: "cp-1",
    role: "control-plane" as const,
    exec: async (argv: string[]) => (heard(argv, argv[0] === "false" ? 1 : 0), ok()),
    sh: async (script: string) => (heard(["bash", "-c", script]), ok()),
  };
  const guard: RunGuard = {
    preflight: o.preflight ?? (async () => (log.push("preflight"), "etcd 3/3 members healthy")),
    snapshotEtcd: async () => (log.push("snapshot"), "/var/lib/aftershock/snapshots/r.db 2048 bytes on cp-1"),
    armDeadman: async ({ node: n, seconds }) => {
      log.push(`arm ${n} ${seconds}s`);
      return { line: `deadman on ${n}`, disarm: async () => void log.push(`disarm ${n}`) };
    },
    release: async () => void log.push("release"),
  };
  const cluster: ManagedCluster = {
    name: "staging",
    runId: "r",
    kubernetesVersion: DEFAULT_KUBERNETES_VERSION,
    kubeconfigPath: "/dev/null",
    timings: { totalMs: 1 },
    api: {} as KubeApi,
    shell: { nodes: [node], controlPlane: () => node, node: () => node },
    guard,
    nodeCommands: commands,
    kubectl: async () => ok(),
    delete: async () => void log.push("give back"),
    howToReach: () => "",
  };
  const healthy: Probe = { name: "healthy", expectation: "not broken", check: async () => ({ ok: !state.broken, observed: state.broken ? "broken" : "fine" }) };
  const symptom: Probe = { name: "symptom", expectation: "broken", check: async () => ({ ok: state.broken, observed: String(state.broken) }) };
  const def = (over: Partial<ScenarioDefinition> = {}) =>
    defineScenario({
      id: "guarded",
      title: "t",
      summary: "s",
      source: { incident: "000", section: "x" },
      tags: ["control-plane"],
      cluster: { controlPlanes: 1, workers: 0 },
      needs: ["node-shell"],
      setup: [],
      steadyState: [healthy],
      fault: {
        title: "stop the API server",
        plan: ["mv /etc/kubernetes/manifests/kube-apiserver.yaml /etc/kubernetes/parked/"],
        etcdMembersLost: 0,
        deadman: { node: () => "cp-1", undo: "mv /etc/kubernetes/parked/kube-apiserver.yaml /etc/kubernetes/manifests/" },
        inject: async () => {
          log.push("inject");
          state.broken = true;
        },
        rollback: {
          title: "put it back",
          shows: "mv …",
          budgetMs: 1000,
          run: async () => {
            log.push("rollback");
            if (o.rollbackFails) throw new Error("ssh: no route to host");
          },
        },
      },
      symptoms: { within: "1m", expect: [symptom] },
      runbook: [
        step("fix it", "mv …", async () => {
          log.push("runbook");
          state.broken = false;
        }),
      ],
      verify: { within: "1m", expect: [healthy] },
      ...over,
    });
  const run = (over: Partial<ScenarioDefinition> = {}) =>
    runScenario(def(over), {
      clusters: { capabilities: ["node-shell"], create: async () => cluster },
      kubernetesVersion: DEFAULT_KUBERNETES_VERSION,
      clock: new FakeClock(),
      reporter: new ReporterMultiplexer([], () => {}),
    });
  return { log, run, state };
}

describe("a guarded run (a cluster this tool did not create)", () => {
  it("preflight, then a snapshot and a deadman before the fault; the deadman disarmed once the runbook succeeded", async () => {
    const w = world();
    const j = await w.run();
    expect(j.outcome).toBe("passed");
    expect(j.phases.map((p) => p.name).slice(0, 3)).toEqual(["cluster", "preflight", "setup"]);
    const deadmanS = Math.ceil((60_000 + 120_000 + 60_000) / 1000) + 300;
    expect(w.log).toEqual(["preflight", "snapshot", `arm cp-1 ${deadmanS}s`, "inject", "runbook", "disarm cp-1", "rollback", "disarm cp-1", "give back"]);
    const inject = j.phases.find((p) => p.name === "inject")!;
    expect(inject.steps.map((s) => s.title)).toEqual(["etcd snapshot before a control-plane fault", "arm a deadman on cp-1", "stop the API server"]);
    expect(j.evidence.find((e) => e.source === "etcd snapshot")?.text).toBe("/var/lib/aftershock/snapshots/r.db 2048 bytes on cp-1");
    expect(j.evidence.find((e) => e.source === "preflight")?.text).toBe("etcd 3/3 members healthy");
  });

  it("a failed preflight aborts before anything is written, naming the reason in one line", async () => {
    const w = world({
      preflight: async () => {
        throw new AftershockError("E_PREFLIGHT", "etcd has 1 member (quorum 1); the fault takes away 1, leaving 0: no quorum to spare");
      },
    });
    const j = await w.run();
    expect(j.outcome).toBe("aborted");
    expect(j.reason).toBe("preflight: etcd has 1 member (quorum 1); the fault takes away 1, leaving 0: no quorum to spare");
    expect(j.phases.map((p) => p.name)).toEqual(["cluster", "preflight", "teardown"]);
    expect(w.log).toEqual(["give back"]);
  });

  it("a rollback that fails leaves the deadman armed: the node's timer undoes the fault", async () => {
    const w = world({ rollbackFails: true });
    const j = await w.run({
      runbook: [
        step("does not fix it", "…", async () => {
          throw new Error("runbook failed");
        }),
      ],
    });
    expect(j.outcome).toBe("not-recovered");
    expect(w.log).not.toContain("disarm cp-1");
    const teardown = j.phases.find((p) => p.name === "teardown")!;
    expect(teardown.steps.find((s) => s.title.startsWith("disarm the deadman"))?.output).toMatch(/^left armed: the rollback did not run to the end/);
  });

  it("no snapshot for a fault that is not a control-plane one", async () => {
    const w = world();
    await w.run({ tags: ["node"] });
    expect(w.log).not.toContain("snapshot");
  });

  it("a fault's own deadman seconds are used, and the test switch sets them for the run (a test that cuts ssh mid-fault)", async () => {
    const w = world();
    const dm = { node: () => "cp-1", undo: "true", seconds: 45 };
    await w.run({ fault: { title: "f", plan: ["x"], deadman: dm, inject: async () => undefined } });
    expect(w.log).toContain("arm cp-1 45s");
    const before = process.env[DEADMAN_SECONDS_ENV];
    process.env[DEADMAN_SECONDS_ENV] = "90";
    try {
      const v = world();
      await v.run();
      expect(v.log).toContain("arm cp-1 90s");
    } finally {
      if (before === undefined) delete process.env[DEADMAN_SECONDS_ENV];
      else process.env[DEADMAN_SECONDS_ENV] = before;
    }
    expect(deadmanSecondsSwitch({})).toBeUndefined();
    for (const v of ["0", "abc", "1.5", "86401"]) expect(() => deadmanSecondsSwitch({ [DEADMAN_SECONDS_ENV]: v }), v).toThrow(AftershockError);
  });
});

describe("etcd-port-conflict's zombie, on machines of one's own", () => {
  it("declares a deadman on the control plane and a rollback, both the same undo", async () => {
    const s = await loadScenario("etcd-port-conflict");
    expect(s.fault.deadman?.undo).toBe(ZOMBIE_UNDO);
    expect(s.fault.rollback?.shows).toBe(ZOMBIE_UNDO);
    const cp = { name: "cp-1", role: "control-plane" as const };
    const ctx = { cluster: { shell: { nodes: [cp], controlPlane: () => cp, node: () => cp } } } as never;
    expect(s.fault.deadman!.node(ctx)).toBe("cp-1");
  });
});

describe("commands on the nodes, in the journal and the report", () => {
  it("every command a node ran, grouped by phase, node and command, counted with how each run ended", async () => {
    const w = world();
    const exec = (ctx: Parameters<Parameters<typeof step>[2]>[0], argv: string[]) => nodeShell(ctx.cluster).controlPlane().exec(argv);
    const j = await w.run({
      fault: {
        title: "f",
        plan: ["x"],
        inject: async (ctx) => {
          await exec(ctx, ["touch", "/x"]);
          await exec(ctx, ["touch", "/x"]);
          await exec(ctx, ["false"]);
          w.state.broken = true;
        },
      },
      runbook: [
        step("fix", "rm /x", async (ctx) => {
          await nodeShell(ctx.cluster).controlPlane().sh("rm /x\necho done");
          w.state.broken = false;
        }),
      ],
    });
    expect(j.nodeCommands!.map((c) => [c.phase, c.node, c.command, c.ended])).toEqual([
      ["inject", "cp-1", "ssh root@10.0.0.11 touch /x", { "exit 0": 2 }],
      ["inject", "cp-1", "ssh root@10.0.0.11 false", { "exit 1": 1 }],
      ["runbook", "cp-1", "ssh root@10.0.0.11 bash -c rm /x\necho done", { "exit 0": 1 }],
    ]);
    expect(nodeCommandsLine(j)).toBe("commands on the nodes: 4 runs of 3 distinct commands on cp-1 (each with where it ran, in report.html and journal.json)");
    const html = htmlReport([j], "t");
    expect(html).toContain("<h3>Commands on the nodes</h3>");
    expect(html).toContain("4 runs of 3 distinct commands on 1 node (cp-1), each as it ran, with where it went");
    expect(html).toContain("<td>inject</td><td>cp-1</td><td><code>ssh root@10.0.0.11 touch /x</code></td><td>exit 0 ×2</td>");
    expect(html).toMatch(
      /<summary><code>ssh root@10\.0\.0\.11 bash -c rm \/x<\/code> \(2 lines\)<\/summary><pre>ssh root@10\.0\.0\.11 bash -c rm \/x\necho done<\/pre>/,
    );
  });
});
