import os from "node:os";
import path from "node:path";
import { formatDuration, ms } from "../../../clusters/errors.js";
import { renderCommand } from "../../../clusters/exec.js";
import { pollUntil } from "../../../clusters/wait.js";
import {
  CONFORMANCE_GRACE_MS,
  conformanceFailure,
  conformanceLines,
  conformanceOk,
  conformanceSummary,
  runConformance,
  type ConformanceRecord,
} from "../../../clusters/conformance/run.js";
import { CONFORMANCE_TIMEOUT_MS, conformanceSpecsFor } from "../../../clusters/conformance/specs.js";
import { stopBeforeConformance } from "../test-hooks.js";
import type { ManagedCluster } from "../../../clusters/contract.js";
import type { Phase, Run, Verified } from "../run.js";

/** How long the phase waits, after e2e.test, for the namespaces its specs deleted without waiting to be gone. */
export const E2E_NAMESPACES_GONE_MS = 2 * 60_000;

/**
 * 9b. Conformance (only with --conformance; verification passed): Kubernetes' own e2e.test of the cluster's release
 * runs the curated [Conformance] specs (clusters/conformance/specs.ts) on this host against the cluster's kubeconfig.
 * A failing spec, a failing suite node, or no report ends the run not-recovered, with the specs named: the cluster
 * answers the run's probes but is not whole. Then its namespaces are waited for, so that the next run on a shared
 * cluster does not inherit them. Not counted in time to recover (which verification has set).
 */
export const conformance: Phase<Verified, Verified> = async (run, given) => {
  const c = run.opts.conformance;
  if (!c) return given;
  const binary = c.e2eTest;
  if (!binary) throw new Error("run pipeline: --conformance without an e2e.test (runScenario sets it from prepare())");
  const { cluster } = given;
  const version = cluster.kubernetesVersion;
  const outDir = c.outDir?.({ scenarioId: run.scenario.id, runId: run.runId }) ?? path.join(os.tmpdir(), `aftershock-conformance-${run.runId}`);
  const n = conformanceSpecsFor(version).length;
  const budget = CONFORMANCE_TIMEOUT_MS + CONFORMANCE_GRACE_MS + E2E_NAMESPACES_GONE_MS;
  const record = await run.phase("conformance", budget, async (p) => {
    const stop = stopBeforeConformance();
    if (stop) await run.step(p, `test switch: stop ${stop} before conformance`, undefined, () => stopComponent(run, cluster, stop));
    let rec: ConformanceRecord | undefined;
    const shows = `${renderCommand(binary, [`--kubeconfig=${cluster.kubeconfigPath}`, "--provider=skeleton"])} --ginkgo.focus='<${n} curated [Conformance] specs>' --ginkgo.timeout=${formatDuration(CONFORMANCE_TIMEOUT_MS)} --ginkgo.junit-report=${path.join(outDir, "junit-e2e.xml")} …`;
    await run.step(p, `e2e.test ${version}: ${n} curated [Conformance] specs`, shows, async () => {
      rec = await runConformance({
        binary,
        kubeconfig: cluster.kubeconfigPath,
        ...(cluster.kubeContext ? { context: cluster.kubeContext } : {}),
        kubernetesVersion: version,
        outDir,
      });
      run.journal.conformance = rec;
      return conformanceLines(rec).join("\n");
    });
    await run.step(p, "the e2e namespaces deleted", undefined, () => e2eNamespacesGone(run, cluster));
    if (!conformanceOk(rec!)) {
      p.status = "failed";
      p.error = conformanceSummary(rec!);
    }
    return rec!;
  });
  run.evidence("conformance", conformanceLines(record).join("\n"));
  if (conformanceOk(record)) return given;
  // Data lost as well is named, as sentinels would have: the run ends here.
  const lost = given.verified.failedSentinels;
  return {
    outcome: "not-recovered",
    reason: conformanceFailure(record) + (lost.length ? `; data written before the fault is gone too: ${lost.map((f) => f.observed).join("; ")}` : ""),
  };
};

/**
 * Every namespace e2e.test made (label e2e-run) gone, within E2E_NAMESPACES_GONE_MS. Each spec starts its namespace's
 * deletion without waiting; namespaces still terminating then are said in the step's output, not failed on.
 */
async function e2eNamespacesGone(run: Run, cluster: ManagedCluster): Promise<string> {
  try {
    return await waitNamespaces(run, cluster);
  } catch (e) {
    return `the e2e namespaces could not be listed: ${(e as Error).message}`;
  }
}

async function waitNamespaces(run: Run, cluster: ManagedCluster): Promise<string> {
  const { api } = cluster;
  const left = async () => (await api.core.listNamespace({ labelSelector: "e2e-run" })).items.map((ns) => ns.metadata?.name ?? "?");
  const t0 = run.clock.now();
  let names = await left();
  const total = names.length;
  if (names.length)
    await pollUntil(
      "the e2e namespaces gone",
      ms(E2E_NAMESPACES_GONE_MS),
      "3s",
      async () => {
        names = await left();
        return { ok: names.length === 0, seen: `${names.length} left` };
      },
      { clock: run.clock },
    ).catch(() => undefined);
  return names.length
    ? `${names.length} of ${total} e2e namespaces still terminating after ${formatDuration(run.clock.now() - t0)}: ${names.slice(0, 8).join(", ")}${names.length > 8 ? ", …" : ""}`
    : `${total} e2e namespace${total === 1 ? "" : "s"} gone in ${formatDuration(run.clock.now() - t0)}`;
}

/** The test switch: the component's static pod manifest parked on every control plane (the kubelet stops its pod). */
async function stopComponent(run: Run, cluster: ManagedCluster, component: string): Promise<string> {
  const { shell } = cluster;
  if (!shell) throw new Error(`test switch: stopping ${component} needs the nodes' shell, which this target does not give`);
  const out: string[] = [];
  for (const node of shell.nodes.filter((x) => x.role === "control-plane")) {
    await node.sh(`mv /etc/kubernetes/manifests/${component}.yaml /etc/kubernetes/${component}.yaml.parked-by-test-switch`);
    out.push(`${node.name}: /etc/kubernetes/manifests/${component}.yaml parked`);
  }
  run.evidence("test switch", `${component} stopped before conformance, the cluster left broken on purpose: ${out.join("; ")}`);
  return out.join("\n");
}
