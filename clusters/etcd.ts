import type { NodeHandle } from "./contract.js";
import { AftershockError } from "./errors.js";
import { quote } from "./exec.js";

/**
 * etcd on a kubeadm control-plane node, reached through the node shell (never the API, which may be what is broken),
 * with nothing but what a kind node image offers (clusters/kind/node-contract.ts: no etcdctl, no etcdutl):
 * - etcdctl is the etcd container's own (crictl exec; upstream's etcd image is distroless, so it is run directly,
 *   never through a shell in it), with kubeadm's certificates under /etc/kubernetes/pki/etcd, which the etcd static
 *   pod mounts at the same path, against the member on this node;
 * - etcdutl, which works on files, also while etcd is down, is copied for the run from the node's own etcd image
 *   (ctr images mount) to /opt/aftershock/bin: upstream's registry.k8s.io/etcd and Aftershock's own etcd image
 *   both have /usr/local/bin/etcd, etcdctl and etcdutl, statically linked.
 * Both are bash functions of those names put at the top of a node script, so the script reads as a runbook does.
 */

export const KUBEADM_ETCD_TLS = [
  "--cacert=/etc/kubernetes/pki/etcd/ca.crt",
  "--cert=/etc/kubernetes/pki/etcd/healthcheck-client.crt",
  "--key=/etc/kubernetes/pki/etcd/healthcheck-client.key",
];

/** How a runbook shows etcdctl to a person on a node: the etcd container's, through crictl. */
export const ETCDCTL_SHOWN = "crictl exec <etcd container> etcdctl";

/** The bash function `etcdctl`: etcdctl of the running etcd container, with kubeadm's certificates, against this node's member. */
export function etcdctlFunction(timeoutS = 10): string {
  const flags = [...KUBEADM_ETCD_TLS, `--command-timeout=${timeoutS}s`, "--endpoints=https://127.0.0.1:2379"].join(" ");
  return `etcdctl() {
  local cid
  cid=$(crictl ps --name '^etcd$' --state running -q | head -n 1)
  if [ -z "$cid" ]; then echo "no running etcd container on $(hostname) (crictl ps --name etcd)" >&2; return 3; fi
  crictl exec "$cid" etcdctl ${flags} "$@"
}`;
}

/** A node script running `etcdctl <args>` in the etcd container against the local member. */
export function etcdctlScript(args: string[], timeoutS = 10): string {
  return `${etcdctlFunction(timeoutS)}\netcdctl ${args.map(quote).join(" ")}`;
}

/** Where a run keeps the binaries it copies onto a node (clusters/kind/node-contract.ts RUN_OWNED_DIRS). */
export const RUN_BIN = "/opt/aftershock/bin";
/** etcdutl, once copied from the node's etcd image. */
export const ETCDUTL = `${RUN_BIN}/etcdutl`;

/**
 * The bash function `etcdutl`: the etcd image's etcdutl, copied to /opt/aftershock/bin the first time (the image
 * is the one /etc/kubernetes/manifests/etcd.yaml names; ctr mounts it read-only, and the mount's lease goes with it).
 */
export function etcdutlFunction(): string {
  return `etcdutl() {
  if [ ! -x ${ETCDUTL} ]; then
    local image dir ok=
    image=$(sed -n 's/^ *image: *//p' /etc/kubernetes/manifests/etcd.yaml | head -n 1 | tr -d "\\"'")
    if [ -z "$image" ]; then echo "no etcd image named in /etc/kubernetes/manifests/etcd.yaml on $(hostname)" >&2; return 3; fi
    mkdir -p ${RUN_BIN}
    dir=$(mktemp -d /opt/aftershock/etcd-image.XXXXXX)
    ctr -n k8s.io images mount "$image" "$dir" >/dev/null
    cp "$dir/usr/local/bin/etcdutl" ${ETCDUTL}.part && ok=1
    ctr -n k8s.io images unmount "$dir" >/dev/null
    ctr -n k8s.io leases delete "$dir" >/dev/null 2>&1 || true
    rmdir "$dir"
    if [ -z "$ok" ]; then echo "no /usr/local/bin/etcdutl in $image" >&2; return 3; fi
    mv ${ETCDUTL}.part ${ETCDUTL}
  fi
  ${ETCDUTL} "$@"
}`;
}

/** How a runbook shows where etcdutl comes from (one line, for plans and reports). */
export const ETCDUTL_FETCH_SHOWN =
  "ctr -n k8s.io images mount <etcd image of /etc/kubernetes/manifests/etcd.yaml> /opt/aftershock/etcd-image && cp /opt/aftershock/etcd-image/usr/local/bin/etcdutl /opt/aftershock/bin/ && ctr -n k8s.io images unmount /opt/aftershock/etcd-image   # no etcdutl on the node: the etcd image's";

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
  const r = await node.sh(etcdctlScript(["endpoint", "health", "--cluster", "-w", "json"]), { allowFailure: true, timeout: "1m" });
  if (!r.stdout.includes("["))
    throw new AftershockError("E_PREFLIGHT", `etcd on ${node.name} did not answer: ${(r.stderr || r.stdout).trim().split("\n").pop() || `exit ${r.exitCode}`}`);
  return parseEndpointHealth(r.stdout);
}

export const SNAPSHOT_DIR = "/var/lib/aftershock/snapshots";

/**
 * Script lines that save an etcd snapshot to `file` on the node (with the etcdctl function defined before them). The
 * etcd container writes it into its data dir (/var/lib/etcd, mounted from the node by kubeadm) and it is moved out on
 * the node, so it never stays in etcd's own directory. Prints etcdctl's last line.
 */
export function saveSnapshotLines(file: string, name: string): string {
  if (!/^[a-z0-9-]+$/.test(name)) throw new AftershockError("E_BAD_INPUT", `snapshot name must be kebab-case for a file name: ${name}`);
  const inEtcd = `/var/lib/etcd/aftershock-${name}.db.part`;
  return `mkdir -p "$(dirname ${quote(file)})"
etcdctl snapshot save ${inEtcd} 2>&1 | tail -n 1
mv ${inEtcd} ${quote(`${file}.part`)}
mv ${quote(`${file}.part`)} ${quote(file)}`;
}

/**
 * The script that saves an etcd snapshot to /var/lib/aftershock/snapshots/<run>.db on the node and prints its path
 * and size.
 */
export function snapshotScript(runId: string): string {
  if (!/^[a-z0-9-]+$/.test(runId)) throw new AftershockError("E_BAD_INPUT", `run id must be kebab-case for a file name: ${runId}`);
  const file = `${SNAPSHOT_DIR}/${runId}.db`;
  return `set -euo pipefail
${etcdctlFunction(60)}
mkdir -p ${SNAPSHOT_DIR}
chmod 700 ${SNAPSHOT_DIR}
${saveSnapshotLines(file, runId)}
echo "${file} $(stat -c %s ${file}) bytes on $(hostname)"
`;
}

/** Takes the snapshot on `node`; returns the line for the journal (path, size, node). */
export async function etcdSnapshotOnNode(node: NodeHandle, runId: string): Promise<string> {
  const r = await node.sh(snapshotScript(runId), { timeout: "3m" });
  return r.stdout.trim().split("\n").pop() ?? "";
}
