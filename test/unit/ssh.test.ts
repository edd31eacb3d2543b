import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { V1Lease } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { leaseVerdict, takeLock, type LeaseStore } from "../../clusters/cluster-lease.js";
import { restrictTo, nodeReboot, type ClusterAccess } from "../../clusters/contract.js";
import { checkAllowance, refuseClusterFaults, targetContext } from "../../clusters/existing.js";
import { armScript, deadmanSeconds, deadmanUnit, disarmScript } from "../../clusters/ssh/deadman.js";
import { etcdctlScript, parseEndpointHealth, snapshotScript } from "../../clusters/etcd.js";
import { matchInventory, parseAddress, parseInventory, roleOf } from "../../clusters/ssh/inventory.js";
import { preflightVerdict, quorumOf } from "../../clusters/ssh/preflight.js";
import { readBootMark, rebootOverSsh, remoteLine, sshArgv } from "../../clusters/ssh/ssh-node.js";
import { planByNode, targetOf } from "../../harness/engine/plan-by-node.js";

const fs = (files: string[]) => ({ exists: (f: string) => files.includes(f), home: "/home/me" });
const inv = (text: string, files = ["/inv/keys/cp", "/home/me/.ssh/w"]) => parseInventory(text, "/inv/nodes.yaml", fs(files));

describe("inventory (--nodes)", () => {
  it("reads names, host[:port], user, key (relative to the file, ~ for home) and sudo", () => {
    const i = inv(`nodes:
  cp-1: { address: 10.0.0.11, user: root, key: keys/cp }
  worker-1: { address: "w1.example.com:2222", user: ubuntu, key: ~/.ssh/w, sudo: true }
  worker-2: { address: "[fd00::2]", port: 2200, user: root, key: keys/cp }
`);
    expect(i.nodes).toEqual([
      { name: "cp-1", host: "10.0.0.11", port: 22, user: "root", key: "/inv/keys/cp", sudo: false },
      { name: "worker-1", host: "w1.example.com", port: 2222, user: "ubuntu", key: "/home/me/.ssh/w", sudo: true },
      { name: "worker-2", host: "fd00::2", port: 2200, user: "root", key: "/inv/keys/cp", sudo: false },
    ]);
  });

  it.each([
    [
      "a missing key file",
      "nodes:\n  cp-1: { address: h, user: root, key: keys/none }\n",
      /^--nodes \/inv\/nodes\.yaml: node cp-1: key keys\/none: no such file$/,
    ],
    [
      "a duplicate address",
      "nodes:\n  a: { address: h, user: root, key: keys/cp }\n  b: { address: 'h:22', user: root, key: keys/cp }\n",
      /node b: address h:22 is also node a's/,
    ],
    [
      "an unknown field",
      "nodes:\n  a: { address: h, user: root, key: keys/cp, pasword: x }\n",
      /node a: unknown field "pasword" \(known: address, user, key, sudo, port\)/,
    ],
    ["an unknown top-level field", "hosts: {}\nnodes:\n  a: { address: h, user: root, key: keys/cp }\n", /unknown field "hosts"/],
    ["a missing user", "nodes:\n  a: { address: h, key: keys/cp }\n", /node a: user is required/],
    ["a bad address", "nodes:\n  a: { address: 'h:x', user: root, key: keys/cp }\n", /node a: address is not host or host:port/],
    ["a port that contradicts the address", "nodes:\n  a: { address: 'h:22', port: 2222, user: root, key: keys/cp }\n", /port 2222 contradicts/],
    ["a non-root user without sudo", "nodes:\n  a: { address: h, user: ubuntu, key: keys/cp }\n", /"ubuntu" is not root: set sudo: true/],
    ["sudo that is not a boolean", "nodes:\n  a: { address: h, user: ubuntu, key: keys/cp, sudo: 'yes' }\n", /sudo must be true or false/],
    ["no nodes", "nodes: {}\n", /`nodes:` must map/],
    ["not a node name", "nodes:\n  Bad_Name: { address: h, user: root, key: keys/cp }\n", /not a Kubernetes node name/],
    ["not YAML", "nodes: [\n", /not YAML/],
  ])("refuses %s in one line", (_what, text, re) => {
    let err: Error | undefined;
    try {
      inv(text);
    } catch (e) {
      err = e as Error;
    }
    expect(err?.message).toMatch(re);
    expect(err?.message).not.toContain("\n");
    expect((err as { code?: string }).code).toBe("E_BAD_INPUT");
  });

  it("parses addresses", () => {
    expect(parseAddress("10.0.0.1")).toEqual({ host: "10.0.0.1" });
    expect(parseAddress("h.example:2222")).toEqual({ host: "h.example", port: 2222 });
    expect(parseAddress("[::1]:22")).toEqual({ host: "::1", port: 22 });
    expect(parseAddress("a b")).toBeUndefined();
  });

  const node = (name: string, role?: "control-plane" | "master") => ({ name, labels: role ? { [`node-role.kubernetes.io/${role}`]: "" } : {}, ready: true });
  const i = inv("nodes:\n  cp-1: { address: a, user: root, key: keys/cp }\n  w-1: { address: b, user: root, key: keys/cp }\n");

  it("matches the cluster's Nodes, roles from their labels", () => {
    expect(matchInventory(i, [node("cp-1", "control-plane"), node("w-1")])).toEqual([
      { name: "cp-1", role: "control-plane" },
      { name: "w-1", role: "worker" },
    ]);
    expect(roleOf({ "node-role.kubernetes.io/master": "" })).toBe("control-plane");
  });

  it("refuses an inventory name that is not a Node, and a Node missing from the inventory", () => {
    expect(() => matchInventory(i, [node("cp-1", "control-plane")])).toThrow(/^--nodes \/inv\/nodes\.yaml: w-1 is not a Node of the cluster$/);
    expect(() => matchInventory(i, [node("cp-1", "control-plane"), node("w-1"), node("w-2"), node("w-3")])).toThrow(/no entry for Nodes w-2, w-3$/);
  });
});

