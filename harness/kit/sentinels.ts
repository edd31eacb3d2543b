import { nodeShell } from "../../clusters/contract.js";
import { createHash, randomBytes } from "node:crypto";
import { AftershockError } from "../../clusters/errors.js";
import { raw, sh } from "../../clusters/exec.js";
import { apiErrorLine, apiStatus } from "../../clusters/kube.js";
import { etcdctlFunction, etcdutlFunction, negate, saveSnapshotLines } from "./probes.js";
import type { Probe } from "../model/probe.js";
import { versionOf } from "./versions.js";
import { SENTINEL_NAMESPACE, type Sentinel } from "../model/scenario.js";
import type { ScenarioContext } from "../model/context.js";
import { applyInNamespace, echoWorkload, lostByName, spreadOverNodes, waitRolledOut } from "./workloads/workloads.js";
import { app } from "./targets.js";

// sentinels.ts builds on workloads.ts (typed builders, apply, rollout waits), never the other way round.
export { ECHO_IMAGE } from "./workloads/workloads.js";
export { SENTINEL_NAMESPACE };

/** Where the sentinels live (harness/model/scenario.ts): a namespace of their own, not the run's. */
const NS = SENTINEL_NAMESPACE;

async function ensureNamespace(ctx: ScenarioContext): Promise<void> {
  try {
    await ctx.cluster.api.core.createNamespace({ body: { metadata: { name: NS } } });
  } catch (e) {
    if (apiStatus(e) !== 409) throw new AftershockError("E_CLUSTER", `create namespace ${NS}: ${apiErrorLine(e)}`);
  }
}

/**
 * `count` ConfigMaps with random payloads, written through the API before the fault. Afterwards each one
 * must still exist with the same content (checked by digest); missing or changed ones are named.
 */
export function configMaps(count: number, opts: { prefix?: string; afterRecoveryPoint?: boolean } = {}): Sentinel {
  const prefix = opts.prefix ?? "sentinel";
  const label = `aftershock.io/${prefix}`;
  const payloads = new Map<string, string>();
  const digest = (s: string) => createHash("sha256").update(s).digest("hex").slice(0, 16);
  return {
    title: `${count} ConfigMaps "${prefix}-*" with random payloads in ${NS}${opts.afterRecoveryPoint ? " (after the backup)" : ""}`,
    async write(ctx) {
      await ensureNamespace(ctx);
      const docs: string[] = [];
      for (let i = 0; i < count; i++) {
        const name = `${prefix}-${String(i).padStart(3, "0")}`;
        const value = randomBytes(24).toString("hex");
        payloads.set(name, value);
        docs.push(
          `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\n  namespace: ${NS}\n  labels: {${label}: "true"}\ndata:\n  payload: "${value}"\n`,
        );
      }
      await ctx.cluster.kubectl(["apply", "-f", "-"], { input: docs.join("---\n"), timeout: "1m" });
      ctx.evidence("sentinels", `wrote ${count} ConfigMaps (${[...payloads.values()].map(digest).slice(0, 3).join(", ")}, …)`);
    },
    probes(): Probe[] {
      return [
        {
          name: opts.afterRecoveryPoint ? `${count} ${prefix} ConfigMaps written after the backup` : `${count} ${prefix} ConfigMaps intact`,
          expectation: `all ${count} ${prefix}-* ConfigMaps present with their original payloads`,
          kind: opts.afterRecoveryPoint ? "recovery-point" : "sentinel",
          async check(ctx) {
            const r = await ctx.cluster.kubectl(
              [
                "get",
                "configmaps",
                "-n",
                NS,
                "-l",
                `${label}=true`,
                "--request-timeout=10s",
                "-o",
                'jsonpath={range .items[*]}{.metadata.name}={.data.payload}{"\\n"}{end}',
              ],
              { timeout: "20s" },
            );
            const seen = new Map(
              r.stdout
                .trim()
                .split("\n")
                .filter(Boolean)
                .map((l) => l.split("=") as [string, string]),
            );
            const { missing, changed } = lostByName(payloads, seen);
            const ok = !missing.length && !changed.length;
            return {
              ok,
              observed: ok
                ? `${payloads.size}/${payloads.size} intact`
                : `${missing.length} of ${payloads.size} missing${missing.length ? ` (${missing.slice(0, 5).join(", ")}${missing.length > 5 ? ", …" : ""})` : ""}, ${changed.length} changed`,
            };
          },
        },
      ];
    },
  };
}

/** A sentinel Deployment's manifest; `podSpec` is indented to sit under `spec.template.spec`. */
function deploymentManifest(name: string, replicas: number, podSpec: string): string {
  return `apiVersion: apps/v1
kind: Deployment
metadata: {name: ${name}, namespace: ${NS}, labels: {aftershock.io/sentinel: "true"}}
spec:
  replicas: ${replicas}
  selector: {matchLabels: {app: ${name}}}
  template:
    metadata: {labels: {app: ${name}}}
    spec:
${podSpec}`;
}

/** Applies the manifests and waits for the Deployment to roll out. */
async function applyAndRollOut(ctx: ScenarioContext, name: string, manifests: string): Promise<void> {
  await ensureNamespace(ctx);
  await ctx.cluster.kubectl(["apply", "-f", "-"], { input: manifests });
  await ctx.cluster.kubectl(["rollout", "status", `deployment/${name}`, "-n", NS, "--timeout=120s"], { timeout: "130s" });
}

