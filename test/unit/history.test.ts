import { DEFAULT_KUBERNETES_VERSION } from "../../clusters/versions.js";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import {
  gitCommit,
  historyDir,
  historyRecord,
  historyRun,
  median,
  readHistory,
  REGRESSION,
  regressionBand,
  recordFileName,
  repeatLine,
  repeatStats,
  summaryLine,
  trends,
  writeHistory,
  type HistoryRecord,
  type HistoryRun,
} from "../../harness/reports/history.js";
import { clusterUse, leftOutText, servedScenarios, suiteNumbers } from "../../harness/cli/scenario-command.js";
import { existingClusters } from "../../clusters/existing.js";
import { RecordingProgress } from "../../clusters/progress.js";
import { loadAll } from "../../harness/engine/registry.js";
import { htmlReport } from "../../harness/reports/files.js";
import { suiteSections, trendsSection } from "../../harness/reports/trends.js";
import type { RunJournal } from "../../harness/engine/journal.js";
import { parseShard, repeatRuns, shardScenarios, suitePlan, type PlannedRun } from "../../harness/engine/variants.js";

const tmp = () => mkdtempSync(path.join(os.tmpdir(), "history-"));

/** A run of scenario `id` (variant `name`), as expected unless `ok` is false, recovering in `recover` ms. */
const run = (id: string, recover?: number, o: Partial<HistoryRun> = {}): HistoryRun => ({
  id,
  kubernetesVersion: DEFAULT_KUBERNETES_VERSION,
  outcome: "passed",
  expected: "passed",
  asExpected: true,
  totalMs: 60_000,
  ...(recover !== undefined ? { timeToRecoverMs: recover } : {}),
  ...o,
});
const failed = (id: string, o: Partial<HistoryRun> = {}): HistoryRun => run(id, undefined, { outcome: "not-recovered", asExpected: false, ...o });
const record = (startedAt: string, runs: HistoryRun[], o: Partial<HistoryRecord> = {}): HistoryRecord => ({
  version: 1,
  startedAt,
  ids: [],
  prove: false,
  repeat: 1,
  runs,
  ...o,
});
/** Earlier suite runs, one a day in January, each with the given runs. */
const days = (...runs: HistoryRun[][]) => runs.map((rs, i) => record(`2025-01-${String(i + 1).padStart(2, "0")}T02:00:00.000Z`, rs));
const now = (...runs: HistoryRun[]) => record("2025-02-01T02:00:00.000Z", runs);

function journal(o: Partial<RunJournal> = {}): RunJournal {
  return {
    runId: "0a1b2c3d",
    scenario: { id: "apiserver-down", title: "t", summary: "s", source: { incident: "002", section: "x" }, tags: [] },
    startedAt: 1_700_000_000_000,
    endedAt: 1_700_000_090_000,
    outcome: "passed",
    exitCode: 0,
    reason: "",
    phases: [],
    evidence: [],
    timings: { totalMs: 90_000, clusterCreateMs: 30_000, timeToDetectMs: 4_000, timeToConfirmMs: 6_000, timeToRecoverMs: 21_000 },
    ...o,
  };
}