describe("ssh command lines", () => {
  const n = { name: "cp-1", host: "10.0.0.11", port: 2222, user: "ubuntu", key: "/k/id", sudo: true };
  const s = { knownHosts: "/run/x/known_hosts", controlDir: "/run/x/cm", connectTimeoutS: 7, persist: "60s" };

  it("batch mode, the run's known_hosts (accept-new), a connect timeout, ControlMaster under the run's dir, the key, port and user", () => {
    const a = sshArgv(n, s, "none");
    const opts = a.flatMap((x, k) => (a[k - 1] === "-o" ? [x] : []));
    expect(opts).toEqual(
      expect.arrayContaining([
        "BatchMode=yes",
        "StrictHostKeyChecking=accept-new",
        "UserKnownHostsFile=/run/x/known_hosts",
        "ConnectTimeout=7",
        "ControlMaster=auto",
        "ControlPath=/run/x/cm/%C",
        "ControlPersist=60s",
      ]),
    );
    expect(a.slice(-8)).toEqual(["-p", "2222", "-l", "ubuntu", "-T", "-n", "10.0.0.11", "--"]);
    expect(sshArgv(n, s, "tty")).toContain("-t");
    expect(sshArgv(n, s, "stdin")).not.toContain("-n");
  });

  it("quotes every word for the node's shell, behind sudo -n, under the node's timeout when there is a budget", () => {
    expect(remoteLine(["bash", "-c", "echo 'hi' $X"], false)).toBe(`bash -c 'echo '\\''hi'\\'' $X'`);
    expect(remoteLine(["crictl", "ps"], true)).toBe("sudo -n -- crictl ps");
    expect(remoteLine(["crictl", "ps"], true, "1500ms")).toBe("sudo -n -- timeout --kill-after=5 2s crictl ps");
    // What the node's shell makes of it is the argv again.
    const line = remoteLine(["printf", "%s|", "a b", "it's", "$HOME", ""], false);
    expect(spawnSync("sh", ["-c", line], { encoding: "utf8" }).stdout).toBe("a b|it's|$HOME||");
  });
});

