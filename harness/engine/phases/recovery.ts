import { formatDuration } from "../../../clusters/errors.js";
import { observe, observeWithin, type Probe } from "../../model/probe.js";
import type { ProbeRecord } from "../journal.js";
import { classifyVerify } from "../run-checks.js";
import { record, withBudget, type Injected, type Phase, type RunbookDone, type Verified } from "../run.js";

/** The phases after the fault: the runbook (or a person), verification, and whether the sentinels' data survived. */

/** 8. Runbook (or a person, on a game day). A failing step ends it; verification runs all the same. Gives: its start and its error. */
export const runbook: Phase<Injected, RunbookDone> = async (run, given) => {
  const { scenario, opts, clock } = run;
  const { ctx, deadmen } = given;
  const runbookStart = run.now();
  let runbookError: string | undefined;
  try {
    await run.phase("runbook", undefined, async (p) => {
      if (opts.manualRecovery) {
        const person = { gaveUp: false };
        await run.step(p, "manual recovery (game day)", scenario.runbook.map((s) => s.shows).join("\n"), async () => {
          const shell = given.cluster.shell;
          person.gaveUp = (await opts.manualRecovery!(ctx, shell ? { shell } : {})) === "runbook";
          return person.gaveUp ? "gave up: the scenario's runbook runs instead" : undefined;
        });
        if (!person.gaveUp) return;
      }
      for (const s of scenario.runbook) {
        await run.step(
          p,
          s.title,
          s.shows,
          () => withBudget(s.run(ctx), s.budgetMs, s.title, clock),
          (out) => out && run.evidence(`runbook: ${s.title}`, out),
        );
      }
    });
  } catch (e) {
    runbookError = (e as Error).message;
  }
  // The runbook repaired what the fault broke: the node's deadman has nothing left to undo.
  if (!runbookError)
    for (const d of deadmen.splice(0))
      await d.disarm().then(
        () => run.evidence("deadman", `disarmed after the runbook: ${d.line}`),
        (e: unknown) => run.evidence("deadman", `disarming failed (it stays armed): ${String(e)}`),
      );
  run.load?.mark("runbookEndMs");
  return { cluster: given.cluster, ctx, sentinelProbes: given.sentinelProbes, runbookStart, runbookError };
};

/** 9. Verify: health probes and sentinels, within the budget. Unhealthy (or a failed runbook) is not-recovered. Gives: the verdict. */
export const verify: Phase<RunbookDone, Verified> = async (run, given) => {
  const { scenario, clock, journal, reporter } = run;
  const { ctx, sentinelProbes, runbookError } = given;
  const verified = await run.phase("verify", scenario.verifyBudgetMs, async (p) => {
    const all = [...scenario.verify.expect, ...sentinelProbes];
    const deadline = clock.now() + scenario.verifyBudgetMs;
    const results = new Map<Probe, ProbeRecord>();
    for (const probe of all) {
      const remaining = Math.max(1000, deadline - clock.now());
      // Data written after the recovery point is expected to be gone: look once instead of waiting for it.
      const o = probe.kind === "recovery-point" ? await observe(probe, ctx) : await observeWithin(probe, ctx, remaining);
      const rec = { ...record(probe, o), ...(o.ok ? { firstOkAtMs: run.now() } : {}) };
      results.set(probe, rec);
      p.probes.push(rec);
      reporter.onProbe?.(rec, p, journal);
    }
    const verdict = classifyVerify([...results.values()]);
    if (verdict.failed.length) {
      p.status = "failed";
      p.error = verdict.failed.map((f) => `${f.name}: ${f.observed}`).join("; ");
    }
    if (verdict.recoveryPoint.length) journal.recoveryPoint = verdict.recoveryPoint;
    return verdict;
  });
  if (runbookError || verified.failedHealth.length) {
    return {
      outcome: "not-recovered",
      reason: [
        runbookError && `runbook failed: ${runbookError}`,
        verified.failedHealth.length && `not healthy: ${verified.failedHealth.map((f) => `${f.name} (${f.observed})`).join("; ")}`,
      ]
        .filter(Boolean)
        .join("; "),
    };
  }
  journal.timings.timeToRecoverMs = run.now() - given.runbookStart;
  return { cluster: given.cluster, ctx, verified };
};

/** 10. Sentinels: the cluster recovered; did the data written before the fault survive? Always ends the run. */
export const sentinels: Phase<Verified, never> = async (run, given) => {
  const { journal } = run;
  const { verified } = given;
  if (verified.failedSentinels.length) {
    return {
      outcome: "data-lost",
      reason: `the cluster recovered but data written before the fault is gone: ${verified.failedSentinels.map((f) => f.observed).join("; ")}`,
    };
  }
  const rpo = journal.recoveryPoint?.length ? `; lost by design (after the recovery point): ${journal.recoveryPoint.join("; ")}` : "";
  return {
    outcome: "passed",
    reason: `symptoms reproduced in ${formatDuration(journal.timings.timeToDetectMs ?? 0)}, recovered in ${formatDuration(journal.timings.timeToRecoverMs!)}${rpo}`,
  };
};
