import { existsSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parse } from "yaml";
import type { NodeRole } from "../contract.js";
import { AftershockError } from "../errors.js";
import { CONTROL_PLANE_ROLE } from "../labels.js";

/**
 * --nodes inventory.yaml: how each machine of a cluster this tool did not create is reached over ssh. Read and
 * checked (fields, key files, duplicates) before anything is created or changed, then checked against the
 * cluster's Node objects. Example:
 *
 *   nodes:
 *     cp-1:      { address: 10.0.0.11, user: ubuntu, key: ~/.ssh/aftershock, sudo: true }
 *     worker-1:  { address: "10.0.0.21:2222", user: root, key: ./keys/worker }
 */

export interface InventoryNode {
  /** The Node's name in Kubernetes. */
  name: string;
  host: string;
  port: number;
  user: string;
  /** Absolute path of the private key. */
  key: string;
  /** Commands run as `sudo -n …` (a user that is not root, with passwordless sudo). */
  sudo: boolean;
}

export interface Inventory {
  file: string;
  nodes: InventoryNode[];
}

const NODE_FIELDS = ["address", "user", "key", "sudo", "port"] as const;
/** A Kubernetes node name (DNS-1123 subdomain). */
const NAME_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const HOST_RE = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?)(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/i;
const USER_RE = /^[a-z_][a-z0-9_.-]*\$?$/i;

/** host, host:port, [v6], [v6]:port → host and port (undefined when not given). */
export function parseAddress(address: string): { host: string; port?: number } | undefined {
  const v6 = /^\[([0-9a-f:.]+)\](?::(\d+))?$/i.exec(address);
  if (v6) return { host: v6[1]!, ...(v6[2] ? { port: Number(v6[2]) } : {}) };
  const m = /^([^:\s]+)(?::(\d+))?$/.exec(address);
  if (!m || !HOST_RE.test(m[1]!)) return undefined;
  return { host: m[1]!, ...(m[2] ? { port: Number(m[2]) } : {}) };
}

export interface InventoryFs {
  exists(file: string): boolean;
  home: string;
}

const realFs: InventoryFs = { exists: existsSync, home: os.homedir() };

/**
 * Parses an inventory's text: every problem is a one-line E_BAD_INPUT naming the file, the node and the field.
 * Key paths are relative to the inventory's directory (~ is the home directory), and must exist.
 */
export function parseInventory(text: string, file: string, fs: InventoryFs = realFs): Inventory {
  const bad = (what: string) => new AftershockError("E_BAD_INPUT", `--nodes ${file}: ${what}`);
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (e) {
    throw bad(`not YAML: ${(e as Error).message.split("\n")[0]}`);
  }
  if (!doc || typeof doc !== "object" || Array.isArray(doc)) throw bad("expected a mapping with `nodes:`");
  const unknownTop = Object.keys(doc).filter((k) => k !== "nodes");
  if (unknownTop.length) throw bad(`unknown field "${unknownTop[0]}" (only "nodes" is read)`);
  const raw = (doc as { nodes?: unknown }).nodes;
  if (!raw || typeof raw !== "object" || Array.isArray(raw) || !Object.keys(raw).length)
    throw bad("`nodes:` must map each node's name to { address, user, key }");
  const nodes: InventoryNode[] = [];
  const seen = new Map<string, string>();
  for (const [name, v] of Object.entries(raw as Record<string, unknown>)) {
    const at = (field: string, why: string) => bad(`node ${name}: ${field} ${why}`);
    if (!NAME_RE.test(name)) throw bad(`node "${name}": not a Kubernetes node name`);
    if (!v || typeof v !== "object" || Array.isArray(v)) throw at("entry", "must be a mapping of address, user, key");
    const e = v as Record<string, unknown>;
    const unknown = Object.keys(e).filter((k) => !(NODE_FIELDS as readonly string[]).includes(k));
    if (unknown.length) throw at(`unknown field "${unknown[0]}"`, `(known: ${NODE_FIELDS.join(", ")})`);
    for (const f of ["address", "user", "key"] as const) if (typeof e[f] !== "string" || !(e[f] as string).trim()) throw at(f, "is required (a string)");
    const addr = parseAddress(e.address as string);
    if (!addr) throw at("address", `is not host or host:port: "${String(e.address)}"`);
    if (e.port !== undefined && !(Number.isInteger(e.port) && (e.port as number) >= 1 && (e.port as number) <= 65535))
      throw at("port", `must be a whole number from 1 to 65535, got ${JSON.stringify(e.port)}`);
    if (e.port !== undefined && addr.port !== undefined && e.port !== addr.port)
      throw at("port", `${String(e.port)} contradicts the address's port ${addr.port}`);
    const port = addr.port ?? (e.port as number | undefined) ?? 22;
    if (port < 1 || port > 65535) throw at("address", `has no valid port: ${port}`);
    const user = e.user as string;
    if (!USER_RE.test(user)) throw at("user", `is not a user name: "${user}"`);
    if (e.sudo !== undefined && typeof e.sudo !== "boolean") throw at("sudo", "must be true or false");
    const sudo = e.sudo === true;
    if (user !== "root" && !sudo) throw at("user", `"${user}" is not root: set sudo: true (passwordless sudo, run as sudo -n)`);
    const keyText = e.key as string;
    const key = path.resolve(path.dirname(path.resolve(file)), keyText.replace(/^~(?=$|\/)/, fs.home));
    if (!fs.exists(key)) throw at("key", `${keyText}: no such file`);
    const where = `${addr.host}:${port}`;
    const twin = seen.get(where);
    if (twin) throw at("address", `${where} is also node ${twin}'s (one machine, one node)`);
    seen.set(where, name);
    nodes.push({ name, host: addr.host, port, user, key, sudo });
  }
  return { file, nodes };
}

export function readInventory(file: string): Inventory {
  if (!existsSync(file)) throw new AftershockError("E_BAD_INPUT", `--nodes ${file}: no such file`);
  return parseInventory(readFileSync(file, "utf8"), file);
}

/** What the check needs of a Node object. */
export interface NodeFacts {
  name: string;
  labels: Record<string, string>;
  ready: boolean;
}

/** kubeadm's role label (and its pre-1.24 spelling). */
export function roleOf(labels: Record<string, string>): NodeRole {
  return CONTROL_PLANE_ROLE in labels || "node-role.kubernetes.io/master" in labels ? "control-plane" : "worker";
}

/**
 * The inventory against the cluster's Nodes: every inventory name must be a Node, and every Node the run may reach
 * (all of them: a fault picks its node at run time) must be in the inventory. Returns each node's role, read from
 * the Node's labels; a mismatch is one line naming every name concerned.
 */
export function matchInventory(inv: Pick<Inventory, "file" | "nodes">, nodes: readonly NodeFacts[]): { name: string; role: NodeRole }[] {
  const known = new Set(nodes.map((n) => n.name));
  const listed = new Set(inv.nodes.map((n) => n.name));
  const strangers = inv.nodes.filter((n) => !known.has(n.name)).map((n) => n.name);
  if (strangers.length)
    throw new AftershockError(
      "E_BAD_INPUT",
      `--nodes ${inv.file}: ${strangers.join(", ")} ${strangers.length === 1 ? "is not a Node" : "are not Nodes"} of the cluster`,
      {
        hint: `its Nodes: ${[...known].join(", ") || "none"}`,
      },
    );
  const missing = nodes.filter((n) => !listed.has(n.name)).map((n) => n.name);
  if (missing.length)
    throw new AftershockError("E_BAD_INPUT", `--nodes ${inv.file}: no entry for Node${missing.length === 1 ? "" : "s"} ${missing.join(", ")}`, {
      hint: "a fault may pick any node: list every Node of the cluster",
    });
  return inv.nodes.map((n) => ({ name: n.name, role: roleOf(nodes.find((x) => x.name === n.name)!.labels) }));
}
