import { createHash, randomBytes } from "node:crypto";
import type { Probe } from "./probes.js";
import type { Sentinel } from "./scenario.js";
import type { ScenarioContext } from "./types.js";

const NS = "aftershock-sentinels";

async function ensureNamespace(ctx: ScenarioContext): Promise<void> {
  await ctx.cluster.kubectl(["create", "namespace", NS, "--dry-run=client", "-o", "yaml"]).then((r) =>
    ctx.cluster.kubectl(["apply", "-f", "-"], { input: r.stdout }));
}

/**
 * `count` ConfigMaps with random payloads, written through the API before the fault. Afterwards each one
 * must still exist with the same content (checked by digest); missing or changed ones are named.
 */
export function configMaps(count: number): Sentinel {
  const payloads = new Map<string, string>();
  const digest = (s: string) => createHash("sha256").update(s).digest("hex").slice(0, 16);
  return {
    title: `${count} ConfigMaps with random payloads in ${NS}`,
    async write(ctx) {
      await ensureNamespace(ctx);
      const docs: string[] = [];
      for (let i = 0; i < count; i++) {
        const name = `sentinel-${String(i).padStart(3, "0")}`;
        const value = randomBytes(24).toString("hex");
        payloads.set(name, value);
        docs.push(`apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\n  namespace: ${NS}\n  labels: {aftershock.io/sentinel: "true"}\ndata:\n  payload: "${value}"\n`);
      }
      await ctx.cluster.kubectl(["apply", "-f", "-"], { input: docs.join("---\n"), timeoutMs: 60_000 });
      ctx.evidence("sentinels", `wrote ${count} ConfigMaps (${[...payloads.values()].map(digest).slice(0, 3).join(", ")}, …)`);
    },
    probes(): Probe[] {
      return [{
        name: `${count} sentinel ConfigMaps intact`,
        expectation: `all ${count} ConfigMaps present with their original payloads`,
        kind: "sentinel",
        async check(ctx) {
          const r = await ctx.cluster.kubectl(["get", "configmaps", "-n", NS, "-l", "aftershock.io/sentinel=true", "--request-timeout=10s", "-o",
            "jsonpath={range .items[*]}{.metadata.name}={.data.payload}{\"\\n\"}{end}"], { timeoutMs: 20_000 });
          const seen = new Map(r.stdout.trim().split("\n").filter(Boolean).map((l) => l.split("=") as [string, string]));
          const missing = [...payloads.keys()].filter((k) => !seen.has(k));
          const changed = [...payloads.entries()].filter(([k, v]) => seen.has(k) && seen.get(k) !== v).map(([k]) => k);
          const ok = !missing.length && !changed.length;
          return { ok, observed: ok ? `${payloads.size}/${payloads.size} intact` : `${missing.length} missing${missing.length ? ` (${missing.slice(0, 5).join(", ")}${missing.length > 5 ? ", …" : ""})` : ""}, ${changed.length} changed` };
        },
      }];
    },
  };
}

/** A Deployment of the preloaded helper image; afterwards it must exist with all replicas available. */
export function deployment(name: string, replicas: number): Sentinel {
  return {
    title: `Deployment ${name} with ${replicas} replicas`,
    async write(ctx) {
      await ensureNamespace(ctx);
      await ctx.cluster.kubectl(["apply", "-f", "-"], { input: `apiVersion: apps/v1
kind: Deployment
metadata: {name: ${name}, namespace: ${NS}, labels: {aftershock.io/sentinel: "true"}}
spec:
  replicas: ${replicas}
  selector: {matchLabels: {app: ${name}}}
  template:
    metadata: {labels: {app: ${name}}}
    spec:
      tolerations: [{operator: Exists}]
      containers:
      - name: main
        image: aftershock.local/local-path-helper:v1
        imagePullPolicy: IfNotPresent
        command: ["sleep", "infinity"]
` });
      await ctx.cluster.kubectl(["rollout", "status", `deployment/${name}`, "-n", NS, "--timeout=120s"], { timeoutMs: 130_000 });
      ctx.evidence("sentinels", `deployment ${name} rolled out with ${replicas} replicas`);
    },
    probes(): Probe[] {
      return [{
        name: `deployment ${name} available`,
        expectation: `${replicas}/${replicas} replicas available`,
        kind: "sentinel",
        async check(ctx) {
          const r = await ctx.cluster.kubectl(["get", "deployment", name, "-n", NS, "--request-timeout=10s", "-o", "jsonpath={.status.availableReplicas}"], { allowFailure: true, timeoutMs: 20_000 });
          if (r.exitCode !== 0) return { ok: false, observed: r.stderr.trim().split("\n").pop() ?? "error" };
          const avail = Number(r.stdout || 0);
          return { ok: avail === replicas, observed: `${avail}/${replicas} available` };
        },
      }];
    },
  };
}
