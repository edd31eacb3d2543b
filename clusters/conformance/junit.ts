import { specNames, type CuratedSpec } from "./specs.js";

/**
 * Ginkgo v2's JUnit report (`--ginkgo.junit-report`, reporters/junit_report.go from v2.9 to v2.33), read into a
 * typed result. The file has one <testsuite> with one <testcase> per spec the suite knows, selected or not, and
 * one per suite node (SynchronizedBeforeSuite, ReportAfterSuite…):
 *
 *   <testcase name="[It] [sig-api-machinery] Watchers should … [Conformance] [sig-api-machinery, Conformance]"
 *             classname="Kubernetes e2e suite" status="passed" time="1.23">
 *   <testcase name="[It] …" status="failed" time="3.2"><failure message="…" type="failed">[FAILED] …</failure>
 *   <testcase name="[It] …" status="skipped" time="0"><skipped message="skipped"></skipped>   (not selected)
 *   <testcase name="[It] …" status="skipped" time="0"><skipped message="skipped - Only supported for …"/> (Skip())
 *   <testcase name="[SynchronizedBeforeSuite]" status="failed" …><failure …>
 *
 * The name is "[<node type>] <full text>", and " [<labels>]" after it unless the labels are omitted; status is
 * passed, skipped, pending, failed, timedout, aborted, interrupted or panicked.
 */

export type SpecState = "passed" | "skipped" | "pending" | "failed" | "timedout" | "aborted" | "interrupted" | "panicked";
const STATES: readonly SpecState[] = ["passed", "skipped", "pending", "failed", "timedout", "aborted", "interrupted", "panicked"];

/** One <testcase> as read. */
export interface JUnitCase {
  /** The node type in brackets before the text: "It", "SynchronizedBeforeSuite", "ReportAfterSuite"… */
  node: string;
  /** The rest of the name: the spec's full text (and its labels, when ginkgo wrote them). */
  text: string;
  state: SpecState;
  seconds: number;
  /** The failure's or error's message (or the first line of its text), or the skip's reason ("skipped - …"). */
  message?: string;
}

export interface GinkgoJUnit {
  suite: { name: string; seconds: number; succeeded?: boolean };
  cases: JUnitCase[];
}

const ENTITIES: Record<string, string> = { lt: "<", gt: ">", amp: "&", quot: '"', apos: "'" };

/** XML text with its entities decoded (&lt; &#34; &#xA; …). */
export function xmlText(s: string): string {
  return s.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-z]+);/g, (m, e: string) =>
    e[0] === "#" ? String.fromCodePoint(e[1] === "x" ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10)) : (ENTITIES[e] ?? m),
  );
}

