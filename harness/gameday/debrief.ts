import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { formatDuration } from "../../clusters/errors.js";
import type { Outcome, RunJournal } from "../engine/journal.js";
import { esc } from "../reports/files.js";
import { gameDayHints, severityOf } from "./alert.js";
import { firstCauseCommand, showCommand, type PlayerCommand } from "./commands.js";
import type { GameDayScenario } from "./draw.js";
import { clock, describeReference, score, SCORE_RULE, type GameOutcome, type HintReveal, type Reference, type Score } from "./score.js";
import type { GameSession } from "./session.js";

/** What a game day leaves behind: the scenario revealed, the player's timeline beside the reference runbook, the score. */
export interface GameRecord {
  runId: string;
  scenario: { id: string; title: string; summary: string; source: { incident: string; section: string } };
  difficulty: string;
  severity: string;
  alert: string;
  /** When the page went out (epoch ms); unset when the run ended before it. */
  pagedAt?: number;
  endedAt: number;
  outcome: GameOutcome;
  /** When every health check held (epoch ms): "RECOVERED". */
  recoveredAt?: number;
  gaveUpAt?: number;
  hints: (HintReveal & { text: string })[];
  hintsTotal: number;
  commands: PlayerCommand[];
  cause: RegExp[];
  runbook: { title: string; shows: string }[];
  reference: Reference;
  score: Score;
  /** The run's own verdict, and its report (a path relative to the debrief). */
  run: { outcome: Outcome; reason: string; report?: string };
}

/** What the game knows when it ends; the session is unset when the run ended before the page, the journal when it never began. */
export interface GameEnd {
  runId: string;
  scenario: GameDayScenario;
  session: Pick<GameSession, "pagedAt" | "recoveredAt" | "gaveUpAt" | "reveals"> | undefined;
  journal: Pick<RunJournal, "runId" | "scenario" | "outcome" | "reason"> | undefined;
  outcome: GameOutcome;
  commands: PlayerCommand[];
  reference: Reference;
  endedAt: number;
}

/** The record of a game: the scenario revealed, the player's timeline, the score (hints asked for cost, those that came by themselves do not). */
export function gameRecord(g: GameEnd): GameRecord {
  const { scenario, session, journal: j } = g;
  return {
    runId: g.runId,
    scenario: { id: scenario.id, title: scenario.title, summary: scenario.summary, source: scenario.source },
    difficulty: scenario.gameDay.difficulty,
    severity: severityOf(scenario),
    alert: scenario.gameDay.alert,
    ...(session ? { pagedAt: session.pagedAt } : {}),
    endedAt: g.endedAt,
    outcome: g.outcome,
    ...(session?.recoveredAt !== undefined ? { recoveredAt: session.recoveredAt } : {}),
    ...(session?.gaveUpAt !== undefined ? { gaveUpAt: session.gaveUpAt } : {}),
    hints: session?.reveals ?? [],
    hintsTotal: gameDayHints(scenario).length,
    commands: g.commands,
    cause: scenario.gameDay.cause,
    runbook: scenario.runbook.map((s) => ({ title: s.title, shows: s.shows })),
    reference: g.reference,
    score: score({
      outcome: g.outcome,
      hintsAsked: session?.reveals.filter((h) => h.how === "asked").length ?? 0,
      ...(session?.recoveredAt !== undefined ? { recoverMs: session.recoveredAt - session.pagedAt } : {}),
      referenceMs: g.reference.ms,
    }),
    run: {
      outcome: j?.outcome ?? "interrupted",
      reason: j?.reason ?? "interrupted",
      ...(j ? { report: `../${j.scenario.id}-${j.runId}/report.html` } : {}),
    },
  };
}

/** Writes debrief.html and debrief.json (the cause patterns as text) into `dir`; returns the HTML's path. */
export async function writeDebrief(dir: string, r: GameRecord): Promise<string> {
  await mkdir(dir, { recursive: true });
  const html = path.join(dir, "debrief.html");
  await writeFile(html, debriefHtml(r));
  await writeFile(path.join(dir, "debrief.json"), JSON.stringify({ ...r, cause: r.cause.map(String) }, null, 2));
  return html;
}

