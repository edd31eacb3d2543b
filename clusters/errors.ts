/** Every failure Aftershock reports carries a stable code, a one-line message and, where it helps, a hint. */
export type ErrorCode =
  | "E_COMMAND" // a command exited non-zero
  | "E_TIMEOUT" // something did not happen within its budget
  | "E_NOT_ROOT"
  | "E_HOST_CHANGES" // the host needs changes (a plan) and the doctor was not told to make them (--fix)
  | "E_DOCKER_MISSING"
  | "E_DOCKER_DOWN"
  | "E_PRIVILEGED"
  | "E_TOOL_MISSING"
  | "E_DISK"
  | "E_BAD_VERSION"
  | "E_BAD_INPUT"
  | "E_BUILD"
  | "E_CLUSTER"
  | "E_UNSAFE_TARGET"
  | "E_CAPABILITY" // the scenario needs a capability its target does not offer (or did not declare)
  | "E_NODE_CONTRACT" // a node command that kind's own node image of that version does not offer (clusters/kind/node-contract.ts)
  | "E_PROBE" // a probe gave an answer that waiting cannot change
  | "E_HAND_OFF" // a fault, step or probe read a value (ctx.found) that what should have set it has not set
  | "E_REFUSED" // a run that could harm a cluster it did not create, refused before anything is created
  | "E_PREFLIGHT" // a cluster this tool did not create is not healthy enough (or is busy) to take a fault
  | "E_IMAGES" // --images pull (or a published list) cannot give what the run needs, found before anything is created
  | "E_INTERRUPTED";

export class AftershockError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;
  constructor(code: ErrorCode, message: string, options: { hint?: string; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = "AftershockError";
    this.code = code;
    this.hint = options.hint;
  }
  /** One line for a human: what failed and what to do. */
  oneLine(): string {
    return this.hint ? `${this.message} (${this.hint})` : this.message;
  }
}

export interface CommandFailure {
  command: string;
  exitCode: number | undefined;
  signal: string | undefined;
  stderrTail: string;
  elapsedMs: number;
  budgetMs: number | undefined;
}

/** A command that failed or ran out of time: the command line, exit code, the end of stderr, and time vs budget. */
export class CommandError extends AftershockError implements CommandFailure {
  readonly command: string;
  readonly exitCode: number | undefined;
  readonly signal: string | undefined;
  readonly stderrTail: string;
  readonly elapsedMs: number;
  readonly budgetMs: number | undefined;
  constructor(f: CommandFailure) {
    const timedOut = f.budgetMs !== undefined && f.elapsedMs >= f.budgetMs && f.exitCode === undefined;
    const what = timedOut
      ? `did not finish within ${formatDuration(f.budgetMs ?? 0)}`
      : f.exitCode !== undefined
        ? `exited ${f.exitCode}${meaningOfExit(f.exitCode)}`
        : `was killed by ${f.signal ?? "a signal"}`;
    const tail = f.stderrTail.trim().split("\n").slice(-3).join(" | ");
    super(timedOut ? "E_TIMEOUT" : "E_COMMAND", `\`${f.command}\` ${what} after ${formatDuration(f.elapsedMs)}${tail ? `: ${tail}` : ""}`);
    this.name = "CommandError";
    this.command = f.command;
    this.exitCode = f.exitCode;
    this.signal = f.signal;
    this.stderrTail = f.stderrTail;
    this.elapsedMs = f.elapsedMs;
    this.budgetMs = f.budgetMs;
  }
}

function meaningOfExit(code: number): string {
  switch (code) {
    case 124:
      return " (timed out)";
    case 125:
      return " (docker: the daemon refused the command)";
    case 126:
      return " (not executable)";
    case 127:
      return " (command not found)";
    case 137:
      return " (killed, SIGKILL or out of memory)";
    case 143:
      return " (terminated, SIGTERM)";
    case 255:
      return " (ssh: no connection, or it dropped)";
    default:
      return "";
  }
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)}s`;
  const m = Math.floor(s / 60);
  const rest = Math.round(s - m * 60);
  if (m < 60) return `${m}m${String(rest).padStart(2, "0")}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, "0")}m`;
}

/**
 * A duration as a scenario and the author's kit write it: "90s", "5m", "250ms", "1h". The one way durations are
 * written in the kit's vocabulary (budgets, waits, `within`); a unit it does not know ("3x") does not compile.
 * parseDuration turns it into milliseconds.
 */
export type Duration = `${number}${"ms" | "s" | "m" | "h"}`;

/** A duration computed at run time (a remaining budget, a margin over a server-side timeout), written in milliseconds. */
export function ms(n: number): Duration {
  return `${Math.round(n)}ms`;
}

/** Text from outside the code (a flag, a file) checked to be a duration, as parseDuration reads it; the same one-line error when not. */
export function asDuration(text: string): Duration {
  parseDuration(text);
  return text as Duration;
}

/** Parses "90s", "5m", "1h30m", "250ms" into milliseconds. */
export function parseDuration(text: string): number {
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/g;
  let total = 0;
  let consumed = 0;
  for (const m of text.matchAll(re)) {
    const n = Number(m[1]);
    total += n * ({ ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const)[m[2] as "ms" | "s" | "m" | "h"];
    consumed += m[0].length;
  }
  if (consumed === 0 || consumed !== text.length) {
    throw new AftershockError("E_BAD_INPUT", `not a duration: "${text}" (use e.g. 90s, 5m, 1h30m)`);
  }
  return total;
}
