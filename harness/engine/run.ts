import { randomBytes } from "node:crypto";
import { AftershockError, formatDuration } from "../../clusters/errors.js";
import { LoadMonitor } from "../load/streams.js";
import { observe, type Observation, type Probe } from "../model/probe.js";
import type { Scenario } from "../model/scenario.js";
import type { Clock } from "../../clusters/wait.js";
import { Found, type ScenarioContext } from "../model/context.js";
import type { ClusterAccess, ClusterFactory, ManagedCluster, NodeCommandRecord, NodeShell } from "../../clusters/contract.js";
import {
  EXIT_CODES,
  type NodeCommandEntry,
  type Outcome,
  type PhaseName,
  type PhaseRecord,
  type ProbeRecord,
  type RunJournal,
  type StepRecord,
  type VariantTag,
} from "./journal.js";
import type { ReporterHooks } from "./reporter.js";
import type { classifyVerify } from "./run-checks.js";
import { RunTeardown } from "./run-teardown.js";

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
   * `machines`: the target's node shell whatever the scenario declared (a person investigating may reach every node).
   */
  manualRecovery?: (ctx: ScenarioContext, machines: { shell?: NodeShell }) => Promise<void | "runbook">;
  runId?: string;
  /**
   * The run's namespace (namespace-scoped scenarios) instead of as-<run>-<scenario>: a game day must not name the
   * scenario, so its namespace is labelled without it too.
   */
  namespace?: string;
  /** Set by pnpm suite --prove: this run is a variant expected to end with `expected`. */
  variant?: VariantTag;
  /**
   * --conformance: after verification passes, Kubernetes' e2e.test runs the curated conformance specs against the
   * cluster (phases/conformance.ts). `outDir` is where its output and JUnit report go (default: a directory of the
   * run under the system's temporary directory); `e2eTest` is the binary, set by runScenario from the clusters'
   * prepare().
   */
  conformance?: { outDir?: (run: { scenarioId: string; runId: string }) => string; e2eTest?: string };
}

/** How a phase ends the run before the next one: the outcome and why. */
export interface Ending {
  outcome: Outcome;
  reason: string;
}

/** Whether a phase ended the run (an outcome) rather than handing on to the next one. */
export const ended = (r: object): r is Ending => "outcome" in r;

/**
 * One phase of the pipeline: given what the phase before it handed on, it records itself (Run.phase) and hands on
 * what the next one needs, or ends the run. runner.ts passes each phase's result to the next.
 */
export type Phase<Given, Gives extends object> = (run: Run, given: Given) => Promise<Gives | Ending>;

/** The verification phase's verdict (run-checks' classifyVerify), read by the sentinels phase. */
export type VerifyVerdict = ReturnType<typeof classifyVerify>;

/** A deadman switch armed on a node before the fault (a guarded cluster): it undoes the fault unless disarmed. */
export interface Deadman {
  line: string;
  disarm(): Promise<void>;
}

/** cluster → every later phase, and after-run: the cluster, and what faults, probes and steps receive. */
export interface OnCluster {
  readonly cluster: ManagedCluster;
  readonly ctx: ScenarioContext;
}

/** setup → steady state, verify: the probes of the setup's sentinels. */
export interface SetUp extends OnCluster {
  readonly sentinelProbes: Probe[];
}

/** steady state → symptoms absent: when the steady-state check began (wall clock). */
export interface Steady extends SetUp {
  readonly steadySince: number;
}

/**
 * inject → symptoms: when the fault began (ms since the run started); → runbook: the deadman switches armed on nodes,
 * disarmed once the runbook succeeded (or after the rollback).
 */
export interface Injected extends SetUp {
  readonly injectedAt: number;
  readonly deadmen: Deadman[];
}

/** runbook → verify: when it began (ms since the run started), and the error that ended it, if one did. */
export interface RunbookDone extends SetUp {
  readonly runbookStart: number;
  readonly runbookError: string | undefined;
}

/** verify → conformance, sentinels: the verdict. */
export interface Verified extends OnCluster {
  readonly verified: VerifyVerdict;
}

/**
 * One run of a scenario: its journal, the clock, the reporter's hooks, the LIFO teardown, and the one
 * recording wrapper every phase goes through (`phase`), with its steps (`step`).
 */
