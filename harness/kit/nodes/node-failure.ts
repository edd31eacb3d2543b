import type { V1Toleration } from "@kubernetes/client-node";
import { nodeShell } from "../../../clusters/contract.js";
import { AftershockError, type Duration } from "../../../clusters/errors.js";
import { pollUntil } from "../../../clusters/wait.js";
import { sh } from "../../../clusters/exec.js";
import { podReady } from "../../model/health.js";
import type { Probe } from "../../model/probe.js";
import { step } from "../steps.js";
import type { Fault, RunbookStep } from "../../model/scenario.js";
import { handOff, type ScenarioContext } from "../../model/context.js";
import { aimAt as aim, aimed, type PodTarget } from "../targets.js";

/**
 * A worker lost to the control plane while its pods may still run: the kubelet stops, or the node is cut off
 * by a partition made inside the node (its own netfilter rules; never the host's). The node picked is the one
 * running the workload's pod, so the users of that workload feel it. Its name goes to `found` (LOST_NODE).
 */

export const UNREACHABLE_TAINT = "node.kubernetes.io/unreachable";

/** Tolerations that bound how long a pod stays on an unreachable or NotReady node (the admission default is 300s). */
export function evictAfter(seconds: number): V1Toleration[] {
  return ["node.kubernetes.io/unreachable", "node.kubernetes.io/not-ready"].map((key) => ({
    key,
    operator: "Exists",
    effect: "NoExecute",
    tolerationSeconds: seconds,
  }));
}

/** The worker lost to the control plane: set by the fault that loses it (this file's, or a scenario's own). */
export const LOST_NODE = handOff<string>("the lost node", "the fault that loses a worker (kubeletStopped, partitionedFromControlPlane or the scenario's)");

const lost = (ctx: ScenarioContext): string => ctx.found.need(LOST_NODE);

async function nodeOf(ctx: ScenarioContext, t: PodTarget): Promise<string> {
  const { app, selector } = aim(t);
  const pods = (await ctx.cluster.api.core.listNamespacedPod({ namespace: ctx.namespace, labelSelector: selector })).items;
  const node = pods.find((p) => p.spec?.nodeName && podReady(p))?.spec?.nodeName;
  if (!node) throw new AftershockError("E_CLUSTER", `no Ready ${app} pod (${selector}) to pick its node`);
  return node;
}

/** The kubelet of the node running `app` stops (002 "kubelet software fault"; 003 §3). */
export function kubeletStopped(target: PodTarget): Fault {
  return aimed(target, (to) => kubeletStoppedOf(to));
}

function kubeletStoppedOf(target: PodTarget): Fault {
  const { app, selector } = aim(target);
  return {
    title: `the kubelet stops on the worker that runs ${app}`,
    plan: [`kubectl get pods -l ${selector} -o wide   # pick its node`, "systemctl stop kubelet   # on that node"],
    async inject(ctx) {
      const node = await nodeOf(ctx, target);
      ctx.found.set(LOST_NODE, node);
      await nodeShell(ctx.cluster).node(node).exec(["systemctl", "stop", "kubelet"]);
      ctx.evidence("fault", `kubelet stopped on ${node}; its containers keep running`);
    },
    rollback: step("start the kubelet", "systemctl start kubelet", async (ctx) => {
      const node = ctx.found.get(LOST_NODE);
      if (node) await nodeShell(ctx.cluster).node(node).exec(["systemctl", "start", "kubelet"]);
    }),
  };
}

const PARTITION_COMMENT = "aftershock-partition";
/** The control plane's addresses the partition drops, for its rollback. */
const CONTROL_PLANE_ADDRESSES = handOff<string[]>("the control plane's addresses", "the fault partitionedFromControlPlane");

/**
 * The node running `app` is cut off from the control-plane node in both directions (002 "network partition"):
 * netfilter rules in the node's own network namespace drop every packet from and to the control plane's
 * address, its pods' traffic included. The host's rules are never touched.
 */
export function partitionedFromControlPlane(target: PodTarget): Fault {
  return aimed(target, (to) => partitionedFromControlPlaneOf(to));
}

