import { nodeLifecycle, nodeShell } from "../../clusters/contract.js";
import { AftershockError, parseDuration, type Duration } from "../../clusters/errors.js";
import { raw, sh } from "../../clusters/exec.js";
import { LOST_MACHINES } from "./faults.js";
import { ETCDCTL_SHOWN, etcdctlFunction, etcdMembers } from "./probes.js";
import { waitFor, type Probe } from "../model/probe.js";
import type { RunbookStep } from "../model/scenario.js";
import { step } from "./step.js";
import { atRun, inTurn, kubectl, onNode } from "./commands.js";
import { handOff, type ScenarioContext } from "../model/context.js";

/**
 * A runbook step (step()), and the runbook steps shared by the scenarios that lose control-plane machines: what an
 * on-call engineer types on a surviving control plane to take the dead members out, and to join fresh machines back.
 */

/** step() is defined in step.ts (faults.ts uses it too, and this file imports faults.ts), exported from here. */
export { step };

/** The etcdctl function (the etcd container's, clusters/etcd.ts), for the top of a node script. */
const ETCDCTL = etcdctlFunction(10);
/** A join command fit for reports: the token and the CA hash left out. */
export const redactJoin = (join: string) => join.replace(/--token \S+/, "--token <redacted>").replace(/sha256:\w+/, "sha256:<…>");

const survivor = (ctx: ScenarioContext) => nodeShell(ctx.cluster).controlPlane();

/** `etcdctl member list`, then `member remove` for each lost node's member (etcdctl of the survivor's etcd container). */
export function removeLostEtcdMembers(): RunbookStep {
  const shows = `${ETCDCTL_SHOWN} member list -w table   # the node has no etcdctl: the etcd container's, with the certificates in /etc/kubernetes/pki/etcd\n${ETCDCTL_SHOWN} member remove <id of each lost member>`;
  return step("remove the dead etcd members", shows, async (ctx) => {
    const members = await etcdMembers(ctx);
    const out = members.map((m) => `${m.id}, ${m.name}, ${m.clientUrl}`);
    for (const name of ctx.found.need(LOST_MACHINES)) {
      const m = members.find((x) => x.name === name);
      if (!m) {
        out.push(`no member named ${name} (already removed)`);
        continue;
      }
      out.push((await survivor(ctx).sh(sh`${raw(ETCDCTL)}\netcdctl member remove ${m.id}`)).stdout.trim());
    }
    return out.join("\n");
  });
}

/** `kubectl delete node` for each lost node. */
export function deleteLostNodes(): RunbookStep {
  return step(
    "delete the dead Node objects",
    kubectl`delete node ${atRun("<each lost node>", (ctx) => ctx.found.need(LOST_MACHINES))} --ignore-not-found --request-timeout=30s`,
  );
}

/**
 * The incident edited kube-public/cluster-info because it still named the dead first master. Here the
 * check is real: if cluster-info names a lost node, it is pointed at the survivor; otherwise it is left.
 */
export function checkClusterInfo(): RunbookStep {
  return step(
    "make sure cluster-info does not point at a dead node",
    "kubectl -n kube-public get configmap cluster-info -o yaml   # server: must be reachable",
    async (ctx) => {
      const r = await ctx.cluster.kubectl(["-n", "kube-public", "get", "configmap", "cluster-info", "-o", "jsonpath={.data.kubeconfig}"]);
      const server = /server:\s*(\S+)/.exec(r.stdout)?.[1] ?? "";
      const dead = ctx.found.need(LOST_MACHINES).find((n) => server.includes(`//${n}:`));
      if (!dead) return `server: ${server} (not a lost node; left as it is)`;
      const fixed = r.stdout.replace(server, server.replace(dead, survivor(ctx).name));
      await ctx.cluster.kubectl([
        "-n",
        "kube-public",
        "patch",
        "configmap",
        "cluster-info",
        "--type=merge",
        "-p",
        JSON.stringify({ data: { kubeconfig: fixed } }),
      ]);
      return `server: ${server} named lost node ${dead}; now ${survivor(ctx).name}`;
    },
  );
}

/** What newJoinCredentials made: kubeadm's join command (its words) and the uploaded certificates' key. */
const JOIN_CREDENTIALS = handOff<{ join: string[]; certificateKey: string }>("the join command and certificate key", "the runbook step newJoinCredentials()");

/** The join command newJoinCredentials printed, for its next command (kubeadm upload-certs) to hand on with the key. */
const JOIN_WORDS = handOff<string[]>("the join command", 'the first command of the runbook step "create a join command and a new certificate key"');

/** A new bootstrap token and a new certificate key for joining control planes. */
export function newJoinCredentials(): RunbookStep {
  const on = onNode(survivor);
  return step(
    "create a join command and a new certificate key",
    inTurn(
      on`kubeadm token create --print-join-command`.keep((out, ctx) => {
        const join = out.trim();
        ctx.found.set(JOIN_WORDS, join.split(/\s+/));
        return redactJoin(join);
      }),
      on`kubeadm init phase upload-certs --upload-certs`.keep((out, ctx) => {
        const key = out.trim().split("\n").pop()?.trim() ?? "";
        if (!/^[0-9a-f]{64}$/.test(key)) throw new AftershockError("E_COMMAND", `kubeadm upload-certs printed no certificate key: ${out.slice(-300)}`);
        ctx.found.set(JOIN_CREDENTIALS, { join: ctx.found.need(JOIN_WORDS), certificateKey: key });
        return "certificate key uploaded (kubeadm-certs Secret, valid 2h)";
      }),
    ),
  );
}

