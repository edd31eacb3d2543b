import { AftershockError, parseDuration, type Duration } from "../../clusters/errors.js";
import { CAPABILITIES, type Capability, type ClusterShape } from "../../clusters/contract.js";
import { HOST_TOOLS, type HostTool } from "../../clusters/images/host-tools.js";
import type { LoadSpec } from "../load/streams.js";
import type { ScenarioContext } from "./context.js";
import type { Probe } from "./probe.js";
import { sloHolds } from "./slo.js";
import type { WorkloadSlot, WorkloadUnderTest } from "./workload.js";

/**
 * What a scenario is made of (ScenarioDefinition, Fault, Sentinel, RunbookStep, probe sets, variants, alternative
 * runbooks), the Scenario defineScenario makes of it, and how a run ends (Outcome). The author's kit re-exports
 * what a scenario file needs; the engine runs what is here.
 */

/** How a run ends; each has its exit code (the journal keeps both). */
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

/** A change to the cluster that the incident describes. `neutralised` variants exist for tests. */
export interface Fault {
  readonly title: string;
  /** Shell-level description of what is done, for --dry-run and reports. */
  readonly plan: string[];
  inject(ctx: ScenarioContext): Promise<void>;
  /**
   * Chaos Toolkit's rollback: undoes what `inject` left outside Kubernetes' own state (a throttle, a
   * process), so the cluster can be deleted cleanly. It runs in teardown (and on Ctrl-C) whenever the
   * fault was injected, after a repaired run as after a failed one, so it must be harmless to repeat. It is
   * never evidence of recovery, and it is skipped when the cluster is kept (--keep shows the cluster as the
   * run left it).
   */
  readonly rollback?: RunbookStep;
  /**
   * etcd members the fault takes away (a lost or stopped control plane): on a cluster this tool did not create, the
   * preflight refuses the run unless members − this ≥ quorum. Default 0.
   */
  readonly etcdMembersLost?: number;
  /**
   * A node-side undo, for a cluster this tool did not create: before inject, a deadman switch is armed on `node(ctx)`
   * that runs `undo` (sh, as root) unless the run disarms it (after its rollback ran, or once the runbook succeeded),
   * so the node heals itself if this process dies or loses the node. `undo` must be harmless to repeat.
   */
  readonly deadman?: {
    node(ctx: ScenarioContext): string;
    undo: string;
    /** Seconds from arming to the undo; default: the run's budgets from the fault to verification, plus 5 minutes (deadmanSeconds). */
    seconds?: number;
  };
  /** The demo app whose node or pods it picks (e.g. kubeletStopped("web")): a team's workload in its place retargets it. */
  readonly aimsAt?: string;
  readonly retarget?: (to: { name: string; selector: string }) => Fault;
}

/**
 * Where the sentinels live: a namespace of their own, not the run's (`ctx.namespace` is "default" for a
 * cluster-scoped scenario). The kit's sentinels write there; on a shared cluster the engine makes it as the run's.
 */
export const SENTINEL_NAMESPACE = "aftershock-sentinels";

/** Workloads and data written before the fault; `probes` prove afterwards that they survived. */
export interface Sentinel {
  readonly title: string;
  /** The demo Service it deploys (echoService): a team's workload can stand in for it (workloadSlot). */
  readonly deploys?: string;
  write(ctx: ScenarioContext): Promise<void>;
  probes(): Probe[];
}

export interface RunbookStep {
  readonly title: string;
  /** The command(s) as an on-call engineer would type them, for --dry-run, reports and game days. */
  readonly shows: string;
  readonly budgetMs: number;
  run(ctx: ScenarioContext): Promise<string | void>;
}

/**
 * Another way to recover from the same fault, selectable with `--runbook NAME`, and the outcome it must end
 * with: the incident's own path may restore health and lose data (expect "data-lost"), which is the lesson.
 */
export interface AlternativeRunbook {
  /** kebab-case: the --runbook argument. */
  readonly name: string;
  /** One sentence: what this path does differently, and what it costs. */
  readonly summary: string;
  readonly steps: RunbookStep[];
  readonly expect: Outcome;
  /** As for the scenario's own runbook (default: the first step). */
  readonly decisiveStep?: string;
}

/**
 * The same incident on a changed setup, selectable with `--variant NAME`: a mitigation measured against the
 * default (a shorter toleration, three control planes) or another way the fault happens (a partition instead
 * of a dead kubelet). It must pass too; `pnpm suite` runs each variant after the scenario itself.
 */
