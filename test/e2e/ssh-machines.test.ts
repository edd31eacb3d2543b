import { mkdtempSync, readFileSync, writeFileSync, existsSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { docker } from "../../clusters/docker.js";
import { hostKubectl, targetContext } from "../../clusters/existing.js";
import { run, which } from "../../clusters/exec.js";
import { defaultCacheDir } from "../../clusters/images/builder.js";
import { startLocalRegistry, type LocalRegistry } from "../../clusters/host/registry.js";
import { RecordingProgress } from "../../clusters/progress.js";
import type { RunJournal } from "../../harness/engine/journal.js";
import { loadAll, loadScenario } from "../../harness/engine/registry.js";
import { drawScenario } from "../../harness/gameday/draw.js";
import { cli, expectLoadRecorded, expectSelfChecksPassed, leftovers, root, startCli, until } from "./helpers.js";
import { filesDiff, nodeFiles, sshMachines, type SshMachines } from "./ssh-machines.js";
import { ensureTmux, tmuxSession } from "./tmux.js";

/**
 * Issue 32's proof: a kubeadm cluster reached only by its kubeconfig and ssh. A kept kind cluster (1 control plane, 2
 * workers: node-notready-failover needs two; the scenarios of one worker run with the second cordoned) stands in for a platform team's
 * machines: its nodes are given an sshd and an inventory (ssh-machines.ts), and every run below is the CLI as a user
 * types it, `--kubeconfig … --existing-cluster --nodes inventory.yaml --allow-cluster-faults <context>`, with a Docker on
 * its PATH that writes down every call (none may reach a node: the existing-cluster target has no Docker capability).
 *
 * In order: a cluster-wide scenario refused without the allowance; a preflight refusal with a worker NotReady (its
 * kubelet stopped over ssh); etcd-port-conflict, control-plane-manifests-lost, etcd-storage-lost,
 * node-notready-failover and node-reboot-containerd-default passing, each report listing every node command with
 * where it ran; the deadman switch undoing etcd-port-conflict's zombie on the node after the run's ssh was cut
 * mid-fault; a game day (controllers-down drawn) played in tmux whose node-shell reaches the control plane over ssh; then the cluster's objects and the nodes' files against what they were before the first run: nothing
 * differs but what the runs keep on purpose (named below, with the reason).
 *
 * A lane of its own, not part of `pnpm test`: `pnpm test:ssh` (ssh-machines.vitest.config.ts): 35m33s on its first run,
 * 21m04s with all ten tests passing (2026-12-07, a busy machine).
 */

const MIN = 60_000;

/** The five scenarios, in the order they run (a control-plane incident first: the worker reboot comes last but one). */
const FIVE = ["etcd-port-conflict", "control-plane-manifests-lost", "etcd-storage-lost", "node-notready-failover", "node-reboot-containerd-default"] as const;

describe("a kubeadm cluster reached only by its kubeconfig and ssh (kind nodes with sshd stand in for machines)", () => {
  const progress = new RecordingProgress();
  let registry: LocalRegistry | undefined;
  let name = "";
  let kubeconfig = "";
  let context = "";
  let kubectl = "";
  let machines: SshMachines | undefined;
  /** The CLI's environment: a docker on PATH that writes each call to `dockerLog`, then runs the real one. */
  let env: NodeJS.ProcessEnv = {};
  let dockerLog = "";
  let objectsBefore = new Map<string, string>();
  const filesBefore = new Map<string, Map<string, string>>();
  /** Every run's journal (the refusals have none), by scenario (and "deadman"). */
  const journals = new Map<string, RunJournal>();

  const m = () => machines!;
  const k = (...args: string[]) => run(kubectl, ["--kubeconfig", kubeconfig, ...args], { timeout: "1m", allowFailure: true });
  const target = () => ["--kubeconfig", kubeconfig, "--existing-cluster", "--nodes", m().inventory];
  const allowed = () => [...target(), "--allow-cluster-faults", context, "--registry", registry!.address];
  const cp = () => m().machines.find((x) => x.role === "control-plane")!.name;
  const portOf = (node: string) => m().machines.find((x) => x.name === node)!.port;
  /** The node's Ready condition ("True", "False", "Unknown"). */
  const ready = async (node: string) => (await k("get", "node", node, "-o", 'jsonpath={.status.conditions[?(@.type=="Ready")].status}')).stdout.trim();
  /** Namespaces of runs (as-<run>-…, and the sentinels' of a cluster-scoped run on a shared cluster) still there, and the cluster's lock Lease if one is. */
  const runNamespaces = async () =>
    (await k("get", "namespaces", "-o", "name")).stdout.split("\n").filter((n) => /^namespace\/(as-[0-9a-f]{8}-|aftershock-sentinels$)/.test(n));
  const lock = async () => (await k("-n", "kube-system", "get", "lease", "aftershock-lock", "-o", "jsonpath={.spec.holderIdentity}")).stdout.trim();
  /** A command in a node as the test sees it (docker exec: never the run's way in). */
  // What a script printed, each line ending in a newline as the script wrote it (run() gives stdout trimmed).
  const inNode = async (node: string, script: string) => {
    const out = (await docker.run(["exec", node, "bash", "-c", script], { allowFailure: true, timeout: "1m" })).stdout;
    return out && !out.endsWith("\n") ? `${out}\n` : out;
  };
  const journalIn = (output: string): RunJournal => {
    const f = /reports: (\S+journal\.json)/.exec(output)?.[1];
    if (!f) throw new Error(`no journal named in:\n${output.slice(-3000)}`);
    return JSON.parse(readFileSync(path.join(root, f), "utf8")) as RunJournal;
  };
  const dockerCalls = () => (existsSync(dockerLog) ? readFileSync(dockerLog, "utf8").split("\n").filter(Boolean) : []);

  beforeAll(async () => {
    // A registry of its own (port and directory), so that existing.test.ts's beside it is left alone.
    registry = await startLocalRegistry(mkdtempSync(path.join(os.tmpdir(), "as-ssh-registry-")), progress, 5055);
    const created = await cli(["cluster", "create", "--workers", "2", "--insecure-registry", registry.address], 12 * MIN);
    expect(created.code, created.output.slice(-3000)).toBe(0);
    name = /cluster (as-[0-9a-f]{8}) is up/.exec(created.output)![1]!;
    kubeconfig = /export KUBECONFIG=(\S+)/.exec(created.output)![1]!;
    context = targetContext({ kubeconfig });
    kubectl = await hostKubectl(defaultCacheDir(), progress);
    machines = await sshMachines(name, { log: (l) => process.stdout.write(`ssh-machines: ${l}\n`) });
    expect(
      m()
        .machines.map((x) => x.role)
        .sort(),
    ).toEqual(["control-plane", "worker", "worker"]);

    const traced = mkdtempSync(path.join(os.tmpdir(), "as-ssh-docker-"));
    dockerLog = path.join(traced, "calls.log");
    const real = await which("docker");
    writeFileSync(path.join(traced, "docker"), `#!/bin/sh\nprintf '%s\\n' "$*" >>'${dockerLog}'\nexec '${real}' "$@"\n`, { mode: 0o755 });
    env = { PATH: traced };

    objectsBefore = await clusterObjects(kubectl, kubeconfig);
    expect(objectsBefore.size).toBeGreaterThan(50);
    for (const x of m().machines) filesBefore.set(x.name, await nodeFiles(x.name));
  }, 25 * MIN);

  afterAll(async () => {
    await machines?.close();
    if (name) await cli(["cluster", "delete", name], 5 * MIN);
    await registry?.stop();
    if (name) expect(await leftovers(name.slice(3))).toEqual([]);
  }, 10 * MIN);

  it("refuses a scenario that changes the whole cluster without --allow-cluster-faults: exit 2, one line, nothing asked of the cluster or its machines", async () => {
    const calls = dockerCalls().length;
    const connections = { ...m().connections };
    const r = await cli(["scenario", "etcd-port-conflict", ...target(), "--registry", registry!.address], 3 * MIN, env);
    expect([r.code, r.output.trim().split("\n")]).toEqual([
      2,
      [
        `aftershock: error E_REFUSED: scenario etcd-port-conflict changes the whole cluster, and the existing cluster of ${kubeconfig} with 3 machines over ssh (--nodes ${m().inventory}) was not created by this tool; nothing was run (to allow it on this cluster, add --allow-cluster-faults ${context} (its context, exactly); --dry-run shows every command first)`,
      ],
    ]);
    expect(m().connections, "no ssh connection to any machine").toEqual(connections);
    expect(dockerCalls().length, "no docker call").toBe(calls);
    expect(await runNamespaces()).toEqual([]);
    expect(await lock()).toBe("");
  });

  it("a preflight refusal: a worker NotReady beforehand (its kubelet stopped over ssh) aborts the run before anything is written, in one line", async () => {
    // The second worker: node-reboot-containerd-default reboots the first.
    const worker = m().machines.filter((x) => x.role === "worker")[1]!.name;
    await m().ssh(worker, "systemctl stop kubelet");
    try {
      await until(async () => (await ready(worker)) === "Unknown", 3 * MIN, `${worker} NotReady (its kubelet stopped)`);
      const r = await cli(["scenario", "control-plane-manifests-lost", ...allowed(), "--reporter", "console,json"], 8 * MIN, env);
      expect(r.code, r.output.slice(-3000)).toBe(6);
      expect(r.output).toMatch(new RegExp(`^■ control-plane-manifests-lost: ABORTED — preflight: node not Ready: ${worker}$`, "m"));
      const j = journalIn(r.output);
      journals.set("preflight", j);
      expect(j.reason).toBe(`preflight: node not Ready: ${worker}`);
      expect(j.phases.map((p) => `${p.name}:${p.status}`)).toEqual(["cluster:passed", "preflight:failed", "teardown:passed"]);
      // What it ran on the machines: the preflight's etcd health, over ssh on the control plane, and nothing else.
      expect(j.nodeCommands!.map((c) => [c.phase, c.node])).toEqual([["preflight", cp()]]);
      expect(j.nodeCommands![0]!.command).toMatch(new RegExp(`^ssh root@127\\.0\\.0\\.1:${portOf(cp())} bash -c .*etcdctl endpoint health --cluster`, "s"));
      expect(await runNamespaces()).toEqual([]);
      expect(await lock(), "the lock is taken only after a preflight that passed").toBe("");
    } finally {
      await m().ssh(worker, "systemctl start kubelet");
      await until(async () => (await ready(worker)) === "True", 4 * MIN, `${worker} Ready again`);
    }
  });

  it.each(FIVE)(
    "%s passes over ssh: preflight, a snapshot before a control-plane fault, every node command in the report with where it ran",
    async (id) => {
      const s = await loadScenario(id);
      // A scenario of one worker runs on its own shape: the second worker is cordoned for its run (no new pod goes there)
      // and uncordoned after. node-reboot-containerd-default needs it so: its web pods must all stop with the reboot.
      const spare = s.cluster.workers < 2 ? m().machines.filter((x) => x.role === "worker")[1]!.name : undefined;
      if (spare) expect((await k("cordon", spare)).exitCode).toBe(0);
      let r: { code: number | null; output: string };
      try {
        r = await cli(["scenario", id, ...allowed(), "--reporter", "console,json,html"], 20 * MIN, env);
      } finally {
        if (spare) await k("uncordon", spare);
      }
      expect(r.code, r.output.slice(-4000)).toBe(0);
      expect(r.output).toMatch(new RegExp(`^■ ${id}: PASSED — `, "m"));
      const j = journalIn(r.output);
      journals.set(id, j);
      expect(j.phases.map((p) => `${p.name}:${p.status}`)).toEqual(
        ["cluster", "preflight", "setup", "steady-state", "symptoms-absent", "inject", "symptoms", "verify-fails", "runbook", "verify", "teardown"].map(
          (p) => `${p}:passed`,
        ),
      );
      expectSelfChecksPassed(j);
      expectLoadRecorded(s, j);
      expect(j.cluster!.shared).toBe("an existing cluster, not created by this tool and never deleted by it");
      expect([...j.cluster!.nodes].sort()).toEqual(m().machines.map((x) => x.name));
      const evidence = (source: string) => j.evidence.filter((e) => e.source === source).map((e) => e.text);
      expect(evidence("preflight")).toEqual([
        expect.stringMatching(
          new RegExp(
            `^etcd 1/1 members healthy \\(quorum 1, the fault takes away 0\\); 3 nodes Ready; lock kube-system/aftershock-lock taken by run ${j.runId}$`,
          ),
        ),
      ]);
      if (s.tags.includes("control-plane") || s.tags.includes("etcd"))
        expect(evidence("etcd snapshot")).toEqual([expect.stringMatching(new RegExp(`^/var/lib/aftershock/snapshots/${j.runId}\\.db \\d+ bytes on ${cp()}$`))]);
      if (id === "etcd-port-conflict")
        expect(evidence("deadman")).toEqual([
          expect.stringMatching(new RegExp(`^deadman on ${cp()}: systemd aftershock-deadman-${j.runId}-fault, undoes the fault in \\d+s unless disarmed$`)),
          expect.stringMatching(/^disarmed after the runbook: /),
        ]);
      if (id === "node-reboot-containerd-default") {
        // The repaired worker still pulls from the plain-HTTP registry it was told to trust (its registry hosts kept).
        const worker = m().machines.filter((x) => x.role === "worker")[0]!.name;
        const repo = ((await (await fetch(`http://${registry!.address}/v2/_catalog`)).json()) as { repositories: string[] }).repositories[0]!;
        const tag = ((await (await fetch(`http://${registry!.address}/v2/${repo}/tags/list`)).json()) as { tags: string[] }).tags[0]!;
        expect(
          await inNode(
            worker,
            `crictl --timeout 60s pull ${registry!.address}/${repo}:${tag} >/dev/null 2>&1 && echo pulled || crictl --timeout 60s pull ${registry!.address}/${repo}:${tag} 2>&1 | tail -1`,
          ),
        ).toBe("pulled\n");
      }
      if (id === "node-reboot-containerd-default")
        expect(evidence("fault").join("\n")).toMatch(
          // A machine gets a new boot id; a kind node stands in for one and shares the host's kernel, so its PID 1 is what is new.
          /rebooted: \S+ rebooted and answers again at 127\.0\.0\.1:\d+ \((boot id [0-9a-f]{8}, was [0-9a-f]{8}|a new PID 1; boot id [0-9a-f]{8} kept: a container sharing its host's kernel)\)/,
        );

      // Every command on a machine went over ssh to that machine's own address (the inventory's), and the report lists it.
      const cs = j.nodeCommands ?? [];
      expect(cs.length).toBeGreaterThan(3);
      for (const c of cs) expect(c.command, `${c.phase} on ${c.node}`).toMatch(new RegExp(`^ssh root@127\\.0\\.0\\.1:${portOf(c.node)} `));
      expect([...new Set(cs.map((c) => c.phase))]).toEqual(expect.arrayContaining(["preflight", "inject", "runbook"]));
      const html = readFileSync(path.join(root, path.dirname(/reports: (\S+journal\.json)/.exec(r.output)![1]!), "report.html"), "utf8");
      expect(html).toContain("<h3>Commands on the nodes</h3>");
      expect(html).toContain(`ssh root@127.0.0.1:${portOf(cs[0]!.node)}`);
      expect(r.output).toMatch(/^ {2}commands on the nodes: \d+ runs? of \d+ distinct commands? on /m);

      const teardown = j.phases.find((p) => p.name === "teardown")!;
      expect(teardown.steps.filter((x) => !x.ok).map((x) => `${x.title}: ${x.error}`)).toEqual([]);
      expect(teardown.steps.map((x) => x.title)).toContain(`give back cluster ${context}`);
      expect(await runNamespaces()).toEqual([]);
      expect(await lock(), "the lock released").toBe("");
      for (const x of m().machines) expect(await ready(x.name), `${x.name} Ready after ${id}`).toBe("True");
    },
    25 * MIN,
  );

  it(
    "a game day on that cluster: pnpm gameday --kubeconfig … --nodes …, the player's node-shell over ssh, what was typed there in the debrief",
    async () => {
      // The easy game-day incidents this cluster serves; the seed that draws controllers-down among them (a run of it
      // shows the draw in the debrief, and fails here if the cluster served another set).
      const all = await loadAll();
      const pool = all.filter((s) => ["apiserver-down", "controllers-down", "node-notready-failover"].includes(s.id));
      const seed = [...Array(50).keys()].find((x) => drawScenario(pool, { difficulty: "easy" }, x).scenario.id === "controllers-down")!;
      ensureTmux();
      const calls = dockerCalls().length;
      // Killed as this test ends, however it ends (after a failure's screens are dumped below).
      using t = tmuxSession(`aftershock-ssh-gd-${process.pid}`, root, { x: 220, y: 50 });
      const { screen, seen } = t;
      const type = (w: number, text: string) => t.type(w, text);
      try {
        const args = ["--difficulty", "easy", "--seed", String(seed), ...allowed()];
        type(0, `PATH=${env.PATH}:$PATH AFTERSHOCK_GAMEDAY_HINT_EVERY=10m AFTERSHOCK_GAMEDAY_POLL=3s pnpm gameday ${args.join(" ")}`);
        // A game that could not start ends with its debrief at once: no use waiting for a page then.
        await seen(0, /^(PAGE|debrief): /m, 12 * MIN);
        expect(screen(0), "the player paged").toMatch(/^PAGE: /m);
        const runId = /run ([0-9a-f]{8})\. You will be paged/.exec(screen(0))![1]!;
        t.newWindow();
        type(1, "pnpm gameday shell");
        await seen(1, "Game day shell", 60_000);
        type(1, "nodes");
        type(1, `node-shell ${cp()}`);
        // The player's shell on the machine is an ssh session (the game's state names the inventory's address).
        await seen(1, /@\S*control-plane:\S*# *$/m, 60_000);
        type(1, "ls /etc/kubernetes/manifests /etc/kubernetes/aftershock-stopped");
        type(1, "mv /etc/kubernetes/aftershock-stopped/*.yaml /etc/kubernetes/manifests/");
        type(1, "exit");
        await seen(0, /^RECOVERED after \d\d:\d\d/m, 6 * MIN);
        await seen(0, /^debrief: \S+/m, 10 * MIN);
        const html = readFileSync(path.resolve(root, /^debrief: (\S+)/m.exec(screen(0))![1]!), "utf8");
        expect(html).toContain("controllers-down");
        expect(html).toMatch(/\[\S*control-plane\] mv \/etc\/kubernetes\/aftershock-stopped\/\*\.yaml \/etc\/kubernetes\/manifests\//);
        const j = JSON.parse(readFileSync(path.join(root, "reports", `controllers-down-${runId}`, "journal.json"), "utf8")) as RunJournal;
        journals.set("gameday", j);
        expect(j.outcome, j.reason).toBe("passed");
        // Every command the run sent to a machine went over ssh (the game's own included), and Docker reached no node.
        for (const c of j.nodeCommands ?? []) expect(c.command, `${c.phase} on ${c.node}`).toMatch(new RegExp(`^ssh root@127\\.0\\.0\\.1:${portOf(c.node)} `));
        expect(
          dockerCalls()
            .slice(calls)
            .filter((c) => /^(exec|cp|attach)\b/.test(c)),
        ).toEqual([]);
        for (const x of m().machines)
          expect(await inNode(x.name, "ls -d /var/log/aftershock-gameday 2>/dev/null || true"), `node-shell's files gone from ${x.name}`).toBe("");
        expect(await runNamespaces()).toEqual([]);
        expect(await lock()).toBe("");
      } catch (e) {
        process.stderr.write(`${t.dump()}\n`);
        throw e;
      }
    },
    30 * MIN,
  );

  it(
    "the deadman switch: the run's ssh is cut mid-fault, and the control plane undoes etcd-port-conflict's zombie by itself",
    async () => {
      const node = cp();
      const runCli = startCli(["scenario", "etcd-port-conflict", ...allowed(), "--reporter", "console,json,html"], {
        ...env,
        // The node's timer fires 150 s after it was armed (a few seconds before the fault), not after the run's whole budget.
        AFTERSHOCK_TEST_DEADMAN_SECONDS: "150",
      });
      let runId = "";
      try {
        await until(() => /^\[symptoms\] /m.test(runCli.output()), 12 * MIN, "the fault injected (its deadman armed before it)");
        runId = /source: incident \S+, .*run ([0-9a-f]{8})$/m.exec(runCli.output())![1]!;
        expect(runCli.output()).toMatch(new RegExp(`deadman on ${node}: systemd aftershock-deadman-${runId}-fault, undoes the fault in 150s unless disarmed`));
        const armed = `/var/lib/aftershock/deadman/aftershock-deadman-${runId}-fault`;
        expect(await inNode(node, `ls ${armed}.armed ${armed}.sh`)).toBe(`${armed}.armed\n${armed}.sh\n`);
        expect(await inNode(node, "pgrep -f '^/opt/aftershock/etcd --name zombie' >/dev/null && echo zombie")).toBe("zombie\n");

        // The network between this host and the machines goes: every connection of the run dropped, new ones refused.
        m().cut();
        const cutAt = Date.now();
        await until(async () => (await inNode(node, `cat ${armed}.log 2>/dev/null`)).includes("deadman fired"), 5 * MIN, "the node's timer firing");
        const log = await inNode(node, `cat ${armed}.log`);
        expect(log).toMatch(/^deadman fired at \S+\nkilled the zombie etcd\n(put etcd\.yaml back .*\n)?removed the zombie's files\n$/);
        expect((Date.now() - cutAt) / 1000, "fired on its own clock, not at once").toBeGreaterThan(60);
        expect(await inNode(node, "pgrep -f '^/opt/aftershock/etcd --name zombie' || echo none")).toBe("none\n");
        expect(await inNode(node, `ls -d /var/lib/aftershock-zombie /opt/aftershock/etcd ${armed}.armed 2>/dev/null || true`)).toBe("");
        expect(m().refused[node], "the run kept trying the machine while the network was cut").toBeGreaterThan(0);
        // With the port free, the kubelet's next attempt brings etcd back, and the API answers: still without the run.
        await until(async () => (await k("get", "--raw", "/readyz")).stdout.trim() === "ok", 8 * MIN, "the API server ready again (etcd back)");
      } finally {
        m().restore();
      }
      const code = await Promise.race([runCli.exited, new Promise<"late">((r) => setTimeout(() => r("late"), 20 * MIN))]);
      if (code === "late") runCli.child.kill("SIGINT");
      await runCli.exited;
      const j = journalIn(runCli.output());
      journals.set("deadman", j);
      expect(j.runId).toBe(runId);
      // The run lost its machine mid-fault: it cannot have passed; what healed the node was the node.
      expect(j.outcome, j.reason).not.toBe("passed");
      expect(j.evidence.filter((e) => e.source === "deadman").map((e) => e.text)[0]).toMatch(new RegExp(`^deadman on ${node}: systemd `));
      expect(
        j.nodeCommands!.some((c) => c.ended["exit 255"] || c.ended["no exit code"]),
        "some node command failed on the cut",
      ).toBe(true);

      // The cluster is whole again, and nothing of the run is left: no namespace; the lock released, or expired where
      // the run could not reach the API to release it.
      await until(async () => (await k("get", "--raw", "/readyz")).stdout.trim() === "ok", 5 * MIN, "the API server ready");
      for (const x of m().machines) await until(async () => (await ready(x.name)) === "True", 5 * MIN, `${x.name} Ready`);
      // A teardown that met the API down (etcd still crash-looping) left its namespaces: pnpm gc --kubeconfig removes
      // those of this host's dead runs, as after a crash.
      if ((await runNamespaces()).length) {
        const gc = await cli(["gc", "--kubeconfig", kubeconfig], 3 * MIN, env);
        expect(gc.code, gc.output).toBe(0);
      }
      await until(async () => !(await runNamespaces()).length, 5 * MIN, "the run's namespaces gone");
      const left = await k("-n", "kube-system", "get", "lease", "aftershock-lock", "-o", "jsonpath={.spec.renewTime}");
      if (left.stdout.trim()) expect(Date.now() - new Date(left.stdout.trim()).getTime(), "a lock left behind has expired").toBeGreaterThan(60_000);
    },
    40 * MIN,
  );

  it("nothing outside the runs' changes remains: the cluster's objects and the nodes' files as before, but for what the runs keep; Docker never reached a node", async () => {
    // A lock the deadman's run could not release is expired; a later run takes it over. It goes, as the run would have.
    await k("-n", "kube-system", "delete", "lease", "aftershock-lock", "--ignore-not-found");
    const after = await clusterObjects(kubectl, kubeconfig);
    const changed = [...new Set([...objectsBefore.keys(), ...after.keys()])]
      .filter((key) => objectsBefore.get(key) !== after.get(key))
      .map((key) => `${key}: ${objectsBefore.get(key)?.slice(0, 400) ?? "(absent)"} -> ${after.get(key)?.slice(0, 400) ?? "(absent)"}`);
    expect(changed, "no object outside the runs' namespaces changed").toEqual([]);

    // What the runs keep on the machines on purpose, each with its reason; anything else is a leftover.
    const runIdOf = (key: string) => journals.get(key)?.runId ?? "--none--";
    const controlPlaneRuns = ["etcd-port-conflict", "control-plane-manifests-lost", "etcd-storage-lost", "gameday", "deadman"].map(runIdOf);
    const worker = m().machines.filter((x) => x.role === "worker")[0]!.name;
    const kept: { node: string; change: RegExp; why: string }[] = [
      ...controlPlaneRuns.map((id) => ({
        node: cp(),
        change: new RegExp(`^added /var/lib/aftershock/snapshots/${id}\\.db$`),
        why: "the etcd snapshot taken before a control-plane fault, kept on the node and named in the report",
      })),
      {
        node: cp(),
        change: new RegExp(`^added /var/lib/aftershock/deadman/aftershock-deadman-${runIdOf("deadman")}-fault\\.(log|sh)$`),
        why: "the switch that fired: its log (when, and what it undid) and its script, which the run, cut off, could not clear",
      },
      { node: cp(), change: /^added \/var\/lib\/etcd-backup\/snapshot\.db$/, why: "etcd-storage-lost's periodic snapshot, which its runbook restores" },
      {
        node: cp(),
        change: /^added \/opt\/aftershock\/bin\/etcdutl$/,
        why: "etcd-storage-lost's etcdutl, copied from the node's own etcd image (clusters/etcd.ts) into the run-owned /opt/aftershock/bin and reused by later runs",
      },
      {
        node: worker,
        change: /^(changed \/etc\/containerd\/config\.toml|added \/etc\/containerd\/config\.toml\.broken)$/,
        why: "node-reboot-containerd-default's repair: containerd's default configuration, the broken one kept beside it",
      },
      {
        node: worker,
        change: /^changed (\/kind\/old-ipv[46]|\/var\/lib\/kubelet\/kubeadm-flags\.env)$/,
        why: "kind's entrypoint records the address Docker gave the rebooted node (a machine's DHCP lease may change too)",
      },
      {
        node: worker,
        change: /^changed \/var\/log\/alternatives\.log$/,
        why: "kind's entrypoint sets iptables' alternative at each boot of the rebooted node, and update-alternatives logs it",
      },
    ];
    for (const x of m().machines) {
      const diff = filesDiff(filesBefore.get(x.name)!, await nodeFiles(x.name));
      const unexplained = diff.filter((d) => !kept.some((kp) => kp.node === x.name && kp.change.test(d)));
      expect(unexplained, `files of ${x.name} changed by no run on purpose (diff: ${diff.join("; ")})`).toEqual([]);
      // No switch is left armed, and no zombie etcd runs.
      expect(await inNode(x.name, "ls /var/lib/aftershock/deadman/*.armed 2>/dev/null | wc -l; pgrep -fc '^/opt/aftershock/etcd' || true")).toBe("0\n0\n");
    }
    expect(filesDiff(filesBefore.get(cp())!, await nodeFiles(cp()))).toEqual(
      // (the runs of this file that ran: a re-run filtered with -t has fewer)
      expect.arrayContaining(controlPlaneRuns.filter((id) => id !== "--none--").map((id) => `added /var/lib/aftershock/snapshots/${id}.db`)),
    );

    // Docker was never used to reach a node: no call names a node container, and nothing was exec'd, copied or restarted.
    const calls = dockerCalls();
    const nodeCalls = calls.filter(
      (c) => m().machines.some((x) => c.split(" ").includes(x.name)) || /^(exec|cp|attach|start|stop|restart|kill|update)\b/.test(c),
    );
    expect(nodeCalls, `docker calls of the runs: ${calls.join(" | ")}`).toEqual([]);
  });
});

/**
 * Every listable object outside the runs' namespaces, by what a user sets (spec, data, rules), events, leases and
 * endpoints aside, as existing.test.ts compares them; pods by their owners' specs (a pod replaced on another node
 * has another name), static pods by name.
 */
async function clusterObjects(kubectl: string, kubeconfig: string): Promise<Map<string, string>> {
  const k = (...a: string[]) => run(kubectl, ["--kubeconfig", kubeconfig, ...a], { timeout: "2m" });
  const kinds = (await k("api-resources", "--verbs=list", "-o", "name")).stdout
    .split("\n")
    .filter(Boolean)
    .filter((r) => !/^(events|leases|endpoints|endpointslices|componentstatuses|bindings)(\.|$)/.test(r) && !r.startsWith("events."));
  const items = JSON.parse((await k("get", kinds.join(","), "-A", "-o", "json")).stdout) as {
    items: {
      kind: string;
      metadata: { namespace?: string; name: string; ownerReferences?: { kind: string }[] };
      spec?: { taints?: { key: string }[]; claimRef?: { namespace?: string } };
      data?: unknown;
      rules?: unknown;
      roleRef?: unknown;
      subjects?: unknown;
      webhooks?: unknown;
    }[];
  };
  const out = new Map<string, string>();
  for (const o of items.items) {
    const ns = o.metadata.namespace ?? "";
    if (/^as-[0-9a-f]{8}-/.test(ns) || (o.kind === "Namespace" && /^as-[0-9a-f]{8}-/.test(o.metadata.name))) continue;
    if (o.kind === "PersistentVolume" && /^as-[0-9a-f]{8}-/.test(o.spec?.claimRef?.namespace ?? "")) continue;
    if (o.kind === "Pod" && o.metadata.ownerReferences?.some((r) => r.kind !== "Node")) continue;
    if (o.kind === "Pod" && ns === "local-path-storage" && o.metadata.name.startsWith("helper-pod-")) continue;
    // A Node's condition taints (not-ready, unreachable: a worker stopped or rebooted by a run comes back without them).
    const taints = o.spec?.taints?.filter((t) => !t.key.startsWith("node.kubernetes.io/"));
    const spec = o.kind === "Node" && o.spec ? { ...o.spec, taints: taints?.length ? taints : undefined } : o.spec;
    out.set(
      `${o.kind}/${ns}/${o.metadata.name}`,
      JSON.stringify({ spec, data: o.data, rules: o.rules, roleRef: o.roleRef, subjects: o.subjects, webhooks: o.webhooks }),
    );
  }
  return out;
}
