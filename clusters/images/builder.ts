import { createHash } from "node:crypto";
import { LABELS } from "../labels.js";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { chmod, copyFile, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { docker } from "../docker.js";
import { hostFacts } from "../host/facts.js";
import { AftershockError } from "../errors.js";
import { run } from "../exec.js";
import { aboutToBuild, withBuildLock } from "./build-lock.js";
import type { Progress } from "../progress.js";
import { withStep } from "../progress.js";
import {
  isKnownRelease,
  knownReleasesOfText,
  knownReleasesText,
  kubernetesRelease,
  prereleaseOf,
  localAlias,
  PINNED,
  profileFor,
  supportedVersionsText,
  type VersionProfile,
} from "../versions.js";
import { containerdConfig } from "./containerd-config.js";
import { buildGoComponent, type BuiltComponent } from "./go-build.js";
import { cniManifest, storageManifest } from "./manifests.js";
import * as recipes from "./recipes.js";

const here = path.dirname(fileURLToPath(import.meta.url));
/**
 * Bump when the way images are assembled changes, so cached images are rebuilt. 4: the node offers what kind's node
 * image offers, no more (NODE_PACKAGES; no etcdctl or etcdutl in /usr/bin; /sbin/init a link to systemd).
 */
const ASSEMBLY_REVISION = "4";

/**
 * The node rootfs: what kind's own node image installs (images/base/Dockerfile's clean-install list, the same package
 * names on bookworm; clusters/kind/node-contract.ts holds the commands it offers), so a scenario that passes on this
 * image passes on a pulled kindest/node, and one that needs more fails here too. Kind builds containerd, runc, crictl
 * and its CNI plugins from source; here they are Debian's packages (1.35+ replaces containerd and runc with ones built
 * from their modules, and crictl is built; the CNI plugins are copied to /opt/cni/bin, off PATH). Nothing else: no
 * systemd-sysv (kind links /sbin/init to systemd, and so does the node image's Dockerfile), no dbus (systemd and the
 * kubelet's systemd cgroup driver use systemd's private socket as root), no debugging tools kind does not have.
 */
export const NODE_PACKAGES = [
  // kind's clean-install list, in its order
  "systemd",
  "conntrack",
  "iptables",
  "nftables",
  "iproute2",
  "ethtool",
  "util-linux",
  "mount",
  "kmod",
  "libseccomp2",
  "pigz",
  "fuse-overlayfs",
  "nfs-common",
  "open-iscsi",
  "bash",
  "ca-certificates",
  "curl",
  "jq",
  "procps",
  // what kind builds from source
  "containerd",
  "runc",
  "containernetworking-plugins",
];
/** Base of the component images (kube-proxy and the network daemon need iptables; haproxy for kind's LB; busybox-static is the shell of the workload images). */
export const TOOLS_PACKAGES = ["iptables", "conntrack", "ipset", "iproute2", "kmod", "haproxy", "procps", "ca-certificates", "busybox-static"];

export interface ImageBuildOptions {
  kubernetesVersion: string;
  cacheDir: string;
  progress: Progress;
  /** Rebuild the node image even when a matching one exists (Go binaries and rootfs stay cached). */
  force?: boolean;
}

export interface NodeImage {
  ref: string;
  kubernetesVersion: string;
  /** True when nothing had to be built. */
  cached: boolean;
  kindBinary: string;
  kubectlBinary: string;
  /** Images preloaded into the node's containerd, by the names they have there (upstream ones for Kubernetes'). */
  preloaded: string[];
}

/** AFTERSHOCK_CACHE, else $XDG_CACHE_HOME/aftershock (by default ~/.cache/aftershock): the user's own, so no root is needed. */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env, home: string = os.homedir()): string {
  return env.AFTERSHOCK_CACHE || path.join(env.XDG_CACHE_HOME || path.join(home, ".cache"), "aftershock");
}

export function nodeImageRef(version: string): string {
  return `${PINNED.localRegistry}/node:${version}`;
}

