import { readFileSync } from "node:fs";
import path from "node:path";
import parsePrometheusTextFormat from "parse-prometheus-text-format";
import { describe, expect, it } from "vitest";
import type { PhaseRecord, RunJournal } from "../../harness/engine/journal.js";
import type { LoadRecord } from "../../harness/load/streams.js";
import { defineScenario, type ScenarioDefinition } from "../../harness/model/scenario.js";
import { breachValue, budgetValue, scoreLines, scoreRun, suiteScores } from "../../harness/reports/score.js";
import { consoleReporter } from "../../harness/reports/console.js";
import { scoreSection } from "../../harness/reports/trends.js";
import { gateReasons } from "../../harness/reports/gate.js";
import { METRICS, metricsText } from "../../harness/reports/metrics.js";
import { trends, type HistoryRecord, type HistoryRun } from "../../harness/reports/history.js";
import { junitXml } from "../../harness/reports/files.js";
import { runbookDelayMs, withTestHooks, RUNBOOK_DELAY_ENV } from "../../harness/engine/test-hooks.js";
import { checkUpFront, gateLines } from "../../harness/cli/scenario-command.js";
import { RecordingProgress } from "../../clusters/progress.js";
import { AftershockError } from "../../clusters/errors.js";

const S = 1_000;
const phase = (name: PhaseRecord["name"], status: PhaseRecord["status"] = "passed", o: Partial<PhaseRecord> = {}): PhaseRecord => ({
  name,
  startedAt: 0,
  endedAt: 1,
  status,
  steps: [],
  probes: [],
  ...o,
});
const summary = (availability: number, p99Ms: number) => ({
  fromMs: 0,
  toMs: 10_000,
  seconds: 10,
  requests: 200,
  errors: Math.round(200 * (1 - availability)),
  availability,
  p50Ms: 5,
  p99Ms,
  maxMs: p99Ms,
  errorWindowMs: 0,
  topErrors: [],
});
/** A load stream "web": SLO during ≥ 90% ok, after ≥ 99% ok and p99 ≤ 500ms, with what users saw in each window. */
function web(during: [number, number], after: [number, number]): LoadRecord {
  const slo = (window: "before" | "during" | "after", target: { availability: number; p99Ms?: number }, s: ReturnType<typeof summary>) => ({
    window,
    objective: `≥${target.availability * 100}% ok`,
    target,
    ok: s.availability >= target.availability && (target.p99Ms === undefined || s.p99Ms <= target.p99Ms),
    observed: `${s.availability * 100}% ok, p99 ${s.p99Ms}ms`,
  });
  const w = { before: summary(1, 20), during: summary(...during), after: summary(...after) };
  return {
    name: "web",
    generator: "vegeta",
    target: "GET http://x/",
    ratePerSecond: 20,
    timeoutMs: 2000,
    requests: 600,
    errors: 0,
    availability: 1,
    p50Ms: 5,
    p99Ms: 20,
    errorWindowMs: 0,
    topErrors: [],
    windows: w,
    slos: [
      slo("before", { availability: 0.99, p99Ms: 500 }, w.before),
      slo("during", { availability: 0.9 }, w.during),
      slo("after", { availability: 0.99, p99Ms: 500 }, w.after),
    ],
    series: [],
  };
}

/** A passed run: detect 20s of a 60s budget, recover 30s of 120s, web met everywhere, one sentinel intact. */
function journal(o: Partial<RunJournal> = {}): RunJournal {
  return {
    runId: "r1",
    scenario: { id: "web-stall", title: "t", summary: "s", source: { incident: "001", section: "x" }, tags: [] },
    kubernetesVersion: "v1.37.2",
    startedAt: 0,
    endedAt: 100_000,
    outcome: "passed",
    exitCode: 0,
    reason: "ok",
    phases: [
      phase("symptoms-absent"),
      phase("inject"),
      phase("symptoms"),
      phase("verify-fails"),
      phase("runbook"),
      phase("verify", "passed", { probes: [{ name: "10 ConfigMaps intact", expectation: "", kind: "sentinel", ok: true, observed: "10/10" }] }),
    ],
    evidence: [],
    timings: { totalMs: 100_000, timeToDetectMs: 20 * S, timeToRecoverMs: 30 * S },
    load: [web([0.95, 40], [1, 30])],
    scoring: { detectBudgetMs: 60 * S, recoverBudgetMs: 120 * S },
    ...o,
  };
}

