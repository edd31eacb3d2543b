import { randomBytes } from "node:crypto";
import { AftershockError, formatDuration } from "../../clusters/errors.js";
import { restrictTo } from "../../clusters/contract.js";
import { stopWatches } from "../kit/workloads/namespace-watch.js";
import { createRunNamespace, deleteRunNamespace } from "../kit/workloads/workloads.js";
import { SENTINEL_NAMESPACE } from "../kit/sentinels.js";
import { WORKLOAD_BREACHED_EXIT, workloadLines, workloadVerdict } from "../kit/workloads/team-workload.js";
import { observe, waitFor, type Observation, type Probe } from "../kit/probes.js";
import { classifyVerify, latch } from "./run-checks.js";
import { describeLoadTarget, LoadMonitor } from "../kit/load/load.js";
import { RunTeardown } from "./run-teardown.js";
import type { ReporterHooks } from "./reporter.js";
import { healthProbes, type RunbookStep, type Scenario } from "../kit/scenario.js";
import type { Capability, Clock, ClusterFactory, ManagedCluster, ScenarioContext } from "../kit/types.js";
import { EXIT_CODES, type Outcome, type PhaseName, type PhaseRecord, type ProbeRecord, type RunJournal, type StepRecord, type VariantTag } from "./journal.js";

