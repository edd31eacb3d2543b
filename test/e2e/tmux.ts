import { execFileSync, spawnSync } from "node:child_process";
import { until } from "./helpers.js";

/**
 * A tmux session as a person's terminal for a test: keys typed with send-keys, the screen read with capture-pane.
 * Windows are numbered from 0; a new window opens in `cwd`.
 */
export interface TmuxSession extends Disposable {
  readonly name: string;
  /** What window `w` shows, with its scrollback (joined lines). */
  screen(w: number): string;
  /** Types `text` and Enter in window `w`. */
  type(w: number, text: string): void;
  /** Waits for `what` on window `w`'s screen within the budget. */
  seen(w: number, what: RegExp | string, budgetMs: number): Promise<void>;
  /** Presses one key (tmux's key name) in window `w`. */
  key(w: number, key: string): void;
  newWindow(): void;
  /** Every window's screen, for a failed test's output. */
  dump(): string;
  /** Ends the session (spawnSync: never throws); harmless to repeat. [Symbol.dispose] does the same. */
  kill(): void;
}

/** Installs tmux with apt-get when it is missing and this is root (as the e2e setup does for its other tools). */
export function ensureTmux(): void {
  if (!spawnSync("sh", ["-c", "command -v tmux"]).stdout.length && process.getuid?.() === 0)
    execFileSync("sh", ["-c", "DEBIAN_FRONTEND=noninteractive apt-get install -y -q tmux >/dev/null"], { stdio: "inherit" });
}

export function tmuxSession(name: string, cwd: string, size = { x: 200, y: 50 }): TmuxSession {
  const tmux = (...args: string[]) => execFileSync("tmux", args, { encoding: "utf8" });
  const screen = (w: number) => tmux("capture-pane", "-p", "-J", "-S", "-5000", "-t", `${name}:${w}`);
  let windows = 1;
  tmux("new-session", "-d", "-s", name, "-x", String(size.x), "-y", String(size.y), "-c", cwd);
  return {
    name,
    screen,
    type(w, text) {
      tmux("send-keys", "-t", `${name}:${w}`, "-l", text);
      tmux("send-keys", "-t", `${name}:${w}`, "Enter");
    },
    seen: (w, what, budgetMs) =>
      until(() => (typeof what === "string" ? screen(w).includes(what) : what.test(screen(w))), budgetMs, `${what} in tmux window ${w}`),
    key: (w, key) => void tmux("send-keys", "-t", `${name}:${w}`, key),
    newWindow() {
      tmux("new-window", "-t", name, "-c", cwd);
      windows++;
    },
    dump: () =>
      [...Array(windows).keys()]
        .map(
          (w) =>
            `--- tmux window ${w} ---\n${spawnSync("tmux", ["capture-pane", "-p", "-J", "-S", "-5000", "-t", `${name}:${w}`], { encoding: "utf8" }).stdout}`,
        )
        .join("\n"),
    kill: () => void spawnSync("tmux", ["kill-session", "-t", name]),
    [Symbol.dispose]: () => void spawnSync("tmux", ["kill-session", "-t", name]),
  };
}
