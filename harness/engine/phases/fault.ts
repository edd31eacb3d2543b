import type { RunGuard } from "../../../clusters/contract.js";
import { formatDuration } from "../../../clusters/errors.js";
import { deadmanSeconds } from "../../../clusters/ssh/deadman.js";
import type { Scenario } from "../../model/scenario.js";
import { healthProbes } from "../../model/scenario.js";
import { latch } from "../run-checks.js";
import type { PhaseRecord } from "../journal.js";
import type { ScenarioContext } from "../../model/context.js";
import { record, withBudget, type Deadman, type Injected, type Phase, type Run, type SetUp } from "../run.js";

/**
 * What happens between the fault and the runbook: the fault goes in (its rollback owed from then on), the
 * incident's symptoms must show within their budget, and verification must fail on the broken cluster.
 */

/**
 * 5. Inject. From here on the fault's rollback (if it has one) is owed, even if inject fails half-way. Gives: when
 * the fault began to act, which is when injection starts: users can see errors while a long injection is still
 * running (etcd-port-conflict's takes about 8 s), so the clock of time to detect starts here, not when it ends.
 */
export const inject: Phase<SetUp, Injected> = async (run, given) => {
  const { scenario, opts, clock } = run;
  const { ctx } = given;
  const fault = scenario.fault;
  const guard = given.cluster.guard;
  const deadmen: Deadman[] = [];
  const injectedAt = await run.phase("inject", undefined, async (p) => {
    // Guarded (a cluster this tool did not create): a snapshot before a control-plane fault, a deadman before a node's
    // fault. Both come before the fault's clock starts: the snapshot's seconds are not time to detect.
    const guarded = guard ? await guardFault(run, guard, ctx, deadmen, p) : undefined;
    run.countLogsFrom(clock.now());
    run.load?.mark("injectMs");
    if (fault.rollback && !opts.keep) {
      const rb = fault.rollback;
      run.teardown.push(`rollback: ${rb.title}`, rb.shows, async () => {
        const out = await withBudget(rb.run(ctx), rb.budgetMs, rb.title, clock);
        if (guarded) guarded.rolledBack = true;
        return out;
      });
    }
    const at = run.now();
    await run.step(p, scenario.fault.title, scenario.fault.plan.join("\n"), async () => {
      await scenario.fault.inject(ctx);
      return undefined;
    });
    return at;
  });
  return { ...given, injectedAt, deadmen };
};

/** A control-plane fault: the scenario's tags say so (its fault stops or removes what etcd and the API server run on). */
export const controlPlaneFault = (s: Pick<Scenario, "tags">) => s.tags.includes("control-plane") || s.tags.includes("etcd");

/**
 * Before the fault, on a cluster with a guard: an etcd snapshot for a control-plane fault (its path in the evidence),
 * and the fault's deadman armed on its node, with a teardown item that disarms it after the rollback succeeded (pushed
 * before the rollback's, so it runs after it). A rollback that fails leaves the deadman armed: the node undoes the fault.
 * The deadman goes to `deadmen`, for the runbook to disarm once it succeeded.
 */