export class Run {
  readonly reporter: ReporterHooks;
  readonly runId: string;
  readonly clock: Clock;
  readonly t0: number;
  readonly journal: RunJournal;
  readonly found = new Found();
  /** Traffic through the fault, when the scenario declares it: started after setup, stopped before teardown. */
  readonly load: LoadMonitor | undefined;
  loadTicker: NodeJS.Timeout | undefined;
  memory: { stop(): Promise<number> } | undefined;
  /** What the run must undo, newest first; nothing is undone when the cluster is kept (--keep). */
  readonly teardown: RunTeardown;
  /**
   * From when (the clock's wall time) log and journal probes count lines: the context's `logsSince`, which reads it.
   * Set here only, through countLogsFrom.
   */
  private logsFrom: number | undefined;
  /** Set once Ctrl-C or SIGTERM ended the run (interrupt): its journal says so and nothing overwrites it. */
  interrupted = false;
  /** Phases begun and not yet ended: the one the signal cuts short. */
  private readonly openPhases = new Set<PhaseRecord>();

  constructor(
    readonly scenario: Scenario,
    readonly opts: RunOptions,
    image: RunJournal["image"],
  ) {
    this.clock = opts.clock;
    this.reporter = opts.reporter ?? {};
    this.runId = opts.runId ?? randomBytes(4).toString("hex");
    this.t0 = this.clock.now();
    this.journal = {
      runId: this.runId,
      scenario: { id: scenario.id, title: scenario.title, summary: scenario.summary, source: scenario.source, tags: scenario.tags },
      ...(scenario.alternativeRunbooks.length ? { runbook: scenario.runbookName } : {}),
      kubernetesVersion: opts.kubernetesVersion,
      startedAt: this.t0,
      endedAt: this.t0,
      outcome: "errored",
      exitCode: 1,
      reason: "",
      phases: [],
      evidence: [],
      timings: { totalMs: 0 },
      ...(opts.variant ? { variant: opts.variant } : {}),
      scoring: {
        detectBudgetMs: scenario.symptomsBudgetMs,
        recoverBudgetMs: scenario.runbook.reduce((a, s) => a + s.budgetMs, 0) + scenario.verifyBudgetMs,
        ...(scenario.score ? { config: scenario.score } : {}),
      },
      ...(image ? { image } : {}),
    };
    this.load = scenario.load.length ? new LoadMonitor(this.t0, this.clock) : undefined;
    this.teardown = new RunTeardown(`scenario ${scenario.id}`);
  }

  /** ms since the run started. */
  now(): number {
    return this.clock.now() - this.t0;
  }

  /** Log and journal probes count lines from `at` (the clock's wall time: clock.now()) on. */
  countLogsFrom(at: number): void {
    this.logsFrom = at;
  }

  /** What faults, probes and steps receive on `cluster` (the scenario's view of it), in `namespace`. */
  context(cluster: ClusterAccess, namespace: string): ScenarioContext {
    const run = this;
    return {
      cluster,
      clock: this.clock,
      found: this.found,
      evidence: this.evidence,
      namespace,
      get logsSince() {
        return run.logsFrom;
      },
      ...(this.load ? { load: this.load } : {}),
    };
  }

  private readonly nodeCommandIndex = new Map<string, NodeCommandEntry>();

  /** A command a node ran (the target's feed), counted under the phase running now, its node and its text. */
  readonly nodeCommand = (c: NodeCommandRecord): void => {
    const phase = this.journal.phases.at(-1)?.name ?? "cluster";
    const key = JSON.stringify([phase, c.node, c.command]);
    const at = this.now();
    const ended = c.exitCode !== undefined ? `exit ${c.exitCode}` : "no exit code";
    let e = this.nodeCommandIndex.get(key);
    if (!e) {
      const list = (this.journal.nodeCommands ??= []);
      if (list.length >= NODE_COMMANDS_LISTED) {
        this.journal.nodeCommandsNotListed = (this.journal.nodeCommandsNotListed ?? 0) + 1;
        return;
      }
      e = { phase, node: c.node, command: c.command, ended: {}, firstAtMs: at, lastAtMs: at };
      this.nodeCommandIndex.set(key, e);
      list.push(e);
    }
    e.ended[ended] = (e.ended[ended] ?? 0) + 1;
    e.lastAtMs = at;
  };

  readonly evidence = (source: string, text: string): void => {
    const e = { at: this.clock.now() - this.t0, source, text };
    this.journal.evidence.push(e);
    this.reporter.onEvidence?.(e, this.journal);
  };

  /** The recording wrapper: the phase's record in the journal, its timing, its failure, the reporter's hooks. */
  async phase<T>(name: PhaseName, budgetMs: number | undefined, fn: (p: PhaseRecord) => Promise<T>): Promise<T> {
    const p: PhaseRecord = { name, startedAt: this.now(), endedAt: 0, status: "passed", steps: [], probes: [], ...(budgetMs ? { budgetMs } : {}) };
    this.journal.phases.push(p);
    this.openPhases.add(p);
    this.reporter.onPhaseBegin?.(p, this.journal);
    try {
      const r = await fn(p);
      return r;
    } catch (e) {
      p.status = "failed";
      p.error = e instanceof Error ? e.message : String(e);
      throw e;
    } finally {
      // A phase the signal cut short was closed by interrupt(); its end is not recorded again.
      if (!this.interrupted) {
        this.openPhases.delete(p);
        p.endedAt = this.now();
        this.reporter.onPhaseEnd?.(p, this.journal);
      }
    }
  }

