import { rate, REGRESSION_RULE, spreadText, TREND_RUNS, type HistoryRun, type RepeatStats, type TrendRow } from "./history.js";
import { dur, esc } from "./files.js";
import type { SuiteScores } from "./score.js";

/** Suite reports only: the single-run report's stylesheet stays as it is. */
const STYLE = `<style>.trends td,.repeats td{white-space:nowrap}.trends caption,.repeats caption,.scores caption{caption-side:top;text-align:left;font-size:13px;color:#555;padding:4px 0;white-space:normal}
.flag{color:#fff;border-radius:4px;padding:1px 6px;font-size:12px;margin-right:4px}.flag.regression{background:#d95f02}.flag.flaky{background:#bcbd22}.flag.failing{background:#d62728}.scores td.bad{background:#fdecea}.gate.bad{color:#b00}</style>`;

type Metric = "timeToDetectMs" | "timeToRecoverMs" | "score";

/**
 * A run's times (or scores) over its last runs, oldest first, as a small line (broken where a run had no
 * value); this suite's runs are the filled dots. Hovering shows every value. Scores are drawn on 0–100.
 */
export function sparkline(runs: HistoryRun[], k: Metric, earlier: number): string {
  const points = runs.map((r) => r[k]);
  const present = points.flatMap((v) => (v === undefined ? [] : [v]));
  if (!present.length) return "—";
  const fmt = k === "score" ? (v: number | undefined) => (v === undefined ? "—" : String(v)) : dur;
  const W = 120,
    H = 28,
    pad = 3;
  const max = k === "score" ? 100 : Math.max(...present) || 1;
  const x = (i: number) => (points.length > 1 ? pad + (i * (W - 2 * pad)) / (points.length - 1) : W / 2);
  const y = (v: number) => H - pad - (v / max) * (H - 2 * pad);
  const lines: string[][] = [];
  let line: string[] | undefined;
  points.forEach((v, i) => {
    if (v === undefined) return void (line = undefined);
    if (!line) lines.push((line = []));
    line.push(`${x(i).toFixed(1)},${y(v).toFixed(1)}`);
  });
  const dots = points
    .map((v, i) => (v === undefined || i < earlier ? "" : `<circle cx="${x(i).toFixed(1)}" cy="${y(v).toFixed(1)}" r="2.5" fill="#253494"/>`))
    .join("");
  const title = `oldest first: ${points.map((v, i) => `${fmt(v)}${i >= earlier ? " (this suite)" : ""}`).join(", ")}`;
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" class="spark" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(title)}"><title>${esc(title)}</title>` +
    `${lines.map((l) => `<polyline fill="none" stroke="#6b8fd6" stroke-width="1.5" points="${l.join(" ")}"/>`).join("")}${dots}</svg>` +
    `<br><small>${points.length > 5 ? "… " : ""}${points.slice(-5).map(fmt).join(" ")}</small>`
  );
}

/** The trends table of a suite report: each scenario key of this suite over its last runs. */
export function trendsSection(rows: TrendRow[], earlierSuites: number): string {
  if (!rows.length) return "";
  const body = rows.map((r) => {
    const passes = r.runs.filter((x) => x.asExpected).length;
    const flags = r.flags.map((f) => `<span class="flag ${f}">${f}</span>`).join("");
    const why = r.regressions.length ? `<br><small>${esc(r.regressions.join("; "))}</small>` : "";
    return `<tr><td>${esc(r.key)}</td><td>${r.earlier} + ${r.runs.length - r.earlier}</td><td>${sparkline(r.runs, "timeToDetectMs", r.earlier)}</td><td>${sparkline(r.runs, "timeToRecoverMs", r.earlier)}</td><td>${sparkline(r.runs, "score", r.earlier)}</td><td>${passes}/${r.runs.length} = ${rate(r.passRate)}</td><td>${dur(r.medianRecoverMs)}</td><td>${flags || "—"}${why}</td></tr>`;
  });
  const caption =
    `Each scenario over its last runs, newest last: up to ${TREND_RUNS} earlier runs (from ${earlierSuites} earlier suite run${earlierSuites === 1 ? "" : "s"} in the history), then this suite's. ` +
    `<b>regression</b>: ${esc(REGRESSION_RULE)}. <b>flaky</b>: not as expected in some but not all of these runs. <b>failing</b>: not as expected in this suite run.`;
  return `<h2>Trends</h2><table class="trends"><caption>${caption}</caption><tr><th>scenario</th><th>runs (earlier + now)</th><th>time to detect</th><th>time to recover</th><th>resilience score</th><th>as expected</th><th>median time to recover</th><th>flags</th></tr>${body.join("")}</table>\n`;
}

