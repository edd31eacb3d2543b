import type { Evidence } from "../model/context.js";
import type { LoadSummary } from "../load/load-series.js";
import type { PhaseRecord, ProbeRecord, RunJournal, StepRecord } from "./journal.js";

/** Reporters implement only the hooks they need. */
export interface ReporterHooks {
  onRunBegin?(j: RunJournal): void;
  onPhaseBegin?(p: PhaseRecord, j: RunJournal): void;
  onPhaseEnd?(p: PhaseRecord, j: RunJournal): void;
  onStepBegin?(s: StepRecord, p: PhaseRecord, j: RunJournal): void;
  onStepEnd?(s: StepRecord, p: PhaseRecord, j: RunJournal): void;
  onProbe?(r: ProbeRecord, p: PhaseRecord, j: RunJournal): void;
  onEvidence?(e: Evidence, j: RunJournal): void;
  /** Every 10s while load runs: the last 10 settled seconds of one stream. */
  onLoad?(name: string, last: LoadSummary, j: RunJournal): void;
  /** Called once per run; file reporters write here. */
  onRunEnd?(j: RunJournal): void | Promise<void>;
}

export interface Reporter extends ReporterHooks {
  readonly name: string;
}

/**
 * Fans hooks out to every reporter. A reporter that throws is reported once and then skipped for the rest
 * of the run: a broken reporter never breaks a run.
 */
export class ReporterMultiplexer implements ReporterHooks {
  private readonly broken = new Set<string>();
  readonly pending: Promise<unknown>[] = [];
  constructor(
    private readonly reporters: Reporter[],
    private readonly warn: (msg: string) => void = (m) => process.stderr.write(m + "\n"),
  ) {}

  private call<K extends keyof ReporterHooks>(hook: K, ...args: Parameters<NonNullable<ReporterHooks[K]>>): void {
    for (const r of this.reporters) {
      if (this.broken.has(r.name)) continue;
      const fn = r[hook] as ((...a: unknown[]) => unknown) | undefined;
      if (!fn) continue;
      try {
        const out = fn.apply(r, args);
        if (out instanceof Promise) this.pending.push(out.catch((e: unknown) => this.disable(r.name, hook, e)));
      } catch (e) {
        this.disable(r.name, hook, e);
      }
    }
  }

  private disable(name: string, hook: string, e: unknown): void {
    this.broken.add(name);
    this.warn(`reporter ${name} failed in ${hook} and was disabled for this run: ${e instanceof Error ? e.message : String(e)}`);
  }

  onRunBegin(j: RunJournal) {
    this.call("onRunBegin", j);
  }
  onPhaseBegin(p: PhaseRecord, j: RunJournal) {
    this.call("onPhaseBegin", p, j);
  }
  onPhaseEnd(p: PhaseRecord, j: RunJournal) {
    this.call("onPhaseEnd", p, j);
  }
  onStepBegin(s: StepRecord, p: PhaseRecord, j: RunJournal) {
    this.call("onStepBegin", s, p, j);
  }
  onStepEnd(s: StepRecord, p: PhaseRecord, j: RunJournal) {
    this.call("onStepEnd", s, p, j);
  }
  onProbe(r: ProbeRecord, p: PhaseRecord, j: RunJournal) {
    this.call("onProbe", r, p, j);
  }
  onEvidence(e: Evidence, j: RunJournal) {
    this.call("onEvidence", e, j);
  }
  onLoad(name: string, last: LoadSummary, j: RunJournal) {
    this.call("onLoad", name, last, j);
  }
  /** Resolves when every reporter has written what it writes at the run's end. */
  onRunEnd(j: RunJournal): Promise<void> {
    this.call("onRunEnd", j);
    return this.flush();
  }

  /** Waits for reporters that write files asynchronously. */
  async flush(): Promise<void> {
    await Promise.all(this.pending);
  }
}