function attrs(s: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of s.matchAll(/([\w:.-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/g)) out[m[1]!] = xmlText(m[2] ?? m[3] ?? "");
  return out;
}

/** The first line that says something of a failure's text (ginkgo starts it with "[FAILED] <message>"). */
const firstLine = (s: string) =>
  s
    .split("\n")
    .map((l) => l.trim())
    .find(Boolean)
    ?.replace(/^\[(FAILED|PANICKED|TIMEDOUT|INTERRUPTED|ABORTED)\]\s*/, "");

/** Reads ginkgo's JUnit report. Throws on a file that is not one (no <testsuite>), so a broken run is not read as empty. */
export function parseGinkgoJUnit(xml: string): GinkgoJUnit {
  const suiteTag = /<testsuite\b([^>]*)>/.exec(xml);
  if (!suiteTag) throw new Error("not a JUnit report: no <testsuite> element");
  const sa = attrs(suiteTag[1]!);
  const succeeded = /<property\s+name="SuiteSucceeded"\s+value="(true|false)"/.exec(xml)?.[1];
  const cases: JUnitCase[] = [];
  for (const m of xml.matchAll(/<testcase\b((?:[^>"']|"[^"]*"|'[^']*')*?)(?:\/>|>([\s\S]*?)<\/testcase>)/g)) {
    const a = attrs(m[1]!);
    const body = m[2] ?? "";
    const name = /^\[([^\]]+)\]\s*([\s\S]*)$/.exec(a.name ?? "");
    const failure = /<(failure|error)\b([^>]*?)(?:\/>|>([\s\S]*?)<\/\1>)/.exec(body);
    const skipped = /<skipped\b([^>]*?)\/?>/.exec(body);
    const fa = failure ? attrs(failure[2]!) : {};
    const derived: SpecState = failure
      ? ((STATES.includes(fa.type as SpecState) ? fa.type : failure[1] === "error" ? "panicked" : "failed") as SpecState)
      : skipped
        ? attrs(skipped[1]!).message === "pending"
          ? "pending"
          : "skipped"
        : "passed";
    const state = STATES.includes(a.status as SpecState) ? (a.status as SpecState) : derived;
    const message = failure ? fa.message || firstLine(xmlText(failure[3] ?? "")) : skipped ? attrs(skipped[1]!).message : undefined;
    cases.push({
      node: name?.[1] ?? "",
      text: name ? name[2]!.trim() : (a.name ?? "").trim(),
      state,
      seconds: Number(a.time ?? 0) || 0,
      ...(message ? { message } : {}),
    });
  }
  return { suite: { name: sa.name ?? "", seconds: Number(sa.time ?? 0) || 0, ...(succeeded ? { succeeded: succeeded === "true" } : {}) }, cases };
}

/** A state that fails the suite. */
export const isFailure = (s: SpecState) => !["passed", "skipped", "pending"].includes(s);

/** Whether a testcase's text is this spelling of a spec: the full text, then the end or " [labels]". */
export function textIs(text: string, name: string): boolean {
  return text === name || (text.startsWith(name) && text[name.length] === " ");
}

/**
 * The spec's full text without the label list ginkgo appends ("… [Conformance] [sig-node, Conformance]"): the last
 * bracket group goes when every label in it is also written in the text as "[label]", as Kubernetes writes them.
 */
export function withoutLabels(text: string): string {
  const m = /^(.*\S) \[([^[\]]+)\]$/.exec(text);
  if (!m) return text;
  const labels = m[2]!.split(", ");
  return labels.every((l) => m[1]!.includes(`[${l}]`)) ? m[1]! : text;
}

/** One spec of a conformance run, as the journal keeps it. */
export interface ConformanceSpecResult {
  /** The curated name (the current line's spelling), or the text of a spec that ran without being asked for. */
  name: string;
  state: SpecState;
  ms: number;
  /** Why it failed or was skipped (first line, at most 400 characters). */
  message?: string;
  /** Ran although not in the curated list (a focus that matched more than meant). */
  unlisted?: true;
}

/** What a conformance run did, read from ginkgo's report against the specs it was asked to run. */
export interface ConformanceResult {
  /** How many curated specs were asked for on this version's line. */
  asked: number;
  /** Every asked spec the binary ran or skipped on its own, in the list's order, then anything else that ran. */
  specs: ConformanceSpecResult[];
  passed: number;
  /** Failed, timed out, interrupted, aborted or panicked. */
  failed: number;
  /** Skipped by the spec itself (e.g. a feature the server lacks), with its reason. */
  skipped: number;
  /** Asked for, but no spec of this binary has the name (or the suite never got to it): names to check. */
  notRun: string[];
  /** Suite nodes that failed (a BeforeSuite that found nodes or kube-system not ready, a report not written…). */
  suiteFailures: { node: string; state: SpecState; message?: string }[];
  /** Specs of the binary that the focus left out. */
  notSelected: number;
  /** Ginkgo's own verdict (its SuiteSucceeded property), when the report has it. */
  suiteSucceeded?: boolean;
}

const clip = (s: string | undefined, n = 400) => (s === undefined ? undefined : s.length > n ? s.slice(0, n - 1) + "…" : s);

/** The run's result: each curated spec found by any of its spellings, the rest counted. */
export function conformanceResult(report: GinkgoJUnit, asked: readonly CuratedSpec[]): ConformanceResult {
  const its = report.cases.filter((c) => c.node === "It");
  const used = new Set<JUnitCase>();
  // A case skipped with no reason was filtered out (by the focus or --ginkgo.skip, or never reached after a suite failure).
  const filteredOut = (c: JUnitCase) => c.state === "pending" || (c.state === "skipped" && (c.message ?? "skipped") === "skipped");
  const specs: ConformanceSpecResult[] = [];
  const notRun: string[] = [];
  for (const s of asked) {
    const c = its.find((x) => !used.has(x) && specNames(s).some((n) => textIs(x.text, n)));
    if (!c || filteredOut(c)) {
      notRun.push(s.name);
      if (c) used.add(c);
      continue;
    }
    used.add(c);
    const message = clip(c.state === "skipped" ? c.message?.replace(/^skipped - /, "") : c.message);
    specs.push({ name: s.name, state: c.state, ms: Math.round(c.seconds * 1000), ...(message ? { message } : {}) });
  }
  for (const c of its.filter((x) => !used.has(x) && !filteredOut(x))) {
    const message = clip(c.state === "skipped" ? c.message?.replace(/^skipped - /, "") : c.message);
    specs.push({ name: withoutLabels(c.text), state: c.state, ms: Math.round(c.seconds * 1000), ...(message ? { message } : {}), unlisted: true });
  }
  const suiteFailures = report.cases
    .filter((c) => c.node !== "It" && isFailure(c.state))
    .map((c) => ({ node: c.node + (c.text ? ` ${c.text}` : ""), state: c.state, ...(c.message ? { message: clip(c.message)! } : {}) }));
  return {
    asked: asked.length,
    specs,
    passed: specs.filter((s) => s.state === "passed").length,
    failed: specs.filter((s) => isFailure(s.state)).length,
    skipped: specs.filter((s) => s.state === "skipped" || s.state === "pending").length,
    notRun,
    suiteFailures,
    notSelected: its.filter((c) => !used.has(c) && filteredOut(c)).length,
    ...(report.suite.succeeded !== undefined ? { suiteSucceeded: report.suite.succeeded } : {}),
  };
}

/** Whether the run passed: every spec that ran passed (or skipped itself), no suite node failed, ginkgo agrees. */
export const conformancePassed = (r: ConformanceResult): boolean => r.failed === 0 && r.suiteFailures.length === 0 && r.suiteSucceeded !== false;
