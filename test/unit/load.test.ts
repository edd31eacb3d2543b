import { describe, expect, it } from "vitest";
import { LoadSeries, parseVegetaLine, percentile, servedStatus, shortError } from "../../harness/load/load-series.js";
import { keepsServing, serviceLoad, sloHolds, usersSeeErrors } from "../../harness/kit/load/load.js";
import { LoadMonitor, LoadStream, vegetaTarget } from "../../harness/load/streams.js";
import { defineScenario, variantOf } from "../../harness/model/scenario.js";
import { step } from "../../harness/kit/steps.js";
import { nodesReady } from "../../harness/model/health.js";
import type { Clock } from "../../clusters/wait.js";
import type { ScenarioContext } from "../../harness/model/context.js";
import { app } from "../../harness/kit/targets.js";
import type { PhaseName, PhaseRecord, RunJournal } from "../../harness/engine/journal.js";
import { htmlReport } from "../../harness/reports/files.js";

const T0 = Date.parse("2026-11-24T10:00:00Z");

/** 20 requests a second for `seconds`, the ones in `failing` seconds timing out. */
function fill(series: LoadSeries, seconds: number, failing: (s: number) => boolean, rate = 20): void {
  for (let s = 0; s < seconds; s++)
    for (let i = 0; i < rate; i++) {
      const bad = failing(s);
      series.add({ atMs: s * 1000 + i * (1000 / rate), ok: !bad, latencyMs: bad ? 2000 : 1 + (i % 10), outcome: bad ? "timeout" : "200" });
    }
}

describe("load series", () => {
  it("buckets requests by the second they were sent and summarises a window", () => {
    const s = new LoadSeries();
    fill(s, 60, (x) => x >= 30 && x < 40);
    const during = s.summary(30_000, 45_000);
    expect(during.seconds).toBe(15);
    expect(during.requests).toBe(300);
    expect(during.errors).toBe(200);
    expect(during.availability).toBeCloseTo(1 / 3, 5);
    expect(during.errorWindowMs).toBe(10_000);
    expect(during.firstErrorAtMs).toBe(30_000);
    expect(during.worst).toMatchObject({ t: 30_000, requests: 20, ok: 0, p99Ms: 2000 });
    expect(during.topErrors).toEqual(["timeout ×200"]);
    const before = s.summary(0, 30_000);
    expect([before.errors, before.availability, before.errorWindowMs, before.p99Ms]).toEqual([0, 1, 0, 10]);
    expect(s.seconds()).toHaveLength(60);
  });

  it("takes nearest-rank percentiles", () => {
    expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.5)).toBe(5);
    expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.99)).toBe(10);
    expect(percentile([], 0.99)).toBe(0);
  });

  it("reads vegeta's JSON results and ignores anything else", () => {
    const ok = parseVegetaLine(
      `{"attack":"","seq":3,"code":200,"timestamp":"2026-11-24T10:00:05.250Z","latency":1500000,"bytes_out":0,"bytes_in":27,"error":""}`,
      T0,
    );
    expect(ok).toEqual({ atMs: 5250, ok: true, latencyMs: 1.5, outcome: "200" });
    const refused = parseVegetaLine(
      `{"code":0,"timestamp":"2026-11-24T10:00:06Z","latency":800000,"error":"Get \\"http://172.18.0.2:31480/\\": dial tcp 172.18.0.2:31480: connect: connection refused"}`,
      T0,
    );
    expect(refused).toMatchObject({ atMs: 6000, ok: false, outcome: "connection refused" });
    expect(parseVegetaLine(`{"code":503,"timestamp":"2026-11-24T10:00:07Z","latency":1,"error":"503 Service Unavailable"}`, T0)?.ok).toBe(false);
    // A load that names its statuses: 201 served, 200 not, and a 404 it expects is served despite vegeta's "error".
    const served = servedStatus([201, 404]);
    expect(parseVegetaLine(`{"code":201,"timestamp":"2026-11-24T10:00:07Z","latency":1,"error":""}`, T0, served)?.ok).toBe(true);
    expect(parseVegetaLine(`{"code":200,"timestamp":"2026-11-24T10:00:07Z","latency":1,"error":""}`, T0, served)).toMatchObject({
      ok: false,
      outcome: "HTTP 200",
    });
    expect(parseVegetaLine(`{"code":404,"timestamp":"2026-11-24T10:00:07Z","latency":1,"error":"404 Not Found"}`, T0, served)?.ok).toBe(true);
    expect(parseVegetaLine(`{"code":0,"timestamp":"2026-11-24T10:00:07Z","latency":1,"error":"connection refused"}`, T0, served)?.ok).toBe(false);
    expect(parseVegetaLine("2026/11/24 10:00:00 some log line", T0)).toBeUndefined();
    expect(parseVegetaLine("{not json", T0)).toBeUndefined();
    expect(shortError(0, 'Get "http://x/": context deadline exceeded (Client.Timeout exceeded while awaiting headers)')).toBe("timeout");
  });
});

