import {
  apiserverReady,
  apiWritable,
  checkClusterInfo,
  controlPlaneMachinesLost,
  controlPlanesTakePods,
  defineScenario,
  deleteLostNodes,
  echoService,
  etcdMembersHealthy,
  etcdMemberUnreachable,
  joinReplacementControlPlanes,
  kubeSystemReady,
  lostNodes,
  newJoinCredentials,
  nodeNotReady,
  nodesReady,
  removeLostEtcdMembers,
  sentinels,
  serviceLoad,
  spreadOverNodes,
  usersSeeErrors,
} from "../harness/kit/index.js";

/** The shop: one pod on each machine, so a lost machine takes a pod with it. */
const shop = echoService("shop", 3, (self) => ({ topologySpreadConstraints: [{ ...spreadOverNodes(self), whenUnsatisfiable: "DoNotSchedule" }] }));
/** Its users, through the last control plane's NodePort. */
const shopUsers = serviceLoad(shop, { rate: 20, via: "last-control-plane", slo: { after: { availability: 0.95 } } });

/** The three machines run services too, and the shop one pod on each. */
export const shopOnEachMachine = () => [controlPlanesTakePods(), shop];

const lost = (ctx: Parameters<typeof lostNodes>[0]): string | undefined => lostNodes(ctx)[0];

export default defineScenario({
  id: "control-plane-node-lost",
  title: "First control-plane machine lost to a disk failure: replace it and rejoin",
  summary:
    "A disk failure on the first of three control-plane machines turned its disk read-only and the machine had to " +
    "be rebuilt. etcd kept quorum on the other two members, so the API kept answering, but the dead member and Node " +
    "stayed registered, and the first master had been special to the installer. Recovery removed the dead etcd " +
    "member and Node, checked that nothing still pointed at the old machine, and joined a fresh machine as a " +
    "control plane with a new token and certificate key.",
  source: { incident: "004", section: "Description, Cause, Solution (remove the node, cluster-info, kubeadm join --control-plane)" },
  tags: ["control-plane", "etcd", "kubeadm", "ha", "load", "nightly", "game-day"],
  gameDay: {
    difficulty: "hard",
    alert:
      "Node NotReady: one of the three control-plane nodes stopped reporting a few minutes ago and the datastore's health shows one " +
      "of three peers unreachable. The API still answers and takes writes.",
    hints: [
      "Look at the NotReady node from outside: kubectl describe node, then try node-shell on it (and docker ps -a on this host). Down, or gone?",
      "A datastore peer that will never come back must leave before a new one joins: from a surviving control plane, etcdctl member list (the node has none: crictl exec into its etcd container, with the certificates in /etc/kubernetes/pki/etcd), then remove it.",
      "Then delete the Node, get a fresh machine (pnpm cluster replace-node <cluster> <node>) and join it as a control plane with a new token and certificate key.",
    ],
    cause: [/member\s+(list|remove)/, /replace-node/, /kubeadm\s+(join|token)/, /upload-certs/],
  },
  cluster: { controlPlanes: 3, workers: 0 },
  needs: ["node-shell", "node-lifecycle", "load-generator"],

  setup: [sentinels.configMaps(20), sentinels.deployment("web", 2), ...shopOnEachMachine()],
  // Its users come in through the last control plane's NodePort (the fault takes the first machine): the pod on
  // the lost machine fails their requests until the node is NotReady and the pod leaves the Service's endpoints.
  // --workload: a team's own service stands in for the demo "shop", and what its users saw is its own verdict.
  // After the join, 2–5% of its requests still timed out for a minute or two here (both scenarios, v1.37.2): "after"
  // asks that users are served again (95%), not that the data plane's tail has settled.
  load: [shopUsers],
  workloadSlot: { replaces: shop },
  steadyState: [nodesReady(), kubeSystemReady(), apiserverReady(), etcdMembersHealthy(3)],

  fault: controlPlaneMachinesLost(1),

  symptoms: {
    within: "2m",
    expect: [etcdMemberUnreachable(lost), nodeNotReady(lost), usersSeeErrors(shopUsers)],
    // The incident's point: with 2 of 3 members etcd keeps quorum and the API keeps taking writes.
    stillWorks: [apiWritable()],
  },

  runbook: [removeLostEtcdMembers(), deleteLostNodes(), checkClusterInfo(), newJoinCredentials(), joinReplacementControlPlanes()],

  decisiveStep: "provision fresh machines and join them as control planes",

  verify: {
    within: "5m",
    expect: [etcdMembersHealthy(3), nodesReady(), kubeSystemReady(), apiserverReady()],
  },
});
