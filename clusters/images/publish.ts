import { copyFile, mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { docker } from "../docker.js";
import { AftershockError } from "../errors.js";
import type { Progress } from "../progress.js";
import { withStep } from "../progress.js";
import { profileFor } from "../versions.js";
import { ensureNodeImage } from "./builder.js";
import type { Published } from "./published.js";
import { ECHO_IMAGE, ensureEchoImage, ensureLoadGeneratorImage, LOAD_GENERATOR_IMAGE } from "./workloads.js";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";

export interface PublishOptions {
  /** host:port of the registry to push to. */
  registry: string;
  kubernetesVersion: string;
  cacheDir: string;
  progress: Progress;
  /**
   * The registry is the host's Docker mirror of docker.io: the node image is listed under the name a user pulls
   * (kindest/node:…), which the mirror answers for, rather than under the registry's own address.
   */
  asMirror: boolean;
  /** Where kind's binary is laid out for a static file server (<dir>/<version>/kind-linux-amd64), and its URL base. */
  kind?: { dir: string; url: string };
}

/**
 * Aftershock's built images pushed once to a team's registry, and the list (AFTERSHOCK_PUBLISHED's shape) that
 * lets every other machine pull them by digest instead of building: the node image (as kindest/node, which it
 * stands in for), echo and the load generator; kind's binary, when a file server is named for it.
 */
export async function publishImages(o: PublishOptions): Promise<Published> {
  const node = await ensureNodeImage({ kubernetesVersion: o.kubernetesVersion, cacheDir: o.cacheDir, progress: o.progress });
  await ensureEchoImage(o.cacheDir, o.progress);
  await ensureLoadGeneratorImage(o.cacheDir, o.progress);
  const nodeRepo = `kindest/node:${o.kubernetesVersion}`;
  const nodeDigest = await push(node.ref, `${o.registry}/${nodeRepo}`, o.progress);
  const own: Record<string, string> = {};
  for (const ref of [ECHO_IMAGE, LOAD_GENERATOR_IMAGE]) {
    const target = `${o.registry}/aftershock/${ref.split("/").pop()!}`;
    own[ref] = `${target}@${await push(ref, target, o.progress)}`;
  }
  const kindVersion = profileFor(o.kubernetesVersion)?.kind;
  if (!kindVersion) throw new AftershockError("E_BAD_VERSION", `no kind release is known for ${o.kubernetesVersion}`);
  const kind = [];
  if (o.kind) {
    const dir = path.join(o.kind.dir, kindVersion);
    await mkdir(dir, { recursive: true });
    await copyFile(node.kindBinary, path.join(dir, "kind-linux-amd64"));
    const sha256 = createHash("sha256").update(readFileSync(node.kindBinary)).digest("hex");
    await writeFile(path.join(dir, "kind-linux-amd64.sha256sum"), `${sha256}  kind-linux-amd64\n`);
    kind.push({ version: kindVersion, url: `${o.kind.url.replace(/\/$/, "")}/${kindVersion}/kind-linux-amd64`, sha256 });
  }
  return {
    source: `${o.registry}${o.asMirror ? " (Docker's mirror of docker.io)" : ""}`,
    nodeImages: [
      {
        kubernetes: o.kubernetesVersion,
        kind: kindVersion,
        ref: `${o.asMirror ? nodeRepo : `${o.registry}/${nodeRepo}`}@${nodeDigest}`,
        // Aftershock's node image runs on either cgroup version.
        cgroupV1: true,
      },
    ],
    kind,
    own,
  };
}

/** docker tag + push; returns the digest the registry stored (sha256:…). */
async function push(local: string, target: string, progress: Progress): Promise<string> {
  await docker.run(["tag", local, target]);
  try {
    const r = await withStep(progress, `Pushing ${local} as ${target}`, "10m", () => docker.run(["push", target], { timeout: "10m" }));
    const digest = /digest: (sha256:[0-9a-f]{64})/.exec(r.stdout)?.[1];
    if (!digest) throw new AftershockError("E_BUILD", `docker push ${target} printed no digest: ${r.stdout.trim().split("\n").pop() ?? ""}`);
    return digest;
  } finally {
    // The registry's name was only the way there: the host keeps Aftershock's own name alone.
    await docker.run(["rmi", target], { allowFailure: true });
  }
}
