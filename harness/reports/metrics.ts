import type { Outcome, RunJournal } from "../engine/journal.js";
import { EXIT_CODES } from "../engine/journal.js";
import { asExpected } from "../engine/outcomes.js";
import { median } from "./history.js";
import { variantLabel, versionOfRun, type SuiteScores } from "./score.js";

/**
 * The suite's numbers where teams already look: one OpenMetrics text file per suite run (metrics.prom, beside
 * junit.xml and report.html), every metric a gauge of that suite run, labelled scenario, variant ("" as
 * written; "variant ha", "runbook restore", "fault neutralised"), version and, per SLO, slo. No timestamps (the
 * textfile collector refuses them; the scrape or push gives the time) and `# EOF` last, which OpenMetrics
 * requires and Prometheus' text format reads as a comment: node-exporter's textfile collector and a push
 * gateway take the file as it is. docs/grafana/aftershock-dashboard.json charts it.
 */

/** Every metric the file can hold, with its HELP text: the dashboard's test checks its queries against these names. */
export const METRICS = {
  aftershock_resilience_score: "Resilience score of a scenario key, 0-100: the mean of its runs in this suite run.",
  aftershock_slo_score: "Value of one part of the resilience score, 0-100 (an SLO, detect, recover, data or a self-check).",
  aftershock_slo_weight: "Weight of one part of the resilience score.",
  aftershock_time_to_detect_seconds: "Fault began to act -> first symptom seen: the median of the key's runs that saw one.",
  aftershock_time_to_recover_seconds: "Runbook start -> verification passed: the median of the key's runs that recovered.",
  aftershock_run_outcome: "Runs of the key in this suite run that ended with this outcome (every outcome is listed, 0 when none).",
  aftershock_runs_not_as_expected: "Runs of the key in this suite run that did not end with the outcome they were meant to.",
  aftershock_version_score: "Mean resilience score of the runs meant to pass, per Kubernetes version.",
  aftershock_catalog_score: "Mean resilience score of every run meant to pass in this suite run.",
  aftershock_gate_failed: "1 when the gate's checks failed (unexpected outcome, score under the threshold, regression), else 0.",
  aftershock_gate_enforced: "1 when the suite ran with --gate (its exit code follows the gate), else 0.",
  aftershock_gate_min_score: "The gate's score threshold.",
  aftershock_gate_reasons: "How many reasons the gate found (one line each in the suite's output).",
  aftershock_suite_start_timestamp_seconds: "When this suite run started, Unix time in seconds.",
} as const;

export type MetricName = keyof typeof METRICS;

/** What the file is made of: the journals, their scores, the gate's verdict. */
export interface MetricsInput {
  journals: RunJournal[];
  scores: SuiteScores;
  gate: { enforced: boolean; minScore: number; reasons: string[] };
  startedAt: Date;
}

type Labels = Record<string, string>;

/** A label value escaped as both formats want it: backslash, double quote and newline. */
const escapeLabel = (v: string) => v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
const labelText = (l: Labels) => {
  const entries = Object.entries(l);
  return entries.length ? `{${entries.map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(",")}}` : "";
};
/** Numbers as Go's strconv would read them; no exponent for ordinary values. */
const num = (x: number) => (Number.isInteger(x) ? String(x) : String(Math.round(x * 1000) / 1000));

export function metricsText(m: MetricsInput): string {
  const families = new Map<MetricName, string[]>();
  const add = (name: MetricName, labels: Labels, value: number) => families.set(name, [...(families.get(name) ?? []), `${name}${labelText(labels)} ${num(value)}`]);

  for (const k of m.scores.keys) {
    const key = { scenario: k.scenario, variant: k.variant, version: k.version };
    add("aftershock_resilience_score", key, k.score);
    for (const p of k.parts) {
      add("aftershock_slo_score", { ...key, slo: p.name }, p.value);
      add("aftershock_slo_weight", { ...key, slo: p.name }, p.weight);
    }
  }
  // Times and outcomes per key (the journals in the keys' order): with --repeat, medians and counts.
  const byKey = new Map<string, RunJournal[]>();
  for (const j of m.journals) {
    const id = JSON.stringify([j.scenario.id, variantLabel(j), versionOfRun(j)]);
    byKey.set(id, [...(byKey.get(id) ?? []), j]);
  }
  for (const [id, js] of byKey) {
    const [scenario, variant, version] = JSON.parse(id) as [string, string, string];
    const key = { scenario, variant, version };
    const detect = median(js.flatMap((j) => (j.timings.timeToDetectMs === undefined ? [] : [j.timings.timeToDetectMs])));
    const recover = median(js.flatMap((j) => (j.timings.timeToRecoverMs === undefined ? [] : [j.timings.timeToRecoverMs])));
    if (detect !== undefined) add("aftershock_time_to_detect_seconds", key, detect / 1000);
    if (recover !== undefined) add("aftershock_time_to_recover_seconds", key, recover / 1000);
    for (const outcome of Object.keys(EXIT_CODES) as Outcome[]) add("aftershock_run_outcome", { ...key, outcome }, js.filter((j) => j.outcome === outcome).length);
    add("aftershock_runs_not_as_expected", key, js.filter((j) => !asExpected(j)).length);
  }
  for (const v of m.scores.versions) add("aftershock_version_score", { version: v.version }, v.score);
  if (m.scores.catalog !== undefined) add("aftershock_catalog_score", {}, m.scores.catalog);
  add("aftershock_gate_failed", {}, m.gate.reasons.length ? 1 : 0);
  add("aftershock_gate_enforced", {}, m.gate.enforced ? 1 : 0);
  add("aftershock_gate_min_score", {}, m.gate.minScore);
  add("aftershock_gate_reasons", {}, m.gate.reasons.length);
  add("aftershock_suite_start_timestamp_seconds", {}, Math.floor(m.startedAt.getTime() / 1000));

  // One family after another, each with its HELP and TYPE (and UNIT where the name carries one), as both formats want.
  const blocks = [...families].map(([name, samples]) => {
    const unit = name.endsWith("_seconds") ? [`# UNIT ${name} seconds`] : [];
    return [`# HELP ${name} ${METRICS[name]}`, `# TYPE ${name} gauge`, ...unit, ...samples].join("\n");
  });
  return `${blocks.join("\n")}\n# EOF\n`;
}
