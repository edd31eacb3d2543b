import { execFileSync } from "node:child_process";
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { stringify } from "yaml";
import type { NodeRole } from "../../clusters/contract.js";
import { docker } from "../../clusters/docker.js";
import type { Duration } from "../../clusters/errors.js";
import { run, type RunResult } from "../../clusters/exec.js";

/**
 * Machines of one's own, stood in for by the nodes of a kind cluster (test bed of issue 32): each node gets an OpenSSH
 * server, and this host reaches it as it would reach a machine, with a key, as root, at an address of its own; the run
 * is given a kubeconfig and an inventory (`--nodes`), never Docker.
 *
 * Nothing of Aftershock's node image changes (it offers what kind's does: clusters/kind/node-contract.ts); the sshd is
 * put into the running nodes, as a machine's admin would install one:
 *
 * - This host's own /usr/sbin/sshd (Debian's openssh-server, which `pnpm run doctor --fix --tests` installs, as
 *   test/unit/ssh-sshd.test.ts needs it too), bundled with every library `ldd` lists and with this host's dynamic
 *   loader, is copied to /opt/aftershock/sshd in each node (a directory the node contract leaves to Aftershock:
 *   RUN_OWNED_DIRS). It runs through a wrapper that starts it with the bundled loader (`ld.so --library-path
 *   --argv0`), so it uses none of the node's libraries whatever the node's Debian is, and none of the bundle leaks into
 *   the sessions it starts (no LD_LIBRARY_PATH): a command over ssh runs the node's own bash and tools. sshd re-executes
 *   itself for each connection by the path it was started with: the wrapper's, so the re-executed one is bundled too.
 * - A systemd unit, /etc/systemd/system/aftershock-sshd.service, enabled: systemd starts sshd again after a reboot, as
 *   on a machine. The node's root filesystem (and /var, a volume) survives a restart of its container; /run does not
 *   (the unit's RuntimeDirectory makes /run/sshd, privilege separation's directory, at each start). KillMode=process:
 *   stopping sshd leaves the sessions' processes alone (as Debian's ssh.service does).
 * - The privilege separation user "sshd", which the sshd of OpenSSH 9 needs (useradd --system, as openssh-server's
 *   postinst does).
 * - The node container's restart policy becomes unless-stopped: a reboot over ssh (`systemctl reboot`) ends the
 *   container (systemd in a container exits on reboot), and a machine comes back after a reboot. kind's own
 *   on-failure:1 would bring it back once only.
 *
 * Docker may give a restarted container another address on the cluster's network, so the inventory does not name
 * the nodes' addresses: it names a TCP forwarder on 127.0.0.1, one port per node, that looks the node's current
 * address up at each connection (as a machine's DNS name would follow it) and relays to its port 22. It is also where
 * the network between this host and the machines can be cut (every connection dropped, new ones refused) and given
 * back, which the deadman test needs. The forwarder lives in the process that called sshMachines (a test, or this
 * file run as a script: `pnpm ssh-machines <cluster>`); sshd stays in the nodes until the cluster is deleted.
 */

const here = path.dirname(fileURLToPath(import.meta.url));

/** Where the bundle, the host keys and the unit live in a node. */
export const NODE_SSHD_DIR = "/opt/aftershock/sshd";
export const SSHD_UNIT = "aftershock-sshd.service";

/** sshd and the helpers OpenSSH ≥ 9.8 execs by path (each with the sshd_config option naming it); those this host has are bundled. */
const SSHD_PROGRAMS = [
  { host: "/usr/sbin/sshd", name: "sshd", option: undefined },
  { host: "/usr/lib/openssh/sshd-session", name: "sshd-session", option: "SshdSessionPath" },
  { host: "/usr/lib/openssh/sshd-auth", name: "sshd-auth", option: "SshdAuthPath" },
] as const;

