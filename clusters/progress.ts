import { formatDuration, parseDuration, type Duration } from "./errors.js";

/**
 * Progress for long steps, written for people: one line when a step starts (with its budget), a heartbeat
 * while it runs, one line when it ends. Works the same on a terminal and in a CI log.
 */
export interface Progress {
  /** Starts a step; `budget` is shown so nobody wonders how long to wait. */
  step(title: string, budget?: Duration): StepHandle;
  info(message: string): void;
  warn(message: string): void;
}

export interface StepHandle {
  /** Latest detail (e.g. the last line a build printed); shown in the next heartbeat. */
  detail(text: string): void;
  done(summary?: string): void;
  skip(reason: string): void;
  fail(reason: string): void;
}

export class ConsoleProgress implements Progress {
  constructor(
    private readonly write: (line: string) => void = (l) => process.stderr.write(l + "\n"),
    private readonly heartbeat: Duration = "30s",
    private readonly indent = "",
  ) {}

  step(title: string, budget?: Duration): StepHandle {
    const started = performance.now();
    const shown = budget ? ` (budget ${formatDuration(parseDuration(budget))})` : "";
    this.write(`${this.indent}• ${title}${shown} …`);
    let last = "";
    const timer = setInterval(() => {
      const elapsed = formatDuration(performance.now() - started);
      this.write(`${this.indent}  … ${title}: ${elapsed}${last ? ` — ${last}` : ""}`);
    }, parseDuration(this.heartbeat));
    timer.unref();
    const end = (mark: string, text: string) => {
      clearInterval(timer);
      this.write(`${this.indent}${mark} ${title}${text} [${formatDuration(performance.now() - started)}]`);
    };
    return {
      detail: (t) => {
        last = t.length > 160 ? t.slice(0, 157) + "..." : t;
      },
      done: (summary) => end("✓", summary ? `: ${summary}` : ""),
      skip: (reason) => end("↷", `: ${reason}`),
      fail: (reason) => end("✗", `: ${reason}`),
    };
  }

  info(message: string): void {
    this.write(`${this.indent}  ${message}`);
  }
  warn(message: string): void {
    this.write(`${this.indent}! ${message}`);
  }
}

/** Progress that records instead of printing; for tests and quiet runs. */
export class RecordingProgress implements Progress {
  readonly lines: string[] = [];
  step(title: string): StepHandle {
    this.lines.push(`start ${title}`);
    return {
      detail: () => {},
      done: (s) => void this.lines.push(`done ${title}${s ? `: ${s}` : ""}`),
      skip: (r) => void this.lines.push(`skip ${title}: ${r}`),
      fail: (r) => void this.lines.push(`fail ${title}: ${r}`),
    };
  }
  info(m: string): void {
    this.lines.push(`info ${m}`);
  }
  warn(m: string): void {
    this.lines.push(`warn ${m}`);
  }
}

/** Runs `fn` as a step: done on success, fail (and rethrow) on error. */
export async function withStep<T>(p: Progress, title: string, budget: Duration | undefined, fn: (s: StepHandle) => Promise<T>): Promise<T> {
  const s = p.step(title, budget);
  try {
    const r = await fn(s);
    s.done();
    return r;
  } catch (e) {
    s.fail(e instanceof Error ? e.message.split("\n")[0]! : String(e));
    throw e;
  }
}
