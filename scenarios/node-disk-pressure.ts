import { statfs } from "node:fs/promises";
import type { V1Container, V1LimitRange, V1Node, V1Pod } from "@kubernetes/client-node";
import {
  apply,
  defineScenario,
  echoService,
  echoWorkload,
  type Fault,
  handOff,
  kubeSystemReady,
  LOST_NODE,
  nodeShell,
  nodesReady,
  waitUntil,
  type Probe,
  type ScenarioContext,
  type Sentinel,
  serviceLoad,
  step,
  usersSeeErrors,
  waitRolledOut,
  WORKLOAD_IMAGES,
} from "../harness/kit/index.js";

const DISK_MIB = 1024;
/** The kubelet evicts once less than this share of its filesystem is free (kind's nodes have eviction off: 0%). */
const EVICT_BELOW = "30%";
/** The debug log the web pod's new sidecar appends, per second: the filesystem is past the threshold in under a minute. */
const WRITE_MIB_PER_S = 16;
const TAINT = "node.kubernetes.io/disk-pressure";
/** The limit the runbook gives every container of the namespace (LimitRange default). */
const LIMIT = "128Mi";
/**
 * How often the kubelet measures its pods' volumes (default 1m). A pod's emptyDir counts against its limit only as
 * of the last measurement: at 16 MiB/s a minute-old figure lets the limited writer fill the node before its own
 * limit is seen (CI, 2026-12-02: evicted for the node's low ephemeral-storage at 240 MiB free instead).
 */
const VOLUME_STATS = "10s";
/** The worker's filesystem must be back to this much free before the limited writer is tried. */
const FREE_BEFORE_RETRY_MIB = Math.round(DISK_MIB * 0.8);

const worker = (ctx: ScenarioContext) => nodeShell(ctx.cluster).nodes.find((n) => n.role === "worker")!;

/**
 * The worker's kubelet keeps its data (pods' emptyDirs and writable volumes) on a 1 GiB filesystem of its own, a
 * tmpfs inside the node (memory, never the host's disk), and evicts below 30% free with a 20s transition period, measuring its pods' volumes every 10s.
 * The kubelet is stopped, its pods' sandboxes removed (it starts them again), its directory moved onto the small
 * filesystem, and started again.
 */
const KUBELET_DISK = `set -euo pipefail
systemctl stop kubelet
crictl rmp -fa >/dev/null 2>&1 || true
awk '$2 ~ "^/var/lib/kubelet/" {print $2}' /proc/self/mounts | sort -r | xargs -r -n1 umount -l
rm -rf /var/lib/kubelet/pods/* /var/lib/kubelet.before
cp -a /var/lib/kubelet /var/lib/kubelet.before
mount -t tmpfs -o size=${DISK_MIB}m,mode=0755 kubelet-disk /var/lib/kubelet
cp -a /var/lib/kubelet.before/. /var/lib/kubelet/
cfg=/var/lib/kubelet/config.yaml
sed -i -E 's/^(\\s*nodefs\\.available:).*/\\1 "${EVICT_BELOW}"/' $cfg
set_key() { if grep -q "^$1:" $cfg; then sed -i -E "s/^($1:).*/\\1 $2/" $cfg; else echo "$1: $2" >> $cfg; fi; }
set_key evictionPressureTransitionPeriod 20s
set_key volumeStatsAggPeriod ${VOLUME_STATS}
systemctl start kubelet
df -h --output=source,fstype,size,avail /var/lib/kubelet | tail -n1
awk '/^evictionHard:/{f=1;print;next} f&&/^[[:space:]]/{print;next} {f=0}' $cfg | head -n5 | tr '\\n' ' '
grep -E '^(evictionPressureTransitionPeriod|volumeStatsAggPeriod):' $cfg | tr '\\n' ' '`;

const kubeletDiskOfItsOwn: Sentinel = {
  title: `the worker's kubelet data on a ${DISK_MIB} MiB filesystem of its own, evicting below ${EVICT_BELOW} free`,
  async write(ctx) {
    const w = worker(ctx);
    ctx.evidence("setup", `${w.name}: ${(await w.sh(KUBELET_DISK, { timeout: "2m" })).stdout.trim()}`);
    const free = await hostFree();
    ctx.found.set(HOST_FREE_BEFORE, free);
    ctx.evidence("setup", `host: ${free} free on the host's disk before the fault`);
    await waitUntil(`${w.name} Ready on its new filesystem`, ctx, "2m", async () => {
      const n = await ctx.cluster.api.core.readNode({ name: w.name }).catch(() => undefined);
      return { ok: condition(n, "Ready") === "True" && condition(n, "DiskPressure") === "False", seen: `Ready=${condition(n, "Ready")}` };
    });
  },
  probes: () => [],
};

