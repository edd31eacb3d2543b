import { spawn } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { aboutToBuild, buildLockDir, isBuilt, NotCached, withBuildLock } from "../../clusters/images/build-lock.js";
import { RecordingProgress } from "../../clusters/progress.js";

const silentProgress = new RecordingProgress();

/** A cache whose build lock is held by another live process (a `sleep`), as a background build holds it. */
async function cacheLockedByAnother(): Promise<{ cacheDir: string; release: () => void }> {
  const cacheDir = await mkdtemp(path.join(tmpdir(), "build-lock-"));
  const holder = spawn("sleep", ["60"], { stdio: "ignore" });
  await mkdir(buildLockDir(cacheDir));
  await writeFile(path.join(buildLockDir(cacheDir), "pid"), String(holder.pid));
  dirs.push(cacheDir);
  return { cacheDir, release: () => holder.kill("SIGKILL") };
}
const dirs: string[] = [];
/** Resolves once `cond` holds, polling; the test's timeout is the hang guard. */
const until = async (cond: () => boolean): Promise<void> => {
  while (!cond()) await new Promise((r) => setTimeout(r, 20));
};
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

describe("the build lock", () => {
  it("lets a run whose images are all built go on while another process holds the lock", async () => {
    const { cacheDir, release } = await cacheLockedByAnother();
    try {
      // Not a time (a busy machine makes any fast path slow): the run ends while the lock is still held, and it
      // never waited for it (withLock says "waiting for pid …" the moment it finds the lock taken).
      const progress = new RecordingProgress();
      const run = withBuildLock(cacheDir, progress, async () => "found");
      let ended = false;
      void run.then(
        () => (ended = true),
        () => (ended = true),
      );
      await until(() => ended || progress.lines.length > 0);
      expect(progress.lines).toEqual([]);
      expect(await run).toBe("found");
    } finally {
      release();
    }
  });

  it("makes a run that must build wait for the lock, then run for real", async () => {
    const { cacheDir, release } = await cacheLockedByAnother();
    const passes: string[] = [];
    let settled = false;
    const progress = new RecordingProgress();
    const run = withBuildLock(cacheDir, progress, async () => {
      passes.push("pass");
      aboutToBuild("etcd v3.7.0");
      return "built";
    }).finally(() => (settled = true));
    // Until it says it waits for the holder (not a fixed 2.5 s, which a busy machine can spend before the first pass).
    await until(() => progress.lines.length > 0 || settled);
    // The cache-only pass stopped at the build; the real one waits for the holder.
    expect([passes.length, settled, progress.lines]).toEqual([1, false, [expect.stringMatching(/^info waiting for pid \d+, which is building images/)]]);
    release();
    expect(await run).toBe("built");
    expect(passes.length).toBe(2);
  });

  it("says whether something is built without building it or taking the lock", async () => {
    const { cacheDir, release } = await cacheLockedByAnother();
    try {
      let built = false;
      expect(
        await isBuilt(() =>
          withBuildLock(cacheDir, silentProgress, async () => {
            aboutToBuild("traefik");
            built = true;
          }),
        ),
      ).toBe(false);
      expect(built).toBe(false);
      expect(await isBuilt(() => withBuildLock(cacheDir, silentProgress, async () => undefined))).toBe(true);
    } finally {
      release();
    }
  });

  it("passes other errors of the cache-only pass through", async () => {
    await expect(
      withBuildLock(await mkdtemp(path.join(tmpdir(), "build-lock-")), silentProgress, async () => Promise.reject(new Error("bad recipe"))),
    ).rejects.toThrow("bad recipe");
    expect(() => aboutToBuild("x")).not.toThrow(NotCached);
  });
});
