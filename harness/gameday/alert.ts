import { formatDuration } from "../../clusters/errors.js";
import type { GameDayScenario } from "./draw.js";

/** What the pager says, and the hints behind it: written from what on-call sees, never from what the scenario did. */

/** Every hint of a scenario, in order: its own, then the runbook's commands as the last one. */
export function gameDayHints(s: Pick<GameDayScenario, "gameDay" | "runbook">): string[] {
  return [...s.gameDay.hints, runbookHint(s.runbook)];
}

/** The last hint: the reference runbook's commands, in order. */
export function runbookHint(runbook: { shows: string }[]): string {
  return `the runbook's commands, in order:\n${runbook.flatMap((st) => st.shows.split("\n").map((l) => `  $ ${l}`)).join("\n")}`;
}

/** What the game terminal shows when the player gives up, before the runbook's steps run: each step and its commands. */
export function runbookSteps(runbook: { title: string; shows: string }[]): string[] {
  return [
    `the runbook (${runbook.length} step${runbook.length === 1 ? "" : "s"}):`,
    ...runbook.flatMap((st, i) => [`  ${i + 1}. ${st.title}`, ...st.shows.split("\n").map((l) => `      $ ${l}`)]),
  ];
}

/** A cluster-wide incident pages as SEV-1, one inside an application's namespace as SEV-2. */
export const severityOf = (s: Pick<GameDayScenario, "scope">): string => (s.scope === "namespace" ? "SEV-2" : "SEV-1");

export interface PageOptions {
  severity: string;
  alert: string;
  firedAt: Date;
  cluster: string;
  nodes: number;
  kubeconfig: string;
  hintEveryMs: number;
  hintCost: number;
  width?: number;
}

/** Words of `text` in lines of at most `width` characters. */
export function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines;
}

/**
 * The boxed page: severity and alert (the line starting with "PAGE:"), when it fired, and how to reach the cluster
 * ("Open a shell: pnpm gameday shell", and the raw KUBECONFIG). Lines inside the box have no side border, so a
 * test can look for lines that start with "PAGE:" and "Open a shell:".
 */
export function renderPage(o: PageOptions): string {
  const width = o.width ?? 100;
  const [first = "", ...rest] = wrap(o.alert, width - 16);
  const time = o.firedAt.toISOString();
  const lines = [
    `╔══ PAGER ${"═".repeat(width - 10)}`,
    `PAGE: ${o.severity} · ${first}`,
    ...rest.map((l) => `      ${" ".repeat(o.severity.length + 3)}${l}`),
    `  fired:   ${time.slice(11, 19)} UTC (${time.slice(0, 10)}); the game clock starts now`,
    `  cluster: ${o.cluster}, ${o.nodes} node${o.nodes === 1 ? "" : "s"}`,
    `Open a shell: pnpm gameday shell`,
    `  or by hand: export KUBECONFIG=${o.kubeconfig}`,
    `  keys here:  h hint (−${o.hintCost} points; one also comes by itself every ${formatDuration(o.hintEveryMs)}) · g give up (the runbook runs) · q abort`,
    `╚${"═".repeat(width - 1)}`,
  ];
  return lines.join("\n");
}

/** Words too common, or naming a place rather than a cause, to count as a leak. */
const COMMON = new Set(
  (
    "kube kubectl node nodes pod pods control plane cluster service services container containers system worker workers " +
    "with from that this into then than when what which while after before until does their them they were have been " +
    "also only just some more most over under"
  ).split(" "),
);

/** The lower-case alphanumeric words of a text (hyphenated words count as their parts too). */
export function words(text: string): Set<string> {
  return new Set(text.toLowerCase().match(/[a-z0-9]+/g) ?? []);
}

/** The literal words in a pattern's source: /2380|lsof/ → 2380, lsof. */
export const patternWords = (re: RegExp): Set<string> => words(re.source.replace(/\\[a-z]/gi, " "));

/**
 * What an alert gives away: the scenario's id, and any word (4 letters or more, not a common one) of the fault's
 * title or of the patterns that mark the cause. An empty list means the alert is symptom-only.
 */
export function alertLeaks(s: Pick<GameDayScenario, "id" | "fault" | "gameDay">): string[] {
  const alert = s.gameDay.alert.toLowerCase();
  const leaks: string[] = [];
  if (alert.includes(s.id) || alert.includes(s.id.replace(/-/g, " "))) leaks.push(`the scenario id ${s.id}`);
  const seen = words(alert);
  const telling = (w: string) => w.length >= 4 && !COMMON.has(w) && seen.has(w);
  for (const w of words(s.fault.title)) if (telling(w)) leaks.push(`"${w}" from the fault's title`);
  for (const re of s.gameDay.cause) for (const w of patternWords(re)) if (telling(w)) leaks.push(`"${w}" from the cause pattern ${re}`);
  return [...new Set(leaks)];
}