describe("history record", () => {
  it("keeps per run what the trends need: outcome against expectation, the four times, and per load stream its availability during the fault", () => {
    const load = {
      name: "web",
      errorWindowMs: 2_000,
      windows: { during: { availability: 0.958 } },
    } as unknown as NonNullable<RunJournal["load"]>[number];
    const noDuring = { name: "api", errorWindowMs: 0, windows: {} } as unknown as NonNullable<RunJournal["load"]>[number];
    const j = journal({
      variant: { name: "variant ha", expected: "passed" },
      load: [load, noDuring],
      scoring: { detectBudgetMs: 60_000, recoverBudgetMs: 120_000 },
    });
    expect(historyRun(j)).toEqual({
      id: "apiserver-down",
      name: "variant ha",
      outcome: "passed",
      expected: "passed",
      asExpected: true,
      timeToDetectMs: 4_000,
      timeToConfirmMs: 6_000,
      timeToRecoverMs: 21_000,
      totalMs: 90_000,
      // Detect (4s of 1m) and recover (21s of 2m) in the first half of their budgets: 100 × 1 and × 2; the fixture
      // has no self-check phases, which score 0 × 1 each: 300 / 5.
      score: 60,
      load: [
        { name: "web", duringAvailability: 0.958, errorWindowMs: 2_000 },
        { name: "api", errorWindowMs: 0 },
      ],
    });
    // The default runbook of a scenario with several is named by its runbook; a run that ended otherwise than declared says so.
    const lost = journal({ runbook: "safe", outcome: "data-lost", exitCode: 5, timings: { totalMs: 1_000 } });
    expect(historyRun(lost)).toEqual({
      id: "apiserver-down",
      name: "runbook safe",
      outcome: "data-lost",
      expected: "passed",
      asExpected: false,
      totalMs: 1_000,
      score: 0,
    });
    // The runbook's step times, when every step ran and succeeded.
    const step = (title: string, ms: number, ok = true) => ({ title, startedAt: 1_000, endedAt: 1_000 + ms, ok });
    const phase = (steps: ReturnType<typeof step>[]) => ({ name: "runbook" as const, startedAt: 0, endedAt: 1, status: "passed" as const, steps, probes: [] });
    expect(historyRun(journal({ phases: [phase([step("find", 1_200), step("fix", 8_000)])] })).runbookSteps).toEqual([
      { title: "find", ms: 1_200 },
      { title: "fix", ms: 8_000 },
    ]);
    expect(historyRun(journal({ phases: [phase([step("find", 1_200), step("fix", 8_000, false)])] }))).not.toHaveProperty("runbookSteps");
    const r = historyRecord([journal()], {
      startedAt: new Date("2025-01-31T02:00:00.000Z"),
      commit: "f57604f",
      ids: [],
      tag: "control-plane",
      prove: true,
      shard: { index: 2, count: 4 },
      repeat: 3,
    });
    expect({ ...r, runs: r.runs.length }).toEqual({
      version: 1,
      startedAt: "2025-01-31T02:00:00.000Z",
      commit: "f57604f",
      tag: "control-plane",
      ids: [],
      prove: true,
      shard: { index: 2, count: 4 },
      repeat: 3,
      runs: 1,
    });
    expect(recordFileName(r)).toBe("2025-01-31T02-00-00-000Z-shard-2-of-4.json");
    expect(recordFileName({ startedAt: r.startedAt })).toBe("2025-01-31T02-00-00-000Z.json");
  });

  it("writes one file per suite run and reads back the last N, oldest first, skipping a corrupt file with one warning line", async () => {
    const dir = path.join(tmp(), "history");
    expect(await readHistory(dir)).toEqual([]);
    const [a, b, c] = days([run("x", 1_000)], [run("x", 2_000)], [run("x", 3_000)]) as [HistoryRecord, HistoryRecord, HistoryRecord];
    for (const r of [c, a, b]) await writeHistory(dir, r);
    expect(JSON.parse(readFileSync(path.join(dir, "2025-01-02T02-00-00-000Z.json"), "utf8"))).toEqual(b);
    writeFileSync(path.join(dir, "2025-01-02T12-00-00-000Z.json"), '{"version": 1, "startedAt": "2025-01-02T12:00:00.000Z", "runs": [');
    writeFileSync(path.join(dir, "2025-01-02T13-00-00-000Z.json"), '{"version": 2, "runs": []}');
    writeFileSync(path.join(dir, "2025-01-02T14-00-00-000Z.json"), '{"version": 1, "startedAt": "x", "runs": [{"id": "x"}]}');
    writeFileSync(path.join(dir, "notes.txt"), "not a record, not read");
    const warnings: string[] = [];
    const all = await readHistory(dir, 30, (l) => warnings.push(l));
    expect(all.map((r) => r.runs[0]!.timeToRecoverMs)).toEqual([1_000, 2_000, 3_000]);
    expect(warnings).toEqual([
      `history: skipped ${path.join(dir, "2025-01-02T14-00-00-000Z.json")}: run 1 has no id, outcome or asExpected`,
      `history: skipped ${path.join(dir, "2025-01-02T13-00-00-000Z.json")}: not a version 1 history record`,
      expect.stringMatching(/^history: skipped \S+2025-01-02T12-00-00-000Z\.json: not JSON \(.+\)$/),
    ]);
    // The last two valid records: the corrupt ones in between do not count.
    expect((await readHistory(dir, 2, () => {})).map((r) => r.startedAt)).toEqual(["2025-01-02T02:00:00.000Z", "2025-01-03T02:00:00.000Z"]);
  });

  it("lives in reports/history unless AFTERSHOCK_HISTORY_DIR says otherwise", () => {
    expect(historyDir({})).toBe(path.resolve(import.meta.dirname, "../../reports/history"));
    expect(historyDir({ AFTERSHOCK_HISTORY_DIR: "/var/cache/aftershock-history" })).toBe("/var/cache/aftershock-history");
  });

  it("reads the commit from .git: a branch ref, a packed ref, a detached HEAD, nothing", () => {
    const root = tmp();
    expect(gitCommit(root)).toBeUndefined();
    const sha = "f57604f0123456789abcdef0123456789abcdef0";
    mkdirSync(path.join(root, ".git", "refs", "heads"), { recursive: true });
    writeFileSync(path.join(root, ".git", "HEAD"), "ref: refs/heads/main\n");
    writeFileSync(path.join(root, ".git", "packed-refs"), `# pack-refs with: peeled\n${sha.replace("f576", "aaaa")} refs/heads/nightly\n`);
    expect(gitCommit(root)).toBeUndefined();
    writeFileSync(path.join(root, ".git", "refs", "heads", "main"), `${sha}\n`);
    expect(gitCommit(root)).toBe(sha);
    writeFileSync(path.join(root, ".git", "HEAD"), "ref: refs/heads/nightly\n");
    expect(gitCommit(root)).toBe(sha.replace("f576", "aaaa"));
    writeFileSync(path.join(root, ".git", "HEAD"), `${sha}\n`);
    expect(gitCommit(root)).toBe(sha);
  });
});