export interface ScenarioVariant {
  /** kebab-case: the --variant argument. */
  readonly name: string;
  /** One sentence: what changes, and what it shows. */
  readonly summary: string;
  /** The fields that differ from the scenario (replaced whole). */
  readonly change: Partial<Omit<ScenarioDefinition, "id" | "variants">>;
}

export interface ProbeSet {
  /** e.g. "3m" */
  within: Duration;
  expect: Probe[];
}

export interface SymptomSet extends ProbeSet {
  /**
   * What the incident says keeps working while the fault lasts (e.g. writes on quorum 2 of 3). Seen within
   * the same budget as the signatures in `expect`, but not signatures: they hold before the fault too, so
   * they prove nothing about it and are left out of the symptoms-absent check.
   */
  stillWorks?: Probe[];
  /**
   * How long the healthy cluster may take to show none of `expect`. Where the signatures measure the machine
   * (disk latency), a cluster just created can still be flushing its images and show them for a while; the
   * symptoms-absent check then asks again every 15 s, each time over what was logged or served since the
   * asking before, until they are all unmet or this runs out (then the run is inconclusive, as before).
   * Default: "45s" when a signature reads a load (one slow second of a busy machine is not the incident;
   * three windows in a row are asked), else "0" (asked once).
   */
  absentWithin?: Duration;
}

export interface ScenarioDefinition {
  /** kebab-case; equals the file name under scenarios/ and the CLI argument. */
  id: string;
  title: string;
  /** One paragraph, in our words, of what happened in the incident and what this scenario proves. */
  summary: string;
  source: { incident: string; section: string };
  tags: string[];
  cluster: ClusterShape;
  /**
   * What the scenario needs besides the API (default none): "node-shell" to reach nodes while the API is
   * down, "node-lifecycle" to lose and replace machines, "image-loading" for locally built workload images.
   * It sees only what it declares, and a target that cannot serve it is refused before anything is created.
   */
  needs?: Capability[];
  /**
   * "namespace" (default "cluster"): the fault and every write stay inside the run's own namespace
   * (`ctx.namespace`, created before setup and deleted at the end). Such scenarios can share a cluster in
   * `pnpm suite` and run against an existing cluster with --kubeconfig.
   */
  scope?: "cluster" | "namespace";
  /** Programs run on this host against the cluster (built before the run starts), e.g. "helm". */
  tools?: HostTool[];
  /** Workload images from the local catalogue (clusters/images/workloads.ts, re-exported by harness/kit/workloads/workloads.ts) the scenario runs; loaded before setup. */
  images?: string[];
  setup: Sentinel[];
  steadyState: Probe[];
  fault: Fault;
  symptoms: SymptomSet;
  runbook: RunbookStep[];
  /** The name of `runbook` for --runbook and reports, when there are alternatives (default "default"). */
  runbookName?: string;
  /** Other runbooks for the same fault; pnpm suite runs each of them too, expecting its declared outcome. */
  alternativeRunbooks?: AlternativeRunbook[];
  /**
   * Title of the runbook step the recovery hinges on (default: the first step): cut just before it, the
   * cluster must stay broken. `pnpm suite --prove` runs the runbook that way and expects not-recovered.
   */
  decisiveStep?: string;
  verify: ProbeSet;
  /**
   * Traffic that runs from before the fault to the end of verification (needs "load-generator"). Each
   * stream's SLO "before" joins the steady state and its SLO "after" joins verification; "during" is
   * reported as what users felt. Symptoms such as usersSeeErrors() and keepsServing() read the same streams.
   */
  load?: LoadSpec[];
  variants?: ScenarioVariant[];
  /**
   * Where a team's own workload (--workload) can stand in for the scenario's demo: the demo Service it replaces
   * (its setup item and load stream). Without it the scenario refuses --workload.
   */
  workloadSlot?: WorkloadSlot;
  /**
   * What the scenario's setup changes on its nodes that a new cluster does not have (e.g. "worker's kubelet data
   * on a 1 GiB filesystem"): `pnpm suite` then gives it a cluster of its own and hands that cluster to no later run.
   */
  changesNodes?: string;
  /** Required with the tag "game-day": how `pnpm gameday` pages a player about this incident without naming it. */
  gameDay?: GameDayBrief;
  /**
   * How this scenario's resilience score weighs its parts (harness/reports/score.ts has the formula and the
   * defaults): by kind, and by SLO name ("web/during", or "web" for every window of the stream web).
   */
  score?: ScoreConfig;
}

