import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { PNG } from "pngjs";
import { beforeAll, describe, expect, it } from "vitest";
import { htmlReport } from "../../harness/reports/files.js";
import { versionMatrixSection } from "../../harness/reports/versions.js";
import type { RunJournal } from "../../harness/engine/journal.js";
import { findChromium, headlessFlags } from "./helpers.js";

/**
 * The journal a real run wrote (`pnpm scenario etcd-port-conflict --images pull`, 2026-12-07, PASSED), kept byte for
 * byte as recorded (test/fixtures, also read by report-fixture.test.ts). Every value asserted below is rendered from
 * it: the test writes none of them.
 */
const FIXTURE = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "fixtures", "real-run-etcd-port-conflict-pulled-2026-12-07.json");
const journal = (): RunJournal => JSON.parse(readFileSync(FIXTURE, "utf8")) as RunJournal;

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
    // The DOM Chromium built has the timeline with a bar per phase (10), per step of the injection (1) and of the
    // runbook (3), and time to detect, each titled with what it is and how long the run's journal says it took.
    const svg = /<svg[^>]*class="timeline"[\s\S]*?<\/svg>/.exec(dom)?.[0] ?? "";
    expect([...svg.matchAll(/<rect [^>]*><title>([^<]*)<\/title>/g)].map((m) => m[1])).toEqual([
      "cluster: 35.1s",
      "setup: 7.5s",
      "steady-state: 14.6s",
      "symptoms-absent: 307ms",
      "inject: 7.4s",
      "a zombie etcd outside the kubelet holds :2380, then the kubelet starts etcd into the conflict: 7.4s",
      "symptoms: 7.5s",
      "verify-fails: 15.0s",
      "runbook: 17.0s",
      "find who holds :2380: 94ms",
      "kill the zombie: 70ms",
      "wait for the kubelet to bring etcd back: 16.8s",
      "verify: 32.9s",
      "teardown: 3.5s",
      "time to detect: 7.4s",
    ]);
    // The run's own numbers in its headline figures: detected in 7.4 s, recovered in 49.9 s, 2m23s in all.
    expect(dom).toMatch(/<span>time to detect<\/span><b>7\.4s<\/b>/);
    expect(dom).toMatch(/<span>time to recover<\/span><b>49\.9s<\/b>/);
    expect(dom).toMatch(/<span>total<\/span><b>2m23s<\/b>/);
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
    // The recorded run as if on v1.29.15, and again on v1.37.2 with its last runbook step a minute slower.
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
      /<td>etcd-port-conflict<\/td>(<td[^>]*>[^<]*<\/td>){6}<td><ul><li>wait for the kubelet to bring etcd back: v1\.29\.15 ok in 16\.8s; v1\.37\.2 ok in 1m17s<\/li><\/ul><\/td>/,
    );
    expect(dom).toContain("Kubernetes v1.37.2 (line 1.35–1.37)");
  });
});