function hashFiles(h: ReturnType<typeof createHash>, dir: string): void {
  for (const name of readdirSync(dir).sort()) {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) hashFiles(h, p);
    else h.update(path.relative(here, p) + "\0" + readFileSync(p).toString("base64"));
  }
}

function rootfsKey(packages: string[]): string {
  return createHash("sha256")
    .update(JSON.stringify([PINNED.debianSuite, PINNED.debianMirror, packages, ASSEMBLY_REVISION]))
    .digest("hex")
    .slice(0, 12);
}

/** Validates a version before spending any time on it, and returns what that version needs. */
export function checkBuildableVersion(version: string): VersionProfile {
  let profile;
  try {
    profile = profileFor(version);
  } catch (e) {
    throw new AftershockError("E_BAD_VERSION", `${(e as Error).message}; supported: ${supportedVersionsText()}`);
  }
  if (!profile) {
    throw new AftershockError(
      "E_BAD_VERSION",
      `Kubernetes ${kubernetesRelease(version).version} cannot be built offline here: supported are ${supportedVersionsText()}, on cgroup v1`,
      { hint: "pass e.g. --k8s-version v1.37.2, or --image kindest/node:vX where a registry is reachable" },
    );
  }
  // A supported minor with a patch that was never released, or a pre-release other than the one of a minor not
  // released yet: refused here, not after the doctor and the Go builds.
  if (!isKnownRelease(profile.release)) {
    const { version, minor } = profile.release;
    const pre = prereleaseOf(minor);
    if (pre !== undefined) {
      throw new AftershockError(
        "E_BAD_VERSION",
        `Kubernetes ${version} is not a release the offline builder knows: of 1.${minor} it makes only the pre-release ${pre}, the newest the module proxy served when it was pinned`,
        { hint: `PRERELEASE in clusters/versions.ts names it, and becomes {} once v1.${minor}.0 is served` },
      );
    }
    throw new AftershockError(
      "E_BAD_VERSION",
      profile.release.prerelease
        ? `Kubernetes ${version} is not a release the offline builder knows: of 1.${minor} it makes ${knownReleasesOfText(minor)}, no pre-release`
        : `Kubernetes ${version} is not a release the offline builder knows: it makes ${knownReleasesText()}`,
      { hint: "a newer patch release needs its number in LATEST_PATCH, clusters/versions.ts" },
    );
  }
  return profile;
}

/**
 * Makes sure a kind-compatible node image for `kubernetesVersion` exists locally, building everything it
 * needs from Debian packages and Go modules when it does not. Warm runs only inspect labels.
 */
export async function ensureNodeImage(opts: ImageBuildOptions): Promise<NodeImage> {
  checkBuildableVersion(opts.kubernetesVersion);
  const rel = kubernetesRelease(opts.kubernetesVersion);
  return withBuildLock(opts.cacheDir, opts.progress, () => buildLocked(rel.version, opts));
}