/**
 * Fresh machines in place of the lost ones, each joined as a control plane in turn (etcd grows one member
 * at a time). The machine comes from the harness (kind cannot add nodes); the join is the incident's.
 */
export function joinReplacementControlPlanes(): RunbookStep {
  return step(
    "provision fresh machines and join them as control planes",
    "pnpm cluster replace-node <cluster> <node>   # a new machine, same name, OS and kubelet installed, not joined\n" +
      "kubeadm join <endpoint>:6443 --token … --discovery-token-ca-cert-hash sha256:… --control-plane --certificate-key … --v=5",
    async (ctx) => {
      const lifecycle = nodeLifecycle(ctx.cluster);
      const { join, certificateKey } = ctx.found.need(JOIN_CREDENTIALS);
      const out: string[] = [];
      for (const name of ctx.found.need(LOST_MACHINES)) {
        const node = await lifecycle.provisionNode(name);
        // Preflight assumes a VM (swap, kernel modules); kind skips it for every node, and so does this join.
        const r = await node.sh(sh`${join} --control-plane --certificate-key ${certificateKey} --ignore-preflight-errors=all --v=5 2>&1 | tail -n 40`, {
          timeout: "5m",
        });
        if (!/This node has joined the cluster and a new control plane instance was created/.test(r.stdout)) {
          throw new AftershockError("E_COMMAND", `kubeadm join on ${name} did not finish: ${r.stdout.trim().split("\n").slice(-3).join(" | ")}`);
        }
        out.push(`${name}: This node has joined the cluster and a new control plane instance was created`);
      }
      return out.join("\n");
    },
    "12m",
  );
}

/** The API answers through the cluster endpoint (the load balancer, on three control planes). */
const apiAnswers: Probe = {
  name: "API answers through the cluster endpoint",
  expectation: "kubectl get --raw /readyz to print ok",
  async check(ctx) {
    const r = await ctx.cluster.kubectl(["get", "--raw", "/readyz", "--request-timeout=10s"], { allowFailure: true, timeout: "20s" });
    return { ok: r.exitCode === 0 && r.stdout.trim() === "ok", observed: (r.stdout.trim() || r.stderr.trim()).split("\n").pop() ?? "" };
  },
};

/**
 * etcd disaster recovery on the last member: restart it once with --force-new-cluster (it keeps its data
 * and forgets the dead peers), then once more without the flag, so a later restart cannot fork it again.
 */
export function forceNewEtcdCluster(): RunbookStep {
  const manifest = "/etc/kubernetes/manifests/etcd.yaml";
  const restart = (edit: string) => `set -euo pipefail
${ETCDCTL}
old=$(crictl ps --name '^etcd$' -q | awk 'NR==1')
${edit}
for i in $(seq 1 120); do
  new=$(crictl ps --name '^etcd$' --state running -q | awk 'NR==1')
  if [[ -n $new && $new != "$old" ]] && etcdctl endpoint health >/dev/null 2>&1; then break; fi
  sleep 1
done
echo "etcd restarted after \${SECONDS}s"
etcdctl endpoint health 2>&1
etcdctl member list`;
  return step(
    "make the last etcd member a cluster of one",
    `sed -i 's/^    - etcd$/&\\n    - --force-new-cluster/' ${manifest}   # kubelet restarts etcd\n` +
      `${ETCDCTL_SHOWN} member list   # one member, this node\nsed -i '/--force-new-cluster/d' ${manifest} && systemctl restart kubelet   # and back to normal\n` +
      "kubectl get --raw /readyz   # until the API answers through the cluster endpoint again",
    async (ctx) => {
      const forced = await survivor(ctx).sh(
        restart(`grep -q -- '--force-new-cluster' ${manifest} || sed -i 's/^    - etcd$/&\\n    - --force-new-cluster/' ${manifest}`),
        { timeout: "3m" },
      );
      // Back to the original manifest means back to the original pod UID, which the kubelet has only just
      // torn down; it then waits about two minutes on that pod's volumes. A kubelet restart forgets it.
      const normal = await survivor(ctx).sh(restart(`sed -i '/--force-new-cluster/d' ${manifest}\nsystemctl restart kubelet`), { timeout: "3m" });
      // etcd being healthy is not the API answering: the API server reconnects, and the load balancer only
      // sends traffic to it once its health check passes (until then kubectl gets "EOF"). Wait for that.
      const api = await waitFor(apiAnswers, ctx, "2m");
      return `with --force-new-cluster:\n${forced.stdout.trim()}\nwithout it again:\n${normal.stdout.trim()}\nkubectl get --raw /readyz: ${api.observed}`;
    },
    "8m",
  );
}