describe("vegeta's target", () => {
  it("is one JSON line with the method, the URL, the headers and the body in base64", () => {
    expect(JSON.parse(vegetaTarget({}, "http://172.18.0.2:31234/cart", []))).toEqual({ method: "GET", url: "http://172.18.0.2:31234/cart" });
    const t = JSON.parse(
      vegetaTarget({ method: "POST", body: { data: '{"sku":1}' } }, "http://n:1/orders", ["Authorization: Bearer a:b", "Content-Type: application/json"]),
    ) as { method: string; header: Record<string, string[]>; body: string };
    expect(t.method).toBe("POST");
    expect(t.header).toEqual({ Authorization: ["Bearer a:b"], "Content-Type": ["application/json"] });
    expect(Buffer.from(t.body, "base64").toString()).toBe('{"sku":1}');
  });
});

describe("load probes", () => {
  const clock = (now: number): Clock => ({ now: () => now, sleep: async () => {} });
  /** A monitor 70 s into the run whose "web" stream failed in seconds 30–39. */
  function world(logsSince: number, marks: Partial<LoadMonitor["marks"]> = {}) {
    const m = new LoadMonitor(T0, clock(T0 + 70_000));
    const stream = m.add(serviceLoad(app("web")));
    fill(stream.series, 70, (x) => x >= 30 && x < 40);
    Object.assign(m.marks, marks);
    const ctx = { load: m, logsSince: T0 + logsSince } as unknown as ScenarioContext;
    return { m, ctx };
  }

  it("usersSeeErrors holds only for errors since the fault (ctx.logsSince)", async () => {
    expect((await usersSeeErrors(serviceLoad(app("web"))).check(world(25_000).ctx)).ok).toBe(true);
    const healthy = await usersSeeErrors(serviceLoad(app("web"))).check(world(45_000).ctx);
    expect(healthy.ok).toBe(false);
    expect(healthy.observed).toMatch(/^\d+\/\d+ ok = 100%/);
  });

  it("keepsServing needs enough settled seconds, all of them good", async () => {
    expect((await keepsServing(serviceLoad(app("web")), { forSeconds: 20 }).check(world(41_000).ctx)).ok).toBe(true);
    expect((await keepsServing(serviceLoad(app("web")), { forSeconds: 30 }).check(world(41_000).ctx)).ok).toBe(false);
    expect((await keepsServing(serviceLoad(app("web"))).check(world(20_000).ctx)).ok).toBe(false);
  });

  it("the SLO after recovery counts only seconds after the runbook, and waits for enough of them", async () => {
    const spec = serviceLoad(app("web"));
    // The last 10 settled seconds (57–66) are good.
    expect((await sloHolds(spec, "after").check(world(25_000).ctx)).ok).toBe(true);
    const tooSoon = await sloHolds(spec, "after").check(world(25_000, { runbookEndMs: 62_000 }).ctx);
    expect(tooSoon.ok).toBe(false);
    expect(tooSoon.observed).toMatch(/^only \d+s of settled load/);
    // A stream that fails in its last seconds breaches.
    const m = new LoadMonitor(T0, clock(T0 + 70_000));
    fill(m.add(spec).series, 70, (x) => x >= 60);
    expect((await sloHolds(spec, "after").check({ load: m } as unknown as ScenarioContext)).ok).toBe(false);
  });

  it("a team's users go on after the runbook until its 'after' window has its settled seconds, and no longer", async () => {
    const slept: number[] = [];
    const at = (nowMs: number, marks: Partial<LoadMonitor["marks"]>) => {
      const m = new LoadMonitor(T0, { now: () => T0 + nowMs, sleep: async (ms) => void slept.push(ms) });
      m.add(serviceLoad(app("shop")));
      Object.assign(m.marks, marks);
      return m;
    };
    // 70 s in, settled up to 67 s (2 s timeout, 1 s margin); the runbook ended at 66 s: 9 s more for 10 settled seconds.
    await at(70_000, { runbookEndMs: 66_000 }).coverAfterRunbook("shop", 10);
    // Ended at 50 s: 17 settled seconds already; no runbook, or the load already stopped: nothing to wait for.
    await at(70_000, { runbookEndMs: 50_000 }).coverAfterRunbook("shop", 10);
    await at(70_000, {}).coverAfterRunbook("shop", 10);
    await at(70_000, { runbookEndMs: 66_000, stopMs: 69_000 }).coverAfterRunbook("shop", 10);
    expect(slept).toEqual([9_000]);
  });

  it("the record's 'before' verdict is the steady state's; a blip earlier shows in the window's numbers, not as a breach", async () => {
    // Seconds 30–39 failed; the steady state's check at 70 s judges 57–66 and lets the run go on.
    const { m } = world(0);
    const s = m.stream("web");
    expect((await sloHolds(s.spec, "before").check({ load: m } as unknown as ScenarioContext)).ok).toBe(true);
    expect(s.judgedBefore).toEqual({ from: 57_000, to: 67_000 });
    m.mark("injectMs");
    m.mark("stopMs");
    const [r] = m.records();
    expect(r!.slos.find((x) => x.window === "before")).toMatchObject({ ok: true, observed: expect.stringMatching(/over 10s/) });
    expect(r!.windows.before).toMatchObject({ fromMs: 0, errors: 200 });
    // Without a steady-state check (a run that never got that far), the whole window is judged.
    const { m: bare } = world(0);
    bare.mark("injectMs");
    expect(bare.records()[0]!.slos.find((x) => x.window === "before")!.ok).toBe(false);
  });

  it("'before' starts at the first fully answered second; 'after' is what verification judged; the seconds between count as the fault's", async () => {
    const { m } = world(0);
    const s = m.stream("web");
    fill(s.series, 2, () => true); // the NodePort refusing while kube-proxy syncs: seconds 0–1 fail twice over
    s.answeredAtMs = 2_000;
    Object.assign(m.marks, { injectMs: 25_000, runbookEndMs: 35_000 });
    // Verification's check, 70s in: the last 10 settled seconds (57–66) are good, and become the "after" window.
    expect((await sloHolds(s.spec, "after").check({ load: m } as unknown as ScenarioContext)).ok).toBe(true);
    expect(s.judgedAfter).toEqual({ from: 57_000, to: 67_000 });
    m.mark("stopMs");
    const [r] = m.records();
    expect(r!.windows.before).toMatchObject({ fromMs: 2_000, errors: 0 });
    expect(r!.windows.during).toMatchObject({ fromMs: 25_000, toMs: 57_000, errors: 200 });
    expect(r!.windows.after).toMatchObject({ fromMs: 57_000, toMs: 67_000, errors: 0, seconds: 10 });
  });

  it("records windows, SLO verdicts and the error window after the fault", () => {
    const { m } = world(0, { injectMs: 25_000, runbookEndMs: 50_000, stopMs: 70_000 });
    const [r] = m.records();
    expect(r!.requests).toBe(1400);
    expect(r!.errors).toBe(200);
    expect(r!.errorWindowMs).toBe(10_000);
    expect(Object.keys(r!.windows)).toEqual(["before", "during", "after"]);
    expect(r!.windows.during!.errors).toBe(200);
    expect(r!.slos.map((s) => `${s.window}:${s.ok}`)).toEqual(["before:true", "after:true"]);
    expect(r!.series).toHaveLength(70);
  });
});

