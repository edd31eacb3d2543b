import type { NodeHandle, NodeRole } from "../contract.js";
import { docker } from "../docker.js";
import { AftershockError, CommandError, type Duration } from "../errors.js";
import { run, type RunOptions } from "../exec.js";
import { checkRegistryAddress } from "../input-checks.js";
import { LABELS } from "../labels.js";
import { pollUntil } from "../wait.js";
import type { Cluster } from "./types.js";

/** Node containers: how they are reached, made Ready, told to trust a registry, and replaced when lost. */

export interface ContainerInspect {
  Config: { Image: string; Labels: Record<string, string> | null; Env: string[] | null; Tty: boolean };
  HostConfig: {
    Privileged: boolean;
    SecurityOpt: string[] | null;
    Tmpfs: Record<string, string> | null;
    Binds: string[] | null;
    RestartPolicy: { Name: string; MaximumRetryCount: number };
    CgroupnsMode?: string;
    PortBindings: Record<string, { HostIp: string; HostPort: string }[]> | null;
  };
  Mounts: { Type: string; Destination: string }[];
  NetworkSettings: { Networks: Record<string, unknown> };
}

/** `docker run` arguments for a node named `name`, copied from a sibling node (as kind's docker provider creates nodes). */
export function kindNodeRunArgs(sibling: ContainerInspect, name: string, runId: string): string[] {
  const labels = sibling.Config.Labels ?? {};
  if (labels[LABELS.run] !== runId) throw new AftershockError("E_UNSAFE_TARGET", `template node is not part of run ${runId}`);
  const networks = Object.keys(sibling.NetworkSettings.Networks);
  if (networks.length !== 1) throw new AftershockError("E_CLUSTER", `template node is on ${networks.length} networks, expected 1`);
  const h = sibling.HostConfig;
  const args = ["--detach", "--hostname", name, "--name", name, "--network", networks[0]!];
  if (sibling.Config.Tty) args.push("--tty");
  if (h.Privileged) args.push("--privileged");
  for (const o of h.SecurityOpt ?? []) if (!o.startsWith("label=")) args.push("--security-opt", o);
  for (const dir of Object.keys(h.Tmpfs ?? {})) args.push("--tmpfs", dir);
  for (const b of h.Binds ?? []) args.push("--volume", b);
  if (sibling.Mounts.some((m) => m.Type === "volume" && m.Destination === "/var")) {
    args.push("--mount", `type=volume,dst=/var,volume-label=${LABELS.run}=${runId},volume-label=${LABELS.managed}=cluster`);
  }
  if (h.RestartPolicy.Name && h.RestartPolicy.Name !== "no") {
    args.push("--restart", h.RestartPolicy.Name === "on-failure" ? `on-failure:${h.RestartPolicy.MaximumRetryCount}` : h.RestartPolicy.Name);
  }
  if (h.CgroupnsMode) args.push(`--cgroupns=${h.CgroupnsMode}`);
  for (const [port, binds] of Object.entries(h.PortBindings ?? {})) {
    const container = port.replace(/\/tcp$/, "");
    for (const b of binds) args.push("--publish", b.HostIp ? `${b.HostIp}::${container}` : container);
  }
  for (const e of sibling.Config.Env ?? []) if (!e.startsWith("PATH=")) args.push("--env", e);
  for (const [k, v] of Object.entries(labels)) args.push("--label", `${k}=${v}`);
  args.push(sibling.Config.Image);
  return args;
}

export function nodeHandle(name: string, role: NodeRole): NodeHandle {
  const exec = (argv: string[], opts: RunOptions = {}) =>
    run("docker", ["exec", ...(opts.input !== undefined ? ["-i"] : []), name, ...argv], { timeout: "2m", ...opts });
  return {
    name,
    role,
    exec,
    sh: (script, opts) => exec(["bash", "-c", script], opts),
    // A person's shell reaches the node container as this process does: docker exec, -it for a terminal, -i for piped input.
    shellCommand: (mode) => ({ argv: ["docker", "exec", ...({ tty: ["-it"], stdin: ["-i"], none: [] } as const)[mode], name], words: "argv" }),
  };
}

/**
 * Tells every node's containerd that `registry` speaks plain HTTP (containerd reads
 * /etc/containerd/certs.d/<host:port>/hosts.toml on each pull; no restart).
 */
