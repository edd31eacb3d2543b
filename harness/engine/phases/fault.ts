import { formatDuration } from "../../../clusters/errors.js";
import { healthProbes } from "../../kit/scenario.js";
import { latch } from "../run-checks.js";
import { record, withBudget, type Phase } from "../run.js";

/**
 * What happens between the fault and the runbook: the fault goes in (its rollback owed from then on), the
 * incident's symptoms must show within their budget, and verification must fail on the broken cluster.
 */

/**
 * 5. Inject. From here on the fault's rollback (if it has one) is owed, even if inject fails half-way. Gives: when
 * the fault began to act, which is when injection starts: users can see errors while a long injection is still
 * running (etcd-port-conflict's takes about 8 s), so the clock of time to detect starts here, not when it ends.
 */
export const inject: Phase = async (run) => {
  const { scenario, opts, clock } = run;
  const ctx = run.need("ctx");
  ctx.logsSince = Date.now();
  run.load?.mark("injectMs");
  const fault = scenario.fault;
  if (fault.rollback && !opts.keep) {
    const rb = fault.rollback;
    run.teardown.push(`rollback: ${rb.title}`, rb.shows, () => withBudget(rb.run(ctx), rb.budgetMs, rb.title, clock));
  }
  run.handed.injectedAt = run.now();
  await run.phase("inject", undefined, async (p) => {
    await run.step(p, scenario.fault.title, scenario.fault.plan.join("\n"), async () => {
      await scenario.fault.inject(ctx);
      return undefined;
    });
  });
  return undefined;
};

/**
 * 6. Symptoms: every signature (and what the incident says still works) must be seen within the budget;
 * each is latched when first seen. Gives: the times to detect and to confirm, in the journal.
 */
export const symptoms: Phase = async (run) => {
  const { scenario, journal, reporter } = run;
  const ctx = run.need("ctx");
  const injectedAt = run.need("injectedAt");
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
  if (symptomsOk) return undefined;
  const p = journal.phases.at(-1)!;
  return { outcome: "fault-not-reproduced", reason: `the fault did not produce the incident's symptoms: ${p.error}` };
};

/**
 * 7. Self-check: on the broken cluster, at least one verification probe must be unmet, or passing
 * verification later would prove nothing. Before the runbook, and before a game-day hand-over.
 */
export const verifyFails: Phase = async (run) => {
  const ctx = run.need("ctx");
  const health = healthProbes(run.scenario);
  const blindVerify = await run.selfCheck(
    "verify-fails",
    ctx,
    health,
    (held) => held.length < health.length,
    (held) =>
      `every verification probe holds on the broken cluster, so verification cannot prove recovery: ${held.map((r) => `${r.name} (${r.observed})`).join("; ")}`,
  );
  return blindVerify ? { outcome: "inconclusive", reason: blindVerify } : undefined;
};
