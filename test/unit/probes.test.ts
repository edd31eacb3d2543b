import { versionOf } from "../../harness/kit/versions.js";
import { describe, expect, it } from "vitest";
import type { RunResult } from "../../clusters/exec.js";
import { LOST_MACHINES, lostNodes } from "../../harness/kit/faults.js";
import { apiWriteFails, etcdMemberUnreachable, etcdMembersHealthy, nodeNotReady, waitUntil } from "../../harness/kit/probes.js";
import { waitFor, type Probe } from "../../harness/model/probe.js";
import { CommandError } from "../../clusters/errors.js";
import { podLogMatches } from "../../harness/kit/workloads/workloads.js";
import { FakeClock } from "./fake-clock.js";
import type { ClusterAccess, NodeHandle } from "../../clusters/contract.js";
import { Found, type ScenarioContext } from "../../harness/model/context.js";

/** A control-plane node whose shell answers from a table of (command fragment → output); nothing runs. */
function ctxAnswering(answers: [string, string, number?][], lostMachines?: string[]): ScenarioContext & { commands: string[] } {
  const commands: string[] = [];
  const found = new Found();
  if (lostMachines) found.set(LOST_MACHINES, lostMachines);
  const answer = async (cmd: string): Promise<RunResult> => {
    commands.push(cmd);
    const hit = answers.find(([frag]) => cmd.includes(frag));
    return { command: cmd, stdout: hit?.[1] ?? "", stderr: "", exitCode: hit?.[2] ?? 0, elapsedMs: 1 };
  };
  const node: NodeHandle = { name: "as-1-control-plane2", role: "control-plane", exec: (argv) => answer(argv.join(" ")), sh: (s) => answer(s) };
  const cluster: ClusterAccess = {
    name: "as-1",
    runId: "00000001",
    kubernetesVersion: "v1.29.15",
    kubeconfigPath: "/dev/null",
    api: { core: { listNode: async () => ({ items: [] }) } } as never,
    shell: { nodes: [node], controlPlane: () => node, node: () => node },
    kubectl: (args) => answer(`kubectl ${args.join(" ")}`),
  };
  return { cluster, clock: { now: () => 0, sleep: async () => {} }, found, evidence: () => {}, namespace: "default", commands };
}

const MEMBERS = [
  "c63fc327fd7550b9, started, as-1-control-plane, https://172.19.0.3:2380, https://172.19.0.3:2379, false",
  "cb0a218dc4b865a0, started, as-1-control-plane3, https://172.19.0.4:2380, https://172.19.0.4:2379, false",
  "d4031b017c262694, started, as-1-control-plane2, https://172.19.0.5:2380, https://172.19.0.5:2379, false",
].join("\n");
const lost = (ctx: ScenarioContext) => lostNodes(ctx)[0];

describe("etcd membership probes", () => {
  it("finds the lost node's member by name and its client URL among the unhealthy endpoints", async () => {
    const ctx = ctxAnswering(
      [
        ["member list", MEMBERS],
        [
          "endpoint health --cluster",
          "https://172.19.0.4:2379 is healthy: successfully committed proposal: took = 9ms\nhttps://172.19.0.3:2379 is unhealthy: failed to commit proposal: context deadline exceeded\nError: unhealthy cluster",
          1,
        ],
      ],
      ["as-1-control-plane"],
    );
    const o = await etcdMemberUnreachable(lost).check(ctx);
    expect(o).toEqual({ ok: true, observed: "https://172.19.0.3:2379 is unhealthy: failed to commit proposal: context deadline exceeded" });
  });

  it("does not hold when another member is the unhealthy one, or when nothing was lost", async () => {
    const health = "https://172.19.0.5:2379 is unhealthy: failed to commit proposal: context deadline exceeded";
    const other = ctxAnswering(
      [
        ["member list", MEMBERS],
        ["endpoint health --cluster", health, 1],
      ],
      ["as-1-control-plane"],
    );
    expect((await etcdMemberUnreachable(lost).check(other)).ok).toBe(false);
    const none = ctxAnswering([
      ["member list", MEMBERS],
      ["endpoint health --cluster", health, 1],
    ]);
    expect(await etcdMemberUnreachable(lost).check(none)).toEqual({ ok: false, observed: "no node has been lost" });
    expect(await nodeNotReady(lost).check(none)).toEqual({ ok: false, observed: "no node has been lost" });
  });

  it("counts members and healthy endpoints", async () => {
    const threeHealthy = MEMBERS.split("\n")
      .map((l) => `${l.split(", ")[4]} is healthy: successfully committed proposal: took = 9ms`)
      .join("\n");
    const ctx = ctxAnswering([
      ["member list", MEMBERS],
      ["endpoint health --cluster", threeHealthy],
    ]);
    expect(await etcdMembersHealthy(3).check(ctx)).toEqual({
      ok: true,
      observed: "3 members (as-1-control-plane, as-1-control-plane3, as-1-control-plane2), 3 healthy",
    });
    expect((await etcdMembersHealthy(2).check(ctx)).ok).toBe(false);
  });
});

