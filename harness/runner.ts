import { randomBytes } from "node:crypto";
import { AftershockError, formatDuration } from "../clusters/errors.js";
import { registerTeardown } from "../clusters/teardown.js";
import { observe, waitFor, type Observation, type Probe } from "./probes.js";
import type { ReporterHooks } from "./reporters/reporter.js";
import { healthProbes, type RunbookStep, type Scenario } from "./scenario.js";
import type { Clock, ClusterFactory, Evidence, ManagedCluster, ScenarioContext } from "./types.js";

export type Outcome = "passed" | "fault-not-reproduced" | "not-recovered" | "data-lost" | "aborted" | "inconclusive" | "errored" | "interrupted";

export const EXIT_CODES: Record<Outcome, number> = {
  passed: 0,
  errored: 1,
  "fault-not-reproduced": 3,
  "not-recovered": 4,
  "data-lost": 5,
  aborted: 6,
  inconclusive: 7,
  interrupted: 130,
};

/**
 * The phases of a run, in order. Two of them are the run's checks on its own probes: `symptoms-absent`
 * (before the fault, every symptom probe must be unmet, or it cannot prove the fault happened) and
 * `verify-fails` (on the broken cluster, before the runbook, at least one verification probe must be unmet,
 * or verification cannot prove recovery). Either failing makes the run inconclusive.
 */
export type PhaseName =
  | "cluster" | "setup" | "steady-state" | "symptoms-absent" | "inject" | "symptoms" | "verify-fails" | "runbook" | "verify" | "teardown";

/** A run of a scenario changed on purpose: what was changed, and the outcome that proves the point. */
export interface VariantTag {
  name: string;
  expected: Outcome;
}

export interface StepRecord {
  title: string;
  shows?: string;
  startedAt: number;
  endedAt: number;
  ok: boolean;
  output?: string;
  error?: string;
}

export interface ProbeRecord {
  name: string;
  expectation: string;
  kind?: string;
  ok: boolean;
  observed: string;
  /** When it first held (ms since run start), for symptoms and verify. */
  firstOkAtMs?: number;
  /**
   * In the two self-check phases: whether the probe's own expectation held. There `ok` means the check is
   * satisfied for this probe (the probe was unmet), so `held` keeps what the probe itself answered.
   */
  held?: boolean;
}

export interface PhaseRecord {
  name: PhaseName;
  startedAt: number;
  endedAt: number;
  status: "passed" | "failed" | "skipped";
  budgetMs?: number;
  steps: StepRecord[];
  probes: ProbeRecord[];
  error?: string;
}

export interface RunJournal {
  runId: string;
  scenario: { id: string; title: string; summary: string; source: { incident: string; section: string }; tags: string[] };
  cluster?: { name: string; kubernetesVersion: string; nodes: string[]; createMs?: number };
  startedAt: number;
  endedAt: number;
  outcome: Outcome;
  exitCode: number;
  reason: string;
  phases: PhaseRecord[];
  evidence: Evidence[];
  timings: {
    totalMs: number;
    clusterCreateMs?: number;
    /** Fault injected → first expected symptom observed. */
    timeToDetectMs?: number;
    /** Fault injected → every expected symptom observed. */
    timeToConfirmMs?: number;
    /** Runbook start → verification passed. */
    timeToRecoverMs?: number;
  };
  kept?: string;
  /** Highest total memory of the cluster's containers while the run had a cluster (docker stats), MiB. */
  peakMemoryMiB?: number;
  /** What the runbook lost by design (written after the last backup), by name and count. */
  recoveryPoint?: string[];
  /** A variant of the scenario (pnpm suite --prove), and the outcome it is expected to end with. */
  variant?: VariantTag;
  /** The node image, found or built before the run's timeline starts (a cold build is not cluster-create time). */
  image?: { ref: string; built: boolean; ms: number };
}

