import { readFileSync } from "node:fs";
import { AftershockError } from "../errors.js";

/**
 * What registries and download sites publish that Aftershock can use instead of building it: kind's node images
 * and kind itself, each pinned (an image by digest, a binary by its sha256), never a floating tag. The built-in
 * list is upstream's; a team that republishes them (a registry mirror, or Aftershock's own images pushed once with
 * `pnpm images publish`) names its copies in a file given as AFTERSHOCK_PUBLISHED.
 */
export interface PublishedNodeImage {
  /** The Kubernetes version the image runs, e.g. v1.37.0. */
  kubernetes: string;
  /** The kind release that published it: kind supports a node image with the release it shipped with. */
  kind: string;
  /** name:tag@sha256:…, pulled as it is. */
  ref: string;
  /** Whether its kubelet and entrypoint run on a host that boots cgroup v1 (kind v0.31 dropped v1 for 1.35+). */
  cgroupV1: boolean;
}

export interface PublishedKind {
  version: string;
  /** Where linux-amd64's binary is downloaded from. */
  url: string;
  sha256: string;
}

export interface Published {
  /** Where this list came from: "upstream" or the file's path. */
  source: string;
  nodeImages: PublishedNodeImage[];
  kind: PublishedKind[];
  /** Aftershock's own images republished by a team (pnpm images publish): local name → pinned ref in their registry. */
  own: Record<string, string>;
}

/**
 * Upstream, read from kind v0.33.0's release notes (its images for 1.37.0, 1.36.4, 1.35.8 and 1.34.11) and the
 * sha256sum file beside its linux-amd64 binary. None of them runs on cgroup v1: kind v0.31 dropped it for 1.35+.
 */
export const UPSTREAM: Published = {
  source: "upstream",
  nodeImages: [
    {
      kubernetes: "v1.37.0",
      kind: "v0.33.0",
      ref: "kindest/node:v1.37.0@sha256:a1ed56cfb0e7b93589bdf97c8cd566405a265939e3620fc4f5de89adff580ae5",
      cgroupV1: false,
    },
    {
      kubernetes: "v1.36.4",
      kind: "v0.33.0",
      ref: "kindest/node:v1.36.4@sha256:099e049362a1526b2db71494e1947aae99bd16290d7c895f2b7ea312e3cbfaed",
      cgroupV1: false,
    },
    {
      kubernetes: "v1.35.8",
      kind: "v0.33.0",
      ref: "kindest/node:v1.35.8@sha256:07b2536e30b803ed61d1677a79df6115f798ce64c80f9e22f6ed45afd09323c0",
      cgroupV1: false,
    },
    {
      kubernetes: "v1.34.11",
      kind: "v0.33.0",
      ref: "kindest/node:v1.34.11@sha256:44e222ee2132dab25ff87301682f89eb82c7880ea3a1bf543bfe9708fd08d67d",
      cgroupV1: false,
    },
  ],
  kind: [
    {
      version: "v0.33.0",
      url: "https://kind.sigs.k8s.io/dl/v0.33.0/kind-linux-amd64",
      sha256: "aee6151561422756b764a4ae28e7f44cda5af5a9eead3cc9985112b1de8d8e0d",
    },
  ],
  own: {},
};

const PINNED_IMAGE = /^[a-z0-9][a-z0-9._:/-]*:[\w][\w.-]*@sha256:[0-9a-f]{64}$/;

/** The list in force: AFTERSHOCK_PUBLISHED's file when set (checked whole, one-line error), else upstream's. */
export function publishedImages(env: NodeJS.ProcessEnv = process.env): Published {
  const file = env.AFTERSHOCK_PUBLISHED;
  if (!file) return UPSTREAM;
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new AftershockError("E_BAD_INPUT", `AFTERSHOCK_PUBLISHED: cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return parsePublished(text, file);
}

export function parsePublished(text: string, source: string): Published {
  const bad = (what: string) => new AftershockError("E_BAD_INPUT", `${source}: ${what}`, { hint: "see docs/images.md for the file's shape" });
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw bad(`not JSON (${(e as Error).message})`);
  }
  if (!doc || typeof doc !== "object" || Array.isArray(doc)) throw bad("expected an object with nodeImages, kind and own");
  const d = doc as Record<string, unknown>;
  const list = (k: string) => {
    const v = d[k] ?? [];
    if (!Array.isArray(v)) throw bad(`${k} must be a list`);
    return v as Record<string, unknown>[];
  };
  const str = (o: Record<string, unknown>, k: string, where: string) => {
    if (typeof o[k] !== "string" || !o[k]) throw bad(`${where}: ${k} must be a non-empty string`);
    return o[k] as string;
  };
  const nodeImages = list("nodeImages").map((o, i) => {
    const where = `nodeImages[${i}]`;
    const ref = str(o, "ref", where);
    if (!PINNED_IMAGE.test(ref)) throw bad(`${where}: ${ref} is not pinned (name:tag@sha256:<64 hex>)`);
    if (typeof o.cgroupV1 !== "boolean") throw bad(`${where}: cgroupV1 must be true or false`);
    return { kubernetes: str(o, "kubernetes", where), kind: str(o, "kind", where), ref, cgroupV1: o.cgroupV1 };
  });
  const kind = list("kind").map((o, i) => {
    const where = `kind[${i}]`;
    const sha256 = str(o, "sha256", where);
    if (!/^[0-9a-f]{64}$/.test(sha256)) throw bad(`${where}: sha256 must be 64 hex digits`);
    return { version: str(o, "version", where), url: str(o, "url", where), sha256 };
  });
  const ownDoc = d.own ?? {};
  if (!ownDoc || typeof ownDoc !== "object" || Array.isArray(ownDoc)) throw bad("own must map local names to pinned refs");
  const own: Record<string, string> = {};
  for (const [name, ref] of Object.entries(ownDoc)) {
    if (typeof ref !== "string" || !PINNED_IMAGE.test(ref)) throw bad(`own["${name}"]: ${String(ref)} is not pinned (name:tag@sha256:<64 hex>)`);
    own[name] = ref;
  }
  return { source, nodeImages, kind, own };
}
