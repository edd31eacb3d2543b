import { describe, expect, it } from "vitest";
import { componentImages, hostIntermediates, preloadProblems, preloadScript } from "../../clusters/images/builder.js";
import type { BuiltComponent } from "../../clusters/images/go-build.js";
import { formerUpstreamNames } from "../../clusters/kind/gc.js";
import { loadBalancerAlias } from "../../clusters/kind/provider.js";
import { localAlias, PINNED, profileFor } from "../../clusters/versions.js";

/** Issue 30 item 5: what Aftershock builds carries its own names in the host's Docker; upstream names live in the nodes. */
const ours = (ref: string) => ref.startsWith(`${PINNED.localRegistry}/`);
const upstreamLooking = (ref: string) => /registry\.k8s\.io\/|docker\.io\//.test(ref);

function built(name: string, bins: string[]): BuiltComponent {
  return { name, version: "v9", binDir: "/b", bins: Object.fromEntries(bins.map((b) => [b, `/b/${b}`])), cached: true, toolchain: "go" };
}

const images = componentImages({
  version: "v1.37.2",
  etcdTag: "3.7.0-0",
  corednsTag: "v1.12.4",
  pauseTag: "3.10.1",
  kube: built("kubernetes", ["kube-apiserver", "kube-controller-manager", "kube-scheduler", "kube-proxy"]),
  etcd: built("etcd", ["etcd", "etcdctl", "etcdutl"]),
  coredns: built("coredns", ["coredns"]),
  localPath: built("local-path", ["local-path-provisioner"]),
  netd: built("netd", ["aftershock-netd"]),
  echo: built("echo", ["echo"]),
  pause: "/b/pause",
});

describe("component images: our names on the host, upstream names in the node", () => {
  it("builds every component image under the local registry, none under a name that looks upstream", () => {
    expect(images.length).toBeGreaterThan(0);
    for (const i of images) {
      expect(ours(i.hostRef), i.hostRef).toBe(true);
      expect(upstreamLooking(i.hostRef), i.hostRef).toBe(false);
    }
  });

  it("keeps the names kubeadm and the kubelet ask for inside the node", () => {
    expect(images.map((i) => i.nodeRef)).toEqual(
      expect.arrayContaining([
        "registry.k8s.io/kube-apiserver:v1.37.2",
        "registry.k8s.io/kube-proxy:v1.37.2",
        "registry.k8s.io/etcd:3.7.0-0",
        "registry.k8s.io/coredns/coredns:v1.12.4",
        "registry.k8s.io/pause:3.10.1",
        `${PINNED.localRegistry}/echo:v9`,
      ]),
    );
    expect(images.find((i) => i.nodeRef === "registry.k8s.io/coredns/coredns:v1.12.4")!.hostRef).toBe(`${PINNED.localRegistry}/k8s/coredns:v1.12.4`);
  });

  it("renames each upstream image in the node's containerd, pins it, and drops the host name there", () => {
    const script = preloadScript(images);
    const ctr = "ctr --namespace=k8s.io images";
    expect(script).toContain(`${ctr} tag --force ${PINNED.localRegistry}/k8s/pause:3.10.1 registry.k8s.io/pause:3.10.1`);
    expect(script).toContain(`${ctr} label registry.k8s.io/pause:3.10.1 io.cri-containerd.pinned=pinned`);
    const rm = script.split("\n").find((l) => l.startsWith(`${ctr} rm `))!;
    expect(rm).toContain(`${PINNED.localRegistry}/k8s/kube-apiserver:v1.37.2`);
    expect(rm).not.toContain(`${PINNED.localRegistry}/echo:v9`); // the same name in both places: nothing to rename
    expect(script.indexOf(`${ctr} import`)).toBeLessThan(script.indexOf(`${ctr} tag`));
    // Every image pinned by an explicit label, ours too: containerd 1.6's import leaves its --label off.
    for (const i of images) expect(script).toContain(`${ctr} label ${i.nodeRef} io.cri-containerd.pinned=pinned`);
    expect(script).toContain(`${ctr} label ${PINNED.localRegistry}/echo:v9 io.cri-containerd.pinned=pinned`);
  });

  it("removes from the host only the renamed intermediates, keeping images that are used by our own name (echo for examples/shop)", () => {
    const gone = hostIntermediates(images);
    expect(gone.length).toBeGreaterThan(0);
    for (const ref of gone) expect(ref.startsWith(`${PINNED.localRegistry}/k8s/`), ref).toBe(true);
    const echo = images.find((i) => i.hostRef.startsWith(`${PINNED.localRegistry}/echo:`))!.hostRef;
    expect(gone).not.toContain(echo);
  });

  it("checks the node's containerd after the import: every node name there and pinned, no host name left", () => {
    const two = [
      { hostRef: "aftershock.local/k8s/pause:3.10.1", nodeRef: "registry.k8s.io/pause:3.10.1" },
      { hostRef: "aftershock.local/echo:v1", nodeRef: "aftershock.local/echo:v1" },
    ];
    const line = (ref: string, labels: string) => `${ref}  application/vnd.oci.image.index.v1+json  sha256:ab  312.5 KiB  linux/amd64  ${labels}`;
    // What ctr's import prints before the listing names the host names too: only the listing counts.
    const header = ["aftershock.local/k8s/pause:3.10.1    \tsaved\t", "--- ctr images list ---", "REF TYPE DIGEST SIZE PLATFORMS LABELS"].join("\n");
    const pinned = "io.cri-containerd.pinned=pinned";
    expect(preloadProblems([header, line(two[0]!.nodeRef, pinned), line(two[1]!.nodeRef, pinned)].join("\n"), two)).toEqual([]);
    expect(preloadProblems([header, line(two[0]!.hostRef, pinned), line(two[1]!.nodeRef, pinned)].join("\n"), two)).toEqual([
      "registry.k8s.io/pause:3.10.1 is missing",
      "aftershock.local/k8s/pause:3.10.1 is still there",
    ]);
    expect(preloadProblems([header, line(two[0]!.nodeRef, "-"), line(two[1]!.nodeRef, `a=b,${pinned}`)].join("\n"), two)).toEqual([
      "registry.k8s.io/pause:3.10.1 is not pinned",
    ]);
    expect(preloadProblems("ctr: failed", two)[0]).toMatch(/^no image listing/);
  });
});