describe("deadman switch scripts", () => {
  const spec = { runId: "ab12cd34", tag: "fault", seconds: 900, undo: "mv /etc/kubernetes/parked/*.yaml /etc/kubernetes/manifests/ 2>/dev/null || true" };

  it("systemd where systemd runs the machine: a transient timer named after the run, the undo in a file", () => {
    const s = armScript(spec);
    expect(deadmanUnit(spec)).toBe("aftershock-deadman-ab12cd34-fault");
    expect(s).toContain(
      "systemd-run --quiet --unit=aftershock-deadman-ab12cd34-fault --on-active=900s --timer-property=AccuracySec=1s /bin/sh /var/lib/aftershock/deadman/aftershock-deadman-ab12cd34-fault.sh",
    );
    expect(s).toContain("if [ -d /run/systemd/system ] && command -v systemd-run");
    expect(s).toContain(spec.undo);
    expect(armScript({ ...spec, mode: "sleep" })).not.toContain("systemd-run");
    expect(spawnSync("bash", ["-n", "-c", s]).status).toBe(0);
    expect(spawnSync("sh", ["-n", "-c", disarmScript(spec)]).status).toBe(0);
  });

  it("disarm stops the timer and removes the armed file first", () => {
    const d = disarmScript(spec);
    expect(d.split("\n")[0]).toBe("rm -f /var/lib/aftershock/deadman/aftershock-deadman-ab12cd34-fault.armed");
    expect(d).toContain("systemctl stop aftershock-deadman-ab12cd34-fault.timer");
  });

  it("refuses a nonsense wait and an undo that would end the heredoc", () => {
    expect(() => armScript({ ...spec, seconds: 0 })).toThrow(/whole number ≥ 1/);
    expect(() => armScript({ ...spec, undo: "echo\nAFTERSHOCK_DEADMAN_EOF\n" })).toThrow(/must not contain/);
  });

  it("the sleep fallback runs the undo after N seconds unless disarmed (locally, in a fake root)", async () => {
    const root = mkdtempSync(path.join(os.tmpdir(), "deadman-"));
    const local = (s: string) => s.replaceAll("/var/lib/aftershock/deadman", path.join(root, "dm"));
    const fired = path.join(root, "fired");
    const arm = (tag: string) =>
      spawnSync("sh", ["-c", local(armScript({ runId: "r1", tag, seconds: 1, undo: `echo ${tag} >>${fired}`, mode: "sleep" }))], { encoding: "utf8" });
    expect(arm("kept").stdout).toMatch(/^armed sleep \d+$/m);
    expect(arm("disarmed").status).toBe(0);
    spawnSync("sh", ["-c", local(disarmScript({ runId: "r1", tag: "disarmed" }))]);
    await new Promise((r) => setTimeout(r, 2500));
    expect(existsSync(fired) ? readFileSync(fired, "utf8") : "").toBe("kept\n");
  });

  it("waits for the run's budgets from the fault to verification, plus a margin", () => {
    expect(deadmanSeconds({ symptomsMs: 180_000, runbookMs: [120_000, 60_000], verifyMs: 300_000 })).toBe(660 + 300);
    expect(deadmanSeconds({ symptomsMs: 0, runbookMs: [], verifyMs: 0 }, 0)).toBe(120);
  });
});