export interface SshdBundle {
  /** A directory laid out as NODE_SSHD_DIR will be: bin/, lib/, a wrapper per program, sshd_config. */
  dir: string;
  /** `sshd -V`'s answer, e.g. "OpenSSH_9.2p1 Debian-2+deb12u6, OpenSSL 3.0.19 27 Jan 2026". */
  version: string;
  programs: string[];
  libraries: string[];
}

/** The libraries `ldd` lists for a program (absolute paths) and its loader (the line without "=>"). */
export function lddLibraries(lddOutput: string): { libraries: { name: string; file: string }[]; loader: string | undefined } {
  const libraries: { name: string; file: string }[] = [];
  let loader: string | undefined;
  for (const line of lddOutput.split("\n").map((l) => l.trim())) {
    const linked = /^(\S+) => (\/\S+) \(0x[0-9a-f]+\)$/.exec(line);
    if (linked) libraries.push({ name: linked[1]!, file: linked[2]! });
    else if (/^\/\S+ \(0x[0-9a-f]+\)$/.test(line)) loader = line.split(" ")[0];
    else if (/=> not found/.test(line)) throw new Error(`ldd: ${line}`);
  }
  return { libraries, loader };
}

/** The shell wrapper a program of the bundle is started by (sshd, and the helpers sshd execs by path). */
export function wrapperScript(program: string, loader: string, dir = NODE_SSHD_DIR): string {
  return `#!/bin/sh
# ${program} of this host's OpenSSH, with the libraries and loader bundled beside it (none of the node's, and nothing
# inherited by the sessions it starts). Started by this path: sshd re-executes itself (and its helpers) by it.
d=${dir}
exec "$d/lib/${loader}" --inhibit-cache --library-path "$d/lib" --argv0 "$0" "$d/bin/${program}" "$@"
`;
}

/**
 * The sshd_config of a node: key login as root only, on :22, everything under NODE_SSHD_DIR (a unit test runs the
 * bundle on this host: another directory, port, address and pid file).
 */
export function sshdConfig(programs: readonly string[], o: { dir?: string; port?: number; listen?: string; pidFile?: string } = {}): string {
  const dir = o.dir ?? NODE_SSHD_DIR;
  const helpers = SSHD_PROGRAMS.filter((p) => p.option && programs.includes(p.name)).map((p) => `${p.option} ${dir}/${p.name}`);
  return [
    "# Aftershock's test bed: the sshd that makes this kind node a machine reached over ssh (test/e2e/ssh-machines.ts).",
    `Port ${o.port ?? 22}`,
    `ListenAddress ${o.listen ?? "0.0.0.0"}`,
    `HostKey ${dir}/ssh_host_ed25519_key`,
    `AuthorizedKeysFile ${dir}/authorized_keys`,
    `PidFile ${o.pidFile ?? "/run/sshd/aftershock-sshd.pid"}`,
    "PermitRootLogin prohibit-password",
    "PubkeyAuthentication yes",
    "PasswordAuthentication no",
    "KbdInteractiveAuthentication no",
    "UsePAM no",
    "StrictModes no",
    "UseDNS no",
    "PrintMotd no",
    "PrintLastLog no",
    "X11Forwarding no",
    "AllowTcpForwarding no",
    ...helpers,
    "",
  ].join("\n");
}

/** The unit that starts the bundled sshd at boot and keeps it running. */
export function sshdUnit(): string {
  return `[Unit]
Description=OpenSSH server of Aftershock's test bed (a kind node standing in for a machine: test/e2e/ssh-machines.ts)
After=network.target

[Service]
ExecStartPre=${NODE_SSHD_DIR}/sshd -t -f ${NODE_SSHD_DIR}/sshd_config
ExecStart=${NODE_SSHD_DIR}/sshd -D -e -f ${NODE_SSHD_DIR}/sshd_config
ExecReload=/bin/kill -HUP $MAINPID
KillMode=process
Restart=always
RestartSec=2
RuntimeDirectory=sshd
RuntimeDirectoryMode=0755
RuntimeDirectoryPreserve=yes

[Install]
WantedBy=multi-user.target
`;
}

