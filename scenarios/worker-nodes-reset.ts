import {
  apiserverReady,
  atRun,
  defineScenario,
  echoService,
  etcdHealthy,
  type Fault,
  handOff,
  kubeSystemDegraded,
  kubeSystemReady,
  kubectl,
  nodeShell,
  nodesNotReady,
  nodesReady,
  onControlPlane,
  onEachNode,
  redactJoin,
  sentinels,
  serviceLoad,
  spreadOverNodes,
  step,
  usersSeeErrors,
} from "../harness/kit/index.js";

/** kubeadm's join command, as the runbook printed it on the control plane. */
const JOIN = handOff<string>("the join command", 'the runbook step "print a fresh join command on the control plane"');

/** Every worker's name, learned when a step runs. */
const workers = atRun("<each worker>", ({ cluster }) =>
  nodeShell(cluster)
    .nodes.filter((n) => n.role === "worker")
    .map((n) => n.name),
);

const RESET = [
  "kubeadm reset -f",
  "systemctl stop kubelet",
  "rm -rf /etc/cni/net.d /var/lib/cni/ /var/lib/kubelet/* /etc/kubernetes",
  "systemctl restart containerd",
];

/** Section 6 of the incident: every worker is reset by hand, and all kube-system pods are deleted at once. */
const workersReset: Fault = {
  title: "every worker is reset (kubeadm reset, CNI and kubelet state removed) and all kube-system pods are deleted at once",
  plan: [...RESET.map((c) => `${c}   # on each worker`), "kubectl delete pods --all -n kube-system --wait=false"],
  async inject({ cluster, evidence }) {
    for (const w of nodeShell(cluster).nodes.filter((n) => n.role === "worker")) {
      const r = await w.sh(`set -u; ${RESET.join("; ")}; systemctl is-active kubelet || true`, { timeout: "3m" });
      evidence("fault", `${w.name}: kubelet ${r.stdout.trim().split("\n").pop()}`);
    }
    const d = await cluster.kubectl(["delete", "pods", "--all", "-n", "kube-system", "--wait=false"], { timeout: "1m" });
    evidence("fault", `deleted ${d.stdout.trim().split("\n").length} kube-system pods`);
  },
};

/** A sentinel Service on the workers, and the shop whose users' traffic runs through the fault. */
const web = sentinels.service("web", 2, { spreadOverWorkers: true });
const shop = echoService("shop", 2, (self) => ({ topologySpreadConstraints: [spreadOverNodes(self)] }));
const shopUsers = serviceLoad(shop, { rate: 20 });

export default defineScenario({
  id: "worker-nodes-reset",
  title: "Workers reset by hand and kube-system wiped: rejoin the nodes",
  summary:
    "After a failed Helm upgrade and node resizes, the operators reset every worker with kubeadm reset, removed " +
    "the CNI and kubelet directories, and deleted all kube-system pods at once. Workers went NotReady, system pods " +
    "piled up in ContainerCreating and CrashLoopBackOff, and Services stopped answering. The way back was a new " +
    "join command from the control plane, deleting the stale Node objects, and joining the workers again.",
  source: { incident: "000", section: "1.4–1.6 node resets, 3. recovery procedure (reset, token create, join)" },
  tags: ["control-plane", "workers", "kubeadm", "load", "nightly", "game-day"],
  gameDay: {
    difficulty: "hard",
    alert:
      "Both worker nodes NotReady; system pods stuck in ContainerCreating and CrashLoopBackOff; the web Service stopped answering. " +
      "The control plane is up.",
    hints: [
      "Start on one NotReady worker: node-shell worker, then systemctl status kubelet and journalctl -u kubelet -n 30.",
      "The kubelet there has no configuration and no credentials left: the machine is no longer part of the cluster. Compare /etc/kubernetes on it with the control plane's.",
      "Join it again: a fresh join command on the control plane (kubeadm token create --print-join-command), delete the stale Node objects, run the join on each worker (with --ignore-preflight-errors=all inside kind).",
    ],
    cause: [/kubeadm\s+(join|token)/, /delete\s+node/, /kubelet\.conf/, /journalctl.*kubelet|systemctl\s+status\s+kubelet/],
  },
  cluster: { controlPlanes: 1, workers: 2 },
  needs: ["node-shell", "load-generator"],

  setup: [sentinels.configMaps(20), web, shop],
  // The shop's users, through the control plane's NodePort, from before the resets until the workers are back.
  // --workload: a team's own service stands in for the demo "shop", and what its users saw is its own verdict.
  load: [shopUsers],
  workloadSlot: { replaces: shop },
  steadyState: [nodesReady(), kubeSystemReady(), apiserverReady()],

  fault: workersReset,

  symptoms: {
    within: "3m",
    expect: [nodesNotReady("worker"), kubeSystemDegraded(), sentinels.serviceDown(web), usersSeeErrors(shopUsers)],
  },

  runbook: [
    step(
      "print a fresh join command on the control plane",
      onControlPlane`kubeadm token create --print-join-command`.keep((out, { found }) => {
        const join = out.trim();
        found.set(JOIN, join);
        return redactJoin(join);
      }),
    ),
    step("delete the stale Node objects", kubectl`delete node ${workers} --ignore-not-found`),
    // Preflight checks assume a VM (swap, kernel config); inside a kind node they are skipped, as kind does. A join
    // that fails is shown, not thrown (its stderr kept): verify says whether the workers came back.
    step(
      "join every worker again",
      onEachNode({
        each: "worker",
        pick: ({ cluster }) => nodeShell(cluster).nodes.filter((n) => n.role === "worker"),
        timeout: "4m",
        allowFailure: true,
      })`${atRun("kubeadm join <control-plane>:6443 --token … --discovery-token-ca-cert-hash …", ({ found }) => found.need(JOIN).split(/\s+/))} --ignore-preflight-errors=all`,
      "9m",
    ),
  ],

  decisiveStep: "join every worker again",

  verify: {
    within: "6m",
    expect: [nodesReady(), kubeSystemReady(), apiserverReady(), etcdHealthy()],
  },
});
