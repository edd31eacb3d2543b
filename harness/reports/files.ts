import { workloadLines } from "../model/workload.js";
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { formatDuration } from "../../clusters/errors.js";
import type { LoadRecord } from "../load/streams.js";
import { percent, type LoadSecond, type LoadSummary } from "../load/load-series.js";
import type { PhaseName, PhaseRecord, RunJournal } from "../engine/journal.js";
import { asExpected, expectedOutcome } from "../engine/outcomes.js";
import { versionSuffix } from "../kit/versions.js";
import type { Reporter } from "../engine/reporter.js";
import { scoreRun, type RunScore } from "./score.js";
import { conformanceOk, conformanceSummary } from "../../clusters/conformance/run.js";
import { isFailure, type SpecState } from "../../clusters/conformance/junit.js";

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

export const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
const secs = (ms: number) => (ms / 1000).toFixed(3);
export const dur = (ms?: number) => (ms === undefined ? "—" : formatDuration(ms));

/** The phases CI sees as test cases: the run's two self-checks, and inject, symptoms, runbook, verify. */
const JUNIT_PHASES = ["symptoms-absent", "inject", "symptoms", "verify-fails", "runbook", "verify"] as const;

/** JUnit XML: one suite per run, one test case per phase that matters to CI. */
export function junitXml(runs: RunJournal[], name: string): string {
  const suites = runs.map((j) => {
    const score = scoreRun(j);
    const cases = JUNIT_PHASES.map((n) => {
      const p = j.phases.find((x) => x.name === n);
      const time = p ? secs(p.endedAt - p.startedAt) : "0";
      const load = j.load?.length && n === loadCase(j) ? j.load : [];
      const loadOut = load.map(loadLine).join("\n");
      const body = !p
        ? `<skipped message="${esc(`not reached: ${j.outcome}`)}"/>${loadOut ? `<system-out>${esc(loadOut)}</system-out>` : ""}`
        : p.status === "failed"
          ? `<failure message="${esc(p.error ?? "failed")}" type="${esc(j.outcome)}">${esc(phaseText(p))}</failure>${loadOut ? `<system-out>${esc(loadOut)}</system-out>` : ""}`
          : `<system-out>${esc([phaseText(p), loadOut].filter(Boolean).join("\n"))}</system-out>`;
      const open = `    <testcase classname="${esc(suiteName(j))}" name="${n}" time="${time}">`;
      if (!load.length) return `${open}${body}</testcase>`;
      const props = load
        .flatMap(loadProperties)
        .map(([k, v]) => `        <property name="${esc(k)}" value="${esc(v)}"/>`)
        .join("\n");
      return `${open}\n      <properties>\n${props}\n      </properties>\n      ${body}\n    </testcase>`;
    });
    // A variant that ends as expected (e.g. fault neutralised → fault-not-reproduced) is not a failure.
    const failures =
      asExpected(j) && j.variant ? 0 : j.phases.filter((p) => (JUNIT_PHASES as readonly string[]).includes(p.name) && p.status === "failed").length;
    const errored = ["errored", "aborted", "interrupted", "inconclusive"].includes(j.outcome) && !asExpected(j) ? 1 : 0;
    const props = [
      ["incident", j.scenario.source.incident],
      ["kubernetesVersion", j.kubernetesVersion ?? j.cluster?.kubernetesVersion ?? ""],
      ["section", j.scenario.source.section],
      ["outcome", j.outcome],
      ["timeToDetectMs", String(j.timings.timeToDetectMs ?? "")],
      ["timeToRecoverMs", String(j.timings.timeToRecoverMs ?? "")],
      ["clusterCreateMs", String(j.timings.clusterCreateMs ?? "")],
      ["peakMemoryMiB", String(j.peakMemoryMiB ?? "")],
      ["expectedOutcome", expectedOutcome(j)],
      ["imageBuildMs", String(j.image?.built ? Math.round(j.image.ms) : "")],
      ...scoreProperties(score),
    ]
      .map(([k, v]) => `      <property name="${k}" value="${esc(v!)}"/>`)
      .join("\n");
    // The team's workload: a test case per SLO window, failing when breached, so CI can gate on it.
    const w = j.workload;
    const workloadCases = (w?.slos ?? []).map(
      (slo) =>
        `    <testcase classname="${esc(suiteName(j))}" name="${esc(`workload ${w!.name}: SLO ${slo.window}`)}" time="0">` +
        (slo.ok
          ? `<system-out>${esc(`met (${slo.objective}): ${slo.observed}`)}</system-out>`
          : `<failure message="${esc(`breached (${slo.objective}): ${slo.observed}`)}" type="workload-slo-breached">${esc(workloadLines(w!).join("\n"))}</failure>`) +
        `</testcase>`,
    );
    cases.push(...workloadCases);
    const workloadFailures = (w?.slos ?? []).filter((x) => !x.ok).length;
    // Users' SLOs through and after the fault: a test case each, so that CI names the SLO that failed. A run meant
    // to end otherwise (--prove, a runbook that loses data) that did is not failed by them: breaching is its point.
    const meantToFail = asExpected(j) && expectedOutcome(j) !== "passed";
    const sloParts = score.parts.filter((p) => p.kind === "users");
    for (const p of sloParts) {
      const text = `score ${p.value} (weight ${p.weight}): ${p.detail}`;
      cases.push(
        `    <testcase classname="${esc(suiteName(j))}" name="${esc(`SLO ${p.name}`)}" time="0">` +
          (p.ok || meantToFail
            ? `<system-out>${esc(meantToFail && !p.ok ? `${text} (this run is meant to end ${expectedOutcome(j)})` : text)}</system-out>`
            : `<failure message="${esc(`breached: ${p.detail}`)}" type="slo-breached">${esc(text)}</failure>`) +
          `</testcase>`,
      );
    }
    const sloFailures = meantToFail ? 0 : sloParts.filter((p) => !p.ok).length;
    // --conformance: a test case per Kubernetes conformance spec that ran, and one for the suite when it broke.
    const conf = conformanceCases(j);
    cases.push(...conf.cases);
    return `  <testsuite name="${esc(suiteName(j))}" tests="${JUNIT_PHASES.length + workloadCases.length + sloParts.length + conf.cases.length}" failures="${failures + workloadFailures + sloFailures + conf.failures}" errors="${errored}" time="${secs(j.timings.totalMs)}" timestamp="${new Date(j.startedAt).toISOString()}">
    <properties>
${props}
    </properties>
${cases.join("\n")}
  </testsuite>`;
  });
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="${esc(name)}">\n${suites.join("\n")}\n</testsuites>\n`;
}

/** The conformance specs of a run as JUnit test cases ("conformance: <spec>"), and how many of them failed. */
function conformanceCases(j: RunJournal): { cases: string[]; failures: number } {
  const c = j.conformance;
  if (!c) return { cases: [], failures: 0 };
  const open = (name: string, ms: number) => `    <testcase classname="${esc(suiteName(j))}" name="${esc(`conformance: ${name}`)}" time="${secs(ms)}">`;
  const cases = c.specs.map(
    (s) =>
      open(s.name, s.ms) +
      (isFailure(s.state)
        ? `<failure message="${esc(s.message ?? s.state)}" type="${esc(s.state)}"/>`
        : s.state === "passed"
          ? ""
          : `<skipped message="${esc(s.message ?? s.state)}"/>`) +
      `</testcase>`,
  );
  const broken = [...c.suiteFailures.map((f) => `${f.node} ${f.state}${f.message ? `: ${f.message}` : ""}`), ...(c.error ? [c.error] : [])];
  if (broken.length) cases.push(`${open("the suite", c.ms)}<failure message="${esc(broken.join("; "))}" type="conformance-suite"/></testcase>`);
  return { cases, failures: c.specs.filter((s) => isFailure(s.state)).length + (broken.length ? 1 : 0) };
}

/** Kubernetes' conformance specs after the recovery (--conformance): the verdict, each spec, the names not run. */
function conformanceSection(j: RunJournal): string {
  const c = j.conformance;
  if (!c) return "";
  const ok = conformanceOk(c);
  const order = (s: { state: SpecState }) => (isFailure(s.state) ? 0 : s.state === "passed" ? 2 : 1);
  const rows = [...c.specs]
    .sort((a, b) => order(a) - order(b))
    .map(
      (s) =>
        `<tr class="${isFailure(s.state) ? "bad" : "ok"}"><td>${isFailure(s.state) ? "✗" : s.state === "passed" ? "✓" : "·"} ${esc(s.state)}</td><td>${esc(s.name)}${s.unlisted ? " <small>(not in the curated list)</small>" : ""}</td><td>${dur(s.ms)}</td><td>${s.message ? `<code>${esc(s.message)}</code>` : ""}</td></tr>`,
    )
    .join("");
  const notRun = c.notRun.length ? `<p class="meta">not run (no spec of this e2e.test has the name, or the suite stopped first): ${esc(c.notRun.join("; "))}</p>` : "";
  const broken = [...c.suiteFailures.map((f) => `${f.node} ${f.state}${f.message ? `: ${f.message}` : ""}`), ...(c.error ? [c.error] : [])];
  return `\n<h3>Kubernetes conformance after recovery <span class="badge" style="background:${ok ? "#2e7d32" : "#c62828"}">${ok ? "passed" : "failed"}</span></h3>
<p>${esc(conformanceSummary(c))}</p>${broken.length ? `<pre class="err">${esc(broken.join("\n"))}</pre>` : ""}
<p class="meta">curated [Conformance] specs that need no image but the node's pause (clusters/conformance/specs.ts), estimated ${dur(c.estimateMs)}, --ginkgo.timeout ${dur(c.timeoutMs)}; ${c.notSelected} specs of the binary not selected · ginkgo's report <code>${esc(c.files.junit)}</code> · output <code>${esc(c.files.log)}</code></p>
<table><tr><th>state</th><th>spec</th><th>time</th><th>why</th></tr>${rows}</table>${notRun}`;
}

/** The score as suite properties: resilienceScore, then score.<part> and score.<part>.weight for every part. */
function scoreProperties(s: RunScore): [string, string][] {
  return [["resilienceScore", String(s.score)], ...s.parts.flatMap((p): [string, string][] => [[`score.${p.name}`, String(p.value)], [`score.${p.name}.weight`, String(p.weight)]])];
}

/** The run's score: every part with its value, weight and why, and the weighted mean. */
function scoreTable(j: RunJournal): string {
  const s = scoreRun(j);
  const rows = s.parts
    .map((p) => `<tr class="${p.ok ? "ok" : "bad"}"><td>${esc(p.name)}</td><td>${esc(p.kind)}</td><td><b>${p.value}</b></td><td>${p.weight}</td><td>${esc(p.detail)}</td></tr>`)
    .join("");
  return `<h3>Resilience score: ${s.score}</h3><table class="score"><tr><th>part</th><th>kind</th><th>value (0–100)</th><th>weight</th><th>why</th></tr>${rows}</table><p class="meta">score = ⌊Σ weight × value / Σ weight⌋; see the README, "Resilience score and the gate"</p>`;
}

/** The test case that carries a run's load figures: the last of JUNIT_PHASES the run reached (verify, in a run that got there). */
function loadCase(j: RunJournal): string {
  return [...JUNIT_PHASES].reverse().find((n) => j.phases.some((p) => p.name === n)) ?? JUNIT_PHASES[0];
}

/** A load stream's figures as JUnit properties: load.<name>.requests, .availability (0..1), .slo.<window> (met | breached), … */
function loadProperties(l: LoadRecord): [string, string][] {
  const k = (s: string) => `load.${l.name}.${s}`;
  const w = l.worstSecond;
  return [
    [k("requests"), String(l.requests)],
    [k("errors"), String(l.errors)],
    [k("availability"), l.availability.toFixed(4)],
    [k("p99_ms"), String(Math.round(l.p99Ms * 10) / 10)],
    [k("worst_second_availability"), w ? (w.ok / w.requests).toFixed(4) : ""],
    [k("worst_second_at_ms"), w ? String(w.t) : ""],
    [k("error_window_ms"), String(l.errorWindowMs)],
    ...l.slos.map((s): [string, string] => [k(`slo.${s.window}`), s.ok ? "met" : "breached"]),
  ];
}

/** One plain-text line per load stream, for the test case's system-out. */
function loadLine(l: LoadRecord): string {
  const slos = l.slos.map((s) => `${s.window} ${s.objective}: ${s.ok ? "met" : "BREACHED"}`).join(", ");
  return (
    `load ${l.name} (${l.generator}, ${l.ratePerSecond}/s ${l.target}): ${l.requests - l.errors}/${l.requests} ok = ${percent(l.availability)}, p99 ${lat(l.p99Ms)}, ` +
    `worst second ${worstText(l.worstSecond)}, error window ${formatDuration(l.errorWindowMs)}${l.topErrors.length ? ` (${l.topErrors.join(", ")})` : ""}${slos ? `; SLO ${slos}` : ""}`
  );
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
/** A run's name without its version: the scenario, and its variant or runbook. */
export function runName(j: RunJournal): string {
  return j.variant ? `${j.scenario.id} (${j.variant.name})` : j.runbook ? `${j.scenario.id} (runbook ${j.runbook})` : j.scenario.id;
}

/** A run's name in reports and JUnit: runName, and the version when it is not the default. */
function suiteName(j: RunJournal): string {
  return runName(j) + versionSuffix(j.kubernetesVersion ?? j.cluster?.kubernetesVersion);
}

const COLORS: Record<string, string> = {
  cluster: "#8da0cb",
  preflight: "#b3b3b3",
  setup: "#a6d854",
  "steady-state": "#66c2a5",
  "symptoms-absent": "#80b1d3",
  inject: "#e34a33",
  symptoms: "#fc8d62",
  "verify-fails": "#80b1d3",
  runbook: "#e78ac3",
  verify: "#1b9e77",
  conformance: "#3182bd",
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
  const { x, W } = timeAxis(j);
  const rowH = 22;
  const rows: { label: string; start: number; end: number; color: string; failed: boolean }[] = [];
  for (const p of j.phases) {
    rows.push({ label: p.name, start: p.startedAt, end: p.endedAt, color: COLORS[p.name] ?? "#999", failed: p.status === "failed" });
    if (p.name === "runbook" || p.name === "inject") {
      for (const s of p.steps) rows.push({ label: `  ${s.title}`, start: s.startedAt, end: s.endedAt, color: COLORS[p.name] ?? "#999", failed: !s.ok });
    }
  }
  // Both ends of time to detect: from the moment the fault began to act to the first symptom seen.
  const t = j.timings;
  if (t.faultStartedAtMs !== undefined && t.firstSymptomAtMs !== undefined) {
    rows.push({ label: "time to detect", start: t.faultStartedAtMs, end: t.firstSymptomAtMs, color: COLORS.symptoms ?? "#fc8d62", failed: false });
  }
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
  return `<svg xmlns="http://www.w3.org/2000/svg" class="timeline" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="timeline of ${esc(j.scenario.id)}">${bars.join("")}${symptomMarks.join("")}${timeTicks(j, H - 8)}</svg>`;
}

/**
 * The run's time axis, shared by the timeline and the load charts so that inject, symptoms, runbook and
 * verify line up vertically: ms since the run started → x, over the same width and margins.
 */
function timeAxis(j: RunJournal): { x: (t: number) => number; total: number; W: number; left: number; right: number } {
  const total = Math.max(1, j.timings.totalMs);
  const W = 900,
    left = 150,
    right = W - 70;
  return { x: (t: number) => left + (t / total) * (right - left), total, W, left, right };
}

/** Six labels along the time axis, at `y`. */
function timeTicks(j: RunJournal, y: number): string {
  const { x, total } = timeAxis(j);
  return Array.from({ length: 6 }, (_, i) => (total * i) / 5)
    .map((t) => `<text x="${x(t).toFixed(1)}" y="${y}" font-size="10" fill="#777" text-anchor="middle">${dur(t)}</text>`)
    .join("");
}

// ---- load ----------------------------------------------------------------------------------------------

/** A latency in ms as the report writes it: "24ms", "2000ms", "1.3ms". */
const lat = (ms: number) => `${ms < 10 ? ms.toFixed(1) : Math.round(ms)}ms`;
const worstText = (w?: LoadSecond) => (w ? `+${dur(w.t)}: ${w.ok}/${w.requests} ok, p99 ${lat(w.p99Ms)}` : "—");
const loadTitle = (l: LoadRecord) => `load ${l.name}: ${l.ratePerSecond}/s ${l.target}`;

/** The moments the load charts mark: the fault, the first symptom, the runbook (start and end), verification. */
export function loadMarks(j: RunJournal): { label: string; t: number; color: string }[] {
  const at = (n: PhaseName) => j.phases.find((p) => p.name === n);
  const [inject, symptoms, runbook, verify] = [at("inject"), at("symptoms"), at("runbook"), at("verify")];
  const firstSymptom = Math.min(...(symptoms?.probes.flatMap((r) => (r.firstOkAtMs === undefined ? [] : [r.firstOkAtMs])) ?? []));
  return [
    ...(inject ? [{ label: "inject", t: inject.startedAt, color: COLORS.inject! }] : []),
    ...(Number.isFinite(firstSymptom)
      ? [{ label: "first symptom", t: firstSymptom, color: COLORS.symptoms! }]
      : symptoms
        ? [{ label: "symptoms", t: symptoms.startedAt, color: COLORS.symptoms! }]
        : []),
    ...(runbook
      ? [
          { label: "runbook", t: runbook.startedAt, color: COLORS.runbook! },
          { label: "runbook end", t: runbook.endedAt, color: COLORS.runbook! },
        ]
      : []),
    ...(verify ? [{ label: "verify", t: verify.startedAt, color: COLORS.verify! }] : []),
  ];
}

/** 1, 2 or 5 × 10ⁿ, the first at or above v: the top of the latency axis. */
function niceCeil(v: number): number {
  const p = 10 ** Math.floor(Math.log10(Math.max(v, 1)));
  return [1, 2, 5, 10].map((m) => m * p).find((n) => n >= v) ?? 10 * p;
}

/**
 * One load stream over the run, on the timeline's time axis: per second, the share of requests that
 * succeeded (green, with the failed share in red above it) and the p99 latency (a line, right-hand axis in
 * ms), and the run's marks (inject, first symptom, runbook start and end, verify).
 */
export function loadSvg(j: RunJournal, l: LoadRecord): string {
  const { x, total, W, left, right } = timeAxis(j);
  const top = 40,
    plotH = 100,
    bottom = top + plotH,
    H = bottom + 22;
  const series = l.series.filter((s) => s.t >= 0 && s.t < total && s.requests > 0);
  const maxMs = niceCeil(Math.max(1, ...series.map((s) => s.p99Ms)));
  const yOk = (share: number) => bottom - share * plotH;
  const yMs = (ms: number) => bottom - (Math.min(ms, maxMs) / maxMs) * plotH;
  const f = (n: number) => n.toFixed(1);
  const grid = [0, 0.5, 1]
    .map(
      (g) =>
        `<line x1="${left}" x2="${right}" y1="${f(yOk(g))}" y2="${f(yOk(g))}" stroke="#ddd"/>` +
        `<text x="${left - 4}" y="${f(yOk(g) + 3)}" font-size="10" fill="#1b7f5f" text-anchor="end">${g * 100}%</text>` +
        `<text x="${right + 4}" y="${f(yOk(g) + 3)}" font-size="10" fill="#253494">${Math.round(g * maxMs)} ms</text>`,
    )
    .join("");
  const bars = series
    .map((s) => {
      const bx = x(s.t),
        bw = Math.max(0.5, x(s.t + 1000) - bx - (x(1000) - x(0) >= 3 ? 1 : 0));
      const failed = s.ok < s.requests;
      const okTop = yOk(s.ok / s.requests);
      return (
        `<g class="sec ${failed ? "err" : "ok"}"><title>+${dur(s.t)}: ${s.ok}/${s.requests} ok, p50 ${lat(s.p50Ms)}, p99 ${lat(s.p99Ms)}</title>` +
        `<rect x="${f(bx)}" y="${f(okTop)}" width="${f(bw)}" height="${f(bottom - okTop)}" fill="#66c2a5"/>` +
        (failed ? `<rect x="${f(bx)}" y="${top}" width="${f(bw)}" height="${f(okTop - top)}" fill="#d62728"/>` : "") +
        `</g>`
      );
    })
    .join("");
  // The p99 line, broken where seconds are missing (the generator had nothing to report).
  const runs: LoadSecond[][] = [];
  for (const s of series) {
    const last = runs.at(-1);
    if (last && last.at(-1)!.t === s.t - 1000) last.push(s);
    else runs.push([s]);
  }
  const p99 = runs
    .map(
      (r) =>
        `<polyline class="p99" fill="none" stroke="#253494" stroke-width="1.5" points="${r.map((s) => `${f(x(s.t + 500))},${f(yMs(s.p99Ms))}`).join(" ")}"/>`,
    )
    .join("");
  // Mark labels in up to three rows above the plot, so close marks (inject, first symptom) stay legible.
  const rowEnds = [-Infinity, -Infinity, -Infinity];
  const marks = loadMarks(j)
    .map((m, i) => {
      const mx = x(m.t);
      const width = m.label.length * 5.5 + 6;
      const free = rowEnds.findIndex((e) => e <= mx);
      const row = free < 0 ? i % 3 : free;
      const anchorEnd = mx + width > W;
      rowEnds[row] = anchorEnd ? mx : mx + width;
      const ly = 10 + row * 11;
      return (
        `<g class="mark"><title>${esc(m.label)} at +${dur(m.t)}</title>` +
        `<line x1="${f(mx)}" x2="${f(mx)}" y1="${ly + 2}" y2="${bottom}" stroke="${m.color}" stroke-width="1.5"${m.label.endsWith("end") ? ' stroke-dasharray="4,3"' : ""}/>` +
        `<text x="${f(anchorEnd ? mx - 2 : mx + 2)}" y="${ly}" font-size="10" fill="${m.color}"${anchorEnd ? ' text-anchor="end"' : ""}>${esc(m.label)}</text></g>`
      );
    })
    .join("");
  const legend =
    `<rect x="4" y="${top + 4}" width="10" height="10" fill="#66c2a5"/><text x="18" y="${top + 13}" font-size="10" fill="#333">ok share / s</text>` +
    `<rect x="4" y="${top + 20}" width="10" height="10" fill="#d62728"/><text x="18" y="${top + 29}" font-size="10" fill="#333">failed share / s</text>` +
    `<line x1="4" x2="14" y1="${top + 41}" y2="${top + 41}" stroke="#253494" stroke-width="1.5"/><text x="18" y="${top + 45}" font-size="10" fill="#333">p99 latency, right</text>`;
  const title = esc(loadTitle(l));
  return `<svg xmlns="http://www.w3.org/2000/svg" class="load" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${title}"><title>${title}</title>${grid}${bars}${p99}${marks}${legend}${timeTicks(j, H - 8)}</svg>`;
}

