import { AftershockError, formatDuration, parseDuration, type Duration } from "./errors.js";

/** Injected time, so budgets can be tested without waiting. */
export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const realClock: Clock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
};

/**
 * The one poll-until-deadline loop: repeats `check` every `interval` (never sleeping past the deadline)
 * until it reports ok, and returns what it saw then; after `budget` it throws `onTimeout(lastSeen)` or an
 * E_TIMEOUT "<what> within <budget>; last seen: <what the last check saw>". A check is always made at least
 * once, and once more at the deadline.
 */
export async function pollUntil(
  what: string,
  budget: Duration,
  interval: Duration,
  check: () => Promise<{ ok: boolean; seen: string }>,
  opts: { clock?: Clock; onTimeout?: (lastSeen: string) => Error } = {},
): Promise<string> {
  const clock = opts.clock ?? realClock;
  const budgetMs = parseDuration(budget);
  const intervalMs = parseDuration(interval);
  const deadline = clock.now() + budgetMs;
  for (;;) {
    const r = await check();
    if (r.ok) return r.seen;
    if (clock.now() >= deadline) {
      throw opts.onTimeout?.(r.seen) ?? new AftershockError("E_TIMEOUT", `${what} within ${formatDuration(budgetMs)}; last seen: ${r.seen || "nothing"}`);
    }
    await clock.sleep(Math.min(intervalMs, Math.max(0, deadline - clock.now())));
  }
}
