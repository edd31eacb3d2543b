import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import type { Clock } from "../../clusters/wait.js";
import { serviceLoad } from "../../harness/kit/load/load.js";
import { LoadMonitor } from "../../harness/load/streams.js";
import { app } from "../../harness/kit/targets.js";
import { htmlReport, junitXml } from "../../harness/reports/files.js";
import type { RunJournal } from "../../harness/engine/journal.js";

type Phase = RunJournal["phases"][number];
const phase = (name: Phase["name"], a: number, b: number, extra: Partial<Phase> = {}): Phase => ({
  name,
  startedAt: a,
  endedAt: b,
  status: "passed",
  steps: [],
  probes: [],
  ...extra,
});
const T0 = 1_700_000_000_000;

/** A run of 80s: inject at 30s, first symptom at 33s, runbook 36s → 50s, verify 50s → 70s. No load. */
function journal(): RunJournal {
  return {
    runId: "0a1b2c3d",
    scenario: { id: "web-stall", title: "The web tier stalls", summary: "summary", source: { incident: "007", section: "#3 <b>&</b>" }, tags: ["web"] },
    cluster: { name: "as-0a1b2c3d", kubernetesVersion: "v1.29.15", nodes: ["as-0a1b2c3d-control-plane"] },
    startedAt: T0,
    endedAt: T0 + 80_000,
    outcome: "passed",
    exitCode: 0,
    reason: "symptoms reproduced in 3.0s, recovered in 34.0s",
    phases: [
      phase("cluster", 0, 10_000),
      phase("setup", 10_000, 12_000),
      phase("steady-state", 12_000, 20_000),
      phase("symptoms-absent", 20_000, 22_000, { probes: [{ name: "web errors", expectation: "errors", ok: true, held: false, observed: "none" }] }),
      phase("inject", 30_000, 31_000, { steps: [{ title: "stop the backend", startedAt: 30_000, endedAt: 31_000, ok: true }] }),
      phase("symptoms", 31_000, 35_000, {
        probes: [{ name: "web: users see errors", expectation: "a second < 99% ok", ok: true, observed: "4/20 ok", firstOkAtMs: 33_000 }],
      }),
      phase("verify-fails", 35_000, 36_000),
      phase("runbook", 36_000, 50_000, { steps: [{ title: "restart the backend", startedAt: 36_000, endedAt: 50_000, ok: true }] }),
      phase("verify", 50_000, 70_000),
      phase("teardown", 70_000, 75_000),
    ],
    evidence: [{ at: 33_000, source: "symptom", text: "connection refused" }],
    timings: { totalMs: 80_000, clusterCreateMs: 10_000, timeToDetectMs: 3_000, timeToConfirmMs: 3_000, timeToRecoverMs: 34_000 },
  };
}

/**
 * The same run with two load streams, through the real LoadMonitor: "web", 20 requests/s from 15s to 75s
 * (60 seconds), where the 10 seconds from 31s to 41s have 4 of 20 ok (800ms) and 16 timeouts (2000ms),
 * and every other request is ok in 5..24ms; "api", 10 requests/s, all ok in 30ms.
 */