const byName = (j: RunJournal) => Object.fromEntries(scoreRun(j).parts.map((p) => [p.name, [p.value, p.weight]]));

describe("a run's resilience score", () => {
  it("has a part per users' SLO during and after the fault, detect, recover, data and each self-check, each 0–100 with its weight", () => {
    expect(byName(journal())).toEqual({
      "web/during": [100, 3],
      "web/after": [100, 3],
      detect: [100, 1],
      recover: [100, 2],
      data: [100, 3],
      "symptoms-absent": [100, 1],
      "verify-fails": [100, 1],
    });
    expect(scoreRun(journal()).score).toBe(100);
  });

  it("values times 100 up to half the budget, falling linearly to 0 at the budget", () => {
    expect([0, 30, 45, 54, 60, 90].map((s) => budgetValue(s * S, 60 * S))).toEqual([100, 100, 50, 20, 0, 0]);
    // Detect 45s of 60s (50 × 1) and recover 100s of 120s (33 × 2): (6 × 100 + 50 + 66.7 + 3 × 100 + 2 × 100) / 14.
    const slow = journal({ timings: { totalMs: 1, timeToDetectMs: 45 * S, timeToRecoverMs: 100 * S } });
    expect([byName(slow).detect, byName(slow).recover]).toEqual([
      [50, 1],
      [33, 2],
    ]);
    expect(scoreRun(slow).score).toBe(Math.floor((3 * 100 + 3 * 100 + 50 + 2 * 33.333333 + 3 * 100 + 100 + 100) / 14));
  });

  it("grades a breached SLO by the error budget spent and p99 over its bound, never a full mark", () => {
    const o = { availability: 0.99, p99Ms: 500 };
    // 1.5 budgets spent → 50; p99 at 1.25 × its bound → 75; the lower counts.
    expect(breachValue(summary(0.985, 625), o)).toBe(50);
    expect(breachValue(summary(0.995, 625), o)).toBe(75);
    expect(breachValue(summary(0.97, 100), o)).toBe(0);
    expect(breachValue(summary(0.99, 500), o)).toBe(99);
    expect(breachValue(summary(0.999, 100), { availability: 1 })).toBe(0);
    // In a run: "during" at 85% against 90% (1.5 budgets) is 50; the verdict and why are kept.
    const p = scoreRun(journal({ load: [web([0.85, 40], [1, 30])] })).parts.find((x) => x.name === "web/during")!;
    expect([p.value, p.ok, p.detail]).toEqual([50, false, "breached (≥90% ok): 85% ok, p99 40ms"]);
  });

  it("makes data a hard 0 on any loss, naming what was lost", () => {
    const rpo = scoreRun(journal({ recoveryPoint: ["10 late ConfigMaps written after the backup: 0/10 present"] }));
    expect(rpo.parts.find((p) => p.name === "data")).toMatchObject({
      value: 0,
      detail: "lost: lost by design, after the recovery point: 10 late ConfigMaps written after the backup: 0/10 present",
    });
    expect(rpo.score).toBe(Math.floor((3 * 100 + 3 * 100 + 100 + 200 + 0 + 100 + 100) / 14));
    const lost = journal({ outcome: "data-lost", reason: "the cluster recovered but data written before the fault is gone: 3/10" });
    lost.phases.at(-1)!.probes[0] = { name: "10 ConfigMaps intact", expectation: "", kind: "sentinel", ok: false, observed: "3/10" };
    expect(scoreRun(lost).parts.find((p) => p.name === "data")!.detail).toBe("lost: 10 ConfigMaps intact: 3/10");
    // A run that checked no data has no data part; one that ended data-lost without a probe names its reason.
    expect(byName(journal({ phases: journal().phases.slice(0, 5) }))).not.toHaveProperty("data");
  });

  it("scores 0 what an unexpected outcome did not reach: not recovered, fault not reproduced, aborted", () => {
    const notRecovered = journal({ outcome: "not-recovered", timings: { totalMs: 1, timeToDetectMs: 20 * S } });
    expect(scoreRun(notRecovered).parts.find((p) => p.name === "recover")).toMatchObject({ value: 0, ok: false });
    expect(scoreRun(notRecovered).parts.find((p) => p.name === "recover")!.detail).toMatch(/^not recovered \(not-recovered\); budget 2m00s/);
    const noFault = journal({
      outcome: "fault-not-reproduced",
      phases: [phase("symptoms-absent"), phase("inject"), phase("symptoms", "failed")],
      load: [],
      timings: { totalMs: 1 },
    });
    expect(byName(noFault)).toEqual({ detect: [0, 1], recover: [0, 2], "symptoms-absent": [100, 1], "verify-fails": [0, 1] });
    expect(scoreRun(noFault).score).toBe(20);
    const aborted = journal({ outcome: "aborted", phases: [phase("steady-state", "failed")], load: [], timings: { totalMs: 1 } });
    expect(scoreRun(aborted).score).toBe(0);
  });

  it("weighs by the scenario's score.weights and score.slos (by SLO name, then by stream), 0 leaving a part out", () => {
    const j = journal({
      load: [web([0.85, 40], [1, 30])],
      scoring: { detectBudgetMs: 60 * S, recoverBudgetMs: 120 * S, config: { weights: { users: 1, "self-check": 0 }, slos: { "web/during": 6 } } },
    });
    expect(byName(j)).toMatchObject({ "web/during": [50, 6], "web/after": [100, 1], "symptoms-absent": [100, 0] });
    expect(scoreRun(j).score).toBe(Math.floor((6 * 50 + 100 + 100 + 200 + 300) / 13));
    const stream = journal({ scoring: { detectBudgetMs: 1, recoverBudgetMs: 1, config: { slos: { web: 5 } } } });
    expect([byName(stream)["web/during"]![1], byName(stream)["web/after"]![1]]).toEqual([5, 5]);
  });

  it("refuses weights that weigh nothing or do not make sense, in one line naming the field", () => {
    const def = (score: ScenarioDefinition["score"]): ScenarioDefinition =>
      ({
        id: "x",
        title: "t",
        summary: "s",
        source: { incident: "1", section: "s" },
        tags: [],
        cluster: { controlPlanes: 1, workers: 0 },
        setup: [],
        steadyState: [],
        fault: { title: "f", plan: [], inject: async () => {} },
        symptoms: { within: "1m", expect: [{ name: "p", expectation: "e", check: async () => ({ ok: true, observed: "" }) }] },
        runbook: [{ title: "r", shows: "r", budgetMs: 1, run: async () => {} }],
        verify: { within: "1m", expect: [{ name: "p", expectation: "e", check: async () => ({ ok: true, observed: "" }) }] },
        score,
      }) as ScenarioDefinition;
    expect(defineScenario(def({ weights: { users: 5 }, slos: { "workload/after": 2 } })).score).toEqual({
      weights: { users: 5 },
      slos: { "workload/after": 2 },
    });
    expect(() => defineScenario(def({ weights: { speed: 1 } as never }))).toThrow(/^scenario x: score\.weights\.speed is not a kind of score part/);
    expect(() => defineScenario(def({ weights: { detect: -1 } }))).toThrow(/^scenario x: score\.weights\.detect must be a number ≥ 0, got -1/);
    expect(() => defineScenario(def({ slos: { "web/after": 2 } }))).toThrow(/score\.slos\["web\/after"\] names no SLO/);
    expect(() => defineScenario(def({ slos: { "workload/before": 2 } }))).toThrow(/names no SLO/);
  });

  it("puts the score in JUnit: properties, and a test case per users' SLO that fails when it was breached", () => {
    const xml = junitXml([journal({ load: [web([0.85, 40], [1, 30])] })], "s");
    expect(xml).toContain('<property name="resilienceScore" value="89"/>');
    expect(xml).toContain('<property name="score.web/during" value="50"/>');
    expect(xml).toContain('<property name="score.web/during.weight" value="3"/>');
    expect(xml).toMatch(
      /<testcase [^>]*name="SLO web\/during" time="0"><failure message="breached: breached \(≥90% ok\): 85% ok, p99 40ms" type="slo-breached">/,
    );
    expect(xml).toMatch(/<testcase [^>]*name="SLO web\/after" time="0"><system-out>score 100/);
    expect(xml).toMatch(/<testsuite [^>]* tests="8" failures="1"/);
  });
});

