import { describe, expect, it } from "vitest";
import { checkBuildableVersion } from "../../clusters/images/builder.js";
import { containerdConfig } from "../../clusters/images/containerd-config.js";
import { goBinaryName } from "../../clusters/images/go-build.js";
import { DEFAULT_KUBERNETES_VERSION, describeVersion, profileFor, TESTED_VERSIONS } from "../../clusters/versions.js";
import { runKey } from "../../harness/reports/history.js";
import { versionOf, versionSuffix } from "../../harness/kit/versions.js";
import { versionMatrix, versionMatrixLines } from "../../harness/reports/versions.js";
import type { RunJournal } from "../../harness/engine/journal.js";

describe("version profiles: one place says what a version needs", () => {
  it("puts 1.27–1.30 on kind v0.24.0 with Debian's containerd 1.6 and haproxy, 1.35–1.37 on kind v0.33.0 with containerd 2.x", () => {
    const old = profileFor("v1.29.15")!;
    expect([old.kind, old.runtime.source, old.containerdConfigVersion, old.loadBalancer.implementation, old.kubeletFailCgroupV1Off]).toEqual([
      "v0.24.0",
      "debian",
      2,
      "haproxy",
      false,
    ]);
    expect(old.endOfSupport).toBe("2025-02-28");
    const now = profileFor("v1.37.2")!;
    expect([now.kind, now.runtime.source, now.containerdConfigVersion, now.loadBalancer.implementation, now.kubeletFailCgroupV1Off]).toEqual([
      "v0.33.0",
      "modules",
      3,
      "aftershock-lb",
      true,
    ]);
    expect(now.loadBalancer.kindName).toBe("docker.io/envoyproxy/envoy:v1.36.2");
    expect(now.endOfSupport).toBeUndefined();
  });

  it("knows which kubeadm config API kind writes: v1beta3 up to 1.35, v1beta4 from 1.36", () => {
    expect(["v1.29.15", "v1.35.4", "v1.36.3", "v1.37.2"].map((v) => profileFor(v)!.kubeadmConfigApi)).toEqual([
      "kubeadm.k8s.io/v1beta3",
      "kubeadm.k8s.io/v1beta3",
      "kubeadm.k8s.io/v1beta4",
      "kubeadm.k8s.io/v1beta4",
    ]);
  });

  it("builds the issue's versions and the default, and refuses the minors between the lines and past them", () => {
    for (const v of [...TESTED_VERSIONS, "v1.30.14", "v1.35.4", "v1.36.3", DEFAULT_KUBERNETES_VERSION]) expect(() => checkBuildableVersion(v)).not.toThrow();
    for (const v of ["v1.26.0", "v1.31.0", "v1.34.2", "v1.38.0", "v2.0.0"])
      expect(() => checkBuildableVersion(v)).toThrow(/cannot be built offline here: supported are/);
    expect(() => checkBuildableVersion("latest")).toThrow(/not a Kubernetes version: "latest".*supported: 1\.27–1\.30 and 1\.35–1\.37/);
  });

  it("describes a version for people in one line", () => {
    expect(describeVersion("v1.29.15")).toMatch(
      /^Kubernetes v1\.29\.15 \(line 1\.27–1\.30, out of upstream support since 2025-02-28\); kind v0\.24\.0, kubeadm v1beta3, Debian's containerd 1\.6\.20/,
    );
    expect(describeVersion("v1.37.2")).toMatch(
      /kind v0\.33\.0, kubeadm v1beta4, containerd v2\.\d+\.\d+ and runc v1\.\d+\.\d+ built from Go modules; kubelet failCgroupV1: false/,
    );
  });

  it("gives a scenario the profile of its cluster's version, the nearest tested one's for a version it does not make", () => {
    expect(versionOf({ cluster: { kubernetesVersion: "v1.37.2" } }).kind).toBe("v0.33.0");
    // An existing cluster's kubelet version: 1.31 is nearest 1.30, 1.34 nearest 1.35, a 1.40 nearest 1.37.
    expect(versionOf({ cluster: { kubernetesVersion: "v1.31.4+k3s1" } }).release.minor).toBe(30);
    expect(versionOf({ cluster: { kubernetesVersion: "v1.34.1" } }).release.minor).toBe(35);
    expect(versionOf({ cluster: { kubernetesVersion: "v1.40.0" } }).release.minor).toBe(37);
    expect(versionOf({ cluster: { kubernetesVersion: "unknown" } }).release.version).toBe(DEFAULT_KUBERNETES_VERSION);
  });

  it("knows how each version's API server refuses a change to a StatefulSet's volumeClaimTemplates", () => {
    const forbidden = `StatefulSet.apps "blob-store" is invalid: spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden`;
    const immutable = `StatefulSet.apps "blob-store" is invalid: spec.volumeClaimTemplates: Invalid value: [{"name":"data"}]: field is immutable`;
    const refused = (v: string) => profileFor(v)!.statefulSetTemplatesRefused;
    for (const v of ["v1.29.15", "v1.35.4", "v1.36.3"]) expect([refused(v).test(forbidden), refused(v).test(immutable)]).toEqual([true, false]);
    expect([refused("v1.37.2").test(forbidden), refused("v1.37.2").test(immutable)]).toEqual([false, true]);
  });
});

