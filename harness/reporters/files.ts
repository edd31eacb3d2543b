import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { formatDuration } from "../../clusters/errors.js";
import type { PhaseRecord, RunJournal } from "../runner.js";
import { asExpected, expectedOutcome } from "../outcomes.js";
import type { Reporter } from "./reporter.js";

export type FileReport = "json" | "junit" | "html";

/** Writes journal.json, junit.xml and report.html for each run under `dir/<run-id>/`. */
export function fileReporter(dir: string, kinds: FileReport[], onWritten: (files: string[]) => void = () => {}): Reporter {
  return {
    name: `files(${kinds.join(",")})`,
    async onRunEnd(j) {
      const out = path.join(dir, `${j.scenario.id}-${j.runId}`);
      await mkdir(out, { recursive: true });
      const files: string[] = [];
      if (kinds.includes("json")) files.push(await write(path.join(out, "journal.json"), JSON.stringify(j, null, 2)));
      if (kinds.includes("junit")) files.push(await write(path.join(out, "junit.xml"), junitXml([j], j.scenario.id)));
      if (kinds.includes("html")) files.push(await write(path.join(out, "report.html"), htmlReport([j], `Aftershock: ${j.scenario.id}`)));
      onWritten(files);
    },
  };
}

async function write(file: string, content: string): Promise<string> {
  await writeFile(file, content);
  return file;
}

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
const secs = (ms: number) => (ms / 1000).toFixed(3);
const dur = (ms?: number) => (ms === undefined ? "—" : formatDuration(ms));

/** The phases CI sees as test cases: the run's two self-checks, and inject, symptoms, runbook, verify. */
const JUNIT_PHASES = ["symptoms-absent", "inject", "symptoms", "verify-fails", "runbook", "verify"] as const;

