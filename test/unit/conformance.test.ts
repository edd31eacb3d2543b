import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it, vi } from "vitest";
import { CommandError, parseDuration } from "../../clusters/errors.js";
import type { RunOptions, RunResult } from "../../clusters/exec.js";
import { conformanceResult, parseGinkgoJUnit, textIs, withoutLabels, xmlText } from "../../clusters/conformance/junit.js";
import { conformanceFailure, conformanceLines, conformanceOk, conformanceSummary, runConformance } from "../../clusters/conformance/run.js";
import {
  CONFORMANCE_SKIP,
  CONFORMANCE_SPECS,
  CONFORMANCE_TIMEOUT_MS,
  conformanceEstimateMs,
  conformanceFocus,
  conformanceSpecsFor,
  e2eTestArgs,
  goRegexpLiteral,
  specNames,
} from "../../clusters/conformance/specs.js";
import { compileCommands } from "../../clusters/images/go-build.js";
import { kubernetesComponent, kubernetesE2eComponent } from "../../clusters/images/recipes.js";
import { kubernetesRelease } from "../../clusters/versions.js";
import type { RunJournal } from "../../harness/engine/journal.js";
import { consoleReporter } from "../../harness/reports/console.js";
import { htmlReport, junitXml } from "../../harness/reports/files.js";

// The recipes read k8s.io/kubernetes' replace directives through the module proxy; here, two of them.
vi.mock("../../clusters/images/go-build.js", async (importOriginal) => ({
  ...(await importOriginal<typeof import("../../clusters/images/go-build.js")>()),
  upstreamReplaces: async (_module: string, _version: string, rewrite: (target: string) => string | undefined) =>
    ["k8s.io/api", "k8s.io/client-go"].map((m) => ({ module: m, version: rewrite(`./staging/src/${m}`)! })),
}));

/**
 * A report as ginkgo v2.32 writes it for `e2e.test --ginkgo.junit-report` (reporters/junit_report.go: Go's xml
 * encoder, indented, quotes as &#34; and newlines as &#xA; in attributes): the suite nodes, two specs that passed (one
 * with its labels after the text), one that failed, one that skipped itself, one the focus left out.
 */
const REPORT = `<?xml version="1.0" encoding="UTF-8"?>
  <testsuites tests="7" disabled="1" errors="0" failures="1" time="41.872">
      <testsuite name="Kubernetes e2e suite" package="/tmp" tests="7" disabled="0" skipped="2" errors="0" failures="1" time="41.872" timestamp="2026-12-07T10:15:02">
          <properties>
              <property name="SuiteSucceeded" value="false"></property>
              <property name="SuiteHasProgrammaticFocus" value="false"></property>
              <property name="SpecialSuiteFailureReason" value=""></property>
              <property name="RandomSeed" value="1765102502"></property>
              <property name="FocusStrings" value="\\[sig-api-machinery\\] server version should find the server version \\[Conformance\\]"></property>
              <property name="SkipStrings" value="\\[Disruptive\\]"></property>
          </properties>
          <testcase name="[SynchronizedBeforeSuite]" classname="Kubernetes e2e suite" status="passed" time="2.301">
              <system-err>&gt; Enter [SynchronizedBeforeSuite] TOP-LEVEL - test/e2e/e2e.go:77 @ 12/07/26 10:15:02.411&#xA;</system-err>
          </testcase>
          <testcase name="[It] [sig-api-machinery] server version should find the server version [Conformance] [sig-api-machinery, Conformance]" classname="Kubernetes e2e suite" status="passed" time="0.183"></testcase>
          <testcase name="[It] [sig-api-machinery] Namespaces [Serial] should patch a Namespace [Conformance]" classname="Kubernetes e2e suite" status="passed" time="1.032"></testcase>
          <testcase name="[It] [sig-api-machinery] ResourceQuota should create a ResourceQuota and ensure its status is promptly calculated. [Conformance] [sig-api-machinery, Conformance]" classname="Kubernetes e2e suite" status="failed" time="31.442">
              <failure message="wait for resource quota &#34;test-quota&#34;: context deadline exceeded&#xA;second line" type="failed">[FAILED] wait for resource quota &#34;test-quota&#34;: context deadline exceeded&#xA;In [It] at: k8s.io/kubernetes/test/e2e/apimachinery/resource_quota.go:99 @ 12/07/26 10:15:40.1&#xA;</failure>
              <system-err>STEP: Creating a ResourceQuota</system-err>
          </testcase>
          <testcase name="[It] [sig-node] Pods should get a host IP [Conformance] [NodeConformance] [sig-node, Conformance, NodeConformance]" classname="Kubernetes e2e suite" status="skipped" time="0.002">
              <skipped message="skipped - Only supported for node OS distro [gci ubuntu] (not debian)"></skipped>
          </testcase>
          <testcase name="[It] [sig-apps] Deployment should run the lifecycle of a Deployment [Conformance] [sig-apps, Conformance]" classname="Kubernetes e2e suite" status="skipped" time="0">
              <skipped message="skipped"></skipped>
          </testcase>
          <testcase name="[SynchronizedAfterSuite]" classname="Kubernetes e2e suite" status="passed" time="0.001"></testcase>
          <testcase name="[ReportAfterSuite] Autogenerated ReportAfterSuite for --junit-report" classname="Kubernetes e2e suite" status="passed" time="0.004"></testcase>
      </testsuite>
  </testsuites>
`;