/** A Deployment of the preloaded helper image; afterwards it must exist with all replicas available. */
export function deployment(name: string, replicas: number): Sentinel {
  return {
    title: `Deployment ${name} with ${replicas} replicas`,
    async write(ctx) {
      await applyAndRollOut(
        ctx,
        name,
        deploymentManifest(
          name,
          replicas,
          // sleep as PID 1 ignores SIGTERM: without a short grace period each pod takes 30 s to go at teardown.
          `      tolerations: [{operator: Exists}]
      terminationGracePeriodSeconds: 1
      containers:
      - name: main
        image: aftershock.local/local-path-helper:v1
        imagePullPolicy: IfNotPresent
        command: ["sleep", "infinity"]
`,
        ),
      );
      ctx.evidence("sentinels", `deployment ${name} rolled out with ${replicas} replicas`);
    },
    probes(): Probe[] {
      return [
        {
          name: `deployment ${name} available`,
          expectation: `${replicas}/${replicas} replicas available`,
          kind: "sentinel",
          async check(ctx) {
            const r = await ctx.cluster.kubectl(["get", "deployment", name, "-n", NS, "--request-timeout=10s", "-o", "jsonpath={.status.availableReplicas}"], {
              allowFailure: true,
              timeout: "20s",
            });
            if (r.exitCode !== 0) return { ok: false, observed: r.stderr.trim().split("\n").pop() ?? "error" };
            const avail = Number(r.stdout || 0);
            return { ok: avail === replicas, observed: `${avail}/${replicas} available` };
          },
        },
      ];
    },
  };
}

/**
 * Not data but a step of the setup: an etcd snapshot taken on the first control-plane node with the etcd container's
 * etcdctl, written to `file` on the node, and its status from etcdutl (the etcd image's, copied for the run).
 */
export function etcdSnapshot(file = "/var/lib/etcd-backup/snapshot.db"): Sentinel {
  return {
    title: `etcd snapshot to ${file}`,
    async write(ctx) {
      const r = await nodeShell(ctx.cluster)
        .controlPlane()
        .sh(
          sh`set -euo pipefail
${raw(etcdctlFunction(30))}
${raw(etcdutlFunction())}
${raw(saveSnapshotLines(file, "sentinel-snapshot"))}
${raw(versionOf(ctx).etcd.snapshotStatus)} ${file} -w table`,
          { timeout: "90s" },
        );
      ctx.evidence("backup", r.stdout.trim());
    },
    probes: () => [],
  };
}

/**
 * The echo server behind a ClusterIP Service (workloads.ts echoWorkload), in the sentinels' namespace; afterwards
 * the Service must answer. `spreadOverWorkers` spreads the pods over the nodes that take them (the workers).
 */
export function service(name: string, replicas: number, opts: { spreadOverWorkers?: boolean } = {}): SentinelService {
  return {
    service: name,
    title: `Service ${name} backed by ${replicas} echo pods`,
    async write(ctx) {
      await ensureNamespace(ctx);
      await applyInNamespace(
        ctx,
        NS,
        ...echoWorkload(name, replicas, opts.spreadOverWorkers ? { topologySpreadConstraints: [spreadOverNodes(app(name))] } : {}),
      );
      await waitRolledOut(ctx, app(name), "2m", NS);
      ctx.evidence("sentinels", `service ${name} with ${replicas} echo pods rolled out`);
    },
    probes: () => [serviceAnswers({ service: name })],
  };
}

/** A sentinel Service (service()): its setup item, and the handle serviceAnswers and serviceDown take. */
export interface SentinelService extends Sentinel {
  /** Its name in the sentinels' namespace. */
  readonly service: string;
}

/** The Service answers HTTP through its ClusterIP (read through the API), asked from the first control-plane node (kube-proxy's rules). */
export function serviceAnswers({ service: name }: Pick<SentinelService, "service">, kind: Probe["kind"] = "sentinel"): Probe {
  return {
    name: `Service ${name} answers`,
    expectation: `HTTP 200 from http://<ClusterIP of ${name}>/`,
    ...(kind ? { kind } : {}),
    async check(ctx) {
      // An API that does not answer is "not yet", not a Service that is down: thrown, not returned (see negate).
      const svc = await ctx.cluster.api.core.readNamespacedService({ name, namespace: NS }).catch((e: unknown) => {
        throw new AftershockError("E_CLUSTER", `read Service ${NS}/${name}: ${apiErrorLine(e)}`);
      });
      const ip = svc.spec?.clusterIP;
      if (!ip || ip === "None") return { ok: false, observed: `Service ${NS}/${name} has no ClusterIP (${ip ?? "none"})` };
      const r = await nodeShell(ctx.cluster)
        .controlPlane()
        .exec(["curl", "-s", "--max-time", "4", "-o", "/dev/stdout", "-w", "\n%{http_code}", `http://${ip}/`], { allowFailure: true, timeout: "15s" });
      const code = r.stdout.trim().split("\n").pop();
      return { ok: code === "200", observed: code === "200" ? r.stdout.trim().split("\n")[0]! : `curl exit ${r.exitCode}, HTTP ${code || "none"} from ${ip}` };
    },
  };
}

/** The opposite, for symptoms: the Service stops answering. */
export function serviceDown(s: SentinelService): Probe {
  return negate(serviceAnswers(s, "health"), `Service ${s.service} does not answer`, `no HTTP 200 from Service ${s.service}`);
}