describe("trends over the history", () => {
  const S = 1_000;

  // The 2× rule's cases, under its replacement (median + 3 × spread, REGRESSION in history.ts): its first case,
  // 61s against a 30s median, is still flagged once the history has the five runs the spread needs; so are its
  // 21s against 10s and 11s against 5s (2s floor on the spread). Its "exactly twice is no regression" (60s) is
  // now one: 20–40s of spread explains up to 52.2s, not 60s.
  it("flags a regression when this run's time to recover is above the earlier runs' median + 3 × their spread", () => {
    const earlier = days([run("a", 30 * S)], [run("a", 20 * S)], [run("a", 40 * S)], [run("a", 30 * S)], [run("a", 25 * S)]);
    const [row] = trends(earlier, now(run("a", 61 * S)));
    expect(row!.flags).toEqual(["regression"]);
    // median 30s; deviations 0, 10, 10, 0, 5 → MAD 5s → spread 1.4826 × 5s = 7.4s; limit 30s + 3 × 7.4s = 52.2s.
    expect(row!.regressions).toEqual(["time to recover 1m01s > 52.2s (median 30.0s + 3 × spread 7.4s of 5 earlier runs)"]);
    expect(row!.earlier).toBe(5);
    expect(row!.medianRecoverMs).toBe(30 * S);
    expect(row!.passRate).toBe(1);
    expect(trends(earlier, now(run("a", 60 * S)))[0]!.flags).toEqual(["regression"]);
    // At the limit is no regression; four earlier values are too few, however slow this run.
    expect(trends(earlier, now(run("a", 52_239)))[0]!.flags).toEqual([]);
    expect(trends(earlier.slice(0, 4), now(run("a", 500 * S)))[0]!.flags).toEqual([]);
    // Earlier runs without a value (not recovered) do not count towards the five; identical values have no
    // spread, so the floor (2s, or 10% of the median) stands in: 10s + 3 × 2s.
    const gaps = days([run("a", 10 * S)], [failed("a")], [run("a", 10 * S)], [run("a", 10 * S)], [run("a", 10 * S)], [run("a", 10 * S)]);
    expect(trends(gaps, now(run("a", 21 * S)))[0]!.regressions).toEqual(["time to recover 21.0s > 16.0s (median 10.0s + 3 × spread 2.0s of 5 earlier runs)"]);
    expect(trends(gaps, now(run("a", 16 * S)))[0]!.regressions).toEqual([]);
    expect(
      trends(
        gaps.filter((_, i) => i !== 3),
        now(run("a", 21 * S)),
      )[0]!.regressions,
    ).toEqual([]);
  });

  it("flags a regression of time to detect the same way, and with --repeat compares this run's median", () => {
    const earlier = days(...[4, 5, 6, 5, 4].map((d) => [run("a", 30 * S, { timeToDetectMs: d * S })]));
    const [row] = trends(earlier, now(run("a", 30 * S, { timeToDetectMs: 11 * S })));
    // MAD 1s → 1.5s, under the 2s floor: 5s + 3 × 2s = 11s. The 2× rule flagged 11.0s against 5s after three runs;
    // three probe intervals above the median is where this one starts, so 11.0s is the limit and 11.1s above it.
    expect(row!.regressions).toEqual([]);
    expect(trends(earlier, now(run("a", 30 * S, { timeToDetectMs: 11_100 })))[0]!.regressions).toEqual([
      "time to detect 11.1s > 11.0s (median 5.0s + 3 × spread 2.0s of 5 earlier runs)",
    ]);
    // With --repeat this suite's median is compared: earlier recoveries of 30s each have no spread, so 10% of the
    // median stands in (3s) and the limit is 39s; repeats of 10s, 35s, 90s (median 35s) are quiet, 10s, 50s, 90s not.
    const repeated = trends(earlier, now(run("a", 10 * S), run("a", 35 * S), run("a", 90 * S)))[0]!;
    expect(repeated.regressions).toEqual([]);
    expect(trends(earlier, now(run("a", 10 * S), run("a", 50 * S), run("a", 90 * S)))[0]!.regressions).toEqual([
      "time to recover 50.0s > 39.0s (median 30.0s + 3 × spread 3.0s of 5 earlier runs)",
    ]);
    expect(repeated.runs).toHaveLength(8);
    expect(repeated.medianRecoverMs).toBe(30 * S);
  });

  it("is quiet on ten noisy but stable runs and fires on one whose runbook was delayed", () => {
    // Ten nights of a scenario that recovers in about 45s give or take 6s, detecting in 3–7s.
    const recover = [41, 47, 44, 52, 39, 46, 43, 49, 45, 42];
    const detect = [3, 5, 4, 7, 4, 6, 5, 3, 5, 4];
    const nights = recover.map((r, i) => [run("a", r * S, { timeToDetectMs: detect[i]! * S })]);
    // Each night from the sixth on, judged against the nights before it as the suite would: never a regression.
    for (let i = REGRESSION.minEarlier; i < nights.length; i++) expect(trends(days(...nights.slice(0, i)), now(nights[i]![0]!))[0]!.flags).toEqual([]);
    // The band of all ten: median 44.5s, MAD 2.5s → 3.7s, under the floor of 10% of the median (4.45s); limit
    // 44.5s + 3 × 4.45s = 57.85s. A night as slow as the slowest so far is quiet.
    const band = regressionBand(recover.map((r) => r * S))!;
    expect([band.median, Math.round(band.spread), Math.round(band.limit)]).toEqual([44_500, 4_450, 57_850]);
    expect(trends(days(...nights), now(run("a", 52 * S, { timeToDetectMs: 7 * S })))[0]!.flags).toEqual([]);
    // The same scenario with AFTERSHOCK_TEST_RUNBOOK_DELAY_MS=15000 on its two runbook steps: 30s later.
    const delayed = trends(days(...nights), now(run("a", 45 * S + 2 * 15 * S, { timeToDetectMs: 5 * S })))[0]!;
    expect(delayed.flags).toEqual(["regression"]);
    expect(delayed.regressions).toEqual(["time to recover 1m15s > 57.9s (median 44.5s + 3 × spread 4.5s of 10 earlier runs)"]);
    // The old rule (2 × 44.5s = 89s) would not have seen it.
    expect(75 * S).toBeLessThan(2 * band.median);
  });

  it("flags flaky when some but not all of the last runs ended as expected, and failing when this run did not", () => {
    const mixed = days([run("a", S)], [failed("a")], [run("a", S)]);
    const flaky = trends(mixed, now(run("a", S)))[0]!;
    expect([flaky.flags, flaky.passRate]).toEqual([["flaky"], 0.75]);
    const both = trends(mixed, now(failed("a")))[0]!;
    expect([both.flags, both.passRate]).toEqual([["flaky", "failing"], 0.5]);
    // Always failing is failing, not flaky; a first run has no history and only its own verdict.
    expect(trends(days([failed("a")], [failed("a")]), now(failed("a")))[0]!.flags).toEqual(["failing"]);
    expect(trends([], now(run("a", S)))[0]).toMatchObject({ earlier: 0, flags: [], passRate: 1 });
  });

  it("looks at the last 10 earlier runs of each scenario key: id and variant or runbook apart", () => {
    // Eleven earlier suites: the first, a failure, falls out of the window.
    const earlier = days(
      [failed("a"), run("a", S, { name: "variant ha" })],
      ...Array.from({ length: 10 }, () => [run("a", S), failed("a", { name: "variant ha" })]),
    );
    const rows = trends(earlier, now(run("a", S), run("a", S, { name: "variant ha" })));
    expect(rows.map((r) => [r.key, r.earlier, r.passRate, r.flags])).toEqual([
      ["a", 10, 1, []],
      ["a (variant ha)", 10, 1 / 11, ["flaky"]],
    ]);
  });

  it("draws the trends table with the rule in its caption, one row per key, the flags and why", () => {
    const earlier = days([run("a", 30 * S, { score: 90 })], [run("a", 20 * S)], [failed("a")], [run("a", 40 * S)], [run("a", 30 * S)], [run("a", 25 * S)]);
    const html = trendsSection(trends(earlier, now(run("a", 90 * S, { score: 70 }), run("b <i>", 5 * S))), 6);
    expect(html).toContain(
      "<caption>Each scenario over its last runs, newest last: up to 10 earlier runs (from 6 earlier suite runs in the history), then this suite's. " +
        "<b>regression</b>: this run's time to detect or to recover is above the median of the earlier runs' + 3 × their spread (1.4826 × the median absolute deviation, at least 2s and 10% of the median; at least 5 earlier runs with a value; with --repeat, this run's median is compared).",
    );
    const rows = html.split("<tr>").slice(2);
    expect(rows).toHaveLength(2);
    expect(rows[0]).toMatch(/^<td>a<\/td><td>6 \+ 1<\/td><td>—<\/td><td><svg [^]*<\/svg><br><small>… — 40\.0s 30\.0s 25\.0s 1m30s<\/small><\/td>/);
    // The score's sparkline: on 0–100, the runs that have one (records before scores have none), this suite's last.
    expect(rows[0]).toContain('aria-label="oldest first: 90, —, —, —, —, —, 70 (this suite)"');
    expect(rows[0]).toContain("<td>6/7 = 85.7%</td><td>30.0s</td>");
    expect(rows[0]).toContain(
      '<span class="flag regression">regression</span><span class="flag flaky">flaky</span><br><small>time to recover 1m30s &gt; 52.2s (median 30.0s + 3 × spread 7.4s of 5 earlier runs)</small>',
    );
    expect(rows[1]).toContain("<td>b &lt;i&gt;</td><td>0 + 1</td>");
    // The gap (a run with no recovery) breaks the line: two polylines, one dot for this suite's run; the score's
    // two values, five runs apart, are two lines of a point each and a dot.
    const cells = rows[0]!.split("</td><td>");
    expect(cells[3]!.match(/<polyline/g)).toHaveLength(2);
    expect(cells[3]!.match(/<circle/g)).toHaveLength(1);
    expect(cells[4]!.match(/<polyline/g)).toHaveLength(2);
    expect(cells[4]!.match(/<circle/g)).toHaveLength(1);
  });
});