const byName = (part: string) => CONFORMANCE_SPECS.filter((s) => s.name.includes(part));

describe("the curated conformance specs", () => {
  it("are [Conformance] specs named once each, none of them disruptive, slow or behind a feature, each found by the focus", () => {
    const all = CONFORMANCE_SPECS.flatMap(specNames);
    expect(new Set(all).size).toBe(all.length);
    const skip = new RegExp(CONFORMANCE_SKIP);
    for (const n of all) {
      expect(n).toContain("[Conformance]");
      expect(n).not.toMatch(skip);
    }
    // Go's RE2 and JavaScript agree on these escapes: the focus, as ginkgo applies it to "<suite> <full text>".
    const focus = new RegExp(conformanceFocus(CONFORMANCE_SPECS));
    for (const n of all) expect(`Kubernetes e2e suite ${n}`).toMatch(focus);
    expect("Kubernetes e2e suite [sig-apps] Deployment should run the lifecycle of a Deployment [Conformance]").not.toMatch(focus);
    // A spec's own words, not a pattern: "." and "[" are literal.
    expect("Kubernetes e2e suite [sig-api-machinery] server version should find the server versionX[Conformance]").not.toMatch(focus);
    expect(goRegexpLiteral("a.b [c] (d)|e*")).toBe(String.raw`a\.b \[c\] \(d\)\|e\*`);
  });

  it("leave out what needs an image from a registry, kubectl, or two untainted nodes", () => {
    const all = CONFORMANCE_SPECS.flatMap(specNames).join("\n");
    for (const out of [
      "AdmissionWebhook",
      "Aggregator",
      "CustomResourcePublishOpenAPI",
      "untainted nodes",
      "Deployment",
      "DNS",
      "Kubectl",
      "ReplicaSet should",
    ])
      expect(all).not.toContain(out);
    // The pods it runs are the pause image's (common/node/pods.go "should get a host IP", "should be submitted and removed").
    expect(byName("[sig-node] Pods").map((s) => s.file)).toEqual(["common/node/pods.go", "common/node/pods.go"]);
  });

  it("are chosen per line: 44 on 1.27, 49 on 1.29, 57 from 1.35 to the 1.38 pre-release, each under its estimate of 10 minutes", () => {
    const counts = ["v1.27.16", "v1.28.15", "v1.29.15", "v1.30.14", "v1.35.4", "v1.36.3", "v1.37.2", "v1.38.0-beta.0"].map(
      (v) => conformanceSpecsFor(v).length,
    );
    expect(counts).toEqual([44, 45, 49, 54, 57, 57, 57, 57]);
    for (const v of ["v1.27.16", "v1.37.2"]) expect(conformanceEstimateMs(conformanceSpecsFor(v))).toBeLessThan(CONFORMANCE_TIMEOUT_MS);
    expect(conformanceEstimateMs(conformanceSpecsFor("v1.37.2")) / 60_000).toBeCloseTo(6.8, 1);
    // TokenReview became conformance in 1.32: not asked of 1.30.
    expect(conformanceSpecsFor("v1.30.14").some((s) => s.name.includes("TokenReview"))).toBe(false);
  });

  it("keep each line's spelling: Namespaces [Serial] up to 1.36, … [Conformance] [Serial] from 1.37", () => {
    const [ns] = byName("should patch a Namespace");
    expect(specNames(ns!)).toEqual([
      "[sig-api-machinery] Namespaces should patch a Namespace [Conformance] [Serial]",
      "[sig-api-machinery] Namespaces [Serial] should patch a Namespace [Conformance]",
    ]);
    expect(`Kubernetes e2e suite ${specNames(ns!)[1]}`).toMatch(new RegExp(conformanceFocus([ns!])));
  });

  it("are run by e2e.test against the kubeconfig with the skeleton provider, the focus, the skip, ginkgo's timeout and its JUnit report", () => {
    const args = e2eTestArgs({ kubeconfig: "/k/config", context: "kind-as-1", focus: "F", junit: "/r/junit-e2e.xml", outputDir: "/r" });
    expect(args).toEqual([
      "--kubeconfig=/k/config",
      "--context=kind-as-1",
      "--provider=skeleton",
      "--ginkgo.focus=F",
      `--ginkgo.skip=${CONFORMANCE_SKIP}`,
      "--ginkgo.timeout=600s",
      "--ginkgo.junit-report=/r/junit-e2e.xml",
      "--ginkgo.no-color",
      "--ginkgo.v",
      "--node-schedulable-timeout=2m",
      "--system-pods-startup-timeout=2m",
      "--e2e-output-dir=/r",
    ]);
  });
});

