import { AsyncLocalStorage } from "node:async_hooks";
import path from "node:path";
import { withLock } from "../lock.js";
import type { Progress } from "../progress.js";

/**
 * Builds into one cache take its lock, but finding what is already built does not: every `ensure…` first runs
 * in cache-only mode, where the first thing it would have to build throws `NotCached` instead, and only then
 * waits for the lock and runs for real. So a run whose images are all there starts at once while another
 * process (another run, or the background builds of the e2e tests) is building something else into the cache.
 */
const cacheOnly = new AsyncLocalStorage<true>();

/** Thrown in cache-only mode by the first step that would build something. */
export class NotCached extends Error {
  constructor(readonly what: string) {
    super(`not built yet: ${what}`);
  }
}

/** Called by each step just before it builds `what`: in cache-only mode it throws instead. */
export function aboutToBuild(what: string): void {
  if (cacheOnly.getStore()) throw new NotCached(what);
}

/** The lock directory of a cache's builds. */
export const buildLockDir = (cacheDir: string): string => path.join(cacheDir, "build.lock");

/** Runs `fn` without the lock if it finds everything it needs built, else with the cache's build lock. */
export async function withBuildLock<T>(cacheDir: string, progress: Progress, fn: () => Promise<T>): Promise<T> {
  if (cacheOnly.getStore()) return fn();
  try {
    return await cacheOnly.run(true, fn);
  } catch (e) {
    if (!(e instanceof NotCached)) throw e;
  }
  return withLock(buildLockDir(cacheDir), progress, fn);
}

/** Whether `ensure` finds everything it needs already built; builds nothing and takes no lock. */
export async function isBuilt(ensure: () => Promise<unknown>): Promise<boolean> {
  try {
    await cacheOnly.run(true, ensure);
    return true;
  } catch (e) {
    if (e instanceof NotCached) return false;
    throw e;
  }
}
