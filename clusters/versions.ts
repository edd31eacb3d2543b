/**
 * Every version Aftershock builds or runs, pinned in one place. The offline image builder derives all its
 * cache keys from this file, so changing a version here is enough to rebuild what depends on it.
 */
export const DEFAULT_KUBERNETES_VERSION = "v1.37.2";

export const PINNED = {
  /** kind for Kubernetes 1.27–1.30 (the v1beta3 kubeadm API, haproxy in front of several control planes); see profileFor. */
  kind: "v0.24.0",
  /** Node and tool rootfs: Debian's systemd, containerd, runc, CNI plugins and iptables. */
  debianSuite: "bookworm",
  debianMirror: "http://deb.debian.org/debian",
  /** crictl in every node, for out-of-band probes when the API server is down. */
  crictl: "v1.30.0",
  /** Default StorageClass "standard". */
  localPathProvisioner: "v0.0.30",
  /** The image kind v0.24.0 runs as the load balancer in front of several control planes. */
  kindHaproxyImage: "docker.io/kindest/haproxy:v20230606-42a2262b",
  /**
   * kind for Kubernetes 1.35–1.38: v0.32 is the first to write kubeadm's v1beta4 API (1.36+), which 1.37 requires.
   * v0.33.0 is the newest the module proxy serves; it reads v1.38.0-beta.0 as 1.38.0 and writes v1beta4 for it.
   */
  kindCurrent: "v0.33.0",
  /** The image kind ≥ v0.32 runs as the load balancer; here it holds Aftershock's own balancer (clusters/images/components/lb). */
  kindEnvoyImage: "docker.io/envoyproxy/envoy:v1.36.2",
  /** containerd 2.x for Kubernetes 1.35+ (upstream supports containerd 1.x only up to 1.35), built from its Go module. */
  containerd: "v2.2.9",
  /** runc for containerd 2.x, built from its Go module with cgo and libseccomp (linked statically). */
  runc: "v1.3.7",
  /**
   * Used when the local Go (at least MIN_GO) cannot build a component, say a module that needs a newer Go: the go
   * command fetches this toolchain from the module proxy (about 76 MB). It must be newer than MIN_GO to be of any
   * use; go1.27.3 is the toolchain the module proxy here serves for that. k8s.io/kubernetes v1.38.0-beta.0 says
   * `go 1.27.0`, so 1.38 is built with it wherever the local Go is 1.26 (chosen before `go mod tidy`, go-build.ts).
   */
  fallbackGoToolchain: "go1.27.3",
  /**
   * Every image Aftershock builds carries this registry prefix in the host's Docker, so it never replaces an image
   * of the user's. Upstream names (registry.k8s.io/…, kind's load balancer) exist only inside the node images.
   */
  localRegistry: "aftershock.local",
  /** The Ingress controller of the Service/Ingress scenarios (MIT); v3.7.x needs a nested module the proxy does not serve. */
  traefik: "v3.6.12",
  /** crane (go-containerregistry) pushes workload images to a user's registry for runs on existing clusters. */
  crane: "v0.22.1",
  /** The JVM of the OOMKilled scenario: Debian bookworm's headless OpenJDK 17 (with javac and jcmd). */
  openjdk: "openjdk-17-jdk-headless",
  /** Helm, built from its Go module, for the StatefulSet upgrade scenario (Apache-2.0). */
  helm: "v3.22.0",
  /** vegeta (MIT), the load generator that runs beside a cluster during faults; k6 is AGPL and never built here. */
  vegeta: "v12.13.0",
} as const;

/**
 * The host-side name of an image Aftershock builds for an upstream name: registry.k8s.io/coredns/coredns:v1.12.1
 * in group "k8s" is aftershock.local/k8s/coredns:v1.12.1. The upstream registry is left out of the name, so no
 * name of ours even contains "registry.k8s.io/" or "docker.io/".
 */
export function localAlias(group: string, upstream: string): string {
  const m = /([a-z0-9._-]+):([\w][\w.-]*)$/.exec(upstream);
  if (!m) throw new Error(`not an image reference with a tag: "${upstream}"`);
  return `${PINNED.localRegistry}/${group}/${m[1]}:${m[2]}`;
}

/** The oldest local Go (GOTOOLCHAIN=local) that builds every component: Helm's module helm.sh/helm/v3 v3.22.0 says `go 1.26.0`. */
export const MIN_GO = { version: "1.26.0", neededBy: `helm.sh/helm/v3 ${PINNED.helm}` } as const;

export interface KubernetesRelease {
  version: string; // v1.29.15, v1.38.0-beta.0
  major: number;
  minor: number;
  patch: number;
  /** The pre-release part of an upstream pre-release tag ("beta.0" of v1.38.0-beta.0); absent for a release. */
  prerelease?: string;
  /** Version of the k8s.io/* staging modules that belong to this release (v0.29.15; v0.38.0-beta.0, tagged alike). */
  stagingVersion: string;
}