/** A suite: web-stall passed twice (score 100, then a slow recover), its neutralised-fault proof, and api-down on another version. */
function suite(): RunJournal[] {
  return [
    journal(),
    journal({ runId: "r2", timings: { totalMs: 1, timeToDetectMs: 20 * S, timeToRecoverMs: 105 * S } }),
    journal({
      runId: "r3",
      variant: { name: "fault neutralised", expected: "fault-not-reproduced" },
      outcome: "fault-not-reproduced",
      phases: [phase("symptoms-absent"), phase("symptoms", "failed")],
      load: [],
      timings: { totalMs: 1 },
    }),
    journal({
      runId: "r4",
      scenario: { ...journal().scenario, id: "api-down" },
      kubernetesVersion: "v1.29.15",
      load: [],
      outcome: "not-recovered",
      timings: { totalMs: 1, timeToDetectMs: 5 * S },
    }),
  ];
}

describe("the suite's scores and the gate", () => {
  it("rolls up per scenario key, per version and for the catalog, leaving runs meant to fail out of the means", () => {
    const s = suiteScores(suite());
    expect(s.keys.map((k) => [k.key, k.runs, k.score, k.counted])).toEqual([
      ["web-stall", 2, 94.5, true],
      ["web-stall (fault neutralised)", 1, 20, false],
      ["api-down @ v1.29.15", 1, 75, true],
    ]);
    // The second web-stall run recovered in 105s of 120s: recover 25 × 2, ⌊(1200 + 50) / 14⌋ = 89; the key's mean
    // is (100 + 89) / 2, and its recover part (100 + 25) / 2. The neutralised fault: symptoms-absent 100 × 1 of 5.
    // api-down did not recover: recover 0 × 2 of 8 (no users' SLOs).
    expect(s.keys[0]!.parts.find((p) => p.name === "recover")).toMatchObject({ value: 62.5, ok: false });
    expect(s.versions).toEqual([
      { version: "v1.37.2", score: 94.5, runs: 2 },
      { version: "v1.29.15", score: 75, runs: 1 },
    ]);
    // The catalog: the three runs meant to pass, (100 + 89 + 75) / 3.
    expect(s.catalog).toBe(88);
  });

  it("fails for an unexpected outcome, a score under the threshold and a regressed time, one line each", () => {
    const js = suite();
    const history = [15, 16, 14, 15, 17].map((r, i): HistoryRecord => ({
      version: 1,
      startedAt: `2025-01-0${i + 1}T00:00:00.000Z`,
      ids: [],
      prove: false,
      repeat: 1,
      runs: [{ id: "web-stall", kubernetesVersion: "v1.37.2", outcome: "passed", expected: "passed", asExpected: true, totalMs: 1, timeToRecoverMs: r * S }],
    }));
    const current: HistoryRecord = {
      ...history[0]!,
      runs: js.slice(0, 2).map((j): HistoryRun => ({
        id: j.scenario.id,
        kubernetesVersion: "v1.37.2",
        outcome: "passed",
        expected: "passed",
        asExpected: true,
        totalMs: 1,
        timeToRecoverMs: j.timings.timeToRecoverMs!,
      })),
    };
    const reasons = gateReasons(js, suiteScores(js), trends(history, current), 80);
    expect(reasons).toEqual([
      "api-down @ v1.29.15: ended not-recovered, expected passed (ok)",
      "api-down @ v1.29.15: score 75 < 80; lowest: recover 0 ×2 (not recovered (not-recovered); budget 2m00s, full marks up to 1m00s)",
      "web-stall: time to recover 1m08s > 21.0s (median 15.0s + 3 × spread 2.0s of 5 earlier runs)",
    ]);
    // The neutralised fault scored 20, but it is meant to fail: no reason. A lower threshold lets api-down's score pass.
    expect(gateReasons(js, suiteScores(js), [], 20)).toEqual([reasons[0]]);
    expect(gateReasons(js.slice(0, 3), suiteScores(js.slice(0, 3)), [], 80)).toEqual([]);
  });
});

