import { describe, expect, it, vi } from "vitest";
import { checkBuildableVersion } from "../../clusters/images/builder.js";
import { containerdConfig } from "../../clusters/images/containerd-config.js";
import { AftershockError } from "../../clusters/errors.js";
import { goBinaryName, goDirective } from "../../clusters/images/go-build.js";
import { kubernetesComponent } from "../../clusters/images/recipes.js";
import {
  DEFAULT_KUBERNETES_VERSION,
  describeVersion,
  isKubernetesVersionSyntax,
  kubernetesRelease,
  PRERELEASE,
  profileFor,
  supportedVersionsText,
  TESTED_VERSIONS,
} from "../../clusters/versions.js";
import { runKey } from "../../harness/reports/history.js";
import { versionOf, versionSuffix } from "../../harness/kit/versions.js";
import { versionMatrix, versionMatrixLines } from "../../harness/reports/versions.js";
import type { RunJournal } from "../../harness/engine/journal.js";

// kubernetesComponent reads k8s.io/kubernetes' replace directives through the module proxy; here, two of them.
vi.mock("../../clusters/images/go-build.js", async (importOriginal) => ({
  ...(await importOriginal<typeof import("../../clusters/images/go-build.js")>()),
  upstreamReplaces: async (_module: string, _version: string, rewrite: (target: string) => string | undefined) =>
    ["k8s.io/api", "k8s.io/client-go"].map((m) => ({ module: m, version: rewrite(`./staging/src/${m}`)! })),
}));

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
    expect(["v1.29.15", "v1.35.4", "v1.36.3", "v1.37.2", "v1.38.0-beta.0"].map((v) => profileFor(v)!.kubeadmConfigApi)).toEqual([
      "kubeadm.k8s.io/v1beta3",
      "kubeadm.k8s.io/v1beta3",
      "kubeadm.k8s.io/v1beta4",
      "kubeadm.k8s.io/v1beta4",
      "kubeadm.k8s.io/v1beta4",
    ]);
  });

  it("builds the issue's versions and the default, and refuses the minors between the lines and past them", () => {
    for (const v of [...TESTED_VERSIONS, "v1.30.14", "v1.35.4", "v1.36.3", "v1.38.0-beta.0", DEFAULT_KUBERNETES_VERSION])
      expect(() => checkBuildableVersion(v)).not.toThrow();
    for (const v of ["v1.26.0", "v1.31.0", "v1.34.2", "v1.39.0", "v1.39.0-alpha.0", "v2.0.0"])
      expect(() => checkBuildableVersion(v)).toThrow(/cannot be built offline here: supported are/);
    expect(() => checkBuildableVersion("latest")).toThrow(/not a Kubernetes version: "latest".*supported: 1\.27–1\.30 and 1\.35–1\.37/);
  });

  it("describes a version for people in one line, a pre-release as one", () => {
    expect(describeVersion("v1.29.15")).toMatch(
      /^Kubernetes v1\.29\.15 \(line 1\.27–1\.30, out of upstream support since 2025-02-28\); kind v0\.24\.0, kubeadm v1beta3, Debian's containerd 1\.6\.20/,
    );
    expect(describeVersion("v1.37.2")).toMatch(
      /kind v0\.33\.0, kubeadm v1beta4, containerd v2\.\d+\.\d+ and runc v1\.\d+\.\d+ built from Go modules; kubelet failCgroupV1: false/,
    );
    expect(describeVersion("v1.37.2")).toMatch(/^Kubernetes v1\.37\.2 \(line 1\.35–1\.37\); /);
    expect(describeVersion("v1.38.0-beta.0")).toMatch(
      /^Kubernetes v1\.38\.0-beta\.0 \(pre-release of 1\.38, not yet run here; set up as line 1\.35–1\.37\); kind v0\.33\.0, kubeadm v1beta4, .*; kubelet failCgroupV1: false;/,
    );
    expect(supportedVersionsText()).toBe("1.27–1.30 and 1.35–1.37, and the pre-release v1.38.0-beta.0 (the catalog has run here on v1.29.15 and v1.37.2)");
  });

  it("gives a scenario the profile of its cluster's version, the nearest tested one's for a version it does not make", () => {
    expect(versionOf({ cluster: { kubernetesVersion: "v1.37.2" } }).kind).toBe("v0.33.0");
    // An existing cluster's kubelet version: 1.31 is nearest 1.30, 1.34 nearest 1.35, a 1.40 nearest 1.38.
    expect(versionOf({ cluster: { kubernetesVersion: "v1.31.4+k3s1" } }).release.minor).toBe(30);
    expect(versionOf({ cluster: { kubernetesVersion: "v1.34.1" } }).release.minor).toBe(35);
    expect(versionOf({ cluster: { kubernetesVersion: "v1.40.0" } }).release.minor).toBe(38);
    // Any 1.38 an existing cluster runs (another pre-release, the release) has 1.38's profile.
    expect(versionOf({ cluster: { kubernetesVersion: "v1.38.0-rc.1" } }).release.version).toBe("v1.38.0-rc.1");
    expect(versionOf({ cluster: { kubernetesVersion: "unknown" } }).release.version).toBe(DEFAULT_KUBERNETES_VERSION);
  });

  it("knows how each version's API server refuses a change to a StatefulSet's volumeClaimTemplates", () => {
    const forbidden = `StatefulSet.apps "blob-store" is invalid: spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden`;
    const immutable = `StatefulSet.apps "blob-store" is invalid: spec.volumeClaimTemplates: Invalid value: [{"name":"data"}]: field is immutable`;
    const refused = (v: string) => profileFor(v)!.statefulSetTemplatesRefused;
    for (const v of ["v1.29.15", "v1.35.4", "v1.36.3"]) expect([refused(v).test(forbidden), refused(v).test(immutable)]).toEqual([true, false]);
    expect([refused("v1.37.2").test(forbidden), refused("v1.37.2").test(immutable)]).toEqual([false, true]);
    // 1.38's is assumed to be 1.37's: nothing has run on it here yet.
    expect([refused("v1.38.0-beta.0").test(forbidden), refused("v1.38.0-beta.0").test(immutable)]).toEqual([false, true]);
  });
});