/**
 * The kinds of a run's score parts: users' load SLOs, the team workload's SLO windows, time to detect and to
 * recover against the scenario's budgets, data kept, and the run's two self-checks.
 */
export const SCORE_PART_KINDS = ["users", "workload", "detect", "recover", "data", "self-check"] as const;
export type ScorePartKind = (typeof SCORE_PART_KINDS)[number];

export interface ScoreConfig {
  /** Weight per kind of part (default in DEFAULT_SCORE_WEIGHTS); 0 leaves a kind out. */
  weights?: Partial<Record<ScorePartKind, number>>;
  /** Weight per SLO, by name: "<load>/<window>" or "<load>" (every window), "workload/<window>" or "workload". Beats the kind's. */
  slos?: Record<string, number>;
}

/**
 * Default weights, Krkn's 3-for-critical in spirit: what users feel and whether data survives count three times
 * as much as how fast the fault was seen; recovery twice; each self-check once (a blind probe is a defect of
 * the scenario, not of the system, but a run that cannot prove its fault has measured nothing).
 */
export const DEFAULT_SCORE_WEIGHTS: Record<ScorePartKind, number> = { users: 3, workload: 3, detect: 1, recover: 2, data: 3, "self-check": 1 };

export const GAME_DAY_TAG = "game-day";
export const DIFFICULTIES = ["easy", "medium", "hard"] as const;
export type Difficulty = (typeof DIFFICULTIES)[number];

/**
 * A break-fix exercise's briefing: what the pager says (symptoms only, as on-call would see them: never the
 * cause, the scenario's id or the fault's wording), hints from where to look to how to fix it (the runbook's
 * commands are added as the last hint), and patterns of commands that touch the cause (for the debrief's
 * "first command that touched the cause").
 */
export interface GameDayBrief {
  difficulty: Difficulty;
  alert: string;
  hints: string[];
  cause: RegExp[];
}

export interface Scenario extends ScenarioDefinition {
  load: LoadSpec[];
  variants: ScenarioVariant[];
  /** The definition as written, which variants change. */
  definition: ScenarioDefinition;
  /** Set on a variant: which one. */
  variantName?: string;
  /** Set by withWorkload: the team's workload this run carries, judged apart from the runbook. */
  underTest?: WorkloadUnderTest;
  needs: Capability[];
  scope: "cluster" | "namespace";
  images: string[];
  tools: HostTool[];
  runbookName: string;
  alternativeRunbooks: AlternativeRunbook[];
  /** Always set: the definition's, or the first runbook step's title. */
  decisiveStep: string;
  steadyStateBudgetMs: number;
  symptomsBudgetMs: number;
  /** symptoms.absentWithin: how long the symptoms-absent check may ask again (0: once). */
  symptomsAbsentBudgetMs: number;
  verifyBudgetMs: number;
}

const ID_RE = /^[a-z0-9]+(-[a-z0-9]+)*$/;
/** symptoms.absentWithin when a signature reads a load and the scenario does not say (see SymptomSet). */
const LOAD_SYMPTOMS_ABSENT_WITHIN: Duration = "45s";