export async function trustRegistry(nodes: readonly NodeHandle[], registry: string): Promise<void> {
  checkRegistryAddress(registry, "an insecure registry");
  const toml = `server = "http://${registry}"\n\n[host."http://${registry}"]\n  capabilities = ["pull", "resolve"]\n`;
  for (const n of nodes) {
    await n.exec(["mkdir", "-p", `/etc/containerd/certs.d/${registry}`]);
    await n.exec(["tee", `/etc/containerd/certs.d/${registry}/hosts.toml`], { input: toml });
  }
}

interface NodeList {
  items: { metadata: { name: string }; status?: { conditions?: { type: string; status: string; message?: string }[] } }[];
}

/** Polls until every node container is a Ready Node; the timeout names what was still not Ready. */
export async function waitNodesReady(cluster: Cluster, budget: Duration): Promise<void> {
  await pollUntil("nodes did not become Ready", budget, "2s", async () => {
    try {
      const r = await cluster.kubectl(["get", "nodes", "-o", "json"], { timeout: "20s" });
      const list = JSON.parse(r.stdout) as NodeList;
      const notReady = cluster.nodes.filter((n) => {
        const item = list.items.find((i) => i.metadata.name === n.name);
        return item?.status?.conditions?.find((c) => c.type === "Ready")?.status !== "True";
      });
      return { ok: !notReady.length, seen: `not Ready: ${notReady.map((n) => n.name).join(", ")}` };
    } catch (e) {
      return { ok: false, seen: e instanceof CommandError ? (e.stderrTail.trim().split("\n").pop() ?? e.message) : String(e) };
    }
  });
}

/**
 * Reboots a node's machine: `docker stop` (systemd shuts the node down), `docker start`, then waits until systemd
 * inside has booted. Docker may hand the node another address; the node's entrypoint then rewrites the files that
 * hold the old one (kubeadm-flags.env's --node-ip, manifests, kubeconfigs). Returns the address before and after.
 */
export async function rebootNode(node: NodeHandle, budget: Duration = "3m"): Promise<{ before: string; after: string }> {
  const address = async () => (await docker.run(["inspect", "--format", "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}", node.name])).stdout.trim();
  const before = await address();
  await docker.run(["stop", "--time", "30", node.name], { timeout: "1m" });
  await docker.run(["start", node.name], { timeout: "1m" });
  await pollUntil(`node ${node.name}: systemd did not finish booting`, budget, "1s", async () => {
    const s = await node.exec(["systemctl", "is-system-running"], { allowFailure: true, timeout: "10s" });
    const state = s.stdout.trim();
    // "degraded": booted, with a unit failed (a kubelet that cannot reach its runtime is one).
    return { ok: state === "running" || state === "degraded", seen: state || s.stderr.trim() };
  });
  return { before, after: await address() };
}

/**
 * Creates a node container the way kind does, copying image, labels, network, environment and security
 * options from a sibling of the same role, then waits for systemd and containerd inside it.
 */
export async function provisionNode(cluster: string, runId: string, lost: NodeHandle, nodes: readonly NodeHandle[]): Promise<NodeHandle> {
  if ((await docker.run(["inspect", lost.name], { allowFailure: true })).exitCode === 0) {
    throw new AftershockError("E_CLUSTER", `node ${lost.name} still exists; destroy it before provisioning a replacement`);
  }
  let template: string | undefined;
  for (const n of nodes.filter((x) => x.role === lost.role && x.name !== lost.name)) {
    const r = await docker.run(["inspect", "--format", "{{json .}}", n.name], { allowFailure: true });
    if (r.exitCode === 0) {
      template = r.stdout;
      break;
    }
  }
  if (!template) throw new AftershockError("E_CLUSTER", `no surviving ${lost.role} node in ${cluster} to copy a machine from`);
  const args = kindNodeRunArgs(JSON.parse(template) as ContainerInspect, lost.name, runId);
  await docker.run(["run", ...args], { timeout: "1m" });
  const fresh = nodeHandle(lost.name, lost.role);
  await pollUntil(`fresh node ${lost.name}: containerd not ready`, "2m", "1s", async () => {
    const r = await fresh.sh("systemctl is-active containerd && crictl --timeout 5s info >/dev/null && ctr -n k8s.io images ls -q | grep -c pause", {
      allowFailure: true,
      timeout: "20s",
    });
    return { ok: r.exitCode === 0, seen: (r.stderr || r.stdout).trim().split("\n").pop() ?? "" };
  });
  return fresh;
}
