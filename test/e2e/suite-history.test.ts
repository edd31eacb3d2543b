import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { cli } from "./helpers.js";

/**
 * The nightly suite as a CI runs it, three nights in a row on one cheap scenario (crashloop-triage, one shared
 * cluster per suite run): the first night repeated twice (--repeat 2), the third shows each scenario's trend
 * over the two earlier nights, run as shard 1/2 of a two-scenario suite. The history goes to a directory of
 * the test's own (AFTERSHOCK_HISTORY_DIR).
 */
describe("pnpm suite: history, --repeat, --shard and trends", () => {
  it("keeps every suite run and shows trends after two earlier runs", async () => {
    const history = mkdtempSync(path.join(os.tmpdir(), "aftershock-history-"));
    process.env.AFTERSHOCK_HISTORY_DIR = history;
    try {
      const first = await cli(["suite", "crashloop-triage", "--repeat", "2"]);
      expect(first.code, first.output.slice(-3000)).toBe(0);
      expect(first.output).toMatch(
        /crashloop-triage: 2 runs, 2 as expected \(pass rate 100%\), detect \S+ \/ \S+ \/ \S+, recover \S+ \/ \S+ \/ \S+ \(min \/ median \/ max\)/,
      );
      expect(first.output).toMatch(/^suite: 2 scenario runs, 0 not as expected \(pass rate 100%\)$/m);
      expect(first.output).toMatch(/1 cluster created/);
      for (const night of [2, 3]) {
        // The third night is shard 1 of 2 of two scenarios: sorted and dealt round-robin, crashloop-triage alone.
        const r = await cli(["suite", "crashloop-triage", ...(night === 3 ? ["service-ingress-mismatch", "--shard", "1/2"] : [])]);
        expect(r.code, r.output.slice(-3000)).toBe(0);
        expect(r.output).toContain(`(compared with ${night - 1} earlier suite run${night === 2 ? "" : "s"})`);
        if (night === 3) {
          expect(r.output).toMatch(/^suite: crashloop-triage=passed$/m);
          expect(r.output).not.toMatch(/▶ service-ingress-mismatch/);
          const dir = /reports: (reports\/suite-\S+-shard-1-of-2)\/\{/.exec(r.output)![1]!;
          expect(readFileSync(path.join(dir, "junit.xml"), "utf8")).toContain('name="aftershock suite (shard 1/2)"');
          const html = readFileSync(path.join(dir, "report.html"), "utf8");
          const trends = html.slice(html.indexOf("<h2>Trends</h2>"));
          // Two earlier nights (three runs) and this one: four runs, every one as expected, drawn as sparklines.
          expect(trends).toContain("<td>crashloop-triage</td><td>3 + 1</td>");
          expect(trends).toContain("4/4 = 100%");
          expect(trends).toContain("<svg");
        }
      }
      const records = readdirSync(history).filter((f) => f.endsWith(".json"));
      expect(records).toHaveLength(3);
      const shards = records.map((f) => (JSON.parse(readFileSync(path.join(history, f), "utf8")) as { shard?: unknown }).shard);
      expect(shards.filter(Boolean)).toEqual([{ index: 1, count: 2 }]);
    } finally {
      delete process.env.AFTERSHOCK_HISTORY_DIR;
    }
  });
});
