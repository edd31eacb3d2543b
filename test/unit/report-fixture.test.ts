import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import type { RunJournal } from "../../harness/engine/journal.js";
import { consoleReporter } from "../../harness/reports/console.js";
import { htmlReport, junitXml } from "../../harness/reports/files.js";

/**
 * The reports rendered from a journal a real run wrote, kept byte for byte as it was recorded (not made up here):
 * `pnpm scenario etcd-port-conflict --images pull` on 2026-12-07, its node image pulled by digest through a loopback
 * mirror (bench:first-run), PASSED. Every value asserted below comes from that file.
 */
const FIXTURE = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "fixtures", "real-run-etcd-port-conflict-pulled-2026-12-07.json");
const j = JSON.parse(readFileSync(FIXTURE, "utf8")) as RunJournal;

describe("reports of a recorded real run", () => {
  it("is the run it claims to be", () => {
    expect(j.scenario.id).toBe("etcd-port-conflict");
    expect(j.outcome).toBe("passed");
    expect(j.image?.mode).toBe("pull");
  });

  it("the console names the outcome, the times and each image's origin", () => {
    const lines: string[] = [];
    consoleReporter((s) => lines.push(s)).onRunEnd?.(j);
    const text = lines.join("\n");
    expect(text).toContain("■ etcd-port-conflict: PASSED — symptoms reproduced in 7.4s, recovered in 49.9s");
    expect(text).toMatch(/time to detect: 7\.4s {3}all symptoms: 14\.9s {3}time to recover: 49\.9s {3}cluster create: 35\.1s/);
    expect(text).toContain("images: --images pull");
    expect(text).toContain("node image: pulled kindest/node:v1.37.2@sha256:c164db726b08543c5e1523d7e8af1eb1a2d23ce446ca3cab2d24b185d8d83ab5");
    expect(text).toMatch(/kind: downloaded \S+\/kind\/v0\.33\.0\/kind \(sha256 7d98855b/);
  });

  it("the HTML report shows the verdict, the origins table and the runbook's real commands and output", () => {
    const html = htmlReport([j], "etcd-port-conflict");
    expect(html).toContain(">passed</span>");
    expect(html).toMatch(/<summary>images: --images pull \(node image pulled, kind downloaded, aftershock\.local\/vegeta:v12\.13\.0 pulled\)<\/summary>/);
    expect(html).toContain("<code>kindest/node@sha256:c164db726b08543c5e1523d7e8af1eb1a2d23ce446ca3cab2d24b185d8d83ab5</code>");
    expect(html).toContain("ss -ltnp 'sport = :2380'");
    expect(html).toContain("users:((&quot;etcd&quot;,pid=1942,fd=5))");
    expect(html).toContain("killed etcd (pid 1942)");
  });

  it("JUnit has the run as a passing test case with its load SLOs", () => {
    const xml = junitXml([j], "etcd-port-conflict");
    expect(xml).toMatch(/<testsuite [^>]*tests="\d+"[^>]*failures="0"/);
    expect(xml).toContain('name="etcd-port-conflict"');
  });
});
