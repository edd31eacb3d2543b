import { spawn } from "node:child_process";
import { parseDuration, type Duration } from "../../clusters/errors.js";

/**
 * The VM that test/cgroup2/lane.sh booted, reached over ssh on 127.0.0.1 (the lane exports the port and key).
 * Scripts go in on stdin (`sh -s`), so nothing is quoted twice; every call has a deadline.
 */
export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
  timedOut: boolean;
}

const port = process.env.AFTERSHOCK_VM_SSH_PORT ?? "";
const key = process.env.AFTERSHOCK_VM_SSH_KEY ?? "";

export const vmConfigured = port !== "" && key !== "";

function sshArgs(remote: string): string[] {
  return [
    "-q",
    "-p",
    port,
    "-i",
    key,
    "-o",
    "StrictHostKeyChecking=no",
    "-o",
    "UserKnownHostsFile=/dev/null",
    "-o",
    "ConnectTimeout=10",
    "-o",
    "BatchMode=yes",
    "root@127.0.0.1",
    remote,
  ];
}

/** Runs `remote` (a command line for the VM's shell) with `input` on its stdin, killed after `timeout`. */
export function ssh(remote: string, input = "", timeout: Duration = "2m"): Promise<RunResult> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn("ssh", sshArgs(remote), { stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, parseDuration(timeout));
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, ms: Date.now() - started, timedOut });
    });
    child.stdin.end(input);
  });
}

/** A POSIX-sh script run by the VM's own shell; throws with its output unless it exits 0. */
export async function vmSh(script: string, timeout: Duration = "2m"): Promise<string> {
  return ok(await ssh("sh -s", script, timeout), "VM");
}

/** A POSIX-sh script run inside a container of the VM's Docker (docker exec -i <name> sh -s). */
export async function nodeSh(container: string, script: string, timeout: Duration = "2m"): Promise<string> {
  return ok(await ssh(`docker exec -i ${container} sh -s`, script, timeout), container);
}

function ok(r: RunResult, where: string): string {
  if (r.timedOut) throw new Error(`${where}: no answer within ${r.ms} ms\n${r.stdout}${r.stderr}`);
  if (r.code !== 0) throw new Error(`${where}: exit ${r.code}\n${r.stdout}${r.stderr}`);
  return r.stdout;
}

/** Polls `probe` until it returns a value, or throws after `within` with the last error. */
export async function until<T>(what: string, within: Duration, probe: () => Promise<T | undefined>, everyMs = 1000): Promise<T> {
  const deadline = Date.now() + parseDuration(within);
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`${what}: not within ${within}${last ? `: ${String(last)}` : ""}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