/** Before, during and after the fault: what users saw, and whether each window met its SLO. */
function loadTable(l: LoadRecord): string {
  const rows = (["before", "during", "after"] as const).map((w) => {
    const s: LoadSummary | undefined = l.windows[w];
    const slo = l.slos.find((x) => x.window === w);
    const sloCell = slo ? `<td class="${slo.ok ? "ok" : "bad"}">${esc(slo.objective)}: ${slo.ok ? "met" : "<b>breached</b>"}</td>` : "<td>—</td>";
    if (!s) return `<tr><td>${w}</td><td colspan="5">not reached</td>${sloCell}</tr>`;
    return `<tr><td>${w} <small>${dur(s.fromMs)} → ${dur(s.toMs)}</small></td><td>${s.requests}</td><td>${percent(s.availability)}</td><td>${lat(s.p50Ms)}</td><td>${lat(s.p99Ms)}</td><td>${worstText(s.worst)}</td>${sloCell}</tr>`;
  });
  return `<table class="load"><tr><th>window</th><th>requests</th><th>ok %</th><th>p50</th><th>p99</th><th>worst second</th><th>SLO</th></tr>${rows.join("")}</table>`;
}

/** The run's load streams, one chart, table and total line each, under the timeline ("" without load). */
function loadSection(j: RunJournal): string {
  if (!j.load?.length) return "";
  const streams = j.load.map(
    (l) => `<div class="load"><h4>${esc(loadTitle(l))}</h4>${loadSvg(j, l)}
${loadTable(l)}
<p class="meta">${esc(l.generator)}, timeout ${dur(l.timeoutMs)} · total ${l.requests} requests, ${l.errors} errors (${percent(l.availability)} ok), p99 ${lat(l.p99Ms)} · error window ${formatDuration(l.errorWindowMs)} · top errors: ${l.topErrors.length ? esc(l.topErrors.join(", ")) : "none"}</p></div>`,
  );
  return `\n<h3>Load</h3>${streams.join("\n")}`;
}