describe("repeated runs", () => {
  it("gives per key runs, passes, pass rate and min / median / max of detect and recover", () => {
    const runs = [
      run("a", 30_000, { timeToDetectMs: 5_000 }),
      failed("a", { timeToDetectMs: 7_000 }),
      run("a", 20_000, { timeToDetectMs: 6_000 }),
      run("a", 40_000, { timeToDetectMs: 9_000, name: "variant ha" }),
    ];
    const [a, ha] = repeatStats(runs);
    expect(a).toEqual({
      key: "a",
      runs: 3,
      passes: 2,
      passRate: 2 / 3,
      detect: { min: 5_000, median: 6_000, max: 7_000, n: 3 },
      recover: { min: 20_000, median: 25_000, max: 30_000, n: 2 },
    });
    expect(repeatLine(a!)).toBe("a: 3 runs, 2 as expected (pass rate 66.7%), detect 5.0s / 6.0s / 7.0s, recover 20.0s / 25.0s / 30.0s (min / median / max)");
    expect(repeatLine(ha!)).toBe(
      "a (variant ha): 1 run, 1 as expected (pass rate 100%), detect 9.0s / 9.0s / 9.0s, recover 40.0s / 40.0s / 40.0s (min / median / max)",
    );
    expect(repeatStats([failed("b")])).toEqual([{ key: "b", runs: 1, passes: 0, passRate: 0 }]);
    expect([median([]), median([3]), median([9, 1, 4, 7]), median([2, 8, 5])]).toEqual([undefined, 3, 5.5, 5]);
  });

  it("states total runs and failures in the suite's last line", () => {
    expect(summaryLine(Array.from({ length: 50 }, () => run("a", 1)))).toBe("suite: 50 scenario runs, 0 not as expected (pass rate 100%)");
    expect(summaryLine([run("a", 1), failed("a"), run("b", 1)])).toBe("suite: 3 scenario runs, 1 not as expected (pass rate 66.7%)");
    expect(summaryLine([failed("a")])).toBe("suite: 1 scenario run, 1 not as expected (pass rate 0%)");
  });

  it("adds the repeated runs table to the suite report only when a key ran more than once; a report without them is unchanged", () => {
    const once = repeatStats([run("a", 1_000), run("b", 1_000)]);
    expect(suiteSections([], 0, once)).toBe("");
    const twice = repeatStats([run("a", 1_000), run("a", 3_000)]);
    const html = suiteSections(trends([], now(run("a", 1_000), run("a", 3_000))), 0, twice);
    expect(html).toContain("<h2>Repeated runs</h2>");
    expect(html).toContain("<tr><td>a</td><td>2</td><td>2</td><td>100%</td><td>—</td><td>1.0s / 2.0s / 3.0s</td></tr>");
    expect(html.indexOf("Repeated runs")).toBeLessThan(html.indexOf("<h2>Trends</h2>"));
    const j = journal();
    const report = htmlReport([j], "suite", html);
    expect(report.indexOf("<h2>Repeated runs</h2>")).toBeGreaterThan(report.indexOf("<th>sentinels</th>"));
    expect(htmlReport([j], "suite", "")).toBe(htmlReport([j], "suite"));
    expect(htmlReport([j], "suite")).not.toContain("Trends");
  });

  it("counts a scenario's repeated runs on a shared cluster instead of listing each", () => {
    const on = (cluster: string, id: string, variant?: string) =>
      journal({
        scenario: { ...journal().scenario, id },
        cluster: { name: cluster } as RunJournal["cluster"],
        ...(variant ? { variant: { name: variant, expected: "passed" as const } } : {}),
      });
    const js = [
      on("as-1", "crashloop-triage"),
      on("as-1", "service-ingress-mismatch"),
      on("as-1", "crashloop-triage"),
      on("as-1", "service-ingress-mismatch"),
      on("as-2", "apiserver-down", "ha"),
    ];
    expect(clusterUse(js)).toBe(
      "2 clusters created in 1m00s for 5 runs (3 on a shared cluster, gates 1m30s in all); a run took 1m30s median (1m30s–1m30s), 7m30s in all\n" +
        "  cluster as-1: crashloop-triage ×2, service-ingress-mismatch ×2 (shared by 4 runs)\n  cluster as-2: apiserver-down (ha)\n",
    );
    // The suite's own numbers: which runs had a cluster made for them, the time that took, and the time per run.
    const timed = (shared: string, createMs: number, totalMs: number) =>
      journal({
        cluster: { name: shared.startsWith("created after") ? "as-2" : "as-1", kubernetesVersion: "v1.37.2", nodes: [], shared },
        timings: { totalMs, clusterCreateMs: createMs },
      });
    expect(
      suiteNumbers([
        timed("created for this run", 40_000, 100_000),
        timed("health gate passed in 1.2s; run 2 on this cluster", 1_500, 60_000),
        timed("health gate passed in 0.8s; run 3 on this cluster", 900, 80_000),
        timed("created after an attempt ended aborted on the shared cluster as-1 (…); run again on a new cluster", 38_000, 90_000),
      ]),
    ).toBe("2 clusters created in 1m18s for 4 runs (2 on a shared cluster, gates 2.4s in all); a run took 1m20s median (1m00s–1m40s), 5m30s in all");
    // On an existing cluster nothing was created, whatever the journals call it (its kubeconfig context).
    expect(clusterUse(js.slice(0, 4), { kubeconfig: "/home/sre/staging.yaml", context: "staging" })).toBe(
      "no cluster created: 4 runs on the existing cluster of /home/sre/staging.yaml (context staging), each in a namespace of its own\n",
    );
  });

  it("on an existing cluster, a suite chosen by tag keeps what the cluster can serve and names the rest by reason", async () => {
    const all = await loadAll();
    const staging = existingClusters({ kubeconfig: "/home/sre/staging.yaml", registry: "registry.staging:5000" }, new RecordingProgress());
    const { served, left } = servedScenarios(all, staging);
    expect(served.map((s) => s.id)).toEqual(all.filter((s) => s.scope === "namespace").map((s) => s.id));
    expect(served.length).toBeGreaterThanOrEqual(5);
    expect(left.map((l) => l.id)).toEqual(all.filter((s) => s.scope === "cluster").map((s) => s.id));
    expect(new Set(left.map((l) => l.why))).toEqual(new Set(["needs a cluster of its own"]));
    // Without a registry the workloads' images cannot reach the cluster.
    const bare = servedScenarios(all, existingClusters({ kubeconfig: "/home/sre/staging.yaml" }, new RecordingProgress()));
    expect(bare.served).toEqual([]);
    expect(leftOutText(bare.left)).toMatch(
      /^needs a cluster of its own: apiserver-client-flood, apiserver-down, .*; needs image-loading \(give --registry\): crashloop-triage, /,
    );
  });

  it("runs the whole plan N times over, pass after pass", () => {
    const p = (id: string) => ({ scenario: { id } }) as unknown as PlannedRun;
    expect(repeatRuns([p("a"), p("b")], 3).map((r) => r.scenario.id)).toEqual(["a", "b", "a", "b", "a", "b"]);
    expect(repeatRuns([p("a")], 1)).toHaveLength(1);
  });
});

