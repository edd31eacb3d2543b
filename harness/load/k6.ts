import { constants } from "node:fs";
import { access, mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { execa } from "execa";
import { AftershockError, type Duration } from "../../clusters/errors.js";
import { renderCommand, run } from "../../clusters/exec.js";
import { registerTeardown } from "../../clusters/teardown.js";
import { percent, shortError, type RequestResult } from "./load-series.js";

/**
 * k6 where the user has it: a scenario's load may name a k6 script in TypeScript (loads/*.k6.ts, type-checked
 * against @types/k6 by `tsc -p loads`). When a k6 binary is on PATH it runs on this host against the same URL
 * vegeta would get (the cluster's Docker network is reachable from the host), every request's result streams
 * back from its JSON output, and its end-of-test summary is read when it stops. Without one, the load uses
 * vegeta (streams.ts says so in the run's evidence). k6 is never installed or downloaded by the harness.
 */

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");

/** A script named relative to the repository root, as LoadSpec.k6 is. */
export function k6Script(relative: string): string {
  return path.resolve(REPO_ROOT, relative);
}

/** The first executable file named `k6` in the PATH directories, or undefined. */
export async function k6OnPath(pathVar = process.env.PATH ?? ""): Promise<string | undefined> {
  for (const dir of pathVar.split(path.delimiter)) {
    if (!dir) continue;
    const file = path.join(dir, "k6");
    try {
      if ((await stat(file)).isFile()) {
        await access(file, constants.X_OK);
        return file;
      }
    } catch {
      // not here, or not executable
    }
  }
  return undefined;
}

/**
 * One line of `k6 run --out json=…`: request results are the http_req_duration points,
 *   {"type":"Point","metric":"http_req_duration","data":{"time":"<RFC3339>","value":<ms>,"tags":{"status":"200",…}}}
 * A request that got no answer has status "0" (or none) and k6's "error" / "error_code" tags. Metric
 * declarations, other metrics' points and anything else return undefined.
 */
export function parseK6Line(line: string, t0: number): RequestResult | undefined {
  // Most lines are other metrics (k6 writes a dozen per request): skip them before parsing.
  if (!line.startsWith("{") || !line.includes('"http_req_duration"')) return undefined;
  let p: { type?: unknown; metric?: unknown; data?: { time?: unknown; value?: unknown; tags?: Record<string, unknown> | null } };
  try {
    p = JSON.parse(line) as typeof p;
  } catch {
    return undefined;
  }
  if (p.type !== "Point" || p.metric !== "http_req_duration" || !p.data) return undefined;
  const { time, value, tags } = p.data;
  if (typeof time !== "string" || typeof value !== "number") return undefined;
  const end = Date.parse(time);
  if (Number.isNaN(end)) return undefined;
  const status = Number(tags?.status ?? 0) || 0;
  const error = typeof tags?.error === "string" ? tags.error : "";
  const errorCode = typeof tags?.error_code === "string" ? tags.error_code : "";
  const ok = status >= 200 && status < 400;
  const outcome = ok ? String(status) : error ? shortError(status, error) : status ? `HTTP ${status}` : errorCode ? `k6 error ${errorCode}` : "no answer";
  // k6 stamps a request's points when it ends: the request started `value` ms earlier, and the series buckets
  // requests by when they were sent, as it does vegeta's. (http_req_duration is sending + waiting + receiving;
  // a new connection's dial comes before it, a few ms on the Docker network.)
  return { atMs: end - t0 - value, ok, latencyMs: value, outcome };
}

/**
 * What TypeScript needs of this k6 version: 0.52–0.56 run .ts only in the "experimental_enhanced"
 * compatibility mode, 0.57 and later always (the mode is gone there), older ones not at all.
 */
export function k6Compatibility(versionOutput: string): { env: Record<string, string> } | { tooOld: string } {
  const m = /v(\d+)\.(\d+)\.(\d+)/.exec(versionOutput);
  if (!m) return { env: {} };
  const [major, minor] = [Number(m[1]), Number(m[2])];
  if (major > 0 || minor >= 57) return { env: {} };
  if (minor >= 52) return { env: { K6_COMPATIBILITY_MODE: "experimental_enhanced" } };
  return { tooOld: `v${m[1]}.${m[2]}.${m[3]}` };
}

export interface K6Options {
  /** The script's absolute path (see k6Script). */
  script: string;
  url: string;
  rate: number;
  /** Per-request timeout, e.g. "2s". */
  timeout: Duration;
  /** "Name: value" lines; the script sends only an Authorization header. */
  headers: string[];
  insecure: boolean;
  onResult(r: RequestResult): void;
  /** Run start, ms since the epoch: results' atMs count from it. */
  t0: number;
  /** k6's own lines (its warnings and errors, on stderr). */
  onOther?(line: string): void;
  /** The k6 binary (default: the one on PATH). */
  k6?: string;
  /** The script's DURATION: how long k6 runs unless stopped (default 30m). */
  duration?: string;
}

export interface K6Run extends AsyncDisposable {
  /** The command as run (the target and any token go in the environment, not here). */
  command: string;
  /** Where k6 writes its end-of-test summary (--summary-export); stop() reads it into `summary`, then removes it. */
  summaryFile: string;
  /** The summary's line (readK6Summary), once stop() has returned. */
  summary?: string;
  /** How k6 ended (exit code or signal, and its last line), once it has; undefined while it runs. */
  exited(): string | undefined;
  /** SIGINT (k6 stops and writes its summary), SIGKILL after 15s; resolves when k6 has exited. Once: [Symbol.asyncDispose] does the same. */
  stop(): Promise<void>;
}

const STOP_GRACE_MS = 15_000;

/** Starts `k6 run` on a script; results stream to onResult until stop(). */
export async function startK6(o: K6Options): Promise<K6Run> {
  const k6 = o.k6 ?? (await k6OnPath());
  if (!k6) throw new AftershockError("E_TOOL_MISSING", "k6 is not on PATH");
  await access(o.script, constants.R_OK).catch(() => {
    throw new AftershockError("E_BAD_INPUT", `k6 script ${o.script} is not readable`);
  });
  const authorization = o.headers.map((h) => /^authorization:\s*(.*)$/i.exec(h)?.[1]);
  const others = o.headers.filter((_, i) => authorization[i] === undefined);
  if (others.length)
    throw new AftershockError("E_BAD_INPUT", `the k6 load script sends only an Authorization header, not ${others.map((h) => h.split(":")[0]).join(", ")}`);

  const version = await run(k6, ["version"], { timeout: "30s", allowFailure: true });
  const compat = k6Compatibility(version.stdout);
  if ("tooOld" in compat) throw new AftershockError("E_BAD_VERSION", `k6 ${compat.tooOld} at ${k6} cannot run a TypeScript script; it needs k6 ≥ 0.52`);

  const dir = await mkdtemp(path.join(tmpdir(), "aftershock-k6-"));
  const summaryFile = path.join(dir, "summary.json");
  // With --quiet k6 prints no progress; its logs go to stderr, so stdout carries the JSON points (and, at the
  // end, the text summary, which parseK6Line skips).
  const args = ["run", "--quiet", "--no-usage-report", "--out", "json=/dev/stdout", "--summary-export", summaryFile, o.script];
  const child = execa(k6, args, {
    cwd: REPO_ROOT,
    env: {
      ...compat.env,
      TARGET_URL: o.url,
      RATE: String(o.rate),
      TIMEOUT: o.timeout,
      AUTHORIZATION: authorization.find((a) => a !== undefined) ?? "",
      INSECURE: o.insecure ? "1" : "0",
      DURATION: o.duration ?? "30m",
    },
    extendEnv: true,
    stdin: "ignore",
    // A long run writes far more than any buffer should hold: lines are handled as they come.
    buffer: false,
    reject: false,
    killSignal: "SIGINT",
    forceKillAfterDelay: STOP_GRACE_MS,
  });
  const lastLines: string[] = [];
  const onLines = (stream: NodeJS.ReadableStream | null, handle: (line: string) => void) => {
    if (!stream) return;
    stream.setEncoding("utf8");
    let pending = "";
    stream.on("data", (chunk: string) => {
      pending += chunk;
      const lines = pending.split("\n");
      pending = lines.pop() ?? "";
      for (const l of lines) if (l.trim()) handle(l);
    });
  };
  onLines(child.stdout, (line) => {
    const r = parseK6Line(line, o.t0);
    if (r) o.onResult(r);
  });
  onLines(child.stderr, (line) => {
    lastLines.push(line.trim());
    if (lastLines.length > 5) lastLines.shift();
    o.onOther?.(line.trim());
  });

  let exited: string | undefined;
  const ended = child.then((r) => {
    const how = r.signal ? `killed by ${r.signal}` : r.exitCode === undefined ? `did not start: ${r.shortMessage}` : `exited ${r.exitCode}`;
    exited = `k6 ${how}${lastLines.length ? `: ${lastLines.at(-1)}` : ""}`;
  });

  const command = renderCommand("k6", args);
  let stopping: Promise<void> | undefined;
  const handle: K6Run = {
    command,
    summaryFile,
    exited: () => exited,
    // Once, however many callers (the run's end, a Ctrl-C teardown) ask.
    stop: () =>
      (stopping ??= (async () => {
        if (exited === undefined) child.kill();
        await ended;
        unregister();
        handle.summary = await readK6Summary(summaryFile);
        await rm(dir, { recursive: true, force: true });
      })()),
    [Symbol.asyncDispose]: () => handle.stop(),
  };
  // Ctrl-C: the terminal's SIGINT reaches k6 too; this makes sure it is gone before the process exits.
  const unregister = registerTeardown(`stop ${command}`, () => handle.stop());
  return handle;
}

/**
 * One line from k6's --summary-export file: requests, the share that failed, latency (avg, p(95), p(99)
 * when the script asks for it, max) and dropped iterations (requests k6 did not send for want of VUs).
 */
export async function readK6Summary(file: string): Promise<string> {
  type Summary = { metrics?: Record<string, Record<string, number | undefined> | undefined> };
  let s: Summary;
  try {
    s = JSON.parse(await readFile(file, "utf8")) as Summary;
  } catch (e) {
    return `no k6 summary: ${(e as NodeJS.ErrnoException).code === "ENOENT" ? `${file} was not written` : (e as Error).message}`;
  }
  const m = s.metrics ?? {};
  const parts: string[] = [];
  const reqs = m.http_reqs?.count;
  parts.push(`${reqs ?? "?"} requests`);
  const failed = m.http_req_failed;
  // A Rate's "value" is the share of true samples; for http_req_failed, "passes" counts the failed requests.
  const failedRate =
    failed?.value ?? (failed?.passes !== undefined && failed.fails !== undefined ? failed.passes / (failed.passes + failed.fails || 1) : undefined);
  if (failedRate !== undefined) parts.push(`${percent(failedRate)} failed`);
  const d = m.http_req_duration;
  if (d) {
    const ms = (x: number) => `${x < 10 ? x.toFixed(1) : Math.round(x)}ms`;
    const stats = (["avg", "p(95)", "p(99)", "max"] as const).flatMap((k) => (typeof d[k] === "number" ? [`${k} ${ms(d[k])}`] : []));
    if (stats.length) parts.push(`http_req_duration ${stats.join(", ")}`);
  }
  const dropped = m.dropped_iterations?.count;
  if (dropped) parts.push(`${dropped} iterations dropped`);
  return `k6 summary: ${parts.join("; ")}`;
}
