import { createHash } from "node:crypto";
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { chmod, mkdir, rename, writeFile } from "node:fs/promises";
import path from "node:path";
import { docker } from "../docker.js";
import { AftershockError, parseDuration, type Duration } from "../errors.js";
import type { Progress } from "../progress.js";
import { withStep } from "../progress.js";
import type { Published, PublishedKind, PublishedNodeImage } from "./published.js";

/**
 * Where a run's images come from, chosen once per run (--images): `build` compiles everything here and never
 * asks a registry; `pull` takes what is published (kind's node image and kind itself, pinned) and fails in one
 * line, before any container, when something is not; `auto` pulls what a registry answers for and builds the rest.
 * Aftershock's own small images (echo, the load generator) are built unless a team republished them.
 */
export const IMAGE_MODES = ["auto", "pull", "build"] as const;
export type ImagesMode = (typeof IMAGE_MODES)[number];

export function parseImagesMode(v: string | undefined): ImagesMode {
  if (v === undefined) return "auto";
  if ((IMAGE_MODES as readonly string[]).includes(v)) return v as ImagesMode;
  throw new AftershockError("E_BAD_INPUT", `--images must be one of ${IMAGE_MODES.join(", ")}, got "${v}"`);
}

/** How one thing a run needs was had: the journal and the report list one per image or tool. */
export interface Origin {
  /** "node image", "kind", or an image's local name. */
  what: string;
  /** The ref or path the run uses. */
  ref: string;
  how: "pulled" | "present" | "downloaded" | "built" | "cached" | "given";
  /** For pulled or present images the digest, for downloads the sha256, for built things the recipe (build key). */
  pin?: string;
  /** Why this way and not the other, in a few words. */
  why: string;
}

export type NodeImageChoice =
  { action: "pull"; entry: PublishedNodeImage; why: string } | { action: "build"; why: string } | { action: "refuse"; message: string; hint: string };

/**
 * Which way the node image of `version` comes, from facts alone: the mode, the host's cgroup version and what
 * is published. A pull that is asked for but cannot work is refused here, before anything is created.
 */
export function chooseNodeImage(mode: ImagesMode, version: string, cgroupVersion: 1 | 2, published: Published): NodeImageChoice {
  if (mode === "build") return { action: "build", why: "--images build" };
  const entry = published.nodeImages.find((e) => e.kubernetes === version);
  const listed = published.nodeImages.map((e) => e.kubernetes).join(", ") || "none";
  if (!entry) {
    const why = `no published node image for ${version} (${published.source} lists ${listed})`;
    return mode === "pull"
      ? { action: "refuse", message: `--images pull: ${why}`, hint: `pick one of those with --k8s-version, or use --images build` }
      : { action: "build", why };
  }
  if (cgroupVersion === 1 && !entry.cgroupV1) {
    const why = `${entry.ref.split("@")[0]} needs cgroup v2 (kind ${entry.kind} dropped cgroup v1 for Kubernetes 1.35+) and this host boots cgroup v1`;
    return mode === "pull" ? { action: "refuse", message: `--images pull: ${why}`, hint: "use --images build on this host" } : { action: "build", why };
  }
  return { action: "pull", entry, why: `published by ${published.source === "upstream" ? `kind ${entry.kind}` : published.source}` };
}

/** The one-line refusal of --images pull when the kind release that runs a published node image is not published. */
export function kindNotPublished(entry: PublishedNodeImage, published: Published): AftershockError {
  return new AftershockError("E_IMAGES", `--images pull: kind ${entry.kind}, which runs ${entry.ref.split("@")[0]}, is not published in ${published.source}`);
}

/** kind's published binary for `version`, if any. */
export function publishedKind(version: string, published: Published): PublishedKind | undefined {
  return published.kind.find((k) => k.version === version);
}

export interface PullResult {
  ok: boolean;
  /** The repo digest the local image has after the pull (name@sha256:…). */
  digest?: string;
  /** Why it failed, in one line. */
  reason?: string;
  ms: number;
}

/**
 * `docker pull ref`, where ref is pinned. A registry that does not answer within `answerWithin` (no line of progress)
 * is taken as unreachable and the pull is stopped; one that answers gets `total` to finish. Through the engine,
 * so its registry mirrors and credentials apply.
 */