/** Validates a scenario definition; a bad one is rejected with one line naming the field. */
export function defineScenario(def: ScenarioDefinition): Scenario {
  const bad = (field: string, why: string) => new AftershockError("E_BAD_INPUT", `scenario ${def?.id ?? "(no id)"}: ${field} ${why}`);
  if (!def || typeof def !== "object") throw new AftershockError("E_BAD_INPUT", "scenario file must export default defineScenario({...})");
  if (typeof def.id !== "string" || !ID_RE.test(def.id)) throw bad("id", "must be kebab-case");
  for (const f of ["title", "summary"] as const) if (typeof def[f] !== "string" || !def[f].trim()) throw bad(f, "is required");
  if (!def.source?.incident) throw bad("source.incident", "is required");
  if (![1, 3].includes(def.cluster?.controlPlanes)) throw bad("cluster.controlPlanes", "must be 1 or 3");
  if (!Number.isInteger(def.cluster.workers) || def.cluster.workers < 0) throw bad("cluster.workers", "must be a whole number ≥ 0");
  if (!def.fault?.inject) throw bad("fault", "is required");
  if (!def.symptoms?.expect?.length) throw bad("symptoms.expect", "needs at least one signature: a scenario must prove its fault happened");
  if (!def.runbook?.length) throw bad("runbook", "needs at least one step");
  if (!def.verify?.expect?.length) throw bad("verify.expect", "needs at least one probe");
  const unknown = (def.needs ?? []).filter((c) => !(CAPABILITIES as readonly string[]).includes(c));
  if (unknown.length) throw bad("needs", `names unknown capabilities: ${unknown.join(", ")} (known: ${CAPABILITIES.join(", ")})`);
  if (def.scope !== undefined && def.scope !== "cluster" && def.scope !== "namespace") throw bad("scope", `must be "cluster" or "namespace"`);
  if (def.images?.length && !def.needs?.includes("image-loading")) throw bad("images", `need the "image-loading" capability in needs`);
  if (def.decisiveStep !== undefined && !def.runbook.some((s) => s.title === def.decisiveStep))
    throw bad("decisiveStep", `names no runbook step: "${def.decisiveStep}"`);
  const unknownTools = (def.tools ?? []).filter((t) => !(HOST_TOOLS as readonly string[]).includes(t));
  if (unknownTools.length) throw bad("tools", `names unknown tools: ${unknownTools.join(", ")} (known: ${HOST_TOOLS.join(", ")})`);
  const runbookName = def.runbookName ?? "default";
  const names = [runbookName];
  for (const [i, alt] of (def.alternativeRunbooks ?? []).entries()) {
    const field = `alternativeRunbooks[${i}]`;
    if (typeof alt.name !== "string" || !ID_RE.test(alt.name)) throw bad(`${field}.name`, "must be kebab-case");
    if (names.includes(alt.name)) throw bad(`${field}.name`, `"${alt.name}" is used twice`);
    names.push(alt.name);
    if (!alt.steps?.length) throw bad(`${field}.steps`, "needs at least one step");
    if (!(alt.expect in EXIT_CODES)) throw bad(`${field}.expect`, `is not an outcome: "${alt.expect}"`);
    if (alt.decisiveStep !== undefined && !alt.steps.some((s) => s.title === alt.decisiveStep))
      throw bad(`${field}.decisiveStep`, `names no step of runbook ${alt.name}: "${alt.decisiveStep}"`);
  }
  const loadNames = new Set<string>();
  for (const [i, l] of (def.load ?? []).entries()) {
    const field = `load[${i}]`;
    if (!def.needs?.includes("load-generator")) throw bad("load", `needs the "load-generator" capability in needs`);
    if (typeof l.name !== "string" || !ID_RE.test(l.name)) throw bad(`${field}.name`, "must be kebab-case");
    if (loadNames.has(l.name)) throw bad(`${field}.name`, `"${l.name}" is used twice`);
    loadNames.add(l.name);
    if (!(l.rate > 0 && l.rate <= 500)) throw bad(`${field}.rate`, "must be between 1 and 500 requests per second");
    if (l.timeout !== undefined) budget(l.timeout, `${field}.timeout`, bad);
    for (const [w, o] of Object.entries(l.slo ?? {}))
      if (!(o.availability > 0 && o.availability <= 1)) throw bad(`${field}.slo.${w}.availability`, "must be a share between 0 and 1");
  }
  validateGameDay(def, bad);
  validateScore(def, bad);
  const load = def.load ?? [];
  const variantNames = new Set<string>();
  for (const [i, v] of (def.variants ?? []).entries()) {
    if (typeof v.name !== "string" || !ID_RE.test(v.name)) throw bad(`variants[${i}].name`, "must be kebab-case");
    if (variantNames.has(v.name)) throw bad(`variants[${i}].name`, `"${v.name}" is used twice`);
    variantNames.add(v.name);
  }
  const symptomsBudgetMs = budget(def.symptoms.within, "symptoms.within", bad);
  const verifyBudgetMs = budget(def.verify.within, "verify.within", bad);
  const readsLoad = def.symptoms.expect.some((p) => p.reads !== undefined);
  const symptomsAbsentBudgetMs = budget(def.symptoms.absentWithin ?? (readsLoad ? LOAD_SYMPTOMS_ABSENT_WITHIN : "0s"), "symptoms.absentWithin", bad);
  return {
    ...def,
    definition: def,
    variants: def.variants ?? [],
    load,
    // The load's SLOs are probes like the others: met before the fault, met again after recovery.
    steadyState: [...(def.steadyState ?? []), ...load.filter((l) => l.slo.before).map((l) => sloHolds(l, "before"))],
    verify: { ...def.verify, expect: [...def.verify.expect, ...load.filter((l) => l.slo.after).map((l) => sloHolds(l, "after"))] },
    needs: def.needs ?? [],
    scope: def.scope ?? "cluster",
    images: def.images ?? [],
    tools: def.tools ?? [],
    runbookName,
    alternativeRunbooks: def.alternativeRunbooks ?? [],
    tags: def.tags ?? [],
    setup: def.setup ?? [],
    decisiveStep: def.decisiveStep ?? def.runbook[0]!.title,
    steadyStateBudgetMs: 3 * 60_000,
    symptomsBudgetMs,
    symptomsAbsentBudgetMs,
    verifyBudgetMs,
  };
}

