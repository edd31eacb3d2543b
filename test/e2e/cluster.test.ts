import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConsoleProgress } from "../../clusters/progress.js";
import { KindProvider, type Cluster } from "../../clusters/kind/provider.js";
import { run } from "../../clusters/exec.js";
import { cgroupOps, type CgroupOps } from "../../clusters/host/cgroups.js";
import { DEFAULT_KUBERNETES_VERSION } from "../../clusters/versions.js";
import { apply, buildEchoImage, cli, leftovers, podOutput, nodeStatuses } from "./helpers.js";
import { etcdctlScript } from "../../clusters/etcd.js";

/**
 * A real 1 control-plane + 1 worker cluster from the offline node image, made the way a user makes one to
 * look around (`pnpm demo --keep`), checked through the cluster itself, and removed with `pnpm cluster
 * delete`, which must outlast a node that is slow to die and leave nothing behind.
 */
describe("a 1+1 cluster kept by pnpm demo --keep", () => {
  const progress = new ConsoleProgress();
  const provider = new KindProvider({ progress });
  let cluster: Cluster;
  let demoExitedAt = 0;
  let printed = "";
  const echoImage = `aftershock.local/e2e-echo:${randomBytes(3).toString("hex")}`;

  beforeAll(async () => {
    const r = await cli(["demo", "--keep"], 10 * 60_000);
    demoExitedAt = Date.now();
    printed = r.output;
    expect(r.code, r.output.slice(-3000)).toBe(0);
    const name = /cluster (as-[0-9a-f]{8}) is up/.exec(r.output)![1]!;
    cluster = await provider.open(name);
  });

  afterAll(async () => {
    // Normally the last test has deleted it; this only cleans up after a failure.
    if (cluster && (await leftovers(cluster.runId)).length) await cluster.delete();
  });

  it("outlives the process that made it: no reaper, listed as kept", async () => {
    expect(printed).toContain("it stays until you delete it");
    const reapers = await run("pgrep", ["-f", `reaper.sh ${cluster.runId}`], { allowFailure: true });
    expect(reapers.stdout.trim(), "no reaper for a kept cluster").toBe("");
    const info = (await provider.list()).find((c) => c.name === cluster.name);
    expect(info).toMatchObject({ keep: true, ownerPid: 0 });
    expect(info!.nodes.sort()).toEqual([`${cluster.name}-control-plane`, `${cluster.name}-worker`]);
  });

  it("has every node Ready and reports the pinned version", async () => {
    const r = await cluster.kubectl([
      "get",
      "nodes",
      "-o",
      'jsonpath={range .items[*]}{.metadata.name} {.status.nodeInfo.kubeletVersion} {.status.conditions[?(@.type=="Ready")].status}{"\\n"}{end}',
    ]);
    const lines = r.stdout.trim().split("\n").sort();
    expect(lines).toEqual([`${cluster.name}-control-plane ${DEFAULT_KUBERNETES_VERSION} True`, `${cluster.name}-worker ${DEFAULT_KUBERNETES_VERSION} True`]);
  });

  it("runs every kube-system pod", async () => {
    await cluster.kubectl(["wait", "--for=condition=Ready", "pods", "--all", "-n", "kube-system", "--timeout=180s"], { timeout: "200s" });
    const r = await cluster.kubectl(["get", "pods", "-n", "kube-system", "-o", 'jsonpath={range .items[*]}{.metadata.name}={.status.phase}{"\\n"}{end}']);
    const pods = r.stdout.trim().split("\n");
    for (const component of ["etcd-", "kube-apiserver-", "kube-controller-manager-", "kube-scheduler-", "kube-proxy-", "coredns-", "aftershock-netd-"]) {
      expect(
        pods.some((p) => p.startsWith(component)),
        `${component}* in ${pods.join(", ")}`,
      ).toBe(true);
    }
    expect(pods.filter((p) => !p.endsWith("=Running"))).toEqual([]);
  });

  it("runs a locally built workload image on the worker, reachable through a Service by DNS name", async () => {
    await buildEchoImage(echoImage);
    await cluster.loadImages([echoImage]);
    await apply(
      cluster,
      `
apiVersion: apps/v1
kind: Deployment
metadata: {name: echo, namespace: default}
spec:
  replicas: 1
  selector: {matchLabels: {app: echo}}
  template:
    metadata: {labels: {app: echo}}
    spec:
      nodeSelector: {kubernetes.io/hostname: ${cluster.name}-worker}
      containers:
      - name: echo
        image: ${echoImage}
        imagePullPolicy: Never
        ports: [{containerPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: echo, namespace: default}
spec:
  selector: {app: echo}
  ports: [{port: 80, targetPort: 8080}]
`,
    );
    await cluster.kubectl(["rollout", "status", "deployment/echo", "--timeout=120s"], { timeout: "130s" });
    const node = await cluster.kubectl(["get", "pods", "-l", "app=echo", "-o", "jsonpath={.items[0].spec.nodeName}"]);
    expect(node.stdout).toBe(`${cluster.name}-worker`);
    // From a pod on the control plane: resolve the Service by name through CoreDNS, then talk HTTP to it.
    const out = await podOutput(
      cluster,
      "dns-probe",
      "aftershock.local/local-path-helper:v1",
      "getent hosts echo.default.svc.cluster.local && exec 3<>/dev/tcp/echo.default.svc.cluster.local/80 && printf 'GET /hello HTTP/1.0\\r\\n\\r\\n' >&3 && cat <&3",
      `${cluster.name}-control-plane`,
    );
    const probe = { stdout: out };
    expect(probe.stdout).toMatch(/^10\.96\.\d+\.\d+\s+echo\.default\.svc\.cluster\.local/m);
    expect(probe.stdout).toMatch(/echo from echo-[a-z0-9-]+: \/hello/);
  });

  it("binds a PVC through the default StorageClass and keeps its file across a pod restart", async () => {
    const token = randomBytes(8).toString("hex");
    const pod = (name: string, cmd: string) => `
apiVersion: v1
kind: Pod
metadata: {name: ${name}, namespace: default}
spec:
  restartPolicy: Never
  containers:
  - name: c
    image: aftershock.local/local-path-helper:v1
    imagePullPolicy: Never
    command: ["bash", "-c", ${JSON.stringify(cmd)}]
    volumeMounts: [{name: data, mountPath: /data}]
  volumes:
  - name: data
    persistentVolumeClaim: {claimName: sentinel-data}
`;
    await apply(
      cluster,
      `
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: sentinel-data, namespace: default}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 64Mi}}
---
${pod("writer", `echo ${token} > /data/token && sync`)}`,
    );
    await cluster.kubectl(["wait", "--for=jsonpath={.status.phase}=Succeeded", "pod/writer", "--timeout=180s"], { timeout: "190s" });
    const pvc = await cluster.kubectl(["get", "pvc", "sentinel-data", "-o", "jsonpath={.status.phase} {.spec.storageClassName}"]);
    expect(pvc.stdout).toBe("Bound standard");
    await cluster.kubectl(["delete", "pod", "writer", "--wait=true", "--timeout=60s"], { timeout: "70s" });
    await apply(cluster, pod("reader", "cat /data/token"));
    await cluster.kubectl(["wait", "--for=jsonpath={.status.phase}=Succeeded", "pod/reader", "--timeout=120s"], { timeout: "130s" });
    const logs = await cluster.kubectl(["logs", "reader"]);
    expect(logs.stdout.trim()).toBe(token);
  });

  it("has a healthy etcd, checked with the etcd container's etcdctl from the control-plane node (the node has none)", async () => {
    const r = await cluster.controlPlane().sh(etcdctlScript(["endpoint", "health"]));
    expect(r.stdout + r.stderr).toMatch(/https:\/\/127\.0\.0\.1:2379 is healthy/);
  });

  it("can be reached out of band with crictl while the API is not involved", async () => {
    const r = await cluster.controlPlane().exec(["crictl", "ps", "--name", "etcd", "-o", "json"]);
    const ps = JSON.parse(r.stdout) as { containers: { state: string; metadata: { name: string } }[] };
    expect(ps.containers.map((c) => `${c.metadata.name}:${c.state}`)).toContain("etcd:CONTAINER_RUNNING");
  });

  /**
   * Deletion must not wait on a node that cannot die. A process blocked on throttled direct I/O cannot die until
   * its write is done, SIGKILL or not, and then neither can its node: `docker rm -f` gives up on such a container
   * after about 12s (etcd-disk-iops's not-recovered run left a node behind this way; in CI a node with 2 MiB
   * queued at 64 KiB/s was still there after the 7-minute retry). A pod cgroup left FROZEN keeps its node from
   * dying at all. Deletion releases both first (lifts the limit, thaws the cgroup), so it takes seconds.
   * On cgroup v1 the limit is a blkio throttle and runc leaves the freeze; on v2 it is io.max, and the freeze is
   * cgroup.freeze written directly.
   */
  it("still answers with the printed kubeconfig well after pnpm demo exited, and pnpm cluster delete removes it in seconds with a writer stuck behind an I/O limit and a pod's cgroup frozen", async () => {
    // The reaper of the old --keep removed a "kept" cluster within seconds of the process exiting.
    await new Promise((res) => setTimeout(res, Math.max(0, demoExitedAt + 30_000 - Date.now())));
    const kubeconfig = /export KUBECONFIG=(\S+)/.exec(printed)![1]!;
    const kubectl = /^\s+(\S*kubectl) get nodes$/m.exec(printed)![1]!;
    expect(await nodeStatuses(kubectl, kubeconfig)).toEqual([`${cluster.name}-control-plane Ready`, `${cluster.name}-worker Ready`]);

    // The host's cgroup version (clusters/host/facts.ts) picks the files: blkio and freezer on v1, io.max and
    // cgroup.freeze on v2. The same deletion must release both either way.
    const ops = cgroupOps();
    const node = cluster.controlPlane();
    // 2 MiB written with O_DIRECT at 64 KiB/s: the writer is stuck in the kernel for half a minute at least
    // (its node took 1–4 minutes to die here with 4 MiB, and more than 7 under a busy disk with 2 MiB).
    await node.sh(slowWriter(ops), { timeout: "30s" });
    const rm = await run("docker", ["rm", "-f", node.name], { allowFailure: true, timeout: "1m" });
    expect(rm.exitCode, "docker rm -f alone cannot remove the node yet").not.toBe(0);
    expect(rm.stderr).toMatch(/did not receive an exit event|cannot remove/);
    if (ops.version === 1) {
      // The echo pod's cgroup on the worker, left FROZEN by the node's own runc killed mid-update.
      expect(await frozenByRunc(`${cluster.name}-worker`)).toMatch(
        /runc \S+ update killed between freeze and thaw; \S*cri-containerd-[0-9a-f]+\.scope\/freezer\.state: (FROZEN|FREEZING)$/,
      );
    } else {
      // On v2 a frozen task still dies of SIGKILL, and runc's v2 manager does not leave a freeze behind the same
      // way; the echo pod's cgroup is frozen directly, and deletion must still thaw it and say so.
      expect(await frozenByCgroupFreeze(`${cluster.name}-worker`, ops)).toMatch(/\S*cri-containerd-[0-9a-f]+\.scope: frozen$/);
    }
    const started = Date.now();
    const del = await cli(["cluster", "delete", cluster.name], 11 * 60_000);
    const tookMs = Date.now() - started;
    expect(del.code, del.output).toBe(0);
    expect(del.output).toMatch(/before removing the nodes: thawed 1 frozen cgroup: [0-9a-f]{12}: kubelet\S*cri-containerd-[0-9a-f]+\.scope/);
    const limits = ops.version === 1 ? "write_bps 65536" : "wbps 65536";
    expect(del.output).toMatch(new RegExp(`lifted the I/O limits of 1 cgroup: [0-9a-f]{12}: \\S*aftershock-slow-writer \\(${limits}\\)`));
    // Without the release this waited out the 7-minute retry; released, a 1+1 cluster goes in seconds.
    expect(tookMs, del.output).toBeLessThan(2 * 60_000);
    expect(await leftovers(cluster.runId)).toEqual([]);
  });
});