async function guardFault(run: Run, guard: RunGuard, ctx: ScenarioContext, deadmen: Deadman[], p: PhaseRecord): Promise<{ rolledBack: boolean }> {
  const { scenario } = run;
  const state = { rolledBack: !scenario.fault.rollback };
  if (controlPlaneFault(scenario))
    await run.step(
      p,
      "etcd snapshot before a control-plane fault",
      `crictl exec <etcd container> etcdctl snapshot save /var/lib/etcd/aftershock-${run.runId}.db.part && mv it to /var/lib/aftershock/snapshots/${run.runId}.db`,
      async () => {
        const line = await guard.snapshotEtcd();
        run.evidence("etcd snapshot", line);
        return line;
      },
    );
  const dm = scenario.fault.deadman;
  if (!dm) return state;
  const node = dm.node(ctx);
  const seconds =
    dm.seconds ??
    deadmanSeconds({
      symptomsMs: scenario.symptomsBudgetMs,
      runbookMs: scenario.runbook.map((s) => s.budgetMs),
      verifyMs: scenario.verifyBudgetMs,
    });
  await run.step(
    p,
    `arm a deadman on ${node}`,
    `systemd-run --on-active=${seconds}s --unit=aftershock-deadman-${run.runId}-fault /bin/sh <the fault's undo>`,
    async () => {
      const d = await guard.armDeadman({ node, tag: "fault", undo: dm.undo, seconds });
      deadmen.push(d);
      run.evidence("deadman", d.line);
      if (!run.opts.keep)
        run.teardown.push(`disarm the deadman on ${node} (once the rollback ran)`, "", async () => {
          if (!state.rolledBack) return "left armed: the rollback did not run to the end, so the node's timer undoes the fault";
          await d.disarm();
          return undefined;
        });
      return d.line;
    },
  );
  return state;
}

/**
 * 6. Symptoms: every signature (and what the incident says still works) must be seen within the budget;
 * each is latched when first seen. Gives: the times to detect and to confirm, in the journal.
 */
export const symptoms: Phase<Injected, Injected> = async (run, given) => {
  const { scenario, journal, reporter } = run;
  const { ctx, injectedAt } = given;
  const signatures = new Set(scenario.symptoms.expect.map((x) => x.name));
  const symptomsOk = await run.phase("symptoms", scenario.symptomsBudgetMs, async (p) => {
    const { pending, last } = await latch(
      [...scenario.symptoms.expect, ...(scenario.symptoms.stillWorks ?? [])],
      ctx,
      scenario.symptomsBudgetMs,
      (probe, o) => {
        const rec = { ...record(probe, o), firstOkAtMs: run.now() };
        p.probes.push(rec);
        run.evidence(`${signatures.has(probe.name) ? "symptom" : "still works"}: ${probe.name}`, o.observed);
        reporter.onProbe?.(rec, p, journal);
      },
    );
    for (const probe of pending) p.probes.push(record(probe, last.get(probe) ?? { ok: false, observed: "never checked" }));
    if (pending.length) {
      p.status = "failed";
      p.error = `not observed within ${formatDuration(scenario.symptomsBudgetMs)}: ${[...pending].map((x) => `${x.name} (last seen: ${last.get(x)?.observed ?? "-"})`).join("; ")}`;
      return false;
    }
    const firsts = p.probes
      .filter((r) => signatures.has(r.name))
      .map((r) => r.firstOkAtMs!)
      .filter((x) => x !== undefined);
    journal.timings.faultStartedAtMs = injectedAt;
    journal.timings.firstSymptomAtMs = Math.min(...firsts);
    journal.timings.timeToDetectMs = Math.min(...firsts) - injectedAt;
    journal.timings.timeToConfirmMs = Math.max(...firsts) - injectedAt;
    return true;
  });
  if (symptomsOk) return given;
  const p = journal.phases.at(-1)!;
  return { outcome: "fault-not-reproduced", reason: `the fault did not produce the incident's symptoms: ${p.error}` };
};

/**
 * 7. Self-check: on the broken cluster, at least one verification probe must be unmet, or passing
 * verification later would prove nothing. Before the runbook, and before a game-day hand-over.
 */
export const verifyFails: Phase<Injected, Injected> = async (run, given) => {
  const { ctx } = given;
  const health = healthProbes(run.scenario);
  const blindVerify = await run.selfCheck(
    "verify-fails",
    ctx,
    health,
    (held) => held.length < health.length,
    (held) =>
      `every verification probe holds on the broken cluster, so verification cannot prove recovery: ${held.map((r) => `${r.name} (${r.observed})`).join("; ")}`,
  );
  return blindVerify ? { outcome: "inconclusive", reason: blindVerify } : given;
};