describe("API write probes", () => {
  const etcdTimeout = /etcdserver: request timed out|rpc error: code = DeadlineExceeded/;

  it("holds on etcd's error from the survivor's own API server, with break-glass credentials", async () => {
    const ctx = ctxAnswering([["create configmap", "error: failed to create configmap: etcdserver: request timed out", 1]]);
    expect(await apiWriteFails(etcdTimeout).check(ctx)).toEqual({ ok: true, observed: "error: failed to create configmap: etcdserver: request timed out" });
    expect(ctx.commands[0]).toContain("--org=system:masters");
    expect(ctx.commands[0]).toContain("--server=https://127.0.0.1:6443");
  });

  it("does not hold when the write fails for another reason, or succeeds", async () => {
    const forbidden = ctxAnswering([
      ["create configmap", 'error: failed to create configmap: configmaps is forbidden: User "kubernetes-admin" cannot create resource', 1],
    ]);
    expect((await apiWriteFails(etcdTimeout).check(forbidden)).ok).toBe(false);
    const fine = ctxAnswering([["configmap", "configmap/x created"]]);
    expect(await apiWriteFails(etcdTimeout).check(fine)).toEqual({ ok: false, observed: "the write succeeded" });
  });

  it("takes the refusal each version words its own way from the cluster's version profile", async () => {
    const refusal = 'error: failed to create configmap: configmaps "p" is forbidden: not yet ready to handle request';
    const probe = apiWriteFails((c) => versionOf(c).writeRefusedWithoutQuorum, "40s", "as the version words it");
    const on = (v: string) => {
      const ctx = ctxAnswering([["create configmap", refusal, 1]]);
      return { ...ctx, cluster: { ...ctx.cluster, kubernetesVersion: v } };
    };
    expect(await probe.check(on("v1.37.2"))).toEqual({ ok: true, observed: refusal });
    // Up to 1.30 that refusal is not what a lost quorum looks like: etcd's own timeout is.
    expect((await probe.check(on("v1.29.15"))).ok).toBe(false);
  });
});

describe("log probes' window", () => {
  it("podLogMatches reads the pods' log since ctx.logsSince, measured on the context's clock", async () => {
    const asked: { sinceSeconds?: number }[] = [];
    const core = {
      listNamespacedPod: async () => ({ items: [{ metadata: { name: "web-1" } }] }),
      readNamespacedPodLog: async (req: { sinceSeconds?: number }) => (asked.push(req), "GET / 200\n"),
    };
    const { cluster } = ctxAnswering([]);
    const ctx: ScenarioContext = {
      cluster: { ...cluster, api: { core } as never },
      clock: { now: () => 1_090_000, sleep: async () => {} },
      found: new Found(),
      evidence: () => {},
      namespace: "default",
      logsSince: 1_000_000,
    };
    expect(await podLogMatches({ app: "web" }, /200/).check(ctx)).toEqual({ ok: true, observed: "GET / 200" });
    expect(asked.map((r) => r.sinceSeconds)).toEqual([90]);
  });
});

describe("waitUntil", () => {
  it("polls on the run's clock every 2s by default and names its budget when it runs out", async () => {
    const clock = new FakeClock(0);
    let asked = 0;
    const never = async () => ({ ok: false, seen: `asked ${++asked}` });
    await expect(waitUntil("DiskPressure cleared", { clock }, "10s", never)).rejects.toThrow(/DiskPressure cleared.*10(\.0)?s/);
    expect(asked).toBe(6);
    expect(await waitUntil("soon", { clock }, "1m", async () => ({ ok: asked++ > 8, seen: "ok" }), "5s")).toBe("ok");
  });
});

describe("a program missing from the image", () => {
  const execFailed = (stderr: string) =>
    new CommandError({
      command: "kubectl -n ns exec web-1 -- nslookup web",
      exitCode: 1,
      signal: undefined,
      stderrTail: stderr,
      elapsedMs: 80,
      budgetMs: 60_000,
    });
  const probeThrowing = (stderr: string) => {
    let asked = 0;
    const probe: Probe = {
      name: "web resolves",
      expectation: "an address",
      check: async () => {
        asked++;
        throw execFailed(stderr);
      },
    };
    return { probe, asked: () => asked };
  };
  const ctx = (clock: FakeClock) => ({ clock }) as unknown as ScenarioContext;

  it("ends the wait at once: waiting will not put it there", async () => {
    const p = probeThrowing(
      'OCI runtime exec failed: exec failed: unable to start container process: exec: "nslookup": executable file not found in $PATH: unknown',
    );
    await expect(waitFor(p.probe, ctx(new FakeClock(0)), "3m")).rejects.toThrow(/final: waiting would not change it/);
    expect(p.asked()).toBe(1);
  });

  it("any other failed command is still 'not yet' until the budget", async () => {
    const p = probeThrowing('error: unable to upgrade connection: container not found ("web")');
    await expect(waitFor(p.probe, ctx(new FakeClock(0)), "10s")).rejects.toThrow(/10(\.0)?s/);
    expect(p.asked()).toBeGreaterThan(1);
  });
});