/** The script run in a node (docker exec, once, by the test bed: never by a run) after the bundle was copied in. */
export function installScript(): string {
  return `set -euo pipefail
chmod 755 ${NODE_SSHD_DIR}
chmod 600 ${NODE_SSHD_DIR}/ssh_host_ed25519_key
chmod 644 ${NODE_SSHD_DIR}/authorized_keys
getent passwd sshd >/dev/null || useradd --system --no-create-home --home-dir /run/sshd --shell /usr/sbin/nologin sshd
cat >/etc/systemd/system/${SSHD_UNIT} <<'AFTERSHOCK_UNIT_EOF'
${sshdUnit()}AFTERSHOCK_UNIT_EOF
systemctl daemon-reload
systemctl enable ${SSHD_UNIT} 2>&1
systemctl restart ${SSHD_UNIT}
for _ in $(seq 1 100); do ss -Hltn 'sport = :22' | grep -q . && break; sleep 0.1; done
if ! ss -Hltn 'sport = :22' | grep -q .; then
  systemctl status ${SSHD_UNIT} --no-pager -l || true
  journalctl -u ${SSHD_UNIT} -n 30 --no-pager || true
  exit 1
fi
echo "sshd listens on :22 of $(hostname)"
`;
}

/** This host's sshd, its helpers, their libraries and loader, laid out in `dir` as the nodes will have them at `nodeDir`. */
export function sshdBundle(dir: string, nodeDir = NODE_SSHD_DIR): SshdBundle {
  const programs = SSHD_PROGRAMS.filter((p) => existsSync(p.host));
  if (!programs.some((p) => p.name === "sshd"))
    throw new Error("no /usr/sbin/sshd on this host (Debian's openssh-server): pnpm run doctor --fix --tests installs it");
  mkdirSync(path.join(dir, "bin"), { recursive: true });
  mkdirSync(path.join(dir, "lib"), { recursive: true });
  const libraries = new Map<string, string>();
  let loader: string | undefined;
  for (const p of programs) {
    const found = lddLibraries(execFileSync("ldd", [p.host], { encoding: "utf8" }));
    for (const l of found.libraries) libraries.set(l.name, l.file);
    if (found.loader) loader = found.loader;
    copyFileSync(p.host, path.join(dir, "bin", p.name));
    chmodSync(path.join(dir, "bin", p.name), 0o755);
  }
  if (!loader) throw new Error("ldd named no dynamic loader for this host's sshd");
  for (const [name, file] of libraries) copyFileSync(realpathSync(file), path.join(dir, "lib", name));
  const loaderName = path.basename(loader);
  copyFileSync(realpathSync(loader), path.join(dir, "lib", loaderName));
  chmodSync(path.join(dir, "lib", loaderName), 0o755);
  for (const p of programs) writeFileSync(path.join(dir, p.name), wrapperScript(p.name, loaderName, nodeDir), { mode: 0o755 });
  writeFileSync(
    path.join(dir, "sshd_config"),
    sshdConfig(
      programs.map((p) => p.name),
      { dir: nodeDir },
    ),
  );
  // -V exits 1 on OpenSSH 9 after printing its version (to stderr).
  const v = execFileSync("sh", ["-c", "/usr/sbin/sshd -V 2>&1 || true"], { encoding: "utf8" }).trim().split("\n")[0] ?? "";
  return { dir, version: v, programs: programs.map((p) => p.name), libraries: [...libraries.keys(), loaderName] };
}

export interface Machine {
  /** The Node's name, which is also its container's. */
  name: string;
  role: NodeRole;
  /** The forwarder's port on 127.0.0.1 for this machine (the inventory's address). */
  port: number;
}