export async function pullPinned(ref: string, opts: { answerWithin: Duration; total: Duration; onLine?: (l: string) => void }): Promise<PullResult> {
  const answerMs = parseDuration(opts.answerWithin);
  const totalMs = parseDuration(opts.total);
  const t0 = performance.now();
  if (await docker.imageExists(ref)) return { ok: true, digest: await repoDigest(ref), ms: performance.now() - t0 };
  const result = await new Promise<{ code: number | null; out: string; timedOut?: string }>((resolve) => {
    const child = spawn("docker", ["pull", ref], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let answered = false;
    let timedOut: string | undefined;
    const stop = (why: string) => {
      timedOut = why;
      child.kill("SIGTERM");
    };
    const answer = setTimeout(() => !answered && stop(`no answer from the registry within ${Math.round(answerMs / 1000)}s`), answerMs);
    const total = setTimeout(() => stop(`not pulled within ${Math.round(totalMs / 1000)}s`), totalMs);
    const take = (chunk: Buffer) => {
      const text = chunk.toString();
      out += text;
      for (const l of text.split("\n").filter((x) => x.trim())) {
        if (!/^Error|error/.test(l)) answered = true;
        opts.onLine?.(l.trim());
      }
    };
    child.stdout.on("data", take);
    child.stderr.on("data", (c: Buffer) => (out += c.toString()));
    child.on("close", (code) => {
      clearTimeout(answer);
      clearTimeout(total);
      resolve({ code, out, ...(timedOut ? { timedOut } : {}) });
    });
  });
  const ms = performance.now() - t0;
  if (result.code === 0 && !result.timedOut) return { ok: true, digest: await repoDigest(ref), ms };
  const last =
    result.timedOut ??
    result.out
      .trim()
      .split("\n")
      .pop()
      ?.replace(/^Error response from daemon:\s*/, "") ??
    "docker pull failed";
  return { ok: false, reason: last.length > 240 ? last.slice(0, 237) + "..." : last, ms };
}

async function repoDigest(ref: string): Promise<string | undefined> {
  const r = await docker.run(["image", "inspect", "--format", '{{join .RepoDigests " "}}', ref], { allowFailure: true });
  const want = ref.split("@")[1];
  const all = r.stdout.trim().split(/\s+/).filter(Boolean);
  return all.find((d) => want && d.endsWith(want)) ?? all[0];
}

/** kind's published binary when the cache holds it with the pinned sha256; never asks the network. */
export function cachedKind(entry: PublishedKind, cacheDir: string): string | undefined {
  const bin = path.join(cacheDir, "kind", entry.version, "kind");
  return existsSync(bin) && sha256(readFileSync(bin)) === entry.sha256 ? bin : undefined;
}

/**
 * kind's published binary in the cache (cacheDir/kind/<version>/kind), downloaded once and checked against its
 * sha256; a cached copy is checked again before use. Returns undefined with a reason when it cannot be had.
 */
export async function downloadKind(
  entry: PublishedKind,
  cacheDir: string,
  progress: Progress,
  budget: Duration = "3m",
): Promise<{ path: string; how: "downloaded" | "cached" } | { reason: string }> {
  const dir = path.join(cacheDir, "kind", entry.version);
  const bin = path.join(dir, "kind");
  if (cachedKind(entry, cacheDir)) return { path: bin, how: "cached" };
  const budgetMs = parseDuration(budget);
  try {
    const body = await withStep(progress, `Downloading kind ${entry.version} (${entry.url})`, budget, async () => {
      const res = await fetch(entry.url, { signal: AbortSignal.timeout(budgetMs) });
      if (!res.ok) throw new Error(`HTTP ${res.status} ${res.statusText}`);
      return Buffer.from(await res.arrayBuffer());
    });
    const got = sha256(body);
    if (got !== entry.sha256) return { reason: `${entry.url} has sha256 ${got.slice(0, 12)}…, not the pinned ${entry.sha256.slice(0, 12)}…` };
    await mkdir(dir, { recursive: true });
    await writeFile(`${bin}.part`, body);
    await chmod(`${bin}.part`, 0o755);
    await rename(`${bin}.part`, bin);
    return { path: bin, how: "downloaded" };
  } catch (e) {
    const cause = (e as Error).cause as { code?: string } | undefined;
    return { reason: `${entry.url}: ${cause?.code ?? (e as Error).message}` };
  }
}

function sha256(b: Buffer): string {
  return createHash("sha256").update(b).digest("hex");
}

/** The origins as the console shows them, one line each. */
export function describeOrigins(mode: ImagesMode, origins: readonly Origin[]): string[] {
  return [
    `images: --images ${mode}`,
    ...origins.map((o) => `  ${o.what}: ${o.how} ${o.ref}${o.pin && !o.ref.includes(o.pin) ? ` (${o.pin})` : ""} — ${o.why}`),
  ];
}

/**
 * What can be known about --images before anything runs: the published list parses, and under pull every version
 * has a node image that runs here. One line (E_IMAGES or E_BAD_INPUT) before the doctor, Docker or a build.
 */
export function checkImagesUpFront(mode: ImagesMode, versions: readonly string[], cgroupVersion: 1 | 2, published: Published, image?: string): void {
  if (mode !== "pull" || image) return;
  for (const v of versions) {
    const c = chooseNodeImage(mode, v, cgroupVersion, published);
    if (c.action === "refuse") throw new AftershockError("E_IMAGES", c.message, { hint: c.hint });
    if (c.action === "pull" && !publishedKind(c.entry.kind, published)) throw kindNotPublished(c.entry, published);
  }
}