/**
 * A cgroup with a 64 KiB/s write limit at the root of the node's cgroup namespace, and a dd in it blocked on
 * 2 MiB of direct I/O. Returns once the writer is in state D.
 */
function slowWriter(ops: CgroupOps): string {
  const start =
    ops.version === 1
      ? `cg=/sys/fs/cgroup/blkio/aftershock-slow-writer; mkdir -p $cg
echo "$dev 65536" > $cg/blkio.throttle.write_bps_device`
      : `${ops.shell}
cg=/sys/fs/cgroup/aftershock-slow-writer; mkdir -p $cg
cg_set_io_limit /sys/fs/cgroup /aftershock-slow-writer "$dev" 0 65536 >/dev/null`;
  return `set -euo pipefail
dev=$(findmnt -no MAJ:MIN -T /var | tr -d ' ')
${start}
setsid bash -c "echo \\$\\$ > $cg/cgroup.procs; exec dd if=/dev/zero of=/var/slow-write bs=2M count=1 oflag=direct" </dev/null >/dev/null 2>&1 &
for _ in $(seq 50); do pid=$(head -n1 $cg/cgroup.procs); [[ -n $pid ]] && ps -o stat= -p "$pid" | grep -q D && exit 0; sleep 0.1; done
echo "the writer never blocked"; exit 1`;
}