describe("containerd configuration per runtime", () => {
  it("pins the pause image kubeadm asks for, in the format of the node's containerd", () => {
    const v2 = containerdConfig(profileFor("v1.29.15")!, "registry.k8s.io/pause:3.9");
    expect(v2).toMatch(/^version = 2$/m);
    expect(v2).toContain('sandbox_image = "registry.k8s.io/pause:3.9"');
    const v3 = containerdConfig(profileFor("v1.37.2")!, "registry.k8s.io/pause:3.10.1");
    expect(v3).toMatch(/^version = 3$/m);
    expect(v3).toMatch(/\[plugins\."io\.containerd\.cri\.v1\.images"\.pinned_images\]\n {2}sandbox = "registry\.k8s\.io\/pause:3\.10\.1"/);
    // The node entrypoint rewrites this key where the host withholds CAP_SYS_RESOURCE: both formats must carry it.
    for (const c of [v2, v3]) expect(c).toMatch(/^\s*restrict_oom_score_adj = false$/m);
  });
});

const run = (id: string, version: string, o: { outcome?: RunJournal["outcome"]; detect?: number; steps?: [string, number, boolean][] } = {}): RunJournal =>
  ({
    runId: "00000000",
    scenario: { id, title: id, summary: "", source: { incident: "001", section: "" }, tags: [] },
    kubernetesVersion: version,
    startedAt: 0,
    endedAt: 1,
    outcome: o.outcome ?? "passed",
    exitCode: 0,
    reason: "",
    phases: [
      {
        name: "runbook",
        startedAt: 0,
        endedAt: 1,
        status: "passed",
        probes: [],
        steps: (o.steps ?? []).map(([title, ms, ok]) => ({ title, startedAt: 0, endedAt: ms, ok })),
      },
    ],
    evidence: [],
    timings: { totalMs: 1, timeToDetectMs: o.detect ?? 1000, timeToRecoverMs: 2000 },
  }) as unknown as RunJournal;

describe("version matrix", () => {
  it("keeps runs of other versions apart in history keys and names, and leaves the default's names as they were", () => {
    expect(versionSuffix(DEFAULT_KUBERNETES_VERSION)).toBe("");
    expect(runKey({ id: "etcd-storage-lost", kubernetesVersion: DEFAULT_KUBERNETES_VERSION })).toBe("etcd-storage-lost");
    const other = TESTED_VERSIONS.find((v) => v !== DEFAULT_KUBERNETES_VERSION)!;
    expect(runKey({ id: "apiserver-down", name: "variant ha", kubernetesVersion: other })).toBe(`apiserver-down (variant ha) @ ${other}`);
  });

  it("puts each scenario's runs side by side and names the runbook steps that differed", () => {
    const journals = [
      run("etcd-storage-lost", "v1.29.15", {
        steps: [
          ["restore", 3000, true],
          ["wait", 20_000, true],
        ],
      }),
      run("control-plane-node-lost", "v1.29.15"),
      run("etcd-storage-lost", "v1.37.2", {
        steps: [
          ["restore", 3500, true],
          ["wait", 50_000, true],
        ],
      }),
      run("control-plane-node-lost", "v1.37.2", { outcome: "not-recovered" }),
    ];
    const m = versionMatrix(journals);
    expect(m.versions).toEqual(["v1.29.15", "v1.37.2"]);
    expect(m.rows.map((r) => [r.key, r.differences.map((d) => d.step)])).toEqual([
      ["etcd-storage-lost", ["wait"]],
      ["control-plane-node-lost", []],
    ]);
    expect(versionMatrixLines(journals)).toContain("control-plane-node-lost: v1.29.15 passed (detect 1.0s, recover 2.0s) · v1.37.2 not-recovered");
    expect(versionMatrixLines([journals[0]!])).toBe("");
  });
});

describe("Go builds of several binaries", () => {
  it("names each main package's binary as go build -o DIR/ does, so only those are built in one invocation", () => {
    expect(goBinaryName("k8s.io/kubernetes/cmd/kube-apiserver")).toBe("kube-apiserver");
    expect(goBinaryName("go.etcd.io/etcd/server/v3")).toBe("server");
    expect(goBinaryName("github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2")).toBe("containerd-shim-runc-v2");
    expect(goBinaryName("sigs.k8s.io/kind")).toBe("kind");
  });
});