const OUTCOME_TEXT: Record<GameOutcome, string> = {
  recovered: "recovered",
  "data-lost": "recovered, but data was lost",
  "gave-up": "gave up (the runbook recovered it)",
  "not-recovered": "not recovered",
  aborted: "aborted",
  "not-started": "the incident never started",
};
const OUTCOME_COLOR: Record<GameOutcome, string> = {
  recovered: "#1b9e77",
  "data-lost": "#d95f02",
  "gave-up": "#7570b3",
  "not-recovered": "#d62728",
  aborted: "#7f7f7f",
  "not-started": "#bcbd22",
};

export const outcomeText = (r: GameRecord): string =>
  r.outcome === "gave-up" && r.run.outcome !== "passed" ? `gave up (and the runbook ended ${r.run.outcome})` : OUTCOME_TEXT[r.outcome];

/** Game start (the page) to RECOVERED, when both happened. */
export const timeToRecover = (r: Pick<GameRecord, "pagedAt" | "recoveredAt">): number | undefined =>
  r.pagedAt !== undefined && r.recoveredAt !== undefined ? r.recoveredAt - r.pagedAt : undefined;

const since = (r: GameRecord, at: number) => (r.pagedAt === undefined ? "—" : `+${clock(at - r.pagedAt)}`);

/** "2 asked, 1 came by itself (of 4)". */
export function hintsText(r: Pick<GameRecord, "hints" | "hintsTotal">): string {
  const asked = r.hints.filter((h) => h.how === "asked").length;
  const auto = r.hints.length - asked;
  return `${asked} asked, ${auto} came by ${auto === 1 ? "itself" : "themselves"} (of ${r.hintsTotal})`;
}

/** The data the run found missing, when the outcome says so (the journal's reason names it). */
export const dataLost = (r: GameRecord): string | undefined => (r.run.outcome === "data-lost" ? r.run.reason : undefined);

/** The console's summary after the game; the first line is `debrief: <path>`. */
export function debriefText(r: GameRecord, debriefPath: string): string {
  const ttr = timeToRecover(r);
  const i = firstCauseCommand(r.commands, r.cause);
  const lost = dataLost(r);
  return [
    `debrief: ${debriefPath}`,
    `  scenario:   ${r.scenario.id}: ${r.scenario.title}`,
    `  source:     incident ${r.scenario.source.incident}, ${r.scenario.source.section}`,
    `  outcome:    ${outcomeText(r)}`,
    `  recovered:  ${ttr === undefined ? "—" : `${clock(ttr)} after the page`}   reference: ${describeReference(r.reference)}`,
    `  hints:      ${hintsText(r)}`,
    `  score:      ${r.score.points} (${r.score.formula})`,
    `  commands:   ${r.commands.length} recorded${i >= 0 ? `; the first that touched the cause: ${since(r, r.commands[i]!.at)} ${showCommand(r.commands[i]!)}` : r.commands.length ? "; none touched the cause" : ""}`,
    ...(lost ? [`  data lost:  ${lost}`] : []),
  ].join("\n");
}

