import { parseDuration } from "../../clusters/errors.js";
import { observe, type Probe } from "../model/probe.js";
import type { ScenarioContext } from "../model/context.js";
import { CommandLogTail, showCommand, type PlayerCommand } from "./commands.js";
import { clock, HINT_COST, HINT_EVERY_MS, nextAutoHintAt, type HintReveal } from "./score.js";

/**
 * The game terminal while the incident is live: a clock line every 10s, the player's commands as they are recorded
 * (`> <command>`), hints on `h` (and by themselves), `g` to give up, `q` or Ctrl-C to abort, and verification polled
 * in the background: when every health probe holds, `RECOVERED after mm:ss` and the game moves on by itself.
 */

/** How often verification is polled while the incident is open (AFTERSHOCK_GAMEDAY_POLL overrides it, e.g. "3s" in tests). */
export const POLL_MS = 7000;

/** The game's pace: how long until a hint shows itself, and how often recovery is polled. */
export interface GamePace {
  hintEveryMs: number;
  pollMs: number;
}

/** The pace from AFTERSHOCK_GAMEDAY_HINT_EVERY and AFTERSHOCK_GAMEDAY_POLL (durations such as "25s"), else the defaults. */
export function gamePace(env: NodeJS.ProcessEnv): GamePace {
  return {
    hintEveryMs: env.AFTERSHOCK_GAMEDAY_HINT_EVERY ? parseDuration(env.AFTERSHOCK_GAMEDAY_HINT_EVERY) : HINT_EVERY_MS,
    pollMs: env.AFTERSHOCK_GAMEDAY_POLL ? parseDuration(env.AFTERSHOCK_GAMEDAY_POLL) : POLL_MS,
  };
}

export interface SessionOptions {
  hints: string[];
  /** Health probes, each asked once per poll. */
  probes: Probe[];
  commandLog: string;
  write: (line: string) => void;
  /** Called on q or Ctrl-C, after the session has stopped (the caller hands over to the signal handling). */
  onAbort: () => void;
  hintEveryMs: number;
  pollMs?: number;
  clockMs?: number;
  tailMs?: number;
  now?: () => number;
}

export type SessionEnd = "recovered" | "gave-up";

export class GameSession {
  readonly pagedAt: number;
  readonly reveals: (HintReveal & { text: string })[] = [];
  readonly commands: PlayerCommand[] = [];
  recoveredAt?: number;
  gaveUpAt?: number;
  abortedAt?: number;
  /** Health probes holding at the last poll (of probes.length), unset before the first poll ends. */
  passing?: number;
  private stopped = false;
  private timers: NodeJS.Timeout[] = [];
  private wake?: () => void;
  private finish?: (e: SessionEnd) => void;
  private readonly tail: CommandLogTail;
  private readonly now: () => number;

  constructor(private readonly o: SessionOptions) {
    this.now = o.now ?? Date.now;
    this.pagedAt = this.now();
    this.tail = new CommandLogTail(o.commandLog);
  }

  private elapsed(at = this.now()): string {
    return clock(at - this.pagedAt);
  }

  /** Runs until recovered or given up; q and Ctrl-C stop it and call onAbort (it then never resolves). */
  play(ctx: ScenarioContext): Promise<SessionEnd> {
    const ended = new Promise<SessionEnd>((resolve) => (this.finish = resolve));
    this.timers.push(setInterval(() => this.printClock(), this.o.clockMs ?? 10_000));
    this.timers.push(setInterval(() => this.tick(), this.o.tailMs ?? 1000));
    this.printClock();
    void this.pollLoop(ctx);
    return ended;
  }

  /** One key from the terminal (raw mode). */
  key(k: string): void {
    if (this.stopped) return;
    if (k === "h" || k === "H") this.reveal("asked");
    else if (k === "g" || k === "G") this.giveUp();
    else if (k === "q" || k === "Q" || k === "\u0003") this.abort();
  }