/**
 * A self-contained HTML report (no external assets) for one or more runs. `more` is HTML a suite adds under the
 * summary table (trends over earlier suite runs, repeated runs); without it a report is as it always was.
 */
export function htmlReport(runs: RunJournal[], title: string, more = ""): string {
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
<p class="verdict"><b>${esc(j.outcome)}</b>: ${esc(j.reason)}</p>${j.image?.built ? `<p class="meta">node image ${esc(j.image.ref)} built before the run in ${dur(j.image.ms)}, outside the timeline</p>` : ""}${originsTable(j)}
<div class="kpis"><div><span>time to detect</span><b>${dur(j.timings.timeToDetectMs)}</b></div><div><span>all symptoms</span><b>${dur(j.timings.timeToConfirmMs)}</b></div><div><span>time to recover</span><b>${dur(j.timings.timeToRecoverMs)}</b></div><div><span>cluster create</span><b>${dur(j.timings.clusterCreateMs)}</b></div><div><span>total</span><b>${dur(j.timings.totalMs)}</b></div><div><span>peak memory</span><b>${j.peakMemoryMiB !== undefined ? `${j.peakMemoryMiB} MiB` : "—"}</b></div></div>
<h3>Timeline</h3>${timelineSvg(j)}${workloadSection(j)}${loadSection(j)}${conformanceSection(j)}
${scoreTable(j)}
<h3>Phases</h3>${phases}
<h3>Evidence</h3><pre class="evidence">${esc(j.evidence.map((e) => `+${dur(e.at).padStart(7)}  ${e.source}: ${e.text}`).join("\n"))}</pre>${nodeCommandsSection(j)}</section>`;
    })
    .join("\n<hr>\n");
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title><style>
body{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:1100px}table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ddd;padding:4px 8px;font-size:13px;text-align:left;vertical-align:top}
.badge{color:#fff;border-radius:4px;padding:2px 8px;font-size:13px}.kpis{display:flex;gap:12px;margin:12px 0}.kpis div{border:1px solid #ddd;border-radius:6px;padding:8px 12px;min-width:110px}.kpis span{display:block;font-size:11px;color:#666}.kpis b{font-size:20px}
pre{background:#f6f8fa;padding:8px;overflow-x:auto;font-size:12px}pre.cmd{background:#272822;color:#f8f8f2}pre.err{background:#fdecea}.bad{color:#b00}.step{margin:6px 0}.t{color:#777;font-size:12px}details{margin:6px 0}.meta{color:#666;font-size:13px}.title{font-style:italic}
</style></head><body><h1>${esc(title)}</h1>
<table><tr><th>scenario</th><th>source</th><th>outcome</th><th>time to detect</th><th>time to recover</th><th>cluster create</th><th>total</th><th>peak memory</th><th>sentinels</th><th>cluster</th></tr>${summaryRows}</table>
${more}${runbookComparison(runs)}${variantComparison(runs)}
${sections}</body></html>`;
}