describe("the metrics file", () => {
  const text = () =>
    metricsText({
      journals: suite(),
      scores: suiteScores(suite()),
      gate: { enforced: true, minScore: 80, reasons: ["a", "b"] },
      startedAt: new Date("2025-02-01T02:00:00Z"),
    });

  it("parses as Prometheus text format: every family a gauge with HELP, no series twice, # EOF last", () => {
    const t = text();
    expect(t.endsWith("\n# EOF\n")).toBe(true);
    const families = parsePrometheusTextFormat(t);
    for (const f of families) {
      expect(f.type, f.name).toBe("GAUGE");
      expect(f.help, f.name).toBe(METRICS[f.name as keyof typeof METRICS]);
      const series = f.metrics.map((m) => JSON.stringify(m.labels ?? {}));
      expect(new Set(series).size, f.name).toBe(series.length);
      for (const m of f.metrics) expect(Number.isFinite(Number(m.value)), `${f.name} ${m.value}`).toBe(true);
    }
    // Each family's samples follow its own HELP and TYPE, once (the parser would merge a family split in two).
    expect(t.match(/^# TYPE /gm)).toHaveLength(families.length);
    expect(t).not.toMatch(/^[a-z_]+(\{[^}]*\})? \S+ \S+$/m); // no timestamps: the textfile collector refuses them
    const get = (name: string, labels: Record<string, string> = {}) =>
      families.find((f) => f.name === name)?.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v))?.value;
    expect(get("aftershock_resilience_score", { scenario: "web-stall", variant: "", version: "v1.37.2" })).toBe("94.5");
    expect(get("aftershock_slo_score", { scenario: "web-stall", variant: "", slo: "recover" })).toBe("62.5");
    expect(get("aftershock_slo_weight", { scenario: "web-stall", variant: "", slo: "web/during" })).toBe("3");
    expect(get("aftershock_time_to_recover_seconds", { scenario: "web-stall", variant: "" })).toBe("67.5");
    expect(get("aftershock_time_to_detect_seconds", { scenario: "api-down", version: "v1.29.15" })).toBe("5");
    expect(families.find((f) => f.name === "aftershock_time_to_recover_seconds")!.metrics).toHaveLength(1);
    expect(get("aftershock_run_outcome", { scenario: "web-stall", variant: "fault neutralised", outcome: "fault-not-reproduced" })).toBe("1");
    expect(get("aftershock_run_outcome", { scenario: "api-down", outcome: "passed" })).toBe("0");
    expect(get("aftershock_runs_not_as_expected", { scenario: "api-down" })).toBe("1");
    expect(get("aftershock_version_score", { version: "v1.29.15" })).toBe("75");
    expect(get("aftershock_catalog_score")).toBe("88");
    expect([get("aftershock_gate_failed"), get("aftershock_gate_enforced"), get("aftershock_gate_min_score"), get("aftershock_gate_reasons")]).toEqual([
      "1",
      "1",
      "80",
      "2",
    ]);
    expect(get("aftershock_suite_start_timestamp_seconds")).toBe("1738375200");
  });

  it("escapes label values so that the parser reads them back", () => {
    const j = journal({ variant: { name: 'odd "name" \\ here', expected: "passed" } });
    const t = metricsText({ journals: [j], scores: suiteScores([j]), gate: { enforced: false, minScore: 80, reasons: [] }, startedAt: new Date(0) });
    const f = parsePrometheusTextFormat(t).find((x) => x.name === "aftershock_resilience_score")!;
    expect(f.metrics[0]!.labels!.variant).toBe('odd "name" \\ here');
  });

  it("is charted by the Grafana dashboard: every panel's query names a metric the writer emits", () => {
    const file = path.resolve(import.meta.dirname, "../../docs/grafana/aftershock-dashboard.json");
    const dash = JSON.parse(readFileSync(file, "utf8")) as { panels: { title: string; targets?: { expr: string }[] }[] };
    const exprs = dash.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr })));
    expect(dash.panels.length).toBeGreaterThanOrEqual(5);
    expect(exprs.length).toBeGreaterThanOrEqual(dash.panels.length);
    for (const { panel, expr } of exprs) {
      const names = expr.match(/\baftershock_[a-z_]+/g) ?? [];
      expect(names.length, `${panel}: ${expr}`).toBeGreaterThan(0);
      for (const n of names) expect(Object.keys(METRICS), `${panel}: ${n}`).toContain(n);
    }
    // What the issue asks to see: score over time, SLO scores, detect and recover times, outcomes.
    for (const m of [
      "aftershock_resilience_score",
      "aftershock_slo_score",
      "aftershock_time_to_detect_seconds",
      "aftershock_time_to_recover_seconds",
      "aftershock_run_outcome",
    ])
      expect(
        exprs.some((e) => e.expr.includes(m)),
        m,
      ).toBe(true);
  });
});