/** JUnit XML: one suite per run, one test case per phase that matters to CI. */
export function junitXml(runs: RunJournal[], name: string): string {
  const suites = runs.map((j) => {
    const cases = JUNIT_PHASES.map((n) => {
      const p = j.phases.find((x) => x.name === n);
      const time = p ? secs(p.endedAt - p.startedAt) : "0";
      const body = !p
        ? `<skipped message="${esc(`not reached: ${j.outcome}`)}"/>`
        : p.status === "failed"
          ? `<failure message="${esc(p.error ?? "failed")}" type="${esc(j.outcome)}">${esc(phaseText(p))}</failure>`
          : `<system-out>${esc(phaseText(p))}</system-out>`;
      return `    <testcase classname="${esc(suiteName(j))}" name="${n}" time="${time}">${body}</testcase>`;
    });
    // A variant that ends as expected (e.g. fault neutralised → fault-not-reproduced) is not a failure.
    const failures =
      asExpected(j) && j.variant ? 0 : j.phases.filter((p) => (JUNIT_PHASES as readonly string[]).includes(p.name) && p.status === "failed").length;
    const errored = ["errored", "aborted", "interrupted", "inconclusive"].includes(j.outcome) && !asExpected(j) ? 1 : 0;
    const props = [
      ["incident", j.scenario.source.incident],
      ["section", j.scenario.source.section],
      ["outcome", j.outcome],
      ["timeToDetectMs", String(j.timings.timeToDetectMs ?? "")],
      ["timeToRecoverMs", String(j.timings.timeToRecoverMs ?? "")],
      ["clusterCreateMs", String(j.timings.clusterCreateMs ?? "")],
      ["peakMemoryMiB", String(j.peakMemoryMiB ?? "")],
      ["expectedOutcome", expectedOutcome(j)],
      ["imageBuildMs", String(j.image?.built ? Math.round(j.image.ms) : "")],
    ]
      .map(([k, v]) => `      <property name="${k}" value="${esc(v!)}"/>`)
      .join("\n");
    return `  <testsuite name="${esc(suiteName(j))}" tests="${JUNIT_PHASES.length}" failures="${failures}" errors="${errored}" time="${secs(j.timings.totalMs)}" timestamp="${new Date(j.startedAt).toISOString()}">
    <properties>
${props}
    </properties>
${cases.join("\n")}
  </testsuite>`;
  });
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="${esc(name)}">\n${suites.join("\n")}\n</testsuites>\n`;
}

function phaseText(p: PhaseRecord): string {
  return [
    ...p.steps.map(
      (s) => `${s.ok ? "ok" : "FAILED"} ${s.title} (${dur(s.endedAt - s.startedAt)})${s.error ? `: ${s.error}` : ""}${s.output ? `\n${s.output}` : ""}`,
    ),
    ...p.probes.map((r) => `${r.ok ? "ok" : "FAILED"} ${r.held === undefined ? "" : r.held ? "(holds) " : "(unmet) "}${r.name}: ${r.observed}`),
  ].join("\n");
}

/** A run's name in reports: the scenario, and the variant when it is one. */
function suiteName(j: RunJournal): string {
  return j.variant ? `${j.scenario.id} (${j.variant.name})` : j.runbook ? `${j.scenario.id} (runbook ${j.runbook})` : j.scenario.id;
}

const COLORS: Record<string, string> = {
  cluster: "#8da0cb",
  setup: "#a6d854",
  "steady-state": "#66c2a5",
  "symptoms-absent": "#80b1d3",
  inject: "#e34a33",
  symptoms: "#fc8d62",
  "verify-fails": "#80b1d3",
  runbook: "#e78ac3",
  verify: "#1b9e77",
  teardown: "#b3b3b3",
};
const OUTCOME_COLORS: Record<string, string> = {
  passed: "#1b9e77",
  "data-lost": "#d95f02",
  "not-recovered": "#d62728",
  "fault-not-reproduced": "#9467bd",
  inconclusive: "#bcbd22",
};

/** The timeline of one run as an SVG Gantt chart: phases, and runbook/inject steps beneath them. */
export function timelineSvg(j: RunJournal): string {
  const total = Math.max(1, j.timings.totalMs);
  const W = 900,
    left = 150,
    rowH = 22;
  const rows: { label: string; start: number; end: number; color: string; failed: boolean }[] = [];
  for (const p of j.phases) {
    rows.push({ label: p.name, start: p.startedAt, end: p.endedAt, color: COLORS[p.name] ?? "#999", failed: p.status === "failed" });
    if (p.name === "runbook" || p.name === "inject") {
      for (const s of p.steps) rows.push({ label: `  ${s.title}`, start: s.startedAt, end: s.endedAt, color: COLORS[p.name] ?? "#999", failed: !s.ok });
    }
  }
  const x = (t: number) => left + (t / total) * (W - left - 70);
  const H = rows.length * rowH + 40;
  const bars = rows.map((r, i) => {
    const y = 10 + i * rowH;
    const w = Math.max(2, x(r.end) - x(r.start));
    const label = r.label.length > 24 ? r.label.slice(0, 23) + "…" : r.label;
    return (
      `<text x="4" y="${y + 14}" font-size="11" fill="#333">${esc(label)}</text>` +
      `<rect x="${x(r.start).toFixed(1)}" y="${y + 3}" width="${w.toFixed(1)}" height="${rowH - 8}" fill="${r.color}" ${r.failed ? 'stroke="#d62728" stroke-width="2"' : ""}><title>${esc(r.label.trim())}: ${dur(r.end - r.start)}</title></rect>` +
      `<text x="${(x(r.start) + w + 4).toFixed(1)}" y="${y + 14}" font-size="10" fill="#555">${dur(r.end - r.start)}</text>`
    );
  });
  const symptomMarks = j.phases
    .flatMap((p) => (p.name === "symptoms" ? p.probes : []))
    .filter((r) => r.firstOkAtMs !== undefined)
    .map(
      (r) =>
        `<line x1="${x(r.firstOkAtMs!).toFixed(1)}" x2="${x(r.firstOkAtMs!).toFixed(1)}" y1="6" y2="${H - 26}" stroke="#fc8d62" stroke-dasharray="3,3"><title>${esc(r.name)}</title></line>`,
    );
  const ticks = Array.from({ length: 6 }, (_, i) => (total * i) / 5).map(
    (t) => `<text x="${x(t).toFixed(1)}" y="${H - 8}" font-size="10" fill="#777" text-anchor="middle">${dur(t)}</text>`,
  );
  return `<svg xmlns="http://www.w3.org/2000/svg" class="timeline" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="timeline of ${esc(j.scenario.id)}">${bars.join("")}${symptomMarks.join("")}${ticks.join("")}</svg>`;
}

/** A self-contained HTML report (no external assets) for one or more runs. */
export function htmlReport(runs: RunJournal[], title: string): string {
  const summaryRows = runs
    .map(
      (
        j,
      ) => `<tr><td><a href="#${esc(j.runId)}">${esc(suiteName(j))}</a>${j.variant ? `<br><small>expected ${esc(j.variant.expected)}: ${asExpected(j) ? "as expected" : "<b>not as expected</b>"}</small>` : ""}</td><td>incident ${esc(j.scenario.source.incident)}, ${esc(j.scenario.source.section)}</td>
<td><span class="badge" style="background:${OUTCOME_COLORS[j.outcome] ?? "#7f7f7f"}">${esc(j.outcome)}</span></td><td>${dur(j.timings.timeToDetectMs)}</td><td>${dur(j.timings.timeToRecoverMs)}</td><td>${dur(j.timings.clusterCreateMs)}</td><td>${dur(j.timings.totalMs)}</td><td>${j.peakMemoryMiB !== undefined ? `${j.peakMemoryMiB} MiB` : "—"}</td>
<td>${esc(sentinelSummary(j))}</td><td>${esc(j.cluster?.name ?? "—")}${j.cluster?.shared ? `<br><small>shared: ${esc(j.cluster.shared)}</small>` : ""}</td></tr>`,
    )
    .join("\n");
  const sections = runs
    .map((j) => {
      const phases = j.phases
        .map(
          (
            p,
          ) => `<details ${p.status === "failed" ? "open" : ""}><summary><b>${esc(p.name)}</b> — ${esc(p.status)} in ${dur(p.endedAt - p.startedAt)}${p.budgetMs ? ` (budget ${dur(p.budgetMs)})` : ""}${p.error ? `: ${esc(p.error)}` : ""}</summary>
${p.steps.map((s) => `<div class="step ${s.ok ? "ok" : "bad"}">${s.ok ? "✓" : "✗"} ${esc(s.title)} <span class="t">${dur(s.endedAt - s.startedAt)}</span>${s.shows ? `<pre class="cmd">${esc(s.shows)}</pre>` : ""}${s.output ? `<pre>${esc(s.output)}</pre>` : ""}${s.error ? `<pre class="err">${esc(s.error)}</pre>` : ""}</div>`).join("\n")}
${p.probes.length ? `<table><tr><th>probe</th><th>expected</th><th>observed</th><th>at</th></tr>${p.probes.map((r) => `<tr class="${r.ok ? "ok" : "bad"}"><td>${r.ok ? "✓" : "✗"} ${r.held === undefined ? "" : r.held ? "holds: " : "unmet: "}${esc(r.name)}</td><td>${esc(r.expectation)}</td><td><code>${esc(r.observed)}</code></td><td>${dur(r.firstOkAtMs)}</td></tr>`).join("")}</table>` : ""}
</details>`,
        )
        .join("\n");
      return `<section id="${esc(j.runId)}"><h2>${esc(suiteName(j))} <span class="badge" style="background:${OUTCOME_COLORS[j.outcome] ?? "#7f7f7f"}">${esc(j.outcome)}</span></h2>
<p class="title">${esc(j.scenario.title)}</p><p>${esc(j.scenario.summary)}</p>
<p class="meta">run ${esc(j.runId)} · ${new Date(j.startedAt).toISOString()} · cluster ${esc(j.cluster?.name ?? "—")} (${esc(j.cluster?.kubernetesVersion ?? "")}, ${j.cluster?.nodes.length ?? 0} nodes${j.cluster?.shared ? `, shared: ${esc(j.cluster.shared)}` : ""}) · source: incident ${esc(j.scenario.source.incident)}, ${esc(j.scenario.source.section)}</p>
<p class="verdict"><b>${esc(j.outcome)}</b>: ${esc(j.reason)}</p>${j.image?.built ? `<p class="meta">node image ${esc(j.image.ref)} built before the run in ${dur(j.image.ms)}, outside the timeline</p>` : ""}
<div class="kpis"><div><span>time to detect</span><b>${dur(j.timings.timeToDetectMs)}</b></div><div><span>all symptoms</span><b>${dur(j.timings.timeToConfirmMs)}</b></div><div><span>time to recover</span><b>${dur(j.timings.timeToRecoverMs)}</b></div><div><span>cluster create</span><b>${dur(j.timings.clusterCreateMs)}</b></div><div><span>total</span><b>${dur(j.timings.totalMs)}</b></div><div><span>peak memory</span><b>${j.peakMemoryMiB !== undefined ? `${j.peakMemoryMiB} MiB` : "—"}</b></div></div>
<h3>Timeline</h3>${timelineSvg(j)}
<h3>Phases</h3>${phases}
<h3>Evidence</h3><pre class="evidence">${esc(j.evidence.map((e) => `+${dur(e.at).padStart(7)}  ${e.source}: ${e.text}`).join("\n"))}</pre></section>`;
    })
    .join("\n<hr>\n");
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title><style>
body{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:1100px}table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ddd;padding:4px 8px;font-size:13px;text-align:left;vertical-align:top}
.badge{color:#fff;border-radius:4px;padding:2px 8px;font-size:13px}.kpis{display:flex;gap:12px;margin:12px 0}.kpis div{border:1px solid #ddd;border-radius:6px;padding:8px 12px;min-width:110px}.kpis span{display:block;font-size:11px;color:#666}.kpis b{font-size:20px}
pre{background:#f6f8fa;padding:8px;overflow-x:auto;font-size:12px}pre.cmd{background:#272822;color:#f8f8f2}pre.err{background:#fdecea}.bad{color:#b00}.step{margin:6px 0}.t{color:#777;font-size:12px}details{margin:6px 0}.meta{color:#666;font-size:13px}.title{font-style:italic}
</style></head><body><h1>${esc(title)}</h1>
<table><tr><th>scenario</th><th>source</th><th>outcome</th><th>time to detect</th><th>time to recover</th><th>cluster create</th><th>total</th><th>peak memory</th><th>sentinels</th><th>cluster</th></tr>${summaryRows}</table>
${runbookComparison(runs)}
${sections}</body></html>`;
}