describe("declaring load and variants", () => {
  const base = {
    id: "x",
    title: "t",
    summary: "s",
    source: { incident: "002", section: "" },
    tags: [],
    cluster: { controlPlanes: 1 as const, workers: 1 },
    setup: [],
    steadyState: [nodesReady()],
    fault: { title: "f", plan: [], inject: async () => {} },
    symptoms: { within: "1m" as const, expect: [nodesReady()] },
    runbook: [step("r", "r", async () => {})],
    verify: { within: "1m" as const, expect: [nodesReady()] },
  };

  it("puts the SLOs before and after into the steady state and verification, once", () => {
    const s = defineScenario({ ...base, needs: ["load-generator"], load: [serviceLoad(app("web"))] });
    expect(s.steadyState.map((p) => p.name)).toEqual(["nodes Ready", "web: SLO before the fault"]);
    expect(s.verify.expect.map((p) => p.name)).toEqual(["nodes Ready", "web: SLO after recovery"]);
  });

  it("refuses load without the capability, twice the same name, or a bad rate", () => {
    expect(() => defineScenario({ ...base, load: [serviceLoad(app("web"))] })).toThrow(/load needs the "load-generator" capability/);
    expect(() => defineScenario({ ...base, needs: ["load-generator"], load: [serviceLoad(app("web")), serviceLoad(app("web"))] })).toThrow(
      /"web" is used twice/,
    );
    expect(() => defineScenario({ ...base, needs: ["load-generator"], load: [serviceLoad(app("web"), { rate: 0 })] })).toThrow(/rate must be between/);
  });

  it("takes a request timeout as a duration, as every other budget, and refuses one that is not", () => {
    const load = serviceLoad(app("web"), { timeout: "10s" });
    expect(load.timeout).toBe("10s");
    expect(new LoadStream(load, 0).timeoutMs).toBe(10_000);
    expect(new LoadStream(serviceLoad(app("web")), 0).timeoutMs).toBe(2000);
    expect(() => defineScenario({ ...base, needs: ["load-generator"], load: [serviceLoad(app("web"), { timeout: "10 seconds" as never })] })).toThrow(
      /load\[0\]\.timeout is not a duration: "10 seconds"/,
    );
  });

  it("a variant replaces the fields it names and keeps the SLO probes single", () => {
    const s = defineScenario({
      ...base,
      needs: ["load-generator"],
      load: [serviceLoad(app("web"))],
      variants: [{ name: "ha", summary: "three control planes", change: { cluster: { controlPlanes: 3, workers: 1 } } }],
    });
    const v = variantOf(s, "ha");
    expect([v.cluster.controlPlanes, v.variantName]).toEqual([3, "ha"]);
    expect(v.steadyState.map((p) => p.name)).toEqual(["nodes Ready", "web: SLO before the fault"]);
    expect(() => variantOf(s, "nope")).toThrow(/has no variant "nope"/);
  });
});

