import type { ManagedCluster } from "../../../clusters/contract.js";
import type { ScenarioContext } from "../../model/context.js";
import { isStopping } from "../signals.js";
import { stopWatches } from "../../../clusters/namespace-watch.js";
import { WORKLOAD_AFTER_SECONDS, WORKLOAD_BREACHED_EXIT, workloadLines, workloadVerdict } from "../../model/workload.js";
import type { OnCluster, Run } from "../run.js";

/**
 * What runs after the last phase, however the run ended (an outcome, an error): the memory peak, the load
 * stopped and recorded, the team's workload judged, then the teardown, newest first, unless the cluster is kept.
 * `onCluster`: what the cluster phase gave, when the run got that far.
 */
export async function afterRun(run: Run, onCluster: OnCluster | undefined): Promise<void> {
  const { journal, load } = run;
  if (run.memory) journal.peakMemoryMiB = await run.memory.stop().catch(() => undefined);
  clearInterval(run.loadTicker);
  if (load) {
    // A team's workload is judged "after" on its own, not by verification, which may end at once (a rollback that
    // is done when its step is): its users go on until that window has its seconds. Not after Ctrl-C.
    const ut = run.scenario.underTest;
    if (ut && !isStopping())
      await load
        .coverAfterRunbook(ut.config.name, WORKLOAD_AFTER_SECONDS)
        .catch((e: unknown) => run.evidence("load", `waiting for the workload's window after the runbook failed: ${String(e)}`));
    // The load stops with the run, kept cluster or not: a generator left running would be traffic nobody reads.
    await load.stopAll().catch((e: unknown) => run.evidence("load", `stopping the load failed: ${String(e)}`));
    journal.load = load.records();
    for (const r of journal.load)
      for (const slo of r.slos) run.evidence(`load ${r.name}: SLO ${slo.window}`, `${slo.ok ? "met" : "breached"} (${slo.objective}): ${slo.observed}`);
  }
  await judgeWorkload(run, onCluster?.ctx);
  await teardown(run, onCluster?.cluster);
}

/** The team's workload: its own verdict, from its users' traffic and its pods, kept apart from the runbook's. */
async function judgeWorkload(run: Run, runCtx: ScenarioContext | undefined): Promise<void> {
  const { journal, scenario } = run;
  const ut = scenario.underTest;
  if (!(ut && runCtx && journal.phases.some((p) => p.name === "inject"))) return;
  const pods = await ut.observer.after(runCtx).catch((e: unknown) => {
    run.evidence("workload", `reading the workload's pods failed: ${String(e)}`);
    return undefined;
  });
  if (!pods) return;
  const v = workloadVerdict(
    ut.config,
    journal.load?.find((l) => l.name === ut.config.name),
    run.load?.marks.runbookEndMs,
    pods,
  );
  journal.workload = v;
  run.evidence(`workload ${v.name}`, workloadLines(v).join("\n"));
  if (!v.held && v.failRunOnBreach && journal.outcome === "passed") {
    journal.exitCode = WORKLOAD_BREACHED_EXIT;
    journal.reason += `; workload ${v.name} breached its SLO (${v.slos
      .filter((x) => !x.ok)
      .map((x) => x.window)
      .join(", ")})`;
  }
}

/** 11. Teardown (always), unless asked to keep the cluster. */
async function teardown(run: Run, c: ManagedCluster | undefined): Promise<void> {
  if (!c) return;
  // Watches opened by workload probes hold connections open; they end with the run, kept cluster or not.
  try {
    await stopWatches(c.api);
  } catch {
    /* no API client was ever made */
  }
  if (run.opts.keep) {
    run.journal.kept = c.howToReach();
    return;
  }
  await run
    .phase("teardown", undefined, async (p) => {
      await run.teardown.unwind(
        (title, shows, fn) => run.step(p, title, shows || undefined, fn, (out) => out && run.evidence(title, out)),
        (title, e) => run.evidence("teardown", `${title} failed: ${(e as Error).message ?? String(e)}`),
      );
      if (p.steps.some((st) => !st.ok)) p.status = "failed";
    })
    .catch((e: unknown) => run.evidence("teardown", `teardown failed: ${String(e)}`));
}
