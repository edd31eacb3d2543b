import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { run } from "../../clusters/exec.js";
import { KindProvider } from "../../clusters/kind/provider.js";
import { RecordingProgress } from "../../clusters/progress.js";
import { cli, expectSelfChecksPassed, leftovers, readJournal, runIdIn, nodeStatuses } from "./helpers.js";

/** The catalog's etcd-port-conflict run, made through the CLI with --keep as a user makes it. */
describe("etcd-port-conflict with --keep, as a user runs it", () => {
  // A kept cluster has no reaper: when an assertion fails before the test's own delete, it would stay behind
  // (seen on 2026-12-07). The test deletes it as a user does; this deletes it when the test could not.
  let kept: string | undefined;
  afterAll(async () => {
    if (kept) await cli(["cluster", "delete", kept], 8 * 60_000);
  });
  it("passes, exits, and its cluster stays reachable (listed as kept, no reaper) until pnpm cluster delete removes it all", async () => {
    const r = await cli(["scenario", "etcd-port-conflict", "--keep", "--reporter", "console,json"]);
    expect(r.code, r.output.slice(-3000)).toBe(0);
    const runId = runIdIn(r.output);
    const name = `as-${runId}`;
    kept = name;

    // The incident itself, as in every catalog run.
    const j = readJournal("etcd-port-conflict", runId);
    expect(j.outcome, j.reason).toBe("passed");
    expectSelfChecksPassed(j);
    const symptoms = j.phases.find((p) => p.name === "symptoms")!.probes;
    expect(symptoms.find((p) => p.name.startsWith("etcd log"))!.observed).toMatch(/listen tcp [\d.]+:2380: bind: address already in use/);
    expect(symptoms.find((p) => p.name.startsWith("API server /healthz"))!.observed).toContain("[-]etcd failed");
    expect(symptoms.find((p) => p.name.startsWith("kubelet reports"))!.observed).toMatch(/CrashLoopBackOff.*etcd/);
    // ss -ltnp (kind's node image has no lsof): the zombie etcd listening on the peer port, with its pid.
    expect(j.phases.find((p) => p.name === "runbook")!.steps[0]!.output).toMatch(/^LISTEN\s.*:2380\s.*users:\(\("etcd",pid=\d+/m);
    expect(
      j.phases
        .find((p) => p.name === "verify")!
        .probes.filter((p) => p.kind === "sentinel")
        .map((p) => p.observed),
    ).toEqual(["20/20 intact", "2/2 available"]);
    expect(
      j.phases.map((p) => p.name),
      "kept: no teardown",
    ).not.toContain("teardown");
    expect(j.kept).toContain("it stays until you delete it");

    // Kept means kept: the process is gone, no reaper is waiting for it, and the cluster still answers.
    const kubeconfig = /export KUBECONFIG=(\S+)/.exec(r.output)![1]!;
    const kubectl = new RegExp(`^\\s+(\\S*kubectl) get nodes$`, "m").exec(r.output)![1]!;
    await new Promise((res) => setTimeout(res, 20_000));
    const reapers = await run("pgrep", ["-f", `reaper.sh ${runId}`], { allowFailure: true });
    expect(reapers.stdout.trim(), "no reaper for a kept run").toBe("");
    const info = (await new KindProvider({ progress: new RecordingProgress() }).list()).find((c) => c.name === name);
    expect(info).toMatchObject({ keep: true, ownerPid: 0 });
    const list = await cli(["cluster", "list"], 60_000);
    expect(list.output).toMatch(new RegExp(`^${name}\\t2 nodes\\trun ${runId}\\tkept`, "m"));
    expect(await nodeStatuses(kubectl, kubeconfig)).toEqual([`${name}-control-plane Ready`, `${name}-worker Ready`]);
    expect(path.isAbsolute(kubeconfig)).toBe(true);

    const del = await cli(["cluster", "delete", name], 8 * 60_000);
    kept = undefined;
    expect(del.code, del.output).toBe(0);
    expect(await leftovers(runId)).toEqual([]);
  });
});
