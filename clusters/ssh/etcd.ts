import type { NodeHandle } from "../contract.js";
import { AftershockError } from "../errors.js";
import { quote } from "../exec.js";

/**
 * etcd on a kubeadm control-plane node, reached through the node shell (never the API, which may be what is broken):
 * etcdctl on the node when it has one, else inside the etcd container (crictl exec), with kubeadm's certificates
 * under /etc/kubernetes/pki/etcd, which the etcd static pod mounts at the same path.
 */

export const KUBEADM_ETCD_TLS = [
  "--cacert=/etc/kubernetes/pki/etcd/ca.crt",
  "--cert=/etc/kubernetes/pki/etcd/healthcheck-client.crt",
  "--key=/etc/kubernetes/pki/etcd/healthcheck-client.key",
];

/** A node script running `etcdctl <args>` against the local member, on the node or in its etcd container. */
export function etcdctlScript(args: string[], timeoutS = 10): string {
  const words = [...KUBEADM_ETCD_TLS, `--command-timeout=${timeoutS}s`, "--endpoints=https://127.0.0.1:2379", ...args].map(quote).join(" ");
  return `if command -v etcdctl >/dev/null 2>&1; then
  ETCDCTL_API=3 etcdctl ${words}
else
  cid=$(crictl ps --name '^etcd$' --state running -q | head -n 1)
  if [ -z "$cid" ]; then echo "no running etcd container on $(hostname) (crictl ps --name etcd)" >&2; exit 3; fi
  crictl exec "$cid" etcdctl ${words}
fi`;
}

export interface EndpointHealth {
  endpoint: string;
  healthy: boolean;
  error?: string;
}

/** `etcdctl endpoint health --cluster -w json`: one entry per member's client URL. */
export function parseEndpointHealth(stdout: string): EndpointHealth[] {
  const start = stdout.indexOf("[");
  if (start < 0) throw new AftershockError("E_CLUSTER", `etcdctl endpoint health gave no JSON: ${stdout.trim().split("\n").pop() ?? ""}`);
  let list: unknown;
  try {
    list = JSON.parse(stdout.slice(start));
  } catch {
    throw new AftershockError("E_CLUSTER", `etcdctl endpoint health gave unreadable JSON: ${stdout.slice(start, start + 120)}`);
  }
  if (!Array.isArray(list)) throw new AftershockError("E_CLUSTER", "etcdctl endpoint health: expected a JSON list");
  return list.map((e: { endpoint?: string; health?: boolean; error?: string }) => ({
    endpoint: String(e.endpoint ?? "?"),
    healthy: e.health === true,
    ...(e.error ? { error: String(e.error) } : {}),
  }));
}

/** Every member's health, asked from `node` (a control plane). An answer that cannot be read is an error with stderr's last line. */
export async function etcdHealth(node: NodeHandle): Promise<EndpointHealth[]> {
  // Exits non-zero when a member is unhealthy, and still prints the list: read it either way.
  const r = await node.sh(etcdctlScript(["endpoint", "health", "--cluster", "-w", "json"]), { allowFailure: true, timeoutMs: 60_000 });
  if (!r.stdout.includes("["))
    throw new AftershockError("E_PREFLIGHT", `etcd on ${node.name} did not answer: ${(r.stderr || r.stdout).trim().split("\n").pop() || `exit ${r.exitCode}`}`);
  return parseEndpointHealth(r.stdout);
}

export const SNAPSHOT_DIR = "/var/lib/aftershock/snapshots";

/**
 * The script that saves an etcd snapshot to /var/lib/aftershock/snapshots/<run>.db on the node and prints its path
 * and size. In the container the snapshot is written into the data dir (/var/lib/etcd, mounted from the node by
 * kubeadm) and moved out on the node, so it never stays in etcd's own directory.
 */
export function snapshotScript(runId: string): string {
  if (!/^[a-z0-9-]+$/.test(runId)) throw new AftershockError("E_BAD_INPUT", `run id must be kebab-case for a file name: ${runId}`);
  const file = `${SNAPSHOT_DIR}/${runId}.db`;
  const tls = [...KUBEADM_ETCD_TLS, "--command-timeout=60s", "--endpoints=https://127.0.0.1:2379"].join(" ");
  return `set -eu
mkdir -p ${SNAPSHOT_DIR}
chmod 700 ${SNAPSHOT_DIR}
if command -v etcdctl >/dev/null 2>&1; then
  ETCDCTL_API=3 etcdctl ${tls} snapshot save ${file}.part >/dev/null
else
  cid=$(crictl ps --name '^etcd$' --state running -q | head -n 1)
  if [ -z "$cid" ]; then echo "no running etcd container on $(hostname)" >&2; exit 3; fi
  crictl exec "$cid" etcdctl ${tls} snapshot save /var/lib/etcd/aftershock-${runId}.db.part >/dev/null
  mv /var/lib/etcd/aftershock-${runId}.db.part ${file}.part
fi
mv ${file}.part ${file}
echo "${file} $(stat -c %s ${file}) bytes on $(hostname)"
`;
}

/** Takes the snapshot on `node`; returns the line for the journal (path, size, node). */
export async function etcdSnapshotOnNode(node: NodeHandle, runId: string): Promise<string> {
  const r = await node.sh(snapshotScript(runId), { timeoutMs: 3 * 60_000 });
  return r.stdout.trim().split("\n").pop() ?? "";
}
