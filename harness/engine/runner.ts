import { AftershockError } from "../../clusters/errors.js";
import type { Scenario } from "../model/scenario.js";
import type { Capability, ClusterFactory } from "../../clusters/contract.js";
import type { RunJournal } from "./journal.js";
import { afterRun } from "./phases/after-run.js";
import { cluster, preflight, setup, steadyState, symptomsAbsent } from "./phases/before-fault.js";
import { inject, symptoms, verifyFails } from "./phases/fault.js";
import { conformance } from "./phases/conformance.js";
import { runbook, sentinels, verify } from "./phases/recovery.js";
import { ended, Run, type Ending, type OnCluster, type Phase, type RunOptions } from "./run.js";
import { registerTeardown } from "../../clusters/teardown.js";
import { withTestHooks } from "./test-hooks.js";

export { runNamespace, type RunOptions } from "./run.js";

/**
 * A run, in order: each phase records itself through Run.phase, is given what the one before it handed on, and
 * hands on what the next needs, or ends the run with an outcome (the last always does). Before the fault:
 * phases/before-fault.ts; from the fault to the runbook: phases/fault.ts; the runbook and after: phases/recovery.ts
 * (conformance, only with --conformance: phases/conformance.ts); teardown: phases/after-run.ts. Returns the outcome,
 * or undefined once Ctrl-C ended the run (interrupt). `reached` is what after-run needs however the run ended: the
 * cluster and the scenario's context, once the cluster phase gave them.
 */
async function runPhases(run: Run, reached: { onCluster?: OnCluster }): Promise<Ending | undefined> {
  const then = async <Given, Gives extends object>(phase: Phase<Given, Gives>, given: Given): Promise<Gives> => {
    // Ctrl-C ended the run while a phase ran (interrupt): no later phase starts.
    if (run.interrupted) throw new Stop(undefined);
    const r = await phase(run, given);
    if (ended(r)) throw new Stop(r);
    return r;
  };
  try {
    const onCluster = await then(cluster, undefined);
    reached.onCluster = onCluster;
    const checked = await then(preflight, onCluster);
    const setUp = await then(setup, checked);
    const steady = await then(steadyState, setUp);
    const healthy = await then(symptomsAbsent, steady);
    const injected = await then(inject, healthy);
    const seen = await then(symptoms, injected);
    const broken = await then(verifyFails, seen);
    const recovered = await then(runbook, broken);
    const verified = await then(verify, recovered);
    const whole = await then(conformance, verified);
    await then(sentinels, whole);
    throw new Error("run pipeline: the last phase gave no outcome");
  } catch (e) {
    if (e instanceof Stop) return e.ending;
    throw e;
  }
}

/** How runPhases leaves the pipeline early: an outcome, or none (interrupted). */
class Stop {
  constructor(readonly ending: Ending | undefined) {}
}

/**
 * Runs one scenario: cluster → setup (sentinels) → steady state → symptoms absent (self-check) → inject →
 * symptoms → verification fails on the broken cluster (self-check) → runbook → verify → [conformance] → sentinels →
 * teardown. Every phase and step is timed; the outcome says which part failed.
 */
export async function runScenario(asWritten: Scenario, opts: RunOptions): Promise<RunJournal> {
  // Test switches (test-hooks.ts) change the scenario here, once, and nowhere else in the run's path.
  const scenario = withTestHooks(asWritten);
  assertServes(opts.clusters, scenario);
  // The node image comes first and outside the timeline: a cold build takes minutes and is not cluster time.
  const prepared = await opts.clusters.prepare?.({
    kubernetesVersion: opts.kubernetesVersion,
    workloadImages: scenario.images,
    loadGenerator: scenario.load.length > 0,
    ...(opts.image ? { image: opts.image } : {}),
    ...(opts.conformance ? { conformance: true } : {}),
  });
  // Kubernetes' e2e.test is had with the node image, before the timeline; a target that cannot give one is refused.
  const runOpts = withE2eTest(opts, prepared?.e2eTest);
  const image = prepared && {
    ref: prepared.ref,
    built: prepared.built,
    ms: prepared.ms,
    ...(prepared.mode ? { mode: prepared.mode } : {}),
    ...(prepared.origins ? { origins: prepared.origins } : {}),
  };
  const run = new Run(scenario, runOpts, image);
  run.reporter.onRunBegin?.(run.journal);
  // Ctrl-C: the run's teardown items (registered later) run first, then the run ends as interrupted.
  const unregister = registerTeardown(`write the interrupted journal of ${scenario.id}`, () => run.interrupt());
  const reached: { onCluster?: OnCluster } = {};
  try {
    const end = await runPhases(run, reached);
    return end ? run.finish(end.outcome, end.reason) : run.journal;
  } catch (e) {
    return run.finish("errored", e instanceof Error ? e.message : String(e));
  } finally {
    // An interrupted run has ended already (interrupt): its teardown ran from the signal handler.
    if (!run.interrupted) await endRun(run, reached.onCluster).finally(unregister);
  }
}

/** After the last phase, however the run ended: the memory, the load, the workload's verdict, the teardown, the reporters. */
async function endRun(run: Run, onCluster: OnCluster | undefined): Promise<void> {
  await afterRun(run, onCluster);
  run.journal.endedAt = run.clock.now();
  run.journal.timings.totalMs = run.journal.endedAt - run.t0;
  await run.reporter.onRunEnd?.(run.journal);
}

/** The run's options with the e2e.test prepare() gave (--conformance); a target that gives none is refused. */
function withE2eTest(opts: RunOptions, e2eTest: string | undefined): RunOptions {
  if (!opts.conformance || opts.conformance.e2eTest) return opts;
  if (!e2eTest)
    throw new AftershockError("E_CAPABILITY", `--conformance: ${opts.clusters.target ?? "this target"} gives no e2e.test to run the conformance specs with`);
  return { ...opts, conformance: { ...opts.conformance, e2eTest } };
}

/** Refuses, before anything is created, a scenario whose needs the clusters cannot serve. */
export function assertServes(clusters: Pick<ClusterFactory, "capabilities" | "target" | "scopes">, s: Scenario): void {
  const why = unserved(clusters, s);
  if (why === "whole-cluster") {
    throw new AftershockError(
      "E_CAPABILITY",
      `scenario ${s.id} changes the whole cluster; ${clusters.target ?? "this target"} takes only namespace-scoped scenarios`,
    );
  }
  if (why) {
    throw new AftershockError("E_CAPABILITY", `scenario ${s.id} needs ${why.join(", ")}, which ${clusters.target ?? "this target"} does not offer`);
  }
}

/**
 * Why a target cannot run a scenario: "whole-cluster" when it offers only namespaces and the scenario changes the
 * whole cluster, else the capabilities it lacks; undefined when it can.
 */
export function unserved(clusters: Pick<ClusterFactory, "capabilities" | "scopes">, s: Scenario): "whole-cluster" | Capability[] | undefined {
  if (clusters.scopes && !clusters.scopes.includes(s.scope)) return "whole-cluster";
  const missing = s.needs.filter((c) => !clusters.capabilities.includes(c));
  return missing.length ? missing : undefined;
}