/** vX.Y.Z, or one of upstream's pre-release tags: vX.Y.Z-alpha.N, -beta.N, -rc.N. */
const VERSION_RE = /^v?(\d+)\.(\d+)\.(\d+)(?:-((?:alpha|beta|rc)\.\d+))?$/;

export function isKubernetesVersionSyntax(v: string): boolean {
  return VERSION_RE.test(v);
}

export function kubernetesRelease(v: string): KubernetesRelease {
  const m = VERSION_RE.exec(v);
  if (!m) throw new Error(`not a Kubernetes version: "${v}" (expected e.g. v1.29.15)`);
  const [major, minor, patch] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const pre = m[4] ? `-${m[4]}` : "";
  return {
    version: `v${major}.${minor}.${patch}${pre}`,
    major,
    minor,
    patch,
    ...(m[4] ? { prerelease: m[4] } : {}),
    stagingVersion: `v0.${minor}.${patch}${pre}`,
  };
}

/**
 * etcd image tags look like "3.5.16-0"; the Go module version is the part before the dash.
 */
export function etcdModuleVersion(imageTag: string): string {
  return "v" + imageTag.replace(/-\d+$/, "");
}

/**
 * What one Kubernetes version needs from the image builder, kind and the runbooks: the one place that knows. The
 * builder, the provider and the scenarios' kit ask `profileFor(version)`; nothing else compares version numbers.
 */
export interface VersionProfile {
  release: KubernetesRelease;
  /**
   * The tested line this version belongs to, as shown to people: "1.27–1.30" or "1.35–1.37". Its released minors
   * only: a pre-release (PRERELEASE) gets the profile of the line it will join, and says so in describeVersion.
   */
  line: string;
  /** kind release that creates clusters of this version (its kubeadm config templates must know the version). */
  kind: string;
  /**
   * The load balancer kind starts in front of several control planes. kind ≤ v0.31 runs haproxy (Debian's package
   * here); kind ≥ v0.32 runs envoy, which Debian does not package, so its image is Aftershock's own TCP balancer
   * that reads the file-based configuration kind writes for envoy. `kindName` is the name compiled into kind;
   * `localImage` is what the builder tags in the host's Docker, and the docker wrapper kind runs through puts it
   * in place of `kindName` (clusters/kind/docker-wrapper.sh), so the user's image of that name is never replaced.
   */
  loadBalancer: { kindName: string; localImage: string; implementation: "haproxy" | "aftershock-lb" };
  /** Debian bookworm's containerd 1.6.20 and runc 1.1.5, or containerd 2.x and runc built from their Go modules. */
  runtime: { source: "debian"; containerd: "1.6.20"; runc: "1.1.5" } | { source: "modules"; containerd: string; runc: string };
  /** containerd's configuration format: 2 for containerd 1.6, 3 for containerd 2.x. */
  containerdConfigVersion: 2 | 3;
  /** From 1.35 the kubelet refuses cgroup v1 unless its KubeletConfiguration says `failCgroupV1: false` (KEP-5573). */
  kubeletFailCgroupV1Off: boolean;
  /** The kubeadm config API kind writes to /kind/kubeadm.conf for this version (1.37 removed v1beta3). */
  kubeadmConfigApi: "kubeadm.k8s.io/v1beta3" | "kubeadm.k8s.io/v1beta4";
  /** etcd 3.6 removed `etcdctl snapshot restore|status`; etcdutl has had both since 3.5, so every line uses it. */
  etcd: { snapshotRestore: "etcdutl snapshot restore"; snapshotStatus: "etcdutl snapshot status" };
  /**
   * How the API server refuses a write while etcd has no quorum, as seen on this line: up to 1.30 the etcd client's
   * deadline, admission's quota lookup timing out, then etcd's own "request timed out"; on 1.37 admission refuses
   * it first ("forbidden: not yet ready to handle request": its informers cannot sync without etcd).
   */
  writeRefusedWithoutQuorum: RegExp;
  /**
   * How the API server refuses a change to a StatefulSet's volumeClaimTemplates (still immutable through 1.37):
   * up to 1.36 one Forbidden sentence listing the fields that may change (the list grew in 1.35), from 1.37 the
   * declarative validation's "Invalid value: …: field is immutable" on the field itself.
   */
  statefulSetTemplatesRefused: RegExp;
  /** Upstream end of support, where it has passed (the console says so). */
  endOfSupport?: string;
}

/** The versions the whole catalog has run on here; newest last. */
export const TESTED_VERSIONS = ["v1.29.15", "v1.37.2"] as const;