describe("the 1.38 pre-release", () => {
  it("parses upstream's pre-release tags, their staging modules tagged alike, and nothing else after the patch", () => {
    expect(kubernetesRelease("v1.38.0-beta.0")).toEqual({
      version: "v1.38.0-beta.0",
      major: 1,
      minor: 38,
      patch: 0,
      prerelease: "beta.0",
      stagingVersion: "v0.38.0-beta.0",
    });
    expect(kubernetesRelease("1.38.0-rc.1")).toMatchObject({ version: "v1.38.0-rc.1", stagingVersion: "v0.38.0-rc.1" });
    expect(kubernetesRelease("v1.37.2")).toEqual({ version: "v1.37.2", major: 1, minor: 37, patch: 2, stagingVersion: "v0.37.2" });
    for (const ok of ["v1.38.0-alpha.2", "v1.38.0-beta.0", "v1.38.0-rc.0"]) expect(isKubernetesVersionSyntax(ok)).toBe(true);
    for (const bad of ["v1.38.0-beta", "v1.38.0-gamma.1", "v1.38.0-beta.0.1", "v1.38.0+k3s1", "v1.38.0-"]) expect(isKubernetesVersionSyntax(bad)).toBe(false);
  });

  it("has the profile of the 1.35–1.37 line: kind v0.33.0, kubeadm v1beta4, containerd 2.x, the kubelet told failCgroupV1: false", () => {
    const p = profileFor("v1.38.0-beta.0")!;
    expect([p.line, p.kind, p.kubeadmConfigApi, p.runtime.source, p.containerdConfigVersion, p.loadBalancer.implementation, p.kubeletFailCgroupV1Off]).toEqual([
      "1.35–1.37",
      "v0.33.0",
      "kubeadm.k8s.io/v1beta4",
      "modules",
      3,
      "aftershock-lb",
      true,
    ]);
    expect(p.runtime).toEqual(profileFor("v1.37.2")!.runtime);
    expect(p.endOfSupport).toBeUndefined();
  });

  it("is the only 1.38 accepted: v1.38.0 (not served yet) and another pre-release are refused in one line naming it", () => {
    expect(PRERELEASE).toEqual({ 38: "v1.38.0-beta.0" });
    const refusal = (v: string) => {
      try {
        checkBuildableVersion(v);
        return "accepted";
      } catch (e) {
        return e instanceof AftershockError ? e.oneLine() : String(e);
      }
    };
    for (const v of ["v1.38.0", "v1.38.0-beta.1", "v1.38.0-rc.0", "v1.38.1"]) {
      expect(refusal(v)).toBe(
        `Kubernetes ${v} is not a release the offline builder knows: of 1.38 it makes only the pre-release v1.38.0-beta.0, the newest the module proxy served when it was pinned (PRERELEASE in clusters/versions.ts names it, and becomes {} once v1.38.0 is served)`,
      );
    }
  });

  it("is never the default", () => {
    expect(kubernetesRelease(DEFAULT_KUBERNETES_VERSION).prerelease).toBeUndefined();
    expect(Object.values(PRERELEASE)).not.toContain(DEFAULT_KUBERNETES_VERSION);
  });

  it("is built from k8s.io/kubernetes at its tag, the staging modules at v0.38.0-beta.0, the whole tag stamped in", async () => {
    const c = await kubernetesComponent(kubernetesRelease("v1.38.0-beta.0"));
    expect(c.requires).toEqual([{ module: "k8s.io/kubernetes", version: "v1.38.0-beta.0" }]);
    expect(c.replaces).toEqual([
      { module: "k8s.io/api", version: "v0.38.0-beta.0" },
      { module: "k8s.io/client-go", version: "v0.38.0-beta.0" },
    ]);
    // As upstream's hack/lib/version.sh does for a tag with a pre-release part: gitMinor "38+".
    expect(c.ldflags).toContain(
      "-X k8s.io/component-base/version.gitVersion=v1.38.0-beta.0 -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=38+ ",
    );
    expect((await kubernetesComponent(kubernetesRelease("v1.37.2"))).ldflags).toContain(
      "version.gitVersion=v1.37.2 -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=37 ",
    );
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

  it("reads a go.mod's go line, which decides whether the local Go can build the module (1.38's says 1.27.0)", () => {
    expect(goDirective("module k8s.io/kubernetes\n\ngo 1.27.0\n\ngodebug default=go1.27\n")).toBe("1.27.0");
    expect(goDirective("module example.com/x\n")).toBeUndefined();
  });
});
