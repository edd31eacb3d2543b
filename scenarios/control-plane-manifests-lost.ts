import {
  onControlPlane,
  apiserverReady,
  apiserverRefuses,
  containerAbsent,
  containerRunning,
  defineScenario,
  etcdHealthy,
  type Fault,
  kubeSystemReady,
  nodeShell,
  nodesReady,
  sentinels,
  step,
  versionOf,
  waitFor,
} from "../harness/kit/index.js";

/** Steps 5 to 7 of the incident: the static pod manifests were moved to /tmp while clearing kubelet state, and lost. */
const manifestsLost: Fault = {
  title: "the static pod manifests are moved to /tmp while the kubelet is stopped, and /tmp loses them",
  plan: [
    "systemctl stop kubelet",
    "mv /etc/kubernetes/manifests/*.yaml /tmp/",
    "systemctl start kubelet",
    "rm -f /tmp/etcd.yaml /tmp/kube-*.yaml      # the files never come back",
  ],
  async inject({ cluster, evidence }) {
    const r = await nodeShell(cluster)
      .controlPlane()
      .sh(
        "set -euo pipefail; systemctl stop kubelet; mv /etc/kubernetes/manifests/*.yaml /tmp/; systemctl start kubelet; " +
          "rm -f /tmp/etcd.yaml /tmp/kube-apiserver.yaml /tmp/kube-controller-manager.yaml /tmp/kube-scheduler.yaml; ls -la /etc/kubernetes/manifests/",
        { timeout: "1m" },
      );
    evidence("fault", r.stdout.trim());
  },
};

export default defineScenario({
  id: "control-plane-manifests-lost",
  title: "The static pod manifests vanish and the whole control plane stops",
  summary:
    "While fighting an etcd crash loop, the on-call stopped the kubelet, moved every static pod manifest to /tmp " +
    "to clear the kubelet's state, and started it again; the files in /tmp were gone. With no manifests the " +
    "kubelet tore down etcd, the API server, the controller manager and the scheduler. The fix was to regenerate " +
    "the manifests with kubeadm's init phases from the cluster's own configuration; etcd's data directory was " +
    "never touched, so nothing was lost.",
  source: { incident: "001", section: "#5 kubelet cache clear, #6 kubeadm regenerates the control plane, #7 recovery" },
  tags: ["control-plane", "kubeadm", "nightly", "game-day"],
  gameDay: {
    difficulty: "medium",
    alert:
      "Cluster unreachable: kubectl gets 'connection refused' on the cluster endpoint (:6443) and every API client is down. " +
      "Pods that were already running keep serving.",
    hints: [
      "Go to the control-plane machine (node-shell control-plane) and ask the container runtime what runs: crictl ps -a.",
      "No datastore, no API server, nothing: the kubelet runs them from files in /etc/kubernetes/manifests. Look there.",
      "The files are gone for good, but kubeadm can write them again from the cluster's own configuration (kind keeps it in /kind/kubeadm.conf); the datastore's data directory is untouched.",
    ],
    cause: [/kubeadm\s+init\s+phase/, /manifests/, /kubeadm\.conf|kubeadm-config/],
  },
  cluster: { controlPlanes: 1, workers: 1 },
  needs: ["node-shell"],

  setup: [sentinels.configMaps(20), sentinels.deployment("web", 2)],
  steadyState: [nodesReady(), kubeSystemReady(), apiserverReady(), etcdHealthy()],

  fault: manifestsLost,

  symptoms: {
    within: "3m",
    expect: [containerAbsent("etcd"), containerAbsent("kube-apiserver"), apiserverRefuses()],
  },

  runbook: [
    step("see that the manifests are gone", onControlPlane`ls -la /etc/kubernetes/manifests/`),
    step(
      "regenerate the control-plane manifests",
      onControlPlane`kubeadm init phase control-plane all --config /kind/kubeadm.conf`.keep(async (out, ctx) => {
        const cp = nodeShell(ctx.cluster).controlPlane();
        // The cluster's own config is in the API its kubeadm takes (v1beta4 from 1.36; 1.37 no longer reads v1beta3).
        const api = (await cp.sh("grep -m1 -oE 'kubeadm.k8s.io/v1beta[0-9]+' /kind/kubeadm.conf", { allowFailure: true })).stdout.trim();
        return `/kind/kubeadm.conf is ${api || "of no known API"} (kubeadm ${ctx.cluster.kubernetesVersion} takes ${versionOf(ctx).kubeadmConfigApi})\n${out}`;
      }),
    ),
    step("regenerate the local etcd manifest", onControlPlane`kubeadm init phase etcd local --config /kind/kubeadm.conf`),
    step("restart the kubelet", onControlPlane`systemctl restart kubelet`),
    step(
      "wait for the API server to come back",
      "crictl ps   # until kube-apiserver is Running",
      async (ctx) => (await waitFor(containerRunning("kube-apiserver"), ctx, "4m")).observed,
      "5m",
    ),
  ],

  decisiveStep: "regenerate the local etcd manifest",

  verify: {
    within: "5m",
    expect: [nodesReady(), kubeSystemReady(), apiserverReady(), etcdHealthy()],
  },
});