function partitionedFromControlPlaneOf(target: PodTarget): Fault {
  const { app, selector } = aim(target);
  // Every address of the control plane (kind's networks have IPv4 and IPv6): iptables for one, ip6tables for the other.
  const rules = (op: "-I" | "-D", addresses: string[]) =>
    addresses
      .map((a) => {
        const tool = a.includes(":") ? "ip6tables" : "iptables";
        return sh`${tool} -t raw ${op} PREROUTING -s ${a} -m comment --comment ${PARTITION_COMMENT} -j DROP && ${tool} -t raw ${op} OUTPUT -d ${a} -m comment --comment ${PARTITION_COMMENT} -j DROP`;
      })
      .join(" && ");
  return {
    title: `the worker that runs ${app} is cut off from the control plane (a partition inside the node)`,
    plan: [
      `iptables -t raw -I PREROUTING -s <control-plane address> -j DROP   # in the worker's own network namespace (ip6tables for IPv6)`,
      "iptables -t raw -I OUTPUT -d <control-plane address> -j DROP",
    ],
    async inject(ctx) {
      const node = await nodeOf(ctx, target);
      ctx.found.set(LOST_NODE, node);
      const shell = nodeShell(ctx.cluster);
      const addresses = (await shell.controlPlane().sh("hostname -i")).stdout.trim().split(/\s+/).filter(Boolean);
      ctx.found.set(CONTROL_PLANE_ADDRESSES, addresses);
      await shell.node(node).sh(rules("-I", addresses));
      ctx.evidence("fault", `${node} drops every packet from and to ${addresses.join(", ")} (the control plane)`);
    },
    rollback: step("remove the partition", `iptables -t raw -D PREROUTING …; iptables -t raw -D OUTPUT …`, async (ctx) => {
      const node = ctx.found.get(LOST_NODE);
      const addresses = ctx.found.get(CONTROL_PLANE_ADDRESSES) ?? [];
      if (node && addresses.length)
        await nodeShell(ctx.cluster)
          .node(node)
          .sh(`for i in 1 2 3; do ${rules("-D", addresses)} || break; done; true`);
    }),
  };
}

// ---- probes ---------------------------------------------------------------------------------------------

/** The lost node carries a taint (e.g. node.kubernetes.io/unreachable:NoExecute), or not. */
export function lostNodeTainted(key = UNREACHABLE_TAINT, want = true): Probe {
  return {
    name: want ? `lost node tainted ${key}` : `no ${key} taint left`,
    expectation: want ? `the lost node has the ${key} taint` : `no node has the ${key} taint`,
    async check(ctx) {
      const nodes = (await ctx.cluster.api.core.listNode()).items;
      const tainted = nodes
        .filter((n) => n.spec?.taints?.some((t) => t.key === key))
        .map((n) => `${n.metadata?.name} (${n.spec!.taints!.find((t) => t.key === key)!.effect})`);
      if (!want) return { ok: tainted.length === 0, observed: tainted.length ? `tainted: ${tainted.join(", ")}` : `no node has ${key}` };
      const name = ctx.found.get(LOST_NODE);
      const hit = tainted.find((t) => t.startsWith(`${name} `));
      return { ok: !!name && !!hit, observed: hit ? `${hit}` : `${name ?? "no lost node"}: no ${key} taint` };
    },
  };
}

/** Pods of `app` still bound to the lost node while it is not Ready (Running or Terminating as the API sees them). */
export function podsBoundToLostNode(target: PodTarget): Probe {
  return aimed(target, (to) => podsBoundToLostNodeOf(to));
}

function podsBoundToLostNodeOf(target: PodTarget): Probe {
  const { app, selector } = aim(target);
  return {
    name: `${app} pods still bound to the lost node`,
    expectation: `a ${app} pod with nodeName = the lost node, while that node is not Ready`,
    async check(ctx) {
      const name = ctx.found.get(LOST_NODE);
      if (!name) return { ok: false, observed: "no node has been lost" };
      const node = await ctx.cluster.api.core.readNode({ name });
      const ready = node.status?.conditions?.find((c) => c.type === "Ready")?.status;
      const pods = (await ctx.cluster.api.core.listNamespacedPod({ namespace: ctx.namespace, labelSelector: selector })).items.filter(
        (p) => p.spec?.nodeName === name,
      );
      const line = pods.map((p) => `${p.metadata?.name} ${p.metadata?.deletionTimestamp ? "Terminating" : p.status?.phase}`).join(", ") || "none";
      return { ok: ready !== "True" && pods.length > 0, observed: `${name} Ready=${ready}; pods bound to it: ${line}` };
    },
  };
}