/** Free space of this host's filesystem under Docker's data (read only: the scenario never writes there). */
/** The host's free disk space before the fault, as the setup found it. */
const HOST_FREE_BEFORE = handOff<string>("the host's free disk before the fault", "the setup item kubeletDiskOfItsOwn");

async function hostFree(): Promise<string> {
  const s = await statfs("/var/lib/docker").catch(() => statfs("/"));
  return `${((s.bavail * s.bsize) / 2 ** 30).toFixed(1)} GiB`;
}

const condition = (n: V1Node | undefined, type: string) => n?.status?.conditions?.find((c) => c.type === type)?.status ?? "?";
const hasTaint = (n: V1Node) => (n.spec?.taints ?? []).some((t) => t.key === TAINT);

/** The Service whose pods the bad release fills the disk with, and its users. */
const web = echoService("web", 1);
const webUsers = serviceLoad(web, { rate: 20 });

/** The debug log writer the bad release adds to each web pod: appends to an emptyDir that has no size limit. */
const debugLog = (): V1Container => ({
  name: "debug-log",
  image: WORKLOAD_IMAGES.app,
  imagePullPolicy: "IfNotPresent",
  command: ["sh", "-c", `while true; do dd if=/dev/zero bs=1M count=${WRITE_MIB_PER_S} 2>/dev/null >> /log/debug.log; sleep 1; done`],
  volumeMounts: [{ name: "log", mountPath: "/log" }],
});

const debugLogRelease: Fault = {
  title: `a release of web adds a debug log: its pod appends ${WRITE_MIB_PER_S} MiB/s to an emptyDir with no size limit`,
  plan: [`kubectl apply -f web.yaml   # + container debug-log: dd … >> /log/debug.log every second; volume log: emptyDir: {} (no sizeLimit)`],
  async inject(ctx) {
    const [dep] = echoWorkload(web, 1);
    dep.spec!.template.spec!.containers.push(debugLog());
    dep.spec!.template.spec!.volumes = [{ name: "log", emptyDir: {} }];
    ctx.evidence("fault", await apply(ctx, dep));
    ctx.found.set(LOST_NODE, worker(ctx).name);
  },
};

const readWorker = (ctx: ScenarioContext) => ctx.cluster.api.core.readNode({ name: worker(ctx).name });
const pods = async (ctx: ScenarioContext): Promise<V1Pod[]> => (await ctx.cluster.api.core.listNamespacedPod({ namespace: ctx.namespace })).items;
const evicted = (p: V1Pod) => p.status?.reason === "Evicted";

function diskPressure(want: "True" | "False"): Probe {
  return {
    name: want === "True" ? "worker DiskPressure" : "worker without DiskPressure",
    expectation: `the worker's DiskPressure condition ${want}`,
    async check(ctx) {
      const n = await readWorker(ctx);
      const c = n.status?.conditions?.find((x) => x.type === "DiskPressure");
      return { ok: c?.status === want, observed: `DiskPressure=${c?.status ?? "?"}${c?.message ? ` (${c.message})` : ""}` };
    },
  };
}

function tainted(want: boolean): Probe {
  return {
    name: want ? `worker tainted ${TAINT}` : `worker without the ${TAINT} taint`,
    expectation: `the ${TAINT} taint ${want ? "on" : "gone from"} the worker`,
    async check(ctx) {
      const n = await readWorker(ctx);
      const taints = n.spec?.taints ?? [];
      return { ok: hasTaint(n) === want, observed: taints.length ? taints.map((t) => `${t.key}:${t.effect}`).join(", ") : "no taints" };
    },
  };
}

const podsEvicted: Probe = {
  name: "pods evicted for ephemeral-storage",
  expectation: "a pod of the namespace Failed with reason Evicted and the kubelet's low-on-ephemeral-storage message",
  async check(ctx) {
    const p = (await pods(ctx)).find((x) => evicted(x) && /low on resource: ephemeral-storage/.test(x.status?.message ?? ""));
    return { ok: !!p, observed: p ? `${p.metadata!.name}: ${p.status!.message}` : "no evicted pod" };
  },
};