describe("ginkgo's JUnit report", () => {
  it("is read case by case: node type, full text, state, time, and the message of a failure or a skip", () => {
    const r = parseGinkgoJUnit(REPORT);
    expect(r.suite).toEqual({ name: "Kubernetes e2e suite", seconds: 41.872, succeeded: false });
    expect(r.cases.map((c) => [c.node, c.state, c.seconds])).toEqual([
      ["SynchronizedBeforeSuite", "passed", 2.301],
      ["It", "passed", 0.183],
      ["It", "passed", 1.032],
      ["It", "failed", 31.442],
      ["It", "skipped", 0.002],
      ["It", "skipped", 0],
      ["SynchronizedAfterSuite", "passed", 0.001],
      ["ReportAfterSuite", "passed", 0.004],
    ]);
    expect(r.cases[3]!.message).toBe('wait for resource quota "test-quota": context deadline exceeded\nsecond line');
    expect(r.cases[4]!.message).toBe("skipped - Only supported for node OS distro [gci ubuntu] (not debian)");
    expect(r.cases[7]!.text).toBe("Autogenerated ReportAfterSuite for --junit-report");
  });

  it("takes the state from the children when there is no status (and a failure's first line when there is no message)", () => {
    const r = parseGinkgoJUnit(
      `<testsuites><testsuite name="s" time="1"><testcase name="[It] a" time="1"><failure type="timedout">[TIMEDOUT] A suite timeout occurred&#xA;In [It] at: x.go:1</failure></testcase>` +
        `<testcase name="[It] b" time="0"><error message="boom" type="panicked">stack</error></testcase><testcase name="[It] c" time="0"><skipped message="pending"/></testcase><testcase name="[It] d" time="2"/></testsuite></testsuites>`,
    );
    expect(r.cases.map((c) => [c.text, c.state, c.message])).toEqual([
      ["a", "timedout", "A suite timeout occurred"],
      ["b", "panicked", "boom"],
      ["c", "pending", "pending"],
      ["d", "passed", undefined],
    ]);
    expect(r.suite.succeeded).toBeUndefined();
  });

  it("refuses what is not a report, and decodes entities", () => {
    expect(() => parseGinkgoJUnit("panic: runtime error")).toThrow(/not a JUnit report/);
    expect(xmlText("a &lt;b&gt; &amp; &#34;c&#34; &#39;d&#39;&#xA;&#x9;e")).toBe("a <b> & \"c\" 'd'\n\te");
  });

  it("names a spec by its text with or without the labels ginkgo appends, and strips only a label list", () => {
    expect(textIs("[sig-x] a [Conformance] [sig-x, Conformance]", "[sig-x] a [Conformance]")).toBe(true);
    expect(textIs("[sig-x] a [Conformance]", "[sig-x] a [Conformance]")).toBe(true);
    expect(textIs("[sig-x] ab [Conformance]", "[sig-x] a")).toBe(false);
    expect(withoutLabels("[sig-x] a [Conformance] [sig-x, Conformance]")).toBe("[sig-x] a [Conformance]");
    expect(withoutLabels("[sig-x] a [Conformance] [Serial]")).toBe("[sig-x] a [Conformance] [Serial]");
  });

  it("gives the run's result against the curated specs: each found by any spelling, the rest counted", () => {
    const asked = [
      ...byName("server version"),
      ...byName("should patch a Namespace"),
      ...byName("promptly calculated"),
      ...byName("should get a host IP"),
      ...byName("Lease lease API"),
    ];
    const r = conformanceResult(parseGinkgoJUnit(REPORT), asked);
    expect(r.specs.map((s) => [s.state, s.name, s.ms])).toEqual([
      ["passed", "[sig-api-machinery] server version should find the server version [Conformance]", 183],
      // Found by its 1.27–1.36 spelling, kept under the current one.
      ["passed", "[sig-api-machinery] Namespaces should patch a Namespace [Conformance] [Serial]", 1032],
      ["failed", "[sig-api-machinery] ResourceQuota should create a ResourceQuota and ensure its status is promptly calculated. [Conformance]", 31442],
      ["skipped", "[sig-node] Pods should get a host IP [Conformance] [NodeConformance]", 2],
    ]);
    expect(r.specs[3]!.message).toBe("Only supported for node OS distro [gci ubuntu] (not debian)");
    expect([r.asked, r.passed, r.failed, r.skipped, r.notSelected, r.suiteSucceeded]).toEqual([5, 2, 1, 1, 1, false]);
    expect(r.notRun).toEqual(["[sig-node] Lease lease API should be available [Conformance]"]);
    expect(r.suiteFailures).toEqual([]);
  });

  it("names a failed suite node, and a spec that ran without being asked for", () => {
    const xml = REPORT.replace(
      '<testcase name="[SynchronizedBeforeSuite]" classname="Kubernetes e2e suite" status="passed" time="2.301">',
      '<testcase name="[SynchronizedBeforeSuite]" classname="Kubernetes e2e suite" status="failed" time="120.3"><failure message="Error waiting for all pods to be running and ready: 1 / 9 pods in namespace kube-system are NOT in RUNNING and READY state in 2m0s" type="failed"></failure>',
    );
    const r = conformanceResult(parseGinkgoJUnit(xml), byName("server version"));
    expect(r.suiteFailures).toEqual([
      {
        node: "SynchronizedBeforeSuite",
        state: "failed",
        message: "Error waiting for all pods to be running and ready: 1 / 9 pods in namespace kube-system are NOT in RUNNING and READY state in 2m0s",
      },
    ]);
    expect(r.specs.filter((s) => s.unlisted).map((s) => [s.name, s.state])).toEqual([
      ["[sig-api-machinery] Namespaces [Serial] should patch a Namespace [Conformance]", "passed"],
      ["[sig-api-machinery] ResourceQuota should create a ResourceQuota and ensure its status is promptly calculated. [Conformance]", "failed"],
      ["[sig-node] Pods should get a host IP [Conformance] [NodeConformance]", "skipped"],
    ]);
  });
});