/** `app` has a Ready pod on a node other than the lost one: it failed over. */
export function failedOver(target: PodTarget): Probe {
  return aimed(target, (to) => failedOverOf(to));
}

function failedOverOf(target: PodTarget): Probe {
  const { app, selector } = aim(target);
  return {
    name: `${app} failed over to another node`,
    expectation: `a Ready ${app} pod on a node other than the lost one`,
    async check(ctx) {
      const name = lost(ctx);
      const pods = (await ctx.cluster.api.core.listNamespacedPod({ namespace: ctx.namespace, labelSelector: selector })).items;
      const moved = pods.find((p) => p.spec?.nodeName && p.spec.nodeName !== name && podReady(p) && !p.metadata?.deletionTimestamp);
      return {
        ok: !!moved,
        observed: moved
          ? `${moved.metadata?.name} Ready on ${moved.spec?.nodeName}`
          : pods.map((p) => `${p.metadata?.name} on ${p.spec?.nodeName ?? "-"} ${p.metadata?.deletionTimestamp ? "Terminating" : p.status?.phase}`).join(", "),
      };
    },
  };
}

/** Every pod of `app` Ready and none left Terminating (the lost node's pods cleaned up once it is back). */
export function noStalePods(target: PodTarget): Probe {
  return aimed(target, (to) => noStalePodsOf(to));
}

function noStalePodsOf(target: PodTarget): Probe {
  const { app, selector } = aim(target);
  return {
    name: `no ${app} pods left Terminating`,
    expectation: `every ${app} pod Ready, none Terminating`,
    async check(ctx) {
      const pods = (await ctx.cluster.api.core.listNamespacedPod({ namespace: ctx.namespace, labelSelector: selector })).items;
      const stale = pods.filter((p) => p.metadata?.deletionTimestamp || !podReady(p));
      return {
        ok: pods.length > 0 && stale.length === 0,
        observed: stale.length ? `not clean: ${stale.map((p) => `${p.metadata?.name} on ${p.spec?.nodeName}`).join(", ")}` : `${pods.length} Ready`,
      };
    },
  };
}

// ---- runbook ------------------------------------------------------------------------------------------

/** 003 §3's diagnosis of a NotReady node: the API's view, then the node's own (kubelet status, its journal, the kernel's). */
export function diagnoseNotReadyNode(): RunbookStep {
  return step(
    "diagnose the NotReady node",
    "kubectl describe node <node>\nsystemctl status kubelet\njournalctl -u kubelet -n 20 --no-pager\ndmesg | tail -n 20",
    async (ctx) => {
      const node = lost(ctx);
      const describe = await ctx.cluster.kubectl(["describe", "node", node], { allowFailure: true });
      const conditions = describe.stdout.split("\n").filter((l) => /Ready|Taints|Unreachable|NodeStatusUnknown/.test(l));
      const r = await nodeShell(ctx.cluster)
        .node(node)
        .sh(
          "systemctl status kubelet --no-pager | head -n 5; echo '# journalctl -u kubelet'; journalctl -u kubelet -n 8 --no-pager; echo '# dmesg'; dmesg 2>&1 | tail -n 3",
          {
            allowFailure: true,
          },
        );
      return `# kubectl describe node ${node}\n${conditions.slice(0, 8).join("\n")}\n# systemctl status kubelet\n${r.stdout}`;
    },
  );
}

/** Waits until the lost node is Ready again (the kubelet reporting in). */
export function waitNodeReady(budget: Duration = "3m"): RunbookStep {
  return step(
    "wait for the node to report Ready",
    "kubectl get node <node> -w   # until Ready",
    async (ctx) => {
      const node = lost(ctx);
      return pollUntil(
        `${node} Ready`,
        "170s",
        "2s",
        async () => {
          const n = await ctx.cluster.api.core.readNode({ name: node }).catch(() => undefined);
          const ready = n?.status?.conditions?.find((c) => c.type === "Ready");
          return { ok: ready?.status === "True", seen: `${node} Ready=${ready?.status ?? "?"} (${ready?.reason ?? "no answer"})` };
        },
        { clock: ctx.clock },
      );
    },
    budget,
  );
}
