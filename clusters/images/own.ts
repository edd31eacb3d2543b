import { docker } from "../docker.js";
import { AftershockError } from "../errors.js";
import type { Progress } from "../progress.js";
import { withStep } from "../progress.js";
import type { Published } from "./published.js";
import { pullPinned, type ImagesMode, type Origin } from "./source.js";
import { ECHO_IMAGE, ensureEchoImage, ensureLoadGeneratorImage, LOAD_GENERATOR_IMAGE } from "./workloads.js";

/** Aftershock's images every run's nodes must have; Aftershock's node image preloads them, kind's does not. */
export const OWN_NODE_IMAGES: readonly string[] = [ECHO_IMAGE];

const BUILDERS: Record<string, (cacheDir: string, progress: Progress) => Promise<string>> = {
  [ECHO_IMAGE]: ensureEchoImage,
  [LOAD_GENERATOR_IMAGE]: ensureLoadGeneratorImage,
};

/**
 * One of Aftershock's own images in the host's Docker under its own name: pulled by digest and named locally where
 * a team republished it (AFTERSHOCK_PUBLISHED's `own`) and --images is not build, else built (small Go programs).
 */
export async function ownImage(ref: string, mode: ImagesMode, published: Published, cacheDir: string, progress: Progress): Promise<Origin> {
  const pinned = mode === "build" ? undefined : published.own[ref];
  if (pinned) {
    const pulled = await withStep(progress, `Pulling ${pinned}`, "5m", (s) =>
      pullPinned(pinned, { answerWithin: "30s", total: "5m", onLine: (l) => s.detail(l) }),
    );
    if (pulled.ok) {
      await docker.run(["tag", pinned, ref]);
      return { what: ref, ref: pinned, how: "pulled", ...(pulled.digest ? { pin: pulled.digest } : {}), why: `republished in ${published.source}` };
    }
    if (mode === "pull") throw new AftershockError("E_IMAGES", `--images pull: ${pinned} could not be pulled: ${pulled.reason}`);
    progress.info(`building ${ref} instead: ${pinned} could not be pulled (${pulled.reason})`);
  }
  const build = BUILDERS[ref];
  if (!build) throw new AftershockError("E_BUILD", `no recipe for Aftershock's image ${ref}`);
  const before = await imageId(ref);
  await build(cacheDir, progress);
  const after = await imageId(ref);
  const key = (await docker.imageLabels(ref))?.["aftershock.build-key"];
  return {
    what: ref,
    ref,
    how: before && before === after ? "cached" : "built",
    ...(key ? { pin: `build key ${key}` } : {}),
    why: pinned ? "its republished copy could not be pulled" : "Aftershock's own image, built here",
  };
}

async function imageId(ref: string): Promise<string | undefined> {
  const r = await docker.run(["image", "inspect", "--format", "{{.Id}}", ref], { allowFailure: true });
  return r.exitCode === 0 ? r.stdout.trim() : undefined;
}
