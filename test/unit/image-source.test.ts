import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parsePublished, publishedImages, UPSTREAM, type Published } from "../../clusters/images/published.js";
import { chooseNodeImage, describeOrigins, downloadKind, parseImagesMode } from "../../clusters/images/source.js";
import { RecordingProgress } from "../../clusters/progress.js";
import { AftershockError } from "../../clusters/errors.js";

const D = (c: string) => `sha256:${c.repeat(64)}`;
const ours: Published = {
  source: "/tmp/published.json",
  nodeImages: [{ kubernetes: "v1.37.2", kind: "v0.33.0", ref: `kindest/node:v1.37.2@${D("a")}`, cgroupV1: true }],
  kind: [],
  own: {},
};

describe("--images", () => {
  it("defaults to auto and refuses anything but auto, pull and build in one line", () => {
    expect(parseImagesMode(undefined)).toBe("auto");
    expect(parseImagesMode("pull")).toBe("pull");
    expect(() => parseImagesMode("registry")).toThrow(/--images must be one of auto, pull, build, got "registry"/);
  });
});

describe("chooseNodeImage", () => {
  it("never asks a registry under build", () => {
    expect(chooseNodeImage("build", "v1.37.0", 2, UPSTREAM)).toEqual({ action: "build", why: "--images build" });
  });

  it("pulls kind's published image on a cgroup v2 host, pinned by digest", () => {
    const c = chooseNodeImage("auto", "v1.37.0", 2, UPSTREAM);
    expect(c.action).toBe("pull");
    if (c.action === "pull") {
      expect(c.entry.ref).toMatch(/^kindest\/node:v1\.37\.0@sha256:[0-9a-f]{64}$/);
      expect(c.why).toBe("published by kind v0.33.0");
    }
  });

  it("builds on a cgroup v1 host under auto, and says why; refuses under pull", () => {
    const auto = chooseNodeImage("auto", "v1.37.0", 1, UPSTREAM);
    expect(auto).toEqual({ action: "build", why: expect.stringMatching(/needs cgroup v2 .*kind v0\.33\.0 dropped cgroup v1.* this host boots cgroup v1/) });
    const pull = chooseNodeImage("pull", "v1.37.0", 1, UPSTREAM);
    expect(pull).toMatchObject({ action: "refuse", message: expect.stringMatching(/^--images pull: kindest\/node:v1\.37\.0 needs cgroup v2/) });
  });

  it("builds a version nobody publishes under auto, and refuses it under pull naming what is published", () => {
    expect(chooseNodeImage("auto", "v1.37.2", 2, UPSTREAM)).toMatchObject({
      action: "build",
      why: expect.stringContaining("no published node image for v1.37.2"),
    });
    const pull = chooseNodeImage("pull", "v1.37.2", 2, UPSTREAM);
    expect(pull).toMatchObject({ action: "refuse", message: expect.stringContaining("upstream lists v1.37.0, v1.36.4, v1.35.8, v1.34.11") });
  });

  it("takes a republished image that runs on cgroup v1 on a v1 host", () => {
    expect(chooseNodeImage("pull", "v1.37.2", 1, ours)).toMatchObject({ action: "pull", why: "published by /tmp/published.json" });
  });
});