describe("etcd over the node shell", () => {
  it("etcdctl of the etcd container (the node has none), with kubeadm's certificates", () => {
    const s = etcdctlScript(["endpoint", "health", "--cluster", "-w", "json"]);
    expect(s).toContain("--cacert=/etc/kubernetes/pki/etcd/ca.crt --cert=/etc/kubernetes/pki/etcd/healthcheck-client.crt");
    expect(s).toContain(`crictl exec "$cid" etcdctl`);
    expect(s).not.toContain("command -v etcdctl");
    expect(spawnSync("sh", ["-n", "-c", s]).status).toBe(0);
    // Run against a stand-in crictl: the running etcd container's id, then etcdctl in it with the flags and the arguments.
    const bin = mkdtempSync(path.join(os.tmpdir(), "as-crictl-"));
    writeFileSync(path.join(bin, "crictl"), '#!/bin/sh\nif [ "$1" = ps ]; then echo c0ffee; echo beef; else echo "$@"; fi\n', { mode: 0o755 });
    const r = spawnSync("bash", ["-c", s], { env: { PATH: `${bin}:/usr/bin:/bin`, HOME: bin }, encoding: "utf8" });
    expect(r.stdout).toMatch(
      /^exec c0ffee etcdctl --cacert=\S+ --cert=\S+ --key=\S+ --command-timeout=10s --endpoints=https:\/\/127\.0\.0\.1:2379 endpoint health --cluster -w json\n$/,
    );
    writeFileSync(path.join(bin, "crictl"), "#!/bin/sh\n", { mode: 0o755 });
    const none = spawnSync("bash", ["-c", s], { env: { PATH: `${bin}:/usr/bin:/bin`, HOME: bin }, encoding: "utf8" });
    expect([none.status, none.stderr]).toEqual([3, expect.stringMatching(/^no running etcd container on .+ \(crictl ps --name etcd\)\n$/)]);
  });

  it("reads endpoint health JSON, unhealthy members with their error", () => {
    const out = `[{"endpoint":"https://10.0.0.11:2379","health":true,"took":"9ms"},{"endpoint":"https://10.0.0.12:2379","health":false,"took":"5s","error":"context deadline exceeded"}]`;
    expect(parseEndpointHealth(`{"level":"warn"}\n${out}`)).toEqual([
      { endpoint: "https://10.0.0.11:2379", healthy: true },
      { endpoint: "https://10.0.0.12:2379", healthy: false, error: "context deadline exceeded" },
    ]);
    expect(() => parseEndpointHealth("Error: no such host")).toThrow(/gave no JSON/);
  });

  it("snapshot to /var/lib/aftershock/snapshots/<run>.db, written by the etcd container into its mounted data dir and moved out", () => {
    const s = snapshotScript("ab12cd34");
    expect(s).toContain("/var/lib/aftershock/snapshots/ab12cd34.db");
    expect(s).toContain("snapshot save /var/lib/etcd/aftershock-ab12cd34.db.part");
    expect(spawnSync("sh", ["-n", "-c", s]).status).toBe(0);
    expect(() => snapshotScript("../x")).toThrow(/kebab-case/);
  });
});

describe("preflight verdict", () => {
  const healthy = (n: number) => Array.from({ length: n }, (_, i) => ({ endpoint: `https://10.0.0.${i + 1}:2379`, healthy: true }));
  const nodes = [
    { name: "cp-1", ready: true },
    { name: "w-1", ready: true },
  ];

  it("passes a healthy cluster with quorum to spare", () => {
    const v = preflightVerdict({ etcd: healthy(3), nodes, etcdMembersLost: 1 });
    expect(v).toEqual({ ok: true, line: "etcd 3/3 members healthy (quorum 2, the fault takes away 1); 2 nodes Ready" });
  });

  it.each([
    [{ etcd: healthy(3), nodes, etcdMembersLost: 2 }, "etcd has 3 members (quorum 2); the fault takes away 2, leaving 1: no quorum to spare"],
    [{ etcd: healthy(1), nodes, etcdMembersLost: 1 }, "etcd has 1 member (quorum 1); the fault takes away 1, leaving 0: no quorum to spare"],
    [
      { etcd: [...healthy(2), { endpoint: "https://10.0.0.3:2379", healthy: false, error: "EOF" }], nodes, etcdMembersLost: 0 },
      "etcd is not healthy: https://10.0.0.3:2379 (EOF) of 3 members unhealthy",
    ],
    [{ etcd: { error: "no running etcd container on cp-1" }, nodes, etcdMembersLost: 0 }, "etcd could not be checked: no running etcd container on cp-1"],
    [{ etcd: [], nodes, etcdMembersLost: 0 }, "etcd reported no members"],
    [{ etcd: healthy(1), nodes: [...nodes, { name: "w-2", ready: false }], etcdMembersLost: 0 }, "node not Ready: w-2"],
  ])("refuses, naming the reason in one line (%#)", (facts, reason) => {
    expect(preflightVerdict(facts)).toEqual({ ok: false, reason });
  });

  it("quorum", () => {
    expect([1, 2, 3, 4, 5].map(quorumOf)).toEqual([1, 2, 2, 3, 3]);
  });
});

