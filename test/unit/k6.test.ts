import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { pendingTeardowns } from "../../clusters/teardown.js";
import { k6Compatibility, k6OnPath, k6Script, parseK6Line, readK6Summary, startK6, type K6Run } from "../../harness/load/k6.js";
import type { RequestResult } from "../../harness/load/load-series.js";

const T0 = Date.parse("2026-11-24T10:00:00Z");
const URL = "http://172.18.0.2:31234/";

/** A k6 http_req_duration point as `k6 run --out json=…` writes it. */
function point(time: string, value: number, tags: Record<string, string>, metric = "http_req_duration"): string {
  return JSON.stringify({ metric, type: "Point", data: { time, value, tags } });
}
const baseTags = { expected_response: "true", group: "", method: "GET", name: URL, proto: "HTTP/1.1", scenario: "load", tls_version: "", url: URL };

const OK_LINE = point("2026-11-24T10:00:05.250123456Z", 12.345678, { ...baseTags, status: "200" });
const TIMEOUT_LINE = point("2026-11-24T10:00:09Z", 2000.5, {
  ...baseTags,
  expected_response: "false",
  proto: "",
  status: "0",
  error: "request timeout",
  error_code: "1050",
});

describe("parseK6Line", () => {
  it("reads a 200 point as an ok request that started `value` ms before k6 stamped it", () => {
    const r = parseK6Line(OK_LINE, T0)!;
    expect(r.ok).toBe(true);
    expect(r.outcome).toBe("200");
    expect(r.latencyMs).toBeCloseTo(12.345678, 6);
    // stamped at +5250ms (Date.parse keeps milliseconds), sent 12.345678ms earlier
    expect(r.atMs).toBeCloseTo(5250 - 12.345678, 6);
  });

  it("reads a status-0 point as an error named by k6's error tag, started a timeout before its stamp", () => {
    expect(parseK6Line(TIMEOUT_LINE, T0)).toEqual({ atMs: 9000 - 2000.5, ok: false, latencyMs: 2000.5, outcome: "timeout" });
    const refused = point("2026-11-24T10:00:10.004+00:00", 0.8, {
      ...baseTags,
      status: "0",
      error: "dial tcp 172.18.0.2:31234: connect: connection refused",
      error_code: "1212",
    });
    expect(parseK6Line(refused, T0)).toEqual({ atMs: 10_004 - 0.8, ok: false, latencyMs: 0.8, outcome: "connection refused" });
  });

  it("counts 2xx and 3xx as ok, 4xx/5xx and answers without a status as errors", () => {
    const at = "2026-11-24T10:00:01Z";
    expect(parseK6Line(point(at, 1, { ...baseTags, status: "302" }), T0)).toMatchObject({ ok: true, outcome: "302" });
    expect(parseK6Line(point(at, 1, { ...baseTags, status: "503", error_code: "1503" }), T0)).toMatchObject({ ok: false, outcome: "HTTP 503" });
    expect(parseK6Line(point(at, 1, { ...baseTags, status: "400" }), T0)).toMatchObject({ ok: false, outcome: "HTTP 400" });
    expect(parseK6Line(point(at, 1, { error_code: "1000" }), T0)).toMatchObject({ ok: false, outcome: "k6 error 1000" });
    expect(parseK6Line(JSON.stringify({ type: "Point", metric: "http_req_duration", data: { time: at, value: 3, tags: null } }), T0)).toEqual({
      atMs: 997,
      ok: false,
      latencyMs: 3,
      outcome: "no answer",
    });
  });

  it("ignores metric declarations, other metrics' points and garbage", () => {
    const declaration = JSON.stringify({
      type: "Metric",
      data: { name: "http_req_duration", type: "trend", contains: "time", thresholds: [], submetrics: null },
      metric: "http_req_duration",
    });
    expect(parseK6Line(declaration, T0)).toBeUndefined();
    expect(parseK6Line(point("2026-11-24T10:00:05Z", 1, { ...baseTags, status: "200" }, "http_reqs"), T0)).toBeUndefined();
    expect(parseK6Line(point("2026-11-24T10:00:05Z", 0.01, { ...baseTags, status: "200" }, "http_req_sending"), T0)).toBeUndefined();
    expect(parseK6Line(point("yesterday", 1, { status: "200" }), T0)).toBeUndefined();
    expect(parseK6Line('{"type":"Point","metric":"http_req_duration","data":{"time":"2026-11-24T10:00:05Z","value":"12"}}', T0)).toBeUndefined();
    expect(parseK6Line('{"type":"Point","metric":"http_req_duration",', T0)).toBeUndefined();
    expect(parseK6Line("     http_req_duration..............: avg=3.2ms min=0.5ms", T0)).toBeUndefined();
    expect(parseK6Line("", T0)).toBeUndefined();
  });
});