export interface SshMachines extends AsyncDisposable {
  cluster: string;
  /** Keys, known hosts and the inventory. */
  dir: string;
  inventory: string;
  /** The private key the inventory names (and ssh() uses). */
  key: string;
  machines: Machine[];
  /** `sshd -V` of the bundle. */
  sshdVersion: string;
  /** Connections the forwarder relayed, by node, and those it refused while cut. */
  readonly connections: Record<string, number>;
  readonly refused: Record<string, number>;
  /** The network between this host and the machines: every open connection dropped, new ones refused until restore(). */
  cut(): void;
  restore(): void;
  readonly isCut: boolean;
  /** A command on a machine over ssh, as a person with the inventory's key types it (through the forwarder). */
  ssh(node: string, command: string, opts?: { timeout?: Duration; allowFailure?: boolean }): Promise<RunResult>;
  /** Stops the forwarder (the nodes keep their sshd until the cluster is deleted); harmless to repeat. [Symbol.asyncDispose] does the same. */
  close(): Promise<void>;
}

/** The cluster's node containers and their roles (kind's labels), the load balancer of several control planes aside. */
export async function kindNodes(cluster: string): Promise<{ name: string; role: NodeRole }[]> {
  const r = await docker.run(["ps", "--filter", `label=io.x-k8s.kind.cluster=${cluster}`, "--format", '{{.Names}}\t{{.Label "io.x-k8s.kind.role"}}']);
  const nodes = r.stdout
    .split("\n")
    .filter(Boolean)
    .map((l) => l.split("\t") as [string, string])
    .filter(([, role]) => role === "control-plane" || role === "worker")
    .map(([name, role]) => ({ name, role: role as NodeRole }))
    .sort((a, b) => (a.name < b.name ? -1 : 1));
  if (!nodes.length) throw new Error(`no running node containers of kind cluster ${cluster}`);
  return nodes;
}

/** A node container's address on its network now (empty while it is stopped or restarting). */
async function currentAddress(container: string): Promise<string> {
  const r = await docker.run(["inspect", "--format", "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}", container], {
    allowFailure: true,
    timeout: "10s",
  });
  return r.exitCode === 0 ? (r.stdout.trim().split(/\s+/)[0] ?? "") : "";
}

export interface Forwarder extends AsyncDisposable {
  /** The port on 127.0.0.1 of each target. */
  ports: Record<string, number>;
  /** Connections relayed, and refused while cut, by target. */
  connections: Record<string, number>;
  refused: Record<string, number>;
  /** Every open connection dropped, and new ones refused (accepted, then closed at once) until restore(). */
  cut(): void;
  restore(): void;
  readonly isCut: boolean;
  /** Drops every connection and closes the ports; harmless to repeat. [Symbol.asyncDispose] does the same. */
  close(): Promise<void>;
}

/**
 * A TCP forwarder from 127.0.0.1, one port per target, to where `resolve` says the target is at each new connection
 * (a node's address now; undefined: not reachable now, the connection is closed).
 */
export async function startForwarder(targets: string[], resolve: (target: string) => Promise<{ host: string; port: number } | undefined>): Promise<Forwarder> {
  let isCut = false;
  const open = new Set<net.Socket>();
  const track = (s: net.Socket) => {
    open.add(s);
    s.on("close", () => open.delete(s));
  };
  const connections: Record<string, number> = {};
  const refused: Record<string, number> = {};
  const ports: Record<string, number> = {};
  const servers: net.Server[] = [];
  for (const t of targets) {
    connections[t] = 0;
    refused[t] = 0;
    const server = net.createServer((client) => {
      client.on("error", () => client.destroy());
      if (isCut) {
        refused[t]!++;
        client.destroy();
        return;
      }
      track(client);
      client.pause();
      void resolve(t).then(
        (to) => {
          if (!to || isCut || client.destroyed) {
            if (isCut) refused[t]!++;
            client.destroy();
            return;
          }
          connections[t]!++;
          const upstream = net.connect(to.port, to.host);
          track(upstream);
          upstream.on("error", () => upstream.destroy());
          upstream.on("close", () => client.destroy());
          client.on("close", () => upstream.destroy());
          client.pipe(upstream);
          upstream.pipe(client);
          client.resume();
        },
        () => client.destroy(),
      );
    });
    await new Promise<void>((ok, fail) => {
      server.once("error", fail);
      server.listen(0, "127.0.0.1", () => ok());
    });
    servers.push(server);
    ports[t] = (server.address() as net.AddressInfo).port;
  }
  const f: Forwarder = {
    ports,
    connections,
    refused,
    cut() {
      isCut = true;
      for (const s of open) s.destroy();
      open.clear();
    },
    restore() {
      isCut = false;
    },
    get isCut() {
      return isCut;
    },
    async close() {
      f.cut();
      await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
    },
    [Symbol.asyncDispose]: () => f.close(),
  };
  return f;
}

