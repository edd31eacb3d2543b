import { describe, expect, it } from "vitest";
import { scanShell } from "../../clusters/shell-words.js";
import {
  argvNotOffered,
  contractHandle,
  KIND_PACKAGES,
  NODE_CONTRACTS,
  nodeContractFor,
  offersCommand,
  scriptNotOffered,
  withNodeContract,
} from "../../clusters/kind/node-contract.js";
import type { ClusterAccess, NodeHandle } from "../../clusters/contract.js";
import { AftershockError } from "../../clusters/errors.js";
import { etcdctlScript, etcdutlFunction, snapshotScript } from "../../clusters/etcd.js";
import { cgroupOps } from "../../clusters/host/cgroups.js";
import { armScript, disarmScript } from "../../clusters/ssh/deadman.js";
import { NODE_PACKAGES } from "../../clusters/images/builder.js";
import { PINNED, profileFor, SUPPORTED_MINORS, TESTED_VERSIONS } from "../../clusters/versions.js";
import { plannedCommands } from "../../harness/engine/plan-by-node.js";
import { loadAll, loadScenario } from "../../harness/engine/registry.js";
import { withRunbook, withVariant } from "../../harness/engine/variants.js";
import type { Scenario } from "../../harness/model/scenario.js";
import { Found, type ScenarioContext } from "../../harness/model/context.js";

const names = (script: string) => scanShell(script).commands.map((c) => (c.dynamic ? `$ ${c.name}` : c.name));

describe("the shell-word scanner", () => {
  it("finds the command of every simple command: lists, pipelines, groups, subshells", () => {
    expect(names("a x | b -y && c; d || e & f\n(g) { h; }")).toEqual(["a", "b", "c", "d", "e", "f", "g", "h"]);
  });

  it("reads what a command substitution, backticks and process substitution run", () => {
    expect(names('echo "$(hostname) `pgrep x`"; diff <(dig a) <(jq . f); x=$(( 1 + 2 ))')).toEqual(["echo", "diff", "hostname", "pgrep", "dig", "jq"]);
  });

  it("follows the commands that run another one, and bash -c", () => {
    expect(names("sudo -n -- env A=b nice -n 5 lsof -i")).toEqual(["sudo", "env", "nice", "lsof"]);
    expect(names("xargs -r -n1 umount -l; timeout --kill-after=5 10s crictl info; setsid nohup /opt/aftershock/etcd --name z &")).toEqual([
      "xargs",
      "umount",
      "timeout",
      "crictl",
      "setsid",
      "nohup",
      "/opt/aftershock/etcd",
    ]);
    expect(names("timeout 5 sh -c 'iptables-nft-save; ip6tables-nft-save'")).toEqual(["timeout", "sh", "iptables-nft-save", "ip6tables-nft-save"]);
    expect(names("ETCDCTL_API=3 FOO=1 etcdctl member list")).toEqual(["etcdctl"]);
  });

  it("leaves out what is not run on the node: a container's command, command -v, here-documents, comments", () => {
    expect(names('crictl exec "$cid" etcdctl member list')).toEqual(["crictl"]);
    expect(names("command -v socat >/dev/null && echo yes")).toEqual(["command", "echo"]);
    expect(names("cat >f <<'EOF'\nlsof is data here\nEOF\ntrue # lsof in a comment")).toEqual(["cat", "true"]);
  });

  it("knows bash's compound commands, and the functions a script defines", () => {
    const s = scanShell(`f() { ping x; }
function g { :; }
for i in $(seq 3); do [[ -n $(crictl ps -q) ]] && break; done
case $x in ''|0) killall etcd ;; *) fuser 2380/tcp ;; esac
while read -r a; do (( a > 1 )) && echo "$a"; done <<EOF
$lines
EOF
if ! grep -q x f; then $t -t raw -S; fi`);
    expect(s.commands.map((c) => (c.dynamic ? `$ ${c.name}` : c.name))).toEqual([
      "ping",
      ":",
      "break",
      "killall",
      "fuser",
      "read",
      "echo",
      "grep",
      "$ $t",
      "seq",
      "crictl",
    ]);
    expect([...s.functions]).toEqual(["f", "g"]);
  });

  it("does not throw on prose", () => {
    expect(names("the JVM's heap (GC log, /memory) against VmRSS in /proc/<pid>/status")).toEqual(["the"]);
    expect(names("kubectl delete node <each lost node>")).toEqual(["kubectl"]);
  });
});