describe("shards", () => {
  it("parses i/n with 1 ≤ i ≤ n ≤ 64, one line for anything else", () => {
    expect(parseShard("2/4")).toEqual({ index: 2, count: 4 });
    expect(parseShard("64/64")).toEqual({ index: 64, count: 64 });
    for (const bad of ["0/4", "5/4", "1/65", "1-4", "1/", "/4", "a/b", "1/4/2", " 1/4"])
      expect(() => parseShard(bad)).toThrow(`--shard must be i/n with 1 ≤ i ≤ n ≤ 64, e.g. 2/4, got "${bad}"`);
  });

  it("deals the sorted ids round-robin, keeping the order it was given", () => {
    const ids = ["echo", "alpha", "delta", "charlie", "bravo"].map((id) => ({ id }));
    const of = (i: number, n: number) => shardScenarios(ids, { index: i, count: n }).map((s) => s.id);
    // Sorted: alpha bravo charlie delta echo → 1: alpha, charlie, echo; 2: bravo, delta.
    expect(of(1, 2)).toEqual(["echo", "alpha", "charlie"]);
    expect(of(2, 2)).toEqual(["delta", "bravo"]);
    expect(of(5, 5)).toEqual(["echo"]);
    expect(of(6, 6)).toEqual([]);
    expect(shardScenarios(ids, undefined)).toBe(ids);
  });

  it("splits the real suite deterministically into disjoint shards that cover every run, each scenario's runs in one shard", async () => {
    const scenarios = await loadAll();
    const key = (r: PlannedRun) => `${r.scenario.id}|${r.variant?.name ?? ""}`;
    const full = suitePlan(scenarios, { prove: true, repeat: 2 }).map(key);
    expect(full.length).toBeGreaterThan(2 * 3 * scenarios.length - 1);
    for (const n of [1, 2, 4, 7, 64]) {
      const shards = Array.from({ length: n }, (_, i) => suitePlan(scenarios, { prove: true, repeat: 2, shard: { index: i + 1, count: n } }));
      expect(shards.flat().map(key).sort()).toEqual([...full].sort());
      const owner = new Map<string, number>();
      shards.forEach((runs, i) =>
        runs.forEach((r) => {
          expect(owner.get(r.scenario.id) ?? i, `${r.scenario.id} in shards ${owner.get(r.scenario.id)} and ${i}`).toBe(i);
          owner.set(r.scenario.id, i);
        }),
      );
      // The same split whatever order the scenarios were loaded in.
      const reversed = Array.from({ length: n }, (_, i) =>
        shardScenarios([...scenarios].reverse(), { index: i + 1, count: n })
          .map((s) => s.id)
          .sort(),
      );
      expect(reversed).toEqual(shards.map((runs) => [...new Set(runs.map((r) => r.scenario.id))].sort()));
    }
    // With variants: every run of node-notready-failover (as written, default-toleration, partition) is in one shard.
    const nn = Array.from({ length: 4 }, (_, i) => suitePlan(scenarios, { prove: false, shard: { index: i + 1, count: 4 } })).find((runs) =>
      runs.some((r) => r.scenario.id === "node-notready-failover"),
    )!;
    expect(nn.filter((r) => r.scenario.id === "node-notready-failover").map((r) => r.variant?.name ?? "")).toEqual([
      "",
      "variant default-toleration",
      "variant partition",
    ]);
  });
});
