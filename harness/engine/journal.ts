import type { ImagesMode, Origin } from "../../clusters/images/source.js";
import type { ConformanceRecord } from "../../clusters/conformance/run.js";
import type { Evidence } from "../model/context.js";
import type { LoadRecord } from "../load/streams.js";
import type { WorkloadVerdict } from "../model/workload.js";
import type { Outcome, ScoreConfig } from "../model/scenario.js";

/** The record of one run (Chaos Toolkit's journal, typed): what ran, what was seen, how it ended. */

// The named outcomes live with the scenario definition, whose variants and alternative runbooks declare the one they expect.
export { EXIT_CODES, type Outcome } from "../model/scenario.js";

/**
 * The phases of a run, in order. Two of them are the run's checks on its own probes: `symptoms-absent`
 * (before the fault, every symptom probe must be unmet, or it cannot prove the fault happened) and
 * `verify-fails` (on the broken cluster, before the runbook, at least one verification probe must be unmet,
 * or verification cannot prove recovery). Either failing makes the run inconclusive. `conformance` runs only with
 * --conformance, after verification passed.
 */
export type PhaseName =
  | "cluster"
  | "preflight"
  | "setup"
  | "steady-state"
  | "symptoms-absent"
  | "inject"
  | "symptoms"
  | "verify-fails"
  | "runbook"
  | "verify"
  | "conformance"
  | "teardown";

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

/** Commands a node ran out of band (machines reached over ssh), grouped: one entry per phase, node and command, in the order each first ran. */
export interface NodeCommandEntry {
  phase: PhaseName;
  node: string;
  /** As it ran, with where it went: `ssh root@10.0.0.11 timeout --kill-after=5 120s bash -c '…'`. */
  command: string;
  /** How each run of it ended, counted: "exit 0" → 12, "no exit code" → 1 (killed, or past its budget). */
  ended: Record<string, number>;
  /** ms since the run started. */
  firstAtMs: number;
  lastAtMs: number;
}

export interface RunJournal {
  runId: string;
  scenario: { id: string; title: string; summary: string; source: { incident: string; section: string }; tags: string[] };
  /** The Kubernetes version the run asked for (--k8s-version, or the default). */
  kubernetesVersion?: string;
  cluster?: { name: string; kubernetesVersion: string; nodes: string[]; createMs?: number; shared?: string };
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
    /** When the fault began to act (the start of injection), ms since the run started: where detection's clock starts. */
    faultStartedAtMs?: number;
    /** When the first expected symptom was observed, ms since the run started: where detection's clock stops. */
    firstSymptomAtMs?: number;
    /** Fault began to act (injection started) → first expected symptom observed. */
    timeToDetectMs?: number;
    /** Fault began to act (injection started) → every expected symptom observed. */
    timeToConfirmMs?: number;
    /** Runbook start → verification passed. */
    timeToRecoverMs?: number;
  };
  kept?: string;
  /** Highest total memory of the cluster's containers while the run had a cluster (docker stats), MiB. */
  peakMemoryMiB?: number;
  /** What the runbook lost by design (written after the last backup), by name and count. */
  recoveryPoint?: string[];
  /** Which of the scenario's runbooks ran (set when it has more than one). */
  runbook?: string;
  /** A variant of the scenario (pnpm suite --prove), and the outcome it is expected to end with. */
  variant?: VariantTag;
  /** Traffic that ran through the fault: per-second series, windows, SLO verdicts (scenarios with load). */
  load?: LoadRecord[];
  /** The team's own workload (--workload): its SLO verdict per window, users' error window, pods; apart from the outcome. */
  workload?: WorkloadVerdict;
  /**
   * --conformance: Kubernetes' own conformance specs (a curated, image-free subset, clusters/conformance/specs.ts) run
   * by the release's e2e.test after verification passed; a failing spec made the run not-recovered.
   */
  conformance?: ConformanceRecord;
  /** Every command run on the cluster's nodes out of band, with where it ran (a target that reports them: machines over ssh). */
  nodeCommands?: NodeCommandEntry[];
  /** Distinct commands past the journal's limit (NODE_COMMANDS_LISTED), counted and not listed. */
  nodeCommandsNotListed?: number;
  /** What the run's resilience score is measured against (harness/reports/score.ts); absent in older journals. */
  scoring?: ScoreBasis;
  /** The node image, found or built before the run's timeline starts (a cold build is not cluster-create time). */
  image?: {
    ref: string;
    built: boolean;
    ms: number;
    /** --images: where the run's images were to come from, and how each one came (pulled digest, built recipe…). */
    mode?: ImagesMode;
    origins?: Origin[];
  };
}

/**
 * The scenario's side of its score, kept with the run so that a journal can be scored on its own: the budgets
 * detection and recovery are held to, and the scenario's weights.
 */
export interface ScoreBasis {
  /** symptoms.within: the longest the run waits for the incident's symptoms. */
  detectBudgetMs: number;
  /** Every runbook step's budget plus verify.within: the longest a run can take and still count as recovered. */
  recoverBudgetMs: number;
  config?: ScoreConfig;
}
