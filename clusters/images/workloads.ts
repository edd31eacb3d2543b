import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { copyFile, mkdir, mkdtemp, rm } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { docker } from "../docker.js";
import { AftershockError } from "../errors.js";
import { aboutToBuild, withBuildLock } from "./build-lock.js";
import type { Progress } from "../progress.js";
import { withStep } from "../progress.js";
import { PINNED } from "../versions.js";
import { dockerBuild, ensureRootfs, TOOLS_PACKAGES } from "./builder.js";
import { buildGoComponent, upstreamReplaces, type GoComponent } from "./go-build.js";
import { echoComponent } from "./recipes.js";

const here = path.dirname(fileURLToPath(import.meta.url));

/**
 * The catalogue of workload images: built on this machine (no registry is needed) and handed to a
 * cluster through its image-loading capability. A scenario names the refs it runs in `images`.
 */
export const WORKLOAD_IMAGES = {
  /** components/app: an HTTP server with a slow start and a config file it must read; busybox as /bin/sh. */
  app: `${PINNED.localRegistry}/app:v1`,
  /** Traefik, an Ingress controller (MIT), built from its Go module: the ingress of the Service/Ingress scenarios. */
  traefik: `${PINNED.localRegistry}/traefik:${PINNED.traefik}`,
  /** components/ledger: a JVM service (Debian's headless OpenJDK 17) whose off-heap cache outgrows its memory limit. */
  ledger: `${PINNED.localRegistry}/ledger:v1`,
} as const;

/**
 * The load generator: vegeta (MIT) from its Go module, with busybox as /bin/sh so a side container can pipe
 * `vegeta attack` into `vegeta encode`. It runs beside a cluster on its network (never inside it), so it is
 * not in the workload catalogue that clusters load.
 */
export const LOAD_GENERATOR_IMAGE = `${PINNED.localRegistry}/vegeta:${PINNED.vegeta}`;

const vegetaComponent: GoComponent = {
  name: "vegeta",
  version: PINNED.vegeta,
  requires: [{ module: "github.com/tsenart/vegeta/v12", version: PINNED.vegeta }],
  outputs: [{ pkg: "github.com/tsenart/vegeta/v12", bin: "vegeta" }],
  ldflags: `-X main.Version=${PINNED.vegeta}`,
  budget: "3m",
};

/** Builds the load generator's image unless the local one is current. */
export async function ensureLoadGeneratorImage(cacheDir: string, progress: Progress): Promise<string> {
  await withBuildLock(cacheDir, progress, async () => {
    const vegeta = await buildGoComponent(vegetaComponent, cacheDir, progress);
    const busybox = await busyboxBinary(cacheDir, progress);
    await buildUnlessCurrent(LOAD_GENERATOR_IMAGE, digestOf(readFileSync(vegeta.bins.vegeta!), readFileSync(busybox)), { cacheDir, progress }, async () => ({
      from: "scratch",
      files: [
        { src: vegeta.bins.vegeta!, dest: "/vegeta" },
        { src: busybox, dest: "/bin/sh" },
      ],
      instructions: ['ENTRYPOINT ["/vegeta"]'],
    }));
  });
  return LOAD_GENERATOR_IMAGE;
}

/** Debian's headless OpenJDK (javac and jcmd come with it): the ledger image's base, and what compiles it. */
export const JVM_PACKAGES = [PINNED.openjdk];

export type WorkloadImage = (typeof WORKLOAD_IMAGES)[keyof typeof WORKLOAD_IMAGES];

const appComponent: GoComponent = {
  name: "app",
  version: "v1",
  localSource: path.join(here, "components", "app"),
  outputs: [{ pkg: ".", bin: "app" }],
  budget: "2m",
};

/**
 * Traefik from its published module. Its go.mod replaces three forks, which Go ignores in a dependency, so
 * the wrapper module repeats them (read from the upstream go.mod, as for Kubernetes).
 */
async function traefikComponent(): Promise<GoComponent> {
  const replaces = await upstreamReplaces("github.com/traefik/traefik/v3", PINNED.traefik, (target, v) =>
    target.startsWith("./") || !v ? undefined : { target, version: v },
  );
  return {
    name: "traefik",
    version: PINNED.traefik,
    requires: [{ module: "github.com/traefik/traefik/v3", version: PINNED.traefik }],
    replaces,
    outputs: [{ pkg: "github.com/traefik/traefik/v3/cmd/traefik", bin: "traefik" }],
    ldflags: `-X github.com/traefik/traefik/v3/pkg/version.Version=${PINNED.traefik}`,
    budget: "30m",
  };
}

/** Makes sure every named workload image exists in the local Docker; builds the missing or outdated ones. */
export async function ensureWorkloadImages(refs: readonly string[], cacheDir: string, progress: Progress): Promise<void> {
  const known = Object.values(WORKLOAD_IMAGES) as string[];
  const unknown = refs.filter((r) => !known.includes(r));
  if (unknown.length)
    throw new AftershockError("E_BAD_INPUT", `not in the workload image catalogue: ${unknown.join(", ")}`, { hint: `known: ${known.join(", ")}` });
  if (!refs.length) return;
  await withBuildLock(cacheDir, progress, async () => {
    if (refs.includes(WORKLOAD_IMAGES.app)) await ensureAppImage(cacheDir, progress);
    if (refs.includes(WORKLOAD_IMAGES.traefik)) await ensureTraefikImage(cacheDir, progress);
    if (refs.includes(WORKLOAD_IMAGES.ledger)) await ensureLedgerImage(cacheDir, progress);
  });
}