/** A fake runner in place of execa: writes `xml` where --ginkgo.junit-report says (unless undefined) and exits `code`. */
function fakeE2e(xml: string | undefined, code: number, lines: string[] = []) {
  const calls: { file: string; args: readonly string[]; opts: RunOptions }[] = [];
  const exec = async (file: string, args: readonly string[], opts: RunOptions): Promise<RunResult> => {
    calls.push({ file, args, opts });
    for (const l of lines) opts.onLine?.(l);
    const junit = args.find((a) => a.startsWith("--ginkgo.junit-report="))!.split("=")[1]!;
    if (xml !== undefined) writeFileSync(junit, xml);
    return { command: file, stdout: lines.join("\n"), stderr: "", exitCode: code, elapsedMs: 5 };
  };
  return { exec, calls };
}

/** A report in ginkgo's format for these specs, each with the state given (default passed). */
function reportFor(names: string[], states: Record<number, string> = {}): string {
  const cases = names.map((n, i) => {
    const st = states[i] ?? "passed";
    const body = st === "failed" ? `<failure message="expected &#34;x&#34; to equal &#34;y&#34;" type="failed">[FAILED] …</failure>` : "";
    return `<testcase name="[It] ${n}" classname="Kubernetes e2e suite" status="${st}" time="1.5">${body}</testcase>`;
  });
  const ok = !Object.values(states).includes("failed");
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites><testsuite name="Kubernetes e2e suite" time="90"><properties><property name="SuiteSucceeded" value="${ok}"></property></properties>\n<testcase name="[SynchronizedBeforeSuite]" classname="Kubernetes e2e suite" status="passed" time="2"></testcase>\n${cases.join("\n")}\n</testsuite></testsuites>\n`;
}

describe("a conformance run", () => {
  const names = conformanceSpecsFor("v1.37.2").map((s) => s.name);
  const outDir = () => mkdtempSync(path.join(os.tmpdir(), "conformance-"));

  it("runs e2e.test with the version's focus within ginkgo's timeout and a grace of its own, and keeps its output and report", async () => {
    const dir = outDir();
    const fake = fakeE2e(reportFor(names), 0, ["Running Suite: Kubernetes e2e suite", "Ran 57 of 7043 Specs in 90.1 seconds", "SUCCESS!"]);
    const seen: string[] = [];
    const r = await runConformance({
      binary: "/c/e2e.test",
      kubeconfig: "/k",
      kubernetesVersion: "v1.37.2",
      outDir: dir,
      exec: fake.exec,
      onLine: (l) => seen.push(l),
    });
    expect(conformanceOk(r)).toBe(true);
    expect([r.asked, r.passed, r.failed, r.notRun.length, r.exitCode]).toEqual([57, 57, 0, 0, 0]);
    expect(fake.calls[0]!.file).toBe("/c/e2e.test");
    expect(parseDuration(fake.calls[0]!.opts.timeout!)).toBe(12 * 60_000);
    expect(fake.calls[0]!.args).toContain(`--ginkgo.focus=${conformanceFocus(conformanceSpecsFor("v1.37.2"))}`);
    expect(seen).toHaveLength(3);
    expect(readFileSync(r.files.log, "utf8")).toBe("Running Suite: Kubernetes e2e suite\nRan 57 of 7043 Specs in 90.1 seconds\nSUCCESS!\n");
    expect(r.files.junit).toBe(path.join(dir, "junit-e2e.xml"));
    expect(conformanceSummary(r)).toMatch(/^57 of 57 passed in \S+ \(Kubernetes v1\.37\.2 e2e\.test\)$/);
  });

  it("fails naming the specs that failed, with their messages", async () => {
    const fake = fakeE2e(reportFor(names, { 3: "failed", 10: "failed" }), 1);
    const r = await runConformance({ binary: "/c/e2e.test", kubeconfig: "/k", kubernetesVersion: "v1.37.2", outDir: outDir(), exec: fake.exec });
    expect(conformanceOk(r)).toBe(false);
    expect([r.passed, r.failed]).toEqual([55, 2]);
    expect(conformanceFailure(r)).toBe(
      `Kubernetes conformance after recovery failed: 2 of 57 specs fail: ${names[3]} (expected "x" to equal "y"); ${names[10]} (expected "x" to equal "y")`,
    );
    expect(conformanceLines(r).slice(0, 2)).toEqual([
      expect.stringMatching(/^conformance after recovery: FAILED, 55 of 57 passed, 2 failed in /),
      `  ✗ failed: ${names[3]} — expected "x" to equal "y"`,
    ]);
  });

  it("does not pass without a report, naming the last output; nor when killed at the end of its budget", async () => {
    const none = await runConformance({
      binary: "/c/e2e.test",
      kubeconfig: "/k",
      kubernetesVersion: "v1.37.2",
      outDir: outDir(),
      exec: fakeE2e(undefined, 1, ['F1207 10:15:02 Failed to setup provider config for "skeleton"']).exec,
    });
    expect(conformanceOk(none)).toBe(false);
    expect(none.error).toBe('e2e.test exited 1 without writing its JUnit report: F1207 10:15:02 Failed to setup provider config for "skeleton"');
    expect(none.notRun).toHaveLength(57);
    const killed = await runConformance({
      binary: "/c/e2e.test",
      kubeconfig: "/k",
      kubernetesVersion: "v1.37.2",
      outDir: outDir(),
      exec: async () => {
        throw new CommandError({ command: "e2e.test", exitCode: undefined, signal: "SIGTERM", stderrTail: "", elapsedMs: 720_000, budgetMs: 720_000 });
      },
    });
    expect(killed.error).toBe("e2e.test did not finish within 12m00s and was killed");
    expect(conformanceFailure(killed)).toBe("Kubernetes conformance after recovery failed: e2e.test did not finish within 12m00s and was killed");
  });

  it("is an error when e2e.test cannot start at all", async () => {
    await expect(
      runConformance({ binary: path.join(os.tmpdir(), "no-such-e2e.test"), kubeconfig: "/k", kubernetesVersion: "v1.37.2", outDir: outDir() }),
    ).rejects.toThrow(/^e2e\.test could not be started/);
  });

  it("runs a real binary: a script standing in for e2e.test gets the flags and writes the report", async () => {
    const dir = outDir();
    const script = path.join(dir, "e2e.test");
    writeFileSync(path.join(dir, "report.xml"), reportFor(names.slice(0, 2)));
    writeFileSync(
      script,
      `#!/bin/sh\nfor a in "$@"; do case "$a" in --ginkgo.junit-report=*) cp '${dir}/report.xml' "\${a#--ginkgo.junit-report=}";; esac; done\necho "ran with $# flags"\nexit 0\n`,
    );
    chmodSync(script, 0o755);
    const r = await runConformance({ binary: script, kubeconfig: "/k", kubernetesVersion: "v1.37.2", outDir: path.join(dir, "out") });
    expect([r.passed, r.failed, r.notRun.length, r.error]).toEqual([2, 0, 55, undefined]);
    expect(readFileSync(r.files.log, "utf8")).toBe("ran with 11 flags\n");
  });
});

