import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import type { RunJournal } from "../../harness/runner.js";
import { cli, expectSelfChecksPassed, leftovers, root } from "./helpers.js";

/**
 * The workload incidents of 003 (CrashLoopBackOff triage, an OOMKilled JVM, a readiness probe that never passes,
 * Pod → Service → Ingress) and 000's Helm StatefulSet upgrade with both of its runbooks, run as the nightly
 * suite runs them: `pnpm suite --tag workload`, one after another on one shared cluster, each in a namespace
 * of its own that is deleted at the end of its run.
 */
describe("pnpm suite --tag workload, on one shared cluster", () => {
  it("passes the workload incidents with one cluster creation, each finding its causes at the right layer", async () => {
    const r = await cli(["suite", "--tag", "workload", "--reporter", "console,json"], 25 * 60_000);
    expect(r.code, r.output.slice(-4000)).toBe(0);
    expect(r.output).toMatch(/^1 cluster created$/m);
    const dir = /reports: (reports\/suite-\S+)\/\{/.exec(r.output)![1]!;
    const journals = JSON.parse(readFileSync(path.join(root, dir, "journals.json"), "utf8")) as RunJournal[];
    expect(journals.map((j) => [j.scenario.id, j.runbook ?? "", j.outcome, j.reason])).toEqual([
      ["crashloop-triage", "", "passed", expect.any(String)],
      ["oomkilled-jvm", "", "passed", expect.any(String)],
      ["readiness-probe-mismatch", "", "passed", expect.any(String)],
      ["service-ingress-mismatch", "", "passed", expect.any(String)],
      ["statefulset-immutable-upgrade", "safe", "passed", expect.any(String)],
      // The incident's own runbook: healthy again, every blob gone. Expected, so the suite passes and the cluster is kept.
      ["statefulset-immutable-upgrade", "incident", "data-lost", expect.stringMatching(/12 of 12 blobs lost; missing: (sha256-[0-9a-f]{16}(, )?){12}/)],
    ]);
    expect(r.output).toMatch(/statefulset-immutable-upgrade \(runbook incident\)=data-lost(,|\n)/);
    // One cluster: each later run got it through the health gate, and every run cleaned up its namespace.
    const [first, ...later] = journals as [RunJournal, ...RunJournal[]];
    expect(first.cluster!.shared).toBe("created for this run");
    later.forEach((j, i) => {
      expect(j.cluster!.name).toBe(first.cluster!.name);
      expect(j.cluster!.shared).toMatch(new RegExp(`^health gate passed in .+; run ${i + 2} on this cluster$`));
    });
    for (const j of journals) {
      expectSelfChecksPassed(j);
      const teardown = j.phases.find((p) => p.name === "teardown")!;
      expect(teardown.steps.map((s) => [s.title.replace(/as-[0-9a-f]{8}-/, "as-…-"), s.ok, s.output ?? ""])).toEqual([
        [`delete namespace as-…-${j.scenario.id}`, true, expect.stringMatching(/^namespace as-[0-9a-f]{8}-\S+ deleted in /)],
        [`give back cluster ${first.cluster!.name}`, true, ""],
      ]);
    }
    expect(await leftovers(first.runId), "the shared cluster is gone after the suite").toEqual([]);

    // CrashLoopBackOff: every workload's own signature, the back-off growing, and the cause named per workload.
    const byId = (id: string, runbook?: string) => journals.find((j) => j.scenario.id === id && (!runbook || j.runbook === runbook))!;
    const crash = byId("crashloop-triage");
    const symptoms = Object.fromEntries(crash.phases.find((p) => p.name === "symptoms")!.probes.map((p) => [p.name, p.observed]));
    expect(symptoms["payments exited 1"]).toMatch(/exit code 1 \(Error\)/);
    expect(symptoms["notifier exited 127"]).toMatch(/exit code 127/);
    expect(symptoms["payments back-off grows"]).toMatch(/^back-off \d+s → \d+s → \d+s$/);
    expect(symptoms["orders waiting CreateContainerConfigError"]).toContain('configmap "orders-settings" not found');
    expect(symptoms["catalog waiting /^(ErrImagePull|ImagePullBackOff)$/"]).toMatch(/aftershock\.local\/app:v1\.1/);
    const causes = crash.phases.find((p) => p.name === "runbook")!.steps.find((s) => s.title.startsWith("name each cause"))!.output!;
    expect(
      causes.split("\n").map((l) =>
        l
          .split(/\s{2,}/)
          .slice(0, 2)
          .map((x) => x.trim()),
      ),
    ).toEqual([
      ["payments", "application error"],
      ["orders", "missing reference"],
      ["catalog", "image cannot be pulled"],
      ["search", "liveness probe kills a slow start"],
      ["notifier", "binary not found"],
    ]);

    // Readiness: pods Running, none Ready, the Service without endpoints; after the rollback, endpoints again.
    const ready = byId("readiness-probe-mismatch");
    const rs = Object.fromEntries(ready.phases.find((p) => p.name === "symptoms")!.probes.map((p) => [p.name, p.observed]));
    // Latched at first sight: one or both new pods Running, none Ready (the old ones already gone).
    expect(rs["api pods Running but not Ready"]).toMatch(/^[12] Running, 0 Ready/);
    expect(rs["api rollout stuck"]).toMatch(/0 available/);
    expect(rs["Service api has no endpoints"]).toBe("no ready addresses");
    expect(Object.values(rs).join("\n")).toMatch(/Readiness probe failed: .*:9090.*connection refused/);
    expect(ready.phases.find((p) => p.name === "verify")!.probes.map((p) => p.observed)).toEqual([
      expect.stringMatching(/2\/2 updated, 2 available/),
      expect.stringMatching(/^2 ready: /),
    ]);

    // Service/Ingress: what a user outside the cluster got, per layer, and 200 everywhere afterwards.
    const ing = byId("service-ingress-mismatch");
    const seen = Object.fromEntries(ing.phases.find((p) => p.name === "symptoms")!.probes.map((p) => [p.name, p.observed]));
    expect(seen["GET /cart through the ingress answers 503"]).toMatch(/^HTTP 503/);
    expect(seen["GET /checkout through the ingress answers 502"]).toMatch(/^HTTP 502/);
    expect(seen["GET /profile through the ingress answers 404"]).toMatch(/^HTTP 404/);
    expect(seen["Service cart has no endpoints"]).toBe("no ready addresses");
    const steps = Object.fromEntries(ing.phases.find((p) => p.name === "runbook")!.steps.map((s) => [s.title, s.output ?? ""]));
    expect(steps["selector against pod labels"]).toMatch(/service cart selects \{"app":"cart-v2"\}.*MISMATCH/);
    expect(steps["targetPort against the port the container listens on"]).toMatch(/service checkout targetPort 9090.*MISMATCH/);
    expect(steps["ingress backends against the Services that exist"]).toMatch(/ingress profile → service profile-svc:80 => NO SUCH SERVICE/);
    expect(ing.phases.find((p) => p.name === "verify")!.probes.map((p) => p.observed.split(" in ")[0])).toEqual(["HTTP 200", "HTTP 200", "HTTP 200"]);

    // OOMKilled JVM: the kill as the kubelet reports it, the JVM's heap well under -Xmx and resident memory at the
    // limit in the last sample before the kill, nothing in the log; after the sizing, a minute without a restart.
    const oom = byId("oomkilled-jvm");
    const os = Object.fromEntries(oom.phases.find((p) => p.name === "symptoms")!.probes.map((p) => [p.name, p.observed]));
    expect(os["ledger exited 137"]).toMatch(/exit code 137 \(OOMKilled\)/);
    expect(os["ledger OOMKilled with heap to spare"]).toMatch(
      /OOMKilled, exit code 137; last sample before the kill \(-?[\d.]+s from the recorded end\): heap used \d+ MiB of -Xmx \d+ MiB \([1-7]\d%\); RSS \d+ MiB, cgroup usage \d+ MiB of limit 256 MiB \((8\d|9\d|10\d)%\); off-heap: direct buffers \d+ MiB/,
    );
    expect(os["ledger's log does not explain the kill"]).toMatch(/none matching; it ends: .*Pause/);
    const oomVerify = Object.fromEntries(oom.phases.find((p) => p.name === "verify")!.probes.map((p) => [p.name, p.observed]));
    expect(oomVerify["ledger runs 60s without a restart"]).toMatch(/running \d+s, 0 restarts$/);
    expect(oomVerify["ledger RSS under 90% of its limit"]).toMatch(/cache capped by the JVM at \d+ MiB/);

    // The StatefulSet upgrade: helm's own refusal, the release left failed; the safe runbook keeps every blob.
    const safe = byId("statefulset-immutable-upgrade", "safe");
    const ss = Object.fromEntries(safe.phases.find((p) => p.name === "symptoms")!.probes.map((p) => [p.name, p.observed]));
    expect(ss["helm upgrade refused: StatefulSet spec is immutable"]).toMatch(
      /UPGRADE FAILED: cannot patch "blob-store" with kind StatefulSet: .*Forbidden: updates to statefulset spec for fields other than/,
    );
    expect(ss["release blob-store failed"]).toMatch(/^revision 2 failed \(blob-store-1\.1\.0\)/);
    expect(safe.phases.find((p) => p.name === "verify")!.probes.map((p) => p.observed)).toEqual([
      expect.stringMatching(/deployed \(blob-store-1\.1\.0\)/),
      "spec.replicas 2, 2 ready, 2 total",
      "12/12 intact",
    ]);
    const html = readFileSync(path.join(root, dir, "report.html"), "utf8");
    expect(html).toContain("statefulset-immutable-upgrade: runbooks compared");
    expect(html).toMatch(/>incident<\/a><\/td><td><span class="badge"[^>]*>data-lost<\/span><br><small>expected data-lost: as expected/);
  });
});
