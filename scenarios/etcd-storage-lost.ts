import {
  apiserverReady,
  containerRunning,
  defineScenario,
  ETCDUTL,
  ETCDUTL_FETCH_SHOWN,
  etcdutlFunction,
  etcdHealthy,
  type Fault,
  healthz,
  kubectlTimesOut,
  kubeSystemReady,
  nodeShell,
  nodesReady,
  sentinels,
  step,
  versionOf,
  waitFor,
} from "../harness/kit/index.js";

const SNAPSHOT = "/var/lib/etcd-backup/snapshot.db";

/** The disk behind etcd's data directory is lost: the directory is destroyed, and nothing usable takes its place. */
const storageLost: Fault = {
  title: "etcd's data directory is destroyed (the disk behind it is gone)",
  plan: [
    "mv /etc/kubernetes/manifests/etcd.yaml /etc/kubernetes/   # etcd stops",
    "rm -rf /var/lib/etcd && touch /var/lib/etcd                # the volume is gone; what is left is not a directory",
    "mv /etc/kubernetes/etcd.yaml /etc/kubernetes/manifests/   # the kubelet cannot start etcd on it",
  ],
  async inject({ cluster, evidence }) {
    const r = await nodeShell(cluster)
      .controlPlane()
      .sh(
        `set -euo pipefail
mv /etc/kubernetes/manifests/etcd.yaml /etc/kubernetes/etcd.yaml.aftershock
for i in $(seq 1 600); do [[ -z $(crictl ps --name '^etcd$' -q) ]] && break; sleep 0.1; done
du -sh /var/lib/etcd
rm -rf /var/lib/etcd && touch /var/lib/etcd
mv /etc/kubernetes/etcd.yaml.aftershock /etc/kubernetes/manifests/etcd.yaml
ls -la /var/lib/etcd`,
        { timeout: "2m" },
      );
    evidence("fault", r.stdout.trim());
  },
};

export default defineScenario({
  id: "etcd-storage-lost",
  title: "etcd's storage is lost; the cluster comes back from the last snapshot",
  summary:
    "The Kubernetes docs list the loss of the API server's backing storage (etcd's data directory) among the " +
    "cluster failure modes, with periodic snapshots as the mitigation. Here a snapshot is taken, more objects are " +
    "written, and then the data directory is destroyed: etcd cannot start and the API server fails on etcd. The " +
    "runbook restores the snapshot with etcdutl (a kind node has none: the one of the node's own etcd image, copied in " +
    "for the run). Everything written before the snapshot must come back; what was written after it is lost by design " +
    "and reported by name and count, which measures the recovery point.",
  source: { incident: "002", section: "Specific scenarios: API server backing storage lost; mitigation: periodic snapshots" },
  tags: ["control-plane", "etcd", "backup", "nightly"],
  cluster: { controlPlanes: 1, workers: 1 },
  needs: ["node-shell"],

  setup: [
    sentinels.configMaps(20),
    sentinels.deployment("web", 2),
    sentinels.etcdSnapshot(SNAPSHOT),
    sentinels.configMaps(10, { prefix: "late", afterRecoveryPoint: true }),
  ],
  steadyState: [nodesReady(), kubeSystemReady(), apiserverReady(), etcdHealthy()],

  fault: storageLost,

  symptoms: {
    within: "3m",
    expect: [healthz(/\[-\]etcd failed/), kubectlTimesOut("5s")],
  },

  runbook: [
    // etcd is down and a kind node has no etcdutl: the etcd image's, copied to /opt/aftershock/bin (clusters/etcd.ts).
    step(
      "check the snapshot",
      `${ETCDUTL_FETCH_SHOWN}\n${ETCDUTL} snapshot status ${SNAPSHOT} -w table`,
      async (ctx) =>
        (
          await nodeShell(ctx.cluster)
            .controlPlane()
            .sh(`set -euo pipefail\n${etcdutlFunction()}\n${versionOf(ctx).etcd.snapshotStatus} ${SNAPSHOT} -w table`, { timeout: "2m" })
        ).stdout,
    ),
    step(
      "restore it as this member's data directory",
      `${ETCDUTL} snapshot restore <snapshot> --name <node> --initial-cluster <node>=https://<ip>:2380 --initial-advertise-peer-urls https://<ip>:2380 --data-dir /var/lib/etcd`,
      async (ctx) =>
        (
          await nodeShell(ctx.cluster)
            .controlPlane()
            .sh(
              `set -euo pipefail
${etcdutlFunction()}
m=/etc/kubernetes/manifests/etcd.yaml
name=$(grep -oE -- '--name=[^ ]+' $m | cut -d= -f2)
peer=$(grep -oE -- '--initial-advertise-peer-urls=[^ ]+' $m | cut -d= -f2)
rm -f /var/lib/etcd
${versionOf(ctx).etcd.snapshotRestore} ${SNAPSHOT} --name "$name" --initial-cluster "$name=$peer" --initial-advertise-peer-urls "$peer" --data-dir /var/lib/etcd 2>&1 | tail -2
ls /var/lib/etcd`,
              { timeout: "2m" },
            )
        ).stdout,
    ),
    step(
      "wait for the kubelet to start etcd on the restored data",
      "crictl ps --name etcd   # until Running",
      async (ctx) => (await waitFor(containerRunning("etcd"), ctx, "5m")).observed,
      "6m",
    ),
    step(
      "restart the API server, controller manager and scheduler (their caches are newer than the snapshot)",
      "crictl ps --name 'kube-apiserver|kube-controller-manager|kube-scheduler' -q | xargs crictl stop",
      async ({ cluster }) =>
        (
          await nodeShell(cluster)
            .controlPlane()
            .sh("crictl ps --name 'kube-apiserver|kube-controller-manager|kube-scheduler' -q | xargs -r crictl stop", { timeout: "90s" })
        ).stdout,
    ),
  ],

  decisiveStep: "restore it as this member's data directory",

  verify: {
    within: "5m",
    expect: [nodesReady(), kubeSystemReady(), apiserverReady(), etcdHealthy()],
  },
});
