/**
 * What users feel, second by second: every request's result is bucketed by the second it was sent in (ms
 * since the run started), and windows of seconds are summarised as availability and latency percentiles.
 * Pure arithmetic, no I/O: the generators (vegeta, k6) feed it, probes and reports read it.
 */

export interface RequestResult {
  /** When the request was sent, ms since the run started. */
  atMs: number;
  ok: boolean;
  latencyMs: number;
  /** Status code, or the error text for a request that got no answer. */
  outcome: string;
}

/** One second of load, as the report draws it. */
export interface LoadSecond {
  /** Start of the second, ms since the run started. */
  t: number;
  requests: number;
  ok: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

export interface LoadSummary {
  fromMs: number;
  toMs: number;
  /** Seconds with at least one request sent. */
  seconds: number;
  requests: number;
  errors: number;
  /** ok / requests (1 when there were no requests). */
  availability: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** The second with the lowest availability (then the highest p99). */
  worst?: LoadSecond;
  /** From the start of the first second with an error to the end of the last one (0 without errors). */
  errorWindowMs: number;
  firstErrorAtMs?: number;
  /** The most frequent failure outcomes, e.g. "connection refused ×40". */
  topErrors: string[];
}

export class LoadSeries {
  private readonly buckets = new Map<number, { latencies: number[]; ok: number; failures: Map<string, number> }>();
  private newest = -Infinity;

  add(r: RequestResult): void {
    const t = Math.floor(r.atMs / 1000) * 1000;
    let b = this.buckets.get(t);
    if (!b) this.buckets.set(t, (b = { latencies: [], ok: 0, failures: new Map() }));
    b.latencies.push(r.latencyMs);
    if (r.ok) b.ok++;
    else b.failures.set(r.outcome, (b.failures.get(r.outcome) ?? 0) + 1);
    this.newest = Math.max(this.newest, r.atMs);
  }

  /** ms (since run start) of the newest request seen, or undefined before the first. */
  get newestMs(): number | undefined {
    return Number.isFinite(this.newest) ? this.newest : undefined;
  }

  get size(): number {
    let n = 0;
    for (const b of this.buckets.values()) n += b.latencies.length;
    return n;
  }

  /** Every second in [fromMs, toMs), oldest first. */
  seconds(fromMs = -Infinity, toMs = Infinity): LoadSecond[] {
    return [...this.buckets.entries()]
      .filter(([t]) => t >= Math.floor(fromMs / 1000) * 1000 && t < toMs)
      .sort(([a], [b]) => a - b)
      .map(([t, b]) => {
        const sorted = [...b.latencies].sort((x, y) => x - y);
        return { t, requests: sorted.length, ok: b.ok, p50Ms: percentile(sorted, 0.5), p99Ms: percentile(sorted, 0.99), maxMs: sorted.at(-1) ?? 0 };
      });
  }

  summary(fromMs = -Infinity, toMs = Infinity): LoadSummary {
    const lower = Math.floor(fromMs / 1000) * 1000;
    const inWindow = [...this.buckets.entries()].filter(([t]) => t >= lower && t < toMs).sort(([a], [b]) => a - b);
    const all = inWindow.flatMap(([, b]) => b.latencies).sort((x, y) => x - y);
    const ok = inWindow.reduce((n, [, b]) => n + b.ok, 0);
    const failures = new Map<string, number>();
    for (const [, b] of inWindow) for (const [k, v] of b.failures) failures.set(k, (failures.get(k) ?? 0) + v);
    const erroring = inWindow.filter(([, b]) => b.ok < b.latencies.length).map(([t]) => t);
    const secs = this.seconds(lower, toMs);
    const worst = [...secs].sort((a, b) => a.ok / a.requests - b.ok / b.requests || b.p99Ms - a.p99Ms)[0];
    return {
      fromMs: Number.isFinite(fromMs) ? fromMs : (inWindow[0]?.[0] ?? 0),
      toMs: Number.isFinite(toMs) ? toMs : (inWindow.at(-1)?.[0] ?? 0) + 1000,
      seconds: inWindow.length,
      requests: all.length,
      errors: all.length - ok,
      availability: all.length ? ok / all.length : 1,
      p50Ms: percentile(all, 0.5),
      p99Ms: percentile(all, 0.99),
      maxMs: all.at(-1) ?? 0,
      ...(worst ? { worst } : {}),
      errorWindowMs: erroring.length ? erroring.at(-1)! + 1000 - erroring[0]! : 0,
      ...(erroring.length ? { firstErrorAtMs: erroring[0]! } : {}),
      topErrors: [...failures.entries()]
        .sort((a, b) => b[1] - a[1])
        .slice(0, 3)
        .map(([k, v]) => `${k} ×${v}`),
    };
  }
}

/** Nearest-rank percentile of sorted values (0 for none). */
export function percentile(sorted: readonly number[], q: number): number {
  if (!sorted.length) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

/** A status users count as served: 2xx and 3xx unless the load names the ones it expects. */
export const servedStatus =
  (expect?: readonly number[]) =>
  (code: number): boolean =>
    expect?.length ? expect.includes(code) : code >= 200 && code < 400;

/**
 * One line of `vegeta encode --to=json`: {"code":200,"timestamp":"…","latency":<ns>,"error":"",…}.
 * Returns undefined for anything else the container prints.
 */
export function parseVegetaLine(line: string, t0: number, served: (code: number) => boolean = servedStatus()): RequestResult | undefined {
  if (!line.startsWith("{")) return undefined;
  let r: { code?: number; timestamp?: string; latency?: number; error?: string };
  try {
    r = JSON.parse(line) as typeof r;
  } catch {
    return undefined;
  }
  if (typeof r.timestamp !== "string" || typeof r.latency !== "number") return undefined;
  const code = r.code ?? 0;
  // vegeta reports a status it got with an "error" of that status text; the expected status decides.
  const ok = code > 0 && served(code) && (!r.error || /^\d{3} /.test(r.error));
  return { atMs: Date.parse(r.timestamp) - t0, ok, latencyMs: r.latency / 1e6, outcome: ok ? String(code) : shortError(code, r.error ?? "") };
}

/** "Get \"http://…\": dial tcp 172.18.0.3:30080: connect: connection refused" → "connection refused". */
export function shortError(code: number, error: string): string {
  if (!error) return `HTTP ${code}`;
  if (/timeout|deadline exceeded/i.test(error)) return "timeout";
  const m = /:\s*([^:]+)$/.exec(error);
  return (m?.[1] ?? error).trim().slice(0, 60);
}

/** "99.5%" with one decimal where it matters. */
export const percent = (x: number): string => `${x >= 0.9995 || x === 0 ? (x * 100).toFixed(0) : (x * 100).toFixed(1)}%`;