describe("the cluster's lock (Lease kube-system/aftershock-lock)", () => {
  const lease = (holder: string, renewedAt: number, durationS = 60, rv = "1"): V1Lease => ({
    metadata: { name: "aftershock-lock", namespace: "kube-system", resourceVersion: rv },
    spec: { holderIdentity: holder, renewTime: new Date(renewedAt), leaseDurationSeconds: durationS, leaseTransitions: 0 },
  });
  const memory = (initial?: V1Lease) => {
    let l = initial;
    const calls: string[] = [];
    const store: LeaseStore = {
      read: async () => l,
      create: async (x) => {
        calls.push("create");
        if (l) throw Object.assign(new Error("exists"), { code: 409 });
        return (l = x);
      },
      replace: async (x) => {
        calls.push("replace");
        if (l && x.metadata?.resourceVersion && x.metadata.resourceVersion !== l.metadata?.resourceVersion)
          throw Object.assign(new Error("conflict"), { code: 409 });
        return (l = x);
      },
      delete: async () => {
        calls.push("delete");
        l = undefined;
      },
    };
    return { store, calls, get: () => l };
  };

  it("decides: free, ours, expired, or held (by whom, for how long)", () => {
    expect(leaseVerdict(undefined, "r1", 0)).toEqual({ take: "create" });
    expect(leaseVerdict({ holder: "r1", renewedAt: 0, durationS: 60 }, "r1", 10)).toEqual({ take: "ours" });
    expect(leaseVerdict({ holder: "r0", renewedAt: 0, durationS: 60 }, "r1", 60_000)).toEqual({ take: "expired" });
    expect(leaseVerdict({ holder: "r0", renewedAt: 0, durationS: 60 }, "r1", 45_000)).toEqual({ heldBy: "r0", expiresInMs: 15_000 });
  });

  it("takes a free lock, and releases it (only its own)", async () => {
    const m = memory();
    const held = await takeLock(m.store, "r1", { renew: false });
    expect(held.how).toBe("taken");
    expect(m.get()?.spec?.holderIdentity).toBe("r1");
    await held.release();
    await held.release();
    expect(m.get()).toBeUndefined();
    expect(m.calls).toEqual(["create", "delete"]);
  });

  it("writes its times as the API's MicroTime, six fractional digits (a Date's three are refused with API 400)", async () => {
    const m = memory();
    await takeLock(m.store, "r1", { renew: false, now: () => Date.UTC(2026, 11, 7, 13, 23, 55, 314) });
    const spec = JSON.parse(JSON.stringify(m.get()?.spec)) as { acquireTime: string; renewTime: string };
    expect([spec.acquireTime, spec.renewTime]).toEqual(["2026-12-07T13:23:55.314000Z", "2026-12-07T13:23:55.314000Z"]);
  });

  it("refuses a lock another live run holds, in one line naming it", async () => {
    const m = memory(lease("r0", 1_000_000));
    await expect(takeLock(m.store, "r1", { renew: false, now: () => 1_030_000 })).rejects.toThrow(
      /^another Aftershock run \(r0\) holds the cluster's lock \(Lease kube-system\/aftershock-lock, expires in 30\.0s unless renewed\)$/,
    );
  });

  it("takes over an expired lock, and does not delete one another run took since", async () => {
    const m = memory(lease("r0", 0));
    const held = await takeLock(m.store, "r1", { renew: false, now: () => 61_000 });
    expect(held.how).toBe("taken over from r0, whose Lease had expired");
    expect(m.get()?.spec?.leaseTransitions).toBe(1);
    // Another run took it (say this one stalled past its expiry): release leaves it alone.
    await m.store.replace({ ...m.get()!, spec: { ...m.get()!.spec, holderIdentity: "r2" } });
    await held.release();
    expect(m.get()?.spec?.holderIdentity).toBe("r2");
  });
});

describe("cluster-scope faults on a cluster this tool did not create", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "kc-"));
  const kubeconfig = path.join(dir, "config");
  writeFileSync(
    kubeconfig,
    "apiVersion: v1\nkind: Config\ncurrent-context: staging-admin\ncontexts:\n- name: staging-admin\n  context: {cluster: s, user: u}\n",
  );
  const t = { kubeconfig };

  it("need --allow-cluster-faults naming the context in use exactly (E_REFUSED, exit 2)", () => {
    expect(targetContext(t)).toBe("staging-admin");
    expect(() => refuseClusterFaults({ id: "apiserver-down", scope: "cluster" }, t, "staging-admin")).toThrow(
      /^scenario apiserver-down changes the whole cluster, and the existing cluster of .* was not created by this tool; nothing was run$/,
    );
    expect(() => refuseClusterFaults({ id: "apiserver-down", scope: "cluster" }, { ...t, allowClusterFaults: "staging" }, "staging-admin")).toThrow(
      /^--allow-cluster-faults staging does not name the context in use, staging-admin; nothing was run$/,
    );
    expect(() => refuseClusterFaults({ id: "apiserver-down", scope: "cluster" }, { ...t, allowClusterFaults: "staging-admin" }, "staging-admin")).not.toThrow();
    expect(() => refuseClusterFaults({ id: "crashloop-triage", scope: "namespace" }, t, "staging-admin")).not.toThrow();
    // Caught and then checked: an expect inside the catch never ran when nothing was thrown, so it could not fail.
    const refused = (() => {
      try {
        checkAllowance("prod", "staging-admin");
        return "not refused";
      } catch (e) {
        return (e as { code?: string }).code;
      }
    })();
    expect(refused).toBe("E_REFUSED");
    expect(targetContext({ ...t, context: "other" })).toBe("other");
  });
});