/** The debrief as one self-contained page, in the style of report.html. */
export function debriefHtml(r: GameRecord): string {
  const ttr = timeToRecover(r);
  const cause = firstCauseCommand(r.commands, r.cause);
  const lost = dataLost(r);
  type Row = { at: number; html: string; cls: string };
  const rows: Row[] = [
    ...r.commands.map((c, i) => ({
      at: c.at,
      cls: i === cause ? "cmd cause" : "cmd",
      html: `<code>${esc(showCommand(c))}</code>${i === cause ? ` <span class="tag">first command that touched the cause</span>` : ""}`,
    })),
    ...r.hints.map((h) => ({
      at: h.at,
      cls: "event",
      html: `hint ${h.n}/${r.hintsTotal} (${h.how === "asked" ? `asked for, −15` : "came by itself"}): <pre>${esc(h.text)}</pre>`,
    })),
    ...(r.recoveredAt !== undefined ? [{ at: r.recoveredAt, cls: "event ok", html: "<b>RECOVERED</b>: every health check held" }] : []),
    ...(r.gaveUpAt !== undefined ? [{ at: r.gaveUpAt, cls: "event bad", html: "<b>gave up</b>: the runbook ran" }] : []),
  ].sort((a, b) => a.at - b.at);
  const timeline = rows.length
    ? `<table class="timeline"><tr><th>since the page</th><th>what happened</th></tr>${rows.map((x) => `<tr class="${x.cls}"><td class="t">${since(r, x.at)}</td><td>${x.html}</td></tr>`).join("")}</table>`
    : `<p class="meta">no command was recorded (open a shell with <code>pnpm gameday shell</code> next time)</p>`;
  const measured = (title: string) => {
    const m = r.reference.source === "suite" ? r.reference.steps?.find((x) => x.title === title) : undefined;
    return m ? ` <span class="meta">median ${esc(formatDuration(m.ms))} over ${m.runs} suite run${m.runs === 1 ? "" : "s"}</span>` : "";
  };
  const runbook = `<ol class="runbook">${r.runbook.map((s) => `<li>${esc(s.title)}${measured(s.title)}<pre class="cmd">${esc(s.shows)}</pre></li>`).join("")}</ol>`;
  const kpi = (label: string, value: string) => `<div><span>${label}</span><b>${value}</b></div>`;
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Game day debrief: ${esc(r.scenario.id)}</title><style>
body{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:1200px}table{border-collapse:collapse;margin:8px 0;width:100%}td,th{border:1px solid #ddd;padding:4px 8px;font-size:13px;text-align:left;vertical-align:top}
.badge{color:#fff;border-radius:4px;padding:2px 8px;font-size:13px}.kpis{display:flex;gap:12px;margin:12px 0;flex-wrap:wrap}.kpis div{border:1px solid #ddd;border-radius:6px;padding:8px 12px;min-width:110px}.kpis span{display:block;font-size:11px;color:#666}.kpis b{font-size:20px}
pre{background:#f6f8fa;padding:8px;overflow-x:auto;font-size:12px;margin:4px 0}pre.cmd{background:#272822;color:#f8f8f2}.meta{color:#666;font-size:13px}.title{font-style:italic}
.page{border:2px solid #d62728;border-radius:6px;padding:8px 12px;background:#fff5f5}.page b{color:#d62728}.side{display:grid;grid-template-columns:3fr 2fr;gap:24px}.side>section{min-width:0}.side pre{white-space:pre-wrap;overflow-wrap:anywhere}
tr.cause{background:#fff3b0}tr.cause code{font-weight:bold}.tag{background:#d95f02;color:#fff;border-radius:4px;padding:1px 6px;font-size:11px}tr.event td{color:#555;font-style:italic}tr.ok td{color:#1b7f5f}tr.bad td{color:#b00}td.t{white-space:nowrap;font-family:monospace}
</style></head><body><h1>Game day debrief: ${esc(r.scenario.id)} <span class="badge" style="background:${OUTCOME_COLOR[r.outcome]}">${esc(outcomeText(r))}</span></h1>
<p class="title">${esc(r.scenario.title)}</p><p>${esc(r.scenario.summary)}</p>
<p class="meta">run ${esc(r.runId)} · incident ${esc(r.scenario.source.incident)}, ${esc(r.scenario.source.section)} · difficulty ${esc(r.difficulty)}${r.pagedAt !== undefined ? ` · paged ${new Date(r.pagedAt).toISOString()}` : ""} · the run ended <b>${esc(r.run.outcome)}</b>${r.run.report ? ` (<a href="${esc(r.run.report)}">the run's report</a>)` : ""}</p>
<div class="page"><b>PAGE: ${esc(r.severity)}</b> · ${esc(r.alert)}</div>
<div class="kpis">${kpi("outcome", esc(outcomeText(r)))}${kpi("time to recover", ttr === undefined ? "—" : clock(ttr))}${kpi("reference", esc(r.reference.source === "suite" ? formatDuration(r.reference.ms) : "—"))}${kpi("hints", esc(hintsText(r)))}${kpi("score", String(r.score.points))}</div>
<h2>How the score was counted</h2><p><code>${esc(r.score.formula)}</code></p><p class="meta">${esc(SCORE_RULE)}. Reference time: ${esc(describeReference(r.reference))}.</p>
${lost ? `<h2>Data lost</h2><pre class="err">${esc(lost)}</pre>` : ""}
<div class="side"><section><h2>Your timeline</h2>${timeline}<p class="meta">cause patterns: ${r.cause.map((c) => `<code>${esc(String(c))}</code>`).join(" ")}</p></section>
<section><h2>Reference runbook</h2><p class="meta">reference time: ${esc(describeReference(r.reference))}</p>${runbook}</section></div>
<p class="meta">the run's verdict: ${esc(r.run.outcome)}: ${esc(r.run.reason)}</p>
</body></html>`;
}
