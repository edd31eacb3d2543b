import { formatDuration } from "../../clusters/errors.js";
import { describeVersion } from "../../clusters/versions.js";
import type { RunJournal } from "../engine/journal.js";
import { asExpected } from "../engine/outcomes.js";
import { dur, esc, runName } from "./files.js";

/** The version a run ran on. */
const ranOn = (j: RunJournal) => j.kubernetesVersion ?? j.cluster?.kubernetesVersion ?? "?";

/** A step that differed between versions: failed on one and not the other, missing on one, or ≥ 2× and ≥ 5 s slower. */
export interface StepDifference {
  step: string;
  byVersion: Record<string, string>;
}

export interface MatrixRow {
  key: string;
  byVersion: Record<string, RunJournal | undefined>;
  differences: StepDifference[];
}

/** The runs of a version matrix, one row per scenario (variant, runbook), one column per version, in the order run. */
export function versionMatrix(journals: RunJournal[]): { versions: string[]; rows: MatrixRow[] } {
  const versions = [...new Set(journals.map(ranOn))];
  const keys = [...new Set(journals.map(runName))];
  const rows = keys.map((key) => {
    const byVersion = Object.fromEntries(versions.map((v) => [v, journals.find((j) => runName(j) === key && ranOn(j) === v)]));
    return { key, byVersion, differences: stepDifferences(byVersion) };
  });
  return { versions, rows };
}

function stepDifferences(byVersion: Record<string, RunJournal | undefined>): StepDifference[] {
  const steps = (j: RunJournal | undefined) => j?.phases.find((p) => p.name === "runbook")?.steps ?? [];
  const titles = [...new Set(Object.values(byVersion).flatMap((j) => steps(j).map((s) => s.title)))];
  const out: StepDifference[] = [];
  for (const title of titles) {
    const seen = Object.entries(byVersion).map(([v, j]) => [v, steps(j).find((s) => s.title === title)] as const);
    const ms = seen.flatMap(([, s]) => (s ? [s.endedAt - s.startedAt] : []));
    const failedSomewhere = seen.some(([, s]) => s && !s.ok) && seen.some(([, s]) => s?.ok);
    const missing = seen.some(([, s]) => !s) && seen.some(([, s]) => s);
    const slower = ms.length > 1 && Math.max(...ms) >= 2 * Math.min(...ms) && Math.max(...ms) - Math.min(...ms) >= 5000;
    if (!failedSomewhere && !missing && !slower) continue;
    out.push({
      step: title,
      byVersion: Object.fromEntries(
        seen.map(([v, s]) => [v, s ? `${s.ok ? "ok" : `failed: ${s.error ?? ""}`} in ${formatDuration(s.endedAt - s.startedAt)}` : "not run"]),
      ),
    });
  }
  return out;
}

/** The suite report's side-by-side section when the suite ran on more than one version; empty otherwise. */
export function versionMatrixSection(journals: RunJournal[]): string {
  const { versions, rows } = versionMatrix(journals);
  if (versions.length < 2) return "";
  const cell = (j: RunJournal | undefined) =>
    j
      ? `<td class="${asExpected(j) ? "ok" : "bad"}">${esc(j.outcome)}</td><td>${dur(j.timings.timeToDetectMs)}</td><td>${dur(j.timings.timeToRecoverMs)}</td>`
      : `<td colspan="3">not run</td>`;
  const head1 = versions.map((v) => `<th colspan="3">${esc(v)}</th>`).join("");
  const head2 = versions.map(() => "<th>outcome</th><th>detect</th><th>recover</th>").join("");
  const body = rows
    .map((r) => {
      const diffs = r.differences.length
        ? `<ul>${r.differences.map((d) => `<li>${esc(d.step)}: ${versions.map((v) => `${esc(v)} ${esc(d.byVersion[v] ?? "")}`).join("; ")}</li>`).join("")}</ul>`
        : "—";
      return `<tr><td>${esc(r.key)}</td>${versions.map((v) => cell(r.byVersion[v])).join("")}<td>${diffs}</td></tr>`;
    })
    .join("\n");
  return `<h2>Versions side by side</h2>
<ul class="versions">${versions.map((v) => `<li>${esc(describeVersion(v))}</li>`).join("")}</ul>
<table class="matrix"><caption>Each scenario on each version: its outcome, time to detect and to recover; runbook steps that differed (failed on one version only, ran on one only, or took at least twice as long and 5 s more).</caption>
<tr><th rowspan="2">scenario</th>${head1}<th rowspan="2">runbook steps that differed</th></tr>
<tr>${head2}</tr>
${body}
</table>`;
}

/** One console line per row of a matrix: "etcd-storage-lost: v1.29.15 passed (detect 5.2s, recover 51s) · v1.37.2 passed (…)". */
export function versionMatrixLines(journals: RunJournal[]): string {
  const { versions, rows } = versionMatrix(journals);
  if (versions.length < 2) return "";
  return rows
    .map(
      (r) =>
        `  ${r.key}: ` +
        versions
          .map((v) => {
            const j = r.byVersion[v];
            return j ? `${v} ${j.outcome} (detect ${dur(j.timings.timeToDetectMs)}, recover ${dur(j.timings.timeToRecoverMs)})` : `${v} not run`;
          })
          .join(" · ") +
        (r.differences.length ? `; steps that differed: ${r.differences.map((d) => d.step).join(", ")}` : "") +
        "\n",
    )
    .join("");
}