export interface RunOptions {
  clusters: ClusterFactory;
  kubernetesVersion: string;
  image?: string;
  clock: Clock;
  reporter?: ReporterHooks;
  /** Leave the cluster running afterwards and say how to reach it. */
  keep?: boolean;
  /** Game day: stop after the symptoms, let a person run the recovery, then verify when they say so. */
  manualRecovery?: (ctx: ScenarioContext) => Promise<void>;
  runId?: string;
  /** Set by pnpm suite --prove: this run is a variant expected to end with `expected`. */
  variant?: VariantTag;
}

/**
 * Runs one scenario: cluster → setup (sentinels) → steady state → symptoms absent (self-check) → inject →
 * symptoms → verification fails on the broken cluster (self-check) → runbook → verify → teardown. Every
 * phase and step is timed; the outcome says which part failed.
 */
export async function runScenario(scenario: Scenario, opts: RunOptions): Promise<RunJournal> {
  const { clock } = opts;
  const reporter = opts.reporter ?? {};
  const runId = opts.runId ?? randomBytes(4).toString("hex");
  // The node image comes first and outside the timeline: a cold build takes minutes and is not cluster time.
  const image = await opts.clusters.prepare?.({ kubernetesVersion: opts.kubernetesVersion, ...(opts.image ? { image: opts.image } : {}) });
  const t0 = clock.now();
  const journal: RunJournal = {
    runId,
    scenario: { id: scenario.id, title: scenario.title, summary: scenario.summary, source: scenario.source, tags: scenario.tags },
    startedAt: t0, endedAt: t0, outcome: "errored", exitCode: 1, reason: "", phases: [], evidence: [], timings: { totalMs: 0 },
    ...(opts.variant ? { variant: opts.variant } : {}),
    ...(image ? { image } : {}),
  };
  const found: Record<string, string> = {};
  let cluster: ManagedCluster | undefined;
  const evidence = (source: string, text: string) => {
    const e = { at: clock.now() - t0, source, text };
    journal.evidence.push(e);
    reporter.onEvidence?.(e, journal);
  };

  async function phase<T>(name: PhaseName, budgetMs: number | undefined, fn: (p: PhaseRecord) => Promise<T>): Promise<T> {
    const p: PhaseRecord = { name, startedAt: clock.now() - t0, endedAt: 0, status: "passed", steps: [], probes: [], ...(budgetMs ? { budgetMs } : {}) };
    journal.phases.push(p);
    reporter.onPhaseBegin?.(p, journal);
    try {
      const r = await fn(p);
      return r;
    } catch (e) {
      p.status = "failed";
      p.error = e instanceof Error ? e.message : String(e);
      throw e;
    } finally {
      p.endedAt = clock.now() - t0;
      reporter.onPhaseEnd?.(p, journal);
    }
  }

  const finish = (outcome: Outcome, reason: string): RunJournal => {
    journal.outcome = outcome;
    journal.exitCode = EXIT_CODES[outcome];
    journal.reason = reason;
    return journal;
  };

  reporter.onRunBegin?.(journal);
  let unregister = () => {};
  let rollback: { step: RunbookStep; run: () => Promise<string | void> } | undefined;
  let unregisterRollback = () => {};
  let memory: { stop(): Promise<number> } | undefined;
  try {
    // 1. Cluster.
    cluster = await phase("cluster", undefined, async () => {
      const c = await opts.clusters.create({ ...scenario.cluster, kubernetesVersion: opts.kubernetesVersion, runId, keep: !!opts.keep, ...(opts.image ? { image: opts.image } : {}) });
      return c;
    });
    const created = cluster;
    memory = cluster.sampleMemory?.();
    unregister = opts.keep ? () => {} : registerTeardown(`scenario ${scenario.id}: delete cluster ${created.name}`, () => created.delete());
    journal.cluster = { name: cluster.name, kubernetesVersion: cluster.kubernetesVersion, nodes: cluster.nodes.map((n) => n.name), createMs: cluster.timings.totalMs };
    journal.timings.clusterCreateMs = journal.phases[0]!.endedAt - journal.phases[0]!.startedAt;
    const ctx: ScenarioContext = { cluster, clock, found, evidence };

    // 2. Setup: sentinels.
    await phase("setup", undefined, async (p) => {
      for (const s of scenario.setup) await timedStep(p, s.title, undefined, () => s.write(ctx).then(() => undefined));
    });
    const sentinelProbes = scenario.setup.flatMap((s) => s.probes());

    // 3. Steady state: all must hold now (with a short grace), or the scenario is aborted, not failed.
    const steadySince = Date.now();
    try {
      await phase("steady-state", scenario.steadyStateBudgetMs, async (p) => {
        for (const probe of [...scenario.steadyState, ...sentinelProbes]) {
          const o = await waitFor(probe, ctx, scenario.steadyStateBudgetMs).catch((e: unknown) => ({ ok: false, observed: (e as Error).message }));
          p.probes.push(record(probe, o));
          if (!o.ok) throw new AftershockError("E_CLUSTER", `steady state not met before the fault: ${probe.name}: ${o.observed}`);
        }
      });
    } catch (e) {
      return finish("aborted", (e as Error).message);
    }

    // 4. Self-check: every symptom must be absent from the healthy cluster, asked exactly as it will be asked
    // after the fault (log and journal probes over lines since the steady-state check began).
    ctx.logsSince = steadySince;
    const present = await selfCheck("symptoms-absent", ctx, scenario.symptoms.expect, (held) => held.length === 0,
      (held) => `symptom probes already hold before the fault, so they cannot prove it happened: ${held.map((r) => `${r.name} (${r.observed})`).join("; ")}`);
    if (present) return finish("inconclusive", present);

    // 5. Inject. From here on the fault's rollback (if it has one) is owed, even if inject fails half-way.
    ctx.logsSince = Date.now();
    const fault = scenario.fault;
    if (fault.rollback && !opts.keep) {
      const rb = fault.rollback;
      rollback = { step: rb, run: () => withBudget(rb.run(ctx), rb.budgetMs, rb.title, clock) };
      unregisterRollback = registerTeardown(`scenario ${scenario.id}: ${rb.title}`, async () => { await rollback?.run(); });
    }
    await phase("inject", undefined, async (p) => {
      await timedStep(p, scenario.fault.title, scenario.fault.plan.join("\n"), async () => { await scenario.fault.inject(ctx); return undefined; });
    });
    const injectedAt = clock.now() - t0;

    // 6. Symptoms: every signature (and what the incident says still works) must be seen within the budget;
    // each is latched when first seen.
    const signatures = new Set(scenario.symptoms.expect.map((x) => x.name));
    const symptomsOk = await phase("symptoms", scenario.symptomsBudgetMs, async (p) => {
      const pending = new Set([...scenario.symptoms.expect, ...(scenario.symptoms.stillWorks ?? [])]);
      const last = new Map<Probe, Observation>();
      const deadline = clock.now() + scenario.symptomsBudgetMs;
      for (;;) {
        for (const probe of [...pending]) {
          const o = await observe(probe, ctx);
          last.set(probe, o);
          if (o.ok) {
            pending.delete(probe);
            const rec = { ...record(probe, o), firstOkAtMs: clock.now() - t0 };
            p.probes.push(rec);
            evidence(`${signatures.has(probe.name) ? "symptom" : "still works"}: ${probe.name}`, o.observed);
            reporter.onProbe?.(rec, p, journal);
          }
        }
        if (!pending.size || clock.now() >= deadline) break;
        await clock.sleep(Math.min(2000, Math.max(0, deadline - clock.now())));
      }
      for (const probe of pending) p.probes.push(record(probe, last.get(probe) ?? { ok: false, observed: "never checked" }));
      if (pending.size) {
        p.status = "failed";
        p.error = `not observed within ${formatDuration(scenario.symptomsBudgetMs)}: ${[...pending].map((x) => `${x.name} (last seen: ${last.get(x)?.observed ?? "-"})`).join("; ")}`;
        return false;
      }
      const firsts = p.probes.filter((r) => signatures.has(r.name)).map((r) => r.firstOkAtMs!).filter((x) => x !== undefined);
      journal.timings.timeToDetectMs = Math.min(...firsts) - injectedAt;
      journal.timings.timeToConfirmMs = Math.max(...firsts) - injectedAt;
      return true;
    });
    if (!symptomsOk) {
      const p = journal.phases.at(-1)!;
      return finish("fault-not-reproduced", `the fault did not produce the incident's symptoms: ${p.error}`);
    }

    // 7. Self-check: on the broken cluster, at least one verification probe must be unmet, or passing
    // verification later would prove nothing. Before the runbook, and before a game-day hand-over.
    const health = healthProbes(scenario);
    const blindVerify = await selfCheck("verify-fails", ctx, health, (held) => held.length < health.length,
      (held) => `every verification probe holds on the broken cluster, so verification cannot prove recovery: ${held.map((r) => `${r.name} (${r.observed})`).join("; ")}`);
    if (blindVerify) return finish("inconclusive", blindVerify);

    // 8. Runbook (or a person, on a game day).
    const runbookStart = clock.now() - t0;
    let runbookError: string | undefined;
    try {
      await phase("runbook", undefined, async (p) => {
        if (opts.manualRecovery) {
          await timedStep(p, "manual recovery (game day)", scenario.runbook.map((s) => s.shows).join("\n"), async () => { await opts.manualRecovery!(ctx); return undefined; });
          return;
        }
        for (const s of scenario.runbook) {
          await timedStep(p, s.title, s.shows, () => withBudget(s.run(ctx), s.budgetMs, s.title, clock), (out) => out && evidence(`runbook: ${s.title}`, out));
        }
      });
    } catch (e) {
      runbookError = (e as Error).message;
    }

    // 9. Verify: health probes and sentinels, within the budget.
    const verified = await phase("verify", scenario.verifyBudgetMs, async (p) => {
      const all = [...scenario.verify.expect, ...sentinelProbes];
      const deadline = clock.now() + scenario.verifyBudgetMs;
      const results = new Map<Probe, ProbeRecord>();
      for (const probe of all) {
        const remaining = Math.max(1000, deadline - clock.now());
        // Data written after the recovery point is expected to be gone: look once instead of waiting for it.
        const o = probe.kind === "recovery-point"
          ? await observe(probe, ctx)
          : await waitFor(probe, ctx, remaining).catch((e: unknown) => ({ ok: false, observed: (e as Error).message }));
        const rec = { ...record(probe, o), ...(o.ok ? { firstOkAtMs: clock.now() - t0 } : {}) };
        results.set(probe, rec);
        p.probes.push(rec);
        reporter.onProbe?.(rec, p, journal);
      }
      const failed = [...results.values()].filter((r) => !r.ok);
      if (failed.length) {
        p.status = "failed";
        p.error = failed.map((f) => `${f.name}: ${f.observed}`).join("; ");
      }
      for (const r of results.values()) if (r.kind === "recovery-point") journal.recoveryPoint = [...(journal.recoveryPoint ?? []), `${r.name}: ${r.observed}`];
      if (failed.every((f) => f.kind === "recovery-point")) { p.status = "passed"; delete p.error; }
      return {
        failedHealth: failed.filter((f) => f.kind !== "sentinel" && f.kind !== "recovery-point"),
        failedSentinels: failed.filter((f) => f.kind === "sentinel"),
      };
    });
    if (runbookError || verified.failedHealth.length) {
      return finish("not-recovered", [runbookError && `runbook failed: ${runbookError}`, verified.failedHealth.length && `not healthy: ${verified.failedHealth.map((f) => `${f.name} (${f.observed})`).join("; ")}`].filter(Boolean).join("; "));
    }
    journal.timings.timeToRecoverMs = clock.now() - t0 - runbookStart;
    if (verified.failedSentinels.length) {
      return finish("data-lost", `the cluster recovered but data written before the fault is gone: ${verified.failedSentinels.map((f) => f.observed).join("; ")}`);
    }
    const rpo = journal.recoveryPoint?.length ? `; lost by design (after the recovery point): ${journal.recoveryPoint.join("; ")}` : "";
    return finish("passed", `symptoms reproduced in ${formatDuration(journal.timings.timeToDetectMs ?? 0)}, recovered in ${formatDuration(journal.timings.timeToRecoverMs)}${rpo}`);
  } catch (e) {
    return finish("errored", e instanceof Error ? e.message : String(e));
  } finally {
    if (memory) journal.peakMemoryMiB = await memory.stop().catch(() => undefined);
    // 10. Teardown (always), unless asked to keep the cluster.
    if (cluster) {
      const c = cluster;
      if (opts.keep) {
        journal.kept = c.howToReach();
      } else {
        await phase("teardown", undefined, async (p) => {
          if (rollback) {
            const rb = rollback;
            unregisterRollback();
            // Best effort: a rollback that fails is reported, and the cluster is deleted all the same.
            await timedStep(p, `rollback: ${rb.step.title}`, rb.step.shows, rb.run, (out) => out && evidence(`rollback: ${rb.step.title}`, out))
              .catch((e: unknown) => evidence("teardown", `rollback failed: ${(e as Error).message}`));
          }
          unregister();
          await c.delete();
        }).catch((e: unknown) => evidence("teardown", `cluster deletion failed: ${String(e)}`));
      }
    }
    journal.endedAt = clock.now();
    journal.timings.totalMs = journal.endedAt - t0;
    reporter.onRunEnd?.(journal);
  }

  /**
   * One of the run's checks on its own probes: each probe asked once, all at once; `ok(held)` decides from the probes that
   * held whether the check passed. Returns the reason when it did not (the run is then inconclusive).
   */
  async function selfCheck(name: "symptoms-absent" | "verify-fails", ctx: ScenarioContext, probes: Probe[], ok: (held: ProbeRecord[]) => boolean, why: (held: ProbeRecord[]) => string): Promise<string | undefined> {
    return phase(name, undefined, async (p) => {
      // Asked together: on a broken cluster each API probe may take its whole timeout to fail.
      const seen = await Promise.all(probes.map((probe) => observe(probe, ctx)));
      probes.forEach((probe, i) => {
        const rec: ProbeRecord = { ...record(probe, seen[i]!), ok: !seen[i]!.ok, held: seen[i]!.ok };
        p.probes.push(rec);
        reporter.onProbe?.(rec, p, journal);
      });
      const held = p.probes.filter((r) => r.held);
      if (ok(held)) return undefined;
      p.status = "failed";
      p.error = why(held);
      return p.error;
    });
  }

  async function timedStep(p: PhaseRecord, title: string, shows: string | undefined, fn: () => Promise<string | void | undefined>, onOutput?: (out: string) => void): Promise<void> {
    const s: StepRecord = { title, ...(shows ? { shows } : {}), startedAt: clock.now() - t0, endedAt: 0, ok: false };
    p.steps.push(s);
    reporter.onStepBegin?.(s, p, journal);
    try {
      const out = await fn();
      s.ok = true;
      if (typeof out === "string" && out) {
        s.output = out;
        onOutput?.(out);
      }
    } catch (e) {
      s.error = e instanceof Error ? e.message : String(e);
      throw e;
    } finally {
      s.endedAt = clock.now() - t0;
      reporter.onStepEnd?.(s, p, journal);
    }
  }
}

function record(probe: Probe, o: Observation): ProbeRecord {
  return { name: probe.name, expectation: probe.expectation, ...(probe.kind ? { kind: probe.kind } : {}), ok: o.ok, observed: o.observed };
}

async function withBudget<T>(p: Promise<T>, budgetMs: number, title: string, clock: Clock): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const started = clock.now();
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new AftershockError("E_TIMEOUT", `step "${title}" did not finish within ${formatDuration(budgetMs)} (ran ${formatDuration(clock.now() - started)})`)), budgetMs);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