describe("the test switch " + RUNBOOK_DELAY_ENV, () => {
  it("delays every runbook step and says so in its output; unset, the scenario is the same object", async () => {
    const s = { runbook: [{ title: "fix", shows: "fix", budgetMs: 60_000, run: async () => "fixed" }] } as unknown as Parameters<typeof withTestHooks>[0];
    expect(withTestHooks(s, {})).toBe(s);
    const hooked = withTestHooks(s, { [RUNBOOK_DELAY_ENV]: "50" });
    const t0 = performance.now();
    const out = await hooked.runbook[0]!.run({} as never);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(45);
    expect(out).toBe(`test switch ${RUNBOOK_DELAY_ENV}: delayed 50ms first\nfixed`);
  });

  it("is bad input unless a whole number of ms, refused before anything is created", () => {
    expect(runbookDelayMs({ [RUNBOOK_DELAY_ENV]: "1500" })).toBe(1500);
    for (const v of ["abc", "-1", "1.5", "3600001"]) expect(() => runbookDelayMs({ [RUNBOOK_DELAY_ENV]: v }), v).toThrow(AftershockError);
    const before = process.env[RUNBOOK_DELAY_ENV];
    process.env[RUNBOOK_DELAY_ENV] = "soon";
    try {
      expect(() => checkUpFront({ version: "v1.37.2", keep: false, reporters: [], gameDay: false, progress: new RecordingProgress() })).toThrow(
        /AFTERSHOCK_TEST_RUNBOOK_DELAY_MS must be a whole number of ms from 0 to 3600000, got "soon"/,
      );
    } finally {
      if (before === undefined) delete process.env[RUNBOOK_DELAY_ENV];
      else process.env[RUNBOOK_DELAY_ENV] = before;
    }
  });
});

