import { accessSync, constants, statSync } from "node:fs";
import path from "node:path";
import { execa } from "execa";
import { CommandError, parseDuration, type Duration } from "./errors.js";

export interface RunOptions {
  /** Budget for the command ("30s", "5m"); it is killed (SIGTERM, then SIGKILL) when exceeded. */
  timeout?: Duration;
  input?: string;
  env?: Record<string, string | undefined>;
  cwd?: string;
  /** Called with every complete line of stdout and stderr, e.g. to show progress. */
  onLine?: (line: string) => void;
  /** Return the result instead of throwing when the command exits non-zero. */
  allowFailure?: boolean;
}

export interface RunResult {
  command: string;
  stdout: string;
  stderr: string;
  exitCode: number;
  elapsedMs: number;
}

const TAIL_CHARS = 2000;

export function renderCommand(file: string, args: readonly string[]): string {
  return [file, ...args].map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(" ");
}

/** Runs a command without a shell. Failures become CommandError with the command, exit code, stderr tail and timing. */
export async function run(file: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const command = renderCommand(file, args);
  const budgetMs = opts.timeout === undefined ? undefined : parseDuration(opts.timeout);
  const started = performance.now();
  const child = execa(file, args, {
    reject: false,
    timeout: budgetMs,
    forceKillAfterDelay: 5000,
    input: opts.input,
    env: opts.env,
    extendEnv: true,
    cwd: opts.cwd,
    stripFinalNewline: true,
    ...(opts.input === undefined ? { stdin: "ignore" as const } : {}),
  });
  if (opts.onLine) {
    const onLine = opts.onLine;
    for (const stream of [child.stdout, child.stderr]) {
      let pending = "";
      stream?.on("data", (chunk: Buffer) => {
        pending += chunk.toString();
        const lines = pending.split("\n");
        pending = lines.pop() ?? "";
        for (const l of lines) if (l.trim()) onLine(l);
      });
    }
  }
  const r = await child;
  const elapsedMs = performance.now() - started;
  const stdout = String(r.stdout ?? "");
  const stderr = String(r.stderr ?? "");
  if (r.failed && !(opts.allowFailure && r.exitCode !== undefined && !r.timedOut)) {
    if (r.exitCode === undefined && !r.timedOut && r.signal === undefined) {
      // spawn failure, e.g. ENOENT
      throw new CommandError({
        command,
        exitCode: 127,
        signal: undefined,
        stderrTail: r.message ?? "",
        elapsedMs,
        budgetMs,
      });
    }
    throw new CommandError({
      command,
      exitCode: r.timedOut ? undefined : r.exitCode,
      signal: r.signal ?? undefined,
      stderrTail: (stderr || stdout).slice(-TAIL_CHARS),
      elapsedMs,
      budgetMs,
    });
  }
  return { command, stdout, stderr, exitCode: r.exitCode ?? 0, elapsedMs };
}

/** The executable `name` as the shell would find it on `pathValue` (this process's PATH), or undefined. */
export function findOnPath(name: string, pathValue: string = process.env.PATH ?? ""): string | undefined {
  for (const dir of pathValue.split(":")) {
    if (!dir) continue;
    const p = path.join(dir, name);
    try {
      accessSync(p, constants.X_OK);
      if (statSync(p).isFile()) return p;
    } catch {
      /* not here */
    }
  }
  return undefined;
}

/** Where `file` is on PATH, or undefined (findOnPath: no shell is spawned for it). */
export async function which(file: string): Promise<string | undefined> {
  return findOnPath(file);
}

/** A piece of shell text that `sh` inserts as it is (a command built elsewhere, e.g. etcdctl's flags). */
export class RawShell {
  constructor(readonly text: string) {}
}
export const raw = (text: string) => new RawShell(text);

/** Quotes one word for bash, as zx does: safe words as they are, anything else in single quotes. */
export function quote(word: string | number): string {
  const s = String(word);
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * A shell script whose interpolated values are quoted (zx's `$` template): `sh\`etcdctl member remove ${id}\``.
 * Arrays become several quoted words; raw() inserts trusted shell text unquoted.
 */
export function sh(strings: TemplateStringsArray, ...values: (string | number | RawShell | (string | number)[])[]): string {
  let out = strings[0]!;
  values.forEach((v, i) => {
    out += v instanceof RawShell ? v.text : Array.isArray(v) ? v.map(quote).join(" ") : quote(v);
    out += strings[i + 1]!;
  });
  return out;
}