export interface RunOptions {
  clusters: ClusterFactory;
  kubernetesVersion: string;
  image?: string;
  clock: Clock;
  reporter?: ReporterHooks;
  /** Leave the cluster running afterwards and say how to reach it. */
  keep?: boolean;
  /**
   * Game day: stop after the symptoms, let a person run the recovery, then verify when they say so. Resolving
   * "runbook" means the person gave up: the scenario's own runbook then runs, as it does without a person.
   */
  manualRecovery?: (ctx: ScenarioContext) => Promise<void | "runbook">;
  runId?: string;
  /**
   * The run's namespace (namespace-scoped scenarios) instead of as-<run>-<scenario>: a game day must not name the
   * scenario, so its namespace is labelled without it too.
   */
  namespace?: string;
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
  assertServes(opts.clusters, scenario);
  // The node image comes first and outside the timeline: a cold build takes minutes and is not cluster time.
  const image = await opts.clusters.prepare?.({
    kubernetesVersion: opts.kubernetesVersion,
    workloadImages: scenario.images,
    loadGenerator: scenario.load.length > 0,
    ...(opts.image ? { image: opts.image } : {}),
  });
  const t0 = clock.now();
  const journal: RunJournal = {
    runId,
    scenario: { id: scenario.id, title: scenario.title, summary: scenario.summary, source: scenario.source, tags: scenario.tags },
    ...(scenario.alternativeRunbooks.length ? { runbook: scenario.runbookName } : {}),
    kubernetesVersion: opts.kubernetesVersion,
    startedAt: t0,
    endedAt: t0,
    outcome: "errored",
    exitCode: 1,
    reason: "",
    phases: [],
    evidence: [],
    timings: { totalMs: 0 },
    ...(opts.variant ? { variant: opts.variant } : {}),
    ...(image ? { image } : {}),
  };
  const found: Record<string, string> = {};
  let cluster: ManagedCluster | undefined;
  let runCtx: ScenarioContext | undefined;
  // Traffic through the fault, when the scenario declares it: started after setup, stopped before teardown.
  const load = scenario.load.length ? new LoadMonitor(t0, clock) : undefined;
  let loadTicker: NodeJS.Timeout | undefined;
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
  let memory: { stop(): Promise<number> } | undefined;
  // What the run must undo, newest first; nothing is undone when the cluster is kept (--keep).
  const teardown = new RunTeardown(`scenario ${scenario.id}`);
  try {
    // 1. Cluster.
    cluster = await phase("cluster", undefined, async () => {
      const c = await opts.clusters.create({
        ...scenario.cluster,
        kubernetesVersion: opts.kubernetesVersion,
        runId,
        keep: !!opts.keep,
        ...(opts.image ? { image: opts.image } : {}),
      });
      return c;
    });
    const created = cluster;
    memory = cluster.sampleMemory?.();
    if (!opts.keep) teardown.push(created.shared ? `give back cluster ${created.name}` : `delete cluster ${created.name}`, "", () => created.delete());
    journal.cluster = {
      name: cluster.name,
      kubernetesVersion: cluster.kubernetesVersion,
      nodes: cluster.shell?.nodes.map((n) => n.name) ?? [],
      createMs: cluster.timings.totalMs,
      ...(cluster.shared ? { shared: cluster.shared } : {}),
    };
    journal.timings.clusterCreateMs = journal.phases[0]!.endedAt - journal.phases[0]!.startedAt;
    // The scenario sees the capabilities it declared, and nothing more.
    const ctx: ScenarioContext = (runCtx = {
      cluster: restrictTo(cluster, scenario.needs),
      clock,
      found,
      evidence,
      namespace: opts.namespace && scenario.scope === "namespace" ? opts.namespace : runNamespace(scenario, runId, !!cluster.shared),
      ...(load ? { load } : {}),
    });

    // 2. Setup: the run's namespace and workload images, then sentinels.
    await phase("setup", undefined, async (p) => {
      // A cluster-scoped run on a shared cluster also writes into namespaces of its own (its workloads', its
      // sentinels'), deleted at its end, so that the next run on that cluster starts from what it would find on
      // a new one. On a cluster of its own it keeps "default", as the incident had it.
      const namespaces = ctx.namespace !== "default" ? [ctx.namespace] : [];
      if (scenario.scope === "cluster" && created.shared) namespaces.push(SENTINEL_NAMESPACE);
      for (const ns of namespaces) {
        await timedStep(p, `create namespace ${ns}`, `kubectl create namespace ${ns}`, async () => {
          await createRunNamespace(created.api, ns, runId, opts.namespace ? "undisclosed" : scenario.id);
          if (!opts.keep) {
            // On a shared or existing cluster this is the whole cleanup; it must not be skipped.
            teardown.push(`delete namespace ${ns}`, `kubectl delete namespace ${ns} --wait`, () => deleteRunNamespace(created.api, ns, runId));
          }
        });
      }
      if (scenario.images.length) {
        const loader = created.images;
        if (!loader) throw new AftershockError("E_CAPABILITY", `cluster ${created.name} cannot load images`);
        await timedStep(p, `load workload images`, `kind load docker-image ${scenario.images.join(" ")}   # or a push to the cluster's registry`, async () => {
          await loader.loadImages(scenario.images);
          return scenario.images.map((r) => (loader.refFor ? `${r} → ${loader.refFor(r)}` : r)).join("\n");
        });
      }
      for (const s of scenario.setup) await timedStep(p, s.title, undefined, () => s.write(ctx).then(() => undefined));
      if (load) {
        for (const spec of scenario.load) {
          const stream = load.add(spec);
          await timedStep(
            p,
            `start load ${spec.name}`,
            `${spec.k6 ? `k6 run ${spec.k6} (vegeta when k6 is not on PATH)` : "vegeta attack"} -rate=${spec.rate}/s   # against ${describeLoadTarget(spec)}`,
            () => stream.start(ctx),
          );
        }
        loadTicker = setInterval(() => {
          for (const s of load.streams.values()) {
            const to = Math.floor(load.settled(s) / 1000) * 1000;
            reporter.onLoad?.(s.spec.name, s.series.summary(to - 10_000, to), journal);
          }
        }, 10_000);
      }
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
    const present = await selfCheck(
      "symptoms-absent",
      ctx,
      scenario.symptoms.expect,
      (held) => held.length === 0,
      (held) =>
        `symptom probes already hold before the fault, so they cannot prove it happened: ${held.map((r) => `${r.name} (${r.observed})`).join("; ")}` +
        (scenario.symptomsAbsentBudgetMs ? ` (still after ${formatDuration(scenario.symptomsAbsentBudgetMs)} of asking again)` : ""),
      scenario.symptomsAbsentBudgetMs,
    );
    if (present) return finish("inconclusive", present);

    // 5. Inject. From here on the fault's rollback (if it has one) is owed, even if inject fails half-way.
    ctx.logsSince = Date.now();
    load?.mark("injectMs");
    const fault = scenario.fault;
    if (fault.rollback && !opts.keep) {
      const rb = fault.rollback;
      teardown.push(`rollback: ${rb.title}`, rb.shows, () => withBudget(rb.run(ctx), rb.budgetMs, rb.title, clock));
    }
    await phase("inject", undefined, async (p) => {
      await timedStep(p, scenario.fault.title, scenario.fault.plan.join("\n"), async () => {
        await scenario.fault.inject(ctx);
        return undefined;
      });
    });
    const injectedAt = clock.now() - t0;

    // 6. Symptoms: every signature (and what the incident says still works) must be seen within the budget;
    // each is latched when first seen.
    const signatures = new Set(scenario.symptoms.expect.map((x) => x.name));
    const symptomsOk = await phase("symptoms", scenario.symptomsBudgetMs, async (p) => {
      const { pending, last } = await latch(
        [...scenario.symptoms.expect, ...(scenario.symptoms.stillWorks ?? [])],
        ctx,
        scenario.symptomsBudgetMs,
        (probe, o) => {
          const rec = { ...record(probe, o), firstOkAtMs: clock.now() - t0 };
          p.probes.push(rec);
          evidence(`${signatures.has(probe.name) ? "symptom" : "still works"}: ${probe.name}`, o.observed);
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
    const blindVerify = await selfCheck(
      "verify-fails",
      ctx,
      health,
      (held) => held.length < health.length,
      (held) =>
        `every verification probe holds on the broken cluster, so verification cannot prove recovery: ${held.map((r) => `${r.name} (${r.observed})`).join("; ")}`,
    );
    if (blindVerify) return finish("inconclusive", blindVerify);

    // 8. Runbook (or a person, on a game day).
    const runbookStart = clock.now() - t0;
    let runbookError: string | undefined;
    try {
      await phase("runbook", undefined, async (p) => {
        if (opts.manualRecovery) {
          const person = { gaveUp: false };
          await timedStep(p, "manual recovery (game day)", scenario.runbook.map((s) => s.shows).join("\n"), async () => {
            person.gaveUp = (await opts.manualRecovery!(ctx)) === "runbook";
            return person.gaveUp ? "gave up: the scenario's runbook runs instead" : undefined;
          });
          if (!person.gaveUp) return;
        }
        for (const s of scenario.runbook) {
          await timedStep(
            p,
            s.title,
            s.shows,
            () => withBudget(s.run(ctx), s.budgetMs, s.title, clock),
            (out) => out && evidence(`runbook: ${s.title}`, out),
          );
        }
      });
    } catch (e) {
      runbookError = (e as Error).message;
    }
    load?.mark("runbookEndMs");

    // 9. Verify: health probes and sentinels, within the budget.
    const verified = await phase("verify", scenario.verifyBudgetMs, async (p) => {
      const all = [...scenario.verify.expect, ...sentinelProbes];
      const deadline = clock.now() + scenario.verifyBudgetMs;
      const results = new Map<Probe, ProbeRecord>();
      for (const probe of all) {
        const remaining = Math.max(1000, deadline - clock.now());
        // Data written after the recovery point is expected to be gone: look once instead of waiting for it.
        const o =
          probe.kind === "recovery-point"
            ? await observe(probe, ctx)
            : await waitFor(probe, ctx, remaining).catch((e: unknown) => ({ ok: false, observed: (e as Error).message }));
        const rec = { ...record(probe, o), ...(o.ok ? { firstOkAtMs: clock.now() - t0 } : {}) };
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
      return finish(
        "not-recovered",
        [
          runbookError && `runbook failed: ${runbookError}`,
          verified.failedHealth.length && `not healthy: ${verified.failedHealth.map((f) => `${f.name} (${f.observed})`).join("; ")}`,
        ]
          .filter(Boolean)
          .join("; "),
      );
    }
    journal.timings.timeToRecoverMs = clock.now() - t0 - runbookStart;
    if (verified.failedSentinels.length) {
      return finish(
        "data-lost",
        `the cluster recovered but data written before the fault is gone: ${verified.failedSentinels.map((f) => f.observed).join("; ")}`,
      );
    }
    const rpo = journal.recoveryPoint?.length ? `; lost by design (after the recovery point): ${journal.recoveryPoint.join("; ")}` : "";
    return finish(
      "passed",
      `symptoms reproduced in ${formatDuration(journal.timings.timeToDetectMs ?? 0)}, recovered in ${formatDuration(journal.timings.timeToRecoverMs)}${rpo}`,
    );
  } catch (e) {
    return finish("errored", e instanceof Error ? e.message : String(e));
  } finally {
    if (memory) journal.peakMemoryMiB = await memory.stop().catch(() => undefined);
    clearInterval(loadTicker);
    if (load) {
      // The load stops with the run, kept cluster or not: a generator left running would be traffic nobody reads.
      await load.stopAll().catch((e: unknown) => evidence("load", `stopping the load failed: ${String(e)}`));
      journal.load = load.records();
      for (const r of journal.load)
        for (const slo of r.slos) evidence(`load ${r.name}: SLO ${slo.window}`, `${slo.ok ? "met" : "breached"} (${slo.objective}): ${slo.observed}`);
    }
    // The team's workload: its own verdict, from its users' traffic and its pods, kept apart from the runbook's.
    const ut = scenario.underTest;
    if (ut && runCtx && journal.phases.some((p) => p.name === "inject")) {
      const pods = await ut.observer.after(runCtx).catch((e: unknown) => {
        evidence("workload", `reading the workload's pods failed: ${String(e)}`);
        return undefined;
      });
      if (pods) {
        const v = workloadVerdict(
          ut.config,
          journal.load?.find((l) => l.name === ut.config.name),
          load?.marks.runbookEndMs,
          pods,
        );
        journal.workload = v;
        evidence(`workload ${v.name}`, workloadLines(v).join("\n"));
        if (!v.held && v.failRunOnBreach && journal.outcome === "passed") {
          journal.exitCode = WORKLOAD_BREACHED_EXIT;
          journal.reason += `; workload ${v.name} breached its SLO (${v.slos
            .filter((x) => !x.ok)
            .map((x) => x.window)
            .join(", ")})`;
        }
      }
    }
    // 10. Teardown (always), unless asked to keep the cluster.
    if (cluster) {
      const c = cluster;
      // Watches opened by workload probes hold connections open; they end with the run, kept cluster or not.
      try {
        await stopWatches(c.api);
      } catch {
        /* no API client was ever made */
      }
      if (opts.keep) {
        journal.kept = c.howToReach();
      } else {
        await phase("teardown", undefined, async (p) => {
          await teardown.unwind(
            (title, shows, fn) => timedStep(p, title, shows || undefined, fn, (out) => out && evidence(title, out)),
            (title, e) => evidence("teardown", `${title} failed: ${(e as Error).message ?? String(e)}`),
          );
          if (p.steps.some((st) => !st.ok)) p.status = "failed";
        }).catch((e: unknown) => evidence("teardown", `teardown failed: ${String(e)}`));
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
  async function selfCheck(
    name: "symptoms-absent" | "verify-fails",
    ctx: ScenarioContext,
    probes: Probe[],
    ok: (held: ProbeRecord[]) => boolean,
    why: (held: ProbeRecord[]) => string,
    /** Asked again (log probes over lines since each new start) until `ok` or this runs out; 0: asked once. */
    againWithinMs = 0,
  ): Promise<string | undefined> {
    return phase(name, againWithinMs || undefined, async (p) => {
      const started = clock.now();
      // Asked together: on a broken cluster each API probe may take its whole timeout to fail.
      const ask = async (): Promise<ProbeRecord[]> =>
        (await Promise.all(probes.map((probe) => observe(probe, ctx)))).map((o, i) => ({ ...record(probes[i]!, o), ok: !o.ok, held: o.ok }));
      let recs = await ask();
      const firstHeld = recs.filter((r) => r.held);
      let rounds = 1;
      while (!ok(recs.filter((r) => r.held)) && clock.now() + 15_000 < started + againWithinMs) {
        // The next asking reads only what was logged or served after this one: a window of its own.
        const since = clock.now();
        await clock.sleep(15_000);
        ctx.logsSince = since;
        recs = await ask();
        rounds++;
      }
      if (rounds > 1)
        evidence(
          "before",
          `${name}: ${firstHeld.map((r) => r.name).join(", ")} held at first (${firstHeld.map((r) => r.observed).join("; ")}); asked ${rounds} times over ${formatDuration(clock.now() - started)}`,
        );
      for (const rec of recs) {
        p.probes.push(rec);
        reporter.onProbe?.(rec, p, journal);
      }
      const held = p.probes.filter((r) => r.held);
      if (ok(held)) return undefined;
      p.status = "failed";
      p.error = why(held);
      return p.error;
    });
  }

  async function timedStep(
    p: PhaseRecord,
    title: string,
    shows: string | undefined,
    fn: () => Promise<string | void | undefined>,
    onOutput?: (out: string) => void,
  ): Promise<void> {
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

/**
 * The run's namespace: a namespace-scoped scenario's own, always; a cluster-scoped one's only on a cluster shared
 * with other runs (pnpm suite), else "default" (its writes are cluster-wide, as in the incident).
 */
export function runNamespace(s: Scenario, runId: string, sharedCluster = false): string {
  return s.scope === "namespace" || sharedCluster ? `as-${runId}-${s.id}`.slice(0, 63).replace(/-+$/, "") : "default";
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

function record(probe: Probe, o: Observation): ProbeRecord {
  return { name: probe.name, expectation: probe.expectation, ...(probe.kind ? { kind: probe.kind } : {}), ok: o.ok, observed: o.observed };
}

async function withBudget<T>(p: Promise<T>, budgetMs: number, title: string, clock: Clock): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const started = clock.now();
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new AftershockError("E_TIMEOUT", `step "${title}" did not finish within ${formatDuration(budgetMs)} (ran ${formatDuration(clock.now() - started)})`),
        ),
      budgetMs,
    );
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