describe("where people see the score", () => {
  it("the console's end-of-run lines give the score and the parts under 100", () => {
    const lines: string[] = [];
    consoleReporter((l) => lines.push(l)).onRunEnd!(journal({ load: [web([0.85, 40], [1, 30])] }));
    expect(lines).toContain("  resilience score: 89 (below 100: web/during 50 ×3)");
  });

  it("the suite's console lines and report give per key, per version and the catalog, and the gate's reasons", () => {
    const s = suiteScores(suite());
    expect(scoreLines(s)).toBe(
      "  score web-stall: 94.5 — below 100: recover 62.5\n" +
        "  score web-stall (fault neutralised): 20 (meant to fail: not in the roll-ups) — below 100: detect 0, recover 0, verify-fails 0\n" +
        "  score api-down @ v1.29.15: 75 — below 100: recover 0\n" +
        "  score v1.37.2: 94.5 over 2 runs\n" +
        "  score v1.29.15: 75 over 1 run\n" +
        "  resilience score of the catalog: 88 (mean of 3 runs meant to pass)\n",
    );
    expect(gateLines([], 80)).toBe("gate: passed (every run as expected, every scenario scored ≥ 80, no time regressed)\n");
    expect(gateLines(["a: score 75 < 80", "b: ended errored"], 80)).toBe("gate: FAILED, 2 reasons:\ngate: a: score 75 < 80\ngate: b: ended errored\n");
    const html = scoreSection(s, { enforced: false, minScore: 80, reasons: ["api-down @ v1.29.15: score 75 < 80"] });
    expect(html).toContain("<p>catalog: <b>88</b> · v1.37.2: <b>94.5</b> over 2 runs · v1.29.15: <b>75</b> over 1 run</p>");
    expect(html).toContain("gate (minimum score 80; not enforced without --gate): <b>failed</b><br>api-down @ v1.29.15: score 75 &lt; 80");
    const rows = html.split("<tr>").slice(2);
    expect(rows).toHaveLength(3);
    expect(rows[0]).toMatch(/^<td>web-stall<\/td><td>2<\/td><td><b>94\.5<\/b><\/td><td class="ok" title="weight 3: met/);
    expect(rows[0]).toContain('<td class="bad" title="weight 2: 1m45s; budget 2m00s, full marks up to 1m00s">62.5</td>');
    expect(rows[1]).toContain("meant to fail: not in the roll-ups");
  });
});
