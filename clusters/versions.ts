/**
 * Every version Aftershock builds or runs, pinned in one place. The offline image builder derives all its
 * cache keys from this file, so changing a version here is enough to rebuild what depends on it.
 */
export const DEFAULT_KUBERNETES_VERSION = "v1.29.15";

export const PINNED = {
  /** kind drives the cluster lifecycle; v0.24.0 pairs with Kubernetes ≤ 1.30 on cgroup v1 hosts. */
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
   * Used when the local Go (at least MIN_GO) cannot build a component, say a module that needs a newer Go: the go
   * command fetches this toolchain from the module proxy (about 76 MB). It must be newer than MIN_GO to be of any
   * use; go1.27.3 is the toolchain the module proxy here serves for that.
   */
  fallbackGoToolchain: "go1.27.3",
  /** Images Aftershock builds for the cluster's add-ons and workloads carry this registry prefix. */
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

/** The oldest local Go (GOTOOLCHAIN=local) that builds every component: Helm's module helm.sh/helm/v3 v3.22.0 says `go 1.26.0`. */
export const MIN_GO = { version: "1.26.0", neededBy: `helm.sh/helm/v3 ${PINNED.helm}` } as const;

/** Kubernetes minors the offline builder knows how to assemble and test on this project's hosts. */
export const SUPPORTED_MINORS = [27, 28, 29, 30] as const;

export interface KubernetesRelease {
  version: string; // v1.29.15
  major: number;
  minor: number;
  patch: number;
  /** Version of the k8s.io/* staging modules that belong to this release (v0.29.15). */
  stagingVersion: string;
}

const VERSION_RE = /^v?(\d+)\.(\d+)\.(\d+)$/;

export function isKubernetesVersionSyntax(v: string): boolean {
  return VERSION_RE.test(v);
}

export function kubernetesRelease(v: string): KubernetesRelease {
  const m = VERSION_RE.exec(v);
  if (!m) throw new Error(`not a Kubernetes version: "${v}" (expected e.g. v1.29.15)`);
  const [major, minor, patch] = [Number(m[1]), Number(m[2]), Number(m[3])];
  return { version: `v${major}.${minor}.${patch}`, major, minor, patch, stagingVersion: `v0.${minor}.${patch}` };
}

/**
 * etcd image tags look like "3.5.16-0"; the Go module version is the part before the dash.
 */
export function etcdModuleVersion(imageTag: string): string {
  return "v" + imageTag.replace(/-\d+$/, "");
}