describe("k6Compatibility", () => {
  it("asks 0.52–0.56 for the experimental_enhanced mode, nothing of newer ones, and refuses older ones", () => {
    expect(k6Compatibility("k6 v0.52.0 (go1.22.4, linux/amd64)")).toEqual({ env: { K6_COMPATIBILITY_MODE: "experimental_enhanced" } });
    expect(k6Compatibility("k6 v0.56.1 (go1.23.4, linux/amd64)")).toEqual({ env: { K6_COMPATIBILITY_MODE: "experimental_enhanced" } });
    expect(k6Compatibility("k6 v0.57.0 (go1.23.6, linux/amd64)")).toEqual({ env: {} });
    expect(k6Compatibility("k6 v1.3.0 (commit/5870e99ae8, go1.24.6, linux/amd64)")).toEqual({ env: {} });
    expect(k6Compatibility("k6 v0.51.0 (go1.22.3, linux/amd64)")).toEqual({ tooOld: "v0.51.0" });
  });
});

describe("k6 on PATH", () => {
  let dir: string;
  const savedPath = process.env.PATH;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "aftershock-k6-test-"));
  });
  afterEach(async () => {
    process.env.PATH = savedPath;
    await rm(dir, { recursive: true, force: true });
  });

  it("finds none where there is none, skips a k6 that is not an executable file, and finds an executable one", async () => {
    const [empty, notExec, asDir, withK6] = ["empty", "not-exec", "as-dir", "with-k6"].map((d) => path.join(dir, d)) as [string, string, string, string];
    for (const d of [empty, notExec, asDir, withK6]) await mkdir(d);
    await writeFile(path.join(notExec, "k6"), "#!/bin/sh\n", { mode: 0o644 });
    await mkdir(path.join(asDir, "k6"));
    await writeFile(path.join(withK6, "k6"), "#!/bin/sh\n", { mode: 0o755 });

    process.env.PATH = [empty, notExec, asDir].join(path.delimiter);
    expect(await k6OnPath()).toBeUndefined();
    process.env.PATH = ["", empty, notExec, asDir, withK6].join(path.delimiter);
    expect(await k6OnPath()).toBe(path.join(withK6, "k6"));
  });
});

