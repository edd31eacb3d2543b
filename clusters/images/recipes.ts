import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Duration } from "../errors.js";
import type { GoComponent } from "./go-build.js";
import { upstreamReplaces } from "./go-build.js";
import { etcdModuleVersion, PINNED, type KubernetesRelease } from "../versions.js";

const here = path.dirname(fileURLToPath(import.meta.url));

export const KUBERNETES_BINARIES = ["kubeadm", "kubelet", "kubectl", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kube-proxy"] as const;

/** Kubernetes server and node binaries, with the version stamped in as the upstream release build does. */
export async function kubernetesComponent(rel: KubernetesRelease): Promise<GoComponent> {
  // k8s.io/kubernetes points its k8s.io/* staging modules at ./staging; use their published v0.x.y releases (a
  // pre-release's are tagged alike: v1.38.0-beta.0 with v0.38.0-beta.0).
  const replaces = await upstreamReplaces("k8s.io/kubernetes", rel.version, (target) => (target.startsWith("./staging/") ? rel.stagingVersion : undefined));
  const stamp = ["k8s.io/component-base/version", "k8s.io/client-go/pkg/version"].flatMap((p) => [
    // The whole tag, pre-release included: kubeadm compares the kubelet's and the control plane's versions, and kind
    // reads /kind/version. Upstream's hack/lib/version.sh adds "+" to gitMinor for a tag with a pre-release part.
    `-X ${p}.gitVersion=${rel.version}`,
    `-X ${p}.gitMajor=${rel.major}`,
    `-X ${p}.gitMinor=${rel.minor}${rel.prerelease ? "+" : ""}`,
    `-X ${p}.gitTreeState=clean`,
    `-X ${p}.gitCommit=0000000000000000000000000000000000000000`,
    `-X ${p}.buildDate=1970-01-01T00:00:00Z`,
  ]);
  return {
    name: "kubernetes",
    version: rel.version,
    requires: [{ module: "k8s.io/kubernetes", version: rel.version }],
    replaces,
    outputs: KUBERNETES_BINARIES.map((b) => ({ pkg: `k8s.io/kubernetes/cmd/${b}`, bin: b })),
    ldflags: stamp.join(" "),
    // The cloud-provider SDKs are not needed in kind clusters and double the build time.
    tags: "providerless",
    budget: "25m",
  };
}

export function etcdComponent(imageTag: string): GoComponent {
  const v = etcdModuleVersion(imageTag);
  return {
    name: "etcd",
    version: v,
    requires: [
      { module: "go.etcd.io/etcd/server/v3", version: v },
      { module: "go.etcd.io/etcd/etcdctl/v3", version: v },
      { module: "go.etcd.io/etcd/etcdutl/v3", version: v },
    ],
    outputs: [
      { pkg: "go.etcd.io/etcd/server/v3", bin: "etcd" },
      { pkg: "go.etcd.io/etcd/etcdctl/v3", bin: "etcdctl" },
      { pkg: "go.etcd.io/etcd/etcdutl/v3", bin: "etcdutl" },
    ],
    budget: "6m",
  };
}

export function corednsComponent(tag: string): GoComponent {
  return {
    name: "coredns",
    version: tag,
    requires: [{ module: "github.com/coredns/coredns", version: tag }],
    outputs: [{ pkg: "github.com/coredns/coredns", bin: "coredns" }],
    budget: "8m",
  };
}

export async function crictlComponent(): Promise<GoComponent> {
  // cri-tools pins the Kubernetes staging modules to unpublished commits; use the matching release instead.
  const minor = /^v1\.(\d+)\./.exec(PINNED.crictl)?.[1] ?? "30";
  const replaces = await upstreamReplaces("sigs.k8s.io/cri-tools", PINNED.crictl, (target) =>
    target.startsWith("k8s.io/kubernetes/staging/") ? `v0.${minor}.0` : target === "k8s.io/kubernetes" ? `v1.${minor}.0` : undefined,
  );
  // Its go.mod still declares the old github.com path, which the proxy serves only under the new name.
  const legacy = "github.com/kubernetes-sigs/cri-tools";
  return {
    name: "crictl",
    version: PINNED.crictl,
    requires: [{ module: legacy, version: PINNED.crictl }],
    replaces: [...replaces, { module: legacy, target: "sigs.k8s.io/cri-tools", version: PINNED.crictl }],
    outputs: [{ pkg: `${legacy}/cmd/crictl`, bin: "crictl" }],
    budget: "4m",
  };
}

export function localPathComponent(): GoComponent {
  return {
    name: "local-path-provisioner",
    version: PINNED.localPathProvisioner,
    requires: [{ module: "github.com/rancher/local-path-provisioner", version: PINNED.localPathProvisioner }],
    outputs: [{ pkg: "github.com/rancher/local-path-provisioner", bin: "local-path-provisioner" }],
    budget: "5m",
  };
}

/** kind at the release a version's profile names (profileFor(version).kind). */
export function kindComponent(version: string = PINNED.kind): GoComponent {
  return {
    name: "kind",
    version,
    requires: [{ module: "sigs.k8s.io/kind", version }],
    outputs: [{ pkg: "sigs.k8s.io/kind", bin: "kind" }],
    budget: "3m",
  };
}

/** containerd 2.x (daemon, runc shim, ctr) for the nodes of Kubernetes 1.35+; no cgo, so no btrfs/devmapper/zfs snapshotters. */
export function containerdComponent(version: string): GoComponent {
  const mod = "github.com/containerd/containerd/v2";
  return {
    name: "containerd",
    version,
    requires: [{ module: mod, version }],
    outputs: ["containerd", "containerd-shim-runc-v2", "ctr"].map((b) => ({ pkg: `${mod}/cmd/${b}`, bin: b })),
    ldflags: `-X ${mod}/version.Version=${version} -X ${mod}/version.Revision=aftershock`,
    tags: "no_btrfs no_devmapper no_zfs",
    budget: "6m",
  };
}

/** runc with seccomp (cgo against libseccomp, linked statically) for containerd 2.x. */
export function runcComponent(version: string): GoComponent {
  return {
    name: "runc",
    version,
    requires: [{ module: "github.com/opencontainers/runc", version }],
    outputs: [{ pkg: "github.com/opencontainers/runc", bin: "runc" }],
    ldflags: `-X main.version=${version.replace(/^v/, "")} -X main.gitCommit=aftershock`,
    tags: "seccomp netgo osusergo urfave_cli_no_docs",
    cgoStatic: true,
    budget: "3m",
  };
}

/** One of Aftershock's own Go programs, kept in clusters/images/components/<name> with its go.mod and go.sum. */
function ownComponent(name: string, bin: string, budget: Duration): GoComponent {
  return { name, version: "v1", localSource: path.join(here, "components", name), outputs: [{ pkg: ".", bin }], budget };
}

/**
 * Aftershock's load balancer for several control planes under kind ≥ v0.32 (components/lb): kind runs
 * `envoy -c /home/envoy/envoy.yaml` and rewrites the file-based CDS/LDS beside it; this reads those files.
 */
export const lbComponent = (): GoComponent => ownComponent("lb", "envoy", "2m");

/** Our own pod network daemon (components/netd). */
export const netdComponent = (): GoComponent => ownComponent("netd", "aftershock-netd", "3m");

/** The echo HTTP server (components/echo): the workload scenarios put behind Services. */
export const echoComponent = (): GoComponent => ownComponent("echo", "echo", "2m");

/**
 * Kubernetes' end-to-end test binary e2e.test of a release (`go test -c k8s.io/kubernetes/test/e2e`), for
 * `--conformance`: the same module, staging replaces and version stamp as kubernetesComponent (the binary prints
 * and logs that version), so it is the suite of the cluster's own release. Without the providerless tag: up to
 * 1.29, test/e2e imports the in-tree cloud providers' e2e helpers, which that tag removes from their packages.
 */
export async function kubernetesE2eComponent(rel: KubernetesRelease): Promise<GoComponent> {
  const k = await kubernetesComponent(rel);
  return {
    name: "kubernetes-e2e",
    version: rel.version,
    requires: k.requires!,
    replaces: k.replaces!,
    outputs: [{ pkg: "k8s.io/kubernetes/test/e2e", bin: "e2e.test", test: true }],
    ldflags: k.ldflags!,
    budget: "20m",
  };
}
