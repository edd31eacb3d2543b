import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { PNG } from "pngjs";
import { beforeAll, describe, expect, it } from "vitest";
import { htmlReport } from "../../harness/reports/files.js";
import { versionMatrixSection } from "../../harness/reports/versions.js";
import type { RunJournal } from "../../harness/engine/journal.js";
import { findChromium, headlessFlags } from "./helpers.js";

/** A journal shaped like a real etcd-port-conflict run (numbers from one), so the picture is realistic. */
function journal(): RunJournal {
  const s = 1_700_000_000_000;
  const phase = (name: RunJournal["phases"][number]["name"], a: number, b: number, extra: Partial<RunJournal["phases"][number]> = {}) => ({
    name,
    startedAt: a,
    endedAt: b,
    status: "passed" as const,
    steps: [],
    probes: [],
    ...extra,
  });
  return {
    runId: "5dbaae5e",
    scenario: { id: "etcd-port-conflict", title: "A zombie etcd holds :2380", summary: "summary", source: { incident: "001", section: "#3" }, tags: ["etcd"] },
    cluster: { name: "as-5dbaae5e", kubernetesVersion: "v1.29.15", nodes: ["as-5dbaae5e-control-plane", "as-5dbaae5e-worker"] },
    startedAt: s,
    endedAt: s + 200_000,
    outcome: "passed",
    exitCode: 0,
    reason: "symptoms reproduced in 2.1s, recovered in 1m10s",
    phases: [
      phase("cluster", 0, 44_000),
      phase("setup", 44_000, 47_400),
      phase("steady-state", 47_400, 58_000),
      phase("symptoms-absent", 58_000, 60_000, {
        probes: [{ name: "etcd log", expectation: "bind", ok: true, held: false, observed: "1 etcd containers, no matching line" }],
      }),
      phase("inject", 60_000, 62_000),
      phase("symptoms", 62_000, 70_000, {
        probes: [{ name: "etcd log", expectation: "bind", ok: true, observed: "bind: address already in use", firstOkAtMs: 64_000 }],
      }),
      phase("verify-fails", 70_000, 72_000, { probes: [{ name: "API server /readyz", expectation: "ok", ok: true, held: false, observed: "[-]etcd failed" }] }),
      phase("runbook", 72_000, 130_000, {
        steps: [
          { title: "find who holds :2380", startedAt: 72_000, endedAt: 72_200, ok: true },
          { title: "kill the zombie", startedAt: 72_200, endedAt: 72_300, ok: true },
          { title: "wait for etcd", startedAt: 72_300, endedAt: 130_000, ok: true },
        ],
      }),
      phase("verify", 130_000, 196_000),
      phase("teardown", 196_000, 200_000),
    ],
    evidence: [{ at: 64_000, source: "symptom", text: "listen tcp 172.25.0.2:2380: bind: address already in use" }],
    timings: { totalMs: 200_000, clusterCreateMs: 44_000, timeToDetectMs: 2_000, timeToConfirmMs: 10_000, timeToRecoverMs: 124_000 },
  };
}

let chromium = "";
beforeAll(() => {
  chromium = findChromium();
}, 10 * 60_000);

describe("the HTML report in headless Chromium", () => {
  it("renders the run's timeline as a chart people can read", () => {
    expect(chromium, "chromium is installed (as root the test installs Debian's package)").not.toBe("");
    const dir = mkdtempSync(path.join(os.tmpdir(), "report-shot-"));
    const html = path.join(dir, "report.html");
    writeFileSync(html, htmlReport([journal()], "Aftershock: etcd-port-conflict"));
    const png = path.join(dir, "shot.png");
    const flags = headlessFlags(dir);
    execFileSync(chromium, [...flags, `--screenshot=${png}`, `file://${html}`], { stdio: "ignore", timeout: 60_000 });
    const dom = execFileSync(chromium, [...flags, "--dump-dom", `file://${html}`], { encoding: "utf8", timeout: 60_000 });
    // The DOM Chromium built has the timeline with a bar per phase and per runbook step.
    const svg = /<svg[^>]*class="timeline"[\s\S]*?<\/svg>/.exec(dom)?.[0] ?? "";
    expect(svg.match(/<rect /g)).toHaveLength(10 + 3);
    expect(svg).toContain("kill the zombie");
    // And the screenshot shows it: count pixels of the symptoms bar's colour (#fc8d62) and the runbook's (#e78ac3).
    const img = PNG.sync.read(readFileSync(png));
    const count = (r: number, g: number, b: number) => {
      let n = 0;
      for (let i = 0; i < img.data.length; i += 4) if (img.data[i] === r && img.data[i + 1] === g && img.data[i + 2] === b) n++;
      return n;
    };
    expect(img.width).toBe(1000);
    expect(count(0xfc, 0x8d, 0x62)).toBeGreaterThan(200);
    expect(count(0xe7, 0x8a, 0xc3)).toBeGreaterThan(200);
  });
});

describe("the suite report of a version matrix in headless Chromium", () => {
  it("puts each scenario's runs on the two versions side by side, naming the runbook step that differed", () => {
    expect(chromium, "chromium is installed (as root the test installs Debian's package)").not.toBe("");
    const old = { ...journal(), kubernetesVersion: "v1.29.15" };
    const now = journal();
    const slow = now.phases.find((p) => p.name === "runbook")!.steps[2]!;
    const onNew: RunJournal = {
      ...now,
      runId: "6ecbbf6f",
      kubernetesVersion: "v1.37.2",
      cluster: { ...now.cluster!, kubernetesVersion: "v1.37.2" },
      phases: now.phases.map((p) => (p.name === "runbook" ? { ...p, steps: [...p.steps.slice(0, 2), { ...slow, endedAt: slow.endedAt + 60_000 }] } : p)),
    };
    const dir = mkdtempSync(path.join(os.tmpdir(), "matrix-shot-"));
    const html = path.join(dir, "report.html");
    writeFileSync(html, htmlReport([old, onNew], "Aftershock suite", versionMatrixSection([old, onNew])));
    const dom = execFileSync(chromium, [...headlessFlags(dir), "--dump-dom", `file://${html}`], { encoding: "utf8", timeout: 60_000 });
    const table = /<table class="matrix">[\s\S]*?<\/table>/.exec(dom)?.[0] ?? "";
    expect(table).toContain('<th colspan="3">v1.29.15</th><th colspan="3">v1.37.2</th>');
    expect(table).toMatch(
      /<td>etcd-port-conflict<\/td>(<td[^>]*>[^<]*<\/td>){6}<td><ul><li>wait for etcd: v1\.29\.15 ok in 57\.7s; v1\.37\.2 ok in 1m58s<\/li><\/ul><\/td>/,
    );
    expect(dom).toContain("Kubernetes v1.37.2 (line 1.35–1.37)");
  });
});