/** With --repeat: per scenario key, how often it ended as expected and how far its times spread. */
export function repeatSection(stats: RepeatStats[]): string {
  if (!stats.some((s) => s.runs > 1)) return "";
  const body = stats.map(
    (s) =>
      `<tr><td>${esc(s.key)}</td><td>${s.runs}</td><td>${s.passes}</td><td>${rate(s.passRate)}</td><td>${spreadText(s.detect)}</td><td>${spreadText(s.recover)}</td></tr>`,
  );
  return `<h2>Repeated runs</h2><table class="repeats"><caption>Every run of this suite, per scenario: times as min / median / max over the runs that have one.</caption><tr><th>scenario</th><th>runs</th><th>as expected</th><th>pass rate</th><th>time to detect</th><th>time to recover</th></tr>${body.join("")}</table>\n`;
}

/** The suite's scores: per scenario key with its parts, then per Kubernetes version and the catalog; and the gate. */
export function scoreSection(s: SuiteScores, gate?: { enforced: boolean; minScore: number; reasons: string[] }): string {
  if (!s.keys.length) return "";
  const names = [...new Set(s.keys.flatMap((k) => k.parts.map((p) => p.name)))];
  const body = s.keys.map((k) => {
    const cells = names.map((n) => {
      const p = k.parts.find((x) => x.name === n);
      return p ? `<td class="${p.ok ? "ok" : "bad"}" title="${esc(`weight ${p.weight}: ${p.detail}`)}">${p.value}</td>` : "<td>—</td>";
    });
    return `<tr><td>${esc(k.key)}${k.counted ? "" : "<br><small>meant to fail: not in the roll-ups</small>"}</td><td>${k.runs}</td><td><b>${k.score}</b></td>${cells.join("")}</tr>`;
  });
  const versions = s.versions.map((v) => `${esc(v.version || "(no version)")}: <b>${v.score}</b> over ${v.runs} run${v.runs === 1 ? "" : "s"}`).join(" · ");
  const gateLine = gate
    ? `<p class="gate ${gate.reasons.length ? "bad" : "ok"}">gate (minimum score ${gate.minScore}${gate.enforced ? "" : "; not enforced without --gate"}): ${
        gate.reasons.length ? `<b>failed</b><br>${gate.reasons.map(esc).join("<br>")}` : "passed"
      }</p>`
    : "";
  return (
    `<h2>Resilience score</h2><p>catalog: <b>${s.catalog ?? "—"}</b>${versions ? ` · ${versions}` : ""}</p>${gateLine}` +
    `<table class="scores"><caption>Per scenario, the mean of its runs' scores and of each part's value (hover for its weight and why); ` +
    `score = ⌊Σ weight × value / Σ weight⌋. Runs meant to fail (--prove, a runbook that loses data) are shown but stay out of the catalog and version means.</caption>` +
    `<tr><th>scenario</th><th>runs</th><th>score</th>${names.map((n) => `<th>${esc(n)}</th>`).join("")}</tr>${body.join("")}</table>\n`
  );
}

/** What a suite adds to its report under the summary table: scores, repeated runs (with --repeat), then trends. */
export function suiteSections(rows: TrendRow[], earlierSuites: number, stats: RepeatStats[], scores = ""): string {
  const html = scores + repeatSection(stats) + trendsSection(rows, earlierSuites);
  return html ? STYLE + html : "";
}