function journalWithLoad(): RunJournal {
  let now = T0;
  const clock: Clock = { now: () => now, sleep: async () => {} };
  const m = new LoadMonitor(T0, clock);
  const web = m.add(
    serviceLoad(app("web"), {
      rate: 20,
      slo: { before: { availability: 0.99, p99: "500ms" }, during: { availability: 0.9 }, after: { availability: 0.99, p99: "500ms" } },
    }),
  );
  web.target = "GET http://172.18.0.2:31234/?a=1&b=<2>";
  const api = m.add(serviceLoad(app("api"), { rate: 10 }));
  api.target = "GET https://172.18.0.3:6443/api/v1/namespaces/x/configmaps?limit=5";
  for (let sec = 15; sec < 75; sec++) {
    const failing = sec >= 31 && sec <= 40;
    for (let i = 0; i < 20; i++) {
      const atMs = sec * 1000 + i * 50;
      if (!failing) web.series.add({ atMs, ok: true, latencyMs: 5 + i, outcome: "200" });
      else if (i < 4) web.series.add({ atMs, ok: true, latencyMs: 800, outcome: "200" });
      else web.series.add({ atMs, ok: false, latencyMs: 2000, outcome: "timeout" });
    }
    for (let i = 0; i < 10; i++) api.series.add({ atMs: sec * 1000 + i * 100, ok: true, latencyMs: 30, outcome: "200" });
  }
  now = T0 + 30_000;
  m.mark("injectMs");
  now = T0 + 50_000;
  m.mark("runbookEndMs");
  now = T0 + 75_000;
  m.mark("stopMs");
  return { ...journal(), load: m.records() };
}

