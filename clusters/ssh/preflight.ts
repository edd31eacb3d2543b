import { takeLock, type HeldLock, type LeaseStore } from "../cluster-lease.js";
import type { NodeShell, RunGuard } from "../contract.js";
import { AftershockError } from "../errors.js";
import { armDeadman, type Deadman } from "./deadman.js";
import { etcdHealth, etcdSnapshotOnNode, type EndpointHealth } from "../etcd.js";

/**
 * Before a fault on a cluster this tool did not create: is it healthy enough to take one and come back? etcd
 * healthy with every member, quorum to spare for what the fault removes, every node Ready, and no other run
 * holding the cluster. The decision is a pure function over what was seen; the guard gathers it.
 */

export interface PreflightFacts {
  nodes: { name: string; ready: boolean }[];
  /** Every member's health, or why it could not be asked. */
  etcd: EndpointHealth[] | { error: string };
  /** Members the fault takes away (a lost control plane, a stopped member). */
  etcdMembersLost: number;
}

export const quorumOf = (members: number) => Math.floor(members / 2) + 1;

/** ok with one line of what was checked, or the first reason not to go on (one line). */
export function preflightVerdict(f: PreflightFacts): { ok: true; line: string } | { ok: false; reason: string } {
  if (!Array.isArray(f.etcd)) return { ok: false, reason: `etcd could not be checked: ${f.etcd.error}` };
  const members = f.etcd.length;
  if (!members) return { ok: false, reason: "etcd reported no members" };
  const sick = f.etcd.filter((m) => !m.healthy);
  if (sick.length)
    return {
      ok: false,
      reason: `etcd is not healthy: ${sick.map((m) => `${m.endpoint}${m.error ? ` (${m.error})` : ""}`).join(", ")} of ${members} member${members === 1 ? "" : "s"} unhealthy`,
    };
  const q = quorumOf(members);
  if (members - f.etcdMembersLost < q)
    return {
      ok: false,
      reason: `etcd has ${members} member${members === 1 ? "" : "s"} (quorum ${q}); the fault takes away ${f.etcdMembersLost}, leaving ${members - f.etcdMembersLost}: no quorum to spare`,
    };
  const notReady = f.nodes.filter((n) => !n.ready).map((n) => n.name);
  if (notReady.length) return { ok: false, reason: `node${notReady.length === 1 ? "" : "s"} not Ready: ${notReady.join(", ")}` };
  return {
    ok: true,
    line: `etcd ${members}/${members} members healthy (quorum ${q}, the fault takes away ${f.etcdMembersLost}); ${f.nodes.length} node${f.nodes.length === 1 ? "" : "s"} Ready`,
  };
}

/** The guard of a cluster reached over ssh: preflight through the node shell and the API, the lock, snapshots, deadmen. */
export function sshGuard(o: {
  runId: string;
  shell: NodeShell;
  /** Nodes and their Ready condition, from the API. */
  listNodes(): Promise<{ name: string; ready: boolean }[]>;
  leases: LeaseStore;
  onLockLost?(why: string): void;
}): RunGuard {
  let lock: HeldLock | undefined;
  const armed: Deadman[] = [];
  return {
    async preflight({ etcdMembersLost }) {
      const etcd = await etcdHealth(o.shell.controlPlane()).catch((e: unknown) => ({ error: e instanceof AftershockError ? e.message : String(e) }));
      const nodes = await o.listNodes().catch((e: unknown) => {
        throw new AftershockError("E_PREFLIGHT", `cannot list the cluster's nodes: ${e instanceof Error ? e.message : String(e)}`);
      });
      const v = preflightVerdict({ etcd, nodes, etcdMembersLost });
      if (!v.ok) throw new AftershockError("E_PREFLIGHT", v.reason);
      lock = await takeLock(o.leases, o.runId, { ...(o.onLockLost ? { onLost: o.onLockLost } : {}) });
      return `${v.line}; lock kube-system/aftershock-lock ${lock.how} by run ${o.runId}`;
    },
    snapshotEtcd: () => etcdSnapshotOnNode(o.shell.controlPlane(), o.runId),
    async armDeadman({ node, tag, undo, seconds }) {
      const d = await armDeadman(o.shell.node(node), { runId: o.runId, tag, undo, seconds });
      armed.push(d);
      return { line: `deadman on ${node}: ${d.how}, undoes the fault in ${seconds}s unless disarmed`, disarm: () => d.disarm() };
    },
    async release() {
      // Deadmen are not disarmed here: the runner disarms each once the rollback ran or the runbook repaired the fault;
      // one still armed now is a fault nobody undid, and the node's timer is what undoes it.
      armed.splice(0);
      await lock?.release();
      lock = undefined;
    },
  };
}