const LEGACY_MINORS = [27, 28, 29, 30];
const CURRENT_MINORS = [35, 36, 37, 38];
/** Every minor the offline builder makes, in order (a minor in PRERELEASE too). */
export const SUPPORTED_MINORS = [...LEGACY_MINORS, ...CURRENT_MINORS] as const;
type SupportedMinor = (typeof SUPPORTED_MINORS)[number];
const END_OF_SUPPORT: Record<number, string> = { 27: "2024-06-28", 28: "2024-10-28", 29: "2025-02-28", 30: "2025-06-28" };

/**
 * The newest patch release of each minor the offline builder makes. Patch releases are numbered from 0 without
 * gaps, so v1.M.0 up to this one exist; a higher patch does not (v1.29.999), and would only fail once the builder
 * asked the Go module proxy for k8s.io/kubernetes at that version, after the doctor and the other builds. 1.27–1.30
 * are out of upstream support, their last releases final; for 1.35–1.37 these are the newest the module proxy
 * served here on 2026-12-07. A newer patch release needs its number raised here, and nothing else.
 */
export const LATEST_PATCH: Readonly<Record<SupportedMinor, number>> = {
  27: 16,
  28: 15,
  29: 15,
  30: 14,
  35: 4,
  36: 3,
  37: 2,
  38: 0, // while PRERELEASE names a 1.38 pre-release, that is the only 1.38 taken
};

/**
 * Minors whose first release the module proxy does not serve yet, each with the one pre-release of it the offline
 * builder makes instead (k8s.io/kubernetes at that tag, the k8s.io/* staging modules at the same v0 tag). While a
 * minor is here, that pre-release is the only version of it accepted (not v1.38.0, not another pre-release), it is
 * marked "pre-release" wherever versions are shown, and it is never the default. k8s.io/kubernetes v1.38.0-beta.0
 * was served here on 2026-12-07; v1.38.0 is due 2026-12-16. When it is served, the line below becomes `= {};`
 * (LATEST_PATCH already says 38: 0) and nothing else changes; a newer pre-release (rc.0, say) replaces the string.
 */
export const PRERELEASE: Readonly<Partial<Record<SupportedMinor, PrereleaseTag>>> = { 38: "v1.38.0-beta.0" };
type PrereleaseTag = `v1.${number}.0-${"alpha" | "beta" | "rc"}.${number}`;

/** The pre-release the offline builder makes of `minor` while its release is not served, if any. */
export function prereleaseOf(minor: number): string | undefined {
  return PRERELEASE[minor as SupportedMinor];
}

/**
 * Whether a version is one the offline builder knows was published (not whether its minor is supported): a patch
 * release up to LATEST_PATCH of a released minor, or the one PRERELEASE of a minor not released yet.
 */
export function isKnownRelease(release: Pick<KubernetesRelease, "version" | "major" | "minor" | "patch" | "prerelease">): boolean {
  if (release.major !== 1) return false;
  const pre = prereleaseOf(release.minor);
  if (pre !== undefined) return release.version === pre;
  const latest = LATEST_PATCH[release.minor as SupportedMinor];
  return latest !== undefined && release.prerelease === undefined && release.patch <= latest;
}

/** The releases of one supported minor, as a phrase: "v1.37.0–v1.37.2", "v1.38.0" or "the pre-release v1.38.0-beta.0". */
function releasesOfText(minor: SupportedMinor): string {
  const pre = prereleaseOf(minor);
  if (pre !== undefined) return `the pre-release ${pre}`;
  return LATEST_PATCH[minor] === 0 ? `v1.${minor}.0` : `v1.${minor}.0–v1.${minor}.${LATEST_PATCH[minor]}`;
}

/** The releases the offline builder makes, as one phrase: "v1.27.0–v1.27.16, …, v1.37.0–v1.37.2 and the pre-release v1.38.0-beta.0". */
export function knownReleasesText(): string {
  const ranges = SUPPORTED_MINORS.map(releasesOfText);
  return `${ranges.slice(0, -1).join(", ")} and ${ranges.at(-1)}`;
}

/** What the offline builder makes of one minor, for an error about a version of it it does not know. */
export function knownReleasesOfText(minor: number): string | undefined {
  return (SUPPORTED_MINORS as readonly number[]).includes(minor) ? releasesOfText(minor as SupportedMinor) : undefined;
}

/** The released minors of a line as a range: "1.35–1.37" (a minor in PRERELEASE left out). */
function lineText(minors: readonly number[]): string {
  const released = minors.filter((m) => prereleaseOf(m) === undefined);
  return `1.${released[0]}–1.${released.at(-1)}`;
}

/** Versions the offline builder can make here, as a sentence for errors and help. */
export function supportedVersionsText(): string {
  const pre = SUPPORTED_MINORS.map(prereleaseOf).filter((v) => v !== undefined);
  return [
    `${lineText(LEGACY_MINORS)} and ${lineText(CURRENT_MINORS)}`,
    ...pre.map((v) => `, and the pre-release ${v}`),
    ` (the catalog has run here on ${TESTED_VERSIONS.join(" and ")})`,
  ].join("");
}