describe("the node contract", () => {
  it("has a contract for the kind release of every version the builder makes", () => {
    for (const minor of SUPPORTED_MINORS) {
      const kind = profileFor(`v1.${minor}.0`)!.kind;
      expect(NODE_CONTRACTS[kind], kind).toBeDefined();
      expect(nodeContractFor(`v1.${minor}.0`).kind).toBe(kind);
    }
    expect(Object.keys(NODE_CONTRACTS).sort()).toEqual([PINNED.kind, PINNED.kindCurrent].sort());
  });

  it("offers what kind's node images have, and not what only Aftershock's had", () => {
    for (const v of ["v1.29.15", "v1.37.2"]) {
      for (const c of ["bash", "crictl", "ctr", "kubeadm", "kubectl", "ss", "ip", "iptables", "curl", "jq", "pgrep", "findmnt", "setsid", "systemctl", "awk"])
        expect(offersCommand(c, v), `${c} on ${v}`).toBe(true);
      for (const c of ["etcdctl", "etcdutl", "lsof", "socat", "killall", "fuser", "ping", "dig", "less", "ipset", "sudo", "reboot"])
        expect(offersCommand(c, v), `${c} on ${v}`).toBe(false);
    }
  });

  it("is what Aftershock's own node image installs: kind's package list, and the runtime kind builds from source", () => {
    expect(NODE_PACKAGES).toEqual([...KIND_PACKAGES, "containerd", "runc", "containernetworking-plugins"]);
  });

  it("holds a version no profile covers to what every kind image used here has in common", () => {
    const common = nodeContractFor("v1.33.1");
    expect(common.kind).toBe(`${PINNED.kind} and ${PINNED.kindCurrent}`);
    for (const c of common.commands) for (const k of Object.values(NODE_CONTRACTS)) expect(k.commands.has(c)).toBe(true);
    expect(nodeContractFor("not-a-version").kind).toBe(common.kind);
  });

  it("lets a script use builtins, its own functions and the run's own binaries, and names what else it lacks", () => {
    expect(scriptNotOffered('etcdctl() { crictl exec x etcdctl "$@"; }\netcdctl member list; kill -9 1; /run/aftershock/bin/etcdutl x', "v1.37.2")).toEqual([]);
    expect(scriptNotOffered("lsof -nP -iTCP:2380 -sTCP:LISTEN | awk '{print $2}'; /usr/local/bin/etcd x; lsof -i", "v1.29.15")).toEqual([
      "lsof",
      "/usr/local/bin/etcd",
    ]);
  });

  it("wants an argv's program on PATH: a builtin is none", () => {
    expect(argvNotOffered(["kill", "-9", "1"], "v1.37.2")).toEqual([]);
    expect(argvNotOffered(["cd", "/"], "v1.37.2")).toEqual(["cd"]);
    expect(argvNotOffered(["bash", "-c", "etcdctl endpoint health"], "v1.37.2")).toEqual(["etcdctl"]);
  });
});

