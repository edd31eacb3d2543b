import {
  apiWriteFails,
  checkClusterInfo,
  containerLog,
  controlPlaneMachinesLost,
  defineScenario,
  deleteLostNodes,
  etcdNoLeader,
  forceNewEtcdCluster,
  healthz,
  joinReplacementControlPlanes,
  newJoinCredentials,
  removeLostEtcdMembers,
  sentinels,
  versionOf,
} from "../harness/kit/index.js";
import nodeLost, { shopOnEachMachine } from "./control-plane-node-lost.js";

/** The variant of control-plane-node-lost: same cluster, steady state and verification; two machines go. */
export default defineScenario({
  ...nodeLost.definition,
  id: "control-plane-quorum-lost",
  title: "Two of three control-plane machines lost: etcd without quorum, rebuilt from the last member",
  summary:
    "The variant the incident warns about: a second control-plane machine fails before the first is replaced. With " +
    "one etcd member of three left there is no leader, writes time out and the API server reports etcd unhealthy. " +
    "Recovery starts etcd on the survivor once with --force-new-cluster (it keeps its data and forgets the dead " +
    "peers), removes the dead Nodes, and joins two fresh machines as control planes.",
  source: { incident: "004", section: "Solution, adding etcd nodes (losing more than one of three members breaks quorum)" },

  // Its own sentinel instances (they remember what they wrote), of the same kind as the node-lost scenario's, and
  // the same shop, one pod per machine, whose users (the node-lost scenario's load) come in through the survivor.
  setup: [sentinels.configMaps(20), sentinels.deployment("web", 2), ...shopOnEachMachine()],

  fault: controlPlaneMachinesLost(2),
  // Its own page: the node-lost scenario's says the API still takes writes, which is no longer true here.
  gameDay: {
    difficulty: "hard",
    alert:
      "Cluster API degraded: writes time out (kubectl apply and create hang for a long while, then error), the API server's " +
      "health check is failing, and two of the three control-plane nodes stopped reporting.",
    hints: [
      "Two control-plane nodes are not just NotReady: try node-shell on them, and docker ps -a on this host. What is left?",
      "With one datastore member of three there is no quorum, no leader, and the others will not return. On the survivor, etcd can restart once as a cluster of one that keeps its data (--force-new-cluster in its static pod manifest), then without the flag again.",
      "Then remove the dead members and Nodes, and join two fresh machines (pnpm cluster replace-node <cluster> <node>) as control planes with a new token and certificate key.",
    ],
    cause: [/force-new-cluster/, /member\s+(list|remove)/, /replace-node/, /kubeadm\s+(join|token)/, /upload-certs/],
  },

  symptoms: {
    within: "2m",
    expect: [
      etcdNoLeader(),
      containerLog("etcd", /lost leader|no leader at term/),
      // The API server's own refusal, not kubectl giving up on its side. Its words changed between versions (up to
      // 1.30 etcd's "request timed out" and its deadlines, on 1.37 admission's "not yet ready to handle request"):
      // each version's are in its profile, and the journal keeps the line that was seen.
      apiWriteFails((ctx) => versionOf(ctx).writeRefusedWithoutQuorum, "40s", "as the cluster's version words it"),
      healthz(/\[-\]etcd failed/),
    ],
  },

  runbook: [forceNewEtcdCluster(), removeLostEtcdMembers(), deleteLostNodes(), checkClusterInfo(), newJoinCredentials(), joinReplacementControlPlanes()],
});