/**
 * Gives every node of kind cluster `cluster` an sshd (see the top of this file), starts the forwarder and writes
 * `<dir>/inventory.yaml` for --nodes. Each node is checked to answer over ssh through the forwarder before it returns.
 */
export async function sshMachines(cluster: string, o: { dir?: string; log?: (line: string) => void } = {}): Promise<SshMachines> {
  const log = o.log ?? (() => {});
  const dir = o.dir ?? mkdtempSync(path.join(os.tmpdir(), `as-machines-${cluster}-`));
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const key = path.join(dir, "id_ed25519");
  if (!existsSync(key)) execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", `aftershock test bed ${cluster}`, "-f", key]);
  const bundle = sshdBundle(path.join(dir, "bundle"));
  writeFileSync(path.join(bundle.dir, "authorized_keys"), readFileSync(`${key}.pub`));
  log(`sshd bundle: ${bundle.version}; ${bundle.programs.join(", ")} with ${bundle.libraries.length} libraries of this host`);
  const nodes = await kindNodes(cluster);
  await Promise.all(
    nodes.map(async (n) => {
      const hostKey = path.join(dir, `host-key-${n.name}`);
      if (!existsSync(hostKey)) execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", n.name, "-f", hostKey]);
      await docker.run(["exec", n.name, "mkdir", "-p", NODE_SSHD_DIR], { timeout: "30s" });
      await docker.run(["cp", `${bundle.dir}/.`, `${n.name}:${NODE_SSHD_DIR}/`], { timeout: "1m" });
      await docker.run(["cp", hostKey, `${n.name}:${NODE_SSHD_DIR}/ssh_host_ed25519_key`], { timeout: "30s" });
      const r = await docker.run(["exec", "-i", n.name, "bash"], { input: installScript(), timeout: "1m" });
      // A machine comes back after a reboot: systemd in a container ends it on `systemctl reboot`.
      await docker.run(["update", "--restart", "unless-stopped", n.name], { timeout: "30s" });
      log(`${n.name}: ${r.stdout.trim().split("\n").pop()}; restart policy unless-stopped`);
    }),
  );

  // The forwarder: 127.0.0.1:<port> → the node's current address, port 22. Closed again if this throws before it
  // returns; handed to the caller (close()) when it returns.
  await using owned = new AsyncDisposableStack();
  const fwd = await startForwarder(
    nodes.map((n) => n.name),
    async (name) => {
      const ip = await currentAddress(name);
      return ip ? { host: ip, port: 22 } : undefined;
    },
  );
  owned.use(fwd);
  const machines: Machine[] = nodes.map((n) => ({ ...n, port: fwd.ports[n.name]! }));

  const inventory = path.join(dir, "inventory.yaml");
  writeFileSync(
    inventory,
    `# kind cluster ${cluster}'s nodes as machines reached over ssh (test/e2e/ssh-machines.ts): through this host's forwarder,\n` +
      `# which lives as long as the process that wrote this file.\n` +
      stringify({ nodes: Object.fromEntries(machines.map((m) => [m.name, { address: `127.0.0.1:${m.port}`, user: "root", key: "./id_ed25519" }])) }),
  );

  const knownHosts = path.join(dir, "known_hosts");
  const ssh = (node: string, command: string, opts: { timeout?: Duration; allowFailure?: boolean } = {}) => {
    const m = machines.find((x) => x.name === node);
    if (!m) throw new Error(`${node} is not a machine of ${cluster} (${machines.map((x) => x.name).join(", ")})`);
    return run(
      "ssh",
      [
        ...["-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=accept-new", "-o", `UserKnownHostsFile=${knownHosts}`, "-o", "ConnectTimeout=10"],
        ...["-o", "IdentitiesOnly=yes", "-o", "LogLevel=ERROR", "-i", key, "-p", String(m.port), "root@127.0.0.1", "--", command],
      ],
      { timeout: opts.timeout ?? "1m", ...(opts.allowFailure ? { allowFailure: true } : {}) },
    );
  };
  const machinesApi: SshMachines = {
    cluster,
    dir,
    inventory,
    key,
    machines,
    sshdVersion: bundle.version,
    connections: fwd.connections,
    refused: fwd.refused,
    cut: () => fwd.cut(),
    restore: () => fwd.restore(),
    get isCut() {
      return fwd.isCut;
    },
    ssh,
    close: () => fwd.close(),
    [Symbol.asyncDispose]: () => fwd.close(),
  };
  // Every machine answers over ssh, as root, on its own node (its hostname is its Node's name).
  for (const m of machines) {
    const r = await ssh(m.name, "hostname; id -un; systemctl is-active " + SSHD_UNIT);
    if (r.stdout.trim().split("\n").join(" ") !== `${m.name} root active`) throw new Error(`${m.name} over ssh answered: ${r.stdout.trim()}`);
  }
  log(`inventory: ${inventory} (${machines.map((m) => `${m.name} at 127.0.0.1:${m.port}`).join(", ")})`);
  owned.move();
  return machinesApi;
}