/**
 * A new pod for the worker (nodeSelector, the echo image) stays Pending on the disk-pressure taint. The kubelet
 * evicts in the same moment it reports the condition, and the taint follows a few seconds later, so the web
 * Deployment's replacement may land before it (seen here): this probe asks with pods of its own, one at a time,
 * deleting each that was scheduled, until one is held back.
 */
const SCHEDULING_PROBE = "scheduling-probe";
const notScheduledThere: Probe = {
  name: "new pods not scheduled on the worker",
  expectation: `a new pod for the worker Pending on an untolerated taint while the worker has ${TAINT}`,
  async check(ctx) {
    const ns = ctx.namespace;
    const p = await ctx.cluster.api.core.readNamespacedPod({ name: SCHEDULING_PROBE, namespace: ns }).catch(() => undefined);
    if (!p) {
      const [dep] = echoWorkload(SCHEDULING_PROBE, 1);
      const pod: V1Pod = {
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name: SCHEDULING_PROBE, labels: { app: SCHEDULING_PROBE } },
        spec: { ...dep.spec!.template.spec!, nodeSelector: { "kubernetes.io/hostname": worker(ctx).name } },
      };
      await apply(ctx, pod);
      return { ok: false, observed: `${SCHEDULING_PROBE} created for ${worker(ctx).name}` };
    }
    const c = p.status?.conditions?.find((x) => x.type === "PodScheduled");
    // 1.37's scheduler says "untolerated taint(s)" without naming them: the worker's own taints say which.
    if (c?.status === "False" && /untolerated taint/.test(c.message ?? "")) {
      if (hasTaint(await readWorker(ctx))) return { ok: true, observed: `${SCHEDULING_PROBE} Pending: ${c.message} (the worker: ${TAINT}:NoSchedule)` };
    }
    if (c?.status === "True" || p.spec?.nodeName) {
      // Scheduled: the worker took it. Removed, so that the next asking tries again.
      await ctx.cluster.api.core.deleteNamespacedPod({ name: SCHEDULING_PROBE, namespace: ns, gracePeriodSeconds: 0 }).catch(() => undefined);
      return { ok: false, observed: `${SCHEDULING_PROBE} scheduled on ${p.spec?.nodeName ?? "?"}` };
    }
    return { ok: false, observed: `${SCHEDULING_PROBE} ${p.status?.phase ?? "?"}${c?.message ? `: ${c.message}` : ""}` };
  },
};

/**
 * The same writer again, in a pod of its own, after the runbook put a limit on the namespace: the kubelet must
 * evict that pod alone, for its own usage, while the node stays without DiskPressure.
 */
const limitedWriterEvictedAlone: Probe = {
  name: "the same writer, now limited, is evicted alone",
  expectation: `a writer pod evicted for exceeding its ${LIMIT} limit while the worker has no DiskPressure`,
  async check(ctx) {
    const name = "debug-log-again";
    // Only once the runbook has put the limit in place (on the broken cluster this is unmet without writing).
    const limited = await ctx.cluster.api.core.readNamespacedLimitRange({ name: limitRange.metadata!.name!, namespace: ctx.namespace }).catch(() => undefined);
    if (!limited) return { ok: false, observed: "no ephemeral-storage limit in the namespace yet" };
    const existing = await ctx.cluster.api.core.readNamespacedPod({ name, namespace: ctx.namespace }).catch(() => undefined);
    if (!existing) {
      // From a disk as empty as before the fault: the test is the limit, not what the cleanup left behind.
      const df = await worker(ctx).sh("df --output=avail -m /var/lib/kubelet | tail -n1", { allowFailure: true, timeout: "30s" });
      const free = Number(df.stdout.trim());
      if (!(free >= FREE_BEFORE_RETRY_MIB))
        return { ok: false, observed: `waiting for the worker's disk to free: ${df.stdout.trim() || "?"} MiB free, ${FREE_BEFORE_RETRY_MIB} wanted` };
      await apply(ctx, {
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name },
        spec: { restartPolicy: "Never", nodeName: worker(ctx).name, containers: [debugLog()], volumes: [{ name: "log", emptyDir: {} }] },
      } as V1Pod);
      return { ok: false, observed: `${name} started` };
    }
    const pressure = condition(await readWorker(ctx), "DiskPressure");
    if (!evicted(existing)) return { ok: false, observed: `${name} ${existing.status?.phase ?? "?"}; DiskPressure=${pressure}` };
    const others = (await pods(ctx)).filter(
      (p) => evicted(p) && p.metadata?.name !== name && p.metadata!.creationTimestamp! > existing.metadata!.creationTimestamp!,
    );
    const alone = pressure === "False" && others.length === 0 && !/low on resource/.test(existing.status?.message ?? "");
    return { ok: alone, observed: `${name}: ${existing.status?.message}; DiskPressure=${pressure}; pods evicted since: ${others.length}` };
  },
};