/**
 * Freezes the echo pod's container cgroup on cgroup v2 (cgroup.freeze 1) and waits, 5s at most, for the kernel to
 * report it frozen. Returns "<cgroup>: <state>" as the node printed it.
 */
async function frozenByCgroupFreeze(node: string, ops: CgroupOps): Promise<string> {
  const r = await run(
    "docker",
    [
      "exec",
      node,
      "bash",
      "-c",
      `${ops.shell}
id=$(crictl ps -q --name echo | awk 'NR==1')
pid=$(crictl inspect --output go-template --template '{{.info.pid}}' "$id")
cg=$(cg_of_pid freezer "$pid")
cg_freeze /sys/fs/cgroup "$cg"
for _ in $(seq 50); do [[ $(cg_freeze_state /sys/fs/cgroup "$cg") == frozen ]] && break; sleep 0.1; done
echo "$cg: $(cg_freeze_state /sys/fs/cgroup "$cg")"`,
    ],
    { allowFailure: true, timeout: "1m" },
  );
  return `${r.stdout}${r.stderr}`.trim();
}

/**
 * Leaves the echo pod's container cgroup FROZEN the way runc does it in a run. On cgroup v1 with the systemd driver
 * (the nodes' kubelet and containerd), runc freezes a container with device rules (any unprivileged one, as echo
 * is) around every cgroup Set (container create, update) while systemd applies the unit's properties over D-Bus, and thaws it after; a runc killed in between leaves it
 * FROZEN for good, and deleting a node kills every process in it at once. Here the node's runc updates the
 * container and is SIGKILLed the moment its freezer leaves THAWED. Returns the line the node printed.
 */
async function frozenByRunc(node: string): Promise<string> {
  const r = await run(
    "docker",
    [
      "exec",
      node,
      "bash",
      "-c",
      `root=/run/containerd/runc/k8s.io
id=$(crictl ps -q --name echo | awk 'NR==1')
state=$(grep -o '"freezer":"/[^"]*"' "$root/$id/state.json" | cut -d'"' -f4)/freezer.state
for try in $(seq 1 100); do
  runc --root "$root" update --pids-limit 4096 "$id" >/dev/null 2>&1 & pid=$!
  while kill -0 "$pid" 2>/dev/null; do read -r s < "$state"; if [[ $s != THAWED ]]; then kill -9 "$pid"; break; fi; done
  wait "$pid" 2>/dev/null; sleep 0.2; read -r s < "$state"
  if [[ $s != THAWED ]]; then echo "try $try: runc $(runc --version | awk 'NR==1{print $3}') update killed between freeze and thaw; $state: $s"; exit 0; fi
done
echo "runc update never caught between freeze and thaw in 100 tries ($state)"; exit 1`,
    ],
    { allowFailure: true, timeout: "1m" },
  );
  return `${r.stdout}${r.stderr}`.trim();
}