async function buildLocked(version: string, opts: ImageBuildOptions): Promise<NodeImage> {
  const { cacheDir, progress } = opts;
  const rel = kubernetesRelease(version);
  const profile = checkBuildableVersion(version);
  // mmdebstrap is mostly downloading and unpacking: when there is no node image yet it runs beside the Go
  // builds (which keep both cores busy) instead of after them. Otherwise it waits until it is known to be needed.
  const bothRootfs = () => Promise.all([ensureRootfs("node", NODE_PACKAGES, cacheDir, progress), ensureRootfs("tools", TOOLS_PACKAGES, cacheDir, progress)]);
  const early = opts.force || !(await docker.imageExists(nodeImageRef(version))) ? bothRootfs() : undefined;
  early?.catch(() => undefined); // awaited below; a failure there is reported then, not as an unhandled rejection
  const kube = await buildGoComponent(await recipes.kubernetesComponent(rel), cacheDir, progress);
  const kubeadm = kube.bins.kubeadm!;
  const { required, etcdTag, corednsTag, pauseTag } = await kubeadmImages(kubeadm, version);

  const kind = await buildGoComponent(recipes.kindComponent(profile.kind), cacheDir, progress);
  const key = buildKey(version, required);
  const ref = nodeImageRef(version);
  const labels = await docker.imageLabels(ref);
  if (!opts.force && labels?.["aftershock.build-key"] === key && (await docker.imageExists(profile.loadBalancer.localImage))) {
    return {
      ref,
      kubernetesVersion: version,
      cached: true,
      kindBinary: kind.bins.kind!,
      kubectlBinary: kube.bins.kubectl!,
      preloaded: (labels["aftershock.preloaded"] ?? "").split(",").filter(Boolean),
    };
  }

  aboutToBuild(`node image ${ref}`);
  const etcd = await buildGoComponent(recipes.etcdComponent(etcdTag), cacheDir, progress);
  const coredns = await buildGoComponent(recipes.corednsComponent(corednsTag), cacheDir, progress);
  const crictl = await buildGoComponent(await recipes.crictlComponent(), cacheDir, progress);
  const localPath = await buildGoComponent(recipes.localPathComponent(), cacheDir, progress);
  const netd = await buildGoComponent(recipes.netdComponent(), cacheDir, progress);
  const echo = await buildGoComponent(recipes.echoComponent(), cacheDir, progress);
  const pause = await buildPause(cacheDir, progress);
  const runtime =
    profile.runtime.source === "modules"
      ? {
          containerd: await buildGoComponent(recipes.containerdComponent(profile.runtime.containerd), cacheDir, progress),
          runc: await buildGoComponent(recipes.runcComponent(profile.runtime.runc), cacheDir, progress),
        }
      : undefined;
  const lb = profile.loadBalancer.implementation === "aftershock-lb" ? await buildGoComponent(recipes.lbComponent(), cacheDir, progress) : undefined;

  const [nodeRootfs, toolsRootfs] = await (early ?? bothRootfs());

  const work = await mkdtemp(path.join(cacheDir, "assemble-"));
  try {
    const toolsImage = await buildToolsImage(toolsRootfs, work, progress);
    const images = componentImages({ version, etcdTag, corednsTag, pauseTag, kube, etcd, coredns, localPath, netd, echo, pause });
    for (const img of images) {
      const title = img.hostRef === img.nodeRef ? `Image ${img.hostRef}` : `Image ${img.hostRef} (${img.nodeRef} inside the node)`;
      await withStep(progress, title, "3m", () => dockerBuild(work, img.hostRef, img.from === "tools" ? toolsImage : "scratch", img.files, img.instructions));
    }
    await loadBalancerImage(work, profile, toolsImage, lb, progress);

    const preloaded = images.map((i) => i.nodeRef);
    const imagesTar = path.join(work, "images.tar");
    await withStep(progress, `Saving ${preloaded.length} component images for preloading`, "5m", () =>
      docker.run(["save", "-o", imagesTar, ...images.map((i) => i.hostRef)], { timeout: "5m" }),
    );

    const nodeBase = `${PINNED.localRegistry}/node-base:${version}`;
    await withStep(progress, `Node image layers for Kubernetes ${version}`, "5m", () =>
      nodeImageLayers({ work, version, profile, pauseTag, kube, crictl, runtime, netd, localPath, nodeRootfs, nodeBase }),
    );

    await withStep(progress, `Preloading component images into the node's containerd`, "10m", () => preload(nodeBase, imagesTar, ref, key, images));
    // The renamed component images were only the way into the node image: the next build makes them again (a warm
    // run looks at the node image's labels alone), so they do not stay in the host's Docker. Only they go (aftershock.local/k8s/…: upstream names live in the node alone). Images
    // that keep our name are used from the host too: a team's workload (examples/shop) runs aftershock.local/echo.
    await docker.run(["rmi", nodeBase, ...hostIntermediates(images)], { allowFailure: true });
    return { ref, kubernetesVersion: version, cached: false, kindBinary: kind.bins.kind!, kubectlBinary: kube.bins.kubectl!, preloaded };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** The images kubeadm of `version` pulls, and the tags of etcd, CoreDNS and pause among them. */
async function kubeadmImages(kubeadm: string, version: string): Promise<{ required: string[]; etcdTag: string; corednsTag: string; pauseTag: string }> {
  const required = (await run(kubeadm, ["config", "images", "list", "--kubernetes-version", version])).stdout.split("\n").filter(Boolean);
  const tagOf = (name: string) => {
    const ref = required.find((r) => r.includes(`/${name}:`));
    if (!ref) throw new AftershockError("E_BUILD", `kubeadm ${version} does not list a ${name} image: ${required.join(", ")}`);
    return ref.split(":").pop()!;
  };
  return { required, etcdTag: tagOf("etcd"), corednsTag: tagOf("coredns"), pauseTag: tagOf("pause") };
}

/** kind's control-plane load balancer image: our own balancer (kind ≥ v0.32) or a stub haproxy, on the tools image. */
async function loadBalancerImage(
  work: string,
  profile: ReturnType<typeof checkBuildableVersion>,
  toolsImage: string,
  lb: BuiltComponent | undefined,
  progress: Progress,
): Promise<void> {
  await withStep(progress, `Image ${profile.loadBalancer.localImage} (kind's control-plane load balancer: ${profile.loadBalancer.implementation})`, "3m", () =>
    lb
      ? // kind ≥ v0.32 runs `bash -c '… envoy -c /home/envoy/envoy.yaml'` in this image: our balancer answers to that name.
        dockerBuild(work, profile.loadBalancer.localImage, toolsImage, [{ src: lb.bins.envoy!, dest: "/usr/local/bin/envoy" }], ["STOPSIGNAL SIGTERM"])
      : dockerBuild(
          work,
          profile.loadBalancer.localImage,
          toolsImage,
          [],
          [
            "RUN mkdir -p /usr/local/etc/haproxy && printf 'global\\n  daemon\\ndefaults\\n  mode tcp\\n  timeout connect 5s\\n  timeout client 50s\\n  timeout server 50s\\nfrontend stub\\n  bind *:6443\\n' > /usr/local/etc/haproxy/haproxy.cfg",
            "STOPSIGNAL SIGUSR1",
            // kind's config asks for maxconn 100000, which needs a file limit Docker may not grant (raising it
            // needs CAP_SYS_RESOURCE); -n on the command line takes precedence and is plenty for a test cluster.
            'ENTRYPOINT ["haproxy", "-W", "-db", "-n", "4000", "-f", "/usr/local/etc/haproxy/haproxy.cfg"]',
          ],
        ),
  );
}

/** The node image's own layers on the node rootfs: kind's binaries and files, the runtime's config, the CNI and storage manifests. */
async function nodeImageLayers(o: {
  work: string;
  version: string;
  profile: ReturnType<typeof checkBuildableVersion>;
  pauseTag: string;
  kube: BuiltComponent;
  crictl: BuiltComponent;
  runtime: { containerd: BuiltComponent; runc: BuiltComponent } | undefined;
  netd: BuiltComponent;
  localPath: BuiltComponent;
  nodeRootfs: string;
  nodeBase: string;
}): Promise<void> {
  const { work, version, profile, pauseTag, kube, crictl, runtime, netd, localPath, nodeRootfs, nodeBase } = o;
  const ctx = path.join(work, "node");
  await mkdir(path.join(ctx, "bin"), { recursive: true });
  // What kind's node image has in /usr/bin or /usr/local/bin: the node's tools, never etcd's (etcdctl and etcdutl stay
  // in the etcd image; clusters/etcd.ts reaches them there).
  const nodeBins = { ...kube.bins, crictl: crictl.bins.crictl!, ...runtime?.containerd.bins };
  for (const [name, src] of Object.entries(nodeBins)) {
    if (!["kubeadm", "kubelet", "kubectl", "crictl", "containerd", "containerd-shim-runc-v2", "ctr"].includes(name)) continue;
    await copyFile(src, path.join(ctx, "bin", name));
  }
  // runc replaces Debian's in /usr/sbin (containerd 2.x finds it on PATH, before /usr/bin).
  if (runtime) {
    await mkdir(path.join(ctx, "sbin"), { recursive: true });
    await copyFile(runtime.runc.bins.runc!, path.join(ctx, "sbin", "runc"));
  }
  await run("cp", ["-a", path.join(here, "node", "files"), path.join(ctx, "files")]);
  await mkdir(path.join(ctx, "files", "etc", "containerd"), { recursive: true });
  await writeFile(path.join(ctx, "files", "etc", "containerd", "config.toml"), containerdConfig(profile, `registry.k8s.io/pause:${pauseTag}`));
  await mkdir(path.join(ctx, "files", "kind", "manifests"), { recursive: true });
  await writeFile(path.join(ctx, "files", "kind", "version"), version);
  await writeFile(path.join(ctx, "files", "kind", "manifests", "default-cni.yaml"), cniManifest(`${PINNED.localRegistry}/netd:${netd.version}`));
  await writeFile(
    path.join(ctx, "files", "kind", "manifests", "default-storage.yaml"),
    storageManifest(`${PINNED.localRegistry}/local-path-provisioner:${localPath.version}`, `${PINNED.localRegistry}/local-path-helper:v1`),
  );
  await writeFile(
    path.join(ctx, "Dockerfile"),
    [
      `FROM ${nodeRootfs}`,
      "COPY files/ /",
      "COPY bin/ /usr/bin/",
      ...(runtime ? ["COPY sbin/ /usr/sbin/"] : []),
      "RUN set -eu; " +
        [
          "chmod 0755 /usr/local/bin/entrypoint /kind/bin/* /usr/bin/kubeadm /usr/bin/kubelet /usr/bin/kubectl /usr/bin/crictl /usr/bin/containerd /usr/sbin/runc",
          // kind's base image does the same (ln -s "$(which systemd)" /sbin/init): systemd-sysv is not installed.
          "ln -sf /lib/systemd/systemd /sbin/init",
          "find /lib/systemd/system/sysinit.target.wants/ -name systemd-tmpfiles-setup.service -delete",
          "rm -f /lib/systemd/system/multi-user.target.wants/* /etc/systemd/system/*.wants/* /lib/systemd/system/local-fs.target.wants/* /lib/systemd/system/sockets.target.wants/*udev* /lib/systemd/system/sockets.target.wants/*initctl* /lib/systemd/system/basic.target.wants/*",
          "echo ReadKMsg=no >> /etc/systemd/journald.conf",
          "systemctl enable kubelet.service containerd.service undo-mount-hacks.service",
          "systemctl mask systemd-binfmt.service",
          "mkdir -p /etc/kubernetes/manifests /opt/cni/bin /var/lib/containerd",
          "cp -a /usr/lib/cni/. /opt/cni/bin/",
        ].join("; "),
      "ENV container=docker",
      "STOPSIGNAL SIGRTMIN+3",
      'ENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]',
    ].join("\n") + "\n",
  );
  await docker.run(["build", "-q", "-t", nodeBase, ctx], { timeout: "10m" });
}

function buildKey(version: string, required: string[]): string {
  const h = createHash("sha256");
  h.update(JSON.stringify({ version, required, PINNED, ASSEMBLY_REVISION, node: NODE_PACKAGES, tools: TOOLS_PACKAGES }));
  hashFiles(h, here);
  return h.digest("hex").slice(0, 16);
}

export interface ComponentImage {
  /** Its name in the host's Docker while the node image is built: always under PINNED.localRegistry. */
  hostRef: string;
  /** Its name in the node's containerd: the one kubeadm, the kubelet and the manifests ask for. */
  nodeRef: string;
  from: "tools" | "scratch";
  files: { src: string; dest: string }[];
  instructions: string[];
}

/** Kubernetes' own images answer to registry.k8s.io names in the node, and to aftershock.local/k8s/… on the host. */
function upstream(nodeRef: string): Pick<ComponentImage, "hostRef" | "nodeRef"> {
  return { hostRef: localAlias("k8s", nodeRef), nodeRef };
}

/** Aftershock's add-on images have the same aftershock.local name on the host and in the node. */
function ours(ref: string): Pick<ComponentImage, "hostRef" | "nodeRef"> {
  return { hostRef: ref, nodeRef: ref };
}

export function componentImages(b: {
  version: string;
  etcdTag: string;
  corednsTag: string;
  pauseTag: string;
  kube: BuiltComponent;
  etcd: BuiltComponent;
  coredns: BuiltComponent;
  localPath: BuiltComponent;
  netd: BuiltComponent;
  echo: BuiltComponent;
  pause: string;
}): ComponentImage[] {
  const k8s = (name: string): ComponentImage => ({
    ...upstream(`registry.k8s.io/${name}:${b.version}`),
    from: "tools",
    files: [{ src: b.kube.bins[name]!, dest: `/usr/local/bin/${name}` }],
    instructions: [`ENTRYPOINT ["/usr/local/bin/${name}"]`],
  });
  return [
    k8s("kube-apiserver"),
    k8s("kube-controller-manager"),
    k8s("kube-scheduler"),
    k8s("kube-proxy"),
    {
      ...upstream(`registry.k8s.io/etcd:${b.etcdTag}`),
      from: "tools",
      files: ["etcd", "etcdctl", "etcdutl"].map((n) => ({ src: b.etcd.bins[n]!, dest: `/usr/local/bin/${n}` })),
      instructions: [],
    },
    {
      ...upstream(`registry.k8s.io/coredns/coredns:${b.corednsTag}`),
      from: "tools",
      files: [{ src: b.coredns.bins.coredns!, dest: "/coredns" }],
      instructions: ['ENTRYPOINT ["/coredns"]'],
    },
    { ...upstream(`registry.k8s.io/pause:${b.pauseTag}`), from: "scratch", files: [{ src: b.pause, dest: "/pause" }], instructions: ['ENTRYPOINT ["/pause"]'] },
    {
      ...ours(`${PINNED.localRegistry}/local-path-provisioner:${b.localPath.version}`),
      from: "tools",
      files: [{ src: b.localPath.bins["local-path-provisioner"]!, dest: "/usr/local/bin/local-path-provisioner" }],
      instructions: [],
    },
    { ...ours(`${PINNED.localRegistry}/local-path-helper:v1`), from: "tools", files: [], instructions: [] },
    {
      ...ours(`${PINNED.localRegistry}/netd:${b.netd.version}`),
      from: "tools",
      files: [{ src: b.netd.bins["aftershock-netd"]!, dest: "/usr/local/bin/aftershock-netd" }],
      instructions: ['ENTRYPOINT ["/usr/local/bin/aftershock-netd"]'],
    },
    // A workload for scenarios that need a Service to answer (harness/kit/workloads/workloads.ts ECHO_IMAGE).
    {
      ...ours(`${PINNED.localRegistry}/echo:${b.echo.version}`),
      from: "scratch",
      files: [{ src: b.echo.bins.echo!, dest: "/echo" }],
      instructions: ['ENTRYPOINT ["/echo"]'],
    },
  ];
}

/** docker build with a generated context: copies `files` in and writes a Dockerfile. */
export async function dockerBuild(work: string, ref: string, from: string, files: { src: string; dest: string }[], instructions: string[]): Promise<void> {
  aboutToBuild(ref);
  const ctx = await mkdtemp(path.join(work, "ctx-"));
  const lines = [`FROM ${from}`];
  for (const [i, f] of files.entries()) {
    const name = `f${i}`;
    await copyFile(f.src, path.join(ctx, name));
    await chmod(path.join(ctx, name), 0o755);
    lines.push(`COPY ${name} ${f.dest}`);
  }
  if (from !== "scratch") lines.push("ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
  lines.push(...instructions, `LABEL ${LABELS.builtBy}=aftershock`);
  await writeFile(path.join(ctx, "Dockerfile"), lines.join("\n") + "\n");
  await docker.run(["build", "-q", "-t", ref, ctx], { timeout: "10m" });
}

async function buildToolsImage(rootfs: string, work: string, progress: Progress): Promise<string> {
  const ref = `${rootfs}-auto`;
  if (await docker.imageExists(ref)) return ref;
  aboutToBuild(ref);
  await withStep(progress, "Tools image (iptables backend auto-selection)", "3m", () =>
    dockerBuild(
      work,
      ref,
      rootfs,
      [{ src: path.join(here, "tools", "iptables-auto"), dest: "/usr/local/sbin/iptables-auto" }],
      ["RUN for t in iptables iptables-save iptables-restore ip6tables ip6tables-save ip6tables-restore; do ln -sf iptables-auto /usr/local/sbin/$t; done"],
    ),
  );
  return ref;
}

async function buildPause(cacheDir: string, progress: Progress): Promise<string> {
  const src = path.join(here, "components", "pause", "pause.c");
  const hash = createHash("sha256").update(readFileSync(src)).digest("hex").slice(0, 12);
  const out = path.join(cacheDir, "pause", `pause-${hash}`);
  if (existsSync(out)) return out;
  aboutToBuild("pause");
  await mkdir(path.dirname(out), { recursive: true });
  await withStep(progress, "Building pause (static C)", "1m", () => run("gcc", ["-Os", "-static", "-s", "-o", out, src]));
  return out;
}

/**
 * mmdebstrap's arguments for a minbase rootfs with `packages`, written as a tarball `out` that docker import takes.
 * Root builds in a chroot (--mode=root); a user in the docker group in a user namespace (--mode=unshare, with
 * newuidmap and the user's /etc/subuid range), which writes files owned by root into the tarball all the same.
 * The hook drops apt's caches and lists, docs and man pages, as the image never needs them.
 */
export function mmdebstrapArgs(packages: string[], out: string, root: boolean): string[] {
  return [
    "--variant=minbase",
    `--mode=${root ? "root" : "unshare"}`,
    "--format=tar",
    `--include=${packages.join(",")}`,
    `--customize-hook=rm -rf "$1"/var/cache/apt/archives/*.deb "$1"/var/lib/apt/lists/* "$1"/usr/share/doc/* "$1"/usr/share/man/*`,
    PINNED.debianSuite,
    out,
    PINNED.debianMirror,
  ];
}

/** A Debian rootfs from mmdebstrap, imported as a Docker image; the image is the cache (same ref as before, keyed by packages). */
export async function ensureRootfs(name: string, packages: string[], cacheDir: string, progress: Progress): Promise<string> {
  const ref = `${PINNED.localRegistry}/rootfs-${name}:${PINNED.debianSuite}-${rootfsKey(packages)}`;
  if (await docker.imageExists(ref)) return ref;
  aboutToBuild(`rootfs ${ref}`);
  const root = hostFacts().user.root;
  await withStep(
    progress,
    `Debian ${PINNED.debianSuite} rootfs "${name}" with mmdebstrap --mode=${root ? "root" : "unshare"} (${packages.length} packages)`,
    "10m",
    async (s) => {
      await mkdir(cacheDir, { recursive: true });
      const dir = await mkdtemp(path.join(cacheDir, `rootfs-${name}-`));
      const tarball = path.join(dir, "rootfs.tar");
      try {
        await run("mmdebstrap", mmdebstrapArgs(packages, tarball, root), { timeout: "20m", onLine: (l) => s.detail(l) });
        await docker.run(["import", "--change", "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", tarball, ref], {
          timeout: "10m",
        });
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
  );
  return ref;
}

const PIN = "io.cri-containerd.pinned=pinned";
/** Precedes the listing in the script's output; ctr's import progress before it names the images too. */
const LISTING = "--- ctr images list ---";

/**
 * What runs in the build container: starts containerd, imports the saved component images into its k8s.io
 * namespace without unpacking (containerd unpacks on first use), gives each the name it has in the node and drops
 * its host-side name, and lists the result for {@link preloadProblems}. Pinned, so the kubelet's image garbage
 * collection never removes them.
 */
/** The component images that exist in the host's Docker only to be renamed in the node: removed once it is built. */
export function hostIntermediates(images: Pick<ComponentImage, "hostRef" | "nodeRef">[]): string[] {
  return images.filter((i) => i.hostRef !== i.nodeRef).map((i) => i.hostRef);
}

export function preloadScript(images: Pick<ComponentImage, "hostRef" | "nodeRef">[]): string {
  const ctr = "ctr --namespace=k8s.io images";
  const renamed = images.filter((i) => i.hostRef !== i.nodeRef);
  return [
    "set -eu",
    "(containerd >/tmp/containerd.log 2>&1 &)",
    "for i in $(seq 1 100); do [ -S /run/containerd/containerd.sock ] && break; sleep 0.1; done",
    "[ -S /run/containerd/containerd.sock ] || { cat /tmp/containerd.log >&2; echo 'containerd did not start within 10s' >&2; exit 1; }",
    `${ctr} import --label=${PIN} --all-platforms --no-unpack --digests /kind/images.tar >/dev/null`,
    ...renamed.map((i) => `${ctr} tag --force ${i.hostRef} ${i.nodeRef} >/dev/null`),
    ...(renamed.length ? [`${ctr} rm ${renamed.map((i) => i.hostRef).join(" ")} >/dev/null`] : []),
    // Every image pinned by name, whatever the import did: Debian's containerd 1.6 (the 1.27–1.30 line) leaves the
    // import's --label off (seen: v1.29.15's build failed its check with our own images unpinned), and containerd
    // 2's ctr tags through its transfer service, which does not copy the pin to the new name.
    ...images.map((i) => `${ctr} label ${i.nodeRef} ${PIN} >/dev/null`),
    `echo '${LISTING}'`,
    `${ctr} list`,
    "pkill containerd",
    "for i in $(seq 1 100); do pgrep containerd >/dev/null || break; sleep 0.1; done",
    "rm -f /kind/images.tar /tmp/containerd.log",
  ].join("\n");
}

/**
 * What is wrong with the node's containerd after {@link preloadScript}, from the `ctr images list` in its output
 * (REF first, LABELS last on each line): a node name missing or not pinned, or a host-side name left behind.
 */
export function preloadProblems(output: string, images: Pick<ComponentImage, "hostRef" | "nodeRef">[]): string[] {
  const at = output.indexOf(LISTING);
  if (at < 0) return [`no image listing in the output of the import: ${output.slice(-300)}`];
  const labelsOf = new Map(
    output
      .slice(at + LISTING.length)
      .split("\n")
      .map((l) => l.trim().split(/\s+/))
      .filter((t) => t.length > 1)
      .map((t) => [t[0]!, t.at(-1)!]),
  );
  const problems: string[] = [];
  for (const i of images) {
    const labels = labelsOf.get(i.nodeRef);
    if (labels === undefined) problems.push(`${i.nodeRef} is missing`);
    else if (!labels.split(",").includes(PIN)) problems.push(`${i.nodeRef} is not pinned`);
    if (i.hostRef !== i.nodeRef && labelsOf.has(i.hostRef)) problems.push(`${i.hostRef} is still there`);
  }
  return problems;
}

/** Runs {@link preloadScript} in a build container of the node image, checks the result and commits it. */
async function preload(nodeBase: string, imagesTar: string, ref: string, key: string, images: ComponentImage[]): Promise<void> {
  const name = `aftershock-build-${process.pid}-${Date.now()}`;
  await docker.run(["run", "-d", "--name", name, "--privileged", "--label", `${LABELS.managed}=build`, "--entrypoint", "sleep", nodeBase, "infinity"]);
  try {
    await docker.run(["cp", imagesTar, `${name}:/kind/images.tar`], { timeout: "5m" });
    const r = await docker.run(["exec", name, "bash", "-c", preloadScript(images)], { timeout: "10m" });
    const problems = preloadProblems(r.stdout, images);
    if (problems.length) throw new AftershockError("E_BUILD", `the node image's containerd is not as it should be after the import: ${problems.join("; ")}`);
    await docker.run(
      [
        "commit",
        "--change",
        'ENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]',
        "--change",
        "CMD []",
        "--change",
        `LABEL aftershock.build-key=${key}`,
        "--change",
        `LABEL aftershock.preloaded=${images.map((i) => i.nodeRef).join(",")}`,
        name,
        ref,
      ],
      { timeout: "10m" },
    );
  } finally {
    await docker.run(["rm", "-f", "-v", name], { allowFailure: true });
  }
}