/**
 * Builds a workload image unless the local one already carries `key` (a digest of what goes into it) as its
 * build-key label. `build` prepares a scratch directory (inside the step, so its time is counted) and says what
 * to build from it.
 */
async function buildUnlessCurrent(
  ref: string,
  key: string,
  o: { title?: string; cacheDir: string; progress: Progress },
  build: (work: string) => Promise<{ from: string; files: { src: string; dest: string }[]; instructions: string[] }>,
): Promise<void> {
  if ((await docker.imageLabels(ref))?.["aftershock.build-key"] === key) return;
  aboutToBuild(ref);
  const work = await mkdtemp(path.join(o.cacheDir, "workload-"));
  try {
    await withStep(o.progress, o.title ?? `Workload image ${ref}`, "3m", async () => {
      const b = await build(work);
      await dockerBuild(work, ref, b.from, b.files, [...b.instructions, `LABEL aftershock.build-key=${key}`]);
    });
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

const digestOf = (...parts: (string | Buffer)[]) =>
  parts
    .reduce((h, p) => h.update(p), createHash("sha256"))
    .digest("hex")
    .slice(0, 16);

async function ensureAppImage(cacheDir: string, progress: Progress): Promise<void> {
  const app = await buildGoComponent(appComponent, cacheDir, progress);
  const busybox = await busyboxBinary(cacheDir, progress);
  await buildUnlessCurrent(WORKLOAD_IMAGES.app, digestOf(readFileSync(app.bins.app!), readFileSync(busybox)), { cacheDir, progress }, async () => ({
    from: "scratch",
    files: [
      { src: app.bins.app!, dest: "/app/server" },
      { src: busybox, dest: "/bin/sh" },
    ],
    instructions: ['ENTRYPOINT ["/app/server"]'],
  }));
}

async function ensureTraefikImage(cacheDir: string, progress: Progress): Promise<void> {
  const traefik = await buildGoComponent(await traefikComponent(), cacheDir, progress);
  await buildUnlessCurrent(WORKLOAD_IMAGES.traefik, digestOf(readFileSync(traefik.bins.traefik!)), { cacheDir, progress }, async () => ({
    from: "scratch",
    files: [{ src: traefik.bins.traefik!, dest: "/traefik" }],
    instructions: ['ENTRYPOINT ["/traefik"]'],
  }));
}

/**
 * The ledger service: compiled with the JDK of a Debian rootfs (in a throwaway container), and run on that
 * rootfs as `java $JAVA_OPTS -jar /app/ledger.jar`, so a Deployment sets the JVM's flags in JAVA_OPTS.
 */
async function ensureLedgerImage(cacheDir: string, progress: Progress): Promise<void> {
  const ref = WORKLOAD_IMAGES.ledger;
  const src = path.join(here, "components", "ledger", "Ledger.java");
  const rootfs = await ensureRootfs("jvm", JVM_PACKAGES, cacheDir, progress);
  await buildUnlessCurrent(ref, digestOf(readFileSync(src), rootfs), { title: `Workload image ${ref} (javac, jar)`, cacheDir, progress }, async (work) => {
    await mkdir(path.join(work, "src"));
    await copyFile(src, path.join(work, "src", "Ledger.java"));
    await docker.run(
      [
        "run",
        "--rm",
        "--network=none",
        "-v",
        `${work}:/w`,
        rootfs,
        "sh",
        "-c",
        "javac -d /w/classes /w/src/Ledger.java && jar --create --file /w/ledger.jar --main-class Ledger -C /w/classes .",
      ],
      { timeout: "3m" },
    );
    return {
      from: rootfs,
      files: [{ src: path.join(work, "ledger.jar"), dest: "/app/ledger.jar" }],
      instructions: ['ENTRYPOINT ["/bin/sh", "-c", "exec java $JAVA_OPTS -jar /app/ledger.jar"]'],
    };
  });
}

/** busybox-static from the tools rootfs (Debian's package): the shell of the workload images. */
async function busyboxBinary(cacheDir: string, progress: Progress): Promise<string> {
  const rootfs = await ensureRootfs("tools", TOOLS_PACKAGES, cacheDir, progress);
  const out = path.join(cacheDir, "busybox", `busybox-${rootfs.split(":").pop()}`);
  if (existsSync(out)) return out;
  aboutToBuild("busybox");
  await mkdir(path.dirname(out), { recursive: true });
  const id = (await docker.run(["create", rootfs, "/bin/busybox"])).stdout.trim();
  try {
    await docker.run(["cp", `${id}:/bin/busybox`, out]);
  } finally {
    await docker.run(["rm", "-f", id], { allowFailure: true });
  }
  return out;
}

/** The echo HTTP server (components/echo): the Service most scenarios put load on. In Aftershock's node image it is preloaded. */
export const ECHO_IMAGE = `${PINNED.localRegistry}/echo:v1`;

/** Builds the echo image on the host unless the local one is current: for node images that do not carry it (kind's own). */
export async function ensureEchoImage(cacheDir: string, progress: Progress): Promise<string> {
  await withBuildLock(cacheDir, progress, async () => {
    const echo = await buildGoComponent(echoComponent(), cacheDir, progress);
    await buildUnlessCurrent(ECHO_IMAGE, digestOf(readFileSync(echo.bins.echo!)), { title: `Image ${ECHO_IMAGE}`, cacheDir, progress }, async () => ({
      from: "scratch",
      files: [{ src: echo.bins.echo!, dest: "/echo" }],
      instructions: ['ENTRYPOINT ["/echo"]'],
    }));
  });
  return ECHO_IMAGE;
}