/**
 * Every command the run ran on the nodes out of band (machines reached over ssh), with where it ran: by phase, node and
 * command, how often and how it ended. A script shows its first line; the whole of it is one click away.
 */
export function nodeCommandsSection(j: RunJournal): string {
  const cs = j.nodeCommands ?? [];
  if (!cs.length) return "";
  const runs = cs.reduce((a, c) => a + Object.values(c.ended).reduce((x, y) => x + y, 0), 0);
  const nodes = [...new Set(cs.map((c) => c.node))];
  const cell = (cmd: string) => {
    const lines = cmd.split("\n");
    const first = lines[0]!.length > 240 ? `${lines[0]!.slice(0, 240)}…` : lines[0]!;
    return lines.length > 1 || lines[0]!.length > 240
      ? `<details><summary><code>${esc(first)}</code> (${lines.length} line${lines.length === 1 ? "" : "s"})</summary><pre>${esc(cmd)}</pre></details>`
      : `<code>${esc(cmd)}</code>`;
  };
  const rows = cs
    .map(
      (c) =>
        `<tr><td>${esc(c.phase)}</td><td>${esc(c.node)}</td><td>${cell(c.command)}</td><td>${esc(
          Object.entries(c.ended)
            .map(([how, n]) => (n > 1 ? `${how} ×${n}` : how))
            .join(", "),
        )}</td><td>+${dur(c.firstAtMs)}${c.lastAtMs !== c.firstAtMs ? ` … +${dur(c.lastAtMs)}` : ""}</td></tr>`,
    )
    .join("");
  const more = j.nodeCommandsNotListed ? `; ${j.nodeCommandsNotListed} more distinct commands were counted and not listed` : "";
  return `\n<h3>Commands on the nodes</h3><p class="meta">${runs} run${runs === 1 ? "" : "s"} of ${cs.length} distinct command${cs.length === 1 ? "" : "s"} on ${nodes.length} node${nodes.length === 1 ? "" : "s"} (${esc(nodes.join(", "))}), each as it ran, with where it went${more}</p><table class="node-commands"><tr><th>phase</th><th>node</th><th>command, as it ran</th><th>ended</th><th>when</th></tr>${rows}</table>`;
}