/** Enough of XML well-formedness for a report: balanced tags, quoted attributes without raw `<` or `&`, no raw `&` in text. */
function xmlProblems(xml: string): string[] {
  const problems: string[] = [];
  const stack: string[] = [];
  const entity = /&(?!(?:amp|lt|gt|quot|apos|#\d+);)/;
  const body = xml.replace(/^<\?xml [^?]*\?>/, "");
  let last = 0;
  for (const m of body.matchAll(/<[^>]*>/g)) {
    const text = body.slice(last, m.index);
    if (entity.test(text)) problems.push(`raw & in text: ${text.slice(0, 40)}`);
    last = m.index + m[0].length;
    const tag = /^<(\/?)([A-Za-z][\w.-]*)((?:\s+[\w:.-]+="[^"<&]*(?:&(?:amp|lt|gt|quot|apos|#\d+);[^"<&]*)*")*)\s*(\/?)>$/.exec(m[0]);
    if (!tag) problems.push(`bad tag: ${m[0].slice(0, 80)}`);
    else if (tag[1]) {
      const open = stack.pop();
      if (open !== tag[2]) problems.push(`</${tag[2]}> closes <${open}>`);
    } else if (!tag[4]) stack.push(tag[2]!);
  }
  if (entity.test(body.slice(last)) || body.slice(last).includes("<")) problems.push("bad trailing text");
  if (stack.length) problems.push(`unclosed: ${stack.join(", ")}`);
  return problems;
}

const sha = (s: string) => createHash("sha256").update(s).digest("hex");
/** The web stream's part of a report: its chart, table and totals. */
const webPart = (html: string) => html.split('<div class="load">').find((p) => p.startsWith("<h4>load web:"))!;
const webSvg = (html: string) => /<svg [^>]*class="load".*?<\/svg>/s.exec(webPart(html))![0];

describe("the load chart in the HTML report", () => {
  const html = htmlReport([journalWithLoad()], "Aftershock: web-stall");

  it("draws one chart per stream under the timeline, titled and labelled", () => {
    expect(html.match(/<svg [^>]*class="load"/g)).toHaveLength(2);
    expect(html.indexOf('class="timeline"')).toBeLessThan(html.indexOf("<h3>Load</h3>"));
    expect(html.indexOf("<h3>Load</h3>")).toBeLessThan(html.indexOf("<h3>Phases</h3>"));
    expect(html).toContain("<h4>load web: 20/s GET http://172.18.0.2:31234/?a=1&amp;b=&lt;2&gt;</h4>");
    expect(webSvg(html)).toContain('role="img" aria-label="load web: 20/s GET http://172.18.0.2:31234/?a=1&amp;b=&lt;2&gt;"');
    expect(webSvg(html)).toContain("<title>load web: 20/s GET http://172.18.0.2:31234/?a=1&amp;b=&lt;2&gt;</title>");
    expect(html).toContain("<h4>load api: 10/s GET https://172.18.0.3:6443/api/v1/namespaces/x/configmaps?limit=5</h4>");
    expect(xmlProblems(webSvg(html))).toEqual([]);
  });

  it("has one bar and one p99 point per second, the seconds with errors in red", () => {
    const svg = webSvg(html);
    expect(svg.match(/<g class="sec /g)).toHaveLength(60);
    expect(svg.match(/<g class="sec err">/g)).toHaveLength(10);
    expect(svg.match(/fill="#d62728"\/>/g)).toHaveLength(10 + 1); // the red bars, and the legend's swatch
    // Second 31 (x = 150 + 31/80 × 680): 4/20 ok, so the green bar is 20px high and the red one 80px above it.
    expect(svg).toContain(
      '<g class="sec err"><title>+31.0s: 4/20 ok, p50 2000ms, p99 2000ms</title><rect x="413.5" y="120.0" width="7.5" height="20.0" fill="#66c2a5"/><rect x="413.5" y="40" width="7.5" height="80.0" fill="#d62728"/></g>',
    );
    expect(svg).toContain('<g class="sec ok"><title>+15.0s: 20/20 ok, p50 14ms, p99 24ms</title>');
    const points = [...svg.matchAll(/<polyline class="p99"[^>]*points="([^"]*)"/g)].map((m) => m[1]!.split(" "));
    expect(points).toHaveLength(1);
    // Right-hand axis 0..2000ms: 24ms is 1.2px above the bottom (140), 2000ms at the top (40).
    expect(points[0]!.map((p) => p.split(",")[1])).toEqual([...Array(16).fill("138.8"), ...Array(10).fill("40.0"), ...Array(34).fill("138.8")]);
    expect(svg).toContain(">2000 ms</text>");
    expect(svg).toContain(">100%</text>");
  });

  it("marks inject, the first symptom, the runbook's start and end and verify, on the timeline's x scale", () => {
    const svg = webSvg(html);
    const marks = [...svg.matchAll(/<g class="mark"><title>([^<]*)<\/title><line x1="([\d.]+)"/g)].map((m) => [m[1], m[2]]);
    expect(marks).toEqual([
      ["inject at +30.0s", "405.0"],
      ["first symptom at +33.0s", "430.5"],
      ["runbook at +36.0s", "456.0"],
      ["runbook end at +50.0s", "575.0"],
      ["verify at +50.0s", "575.0"],
    ]);
    const timeline = /<svg [^>]*class="timeline".*?<\/svg>/s.exec(html)![0];
    const barX = (label: string) => new RegExp(`>${label}</text><rect x="([\\d.]+)"`).exec(timeline)![1];
    expect([barX("inject"), barX("runbook"), barX("verify")]).toEqual(["405.0", "456.0", "575.0"]);
    // The time ticks are the timeline's.
    const ticks = (svgText: string) =>
      [...svgText.matchAll(/<text x="([\d.]+)" y="\d+" font-size="10" fill="#777" text-anchor="middle">([^<]*)</g)].map((m) => `${m[1]} ${m[2]}`);
    expect(ticks(svg)).toEqual(ticks(timeline));
    expect(ticks(svg)).toHaveLength(6);
  });

  it("tabulates before, during and after with their SLO verdicts, and the totals", () => {
    const part = webPart(html);
    expect(part).toContain(
      '<tr><td>before <small>0ms → 30.0s</small></td><td>300</td><td>100%</td><td>14ms</td><td>24ms</td><td>+15.0s: 20/20 ok, p99 24ms</td><td class="ok">≥99.0% ok, p99 ≤ 500ms: met</td></tr>',
    );
    expect(part).toContain(
      '<tr><td>during <small>30.0s → 50.0s</small></td><td>400</td><td>60.0%</td><td>24ms</td><td>2000ms</td><td>+31.0s: 4/20 ok, p99 2000ms</td><td class="bad">≥90.0% ok: <b>breached</b></td></tr>',
    );
    expect(part).toContain(
      '<tr><td>after <small>50.0s → 1m15s</small></td><td>500</td><td>100%</td><td>14ms</td><td>24ms</td><td>+50.0s: 20/20 ok, p99 24ms</td><td class="ok">≥99.0% ok, p99 ≤ 500ms: met</td></tr>',
    );
    expect(part).toContain("vegeta, timeout 2.0s · total 1200 requests, 160 errors (86.7% ok), p99 2000ms · error window 10.0s · top errors: timeout ×160</p>");
  });

  it("gives each run of a suite its own charts", () => {
    const suite = htmlReport([journalWithLoad(), { ...journalWithLoad(), runId: "ffff0000" }, { ...journal(), runId: "eeee0000" }], "suite");
    const sections = suite.split("<section ").slice(1);
    expect(sections.map((s) => (s.match(/<svg [^>]*class="load"/g) ?? []).length)).toEqual([2, 2, 0]);
    expect(sections[2]).not.toContain("<h3>Load</h3>");
  });
});

describe("load in JUnit", () => {
  const xml = junitXml([journalWithLoad()], "web-stall");
  const testcase = (name: string) => new RegExp(`<testcase [^>]*name="${name}"[^>]*>.*?</testcase>`, "s").exec(xml)![0];

  it("is well-formed", () => {
    expect(xmlProblems(xml)).toEqual([]);
    expect(xml).toContain('<property name="section" value="#3 &lt;b&gt;&amp;&lt;/b&gt;"/>');
  });

  it("puts each stream's figures and SLO verdicts as properties of the last test case the run reached", () => {
    const props = [...testcase("verify").matchAll(/<property name="([^"]*)" value="([^"]*)"\/>/g)].map((m) => `${m[1]}=${m[2]}`);
    expect(props).toEqual([
      "load.web.requests=1200",
      "load.web.errors=160",
      "load.web.availability=0.8667",
      "load.web.p99_ms=2000",
      "load.web.worst_second_availability=0.2000",
      "load.web.worst_second_at_ms=31000",
      "load.web.error_window_ms=10000",
      "load.web.slo.before=met",
      "load.web.slo.during=breached",
      "load.web.slo.after=met",
      "load.api.requests=600",
      "load.api.errors=0",
      "load.api.availability=1.0000",
      "load.api.p99_ms=30",
      "load.api.worst_second_availability=1.0000",
      "load.api.worst_second_at_ms=15000",
      "load.api.error_window_ms=0",
      "load.api.slo.before=met",
      "load.api.slo.after=met",
    ]);
    expect(testcase("verify")).toMatch(/^<testcase [^>]*>\n {6}<properties>\n {8}<property /);
    for (const other of ["symptoms-absent", "inject", "symptoms", "verify-fails", "runbook"]) expect(testcase(other)).not.toContain("<properties>");
  });

  it("adds a summary line per stream to the test case's system-out", () => {
    const out = /<system-out>(.*?)<\/system-out>/s.exec(testcase("verify"))![1]!.split("\n");
    expect(out).toEqual([
      "load web (vegeta, 20/s GET http://172.18.0.2:31234/?a=1&amp;b=&lt;2&gt;): 1040/1200 ok = 86.7%, p99 2000ms, worst second +31.0s: 4/20 ok, p99 2000ms, error window 10.0s (timeout ×160); SLO before ≥99.0% ok, p99 ≤ 500ms: met, during ≥90.0% ok: BREACHED, after ≥99.0% ok, p99 ≤ 500ms: met",
      "load api (vegeta, 10/s GET https://172.18.0.3:6443/api/v1/namespaces/x/configmaps?limit=5): 600/600 ok = 100%, p99 30ms, worst second +15.0s: 10/10 ok, p99 30ms, error window 0ms; SLO before ≥99.0% ok, p99 ≤ 500ms: met, after ≥99.0% ok, p99 ≤ 500ms: met",
    ]);
  });

  it("goes to the last test case reached when the run stops early, next to its failure", () => {
    const j = journalWithLoad();
    j.phases = j.phases.filter((p) => ["cluster", "setup", "steady-state", "symptoms-absent", "inject", "symptoms"].includes(p.name));
    j.phases.at(-1)!.status = "failed";
    j.phases.at(-1)!.error = "no symptom within 4s";
    j.outcome = "fault-not-reproduced";
    const early = junitXml([j], "web-stall");
    expect(xmlProblems(early)).toEqual([]);
    const symptoms = /<testcase [^>]*name="symptoms"[^>]*>.*?<\/testcase>/s.exec(early)![0];
    expect(symptoms).toContain('<property name="load.web.requests" value="1200"/>');
    expect(symptoms).toMatch(/<\/properties>\n {6}<failure message="no symptom within 4s"[^>]*>.*<\/failure><system-out>load web \(vegeta/s);
    expect(early.match(/<properties>/g)).toHaveLength(2); // the suite's, and this test case's
  });
});

describe("a run without load", () => {
  it("renders exactly as before load charts existed", () => {
    // sha256 of htmlReport / junitXml for this fixture, computed with files.ts before load was added (at 2584cb5), and
    // again when runs got their version (a kubernetesVersion property; " @ v1.29.15" on a run of a non-default version).
    // If a deliberate change to the report's layout breaks this, recompute them; a load change must not. Runs got a
    // resilience score later: its table and properties are the only change, so without them the hashes still hold.
    const withoutScore = {
      html: (h: string) => h.replace(/\n<h3>Resilience score: \d+<\/h3><table class="score">.*?<\/table><p class="meta">[^<]*<\/p>/s, ""),
      junit: (x: string) => x.replace(/\n {6}<property name="(resilienceScore|score\.[^"]*)" value="[^"]*"\/>/g, ""),
    };
    expect(htmlReport([journal()], "Aftershock: web-stall")).toContain("<h3>Resilience score: ");
    expect(junitXml([journal()], "web-stall")).toContain('<property name="resilienceScore" value="');
    expect(sha(withoutScore.html(htmlReport([journal()], "Aftershock: web-stall")))).toBe("70ca66e795196c21a1adcaa1fc2e30c6899849f902c75444431e81e971ae827a");
    expect(sha(withoutScore.junit(junitXml([journal()], "web-stall")))).toBe("6834da721e31b335a0f7537e2d7add33c9cb52b4d91278af63944d7c530e4b9b");
    const html = htmlReport([journal()], "Aftershock: web-stall");
    expect(html).not.toContain('class="load"');
    expect(html).not.toContain("<h3>Load</h3>");
    expect(junitXml([journal()], "web-stall")).not.toContain("load.");
    // A scenario whose load never started (an empty list) is a run without load.
    expect(htmlReport([{ ...journal(), load: [] }], "Aftershock: web-stall")).toBe(html);
    expect(junitXml([{ ...journal(), load: [] }], "web-stall")).toBe(junitXml([journal()], "web-stall"));
  });

  it("and its timeline is the same with load or without", () => {
    const timeline = (h: string) => /<svg [^>]*class="timeline".*?<\/svg>/s.exec(h)![0];
    expect(timeline(htmlReport([journalWithLoad()], "x"))).toBe(timeline(htmlReport([journal()], "x")));
  });

  it("the well-formedness check catches what it should", () => {
    expect(xmlProblems('<a b="x&y"></a>')).not.toEqual([]);
    expect(xmlProblems('<a b="x<y"></a>')).not.toEqual([]);
    expect(xmlProblems("<a><b></a></b>")).not.toEqual([]);
    expect(xmlProblems("<a>x & y</a>")).not.toEqual([]);
    expect(xmlProblems("<a><b/></a>")).toEqual([]);
  });
});