/** Where one scenario ran with several of its runbooks: the runbooks side by side (outcome, time to recover, data). */
function runbookComparison(runs: RunJournal[]): string {
  const byScenario = new Map<string, RunJournal[]>();
  for (const j of runs) if (j.runbook) byScenario.set(j.scenario.id, [...(byScenario.get(j.scenario.id) ?? []), j]);
  return [...byScenario.entries()]
    .filter(([, js]) => new Set(js.map((j) => j.runbook)).size > 1)
    .map(([id, js]) => {
      const rows = js.map((j) => {
        const rb = j.phases.find((p) => p.name === "runbook");
        return `<tr><td><a href="#${esc(j.runId)}">${esc(j.runbook!)}</a></td><td><span class="badge" style="background:${OUTCOME_COLORS[j.outcome] ?? "#7f7f7f"}">${esc(j.outcome)}</span>${j.variant ? `<br><small>expected ${esc(j.variant.expected)}: ${asExpected(j) ? "as expected" : "<b>not as expected</b>"}</small>` : ""}</td><td>${rb ? esc(rb.steps.map((s) => s.title).join(" → ")) : "—"}</td><td>${dur(rb ? rb.endedAt - rb.startedAt : undefined)}</td><td>${dur(j.timings.timeToRecoverMs)}</td><td>${esc(sentinelSummary(j))}</td></tr>`;
      });
      return `<h2>${esc(id)}: runbooks compared</h2><table><tr><th>runbook</th><th>outcome</th><th>steps</th><th>runbook time</th><th>time to recover</th><th>data kept / lost</th></tr>${rows.join("")}</table>`;
    })
    .join("\n");
}

function sentinelSummary(j: RunJournal): string {
  const v = j.phases.find((p) => p.name === "verify");
  const s = v?.probes.filter((p) => p.kind === "sentinel" || p.kind === "recovery-point") ?? [];
  if (!s.length) return "—";
  return s.map((p) => (p.kind === "recovery-point" ? `lost by design, after the backup: ${p.observed}` : `${p.ok ? "✓" : "✗"} ${p.observed}`)).join("; ");
}