const limitRange: V1LimitRange = {
  apiVersion: "v1",
  kind: "LimitRange",
  metadata: { name: "ephemeral-storage" },
  spec: { limits: [{ type: "Container", _default: { "ephemeral-storage": LIMIT }, defaultRequest: { "ephemeral-storage": "16Mi" } }] },
};

export default defineScenario({
  id: "node-disk-pressure",
  title: "A release fills a worker's disk with debug logs; the kubelet evicts under DiskPressure",
  summary:
    "Resource pressure is one of the causes the Node NotReady write-up lists. Here the worker's kubelet keeps its " +
    "data on a 1 GiB filesystem of its own, and a release of the web service adds a debug log that grows without a " +
    "limit. The kubelet reports DiskPressure, taints the node, evicts the web pods with its low-on-ephemeral-storage " +
    "message, and their replacements cannot be scheduled there, so the service's users get errors. The runbook " +
    "reads the node's conditions and taints and the evicted pods, finds the writer on the node with du, rolls the " +
    "release back, deletes the writer's pods, and puts an ephemeral-storage limit on the namespace; the same writer tried again " +
    "is then evicted alone, and the node stays healthy.",
  source: { incident: "003", section: "§3 Node NotReady: resource pressure (DiskPressure)" },
  tags: ["node", "eviction", "load", "nightly", "game-day"],
  gameDay: {
    difficulty: "medium",
    alert: "The web service's users get errors; its pods keep disappearing and new ones stay Pending. The worker is up and Ready.",
    hints: [
      "kubectl describe node on the worker: look at its Conditions and Taints.",
      "kubectl get pods: what do the Failed pods' messages say? Which container used how much?",
      "On the machine (node-shell <worker>): df -h /var/lib/kubelet, then du under /var/lib/kubelet/pods. Remove what writes there, and give the namespace a limit (LimitRange) so it cannot happen again.",
    ],
    cause: [/describe\s+node/, /\bdu\b|df\s+-h/, /rollout\s+undo|apply/, /LimitRange|ephemeral-storage|sizeLimit/],
  },
  cluster: { controlPlanes: 1, workers: 1 },
  needs: ["node-shell", "image-loading", "load-generator"],
  images: [WORKLOAD_IMAGES.app],
  changesNodes: `the worker's kubelet data on a ${DISK_MIB} MiB tmpfs, eviction below ${EVICT_BELOW} free`,

  // One replica, as the incident's service had: each eviction is an outage until a replacement can be scheduled.
  setup: [kubeletDiskOfItsOwn, web],
  steadyState: [nodesReady(), kubeSystemReady(), diskPressure("False")],
  load: [webUsers],

  fault: debugLogRelease,

  symptoms: {
    within: "4m",
    // Fewer than half of a second's requests answered: the evicted pod's outage, not the release's rollout (which
    // cost 2 of 100 requests here).
    expect: [diskPressure("True"), tainted(true), podsEvicted, notScheduledThere, usersSeeErrors(webUsers, 0.5)],
  },

  runbook: [
    step("the worker's conditions and taints", "kubectl describe node <worker>   # Conditions, Taints", async (ctx) => {
      const n = await readWorker(ctx);
      const conds = (n.status?.conditions ?? [])
        .filter((c) => c.type !== "Ready" || c.status !== "True")
        .map((c) => `${c.type}=${c.status} ${c.message ?? ""}`);
      return `${conds.join("\n")}\ntaints: ${(n.spec?.taints ?? []).map((t) => `${t.key}:${t.effect}`).join(", ") || "none"}`;
    }),
    step(
      "the evicted pods and what the kubelet said",
      "kubectl get pods --field-selector=status.phase=Failed -o wide; kubectl describe pod <evicted>",
      async (ctx) => {
        const gone = (await pods(ctx)).filter(evicted);
        return gone.map((p) => `${p.metadata!.name}: ${p.status!.message}`).join("\n") || "no evicted pod";
      },
    ),
    step(
      "find what fills the disk on the node",
      "df -h /var/lib/kubelet\ndu -sh /var/lib/kubelet/pods/*/volumes/kubernetes.io~empty-dir/* | sort -h | tail\ncrictl pods\nkubectl get deployment web -o yaml   # its emptyDirs and their sizeLimit",
      async (ctx) => {
        // An evicted pod's emptyDir is gone with it: what wrote is read from the release itself as well.
        const dep = await ctx.cluster.api.apps.readNamespacedDeployment({ name: web.app, namespace: ctx.namespace });
        const spec = dep.spec?.template.spec;
        const unbounded = (spec?.volumes ?? [])
          .filter((v) => v.emptyDir && !v.emptyDir.sizeLimit)
          .map((v) => {
            const users = (spec?.containers ?? []).filter((c) => c.volumeMounts?.some((m) => m.name === v.name));
            return `emptyDir ${v.name} without sizeLimit, written by ${users.map((c) => `${c.name} (${c.command?.join(" ").slice(0, 80) ?? "image default"}; ephemeral-storage limit ${c.resources?.limits?.["ephemeral-storage"] ?? "none"})`).join(", ")}`;
          });
        const r = await worker(ctx).sh(
          "df -h --output=size,used,avail,pcent /var/lib/kubelet | tail -n1; du -sh /var/lib/kubelet/pods/*/volumes/kubernetes.io~empty-dir/* 2>/dev/null | sort -h | tail -n3; for d in $(ls /var/lib/kubelet/pods); do n=$(crictl pods -q --label io.kubernetes.pod.uid=$d 2>/dev/null | head -n1); [[ -n $n ]] && echo \"$d: $(crictl inspectp -o go-template --template '{{.status.metadata.name}}' $n)\"; done | head -n4",
          { allowFailure: true, timeout: "1m" },
        );
        return `${r.stdout.trim()}\ndeployment/web: ${unbounded.join("; ") || "no emptyDir without a sizeLimit"}`;
      },
    ),
    step(
      "roll the release back, delete the writer's pods and the evicted ones",
      "kubectl apply -f web.yaml   # the release before the debug log\nkubectl delete pod <pods with container debug-log>\nkubectl delete pods --field-selector=status.phase=Failed",
      async (ctx) => {
        const out = [await apply(ctx, ...echoWorkload(web, 1))];
        // Deleting a pod removes its emptyDir: the space comes back at once, not when the rollout gets to it.
        const gone = (await pods(ctx)).filter(
          (p) => evicted(p) || p.spec?.containers.some((c) => c.name === "debug-log") || p.metadata?.name === SCHEDULING_PROBE,
        );
        for (const p of gone) await ctx.cluster.api.core.deleteNamespacedPod({ name: p.metadata!.name!, namespace: ctx.namespace, gracePeriodSeconds: 0 });
        out.push(`deleted ${gone.length} pods: ${gone.map((p) => `${p.metadata!.name} (${evicted(p) ? "evicted" : p.status?.phase})`).join(", ")}`);
        out.push(await waitRolledOut(ctx, web, "3m"));
        return out.join("\n");
      },
      "4m",
    ),
    step(
      "limit every container's ephemeral storage in the namespace",
      `kubectl apply -f limitrange.yaml   # default ephemeral-storage limit ${LIMIT}, request 16Mi`,
      async (ctx) => apply(ctx, limitRange),
    ),
    step("watch DiskPressure clear", "kubectl get node <worker> -w   # DiskPressure False, the taint gone", async (ctx) => {
      const cleared = await waitUntil("DiskPressure cleared", ctx, "110s", async () => {
        const n = await readWorker(ctx);
        const taint = hasTaint(n);
        return {
          ok: condition(n, "DiskPressure") === "False" && !taint,
          seen: `DiskPressure=${condition(n, "DiskPressure")}, taint ${taint ? "on" : "gone"}`,
        };
      });
      // The disk that filled was the node's own tmpfs: the host's free space is what it was.
      return `${cleared}\nhost: ${await hostFree()} free on the host's disk (${ctx.found.need(HOST_FREE_BEFORE)} before the fault)`;
    }),
  ],
  decisiveStep: "roll the release back, delete the writer's pods and the evicted ones",

  verify: {
    within: "4m",
    expect: [diskPressure("False"), tainted(false), nodesReady(), limitedWriterEvictedAlone],
  },
});