describe("the published list", () => {
  it("upstream's entries are all pinned by digest and kind by sha256", () => {
    for (const e of UPSTREAM.nodeImages) expect(e.ref).toMatch(/@sha256:[0-9a-f]{64}$/);
    for (const k of UPSTREAM.kind) expect(k.sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it("reads a team's file and refuses a floating tag, naming the entry", () => {
    const good = parsePublished(JSON.stringify({ ...ours, own: { "aftershock.local/echo:v1": `127.0.0.1:5000/aftershock/echo:v1@${D("b")}` } }), "f.json");
    expect(good.own["aftershock.local/echo:v1"]).toContain("@sha256:");
    expect(() =>
      parsePublished(JSON.stringify({ nodeImages: [{ kubernetes: "v1.37.2", kind: "v0.33.0", ref: "kindest/node:v1.37.2", cgroupV1: true }] }), "f.json"),
    ).toThrow(/f\.json: nodeImages\[0\]: kindest\/node:v1\.37\.2 is not pinned/);
    expect(() => parsePublished("{", "f.json")).toThrow(/f\.json: not JSON/);
    expect(() => parsePublished(JSON.stringify({ own: { x: "y:1" } }), "f.json")).toThrow(/own\["x"\]: y:1 is not pinned/);
  });

  it("AFTERSHOCK_PUBLISHED names the file; a missing one is a one-line error", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "published-"));
    const file = path.join(dir, "p.json");
    writeFileSync(file, JSON.stringify(ours));
    expect(publishedImages({ AFTERSHOCK_PUBLISHED: file }).source).toBe(file);
    expect(publishedImages({}).source).toBe("upstream");
    const e = (() => {
      try {
        publishedImages({ AFTERSHOCK_PUBLISHED: path.join(dir, "none.json") });
      } catch (x) {
        return x as AftershockError;
      }
    })();
    expect(e?.code).toBe("E_BAD_INPUT");
    expect(e?.message).toMatch(/cannot read .*none\.json: ENOENT/);
  });
});

describe("downloadKind against a real HTTP server on loopback", () => {
  const body = Buffer.from("#!/bin/sh\necho kind v0.33.0\n");
  const sha = createHash("sha256").update(body).digest("hex");
  let server: Server;
  let base = "";
  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.url === "/dl/v0.33.0/kind-linux-amd64") res.end(body);
      else {
        res.statusCode = 404;
        res.end();
      }
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it("downloads once, checks the sha256, and uses the cached copy after", async () => {
    const cache = mkdtempSync(path.join(os.tmpdir(), "kind-dl-"));
    const entry = { version: "v0.33.0", url: `${base}/dl/v0.33.0/kind-linux-amd64`, sha256: sha };
    const first = await downloadKind(entry, cache, new RecordingProgress());
    expect(first).toEqual({ path: path.join(cache, "kind", "v0.33.0", "kind"), how: "downloaded" });
    expect(readFileSync(path.join(cache, "kind", "v0.33.0", "kind"))).toEqual(body);
    expect(await downloadKind(entry, cache, new RecordingProgress())).toMatchObject({ how: "cached" });
  });

  it("refuses a binary whose sha256 is not the pinned one, and keeps nothing", async () => {
    const cache = mkdtempSync(path.join(os.tmpdir(), "kind-dl-"));
    const got = await downloadKind({ version: "v0.33.0", url: `${base}/dl/v0.33.0/kind-linux-amd64`, sha256: "0".repeat(64) }, cache, new RecordingProgress());
    expect(got).toMatchObject({ reason: expect.stringMatching(/has sha256 .*not the pinned 000000000000/) });
    expect(existsSync(path.join(cache, "kind", "v0.33.0", "kind"))).toBe(false);
  });

  it("says why when nothing answers", async () => {
    const cache = mkdtempSync(path.join(os.tmpdir(), "kind-dl-"));
    const got = await downloadKind({ version: "v0.33.0", url: `${base}/dl/v9/kind-linux-amd64`, sha256: sha }, cache, new RecordingProgress());
    expect(got).toMatchObject({ reason: expect.stringContaining("HTTP 404") });
  });
});

describe("describeOrigins", () => {
  it("names each image's origin with its pin", () => {
    const lines = describeOrigins("auto", [
      { what: "node image", ref: "aftershock.local/node:v1.37.2", how: "cached", pin: "build key 0123456789abcdef", why: "x needs cgroup v2" },
      { what: "kind", ref: "/c/kind/v0.33.0/kind", how: "downloaded", pin: `sha256 ${"e".repeat(64)}`, why: "published" },
    ]);
    expect(lines[0]).toBe("images: --images auto");
    expect(lines[1]).toBe("  node image: cached aftershock.local/node:v1.37.2 (build key 0123456789abcdef) — x needs cgroup v2");
    expect(lines[2]).toContain("kind: downloaded /c/kind/v0.33.0/kind (sha256 eeee");
  });
});