  /** Auto hints and new commands; called every second. */
  tick(): void {
    if (this.stopped) return;
    for (const c of this.tail.read()) {
      this.commands.push(c);
      this.o.write(`> ${showCommand(c)}`);
    }
    const due = nextAutoHintAt(this.pagedAt, this.reveals, this.o.hints.length, this.o.hintEveryMs);
    if (due !== undefined && this.now() >= due) this.reveal("auto");
  }

  printClock(): void {
    if (this.stopped) return;
    const next = nextAutoHintAt(this.pagedAt, this.reveals, this.o.hints.length, this.o.hintEveryMs);
    const checks = this.passing === undefined ? "checking health" : `health checks passing ${this.passing}/${this.o.probes.length}`;
    const hints = `hints ${this.reveals.length}/${this.o.hints.length}${next !== undefined ? `, next by itself in ${clock(next - this.now())}` : ""}`;
    this.o.write(`[${this.elapsed()}] incident open · ${checks} · ${hints} · keys: h hint, g give up, q abort`);
  }

  reveal(how: "asked" | "auto"): void {
    const n = this.reveals.length + 1;
    if (n > this.o.hints.length) {
      this.o.write(`no more hints (${this.o.hints.length}/${this.o.hints.length} shown)`);
      return;
    }
    const text = this.o.hints[n - 1]!;
    this.reveals.push({ n, at: this.now(), how, text });
    const [first, ...rest] = text.split("\n");
    this.o.write(`HINT ${n}/${this.o.hints.length}: ${first}${how === "asked" ? `   (−${HINT_COST} points)` : "   (came by itself, free)"}`);
    for (const l of rest) this.o.write(`    ${l}`);
  }

  private giveUp(): void {
    this.gaveUpAt = this.now();
    this.stop();
    this.o.write(`GAVE UP after ${this.elapsed(this.gaveUpAt)}: the runbook recovers the cluster now`);
    this.finish?.("gave-up");
  }

  private abort(): void {
    this.abortedAt = this.now();
    this.stop();
    this.o.write(`ABORTED after ${this.elapsed(this.abortedAt)}: cleaning up`);
    this.o.onAbort();
  }

  private async pollLoop(ctx: ScenarioContext): Promise<void> {
    while (!this.stopped) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, this.o.pollMs ?? POLL_MS);
        this.wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      if (this.stopped) return;
      const seen = await Promise.all(this.o.probes.map((p) => observe(p, ctx)));
      if (this.stopped) return;
      this.passing = seen.filter((o) => o.ok).length;
      if (this.passing === this.o.probes.length) {
        this.recoveredAt = this.now();
        this.tick(); // the last commands before recovery, in order
        this.stop();
        this.o.write(`RECOVERED after ${this.elapsed(this.recoveredAt)}`);
        this.finish?.("recovered");
        return;
      }
    }
  }

  /** Stops the clock, the tail, the hints and the polling (a poll under way is ignored). Harmless to repeat. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    this.wake?.();
  }

  /** Commands recorded since the last read (after the session: for the debrief). */
  drain(): PlayerCommand[] {
    const more = this.tail.read();
    this.commands.push(...more);
    return more;
  }
}

/**
 * Reads single keys from a terminal in raw mode and hands them to `onKey`; returns the function that puts the
 * terminal back (also done when the process exits, whatever the way out).
 */
export function bindKeys(stdin: NodeJS.ReadStream, onKey: (k: string) => void): () => void {
  const raw = !!stdin.isTTY && typeof stdin.setRawMode === "function";
  const restore = () => {
    if (raw && stdin.isRaw) stdin.setRawMode(false);
  };
  // Keys typed ahead while the cluster was prepared (a stray "g" …) arrive at once; they are not for the game.
  const armedAt = Date.now() + 100;
  const onData = (b: Buffer | string) => {
    if (Date.now() < armedAt) return;
    for (const k of String(b)) onKey(k);
  };
  if (raw) stdin.setRawMode(true);
  stdin.setEncoding("utf8");
  stdin.on("data", onData);
  stdin.resume();
  process.on("exit", restore);
  return () => {
    stdin.off("data", onData);
    restore();
    stdin.pause();
    process.off("exit", restore);
  };
}
