import type { VersionProfile } from "../versions.js";

/**
 * /etc/containerd/config.toml of a node: the same settings in the format of the node's containerd (version 2 for
 * Debian's containerd 1.6, version 3 for containerd 2.x, whose CRI plugin is split into images and runtime).
 */
export function containerdConfig(profile: VersionProfile, pauseRef: string): string {
  const common = {
    // Our own pause image is preloaded and pinned; the tag is the one kubeadm asks for. From kubelet 1.35 the
    // runtime alone names it (--pod-infra-container-image is gone), so it must be right here.
    sandbox: pauseRef,
  };
  if (profile.containerdConfigVersion === 2) {
    return `# containerd configuration for Aftershock nodes (config format v2, containerd 1.6).
version = 2

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${common.sandbox}"
  # cgroup v1 hosts often lack the hugetlb controller inside containers.
  tolerate_missing_hugepages_controller = true
  # The entrypoint turns this on where the host withholds CAP_SYS_RESOURCE.
  restrict_oom_score_adj = false

[plugins."io.containerd.grpc.v1.cri".containerd]
  snapshotter = "overlayfs"
  default_runtime_name = "runc"
  # Images are imported without unpacking; keep the layers so they can be unpacked on first use.
  discard_unpacked_layers = false

[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"

[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
  SystemdCgroup = true

# Per-registry settings (e.g. a plain-HTTP registry a cluster is told to trust: pnpm cluster create
# --insecure-registry) live in /etc/containerd/certs.d/<host:port>/hosts.toml.
[plugins."io.containerd.grpc.v1.cri".registry]
  config_path = "/etc/containerd/certs.d"
`;
  }
  return `# containerd configuration for Aftershock nodes (config format v3, containerd 2.x).
version = 3

[plugins."io.containerd.cri.v1.images"]
  snapshotter = "overlayfs"
  # Images are imported without unpacking; keep the layers so they can be unpacked on first use.
  discard_unpacked_layers = false

[plugins."io.containerd.cri.v1.images".pinned_images]
  sandbox = "${common.sandbox}"

# Per-registry settings (e.g. a plain-HTTP registry a cluster is told to trust: pnpm cluster create
# --insecure-registry) live in /etc/containerd/certs.d/<host:port>/hosts.toml.
[plugins."io.containerd.cri.v1.images".registry]
  config_path = "/etc/containerd/certs.d"

[plugins."io.containerd.cri.v1.runtime"]
  # cgroup v1 hosts often lack the hugetlb controller inside containers.
  tolerate_missing_hugetlb_controller = true
  # The entrypoint turns this on where the host withholds CAP_SYS_RESOURCE.
  restrict_oom_score_adj = false

[plugins."io.containerd.cri.v1.runtime".containerd]
  default_runtime_name = "runc"

[plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"

[plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc.options]
  SystemdCgroup = true
`;
}