describe("node-reboot capability", () => {
  it("a target with reboots only offers node-reboot, never node-lifecycle; kind's lifecycle serves node-reboot too", () => {
    const base = { name: "c", runId: "r", kubernetesVersion: "v1", kubeconfigPath: "/k", api: {} as ClusterAccess["api"], kubectl: async () => ({}) as never };
    const reboot = { rebootNode: async () => "ok" };
    const ssh = restrictTo({ ...base, reboot } as ClusterAccess, ["node-reboot"]);
    expect(nodeReboot(ssh)).toBe(reboot);
    expect(restrictTo({ ...base, reboot } as ClusterAccess, ["node-lifecycle"]).lifecycle).toBeUndefined();
    const lifecycle = { ...reboot, destroyNode: async () => {}, provisionNode: async () => ({}) as never };
    expect(nodeReboot(restrictTo({ ...base, lifecycle } as ClusterAccess, ["node-reboot"]))).toBe(lifecycle);
    expect(() => nodeReboot(restrictTo({ ...base, reboot } as ClusterAccess, []))).toThrow(/cannot reboot machines/);
  });
});

describe("--dry-run per node", () => {
  const nodes = [
    { name: "cp-1", role: "control-plane" as const },
    { name: "cp-2", role: "control-plane" as const },
    { name: "w-1", role: "worker" as const },
  ];

  it("puts each line with what it names: a node, kubectl (this host), control-plane files, a worker, or a node picked at run time", () => {
    expect(targetOf("systemctl stop kubelet   # on w-1", nodes, [])).toBe("w-1 (worker)");
    expect(targetOf("kubectl get nodes", nodes, [])).toBe("this host (kubectl and helm, through the API)");
    expect(targetOf("mv /etc/kubernetes/manifests/kube-apiserver.yaml /tmp", nodes, [])).toBe("a control-plane node (one of cp-1, cp-2)");
    expect(targetOf("systemctl stop kubelet   # the worker", nodes, [])).toBe("w-1 (worker)");
    expect(targetOf("fallocate -l 10G /var/fill", nodes, [])).toBe("a node picked at run time (one of cp-1, cp-2, w-1)");
    expect(targetOf("fallocate -l 10G /var/fill", nodes, ["control-plane"])).toBe("a control-plane node (one of cp-1, cp-2)");
  });

  it("lists fault, runbook and rollback commands grouped by target", () => {
    const text = planByNode(
      {
        tags: [],
        fault: {
          title: "f",
          plan: ["systemctl stop kubelet   # on w-1"],
          inject: async () => {},
          rollback: { title: "r", shows: "systemctl start kubelet   # on w-1", budgetMs: 1, run: async () => {} },
        },
        runbook: [{ title: "look", shows: "kubectl get nodes\n# a comment\nsystemctl start kubelet   # on w-1", budgetMs: 1, run: async () => {} }],
      },
      nodes,
    );
    expect(text).toBe(
      [
        "commands by where they run:",
        "  w-1 (worker):",
        "    [fault] $ systemctl stop kubelet   # on w-1",
        "    [runbook 1: look] $ systemctl start kubelet   # on w-1",
        "    [rollback] $ systemctl start kubelet   # on w-1",
        "  this host (kubectl and helm, through the API):",
        "    [runbook 1: look] $ kubectl get nodes",
      ].join("\n"),
    );
  });
});

/** A /proc/1/stat line with `comm` and `starttime` (field 22), the other fields as a machine has them. */
const stat = (comm: string, starttime: number) =>
  `1 (${comm}) S 0 1 1 0 -1 4194560 9337 1232210 105 1021 40 52 3161 1390 20 0 1 0 ${starttime} 22536192 3141 18446744073709551615 1 1 0 0 0 0 671173123 4096 1260 0 0 0 17 1 0 0 0 0 0 0 0 0 0 0 0 0 0`;

