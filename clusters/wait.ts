import { AftershockError, formatDuration } from "./errors.js";

/**
 * Repeats `check` every `intervalMs` until it reports ok, or throws E_TIMEOUT after `budgetMs` with
 * "<what> within <budget>; last seen: <what the last check saw>".
 */
export async function pollUntil(what: string, budgetMs: number, intervalMs: number, check: () => Promise<{ ok: boolean; seen: string }>): Promise<void> {
  const deadline = Date.now() + budgetMs;
  let last = "";
  while (Date.now() < deadline) {
    const r = await check();
    if (r.ok) return;
    last = r.seen;
    await new Promise((res) => setTimeout(res, intervalMs));
  }
  throw new AftershockError("E_TIMEOUT", `${what} within ${formatDuration(budgetMs)}; last seen: ${last || "nothing"}`);
}
