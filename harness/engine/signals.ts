import { pendingTeardowns, runTeardowns } from "../../clusters/teardown.js";

/**
 * Ctrl-C and SIGTERM: run every registered teardown (newest first), then exit 130/143. A second Ctrl-C
 * exits at once; the run's reaper process and `pnpm gc` still remove what is left.
 */
let stoppingNow = false;

/** Whether Ctrl-C or SIGTERM came: a suite starts no further run then (the teardowns are already running). */
export const isStopping = (): boolean => stoppingNow;

export function installSignalHandlers(write: (s: string) => void = (s) => process.stderr.write(s + "\n")): void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals) => {
    const code = signal === "SIGINT" ? 130 : 143;
    if (stopping) {
      write(`aftershock: ${signal} again, exiting now; the reaper (or pnpm gc) removes what is left`);
      process.exit(code);
    }
    stopping = true;
    stoppingNow = true;
    const pending = pendingTeardowns();
    write(`aftershock: ${signal} received, cleaning up ${pending.length ? pending.join(", ") : "(nothing to clean)"} …`);
    void runTeardowns((title, e) => write(`aftershock: teardown "${title}" failed: ${String(e)}`)).finally(() => process.exit(code));
  };
  process.on("SIGINT", handler);
  process.on("SIGTERM", handler);
}