describe("the run-time guard", () => {
  const ran: string[] = [];
  const handle = (name: string): NodeHandle => ({
    name,
    role: "control-plane",
    exec: async (argv) => (ran.push(argv.join(" ")), { stdout: "", stderr: "", exitCode: 0, command: argv.join(" "), elapsedMs: 0 }),
    sh: async (script) => (ran.push(script), { stdout: "", stderr: "", exitCode: 0, command: script, elapsedMs: 0 }),
  });

  it("refuses a command kind's node image lacks before it runs, naming it and the version (E_NODE_CONTRACT)", async () => {
    ran.length = 0;
    const n = contractHandle(handle("cp"), "v1.37.2");
    await expect(n.exec(["lsof", "-nP", "-iTCP:2380"])).rejects.toThrow(
      /node cp: "lsof" is not on kind v0\.33\.0's node image \(debian:trixie-slim\) for Kubernetes v1\.37\.2/,
    );
    const e = await n.sh("etcdctl member list").catch((x: unknown) => x);
    expect(e).toBeInstanceOf(AftershockError);
    expect((e as AftershockError).code).toBe("E_NODE_CONTRACT");
    expect(ran).toEqual([]);
    await n.sh("crictl ps -q | head -n 1");
    expect(ran).toEqual(["crictl ps -q | head -n 1"]);
  });

  it("holds the scenario's node shell and its fresh machines to it, and leaves the rest of the cluster as it is", async () => {
    const cp = handle("cp");
    const c = {
      name: "c",
      runId: "r",
      kubernetesVersion: "v1.29.15",
      kubeconfigPath: "/k",
      get api(): never {
        throw new Error("api read");
      },
      kubectl: async () => ({ stdout: "", stderr: "", exitCode: 0, command: "kubectl", elapsedMs: 0 }),
      shell: { nodes: [cp], controlPlane: () => cp, node: () => cp },
      lifecycle: { rebootNode: async () => "", destroyNode: async () => {}, provisionNode: async () => handle("fresh") },
    } as unknown as ClusterAccess;
    const g = withNodeContract(c);
    expect(g.name).toBe("c");
    expect(() => g.api).toThrow(/api read/);
    expect(g.shell!.controlPlane()).toBe(g.shell!.nodes[0]);
    await expect(g.shell!.node("cp").exec(["socat", "-"])).rejects.toThrow(/"socat" is not on kind v0\.24\.0's node image/);
    await expect((await g.lifecycle!.provisionNode("fresh")).sh("ping -c1 x")).rejects.toThrow(/node fresh: "ping"/);
  });
});

/**
 * Every out-of-band command of the catalog, held to the contract: (a) here, the text of every plan (the fault's plan,
 * every runbook step's shows, the rollback; of each scenario, its alternative runbooks and its variants), read into
 * command words, and the node scripts the harness builds from outside a scenario; (b) at run time, the guard above
 * refuses whatever a scenario's code runs on a node outside it (E_NODE_CONTRACT), so the e2e runs prove the real
 * commands too.
 */
describe("the catalog's out-of-band commands", () => {
  /** Commands a plan names that run on this host (or in a container beside the cluster), never on a node. */
  const HOST_SIDE = new Set(["docker", "pnpm", "helm", "vegeta"]);
  /** Plan lines that are prose for the reader, not commands, and why. Each must still be in the catalog. */
  const PROSE = [
    { id: "crashloop-triage", line: /^CreateContainerConfigError: missing ConfigMap/, why: "a table of causes by reason, not a command" },
    { id: "oomkilled-jvm", line: /^the JVM's heap \(GC log, \/memory\) against VmRSS/, why: "what the step compares, in words" },
  ];

  /** "<scenario> [<when>] <version>: <command> — <line>" for each plan command a node of that version lacks. */
  function planBreaches(scenarios: Pick<Scenario, "id" | "fault" | "runbook" | "alternativeRunbooks" | "variants">[], seen = new Set<RegExp>()): string[] {
    const out = new Set<string>();
    for (const s of scenarios) {
      const runs = [
        s,
        ...s.alternativeRunbooks.map((a) => withRunbook(s as Scenario, a.name).scenario),
        ...s.variants.map((v) => withVariant(s as Scenario, v.name).scenario),
      ];
      for (const r of runs)
        for (const c of plannedCommands(r)) {
          const prose = PROSE.find((p) => p.id === s.id && p.line.test(c.command));
          if (prose) {
            seen.add(prose.line);
            continue;
          }
          for (const v of TESTED_VERSIONS)
            for (const bad of scriptNotOffered(c.command, v).filter((x) => !HOST_SIDE.has(x))) out.add(`${s.id} [${c.when}] ${v}: ${bad} — ${c.command}`);
        }
    }
    return [...out];
  }

  it("asks for nothing a kind node of a tested version lacks, in any plan of the catalog", async () => {
    const seen = new Set<RegExp>();
    expect(planBreaches(await loadAll(), seen)).toEqual([]);
    expect([...seen].map(String).sort()).toEqual(PROSE.map((p) => String(p.line)).sort());
  });

  it("fails a scenario whose step calls a binary kind's node image lacks", async () => {
    const s = await loadScenario("etcd-port-conflict");
    const [first, ...rest] = s.runbook;
    const withLsof = { ...s, runbook: [{ ...first!, shows: "lsof -nP -iTCP:2380 -sTCP:LISTEN" }, ...rest] };
    expect(planBreaches([withLsof])).toEqual(
      TESTED_VERSIONS.map((v) => `etcd-port-conflict [runbook 1: find who holds :2380] ${v}: lsof — lsof -nP -iTCP:2380 -sTCP:LISTEN`),
    );
    const line = "sudo ETCDCTL_API=3 etcdctl member list | less";
    const withEtcdctl = { ...s, fault: { ...s.fault, plan: [line] } };
    expect(planBreaches([withEtcdctl])).toEqual(
      TESTED_VERSIONS.flatMap((v) => ["sudo", "etcdctl", "less"].map((c) => `etcd-port-conflict [fault] ${v}: ${c} — ${line}`)),
    );
  });

  it("builds node scripts outside the scenarios (etcd, the ssh guard's deadman, the nodes' cgroups) from what the contract offers", () => {
    const scripts = [
      etcdctlScript(["endpoint", "health", "--cluster", "-w", "json"]),
      etcdutlFunction() + "\netcdutl snapshot status /x -w table",
      snapshotScript("run-1"),
      armScript({ runId: "run-1", tag: "kubelet", seconds: 60, undo: "systemctl start kubelet" }),
      disarmScript({ runId: "run-1", tag: "kubelet" }),
      ...([1, 2] as const).flatMap((v) => [cgroupOps(v).release(["/"]), cgroupOps(v).setIoLimit("/x", "8:0", { writeIops: 4 }), cgroupOps(v).memory("/x")]),
    ];
    for (const v of TESTED_VERSIONS) for (const script of scripts) expect(scriptNotOffered(script, v), script.slice(0, 200)).toEqual([]);
  });

  it("etcd-port-conflict finds the holder of :2380 with ss and says it ran ss in place of the incident's lsof", async () => {
    const s = await loadScenario("etcd-port-conflict");
    const ss =
      "State  Recv-Q Send-Q Local Address:Port  Peer Address:PortProcess\n" +
      'LISTEN 0      4096      172.18.0.3:2380       0.0.0.0:*    users:(("etcd",pid=48213,fd=7))\n';
    const ran: string[][] = [];
    const cp: NodeHandle = {
      name: "as-1-control-plane",
      role: "control-plane",
      exec: async (argv) => (ran.push(argv), { stdout: argv[0] === "ss" ? ss : "", stderr: "", exitCode: 0, command: argv.join(" "), elapsedMs: 1 }),
      sh: async () => {
        throw new Error("not used");
      },
    };
    const cluster = withNodeContract({
      kubernetesVersion: "v1.37.2",
      shell: { nodes: [cp], controlPlane: () => cp, node: () => cp },
    } as unknown as ClusterAccess);
    const ctx = { cluster, found: new Found() } as unknown as ScenarioContext;
    const out = await s.runbook[0]!.run(ctx);
    expect(out).toMatch(/^ss -ltnp 'sport = :2380' \(in place of the incident's lsof, which the node image does not have\):\n/);
    expect(await s.runbook[1]!.run(ctx)).toBe("killed etcd (pid 48213)");
    expect(ran).toEqual([
      ["ss", "-ltnp", "sport = :2380"],
      ["kill", "-9", "48213"],
    ]);
  });
});
