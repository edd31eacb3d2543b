import { profileFor } from "../../clusters/versions.js";
import { describe, expect, it } from "vitest";
import { hostKubectl } from "../../clusters/existing.js";
import { run } from "../../clusters/exec.js";
import { defaultCacheDir } from "../../clusters/images/builder.js";
import { startLocalRegistry } from "../../clusters/host/registry.js";
import { RecordingProgress } from "../../clusters/progress.js";
import { readFileSync } from "node:fs";
import path from "node:path";
import type { RunJournal } from "../../harness/engine/journal.js";
import { cli, expectSelfChecksPassed, leftovers, root, startCli, until } from "./helpers.js";

/**
 * A platform team's view: a cluster Aftershock did not create for this run (made with pnpm cluster create,
 * its nodes told to trust a plain-HTTP registry), reached only by its kubeconfig. The workload incidents of 003
 * (CrashLoopBackOff triage, an OOMKilled JVM, a readiness probe that never passes, Pod → Service → Ingress) and
 * 000's Helm StatefulSet upgrade with both of its runbooks run there as a nightly suite pointed at a staging
 * cluster would run them: through the API, their images pushed to the registry, each in a namespace of its own.
 * Nothing outside their namespaces changes, and a scenario that needs node access is refused before anything is
 * written. (These are the catalog's only runs of the namespace-scoped scenarios in pnpm test; on kind clusters
 * they share one cluster in the nightly suite, and crashloop-triage does so in suite-history.test.ts.)
 */

/** Every listable object outside the runs' namespaces, by what a user sets (spec, data, rules), events and leases aside. */
async function snapshot(kubectl: string, kubeconfig: string): Promise<Map<string, string>> {
  const k = (...a: string[]) => run(kubectl, ["--kubeconfig", kubeconfig, ...a], { timeout: "2m" });
  const kinds = (await k("api-resources", "--verbs=list", "-o", "name")).stdout
    .split("\n")
    .filter(Boolean)
    .filter((r) => !/^(events|leases|endpoints|endpointslices|componentstatuses|bindings)(\.|$)/.test(r) && !r.startsWith("events."));
  const out = new Map<string, string>();
  const items = JSON.parse((await k("get", kinds.join(","), "-A", "-o", "json")).stdout) as {
    items: {
      kind: string;
      metadata: { namespace?: string; name: string };
      spec?: { taints?: { key: string }[] };
      data?: unknown;
      rules?: unknown;
      roleRef?: unknown;
      subjects?: unknown;
      webhooks?: unknown;
    }[];
  };
  for (const o of items.items) {
    const ns = o.metadata.namespace ?? "";
    // The runs' own namespaces are created and deleted by the runs; the check below proves they are gone.
    if (/^as-[0-9a-f]{8}-/.test(ns) || (o.kind === "Namespace" && /^as-[0-9a-f]{8}-/.test(o.metadata.name))) continue;
    // Volumes provisioned for the runs' claims, and the provisioner's helper pods, are the runs' own (checked gone below).
    if (o.kind === "PersistentVolume" && /^as-[0-9a-f]{8}-/.test((o.spec as { claimRef?: { namespace?: string } })?.claimRef?.namespace ?? "")) continue;
    if (o.kind === "Pod" && ns === "local-path-storage" && o.metadata.name.startsWith("helper-pod-")) continue;
    // kube-system's pods come and go with controllers' leader elections only through status; spec is what we compare.
    // A Node's condition taints (node.kubernetes.io/not-ready, disk-pressure, ...) are the node lifecycle controller
    // reporting a slow kubelet on a busy machine, not a change anyone made: left out.
    const taints = o.spec?.taints?.filter((t) => !t.key.startsWith("node.kubernetes.io/"));
    const spec = o.kind === "Node" && o.spec ? { ...o.spec, taints: taints?.length ? taints : undefined } : o.spec;
    out.set(
      `${o.kind}/${ns}/${o.metadata.name}`,
      JSON.stringify({ spec, data: o.data, rules: o.rules, roleRef: o.roleRef, subjects: o.subjects, webhooks: o.webhooks }),
    );
  }
  return out;
}