describe("readK6Summary", () => {
  it("makes one line of k6's --summary-export file", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "aftershock-k6-test-"));
    try {
      const file = path.join(dir, "summary.json");
      await writeFile(
        file,
        JSON.stringify({
          root_group: { name: "", path: "", id: "d41d8cd98f00b204e9800998ecf8427e", groups: {}, checks: {} },
          metrics: {
            http_reqs: { count: 1200, rate: 19.98 },
            http_req_failed: { passes: 6, fails: 1194, value: 0.005 },
            http_req_duration: { avg: 3.21, min: 0.5, med: 2.1, max: 2001.3, "p(90)": 5.2, "p(95)": 9.12, "p(99)": 20.4 },
            dropped_iterations: { count: 3, rate: 0.05 },
          },
        }),
      );
      expect(await readK6Summary(file)).toBe(
        "k6 summary: 1200 requests; 0.5% failed; http_req_duration avg 3.2ms, p(95) 9.1ms, p(99) 20ms, max 2001ms; 3 iterations dropped",
      );
      // Without p(99) (k6's default trend stats) and without a rate value.
      await writeFile(
        file,
        JSON.stringify({
          metrics: { http_reqs: { count: 40 }, http_req_failed: { passes: 10, fails: 30 }, http_req_duration: { avg: 12, "p(95)": 30, max: 50 } },
        }),
      );
      expect(await readK6Summary(file)).toBe("k6 summary: 40 requests; 25.0% failed; http_req_duration avg 12ms, p(95) 30ms, max 50ms");
      expect(await readK6Summary(path.join(dir, "none.json"))).toBe(`no k6 summary: ${path.join(dir, "none.json")} was not written`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

/**
 * A fake `k6`: answers `version`, records its arguments and environment, prints a metric declaration, two
 * request points, another metric's point and a warning, then waits; on SIGINT it writes the summary to the
 * --summary-export path, as k6 does when it stops, and exits.
 */
const FAKE_K6 = `#!/bin/sh
if [ "$1" = version ]; then echo "k6 v1.3.0 (commit/5870e99ae8, go1.24.6, linux/amd64)"; exit 0; fi
here=$(dirname "$0")
summary=""
prev=""
for a in "$@"; do
  [ "$prev" = "--summary-export" ] && summary="$a"
  prev="$a"
done
printf '%s\\n' "$@" > "$here/args"
printf 'TARGET_URL=%s RATE=%s TIMEOUT=%s AUTHORIZATION=%s INSECURE=%s DURATION=%s\\n' "$TARGET_URL" "$RATE" "$TIMEOUT" "$AUTHORIZATION" "$INSECURE" "$DURATION" > "$here/env"
pid=""
trap 'echo "{\\"metrics\\":{\\"http_reqs\\":{\\"count\\":2,\\"rate\\":1},\\"http_req_failed\\":{\\"passes\\":1,\\"fails\\":1,\\"value\\":0.5}}}" > "$summary"; [ -n "$pid" ] && kill $pid; exit 0' INT
cat <<'EOF'
{"type":"Metric","data":{"name":"http_req_duration","type":"trend","contains":"time","thresholds":[],"submetrics":null},"metric":"http_req_duration"}
${OK_LINE}
${TIMEOUT_LINE}
${point("2026-11-24T10:00:09Z", 1, { status: "200" }, "http_reqs")}
EOF
echo 'time="2026-11-24T10:00:09Z" level=warning msg="Insufficient VUs, reached 60 active VUs and cannot initialize more"' >&2
sleep 60 >/dev/null 2>&1 &
pid=$!
wait $pid
`;

/** How long a wait for the fake k6 may take before it counts as hung. */
const HANG_GUARD = 60_000;

describe("startK6", () => {
  let dir: string;
  const savedPath = process.env.PATH;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "aftershock-k6-test-"));
    await writeFile(path.join(dir, "k6"), FAKE_K6);
    await chmod(path.join(dir, "k6"), 0o755);
  });
  afterEach(async () => {
    process.env.PATH = savedPath;
    await rm(dir, { recursive: true, force: true });
  });

  it(
    "runs the k6 on PATH on a script, streams its request points to onResult, and stop() ends it and reads its summary",
    async () => {
      process.env.PATH = `${dir}${path.delimiter}${savedPath}`;
      const results: RequestResult[] = [];
      const other: string[] = [];
      const script = k6Script("loads/constant-rate.k6.ts");
      const k6 = await startK6({
        script,
        url: URL,
        rate: 20,
        timeout: "2000ms",
        headers: ["Authorization: Bearer tok.en"],
        insecure: true,
        t0: T0,
        onResult: (r) => results.push(r),
        onOther: (l) => other.push(l),
      });
      expect(pendingTeardowns()).toContain(`stop ${k6.command}`);
      // Waited for, however busy the machine: the waits' timeouts (and the test's) are hang guards, not assertions.
      await vi.waitFor(() => expect(results).toHaveLength(2), { timeout: HANG_GUARD, interval: 50 });
      expect(results).toEqual([parseK6Line(OK_LINE, T0), parseK6Line(TIMEOUT_LINE, T0)]);
      await vi.waitFor(() => expect(other).toHaveLength(1), { timeout: HANG_GUARD, interval: 50 });
      expect(other[0]).toContain("Insufficient VUs");
      expect(k6.exited()).toBeUndefined();

      expect((await readFile(path.join(dir, "args"), "utf8")).trim().split("\n")).toEqual([
        "run",
        "--quiet",
        "--no-usage-report",
        "--out",
        "json=/dev/stdout",
        "--summary-export",
        k6.summaryFile,
        script,
      ]);
      expect((await readFile(path.join(dir, "env"), "utf8")).trim()).toBe(
        `TARGET_URL=${URL} RATE=20 TIMEOUT=2000ms AUTHORIZATION=Bearer tok.en INSECURE=1 DURATION=30m`,
      );

      // stop() ended it with SIGINT, which the fake k6 traps to write its summary and exit 0: not by waiting out its
      // 60 s sleep (no summary, and 'exited 0' only after a minute, past the hang guard), nor by the SIGKILL after
      // 15 s ('killed by SIGKILL'). No clock: what k6 said it did is the proof.
      await k6.stop();
      expect(k6.exited()).toBe(
        'k6 exited 0: time="2026-11-24T10:00:09Z" level=warning msg="Insufficient VUs, reached 60 active VUs and cannot initialize more"',
      );
      expect(k6.summary).toBe("k6 summary: 2 requests; 50.0% failed");
      await expect(stat(k6.summaryFile)).rejects.toThrow(/ENOENT/);
      expect(pendingTeardowns()).not.toContain(`stop ${k6.command}`);
      await k6.stop(); // again: a no-op
    },
    2 * HANG_GUARD,
  );

  it(
    "is stopped (its summary read, off the Ctrl-C teardown) when the scope that holds it with `await using` ends, however it ends",
    async () => {
      const results: RequestResult[] = [];
      const o = {
        url: URL,
        rate: 20,
        timeout: "2s" as const,
        insecure: false,
        t0: T0,
        onResult: (r: RequestResult) => results.push(r),
        k6: path.join(dir, "k6"),
        headers: [],
      };
      let held: K6Run | undefined;
      const thrown = await (async () => {
        await using k6 = await startK6({ ...o, script: k6Script("loads/constant-rate.k6.ts") });
        held = k6;
        expect(pendingTeardowns()).toContain(`stop ${k6.command}`);
        // Its points arrived: the fake k6 traps SIGINT by now (it writes its summary then).
        await vi.waitFor(() => expect(results).toHaveLength(2), { timeout: HANG_GUARD, interval: 50 });
        throw new Error("the body failed");
      })().catch((e: unknown) => e);
      // The body's own error, not a SuppressedError: the stop did not throw.
      expect(thrown).toEqual(new Error("the body failed"));
      expect(held!.exited()).toMatch(/^k6 exited 0/);
      expect(held!.summary).toBe("k6 summary: 2 requests; 50.0% failed");
      expect(pendingTeardowns()).not.toContain(`stop ${held!.command}`);
    },
    2 * HANG_GUARD,
  );

  it("refuses headers the script cannot send, and a script that is not there", async () => {
    const o = { url: URL, rate: 1, timeout: "2s" as const, insecure: false, t0: T0, onResult: () => {}, k6: path.join(dir, "k6") };
    await expect(startK6({ ...o, script: k6Script("loads/constant-rate.k6.ts"), headers: ["X-Tenant: a"] })).rejects.toThrow(
      /only an Authorization header, not X-Tenant/,
    );
    await expect(startK6({ ...o, script: k6Script("loads/missing.k6.ts"), headers: [] })).rejects.toThrow(/is not readable/);
  });
});