describe("variants compared in a suite's report", () => {
  function journal(runId: string, variant: string | undefined, failoverAtMs: number, errorWindowMs: number): RunJournal {
    const m = new LoadMonitor(T0, { now: () => T0 + 400_000, sleep: async () => {} });
    fill(m.add(serviceLoad(app("web"))).series, 400, (x) => x >= 60 && x < 60 + errorWindowMs / 1000);
    Object.assign(m.marks, { injectMs: 20_000, runbookEndMs: 390_000, stopMs: 400_000 });
    const phase = (name: PhaseName, probes: PhaseRecord["probes"] = []): PhaseRecord => ({
      name,
      startedAt: 20_000,
      endedAt: 21_000,
      status: "passed",
      steps: [],
      probes,
    });
    return {
      runId,
      scenario: { id: "node-notready-failover", title: "t", summary: "s", source: { incident: "003", section: "§3" }, tags: [] },
      startedAt: T0,
      endedAt: T0 + 400_000,
      outcome: "passed",
      exitCode: 0,
      reason: "",
      phases: [
        phase("symptoms-absent", [{ name: "web: users see errors", expectation: "", ok: true, observed: "", held: false }]),
        phase("inject"),
        phase("symptoms", [
          { name: "web: users see errors", expectation: "", ok: true, observed: "", firstOkAtMs: 61_000 },
          { name: "web failed over to another node", expectation: "", ok: true, observed: "", firstOkAtMs: 20_000 + failoverAtMs },
        ]),
      ],
      evidence: [],
      timings: { totalMs: 400_000, timeToDetectMs: 41_000, timeToConfirmMs: failoverAtMs, timeToRecoverMs: 14_000 },
      load: m.records(),
      ...(variant ? { variant: { name: `variant ${variant}`, expected: "passed" as const } } : {}),
    };
  }

  it("puts the scenario and its variants side by side: failover and error window", () => {
    const html = htmlReport([journal("a", undefined, 79_000, 36_000), journal("b", "default-toleration", 341_000, 307_000)], "suite");
    expect(html).toContain("<h2>node-notready-failover: variants compared</h2>");
    const rows = html.split("variants compared")[1]!.split("</table>")[0]!;
    expect(rows).toContain('<a href="#a">as written</a>');
    expect(rows).toContain('<a href="#b">default-toleration</a>');
    expect(rows).toContain("web failed over to another node: 1m19s");
    expect(rows).toContain("web failed over to another node: 5m41s");
    expect(rows).toContain("error window 36.0s");
    expect(rows).toContain("error window 5m07s");
    // One run alone, or runs of other kinds, get no such table.
    expect(htmlReport([journal("a", undefined, 79_000, 36_000)], "one")).not.toContain("variants compared");
  });
});