/**
 * A node's files, as the test bed compares them before and after (docker exec: the test's own view, never the run's):
 * one line per file under the roots a run may touch, "<sha256>\t<path>" for files under 1 MiB, "size <bytes>\t<path>"
 * for larger ones, "-> <target>\t<path>" for links. Left out: what changes by itself on a running node (containerd's
 * and the kubelet's state (its managers', its pods' allocations and the images it recorded as pulled, which any pod
 * scheduled on the node changes: seen on the lane's run of 2026-12-07), etcd's data, journals and pod logs, systemd's
 * and NFS statd's own state; a file that vanishes
 * while it is read is left out), what Docker writes at each start
 * (/etc/hosts, /etc/hostname, /etc/resolv.conf), what kind's entrypoint writes at each boot (/etc/machine-id), and
 * what sshd writes at each login (wtmp, btmp, lastlog).
 */
export const NODE_FILES_SCRIPT = `set -euo pipefail
roots=""
for r in /etc /opt /kind /root /usr/local /usr/bin /usr/sbin /usr/lib/systemd/system /var/lib /var/log; do [ -e "$r" ] && roots="$roots $r"; done
prune='( -path /var/lib/containerd -o -path /var/lib/etcd -o -path /var/lib/kubelet/pods -o -path /var/lib/kubelet/plugins -o -path /var/lib/kubelet/plugins_registry -o -path /var/lib/kubelet/pod-resources -o -path /var/lib/kubelet/device-plugins -o -path /var/lib/kubelet/checkpoints -o -path /var/lib/kubelet/image_manager -o -path /var/lib/systemd -o -path /var/lib/dbus -o -path /var/lib/nfs -o -path /var/lib/apt -o -path /var/lib/dpkg -o -path /var/log/journal -o -path /var/log/pods -o -path /var/log/containers )'
skip='^(/etc/hosts|/etc/hostname|/etc/resolv[.]conf|/etc/machine-id|/var/log/(wtmp|btmp|lastlog)|/var/lib/kubelet/[a-z_]+_manager_state|/var/lib/kubelet/[a-z_]+_pods_state)$'
set -f
{
  find $roots -xdev $prune -prune -o -type f -size -1024k -print0 2>/dev/null | xargs -0 -r sha256sum 2>/dev/null | sed 's/  /\t/' || true
  find $roots -xdev $prune -prune -o -type f -size +1023k -printf 'size %s\t%p\n' 2>/dev/null || true
  find $roots -xdev $prune -prune -o -type l -printf '-> %l\t%p\n' 2>/dev/null || true
} | awk -F '\t' -v skip="$skip" '$2 !~ skip' | sort -t "$(printf '\t')" -k2
`;