describe("e2e.test is built like the node image's binaries", () => {
  it("with go test -c, alone, and the same module, staging replaces and version stamp; mains still go together", async () => {
    const rel = kubernetesRelease("v1.37.2");
    const [e2e, kube] = [await kubernetesE2eComponent(rel), await kubernetesComponent(rel)];
    expect([e2e.requires, e2e.replaces, e2e.ldflags]).toEqual([kube.requires, kube.replaces, kube.ldflags]);
    expect(e2e.tags).toBeUndefined();
    const cmds = compileCommands(e2e, "/bin");
    expect(cmds).toEqual([
      {
        args: ["test", "-c", "-trimpath", "-o", "/bin/e2e.test", "-ldflags", `-s -w ${kube.ldflags}`, "k8s.io/kubernetes/test/e2e"],
        pkgs: ["k8s.io/kubernetes/test/e2e"],
      },
    ]);
    const mixed = compileCommands({ outputs: [...kube.outputs, ...e2e.outputs], tags: "providerless" }, "/bin");
    expect(mixed.map((c) => c.args.slice(0, 5))).toEqual([
      ["build", "-trimpath", "-o", "/bin/", "-tags"],
      ["test", "-c", "-trimpath", "-o", "/bin/e2e.test"],
    ]);
    expect(mixed[0]!.pkgs).toHaveLength(7);
  });
});

