import { describe, expect, it } from "vitest";
import { hostKubectl } from "../../clusters/existing.js";
import { run } from "../../clusters/exec.js";
import { defaultCacheDir } from "../../clusters/images/builder.js";
import { startLocalRegistry } from "../../clusters/host/registry.js";
import { RecordingProgress } from "../../clusters/progress.js";
import { cli, leftovers, readJournal, startCli, until } from "./helpers.js";

/**
 * A platform team's view: a cluster Aftershock did not create for this run (made with pnpm cluster create,
 * its nodes told to trust a plain-HTTP registry), reached only by its kubeconfig. Namespace-scoped scenarios
 * run there through the API, their images pushed to the registry; nothing outside their namespace changes,
 * and a scenario that needs node access is refused before anything is written.
 */

/** Every listable object outside the runs' namespaces, by what a user sets (spec, data, rules), events and leases aside. */
async function snapshot(kubectl: string, kubeconfig: string): Promise<Map<string, string>> {
  const k = (...a: string[]) => run(kubectl, ["--kubeconfig", kubeconfig, ...a], { timeoutMs: 120_000 });
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
  it("runs workload scenarios (one with helm and volumes) in their own namespaces, changes nothing else, refuses one that needs node access, and gc removes a killed run's namespace", async () => {
    const progress = new RecordingProgress();
    const registry = await startLocalRegistry(defaultCacheDir(), progress);
    const created = await cli(["cluster", "create", "--workers", "1", "--insecure-registry", registry.address], 10 * 60_000);
    expect(created.code, created.output.slice(-2000)).toBe(0);
    const name = /cluster (as-[0-9a-f]{8}) is up/.exec(created.output)![1]!;
    const kubeconfig = /export KUBECONFIG=(\S+)/.exec(created.output)![1]!;
    try {
      const kubectl = await hostKubectl(defaultCacheDir(), progress);
      const before = await snapshot(kubectl, kubeconfig);
      expect(before.size).toBeGreaterThan(50);

      // Refused up front: a scenario that needs node access, and one without --existing-cluster.
      const refused = await cli(["scenario", "etcd-port-conflict", "--kubeconfig", kubeconfig, "--existing-cluster"]);
      expect([refused.code, refused.output.trim()]).toEqual([
        2,
        expect.stringMatching(
          /^aftershock: error E_CAPABILITY: scenario etcd-port-conflict changes the whole cluster; the existing cluster of .* takes only namespace-scoped scenarios$/,
        ),
      ]);
      const noOptIn = await cli(["scenario", "crashloop-triage", "--kubeconfig", kubeconfig]);
      expect([noOptIn.code, noOptIn.output]).toEqual([2, expect.stringContaining("add --existing-cluster")]);
      const noRegistry = await cli(["scenario", "crashloop-triage", "--kubeconfig", kubeconfig, "--existing-cluster"]);
      expect([noRegistry.code, noRegistry.output]).toEqual([2, expect.stringContaining("needs image-loading, which the existing cluster of")]);

      for (const id of ["crashloop-triage", "service-ingress-mismatch", "oomkilled-jvm", "statefulset-immutable-upgrade"]) {
        const r = await cli(
          ["scenario", id, "--kubeconfig", kubeconfig, "--existing-cluster", "--registry", registry.address, "--reporter", "console,json"],
          15 * 60_000,
        );
        expect(r.code, r.output.slice(-3000)).toBe(0);
        const runId = /run ([0-9a-f]{8})/.exec(r.output)![1]!;
        const j = readJournal(id, runId);
        expect(j.outcome, j.reason).toBe("passed");
        // Its workloads ran from the registry's copies.
        expect(j.phases.find((p) => p.name === "setup")!.steps.map((s) => s.title)).toContain("load workload images");
      }

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
    } finally {
      await cli(["cluster", "delete", name]);
      await registry.stop();
    }
    expect(await leftovers(name.slice(3))).toEqual([]);
  });
});
