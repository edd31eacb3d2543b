import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { AftershockError, parseDuration, type Duration } from "./errors.js";
import type { Progress } from "./progress.js";
import { isAlive } from "./process.js";

/**
 * A lock directory holding the owner's pid: two runs never build into the same cache at once, and a lock
 * left by a dead process is taken over.
 */
export async function withLock<T>(
  lockDir: string,
  progress: Progress,
  fn: () => Promise<T>,
  budget: Duration = "90m",
  doing = "building images into the same cache",
): Promise<T> {
  await mkdir(path.dirname(lockDir), { recursive: true });
  const budgetMs = parseDuration(budget);
  const started = Date.now();
  let told = false;
  for (;;) {
    try {
      await mkdir(lockDir);
      await writeFile(path.join(lockDir, "pid"), String(process.pid));
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      const owner = Number(await readFile(path.join(lockDir, "pid"), "utf8").catch(() => "0"));
      if (!owner || !isAlive(owner)) {
        await rm(lockDir, { recursive: true, force: true });
        continue;
      }
      if (Date.now() - started > budgetMs) {
        throw new AftershockError("E_TIMEOUT", `another Aftershock process (pid ${owner}) held ${lockDir} for longer than ${budget}`);
      }
      if (!told) {
        progress.info(`waiting for pid ${owner}, which is ${doing}`);
        told = true;
      }
      await new Promise((r) => setTimeout(r, 2000));
    }
  }
  try {
    return await fn();
  } finally {
    await rm(lockDir, { recursive: true, force: true });
  }
}