describe("reboot over ssh", () => {
  const n = { name: "w-1", host: "127.0.0.1", port: 1, user: "root", key: "/nonexistent", sudo: false };
  const session = { dir: "/nonexistent", knownHosts: "/nonexistent/kh", controlDir: "/nonexistent/cm", connectTimeoutS: 1, persist: "1s" };
  const fakeNode = (script: (argv: string[]) => { exitCode: number; stdout: string }) => {
    const seen: string[] = [];
    const exec = async (argv: string[], o: { allowFailure?: boolean } = {}) => {
      seen.push(argv.join(" "));
      const r = script(argv);
      if (r.exitCode !== 0 && !o.allowFailure) throw new Error(`exit ${r.exitCode}`);
      return { command: argv.join(" "), stderr: r.exitCode === 255 ? "Connection refused" : "", elapsedMs: 1, ...r };
    };
    return { seen, handle: { name: n.name, role: "worker" as const, exec, sh: (s: string, o?: { allowFailure?: boolean }) => exec(["bash", "-c", s], o) } };
  };

  it("waits for ssh to answer with another boot id, then for systemd to finish booting", async () => {
    let phase = 0;
    const f = fakeNode((argv) => {
      if (argv[0] === "cat")
        return phase === 0 ? { exitCode: 0, stdout: "aaaaaaaa-1" } : phase++ < 3 ? { exitCode: 255, stdout: "" } : { exitCode: 0, stdout: "bbbbbbbb-2" };
      if (argv[0] === "bash") {
        phase = 1;
        return { exitCode: 255, stdout: "" };
      }
      return { exitCode: 0, stdout: "running" };
    });
    const line = await rebootOverSsh(n, f.handle, session, { budget: "5s", interval: "10ms" });
    expect(line).toBe("w-1 rebooted and answers again at 127.0.0.1:1 (boot id bbbbbbbb, was aaaaaaaa)");
    expect(f.seen[1]).toBe("bash -c systemctl reboot || reboot");
    expect(f.seen.at(-1)).toBe("systemctl is-system-running");
  });

  it("a machine that comes back with the same boot id and PID 1 (the connection dropped, no reboot) is a timeout naming the node", async () => {
    const f = fakeNode((argv) => (argv[0] === "cat" ? { exitCode: 0, stdout: `aaaaaaaa-1\n${stat("systemd", 7)}` } : { exitCode: 0, stdout: "" }));
    await expect(rebootOverSsh(n, f.handle, session, { budget: "300ms", interval: "50ms" })).rejects.toThrow(
      /^node w-1: did not answer over ssh from a new boot \(was boot id aaaaaaaa, PID 1 started at tick 7\) within 300ms; last seen: boot id aaaaaaaa, PID 1 started at tick 7$/,
    );
  });

  // A kind node given an sshd (the SSH lane's machines) shares its host's kernel: its boot id never changes, seen on
  // the lane's first run (node-reboot-containerd-default waited 10 minutes for it). Its PID 1 is new after the reboot.
  it("a container's machine, which keeps its host's boot id, has rebooted when its PID 1 started anew", async () => {
    let rebooted = false;
    const f = fakeNode((argv) => {
      if (argv[0] === "cat") return { exitCode: 0, stdout: `aaaaaaaa-1\n${stat("systemd", rebooted ? 91234 : 5012)}` };
      if (argv[0] === "bash") rebooted = true;
      return { exitCode: 0, stdout: "running" };
    });
    expect(await rebootOverSsh(n, f.handle, session, { budget: "5s", interval: "10ms" })).toBe(
      "w-1 rebooted and answers again at 127.0.0.1:1 (a new PID 1; boot id aaaaaaaa kept: a container sharing its host's kernel)",
    );
  });

  it("reads the boot id and PID 1's start time, a comm with spaces and parentheses included", () => {
    expect(readBootMark(`b00t-id\n${stat("my (odd) init", 4242)}`)).toEqual({ bootId: "b00t-id", pid1Start: "4242" });
    expect(readBootMark("b00t-id")).toEqual({ bootId: "b00t-id", pid1Start: "" });
  });
});