function validateGameDay(def: ScenarioDefinition, bad: (field: string, why: string) => Error): void {
  const g = def.gameDay;
  if (g === undefined) {
    if (def.tags?.includes(GAME_DAY_TAG)) throw bad("gameDay", `is required with the tag "${GAME_DAY_TAG}" (difficulty, alert, hints, cause)`);
    return;
  }
  if (!(DIFFICULTIES as readonly string[]).includes(g.difficulty)) throw bad("gameDay.difficulty", `must be one of ${DIFFICULTIES.join(", ")}`);
  if (typeof g.alert !== "string" || !g.alert.trim()) throw bad("gameDay.alert", "is required: what the pager says, symptoms only");
  if (g.alert.toLowerCase().includes(def.id)) throw bad("gameDay.alert", "names the scenario; a page says what is seen, not what it is");
  if (!Array.isArray(g.hints) || !g.hints.length || g.hints.some((h) => typeof h !== "string" || !h.trim()))
    throw bad("gameDay.hints", "needs at least one hint, each a non-empty string");
  if (!Array.isArray(g.cause) || !g.cause.length || g.cause.some((c) => !(c instanceof RegExp)))
    throw bad("gameDay.cause", "needs at least one pattern (RegExp) of a command that touches the cause");
}

function validateScore(def: ScenarioDefinition, bad: (field: string, why: string) => Error): void {
  const c = def.score;
  if (c === undefined) return;
  const weight = (field: string, v: unknown) => {
    if (typeof v !== "number" || !Number.isFinite(v) || v < 0) throw bad(field, `must be a number ≥ 0, got ${JSON.stringify(v)}`);
  };
  for (const [k, v] of Object.entries(c.weights ?? {})) {
    if (!(SCORE_PART_KINDS as readonly string[]).includes(k)) throw bad(`score.weights.${k}`, `is not a kind of score part (${SCORE_PART_KINDS.join(", ")})`);
    weight(`score.weights.${k}`, v);
  }
  // An SLO name must name a load of the scenario (or the team's workload) and a window: a typo would weigh nothing.
  const streams = new Set([...(def.load ?? []).map((l) => l.name), "workload"]);
  for (const [k, v] of Object.entries(c.slos ?? {})) {
    const [stream, window, more] = k.split("/");
    if (!streams.has(stream!) || more !== undefined || (window !== undefined && !["during", "after"].includes(window)))
      throw bad(`score.slos["${k}"]`, `names no SLO: use <load>/<during|after> or <load>, with a load of ${[...streams].join(", ")}`);
    weight(`score.slos["${k}"]`, v);
  }
}

/** The verification probes that speak for health (data expected to be lost after the recovery point left out). */
export function healthProbes(s: ScenarioDefinition): Probe[] {
  return s.verify.expect.filter((p) => p.kind !== "recovery-point");
}

function budget(text: string, field: string, bad: (f: string, w: string) => Error): number {
  try {
    return parseDuration(text);
  } catch {
    throw bad(field, `is not a duration: "${text}"`);
  }
}

/** The scenario changed as one of its variants says (validated like any scenario); an unknown name is a one-line error. */
export function variantOf(s: Scenario, name: string): Scenario {
  const v = s.variants.find((x) => x.name === name);
  if (!v)
    throw new AftershockError("E_BAD_INPUT", `scenario ${s.id} has no variant "${name}"`, {
      hint: s.variants.length ? `its variants: ${s.variants.map((x) => x.name).join(", ")}` : "it has none; leave out --variant",
    });
  const { variants: _variants, ...rest } = s.definition;
  void _variants;
  return { ...defineScenario({ ...rest, ...v.change }), variants: s.variants, variantName: v.name };
}

/** Why a scenario cannot take a team's workload (--workload), or undefined when it can. */
export function refusesWorkload(s: Scenario): string | undefined {
  if (!s.workloadSlot) return `scenario ${s.id} cannot take a workload: its fault does not reach users' traffic, or its demo is part of the incident`;
  if (!s.needs.includes("load-generator")) return `scenario ${s.id} cannot take a workload: it runs no load`;
  return undefined;
}
