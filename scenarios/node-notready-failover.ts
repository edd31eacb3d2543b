import {
  defineScenario,
  diagnoseNotReadyNode,
  echoService,
  evictAfter,
  failedOver,
  inTurn,
  kubeletStopped,
  kubeSystemReady,
  LOST_NODE,
  lostNodeTainted,
  nodeNotReady,
  nodeShell,
  nodesReady,
  noStalePods,
  onNode,
  partitionedFromControlPlane,
  podsBoundToLostNode,
  serviceLoad,
  step,
  usersSeeErrors,
  type Duration,
  waitNodeReady,
} from "../harness/kit/index.js";

/** The critical workload: one replica behind a Service, evicted from an unreachable node after `seconds` (undefined: the 300s default). */
const critical = (seconds?: number) => echoService("web", 1, seconds === undefined ? {} : { tolerations: evictAfter(seconds) });
/** A command on the node the fault took down. */
const onLostNode = onNode((ctx) => nodeShell(ctx.cluster).node(ctx.found.need(LOST_NODE)));
/** The handle of web (each critical() deploys the same app), and its users. */
const web = critical(30);
const webUsers = serviceLoad(web, { rate: 20 });

const symptoms = (within: Duration) => ({
  within,
  expect: [nodeNotReady((ctx) => ctx.found.get(LOST_NODE)), lostNodeTainted(), podsBoundToLostNode(web), usersSeeErrors(webUsers)],
  // The mitigation at work: once the toleration runs out, the pod is evicted and replaced on the other worker.
  stillWorks: [failedOver(web)],
});

export default defineScenario({
  id: "node-notready-failover",
  title: "A worker goes NotReady; its pods stay bound to it until their toleration runs out",
  summary:
    "A worker's kubelet stops. Its containers keep running, but after the node monitor's grace period the node " +
    "is NotReady, gets the unreachable taint, and its pods drop out of their Services while they stay bound to " +
    "it: a one-replica Service behind it fails for its users. Pods tolerate the taint for 300 seconds by default, " +
    "so the replacement only starts elsewhere after five minutes; the critical workload here tolerates it for 30. " +
    "The runbook follows the incident's diagnosis (describe the node, the kubelet's status and journal, the " +
    "kernel log), starts the kubelet, and the node and its leftover pods are cleaned up. The variants measure the " +
    "default toleration beside the short one, and a partition instead of a dead kubelet.",
  source: { incident: "003", section: "§3 Node NotReady (and 002: kubelet software fault, individual node shutdown, network partition)" },
  tags: ["node", "failover", "load", "nightly", "game-day"],
  gameDay: {
    difficulty: "easy",
    alert: "The web service's users see errors and timeouts; one worker node has been NotReady for over a minute.",
    hints: [
      "kubectl describe node on the NotReady one: who stopped posting its status, and since when?",
      "Go to that machine (node-shell <node>): systemctl status kubelet, journalctl -u kubelet -n 20.",
      "Nothing is broken on the machine; the node agent is simply not running. Bring it back and watch the node turn Ready.",
    ],
    cause: [/systemctl\s+(status|start|restart)\s+kubelet/, /journalctl.*kubelet/, /describe\s+node/],
  },
  cluster: { controlPlanes: 1, workers: 2 },
  needs: ["node-shell", "load-generator"],

  setup: [web],
  steadyState: [nodesReady(), kubeSystemReady()],
  load: [webUsers],
  // --workload: a team's own service stands in for the demo "web": the kubelet stops on a node that runs its pods
  // (target.selector, or its Service's selector), and what its users saw is its own verdict.
  workloadSlot: { replaces: web },

  fault: kubeletStopped(web),
  symptoms: symptoms("3m"),

  runbook: [
    diagnoseNotReadyNode(),
    step("start the kubelet", inTurn(onLostNode`systemctl start kubelet`, onLostNode`systemctl is-active kubelet`)),
    waitNodeReady(),
  ],
  decisiveStep: "start the kubelet",

  verify: {
    within: "3m",
    expect: [nodesReady(), lostNodeTainted(undefined, false), noStalePods(web), kubeSystemReady()],
  },

  variants: [
    {
      name: "default-toleration",
      summary: "the workload keeps the 300s default toleration: the same fault, and users wait five minutes longer for the failover",
      change: { setup: [critical()], symptoms: symptoms("8m") },
    },
    {
      name: "partition",
      summary:
        "the node is cut off from the control plane by a partition inside it instead of a dead kubelet: errors start at once, not after the grace period",
      change: {
        fault: partitionedFromControlPlane(web),
        runbook: [
          diagnoseNotReadyNode(),
          step("remove the partition", "iptables -t raw -S | grep aftershock-partition   # then -D each rule (and ip6tables)", async (ctx) => {
            const node = nodeShell(ctx.cluster).node(ctx.found.need(LOST_NODE));
            const r = await node.sh(
              "for t in iptables ip6tables; do $t -t raw -S | grep aftershock-partition | sed 's/^-A/-D/' | while read -r rule; do eval $t -t raw $rule; done; done; iptables -t raw -S; ip6tables -t raw -S",
            );
            return r.stdout;
          }),
          waitNodeReady(),
        ],
        decisiveStep: "remove the partition",
      },
    },
  ],
});