describe("the reports of a run with --conformance", () => {
  /** The journal of a real run (test/fixtures), with the record of a conformance run in which two specs failed added. */
  async function journal(): Promise<RunJournal> {
    const j = JSON.parse(
      readFileSync(path.join(import.meta.dirname, "..", "fixtures", "real-run-etcd-port-conflict-pulled-2026-12-07.json"), "utf8"),
    ) as RunJournal;
    const names = conformanceSpecsFor("v1.37.2").map((s) => s.name);
    const dir = mkdtempSync(path.join(os.tmpdir(), "conformance-report-"));
    const rec = await runConformance({
      binary: "/c/e2e.test",
      kubeconfig: "/k",
      kubernetesVersion: "v1.37.2",
      outDir: dir,
      exec: fakeE2e(reportFor(names, { 0: "failed" }), 1).exec,
    });
    return { ...j, conformance: rec, outcome: "not-recovered", exitCode: 4, reason: conformanceFailure(rec) };
  }

  it("the console says the verdict and names each spec that failed", async () => {
    const j = await journal();
    const lines: string[] = [];
    consoleReporter((s) => lines.push(s)).onRunEnd?.(j);
    expect(lines).toContainEqual(
      expect.stringMatching(
        /^\n■ etcd-port-conflict: NOT-RECOVERED — Kubernetes conformance after recovery failed: 1 of 57 specs fails: \[sig-api-machinery\] server version/,
      ),
    );
    expect(lines).toContainEqual(
      expect.stringMatching(/^ {2}conformance after recovery: FAILED, 56 of 57 passed, 1 failed in \S+ \(Kubernetes v1\.37\.2 e2e\.test\)$/),
    );
    expect(lines).toContain('    ✗ failed: [sig-api-machinery] server version should find the server version [Conformance] — expected "x" to equal "y"');
  });

  it("the HTML report has a section listing every spec, the failed first, with the files", async () => {
    const j = await journal();
    const html = htmlReport([j], "t");
    const from = html.indexOf("<h3>Kubernetes conformance after recovery");
    const section = html.slice(from, html.indexOf("</table>", from));
    expect(section).toMatch(/^<h3>Kubernetes conformance after recovery <span class="badge" style="background:#c62828">failed<\/span><\/h3>/);
    expect(section.match(/<tr class="(ok|bad)">/g)).toHaveLength(57);
    expect(section).toMatch(
      /<tr class="bad"><td>✗ failed<\/td><td>\[sig-api-machinery\] server version should find the server version \[Conformance\]<\/td><td>1\.5s<\/td><td><code>expected &quot;x&quot; to equal &quot;y&quot;<\/code>/,
    );
    expect(section.indexOf("✗ failed")).toBeLessThan(section.indexOf("✓ passed"));
    expect(section).toContain(`<code>${j.conformance!.files.junit}</code>`);
    // Without --conformance, no section.
    const { conformance: _, ...without } = j;
    expect(htmlReport([without as RunJournal], "t")).not.toContain("<h3>Kubernetes conformance after recovery");
  });

  it("JUnit has a test case per spec, failing where it failed, counted in the suite's failures", async () => {
    const j = await journal();
    const xml = junitXml([j], "t");
    expect(xml.match(/<testcase [^>]*name="conformance: /g)).toHaveLength(57);
    expect(xml).toContain(
      '<testcase classname="etcd-port-conflict" name="conformance: [sig-api-machinery] server version should find the server version [Conformance]" time="1.500"><failure message="expected &quot;x&quot; to equal &quot;y&quot;" type="failed"/></testcase>',
    );
    const before = junitXml([{ ...j, conformance: undefined } as unknown as RunJournal], "t");
    const count = (x: string, a: string) => Number(new RegExp(`<testsuite [^>]*${a}="(\\d+)"`).exec(x)![1]);
    expect(count(xml, "tests") - count(before, "tests")).toBe(57);
    expect(count(xml, "failures") - count(before, "failures")).toBe(1);
  });
});