/** NODE_FILES_SCRIPT's listing of a node, by path. */
export async function nodeFiles(container: string): Promise<Map<string, string>> {
  const r = await docker.run(["exec", "-i", container, "bash"], { input: NODE_FILES_SCRIPT, timeout: "5m" });
  return parseNodeFiles(r.stdout);
}

/** "<sha256, size N or -> target>\t<path>" lines, by path. */
export function parseNodeFiles(listing: string): Map<string, string> {
  const files = new Map<string, string>();
  for (const line of listing.split("\n").filter(Boolean)) {
    const tab = line.indexOf("\t");
    if (tab > 0) files.set(line.slice(tab + 1), line.slice(0, tab));
  }
  return files;
}

/** What differs between two listings: "added PATH", "removed PATH", "changed PATH". */
export function filesDiff(before: Map<string, string>, after: Map<string, string>): string[] {
  const out: string[] = [];
  for (const [p, v] of after)
    if (!before.has(p)) out.push(`added ${p}`);
    else if (before.get(p) !== v) out.push(`changed ${p}`);
  for (const p of before.keys()) if (!after.has(p)) out.push(`removed ${p}`);
  return out.sort((a, b) => (a.split(" ")[1]! < b.split(" ")[1]! ? -1 : 1));
}

/**
 * `pnpm ssh-machines <kind cluster> [--dir DIR]`: the test bed for a person. Gives the cluster's nodes an sshd, writes
 * the inventory, prints how to use it, and forwards until Ctrl-C (the inventory's addresses are the forwarder's).
 */
async function main(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { dir: { type: "string" }, help: { type: "boolean", short: "h" } },
    allowPositionals: true,
  });
  const cluster = positionals[0];
  if (!cluster || values.help || positionals.length > 1) {
    process.stdout.write(
      "usage: pnpm ssh-machines <kind cluster made by pnpm cluster create> [--dir DIR]\n" +
        "  gives its nodes an sshd (this host's, bundled), writes DIR/inventory.yaml for --nodes (DIR: reports/ssh-machines-<cluster>),\n" +
        "  and forwards 127.0.0.1 ports to the nodes until Ctrl-C. Test bed only: the nodes then offer ssh, which kind's node image does not.\n",
    );
    process.exit(values.help ? 0 : 2);
  }
  const dir = values.dir ? path.resolve(values.dir) : path.join(here, "..", "..", "reports", `ssh-machines-${cluster}`);
  if (existsSync(path.join(dir, "inventory.yaml"))) rmSync(path.join(dir, "inventory.yaml"));
  // The forwarder stops as main returns, however it returns.
  await using m = await sshMachines(cluster, { dir, log: (l) => process.stdout.write(`${l}\n`) });
  process.stdout.write(
    `\nThe machines answer over ssh while this runs (Ctrl-C ends it; the nodes keep their sshd):\n` +
      m.machines.map((x) => `  ssh -i ${m.key} -p ${x.port} root@127.0.0.1     # ${x.name} (${x.role})\n`).join("") +
      `\nIn another terminal (the cluster's kubeconfig is the one pnpm cluster create printed):\n` +
      `  pnpm scenario control-plane-manifests-lost --kubeconfig <kubeconfig> --existing-cluster --nodes ${m.inventory} --dry-run\n` +
      `  pnpm scenario control-plane-manifests-lost --kubeconfig <kubeconfig> --existing-cluster --nodes ${m.inventory} --allow-cluster-faults kind-${cluster}\n`,
  );
  await new Promise<void>((resolve) => process.once("SIGINT", resolve));
}

if (process.argv[1] && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).catch((e: unknown) => {
    process.stderr.write(`ssh-machines: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  });
}