  /** One timed step of a phase; its output (a string) is kept and passed to `onOutput`. */
  async step(
    p: PhaseRecord,
    title: string,
    shows: string | undefined,
    fn: () => Promise<string | void | undefined>,
    onOutput?: (out: string) => void,
  ): Promise<void> {
    const s: StepRecord = { title, ...(shows ? { shows } : {}), startedAt: this.now(), endedAt: 0, ok: false };
    p.steps.push(s);
    this.reporter.onStepBegin?.(s, p, this.journal);
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
      s.endedAt = this.now();
      this.reporter.onStepEnd?.(s, p, this.journal);
    }
  }

  /**
   * One of the run's checks on its own probes: each probe asked once, all at once; `ok(held)` decides from the probes that
   * held whether the check passed. Returns the reason when it did not (the run is then inconclusive).
   */
  async selfCheck(
    name: "symptoms-absent" | "verify-fails",
    ctx: ScenarioContext,
    probes: Probe[],
    ok: (held: ProbeRecord[]) => boolean,
    why: (held: ProbeRecord[]) => string,
    /** Asked again (log probes over lines since each new start) until `ok` or this runs out; 0: asked once. */
    againWithinMs = 0,
  ): Promise<string | undefined> {
    const { clock } = this;
    return this.phase(name, againWithinMs || undefined, async (p) => {
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
        this.countLogsFrom(since);
        recs = await ask();
        rounds++;
      }
      if (rounds > 1)
        this.evidence(
          "before",
          `${name}: ${firstHeld.map((r) => r.name).join(", ")} held at first (${firstHeld.map((r) => r.observed).join("; ")}); asked ${rounds} times over ${formatDuration(clock.now() - started)}`,
        );
      for (const rec of recs) {
        p.probes.push(rec);
        this.reporter.onProbe?.(rec, p, this.journal);
      }
      const held = p.probes.filter((r) => r.held);
      if (ok(held)) return undefined;
      p.status = "failed";
      p.error = why(held);
      return p.error;
    });
  }

  /**
   * Ctrl-C or SIGTERM: the run ends interrupted. Called from the process's teardown stack after the run's own teardown
   * items (registered later, so undone first): the journal says whether the cluster was kept, the phase the signal cut
   * short is closed as failed ("interrupted"), and the reporters get the run's end (file reporters write the journal).
   */
  async interrupt(): Promise<void> {
    const j = this.journal;
    this.interrupted = true;
    j.outcome = "interrupted";
    j.exitCode = EXIT_CODES.interrupted;
    j.reason = `interrupted (Ctrl-C or SIGTERM); ${this.opts.keep ? "the cluster was kept (--keep)" : "the cluster was removed"}`;
    j.endedAt = this.clock.now();
    j.timings.totalMs = j.endedAt - j.startedAt;
    // The phase that was running when the signal came never ended on its own.
    for (const p of this.openPhases) {
      p.endedAt = j.timings.totalMs;
      p.status = "failed";
      p.error = "interrupted";
    }
    await this.reporter.onRunEnd?.(j);
  }

  finish(outcome: Outcome, reason: string): RunJournal {
    if (this.interrupted) return this.journal;
    this.journal.outcome = outcome;
    this.journal.exitCode = EXIT_CODES[outcome];
    this.journal.reason = reason;
    return this.journal;
  }
}

/** How many distinct node commands a journal lists; later ones are counted only (a probe whose text changes each time). */
export const NODE_COMMANDS_LISTED = 2000;

/**
 * The run's namespace: a namespace-scoped scenario's own, always; a cluster-scoped one's only on a cluster shared
 * with other runs (pnpm suite), else "default" (its writes are cluster-wide, as in the incident).
 */
export function runNamespace(s: Scenario, runId: string, sharedCluster = false): string {
  return s.scope === "namespace" || sharedCluster ? `as-${runId}-${s.id}`.slice(0, 63).replace(/-+$/, "") : "default";
}

export function record(probe: Probe, o: Observation): ProbeRecord {
  return { name: probe.name, expectation: probe.expectation, ...(probe.kind ? { kind: probe.kind } : {}), ok: o.ok, observed: o.observed };
}

export async function withBudget<T>(p: Promise<T>, budgetMs: number, title: string, clock: Clock): Promise<T> {
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