/** The team's workload: its own verdict beside the runbook's (its load chart is among the load charts below). */
/** Where each image and tool of the run came from (--images): pulled digest, download sha256 or build recipe. */
function originsTable(j: RunJournal): string {
  const os = j.image?.origins ?? [];
  if (!os.length) return "";
  return `<details class="origins"><summary>images: --images ${esc(j.image?.mode ?? "")} (${os.map((o) => `${esc(o.what)} ${esc(o.how)}`).join(", ")})</summary><table><tr><th>what</th><th>how</th><th>ref</th><th>pin</th><th>why</th></tr>${os
    .map((o) => `<tr><td>${esc(o.what)}</td><td>${esc(o.how)}</td><td><code>${esc(o.ref)}</code></td><td><code>${esc(o.pin ?? "")}</code></td><td>${esc(o.why)}</td></tr>`)
    .join("")}</table></details>`;
}

function workloadSection(j: RunJournal): string {
  const w = j.workload;
  if (!w) return "";
  const rows = w.slos
    .map(
      (s) =>
        `<tr class="${s.ok ? "ok" : "bad"}"><td>${s.ok ? "✓ met" : "✗ breached"}</td><td>${esc(s.window)}</td><td>${esc(s.objective)}</td><td><code>${esc(s.observed)}</code></td></tr>`,
    )
    .join("");
  const lines = workloadLines(w).slice(1 + w.slos.length);
  return `<h3>Your workload: ${esc(w.name)} <span class="badge" style="background:${w.held ? "#2e7d32" : "#c62828"}">SLO ${w.held ? "held" : "breached"}</span></h3>
<p class="meta">judged apart from the runbook's verdict (${esc(j.outcome)})${w.failRunOnBreach ? "; a breach fails the run's exit code" : "; a breach does not fail the run"}</p>
<table><tr><th>SLO</th><th>window</th><th>objective</th><th>observed</th></tr>${rows}</table><pre>${esc(lines.map((l) => l.trim()).join("\n"))}</pre>`;
}

