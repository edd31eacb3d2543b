import { readdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { AftershockError, formatDuration } from "../../clusters/errors.js";
import { healthProbes, refusesWorkload, type Scenario } from "../model/scenario.js";
import { withRunbook } from "./variants.js";
import { describeLoadTarget, describeObjective } from "../load/streams.js";

export const SCENARIO_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "scenarios");

export function scenarioIds(dir = SCENARIO_DIR): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith(".ts"))
    .map((f) => f.slice(0, -3))
    .sort();
}

/** Loads scenarios/<id>.ts; the file name, the CLI argument and the scenario's id must be the same word. */
export async function loadScenario(id: string, dir = SCENARIO_DIR): Promise<Scenario> {
  const ids = scenarioIds(dir);
  if (!ids.includes(id)) {
    const near = ids.filter((x) => x.includes(id) || id.includes(x));
    throw new AftershockError("E_BAD_INPUT", `unknown scenario "${id}"`, {
      hint: near.length ? `did you mean ${near.join(", ")}?` : `known: ${ids.join(", ") || "none"}`,
    });
  }
  let mod: { default?: unknown };
  try {
    mod = (await import(pathToFileURL(path.join(dir, `${id}.ts`)).href)) as { default?: unknown };
  } catch (e) {
    if (e instanceof AftershockError) throw e;
    throw new AftershockError("E_BAD_INPUT", `scenario file scenarios/${id}.ts does not load: ${(e as Error).message.split("\n")[0]}`);
  }
  const s = mod.default as Scenario | undefined;
  if (!s || typeof s !== "object" || typeof (s as Scenario).symptomsBudgetMs !== "number") {
    throw new AftershockError("E_BAD_INPUT", `scenarios/${id}.ts must export default defineScenario({...})`);
  }
  if (s.id !== id) throw new AftershockError("E_BAD_INPUT", `scenarios/${id}.ts declares id "${s.id}"; the file name and the id must match`);
  return s;
}

export async function loadAll(tag?: string, dir = SCENARIO_DIR): Promise<Scenario[]> {
  const all = await Promise.all(scenarioIds(dir).map((id) => loadScenario(id, dir)));
  const picked = tag ? all.filter((s) => s.tags.includes(tag)) : all;
  if (!picked.length) throw new AftershockError("E_BAD_INPUT", tag ? `no scenario is tagged "${tag}"` : "no scenarios found");
  return picked;
}

/**
 * What --dry-run prints: the plan, in the incident's order, without touching anything; with `runbook`, the plan
 * of that runbook (one of the scenario's own), the others listed with the outcome each must end with.
 */
export function describePlan(scenario: Scenario, runbook = scenario.runbookName): string {
  const s = withRunbook(scenario, runbook).scenario;
  const others = [
    ...(runbook === scenario.runbookName ? [] : [`other runbook (--runbook ${scenario.runbookName}, the default, expected to pass)`]),
    ...scenario.alternativeRunbooks
      .filter((a) => a.name !== runbook)
      .map((a) => `other runbook (--runbook ${a.name}, expected to end ${a.expect}): ${a.summary}`),
    ...scenario.variants.filter((v) => v.name !== scenario.variantName).map((v) => `variant (--variant ${v.name}, expected to pass): ${v.summary}`),
  ];
  const lines = [
    `${s.id}${s.variantName ? ` (variant ${s.variantName})` : ""}: ${s.title}`,
    `source: incident ${s.source.incident}, ${s.source.section}   tags: ${s.tags.join(", ")}`,
    "",
    s.summary,
    "",
    `cluster: ${s.cluster.controlPlanes} control plane(s) + ${s.cluster.workers} worker(s)` +
      `; needs: ${s.needs.join(", ") || "API only"}; scope: ${s.scope === "namespace" ? "its own namespace (can share a cluster)" : "the whole cluster"}`,
    ...(s.changesNodes ? [`changes its nodes: ${s.changesNodes} (pnpm suite gives it a cluster of its own)`] : []),
    ...s.load.map(
      (l) =>
        `load ${l.name} (vegeta, beside the cluster): ${l.rate} requests/s to ${describeLoadTarget(l)}; SLOs: ${(["before", "during", "after"] as const)
          .filter((w) => l.slo[w])
          .map((w) => `${w} ${describeObjective(l.slo[w]!)}`)
          .join(", ")}`,
    ),
    ...(s.images.length ? [`workload images (built here, loaded into the cluster): ${s.images.join(", ")}`] : []),
    s.underTest
      ? `your workload: ${s.underTest.config.name} (${path.relative(process.cwd(), s.underTest.config.file)}) in place of the demo Service ${scenario.workloadSlot?.replaces.app}; ` +
        `its SLO ${(["before", "during", "after"] as const)
          .flatMap((w) => (s.underTest!.config.slo[w] ? [`${w} ${describeObjective(s.underTest!.config.slo[w]!)}`] : []))
          .join(", ")}, judged apart from the runbook (before also gates the steady state)`
      : s.workloadSlot
        ? `your workload: --workload PATH runs it in place of the demo Service ${s.workloadSlot.replaces.app}`
        : `your workload: ${refusesWorkload(s)!.replace(/^scenario \S+ /, "")}`,
    `setup: ${s.setup.map((x) => x.title).join("; ") || "—"}`,
    `steady state: ${s.steadyState.map((p) => p.name).join("; ")}`,
    `fault: ${s.fault.title}`,
    ...s.fault.plan.map((l) => `    $ ${l}`),
    `self-check before the fault: each symptom below must be absent (${
      s.symptomsAbsentBudgetMs
        ? `asked again every 15s for up to ${formatDuration(s.symptomsAbsentBudgetMs)}, each time over what was logged or served since the asking before`
        : "asked once; logs counted from the steady-state check"
    })`,
    `symptoms (within ${s.symptoms.within}):`,
    ...s.symptoms.expect.map((p) => `  - ${p.expectation}`),
    ...(s.symptoms.stillWorks ?? []).map((p) => `  - still works during the fault (not a signature): ${p.expectation}`),
    `self-check on the broken cluster, before the runbook: at least one of ${healthProbes(s)
      .map((p) => p.name)
      .join("; ")} must fail`,
    scenario.alternativeRunbooks.length ? `runbook "${runbook}"${runbook === scenario.runbookName ? " (the default)" : ""}:` : "runbook:",
    ...s.runbook.flatMap((st, i) => [
      `  ${i + 1}. ${st.title}${st.title === s.decisiveStep ? "   (recovery hinges on this step)" : ""}`,
      ...st.shows.split("\n").map((l) => `    $ ${l}`),
    ]),
    `verify (within ${s.verify.within}): ${s.verify.expect.map((p) => p.name).join("; ")}, and every sentinel intact`,
    ...others,
    ...(s.fault.rollback
      ? [`rollback (in teardown, not part of recovery): ${s.fault.rollback.title}`, ...s.fault.rollback.shows.split("\n").map((l) => `    $ ${l}`)]
      : []),
  ];
  return lines.join("\n");
}
