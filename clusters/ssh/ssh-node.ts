import { chmod, mkdir, mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { Capability, NodeCommandMode, NodeCommandRecord, NodeHandle, NodeReboot, NodeRole, NodeShell } from "../contract.js";
import { AftershockError, CommandError, ms, parseDuration, type Duration } from "../errors.js";
import { quote, run, type RunOptions, type RunResult } from "../exec.js";
import { pollUntil, type Clock } from "../wait.js";
import type { InventoryNode } from "./inventory.js";

/**
 * Nodes reached over ssh, by the system's OpenSSH client rather than an ssh library: the operator's own
 * client is what their keys, agent and jump-host setup already work with, ControlMaster gives connection reuse
 * for free, and a bug in it is one they can reproduce by hand with the command line we print. Nothing here
 * goes through the API server: it works while the API server, or etcd, is down.
 */

/** The run's ssh files: a known_hosts of its own (trust on first use, then pinned for the run) and the ControlMaster sockets. */
export interface SshSession {
  readonly dir: string;
  readonly knownHosts: string;
  readonly controlDir: string;
  /** Seconds ssh waits for a TCP connection before giving up (exit 255). */
  readonly connectTimeoutS: number;
  /** How long an idle master connection stays up after its last command. */
  readonly persist: string;
}

export async function openSshSession(runId: string, o: { connectTimeoutS?: number; persist?: string; parent?: string } = {}): Promise<SshSession> {
  // Short: a unix socket path must stay under ~104 bytes, and %C adds 40.
  const dir = await mkdtemp(path.join(o.parent ?? os.tmpdir(), `as-ssh-${runId.slice(0, 8)}-`));
  await chmod(dir, 0o700);
  const controlDir = path.join(dir, "cm");
  await mkdir(controlDir, { mode: 0o700 });
  return { dir, knownHosts: path.join(dir, "known_hosts"), controlDir, connectTimeoutS: o.connectTimeoutS ?? 10, persist: o.persist ?? "120s" };
}

/** Ends every master connection of the session and removes its files; harmless to repeat. */
export async function closeSshSession(s: SshSession, nodes: readonly InventoryNode[]): Promise<void> {
  for (const n of nodes) await closeMaster(n, s);
  await rm(s.dir, { recursive: true, force: true });
}

/** The ssh options every connection of the run uses (pure: the unit tests read them). */
export function sshOptions(n: InventoryNode, s: Pick<SshSession, "knownHosts" | "controlDir" | "connectTimeoutS" | "persist">): string[] {
  const o = (kv: string) => ["-o", kv];
  return [
    // Never a prompt: a run has no one to type a password or accept a key.
    ...o("BatchMode=yes"),
    // Trust on first use into the run's own file, refused if the key changes during the run.
    ...o("StrictHostKeyChecking=accept-new"),
    ...o(`UserKnownHostsFile=${s.knownHosts}`),
    ...o("GlobalKnownHostsFile=/dev/null"),
    ...o(`ConnectTimeout=${s.connectTimeoutS}`),
    // A machine that goes away mid-command (a reboot, a partition) ends the command in ~15 s, not at TCP's pace.
    ...o("ServerAliveInterval=5"),
    ...o("ServerAliveCountMax=3"),
    ...o("ControlMaster=auto"),
    ...o(`ControlPath=${path.join(s.controlDir, "%C")}`),
    ...o(`ControlPersist=${s.persist}`),
    ...o("IdentitiesOnly=yes"),
    ...o("LogLevel=ERROR"),
    "-i",
    n.key,
    "-p",
    String(n.port),
    "-l",
    n.user,
  ];
}

/**
 * The remote command line for `argv`: each word quoted for the node's shell, behind `sudo -n` when the user is not
 * root, and, with a budget, under the node's `timeout`: ControlMaster hands the client's stdout and stderr to the
 * master, so killing the client alone would leave the command running and our pipes open until it ends.
 */
export function remoteLine(argv: readonly string[], sudo: boolean, budget?: Duration): string {
  const limit = budget !== undefined ? ["timeout", "--kill-after=5", `${Math.max(1, Math.ceil(parseDuration(budget) / 1000))}s`] : [];
  return [...(sudo ? ["sudo", "-n", "--"] : []), ...limit, ...argv].map(quote).join(" ");
}

/** ssh's argv for one command (pure). `-T`: no terminal; `-t`: one, for a person; `-n`: stdin from /dev/null. */
export function sshArgv(n: InventoryNode, s: Pick<SshSession, "knownHosts" | "controlDir" | "connectTimeoutS" | "persist">, mode: NodeCommandMode): string[] {
  return [...sshOptions(n, s), ...({ tty: ["-t"], stdin: ["-T"], none: ["-T", "-n"] } as const)[mode], n.host, "--"];
}

/** How a command is named in errors: the node and what ran there, not ssh's dozen options. */
const shownAs = (n: InventoryNode, argv: readonly string[]) => `ssh ${n.user}@${n.host}${n.port === 22 ? "" : `:${n.port}`} ${remoteLine(argv, n.sudo)}`;

/**
 * A node reached over ssh, with the docker-exec handle's semantics (`onCommand` hears each command as it ended): exec(argv) runs argv (each word one
 * argument), sh(script) runs bash -c script, input goes to stdin, a budget kills the client, and a failure is a
 * CommandError with the command, exit code (255: ssh itself failed), stderr tail and elapsed time vs budget.
 * A budget ends the ssh client; like docker exec, it cannot promise the remote process stopped with it.
 */
export function sshNode(n: InventoryNode, role: NodeRole, s: SshSession, onCommand?: (c: NodeCommandRecord) => void): NodeHandle {
  const exec = async (argv: string[], opts: RunOptions = {}): Promise<RunResult> => {
    const mode = opts.input !== undefined ? "stdin" : "none";
    const shown = shownAs(n, argv);
    const o: RunOptions = { timeout: "2m", ...opts };
    try {
      const r = await run("ssh", [...sshArgv(n, s, mode), remoteLine(argv, n.sudo, o.timeout)], o);
      onCommand?.({ node: n.name, command: shown, exitCode: r.exitCode, elapsedMs: r.elapsedMs });
      return { ...r, command: shown };
    } catch (e) {
      if (!(e instanceof CommandError)) throw e;
      onCommand?.({ node: n.name, command: shown, ...(e.exitCode !== undefined ? { exitCode: e.exitCode } : {}), elapsedMs: e.elapsedMs });
      throw new CommandError({
        command: shown,
        exitCode: e.exitCode,
        signal: e.signal,
        stderrTail: e.stderrTail,
        elapsedMs: e.elapsedMs,
        budgetMs: e.budgetMs,
      });
    }
  };
  return {
    name: n.name,
    role,
    exec,
    sh: (script, opts) => exec(["bash", "-c", script], opts),
    shellCommand: (mode) => ({ argv: ["ssh", ...sshArgv(n, s, mode), ...(n.sudo ? ["sudo", "-n", "--"] : [])], words: "shell-line" }),
  };
}

/** Stops the node's master connection (after a reboot its TCP connection is dead, and new commands would queue on it). */
export async function closeMaster(n: InventoryNode, s: SshSession): Promise<void> {
  await run("ssh", [...sshOptions(n, s), "-O", "exit", n.host], { allowFailure: true, timeout: "10s" }).catch(() => undefined);
}

/** The pid of the node's master connection, when one runs (ssh -O check). */
export async function masterPid(n: InventoryNode, s: SshSession): Promise<number | undefined> {
  const r = await run("ssh", [...sshOptions(n, s), "-O", "check", n.host], { allowFailure: true, timeout: "10s" });
  const m = /pid=(\d+)/.exec(r.stderr + r.stdout);
  return m ? Number(m[1]) : undefined;
}

/**
 * What machines of one's own reached over ssh (--nodes) offer, declared once: a shell on each and reboots, never
 * node-lifecycle (nothing here can make a machine).
 */
export const SSH_CAPABILITIES = ["node-shell", "node-reboot"] as const satisfies readonly Capability[];

/** The machines of an inventory as the node-shell capability. */
export function sshNodeShell(cluster: string, handles: readonly NodeHandle[]): NodeShell {
  return {
    nodes: handles,
    controlPlane: () => {
      const cp = handles.find((h) => h.role === "control-plane");
      if (!cp) throw new AftershockError("E_CLUSTER", `cluster ${cluster}: no control-plane node in the --nodes inventory`);
      return cp;
    },
    node: (name) => {
      const h = handles.find((x) => x.name === name);
      if (!h) throw new AftershockError("E_UNSAFE_TARGET", `${name} is not in the --nodes inventory (nodes: ${handles.map((x) => x.name).join(", ")})`);
      return h;
    },
  };
}

const BOOT_ID = "/proc/sys/kernel/random/boot_id";

/**
 * What tells one boot of a machine from the next: the kernel's boot id, and when PID 1 started (field 22 of
 * /proc/1/stat, in clock ticks since the kernel booted). A machine's reboot changes its boot id; a machine that is a
 * container sharing its host's kernel (a kind node given an sshd, as the SSH lane's machines are) keeps the boot id
 * and gets a new PID 1. Read by `cat` of both files; a line missing is an empty string.
 */
export function readBootMark(stdout: string): { bootId: string; pid1Start: string } {
  const [id = "", stat = ""] = stdout.split("\n");
  const afterComm = stat
    .slice(stat.lastIndexOf(")") + 1)
    .trim()
    .split(/\s+/);
  // After "pid (comm)" come fields 3 onwards: starttime, field 22, is the 20th of them.
  return { bootId: id.trim(), pid1Start: stat.includes(")") ? (afterComm[19] ?? "") : "" };
}

/**
 * Reboots a machine over ssh and waits, within `budget` (default 10m), for ssh to answer again from a new boot (another boot
 * id, or for a container's machine another PID 1: readBootMark; the proof it rebooted rather than dropped a
 * connection) and for systemd to finish booting. Returns a line saying so.
 */
export async function rebootOverSsh(
  n: InventoryNode,
  node: NodeHandle,
  s: SshSession,
  o: { budget?: Duration; interval?: Duration; clock?: Clock } = {},
): Promise<string> {
  const budget = o.budget ?? "10m";
  const interval = o.interval ?? "3s";
  const before = readBootMark((await node.exec(["cat", BOOT_ID, "/proc/1/stat"], { timeout: "30s" })).stdout);
  const was = `boot id ${before.bootId.slice(0, 8)}${before.pid1Start ? `, PID 1 started at tick ${before.pid1Start}` : ""}`;
  // The connection dies with the machine: ssh's 255 (or the budget) here is the reboot starting, not a failure.
  await node.sh("systemctl reboot || reboot", { allowFailure: true, timeout: "30s" }).catch((e: unknown) => {
    if (!(e instanceof CommandError)) throw e;
  });
  await closeMaster(n, s);
  const started = Date.now();
  let now = before;
  await pollUntil(
    `node ${n.name}: did not answer over ssh from a new boot (was ${was})`,
    budget,
    interval,
    async () => {
      const r = await node.exec(["cat", BOOT_ID, "/proc/1/stat"], { allowFailure: true, timeout: "20s" }).catch((e: unknown) => ({
        exitCode: -1,
        stdout: "",
        stderr: e instanceof Error ? e.message : String(e),
      }));
      if (r.exitCode !== 0 || !r.stdout.trim()) return { ok: false, seen: r.stderr.trim().split("\n").pop() || `exit ${r.exitCode}` };
      now = readBootMark(r.stdout);
      return {
        ok: !!now.bootId && (now.bootId !== before.bootId || now.pid1Start !== before.pid1Start),
        seen: `boot id ${now.bootId.slice(0, 8)}${now.pid1Start ? `, PID 1 started at tick ${now.pid1Start}` : ""}`,
      };
    },
    o.clock ? { clock: o.clock } : {},
  );
  const after =
    now.bootId !== before.bootId
      ? `boot id ${now.bootId.slice(0, 8)}, was ${before.bootId.slice(0, 8)}`
      : `a new PID 1; boot id ${before.bootId.slice(0, 8)} kept: a container sharing its host's kernel`;
  const left = ms(Math.max(30_000, parseDuration(budget) - (Date.now() - started)));
  await pollUntil(
    `node ${n.name}: systemd did not finish booting`,
    left,
    interval,
    async () => {
      const r = await node.exec(["systemctl", "is-system-running"], { allowFailure: true, timeout: "20s" }).catch(() => ({ stdout: "", stderr: "no answer" }));
      const state = r.stdout.trim();
      // "degraded": booted with a unit failed (a kubelet without its runtime is one).
      return { ok: state === "running" || state === "degraded", seen: state || r.stderr.trim() };
    },
    o.clock ? { clock: o.clock } : {},
  );
  return `${n.name} rebooted and answers again at ${n.host}:${n.port} (${after})`;
}

/** The reboot capability for an inventory's machines. */
export function sshReboot(inventory: readonly InventoryNode[], shell: NodeShell, s: SshSession): NodeReboot {
  return {
    rebootNode: (name) => {
      const n = inventory.find((x) => x.name === name);
      if (!n) throw new AftershockError("E_UNSAFE_TARGET", `${name} is not in the --nodes inventory`);
      return rebootOverSsh(n, shell.node(name), s);
    },
  };
}
