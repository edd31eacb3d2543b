import type { V1Pod } from "@kubernetes/client-node";
import type { ScenarioContext } from "./context.js";
import type { Observation, Probe } from "./probe.js";

/**
 * The cluster's health as the engine itself asks it (a shared cluster before it is handed to the next run) and
 * as scenarios do (steady state, verification; the kit re-exports these): every node Ready, kube-system Ready.
 */

/** The pod's Ready condition is True (what Endpoints and kubectl's READY column go by). */
export const podReady = (p: V1Pod): boolean => p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;

function probe(name: string, expectation: string, check: (ctx: ScenarioContext) => Promise<Observation>): Probe {
  return { name, expectation, check };
}

/** Each Node's Ready condition ("True", "False", "Unknown"), through the API. */
export async function nodeReadiness(ctx: ScenarioContext): Promise<Map<string, string>> {
  const nodes = await ctx.cluster.api.core.listNode();
  return new Map(nodes.items.map((n) => [n.metadata?.name ?? "", n.status?.conditions?.find((c) => c.type === "Ready")?.status ?? "Unknown"]));
}

/** Every Node Ready (and, where the nodes are known out of band, none missing from the API). */
export function nodesReady(): Probe {
  return probe("nodes Ready", "every node Ready", async (ctx) => {
    const ready = await nodeReadiness(ctx);
    const bad = [...ready].filter(([, s]) => s !== "True").map(([n, s]) => `${n}=${s}`);
    const missing = (ctx.cluster.shell?.nodes ?? []).filter((n) => !ready.has(n.name)).map((n) => `${n.name}=absent`);
    return { ok: ready.size > 0 && !bad.length && !missing.length, observed: [...bad, ...missing].join(", ") || `${ready.size} Ready` };
  });
}

/** Every kube-system pod Running and Ready (typed pod conditions, through the API). */
export function kubeSystemReady(): Probe {
  return probe("kube-system Ready", "every kube-system pod Running and Ready", async (ctx) => {
    const pods = (await ctx.cluster.api.core.listNamespacedPod({ namespace: "kube-system" })).items;
    const bad = pods
      .filter((p) => p.status?.phase !== "Running" || !podReady(p))
      .map(
        (p) =>
          `${p.metadata?.name} ${p.status?.phase ?? "?"}${
            p.status?.containerStatuses
              ?.map((c) => c.state?.waiting?.reason)
              .filter(Boolean)
              .map((r) => ` ${r}`)
              .join("") ?? ""
          }`,
      );
    return { ok: pods.length > 0 && !bad.length, observed: bad.length ? `not ready: ${bad.join(", ")}` : `${pods.length} pods Ready` };
  });
}