describe("kind's load balancer image", () => {
  it("is built under our name; kind's compiled-in name is only what the wrapper replaces", () => {
    for (const v of ["v1.29.15", "v1.37.2"]) {
      const lb = profileFor(v)!.loadBalancer;
      expect(ours(lb.localImage) && !upstreamLooking(lb.localImage), lb.localImage).toBe(true);
      expect(upstreamLooking(lb.kindName), lb.kindName).toBe(true);
    }
    expect(profileFor("v1.37.2")!.loadBalancer.localImage).toBe(`${PINNED.localRegistry}/kind-lb/envoy:v1.36.2`);
    expect(localAlias("k8s", "registry.k8s.io/etcd:3.5.16-0")).toBe(`${PINNED.localRegistry}/k8s/etcd:3.5.16-0`);
  });

  it("is put in kind's place for clusters with several control planes when ours is built, else kind's own is used", () => {
    expect(loadBalancerAlias({ controlPlanes: 3, kubernetesVersion: "v1.37.2" }, true)).toBe(
      `docker.io/envoyproxy/envoy:v1.36.2=${PINNED.localRegistry}/kind-lb/envoy:v1.36.2`,
    );
    expect(loadBalancerAlias({ controlPlanes: 3, kubernetesVersion: "v1.29.15" }, true)).toBe(
      `docker.io/kindest/haproxy:v20230606-42a2262b=${PINNED.localRegistry}/kind-lb/haproxy:v20230606-42a2262b`,
    );
    expect(loadBalancerAlias({ controlPlanes: 3, kubernetesVersion: "v1.37.2" }, false)).toBeUndefined();
    expect(loadBalancerAlias({ controlPlanes: 1, kubernetesVersion: "v1.37.2" }, true)).toBeUndefined();
  });
});

describe("pnpm gc and the names earlier versions tagged", () => {
  it("removes only the upstream names our labelled images had, never our own names or a user's derived image", () => {
    expect(
      formerUpstreamNames([
        "registry.k8s.io/kube-apiserver:v1.37.2",
        "registry.k8s.io/coredns/coredns:v1.12.4",
        "envoyproxy/envoy:v1.36.2",
        "kindest/haproxy:v20230606-42a2262b",
        "aftershock.local/kind-lb/envoy:v1.36.2",
        "aftershock.local/node:v1.37.2",
        "me/my-apiserver:dev",
        "envoyproxy/envoy:v1.30.0",
      ]),
    ).toEqual([
      "registry.k8s.io/kube-apiserver:v1.37.2",
      "registry.k8s.io/coredns/coredns:v1.12.4",
      "envoyproxy/envoy:v1.36.2",
      "kindest/haproxy:v20230606-42a2262b",
    ]);
  });
});