const WRITE_REFUSED_1_30 = /etcdserver: (request timed out|no leader|leader changed)|rpc error: code = DeadlineExceeded|resource quota evaluation timed out/;

const STS_FORBIDDEN = /Forbidden: updates to statefulset spec for fields other than/;

/** The profile of a version, or undefined when the offline builder cannot make it here. */
export function profileFor(version: string): VersionProfile | undefined {
  const release = kubernetesRelease(version);
  if (release.major !== 1) return undefined;
  const etcd = { snapshotRestore: "etcdutl snapshot restore", snapshotStatus: "etcdutl snapshot status" } as const;
  if (LEGACY_MINORS.includes(release.minor)) {
    return {
      release,
      line: lineText(LEGACY_MINORS),
      kind: PINNED.kind,
      loadBalancer: { kindName: PINNED.kindHaproxyImage, localImage: localAlias("kind-lb", PINNED.kindHaproxyImage), implementation: "haproxy" },
      runtime: { source: "debian", containerd: "1.6.20", runc: "1.1.5" },
      containerdConfigVersion: 2,
      kubeletFailCgroupV1Off: false,
      kubeadmConfigApi: "kubeadm.k8s.io/v1beta3",
      etcd,
      writeRefusedWithoutQuorum: WRITE_REFUSED_1_30,
      statefulSetTemplatesRefused: STS_FORBIDDEN,
      ...(END_OF_SUPPORT[release.minor] ? { endOfSupport: END_OF_SUPPORT[release.minor] } : {}),
    };
  }
  // 1.38 (kubernetes v1.38.0-beta.0, read on the module proxy 2026-12-07) takes this line's profile unchanged:
  // kind v0.33.0 writes v1beta4 for any version from 1.36 (it compares 1.38.0-beta.0 as 1.38.0), kubeadm 1.38 has
  // only v1beta4 (and the disabled v1); its kubelet still runs on cgroup v1 with failCgroupV1: false (the default is
  // true, and cgroup v1 only logs a deprecation event); its two refusals are 1.37's, assumed, not yet measured.
  if (CURRENT_MINORS.includes(release.minor)) {
    return {
      release,
      line: lineText(CURRENT_MINORS),
      kind: PINNED.kindCurrent,
      loadBalancer: { kindName: PINNED.kindEnvoyImage, localImage: localAlias("kind-lb", PINNED.kindEnvoyImage), implementation: "aftershock-lb" },
      runtime: { source: "modules", containerd: PINNED.containerd, runc: PINNED.runc },
      containerdConfigVersion: 3,
      kubeletFailCgroupV1Off: true,
      // kind v0.33 writes v1beta4 from 1.36 on, v1beta3 before.
      kubeadmConfigApi: release.minor >= 36 ? "kubeadm.k8s.io/v1beta4" : "kubeadm.k8s.io/v1beta3",
      etcd,
      writeRefusedWithoutQuorum: new RegExp(`${WRITE_REFUSED_1_30.source}|forbidden: not yet ready to handle request`),
      statefulSetTemplatesRefused: release.minor >= 37 ? /spec\.volumeClaimTemplates: Invalid value: .*: field is immutable/s : STS_FORBIDDEN,
    };
  }
  return undefined;
}

/** One line for people: the version and what it brings with it here. */
export function describeVersion(version: string): string {
  const p = profileFor(version);
  if (!p) return `Kubernetes ${version} (not a version the offline builder makes)`;
  const runtime =
    p.runtime.source === "debian"
      ? `Debian's containerd ${p.runtime.containerd} and runc ${p.runtime.runc}`
      : `containerd ${p.runtime.containerd} and runc ${p.runtime.runc} built from Go modules`;
  const untested = !(TESTED_VERSIONS as readonly string[]).includes(p.release.version);
  const line = p.release.prerelease
    ? `pre-release of 1.${p.release.minor}${untested ? ", not yet run here" : ""}; set up as line ${p.line}`
    : `line ${p.line}${p.endOfSupport ? `, out of upstream support since ${p.endOfSupport}` : ""}`;
  return [
    `Kubernetes ${p.release.version} (${line})`,
    `kind ${p.kind}, kubeadm ${p.kubeadmConfigApi.replace("kubeadm.k8s.io/", "")}, ${runtime}`,
    ...(p.kubeletFailCgroupV1Off ? ["kubelet failCgroupV1: false"] : []),
    `control-plane load balancer: ${p.loadBalancer.implementation === "haproxy" ? "haproxy" : "Aftershock's own, in kind's envoy slot"}`,
  ].join("; ");
}
