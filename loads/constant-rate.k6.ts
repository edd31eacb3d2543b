/**
 * Constant-rate load for k6 (≥ 0.52 runs TypeScript itself: 0.52–0.56 with --compatibility-mode=experimental_enhanced,
 * which the harness sets, 0.57 on by default). The harness (harness/k6.ts) starts it with
 *
 *   k6 run --quiet --no-usage-report --out json=/dev/stdout --summary-export <tmp file> loads/constant-rate.k6.ts
 *
 * reads every request's http_req_duration point from stdout while it runs, and stops it with SIGINT when the run
 * ends. Everything it needs comes through environment variables (k6's __ENV, the process environment):
 *
 *   TARGET_URL     the URL to GET, e.g. http://172.18.0.2:31234/ (a NodePort on a node, or the API server)
 *   RATE           requests per second, held constant whatever the answers take (so a stalled backend shows
 *                  as errors and latency, not as fewer requests)
 *   TIMEOUT        per-request timeout as a k6 duration, e.g. "2000ms": a request that takes longer is an error
 *   AUTHORIZATION  value of an Authorization header, e.g. "Bearer <token>" (only set for the API server)
 *   INSECURE       "1" to skip TLS verification (the API server's certificate is for its own names)
 *   DURATION       how long to run at most (default 30m); the harness stops it earlier, and the bound keeps a
 *                  k6 orphaned by a killed harness from loading the cluster for long
 *
 * Type-checked with @types/k6 by `tsc -p loads` (part of `pnpm test`).
 */
import { check } from "k6";
import http from "k6/http";
import type { Options } from "k6/options";

const targetUrl = required("TARGET_URL");
const rate = Number(required("RATE"));
if (!Number.isFinite(rate) || rate <= 0) throw new Error(`RATE must be a positive number of requests/s, not "${__ENV.RATE}"`);
const timeout = __ENV.TIMEOUT || "2s";
const authorization = __ENV.AUTHORIZATION;

/** Seconds in a k6 duration such as "2s", "1500ms" or "1m" (2 for anything else, the harness's default timeout). */
function seconds(d: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)$/.exec(d);
  if (!m) return 2;
  const n = Number(m[1]);
  return m[2] === "ms" ? n / 1000 : m[2] === "m" ? n * 60 : n;
}

function required(name: string): string {
  const v = __ENV[name];
  if (!v) throw new Error(`${name} is not set: the harness passes it (see the comment at the top of this script)`);
  return v;
}

export const options: Options = {
  scenarios: {
    load: {
      // Iterations start at a fixed rate, however long earlier ones take: an open model, as vegeta's attack.
      executor: "constant-arrival-rate",
      rate,
      timeUnit: "1s",
      duration: __ENV.DURATION || "30m",
      // One second's worth of VUs up front; at most as many as can be waiting on timed-out requests (rate ×
      // (timeout + 1s)), so a stalled backend does not make k6 drop iterations for want of VUs.
      preAllocatedVUs: Math.max(1, Math.ceil(rate)),
      maxVUs: Math.max(2, Math.ceil(rate * (seconds(timeout) + 1))),
    },
  },
  // A new connection per request, as from many users (vegeta's -keepalive=false): kube-proxy spreads each
  // one over the endpoints.
  noConnectionReuse: true,
  // Only the status matters (vegeta's -max-body=0).
  discardResponseBodies: true,
  insecureSkipTLSVerify: __ENV.INSECURE === "1",
  // p(99) in the --summary-export file, which the harness prints when k6 ends.
  summaryTrendStats: ["avg", "min", "med", "max", "p(90)", "p(95)", "p(99)"],
};

export default function (): void {
  const res = http.get(targetUrl, {
    headers: authorization ? { Authorization: authorization } : {},
    timeout,
  });
  // Same success as the harness counts (and k6's http_req_failed): any answer from 200 to 399.
  check(res, { "status is 2xx/3xx": (r) => r.status >= 200 && r.status < 400 });
}