/**
 * Where one scenario ran as written and as variants (a mitigation, another way the fault happens): side by side,
 * with when each thing that still works was first seen after the fault (e.g. the failover) and what users of
 * each load stream felt during the fault.
 */
function variantComparison(runs: RunJournal[]): string {
  const isVariant = (j: RunJournal) => j.variant?.name.startsWith("variant ") ?? false;
  const byScenario = new Map<string, RunJournal[]>();
  for (const j of runs) if (!j.variant || isVariant(j)) byScenario.set(j.scenario.id, [...(byScenario.get(j.scenario.id) ?? []), j]);
  return [...byScenario.entries()]
    .filter(([, js]) => js.some(isVariant) && js.length > 1)
    .map(([id, js]) => {
      const rows = js.map((j) => {
        const inject = j.phases.find((p) => p.name === "inject")?.startedAt;
        const signatures = new Set(j.phases.find((p) => p.name === "symptoms-absent")?.probes.map((p) => p.name) ?? []);
        const still =
          j.phases
            .find((p) => p.name === "symptoms")
            ?.probes.filter((p) => !signatures.has(p.name) && p.firstOkAtMs !== undefined && inject !== undefined)
            .map((p) => `${p.name}: ${dur(p.firstOkAtMs! - inject!)}`) ?? [];
        const load = (j.load ?? []).map(
          (l) => `${l.name}: ${l.windows.during ? percent(l.windows.during.availability) : "—"} ok, error window ${dur(l.errorWindowMs)}`,
        );
        return `<tr><td><a href="#${esc(j.runId)}">${esc(j.variant ? j.variant.name.replace(/^variant /, "") : "as written")}</a></td><td><span class="badge" style="background:${OUTCOME_COLORS[j.outcome] ?? "#7f7f7f"}">${esc(j.outcome)}</span></td><td>${dur(j.timings.timeToDetectMs)}</td><td>${dur(j.timings.timeToConfirmMs)}</td><td>${esc(still.join("; ") || "—")}</td><td>${esc(load.join("; ") || "—")}</td><td>${dur(j.timings.timeToRecoverMs)}</td></tr>`;
      });
      return `<h2>${esc(id)}: variants compared</h2><table><tr><th>variant</th><th>outcome</th><th>time to detect</th><th>all symptoms</th><th>still works, first seen after the fault</th><th>load during the fault</th><th>time to recover</th></tr>${rows.join("")}</table>`;
    })
    .join("\n");
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
