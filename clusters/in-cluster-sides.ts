import type { V1Pod, V1PodSpec } from "@kubernetes/client-node";
import type { SideContainers, SideContainerSpec, StartedSideContainer } from "./contract.js";
import { AftershockError, formatDuration, parseDuration } from "./errors.js";
import { apiErrorLine, apiStatus, type KubeApi } from "./kube.js";
import { CONTROL_PLANE_ROLE, LABELS } from "./labels.js";
import { registerTeardown } from "./teardown.js";
import { pollUntil } from "./wait.js";

/**
 * Side containers of a cluster this tool did not create: pods in the run's namespace (nothing outside it is
 * touched), their image pulled from the registry the run pushed it to, their output read through the API's log
 * stream. They reach Services by cluster DNS and the API server as kubernetes.default.svc, as in-cluster clients
 * do. They serve namespace-scoped runs only: the API server, which carries their output, stays up in those.
 * Each pod is deleted on stop, on Ctrl-C, and with the namespace.
 */
export function inClusterSideContainers(o: {
  api: KubeApi;
  runId: string;
  /** The ref the cluster pulls a locally built image by (the registry's copy). */
  imageRef: (ref: string) => string;
  /** Makes a locally built image pullable by the cluster (pushes it to the registry). */
  publish: (ref: string) => Promise<void>;
}): SideContainers {
  const published = new Map<string, Promise<void>>();
  return {
    placement: "in-cluster",
    async nodeAddress(node) {
      const n = await o.api.core.readNode({ name: node });
      const ip = n.status?.addresses?.find((a) => a.type === "InternalIP")?.address;
      if (!ip) throw new AftershockError("E_CLUSTER", `node ${node} has no InternalIP`);
      return ip;
    },
    apiServerAddress: async () => "kubernetes.default.svc:443",
    async start(spec) {
      let push = published.get(spec.image);
      if (!push) published.set(spec.image, (push = o.publish(spec.image)));
      await push;
      return startPod(o.api, o.runId, o.imageRef(spec.image), spec);
    },
  };
}

/** A DNS-1123 name for the pod: "aftershock-load-web". */
const podName = (name: string) =>
  `aftershock-${name}`
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .slice(0, 63)
    .replace(/-+$/, "");

/**
 * Keeps a pod off the nodes a fault takes away (required: a load generator on the machine that reboots measures
 * nothing), and lets it run on a control plane, so a cluster of one worker, or one whose other workers are cordoned,
 * still has a place for it.
 */
export function awayFrom(nodes: string[] | undefined): Pick<V1PodSpec, "affinity" | "tolerations"> {
  if (!nodes?.length) return {};
  return {
    affinity: {
      nodeAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: {
          nodeSelectorTerms: [{ matchFields: [{ key: "metadata.name", operator: "NotIn", values: nodes }] }],
        },
      },
    },
    tolerations: [{ key: CONTROL_PLANE_ROLE, operator: "Exists", effect: "NoSchedule" }],
  };
}

async function startPod(api: KubeApi, runId: string, image: string, spec: SideContainerSpec): Promise<StartedSideContainer> {
  const namespace = spec.namespace;
  const name = podName(spec.name);
  const t0 = Date.now();
  const readyBudgetMs = parseDuration(spec.readyBudget);
  const remove = async () => {
    await api.core.deleteNamespacedPod({ name, namespace, gracePeriodSeconds: 0 }).catch((e: unknown) => {
      if (apiStatus(e) !== 404) throw e;
    });
  };
  const unregister = registerTeardown(`delete side pod ${namespace}/${name}`, remove);
  const pod: V1Pod = {
    metadata: { name, namespace, labels: { [LABELS.k8sManaged]: "true", [LABELS.k8sRun]: runId, "app.kubernetes.io/name": name } },
    spec: {
      restartPolicy: "Never",
      terminationGracePeriodSeconds: 1,
      automountServiceAccountToken: false,
      // What the "restricted" Pod Security level asks, so a namespace that enforces it still admits the pod.
      securityContext: { runAsNonRoot: true, runAsUser: 65534, seccompProfile: { type: "RuntimeDefault" } },
      ...awayFrom(spec.avoidNodes),
      containers: [
        {
          name: "side",
          image,
          command: ["/bin/sh", "-c", spec.command],
          securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } },
          resources: { requests: { cpu: "50m", memory: "32Mi" }, limits: { memory: "256Mi" } },
        },
      ],
    },
  };
  const lines: string[] = [];
  let follow: { stop(): void } | undefined;
  let ready = false;
  try {
    await api.core.createNamespacedPod({ namespace, body: pod });
    await pollUntil(`side pod ${namespace}/${name} running`, spec.readyBudget, "1s", async () => {
      const p = await api.core.readNamespacedPod({ name, namespace });
      const phase = p.status?.phase ?? "Pending";
      const waiting = p.status?.containerStatuses?.[0]?.state?.waiting;
      if (phase === "Failed" || phase === "Succeeded") throw new AftershockError("E_CLUSTER", `side pod ${name} ended (${phase}) before it was ready`);
      return { ok: phase === "Running", seen: `${phase}${waiting?.reason ? ` (${waiting.reason}${waiting.message ? `: ${waiting.message}` : ""})` : ""}` };
    });
    let seen!: () => void;
    const sawReady = new Promise<void>((resolve) => (seen = resolve));
    follow = await api.follow(`/api/v1/namespaces/${namespace}/pods/${name}/log?container=side&follow=true`, (l) => {
      if (!ready && spec.ready.test(l)) {
        ready = true;
        seen();
      }
      if (!ready && lines.length < 20) lines.push(l);
      spec.onLine(l, "stdout");
    });
    const left = Math.max(1000, readyBudgetMs - (Date.now() - t0));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      sawReady,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`no line matching ${spec.ready} in its log${lines.length ? `; it printed: ${lines.slice(-3).join(" | ")}` : ""}`)),
          left,
        );
      }),
    ]).finally(() => clearTimeout(timer));
  } catch (e) {
    follow?.stop();
    await remove().catch(() => undefined);
    unregister();
    const why = e instanceof AftershockError ? e.message : e instanceof Error ? e.message : apiErrorLine(e);
    throw new AftershockError(
      "E_CLUSTER",
      `side pod ${namespace}/${name} (${image}) did not start: ${why.split("\n")[0]} (after ${formatDuration(Date.now() - t0)}, budget ${formatDuration(readyBudgetMs)})`,
      { cause: e },
    );
  }
  let stopped: Promise<void> | undefined;
  const stop = () =>
    (stopped ??= (async () => {
      follow?.stop();
      await remove().catch(() => undefined);
      unregister();
    })());
  return { id: `${namespace}/${name}`, name, stop, [Symbol.asyncDispose]: stop };
}