describe("scenarios on an existing cluster, reached only by its kubeconfig", () => {
  it("runs the workload suite in its own namespaces, each finding its causes at the right layer, then a team's workload under a bad release, changes nothing else, refuses one that needs node access, and gc removes a killed run's namespace", async () => {
    const progress = new RecordingProgress();
    let name = "";
    {
      // Released as this block ends, however it ends, last first: the cluster (pnpm cluster delete), then the registry.
      await using stack = new AsyncDisposableStack();
      const registry = stack.use(await startLocalRegistry(defaultCacheDir(), progress));
      const created = await cli(["cluster", "create", "--workers", "1", "--insecure-registry", registry.address], 10 * 60_000);
      expect(created.code, created.output.slice(-2000)).toBe(0);
      name = /cluster (as-[0-9a-f]{8}) is up/.exec(created.output)![1]!;
      const kubeconfig = /export KUBECONFIG=(\S+)/.exec(created.output)![1]!;
      stack.defer(async () => void (await cli(["cluster", "delete", name])));
      const kubectl = await hostKubectl(defaultCacheDir(), progress);
      const before = await snapshot(kubectl, kubeconfig);
      expect(before.size).toBeGreaterThan(50);

      // Refused up front: a scenario that changes the whole cluster (without --allow-cluster-faults), and one without --existing-cluster.
      const refused = await cli(["scenario", "etcd-port-conflict", "--kubeconfig", kubeconfig, "--existing-cluster"]);
      expect([refused.code, refused.output.trim()]).toEqual([
        2,
        expect.stringMatching(
          /^aftershock: error E_REFUSED: scenario etcd-port-conflict changes the whole cluster, and the existing cluster of .* was not created by this tool; nothing was run \(to allow it on this cluster, add --allow-cluster-faults \S+ \(its context, exactly\); --dry-run shows every command first\)$/,
        ),
      ]);
      const noOptIn = await cli(["scenario", "crashloop-triage", "--kubeconfig", kubeconfig]);
      expect([noOptIn.code, noOptIn.output]).toEqual([2, expect.stringContaining("add --existing-cluster")]);
      const noRegistry = await cli(["scenario", "crashloop-triage", "--kubeconfig", kubeconfig, "--existing-cluster"]);
      expect([noRegistry.code, noRegistry.output]).toEqual([2, expect.stringContaining("needs image-loading, which the existing cluster of")]);

      // The nightly suite pointed at this cluster: every workload incident, and the StatefulSet upgrade with both of
      // its runbooks, one after another, each in a namespace of its own that it deletes.
      const r = await cli(
        ["suite", "--tag", "workload", "--kubeconfig", kubeconfig, "--existing-cluster", "--registry", registry.address, "--reporter", "console,json"],
        30 * 60_000,
      );
      expect(r.code, r.output.slice(-4000)).toBe(0);
      expect(r.output).toMatch(/^no cluster created: 6 runs on the existing cluster of \S+, each in a namespace of its own$/m);
      const dir = /reports: (reports\/suite-\S+)\/\{/.exec(r.output)![1]!;
      const journals = JSON.parse(readFileSync(path.join(root, dir, "journals.json"), "utf8")) as RunJournal[];
      expectWorkloadFindings(journals, readFileSync(path.join(root, dir, "report.html"), "utf8"));
      for (const j of journals) {
        expectSelfChecksPassed(j);
        expect(j.cluster!.shared).toBe("an existing cluster, not created by this tool and never deleted by it");
        // Its workloads ran from the registry's copies; its namespace was deleted and the cluster given back.
        expect(j.phases.find((p) => p.name === "setup")!.steps.map((s) => s.title)).toContain("load workload images");
        const teardown = j.phases.find((p) => p.name === "teardown")!;
        expect(teardown.steps.map((s) => [s.title.replace(/as-[0-9a-f]{8}-/, "as-…-"), s.ok, s.output ?? ""])).toEqual([
          [`delete namespace as-…-${j.scenario.id}`, true, expect.stringMatching(/^namespace as-[0-9a-f]{8}-\S+ deleted in /)],
          [`give back cluster ${j.cluster!.name}`, true, ""],
        ]);
      }

      // A team's own workload on the same cluster: deployed into the run's namespace from the registry's copies,
      // its users' load from a pod there, the bad release made of its own Deployment. Its default strategy (25%)
      // surges one new pod and keeps both old ones serving: the runbook passes and its SLO holds throughout.
      const wl = await cli(
        [
          "scenario",
          "readiness-probe-mismatch",
          "--kubeconfig",
          kubeconfig,
          "--existing-cluster",
          "--registry",
          registry.address,
          "--workload",
          "examples/shop",
          "--reporter",
          "console,json",
        ],
        10 * 60_000,
      );
      expect(wl.code, wl.output.slice(-4000)).toBe(0);
      expect(wl.output).toMatch(/^ {2}workload shop \(Service web\): SLO HELD/m);
      const wj = JSON.parse(readFileSync(path.join(root, /(reports\/[a-z0-9-]+\/journal\.json)/.exec(wl.output)![1]!), "utf8")) as RunJournal;
      expectSelfChecksPassed(wj);
      expect(wj.outcome).toBe("passed");
      expect(wj.workload?.slos.map((x) => `${x.window}:${x.ok}`)).toEqual(["before:true", "during:true", "after:true"]);
      expect(wj.load!.map((l) => l.target)).toEqual([expect.stringMatching(/^GET http:\/\/web\.as-[0-9a-f]{8}-readiness-probe-mismatch\.svc:80\/cart$/)]);
      const ws = Object.fromEntries(wj.phases.find((p) => p.name === "symptoms")!.probes.map((p) => [p.name, p.observed]));
      expect(ws["shop: new release Running but not Ready"]).toMatch(/^revision 2: 1 Running, 0 Ready/);
      expect(wj.phases.find((p) => p.name === "teardown")!.steps[0]).toMatchObject({
        ok: true,
        title: expect.stringMatching(/^delete namespace as-[0-9a-f]{8}-readiness-probe-mismatch$/),
      });

      // A run killed outright leaves its namespace; pnpm gc --kubeconfig finds it by label and owner and removes it.
      const killed = startCli([
        "scenario",
        "crashloop-triage",
        "--kubeconfig",
        kubeconfig,
        "--existing-cluster",
        "--registry",
        registry.address,
        "--reporter",
        "console",
      ]);
      await until(() => killed.output().includes("[steady-state]"), 5 * 60_000, "the killed run reaching its steady state");
      killed.child.kill("SIGKILL");
      await killed.exited;
      const left = (await run(kubectl, ["--kubeconfig", kubeconfig, "get", "namespaces", "-l", "aftershock.io/managed=true", "-o", "name"])).stdout.trim();
      expect(left).toMatch(/^namespace\/as-[0-9a-f]{8}-crashloop-triage$/);
      const gc = await cli(["gc", "--kubeconfig", kubeconfig]);
      expect([gc.code, gc.output]).toEqual([0, expect.stringContaining(`deleted 1 namespace of dead runs: ${left.slice("namespace/".length)}`)]);
      await until(
        async () => !(await run(kubectl, ["--kubeconfig", kubeconfig, "get", "namespaces", "-o", "name"])).stdout.includes(left),
        3 * 60_000,
        `${left} gone`,
      );

      // The runs' volumes are deleted by the provisioner once their claims are (reclaim policy Delete).
      await until(
        async () =>
          !/as-[0-9a-f]{8}-/.test((await run(kubectl, ["--kubeconfig", kubeconfig, "get", "pv", "-o", "jsonpath={.items[*].spec.claimRef.namespace}"])).stdout),
        3 * 60_000,
        "every volume of the runs deleted",
      );
      const namespaces = (await run(kubectl, ["--kubeconfig", kubeconfig, "get", "namespaces", "-o", "name"])).stdout;
      expect(namespaces, "every run's namespace is gone").not.toMatch(/namespace\/as-[0-9a-f]{8}-/);
      const after = await snapshot(kubectl, kubeconfig);
      const changed = [...new Set([...before.keys(), ...after.keys()])]
        .filter((key) => before.get(key) !== after.get(key))
        .map((key) => `${key}: ${before.get(key)?.slice(0, 600) ?? "(absent)"} -> ${after.get(key)?.slice(0, 600) ?? "(absent)"}`);
      expect(changed, "nothing outside the runs' namespaces changed").toEqual([]);
    }
    expect(await leftovers(name.slice(3))).toEqual([]);
  });
});

/**
 * What each workload incident must show, layer by layer (the runs of `pnpm suite --tag workload`, in the suite's
 * order): the StatefulSet upgrade's own runbook is expected to lose every blob, named, and the suite still passes.
 */
function expectWorkloadFindings(journals: RunJournal[], html: string): void {
  expect(journals.map((j) => [j.scenario.id, j.runbook ?? "", j.outcome, j.reason])).toEqual([
    ["crashloop-triage", "", "passed", expect.any(String)],
    ["oomkilled-jvm", "", "passed", expect.any(String)],
    ["readiness-probe-mismatch", "", "passed", expect.any(String)],
    ["service-ingress-mismatch", "", "passed", expect.any(String)],
    ["statefulset-immutable-upgrade", "safe", "passed", expect.any(String)],
    ["statefulset-immutable-upgrade", "incident", "data-lost", expect.stringMatching(/12 of 12 blobs lost; missing: (sha256-[0-9a-f]{16}(, )?){12}/)],
  ]);

  // CrashLoopBackOff: every workload's own signature, the back-off growing, and the cause named per workload.
  const byId = (id: string, runbook?: string) => journals.find((j) => j.scenario.id === id && (!runbook || j.runbook === runbook))!;
  const crash = byId("crashloop-triage");
  const symptoms = Object.fromEntries(crash.phases.find((p) => p.name === "symptoms")!.probes.map((p) => [p.name, p.observed]));
  expect(symptoms["payments exited 1"]).toMatch(/exit code 1 \(Error\)/);
  expect(symptoms["notifier exited 127"]).toMatch(/exit code 127/);
  expect(symptoms["payments back-off grows"]).toMatch(/^back-off \d+s → \d+s → \d+s$/);
  expect(symptoms["orders waiting CreateContainerConfigError"]).toContain('configmap "orders-settings" not found');
  expect(symptoms["catalog waiting /^(ErrImagePull|ImagePullBackOff)$/"]).toMatch(/aftershock(\.local)?\/app:v1\.1/); // as the registry names it on an existing cluster
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
  expect(rs["api: new release Running but not Ready"]).toMatch(/^revision 2: [12] Running, 0 Ready/);
  expect(rs["Service api has no endpoints"]).toBe("no ready addresses");
  // Its users' load ran from a pod in the run's namespace (the registry's vegeta), by the Service's DNS name.
  expect(rs["api: users see errors"]).toMatch(/ok = /);
  expect(ready.load!.map((l) => l.target)).toEqual([expect.stringMatching(/^GET http:\/\/api\.as-[0-9a-f]{8}-readiness-probe-mismatch\.svc:80\/$/)]);
  expect(Object.values(rs).join("\n")).toMatch(/Readiness probe failed: .*:9090.*connection refused/);
  expect(ready.phases.find((p) => p.name === "verify")!.probes.map((p) => p.observed)).toEqual([
    expect.stringMatching(/2\/2 updated, 2 available/),
    expect.stringMatching(/^2 ready: /),
    // Its users are served again once the rollout is undone (the SLO "after" of its load, from the in-cluster pod).
    expect.stringMatching(/^\d+\/\d+ ok = (9\d|100)(\.\d)?%/),
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
  expect(ss["helm upgrade refused: StatefulSet spec is immutable"]).toMatch(/UPGRADE FAILED: cannot patch "blob-store" with kind StatefulSet: /);
  // In the words of the cluster's version (a Forbidden sentence up to 1.36, "field is immutable" from 1.37).
  expect(ss["helm upgrade refused: StatefulSet spec is immutable"]).toMatch(profileFor(safe.cluster!.kubernetesVersion)!.statefulSetTemplatesRefused);
  expect(ss["release blob-store failed"]).toMatch(/^revision 2 failed \(blob-store-1\.1\.0\)/);
  expect(safe.phases.find((p) => p.name === "verify")!.probes.map((p) => p.observed)).toEqual([
    expect.stringMatching(/deployed \(blob-store-1\.1\.0\)/),
    "spec.replicas 2, 2 ready, 2 total",
    "12/12 intact",
  ]);
  expect(html).toContain("statefulset-immutable-upgrade: runbooks compared");
  expect(html).toMatch(/>incident<\/a><\/td><td><span class="badge"[^>]*>data-lost<\/span><br><small>expected data-lost: as expected/);
}
