import type { KubernetesObject, V1Ingress, V1Service } from "@kubernetes/client-node";
import { AftershockError, formatDuration, parseDuration, type Duration } from "../../../clusters/errors.js";
import { apiErrorLine } from "../../../clusters/kube.js";
import type { Observation, Probe } from "../../model/probe.js";
import type { ScenarioContext } from "../../model/context.js";
import { app, type App } from "../targets.js";
import { apply, deployment, waitRolledOut, WORKLOAD_IMAGES, type Manifested, type ServiceRef } from "./workloads.js";

/**
 * A real Ingress controller (Traefik) confined to the run's namespace: a Role instead of a ClusterRole, no
 * cluster-scoped lookups, Ingresses picked by a class annotation unique to the run, so it touches nothing
 * outside the namespace and no other controller picks up the run's Ingresses. It is reached from this host
 * through a NodePort on a node's InternalIP, as a user's browser would reach an ingress.
 */

/** The controller's Deployment (pods app=traefik), ServiceAccount, Role and NodePort Service, by handle (e.g. for podLogMatches). */
export const INGRESS_CONTROLLER: App = app("traefik");
const WEB_PORT = 8000;

/** The class annotation value the run's Ingresses carry (the namespace name is unique to the run). */
export const ingressClass = (ctx: ScenarioContext) => ctx.namespace;

export function ingressControllerObjects(ctx: ScenarioContext): KubernetesObject[] {
  const name = INGRESS_CONTROLLER.app;
  const role = {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "Role",
    metadata: { name },
    rules: [
      { apiGroups: [""], resources: ["services", "secrets", "endpoints"], verbs: ["get", "list", "watch"] },
      { apiGroups: ["discovery.k8s.io"], resources: ["endpointslices"], verbs: ["get", "list", "watch"] },
      { apiGroups: ["networking.k8s.io"], resources: ["ingresses"], verbs: ["get", "list", "watch"] },
      { apiGroups: ["networking.k8s.io"], resources: ["ingresses/status"], verbs: ["update"] },
    ],
  };
  const binding = {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "RoleBinding",
    metadata: { name },
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name },
    subjects: [{ kind: "ServiceAccount", name, namespace: ctx.namespace }],
  };
  const controller = deployment(
    name,
    {
      image: WORKLOAD_IMAGES.traefik,
      imagePullPolicy: "IfNotPresent",
      args: [
        `--entryPoints.web.address=:${WEB_PORT}`,
        "--ping=true",
        "--providers.kubernetesingress=true",
        `--providers.kubernetesingress.namespaces=${ctx.namespace}`,
        `--providers.kubernetesingress.ingressclass=${ingressClass(ctx)}`,
        "--providers.kubernetesingress.disableClusterScopeResources=true",
        // A Service without ready endpoints keeps its route and answers 503, as most controllers do.
        "--providers.kubernetesingress.allowEmptyServices=true",
        "--global.checkNewVersion=false",
        "--global.sendAnonymousUsage=false",
        "--log.level=INFO",
        "--log.noColor=true",
      ],
      ports: [
        { name: "web", containerPort: WEB_PORT },
        { name: "ping", containerPort: 8080 },
      ],
      readinessProbe: { httpGet: { path: "/ping", port: 8080 }, periodSeconds: 2 },
    },
    { pod: { serviceAccountName: name } },
  ).manifest;
  const service: V1Service = {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name },
    spec: { type: "NodePort", selector: { app: name }, ports: [{ name: "web", port: 80, targetPort: WEB_PORT as never }] },
  };
  return [{ apiVersion: "v1", kind: "ServiceAccount", metadata: { name } }, role, binding, controller, service];
}

/** Installs the controller in the run's namespace and waits until it is ready. */
export async function installIngressController(ctx: ScenarioContext): Promise<string> {
  await apply(ctx, ...ingressControllerObjects(ctx));
  return waitRolledOut(ctx, INGRESS_CONTROLLER, "2m");
}

/** An Ingress the scenario writes (ingress()), by handle: its name, and the manifest apply() writes. */
export interface Ingress extends Manifested {
  readonly ingress: string;
  readonly manifest: V1Ingress;
}

/**
 * An Ingress routing `path` to a Service's port, for the run's controller (its class annotation); its handle. Named
 * after the Service it fronts unless `name` is given (or the handle of an Ingress, for another version of it).
 */
export function ingress(ctx: ScenarioContext, backend: ServiceRef, path: string, port: number, name: string | Ingress = backend.service): Ingress {
  const named = typeof name === "string" ? name : name.ingress;
  return {
    ingress: named,
    manifest: {
      apiVersion: "networking.k8s.io/v1",
      kind: "Ingress",
      metadata: { name: named, annotations: { "kubernetes.io/ingress.class": ingressClass(ctx) } },
      spec: { rules: [{ http: { paths: [{ path, pathType: "Prefix", backend: { service: { name: backend.service, port: { number: port } } } }] } }] },
    },
  };
}

/** http://<a node's InternalIP>:<the controller's NodePort>: where a client outside the cluster reaches the ingress. */
export async function ingressUrl(ctx: ScenarioContext): Promise<string> {
  const svc = await ctx.cluster.api.core.readNamespacedService({ name: INGRESS_CONTROLLER.app, namespace: ctx.namespace });
  const nodePort = svc.spec?.ports?.find((p) => p.name === "web")?.nodePort;
  const nodes = await ctx.cluster.api.core.listNode();
  const ip = nodes.items.flatMap((n) => n.status?.addresses ?? []).find((a) => a.type === "InternalIP")?.address;
  if (!nodePort || !ip) throw new AftershockError("E_CLUSTER", `no NodePort (${nodePort}) or node InternalIP (${ip}) for the ingress controller`);
  return `http://${ip}:${nodePort}`;
}

/** One HTTP GET from this host, with a deadline: the status and the first line of the body. */
export async function httpGet(url: string, timeout: Duration = "5s"): Promise<{ status: number; body: string; ms: number }> {
  const t0 = performance.now();
  const r = await fetch(url, { signal: AbortSignal.timeout(parseDuration(timeout)) });
  const body = (await r.text()).trim().split("\n")[0]!.slice(0, 200);
  return { status: r.status, body, ms: Math.round(performance.now() - t0) };
}

/** HTTP through the Ingress, from outside the cluster, answers `path` with this status code. */
export function ingressAnswers(path: string, status: number): Probe {
  return {
    name: `GET ${path} through the ingress answers ${status}`,
    expectation: `HTTP ${status} for ${path} from this host through the ingress controller's NodePort`,
    async check(ctx): Promise<Observation> {
      let url = "";
      try {
        url = `${await ingressUrl(ctx)}${path}`;
        const r = await httpGet(url);
        return { ok: r.status === status, observed: `HTTP ${r.status} in ${formatDuration(r.ms)}: ${r.body}` };
      } catch (e) {
        return { ok: false, observed: `${url || path}: ${apiErrorLine(e)}` };
      }
    },
  };
}
